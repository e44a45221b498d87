"""Site profiles: the built-in ones load and render, layering (defaults < profile < freight.toml <
command line), $NAME from this machine, user profiles on top of built-in ones, and one-line
errors for bad profiles."""

from pathlib import Path

import pytest
from clusters import shellcheck

from freight.errors import ConfigError
from freight.runs import launch, preview
from freight.sched.sge import load_options
from freight.sites.profile import BUILTIN_DIR, apply_profile, load_profile, profile_files
from freight.spec.config import load_config

SEED_SITES = ["chtc", "nd-crc", "nvidia-bcp", "slurm-charliecloud", "tacc-frontera"]
SITE_ENV = {"SCRATCH": "/scratch1/0042/ana", "USER": "ana"}


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch) -> Path:
    """An empty user config folder (profiles/ inside), and the sites' variables set."""
    folder = tmp_path / "config"
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(folder))
    for name, value in SITE_ENV.items():
        monkeypatch.setenv(name, value)
    return folder


def user_profile(config: Path, name: str, text: str) -> Path:
    path = config / "profiles" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def build(folder: Path, source: str = "train.py", toml: str | None = None, **overrides):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text("print('hi')\n")
    if toml is not None:
        (folder / "freight.toml").write_text(toml)
    flags = {k: v for k, v in overrides.items() if k in ("partition", "queue", "account")}
    request = launch.RunRequest(source, [], {k: v for k, v in overrides.items() if k not in flags},
                                cwd=folder, target_options=flags)
    job, config, _ = launch.build_job(request, folder / ".freight")
    return job, config


def test_the_seed_sites_are_built_in_and_valid():
    assert list(profile_files()) == SEED_SITES
    targets = {name: load_profile(name).target for name in SEED_SITES}
    assert targets == {"chtc": "htcondor", "nd-crc": "sge", "nvidia-bcp": "basecommand",
                       "slurm-charliecloud": "slurm", "tacc-frontera": "slurm"}
    for name in SEED_SITES:
        profile = load_profile(name)
        assert profile.origin == "built-in" and profile.site.description and profile.site.docs
    assert load_options(load_profile("nd-crc").settings["targets"]["sge"]).gpu_resource == "gpu_card"


def test_tacc_frontera_from_the_seed(tmp_path):
    """rtx for GPU work, module load tacc-apptainer, apptainer, the image cache on $SCRATCH."""
    job, config = build(tmp_path, profile="tacc-frontera", gpus=1)
    assert config.target == "slurm"
    assert job.container is None  # the profile names the engine; the image is the user's
    assert config.container.engine == "apptainer"
    assert job.target_options["gpu_partition"] == "rtx" and job.target_options["modules"] == ["tacc-apptainer"]
    assert job.env["APPTAINER_CACHEDIR"] == "/scratch1/0042/ana/.apptainer/cache"
    _, files = preview.render_scripts(job, config.target, tmp_path / ".freight")
    script = files["slurm.sbatch"]
    assert "#SBATCH --partition=rtx" in script and "--gres" not in script
    assert "module load tacc-apptainer" in script
    cpu_job, _ = build(tmp_path, profile="tacc-frontera")
    _, files = preview.render_scripts(cpu_job, "slurm", tmp_path / ".freight")
    assert "#SBATCH --partition=small" in files["slurm.sbatch"]


def test_nd_crc_gpu_jobs_ask_for_gpu_cards_in_the_gpu_queue(tmp_path):
    job, config = build(tmp_path, profile="nd-crc", gpus=2, cpus=4)
    assert config.target == "sge" and config.container.engine == "singularity"
    assert job.env["SINGULARITY_CACHEDIR"] == "/scratch365/ana/.singularity/cache"
    _, files = preview.render_scripts(job, "sge", tmp_path / ".freight")
    lines = [line for line in files["sge-1.sh"].splitlines() if line.startswith("#$ ")]
    assert {"#$ -q gpu", "#$ -l gpu_card=2", "#$ -pe smp 4"} <= set(lines)
    cpu_job, _ = build(tmp_path, profile="nd-crc")
    _, files = preview.render_scripts(cpu_job, "sge", tmp_path / ".freight")
    assert "#$ -q long" in files["sge-1.sh"] and "gpu_card" not in files["sge-1.sh"]


@pytest.mark.parametrize("name", ["tacc-frontera", "nd-crc", "slurm-charliecloud"])
def test_each_runnable_profile_renders_a_script_that_passes_shellcheck(tmp_path, name):
    job, config = build(tmp_path, profile=name, sweep=["lr=0.1,0.2"], cpus=2, mem="4G", time="30")
    _, files = preview.render_scripts(job, config.target, tmp_path / ".freight")
    assert files
    for file_name, text in files.items():
        path = tmp_path / file_name
        path.write_text(text)
        shellcheck(path)


# chtc and nvidia-bcp (htcondor, basecommand targets): tests/sites/test_profile_chtc_bcp.py


def test_chtc_resources_come_underneath_the_command_line(tmp_path):
    job, _ = build(tmp_path, profile="chtc", target="local", mem="2G")
    assert job.resources.mem_mb == 2048 and job.resources.disk_mb == 1024  # mem: flag; disk: profile


def test_a_cpu_only_site_refuses_gpus(tmp_path):
    with pytest.raises(ConfigError, match="'slurm-charliecloud' is a CPU-only site: it has no GPUs for --gpus 1"):
        build(tmp_path, profile="slurm-charliecloud", gpus=1)


