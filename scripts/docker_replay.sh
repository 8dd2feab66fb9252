#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2001  # single-quoted scripts for sh -c / apt formats; sed indents output
# docker_replay.sh: prove the Dockerfile's steps where no container engine runs.
#
# Replays the repository's Dockerfile (../Dockerfile from this script, or
# $SLUICE_DOCKERFILE) instruction by instruction in debootstrapped Debian
# bookworm roots:
#   FROM debian:bookworm       -> a copy of `debootstrap --variant=minbase bookworm`
#   FROM debian:bookworm-slim  -> the same, with the slim image's doc/man/locale
#                                 files removed and excluded from later installs
#   ARG/ENV                    -> environment of later RUNs (ARG defaults only)
#   RUN <shell form>           -> /bin/sh -c in the root via chroot, as the USER
#   WORKDIR/USER/COPY [--from] -> the same effects on the root (COPY honours
#                                 .dockerignore for simple patterns)
#   ENTRYPOINT/CMD (JSON form) -> run at the end, as the final USER in WORKDIR
# and then checks the final (runtime) root: `ldd` of the entrypoint binary shows
# no "not found", `ENTRYPOINT --version` and `ENTRYPOINT CMD` exit 0 as that
# user, and WORKDIR is writable by that user. It prints the root's size, which
# is what the image's filesystem would hold.
#
# Usage: bash scripts/docker_replay.sh [--probe]
#   Needs root: run by another user, it runs itself again with sudo. Tools it
#   lacks (debootstrap, Debian's archive keyring, ...) are installed with
#   apt-get first, as scripts/deps.sh does.
#   --probe  don't build sluice: in the build stage, after its packages are
#            installed, compile a small program that links libpq, TBB and
#            boost_program_options to the path the runtime stage copies, then
#            replay the runtime stage with it. Checks the package names before
#            the tree builds.
#
# Environment:
#   SLUICE_REPLAY_CACHE    cache and work directory (default /var/tmp/sluice-replay)
#   SLUICE_DOCKERFILE      Dockerfile to replay (default: the repo's Dockerfile)
#   SLUICE_REPLAY_MIRROR   Debian archive URL (default: read from this machine's
#                          apt sources, the entry for suite bookworm)
#   SLUICE_REPLAY_SECURITY_MIRROR  Debian security archive URL (default: the
#                          apt sources' entry for bookworm-security, if any)
#
# The bootstrapped base roots and each stage's state just before its first
# COPY (the package-install layers) are cached under $SLUICE_REPLAY_CACHE, keyed
# by the instructions that made them, so a rerun only redoes the COPY and later
# steps. Every chroot runs in a private mount namespace (proc, the shared .deb
# cache and resolv.conf are mounted only there), so nothing stays mounted under
# the cache when the script ends, however it ends.
set -euo pipefail

SUITE=bookworm
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKERFILE=${SLUICE_DOCKERFILE:-$REPO/Dockerfile}
CONTEXT=$(cd "$(dirname "$DOCKERFILE")" && pwd)
CACHE=${SLUICE_REPLAY_CACHE:-/var/tmp/sluice-replay}
PROBE=0
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "docker_replay: error: $*" >&2; exit 1; }
log() { echo "==> $*"; }

case "${1:-}" in
  "") ;;
  --probe) PROBE=1 ;;
  -h|--help) sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac

[[ -f $DOCKERFILE ]] || die "no Dockerfile at $DOCKERFILE"

# debootstrap, chroot and mount need root: another user runs this again with sudo,
# keeping the SLUICE_* settings above (sudo resets the environment).
if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null || die "must run as root (debootstrap, chroot and mount need it), and there is no sudo"
  keep=()
  for v in SLUICE_REPLAY_CACHE SLUICE_DOCKERFILE SLUICE_REPLAY_MIRROR SLUICE_REPLAY_SECURITY_MIRROR; do
    if [[ -n ${!v+x} ]]; then keep+=("$v=${!v}"); fi
  done
  log "not root: running again with sudo"
  exec sudo -- env "${keep[@]}" bash "${BASH_SOURCE[0]}" "$@"
