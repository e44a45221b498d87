"""The NVIDIA Base Command target without NGC: the rendered script (a golden file written from
the BCP documentation and the seed, shellcheck) run by bash with a stand-in `ngc` that records
the commands it is given, the job's own command line run for real by a shell against a stand-in
workspace and result directory with a python3 that has no freight, the job id read from
`ngc ... job run` output, status words, and one-line refusals."""

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from clusters import shellcheck
from support import ngc_calls as submitted

from freight.errors import ConfigError
from freight.runs.store import RunStore
from freight.sched.basecommand import (
    BaseCommandTarget,
    label_of,
    parse_job_id,
    parse_job_state,
)
from freight.spec.job import Container, Job, Preemption, Task
from freight.spec.resources import Resources
from freight.spec.state import TaskState

GOLDEN = Path(__file__).parent / "golden"
BCP = {"org": "r2kuatviomfd", "team": "internal-sandbox", "ace": "sa-nvex-scus-ace", "workspace": "ana_containers",
       "instances": {"1": "dgxa100.80g.1.norm", "4": "dgxa100.80g.4.norm"}}
IMAGE = "nvcr.io/r2kuatviomfd/internal-sandbox/ana_lightning:latest"


def make_run(tmp_path, options=None, gpus=1, rows=3, image=IMAGE, requeue=False):
    project = tmp_path / "proj"
    project.mkdir(parents=True, exist_ok=True)
    (project / "bench.py").write_text("import sys\nprint('n', sys.argv[-1])\n")
    job = Job(name="bench", command=["python", "bench.py", "--n", "{n}"], workdir=str(project),
              resources=Resources(gpus=gpus, time_s="2h"), tasks=[Task(index=i, params={"n": f"{i} 0"}) for i in range(rows)],
              container=Container(image=image) if image else None,
              preemption=Preemption(requeue=requeue), target_options=options if options is not None else dict(BCP))
    return RunStore(project / ".freight").create_run(job, "basecommand", run_id="r1")


def flags_of(argv: list[str]) -> dict[str, str]:
    return dict(zip(argv[4::2], argv[5::2]))


def test_one_job_per_task_with_every_flag(tmp_path):
    run = make_run(tmp_path, requeue=True)
    upload, *jobs = submitted(tmp_path, BaseCommandTarget().render(run, [0, 1, 2])["basecommand.sh"])
    assert upload[:3] == ["ngc", "workspace", "upload"] and upload[-1] == "ana_containers"
    assert len(jobs) == 3
    first = jobs[0]
    assert first[:4] == ["ngc", "base-command", "job", "run"]
    flags = flags_of(first)
    assert flags["--name"] == "bench-0" and flags["--image"] == IMAGE
    assert flags["--instance"] == "dgxa100.80g.1.norm" and flags["--result"] == "/results"
    assert flags["--workspace"] == "ana_containers:/mnt/workspace:RW"
    assert flags["--total-runtime"] == "7200s" and flags["--preempt"] == "RESUMABLE"
    assert (flags["--org"], flags["--team"], flags["--ace"]) == ("r2kuatviomfd", "internal-sandbox", "sa-nvex-scus-ace")
    assert flags["--label"] == label_of("r1") == "freight_r1"
    assert [flags_of(j)["--commandline"].endswith(f"--index {i}") for i, j in enumerate(jobs)] == [True] * 3
    assert [flags_of(j)["--name"] for j in jobs] == ["bench-0", "bench-1", "bench-2"]


def test_scattered_rows_are_submitted_in_order_and_the_script_does_not_grow_with_the_sweep(tmp_path):
    run, target = make_run(tmp_path), BaseCommandTarget()
    jobs = submitted(tmp_path, target.render(run, [0, 2, 3, 4, 7])["basecommand.sh"])[1:]
    assert [flags_of(j)["--name"] for j in jobs] == ["bench-0", "bench-2", "bench-3", "bench-4", "bench-7"]
    assert [shlex.split(flags_of(j)["--commandline"])[-1] for j in jobs] == ["0", "2", "3", "4", "7"]
    small, large = (target.render(run, list(range(rows)))["basecommand.sh"] for rows in (3, 10_000))
    assert len(large.splitlines()) == len(small.splitlines())


def test_the_older_batch_cli_and_the_instance_table(tmp_path):
    run = make_run(tmp_path, options={**BCP, "cli": "batch"}, gpus=4)
    jobs = submitted(tmp_path, BaseCommandTarget().render(run, [0])["basecommand.sh"])[1:]
    assert jobs[0][:3] == ["ngc", "batch", "run"] and "dgxa100.80g.4.norm" in jobs[0]


