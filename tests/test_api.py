"""The Python API runs real tasks on the local target, like the CLI does."""

import freight


def test_run_wait_status_results(tmp_path, monkeypatch):
    monkeypatch.delenv("FREIGHT_HOME", raising=False)
    (tmp_path / "train.py").write_text(
        "import sys, freight\nlr = float(sys.argv[2])\nfreight.report(loss=lr * 2)\n")
    run = freight.run("train.py", ["--lr", "{lr}"], sweep={"lr": [0.5, 1.5]}, env="current", cwd=tmp_path)
    assert run.wait().status() == {"succeeded": 2}
    rows = run.results()
    assert [(r["lr"], r["loss"]) for r in rows] == [(0.5, 1.0), (1.5, 3.0)]
    again = freight.Run.load(run.id, home=tmp_path / ".freight")
    assert again.status() == {"succeeded": 2} and again.retry() == []


def test_failed_task_is_retried_and_only_it(tmp_path, monkeypatch):
    monkeypatch.delenv("FREIGHT_HOME", raising=False)
    flag = tmp_path / "fixed"
    (tmp_path / "flaky.py").write_text(
        "import sys, pathlib\n"
        "log = pathlib.Path(sys.argv[2]); log.open('a').write(sys.argv[1] + '\\n')\n"
        f"if sys.argv[1] == '1' and not pathlib.Path({str(flag)!r}).exists(): raise SystemExit(1)\n")
    log = tmp_path / "ran.txt"
    run = freight.run("flaky.py", ["{n}", str(log)], sweep={"n": [0, 1, 2]}, env="current",
                      cwd=tmp_path, wait=True)
    assert run.status() == {"succeeded": 2, "failed": 1}
    flag.write_text("")
    assert run.retry() == [1]
    assert run.wait().status() == {"succeeded": 3}
    assert sorted(log.read_text().split()) == ["0", "1", "1", "2"]
