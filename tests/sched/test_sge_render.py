"""The Grid Engine target without a cluster: rendered qsub scripts (checked by shellcheck and by
running them with bash as Grid Engine would), options, and the parsers of qstat/qacct output."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from freight.errors import ConfigError, MissingToolError
from freight.runs.store import RunStore
from freight.sched import get_target
from freight.sched.batch import consecutive_ranges, expand_ranges, in_ranges, parse_ranges, run_tool
from freight.sched.sge import (
    SgeTarget, job_name, load_options, parse_error_reasons, parse_qacct,
    parse_qstat_xml, path_options, plan_chunks, task_state, verdict,
)
from freight.spec.job import Job, Task
from freight.spec.resources import Resources
from freight.spec.state import TaskState

FULL = {"queue": "gpu.q@@hosts", "project": "ml", "account": "lab-42", "pe": "mpi-smp",
        "mem_resource": "mem_free", "gpu_resource": "gpu_card", "notify": True,
        "qsub_args": ["-m ea -M me@example.org", "-l arch=lx-amd64"]}


def make_run(root: Path, n_tasks: int = 3, workdir: Path | None = None, **job_fields):
    workdir = workdir or root
    workdir.mkdir(parents=True, exist_ok=True)
    job = Job(name="train", command=["python", "t.py", "{x}"], workdir=str(workdir),
              tasks=[Task(index=i, params={"x": f"v{i}"}) for i in range(n_tasks)], **job_fields)
    return RunStore(root / ".freight").create_run(job, "sge")


def directives(script: str) -> list[str]:
    return [line[3:].strip() for line in script.splitlines() if line.startswith("#$ ")]


def shellcheck(path: Path) -> None:
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is missing in CI (ci/install.sh installs it)")
        pytest.skip("shellcheck not installed (apt install shellcheck)")
    done = subprocess.run(["shellcheck", "-S", "warning", "-f", "gcc", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


VARIANTS = {
    "one task, nothing asked": (1, {}, None, {}),
    "every resource": (4, dict(resources=Resources(cpus=4, mem_mb=8192, gpus=2, time_s=3600),
                               max_parallel=2), None, FULL),
    "retry of scattered rows": (6, {}, [1, 4, 5], {}),
    "split at max_array_tasks": (5, {}, None, {"max_array_tasks": 2, "verify": False}),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_rendered_variant_passes_shellcheck(tmp_path, variant):
    n_tasks, fields, indices, options = VARIANTS[variant]
    run = make_run(tmp_path, n_tasks, target_options=options, **fields)
    files = SgeTarget().render(run, indices if indices is not None else list(range(n_tasks)))
    scripts = [name for name in files if name.endswith(".sh")]
    assert scripts
    for name in scripts:
        path = tmp_path / name
        path.write_text(files[name])
        assert files[name].startswith("#!/bin/bash\n") and "set -euo pipefail" in files[name]
        assert "unset FREIGHT_TASK_INDEX" in files[name] and "-V" not in directives(files[name])
        shellcheck(path)


def test_every_resource_becomes_its_directive(tmp_path):
    run = make_run(tmp_path, 4, resources=Resources(cpus=4, mem_mb=8192, gpus=2, time_s=3600),
                   max_parallel=2, target_options=FULL)
    script = SgeTarget().render(run, [0, 1, 2, 3])["sge-1.sh"]
    lines = directives(script)
    assert f"-N {run.id}" in lines and "-S /bin/bash" in lines
    assert "-t 1-4" in lines and "-tc 2" in lines and "-w e" in lines
    assert {"-q gpu.q@@hosts", "-P ml", "-A lab-42", "-pe mpi-smp 4", "-notify"} <= set(lines)
    assert "-l h_rt=1:00:30" in lines  # the wrapper's own limit (1 h) and its grace come first
    assert "-l mem_free=2048M" in lines  # memory is per slot: 8 GB over 4 slots
    assert "-l gpu_card=2" in lines
    assert lines[-2:] == ["-m ea -M me@example.org", "-l arch=lx-amd64"]
    assert f"-o {run.paths.root}/sched-logs" in lines and f"-wd {tmp_path}" in lines
    assert f'-m freight.task {run.paths.root} --index "$index"' in script


def test_defaults_ask_for_nothing_extra(tmp_path):
    run = make_run(tmp_path, 1)
    lines = directives(SgeTarget().render(run, [0])["sge-1.sh"])
    assert not [line for line in lines if line.startswith(("-pe", "-l", "-q", "-tc", "-notify", "-P", "-A"))]
    two_cpus = make_run(tmp_path / "b", 1, resources=Resources(cpus=2, mem_mb=1000))
    lines = directives(SgeTarget().render(two_cpus, [0])["sge-1.sh"])
    assert "-pe smp 2" in lines and "-l h_vmem=500M" in lines


def test_scattered_rows_are_one_array_over_a_rows_file(tmp_path):
    run = make_run(tmp_path, 8)
    files = SgeTarget().render(run, [1, 4, 5, 7])
    assert sorted(files) == ["sge-1.rows", "sge-1.sh"]
    assert files["sge-1.rows"] == "1\n4\n5\n7\n"
    assert "-t 1-4" in directives(files["sge-1.sh"])
    assert str(run.paths.scripts / "sge-1.rows") in files["sge-1.sh"]
    contiguous = SgeTarget().render(run, [3, 4, 5])  # a block of rows needs no rows file
    assert list(contiguous) == ["sge-1.sh"] and "-t 4-6" in directives(contiguous["sge-1.sh"])


def test_big_sweeps_are_split_into_arrays_of_at_most_max_array_tasks():
    assert [(list(c.indices), c.mapped, c.task_range) for c in plan_chunks([0, 1, 2, 3, 4], 2)] == [
        ([0, 1], False, (1, 2)), ([2, 3], False, (3, 4)), ([4], False, (5, 5))]
    assert [(list(c.indices), c.task_range) for c in plan_chunks([0, 2, 3], 2)] == [([0, 2], (1, 2)), ([3], (1, 1))]
    assert [c.indices for c in plan_chunks(list(range(10_000)), 75_000)] == [range(10_000)]  # no per-row list


@pytest.mark.parametrize("indices, row", [([0, 1, 2], 1), ([4, 7, 9], 7)])
def test_the_script_maps_the_array_task_to_its_row(tmp_path, indices, row):
    """Run the rendered script with bash as Grid Engine would (SGE_TASK_ID=2, a leaked
    FREIGHT_TASK_INDEX): the task wrapper runs the right row."""
    run = make_run(tmp_path, 10)
    for name, text in SgeTarget().render(run, indices).items():
        (run.paths.scripts / name).write_text(text)
    (tmp_path / "t.py").write_text("import sys; print(sys.argv[1])\n")
    env = {**os.environ, "SGE_TASK_ID": "2", "FREIGHT_TASK_INDEX": "0", "SGE_O_PATH": os.environ["PATH"]}
    done = subprocess.run(["bash", str(run.paths.scripts / "sge-1.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert run.paths.stdout(row).read_text().strip().endswith(f"v{row}")
    assert not run.paths.state(0).exists()


def test_paths_go_where_grid_engine_reads_them_literally(tmp_path):
    """`#$` lines take "..." but drop every quote inside: such paths go on qsub's command line."""
    assert path_options([("-wd", "/a/b"), ("-o", "/my data/x")]) == (["-wd /a/b", '-o "/my data/x"'], [])
    assert path_options([("-wd", "/it's/x"), ("-o", "/a\\b")]) == ([], ["-wd", "/it's/x", "-o", "/a\\b"])
    with pytest.raises(ConfigError, match="line break"):
        path_options([("-wd", "/a\nb")])
    spaced = make_run(tmp_path / "my project", 1)
    script = SgeTarget().render(spaced, [0])["sge-1.sh"]
    assert f'-wd "{tmp_path}/my project"' in directives(script)
    quoted = make_run(tmp_path / "bob's project", 1)
    script = SgeTarget().render(quoted, [0])["sge-1.sh"]
    assert not [line for line in directives(script) if line.startswith(("-wd", "-o", "-e"))]
    assert "qsub -terse -wd " in script.splitlines()[2]  # the header says how to submit it
    for name, text in (("spaced.sh", SgeTarget().render(spaced, [0])["sge-1.sh"]), ("quoted.sh", script)):
        (tmp_path / name).write_text(text)
        shellcheck(tmp_path / name)


