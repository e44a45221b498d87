"""`freight script`: the scripts `freight run` would submit, printed or written, nothing submitted
and nothing stored; the same text `freight run` hands to the real Slurm and Grid Engine."""

import re
import subprocess
from pathlib import Path

import pytest
from clusters import need_sge, need_slurm, shellcheck

SWEEP = ["--sweep", "x=a b,it's,$HOME"]


def draft_id(done) -> str:
    return re.search(r"as run (\S+) \(a draft", done.stderr).group(1)


@pytest.fixture(autouse=True)
def no_user_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "no-config"))


def test_one_script_is_printed_alone_and_nothing_is_created(project):
    project.write("train.py", "print(1)\n")
    done = project.freight("script", "--target", "slurm", "--cpus", "2", "--time", "90", *SWEEP, "train.py", "--x", "{x}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("#!/bin/bash\n# freight run train-")
    assert "#SBATCH --array=0-2\n" in done.stdout and "#SBATCH --cpus-per-task=2\n" in done.stdout
    assert f"/.freight/runs/{draft_id(done)}\n" in done.stdout
    assert not (project.root / ".freight").exists()  # no run folder, no store
    path = project.write("printed.sbatch", done.stdout)
    shellcheck(path)


def test_a_sweep_split_under_max_array_size_prints_each_array_with_a_header(project):
    done = project.freight("script", "--target", "slurm", "--target-opt", "max_array_size=4",
                           "--sweep", "x=range:10", "--", "echo", "{x}")
    assert done.returncode == 0, done.stderr
    headers = re.findall(r"^# ==> (.+) <==$", done.stdout, flags=re.M)
    assert headers == ["slurm-0.sbatch", "slurm-1.sbatch", "slurm-2.sbatch"]
    parts = re.split(r"^# ==> .+ <==\n", done.stdout, flags=re.M)[1:]
    assert [re.search(r"--array=(\S+)", p).group(1) for p in parts] == ["0-3", "0-3", "0-1"]
    assert [re.search(r"FREIGHT_INDEX_OFFSET=(\d+)", p).group(1) for p in parts] == ["0", "4", "8"]


def test_output_folder_gets_one_file_per_script(project):
    done = project.freight("script", "-o", "scripts", "--target", "sge", "--sweep", "x=1,2", "--", "echo", "{x}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    files = sorted(p.name for p in (project.root / "scripts").iterdir())
    assert files == ["sge-1.sh"]
    script = project.root / "scripts" / "sge-1.sh"
    assert "#$ -t 1-2\n" in script.read_text()
    shellcheck(script)


def test_script_takes_runs_options_but_not_those_of_running(project):
    help_text = project.freight("script", "--help").stdout
    for flag in ("--sweep", "--partition", "--profile", "--image", "--pack", "--output"):
        assert flag in help_text
    for flag in ("--wait", "--smoke-first", "--dry-run"):
        assert flag not in help_text
    done = project.freight("script", "--wait", "--", "true")  # taken as the program, as by run
    assert done.returncode == 2 and done.stderr.startswith("freight: error: --wait: no such script")


def test_bad_input_is_one_line(project):
    done = project.freight("script", "--target", "slurm", "--target-opt", "partiton=gpu", "--", "true")
    assert done.returncode == 2
    assert done.stderr == ("freight: error: [targets.slurm] has no setting 'partiton' "
                           "(fix: did you mean 'partition'?)\n")


def submitted_and_printed(project, target: str, script_name: str, *args: str) -> tuple[str, str]:
    """(what `freight script` printed with the draft id replaced, what `freight run` wrote)."""
    project.write("show.py", "import sys\nprint(sys.argv[1:])\n")
    shown = project.freight("script", "--target", target, *args, "show.py", "{x}")
    assert shown.returncode == 0, shown.stderr
    record = project.record("run", "--no-wait", "--env", "current", "--target", target, *args, "show.py", "{x}")
    written = next((Path(record["run_dir"]) / "scripts").rglob(script_name)).read_text()
    waited = project.freight("wait", record["id"], timeout=300)
    assert waited.returncode == 0, waited.stdout + waited.stderr  # and what was submitted ran
    return shown.stdout.replace(draft_id(shown), record["id"]), written


def test_the_printed_script_is_what_run_submits_to_slurm(project):
    need_slurm()
    printed, written = submitted_and_printed(project, "slurm", "slurm.sbatch", "--time", "5", "--mem", "100M", *SWEEP)
    assert printed == written


def test_the_printed_script_is_what_run_submits_to_grid_engine(project):
    need_sge()
    printed, written = submitted_and_printed(project, "sge", "sge-1.sh", "--time", "5", *SWEEP)
    assert printed == written
    assert subprocess.run(["bash", "-n"], input=printed, text=True).returncode == 0
