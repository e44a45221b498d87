"""docs/tacc-frontera.md: every `freight` command on the page, run. Frontera's rtx partition,
its modules and Apptainer are not on the test machine: `freight script` renders for real,
`freight run` runs with --dry-run added, and the Apptainer command the task wrapper would run is
built by the engine itself and checked against what the page says (--nv, --cleanenv)."""

from pathlib import Path

from guides import freight_commands, run_freight

from freight.engines import get_engine

PAGE = "tacc-frontera.md"
IMAGE = "docker://USERNAME/image-classifier:0.1"


def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "life-sciences-ml-at-tacc"
    folder.mkdir()
    (folder / "image_classifier.py").write_text("import sys\nprint('classifying', sys.argv[1])\n")
    (folder / "dog.jpg").write_bytes(b"\xff\xd8\xff")
    # $SCRATCH as Frontera sets it; no user profiles from this machine's home.
    env = {"SCRATCH": str(tmp_path / "scratch"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return folder, env


def test_the_page_shows_these_commands():
    assert [argv[:2] for argv in freight_commands(PAGE)] == [
        ["freight", "profiles"], ["freight", "script"], ["freight", "run"]]


def test_every_command_on_the_page_runs(tmp_path):
    folder, env = project(tmp_path)
    outputs = []
    for argv in freight_commands(PAGE):
        if argv[1] == "run":
            argv = ["freight", "run", "--dry-run", *argv[2:]]  # no Frontera here (options go before the script)
        done = run_freight(argv, folder, env)
        assert done.returncode == 0, (argv, done.stderr)
        outputs.append(done.stdout + done.stderr)
    profile, script, dry_run = outputs
    assert 'gpu_partition = "rtx"' in profile and 'modules = ["tacc-apptainer"]' in profile
    assert "#SBATCH --partition=rtx" in script and "#SBATCH --time=00:10:00" in script
    assert "module load tacc-apptainer" in script and "#SBATCH --nodes=1" in script
    assert '"argv": ["python", "image_classifier.py", "dog.jpg"]' in dry_run
    assert "1 GPU(s)" in dry_run


def test_the_wrapper_runs_apptainer_exec_with_nv_and_cleanenv(tmp_path):
    """What the page's table says the task wrapper runs on the GPU node."""
    argv = get_engine("apptainer").exec_argv(IMAGE, ["python3", "image_classifier.py", "dog.jpg"], mounts=[str(tmp_path)],
                                            env={}, workdir=str(tmp_path), gpus=1)
    assert argv[:2] == ["apptainer", "exec"] and {"--nv", "--cleanenv", "--no-home"} <= set(argv)
    assert argv[-4:] == [IMAGE, "python3", "image_classifier.py", "dog.jpg"]
