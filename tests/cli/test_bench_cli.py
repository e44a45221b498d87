"""`freight bench matmul` as a user runs it: host, inside an image, as a job, plot and JSON."""

import json
import math

import pytest
from ci_images import image_for, require
from clusters import need_slurm


def rows(data, index=0):
    return data["results"][index]["rows"]


def test_host_table_and_json(project):
    done = project.freight("bench", "matmul", "--sizes", "64,96", "--repeat", "1", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "host: numpy" in done.stdout and "64x64" in done.stdout and "GFLOPS" in done.stdout
    data = json.loads(project.freight("bench", "matmul", "--sizes", "64", "--repeat", "1", "--json", check=True).stdout)
    assert data["overhead"] == {} and rows(data)[0]["size"] == 64 and rows(data)[0]["gflops"] > 0


def test_inside_an_image_prints_the_ratio_and_a_plot(project):
    image = image_for("charliecloud", require("charliecloud"))
    done = project.freight("bench", "matmul", "--sizes", "64,128", "--repeat", "2", "--image", image,
                           "--engine", "charliecloud", "--plot", "scaling.png", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [r["where"] for r in data["results"]] == ["host", f"charliecloud {image}"]
    assert set(data["overhead"]) == {"64", "128"} and all(math.isfinite(v) and v > 0 for v in data["overhead"].values())
    assert (project.root / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    assert "plot written to" in done.stderr


def test_bad_sizes_are_one_line(project):
    done = project.freight("bench", "matmul", "--sizes", "64,x")
    assert done.returncode == 2 and done.stderr.startswith("freight: error: --sizes '64,x' is not a list")


@pytest.mark.parametrize("target", ["local", "slurm"])
def test_as_a_freight_job(project, target):
    if target == "slurm":
        need_slurm()
    done = project.freight("bench", "matmul", "--sizes", "64,128", "--repeat", "1", "--target", target, "--json",
                           timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    result = data["results"][0]
    assert result["where"].startswith(f"{target} run ") and result["library"].startswith("numpy")
    assert [r["size"] for r in result["rows"]] == [64, 128] and all(r["gflops"] > 0 for r in result["rows"])
