"""`freight doctor` as a user runs it: the table, --json, the exit code, and one-line errors."""

import json
import shutil


def test_json_matches_the_exit_code_and_lists_this_machines_tools(project):
    done = project.freight("doctor", "--json")
    data = json.loads(done.stdout)
    assert done.returncode == (0 if data["ok"] else 1), done.stderr
    names = {f["name"]: f for f in data["findings"]}
    for tool in ("sbatch", "qsub", "podman", "ch-run", "kubectl"):
        assert names[tool]["status"] == ("absent" if shutil.which(tool) is None else names[tool]["status"])
        if shutil.which(tool):
            assert names[tool]["status"] in ("ok", "warn")


def test_table_shows_each_area_and_a_summary_line(project):
    done = project.freight("doctor", "--cuda", "12.4")
    assert done.returncode in (0, 1)
    for word in ("engine", "scheduler", "node", "gpu", "cuda", "cache", "--cuda 12.4", "550.54.14"):
        assert word in done.stdout
    assert done.stderr.strip().split(":")[0].endswith(("warning", "warnings")) or "problem" in done.stderr


def test_a_bad_cuda_version_is_one_line_and_exit_2(project):
    done = project.freight("doctor", "--cuda", "twelve")
    assert done.returncode == 2
    assert done.stderr.strip() == "freight: error: 'twelve' is not a CUDA version (fix: write it as MAJOR.MINOR, e.g. --cuda 12.4)"
