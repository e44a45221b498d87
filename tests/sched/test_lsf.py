"""The LSF target without LSF, which cannot be installed here: a golden script written from the
bsub documentation, shellcheck on every variant, the scripts run with bash as LSF would
(LSB_JOBINDEX from 1) through the real task wrapper, and the parsers on the outputs the LSF
documentation shows. Submitting goes through a stand-in `bsub` that answers as LSF does."""

import json

import pytest
from array_targets import fake_tool, make_run, run_script, seen, stable, write_files
from test_pack_render import check_golden
from test_sge_render import shellcheck

from freight.errors import ConfigError
from freight.sched import get_target
from freight.sched.lsf import (
    LsfTarget, gpu_request, job_spec, parse_bjobs_json, parse_job_id, run_limit, task_state,
)
from freight.spec.resources import Resources
from freight.spec.state import TaskState

FULL = Resources(cpus=4, mem_mb=8192, gpus=2, gpu_type="TeslaV100_SXM2_32GB", time_s=3600)

# bjobs -a -o "jobid jobindex stat exit_code" -json 1234 (the -json format of the bjobs
# reference: COMMAND, JOBS, RECORDS, one record per array element).
BJOBS = {
    "COMMAND": "bjobs", "JOBS": 4,
    "RECORDS": [
        {"JOBID": "1234", "JOBINDEX": "1", "STAT": "DONE", "EXIT_CODE": ""},
        {"JOBID": "1234", "JOBINDEX": "2", "STAT": "EXIT", "EXIT_CODE": "1"},
        {"JOBID": "1234", "JOBINDEX": "3", "STAT": "RUN", "EXIT_CODE": ""},
        {"JOBID": "1234[4]", "STAT": "PEND", "EXIT_CODE": ""},
        {"ERROR": "Job <9> is not found"},
    ],
}


def test_script_matches_the_golden_file(tmp_path):
    options = {"queue": "gpu", "project": "ml", "bsub_args": ["-N"]}
    run = make_run(tmp_path, "lsf", rows=4, resources=FULL, max_parallel=2, target_options=options)
    files = LsfTarget().render(run, [0, 1, 2, 3])
    assert list(files) == ["lsf-1.sh"]
    check_golden("lsf.bsub", stable(files["lsf-1.sh"], run, tmp_path))


VARIANTS = {"one row": (1, [0], {}), "scattered rows": (6, [1, 4, 5], {}),
            "split": (5, [0, 1, 2, 3, 4], {"max_array_size": 2}), "every resource": (4, [0, 1, 2, 3], {"queue": "q"})}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_passes_shellcheck(tmp_path, variant):
    rows, indices, options = VARIANTS[variant]
    run = make_run(tmp_path, "lsf", rows=rows, resources=FULL, target_options=options)
    for name, text in LsfTarget().render(run, indices).items():
        if name.endswith(".sh"):
            assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
            (tmp_path / name).write_text(text)
            shellcheck(tmp_path / name)


def test_directives_follow_the_bsub_reference():
    assert job_spec("r1", 5, 2) == "r1[1-5]%2" and job_spec("r1", 5, None) == "r1[1-5]" and job_spec("r1", 1, 3) == "r1"
    assert gpu_request(2, None) == "num=2" and gpu_request(1, "a100") == "num=1:gmodel=a100"
    assert gpu_request(0, "a100") is None
    assert run_limit(3600) == "1:01" and run_limit(30) == "0:01" and run_limit(None) is None
    with pytest.raises(ConfigError, match="GPU model"):
        gpu_request(1, "a100; rm -rf ~")


def test_every_resource_becomes_its_directive(tmp_path):
    run = make_run(tmp_path, "lsf", rows=2, resources=FULL, target_options={"account": "lab-42"})
    script = LsfTarget().render(run, [0, 1])["lsf-1.sh"]
    lines = [line[6:].strip() for line in script.splitlines() if line.startswith("#BSUB")]
    assert lines[0] == '-J "r1[1-2]"' and "-P lab-42" in lines  # --account is LSF's project
    assert {"-n 4", '-R "span[hosts=1]"', '-R "rusage[mem=8192MB]"',
            '-gpu "num=2:gmodel=TeslaV100_SXM2_32GB"', "-W 1:01"} <= set(lines)
    assert f"-o {run.paths.root}/sched-logs/lsf-1.%J.%I.out" in lines


