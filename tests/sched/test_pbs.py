"""The PBS target (PBS Professional / OpenPBS and Torque) without a PBS server, which cannot be
installed here: golden scripts written from qsub(1B), shellcheck on every variant, the scripts
run with bash as PBS would (PBS_ARRAY_INDEX / PBS_ARRAYID) through the real task wrapper, and
the parsers on the outputs the documentation shows. Submitting goes through a stand-in `qsub`
that answers as the man page says, to test what freight records and cancels."""

import pytest
from array_targets import fake_tool, make_run, run_script, seen, stable, write_files
from test_pack_render import check_golden
from test_sge_render import shellcheck

from freight.errors import ConfigError, MissingToolError
from freight.sched import get_target
from freight.sched import pbs
from freight.sched.pbs import (
    PbsTarget, array_line, flavor_from_version, parse_job_id, parse_qstat_full, resource_lines, task_state,
)
from freight.spec.resources import Resources
from freight.spec.state import TaskState

FULL = Resources(cpus=4, mem_mb=8192, gpus=2, time_s=3600)

# qstat -f -t -x on PBS Professional: the array's own entry, then each subjob (qstat(1B)).
PRO_QSTAT = """Job Id: 1234[].pbsserver
    Job_Name = r1
    Job_Owner = me@login1
    job_state = B
    queue = workq
    array = True
    array_state_count = Queued:1 Running:1 Exiting:0 Expired:1
    array_indices_submitted = 0-2
Job Id: 1234[0].pbsserver
    Job_Name = r1
    job_state = X
    Exit_status = 0
    Resource_List.select = 1:ncpus=4:mem=8192mb:ngpus=2
    Variable_List = PBS_O_HOME=/home/me,PBS_O_PATH=/usr/bin:/bin,PBS_O_WORKDIR=/home/me/pr
\toj
Job Id: 1234[1].pbsserver
    Job_Name = r1
    job_state = R
Job Id: 1234[2].pbsserver
    Job_Name = r1
    job_state = Q
"""

# qstat -f -t on Torque: each array job "1098[i].hostname", finished ones in state C.
TORQUE_QSTAT = """Job Id: 1098[0].hostname
    Job_Name = r1-0
    job_state = C
    exit_status = 0
Job Id: 1098[1].hostname
    Job_Name = r1-1
    job_state = H
"""


@pytest.fixture(autouse=True)
def _fresh_detection():
    pbs.detect_flavor.cache_clear()
    yield
    pbs.detect_flavor.cache_clear()


@pytest.mark.parametrize("flavor", ["pro", "torque"])
def test_scripts_match_golden_files(tmp_path, flavor):
    options = {"flavor": flavor, "queue": "gpu", "account": "lab-42", "qsub_args": ["-m ae"],
               **({"max_run_subjobs": True, "project": "ml"} if flavor == "pro" else {})}
    run = make_run(tmp_path, "pbs", rows=4, resources=FULL, max_parallel=2, target_options=options)
    files = PbsTarget().render(run, [0, 1, 2, 3])
    assert list(files) == ["pbs-1.sh"]
    check_golden(f"pbs_{flavor}.qsub", stable(files["pbs-1.sh"], run, tmp_path))


VARIANTS = {
    "one row": (1, [0], {}),
    "scattered rows": (6, [1, 4, 5], {}),
    "split": (5, [0, 1, 2, 3, 4], {"max_array_size": 2}),
}


