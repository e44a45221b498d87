"""The Kubernetes target without a cluster, which cannot be run here: every rendered Indexed Job
is validated against the Kubernetes API schemas (kubernetes-validate, strict: an unknown field
fails), a golden manifest, the pod's script shellchecked and run with sh as the pod would
(JOB_COMPLETION_INDEX) through the real task wrapper, and the parsers on `kubectl` outputs as the
API documents them. `kubectl` itself is a stand-in that answers as kubectl does."""

import json
import sys
from pathlib import Path

import pytest
import yaml
from array_targets import fake_tool, make_run, run_script, seen, stable
from test_pack_render import check_golden
from test_sge_render import shellcheck

import freight
from freight.errors import ConfigError, MissingToolError
from freight.sched import get_target
from freight.sched.kubernetes import KubernetesTarget, k8s_name, parse_applied, parse_job_status
from freight.spec.job import Container
from freight.spec.resources import Resources
from freight.spec.state import TaskState

kubernetes_validate = pytest.importorskip("kubernetes_validate")
K8S_VERSIONS = ("1.29.0", "1.33.0")  # backoffLimitPerIndex: beta in 1.29, GA in 1.33
IMAGE = Container(image="ghcr.io/lab/train:1.0")
FULL = Resources(cpus=4, mem_mb=8192, gpus=2, time_s=3600)

# kubectl get job r1-1 -o json, trimmed to what freight reads (batch/v1 JobStatus).
JOB_STATUS = {
    "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "r1-1"},
    "spec": {"completionMode": "Indexed", "completions": 5, "parallelism": 2, "backoffLimitPerIndex": 0},
    "status": {"active": 1, "completedIndexes": "0-1,4", "failedIndexes": "3", "succeeded": 3, "failed": 1},
}


def k8s_run(root: Path, rows: int = 3, options=None, **fields):
    fields.setdefault("container", IMAGE)
    return make_run(root, "kubernetes", rows=rows, target_options=options or {"pvc": "lab-data"}, **fields)


def manifests(files: dict[str, str]) -> list[dict]:
    return [yaml.safe_load(text) for name, text in files.items() if name.endswith(".yaml")]


def pod_script(manifest: dict) -> str:
    return manifest["spec"]["template"]["spec"]["containers"][0]["command"][2]


VARIANTS = {
    "pvc, every resource": (4, None, {"pvc": "lab-data", "namespace": "ml", "image_pull_policy": "Always"},
                            dict(resources=FULL, max_parallel=2)),
    "host path, defaults": (1, None, {"host_path": True}, {}),
    "scattered rows": (6, [1, 4, 5], {"pvc": "lab-data"}, {}),
    "split": (5, None, {"pvc": "lab-data", "max_completions": 2}, {}),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_manifest_is_a_valid_kubernetes_job(tmp_path, variant):
    rows, indices, options, fields = VARIANTS[variant]
    run = k8s_run(tmp_path, rows, options, **fields)
    found = manifests(KubernetesTarget().render(run, indices or list(range(rows))))
    assert found
    for manifest in found:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)  # raises on any schema error
        spec = manifest["spec"]
        assert spec["completionMode"] == "Indexed" and spec["template"]["spec"]["restartPolicy"] == "Never"
        script = tmp_path / "pod.sh"
        script.write_text("#!/bin/sh\n" + pod_script(manifest))
        shellcheck(script)


def test_manifest_matches_the_golden_file(tmp_path):
    run = k8s_run(tmp_path, 4, {"pvc": "lab-data", "namespace": "ml"}, resources=FULL, max_parallel=2)
    files = KubernetesTarget().render(run, [0, 1, 2, 3])
    assert list(files) == ["kubernetes-1.yaml"]
    check_golden("kubernetes_job.yaml", stable(files["kubernetes-1.yaml"], run, tmp_path))


def test_resources_time_and_parallelism(tmp_path):
    run = k8s_run(tmp_path, 5, resources=FULL, max_parallel=2)
    (job,) = manifests(KubernetesTarget().render(run, list(range(5))))
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert job["spec"]["completions"] == 5 and job["spec"]["parallelism"] == 2
    assert container["resources"] == {"requests": {"cpu": "4", "memory": "8192Mi"},
                                      "limits": {"cpu": "4", "memory": "8192Mi", "nvidia.com/gpu": "2"}}
    assert pod["activeDeadlineSeconds"] == 3600 + 30  # per pod: the wrapper's limit and grace first
    assert container["image"] == IMAGE.image and container["workingDir"] == str(tmp_path)
    assert {"name": "FREIGHT_IN_IMAGE", "value": "1"} in container["env"]
    assert pod["volumes"] == [{"name": "work", "persistentVolumeClaim": {"claimName": "lab-data"}}]
    assert container["volumeMounts"] == [{"name": "work", "mountPath": str(tmp_path)}]


