"""`freight doctor`: what this machine has and what stands in the way, each problem with its fix.

    report = diagnose(DoctorRequest(image="nvidia/cuda:12.4.1-runtime-ubuntu22.04"))
    report.problems  -> the findings whose status is "problem" (the CLI exits 1 when any)

Findings by area: container engines and schedulers on PATH with their versions (every probe in
its own thread with a short timeout, so doctor stays fast), whether this looks like a login
node (the seeds: login nodes are for editing and submitting, never heavy work), NVIDIA GPUs and
the driver, whether that driver runs an image's (or a planned base's) CUDA version, and where
image caches go with the room left there.

Statuses: ok, absent (not installed: fine unless you need it), info, warn (advice), problem.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

PROBE_TIMEOUT_S = 5.0
VERSION = re.compile(r"v?(\d+(?:\.\d+)+[\w.+~-]*)")
ENGINES = {  # name shown -> the command that prints its version
    "docker": ["docker", "--version"], "podman": ["podman", "--version"],
    "apptainer": ["apptainer", "--version"], "singularity": ["singularity", "--version"],
    "ch-run": ["ch-run", "--version"], "ch-image": ["ch-image", "--version"],
    "enroot": ["enroot", "version"],
}
SCHEDULERS = {
    "sbatch": ["sbatch", "--version"], "qsub": ["qsub", "-help"],
    "condor_submit": ["condor_submit", "-version"], "bsub": ["bsub", "-V"],
    "ngc": ["ngc", "--version"], "kubectl": ["kubectl", "version", "--client"],
}
GRID_ENGINE = re.compile(r"^(SGE|GE|OGS|UGE|Univa|Altair Grid Engine|Son of Grid Engine)\b")
GPU_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
# Login-node hostnames: login1.frontera, ln03, crcfe01 (Notre Dame's front ends), submit2, head
LOGIN_HOST = re.compile(r"(login|logon|submit|frontend|head)\d*|(^|[^a-z])(ln|fe)\d+|^[a-z]+fe\d+", re.I)
IN_JOB_VARS = ("SLURM_JOB_ID", "JOB_ID", "PBS_JOBID", "LSB_JOBID", "_CONDOR_JOB_AD", "NGC_JOB_ID",
               "KUBERNETES_SERVICE_HOST")
MANY_USERS = 5
LOGIN_ADVICE = ("login nodes are shared and meant for editing and submitting: never run heavy work "
                "there; send it to a compute node with `freight run --target slurm|sge|...`")


@dataclass
class Finding:
    area: str  # engine, scheduler, node, gpu, cuda, cache
    name: str
    status: str  # ok, absent, info, warn, problem
    detail: str
    fix: str = ""
    version: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DoctorRequest:
    image: str | None = None  # check the driver against this image's CUDA version
    cuda: str | None = None  # or against a planned base's CUDA version ("12.4")
    environ: Mapping[str, str] | None = None  # None: os.environ
    hostname: str | None = None  # None: this machine's


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "problem"]

    def as_dict(self) -> dict:
        return {"ok": not self.problems, "problems": len(self.problems),
                "findings": [f.as_dict() for f in self.findings]}


@dataclass
class Probe:
    """What running one command said: None when the program is not on PATH."""

    path: str | None
    code: int | None = None
    output: str = ""


def diagnose(request: DoctorRequest | None = None) -> Report:
    """Every check, the slow ones (commands) run at once in threads."""
    from freight.doctor_checks import cache_findings, check_request, cuda_findings, login_findings

    request = request or DoctorRequest()
    check_request(request)
    environ = os.environ if request.environ is None else request.environ
    commands = {**ENGINES, **SCHEDULERS, "nvidia-smi": GPU_QUERY, "who": ["who"]}
    probes = run_probes(commands, environ)
    findings = [tool_finding("engine", name, probes[name]) for name in ENGINES]
    findings.append(engines_summary(findings))
    findings += [tool_finding("scheduler", name, probes[name], environ) for name in SCHEDULERS]
    node = login_findings(request.hostname or socket.gethostname(), environ, probes)
    gpus, driver = gpu_findings(probes["nvidia-smi"])
    findings += [*node, *gpus, *cuda_findings(request, driver, probes), *cache_findings(environ, probes)]
    return Report(findings)


def run_probes(commands: dict[str, list[str]], environ: Mapping[str, str]) -> dict[str, Probe]:
    """Each command run once, all at the same time, each within PROBE_TIMEOUT_S."""
    env = {**environ, "USER": environ.get("USER") or getpass.getuser(), "LC_ALL": "C"}  # ch-run needs $USER
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = {name: pool.submit(probe, argv, env) for name, argv in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def probe(argv: list[str], env: Mapping[str, str]) -> Probe:
    import shutil

    path = shutil.which(argv[0], path=env.get("PATH"))
    if path is None:
        return Probe(None)
    try:
        done = subprocess.run([path, *argv[1:]], capture_output=True, text=True, env=dict(env),
                              timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Probe(path, None, f"no answer within {PROBE_TIMEOUT_S:g} s")
    except OSError as exc:
        return Probe(path, None, exc.strerror or str(exc))
    return Probe(path, done.returncode, (done.stdout + "\n" + done.stderr).strip())


def version_of(output: str) -> str | None:
    """The first version number in a program's --version output."""
    match = VERSION.search(output)
    return match.group(1) if match else None


