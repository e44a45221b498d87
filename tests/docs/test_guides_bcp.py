"""docs/nvidia-bcp.md: the user profile the page shows is written where freight reads it, and
every `freight` command on the page runs and renders the ngc commands the page describes
(rendering only: there is no NGC here)."""

import re

import pytest
from guides import DOCS, freight_commands, run_freight
from support import ngc_job_runs

PAGE = "nvidia-bcp.md"


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "pt_bench"
    folder.mkdir()
    (folder / "bench.py").write_text("import sys\nprint(sys.argv)\n")
    config = tmp_path / "config"
    toml = re.search(r"```toml\n(.*?)```", (DOCS / PAGE).read_text(), re.DOTALL).group(1)
    (config / "profiles").mkdir(parents=True)
    (config / "profiles" / "nvidia-bcp.toml").write_text(toml)  # the page's user profile, as shown
    return folder, {"FREIGHT_CONFIG_DIR": str(config)}


def test_every_freight_command_on_the_page_renders_the_jobs_it_describes(project, tmp_path):
    folder, env = project
    single, sweep = freight_commands(PAGE)
    done = run_freight(single, folder, env)
    assert done.returncode == 0, done.stderr
    (job,) = ngc_job_runs(tmp_path, done.stdout)
    assert job["--instance"] == "dgxa100.80g.4.norm" and job["--result"] == "/results"
    assert job["--workspace"] == "ana_containers:/mnt/workspace:RW" and job["--total-runtime"] == "7200s"
    assert (job["--org"], job["--team"], job["--ace"]) == ("r2kuatviomfd", "internal-sandbox", "sa-nvex-scus-ace")
    assert "cd " not in job["--commandline"] and "/results/freight" in job["--commandline"]
    assert "ngc workspace upload" in done.stdout
    done = run_freight(sweep, folder, env)
    assert done.returncode == 0, done.stderr
    jobs = ngc_job_runs(tmp_path, done.stdout)
    assert len(jobs) == 2 and {j["--instance"] for j in jobs} == {"dgxa100.80g.1.norm"}
    assert len({j["--label"] for j in jobs}) == 1  # one label for the run