@pytest.mark.parametrize("flavor", ["pro", "torque"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_passes_shellcheck(tmp_path, flavor, variant):
    rows, indices, options = VARIANTS[variant]
    run = make_run(tmp_path, "pbs", rows=rows, target_options={"flavor": flavor, **options})
    files = PbsTarget().render(run, indices)
    for name, text in files.items():
        if name.endswith(".sh"):
            assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
            (tmp_path / name).write_text(text)
            shellcheck(tmp_path / name)


def test_resources_become_select_or_nodes_lines():
    assert resource_lines(FULL, "pro") == ["select=1:ncpus=4:mem=8192mb:ngpus=2", "walltime=1:00:30"]
    assert resource_lines(FULL, "torque") == ["nodes=1:ppn=4:gpus=2", "mem=8192mb", "walltime=1:00:30"]
    assert resource_lines(Resources(), "pro") == ["select=1:ncpus=1"]


def test_arrays_are_J_on_pro_and_t_with_slot_limit_on_torque():
    assert array_line(5, "pro", None) == "-J 0-4"
    assert array_line(5, "torque", 2) == "-t 0-4%2"
    assert array_line(1, "pro", None) is None and array_line(1, "torque", 3) is None  # a plain job


@pytest.mark.parametrize("flavor, variable", [("pro", "PBS_ARRAY_INDEX"), ("torque", "PBS_ARRAYID")])
def test_the_script_runs_the_row_of_its_array_index(tmp_path, flavor, variable):
    run = make_run(tmp_path, "pbs", rows=5, target_options={"flavor": flavor, "max_array_size": 3})
    files = PbsTarget().render(run, [0, 1, 2, 3, 4])
    write_files(run, files)
    second = run.paths.scripts / "pbs-2.sh"  # rows 3 and 4, as array indices 0 and 1
    done = run_script(["bash", str(second)], {variable: "1", "PBS_O_PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert seen(run, 4) == "4 v4" and seen(run, 3) is None


def test_scattered_rows_go_through_a_rows_file(tmp_path):
    run = make_run(tmp_path, "pbs", rows=6, target_options={"flavor": "pro"})
    files = PbsTarget().render(run, [1, 4, 5])
    assert files["pbs-1.rows"] == "1\n4\n5\n" and "#PBS -J 0-2" in files["pbs-1.sh"]
    write_files(run, files)
    done = run_script(["bash", str(run.paths.scripts / "pbs-1.sh")], {"PBS_ARRAY_INDEX": "1"})
    assert done.returncode == 0, done.stderr
    assert seen(run, 4) == "4 v4"


def test_a_single_row_is_a_plain_job(tmp_path):
    run = make_run(tmp_path, "pbs", rows=3, target_options={"flavor": "pro"})
    files = PbsTarget().render(run, [2])
    assert "#PBS -J" not in files["pbs-1.sh"] and "pbs-1.rows" not in files
    write_files(run, files)
    assert run_script(["bash", str(run.paths.scripts / "pbs-1.sh")], {}).returncode == 0
    assert seen(run, 2) == "2 v2"


def test_pro_refuses_max_parallel_unless_max_run_subjobs_is_on(tmp_path, monkeypatch):
    run = make_run(tmp_path, "pbs", rows=3, max_parallel=2, target_options={"flavor": "pro"})
    with pytest.raises(ConfigError, match="cannot limit how many subjobs"):
        PbsTarget().check(run.job)
    on = make_run(tmp_path / "b", "pbs", rows=3, max_parallel=2, target_options={"flavor": "pro", "max_run_subjobs": True})
    assert "#PBS -W max_run_subjobs=2" in PbsTarget().render(on, [0, 1, 2])["pbs-1.sh"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match="qsub is not installed"):
        PbsTarget().check(on.job)


def test_what_pbs_cannot_do_is_refused_in_one_line(tmp_path):
    for fields, what in [({"resources": Resources(gpus=1, gpu_type="a100")}, "typed GPUs"),
                         ({"resources": Resources(nodes=2)}, "several nodes"), ({"pack": 2}, "pack")]:
        run = make_run(tmp_path / what, "pbs", target_options={"flavor": "torque"}, **fields)
        with pytest.raises(ConfigError, match=what):
            PbsTarget().check(run.job)


def test_flavor_is_read_from_qstat_version():
    assert flavor_from_version("pbs_version = 2022.1.1\n") == "pro"
    assert flavor_from_version("Version: 6.1.3\nCommit: 7e7d7b1\n") == "torque"
    assert flavor_from_version("SGE 8.1.9\nusage: qstat [options]\n") is None


def test_the_qsub_here_must_be_pbs_when_the_flavor_is_auto(tmp_path):
    """This machine's qsub is Grid Engine's: --target pbs says so instead of submitting."""
    if pbs.shutil.which("qsub") is None:
        pytest.skip("no qsub here")
    if pbs.detect_flavor() is not None:
        pytest.skip("this machine has a real PBS")
    run = make_run(tmp_path, "pbs")
    with pytest.raises(ConfigError, match="not PBS Pro or Torque"):
        PbsTarget().check(run.job)


def test_job_ids_are_parsed_from_qsub_as_documented():
    assert parse_job_id("1234.pbsserver\n") == "1234.pbsserver"
    assert parse_job_id("1234[].pbsserver\n") == "1234[].pbsserver"
    assert parse_job_id("1098[].hostname") == "1098[].hostname"
    with pytest.raises(ConfigError, match="not a job id"):
        parse_job_id("qsub: Unknown queue")


def test_qstat_full_output_is_parsed_per_subjob():
    jobs = parse_qstat_full(PRO_QSTAT)
    assert sorted(jobs) == [("1234", 0), ("1234", 1), ("1234", 2)]  # not the array's own entry
    assert jobs[("1234", 0)]["exit_status"] == "0"
    assert jobs[("1234", 0)]["variable_list"].endswith("PBS_O_WORKDIR=/home/me/proj")  # joined from two lines
    assert [task_state(jobs[("1234", i)]) for i in range(3)] == [TaskState.failed, TaskState.running, TaskState.queued]
    torque = parse_qstat_full(TORQUE_QSTAT)
    assert task_state(torque[("1098", 0)]) is TaskState.failed and task_state(torque[("1098", 1)]) is TaskState.queued
    assert parse_qstat_full("Job Id: 77.server\n    job_state = Q\n") == {("77", None): {"job_state": "Q"}}


def test_submit_records_each_array_and_cancel_deletes_them(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    for name, answer in [("qsub", "1234[].pbsserver"), ("qdel", ""), ("qstat", PRO_QSTAT.splitlines()[0])]:
        fake_tool(bin_dir, name, answer)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    run = make_run(tmp_path / "p", "pbs", rows=3, target_options={"flavor": "pro"})
    target = get_target("pbs")
    submission = target.submit(run, [0, 1, 2])
    assert submission.ids == {0: "1234[].pbsserver:0", 1: "1234[].pbsserver:1", 2: "1234[].pbsserver:2"}
    assert (run.paths.scripts / "pbs-1.sh").exists() and (run.paths.root / "sched-logs").is_dir()
    assert (bin_dir / "qsub.calls").read_text().strip() == str(run.paths.scripts / "pbs-1.sh")
    target.cancel(run)
    assert (bin_dir / "qdel.calls").read_text().split() == ["1234[].pbsserver"]