def test_the_script_runs_the_row_of_its_lsf_index(tmp_path):
    """LSF counts elements from 1: element 2 of the second array (rows 3-4) is row 4."""
    run = make_run(tmp_path, "lsf", rows=5, target_options={"max_array_size": 3})
    write_files(run, LsfTarget().render(run, [0, 1, 2, 3, 4]))
    done = run_script(["bash", str(run.paths.scripts / "lsf-2.sh")], {"LSB_JOBINDEX": "2"})
    assert done.returncode == 0, done.stderr
    assert seen(run, 4) == "4 v4" and seen(run, 3) is None


def test_scattered_rows_go_through_a_rows_file(tmp_path):
    run = make_run(tmp_path, "lsf", rows=6)
    files = LsfTarget().render(run, [1, 4, 5])
    assert files["lsf-1.rows"] == "1\n4\n5\n" and '#BSUB -J "r1[1-3]"' in files["lsf-1.sh"]
    write_files(run, files)
    done = run_script(["bash", str(run.paths.scripts / "lsf-1.sh")], {"LSB_JOBINDEX": "3"})
    assert done.returncode == 0, done.stderr
    assert seen(run, 5) == "5 v5"


def test_what_lsf_cannot_do_is_refused_in_one_line(tmp_path):
    for fields, what in [({"resources": Resources(nodes=2)}, "several nodes"), ({"pack": 3}, "pack")]:
        run = make_run(tmp_path / what, "lsf", **fields)
        with pytest.raises(ConfigError, match=what):
            LsfTarget().check(run.job)
    typo = make_run(tmp_path / "typo", "lsf", target_options={"queu": "normal"})
    with pytest.raises(ConfigError, match="has no setting 'queu'") as caught:
        LsfTarget().render(typo, [0])
    assert caught.value.fix == "did you mean 'queue'?"


def test_job_ids_are_parsed_from_bsub_as_documented():
    assert parse_job_id("Job <1234> is submitted to queue <normal>.\n") == "1234"
    assert parse_job_id("Job <77> is submitted to default queue <normal>.") == "77"
    with pytest.raises(ConfigError, match="not a job id"):
        parse_job_id("normal: No such queue. Job not submitted.")


def test_bjobs_json_is_parsed_per_element():
    records = parse_bjobs_json(json.dumps(BJOBS))
    assert sorted(records) == [("1234", 0), ("1234", 1), ("1234", 2), ("1234", 3)]
    assert [task_state(records[("1234", i)]["STAT"]) for i in range(4)] == [
        TaskState.failed, TaskState.failed, TaskState.running, TaskState.queued]
    assert records[("1234", 1)]["EXIT_CODE"] == "1"
    assert task_state("UNKWN") is None and task_state("PSUSP") is TaskState.queued


def test_submit_reads_the_job_id_and_status_comes_from_bjobs(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "bsub", "Job <1234> is submitted to queue <normal>.")
    fake_tool(bin_dir, "bkill", "Job <1234> is being terminated")
    records = {"COMMAND": "bjobs", "JOBS": 2, "RECORDS": [
        {"JOBID": "1234", "JOBINDEX": "1", "STAT": "PEND"}, {"JOBID": "1234", "JOBINDEX": "2", "STAT": "EXIT"}]}
    (bin_dir / "bjobs.json").write_text(json.dumps(records))
    (bin_dir / "bjobs").write_text(f'#!/bin/sh\necho "$@" > "{bin_dir}/bjobs.calls"\ncat "{bin_dir}/bjobs.json"\n')
    (bin_dir / "bjobs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    run = make_run(tmp_path / "p", "lsf", rows=2)
    target = get_target("lsf")
    assert target.submit(run, [0, 1]).ids == {0: "1234:0", 1: "1234:1"}
    # Element 2 ended in LSF without its wrapper writing a state: the job script failed.
    assert target.poll(run) == {0: TaskState.queued, 1: TaskState.failed}
    assert "before the task started" in (run.paths.state(1)).read_text()
    assert (bin_dir / "bjobs.calls").read_text().split() == ["-a", "-o", "jobid", "jobindex", "stat", "exit_code", "-json", "1234"]
    target.cancel(run)
    assert (bin_dir / "bkill.calls").read_text().split() == ["1234"]
