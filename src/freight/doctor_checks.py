"""The checks of `freight doctor` that read more than one command: login node, the driver
against an image's CUDA version, and the room left where image caches go (see doctor.py)."""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from freight.doctor import (IN_JOB_VARS, LOGIN_ADVICE, LOGIN_HOST, MANY_USERS, PROBE_TIMEOUT_S,
                            DoctorRequest, Finding, Probe)

GIB = 1024**3
TOO_SMALL = 2 * GIB  # an image pull or build needs several GB: below this it will fail
SMALL = 10 * GIB
QUOTA_LIKE = 200 * GIB  # a $HOME filesystem this small is likely a quota'd home share
# Where a CUDA version shows in an image reference: nvidia/cuda:12.4.1-…, …-cuda12.1-…, cu121
TAG_CUDA = (re.compile(r"nvidia/cuda:(\d+\.\d+)"), re.compile(r"cuda[-_]?(\d+\.\d+)"), re.compile(r"\bcu(\d\d)(\d)\b"))
Usage = Callable[[str], tuple]  # shutil.disk_usage: (total, used, free)


def login_findings(hostname: str, environ: Mapping[str, str], probes: Mapping[str, Probe]) -> list[Finding]:
    job = next((var for var in IN_JOB_VARS if environ.get(var)), None)
    if job:
        return [Finding("node", hostname, "ok", f"inside a job ({job}={environ[job]}): heavy work is fine here")]
    reasons = login_reasons(hostname, probes)
    strong = LOGIN_HOST.search(hostname) is not None
    if strong or len(reasons) >= 2:
        return [Finding("node", hostname, "warn", "looks like a login node: " + "; ".join(reasons), fix=LOGIN_ADVICE)]
    if reasons:
        return [Finding("node", hostname, "info", "may be a login node: " + reasons[0], fix=LOGIN_ADVICE)]
    return [Finding("node", hostname, "ok", "not a login node by its name, users or schedulers")]


def login_reasons(hostname: str, probes: Mapping[str, Probe]) -> list[str]:
    reasons = []
    if LOGIN_HOST.search(hostname):
        reasons.append(f"hostname {hostname!r} is named like one")
    clients = [name for name in ("sbatch", "qsub", "condor_submit", "bsub") if probes.get(name, Probe(None)).path]
    if clients:
        reasons.append(f"{', '.join(clients)} here but not inside a job")
    users = logged_in_users(probes.get("who", Probe(None)))
    if len(users) >= MANY_USERS:
        reasons.append(f"{len(users)} users logged in")
    return reasons


def logged_in_users(found: Probe) -> set[str]:
    if found.code != 0:
        return set()
    return {line.split()[0] for line in found.output.splitlines() if line.split()}


# --- the driver against an image's or a planned base's CUDA version ---------------------------

def check_request(request: DoctorRequest) -> None:
    """ConfigError for a --cuda or --image that cannot be checked, before any probe runs."""
    from freight.cuda_drivers import parse_cuda
    from freight.image.bases import check_image_ref

    if request.cuda is not None:
        parse_cuda(request.cuda)
    if request.image is not None:
        check_image_ref(request.image, "--image")


def cuda_findings(request: DoctorRequest, driver: str | None, probes: Mapping[str, Probe]) -> list[Finding]:
    from freight.cuda_drivers import check_driver, minimum_driver, parse_cuda

    wanted: list[tuple[str, str]] = []
    findings = []
    if request.cuda:
        major, minor = parse_cuda(request.cuda)
        wanted.append((f"--cuda {request.cuda}", f"{major}.{minor}"))
    if request.image:
        found = image_cuda(request.image, probes)
        if found is None:
            findings.append(Finding("cuda", request.image, "info", "no CUDA version in the image's name, nor in its "
                                    "ENV if it is here (a CPU image, or not pulled here?)",
                                    fix="pass --cuda X.Y to check the CUDA version it uses"))
        else:
            wanted.append((request.image, found))
    for label, cuda in wanted:
        if driver is None:
            needs, notes = minimum_driver(cuda)
            detail = "; ".join([f"CUDA {cuda} needs driver >= {needs}; no NVIDIA driver here to check", *notes])
            findings.append(Finding("cuda", label, "info", detail,
                                    fix=f"run `freight doctor --cuda {cuda}` on a GPU node (in a job)"))
            continue
        verdict = check_driver(driver, cuda)
        detail = f"CUDA {cuda} needs driver >= {verdict.needs}; this one is {driver}"
        status = "ok" if verdict.ok else "problem"
        findings.append(Finding("cuda", label, status, " ".join([detail, *verdict.notes]), fix=verdict.fix, version=cuda))
    return findings


