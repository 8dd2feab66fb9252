#!/usr/bin/env python3
"""deploy_manifest_test.py - the Kubernetes manifests and Helm values in deploy/kubernetes/ checked
for what a resumable, locked `sluice migrate` needs, without a cluster.

    python3 tests/e2e/deploy_manifest_test.py [--dir deploy/kubernetes]

Every *.yaml there is parsed with PyYAML. A file named values*.yaml holds values for Open WebUI's
Helm chart (open-webui/helm-charts 16.x): only keys of that chart (extraEnvVars,
extraInitContainers, volumes, extraResources); its extraInitContainers are checked as containers of
the chart's pod (service links off, the Kubernetes default grace period, the values' volumes), its
extraResources as manifests. Each manifest must be a known kind with its apiVersion and a name;
every container running the sluice image must:
  - run `migrate` (the image's ENTRYPOINT is `sluice`) with --wait-for-lock DURATION (or
    SLUICE_WAIT_FOR_LOCK), progress style `log`, and only options sluice knows (read from
    config/run_config.cpp), with any SLUICE_* variable one of them;
  - take the database from a Secret: DATABASE_URL from a secretKeyRef, or Open WebUI's six split
    variables (DATABASE_TYPE postgresql, DATABASE_PASSWORD from a secretKeyRef, never a literal
    password), never --db/SLUICE_DB; every container that names the database (Open WebUI's
    extraEnvVars included) the same way, from Secrets that are created: by a manifest here, or
    by a `kubectl create secret generic NAME` in the README here;
  - run as a numeric non-root uid, with a read-only root filesystem, no privilege escalation and
    all capabilities dropped, and meet the restricted Pod Security profile (seccomp
    RuntimeDefault or Localhost, no privileged, no added capability but NET_BIND_SERVICE, no host
    namespaces, ports or host paths);
  - have a writable emptyDir or PVC mounted over the directory its reject export is written to
    (--reject-file / SLUICE_REJECT_FILE, relative to the Dockerfile's WORKDIR);
  - have CPU and memory requests and limits, the memory limit at least 128Mi (sluice peaks near
    64 MiB at default settings) and no request above its limit.
Pods: service links off (a Service named `sluice` would inject SLUICE_PORT..., which sluice
refuses), terminationGracePeriodSeconds of at least 10 s (a clean stop takes about one); a Job:
restartPolicy OnFailure or Never, 1 <= backoffLimit <= 10, podFailurePolicy only with Never, no
activeDeadlineSeconds (left to the operator), a ttlSecondsAfterFinished; a Helm hook Job:
pre-upgrade, with a hook-delete-policy; a Deployment or StatefulSet: sluice only as an init
container; no `strategy: Recreate` anywhere (the chart's default workload is a StatefulSet, which
has none). There must be a Job, a values file with sluice in extraInitContainers, and a
pre-upgrade hook Job.
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

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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



SPLIT = ("DATABASE_TYPE", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME")
POSTGRES_TYPES = ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg")


def source_of(entry):
    """("secret", name, key) for a secretKeyRef, ("value", text) for a literal, None otherwise."""
    ref = ((entry or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    if ref.get("name") and ref.get("key"):
        return ("secret", ref["name"], ref["key"])
    if entry is not None and "value" in entry:
        return ("value", str(entry["value"]))
    return None


def database_of(env):
    """(problems, {variable: source}) for how a container's environment names the database, as
    Open WebUI reads it: its split variables when all are set, else DATABASE_URL."""
    problems, refs = [], {}
    split = {n: source_of(env.get(n)) for n in SPLIT if n in env}
    if split:
        missing = [n for n in SPLIT if n not in split and n not in ("DATABASE_USER", "DATABASE_PASSWORD")]
        if missing:
            problems.append("the split variables lack %s: Open WebUI would ignore them" % ", ".join(missing))
        if "DATABASE_PASSWORD" in split and (split["DATABASE_PASSWORD"] or ("",))[0] != "secret":
            problems.append("DATABASE_PASSWORD is not a secretKeyRef")
        kind = split.get("DATABASE_TYPE")
        if kind and kind[0] == "value" and kind[1] not in POSTGRES_TYPES:
            problems.append("DATABASE_TYPE %r is not PostgreSQL" % kind[1])
        if "DATABASE_URL" in env:
            problems.append("both DATABASE_URL and the split variables: Open WebUI uses the split ones")
        problems += ["%s has neither a value nor a secretKeyRef" % n for n, src in split.items() if src is None]
        refs = split
    elif "DATABASE_URL" in env:
        src = source_of(env["DATABASE_URL"])
        if not src or src[0] != "secret":
            problems.append("DATABASE_URL is not a secretKeyRef (a literal would put the password in the manifest)")
        refs = {"DATABASE_URL": src}
    else:
        problems.append("no database: neither DATABASE_URL nor Open WebUI's DATABASE_* variables in env")
    return problems, refs


ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                   "secret"}


def check_restricted(checks, where, pod, c):
    """The restricted Pod Security Standard, for this container and its pod."""
    psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
    sc = lambda k: csc.get(k, psc.get(k))
    seccomp = (sc("seccompProfile") or {}).get("type")
    caps = c.get("securityContext", {}).get("capabilities") or {}
    added = [str(x).upper() for x in caps.get("add") or []]
    checks.check(where, "the restricted Pod Security profile", [
        None if seccomp in ("RuntimeDefault", "Localhost") else "seccompProfile is %r, not RuntimeDefault" % seccomp,
        "privileged" if csc.get("privileged") else None,
        "allowPrivilegeEscalation is not false" if csc.get("allowPrivilegeEscalation") is not False else None,
        "adds capabilities %s" % added if [a for a in added if a != "NET_BIND_SERVICE"] else None,
        None if sc("runAsNonRoot") is True else "runAsNonRoot is not true",
        "runs as uid 0" if sc("runAsUser") == 0 else None,
        "a host port" if any((p or {}).get("hostPort") for p in c.get("ports") or []) else None,
    ] + ["host namespace %s" % k for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)] + [
        "volume %r is not of a type the profile allows" % v.get("name")
        for v in pod.get("volumes") or [] if not (set(v) - {"name"}) <= ALLOWED_VOLUMES])


def check_sluice_container(checks, where, c, pod, options, workdir, image_uid, databases):
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

    problems, refs = database_of(env)
    checks.check(where, "the database comes from a Secret (DATABASE_URL, or Open WebUI's split variables)", problems + [
        "the connection string is given as --db or SLUICE_DB, not from the Secret"
        if "db" in settings or "SLUICE_DB" in env else None,
    ])
    if refs:
        databases.append((where, refs))

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

    check_restricted(checks, where, pod, c)

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
            None if isinstance(js.get("ttlSecondsAfterFinished"), int) and js["ttlSecondsAfterFinished"] >= 0 else
            "no ttlSecondsAfterFinished: a finished Job (and a hook's) stays until deleted by hand",
        ])
        hook = ((doc.get("metadata") or {}).get("annotations") or {})
        if "helm.sh/hook" in hook:
            checks.check(where, "Helm hook: pre-upgrade, replaced by the next run", [
                None if "pre-upgrade" in str(hook["helm.sh/hook"]).split(",") else
                "helm.sh/hook is %r, not pre-upgrade" % hook["helm.sh/hook"],
                None if hook.get("helm.sh/hook-delete-policy") else "no helm.sh/hook-delete-policy",
            ])
    else:
        checks.check(where, "%s: sluice runs only as an init container" % kind, [
            "a sluice container among the app's containers (it would be restarted after it exits 0)"
            for c in spec.get("containers") or [] if is_sluice(c)])


# The values of Open WebUI's chart (16.x) that the snippets here may set.
CHART_KEYS = {"extraEnvVars", "extraInitContainers", "volumes", "extraResources"}
KUBERNETES_GRACE_DEFAULT = 30  # what the chart's pod gets: its template sets no grace period


class Found:
    """What the files hold, for the checks over all of them."""

    def __init__(self):
        self.databases = []      # (where, {variable: source}) of every container naming the database
        self.secrets = set()     # Secrets the manifests define
        self.sluice_containers = 0
        self.jobs = 0
        self.hooks = 0           # pre-upgrade hook Jobs with a ttlSecondsAfterFinished
        self.init_snippets = 0   # values files giving sluice to extraInitContainers
        self.recreate = []       # where a `strategy: Recreate` is


def has_recreate(value):
    if isinstance(value, dict):
        return ((value.get("strategy") or {}).get("type") == "Recreate" if isinstance(value.get("strategy"), dict)
                else False) or any(has_recreate(v) for v in value.values())
    if isinstance(value, list):
        return any(has_recreate(v) for v in value)
    return False


def check_document(checks, where_file, i, doc, ctx, found):
    if not isinstance(doc, dict):
        checks.check("%s#%d" % (where_file, i), "is a mapping", ["a %s" % type(doc).__name__])
        return
    kind = doc.get("kind")
    where = "%s %s/%s" % (where_file, kind, (doc.get("metadata") or {}).get("name"))
    checks.check(where, "kind and apiVersion", [
        None if kind in KINDS else "unknown kind %r" % kind,
        None if kind not in KINDS or doc.get("apiVersion") == KINDS[kind] else
        "apiVersion %r for %s, not %s" % (doc.get("apiVersion"), kind, KINDS[kind]),
        None if (doc.get("metadata") or {}).get("name") else "no metadata.name",
    ])
    if kind == "Secret":
        found.secrets.add((doc.get("metadata") or {}).get("name"))
    if has_recreate(doc):
        found.recreate.append(where)
    spec = pod_spec(doc)
    if spec is None:
        return
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    sluices = [c for c in containers if is_sluice(c)]
    if not sluices:
        checks.check(where, "runs sluice", ["no container has the sluice image"])
        return
    found.jobs += kind == "Job"
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    found.hooks += (kind == "Job" and "pre-upgrade" in str(annotations.get("helm.sh/hook", "")).split(",") and
                    isinstance((doc.get("spec") or {}).get("ttlSecondsAfterFinished"), int))
    check_pod(checks, where, kind, spec, doc)
    for c in sluices:
        found.sluice_containers += 1
        check_sluice_container(checks, "%s [%s]" % (where, c.get("name")), c, spec, ctx["options"], ctx["workdir"],
                               ctx["image_uid"], found.databases)
    for c in containers:
        if c not in sluices and (set(env_map(c)) & (set(SPLIT) | {"DATABASE_URL"})):
            found.databases.append(("%s [%s]" % (where, c.get("name")), database_of(env_map(c))[1]))


def check_values(checks, name, values, ctx, found):
    """A values file of Open WebUI's chart: its keys, its init containers in the chart's pod, its
    extra resources as manifests, its extraEnvVars as Open WebUI's own environment."""
    if not isinstance(values, dict):
        checks.check(name, "holds chart values", ["not a mapping"])
        return
    checks.check(name, "sets only values of Open WebUI's chart (%s)" % ", ".join(sorted(CHART_KEYS)), [
        "%r is not one of them" % k for k in values if k not in CHART_KEYS])
    if has_recreate(values):
        found.recreate.append(name)
    # The chart's pod, as workload-manager.yaml renders it.
    pod = {"enableServiceLinks": False, "terminationGracePeriodSeconds": KUBERNETES_GRACE_DEFAULT,
           "volumes": values.get("volumes") or []}
    sluices = [c for c in values.get("extraInitContainers") or [] if isinstance(c, dict) and is_sluice(c)]
    if sluices:
        found.init_snippets += 1
        check_pod(checks, "%s extraInitContainers" % name, "StatefulSet", {"initContainers": sluices, **pod}, {})
    for c in sluices:
        found.sluice_containers += 1
        check_sluice_container(checks, "%s extraInitContainers [%s]" % (name, c.get("name")), c, pod,
                               ctx["options"], ctx["workdir"], ctx["image_uid"], found.databases)
    if values.get("extraEnvVars"):
        env = {e.get("name"): e for e in values["extraEnvVars"] if isinstance(e, dict)}
        problems, refs = database_of(env)
        checks.check("%s extraEnvVars" % name, "Open WebUI's database comes from a Secret", problems)
        found.databases.append(("%s extraEnvVars [open-webui]" % name, refs))
    for i, doc in enumerate(values.get("extraResources") or []):
        check_document(checks, "%s extraResources[%d]" % (name, i), i, doc, ctx, found)


