"""sbatch refused because Slurm's job queue is full (MaxJobCount in slurm.conf): freight says so in
sbatch's own words and says what to do, instead of "sbatch did not answer".

A real controller with a full queue: a private slurmctld started here, on its own free port and
in its own folder (nothing else uses it: the shared CI clusters are not touched), with
MaxJobCount=1, which Slurm 22.05 already counts as full with no job queued. sbatch then prints
"Slurm temporarily unable to accept job, sleeping and retrying" at once and retries for about two
minutes; freight stops it at its command time limit (shortened here to a few seconds).
The parsing of sbatch's other documented words is checked without a cluster."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from clusters import require

from freight.cli import main
from freight.sched import slurm
from freight.sched.slurm import QUEUE_FULL_FIX, _sbatch_message, queue_full

RETRYING = "Slurm temporarily unable to accept job, sleeping and retrying"


def full_cluster_problem() -> str | None:
    if shutil.which("slurmctld") is None or shutil.which("sbatch") is None:
        return "Slurm (slurmctld, sbatch) is not installed"
    if os.geteuid() != 0:
        return "starting a private slurmctld needs root"
    try:
        pwd.getpwnam("slurm")
    except KeyError:
        return "there is no 'slurm' user"
    if not Path("/run/munge/munge.socket.2").exists():
        return "munged is not running"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_conf(folder: Path) -> Path:
    slurm_user = pwd.getpwnam("slurm")
    for sub in ("state", "log"):
        (folder / sub).mkdir()
        os.chown(folder / sub, slurm_user.pw_uid, slurm_user.pw_gid)
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(f"""ClusterName=full
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmctldPidFile={folder}/slurmctld.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdSpoolDir={folder}/spool
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
MaxJobCount=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
NodeName=f1 NodeHostname={host} NodeAddr=127.0.0.1 Port=1 CPUs=2 RealMemory=1000
PartitionName=batch Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def answers(conf: Path) -> bool:
    done = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=10,
                          env={**os.environ, "SLURM_CONF": str(conf)})
    return done.returncode == 0 and "batch" in done.stdout


@pytest.fixture
def full_slurm(monkeypatch):
    """SLURM_CONF pointing at a running private controller whose queue is full."""
    require(full_cluster_problem(), "install Slurm and munge as ci/slurm.sh does, and run the tests as root")
    folder = Path(tempfile.mkdtemp(prefix="freight-full-slurm-"))  # pytest's own is root-only: slurm reads here
    folder.chmod(0o755)
    conf = write_conf(folder)
    controller = subprocess.Popen(["slurmctld", "-D", "-i"], env={**os.environ, "SLURM_CONF": str(conf)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not answers(conf):
            assert controller.poll() is None and time.monotonic() < deadline, (folder / "log" / "slurmctld.log").read_text()
            time.sleep(0.5)
        monkeypatch.setenv("SLURM_CONF", str(conf))
        monkeypatch.setattr(slurm, "COMMAND_TIMEOUT_S", 4)  # sbatch alone retries for two minutes
        slurm.cluster_limits.cache_clear()
        yield conf
    finally:
        slurm.cluster_limits.cache_clear()
        controller.send_signal(signal.SIGTERM)
        controller.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_full_queue_is_reported_in_sbatchs_words_with_the_fix(full_slurm, tmp_path, monkeypatch, capsys):
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/bash\ntrue\n")
    direct = subprocess.run(["timeout", "2", "sbatch", str(script)], capture_output=True, text=True)
    assert RETRYING in direct.stderr  # the situation is real: slurmctld refuses every job

    project = tmp_path / "project"
    project.mkdir()
    (project / "t.py").write_text("print(1)\n")
    monkeypatch.chdir(project)
    monkeypatch.delenv("FREIGHT_HOME", raising=False)
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "no-config"))
    code = main(["run", "--target", "slurm", "--env", "current", "--sweep", "x=1,2", "t.py"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "did not answer" not in err
    assert "no job queued in 4 s (Slurm's job queue is full: MaxJobCount in slurm.conf; or slurmctld is " \
           f"overloaded); sbatch said: {RETRYING}" in err
    print(err)  # for the record: pytest -s shows the whole line
    assert f"(fix: {QUEUE_FULL_FIX})" in err and "--pack K" in err


# sbatch's words for the same situation, as Slurm's documentation and sbatch.c print them
@pytest.mark.parametrize("stderr, said", [
    ("sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying\n"
     "sbatch: error: Batch job submission failed: Resource temporarily unavailable\n",
     "Slurm temporarily unable to accept job, sleeping and retrying; "
     "Batch job submission failed: Resource temporarily unavailable"),
    ("sbatch: error: Slurm job queue full, sleeping and retrying.\n",
     "Slurm job queue full, sleeping and retrying."),
    # what freight keeps of a command it stopped: the lines joined into one
    ("sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying sbatch: error: "
     "Batch job submission failed: Resource temporarily unavailable",
     "Slurm temporarily unable to accept job, sleeping and retrying; "
     "Batch job submission failed: Resource temporarily unavailable"),
])
def test_sbatchs_queue_full_words_are_recognised(stderr, said):
    assert _sbatch_message(stderr) == said
    assert queue_full(said)


@pytest.mark.parametrize("stderr", [
    "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n",
    "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
    "sbatch: Job creation temporarily disabled, retrying\n",  # info, not an error: nodes powering up
])
def test_other_refusals_are_not_taken_for_a_full_queue(stderr):
    assert not queue_full(_sbatch_message(stderr))