fi

# What this machine lacks, installed from Debian's packages (as scripts/deps.sh does).
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
command -v apt-get >/dev/null || die "apt-get not found: this replay needs a Debian-like machine"
declare -A TOOL_PACKAGE=([debootstrap]=debootstrap [wget]=wget [chroot]=coreutils [sha256sum]=coreutils
  [du]=coreutils [realpath]=coreutils [unshare]=util-linux [mount]=mount [tar]=tar [find]=findutils)
missing=()
for tool in "${!TOOL_PACKAGE[@]}"; do
  command -v "$tool" >/dev/null || missing+=("${TOOL_PACKAGE[$tool]}")
done
[[ -f $KEYRING ]] || missing+=(debian-archive-keyring)
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
for tool in "${!TOOL_PACKAGE[@]}"; do
  command -v "$tool" >/dev/null || die "'$tool' not found on PATH, even after installing ${TOOL_PACKAGE[$tool]}"
done
[[ -f $KEYRING ]] || die "$KEYRING missing after installing debian-archive-keyring"

# ----------------------------------------------------------------- mirrors
# The Debian archive this machine's apt uses, so the roots come from the same
# place (and the same snapshot, if it is one) as the machine's own packages.
apt_source_for() {  # suite -> first configured deb URI serving it
  apt-get indextargets --no-release-info --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' 2>/dev/null |
    awk -v s="$1" '$1 == "deb" && $2 == s { print $3; exit }'
}
MIRROR=${SLUICE_REPLAY_MIRROR:-$(apt_source_for "$SUITE")}
[[ -n $MIRROR ]] || die "no apt source for suite '$SUITE' in /etc/apt/sources.list*; set SLUICE_REPLAY_MIRROR=<Debian archive URL>"
SECURITY_MIRROR=${SLUICE_REPLAY_SECURITY_MIRROR:-$(apt_source_for "$SUITE-security")}
HAVE_UPDATES=0
[[ -n $(apt_source_for "$SUITE-updates") || -n ${SLUICE_REPLAY_MIRROR:-} ]] && HAVE_UPDATES=1
MIRROR=${MIRROR%/}; SECURITY_MIRROR=${SECURITY_MIRROR%/}
log "Debian mirror: $MIRROR${SECURITY_MIRROR:+ (security: $SECURITY_MIRROR)}"
[[ -n $SECURITY_MIRROR ]] || echo "docker_replay: warning: no $SUITE-security source configured; the roots will lack security updates the real images have" >&2

mkdir -p "$CACHE"/{base,layers,work,debs/partial}
DEBS=$CACHE/debs

# --------------------------------------------------- running inside a root
# run_in_root ROOT UID:GID HOME CWD ENV... -- ARGV...
# Runs ARGV in ROOT (chroot) as UID:GID with a clean environment (PATH, HOME,
# DEBIAN_FRONTEND and the given NAME=VALUE pairs), in a private mount namespace
# with /proc, /dev/pts, the shared .deb cache and the host's resolv.conf mounted.
run_in_root() {
  local root=$1 spec=$2 home=$3 cwd=$4; shift 4
  local -a envs=("PATH=$STD_PATH" "HOME=$home" "DEBIAN_FRONTEND=noninteractive")
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
  [[ ${1:-} == -- ]] || die "internal: run_in_root without --"; shift
  unshare --mount --propagation private -- /bin/bash -c '
    set -e
    root=$1 debs=$2; shift 2
    mount -t proc proc "$root/proc"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null || true
    mkdir -p "$root/var/cache/apt/archives"
    mount --bind "$debs" "$root/var/cache/apt/archives"
    if [ -f /etc/resolv.conf ] && [ -f "$root/etc/resolv.conf" ] && [ ! -L "$root/etc/resolv.conf" ]; then
      mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
    fi
    exec "$@"
  ' replay "$root" "$DEBS" \
    env -i "${envs[@]}" chroot --userspec="$spec" "$root" \
    /bin/sh -c 'cd "$1" || exit 125; shift; exec "$@"' sh "$cwd" "$@" </dev/null
}

