"""engines/pyxis.py: the exact `srun --container-image=…` command line (pyxis is not
installable here: rendered, not run)."""

import pytest

from freight.engines import get_engine
from freight.errors import ConfigError


def test_pyxis_runs_a_step_in_the_image_with_mounts_workdir_and_the_task_variables():
    argv = get_engine("pyxis").exec_argv(
        "nvcr.io#nvidia/pytorch:24.01-py3", ["python3", "train.py"],
        mounts=["/proj", "/scratch:/data:ro"], env={"A": "x, y", "FREIGHT_TASK_INDEX": "3"},
        workdir="/proj", gpus=4)
    assert argv == [
        "env", "A=x, y", "FREIGHT_TASK_INDEX=3",
        "srun", "--container-image=nvcr.io#nvidia/pytorch:24.01-py3",
        "--container-mounts=/proj:/proj,/scratch:/data:ro", "--container-workdir=/proj",
        "--no-container-mount-home", "--container-env=A,FREIGHT_TASK_INDEX", "python3", "train.py",
    ]


def test_pyxis_interactive_asks_for_a_pty_and_omits_empty_lists():
    argv = get_engine("pyxis").exec_argv("ubuntu:22.04", ["bash"], mounts=[], env={}, workdir="/w",
                                         interactive=True)
    assert argv == ["srun", "--container-image=ubuntu:22.04", "--container-workdir=/w",
                    "--no-container-mount-home", "--pty", "bash"]


def test_a_comma_in_a_mount_path_is_refused():
    with pytest.raises(ConfigError, match="pyxis cannot bind"):
        get_engine("pyxis").exec_argv("img", ["true"], mounts=["/a,b"], env={}, workdir="/w")


def test_pyxis_is_not_available_where_srun_has_no_container_options():
    import shutil

    from freight.engines import pick_engine
    from freight.errors import MissingToolError

    if shutil.which("srun") is None:
        pytest.skip("srun is not installed: start Slurm with `sudo bash ci/slurm.sh up`")
    assert get_engine("pyxis").available() is False  # this Slurm has no pyxis plugin
    with pytest.raises(MissingToolError, match="pyxis"):
        pick_engine("pyxis")
