"""local.sh, the script `freight script --target local` prints: shellcheck, run by hand with
bash it runs the rows it was rendered for one after another, and its size does not grow with
the sweep (runs of consecutive rows are loops)."""

import json
import subprocess

from clusters import shellcheck

from freight.runs.store import RunStore
from freight.sched.local import LocalTarget
from freight.spec.job import Job, Task


def make_run(tmp_path, rows: int):
    project = tmp_path / "proj dir"  # a space: the script quotes its paths
    project.mkdir()
    job = Job(name="echo", command=["echo", "task", "{n}"], workdir=str(project),
              tasks=[Task(index=i, params={"n": f"{i}; $(id)"}) for i in range(rows)])
    return RunStore(project / ".freight").create_run(job, "local", run_id="r1")


def test_run_by_hand_it_runs_the_rendered_rows_in_order(tmp_path):
    run = make_run(tmp_path, rows=6)
    script = tmp_path / "local.sh"
    script.write_text(LocalTarget().render(run, [0, 1, 2, 4])["local.sh"])
    shellcheck(script)
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    states = {i: json.loads(run.paths.state(i).read_text()) for i in (0, 1, 2, 4)}
    assert {i: s["state"] for i, s in states.items()} == dict.fromkeys((0, 1, 2, 4), "succeeded")
    assert [states[i]["started"] for i in (0, 1, 2, 4)] == sorted(states[i]["started"] for i in (0, 1, 2, 4))
    assert (run.paths.root / "tasks" / "4" / "stdout.log").read_text() == "task 4; $(id)\n"
    assert not run.paths.state(3).exists() and not run.paths.state(5).exists()


def test_the_script_does_not_grow_with_the_sweep(tmp_path):
    run = make_run(tmp_path, rows=1)
    small, large = (LocalTarget().render(run, list(range(rows)))["local.sh"] for rows in (3, 10_000))
    assert len(large.splitlines()) == len(small.splitlines())
    assert "for ((index = 0; index <= 9999; index++)); do run_task \"$index\"; done" in large
