#!/usr/bin/env python3
"""deploy_manifest_test.py - the Kubernetes manifests in deploy/kubernetes/ checked for what a
resumable, locked `sluice migrate` needs, without a cluster.

    python3 tests/deploy_manifest_test.py [--dir deploy/kubernetes]

Every *.yaml there is parsed with PyYAML. Each document must be a known kind with its apiVersion
and a name; every container running the sluice image must:
  - run `migrate` (the image's ENTRYPOINT is `sluice`) with --wait-for-lock DURATION (or
    SLUICE_WAIT_FOR_LOCK), progress style `log`, and only options sluice knows (read from
    config/run_config.cpp), with any SLUICE_* variable one of them;
  - take DATABASE_URL from a secretKeyRef (never a literal), the same Secret and key as every
    other DATABASE_URL in the manifests (Open WebUI's included);
  - run as a numeric non-root uid, with a read-only root filesystem, no privilege escalation and
    all capabilities dropped;
  - have a writable emptyDir or PVC mounted over the directory its reject export is written to
    (--reject-file / SLUICE_REJECT_FILE, relative to the Dockerfile's WORKDIR);
  - have CPU and memory requests and limits, the memory limit at least 128Mi (sluice peaks near
    64 MiB at default settings) and no request above its limit.
Pods: service links off (a Service named `sluice` would inject SLUICE_PORT..., which sluice
refuses), terminationGracePeriodSeconds of at least 10 s (a clean stop takes about one); a Job:
restartPolicy OnFailure or Never, 1 <= backoffLimit <= 10, podFailurePolicy only with Never, no
activeDeadlineSeconds (left to the operator); a Deployment: sluice only as an init container.
Prints one line per check and "deploy manifest tests: N passed, M failed"; exits 1 on a failure.
"""
import argparse
import glob
import os
import posixpath
import re
import sys

try:
    import yaml
except ImportError:  # scripts/deps.sh installs python3-yaml
    print("deploy manifest tests: PyYAML is missing (apt-get install python3-yaml); 0 passed, 1 failed")
    sys.exit(1)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = {"Job": "batch/v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
         "PersistentVolumeClaim": "v1", "Secret": "v1", "ConfigMap": "v1", "ServiceAccount": "v1"}
DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|min|h)$")


def sluice_options():
    """{option name: takes a value} from sluice's option table, plus the command-line-only ones."""
    with open(os.path.join(REPO, "config", "run_config.cpp")) as f:
        text = f.read()
    # {"name", [fields that are not strings, such as the commands it applies to,] "ARGUMENT", ...
    entry = re.compile(r'^\s*\{"([a-z][a-z-]*)",((?:\s*[^",{}]+,)*)\s*"([A-Z]*)",', re.M)
    options = {m.group(1): bool(m.group(3)) for m in entry.finditer(text)}
    if "wait-for-lock" not in options or "reject-file" not in options:
        raise RuntimeError("could not read sluice's option table from config/run_config.cpp")
    options["config"] = True
    return options


def dockerfile_image():
    """The final stage's WORKDIR and the uid its USER has (by useradd --uid or a numeric USER)."""
    workdir, user, uids = "/", None, {}
    with open(os.path.join(REPO, "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^FROM\s", line, re.I)
        if m:
            workdir, user = "/", None
        m = re.match(r"^WORKDIR\s+(\S+)", line, re.I)
        if m:
            workdir = posixpath.join(workdir, m.group(1))
        m = re.match(r"^USER\s+(\S+)", line, re.I)
        if m:
            user = m.group(1).split(":")[0]
        for m in re.finditer(r"useradd\s.*?--uid\s+(\d+)\b.*?\s([a-z_][a-z0-9_-]*)\s*(&&|$)", line):
            uids[m.group(2)] = int(m.group(1))
    uid = int(user) if user and user.isdigit() else uids.get(user)
    return workdir, uid


def quantity(value, cpu=False):
    """A Kubernetes quantity as a number (bytes, or cores for cpu)."""
    s = str(value)
    m = re.match(r"^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$", s)
    if not m:
        raise ValueError("not a quantity: %r" % s)
    n, unit = float(m.group(1)), m.group(2) or ""
    scale = {"": 1, "m": 1e-3, "k": 1e3, "Ki": 1024, "M": 1e6, "Mi": 1024 ** 2, "G": 1e9, "Gi": 1024 ** 3,
             "T": 1e12, "Ti": 1024 ** 4}[unit]
    if unit == "m" and not cpu:
        raise ValueError("milli-units of memory: %r" % s)
    return n * scale


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, where, what, problems):
        problems = [p for p in problems if p]
        print("%-6s %s: %s" % ("ok" if not problems else "FAILED", where, what))
        for p in problems:
            print("         " + p)
        if problems:
            self.failed += 1
        else:
            self.passed += 1


