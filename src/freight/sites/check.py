"""`freight profiles check NAME`: what this machine lacks to run a site profile's jobs.

Each finding says what was looked for (the target in freight, the scheduler's commands, the
container engine, the `module` command, the scratch folder, the environment variables the
profile uses), whether it is here, and how to fix it when it is not.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from freight.sites.profile import Profile, expandable_places, missing_variables

SCHEDULER_COMMANDS = {
    "slurm": ("sbatch", "squeue", "scancel", "srun"),
    "sge": ("qsub", "qstat", "qdel", "qrsh"),
    "htcondor": ("condor_submit", "condor_q"),
    "basecommand": ("ngc",),
    "pbs": ("qsub", "qstat"),
    "lsf": ("bsub", "bjobs"),
    "kubernetes": ("kubectl",),
}
INSTALL = {
    "slurm": "or install Slurm's client (Debian: apt install slurm-client)",
    "sge": "or install Grid Engine's client (Debian: apt install gridengine-client)",
    "htcondor": "or install HTCondor (pip install htcondor for the bindings)",
    "basecommand": "or install the NGC CLI (https://org.ngc.nvidia.com/setup/installers/cli)",
}
ENGINE_PROGRAMS = {"apptainer": "apptainer", "singularity": "singularity", "charliecloud": "ch-run",
                   "podman": "podman", "docker": "docker", "enroot": "enroot", "pyxis": "srun"}
Which = Callable[[str], "str | None"]


@dataclass
class Finding:
    what: str  # target, scheduler, engine, modules, scratch, variable
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def check_profile(profile: Profile, environ: Mapping[str, str] | None = None,
                  which: Which = shutil.which) -> list[Finding]:
    environ = os.environ if environ is None else environ
    return [
        _target(profile),
        *_scheduler(profile, which),
        *_engine(profile, which),
        *_modules(profile, environ, which),
        *_scratch(profile, environ),
        *_variables(profile, environ),
    ]


def _target(profile: Profile) -> Finding:
    from freight.sched import TARGETS

    if profile.target in TARGETS:
        return Finding("target", True, f"freight's {profile.target} target")
    return Finding("target", False, f"freight has no {profile.target} target yet",
                   fix=f"none yet; meanwhile --target {'|'.join(TARGETS)} takes the profile's other settings")


def _scheduler(profile: Profile, which: Which) -> list[Finding]:
    commands = SCHEDULER_COMMANDS.get(profile.target, ())
    missing = [command for command in commands if which(command) is None]
    if not commands:
        return []
    if not missing:
        return [Finding("scheduler", True, f"{', '.join(commands)} found")]
    fix = f"run freight on the site's login node, {INSTALL.get(profile.target, 'where these commands are')}"
    return [Finding("scheduler", False, f"{', '.join(missing)} not found", fix=fix)]


def _engine(profile: Profile, which: Which) -> list[Finding]:
    name = profile.settings.get("container", {}).get("engine")
    if name is None:
        return []
    program = ENGINE_PROGRAMS.get(name, name)
    if which(program) is not None:
        return [Finding("engine", True, f"{name}: {program} found")]
    modules = _modules_of(profile)
    fix = (f"`module load {' '.join(modules)}` provides it on the site's nodes" if modules
           else f"install {name}, or run freight where the site provides {program}")
    return [Finding("engine", False, f"{name}: {program} not found", fix=fix)]


def _modules_of(profile: Profile) -> list[str]:
    targets = profile.settings.get("targets", {})
    return list((targets.get(profile.target) or {}).get("modules", []))


def _modules(profile: Profile, environ: Mapping[str, str], which: Which) -> list[Finding]:
    modules = _modules_of(profile)
    if not modules:
        return []
    # Lmod and Environment Modules define `module` as a shell function and set one of these.
    present = any(environ.get(var) for var in ("LMOD_CMD", "MODULESHOME")) or which("modulecmd") is not None
    detail = f"`module load {' '.join(modules)}` needs Lmod or Environment Modules"
    if present:
        return [Finding("modules", True, detail.replace("needs", "can use"))]
    return [Finding("modules", False, detail + ": not set up here",
                    fix="run freight on the site's login node, where `module` is set up")]


def _scratch(profile: Profile, environ: Mapping[str, str]) -> list[Finding]:
    text = profile.site.scratch
    if text is None:
        return []
    missing = missing_variables(text, environ)
    if missing:
        return [Finding("scratch", False, f"{text}: ${missing[0]} is not set",
                        fix=f"run freight on the site's login node, or export {missing[0]}=…")]
    from string import Template

    path = Path(Template(text).substitute(environ))
    if path.is_dir() and os.access(path, os.W_OK):
        return [Finding("scratch", True, f"{path} is a writable folder")]
    if path.is_dir():
        return [Finding("scratch", False, f"{path} is not writable", fix="ask the site for your scratch folder")]
    parent_ok = path.parent.is_dir() and os.access(path.parent, os.W_OK)
    fix = f"mkdir -p {path}" if parent_ok else "ask the site for a scratch folder, or run freight on its login node"
    return [Finding("scratch", False, f"{path} does not exist", fix=fix)]


def _variables(profile: Profile, environ: Mapping[str, str]) -> list[Finding]:
    """Variables the profile's values use ($NAME) that this machine does not set."""
    scratch = set(missing_variables(profile.site.scratch or "", environ))
    missing: dict[str, None] = {}
    for table, key in expandable_places(profile.settings):
        for text in _strings(table[key]):
            missing.update(dict.fromkeys(name for name in missing_variables(text, environ) if name not in scratch))
    return [Finding("variable", False, f"${name} is used by the profile but not set here",
                    fix=f"run freight on the site's login node, or export {name}=…") for name in missing]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    return []
