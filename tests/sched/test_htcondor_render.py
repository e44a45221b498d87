"""The HTCondor target without a pool: every rendered submit description is parsed by the
official bindings' own `htcondor.Submit` and expanded into job ads (in a subprocess), and must
give one proc per task with the right arguments and attributes; the start script passes
shellcheck and, with the files HTCondor would transfer, runs a real task in a scratch folder
with a python3 that has no freight installed; a golden file; one-line refusals."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clusters import condor_submit_ads as validate
from clusters import shellcheck

from freight.errors import ConfigError, MissingToolError
from freight.runs.store import RunStore
from freight.sched import get_target
from freight.sched.htcondor import HTCondorTarget, task_state
from freight.sched.htcondor_render import classad_literal, container_image, submit_value
from freight.spec.job import Container, Job, Preemption, Task
from freight.spec.resources import Resources
from freight.spec.state import TaskState

GOLDEN = Path(__file__).parent / "golden"
CHTC = {"universe": "container", "want_gpu_lab": True, "gpu_job_length": "short",
        "gpus_minimum_capability": 7.5, "gpus_minimum_memory": 8000,
        "requirements": '(OpSysMajorVer == 8) && (Machine != "bad $host")',
        "attributes": {"ProjectName": 'my "lab"', "IsTest": True}}


def make_run(tmp_path, options=None, rows=3, image="nvidia/cuda:12.2.2-runtime-ubuntu22.04", gpus=1,
             max_parallel=None, requeue=False, run_id="r1"):
    project = tmp_path / "proj"
    project.mkdir(parents=True, exist_ok=True)
    (project / "train.py").write_text("import os, sys\nprint('lr', sys.argv[-1], os.environ['FREIGHT_TASK_INDEX'])\n")
    (project / "data").mkdir(exist_ok=True)
    (project / "data" / "x.csv").write_text("1\n")
    (project / ".env").write_text("TOKEN=secret\n")  # never travels with a job
    job = Job(name="train", command=["python", "train.py", "--lr", "{lr}"], workdir=str(project),
              resources=Resources(cpus=2, mem_mb="4G", disk_mb="10G", gpus=gpus, time_s="1h"),
              tasks=[Task(index=i, params={"lr": f"0.{i} x"}) for i in range(rows)],
              container=Container(image=image) if image else None, max_parallel=max_parallel,
              preemption=Preemption(signal="USR1@90", requeue=True) if requeue else Preemption(),
              target_options=options if options is not None else dict(CHTC), python=sys.executable)
    return RunStore(project / ".freight").create_run(job, "htcondor", run_id=run_id)


def prepared(run, indices=None) -> Path:
    return HTCondorTarget().prepare(run, list(range(run.n_tasks)) if indices is None else indices)


def test_a_sweep_is_one_cluster_with_one_proc_per_task_and_every_attribute(tmp_path):
    run = make_run(tmp_path, max_parallel=2, requeue=True)
    folder = prepared(run)
    parsed = validate(folder / "htcondor.sub")
    ads = parsed["ads"]
    assert parsed["items"] == [{"task_index": "0"}, {"task_index": "1"}, {"task_index": "2"}]
    assert [ad["ProcId"] for ad in ads] == ["0", "1", "2"]
    assert [ad["Arguments"] for ad in ads] == ["0", "1", "2"] == [ad["FreightTask"] for ad in ads]
    first = ads[0]
    assert (first["JobUniverse"], first["WantContainer"]) == ("5", "True")  # container: vanilla + WantContainer
    assert first["ContainerImage"] == "docker://nvidia/cuda:12.2.2-runtime-ubuntu22.04"
    assert first["Cmd"] == str(folder / "htcondor-task.sh")
    assert (first["RequestCpus"], first["RequestMemory"], first["RequestGPUs"]) == ("2", "4096", "1")
    assert first["RequestDisk"] == str(10 * 1024 * 1024)  # KiB
    assert (first["GPUsMinCapability"], first["GPUsMinMemory"]) == ("7.5", "8000")
    assert first["WantGPULab"] == "True" and first["GPUJobLength"] == "short"
    assert first["FreightRun"] == "r1" and first["JobBatchName"] == "train-r1"
    assert '(Machine != "bad $host")' in first["Requirements"]  # the $ reached HTCondor as a $
    assert first["ShouldTransferFiles"] == "YES"
    sent = [item.strip() for item in first["TransferInput"].split(",")]
    project = Path(run.job.workdir)
    assert str(project / "train.py") in sent and str(project / "data") in sent
    assert not any(s.endswith((".env", ".freight")) for s in sent)
    assert [ad["TransferOutput"] for ad in ads] == [f".freight-run/tasks/{i}" for i in range(3)]
    assert first["Iwd"] == str(run.paths.root / "tasks")
    assert (first["SuccessCheckpointExitCode"], first["TransferCheckpoint"]) == ("85", ".freight-run/tasks/0")
    assert parsed["submit"]["max_materialize"] == "2"
    assert first["AllowedExecuteDuration"] == str(3600 + 300)
    assert ads[2]["Out"] == f"{run.paths.root}/sched-logs/1.2.out"


def test_a_retry_queues_only_its_tasks_and_the_proc_maps_to_the_task_by_attribute(tmp_path):
    run = make_run(tmp_path, rows=10)
    folder = prepared(run, [3, 7, 9])
    ads = validate(folder / "htcondor.sub")["ads"]
    assert [(ad["ProcId"], ad["FreightTask"]) for ad in ads] == [("0", "3"), ("1", "7"), ("2", "9")]
    assert folder.name == "htcondor-1" and prepared(run, [3]).name == "htcondor-2"  # the first is kept


@pytest.mark.parametrize("options,image,want,key,value", [
    ({"universe": "docker"}, "chtc_user/pytorch:v1", "WantDocker", "DockerImage", "chtc_user/pytorch:v1"),
    ({}, "/staging/me/img.sif", "WantContainer", "ContainerImage", "img.sif"),  # a .sif is transferred
    ({}, "oras://ghcr.io/me/img:1", "WantContainer", "ContainerImage", "oras://ghcr.io/me/img:1"),
    ({"transfer_input": False}, None, None, None, None),  # vanilla, on a shared filesystem
])
def test_each_universe_parses(tmp_path, options, image, want, key, value):
    """HTCondor's container and docker universes are the vanilla universe (5) plus an image."""
    run = make_run(tmp_path, options=options, image=image, gpus=0)
    ads = validate(prepared(run) / "htcondor.sub")["ads"]
    assert len(ads) == 3 and ads[0]["JobUniverse"] == "5"
    if key:
        assert ads[0][want] == "True" and ads[0][key] == value
    else:
        assert "WantContainer" not in ads[0] and "WantDocker" not in ads[0]
        assert ads[0]["ShouldTransferFiles"] == "NO"
    assert "WantGPULab" not in ads[0] and "RequestGPUs" not in ads[0]


