"""The Kubernetes target: `freight run --target kubernetes --image IMAGE`.

Each chunk of rows is one Indexed Job (batch/v1, `completionMode: Indexed`): `completions` is
the number of rows, `parallelism` the --max-parallel, and each pod gets JOB_COMPLETION_INDEX,
from which a few lines of sh find its row (contiguous rows: index plus offset; scattered rows
of a retry: a rows file). The pod is the image, so freight's task wrapper runs in it
(FREIGHT_IN_IMAGE: the wrapper runs the program directly, no engine) with the image's python3;
freight itself (stdlib only on that path) comes from a volume, never from the image.

- Code and run folder: a PersistentVolumeClaim (`pvc = "NAME"`) that holds the project and is
  mounted at the project's own path (`mount_path`, default the job's workdir), so every path
  in job.json is valid in the pod and state files written there are read here; freight's own
  source is copied into the run folder at submit. Or, on a one-node dev cluster (kind,
  minikube with the folder mounted), `host_path = true`: hostPath volumes of the project, the
  run folder and freight's package.
- Resources: cpu/memory requests = limits (the task gets what it asked for, no more),
  `nvidia.com/gpu` limits; the time limit is the pod's `activeDeadlineSeconds` (per task: the
  Job's own would cap the whole sweep); `backoffLimitPerIndex: 0` (with `restartPolicy: Never`):
  a failed row is not rerun by Kubernetes (`freight retry` does that) and never stops the others,
  as the Job-wide backoffLimit would.
- Applied with `kubectl apply -f`; status from `kubectl get job -o json` (completedIndexes,
  failedIndexes, active); cancel by deleting the run's Jobs (label freight.dev/run).
Manifests are rendered with yaml.safe_dump (pyyaml) and validated in tests against the
Kubernetes API schemas (kubernetes-validate, strict).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

import freight
from freight.errors import ConfigError, MissingToolError
from freight.sched import arrayjobs as aj
from freight.sched.base import Capabilities, Submission, refuse_unsupported
from freight.sched.batch import one_line, parse_ranges, expand_ranges, run_tool
from freight.sched.render import render_template
from freight.spec.state import TaskState
from freight.task import DEFAULT_KILL_GRACE_S

DEADLINE_MARGIN_S = int(DEFAULT_KILL_GRACE_S) + 20  # the wrapper's own limit and grace go first
FIX = "check [targets.kubernetes] in freight.toml (namespace, pvc or host_path, mount_path)"
RUN_LABEL = "freight.dev/run"
FREIGHT_SRC = "freight-src"  # in the run folder (pvc): a copy of freight's package for the pod
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class KubernetesOptions(BaseModel):
    """`[targets.kubernetes]` in freight.toml (and --target-opt)."""

    model_config = ConfigDict(extra="forbid")

    namespace: str | None = None
    pvc: str | None = None  # PersistentVolumeClaim holding the project and its .freight folder
    host_path: bool = False  # one-node dev cluster: hostPath volumes instead of a PVC
    mount_path: str | None = None  # the folder the PVC holds, mounted at the same path (default: workdir)
    python: str = "python3"  # the image's interpreter, which runs freight's task wrapper
    image_pull_policy: str | None = None  # Always, IfNotPresent, Never
    service_account: str | None = None
    max_completions: int = Field(100000, ge=1)  # the API's cap on an Indexed Job's completions

    @field_validator("namespace", "pvc", "service_account")
    @classmethod
    def _dns_name(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes name (lowercase letters, digits, '-')")
        return value

    @field_validator("image_pull_policy")
    @classmethod
    def _policy(cls, value: str | None) -> str | None:
        if value not in (None, "Always", "IfNotPresent", "Never"):
            raise ValueError("must be Always, IfNotPresent or Never")
        return value


def load_options(options: dict) -> KubernetesOptions:
    return aj.load_options(KubernetesOptions, "kubernetes", options, FIX)


# -- rendering -------------------------------------------------------------------------------------


def k8s_name(run_id: str, number: int) -> str:
    """A DNS-1123 label of at most 63 characters, room left for the pods' "-<index>-<hash>"."""
    base = re.sub(r"[^a-z0-9-]+", "-", run_id.lower()).strip("-")[:40].rstrip("-") or "run"
    return f"{base}-{number}"


