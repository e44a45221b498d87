"""freight.toml / [tool.freight]: loading, validation with one-line errors, CLI precedence."""

from pathlib import Path

import pytest

from freight.errors import ConfigError, FreightError
from freight.spec.config import Config, load_config, merge_cli
from freight.spec.job import EnvMode
from freight.spec.resources import Resources

FULL = """
name = "xor"
command = "python train.py --lr {lr}"
target = "slurm"
env = "venv"
requirements = ["numpy>=1.24", "matplotlib"]
max_parallel = 4

[resources]
cpus = 2
mem = "4G"
gpus = 1
gpu_type = "a100"
time = "1:30:00"
nodes = 1
tasks_per_node = 2
disk = "20G"

[sweep]
mode = "grid"

[sweep.params]
lr = "log:1e-3:1e-1:3"
seed = [0, 1]

[env_vars]
WANDB_MODE = "offline"
THREADS = 4

[targets.slurm]
partition = "gpu"
account = "lab"
"""


def write(folder: Path, text: str, name: str = "freight.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def config_error(folder: Path, text: str, name: str = "freight.toml") -> str:
    write(folder, text, name)
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    line = caught.value.one_line()
    assert "\n" not in line
    return line


# ---------------------------------------------------------------- finding and loading


def test_no_file_gives_defaults(tmp_path):
    config = load_config(tmp_path)
    assert config == Config()
    assert config.source is None
    assert config.target == "local" and config.env is EnvMode.auto
    assert config.to_resources() == Resources()
    assert [task.params for task in config.tasks()] == [{}]


def test_full_freight_toml_loads_every_key(tmp_path):
    path = write(tmp_path, FULL)
    config = load_config(tmp_path / "train.py")  # a file in the project: its folder is searched
    assert config.source == path
    assert config.command == ["python", "train.py", "--lr", "{lr}"]
    assert (config.name, config.target, config.env) == ("xor", "slurm", EnvMode.venv)
    assert config.requirements == ["numpy>=1.24", "matplotlib"]
    assert config.max_parallel == 4
    assert config.env_vars == {"WANDB_MODE": "offline", "THREADS": "4"}
    assert config.targets == {"slurm": {"partition": "gpu", "account": "lab"}}
    resources = config.to_resources()
    assert (resources.cpus, resources.mem_mb, resources.gpus, resources.gpu_type) == (2, 4096, 1, "a100")
    assert (resources.time_s, resources.tasks_per_node, resources.disk_mb) == (5400, 2, 20480)
    assert [task.params for task in config.tasks()][:3] == [
        {"lr": 0.001, "seed": 0},
        {"lr": 0.001, "seed": 1},
        {"lr": 0.01, "seed": 0},
    ]


def test_pyproject_tool_freight_is_read_when_there_is_no_freight_toml(tmp_path):
    path = write(tmp_path, '[project]\nname = "p"\n\n[tool.freight]\nname = "p"\n[tool.freight.resources]\ncpus = 3\n', "pyproject.toml")
    config = load_config(tmp_path)
    assert config.source == path
    assert config.resources.cpus == 3


def test_pyproject_without_tool_freight_gives_defaults(tmp_path):
    write(tmp_path, '[project]\nname = "p"\n', "pyproject.toml")
    assert load_config(tmp_path) == Config()


def test_freight_toml_wins_over_pyproject(tmp_path):
    write(tmp_path, "[tool.freight]\ntarget = \"slurm\"\n", "pyproject.toml")
    write(tmp_path, 'target = "local"\n')
    assert load_config(tmp_path).target == "local"


def test_a_bare_time_is_minutes_as_in_sbatch(tmp_path):
    write(tmp_path, "[resources]\ntime = 90\nmem = 512\n")
    resources = load_config(tmp_path).to_resources()
    assert (resources.time_s, resources.mem_mb) == (5400, 512)


def test_sweep_file_is_relative_to_the_config_file(tmp_path):
    (tmp_path / "rows.csv").write_text("lr\n0.1\n0.2\n")
    write(tmp_path, '[sweep]\nfile = "rows.csv"\n[sweep.params]\nseed = [1, 2]\n')
    config = load_config(tmp_path)
    assert Path(config.sweep.file) == tmp_path / "rows.csv"
    assert len(config.tasks()) == 4


def test_sweep_knobs_do_not_take_parameter_names(tmp_path):
    write(tmp_path, "[sweep]\nrandom = 3\nseed = 5\n[sweep.params]\nseed = [1, 2, 3]\nmode = [\"a\"]\n")
    config = load_config(tmp_path)
    tasks = config.tasks()
    assert len(tasks) == 3
    assert {task.params["mode"] for task in tasks} == {"a"}
    assert tasks == config.tasks()  # seeded


# ---------------------------------------------------------------- one-line errors


def test_unknown_key_in_a_table_suggests_the_close_one(tmp_path):
    line = config_error(tmp_path, "[resources]\ncpu = 4\n")
    assert line == f"{tmp_path / 'freight.toml'}: unknown key 'cpu' in [resources] (did you mean 'cpus'?)"


def test_unknown_key_relative_path_reads_like_the_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[resources]\ncpu = 4\n")
    with pytest.raises(ConfigError) as caught:
        load_config(Path("."))
    assert caught.value.one_line() == "freight.toml: unknown key 'cpu' in [resources] (did you mean 'cpus'?)"


def test_unknown_top_level_key(tmp_path):
    line = config_error(tmp_path, 'comand = "python x.py"\n')
    assert line.endswith("unknown key 'comand' (did you mean 'command'?)")


def test_unknown_key_without_a_close_match_lists_the_known_ones(tmp_path):
    line = config_error(tmp_path, "[sweep]\nzzz = 1\n")
    assert "unknown key 'zzz' in [sweep]" in line
    assert "known keys: mode, random, seed, file, params" in line


def test_unknown_key_in_pyproject_names_the_tool_table(tmp_path):
    line = config_error(tmp_path, "[tool.freight.resources]\ngpu = 1\n", "pyproject.toml")
    assert line.endswith("pyproject.toml: unknown key 'gpu' in [tool.freight.resources] (did you mean 'gpus'?)")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[resources]\ncpus = -1\n", "bad value -1 for 'cpus' in [resources]: input should be greater than or equal to 1 (fix: a whole number of cores"),
        ('[resources]\nmem = "lots"\n', "bad value 'lots' for 'mem' in [resources]: memory 'lots' is not a size like 512M"),
        ("[resources]\nmem = 0\n", "'mem' in [resources]: a size must be above 0"),
        ('[resources]\ntime = "soon"\n', "'time' in [resources]: time 'soon' is not a duration"),
        ('[resources]\ntime = "0:00"\n', "a time limit must be above 0"),
        ("[resources]\ngpus = -2\n", "'gpus' in [resources]"),
        ('env = "conda"\n', "bad value 'conda' for 'env': input should be 'current', 'venv' or 'auto'"),
        ('command = "python \'unclosed"\n', "cannot split the command: No closing quotation"),
        ("command = []\n", "the command is empty"),
        ('requirements = ["numpy>=", "ok"]\n', "'numpy>=' is not a requirement"),
        ('requirements = "numpy"\n', "'requirements': input should be a valid list (fix: a list of requirement strings"),
        ("max_parallel = 0\n", "'max_parallel'"),
        ('[sweep]\nmode = "cross"\n', "'mode' in [sweep]: input should be 'grid' or 'zip'"),
        ("[sweep.params]\nlr = []\n", "sweep 'lr' has an empty list of values"),
        ('[sweep.params]\nlr = "log:0:1:3"\n', "bad range lr=log:0:1:3"),
        ('[env_vars]\n"BAD NAME" = "1"\n', "'BAD NAME' is not an environment variable name"),
        ("[env_vars]\nX = [1]\n", "bad value for 'X' in [env_vars]: input should be a valid string (fix: NAME"),
        ("[targets]\nslurm = 1\n", "bad value 1 for 'slurm' in [targets]: input should be a table"),
        ("name = \n", "not valid TOML"),
        ("resources = 3\n", "bad value 3 for 'resources': input should be a table"),
    ],
)
def test_bad_values_are_one_line_errors_naming_file_and_key(tmp_path, text, expected):
    line = config_error(tmp_path, text)
    assert line.startswith(str(tmp_path / "freight.toml") + ": ")
    assert expected in line


