"""engines/podman.py: the exact `podman run` command line, and real runs with Debian's rootful
Podman 4.3 on the image `bash ci/containers.sh up` imports (skipped without it; failed in CI)."""

import json
import os
import signal
import subprocess

import pytest
from ci_images import PRINT_ENV, require

from freight.engines import get_engine

ENGINE = get_engine("podman")


def test_podman_run_binds_sets_the_variables_and_asks_for_gpus_by_cdi():
    argv = ENGINE.exec_argv("localhost/torch:1", ["python3", "train.py"], mounts=["/proj", "/scratch:/data:ro"],
                            env={"A": "x y", "B": "$HOME"}, workdir="/proj", gpus=2)
    assert argv == [
        "podman", "run", "--rm", "--init", "--network=host", "--ipc=host",
        "--device", "nvidia.com/gpu=all", "-v", "/proj:/proj", "-v", "/scratch:/data:ro", "-w", "/proj",
        "-e", "A=x y", "-e", "B=$HOME", "localhost/torch:1", "python3", "train.py",
    ]


def test_podman_interactive_gets_a_terminal():
    argv = ENGINE.exec_argv("img", ["bash"], mounts=[], env={}, workdir="/w", interactive=True)
    assert argv == ["podman", "run", "--rm", "--init", "--network=host", "--ipc=host",
                    "--interactive", "--tty", "-w", "/w", "img", "bash"]


# --- real podman ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image():
    return require("podman")["FREIGHT_CI_PODMAN_IMAGE"]


def test_podman_gives_the_program_the_task_variables_over_the_image_env_and_nothing_of_the_host(
        image, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKED_FROM_HOST", "yes")
    monkeypatch.setenv("HOME", str(tmp_path / "host-home"))
    values = {"P": "a b; $HOME `id` 'q' \"dq\"", "EMPTY": "", "NL": "one\ntwo"}
    done = subprocess.run(ENGINE.exec_argv(image, [*PRINT_ENV, "lit $HOME"], mounts=[str(tmp_path)],
                                           env=values, workdir=str(tmp_path)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    env, cwd, args = json.loads(done.stdout)
    assert {k: env[k] for k in values} == values
    assert "LEAKED_FROM_HOST" not in env and env["HOME"] == "/root"  # the image's user, not the host's HOME
    assert env["FREIGHT_CI_IMAGE_ENV"] == "from-image"
    assert (cwd, args) == (str(tmp_path), ["lit $HOME"])


def test_a_read_only_mount_cannot_be_written_and_a_writable_one_can(image, tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "rw").mkdir()
    argv = ENGINE.exec_argv(image, ["sh", "-c", "touch /rw/ok && ! touch /ro/no 2>/dev/null"],
                            mounts=[f"{tmp_path / 'ro'}:/ro:ro", f"{tmp_path / 'rw'}:/rw"], env={}, workdir="/")
    assert subprocess.run(argv, capture_output=True).returncode == 0
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["ok"]


def test_sigterm_to_podman_reaches_the_program_and_leaves_no_container(image, tmp_path):
    """What the task wrapper does on cancel or at the time limit: SIGTERM to its process group."""
    program = f"import time; print('up', flush=True); time.sleep(60)  # {tmp_path.name}"
    argv = ENGINE.exec_argv(image, ["python3", "-c", program], mounts=[], env={}, workdir="/")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline() == "up\n"
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 143  # without --init, PID 1 would ignore SIGTERM
    listed = subprocess.run(["podman", "ps", "-a", "--no-trunc", "--format", "{{.Command}}"],
                            capture_output=True, text=True, check=True)
    assert tmp_path.name not in listed.stdout
