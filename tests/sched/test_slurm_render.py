"""The Slurm target without a cluster: the rendered sbatch scripts (a golden file, every resource,
quoting for sbatch's own #SBATCH parser, shellcheck on every variant, the script run by bash as
Slurm would), chunking of sweeps into arrays, and the Slurm state mapping."""

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from freight.errors import ConfigError
from freight.runs.store import RunStore
from freight.sched.slurm import (
    SlurmTarget,
    array_spec,
    parse_array_spec,
    plan_chunks,
    sbatch_word,
    slurm_task_state,
)
from freight.spec.job import Job, Task
from freight.spec.resources import Resources
from freight.spec.state import TaskState

GOLDEN = Path(__file__).parent / "golden"
FULL_OPTIONS = {
    "partition": "gpu", "account": "proj-42", "qos": "high", "gpu_syntax": "gres",
    "modules": ["tacc-apptainer", "cuda/12.2"], "env": {"APPTAINER_CACHEDIR": "/scratch/my cache"},
    "sbatch_args": ["--reservation=course day", "--constraint", "a100&ib", "--mail-type=END"],
    "signal": "USR1@90",
}
FULL_RESOURCES = Resources(cpus=8, mem_mb="16G", gpus=2, gpu_type="a100", time_s="1:30:00",
                           nodes=2, tasks_per_node=4, disk_mb="20G")


def make_run(tmp_path, options=None, resources=None, rows=3, workdir=None, max_parallel=None, run_id="r1"):
    job = Job(name="train", command=["python", "train.py", "--lr", "{lr}"],
              workdir=str(workdir or tmp_path), resources=resources or Resources(),
              tasks=[Task(index=i, params={"lr": str(i)}) for i in range(rows)],
              max_parallel=max_parallel, target_options=options or {}, python=sys.executable)
    return RunStore(tmp_path / ".freight").create_run(job, "slurm", run_id=run_id)


def render(run, indices=None) -> dict[str, str]:
    return SlurmTarget().render(run, list(range(run.n_tasks)) if indices is None else indices)