def test_env_var_booleans_become_1_and_0(tmp_path):
    write(tmp_path, "[env_vars]\nON = true\nOFF = false\n")
    assert load_config(tmp_path).env_vars == {"ON": "1", "OFF": "0"}


# ---------------------------------------------------------------- CLI precedence


def test_cli_overrides_the_file_and_none_means_not_given(tmp_path):
    write(tmp_path, FULL)
    config = merge_cli(load_config(tmp_path), cpus=8, mem="16G", target=None, name=None, env="current")
    assert config.resources.cpus == 8
    assert config.to_resources().mem_mb == 16 * 1024
    assert config.resources.gpus == 1  # from the file
    assert (config.target, config.name, config.env) == ("slurm", "xor", EnvMode.current)
    assert config.source == tmp_path / "freight.toml"


def test_cli_env_vars_are_added_to_the_files(tmp_path):
    write(tmp_path, FULL)
    config = merge_cli(load_config(tmp_path), env_vars={"THREADS": "8", "EXTRA": "1"})
    assert config.env_vars == {"WANDB_MODE": "offline", "THREADS": "8", "EXTRA": "1"}
    with pytest.raises(ConfigError, match="bad value for environment variable X"):
        merge_cli(config, env_vars={"X": [1]})


def test_cli_sweep_replaces_the_files_params(tmp_path):
    write(tmp_path, FULL)
    config = merge_cli(load_config(tmp_path), sweep=["lr=1e-3,1e-2"])
    assert [task.params for task in config.tasks()] == [{"lr": "1e-3"}, {"lr": "1e-2"}]


