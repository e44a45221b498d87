"""`freight shell`'s argv for each target, as exact lists: srun/qrsh with one task's resources,
the setup script (modules, env, folder) and the engine's exec of the shell in the job's image.
The local argv is also run, to show values reach the shell literally."""

import shlex
import subprocess

import pytest
from clusters import shellcheck

from freight.engines import get_engine
from freight.errors import ConfigError
from freight.sched.interactive import setup_script, shell_argv
from freight.sched.sge import H_RT_MARGIN_S, h_rt
from freight.spec.job import Container, Job
from freight.spec.resources import Resources

THREADS = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "FREIGHT_TORCH_THREADS"]
ODD = "a b $HOME; 'q' \"d\" `id`"


def make_job(workdir, cpus=1, container=None, **fields) -> Job:
    return Job(name="train", command=["python", "train.py"], workdir=str(workdir),
               resources=Resources(cpus=cpus, **fields.pop("resources", {})), container=container, **fields)


def test_local_runs_setup_then_the_shell_and_values_arrive_literally(tmp_path):
    folder = tmp_path / "my project"
    folder.mkdir()
    job = make_job(folder, cpus=3, env={"ODD": ODD})
    argv = shell_argv(job, "local", ["bash"])
    assert argv == ["bash", "-c", setup_script(job, "local"), "freight-shell", "bash"]
    assert argv[2] == "set -eu\n" + "".join(f"export {v}=3\n" for v in THREADS) + (
        f"export ODD={shlex.quote(ODD)}\ncd {shlex.quote(str(folder))}\nexec \"$@\"\n")
    command = ["sh", "-c", 'printf "%s\\n" "$ODD" "$PWD" "$OMP_NUM_THREADS" "$1"', "x", ODD]
    done = subprocess.run(shell_argv(job, "local", command, tty=False), capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [ODD, str(folder), "3", ODD]


def test_python_in_the_shell_is_the_tasks_python_unless_in_an_image(tmp_path):
    venv_python = tmp_path / "venv dir" / "bin" / "python"
    job = make_job(tmp_path, python=str(venv_python))
    assert f"export PATH={shlex.quote(str(venv_python.parent))}:\"$PATH\"\n" in setup_script(job, "local")
    in_image = make_job(tmp_path, python=str(venv_python), container=Container(image="/i.sif", engine="apptainer"))
    assert "export PATH=" not in setup_script(in_image, "local")


def test_slurm_asks_srun_for_one_tasks_resources_in_the_jobs_partition(tmp_path):
    options = {"partition": "cpu", "gpu_partition": "gpu", "account": "lab", "qos": "high",
               "sbatch_args": ["--constraint=ib"], "modules": ["tacc-apptainer", "cuda/12.2"],
               "env": {"SITE": "x y"}}
    job = make_job(tmp_path, cpus=4, target_options=options, env={"MINE": "1"},
                   resources={"mem_mb": "8G", "gpus": 2, "gpu_type": "a100", "time_s": "1h", "nodes": 3})
    argv = shell_argv(job, "slurm", ["bash"])
    assert argv[:argv.index("bash")] == [
        "srun", "--pty", "--job-name=train-shell", "--partition=gpu", "--account=lab", "--qos=high",
        "--time=01:00:00", "--nodes=1", "--ntasks=1", "--cpus-per-task=4", "--mem=8192M",
        "--gres=gpu:a100:2", "--constraint=ib"]
    setup = argv[argv.index("bash") + 2]
    assert argv[argv.index("bash"):] == ["bash", "-c", setup, "freight-shell", "bash"]
    assert "set +u\nmodule load tacc-apptainer cuda/12.2\nset -u\n" in setup
    assert "export SITE='x y'\n" in setup and "export MINE=1\n" in setup
    cpu_job = make_job(tmp_path, target_options={"partition": "cpu", "gpu_syntax": "none"}, resources={"gpus": 1})
    assert shell_argv(cpu_job, "slurm", ["sh"], tty=False)[:5] == [
        "srun", "--job-name=train-shell", "--partition=cpu", "--nodes=1", "--ntasks=1"]


def test_sge_asks_qrsh_for_the_same_resources_and_quotes_each_word(tmp_path):
    options = {"gpu_queue": "gpu", "queue": "long", "gpu_resource": "gpu_card", "project": "p1",
               "qsub_args": ["-m ea", "-M 'me@nd.edu'"]}
    job = make_job(tmp_path, cpus=4, target_options=options, env={"ODD": ODD},
                   resources={"mem_mb": "8G", "gpus": 2, "time_s": 600})
    argv = shell_argv(job, "sge", ["bash", "-c", ODD], tty=True)
    prefix = ["qrsh", "-now", "no", "-pty", "y", "-N", "train-shell", "-w", "e", "-q", "gpu", "-P", "p1",
              "-l", f"h_rt={h_rt(600 + H_RT_MARGIN_S)}", "-pe", "smp", "4", "-l", "h_vmem=2048M", "-l", "gpu_card=2",
              "-m", "ea", "-M", "me@nd.edu"]
    assert argv[:len(prefix)] == prefix
    words = argv[len(prefix):]
    # qrsh joins its words with spaces and the node's shell splits them again
    assert shlex.split(" ".join(words)) == ["bash", "-c", setup_script(job, "sge"), "freight-shell",
                                            "bash", "-c", ODD]
    assert 'export PATH="${SGE_O_PATH:-$PATH}"\n' in setup_script(job, "sge")
    assert shell_argv(make_job(tmp_path, target_options={"verify": False}), "sge", ["sh"], tty=False)[:7] == [
        "qrsh", "-now", "no", "-pty", "n", "-N", "train-shell"]


def test_in_an_image_the_engine_execs_the_shell_with_the_tasks_mounts_env_and_folder(tmp_path):
    image = str(tmp_path / "img.sif")
    job = make_job(tmp_path, cpus=2, env={"ODD": ODD}, resources={"gpus": 1},
                   container=Container(image=image, engine="apptainer", mounts=["/data:/data:ro"]))
    argv = shell_argv(job, "slurm", ["bash"], tty=True)
    inside = argv[argv.index("freight-shell") + 1:]
    env = {**{v: "2" for v in THREADS}, "ODD": ODD}
    assert inside == get_engine("apptainer").exec_argv(
        image, ["bash"], mounts=[f"{tmp_path}:{tmp_path}", "/data:/data:ro"], env=env, workdir=str(tmp_path),
        gpus=1, interactive=True)
    assert inside[inside.index("apptainer"):inside.index("apptainer") + 5] == [
        "apptainer", "exec", "--cleanenv", "--no-home", "--nv"]
    setup = argv[argv.index("freight-shell") - 1]
    assert '[ -z "${CUDA_VISIBLE_DEVICES+x}" ] || export APPTAINERENV_CUDA_VISIBLE_DEVICES="$CUDA_VISIBLE_DEVICES"\n' in setup


def test_the_setup_script_passes_shellcheck(tmp_path):
    job = make_job(tmp_path / "it's $x", env={"ODD": ODD},
                   target_options={"modules": ["a b"], "env": {"S": "$(id)"}},
                   container=Container(image="/i.sif", engine="singularity"))
    for target in ("local", "slurm", "sge"):
        path = tmp_path / f"setup-{target}.sh"
        path.write_text("#!/bin/bash\n" + setup_script(job, target, get_engine("singularity")))
        shellcheck(path)


def test_a_target_without_shells_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="freight shell cannot open a shell on target 'htcondor'"):
        shell_argv(make_job(tmp_path), "htcondor", ["bash"])


def test_an_unnamed_engine_on_a_cluster_is_guessed_from_this_machine_or_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no engine at all here
    job = make_job(tmp_path, container=Container(image="docker://python:3.11"))
    with pytest.raises(ConfigError) as caught:
        shell_argv(job, "slurm", ["bash"])
    assert caught.value.one_line().endswith("(fix: name it with --engine (or [container] engine))")
    named = make_job(tmp_path, container=Container(image="x.sif", engine="apptainer"))
    assert "apptainer" in shell_argv(named, "slurm", ["bash"])  # not looked for on the login node
