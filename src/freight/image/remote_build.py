"""`freight image build --profile chtc` (any profile whose target is htcondor, or `--remote
htcondor`): build the image in an HTCondor build job instead of on the login node.

What is written, into one folder (`.freight/image-builds/NAME-TAG/`, or `--render-only DIR`):
  htcondor-build.sub   the submit description: +IsBuildJob = true, request_disk/memory sized
                       from the plan (build_size.py), the engine's requirements, the context
                       sent with transfer_input_files, the image sent back (or pushed)
  freight-build.sh     what the job runs: apptainer build (CHTC's documented way) or podman
                       build, then podman save / apptainer push / podman push
  context/             H1's write_context: the recipe and what it copies in, filtered (no
                       .git, .env, keys): the ONLY thing that travels with the job

Two ways to end. Without `--registry` the job is a batch job and the image file comes back to
the folder (`transfer_output_files`): use it as `--image FOLDER/NAME.sif`, or push it from the
access point. With `--registry` the image is pushed from inside the job with the engine's own
login, which needs a person to type the password into the engine (never into a file): the job
is an interactive one (`condor_submit -i`, the seed's way) and freight hands the terminal over.

Submission goes through the htcondor target's Condor (bindings first, condor_submit second);
neither here is a one-line MissingToolError, after the files are written.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from freight.errors import ConfigError, InputError, MissingToolError
from freight.image.build_size import BuildSize, parse_gb, size_build
from freight.sched.htcondor_render import classad_literal, file_list_item, submit_value

SUBMIT_FILE = "htcondor-build.sub"
SCRIPT = "freight-build.sh"
CONTEXT = "context"
RECIPES = {"apptainer": "apptainer", "podman": "docker"}  # engine -> H1's render format
Engine = Literal["apptainer", "podman"]
# The startd advertises HasSingularity when it finds a working apptainer/singularity:
# https://htcondor.readthedocs.io/en/latest/admin-manual/singularity-support.html
ENGINE_REQUIREMENTS = {"apptainer": "(HasSingularity == true)", "podman": None}
REQUIREMENTS_NOTES = {
    "apptainer": "requirements: HasSingularity is what a startd advertises when apptainer works "
                 "there (HTCondor admin manual, Apptainer/Singularity support).",
    "podman": "requirements: none: no documented machine attribute says podman is installed "
              "(guess: CHTC's build slots have it, as the seed's podman build shows).",
}


@dataclass(frozen=True)
class RemoteBuild:
    """One build job, as written to `folder`."""

    folder: Path
    engine: str
    image_file: str  # NAME-TAG.sif (apptainer) or NAME-TAG.tar (podman, OCI archive)
    destination: str | None  # REGISTRY/NS/NAME:TAG when the job pushes
    size: BuildSize
    left_out: list[str]  # what write_context kept out of the code (with --bake)

    @property
    def submit_file(self) -> Path:
        return self.folder / SUBMIT_FILE

    @property
    def interactive(self) -> bool:
        return self.destination is not None

    def submit_argv(self) -> list[str]:
        """The command that starts it by hand (an interactive job needs condor_submit -i)."""
        return ["condor_submit", *(["-i"] if self.interactive else []), str(self.submit_file)]


def default_folder(plan) -> Path:
    return Path(plan.root) / ".freight" / "image-builds" / f"{plan.name}-{plan.tag}"


def prepare(plan, folder: Path | None = None, *, engine: Engine = "apptainer", registry: str | None = None,
            site_disk: str | None = None, disk: str | None = None) -> RemoteBuild:
    """Write the build job's files into `folder` (new or empty). `site_disk`: the profile's
    build_disk (a floor); `disk`: an explicit request_disk that wins over the estimate."""
    from freight.image.render import write_context

    if engine not in RECIPES:
        raise ConfigError(f"a build job builds with apptainer or podman, not {engine!r}",
                          fix="use --engine apptainer (CHTC's way) or --engine podman")
    _refuse_local_base(plan)
    folder = Path(folder) if folder is not None else default_folder(plan)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("the build job folder is not empty" if folder.is_dir() else "not a folder",
                         fix="give a new or empty folder, or remove it", path=folder)
    # Every value is checked before the first file is written: a bad one leaves no half folder.
    destination, floor_gb = _destination(plan, registry), parse_gb(site_disk)
    wanted_gb = parse_gb(disk) if disk is not None else None
    left_out = write_context(plan, folder / CONTEXT, RECIPES[engine])
    size = size_build(plan, _bytes_in(folder / CONTEXT), floor_gb)
    if wanted_gb is not None:
        size = BuildSize(wanted_gb, size.memory_gb, size.expected_gb, f"--disk {disk}")
    build = RemoteBuild(folder, engine, f"{plan.name}-{plan.tag}.{'sif' if engine == 'apptainer' else 'tar'}",
                        destination, size, left_out)
    script = folder / SCRIPT
    script.write_text(render_script(plan, build), encoding="utf-8")
    script.chmod(0o755)
    build.submit_file.write_text(render_submit(plan, build), encoding="utf-8")
    return build


def _refuse_local_base(plan) -> None:
    if plan.base.kind == "local":
        raise InputError(f"the base {plan.base.image} is a file on this machine, which a build job cannot reach",
                         fix="use a registry base (--base REF), or build here with --remote none")


def _destination(plan, registry: str | None) -> str | None:
    if registry is None:
        return None
    from freight.image.push import destination

    return destination(plan.ref, registry)


def _bytes_in(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


# -- rendering -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _templates():
    """H1's template environment (freight/image/templates/) plus the shell-quoting `q` filter."""
    from freight.image.render.templates import environment

    env = environment().overlay()
    env.filters["q"] = lambda value: shlex.quote(str(value))
    return env


