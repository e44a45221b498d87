"""`freight shell` for real: a command, then an interactive shell driven through a pty, here,
on the real Slurm (srun --pty) and Grid Engine (qrsh -pty y) and in a Charliecloud image, each
showing it runs where the job would, with the job's env, folder and thread limits."""

import os
import pty
import re
import select
import sys
import time

import pytest
from ci_images import require as need_images
from clusters import need_sge, need_slurm

CONFIG = '[env_vars]\nGREETING = "hello $there; \'q\'"\n'
SHOW = 'printf "%s\\n" "job=${SLURM_JOB_ID:-}${JOB_ID:-}" "greeting=$GREETING" "pwd=$PWD" "omp=$OMP_NUM_THREADS"'


@pytest.fixture(autouse=True)
def no_user_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "no-config"))


def shown(project, *args: str) -> dict[str, str]:
    done = project.freight("shell", "--cpus", "2", *args, "-c", SHOW, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines()[-4:])


def drive(argv: list[str], cwd, typed: bytes, seconds: float = 240) -> str:
    """Run argv on a pty (as a terminal would); once the shell's prompt (`$ ` or `# `) shows
    after freight's own line, type `typed`; return all it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: never returns
        os.chdir(cwd)
        os.execvpe(argv[0], argv, {**os.environ, "NO_COLOR": "1"})
    printed, sent, deadline = b"", False, time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not sent and re.search(rb"[$#] $", printed.split(b"freight shell:")[-1].removesuffix(b"\x1b[?2004h")):
            os.write(fd, typed)  # typed earlier, it could reach qrsh before the remote shell
            sent = True
        if select.select([fd], [], [], 1)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the shell exited: the pty is closed
                break
            if not chunk:
                break
            printed += chunk
    os.waitpid(pid, 0)
    return printed.decode(errors="replace")


def test_a_command_here_has_the_jobs_env_and_folder(project):
    project.write("freight.toml", CONFIG)
    seen = shown(project)
    assert seen == {"job": "", "greeting": "hello $there; 'q'", "pwd": str(project.root), "omp": "2"}


def test_python_in_the_shell_is_the_one_tasks_run(project):
    done = project.freight("shell", "--env", "current", "-c", "command -v python")
    assert done.returncode == 0 and done.stdout.strip() == os.path.join(os.path.dirname(sys.executable), "python")


@pytest.mark.parametrize("target", ["slurm", "sge"])
def test_a_command_on_the_cluster_runs_in_a_job_with_the_jobs_env(project, target):
    (need_slurm if target == "slurm" else need_sge)()
    project.write("freight.toml", CONFIG)
    seen = shown(project, "--target", target, "--time", "5")
    assert seen["job"].isdigit() and seen["greeting"] == "hello $there; 'q'"
    assert seen["pwd"] == str(project.root) and seen["omp"] == "2"


@pytest.mark.parametrize("target", ["slurm", "sge"])
def test_an_interactive_shell_gets_a_terminal_on_the_compute_node(project, target):
    (need_slurm if target == "slurm" else need_sge)()
    project.write("freight.toml", CONFIG)
    freight = [sys.executable, "-m", "freight", "shell", "--target", target, "--time", "5"]
    printed = drive(freight, project.root, b'echo "marker:$GREETING:${SLURM_JOB_ID:-}${JOB_ID:-}:$(tty)"; exit\n')
    marker = next((line for line in printed.splitlines() if line.startswith("marker:")), None)
    assert marker is not None, printed
    _, greeting, job, tty = marker.strip().split(":")
    assert greeting == "hello $there; 'q'" and job.isdigit() and tty.startswith("/dev/pts/")


def test_a_shell_in_the_image_of_the_charliecloud_sites_profile(project):
    need_slurm()
    image = need_images("charliecloud")["FREIGHT_CI_CH_DIR"]
    project.write("freight.toml", CONFIG)
    done = project.freight("shell", "--profile", "slurm-charliecloud", "--image", image, "-c",
                           'cat /etc/freight-ci-image; echo "greeting=$GREETING pwd=$PWD"', timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["freight-ci bookworm-py 1",
                                             f"greeting=hello $there; 'q' pwd={project.root}"]
    assert "freight shell: slurm in " in done.stderr  # the profile's target and engine