def test_golden_script_passes_shellcheck(tmp_path):
    run = make_run(tmp_path)
    text = BaseCommandTarget().render(run, [0, 1])["basecommand.sh"].replace(str(tmp_path), "/home/ana")
    golden = GOLDEN / "basecommand.sh"
    if os.environ.get("FREIGHT_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    script = tmp_path / "basecommand.sh"
    script.write_text(text)
    shellcheck(script)


def test_the_jobs_command_line_runs_a_task_from_the_workspace_into_the_result_directory(tmp_path):
    """What BCP does: the workspace mounted, the image's python3 (here: one without freight),
    the --commandline run by a shell; the task's state, logs and result land in /results."""
    python3 = shutil.which("python3", path="/usr/bin:/bin")
    if python3 is None:
        pytest.skip("no system python3")
    mount, results = tmp_path / "mnt" / "workspace", tmp_path / "results"
    run = make_run(tmp_path, options={**BCP, "workspace_mount": str(mount), "result": str(results), "python": python3})
    BaseCommandTarget().prepare(run, [0, 1, 2])
    shutil.copytree(run.job.workdir, mount / "proj")  # what `ngc workspace upload` put there
    job = submitted(tmp_path, (run.paths.scripts / "basecommand-1" / "basecommand.sh").read_text())[2]
    commandline = flags_of(job)["--commandline"]
    done = subprocess.run(["sh", "-c", commandline], env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    state = json.loads((results / "freight" / "tasks" / "1" / "state.json").read_text())
    assert state["state"] == "succeeded"
    assert (results / "freight" / "tasks" / "1" / "stdout.log").read_text().strip() == "n 1 0"


# `ngc base-command job run` output: the table the NGC CLI prints by default (as in the BCP
# user guide's examples), and the same job as JSON with --format_type json.
RUN_TABLE = """--------------------------------------------------
 Job Information
   Id: 1234567
   Name: bench-0
   Number of Replicas: 1
   Job Type: BATCH
   Submitted By: Ana
 Job Status
   Created at: 2024-04-21 10:00:00 UTC
   Status: CREATED
--------------------------------------------------
"""
RUN_JSON = json.dumps({"id": 1234567, "jobDefinition": {"name": "bench-0"}, "jobStatus": {"status": "CREATED"}})


def test_the_job_id_comes_from_the_documented_output():
    assert parse_job_id(RUN_TABLE) == "1234567"
    assert parse_job_id(RUN_JSON) == "1234567"
    with pytest.raises(ConfigError, match="ngc printed no job id: Error: Invalid org"):
        parse_job_id("Error: Invalid org. Choose from ['abc']")


@pytest.mark.parametrize("status,state", [
    ("QUEUED", TaskState.queued), ("STARTING", TaskState.queued), ("RUNNING", TaskState.running),
    ("FINISHED_SUCCESS", TaskState.succeeded), ("FAILED", TaskState.failed),
    ("FAILED_RUN_LIMIT_EXCEEDED", TaskState.failed), ("KILLED_BY_USER", TaskState.cancelled),
    ("TASK_LOST", TaskState.lost),
])
def test_job_info_status_words(status, state):
    assert parse_job_state(json.dumps({"id": 1, "jobStatus": {"status": status}})) == (state, status)
    assert parse_job_state("not json") is None


@pytest.mark.parametrize("change,match", [
    ({"image": None}, "target 'basecommand' runs every task in an image"),
    ({"gpus": 2}, r"no Base Command instance type for 2 GPU\(s\) \(known: 1 GPU\(s\): dgxa100.80g.1.norm"),
    ({"options": {**BCP, "workspace": None}}, "target 'basecommand' needs a workspace"),
    ({"options": {**BCP, "instnace": "x"}}, "has no setting 'instnace'"),
])
def test_refusals_are_one_line(tmp_path, change, match):
    kwargs = {"image": change.get("image", IMAGE), "gpus": change.get("gpus", 1), "options": change.get("options")}
    run = make_run(tmp_path, **kwargs)
    with pytest.raises(ConfigError, match=match):
        BaseCommandTarget().check(run.job)


def test_a_throttle_is_refused(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(ConfigError, match="target 'basecommand' cannot run --max-parallel"):
        BaseCommandTarget().check(run.job.model_copy(update={"max_parallel": 2}))
