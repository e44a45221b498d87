"""`freight profiles check`: what a machine lacks for a profile, each with its fix; and the
`freight profiles list|show|check` commands on this machine."""

import json
import shutil

import pytest

from freight.sites.check import check_profile
from freight.sites.profile import BUILTIN_DIR, load_profile


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def findings(name, environ, have=()):
    return {f.what: f for f in check_profile(load_profile(name), environ, which=lambda p: f"/bin/{p}" if p in have else None)}


def test_a_login_node_with_everything_passes(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {"SCRATCH": str(scratch), "LMOD_CMD": "/opt/lmod/libexec/lmod"}
    found = findings("tacc-frontera", env, have={"sbatch", "squeue", "scancel", "srun", "apptainer"})
    assert list(found) == ["target", "scheduler", "engine", "modules", "scratch"]
    assert all(f.ok for f in found.values()), found
    assert found["scratch"].detail == f"{scratch} is a writable folder"


def test_a_laptop_lacks_each_thing_and_is_told_the_fix(tmp_path):
    found = findings("tacc-frontera", {})
    assert not any(f.ok for f in found.values() if f.what != "target")
    assert found["scheduler"].detail == "sbatch, squeue, scancel, srun not found"
    assert "login node" in found["scheduler"].fix and "slurm-client" in found["scheduler"].fix
    assert found["engine"].fix == "`module load tacc-apptainer` provides it on the site's nodes"
    assert found["modules"].fix == "run freight on the site's login node, where `module` is set up"
    assert found["scratch"].detail == "$SCRATCH: $SCRATCH is not set"
    assert found["scratch"].fix == "run freight on the site's login node, or export SCRATCH=…"


def test_scratch_that_does_not_exist_gets_mkdir_and_other_variables_are_listed(tmp_path):
    found = findings("nd-crc", {"USER": "ana"}, have={"qsub", "qstat", "qdel", "qrsh", "singularity"})
    assert found["scratch"].detail == "/scratch365/ana does not exist"
    assert found["scratch"].fix == "ask the site for a scratch folder, or run freight on its login node"
    assert found["scheduler"].ok and found["engine"].ok
    found = check_profile(load_profile("nd-crc"), {}, which=lambda p: None)
    assert [f.detail for f in found if f.what in ("scratch", "variable")] == ["/scratch365/$USER: $USER is not set"]


def test_the_htcondor_target_and_a_cpu_site_without_modules(tmp_path):
    chtc = findings("chtc", {}, have={"condor_submit", "condor_q"})
    assert chtc["target"].ok and chtc["target"].detail == "freight's htcondor target"
    assert chtc["scheduler"].ok and "engine" not in chtc
    ch = findings("slurm-charliecloud", {}, have={"sbatch", "squeue", "scancel", "srun"})
    assert list(ch) == ["target", "scheduler", "engine"]
    assert ch["engine"].detail == "charliecloud: ch-run not found"


def test_profiles_commands_on_this_machine(project):
    listed = json.loads(project.freight("profiles", "list", "--json", check=True).stdout)
    assert [p["name"] for p in listed] == ["chtc", "nd-crc", "nvidia-bcp", "slurm-charliecloud", "tacc-frontera"]
    shown = project.freight("profiles", "show", "nd-crc", check=True).stdout
    assert shown == (BUILTIN_DIR / "nd-crc.toml").read_text()
    done = project.freight("profiles", "check", "nd-crc", "--json", env={"USER": "ana"})
    report = json.loads(done.stdout)
    assert done.returncode == (0 if report["ok"] else 1)
    scheduler = next(f for f in report["findings"] if f["what"] == "scheduler")
    assert scheduler["ok"] == all(shutil.which(c) for c in ("qsub", "qstat", "qdel", "qrsh"))
    table = project.freight("profiles", "check", "nd-crc", env={"USER": "ana"})
    assert table.returncode == done.returncode and "/scratch365/ana" in table.stdout


def test_profiles_show_and_check_of_an_unknown_profile_are_one_line(project):
    for command in ("show", "check"):
        done = project.freight("profiles", command, "nd-rc")
        assert done.returncode == 2
        assert done.stderr == "freight: error: unknown profile 'nd-rc' (fix: did you mean 'nd-crc'?)\n"


def test_show_of_a_user_override_prints_both_files(project, user_config):
    path = user_config / "profiles" / "nd-crc.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[targets.sge]\nproject = "mylab"\n')
    env = {"FREIGHT_CONFIG_DIR": str(user_config)}
    shown = project.freight("profiles", "show", "nd-crc", env=env, check=True).stdout
    assert shown.startswith(f"# ==> {BUILTIN_DIR / 'nd-crc.toml'} <==\n")
    assert shown.endswith(f"# ==> {path} <==\n[targets.sge]\nproject = \"mylab\"\n")
    merged = json.loads(project.freight("profiles", "show", "nd-crc", "--json", env=env, check=True).stdout)
    assert merged["origin"] == "built-in + user"
    assert merged["settings"]["targets"]["sge"]["project"] == "mylab"
    assert merged["settings"]["targets"]["sge"]["gpu_resource"] == "gpu_card"
