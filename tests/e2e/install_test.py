#!/usr/bin/env python3
"""install_test.py - the package: `cmake --install` of a built tree into a temporary prefix, and
the version and revision a build knows.

    python3 tests/e2e/install_test.py [--build build]

Checks, each a line "ok ..." or "FAILED ...":
  - `cmake --install BUILD --prefix P` gives P/bin/sluice, and `P/bin/sluice --version` runs and
    names the version of CMakeLists.txt's project() (the one place it is written);
  - P/share/man/man1/sluice.1 is a well-formed man page (.TH, NAME, SYNOPSIS, DESCRIPTION, a
    section per command; groff, when installed, reads it without a warning);
  - P/share/doc/sluice holds LICENSE (MIT, "Copyright (c) 2026 the sluice authors"), CHANGELOG.md
    (Keep a Changelog: Unreleased, then the project's version) and README.md;
  - the Dockerfile repeats no version, and labels the image from build arguments;
  - a tree without .git knows its revision: from REVISION as `git archive` fills it, from
    -DSLUICE_REVISION, else "unknown" (configured only, not built: a few seconds each).
Prints "install tests: N passed, M failed"; exits 1 on a failure.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, what, problems):
        problems = [p for p in problems if p]
        print("%-6s %s" % ("ok" if not problems else "FAILED", what))
        for p in problems:
            print("         " + p)
        self.failed += bool(problems)
        self.passed += not problems


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"^project\(sluice VERSION ([0-9.]+)", f.read(), re.M)
    if not m:
        raise RuntimeError("no project(sluice VERSION ...) in CMakeLists.txt")
    return m.group(1)


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def check_install(checks, build, prefix, version):
    r = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, text=True)
    checks.check("cmake --install %s --prefix P" % os.path.relpath(build, REPO),
                 [None if r.returncode == 0 else "exit %d: %s" % (r.returncode, (r.stderr or r.stdout).strip())])
    binary = os.path.join(prefix, "bin", "sluice")
    problems = []
    if not os.access(binary, os.X_OK):
        problems.append("no executable P/bin/sluice")
    else:
        v = subprocess.run([binary, "--version"], capture_output=True, text=True)
        first = v.stdout.splitlines()[0] if v.stdout else ""
        if v.returncode != 0:
            problems.append("P/bin/sluice --version exited %d" % v.returncode)
        if not re.match(r"^sluice %s \(git [0-9a-z-]+\)$" % re.escape(version), first):
            problems.append("P/bin/sluice --version says %r, not sluice %s (git ...)" % (first, version))
    checks.check("P/bin/sluice --version runs and names version %s" % version, problems)


def check_man_page(checks, prefix, version):
    page = os.path.join(prefix, "share", "man", "man1", "sluice.1")
    text = read(page)
    problems = [] if text is not None else ["no P/share/man/man1/sluice.1"]
    if text is not None:
        if not text.startswith('.TH SLUICE 1 "" "sluice %s" "User Commands"\n' % version):
            problems.append("does not start with its .TH line for sluice %s: %r" % (version, text[:60]))
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS"):
            if "\n.SH %s\n" % section not in text:
                problems.append("no .SH %s" % section)
        for command in ("migrate", "check", "verify", "rejects", "cleanup"):
            if "\n.SS sluice %s\n" % command not in text:
                problems.append("no section for sluice %s" % command)
        if text.count("\n.nf\n") != text.count("\n.fi\n"):
            problems.append(".nf and .fi do not pair")
        if re.search(r"^\.(?!TH|SH|SS|B|I|RI|br|nf|fi|PP)\S*", text, re.M):
            problems.append("a help line read as a roff request: %r" % re.search(r"^\..*", text, re.M).group(0))
        groff = shutil.which("groff")
        if groff:
            r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True)
            if r.returncode != 0 or r.stderr.strip():
                problems.append("groff warns: " + r.stderr.strip()[:300])
    checks.check("P/share/man/man1/sluice.1 is a man page%s" % (" (groff reads it cleanly)" if shutil.which("groff") else ""),
                 problems)


def check_docs(checks, prefix, version):
    doc = os.path.join(prefix, "share", "doc", "sluice")
    license_text, changelog = read(os.path.join(doc, "LICENSE")), read(os.path.join(doc, "CHANGELOG.md"))
    checks.check("P/share/doc/sluice/LICENSE: MIT, the sluice authors", [
        "missing" if license_text is None else None,
        "not the MIT License" if license_text and not license_text.startswith("MIT License\n") else None,
        "no 'Copyright (c) 2026 the sluice authors'" if license_text and
        "Copyright (c) 2026 the sluice authors" not in license_text else None,
    ])
    releases = re.findall(r"^## \[([^\]]+)\]", changelog or "", re.M)
    checks.check("P/share/doc/sluice/CHANGELOG.md: Keep a Changelog, Unreleased then %s" % version, [
        "missing" if changelog is None else None,
        None if "keepachangelog.com" in (changelog or "") else "does not say it follows Keep a Changelog",
        None if releases[:2] == ["Unreleased", version] else "its first releases are %r" % releases[:2],
    ])
    checks.check("P/share/doc/sluice/README.md", [None if read(os.path.join(doc, "README.md")) else "missing"])


def check_dockerfile(checks, version):
    text = read(os.path.join(REPO, "Dockerfile")) or ""
    labels = ("version", "revision", "source", "licenses")
    checks.check("the Dockerfile repeats no version and labels the image from build arguments", [
        "the Dockerfile names version %s" % version if version in text else None,
        None if re.search(r"^ARG VERSION\s*$", text, re.M) else "no ARG VERSION without a default",
    ] + [None if "org.opencontainers.image.%s=" % label in text else "no org.opencontainers.image.%s label" % label
         for label in labels])


def configured_revision(source, extra):
    """The revision CMake finds for `source` (configured into a scratch build directory)."""
    with tempfile.TemporaryDirectory(prefix="sluice-install-test-") as build:
        r = subprocess.run(["cmake", "-S", source, "-B", build, "-DSLUICE_BUILD_TESTS=OFF"] + extra,
                           capture_output=True, text=True)
        m = re.search(r"-- sluice [0-9.]+, revision (\S+)", r.stdout)
        return m.group(1) if m else "(configure failed: %s)" % (r.stderr.strip()[-300:])


def check_revision(checks):
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        checks.check("a build from a git archive knows its revision", ["no git here to make an archive"])
        return
    with tempfile.TemporaryDirectory(prefix="sluice-archive-") as tree:
        archive = subprocess.run("git -C %s archive HEAD | tar -x -C %s" % (REPO, tree), shell=True,
                                 capture_output=True, text=True)
        if archive.returncode != 0:
            checks.check("a build from a git archive knows its revision", [archive.stderr.strip()])
            return
        from_archive = configured_revision(tree, [])
        given = configured_revision(tree, ["-DSLUICE_REVISION=0123abc"])
        with open(os.path.join(tree, "REVISION"), "w") as f:
            f.write("$Format:%h$\n")  # a copy of the sources that is no archive, without .git
        bare = configured_revision(tree, [])
    full = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    checks.check("a build from `git archive` (no .git) knows its revision; -DSLUICE_REVISION wins; else unknown", [
        None if from_archive and full.startswith(from_archive) and len(from_archive) >= 7 else
        "from the archive of %s the revision is %r" % (head.stdout.strip(), from_archive),
        None if given == "0123abc" else "-DSLUICE_REVISION=0123abc gave %r" % given,
        None if bare == "unknown" else "without .git or a filled REVISION the revision is %r" % bare,
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    args = parser.parse_args()
    checks = Checks()
    version = project_version()
    with tempfile.TemporaryDirectory(prefix="sluice-prefix-") as prefix:
        check_install(checks, os.path.abspath(args.build), prefix, version)
        check_man_page(checks, prefix, version)
        check_docs(checks, prefix, version)
    check_dockerfile(checks, version)
    check_revision(checks)
    print("install tests: %d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