def tool_finding(area: str, name: str, found: Probe, environ: Mapping[str, str] | None = None) -> Finding:
    if found.path is None:
        return Finding(area, name, "absent", "not on PATH")
    if name == "qsub":
        return qsub_finding(found, environ or {})
    version = version_of(found.output) if found.code is not None else None
    if version is None:
        last = found.output.splitlines()[-1] if found.output else f"exit code {found.code}"
        return Finding(area, name, "warn", f"{found.path}: its version command failed: {last}",
                       fix=f"check that {name} works here (`{name} --version`)")
    return Finding(area, name, "ok", found.path, version=version)


def qsub_finding(found: Probe, environ: Mapping[str, str]) -> Finding:
    """qsub is Grid Engine's or PBS's (Pro or Torque): `qsub -help` names Grid Engine first."""
    first = found.output.splitlines()[0].strip() if found.output else ""
    if GRID_ENGINE.match(first):
        return Finding("scheduler", "qsub", "ok", f"{found.path} (Grid Engine)", version=version_of(first))
    version = probe(["qsub", "--version"], {**environ, "PATH": os.path.dirname(found.path or "")})
    flavor = "PBS Pro" if "pbs_version" in version.output else "PBS/Torque"
    return Finding("scheduler", "qsub", "ok", f"{found.path} ({flavor})", version=version_of(version.output))


def engines_summary(findings: list[Finding]) -> Finding:
    runners = [f.name for f in findings if f.area == "engine" and f.status == "ok" and f.name != "ch-image"]
    if runners:
        return Finding("engine", "any", "ok", f"--image can run with: {', '.join(runners)}")
    return Finding("engine", "any", "warn", "no container engine: jobs run in a Python environment only",
                   fix="install podman or apptainer (or `module load apptainer` on a cluster) to use --image")


def gpu_findings(found: Probe) -> tuple[list[Finding], str | None]:
    """One finding per GPU, and the driver version (None: no NVIDIA driver here)."""
    if found.path is None:
        return [Finding("gpu", "nvidia", "info", "no NVIDIA GPU here (nvidia-smi not found)",
                        fix="GPU work runs on GPU nodes: submit it with --gpus N")], None
    if found.code != 0:
        message = found.output.splitlines()[0] if found.output else f"exit code {found.code}"
        return [Finding("gpu", "nvidia", "problem", f"nvidia-smi failed: {message}",
                        fix="the NVIDIA driver is not loaded or not working: ask the site's admins")], None
    findings, driver = [], None
    for index, line in enumerate(row for row in found.output.splitlines() if row.strip()):
        name, memory, driver = (part.strip() for part in (line.split(",") + ["", ""])[:3])
        findings.append(Finding("gpu", f"gpu{index}", "ok", f"{name}, {memory}", version=driver))
    return findings, driver
