"""The task wrapper's --pack mode, run for real: `python -m freight.task RUN_DIR --pack FILE`
runs the rows on one line of a pack file, one after another, each as if it ran alone."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import wait_for
from test_task import clean_env, make_run, program, store  # noqa: F401 (store: a fixture)

from freight.task_pack import pack_file_text, pack_groups, pack_line, read_pack_file

# Appends its index to <run>/ran (one line per execution); fails for n == "fail", waits for
# <run>/gate for n == "wait".
PROGRAM = """
import os, sys, time
from pathlib import Path
run = Path(os.environ["FREIGHT_RUN_DIR"])
with open(run / "ran", "a") as f:
    f.write(os.environ["FREIGHT_TASK_INDEX"] + "\\n")
print("row", os.environ["FREIGHT_TASK_INDEX"], sys.argv[1])
if sys.argv[1] == "fail":
    raise SystemExit(3)
while sys.argv[1] == "wait" and not (run / "gate").exists():
    time.sleep(0.05)
"""


@pytest.fixture
def pack_run(store, tmp_path):  # noqa: F811
    """A run of 7 rows; row 4 fails."""
    rows = [{"n": "fail" if i == 4 else str(i)} for i in range(7)]
    return make_run(store, tmp_path, [sys.executable, program(tmp_path, PROGRAM), "{n}"], rows)


def pack_file(run, groups: list[list[int]]) -> Path:
    path = run.paths.scripts / "pack.rows"
    path.write_text(pack_file_text(groups))
    return path


def run_pack(run, path: Path, index: int | None, **env: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "freight.task", str(run.paths.root), "--pack", str(path)]
    argv += [] if index is None else ["--index", str(index)]
    return subprocess.run(argv, env=clean_env(**env), capture_output=True, text=True, timeout=120)


def states(run) -> dict[int, str]:
    found = {}
    for i in range(run.n_tasks):
        if run.paths.state(i).exists():
            found[i] = json.loads(run.paths.state(i).read_text())["state"]
    return found


def executions(run) -> list[int]:
    ran = run.paths.root / "ran"
    return [int(line) for line in ran.read_text().split()] if ran.exists() else []


@pytest.mark.parametrize("rows, k, groups", [
    ([0, 1, 2, 3, 4, 5, 6], 3, [[0, 1, 2], [3, 4, 5], [6]]),
    ([9, 2, 5, 2, 0], 2, [[0, 2], [5, 9]]),
    ([4], 10, [[4]]),
    ([], 3, []),
])
def test_pack_groups_cut_sorted_rows_into_runs_of_k(rows, k, groups):
    assert pack_groups(rows, k) == groups


@pytest.mark.parametrize("seed", range(10))
def test_every_row_lands_in_exactly_one_group_of_at_most_k(seed):
    rng = random.Random(seed)
    rows, k = rng.sample(range(20_000), rng.randint(1, 3000)), rng.randint(1, 50)
    groups = pack_groups(rows, k)
    assert sorted(row for group in groups for row in group) == sorted(rows)
    assert all(1 <= len(group) <= k for group in groups)
    assert all(len(group) == k for group in groups[:-1])


def test_a_pack_file_reads_back_line_by_line(tmp_path):
    path = tmp_path / "pack.rows"
    groups = [[0, 1, 2], [5, 9, 10], [11]]
    path.write_text(pack_file_text(groups))
    assert path.read_text() == "0 1 2\n5 9 10\n11\n"
    assert read_pack_file(path) == groups
    assert [pack_line(path, n) for n in range(3)] == groups


def test_each_packed_row_runs_once_with_its_own_state_logs_and_index(pack_run):
    path = pack_file(pack_run, [[0, 1, 2], [3, 4, 5], [6]])
    done = run_pack(pack_run, path, 1)
    assert done.returncode == 3, done.stderr  # the failing row's exit code: the element failed
    assert executions(pack_run) == [3, 4, 5]  # one after another, and 5 ran after 4 failed
    assert states(pack_run) == {3: "succeeded", 4: "failed", 5: "succeeded"}
    for index in (3, 4, 5):
        state = json.loads(pack_run.paths.state(index).read_text())
        assert state["index"] == index and state["attempt"] == 1
        out = pack_run.paths.stdout(index).read_text()
        assert out.strip() == f"row {index} {'fail' if index == 4 else index}"
        assert json.loads(pack_run.paths.params(index).read_text()) == pack_run.params[index]
    assert json.loads(pack_run.paths.state(4).read_text())["exit_code"] == 3


def test_a_pack_of_successful_rows_exits_0(pack_run):
    done = run_pack(pack_run, pack_file(pack_run, [[0, 1, 2], [3, 5, 6]]), 1)
    assert done.returncode == 0, done.stderr
    assert states(pack_run) == {3: "succeeded", 5: "succeeded", 6: "succeeded"}


def test_the_line_comes_from_the_scheduler_array_variable_plus_the_offset(pack_run):
    path = pack_file(pack_run, [[0], [1, 2], [3], [5, 6]])
    done = run_pack(pack_run, path, None, SLURM_ARRAY_TASK_ID="1", FREIGHT_INDEX_OFFSET="2")
    assert done.returncode == 0, done.stderr
    assert executions(pack_run) == [5, 6]
    done = run_pack(pack_run, path, None, SGE_TASK_ID="2")  # Grid Engine counts from 1
    assert done.returncode == 0, done.stderr
    assert executions(pack_run) == [5, 6, 1, 2]


def test_each_row_keeps_its_own_time_limit(store, tmp_path):  # noqa: F811
    prog = program(tmp_path, PROGRAM)
    run = make_run(store, tmp_path, [sys.executable, prog, "{n}"], [{"n": "wait"}, {"n": "1"}],
                   resources={"time_s": 1})
    done = run_pack(run, pack_file(run, [[0, 1]]), 0, FREIGHT_KILL_GRACE="1")
    assert done.returncode != 0
    first, second = (json.loads(run.paths.state(i).read_text()) for i in (0, 1))
    assert (first["state"], first["reason"]) == ("failed", "timeout")
    assert second["state"] == "succeeded"  # the next row ran after the first one's limit


def test_a_cancelled_pack_stops_and_its_unstarted_rows_are_cancelled(store, tmp_path):  # noqa: F811
    prog = program(tmp_path, PROGRAM)
    run = make_run(store, tmp_path, [sys.executable, prog, "{n}"], [{"n": "0"}, {"n": "wait"}, {"n": "2"}, {"n": "3"}])
    argv = [sys.executable, "-m", "freight.task", str(run.paths.root), "--pack",
            str(pack_file(run, [[0, 1, 2, 3]])), "--index", "0"]
    wrapper = subprocess.Popen(argv, env=clean_env())
    wait_for(lambda: executions(run) == [0, 1])
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=60) != 0
    assert executions(run) == [0, 1]  # rows 2 and 3 never started
    assert states(run) == {0: "succeeded", 1: "cancelled", 2: "cancelled", 3: "cancelled"}
    reason = json.loads(run.paths.state(3).read_text())["reason"]
    assert "before it started" in reason


def test_an_element_run_again_skips_the_rows_that_ended_in_this_submission(pack_run):
    path = pack_file(pack_run, [[3, 4, 5, 6]])
    assert run_pack(pack_run, path, 0).returncode == 3  # row 4 failed
    pack_run.paths.state(5).unlink()  # as if the scheduler requeued the element while row 5 ran
    assert run_pack(pack_run, path, 0).returncode == 0  # the element again: rows 3, 4, 6 ended
    assert executions(pack_run) == [3, 4, 5, 6, 5]
    assert states(pack_run) == {3: "succeeded", 4: "failed", 5: "succeeded", 6: "succeeded"}
    path = pack_file(pack_run, [[4]])  # a retry: a new pack file, so its rows run again
    assert run_pack(pack_run, path, 0).returncode == 3
    assert executions(pack_run) == [3, 4, 5, 6, 5, 4]


def test_a_row_requeued_on_grid_engine_ends_the_element_for_a_rerun(store, tmp_path):  # noqa: F811
    prog = program(tmp_path, PROGRAM)
    run = make_run(store, tmp_path, [sys.executable, prog, "{n}"], [{"n": "0"}, {"n": "wait"}, {"n": "2"}],
                   resources={"time_s": 30}, preemption={"signal": "USR1@29", "requeue": True})
    path = pack_file(run, [[0, 1, 2]])
    done = run_pack(run, path, 0, FREIGHT_SCHEDULER="sge")  # row 1 is warned (USR1) and dies of it
    assert done.returncode == 99  # Grid Engine reschedules the element
    assert states(run) == {0: "succeeded", 1: "queued"}  # row 2 waits for the rerun, untouched
    (run.paths.root / "gate").touch()
    assert run_pack(run, path, 0, FREIGHT_SCHEDULER="sge").returncode == 0  # the rerun
    assert executions(run) == [0, 1, 1, 2]
    assert states(run) == {0: "succeeded", 1: "succeeded", 2: "succeeded"}


@pytest.mark.parametrize("groups, index, message", [
    ([[0, 1]], 5, "no rows on line 5 of the pack file"),
    ([[0, 99]], 0, "rows [99] do not exist in this run"),
    ([[0]], None, "no array index for --pack"),
])
def test_a_bad_pack_is_one_line_exit_2_and_runs_nothing(pack_run, groups, index, message):
    done = run_pack(pack_run, pack_file(pack_run, groups), index)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert executions(pack_run) == []


def test_pack_needs_a_file(pack_run):
    argv = [sys.executable, "-m", "freight.task", str(pack_run.paths.root), "--index", "0", "--pack"]
    done = subprocess.run(argv, env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 2 and "--pack needs a pack file" in done.stderr
