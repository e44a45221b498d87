"""engines/enroot.py: the exact `enroot start` command line (enroot is not installed here:
rendered, not run)."""

import pytest

from freight.engines import get_engine
from freight.engines.enroot import CD_THEN_EXEC
from freight.errors import ConfigError


def test_enroot_start_mounts_sets_the_variables_and_enters_the_workdir():
    argv = get_engine("enroot").exec_argv(
        "/images/torch.sqsh", ["python3", "train.py", "a b"], mounts=["/proj", "/scratch:/data:ro"],
        env={"A": "x y"}, workdir="/proj", gpus=1)
    assert argv == [
        "env", "ENROOT_MOUNT_HOME=no", "enroot", "start",
        "--mount", "/proj:/proj:none:x-create=dir,bind",
        "--mount", "/scratch:/data:none:x-create=dir,bind,ro",
        "--env", "NVIDIA_VISIBLE_DEVICES=all", "--env", "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
        "--env", "A=x y",
        "/images/torch.sqsh", "sh", "-c", CD_THEN_EXEC, "sh", "/proj", "python3", "train.py", "a b",
    ]


def test_the_cd_wrapper_runs_the_command_literally_in_the_workdir(tmp_path):
    import subprocess

    done = subprocess.run(["sh", "-c", CD_THEN_EXEC, "sh", str(tmp_path), "sh", "-c", 'pwd; printf "%s|" "$@"',
                           "x", "a b", "$HOME"], capture_output=True, text=True, check=True)
    assert done.stdout == f"{tmp_path}\na b|$HOME|"


@pytest.mark.parametrize(("mounts", "env", "message"), [
    (["/my data"], {}, "enroot cannot bind '/my data'"),
    ([], {"A": "two\nlines"}, "enroot cannot pass \\$A"),
])
def test_what_enroot_cannot_carry_is_refused_in_one_line(mounts, env, message):
    with pytest.raises(ConfigError, match=message):
        get_engine("enroot").exec_argv("img", ["true"], mounts=mounts, env=env, workdir="/w")