# Remove a root we made, refusing if anything is still mounted under it.
remove_root() {
  local dir=$1
  [[ -e $dir ]] || return 0
  local real; real=$(realpath "$dir")
  if awk -v d="$real" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    die "something is mounted under $real; unmount it before rerunning"
  fi
  rm -rf --one-file-system "$dir"
}

# ----------------------------------------------------------------- bases
# minbase: debootstrap --variant=minbase, with the apt sources and the apt/dpkg
# settings of Debian's official images (debuerreotype). minbase-slim: minbase
# made "slim" the way debian:*-slim is. The shared .deb cache is bind-mounted
# over /var/cache/apt/archives for every RUN, so the images' rule that deletes
# .debs after each install is left out: the roots end up without them anyway.
base_stamp() { printf 'suite=%s mirror=%s security=%s updates=%s v=1\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "$HAVE_UPDATES"; }

make_minbase() {
  local dir=$CACHE/base/minbase stamp=$CACHE/base/minbase.ok
  if [[ -d $dir && -f $stamp && $(cat "$stamp") == "$(base_stamp)" ]]; then return 0; fi
  log "debootstrap --variant=minbase $SUITE (once; cached in $dir)"
  rm -f "$stamp" "$CACHE/base/minbase-slim.ok"
  remove_root "$dir.tmp"; remove_root "$dir"; remove_root "$CACHE/base/minbase-slim"
  debootstrap --variant=minbase --keyring="$KEYRING" "$SUITE" "$dir.tmp" "$MIRROR" \
    >"$CACHE/base/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/base/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/base/debootstrap.log)"; }
  local r=$dir.tmp
  rm -f "$r/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s%s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$MIRROR" "$SUITE" "$( ((HAVE_UPDATES)) && echo " $SUITE-updates")"
    if [[ -n $SECURITY_MIRROR ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$SECURITY_MIRROR" "$SUITE"
    fi
  } >"$r/etc/apt/sources.list.d/debian.sources"
  echo 'force-unsafe-io' >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  echo 'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' >"$r/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # What debootstrap leaves that an image doesn't have.
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* "$r"/var/log/bootstrap.log
  mkdir -p "$r/var/lib/apt/lists/partial"
  mv "$r" "$dir"
  base_stamp >"$stamp"
}

make_minbase_slim() {
  local dir=$CACHE/base/minbase-slim stamp=$CACHE/base/minbase-slim.ok
  if [[ -d $dir && -f $stamp && $(cat "$stamp") == "$(base_stamp)" ]]; then return 0; fi
  log "making the slim base from minbase"
  remove_root "$dir.tmp"; remove_root "$dir"
  cp -a "$CACHE/base/minbase" "$dir.tmp"
  local r=$dir.tmp
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# The "slim" variant of the Debian base image: files normally unnecessary in
# containers are excluded, and this configuration keeps them that way.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$r/usr/share/doc" -mindepth 1 \( -type f -o -type l \) ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -depth -type d -empty -delete
  local d
  for d in groff info linda lintian/overrides locale man; do
    if [[ -d $r/usr/share/$d ]]; then find "$r/usr/share/$d" -mindepth 1 -delete; fi
  done
  mv "$r" "$dir"
  base_stamp >"$stamp"
}

ensure_base() {  # image -> sets BASE (and makes it if not cached)
  case "$1" in
    "debian:$SUITE") make_minbase; BASE=minbase ;;
    "debian:$SUITE-slim") make_minbase; make_minbase_slim; BASE=minbase-slim ;;
    *) die "FROM $1: only debian:$SUITE and debian:$SUITE-slim can be replayed" ;;
  esac
}