def test_cli_zip_random_seed_and_file(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"m": "a"}\n')
    config = merge_cli(Config(), sweep=["a=1,2", "b=3,4"], zip_=True)
    assert [task.params for task in config.tasks()] == [{"a": "1", "b": "3"}, {"a": "2", "b": "4"}]
    grid = merge_cli(config, zip_=False)
    assert len(grid.tasks()) == 4
    sampled = merge_cli(grid, sweep=["lr=log:1e-4:1e-1"], random=5, seed=1, sweep_file=rows)
    tasks = sampled.tasks()
    assert len(tasks) == 5 and all(task.params["m"] == "a" for task in tasks)
    assert tasks == sampled.tasks()


def test_defaults_then_cli_only(tmp_path):
    config = merge_cli(load_config(tmp_path), command=["python", "x.py"], gpus=2, time="2h")
    assert config.command == ["python", "x.py"]
    assert config.to_resources().time_s == 7200 and config.to_resources().gpus == 2


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"cpus": -1}, "bad value -1 for --cpus: input should be greater than or equal to 1"),
        ({"mem": "lots"}, "bad value 'lots' for --mem"),
        ({"time": "soon"}, "for --time"),
        ({"max_parallel": 0}, "for --max-parallel"),
        ({"env": "conda"}, "for --env"),
        ({"random": 0}, "for --random"),
        ({"sweep": ["lr=log:0:1:3"]}, "for --sweep: bad range lr=log:0:1:3"),
        ({"sweep": ["lr="]}, "--sweep lr= has no values"),
    ],
)
def test_bad_cli_values_name_the_flag(overrides, expected):
    with pytest.raises(ConfigError) as caught:
        merge_cli(Config(), **overrides)
    assert expected in caught.value.one_line()
    assert caught.value.path is None


def test_unknown_override_is_a_programming_error():
    with pytest.raises(TypeError, match="unknown override 'cpu'"):
        merge_cli(Config(), cpu=3)


def test_errors_are_freight_errors_with_exit_code_2(tmp_path):
    write(tmp_path, "[resources]\ncpu = 4\n")
    with pytest.raises(FreightError) as caught:
        load_config(tmp_path)
    assert caught.value.exit_code == 2
