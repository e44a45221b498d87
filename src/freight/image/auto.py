"""`freight run --image auto`: plan and build (or reuse) the project's image, then run in it.

`prepare_auto(job)` returns the job with its container set to what was built: the image as the
running engine takes it (a tag for Podman/Docker, a directory image for ch-run, a .sif for
Apptainer), that engine, and the interpreter `python` means inside:
- deps = "image": the image's environment (/opt/venv/bin/python);
- deps = "outside": a uv environment made once in the image on the project's storage
  (freight.image.outside), bound in with the project folder.
The code is bound in at run time (the project folder always is); with `bake` it is in the image
too. A package project (pyproject.toml / setup.py) is editable: its source roots go first on
PYTHONPATH inside, so an edit needs no rebuild and no reinstall.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from freight.errors import ConfigError
from freight.image.build import Built, build_image, progress

# Job.container.engine -> the builder that makes an image that engine runs.
BUILDER_FOR = {"docker": "docker", "podman": "podman", "charliecloud": "charliecloud",
               "apptainer": "apptainer", "singularity": "apptainer"}


def prepare_auto(job, *, on_line=None):
    """The job, its container pointing at the image built (or found) for it."""
    from freight.image.plan import make_plan

    spec = job.container
    builder = builder_for(spec.engine)
    if builder is not None:  # a missing engine is said before planning: locking takes a while
        from freight.image.builders import pick_builder

        pick_builder(builder)
    plan = make_plan(Path(job.workdir), base=spec.base, bake=spec.bake, deps=spec.deps)
    with progress(f"building image {plan.ref}") as hook:
        built = build_image(plan, builder, on_line=on_line or hook)
    python = plan.python_bin
    if spec.deps == "outside":
        python = str(outside_python(plan, built, job.workdir))
    update = {"image": built.ref, "engine": built.engine, "python": python,
              "pythonpath": source_roots(Path(job.workdir)) if plan.package else []}
    return job.model_copy(update={"container": spec.model_copy(update=update)})


# Targets whose nodes pull the image from a registry or get it sent: one built here is not there.
BUILD_ELSEWHERE = {
    "htcondor": "build it in an HTCondor build job (`freight image build --profile chtc`), then pass "
                "--image with the .sif it brings back (or the docker:// name it pushed)",
    "kubernetes": "`freight image build`, then `freight image push REF --registry REGISTRY/NAMESPACE`, "
                  "and pass --image with the name pushed",
    "basecommand": "`freight image build`, then `freight image push REF --registry nvcr.io/ORG/TEAM`, "
                   "and pass --image with the name pushed",
}


def check_target(target: str) -> None:
    """ConfigError, before anything is built, for a target that cannot run an image built here."""
    if target in BUILD_ELSEWHERE:
        raise ConfigError(f"--image auto builds here, and --target {target} cannot run an image built here",
                          fix=BUILD_ELSEWHERE[target])


def builder_for(engine: str | None) -> str | None:
    if engine is None:
        return None
    if engine not in BUILDER_FOR:
        raise ConfigError(f"freight cannot build an image for --engine {engine}",
                          fix="use --engine podman, docker, charliecloud or apptainer with --image auto, "
                              "or build elsewhere and pass --image REF")
    return BUILDER_FOR[engine]


def outside_python(plan, built: Built, workdir: str) -> Path:
    from freight.image.outside import ensure_env

    requirements = plan.locked if plan.locked is not None else "\n".join(plan.requirements) + "\n"
    return ensure_env(built.engine, built.ref, workdir, requirements, hashed=plan.locked is not None)


def source_roots(project: Path) -> list[str]:
    """Where a package project's modules are imported from: setuptools' packages.find `where`,
    else src/ when there is one, else the project folder."""
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        data = {}
    found = data.get("tool", {}).get("setuptools", {}).get("packages", {})
    where = found.get("find", {}).get("where") if isinstance(found, dict) else None
    if isinstance(where, list) and where:
        return [str((project / w).resolve()) for w in where]
    if (project / "src").is_dir():
        return [str((project / "src").resolve())]
    return [str(project.resolve())]