@pytest.mark.parametrize("options, message", [
    ({"queues": "a.q"}, "did you mean 'queue'"),
    ({"queue": "a q"}, "one word"),
    ({"qsub_args": ["-m ea\n-M x"]}, "one line"),
    ({"qsub_args": ["echo hi"]}, "qsub options"),
    ({"max_array_tasks": 0}, "max_array_tasks"),
])
def test_bad_options_are_one_line_config_errors(options, message):
    with pytest.raises(ConfigError) as caught:
        load_options(options)
    assert message in caught.value.one_line() and "\n" not in caught.value.one_line()


def test_job_names_never_start_with_a_digit():
    assert job_name("train-20240101-000000-ab12") == "train-20240101-000000-ab12"
    assert job_name("3d-20240101-000000-ab12") == "f3d-20240101-000000-ab12"


def test_target_is_registered_and_refuses_what_it_cannot_do(tmp_path, monkeypatch):
    target = get_target("sge")
    job = Job(name="t", command=["true"], workdir=str(tmp_path), resources=Resources(nodes=2))
    with pytest.raises(ConfigError, match="several nodes"):
        target.check(job)
    with pytest.raises(ConfigError, match="has no setting 'acount'"):
        target.check(Job(name="t", command=["true"], workdir=str(tmp_path), target_options={"acount": "x"}))
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without Grid Engine's client
    with pytest.raises(MissingToolError, match="qsub"):
        target.check(Job(name="t", command=["true"], workdir=str(tmp_path)))