def image_cuda(image: str, probes: Mapping[str, Probe]) -> str | None:
    """The image's CUDA major.minor: from its name, else from its ENV/files when it is local."""
    for pattern in TAG_CUDA:
        match = pattern.search(image)
        if match:
            return ".".join(match.groups()) if len(match.groups()) > 1 else match.group(1)
    if os.path.isdir(image):
        return _dir_image_cuda(Path(image))
    for engine in ("podman", "docker"):
        if probes.get(engine, Probe(None)).path:
            found = _oci_image_cuda(engine, image)
            if found:
                return found
    return None


def _cuda_from_env(lines: list[str]) -> str | None:
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() == "CUDA_VERSION" and re.match(r"\d+\.\d+", value.strip().strip("'\"")):
            return ".".join(value.strip().strip("'\"").split(".")[:2])
    return None


def _dir_image_cuda(root: Path) -> str | None:
    """A Charliecloud/Apptainer directory image: /ch/environment, then CUDA's version.json."""
    try:
        found = _cuda_from_env((root / "ch" / "environment").read_text().splitlines())
    except OSError:
        found = None
    if found:
        return found
    try:
        data = json.loads((root / "usr" / "local" / "cuda" / "version.json").read_text())
        return ".".join(data["cuda"]["version"].split(".")[:2])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _oci_image_cuda(engine: str, image: str) -> str | None:
    try:
        done = subprocess.run([engine, "image", "inspect", "--format", "{{json .Config.Env}}", image],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
        return _cuda_from_env(json.loads(done.stdout or "null") or []) if done.returncode == 0 else None
    except (subprocess.TimeoutExpired, OSError, ValueError):
        return None


# --- where image caches go, and the room left there -------------------------------------------

def cache_places(environ: Mapping[str, str], probes: Mapping[str, Probe]) -> list[tuple[str, str, bool]]:
    """(variable, path, set by the user) for each cache this machine uses."""
    from freight.engines.venv import cache_dir
    from freight.runs.layout import freight_home

    home = environ.get("HOME") or os.path.expanduser("~")
    user = environ.get("USER") or getpass.getuser()
    defaults = {
        "APPTAINER_CACHEDIR": ("apptainer", f"{home}/.apptainer/cache"),
        "SINGULARITY_CACHEDIR": ("singularity", f"{home}/.singularity/cache"),
        "CH_IMAGE_STORAGE": ("ch-image", f"/var/tmp/{user}.ch"),
    }
    places = []
    for var, (program, default) in defaults.items():
        if environ.get(var):
            places.append((var, environ[var], True))
        elif probes.get(program, Probe(None)).path:
            places.append((var, default, False))
    places.append(("FREIGHT_CACHE_DIR", str(environ.get("FREIGHT_CACHE_DIR") or cache_dir()), bool(environ.get("FREIGHT_CACHE_DIR"))))
    places.append(("FREIGHT_HOME", str(environ.get("FREIGHT_HOME") or freight_home()), bool(environ.get("FREIGHT_HOME"))))
    return places


def cache_findings(environ: Mapping[str, str], probes: Mapping[str, Probe], usage: Usage = shutil.disk_usage) -> list[Finding]:
    home = environ.get("HOME") or os.path.expanduser("~")
    return [cache_finding(var, path, chosen, home, usage) for var, path, chosen in cache_places(environ, probes)]


def cache_finding(var: str, path: str, chosen: bool, home: str, usage: Usage = shutil.disk_usage) -> Finding:
    """Room left where `path` is (or would be created), and whether it sits on a small $HOME."""
    where = _existing_parent(Path(path))
    disk = usage(str(where))
    free = f"{disk.free / GIB:.1f} GiB free of {disk.total / GIB:.0f} GiB"
    detail = f"{path}{'' if chosen else ' (default)'}: {free}"
    move = f"export {var}=/a/bigger/folder (the site's scratch, e.g. $SCRATCH/{var.lower()})"
    if disk.free < TOO_SMALL:
        return Finding("cache", var, "problem", detail + ": too little room for images", fix=move)
    if disk.free < SMALL:
        return Finding("cache", var, "warn", detail + ": little room for images", fix=move)
    if _under(Path(path), Path(home)) and disk.total < QUOTA_LIKE:
        return Finding("cache", var, "warn", detail + ": under $HOME, whose small size suggests a quota",
                       fix=move)
    return Finding("cache", var, "ok", detail)


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _under(path: Path, folder: Path) -> bool:
    try:
        path.expanduser().absolute().relative_to(folder.expanduser().absolute())
        return True
    except ValueError:
        return False