def render_script(plan, build: RemoteBuild) -> str:
    host = build.destination.split("/", 1)[0] if build.destination else ""
    return _templates().get_template("htcondor-build.sh.j2").render(
        image=plan.ref, engine=build.engine, context=CONTEXT, image_file=build.image_file,
        tag=f"localhost/{plan.ref}", destination=build.destination or "", registry_host=host)


def submit_commands(plan, build: RemoteBuild) -> list[tuple[str, str]]:
    """(command, value) pairs of the build job's submit description."""
    folder = build.folder
    commands = [("universe", "vanilla"), ("executable", submit_value(folder / SCRIPT)),
                ("batch_name", submit_value(f"freight-image-{plan.name}")),
                ("+IsBuildJob", "true"), ("+FreightImage", classad_literal(plan.ref))]
    requirement = ENGINE_REQUIREMENTS[build.engine]
    if requirement:
        commands.append(("requirements", requirement))
    commands += [("request_cpus", "1"), ("request_memory", f"{build.size.memory_gb}G"),
                 ("request_disk", f"{build.size.disk_gb}G"),
                 ("should_transfer_files", "YES"), ("when_to_transfer_output", "ON_EXIT"),
                 ("transfer_input_files", file_list_item(str(folder / CONTEXT))),
                 ("initialdir", submit_value(folder))]
    if not build.interactive:
        commands.append(("transfer_output_files", file_list_item(build.image_file)))
    commands += [("log", submit_value(folder / "build.log")), ("output", submit_value(folder / "build.out")),
                 ("error", submit_value(folder / "build.err"))]
    return commands


def render_submit(plan, build: RemoteBuild) -> str:
    return _templates().get_template("htcondor-build.sub.j2").render(
        image=plan.ref, engine=build.engine, submit_file=build.submit_file, interactive=build.interactive,
        script=SCRIPT, requirements_note=REQUIREMENTS_NOTES[build.engine], disk_why=build.size.why,
        commands=submit_commands(plan, build))


# -- submitting ------------------------------------------------------------------------------


def submit(build: RemoteBuild) -> str:
    """Submit a batch build job through the htcondor target's Condor; its cluster id."""
    from freight.sched.condor_tools import INSTALL_FIX, Condor

    try:
        condor = Condor()
    except MissingToolError:
        raise MissingToolError(f"no HTCondor schedd answers here and condor_submit is not installed: the build "
                               f"job was written to {build.folder} but not submitted", fix=INSTALL_FIX) from None
    return condor.submit(build.submit_file)


def interactive_argv(build: RemoteBuild) -> list[str]:
    """`condor_submit -i FILE` for a job that pushes (a person types the login into the engine);
    the bindings cannot start an interactive job."""
    if shutil.which("condor_submit") is None:
        raise MissingToolError(f"pushing from a build job needs an interactive job (condor_submit -i), and "
                               f"condor_submit is not installed here; the job was written to {build.folder}",
                               fix="run freight on an HTCondor access point, or drop --registry and push the "
                                   "image that comes back")
    return build.submit_argv()


# -- where to build --------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """Where `freight image build` builds: here, or in an HTCondor build job (and its settings)."""

    remote: bool
    build_disk: str | None = None  # the site's floor for request_disk ([targets.htcondor] build_disk)
    why: str = ""


def where_to_build(path: Path, profile: str | None = None, remote: str | None = None) -> Where:
    """`remote`: "htcondor" or "none" decides; else the project's target after its profile
    (`--profile` or freight.toml's): htcondor means a build job, anything else builds here."""
    from freight.sites.profile import apply_profile
    from freight.spec.config import load_config, merge_cli

    if remote not in (None, "htcondor", "none"):
        raise ConfigError(f"--remote {remote!r}: freight builds remotely only on htcondor",
                          fix="use --remote htcondor, or --remote none to build here")
    config = load_config(Path(path))
    if profile:
        config = merge_cli(config, profile=profile)
    config = apply_profile(config)
    options = config.targets.get("htcondor", {})
    build_disk = options.get("build_disk") if isinstance(options, dict) else None
    if remote == "none" or (remote is None and config.target != "htcondor"):
        return Where(False)
    why = "--remote htcondor" if remote else f"target {config.target}" + (f" (profile {config.profile})"
                                                                          if config.profile else "")
    return Where(True, build_disk, why)