QSTAT_XML = """<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running"><JB_job_number>2</JB_job_number><JB_name>a</JB_name>
      <state>r</state><slots>1</slots><tasks>3</tasks></job_list>
    <job_list state="running"><JB_job_number>2</JB_job_number><JB_name>a</JB_name>
      <state>dr</state><slots>1</slots><tasks>4</tasks></job_list>
  </queue_info>
  <job_info>
    <job_list state="pending"><JB_job_number>2</JB_job_number><JB_name>a</JB_name>
      <state>qw</state><slots>1</slots><tasks>5-9:2,12-13:1</tasks></job_list>
    <job_list state="pending"><JB_job_number>7</JB_job_number><JB_name>b</JB_name>
      <state>Eqw</state><slots>1</slots></job_list>
  </job_info>
</job_info>
"""


def test_qstat_xml_gives_each_array_task_its_state():
    jobs = parse_qstat_xml(QSTAT_XML)
    assert jobs["2"] == [([(3, 3, 1)], "r"), ([(4, 4, 1)], "dr"), ([(5, 9, 2), (12, 13, 1)], "qw")]
    assert jobs["7"] == [([(0, 0, 1)], "Eqw")]
    # running is the wrapper's word (its state file); until then a task is queued
    assert [task_state(s) for s in ("r", "t", "dr", "qw", "hqw", "Eqw", "S")] == [
        TaskState.queued, TaskState.queued, TaskState.cancelled, TaskState.queued,
        TaskState.queued, TaskState.failed, TaskState.queued]


QACCT = """==============================================================
qname        all.q
jobname      killme
jobnumber    16
taskid       2
failed       100 : assumedly after job
exit_status  137                  (Killed)
==============================================================
qname        all.q
jobnumber    17
taskid       undefined
failed       0
exit_status  0
"""


def test_qacct_records_and_error_reasons_are_parsed():
    records = parse_qacct(QACCT)
    assert records[("16", 2)] == {"failed": "100 : assumedly after job", "exit_status": "137"}
    assert records[("17", 0)] == {"failed": "0", "exit_status": "0"}
    text = "job_number: 4\nerror reason    3:      11/23/2026 13:17:56 [0:886]: error: can't chdir to /x\n"
    assert parse_error_reasons(text) == {3: "error: can't chdir to /x"}


@pytest.mark.parametrize("record, started, cancel, ran, expected", [
    ({"failed": "37 : qmaster enforced h_rt", "exit_status": "137"}, True, False, True, TaskState.failed),
    ({"failed": "100 : assumedly after job", "exit_status": "137"}, True, False, True, TaskState.cancelled),
    (None, True, True, True, TaskState.cancelled),
    (None, True, False, True, None),  # no evidence: the store calls it lost
    ({"failed": "0", "exit_status": "127"}, False, False, True, TaskState.failed),
    (None, False, False, True, TaskState.failed),  # its job script ran, the wrapper never did
    (None, False, False, False, TaskState.cancelled),  # deleted while it waited
])
def test_a_task_that_left_grid_engine_without_a_state_file_gets_a_truthful_verdict(
        record, started, cancel, ran, expected):
    found = verdict(record, started=started, cancel_requested=cancel, job_script_ran=ran)
    assert (found[0] if found else None) == expected
    if expected is TaskState.failed and record and record["failed"].startswith("37"):
        assert "timeout" in found[1]


def test_array_index_lists_parse_and_group():
    assert parse_ranges("1-5:2,7,9-10") == [(1, 5, 2), (7, 7, 1), (9, 10, 1)]
    assert parse_ranges("[0-3%2]") == [(0, 3, 1)]
    assert expand_ranges(parse_ranges("3-6:1,8-10:1")) == [3, 4, 5, 6, 8, 9, 10]
    assert in_ranges(5, [(1, 9, 2)]) and not in_ranges(4, [(1, 9, 2)])
    assert consecutive_ranges([0, 1, 2, 5, 7, 8]) == [(0, 2), (5, 5), (7, 8)]
    with pytest.raises(ValueError):
        parse_ranges("1-x")


def test_scheduler_commands_fail_in_one_line_quoting_their_own_words():
    with pytest.raises(ConfigError) as caught:
        run_tool([sys.executable, "-c", "import sys; sys.exit('Unable to run job: unknown queue \"x\"\\nExiting.')"])
    assert 'unknown queue "x" Exiting.' in caught.value.one_line()
    with pytest.raises(MissingToolError):
        run_tool(["freight-no-such-scheduler-command"])
    assert json.loads(run_tool([sys.executable, "-c", "print('[1]')"]).stdout) == [1]
