"""engines/docker.py: the exact `docker run` command line (only Docker's client is installed
here, no daemon: rendered, not run; Podman's identical options run for real in test_podman)."""

import os

from freight.engines import get_engine


def test_docker_run_as_the_user_with_gpus_binds_and_the_task_variables():
    argv = get_engine("docker").exec_argv(
        "nvcr.io/nvidia/pytorch:24.01-py3", ["python3", "train.py"],
        mounts=["/proj", "/scratch/me:/data:ro"], env={"A": "x y", "B": "$HOME"}, workdir="/proj", gpus=1)
    assert argv == [
        "docker", "run", "--rm", "--init", "--network=host", "--ipc=host",
        "--user", f"{os.getuid()}:{os.getgid()}", "--gpus", "all",
        "-v", "/proj:/proj", "-v", "/scratch/me:/data:ro", "-w", "/proj",
        "-e", "A=x y", "-e", "B=$HOME", "nvcr.io/nvidia/pytorch:24.01-py3", "python3", "train.py",
    ]


def test_docker_interactive_gets_a_terminal_and_no_gpu_flag_without_gpus():
    argv = get_engine("docker").exec_argv("python:3.11", ["bash"], mounts=[], env={}, workdir="/w",
                                          interactive=True)
    assert argv == ["docker", "run", "--rm", "--init", "--network=host", "--ipc=host",
                    "--interactive", "--tty", "--user", f"{os.getuid()}:{os.getgid()}",
                    "-w", "/w", "python:3.11", "bash"]
