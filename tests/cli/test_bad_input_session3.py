"""Bad input to the commands and targets of session 3, tried as a user would: every error is one
line `freight: error: … (fix: …)` on stderr, exit code 2, no traceback, and nothing half-written
(no run recorded, no build folder, no bench folder)."""

import os
import shutil
import subprocess
import sys

import pytest

from freight.cli import main

NOTEBOOK_BROKEN = "{not json\n"


@pytest.fixture(autouse=True)
def in_a_project(tmp_path, monkeypatch):
    """Every case runs in a throwaway project: a script with no imports (nothing to lock, so no
    package index is needed), one that imports numpy, a broken notebook, a text file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FREIGHT_HOME", raising=False)
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "no-config"))
    (tmp_path / "plain.py").write_text("print('hi')\n")
    (tmp_path / "ok.py").write_text("import numpy\nprint(numpy.ones(2))\n")
    (tmp_path / "broken.ipynb").write_text(NOTEBOOK_BROKEN)
    (tmp_path / "notes.txt").write_text("not code\n")
    (tmp_path / "image-dir").mkdir()  # a directory image: export needs no engine to find it
    return tmp_path


def one_line_error(code: int, captured) -> str:
    """The error line, after checking the contract every case shares."""
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("freight: error: ") and ("(fix: " in line or "(did you mean" in line), line
    assert "Value error" not in line  # pydantic's prefix leaks no more
    return line


def check(argv: list[str], words: tuple[str, ...], capsys) -> str:
    line = one_line_error(main(argv), capsys.readouterr())
    for word in words:
        assert word in line, line
    return line


IMAGE_CASES = [
    (["image", "plan", "missing.py", "--no-lock"], ("no such file or folder",)),
    (["image", "plan", "notes.txt", "--no-lock"], ("not a script, a notebook or a folder", ".txt")),
    (["image", "plan", "broken.ipynb", "--no-lock"], ("broken.ipynb", "not a readable notebook")),
    (["image", "render", "plain.py", "--format", "bogus", "--no-lock"],
     ("'--format'", "'bogus' is not one of", "freight image render --help")),
    (["image", "plan", "plain.py", "--base", "", "--no-lock"], ("--base ''", "not an image reference")),
    (["image", "plan", "plain.py", "--base", "my image", "--no-lock"], ("--base 'my image'", "not an image reference")),
    (["image", "plan", "plain.py", "--deps", "bogus"], ("'--deps'", "'bogus' is not one of")),
    (["image", "render", "plain.py", "-o", "notes.txt", "--no-lock"], ("notes.txt", "not a folder")),
    (["image", "render", "plain.py", "-o", "/proc/freight-nope", "--no-lock"], ("cannot create the build folder",)),
    (["image", "plan", "plain.py", "--python", "2.7", "--no-lock"], ("Python 2.7 is not supported",)),
    (["image", "plan", "plain.py", "--python", "abc", "--no-lock"], ("'abc'", "3.11")),
    (["image", "plan", "plain.py", "--python", "", "--no-lock"], ("python version ''",)),
    (["image", "export", "localhost/freight-test/no-such:1", "--to", "bogus"], ("'--to'", "'bogus' is not one of")),
    (["image", "export", "localhost/freight-test/no-such:1"], ("Missing option '--to'", "sif, squashfs, tar, dir")),
    (["image", "export", "image-dir", "--to", "tar", "--engine", "bogus"], ("--engine 'bogus'", "docker")),
    (["image", "export", "image-dir", "--to", "dir", "-o", "notes.txt"], ("notes.txt", "exists already")),
    (["image", "export", "image-dir", "--to", "dir", "-o", "no/such/folder/img"], ("no such folder for the export",)),
    (["image", "push", "localhost/freight-test/no-such:1", "--registry", "bad registry"],
     ("--registry 'bad registry'", "REGISTRY/NAMESPACE")),
    (["image", "push", "localhost/freight-test/no-such:1", "--registry", "ghcr.io/Org"], ("lower case",)),
    (["image", "build", "plain.py", "--engine", "bogus"], ("'--engine'", "'bogus' is not one of")),
    (["image", "build", "plain.py", "--remote", "bogus"], ("--remote 'bogus'",)),
    (["image", "build", "plain.py", "--profile", "no-such-site"], ("unknown profile 'no-such-site'",)),
    (["image", "build", "plain.py", "--remote", "htcondor", "--dry-run", "--disk", "-5"], ("'-5' is not a size",)),
    (["image", "build", "plain.py", "--remote", "htcondor", "--dry-run", "--disk", "lots"], ("'lots' is not a size",)),
    (["image", "build", "plain.py", "--remote", "htcondor", "--dry-run", "--registry", "Bad Reg"],
     ("--registry 'Bad Reg'",)),
    (["image", "build", "plain.py", "--remote", "htcondor", "--render-only", "notes.txt"], ("notes.txt", "not a folder")),
]


@pytest.mark.parametrize(("argv", "words"), IMAGE_CASES, ids=[" ".join(c[0][:2] + c[0][3:]) for c in IMAGE_CASES])
def test_image_commands_refuse_bad_input_in_one_line(argv, words, capsys, in_a_project):
    check(argv, words, capsys)
    assert not (in_a_project / ".freight" / "image-builds").exists()  # no half-written build job


def test_image_build_with_an_engine_not_installed_says_so_before_planning(capsys):
    if shutil.which("apptainer"):
        pytest.skip("apptainer is installed here")
    check(["image", "build", "ok.py", "--engine", "apptainer"], ("needs apptainer", "--engine"), capsys)
    check(["run", "--image", "auto", "--engine", "apptainer", "ok.py"], ("needs apptainer",), capsys)


def test_an_export_never_writes_over_a_file(capsys, in_a_project):
    check(["image", "export", "image-dir", "--to", "tar", "-o", "notes.txt"], ("exists already",), capsys)
    assert (in_a_project / "notes.txt").read_text() == "not code\n"


def test_odd_dockerignore_patterns_a_fifo_and_a_dangling_link_do_not_break_render(in_a_project, capsys):
    project = in_a_project / "proj"
    project.mkdir()
    (project / "main.py").write_text("print(1)\n")
    (project / ".dockerignore").write_text("!main.py\n[\n\\\n**/*.tmp\n/abs\n../up\n")
    (project / "dangling").symlink_to(in_a_project / "nowhere")
    subprocess.run(["mkfifo", str(project / "pipe")], check=True)  # reading it would hang
    assert main(["image", "render", "proj", "-o", "ctx", "--no-lock", "--bake"]) == 0
    assert (in_a_project / "ctx" / "code" / "main.py").read_text() == "print(1)\n"
    assert "dangling (a link to outside the project)" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_left_out_and_an_unreadable_dockerignore_is_one_line(in_a_project, capsys):
    project = in_a_project / "proj"
    project.mkdir()
    (project / "main.py").write_text("print(1)\n")
    (project / "secret.dat").write_text("x")
    (project / "secret.dat").chmod(0)
    assert main(["image", "plan", "proj", "--no-lock", "--bake"]) == 0
    assert "secret.dat (cannot be read (permission denied))" in capsys.readouterr().err
    (project / ".dockerignore").write_text("*.tmp\n")
    (project / ".dockerignore").chmod(0)
    check(["image", "plan", "proj", "--no-lock", "--bake"], (".dockerignore", "cannot be read"), capsys)


DOCTOR_BENCH_CASES = [
    (["doctor", "--cuda", "abc"], ("'abc' is not a CUDA version",)),
    (["doctor", "--cuda", ""], ("'' is not a CUDA version",)),
    (["doctor", "--image", ""], ("--image ''", "not an image reference")),
    (["doctor", "--image", "my image"], ("--image 'my image'",)),
    (["bench", "matmul", "--sizes", "0,-1,abc"], ("--sizes '0,-1,abc'",)),
    (["bench", "matmul", "--sizes", "0"], ("positive whole numbers",)),
    (["bench", "matmul", "--sizes", "8", "--engine", "bogus"], ("--engine bogus", "no --image")),
    (["bench", "matmul", "--sizes", "8", "--image", "some/image:1", "--engine", "bogus"],
     ("unknown container engine 'bogus'",)),
    (["bench", "matmul", "--sizes", "8", "--target", "bogus"], ("unknown target 'bogus'",)),
    (["bench", "matmul", "--sizes", "8", "--repeat", "0"], ("'--repeat'",)),
    (["bench", "matmul", "--sizes", "8", "--plot", "image-dir"], ("image-dir: is a folder",)),
    (["bench", "matmul", "--sizes", "8", "--plot", "scaling"], ("scaling: cannot write a plot as a file without extension",)),
]


@pytest.mark.parametrize(("argv", "words"), DOCTOR_BENCH_CASES, ids=[" ".join(c[0]) for c in DOCTOR_BENCH_CASES])
def test_doctor_and_bench_refuse_bad_input_in_one_line(argv, words, capsys, in_a_project):
    check(argv, words, capsys)
    assert not (in_a_project / ".freight").exists()  # the bench's job folder is not made first


def test_bench_gpu_without_a_cuda_torch_is_one_line(capsys):
    try:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a CUDA GPU")
    except ImportError:
        pass
    check(["bench", "matmul", "--gpu", "--sizes", "64"], ("--gpu",), capsys)


def test_doctor_says_a_cuda_newer_than_its_table_even_without_a_driver(capsys):
    from freight.doctor_checks import cuda_findings
    from freight.doctor import DoctorRequest

    (finding,) = cuda_findings(DoctorRequest(cuda="99.9"), None, {})
    assert "newer than freight's driver table" in finding.detail


IMAGE = ["--image", "registry.example.org/lab/train:1"]
TARGET_CASES = [
    (["--target", "htcondor", "--target-opt", "univrse=vanilla"], ("did you mean 'universe'?",)),
    (["--target", "pbs", "--target-opt", "bogus_key=1"], ("[targets.pbs] has no setting 'bogus_key'", "flavor")),
    (["--target", "lsf", "--target-opt", "max_array_size=abc"], ("max_array_size = 'abc'",)),
    (["--target", "htcondor", "--target-opt", "want_gpu_lab=maybe"], ("want_gpu_lab = 'maybe'", "--target-opt")),
    (["--target", "htcondor", "--target-opt", "universe"], ("not KEY=VALUE",)),
    (["--target", "kubernetes", *IMAGE, "--target-opt", "namespace=Bad NS"], ("not a Kubernetes name",)),
    (["--target", "basecommand", *IMAGE, "--target-opt", "preempt=maybe"], ("preempt = 'maybe'",)),
    (["--target", "htcondor", "--pack", "2", "--sweep", "a=1,2,3"], ("--pack",)),
    (["--target", "pbs", "--requeue"], ("cannot requeue",)),
    (["--target", "kubernetes", *IMAGE, "--requeue"], ("cannot requeue",)),
    (["--target", "lsf", "--nodes", "2"], ("several nodes",)),
    (["--target", "htcondor", "--gpus", "1", "--gpu-type", "a100"], ("typed GPUs",)),
    (["--target", "kubernetes"], ("runs every task in an image",)),
    (["--target", "basecommand"], ("runs every task in an image",)),
    (["--nodes", "2"], ("target 'local' cannot run several nodes",)),
    (["--nodes", "0"], ("--nodes",)),
    (["--ray", "--torchrun"], ("--ray and --torchrun",)),
    (["--gpus", "3", "--gpus-per-node", "2"], ("disagree",)),
    (["--deps", "outside"], ("--deps outside applies only to the image that --image auto builds",)),
    (["--deps", "bogus"], ("bad value 'bogus' for --deps",)),
    (["--bake"], ("--bake applies only",)),
    (["--base", "python:3.12-slim"], ("--base applies only",)),
    (["--image", "docker://python:3.12", "--deps", "outside"], ("--deps outside applies only",)),
    (["--image", "auto", "--base", "my base"], ("bad value 'my base' for --base", "no blanks")),
    (["--image", "my image"], ("bad value 'my image' for --image", "no blanks", ".sif")),
    (["--image", ""], ("bad value '' for --image", '"auto"')),
    (["--image", "auto", "--profile", "chtc"], ("--target htcondor cannot run an image built here", "--profile chtc")),
    (["--image", "auto", "--profile", "nvidia-bcp"], ("--target basecommand cannot run", "nvcr.io")),
    (["--image", "auto", "--target", "kubernetes"], ("--target kubernetes cannot run", "freight image push")),
]


@pytest.mark.parametrize("command", ["script", "run"])
@pytest.mark.parametrize(("flags", "words"), TARGET_CASES, ids=[" ".join(c[0]) for c in TARGET_CASES])
def test_run_and_script_refuse_what_a_target_cannot_do_in_one_line(command, flags, words, capsys, in_a_project):
    check([command, *flags, "plain.py"], words, capsys)
    assert not (in_a_project / ".freight" / "runs").exists()  # no run recorded


def test_basecommand_without_ngc_is_refused_before_a_run_is_recorded(capsys, in_a_project):
    if shutil.which("ngc"):
        pytest.skip("the NGC CLI is installed here")
    flags = ["--target", "basecommand", *IMAGE, "--gpus", "1", "--target-opt", "workspace=ws",
             "--target-opt", "instance=dgxa100.80g.1.norm"]
    check(["run", *flags, "plain.py"], ("ngc is not installed",), capsys)
    assert not (in_a_project / ".freight" / "runs").exists()
    assert main(["script", *flags, "plain.py"]) == 0  # `freight script` still shows the script


CONTAINER_TABLES = [
    ('[container]\ndeps = "x"\n', ("bad value 'x' for 'deps' in [container]", 'one of "image", "outside"')),
    ('[container]\nbake = "yes"\n', ("bad value 'yes' for 'bake' in [container]", "true or false")),
    ('[container]\nimage = "auto"\nbase = "a b"\n', ("bad value 'a b' for 'base'",)),
    ('[container]\nimage = "auto"\nbass = "x"\n', ("unknown key 'bass'", "did you mean 'base'?")),
    ('[container]\nimage = "docker://python:3.12"\ndeps = "outside"\n', ("--deps outside applies only",)),
    ('[preemption]\nrequeue = "yes"\n', ("bad value 'yes' for 'requeue'", "true or false")),
    ('launcher = "mpi"\n', ("bad value 'mpi' for 'launcher'", 'one of "ray", "torchrun"')),
]


@pytest.mark.parametrize(("toml", "words"), CONTAINER_TABLES, ids=[t[0].split("\n")[-2] for t in CONTAINER_TABLES])
def test_a_bad_freight_toml_is_one_line_naming_the_file(toml, words, capsys, in_a_project):
    (in_a_project / "freight.toml").write_text(toml)
    line = check(["script", "plain.py"], words, capsys)
    assert str(in_a_project / "freight.toml") in line or "applies only" in line


@pytest.mark.parametrize("name", ["chtc", "nvidia-bcp"])
def test_profiles_show_and_check_work_on_this_machine(name, capsys):
    assert main(["profiles", "show", name]) == 0
    assert "target = " in capsys.readouterr().out
    assert main(["profiles", "check", name]) in (0, 1)  # 1: this machine lacks the site's tools
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out.strip()


def test_an_unknown_profile_is_one_line(capsys):
    check(["profiles", "show", "no-such-site"], ("unknown profile 'no-such-site'", "chtc"), capsys)


def test_usage_errors_of_the_installed_command_are_one_line(in_a_project):
    done = subprocess.run([sys.executable, "-m", "freight", "image", "render", "plain.py", "--format", "bogus"],
                          capture_output=True, text=True, cwd=in_a_project, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("freight: error: Invalid value for '--format'")
    assert "(fix: see `freight image render --help`)" in done.stderr


def test_a_group_without_a_command_prints_its_help_and_no_error(capsys):
    assert main(["image"]) == 2  # click's code for "no command given"
    captured = capsys.readouterr()
    assert "plan" in captured.out and "push" in captured.out and captured.err == ""


HELP = [
    (["image"], ("plan, render, build, export, push",)),
    (["image", "plan"], ("--python", "--deps", "--lock")),
    (["image", "render"], ("--format", "docker, apptainer or charliecloud")),
    (["image", "build"], ("--engine", "--remote", "--render-only", "HTCondor build job")),
    (["image", "export"], ("sif, squashfs, tar or dir", "docker or podman")),
    (["image", "push"], ("docker.io/USER", "nvcr.io/ORG/TEAM")),
    (["doctor"], ("--cuda", "--image")),
    (["bench", "matmul"], ("--sizes", "--gpu", "--target")),
    (["profiles", "check"], ("Exit 1",)),
    (["run"], ("[targets.NAME]", "--target-opt", "or auto", "--ray", "--gpus-per-node")),
    (["script"], ("[targets.NAME]", "--deps", "--nodes")),
]


@pytest.mark.parametrize(("command", "words"), HELP, ids=[" ".join(h[0]) for h in HELP])
def test_help_of_every_new_command_renders_its_text(command, words, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # typer's help console is made per call, at this width
    assert main([*command, "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # rich wraps lines and draws boxes
    shown = shown.replace("│ ", "").replace(" │", "")
    for word in words:
        assert word in shown, word
    assert "cli/" not in shown  # no source file names in a user's help


def test_a_base_that_cannot_be_pulled_in_a_multi_stage_podman_build_is_named(tmp_path):
    """Podman numbers the stages of a multi-stage build ("[1/2] STEP 1/6: FROM …"): a FROM that
    fails there is still said as the base that cannot be pulled, not as a bare engine error."""
    from freight.image.build import build_failure, _is_step
    from freight.image.builders import get_builder

    step = "[1/2] STEP 1/6: FROM python:3.11-slim AS builder"
    assert _is_step(step)
    tail = ["Trying to pull docker.io/library/python:3.11-slim...",
            "Error: creating build container: pinging container registry registry-1.docker.io: no such host"]
    error = build_failure(get_builder("podman"), tail, step, "python:3.11-slim", tmp_path / "build.log")
    assert error.one_line().startswith(f"{tmp_path / 'build.log'}: base image python:3.11-slim does not exist "
                                       "or cannot be pulled (podman: Error: creating build container")


def test_image_plan_says_what_it_skipped_in_the_project_files(in_a_project, capsys):
    project = in_a_project / "proj"
    project.mkdir()
    (project / "main.py").write_text("print(1)\n")
    (project / "requirements.txt").write_text("numpy>=>1\n")
    assert main(["image", "plan", "proj", "--no-lock"]) == 0
    assert "warning: requirements.txt:1: not a requirement ('numpy>=>1'" in capsys.readouterr().err


def test_nodes_without_a_launcher_warns_that_only_the_first_node_runs_the_program(capsys):
    assert main(["script", "--target", "slurm", "--nodes", "2", "plain.py"]) == 0
    assert "--nodes 2 without --ray or --torchrun: the program starts on the first node only" in capsys.readouterr().err
