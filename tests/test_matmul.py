"""The matmul scaling benchmark (freight/matmul.py): on the host, inside the CI images (Podman,
Charliecloud) with the host's numpy lent in, and its refusals. Small sizes; figures are checked
for sense (positive, finite, consistent), never for speed."""

import math
import subprocess
import sys
from dataclasses import replace

import pytest
from ci_images import image_for, require

from freight.errors import FreightError, InputError
from freight.matmul import (MatmulRequest, MatmulResult, MatmulRow, check_sizes, overhead, plot,
                            run_matmul, script_text)

SMALL = MatmulRequest(sizes=[64, 128], repeat=2, threads=1)


def assert_sane(result: MatmulResult, sizes=(64, 128)):
    assert [row.size for row in result.rows] == list(sizes)
    for row in result.rows:
        assert row.seconds > 0 and math.isfinite(row.gflops) and row.gflops > 0
        assert math.isclose(row.gflops, 2 * row.size**3 / row.seconds / 1e9, rel_tol=1e-9)
        assert row.memory_mb == round(3 * row.size**2 * 4 / 1e6, 1)
    assert result.library.startswith("numpy ") and result.device == "cpu"


def test_on_the_host():
    import numpy

    result = run_matmul(SMALL)
    assert_sane(result)
    assert result.where == "host" and result.library == f"numpy {numpy.__version__}" and result.notes == []


@pytest.mark.parametrize("engine", ["podman", "charliecloud"])
def test_inside_the_ci_image_with_the_hosts_numpy(engine):
    import numpy

    image = image_for(engine, require(engine))
    result = run_matmul(replace(SMALL, image=image, engine=engine))
    assert_sane(result)
    assert result.where == f"{engine} {image}" and result.library == f"numpy {numpy.__version__}"
    assert result.notes and "lent from the host" in result.notes[0]
    ratios = overhead(run_matmul(SMALL), result)
    assert set(ratios) == {64, 128} and all(r > 0 and math.isfinite(r) for r in ratios.values())


def test_an_image_without_numpy_is_refused_in_one_line_when_lending_is_off():
    image = image_for("podman", require("podman"))
    with pytest.raises(FreightError) as caught:
        run_matmul(replace(SMALL, image=image, engine="podman", lend_numpy=False))
    assert caught.value.one_line() == (f"image {image} has no numpy (fix: use an image with numpy installed "
                                       "(add `pip install numpy` to its recipe))")


def test_gpu_without_torch_cuda_is_one_line():
    with pytest.raises(FreightError) as caught:
        run_matmul(replace(SMALL, gpu=True))
    message = caught.value.one_line()
    assert "\n" not in message and ("torch" in message or "CUDA" in message)


def test_sizes_are_checked_before_anything_runs():
    with pytest.raises(InputError, match="positive"):
        check_sizes([64, 0])
    with pytest.raises(InputError, match="needs .* GB"):
        check_sizes([10**6])


def test_the_script_runs_alone_and_prints_one_json_line_per_size(tmp_path):
    script = tmp_path / "matmul_bench.py"
    script.write_text(script_text())
    done = subprocess.run([sys.executable, str(script), "--sizes", "32,48", "--repeat", "1"],
                          capture_output=True, text=True, check=True)
    import json

    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["size"] for row in rows] == [32, 48] and all(row["gflops"] > 0 for row in rows)


def test_overhead_is_the_image_over_host_ratio_per_size():
    host = MatmulResult("host", "numpy", "cpu", [MatmulRow(64, 0.0, 1.0, 10.0), MatmulRow(128, 0.2, 1.0, 20.0)])
    boxed = MatmulResult("podman x", "numpy", "cpu", [MatmulRow(64, 0.0, 1.0, 9.5), MatmulRow(256, 0.8, 1.0, 1.0)])
    assert overhead(host, boxed) == {64: 0.95}


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    result = MatmulResult("host", "numpy", "cpu", [MatmulRow(64, 0.0, 1.0, 10.0), MatmulRow(128, 0.2, 1.0, 20.0)])
    path = plot([result], tmp_path / "scaling.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_blas_settings_and_threads_are_the_same_on_both_sides(monkeypatch):
    from freight.matmul import thread_env

    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")  # picks the kernel: must reach the image too
    monkeypatch.setenv("UNRELATED", "x")
    env = thread_env(3)
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and "UNRELATED" not in env
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
