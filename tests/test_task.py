"""The task wrapper, run for real: `python -m freight.task` on a run folder made by the store,
with real programs, real signals and real time limits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from freight.runs.store import RunStore
from freight.spec.job import Job, Task
from freight.task import fill_placeholders, resolve_index

SCHEDULER_VARS = ("SLURM_ARRAY_TASK_ID", "SGE_TASK_ID", "PBS_ARRAY_INDEX", "PBS_ARRAYID",
                  "LSB_JOBINDEX", "JOB_COMPLETION_INDEX")

# Writes its argv, environment and params.json to <task dir>/seen.json.
DUMP_PROGRAM = """
import json, os, pathlib, sys
task = pathlib.Path(os.environ["FREIGHT_TASK_DIR"])
seen = {"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd(),
        "params": json.loads((task / "params.json").read_text())}
(task / "seen.json").write_text(json.dumps(seen))
"""

# Signals it is ready, then waits; SIGTERM / SIGUSR1 write a checkpoint file first.
TRAP_PROGRAM = """
import os, pathlib, signal, sys, time
task = pathlib.Path(os.environ["FREIGHT_TASK_DIR"])
def checkpoint(signum, frame):
    (task / "checkpoint").write_text(signal.Signals(signum).name)
    if signum == signal.SIGTERM and "--ignore-term" not in sys.argv:
        sys.exit(0)
signal.signal(signal.SIGTERM, checkpoint)
signal.signal(signal.SIGUSR1, checkpoint)
print("working on it", flush=True)
(task / "ready").write_text("")
while not (task / "checkpoint").exists() or "--until-killed" in sys.argv:
    time.sleep(0.05)