def test_host_path_mounts_the_project_and_freight(tmp_path):
    run = k8s_run(tmp_path, 1, {"host_path": True})
    (job,) = manifests(KubernetesTarget().render(run, [0]))
    paths = [v["hostPath"]["path"] for v in job["spec"]["template"]["spec"]["volumes"]]
    assert paths == [str(tmp_path), str(Path(freight.__file__).resolve().parent)]


def test_names_are_dns_labels():
    name = k8s_name("My_Train.Run-20261123-181508-ab12" * 3, 12)
    assert len(name) <= 63 and name.endswith("-12") and name == name.lower() and "_" not in name


@pytest.mark.parametrize("indices, env_index, row", [([0, 1, 2, 3], "2", 2), ([1, 3], "1", 3)])
def test_the_pod_script_runs_the_row_of_its_completion_index(tmp_path, indices, env_index, row):
    run = k8s_run(tmp_path, 4, {"pvc": "lab-data", "python": sys.executable})
    files = KubernetesTarget().render(run, indices)
    run.paths.scripts.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (run.paths.scripts / name).write_text(text)
    (job,) = manifests(files)
    done = run_script(["sh", "-c", pod_script(job), "freight-task"],
                      {"JOB_COMPLETION_INDEX": env_index, "FREIGHT_IN_IMAGE": "1"})
    assert done.returncode == 0, done.stderr
    assert seen(run, row) == f"{row} v{row}"


def test_what_kubernetes_needs_is_refused_in_one_line(tmp_path, monkeypatch):
    no_image = make_run(tmp_path / "a", "kubernetes", target_options={"pvc": "d"})
    with pytest.raises(ConfigError, match="none is given"):
        KubernetesTarget().check(no_image.job)
    no_volume = k8s_run(tmp_path / "b", options={"namespace": "ml"})
    with pytest.raises(ConfigError, match="need the project on a volume"):
        KubernetesTarget().check(no_volume.job)
    typed = k8s_run(tmp_path / "c", resources=Resources(gpus=1, gpu_type="a100"))
    with pytest.raises(ConfigError, match="typed GPUs"):
        KubernetesTarget().check(typed.job)
    outside = k8s_run(tmp_path / "d", options={"pvc": "d", "mount_path": "/elsewhere"})
    with pytest.raises(ConfigError, match="holds neither"):
        KubernetesTarget().render(outside, [0])
    with pytest.raises(ConfigError, match="not a Kubernetes name"):
        KubernetesTarget().render(k8s_run(tmp_path / "e", options={"pvc": "Lab Data"}), [0])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match="kubectl is not installed"):
        KubernetesTarget().check(k8s_run(tmp_path / "f").job)


def test_job_status_is_read_per_index():
    states = parse_job_status(json.dumps(JOB_STATUS))["r1-1"]
    assert states == {0: TaskState.succeeded, 1: TaskState.succeeded, 2: TaskState.queued,
                      3: TaskState.failed, 4: TaskState.succeeded}
    failed = {**JOB_STATUS, "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}}
    listed = parse_job_status(json.dumps({"apiVersion": "v1", "kind": "List", "items": [failed]}))
    assert set(listed["r1-1"].values()) == {TaskState.failed}
    assert parse_applied("job.batch/r1-1 created\n") == ["r1-1"]


def test_submit_applies_the_manifest_and_cancel_deletes_the_jobs(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "kubectl", "job.batch/r1-1 created")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    run = k8s_run(tmp_path / "p", 2, {"pvc": "lab-data", "namespace": "ml"})
    target = get_target("kubernetes")
    assert target.submit(run, [0, 1]).ids == {0: "r1-1:0", 1: "r1-1:1"}
    assert (run.paths.root / "freight-src" / "freight" / "task.py").exists()  # what the pods import
    target.cancel(run)
    calls = (bin_dir / "kubectl.calls").read_text().splitlines()
    assert calls[0] == f"--namespace ml apply -f {run.paths.scripts / 'kubernetes-1.yaml'}"
    assert calls[-1] == "--namespace ml delete job --ignore-not-found --cascade=background r1-1"