def test_layers_defaults_profile_file_command_line(tmp_path, user_config):
    user_profile(user_config, "tacc-frontera", '[targets.slurm]\nsbatch_args = ["--constraint", "rtx"]\n')
    toml = """
profile = "tacc-frontera"
[resources]
cpus = 4
[env_vars]
WANDB_MODE = "offline"
[targets.slurm]
partition = "development"
modules = ["cuda/12.2", "tacc-apptainer"]
sbatch_args = ["--constraint", "ib"]
"""
    job, config = build(tmp_path, toml=toml, account="MyAlloc", cpus=8)
    assert config.profile == "tacc-frontera" and config.target == "slurm"  # profile over defaults
    options = job.target_options
    assert options["partition"] == "development"  # freight.toml over profile
    assert options["gpu_partition"] == "rtx"  # profile, untouched
    assert options["modules"] == ["tacc-apptainer", "cuda/12.2"]  # lists add up, profile's first
    assert options["sbatch_args"] == ["--constraint", "rtx", "--constraint", "ib"]  # repeats kept
    assert options["account"] == "MyAlloc" and job.resources.cpus == 8  # command line over all
    assert job.env == {"APPTAINER_CACHEDIR": "/scratch1/0042/ana/.apptainer/cache", "WANDB_MODE": "offline"}
    job, config = build(tmp_path, toml=toml, target="local", profile="nd-crc")
    assert config.profile == "nd-crc" and "SINGULARITY_CACHEDIR" in job.env  # --profile over the file's


def test_no_profile_changes_nothing(tmp_path):
    (tmp_path / "freight.toml").write_text("[resources]\ncpus = 2\n")
    config = load_config(tmp_path)
    assert apply_profile(config) is config


def test_an_unset_variable_is_a_one_line_error_and_dollar_dollar_is_a_dollar(tmp_path, monkeypatch, user_config):
    monkeypatch.delenv("SCRATCH")
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, profile="tacc-frontera")
    assert caught.value.one_line() == (
        f"{BUILTIN_DIR / 'tacc-frontera.toml'}: profile 'tacc-frontera' uses $SCRATCH, which is not set on "
        "this machine (fix: run freight where the site sets it (its login node), or export SCRATCH=…)")
    user_profile(user_config, "lab", '[env_vars]\nPRICE = "$$5 for ${USER}"\nTEXT = "a b\'c"\n')
    job, _ = build(tmp_path, profile="lab")
    assert job.env == {"PRICE": "$5 for ana", "TEXT": "a b'c"}


def test_a_user_profile_lies_on_top_of_the_built_in_one_or_adds_one(tmp_path, user_config):
    user_profile(user_config, "tacc-frontera", '[targets.slurm]\naccount = "MyAlloc"\nmodules = ["cuda"]\n')
    user_profile(user_config, "mylab", 'target = "slurm"\n[site]\ndescription = "my lab"\n'
                 '[targets.slurm]\npartition = "gpu"\n')
    assert list(profile_files()) == sorted([*SEED_SITES, "mylab"])
    tacc = load_profile("tacc-frontera")
    assert tacc.origin == "built-in + user" and tacc.files[0].parent == BUILTIN_DIR
    assert tacc.settings["targets"]["slurm"]["modules"] == ["tacc-apptainer", "cuda"]
    assert tacc.settings["targets"]["slurm"]["account"] == "MyAlloc"
    assert tacc.site.description.startswith("TACC Frontera")  # the built-in [site] stays
    job, config = build(tmp_path, profile="mylab")
    assert config.target == "slurm" and job.target_options == {"partition": "gpu"}
    assert load_profile("mylab").origin == "user"


@pytest.mark.parametrize("text,message", [
    ('[resources]\ncpu = 2\n', "unknown key 'cpu' in [resources] (did you mean 'cpus'?)"),
    ('targt = "slurm"\n', "unknown key 'targt' (did you mean 'target'?)"),
    ('[site]\ndescripton = "x"\n', "unknown key 'descripton' in [site] (did you mean 'description'?)"),
    ('[targets.slurm]\npartiton = "gpu"\n', "[targets.slurm] has no setting 'partiton' (fix: did you mean 'partition'?)"),
    ('[targets.sge]\ngpu_resouce = "gpu_card"\n', "[targets.sge] has no setting 'gpu_resouce' (fix: did you mean 'gpu_resource'?)"),
    ('command = ["python", "x.py"]\n', "'command' describes a run, not a site (fix: put it in the project's freight.toml)"),
    ('[sweep.params]\nx = [1, 2]\n', "'sweep' describes a run, not a site"),
    ('[resources]\ncpus = "many"\n', "bad value 'many' for 'cpus' in [resources]"),
])
def test_a_bad_user_profile_is_one_line_naming_file_and_key(tmp_path, user_config, text, message):
    path = user_profile(user_config, "broken", text)
    with pytest.raises(ConfigError) as caught:
        load_profile("broken")
    line = caught.value.one_line()
    assert line.startswith(f"{path}: {message}") and "\n" not in line


def test_an_unknown_profile_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, profile="tacc-fronter")
    assert caught.value.one_line() == "unknown profile 'tacc-fronter' (fix: did you mean 'tacc-frontera'?)"
    with pytest.raises(ConfigError) as caught:
        load_profile("zzz")
    assert caught.value.one_line() == ("unknown profile 'zzz' (fix: known profiles: chtc, nd-crc, nvidia-bcp, "
                                       "slurm-charliecloud, tacc-frontera)")
