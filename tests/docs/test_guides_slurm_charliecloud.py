"""docs/slurm-charliecloud.md: every `freight` command on the page, run. The sweep runs for real
on this machine's Slurm in a Charliecloud image (the CI image standing in for the page's
./antonio.lmn); `freight status` and `freight results` read it back; the Ray command renders
with `freight script` (its cluster start-up is tested in tests/launchers/)."""

import json
from pathlib import Path

from ci_images import image_for, require
from clusters import need_slurm
from guides import freight_commands, run_freight

PAGE = "slurm-charliecloud.md"
MAIN = """import argparse
from freight import report
parser = argparse.ArgumentParser()
parser.add_argument("--id", type=int)
config = parser.parse_args().id
report(config=config, score=config * 10)
"""


def project(tmp_path: Path) -> Path:
    folder = tmp_path / "hpc2019_experiments"
    folder.mkdir()
    (folder / "main.py").write_text(MAIN)
    (folder / "demo_multinode.py").write_text("print('driver')\n")
    return folder


def with_image(argv: list[str], image: str) -> list[str]:
    return [image if word == "./antonio.lmn" else word for word in argv]


def test_the_page_shows_these_commands():
    assert [argv[:2] for argv in freight_commands(PAGE)] == [
        ["freight", "run"], ["freight", "status"], ["freight", "results"], ["freight", "script"]]


def test_every_command_on_the_page_runs_on_slurm(tmp_path):
    need_slurm()
    image = image_for("charliecloud", require("charliecloud"))
    folder = project(tmp_path)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    outputs = []
    for argv in freight_commands(PAGE):
        done = run_freight(with_image(argv, image), folder, env, timeout=600)
        assert done.returncode == 0, (argv, done.stderr)
        outputs.append(done.stdout)
    _run, status, results, ray_script = outputs
    assert "8" in status and "succeeded" in status
    assert "#SBATCH --nodes=3" in ray_script
    listed = run_freight(["freight", "results", "--json"], folder, env)
    rows = json.loads(listed.stdout)
    scores = sorted(row.get("score") for row in (rows if isinstance(rows, list) else rows.get("rows", [])))
    assert scores == [10, 20, 30, 40, 50, 60, 70, 80]