def test_the_start_script_passes_shellcheck_in_each_mode(tmp_path):
    for name, options in (("transfer", {}), ("shared", {"transfer_input": False, "env": {"A": "x y$z"}})):
        run = make_run(tmp_path / name, options=options, image=None, requeue=True)
        shellcheck(prepared(run) / "htcondor-task.sh")


def test_a_transferred_job_runs_in_a_scratch_folder_with_a_python_that_has_no_freight(tmp_path):
    """What HTCondor does with the files: copy transfer_input_files into a scratch folder, run
    the executable with the task index, copy the task's folder back into initialdir."""
    python3 = shutil.which("python3", path="/usr/bin:/bin")
    if python3 is None:
        pytest.skip("no system python3")
    run = make_run(tmp_path, image=None, gpus=0, options={"python": python3})
    folder = prepared(run)
    ad = validate(folder / "htcondor.sub")["ads"][1]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for item in (s.strip() for s in ad["TransferInput"].split(",")):
        copy = shutil.copytree if Path(item).is_dir() else shutil.copy2
        copy(item, scratch / Path(item).name)
    env = {"PATH": "/usr/bin:/bin", "_CONDOR_SCRATCH_DIR": str(scratch)}
    done = subprocess.run(["bash", ad["Cmd"], ad["Arguments"]], cwd=scratch, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    back = Path(ad["Iwd"]) / Path(ad["TransferOutput"]).name
    shutil.copytree(scratch / ad["TransferOutput"], back, dirs_exist_ok=True)
    state = json.loads(run.paths.state(1).read_text())
    assert state["state"] == "succeeded" and state["exit_code"] == 0
    assert run.paths.stdout(1).read_text().strip() == "lr 0.1 x 1"


def test_golden_submit_description(tmp_path):
    run = make_run(tmp_path, max_parallel=4, requeue=True)
    text = HTCondorTarget().render(run, [0, 1, 2])["htcondor.sub"].replace(str(tmp_path), "/home/ana")
    golden = GOLDEN / "htcondor.sub"
    if os.environ.get("FREIGHT_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_quoting_of_values_freight_did_not_write():
    assert submit_value("a $(x) b") == "a $(DOLLAR)(x) b"
    assert classad_literal('say "hi" \\ ok') == '"say \\"hi\\" \\\\ ok"'
    assert (classad_literal(True), classad_literal(3)) == ("true", "3")
    with pytest.raises(ConfigError, match="cannot contain a line break"):
        submit_value("a\nqueue 1000")
    assert container_image("python:3.11") == "docker://python:3.11"


@pytest.mark.parametrize("options,image,match", [
    ({"universe": "docker"}, None, "universe = docker needs an image"),
    ({"universe": "vanilla"}, "python:3.11", "an image in the vanilla universe needs a shared filesystem"),
    ({"universe": "docker"}, "x.sif", "the docker universe cannot run a .sif image"),
    ({"want_gpu_lab": "yes please"}, None, r"\[targets.htcondor\] want_gpu_lab"),
    ({"want_gpulab": True}, None, "has no setting 'want_gpulab' .*did you mean 'want_gpu_lab'"),
    ({"attributes": {"bad name": 1}}, None, "is not a ClassAd attribute name"),
])
def test_bad_options_are_refused_in_one_line(tmp_path, options, image, match):
    run = make_run(tmp_path, options=options, image=image)
    with pytest.raises(ConfigError) as caught:
        HTCondorTarget().check(run.job)
    assert re.search(match, caught.value.one_line())


def test_unsupported_features_are_refused(tmp_path):
    run = make_run(tmp_path)
    for change, what in (({"resources": Resources(gpus=1, gpu_type="a100")}, "typed GPUs"),
                         ({"resources": Resources(nodes=2)}, "several nodes"),
                         ({"pack": 4}, "--pack")):
        with pytest.raises(ConfigError, match=f"target 'htcondor' cannot run {what}"):
            HTCondorTarget().check(run.job.model_copy(update=change))


def test_without_a_schedd_or_condor_submit_submitting_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no condor_submit; the bindings find no schedd here
    monkeypatch.setenv("CONDOR_CONFIG", "/dev/null")
    run = make_run(tmp_path)
    with pytest.raises(MissingToolError, match="no HTCondor schedd answers here and condor_submit is not installed"):
        get_target("htcondor").submit(run, [0])
    assert not list(run.paths.scripts.glob("htcondor-*"))  # nothing written for a submission that cannot happen


@pytest.mark.parametrize("ad,state,reason", [
    ({"JobStatus": 1}, TaskState.queued, None),
    ({"JobStatus": 2}, TaskState.running, None),
    ({"JobStatus": 6}, TaskState.running, None),
    ({"JobStatus": 3}, TaskState.cancelled, "removed (condor_rm)"),
    ({"JobStatus": 4, "ExitCode": 0}, TaskState.succeeded, None),
    ({"JobStatus": 4, "ExitCode": 3}, TaskState.failed, "exit 3"),
    ({"JobStatus": 4, "ExitBySignal": True, "ExitSignal": 9}, TaskState.failed, "killed by signal 9"),
    ({"JobStatus": 5, "HoldReason": "Failed to pull image"}, TaskState.failed, "held by HTCondor: Failed to pull image"),
])
def test_job_status_mapping(ad, state, reason):
    assert task_state(ad) == (state, reason)


def test_a_converted_notebook_travels_with_the_job_and_project_paths_become_relative(tmp_path):
    run = make_run(tmp_path, image=None, gpus=0)
    converted = Path(run.job.workdir) / ".freight" / "converted" / "nb-1234.py"
    converted.parent.mkdir(parents=True)
    converted.write_text("print('hi')\n")
    job = run.job.model_copy(update={"command": ["python", str(converted), str(Path(run.job.workdir) / "data" / "x.csv")]})
    from freight.sched.htcondor_render import load_options, remote_job, submit_commands

    options = load_options({})
    assert remote_job(job, options)["command"] == ["python", "nb-1234.py", "data/x.csv"]
    sent = dict(submit_commands(run, job, options, tmp_path / "f"))["transfer_input_files"]
    assert str(converted) in sent.split(", ")