def label_value(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", run_id)[:63].strip("-._") or "run"


def resources(res) -> dict:
    """Requests = limits: the task gets exactly what it asked for."""
    wanted = {"cpu": str(res.cpus)}
    if res.mem_mb:
        wanted["memory"] = f"{res.mem_mb}Mi"
    limits = dict(wanted)
    if res.gpus:
        limits["nvidia.com/gpu"] = str(res.gpus)
    return {"requests": wanted, "limits": limits}


def volumes(run, opts: KubernetesOptions) -> tuple[list[dict], list[dict], str]:
    """(volumes, volume mounts, PYTHONPATH holding freight) for the pod."""
    workdir, run_dir = run.job.workdir, str(run.paths.root)
    if opts.pvc:
        mount = opts.mount_path or workdir
        if not _inside(run_dir, mount) or not _inside(workdir, mount):
            raise ConfigError(f"the PVC is mounted at {mount}, which holds neither the run folder {run_dir} "
                              "or the project", fix="set mount_path under [targets.kubernetes] to a folder holding both")
        return ([{"name": "work", "persistentVolumeClaim": {"claimName": opts.pvc}}],
                [{"name": "work", "mountPath": mount}], f"{run_dir}/{FREIGHT_SRC}")
    package = str(Path(freight.__file__).resolve().parent)
    folders = [("project", workdir), *([("run", run_dir)] if not _inside(run_dir, workdir) else [])]
    vols = [{"name": name, "hostPath": {"path": path, "type": "Directory"}} for name, path in folders]
    vols.append({"name": "freight", "hostPath": {"path": package, "type": "Directory"}})
    mounts = [{"name": name, "mountPath": path} for name, path in folders]
    mounts.append({"name": "freight", "mountPath": "/opt/freight/freight", "readOnly": True})
    return vols, mounts, "/opt/freight"


def _inside(path: str, folder: str) -> bool:
    path, folder = str(Path(path)), str(Path(folder))
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def job_manifest(run, chunk: aj.Chunk, opts: KubernetesOptions, rows_file: str | None) -> dict:
    job, res = run.job, run.job.resources
    labels = {"app.kubernetes.io/managed-by": "freight", RUN_LABEL: label_value(run.id)}
    vols, mounts, pythonpath = volumes(run, opts)
    script = render_template("kubernetes.pod.sh.j2", run_dir=str(run.paths.root), python=opts.python,
                             offset=chunk.offset, rows_file=rows_file or "")
    env = {"FREIGHT_IN_IMAGE": "1", "FREIGHT_SCHEDULER": "kubernetes", "PYTHONPATH": pythonpath}
    container = {"name": "task", "image": job.container.image, "command": ["/bin/sh", "-c", script, "freight-task"],
                 "workingDir": job.workdir, "env": [{"name": k, "value": v} for k, v in env.items()],
                 "resources": resources(res), "volumeMounts": mounts}
    if opts.image_pull_policy:
        container["imagePullPolicy"] = opts.image_pull_policy
    pod = {"restartPolicy": "Never", "containers": [container], "volumes": vols}
    if res.time_s:
        pod["activeDeadlineSeconds"] = res.time_s + DEADLINE_MARGIN_S
    if opts.service_account:
        pod["serviceAccountName"] = opts.service_account
    metadata = {"name": k8s_name(run.id, chunk.number), "labels": labels,
                "annotations": {"freight.dev/run-dir": str(run.paths.root)}}
    if opts.namespace:
        metadata["namespace"] = opts.namespace
    spec = {"completionMode": "Indexed", "completions": chunk.count,
            "parallelism": min(job.max_parallel or chunk.count, chunk.count),
            "backoffLimitPerIndex": 0, "template": {"metadata": {"labels": labels}, "spec": pod}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def dump_yaml(manifest: dict) -> str:
    """YAML as a person would write it: no anchors, the pod's script as a literal block."""
    import yaml  # pyyaml: only this target needs it

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data) -> bool:
            return True

    def text(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(manifest, Dumper=Dumper, sort_keys=False, width=120, default_flow_style=False)


# -- what Kubernetes says --------------------------------------------------------------------------


def parse_job_status(text: str) -> dict[str, dict[int, TaskState]]:
    """`kubectl get job ... -o json` (one Job or a List) -> {job name: {element: state}}: an
    index in completedIndexes ended well, in failedIndexes (backoffLimitPerIndex) ended badly;
    the others wait or run, unless the Job itself failed (deadline, deleted pods)."""
    data = json.loads(text)
    items = data.get("items", [data]) if data.get("kind") == "List" else [data]
    found = {}
    for item in items:
        name = item.get("metadata", {}).get("name", "")
        spec, status = item.get("spec", {}), item.get("status", {})
        count = int(spec.get("completions") or 0)
        done = _indexes(status.get("completedIndexes"))
        failed = _indexes(status.get("failedIndexes"))
        job_failed = any(c.get("type") == "Failed" and c.get("status") == "True" for c in status.get("conditions", []))
        rest = TaskState.failed if job_failed else TaskState.queued
        found[name] = {i: TaskState.succeeded if i in done else TaskState.failed if i in failed else rest
                       for i in range(count)}
    return found


def _indexes(text: str | None) -> set[int]:
    return set(expand_ranges(parse_ranges(text))) if text else set()


def parse_applied(text: str) -> list[str]:
    """`kubectl apply` -> the Jobs it created or configured: "job.batch/NAME created"."""
    return re.findall(r"^job\.batch/(\S+) (?:created|configured|unchanged)", text, flags=re.M)


# -- the target ------------------------------------------------------------------------------------


class KubernetesTarget(aj.ArrayTarget):
    name = "kubernetes"
    label = "Kubernetes"
    capabilities = Capabilities(throttle=True, gpus=True, gpu_types=False, multi_node=False, requeue=False)

    def check(self, job) -> None:
        if job.container is None or job.container.image == "auto":
            raise ConfigError("--target kubernetes runs every task in an image, and none is given",
                              fix="add --image REGISTRY/NAME:TAG (a pushed image the cluster can pull)")
        refuse_unsupported(self, job)
        aj.refuse_unsupported_extras(self, job)
        opts = load_options(job.target_options)
        if not opts.pvc and not opts.host_path:
            raise ConfigError("Kubernetes pods need the project on a volume: none is set",
                              fix='set pvc = "NAME" (or host_path = true on a one-node dev cluster) under [targets.kubernetes]')
        if shutil.which("kubectl") is None:
            raise MissingToolError("kubectl is not installed here (needed for --target kubernetes)",
                                   fix="install kubectl and point it at the cluster (KUBECONFIG)")

    def submit(self, run, indices: list[int]) -> Submission:
        opts = load_options(run.job.target_options)
        if opts.pvc:
            _copy_freight(run.paths.root / FREIGHT_SRC)
        log = aj.SubmissionLog(run.paths.root, self.name)
        return aj.submit_planned(run, log, self._plan(run, indices), lambda path: self._apply(opts, path),
                                 lambda names: self._delete(opts, names))

    # -- helpers ------------------------------------------------------------------------------

    def _plan(self, run, indices: list[int]) -> list[aj.Planned]:
        opts = load_options(run.job.target_options)
        planned = []
        for chunk in aj.plan_chunks(indices, opts.max_completions, aj.next_number(run.paths.scripts, "kubernetes")):
            name = f"kubernetes-{chunk.number}"
            rows = run.paths.scripts / f"{name}.rows" if chunk.mapped else None
            files = {f"{name}.yaml": dump_yaml(job_manifest(run, chunk, opts, str(rows) if rows else None))}
            if rows:
                files[rows.name] = aj.rows_file_text(chunk)
            planned.append(aj.Planned(chunk, files))
        return planned

    def _kubectl(self, opts: KubernetesOptions, *args: str) -> list[str]:
        return ["kubectl", *(["--namespace", opts.namespace] if opts.namespace else []), *args]

    def _apply(self, opts: KubernetesOptions, path: Path) -> str:
        done = run_tool(self._kubectl(opts, "apply", "-f", str(path)), check=False)
        names = parse_applied(done.stdout) if done.returncode == 0 else []
        if not names:
            raise ConfigError(f"Kubernetes refused the Job: {one_line(done.stderr or done.stdout)}", fix=FIX, path=path)
        return names[0]

    def _remove(self, run, names: list[str]) -> None:
        self._delete(load_options(run.job.target_options), names)

    def _delete(self, opts: KubernetesOptions, names: list[str]) -> None:
        if names:
            run_tool(self._kubectl(opts, "delete", "job", "--ignore-not-found", "--cascade=background", *names),
                     check=False)

    def _view(self, run, log: aj.SubmissionLog) -> dict[tuple[str, int], TaskState] | None:
        names = log.job_ids()
        if not names:
            return {}
        opts = load_options(run.job.target_options)
        text = aj.ask(self._kubectl(opts, "get", "job", *names, "--ignore-not-found", "-o", "json"))
        try:
            jobs = parse_job_status(text) if text else None
        except ValueError:
            jobs = None
        if jobs is None:
            return None
        return {(name, element): state for name, states in jobs.items() for element, state in states.items()}


def _copy_freight(target: Path) -> None:
    """freight's package into the run folder, for pods that see only the PVC."""
    if not target.exists():
        package = Path(freight.__file__).resolve().parent
        shutil.copytree(package, target / "freight", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