def sbatch_lines(script: str) -> list[str]:
    return [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH ")]


def test_full_script_matches_golden_file(tmp_path):
    run = make_run(tmp_path, FULL_OPTIONS, FULL_RESOURCES, max_parallel=4)
    script = render(run)["slurm.sbatch"]
    stable = script.replace(str(run.paths.root), "<RUN_DIR>").replace(str(tmp_path), "<PROJECT>")
    stable = stable.replace(sys.executable, "<PYTHON>")
    golden = GOLDEN / "slurm_full.sbatch"
    if os.environ.get("FREIGHT_UPDATE_GOLDEN"):
        golden.write_text(stable)
    assert stable == golden.read_text()


def test_every_resource_becomes_a_directive(tmp_path):
    run = make_run(tmp_path, FULL_OPTIONS, FULL_RESOURCES, max_parallel=4)
    lines = sbatch_lines(render(run)["slurm.sbatch"])
    logs = f"{run.paths.root}/sched-logs"
    assert lines == [
        "--job-name=train", "--comment=freight:r1", "--partition=gpu", "--account=proj-42",
        "--qos=high", "--time=01:30:00", "--nodes=2", "--ntasks-per-node=4", "--cpus-per-task=8",
        "--mem=16384M", "--tmp=20480M", "--gres=gpu:a100:2",
        f"--output={logs}/%A_%a.out", f"--error={logs}/%A_%a.err", "--array=0-2%4",
        "--signal=B:USR1@90", "--no-requeue",
        '"--reservation=course day"', "--constraint", '"a100&ib"', "--mail-type=END",
    ]


def test_a_plain_job_asks_only_for_what_it_needs(tmp_path):
    run = make_run(tmp_path, rows=1)
    lines = sbatch_lines(render(run)["slurm.sbatch"])
    assert [line.split("=")[0] for line in lines] == [
        "--job-name", "--comment", "--nodes", "--ntasks-per-node", "--cpus-per-task",
        "--output", "--error", "--array", "--no-requeue"]
    assert "--array=0" in lines


@pytest.mark.parametrize("syntax, gpu_type, expected", [
    ("gres", None, "--gres=gpu:2"),
    ("gres", "v100", "--gres=gpu:v100:2"),
    ("gpus", None, "--gpus=2"),
    ("gpus-per-task", "a100", "--gpus-per-task=a100:2"),
    ("none", "rtx", None),
])
def test_gpu_request_syntax(tmp_path, syntax, gpu_type, expected):
    run = make_run(tmp_path, {"gpu_syntax": syntax}, Resources(gpus=2, gpu_type=gpu_type))
    gpu_lines = [line for line in sbatch_lines(render(run)["slurm.sbatch"]) if line.startswith(("--gres", "--gpu"))]
    assert gpu_lines == ([expected] if expected else [])


@pytest.mark.parametrize("seconds, expected", [(30, "00:00:30"), (5400, "01:30:00"), (2 * 86400 + 61, "2-00:01:01")])
def test_time_limit_format(tmp_path, seconds, expected):
    run = make_run(tmp_path, resources=Resources(time_s=seconds))
    assert f"--time={expected}" in sbatch_lines(render(run)["slurm.sbatch"])


@pytest.mark.parametrize("value, expected", [
    ("--partition=gpu", "--partition=gpu"),
    ("a b", '"a b"'),
    ("it's", '"it\'s"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("#not-a-comment", '"#not-a-comment"'),
    ("$HOME;id", '"$HOME;id"'),
    ("", '""'),
])
def test_sbatch_words_are_quoted_for_sbatchs_parser(value, expected):
    assert sbatch_word(value) == expected


@pytest.mark.parametrize("options", [
    {"partition": "gpu\n#SBATCH --account=someone-else"},
    {"sbatch_args": ["--comment=two\nlines"]},
])
def test_a_line_break_in_an_sbatch_value_is_refused(tmp_path, options):
    with pytest.raises(ConfigError, match="line break"):
        render(make_run(tmp_path, options))


@pytest.mark.parametrize("options, message", [
    ({"partiton": "gpu"}, "did you mean 'partition'"),
    ({"gpu_syntax": "--gres"}, "gpu_syntax"),
    ({"signal": "USR1 90"}, "USR1@90"),
    ({"env": {"NOT A NAME": "x"}}, "not an environment variable name"),
    ({"max_array_size": 1}, "max_array_size"),
])
def test_bad_target_options_are_one_line_config_errors(tmp_path, options, message):
    with pytest.raises(ConfigError) as caught:
        render(make_run(tmp_path, options))
    assert message in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_sweeps_over_the_array_limit_become_several_scripts_with_offsets(tmp_path):
    run = make_run(tmp_path, {"max_array_size": 10}, rows=25)
    scripts = render(run)
    assert sorted(scripts) == ["slurm-0.sbatch", "slurm-1.sbatch", "slurm-2.sbatch"]
    arrays = [[line for line in sbatch_lines(scripts[name]) if line.startswith("--array")] for name in sorted(scripts)]
    assert arrays == [["--array=0-9"], ["--array=0-9"], ["--array=0-4"]]
    offsets = [[line for line in scripts[name].splitlines() if "FREIGHT_INDEX_OFFSET=" in line] for name in sorted(scripts)]
    assert offsets == [["export FREIGHT_INDEX_OFFSET=0"], ["export FREIGHT_INDEX_OFFSET=10"],
                       ["export FREIGHT_INDEX_OFFSET=20"]]


def test_a_retry_is_an_array_over_just_the_given_indices(tmp_path):
    run = make_run(tmp_path, rows=20)
    assert "--array=3,7,12-15" in sbatch_lines(render(run, [15, 3, 12, 7, 13, 14])["slurm.sbatch"])


@pytest.mark.parametrize("indices, max_size, max_tasks, expected", [
    (range(25), 10, None, [(0, "0-9"), (10, "0-9"), (20, "0-4")]),
    (range(2500), 1001, None, [(0, "0-1000"), (1001, "0-1000"), (2002, "0-497")]),
    ([3, 7, 12, 13, 14, 15], 1001, None, [(0, "3,7,12-15")]),
    ([5, 1500, 1502, 2600], 1001, None, [(0, "5"), (1500, "0,2"), (2600, "0")]),
    (range(10), 1001, 4, [(0, "0-3"), (0, "4-7"), (0, "8-9")]),
])
def test_plan_chunks(indices, max_size, max_tasks, expected):
    chunks = plan_chunks(list(indices), max_size, max_tasks)
    assert [(c.offset, c.spec) for c in chunks] == expected


def test_plan_chunks_keeps_the_spec_string_short():
    chunks = plan_chunks(list(range(0, 1000, 2)), 1001, max_chars=100)
    assert len(chunks) > 1
    assert all(len(c.spec) <= 100 for c in chunks)


@pytest.mark.parametrize("seed", range(20))
def test_every_index_lands_in_exactly_one_array_below_the_limit(seed):
    rng = random.Random(seed)
    indices = rng.sample(range(5000), rng.randint(1, 3000))
    max_size, max_tasks = rng.choice([10, 101, 1001]), rng.choice([None, 7, 500])
    chunks = plan_chunks(indices, max_size, max_tasks, max_chars=rng.choice([60, 10_000]))
    covered = [chunk.offset + n for chunk in chunks for n in parse_array_spec(chunk.spec)]
    assert sorted(covered) == sorted(indices)
    assert all(0 <= n < max_size for chunk in chunks for n in parse_array_spec(chunk.spec))
    assert all(max_tasks is None or len(chunk.indices) <= max_tasks for chunk in chunks)


@pytest.mark.parametrize("spec, numbers", [("0-2,5,7-8", [0, 1, 2, 5, 7, 8]), ("4", [4]),
                                           ("[1-7:3%2]", [1, 4, 7]), ("0-3%2", [0, 1, 2, 3])])
def test_array_specs_read_back(spec, numbers):
    assert parse_array_spec(spec) == numbers
    if ":" not in spec and "%" not in spec:
        assert array_spec(numbers) == spec


@pytest.mark.parametrize("slurm, expected", [
    ("PENDING", (TaskState.queued, None)),
    ("RUNNING", (TaskState.running, None)),
    ("COMPLETING", (TaskState.running, None)),
    ("COMPLETED", (TaskState.succeeded, None)),
    ("FAILED", (TaskState.failed, "failed")),
    ("CANCELLED by 0", (TaskState.cancelled, "cancelled")),
    ("CANCELLED+", (TaskState.cancelled, "cancelled")),
    ("TIMEOUT", (TaskState.failed, "timeout")),
    ("OUT_OF_MEMORY", (TaskState.failed, "oom")),
    ("NODE_FAIL", (TaskState.lost, "node failure")),
    ("PREEMPTED", (TaskState.lost, "preempted")),
    ("REQUEUED", (TaskState.queued, None)),
    ("SOMETHING_NEW", None),
    ("", None),
])
def test_slurm_states_map_to_task_states(slurm, expected):
    assert slurm_task_state(slurm) == expected


# -- the script itself ----------------------------------------------------------------------


def variants(tmp_path) -> dict[str, str]:
    """Every rendered variant worth checking, by name."""
    odd = tmp_path / "it's a $project; `x` \"dir\""
    odd.mkdir()
    cases = {
        "plain": make_run(tmp_path / "a", rows=1),
        "full": make_run(tmp_path / "b", FULL_OPTIONS, FULL_RESOURCES, max_parallel=2),
        "chunked": make_run(tmp_path / "c", {"max_array_size": 4, "modules": ["a b"]}, rows=9),
        "odd-paths": make_run(odd, {"python": str(odd / "bin" / "python 3"), "env": {"X": "$(id)'\""}}),
        "gpus-per-task": make_run(tmp_path / "d", {"gpu_syntax": "gpus-per-task"}, Resources(gpus=1)),
    }
    return {f"{name}/{file}": text for name, run in cases.items() for file, text in render(run).items()}


def test_every_rendered_variant_passes_shellcheck(tmp_path):
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is missing in CI: ci/install.sh installs Debian's package")
        pytest.skip("shellcheck not installed (apt install shellcheck)")
    scripts = variants(tmp_path)
    assert len(scripts) == 7
    for name, text in scripts.items():
        path = tmp_path / (name.replace("/", "-"))
        path.write_text(text)
        done = subprocess.run(["shellcheck", "-S", "warning", "-f", "gcc", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{text}"


def test_the_script_run_as_slurm_would_runs_the_right_task(tmp_path):
    """bash runs the rendered script with Slurm's array variable; a leaked FREIGHT_TASK_INDEX
    must not win, the offset is added, module and env lines reach the program literally."""
    project = tmp_path / "p q"
    project.mkdir()
    (project / "show.py").write_text(
        "import json, os, sys\nprint(json.dumps([sys.argv[1:], os.environ['SITE_VAR']]))\n")
    run = make_run(project, {"max_array_size": 4, "modules": ["tacc apptainer", "$x"],
                             "env": {"SITE_VAR": "a b $HOME 'q'"}}, rows=9)
    job = run.paths.job.read_text().replace('"train.py"', '"show.py"')
    run.paths.job.write_text(job)
    script = tmp_path / "array1.sh"
    script.write_text(render(run)["slurm-1.sbatch"])  # tasks 4..7
    module_log = tmp_path / "module.log"
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "2", "FREIGHT_TASK_INDEX": "0", "MODULE_LOG": str(module_log),
           "BASH_FUNC_module%%": '() { printf "%s\\n" "$@" > "$MODULE_LOG"; }'}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert module_log.read_text().splitlines() == ["load", "tacc apptainer", "$x"]
    out = (run.paths.task_dir(6) / "stdout.log").read_text().strip()
    assert out == '[["--lr", "6"], "a b $HOME \'q\'"]'
    assert not run.paths.task_dir(0).exists() and not run.paths.task_dir(2).exists()
