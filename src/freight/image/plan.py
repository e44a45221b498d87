"""The image plan: everything an image for a workload is made of, decided before any build.

`make_plan(path)` reads the workload with `freight deps` (a script, a notebook or a folder),
picks the base image (bases.py), the Python version, locks the requirements with uv
(lock.py), adds the system packages some wheels need, filters the build context
(context.py) and hashes what really goes into the image: the hash is the image's tag, so an
unchanged project is never rebuilt. Code is bind-mounted at run time unless `bake`.

The renderers (freight.image.render) turn a plan into a Dockerfile, an Apptainer definition
or a Charliecloud build; `write_context` writes a build folder that holds only what may enter.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from freight.errors import ConfigError
from freight.image import bases, context, lock as locking, pyversion
from freight.image.bases import BaseChoice

RECIPE_VERSION = 1  # bump when rendered recipes change in a way that must rebuild images
VENV = "/opt/venv"  # the image's Python environment (deps = "image")
CODE_DIR = "/opt/project"  # where baked code goes (bind-mounted code keeps its host path)
FREIGHT_DIR = "/opt/freight"  # requirements, lock and constraints files inside the image
Deps = Literal["image", "outside"]


@dataclass
class ImagePlan:
    """What an image is made of. Paths inside the image are absolute; `files` and
    `package` are relative to `root`."""

    source: str  # the analyzed script, notebook or folder (absolute)
    root: str  # the project folder: the folder itself, or a script's folder
    name: str  # image name: the project's, lower-case, [a-z0-9._-]
    base: BaseChoice
    python: str  # "3.11": used to lock and, where the base lacks it, installed by uv
    python_source: str  # why this version: "--python", "requires-python", "base", ...
    requirements: list[str]  # PEP 508 lines from `freight deps` (hard needs only)
    pip_options: list[str] = field(default_factory=list)  # --index-url ... from the project
    locked: str | None = None  # `uv pip compile --generate-hashes` output; None: --no-lock
    conda_file: str | None = None  # environment.yml or `conda list -e` export (relative)
    system_packages: list[str] = field(default_factory=list)  # apt, in the runtime stage
    build_packages: list[str] = field(default_factory=list)  # apt, builder stage only
    env: dict[str, str] = field(default_factory=dict)
    bake: bool = False  # copy the code into the image (CODE_DIR) instead of binding it
    deps: Deps = "image"  # outside: the image has no Python packages; a uv env is bound in
    package: str | None = None  # a package project (pyproject/setup.py): install -e at start
    build_requires: list[str] = field(default_factory=list)  # its build backend, in the env
    files: list[str] = field(default_factory=list)  # code that enters the image (bake only)
    left_out: list[str] = field(default_factory=list)  # "path (reason)", bake only
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""

    @property
    def tag(self) -> str:
        """The image tag: the first 12 hex digits of the content hash."""
        return self.content_hash[:12]

    @property
    def ref(self) -> str:
        """A local image reference, `freight/<name>:<tag>` (H2's builds push it elsewhere)."""
        return f"freight/{self.name}:{self.tag}"

    @property
    def uses_conda(self) -> bool:
        return self.conda_file is not None

    @property
    def python_bin(self) -> str:
        """The Python that runs the program inside the image."""
        if self.base.kind == "conda":
            return "/opt/conda/bin/python"
        if self.base.kind == "ngc" or self.deps == "outside":
            return "python3"
        return f"{VENV}/bin/python"

    @property
    def requirements_file(self) -> str:
        """The name of the requirements file in the build context."""
        return "requirements.lock" if self.locked is not None else "requirements.txt"

    def requirements_text(self) -> str:
        """What the requirements file holds: the lock, else the plain requirements."""
        if self.locked is not None:
            return self.locked
        return "".join(f"{line}\n" for line in self.pip_options + self.requirements)

    def to_json(self) -> dict:
        data = asdict(self)
        data.update(tag=self.tag, ref=self.ref, python_bin=self.python_bin,
                    requirements_file=self.requirements_file)
        return data


def make_plan(path: Path | str, *, base: str | None = None, bake: bool = False,
              deps: Deps = "image", python: str | None = None, lock: bool = True,
              ) -> ImagePlan:
    """The plan for an image that runs the workload at `path`. `base`: always wins;
    `python`: "3.12"; `lock`: resolve and hash the requirements with uv (needs the index)."""
    from freight.deps.analyze import analyze

    if deps not in ("image", "outside"):
        raise ConfigError(f"unknown deps mode {deps!r}", fix="use --deps image or --deps outside")
    if base is not None:
        bases.check_image_ref(base)
    source = Path(path).resolve()
    if source.is_file() and source.suffix == ".ipynb":
        from freight.deps.notebook import load_notebook

        load_notebook(source)  # the workload itself: broken is an error (`freight deps` only warns)
    report = analyze(source, cache=True)
    root = source if source.is_dir() else source.parent
    requirements = [pkg.requirement for pkg in report.requirements]
    conda_file = _conda_file(report, root)
    version, why = pyversion.find(root, explicit=python, conda_file=conda_file)
    choice = bases.choose(requirements, explicit=base, python=version, conda=conda_file)
    if version is None:
        version, why = choice.python or pyversion.DEFAULT, "base"
    plan = ImagePlan(
        source=str(source), root=str(root), name=image_name(source), base=choice,
        python=version, python_source=why, requirements=requirements,
        pip_options=list(report.pip_options), conda_file=conda_file, bake=bake, deps=deps,
        package=_package(root), build_requires=_build_requires(root),
        warnings=[*report.warnings, *choice.warnings],  # a skipped requirements line is said
    )
    if lock and _lockable(plan):
        plan.locked = locking.compile_requirements(
            plan.requirements, python=plan.python, options=plan.pip_options)
        _rechoose_from_lock(plan, explicit=base)
    plan.system_packages, plan.build_packages = bases.system_packages(requirements, choice)
    plan.env = _env(plan)
    if bake:
        _add_code(plan, source)
    plan.content_hash = content_hash(plan)
    return plan


def _lockable(plan: ImagePlan) -> bool:
    """Conda files are solved by conda; NGC bases are locked at build time against the
    image's own `pip list` (constraints), which is not known here."""
    return bool(plan.requirements) and not plan.uses_conda and plan.base.kind != "ngc"


def _rechoose_from_lock(plan: ImagePlan, explicit: str | None) -> None:
    """An unpinned torch is locked to a version: pick the CUDA base for that version."""
    if explicit or plan.base.kind != "cuda":
        return
    pinned = locking.pinned_versions(plan.locked or "")
    choice = bases.choose(plan.requirements, python=plan.python, versions=pinned)
    plan.base = choice
    plan.warnings = sorted(set(plan.warnings) | set(choice.warnings))


def _env(plan: ImagePlan) -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    if plan.base.kind == "ngc":
        env["PIP_CONSTRAINT"] = f"{FREIGHT_DIR}/base-constraints.txt"
    elif plan.base.kind == "conda":
        env["PATH"] = "/opt/conda/bin:$PATH"
    elif plan.deps == "image":
        env["VIRTUAL_ENV"] = VENV
        env["PATH"] = f"{VENV}/bin:$PATH"
    return env


def _add_code(plan: ImagePlan, source: Path) -> None:
    only = None if source.is_dir() else [source.name]
    found = context.collect(plan.root, only=only)
    plan.files = found.files
    plan.left_out = [str(item) for item in found.left_out]


def _conda_file(report, root: Path) -> str | None:
    """The environment.yml or `conda list -e` export the project declares, relative."""
    for item in report.declared:
        if item.kind == "conda" or item.snapshot:
            path = (root / item.path).resolve()
            if path.is_file() and path.is_relative_to(root):
                return path.relative_to(root).as_posix()
    return None


def _package(root: Path) -> str | None:
    """"." when the project is itself a package (installed editable at task start)."""
    return "." if (root / "pyproject.toml").is_file() or (root / "setup.py").is_file() else None


def _build_requires(root: Path) -> list[str]:
    """[build-system] requires of a package project (setuptools for a bare setup.py), so
    that its editable install at task start needs no network."""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            return []
        requires = data.get("build-system", {}).get("requires")
        if isinstance(requires, list) and all(isinstance(r, str) for r in requires):
            return requires
        return ["setuptools>=40.8.0"] if "project" in data else []
    return ["setuptools>=40.8.0"] if (root / "setup.py").is_file() else []


def image_name(source: Path) -> str:
    """A valid image name from the project folder or file name."""
    stem = source.name if source.is_dir() else source.stem
    name = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")
    return name or "project"


def content_hash(plan: ImagePlan) -> str:
    """sha256 of what goes into the image: base, Python, locked requirements, system
    packages, env, conda file, and the code only when baked. Bound code never counts."""
    root = Path(plan.root)
    parts = {
        "recipe": RECIPE_VERSION, "base": plan.base.image, "python": plan.python,
        "deps": plan.deps, "system": plan.system_packages, "build": plan.build_packages,
        "env": plan.env, "package": plan.package, "build_requires": plan.build_requires,
        "requirements": plan.requirements_text() if plan.deps == "image" else "",
        "conda": _file_digest(root / plan.conda_file) if plan.conda_file else None,
        "code": {rel: _file_digest(root / rel) for rel in plan.files} if plan.bake else None,
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
