"""The examples run as a user runs them (this python, small sizes) and produce sound outputs."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from freight.spec.config import load_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_example(script: Path, *args: str, cwd: Path, task_dir: Path | None = None):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    env.pop("FREIGHT_TASK_DIR", None)
    if task_dir is not None:
        env["FREIGHT_TASK_DIR"] = str(task_dir)
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path.name} was not written"
    assert path.read_bytes()[:8] == PNG_MAGIC


def positive_finite(value: float) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_xor_defaults_reach_full_accuracy_and_report_it(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "xor" / "train_xor.py", cwd=tmp_path, task_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["acc"] == 1.0 and result["epochs"] == 2000
    assert positive_finite(result["loss"]) and result["loss"] < 0.05
    assert_png(tmp_path / "loss.png")


def test_xor_arguments_change_the_training(tmp_path: Path) -> None:
    script = EXAMPLES / "xor" / "train_xor.py"
    short = run_example(script, "--epochs", "20", "--lr", "0.1", "--hidden", "3", cwd=tmp_path,
                        task_dir=tmp_path)
    assert short.returncode == 0, short.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["epochs"] == 20 and result["loss"] > 0.3  # 20 small steps barely move it
    weights = tmp_path / "w.npz"
    saved = run_example(script, "--hidden", "5", "--output", str(weights), cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    import numpy as np

    assert np.load(weights)["w1"].shape == (2, 5)


def test_xor_outside_freight_prints_and_plots_in_the_current_folder(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "xor" / "train_xor.py", "--epochs", "300", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert re.search(r"final loss \d+\.\d+\s+accuracy 100%", out.stdout)
    assert_png(tmp_path / "loss.png")
    assert not (tmp_path / "result.json").exists()


def test_matmul_small_sizes_table_report_and_plot(tmp_path: Path) -> None:
    script = EXAMPLES / "matmul" / "matmul.py"
    out = run_example(script, "--sizes", "64,128", "--repeats", "2", "--device", "cpu",
                      cwd=tmp_path, task_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^\s*(\d+)x\1\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out.stdout, re.M)
    assert [int(size) for size, *_ in rows] == [64, 128]
    assert float(rows[1][1]) == pytest.approx(3 * 128 * 128 * 4 / 1e6, abs=0.01)  # memory MB
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["device"] == "cpu"
    for key in ("gflops", "gflops_64", "gflops_128"):
        assert positive_finite(result[key]), key
    assert result["gflops"] == max(result["gflops_64"], result["gflops_128"])
    assert_png(tmp_path / "scaling_plot.png")


def test_matmul_one_size_reports_time_and_memory(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "matmul" / "matmul.py", "--sizes", "96", "--repeats", "1",
                      cwd=tmp_path, task_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert positive_finite(result["seconds"]) and positive_finite(result["gflops"])
    assert result["gflops"] == pytest.approx(2 * 96**3 / result["seconds"] / 1e9)
    assert result["memory_mb"] == pytest.approx(3 * 96 * 96 * 4 / 1e6)


def test_matmul_rejects_bad_sizes(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "matmul" / "matmul.py", "--sizes", "64,abc", cwd=tmp_path)
    assert out.returncode == 2 and "sizes must be integers" in out.stderr


@pytest.mark.parametrize(("example", "tasks"), [("xor", 6), ("matmul", 3)])
def test_example_configs_load_and_fill_every_placeholder(example: str, tasks: int) -> None:
    config = load_config(EXAMPLES / example)
    expanded = config.tasks()
    assert len(expanded) == tasks
    placeholders = set(re.findall(r"\{(\w+)\}", " ".join(config.command)))
    assert placeholders == set(expanded[0].params)
    assert (EXAMPLES / example / config.command[1]).is_file()
