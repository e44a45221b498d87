"""`freight run` on what a user has: a notebook, a folder with freight.toml, a bare command."""

import json
import shutil
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_notebook_runs_as_its_converted_script(project):
    shutil.copy(EXAMPLES / "notebook" / "colab_fit.ipynb", project.root)
    done = project.freight("run", "--json", "--env", "current", "colab_fit.ipynb")
    assert done.returncode == 0, done.stderr
    assert "Google Drive mount removed" in done.stderr  # the conversion's warning reaches the user
    record = json.loads(done.stdout)
    stdout = (Path(record["run_dir"]) / "tasks" / "0" / "stdout.log").read_text()
    assert "slope 3.00" in stdout


def test_folder_with_freight_toml_runs_its_sweep_and_results_plot(project):
    shutil.copytree(EXAMPLES / "xor", project.root / "xor")
    record = project.record("run", "xor")
    assert [t["state"] for t in record["tasks"]] == ["succeeded"] * 6
    assert {tuple(t["params"].values()) for t in record["tasks"]} == {
        (lr, h) for lr in (0.1, 0.5, 1.0) for h in (4, 8)}
    rows = json.loads(project.freight("results", "--json", check=True).stdout)
    assert all(row["acc"] == 1.0 for row in rows)
    project.freight("results", "--plot", "loss.png", "--x", "lr", "--y", "loss", check=True)
    assert (project.root / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_after_double_dash_and_dry_run_runs_nothing(project):
    done = project.freight("run", "--dry-run", "--sweep", "x=1,2", "--", "touch", "made-{x}")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["argv"] for r in rows] == [["touch", "made-1"], ["touch", "made-2"]]
    assert not list(project.root.glob("made-*"))
    project.freight("run", "--sweep", "x=1,2", "--", "touch", "made-{x}", check=True)
    assert sorted(p.name for p in project.root.glob("made-*")) == ["made-1", "made-2"]


def test_init_then_run_uses_the_written_config(project):
    project.write("train.py", "import freight\nfreight.report(ok=1)\n")
    project.freight("init", "train.py", check=True)
    assert (project.root / "freight.toml").exists()
    record = project.record("run", "--env", "current")
    assert [t["state"] for t in record["tasks"]] == ["succeeded"]


def test_status_logs_of_unknown_run_are_one_line_errors(project):
    for args in (["status", "nope"], ["logs", "nope"], ["status"]):
        done = project.freight(*args)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_unknown_key_in_freight_toml_is_exit_2_with_did_you_mean(project):
    project.write("train.py", "print(1)\n")
    project.write("freight.toml", "[resources]\ncpu = 2\n")
    done = project.freight("run", "train.py")
    assert done.returncode == 2
    toml = project.root / "freight.toml"
    assert done.stderr.strip() == (
        f"freight: error: {toml}: unknown key 'cpu' in [resources] (did you mean 'cpus'?)")
    assert len(done.stderr.strip().splitlines()) == 1


def test_logs_follow_prints_output_until_the_task_ends(project):
    project.write("talk.py", "import time\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.3)\n")
    project.freight("run", "--no-wait", "--env", "current", "talk.py", check=True)
    done = project.freight("logs", "--follow", timeout=60)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("line")] == ["line 0", "line 1", "line 2"]


def test_json_output_keeps_values_literal(project):
    """`:smile:` in a value stays text in --json output (rich would print an emoji)."""
    record = project.record("run", "--env", "current", "--sweep", "tag=:smile:,:warning:", "--", "true")
    assert sorted(t["params"]["tag"] for t in record["tasks"]) == [":smile:", ":warning:"]
    rows = json.loads(project.freight("results", "--json", check=True).stdout)
    assert sorted(row["tag"] for row in rows) == [":smile:", ":warning:"]