"""


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / ".freight")


def program(tmp_path: Path, source: str, name: str = "prog.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def make_run(store: RunStore, tmp_path: Path, command: list[str], rows=None, **fields):
    tasks = [Task(index=i, params=p) for i, p in enumerate(rows or [{}])]
    job = Job(name="t", command=command, workdir=str(tmp_path), tasks=tasks, **fields)
    return store.create_run(job, "local")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any task index a surrounding scheduler may have set."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FREIGHT_") and k not in SCHEDULER_VARS}
    return {**env, **extra}


def wrapper_argv(run, index: int | None = 0) -> list[str]:
    argv = [sys.executable, "-m", "freight.task", str(run.paths.root)]
    return argv if index is None else [*argv, "--index", str(index)]


def run_wrapper(run, index: int | None = 0, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(wrapper_argv(run, index), env=clean_env(**env),
                          capture_output=True, text=True, timeout=120)


def start_wrapper(run, index: int = 0, **env: str) -> subprocess.Popen:
    return subprocess.Popen(wrapper_argv(run, index), env=clean_env(**env))


def state(run, index: int = 0) -> dict:
    return json.loads(run.paths.state(index).read_text())


def seen(run, index: int = 0) -> dict:
    return json.loads((run.paths.task_dir(index) / "seen.json").read_text())


def wait_for(path: Path, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_sweep_values_reach_the_program_literally(store, tmp_path):
    nasty = {"v": "a b; rm -rf ~", "w": "$(id)", "x": "{w} `id` 'q' \"dq\""}
    prog = program(tmp_path, DUMP_PROGRAM)
    run = make_run(store, tmp_path, [sys.executable, prog, "--v={v}", "{w}", "{x}", "{nope}"], [nasty])
    done = run_wrapper(run)
    assert done.returncode == 0, done.stderr
    got = seen(run)
    assert got["argv"] == ["--v=a b; rm -rf ~", "$(id)", "{w} `id` 'q' \"dq\"", "{nope}"]
    assert got["env"]["FREIGHT_PARAM_V"] == "a b; rm -rf ~"
    assert got["env"]["FREIGHT_PARAM_W"] == "$(id)"
    assert got["params"] == nasty
    assert not (tmp_path / "~").exists()


def test_environment_thread_limits_and_freight_variables(store, tmp_path):
    prog = program(tmp_path, DUMP_PROGRAM)
    run = make_run(store, tmp_path, [sys.executable, prog], [{"learning-rate": 0.01}],
                   resources={"cpus": 3}, env={"MKL_NUM_THREADS": "1", "MY_SETTING": "x y"})
    done = run_wrapper(run, OMP_NUM_THREADS="99", CUDA_VISIBLE_DEVICES="2")
    assert done.returncode == 0, done.stderr
    env = seen(run)["env"]
    assert [env[v] for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                             "VECLIB_MAXIMUM_THREADS", "FREIGHT_TORCH_THREADS")] == ["3"] * 5
    assert env["MKL_NUM_THREADS"] == "1"  # the job's own setting wins
    assert env["MY_SETTING"] == "x y"
    assert env["CUDA_VISIBLE_DEVICES"] == "2"  # the scheduler's choice is kept
    assert env["FREIGHT_PARAM_LEARNING_RATE"] == "0.01"
    task_dir = run.paths.task_dir(0)
    assert env["FREIGHT_TASK_INDEX"] == "0"
    assert env["FREIGHT_TASK_DIR"] == str(task_dir)
    assert env["FREIGHT_RUN_DIR"] == str(run.paths.root)
    assert env["FREIGHT_RESULT"] == str(task_dir / "result.env")
    assert seen(run)["cwd"] == str(tmp_path)
    assert env["FREIGHT_ATTEMPT"] == "1"


def test_each_run_of_a_task_is_told_its_attempt_number(store, tmp_path):
    run = make_run(store, tmp_path, [sys.executable, program(tmp_path, DUMP_PROGRAM)])
    attempts = []
    for _ in range(2):
        assert run_wrapper(run).returncode == 0
        attempts.append(seen(run)["env"]["FREIGHT_ATTEMPT"])
    assert attempts == ["1", "2"]
    assert state(run)["attempt"] == 2


def test_success_writes_state_and_logs(store, tmp_path):
    prog = program(tmp_path, "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n")
    run = make_run(store, tmp_path, [sys.executable, prog])
    done = run_wrapper(run)
    assert done.returncode == 0, done.stderr
    final = state(run)
    assert final["state"] == "succeeded" and final["exit_code"] == 0 and final["signal"] is None
    assert final["attempt"] == 1 and final["index"] == 0 and final["host"] == os.uname().nodename
    assert final["started"] <= final["ended"]
    assert final["pid"] > 0 and final["pid"] != final["wrapper_pid"]
    assert run.paths.stdout(0).read_text() == "to stdout\n"
    assert "attempt 1" in run.paths.stderr(0).read_text()
    assert "to stderr" in run.paths.stderr(0).read_text()


def test_crash_is_failed_with_exit_code_and_log_tail(store, tmp_path):
    prog = program(tmp_path, "print('step 1')\nraise ValueError('boom at step 2')\n")
    run = make_run(store, tmp_path, [sys.executable, prog])
    done = run_wrapper(run)
    assert done.returncode == 1
    final = state(run)
    assert (final["state"], final["exit_code"], final["reason"]) == ("failed", 1, "exit 1")
    assert "ValueError: boom at step 2" in final["log_tail"]


def test_program_killed_by_sigkill_is_failed(store, tmp_path):
    run = make_run(store, tmp_path, [sys.executable, program(tmp_path, TRAP_PROGRAM), "--until-killed"])
    wrapper = start_wrapper(run)
    wait_for(run.paths.task_dir(0) / "ready")
    os.kill(state(run)["pid"], signal.SIGKILL)
    assert wrapper.wait(timeout=60) == 128 + signal.SIGKILL
    final = state(run)
    assert final["state"] == "failed" and final["signal"] == "SIGKILL"
    assert final["exit_code"] == 137 and final["reason"] == "killed by SIGKILL"
    assert "working on it" in final["log_tail"]  # stdout's tail, as stderr has nothing


def test_sigterm_is_forwarded_so_the_program_can_checkpoint(store, tmp_path):
    run = make_run(store, tmp_path, [sys.executable, program(tmp_path, TRAP_PROGRAM)])
    wrapper = start_wrapper(run)
    wait_for(run.paths.task_dir(0) / "ready")
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=60) == 0  # the program's own exit code
    assert (run.paths.task_dir(0) / "checkpoint").read_text() == "SIGTERM"
    assert state(run)["state"] == "cancelled"


def test_sigusr1_is_forwarded_and_the_task_goes_on(store, tmp_path):
    run = make_run(store, tmp_path, [sys.executable, program(tmp_path, TRAP_PROGRAM)])
    wrapper = start_wrapper(run)
    wait_for(run.paths.task_dir(0) / "ready")
    wrapper.send_signal(signal.SIGUSR1)
    assert wrapper.wait(timeout=60) == 0
    assert (run.paths.task_dir(0) / "checkpoint").read_text() == "SIGUSR1"
    assert state(run)["state"] == "succeeded"


def test_time_limit_sends_sigterm_then_sigkill(store, tmp_path):
    command = [sys.executable, program(tmp_path, TRAP_PROGRAM), "--ignore-term", "--until-killed"]
    run = make_run(store, tmp_path, command, resources={"time_s": 1})
    done = run_wrapper(run, FREIGHT_KILL_GRACE="1")
    assert done.returncode == 128 + signal.SIGKILL
    assert (run.paths.task_dir(0) / "checkpoint").read_text() == "SIGTERM"  # warned first
    final = state(run)
    assert (final["state"], final["reason"], final["signal"]) == ("failed", "timeout", "SIGKILL")
    assert "time limit of 1 s reached" in final["log_tail"]


def test_reported_metrics_and_result_file_are_merged(store, tmp_path):
    prog = program(tmp_path, """
        import os, numpy
        from freight.report import report
        report(loss=numpy.float64(0.25), curve=numpy.array([3, 2]))
        with open(os.environ["FREIGHT_RESULT"], "w") as out:
            out.write("acc=0.5\\nname=hello world\\nok=true\\n")
    """)
    run = make_run(store, tmp_path, [sys.executable, prog])
    assert run_wrapper(run).returncode == 0
    result = json.loads(run.paths.result(0).read_text())
    assert result == {"loss": 0.25, "curve": [3, 2], "acc": 0.5, "name": "hello world", "ok": True}


def test_a_shell_program_reports_through_freight_result(store, tmp_path):
    script = 'printf \'{"gflops": 12.5, "size": "%s"}\' "$1" > "$FREIGHT_RESULT"'
    run = make_run(store, tmp_path, ["sh", "-c", script, "sh", "{size}"], [{"size": "1k; id"}])
    assert run_wrapper(run).returncode == 0
    assert json.loads(run.paths.result(0).read_text()) == {"gflops": 12.5, "size": "1k; id"}


def test_python_command_runs_with_the_jobs_interpreter(store, tmp_path):
    interpreter = tmp_path / "job-python"
    interpreter.write_text(f'#!/bin/sh\nFROM_JOB_PYTHON=yes exec "{sys.executable}" "$@"\n')
    interpreter.chmod(0o755)
    run = make_run(store, tmp_path, ["python", program(tmp_path, DUMP_PROGRAM)], python=str(interpreter))
    assert run_wrapper(run).returncode == 0
    assert seen(run)["env"]["FROM_JOB_PYTHON"] == "yes"


def test_second_attempt_counts_up_and_starts_with_no_old_results(store, tmp_path):
    prog = program(tmp_path, """
        import os, pathlib
        from freight.report import report
        marker = pathlib.Path(os.environ["FREIGHT_TASK_DIR"]) / "ran-once"
        if not marker.exists():
            marker.write_text("")
            report(loss=1.0)
            raise SystemExit(3)
    """)
    run = make_run(store, tmp_path, [sys.executable, prog])
    assert run_wrapper(run).returncode == 3
    assert run.paths.result(0).exists()
    assert run_wrapper(run).returncode == 0
    assert (state(run)["attempt"], state(run)["state"]) == (2, "succeeded")
    assert not run.paths.result(0).exists()  # attempt 1's report does not leak into attempt 2
    assert run.paths.stderr(0).read_text().count("==== freight: task 0") == 2


def test_index_comes_from_the_schedulers_array_variable(store, tmp_path):
    prog = program(tmp_path, DUMP_PROGRAM)
    run = make_run(store, tmp_path, [sys.executable, prog, "{i}"], [{"i": i} for i in range(4)])
    assert run_wrapper(run, None, SGE_TASK_ID="2").returncode == 0  # Grid Engine counts from 1
    assert seen(run, 1)["argv"] == ["1"]
    done = run_wrapper(run, None, SLURM_ARRAY_TASK_ID="1", FREIGHT_INDEX_OFFSET="2")
    assert done.returncode == 0, done.stderr
    assert seen(run, 3)["env"]["FREIGHT_TASK_INDEX"] == "3"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"FREIGHT_TASK_INDEX": "5", "SLURM_ARRAY_TASK_ID": "1"}, 5),
        ({"SLURM_ARRAY_TASK_ID": "7", "FREIGHT_INDEX_OFFSET": "1000"}, 1007),
        ({"SGE_TASK_ID": "undefined"}, None),  # Grid Engine outside an array job
        ({"SGE_TASK_ID": "1"}, 0),
        ({"LSB_JOBINDEX": "0"}, None),  # LSF outside an array job
        ({"LSB_JOBINDEX": "4"}, 3),
        ({"PBS_ARRAY_INDEX": "2"}, 2),
        ({"PBS_ARRAYID": "6"}, 6),
        ({"JOB_COMPLETION_INDEX": "9"}, 9),
    ],
)
def test_resolve_index(env, expected):
    assert resolve_index(None, env) == expected


def test_explicit_index_wins():
    assert resolve_index(2, {"FREIGHT_TASK_INDEX": "5"}) == 2


def test_missing_index_in_a_sweep_is_a_one_line_error(store, tmp_path):
    run = make_run(store, tmp_path, ["true"], [{"a": 1}, {"a": 2}])
    done = run_wrapper(run, None)
    assert done.returncode == 2
    assert done.stderr.startswith("freight.task: error: no task index")
    assert done.stderr.count("\n") == 1


def test_single_task_needs_no_index(store, tmp_path):
    run = make_run(store, tmp_path, ["true"])
    assert run_wrapper(run, None).returncode == 0
    assert state(run)["state"] == "succeeded"


def test_index_beyond_the_sweep_and_a_non_run_folder_are_errors(store, tmp_path):
    run = make_run(store, tmp_path, ["true"])
    done = run_wrapper(run, 5)
    assert done.returncode == 2 and "task 5 does not exist: the run has 1 tasks" in done.stderr
    bad = subprocess.run([sys.executable, "-m", "freight.task", str(tmp_path)], env=clean_env(),
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not a freight run folder" in bad.stderr


def test_missing_program_is_failed_with_127(store, tmp_path):
    run = make_run(store, tmp_path, ["freight-test-no-such-program", "x"])
    assert run_wrapper(run).returncode == 127
    final = state(run)
    assert final["state"] == "failed" and final["exit_code"] == 127
    assert "cannot run freight-test-no-such-program" in final["reason"]
    assert "cannot run freight-test-no-such-program" in final["log_tail"]


def test_placeholders_are_filled_in_one_pass():
    params = {"a": "{b}", "b": "B", "n": 3}
    assert fill_placeholders(["--a={a}", "{b}{n}", "{c}", "{}"], params) == ["--a={b}", "B3", "{c}", "{}"]


def test_the_wrapper_imports_nothing_heavy():
    code = "import sys, freight.task; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.check_output([sys.executable, "-c", code], text=True).split())
    assert not {"pydantic", "typer", "rich", "numpy", "jinja2"} & loaded
