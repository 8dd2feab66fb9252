#!/usr/bin/env bash
# Runs every test suite on a fresh machine: installs what is missing, builds, starts a
# throwaway PostgreSQL, runs the unit tests, the database tests and the differential tests,
# removes the server, prints the counts. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh

source scripts/lib/pg.sh
pgdir=$(mktemp -d /tmp/sluice-test-pg.XXXXXX)
logs=$(mktemp -d /tmp/sluice-test-logs.XXXXXX)
trap 'pg_stop "$pgdir"; rm -rf "$logs"' EXIT
pg_start "$pgdir"

passed=0
failed=0

# A doctest binary: its own counts go into the totals.
run_doctest() {
  local name=$1; shift
  local log="$logs/$name.log" status=0 start=$SECONDS
  echo "== $name"
  "$@" >"$log" 2>&1 || status=$?
  echo "($name: $((SECONDS - start)) s)"
  local line
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -1)
  if [ -z "$line" ]; then
    cat "$log"; echo "$name: no test ran (exit $status)"; failed=$((failed + 1)); return
  fi
  local p f
  p=$(echo "$line" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
  [ "$status" != 0 ] && [ "$f" = 0 ] && f=1
  [ "$f" != 0 ] && cat "$log"
  echo "$line"
  passed=$((passed + p)); failed=$((failed + f))
}

# A script test: one test, passed when it exits 0.
run_script() {
  local name=$1; shift
  local log="$logs/$name.log" start=$SECONDS
  echo "== $name"
  if "$@" >"$log" 2>&1; then
    tail -3 "$log"; passed=$((passed + 1))
  else
    cat "$log"; echo "$name: FAILED"; failed=$((failed + 1))
  fi
  echo "($name: $((SECONDS - start)) s)"
}

# The C++ as .clang-format says (Debian's clang-format): a file off it fails the suite.
run_script format bash -c 'find engine config stages tests -name "*.cpp" -o -name "*.h" | sort |
  xargs clang-format --dry-run --Werror'
run_script pg-stop bash tests/e2e/pg_stop_test.sh
run_doctest unit build/tests/sluice_unit_tests
[ -x build/tests/sluice_db_tests ] && run_doctest db build/tests/sluice_db_tests
run_script pooler-standby python3 tests/e2e/pooler_standby_test.py
run_script differential python3 tests/e2e/differential_test.py --sluice-dump build/transform_dump --chats 10000 --seed 7
run_script differential-utf8 python3 tests/e2e/differential_test.py --sluice-dump build/transform_dump --chats 5000 --seed 8 \
  --utf8-source
run_script current-message-oracle python3 tests/e2e/current_message_oracle_test.py
run_script current-message-corpus python3 tests/e2e/current_message_corpus_test.py
run_script current-message-parity python3 tests/e2e/current_message_parity_test.py --dump build/current_message_dump
run_script current-message-apply python3 tests/e2e/current_message_apply_test.py --apply build/current_message_apply
run_script current-message-migrate python3 tests/e2e/current_message_migrate_test.py
run_script current-message-verify python3 tests/e2e/current_message_verify_test.py
run_script runbook python3 tests/e2e/runbook_test.py
run_script e2e-parity python3 tests/e2e/e2e_parity_test.py
run_script e2e-parity-3-lanes python3 tests/e2e/e2e_parity_test.py --lanes 3
run_script fault-resume python3 tests/e2e/fault_resume_test.py
run_script fault-resume-3-lanes python3 tests/e2e/fault_resume_test.py --lanes 3 --cases kill,signals,terminate,restart
run_script phase-stop python3 tests/e2e/phase_stop_test.py
run_script deploy-manifest python3 tests/e2e/deploy_manifest_test.py
run_script install python3 tests/e2e/install_test.py

echo
echo "(${SECONDS}s in all, build included)"
echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
