"""docs/nd-crc.md: every `freight` command on the page, run. `freight script` renders for real;
each `freight run` runs with --dry-run added; the CPU run also runs for real on this machine's
Grid Engine, with the site's values replaced by this machine's: its queue, and Charliecloud
with the CI image standing in for Singularity (which cannot be installed here)."""

import subprocess
from pathlib import Path

from ci_images import image_for, require
from clusters import need_sge
from guides import freight_commands, run_freight

PAGE = "nd-crc.md"
TRAIN_XOR = """import argparse, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--output")
pathlib.Path(parser.parse_args().output).write_text("weights")
print("trained")
"""


def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "singularity-tutorial"
    folder.mkdir()
    (folder / "train_xor.py").write_text(TRAIN_XOR)
    (folder / "main.py").write_text("print('language model')\n")
    return folder, {"XDG_CONFIG_HOME": str(tmp_path / "config"), "USER": "me"}


def dry(argv: list[str]) -> list[str]:
    return ["freight", "run", "--dry-run", *argv[2:]] if argv[1] == "run" else argv


def test_the_page_shows_these_commands():
    assert [argv[:2] for argv in freight_commands(PAGE)] == [
        ["freight", "profiles"], ["freight", "run"], ["freight", "script"], ["freight", "run"]]


def test_every_command_on_the_page_runs(tmp_path):
    folder, env = project(tmp_path)
    outputs = []
    for argv in freight_commands(PAGE):
        done = run_freight(dry(argv), folder, env)
        assert done.returncode == 0, (argv, done.stderr)
        outputs.append(done.stdout + done.stderr)
    profile, xor, gpu_script, gpu_run = outputs
    assert 'gpu_queue = "gpu"' in profile and 'gpu_resource = "gpu_card"' in profile
    assert '"argv": ["python", "train_xor.py", "--output", "model.pt"]' in xor
    lines = [line for line in gpu_script.splitlines() if line.startswith("#$ ")]
    assert "#$ -q gpu" in lines and "#$ -l gpu_card=1" in lines and "#$ -l h_rt=1:00:30" in lines
    assert "1 GPU(s)" in gpu_run


def test_the_cpu_run_runs_on_grid_engine(tmp_path):
    """The page's first `freight run`, on this machine's Grid Engine in a Charliecloud image."""
    need_sge()
    image = image_for("charliecloud", require("charliecloud"))
    queue = subprocess.run(["qconf", "-sql"], capture_output=True, text=True).stdout.split()[0]
    folder, env = project(tmp_path)
    argv = next(a for a in freight_commands(PAGE) if a[1] == "run")
    at = argv.index("--image")
    local = [*argv[:at], "--engine", "charliecloud", "--image", image, "--queue", queue, *argv[at + 2:]]
    done = run_freight(local, folder, env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (folder / "model.pt").read_text() == "weights"
