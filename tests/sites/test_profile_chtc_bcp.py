"""The chtc and nvidia-bcp profiles with their targets (htcondor, basecommand): the seeds' values
reach the rendered submit description and ngc commands, and the profiles' target options pass
the targets' own option models."""


import pytest

from support import ngc_calls

from freight.runs import launch, preview
from freight.sched.basecommand import load_options as bcp_options
from freight.sched.htcondor_render import load_options as condor_options
from freight.sites.profile import load_profile


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(folder))
    return folder


def build(folder, **overrides):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text("print('hi')\n")
    request = launch.RunRequest("train.py", [], overrides, cwd=folder, target_options={})
    job, config, _ = launch.build_job(request, folder / ".freight")
    return job, config


def test_the_profiles_target_options_pass_the_targets_models():
    chtc = condor_options(load_profile("chtc").settings["targets"]["htcondor"])
    assert (chtc.universe, chtc.transfer_input, chtc.want_gpu_lab, chtc.gpu_job_length) == ("container", True, True, "short")
    bcp = bcp_options(load_profile("nvidia-bcp").settings["targets"]["basecommand"])
    assert bcp.instances["8"] == "dgxa100.80g.8.norm" and bcp.workspace_mount == "/mnt/workspace"


def test_chtc_renders_a_gpu_lab_container_job(tmp_path):
    job, config = build(tmp_path, profile="chtc", gpus=1, image="chtc_user/pytorch:v1")
    assert config.target == "htcondor"
    _, files = preview.render_scripts(job, "htcondor", tmp_path / ".freight")
    lines = set(files["htcondor.sub"].splitlines())
    assert {"universe = container", "container_image = docker://chtc_user/pytorch:v1", "request_gpus = 1",
            "+WantGPULab = true", '+GPUJobLength = "short"', "request_memory = 1024M", "request_disk = 1024M",
            "should_transfer_files = YES", "gpus_minimum_capability = 7.0"} <= lines


def test_nvidia_bcp_renders_ngc_jobs_with_the_users_org_team_ace(tmp_path, user_config):
    profile = user_config / "profiles" / "nvidia-bcp.toml"
    profile.parent.mkdir(parents=True)
    profile.write_text('[targets.basecommand]\norg = "r2kuatviomfd"\nteam = "internal-sandbox"\n'
                       'ace = "sa-nvex-scus-ace"\nworkspace = "ana_containers"\n')
    job, config = build(tmp_path, profile="nvidia-bcp", gpus=4, image="nvcr.io/r2kuatviomfd/internal-sandbox/x:1")
    assert config.target == "basecommand"
    _, files = preview.render_scripts(job, "basecommand", tmp_path / ".freight")
    (words,) = [argv for argv in ngc_calls(tmp_path, files["basecommand.sh"]) if argv[1] == "base-command"]
    assert words[words.index("--instance") + 1] == "dgxa100.80g.4.norm"
    assert words[words.index("--ace") + 1] == "sa-nvex-scus-ace"
    assert words[words.index("--workspace") + 1] == "ana_containers:/mnt/workspace:RW"