# ----------------------------------------------------------- Dockerfile
# Instructions with continuation lines joined and comment lines dropped, as
# Docker does; one array entry per instruction.
INSTR=()
parse_dockerfile() {
  local line cur="" cont=0
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    if [[ $line =~ ^[[:space:]]*# ]]; then continue; fi
    if ((cont == 0)) && [[ $line =~ ^[[:space:]]*$ ]]; then continue; fi
    if [[ $line =~ ^(.*)\\[[:space:]]*$ ]]; then
      cur+="${BASH_REMATCH[1]}"; cont=1; continue
    fi
    cur+="$line"; cont=0
    cur="${cur#"${cur%%[![:space:]]*}"}"
    if [[ -n $cur ]]; then INSTR+=("$cur"); fi
    cur=""
  done <"$DOCKERFILE"
  ((cont == 0)) || die "Dockerfile ends inside a continued line"
}

# .dockerignore: simple patterns (no '!' exceptions). A path is ignored when it
# or one of its parent directories matches a pattern; '**/' at the start also
# matches at the top. (Here '*' may also match '/', unlike Docker's: it can
# only ignore more, and the COPY then fails loudly if it needed that file.)
IGNORE=()
load_dockerignore() {
  local f=$CONTEXT/.dockerignore p
  [[ -f $f ]] || return 0
  while IFS= read -r p || [[ -n $p ]]; do
    p=${p%$'\r'}
    p="${p#"${p%%[![:space:]]*}"}"; p="${p%"${p##*[![:space:]]}"}"
    [[ -z $p || $p == \#* ]] && continue
    [[ $p == !* ]] && die ".dockerignore exception '$p' is not supported by this replay"
    p=${p#/}; p=${p%/}
    IGNORE+=("$p")
    if [[ $p == \*\*/* ]]; then IGNORE+=("${p#\*\*/}"); fi
  done <"$f"
}
ignored() {  # relative path -> 0 if ignored
  local rel=$1 p prefix
  for p in "${IGNORE[@]}"; do
    prefix=$rel
    while :; do
      # shellcheck disable=SC2053  # $p is a glob on purpose
      [[ $prefix == $p ]] && return 0
      [[ $prefix == */* ]] || break
      prefix=${prefix%/*}
    done
  done
  return 1
}

# ------------------------------------------------------------ replay
# Per-stage state.
S_NAME="" S_ROOT="" S_CWD=/ S_USER=root S_ENV=() S_ENTRYPOINT=() S_CMD=()
declare -A STAGE_ROOT=()   # stage name or index -> root dir
declare -A LAYERS_USED=()

user_spec() {  # root user -> "uid:gid home"
  local root=$1 user=${2%%:*} group="" uid gid home
  [[ $2 == *:* ]] && group=${2#*:}
  if [[ $user =~ ^[0-9]+$ ]]; then
    uid=$user
    IFS=: read -r _ _ _ gid _ home _ < <(awk -F: -v u="$uid" '$3 == u' "$root/etc/passwd") || true
  else
    IFS=: read -r _ _ uid gid _ home _ < <(awk -F: -v u="$user" '$1 == u' "$root/etc/passwd") || true
    [[ -n ${uid:-} ]] || die "USER $user: no such user in the root's /etc/passwd"
  fi
  if [[ -n $group ]]; then
    if [[ $group =~ ^[0-9]+$ ]]; then gid=$group
    else gid=$(awk -F: -v g="$group" '$1 == g { print $3 }' "$root/etc/group"); fi
  fi
  echo "$uid:${gid:-$uid} ${home:-/}"
}

json_array() {  # '["a", "b"]' -> one element per line; only plain strings
  local s=$1 re='^\[[[:space:]]*("[^"\]*"([[:space:]]*,[[:space:]]*"[^"\]*")*)?[[:space:]]*\]$'
  [[ $s =~ $re ]] \
    || die "only JSON-array ENTRYPOINT/CMD of plain strings can be replayed: $s"
  grep -o '"[^"]*"' <<<"$s" | sed 's/^"//; s/"$//'
}

strip_quotes() { local v=$1; [[ $v =~ ^\"(.*)\"$ ]] && v=${BASH_REMATCH[1]}; echo "$v"; }

do_run() {
  local cmd=$1 spec home
  [[ $cmd == \[* ]] && die "exec-form RUN is not supported: RUN $cmd"
  local us; us=$(user_spec "$S_ROOT" "$S_USER"); spec=${us% *} home=${us#* }
  log "[$S_NAME] RUN $cmd"
  run_in_root "$S_ROOT" "$spec" "$home" "$S_CWD" "${S_ENV[@]}" -- /bin/sh -c "$cmd" \
    || die "[$S_NAME] RUN failed (exit $?): $cmd"
}

do_copy() {
  local args=$1 from="" chown=""
  local -a words=()
  read -r -a words <<<"$args"
  while [[ ${words[0]:-} == --* ]]; do
    case "${words[0]}" in
      --from=*) from=${words[0]#--from=} ;;
      --chown=*) chown=${words[0]#--chown=} ;;
      *) die "COPY option ${words[0]} is not supported" ;;
    esac
    words=("${words[@]:1}")
  done
  ((${#words[@]} >= 2)) || die "COPY needs a source and a destination: COPY $args"
  [[ $args == *'$'* ]] && die "variables in COPY are not supported: COPY $args"
  local dest=${words[-1]} n=$((${#words[@]} - 1)) src
  [[ $dest == /* ]] || dest=${S_CWD%/}/$dest
  local dest_is_dir=0
  [[ $dest == */ || $n -gt 1 || -d $S_ROOT$dest ]] && dest_is_dir=1
  log "[$S_NAME] COPY $args"
  local i
  for ((i = 0; i < n; i++)); do
    src=${words[i]}
    local from_root
    if [[ -n $from ]]; then
      from_root=${STAGE_ROOT[$from]:-}
      [[ -n $from_root ]] || die "COPY --from=$from: no earlier stage named $from"
      [[ $src == /* ]] || src=/$src
      [[ -e $from_root$src ]] || die "COPY --from=$from $src: not found in that stage (did its build fail to produce it?)"
      copy_path "$from_root$src" "$dest" "$dest_is_dir"
    else
      src=${src#./}; src=${src%/}
      [[ $src == /* || $src == ..* ]] && die "COPY $src: source outside the build context"
      [[ -e $CONTEXT/$src ]] || die "COPY $src: not found in the build context $CONTEXT"
      ignored "$src" && die "COPY $src: excluded by .dockerignore"
      # Stage the source without ignored paths, then copy that.
      local stage; stage=$(mktemp -d "$CACHE/work/ctx.XXXXXX")
      (cd "$CONTEXT" && find "$src" -print) | while IFS= read -r p; do
        ignored "$p" || printf '%s\0' "$p"
      done | tar -C "$CONTEXT" --null --no-recursion -T - -cf - | tar -C "$stage" -xf - --no-same-owner
      copy_path "$stage/$src" "$dest" "$dest_is_dir"
      rm -rf "$stage"
    fi
    if [[ -n $chown ]]; then die "COPY --chown is not supported by this replay"; fi
  done
}

copy_path() {  # host source, destination inside root, dest_is_dir
  local src=$1 dest=$2 dest_is_dir=$3
  if [[ -d $src ]]; then
    mkdir -p "$S_ROOT$dest"
    cp -a "$src/." "$S_ROOT$dest/"
  elif ((dest_is_dir)); then
    mkdir -p "$S_ROOT$dest"
    cp -a "$src" "$S_ROOT${dest%/}/"
  else
    mkdir -p "$(dirname "$S_ROOT$dest")"
    cp -a "$src" "$S_ROOT$dest"
  fi
  chown -R 0:0 "$S_ROOT$dest"
}

# Apply one instruction. With DRY=1 only the interpreter state changes (for
# the cached prefix of a stage, whose effects are already in the root).
apply() {
  local ins=$1 dry=${2:-0} kw rest
  kw=${ins%%[[:space:]]*}; kw=${kw^^}
  rest=${ins#*[[:space:]]}; [[ $rest == "$ins" ]] && rest=""
  rest="${rest#"${rest%%[![:space:]]*}"}"
  case "$kw" in
    ARG|ENV)
      local name value
      if [[ $rest =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
        name=${BASH_REMATCH[1]}; value=$(strip_quotes "${BASH_REMATCH[2]}")
      elif [[ $kw == ENV && $rest =~ ^([A-Za-z_][A-Za-z0-9_]*)[[:space:]]+(.*)$ ]]; then
        name=${BASH_REMATCH[1]}; value=${BASH_REMATCH[2]}
      elif [[ $kw == ARG && $rest =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        return 0   # an ARG without default is unset unless --build-arg gives it
      else
        die "cannot replay: $ins (one NAME=VALUE per ARG/ENV line)"
      fi
      S_ENV+=("$name=$value") ;;
    LABEL|EXPOSE|STOPSIGNAL|HEALTHCHECK|VOLUME) : ;;  # metadata only
    RUN) ((dry)) || do_run "$rest" ;;
    WORKDIR)
      [[ $rest == *'$'* ]] && die "variables in WORKDIR are not supported"
      [[ $rest == /* ]] || rest=${S_CWD%/}/$rest
      S_CWD=$rest
      ((dry)) || mkdir -p "$S_ROOT$S_CWD" ;;
    USER) S_USER=$rest ;;
    COPY) ((dry)) && die "internal: COPY in a cached prefix"; do_copy "$rest" ;;
    ENTRYPOINT) mapfile -t S_ENTRYPOINT < <(json_array "$rest"); S_CMD=() ;;
    CMD) mapfile -t S_CMD < <(json_array "$rest") ;;
    SHELL|ONBUILD|ADD) die "cannot replay $kw (not supported): $ins" ;;
    *) die "unknown instruction: $ins" ;;
  esac
}

# The probe used with --probe: links the run-time libraries sluice links (libpq, TBB,
# Boost.Program_options, spdlog and its fmt).
PROBE_CPP='
#include <libpq-fe.h>
#include <oneapi/tbb/version.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/blocked_range.h>
#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>
#include <iostream>
namespace po = boost::program_options;
int main(int argc, char** argv) {
  po::options_description desc("replay probe (stands in for sluice)");
  desc.add_options()("help", "show help")("version", "show versions");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  long sum = tbb::parallel_reduce(tbb::blocked_range<long>(0, 1000), 0L,
      [](const tbb::blocked_range<long>& r, long s) { for (long i = r.begin(); i != r.end(); ++i) s += i; return s; },
      [](long a, long b) { return a + b; });
  if (vm.count("version")) {
    std::cout << "probe: libpq " << PQlibVersion() << ", TBB " << TBB_runtime_version()
              << ", boost " << BOOST_LIB_VERSION << ", spdlog " << SPDLOG_VER_MAJOR << "." << SPDLOG_VER_MINOR
              << ", tbb sum " << sum << "\n";
    spdlog::info("probe: spdlog logs");
    return sum == 499500 ? 0 : 1;
  }
  std::cout << desc;
  PGconn* c = PQconnectdb("host=/nonexistent-socket-dir connect_timeout=1");
  std::cout << "libpq connect to nowhere: " << (PQstatus(c) == CONNECTION_OK ? "ok?!" : "failed, as expected") << "\n";
  PQfinish(c);
  return 0;
}'

build_probe() {  # in the build stage root: compile the probe to path $1 (inside root)
  local out=$1
  log "[$S_NAME] --probe: compiling a libpq+TBB+boost_program_options+spdlog program to $out"
  mkdir -p "$S_ROOT/tmp/replay-probe" "$S_ROOT$(dirname "$out")"
  printf '%s\n' "$PROBE_CPP" >"$S_ROOT/tmp/replay-probe/probe.cpp"
  run_in_root "$S_ROOT" 0:0 /root / -- /bin/sh -c \
    "g++ -std=c++17 -O2 /tmp/replay-probe/probe.cpp -o '$out' \$(pkg-config --cflags --libs libpq spdlog) -ltbb -lboost_program_options && strip '$out'" \
    || die "probe build failed: the build packages lack a header or library"
}

replay() {
  parse_dockerfile
  load_dockerignore
  ((${#INSTR[@]})) || die "$DOCKERFILE has no instructions"
  # Split into stages.
  local -a starts=()
  local i
  for i in "${!INSTR[@]}"; do
    if [[ ${INSTR[i]^^} == FROM[[:space:]]* ]]; then starts+=("$i"); fi
  done
  ((${#starts[@]})) || die "no FROM in $DOCKERFILE"
  ((starts[0] == 0)) || die "instructions before the first FROM (global ARGs) are not supported"
  starts+=("${#INSTR[@]}")

  local s nstages=$((${#starts[@]} - 1)) probe_target=""
  if ((PROBE)); then
    # The path the last stage copies from an earlier stage: the probe goes there.
    for ((i = starts[nstages - 1]; i < starts[nstages]; i++)); do
      if [[ ${INSTR[i]} =~ ^COPY[[:space:]]+--from=([^[:space:]]+)[[:space:]]+([^[:space:]]+)[[:space:]] ]]; then
        probe_target="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
      fi
    done
    [[ -n $probe_target ]] || die "--probe: the last stage has no COPY --from=STAGE SRC DEST"
  fi

  for ((s = 0; s < nstages; s++)); do
    local first=${starts[s]} end=${starts[s + 1]}
    local from=${INSTR[first]}
    local -a fw; read -r -a fw <<<"$from"
    local image=${fw[1]:-} name=$s
    [[ ${#fw[@]} -ge 4 && ${fw[2]^^} == AS ]] && name=${fw[3]}
    [[ ${fw[1]:-} == --* ]] && die "FROM options are not supported: $from"
    S_NAME=$name S_CWD=/ S_USER=root S_ENV=() S_ENTRYPOINT=() S_CMD=()
    ensure_base "$image"; local base=$BASE
    S_ROOT=$CACHE/work/stage-$s
    log "[$S_NAME] FROM $image  (root: $S_ROOT)"

    # The cacheable prefix: everything before the stage's first COPY.
    local pend=$((first + 1))
    while ((pend < end)) && [[ ${INSTR[pend]^^} != COPY[[:space:]]* ]]; do pend=$((pend + 1)); done
    local key
    key=$( { cat "$CACHE/base/$base.ok"; echo "$base"; printf '%s\n' "${INSTR[@]:first:pend-first}"; } | sha256sum | cut -c1-16)
    local layer=$CACHE/layers/$key
    LAYERS_USED[$key]=1
    remove_root "$S_ROOT"
    if [[ -d $layer ]]; then
      log "[$S_NAME] steps up to the first COPY: cached ($layer)"
      cp -a "$layer" "$S_ROOT"
      for ((i = first + 1; i < pend; i++)); do apply "${INSTR[i]}" 1; done
    else
      cp -a "$CACHE/base/$base" "$S_ROOT"
      for ((i = first + 1; i < pend; i++)); do apply "${INSTR[i]}"; done
      remove_root "$layer.tmp"
      cp -a "$S_ROOT" "$layer.tmp" && mv "$layer.tmp" "$layer"
    fi

    if ((PROBE)) && [[ ${probe_target%% *} == "$name" || ${probe_target%% *} == "$s" ]]; then
      # Instead of copying and building the source, build the probe.
      build_probe "${probe_target#* }"
      for ((i = pend; i < end; i++)); do
        case "${INSTR[i]^^}" in ARG* | ENV* | WORKDIR* | USER* | LABEL*) apply "${INSTR[i]}" ;; esac
      done
    else
      for ((i = pend; i < end; i++)); do apply "${INSTR[i]}"; done
    fi
    STAGE_ROOT[$name]=$S_ROOT
    STAGE_ROOT[$s]=$S_ROOT
  done

  # Drop cached layers this Dockerfile no longer makes.
  local l
  for l in "$CACHE"/layers/*; do
    [[ -d $l ]] || continue
    [[ -n ${LAYERS_USED[$(basename "$l")]:-} ]] || { log "pruning stale cached layer $l"; remove_root "$l"; }
  done
}

# ------------------------------------------------------------ checks
run_as_user() {  # root spec home argv... : like `docker run IMAGE` would
  local root=$1 spec=$2 home=$3; shift 3
  local out rc=0 lines
  log "as $S_USER: $*"
  out=$(run_in_root "$root" "$spec" "$home" "$S_CWD" "${S_ENV[@]}" -- "$@" 2>&1) || rc=$?
  lines=$(wc -l <<<"$out")
  sed 's/^/    /' <<<"$out" | head -n 40
  if ((lines > 40)); then echo "    ... ($lines lines)"; fi
  ((rc == 0)) || die "'$*' exited $rc as $S_USER in the runtime root"
}

check_final() {
  local root=$S_ROOT spec home
  local us; us=$(user_spec "$root" "$S_USER"); spec=${us% *} home=${us#* }
  ((${#S_ENTRYPOINT[@]})) || die "the final stage has no ENTRYPOINT"
  local ep=${S_ENTRYPOINT[0]} bin=""
  if [[ $ep == /* ]]; then bin=$ep; else
    local d
    for d in ${STD_PATH//:/ }; do if [[ -x $root$d/$ep ]]; then bin=$d/$ep; break; fi; done
  fi
  [[ -n $bin && -x $root$bin ]] || die "ENTRYPOINT $ep: no executable on PATH in the runtime root"
  log "checks in the runtime root, as USER $S_USER ($spec), in WORKDIR $S_CWD"

  log "ldd $bin"
  local ldd_out
  ldd_out=$(run_in_root "$root" 0:0 /root / -- ldd "$bin" 2>&1) || die "ldd $bin failed: $ldd_out"
  sed 's/^/    /' <<<"$ldd_out"
  ! grep -q 'not found' <<<"$ldd_out" || die "ldd: shared libraries missing in the runtime root: $(grep 'not found' <<<"$ldd_out" | awk '{print $1}' | tr '\n' ' ')(add their packages to RUNTIME_PACKAGES)"

  run_as_user "$root" "$spec" "$home" "${S_ENTRYPOINT[@]}" --version
  run_as_user "$root" "$spec" "$home" "${S_ENTRYPOINT[@]}" "${S_CMD[@]}"

  log "as $S_USER: WORKDIR $S_CWD is writable (reject files land there)"
  run_in_root "$root" "$spec" "$home" "$S_CWD" -- /bin/sh -c 'echo probe > ./.replay-write-probe && rm ./.replay-write-probe' \
    || die "WORKDIR $S_CWD is not writable by USER $S_USER"
  local owner; owner=$(stat -c '%u:%g %a' "$root$S_CWD")
  echo "    $S_CWD: owner uid:gid mode = $owner"
}

report_size() {
  local root=$S_ROOT base=$CACHE/base/minbase-slim
  [[ -d $base ]] || base=$CACHE/base/minbase
  local total base_size
  total=$(du -sx --block-size=1M "$root" | cut -f1)
  base_size=$(du -sx --block-size=1M "$base" | cut -f1)
  log "runtime root: $root"
  echo "    image-equivalent size (du): ${total} MiB; its base ($(basename "$base")): ${base_size} MiB; added by the Dockerfile: $((total - base_size)) MiB"
  local bin_size; bin_size=$(du -k --apparent-size "$root/usr/local/bin/"* 2>/dev/null | awk '{s += $1} END {print s + 0}')
  echo "    /usr/local/bin: ${bin_size} KiB"
  echo "    (debian:bookworm-slim itself is ~75 MiB unpacked; this base is a debootstrap approximation of it)"
}

replay
check_final
report_size
log "replay OK$( ((PROBE)) && echo ' (--probe: the runtime stage ran a stand-in binary, not sluice)')"