def pod_spec(doc):
    kind = doc.get("kind")
    if kind in ("Job", "Deployment", "StatefulSet", "DaemonSet"):
        return ((doc.get("spec") or {}).get("template") or {}).get("spec")
    return None


def is_sluice(container):
    image = str(container.get("image", ""))
    return re.search(r"(^|/)sluice(:|@|$)", image) is not None


def env_map(container):
    return {e.get("name"): e for e in container.get("env") or [] if isinstance(e, dict)}


def parse_argv(container, options):
    """(command, {option: value}, problems) for the sluice argv of a container."""
    problems = []
    command = list(container.get("command") or [])
    args = [str(a) for a in container.get("args") or []]
    if command:
        if not str(command[0]).endswith("sluice"):
            problems.append("command %r does not run sluice" % command)
        args = [str(a) for a in command[1:]] + args
    words, settings, i = [], {}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if name not in options:
                problems.append("unknown option --%s (sluice would exit 2)" % name)
            elif options[name] and not eq:
                if i + 1 >= len(args):
                    problems.append("--%s has no value" % name)
                    value = None
                else:
                    value = args[i + 1]
                    i += 1
            settings[name] = value if options.get(name) else True
        else:
            words.append(a)
        i += 1
    return words, settings, problems


def setting(name, settings, env):
    """The value sluice would use for an option: the command line wins over SLUICE_*."""
    if name in settings:
        return settings[name]
    e = env.get("SLUICE_" + name.upper().replace("-", "_"))
    return None if e is None else e.get("value")