def created_secrets(directory):
    """Secrets the README here tells the operator to create."""
    try:
        with open(os.path.join(directory, "README.md")) as f:
            text = f.read()
    except OSError:
        return set()
    return set(re.findall(r"create secret generic\s+([a-z0-9][a-z0-9.-]*)", text))


def shown(variable, source):
    """A variable's source for a message: a Secret's name/key, or a literal unless it may hold a password."""
    if not source:
        return "(none)"
    if source[0] == "secret":
        return "secret %s/%s" % source[1:]
    return "(a literal)" if variable in ("DATABASE_PASSWORD", "DATABASE_URL") else repr(source[1])


def check_all(checks, found, directory):
    checks.check("manifests", "a Job runs sluice", [None if found.jobs else "no Job with a sluice container"])
    checks.check("manifests", "a values snippet gives sluice to the chart's extraInitContainers",
                 [None if found.init_snippets else "no values*.yaml with sluice in extraInitContainers"])
    checks.check("manifests", "a pre-upgrade hook Job with ttlSecondsAfterFinished runs sluice",
                 [None if found.hooks else "no Job annotated helm.sh/hook: pre-upgrade with a TTL"])
    checks.check("manifests", "no strategy: Recreate (the chart's default workload is a StatefulSet)",
                 ["strategy Recreate in " + w for w in found.recreate])
    sources = {tuple(sorted(refs.items(), key=str)) for _, refs in found.databases}
    checks.check("manifests", "every container names the database alike, from the same Secret keys", [
        None if found.sluice_containers else "no sluice container at all",
        None if len(sources) <= 1 else "they differ: " + "; ".join(
            "%s: %s" % (w, ", ".join("%s=%s" % (k, shown(k, v)) for k, v in sorted(r.items())))
            for w, r in found.databases),
    ])
    referenced = {src[1] for _, refs in found.databases for src in refs.values() if src and src[0] == "secret"}
    known = found.secrets | created_secrets(directory)
    checks.check("manifests", "each Secret referenced is created (%s)" % ", ".join(sorted(referenced)), [
        "Secret %r is neither a manifest here nor created by a `kubectl create secret generic %s` in README.md "
        "(Open WebUI's chart creates none for the database)" % (n, n) for n in sorted(referenced - known)])


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
    ctx = {"options": options, "workdir": workdir, "image_uid": image_uid}
    files = sorted(glob.glob(os.path.join(args.dir, "*.yaml")) + glob.glob(os.path.join(args.dir, "*.yml")))
    checks.check(args.dir, "holds manifests", [None if files else "no *.yaml files"])
    found = Found()
    for path in files:
        name = os.path.relpath(path, REPO)
        try:
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            checks.check(name, "parses as YAML", [str(e).replace("\n", " ")])
            continue
        checks.check(name, "parses as YAML (%d documents)" % len(docs), [None if docs else "no documents"])
        if os.path.basename(path).startswith("values"):
            for values in docs:
                check_values(checks, name, values, ctx, found)
            continue
        for i, doc in enumerate(docs):
            check_document(checks, name, i, doc, ctx, found)
    check_all(checks, found, args.dir)
    print("deploy manifest tests: %d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
