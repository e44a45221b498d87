"""engines/charliecloud.py: the exact ch-run command line, and real runs with Debian's ch-run
0.31 on the image `bash ci/containers.sh up` makes (skipped without it; failed in CI)."""

import json
import os
import shutil
import subprocess

import pytest
from ci_images import PRINT_ENV, require

from freight.engines import get_engine
from freight.engines.base import Mount
from freight.engines.charliecloud import DEFAULT_PATH
from freight.engines.wrap import engine_env
from freight.errors import ConfigError, FreightError

ENGINE = get_engine("charliecloud")


def test_ch_run_starts_from_an_empty_environment_and_sets_each_variable_literally():
    argv = ENGINE.exec_argv("/images/torch.sqfs", ["python3", "train.py"], mounts=["/proj", "/scratch:/data"],
                            env={"A": "x 'y'", "B": "$HOME:$PATH"}, workdir="/proj", gpus=1)
    assert argv == [
        "env", "-u", "TMPDIR", "ch-run", "--unset-env=*", f"--set-env=PATH={DEFAULT_PATH}", "--set-env",
        "--env-no-expand", "--set-env=A='x 'y''", "--set-env=B='$HOME:$PATH'",
        "-b", "/proj:/proj", "-b", "/scratch:/data", "-c", "/proj", "/images/torch.sqfs", "--",
        "python3", "train.py",
    ]  # no GPU flag: ch-run has none (see gpu_note)


def test_a_directory_image_without_ch_environment_gets_no_image_env(tmp_path):
    argv = ENGINE.exec_argv(str(tmp_path), ["true"], mounts=[], env={}, workdir="/")
    assert "--set-env" not in argv
    (tmp_path / "ch").mkdir()
    (tmp_path / "ch" / "environment").write_text("A=1\n")
    assert "--set-env" in ENGINE.exec_argv(str(tmp_path), ["true"], mounts=[], env={}, workdir="/")


def test_read_only_binds_are_refused():
    with pytest.raises(ConfigError, match="ch-run cannot bind read-only"):
        ENGINE.exec_argv("img", ["true"], mounts=["/data:ro"], env={}, workdir="/w")


def test_prepare_creates_missing_mount_points_in_a_directory_image_except_under_tmp(tmp_path):
    image = tmp_path / "img"
    (image / "srv").mkdir(parents=True)
    ENGINE.prepare(str(image), [Mount("/x", "/srv/data/in"), Mount("/tmp/p", "/tmp/p"), Mount("/y", "/srv")])
    assert sorted(str(p.relative_to(image)) for p in image.rglob("*")) == ["srv", "srv/data", "srv/data/in"]


def test_prepare_says_why_it_cannot_make_a_mount_point(tmp_path):
    (tmp_path / "data").write_text("a file where the mount point should be")
    with pytest.raises(FreightError, match="ch-run needs the mount point /data/in in image"):
        ENGINE.prepare(str(tmp_path), [Mount("/somewhere", "/data/in")])


def test_prepare_leaves_squashfs_images_alone(tmp_path):
    image = tmp_path / "img.sqfs"
    image.write_bytes(b"")
    ENGINE.prepare(str(image), [Mount("/x", "/data")])
    assert list(tmp_path.iterdir()) == [image]


# --- real ch-run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images():
    return require("charliecloud")


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, env=engine_env(dict(os.environ)), **kwargs)


@pytest.mark.parametrize("kind", ["FREIGHT_CI_CH_SQFS", "FREIGHT_CI_CH_DIR"])
def test_ch_run_gives_the_program_exactly_the_task_variables_and_the_image_env(images, kind, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKED_FROM_HOST", "yes")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "job-tmp"))  # as Grid Engine sets it per job
    values = {"P": "a b; $HOME `id` 'q' \"dq\"", "PATHLIKE": "$PATH:/x", "EMPTY": "", "NL": "one\ntwo"}
    done = run(ENGINE.exec_argv(images[kind], [*PRINT_ENV, "lit $HOME"], mounts=[str(tmp_path)],
                                env=values, workdir=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    env, cwd, args = json.loads(done.stdout)
    assert {k: env[k] for k in values} == values
    assert "LEAKED_FROM_HOST" not in env and "HOME" not in env and "TMPDIR" not in env
    assert env["FREIGHT_CI_IMAGE_ENV"] == "from-image" and env["PATH"] == DEFAULT_PATH
    assert (cwd, args) == (str(tmp_path), ["lit $HOME"])


def test_ch_run_runs_in_the_image_and_writes_through_the_bind(images, tmp_path):
    argv = ENGINE.exec_argv(images["FREIGHT_CI_CH_SQFS"], ["sh", "-c", "cat /etc/freight-ci-image > out.txt"],
                            mounts=[str(tmp_path)], env={}, workdir=str(tmp_path))
    assert run(argv).returncode == 0
    assert (tmp_path / "out.txt").read_text().strip() == images["FREIGHT_CI_MARKER"]
    assert not os.path.exists("/etc/freight-ci-image")  # the host is not the image


def test_a_folder_outside_tmp_is_bound_into_a_copy_of_the_directory_image(images, tmp_path):
    """Outside /tmp (which ch-run shares) the mount point must exist: prepare makes it."""
    image = tmp_path / "image"
    subprocess.run(["cp", "-al", images["FREIGHT_CI_CH_DIR"], str(image)], check=True)  # hard links: cheap
    data = os.path.join("/var/tmp", f"freight-test-{os.getpid()}-{tmp_path.name}")
    os.makedirs(data)
    try:
        with open(os.path.join(data, "in.txt"), "w") as handle:
            handle.write("from the host\n")
        ENGINE.prepare(str(image), [Mount(data, data)])
        done = run(ENGINE.exec_argv(str(image), ["cat", "in.txt"], mounts=[data], env={}, workdir=data))
        assert (done.returncode, done.stdout) == (0, "from the host\n"), done.stderr
    finally:
        shutil.rmtree(data)