def check_sluice_container(checks, where, c, pod, options, workdir, image_uid, secrets):
    env = env_map(c)
    words, settings, argv_problems = parse_argv(c, options)

    lock = setting("wait-for-lock", settings, env)
    checks.check(where, "runs `migrate` with --wait-for-lock DURATION", argv_problems + [
        None if words[:1] == ["migrate"] else "the command is %r, not migrate" % (words or None),
        None if len(words) <= 1 else "extra words after migrate: %r" % words[1:],
        "no --wait-for-lock (a second pod would exit 1 at once instead of waiting)" if lock is None else
        None if DURATION.match(str(lock)) else "--wait-for-lock %r is not a duration (ms, s, min, h)" % lock,
    ])

    progress = setting("progress", settings, env)
    checks.check(where, "progress style log", [
        None if progress == "log" else "progress is %r, not log (--progress log or SLUICE_PROGRESS=log)" % progress])

    known = {"SLUICE_" + o.upper().replace("-", "_") for o in options}
    checks.check(where, "every SLUICE_* variable is a sluice option", [
        "%s is not a sluice option (sluice would exit 2)" % n for n in env
        if n and n.startswith("SLUICE_") and not n.startswith("SLUICE_TEST_") and n not in known])

    db = env.get("DATABASE_URL")
    ref = ((db or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    checks.check(where, "DATABASE_URL comes from a secretKeyRef", [
        "no DATABASE_URL in env" if db is None else None,
        "DATABASE_URL has a literal value" if db is not None and "value" in db else None,
        "DATABASE_URL is not a secretKeyRef" if db is not None and not (ref.get("name") and ref.get("key")) else None,
        "the connection string is given as --db or SLUICE_DB, not from the Secret"
        if "db" in settings or "SLUICE_DB" in env else None,
    ])
    if ref.get("name") and ref.get("key"):
        secrets.append((where, ref["name"], ref["key"]))

    psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
    sc = lambda k: csc.get(k, psc.get(k))  # the container's setting wins over the pod's
    uid = sc("runAsUser")
    caps = [str(x).upper() for x in ((csc.get("capabilities") or {}).get("drop") or [])]
    checks.check(where, "securityContext: non-root, read-only root filesystem, nothing to escalate", [
        None if sc("runAsNonRoot") is True else "runAsNonRoot is not true",
        "runAsUser is not set: with runAsNonRoot the kubelet refuses an image whose USER is a name"
        if uid is None and not isinstance(image_uid, int) else None,
        "runAsUser is 0" if uid == 0 else None,
        "runAsUser %s is not the image's uid %s (/work would not be its own)" % (uid, image_uid)
        if uid is not None and image_uid is not None and uid != image_uid else None,
        None if csc.get("readOnlyRootFilesystem") is True else "readOnlyRootFilesystem is not true",
        None if csc.get("allowPrivilegeEscalation") is False else "allowPrivilegeEscalation is not false",
        None if "ALL" in caps else "capabilities.drop does not hold ALL",
    ])

    reject_file = setting("reject-file", settings, env) or "sluice-rejects.jsonl"
    cwd = c.get("workingDir") or workdir
    export_dir = posixpath.dirname(posixpath.normpath(posixpath.join(cwd, str(reject_file))))
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = [m for m in c.get("volumeMounts") or []
              if export_dir == m.get("mountPath", "").rstrip("/") or
              export_dir.startswith(m.get("mountPath", "").rstrip("/") + "/")]
    mount = max(mounts, key=lambda m: len(m.get("mountPath", "")), default=None)
    vol = volumes.get((mount or {}).get("name")) or {}
    checks.check(where, "a writable emptyDir or PVC holds the reject export (%s)" % posixpath.join(export_dir, posixpath.basename(str(reject_file))), [
        "no volume is mounted over %s: with a read-only root filesystem sluice exits 2" % export_dir
        if mount is None else None,
        "the mount over %s is read-only" % export_dir if mount and mount.get("readOnly") else None,
        "volume %r is not an emptyDir or persistentVolumeClaim" % (mount or {}).get("name")
        if mount and not ("emptyDir" in vol or "persistentVolumeClaim" in vol) else None,
    ])

    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    problems = []
    for part, values in (("requests", req), ("limits", lim)):
        for r in ("cpu", "memory"):
            if r not in values:
                problems.append("no %s.%s" % (part, r))
    try:
        if "memory" in lim and quantity(lim["memory"]) < 128 * 1024 ** 2:
            problems.append("limits.memory %s is under 128Mi (sluice peaks near 64 MiB, more with big chats)" % lim["memory"])
        for r in ("cpu", "memory"):
            if r in req and r in lim and quantity(req[r], r == "cpu") > quantity(lim[r], r == "cpu"):
                problems.append("requests.%s %s is above limits.%s %s" % (r, req[r], r, lim[r]))
    except ValueError as e:
        problems.append(str(e))
    checks.check(where, "resources: requests and limits, memory limit >= 128Mi", problems)


def check_pod(checks, where, kind, spec, doc):
    grace = spec.get("terminationGracePeriodSeconds")
    checks.check(where, "pod: service links off, a grace period for a clean stop", [
        None if spec.get("enableServiceLinks") is False else
        "enableServiceLinks is not false: a Service named `sluice` would put SLUICE_PORT... in the environment",
        "terminationGracePeriodSeconds is not set" if grace is None else
        "terminationGracePeriodSeconds %s is under 10" % grace if not isinstance(grace, int) or grace < 10 else None,
    ])
    if kind == "Job":
        js = doc.get("spec") or {}
        rp, bl = spec.get("restartPolicy"), js.get("backoffLimit")
        checks.check(where, "Job: restartPolicy, backoffLimit, no deadline of ours", [
            None if rp in ("OnFailure", "Never") else "restartPolicy %r is not OnFailure or Never" % rp,
            "backoffLimit is not set (the default of 6 is not a decision)" if bl is None else
            None if isinstance(bl, int) and 1 <= bl <= 10 else "backoffLimit %r is not within 1..10" % bl,
            "podFailurePolicy needs restartPolicy Never" if "podFailurePolicy" in js and rp != "Never" else None,
            "activeDeadlineSeconds is set: it depends on the database and is left to the operator"
            if "activeDeadlineSeconds" in js or "activeDeadlineSeconds" in spec else None,
        ])
    else:
        checks.check(where, "%s: sluice runs only as an init container" % kind, [
            "a sluice container among the app's containers (it would be restarted after it exits 0)"
            for c in spec.get("containers") or [] if is_sluice(c)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=os.path.join(REPO, "deploy", "kubernetes"))
    args = parser.parse_args()
    checks = Checks()
    try:
        options = sluice_options()
    except (OSError, RuntimeError) as e:
        checks.check("config/run_config.cpp", "sluice's options can be read", [str(e)])
        print("deploy manifest tests: %d passed, %d failed" % (checks.passed, checks.failed))
        return 1
    workdir, image_uid = dockerfile_image()
    files = sorted(glob.glob(os.path.join(args.dir, "*.yaml")) + glob.glob(os.path.join(args.dir, "*.yml")))
    checks.check(args.dir, "holds manifests", [None if files else "no *.yaml files"])
    secrets, sluice_containers, jobs = [], 0, 0
    for path in files:
        name = os.path.relpath(path, REPO)
        try:
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            checks.check(name, "parses as YAML", [str(e).replace("\n", " ")])
            continue
        checks.check(name, "parses as YAML (%d documents)" % len(docs), [None if docs else "no documents"])
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict):
                checks.check("%s#%d" % (name, i), "is a mapping", ["a %s" % type(doc).__name__])
                continue
            kind = doc.get("kind")
            where = "%s %s/%s" % (name, kind, (doc.get("metadata") or {}).get("name"))
            checks.check(where, "kind and apiVersion", [
                None if kind in KINDS else "unknown kind %r" % kind,
                None if kind not in KINDS or doc.get("apiVersion") == KINDS[kind] else
                "apiVersion %r for %s, not %s" % (doc.get("apiVersion"), kind, KINDS[kind]),
                None if (doc.get("metadata") or {}).get("name") else "no metadata.name",
            ])
            spec = pod_spec(doc)
            if spec is None:
                continue
            jobs += kind == "Job"
            containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
            sluices = [c for c in containers if is_sluice(c)]
            if not sluices:
                checks.check(where, "runs sluice", ["no container has the sluice image"])
                continue
            check_pod(checks, where, kind, spec, doc)
            for c in sluices:
                sluice_containers += 1
                check_sluice_container(checks, "%s [%s]" % (where, c.get("name")), c, spec, options, workdir,
                                       image_uid, secrets)
            for c in containers:
                if c not in sluices and "DATABASE_URL" in env_map(c):
                    ref = ((env_map(c)["DATABASE_URL"].get("valueFrom") or {}).get("secretKeyRef") or {})
                    secrets.append(("%s [%s]" % (where, c.get("name")), ref.get("name"), ref.get("key")))
    checks.check("manifests", "a Job runs sluice", [None if jobs else "no Job with a sluice container"])
    pairs = {(n, k) for _, n, k in secrets}
    checks.check("manifests", "one Secret and key for DATABASE_URL everywhere (%s)" %
                 ", ".join("%s/%s" % p for p in sorted(pairs, key=str)), [
        None if sluice_containers else "no sluice container at all",
        None if len(pairs) <= 1 else "different Secrets: " + "; ".join("%s: %s/%s" % s for s in secrets),
    ])
    print("deploy manifest tests: %d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
