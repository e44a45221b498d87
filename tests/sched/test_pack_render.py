"""--pack K without a cluster: the Slurm and Grid Engine scripts of packed sweeps (golden files,
exact directives, shellcheck), their pack files, and the scripts run by bash as the scheduler
would, through the real task wrapper."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_sge_render import directives, shellcheck
from test_slurm_render import GOLDEN, sbatch_lines

from freight.runs.store import RunStore
from freight.sched.sge import SgeTarget
from freight.sched.slurm import SlurmTarget
from freight.spec.job import Job, Task
from freight.spec.resources import Resources

# Writes FREIGHT_TASK_INDEX and its argument to <task dir>/seen.
SHOW = """import os, pathlib, sys
pathlib.Path(os.environ["FREIGHT_TASK_DIR"], "seen").write_text(os.environ["FREIGHT_TASK_INDEX"] + " " + sys.argv[1])
"""


def packed_run(root: Path, target: str, rows: int = 7, pack: int = 3, options=None, time_s=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "show.py").write_text(SHOW)
    job = Job(name="train", command=["python", "show.py", "{x}"], workdir=str(root),
              tasks=[Task(index=i, params={"x": f"v{i}"}) for i in range(rows)], pack=pack,
              resources=Resources(time_s=time_s), target_options=options or {}, python=sys.executable)
    return RunStore(root / ".freight").create_run(job, target, run_id="r1")


def stable(text: str, run, root: Path) -> str:
    text = text.replace(str(run.paths.root), "<RUN_DIR>").replace(str(root), "<PROJECT>")
    return text.replace(sys.executable, "<PYTHON>")


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("FREIGHT_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def seen(run, index: int) -> str | None:
    path = run.paths.task_dir(index) / "seen"
    return path.read_text() if path.exists() else None


@pytest.mark.parametrize("target, script, pack, golden", [
    ("slurm", "slurm.sbatch", "pack.rows", "slurm_pack.sbatch"),
    ("sge", "sge-1.sh", "sge-1.pack", "sge_pack.qsub"),
])
def test_packed_scripts_match_golden_files(tmp_path, target, script, pack, golden):
    run = packed_run(tmp_path, target, time_s=600)
    files = (SlurmTarget() if target == "slurm" else SgeTarget()).render(run, list(range(7)))
    assert sorted(files) == sorted([script, pack])
    assert files[pack] == "0 1 2\n3 4 5\n6\n"
    check_golden(golden, stable(files[script], run, tmp_path))


# -- Slurm ----------------------------------------------------------------------------------


def test_a_packed_slurm_array_has_one_element_per_pack_and_k_times_the_limit(tmp_path):
    run = packed_run(tmp_path, "slurm", rows=10, pack=4, time_s=90)
    script = SlurmTarget().render(run, list(range(10)))["slurm.sbatch"]
    lines = sbatch_lines(script)
    assert "--array=0-2" in lines  # ceil(10 / 4) elements
    assert "--time=00:06:00" in lines  # 4 x 90 s
    pack = run.paths.scripts / "slurm-1" / "pack.rows"
    assert script.splitlines()[-1] == f'exec "$python" -m freight.task {run.paths.root} --pack {pack}'


def test_packed_elements_are_split_under_max_array_size_with_offsets(tmp_path):
    run = packed_run(tmp_path, "slurm", rows=25, pack=2, options={"max_array_size": 5})
    files = SlurmTarget().render(run, list(range(25)))
    assert sorted(files) == ["pack.rows", "slurm-0.sbatch", "slurm-1.sbatch", "slurm-2.sbatch"]
    assert len(files["pack.rows"].splitlines()) == 13
    arrays = [[line for line in sbatch_lines(files[f"slurm-{k}.sbatch"]) if line.startswith("--array")] for k in range(3)]
    assert arrays == [["--array=0-4"], ["--array=0-4"], ["--array=0-2"]]
    offsets = [line for k in range(3) for line in files[f"slurm-{k}.sbatch"].splitlines() if "OFFSET=" in line]
    assert offsets == ["export FREIGHT_INDEX_OFFSET=0", "export FREIGHT_INDEX_OFFSET=5", "export FREIGHT_INDEX_OFFSET=10"]


def test_a_packed_retry_packs_only_the_rows_it_retries(tmp_path):
    run = packed_run(tmp_path, "slurm", rows=20, pack=3, time_s=60)
    files = SlurmTarget().render(run, [15, 3, 12, 7])
    assert files["pack.rows"] == "3 7 12\n15\n"
    assert {"--array=0-1", "--time=00:03:00"} <= set(sbatch_lines(files["slurm.sbatch"]))
    alone = SlurmTarget().render(run, [4])  # one row: a plain script, no pack file
    assert list(alone) == ["slurm.sbatch"] and "--pack" not in alone["slurm.sbatch"]
    assert "--time=00:01:00" in sbatch_lines(alone["slurm.sbatch"])


def test_the_packed_slurm_script_run_as_slurm_would_runs_its_rows(tmp_path):
    root = tmp_path / "it's a $dir"
    run = packed_run(root, "slurm", rows=25, pack=2, options={"max_array_size": 5})
    files = SlurmTarget().render(run, list(range(25)))  # for scripts/slurm-1/, the first submission's
    folder = run.paths.scripts / "slurm-1"
    folder.mkdir(parents=True)
    (folder / "pack.rows").write_text(files["pack.rows"])
    script = tmp_path / "array1.sh"
    script.write_text(files["slurm-1.sbatch"])  # elements 5..9: rows 10..19
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "2", "FREIGHT_TASK_INDEX": "0"}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [seen(run, i) for i in (14, 15)] == ["14 v14", "15 v15"]  # element 7 = line 7
    assert [i for i in range(25) if seen(run, i) is not None] == [14, 15]


# -- Grid Engine ----------------------------------------------------------------------------


def test_a_packed_grid_engine_array_has_one_task_per_pack_and_k_times_h_rt(tmp_path):
    run = packed_run(tmp_path, "sge", rows=10, pack=4, time_s=60, options={"max_array_tasks": 2})
    files = SgeTarget().render(run, list(range(10)))
    assert sorted(files) == ["sge-1.pack", "sge-1.sh", "sge-2.pack", "sge-2.sh"]  # 2 tasks of 4 rows per array
    assert (files["sge-1.pack"], files["sge-2.pack"]) == ("0 1 2 3\n4 5 6 7\n", "8 9\n")
    assert [d for d in directives(files["sge-1.sh"]) if d.startswith(("-t", "-l"))] == ["-t 1-2", "-l h_rt=0:06:00"]
    assert "-t 1-1" in directives(files["sge-2.sh"])  # 4 x (60 s + the wrapper's margin of 30 s)
    retry = SgeTarget().render(run, [9, 2, 5])
    assert retry["sge-1.pack"] == "2 5 9\n" and "-l h_rt=0:04:30" in directives(retry["sge-1.sh"])


def test_the_packed_grid_engine_script_run_as_grid_engine_would_runs_its_rows(tmp_path):
    run = packed_run(tmp_path / "p q", "sge", rows=7, pack=3)
    files = SgeTarget().render(run, list(range(7)))
    for name, text in files.items():
        (run.paths.scripts / name).write_text(text)
    env = {**os.environ, "SGE_TASK_ID": "2", "FREIGHT_TASK_INDEX": "0", "FREIGHT_INDEX_OFFSET": "4"}
    done = subprocess.run(["bash", str(run.paths.scripts / "sge-1.sh")], env=env, capture_output=True,
                          text=True, cwd=run.paths.root.parent.parent.parent)
    assert done.returncode == 0, done.stderr
    assert [i for i in range(7) if seen(run, i) is not None] == [3, 4, 5]
    assert json.loads(run.paths.state(4).read_text())["state"] == "succeeded"


# -- both -----------------------------------------------------------------------------------


@pytest.mark.parametrize("target, indices", [
    ("slurm", None), ("slurm", [1, 4, 6]), ("sge", None), ("sge", [1, 4, 6]),
])
def test_every_packed_script_passes_shellcheck(tmp_path, target, indices):
    options = {"max_array_size": 2} if target == "slurm" else {}
    run = packed_run(tmp_path / "it's \"odd\" $x", target, time_s=60, options=options)
    files = (SlurmTarget() if target == "slurm" else SgeTarget()).render(run, indices or list(range(7)))
    scripts = [name for name in files if name.endswith((".sbatch", ".sh"))]
    assert scripts and all("--pack" in files[name] for name in scripts)
    for name in scripts:
        path = tmp_path / name
        path.write_text(files[name])
        shellcheck(path)
