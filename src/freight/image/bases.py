"""Which base image a workload gets, from the data in freight/data/bases.toml.

Order of choice: `--base` always wins (an NGC framework image is recognised: its own
packages are kept with a constraints file); a conda file gets a micromamba (environment.yml)
or miniconda (`conda list -e` export) base; a GPU framework (torch, tensorflow, jax[cuda])
gets the `nvidia/cuda` cuDNN runtime tag for a CUDA version its wheels are built for (the
devel tag when a package must compile CUDA code); anything else gets `python:<ver>-slim`.

`python -m freight.image.bases --refresh-help` prints how to refresh the data file.
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from freight.errors import ConfigError

REFRESH_COMMAND = "python -m freight.image.bases --refresh-help"
BaseKind = str  # "cuda" | "python" | "conda" | "ngc" | "custom" | "local"


@dataclass(frozen=True)
class BaseChoice:
    """The base image, why it was chosen, and what it brings."""

    image: str  # a registry reference, or a local .sif / folder (kind "local")
    reason: str
    kind: BaseKind
    python: str | None = None  # the python3 the base has or apt installs; None: unknown
    python_present: bool | None = None  # False: install python3 first; None: check at build
    cuda: str | None = None
    devel: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)


@lru_cache(maxsize=1)
def data() -> dict:
    """The parsed bases.toml shipped in the package."""
    text = resources.files("freight.data").joinpath("bases.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def choose(requirements: list[str], *, explicit: str | None = None, python: str | None = None,
           conda: str | None = None, versions: dict[str, str] | None = None) -> BaseChoice:
    """The base for these requirements. `versions`: name -> locked version (from the lock)."""
    if explicit:
        return explicit_base(explicit)
    if conda:
        return conda_base(conda)
    reqs = _parse(requirements)
    framework = gpu_framework(reqs)
    if framework is None:
        return python_base(python)
    name, spec = framework
    return cuda_base(name, spec, (versions or {}).get(name), needs_nvcc(reqs))


def check_image_ref(image: str, flag: str = "--base") -> None:
    """ConfigError for an image no engine takes: empty, or blanks in a name that is not a
    local image file or folder."""
    if not image.strip() or (any(c.isspace() for c in image) and not os.path.exists(image)):
        raise ConfigError(f"{flag} {image!r} is not an image reference",
                          fix=f"e.g. {flag} python:3.12-slim, {flag} nvcr.io/nvidia/pytorch:24.05-py3 or a .sif path")


def explicit_base(image: str) -> BaseChoice:
    """`--base IMAGE`: used as given. What it brings is found at build time."""
    if any(image.startswith(prefix) for prefix in data()["ngc"]["prefixes"]):
        reason = "--base, an NGC image: its own packages are pinned by a constraints file"
        return BaseChoice(image, reason, "ngc", python_present=True)
    if image.endswith(".sif") or os.path.isdir(image):
        return BaseChoice(image, "--base, a local image file or folder", "local")
    return BaseChoice(image, "--base", "custom")


def conda_base(conda_file: str) -> BaseChoice:
    if conda_file.endswith((".yml", ".yaml")):
        reason = f"{conda_file} is a conda environment: micromamba installs it"
        return BaseChoice(data()["conda"]["environment"], reason, "conda", python_present=True)
    reason = f"{conda_file} is a `conda list -e` export: conda installs it"
    return BaseChoice(data()["conda"]["export"], reason, "conda", python_present=True)


def python_base(python: str | None) -> BaseChoice:
    version = python or data()["python"]["default"]
    warnings = ()
    if version not in data()["python"]["known"]:
        warnings = (f"python {version} is not among the known python:<ver>-slim images; "
                    f"refresh with `{REFRESH_COMMAND}`",)
    image = data()["python"]["slim"].format(python=version)
    reason = "no GPU framework among the requirements: CPU-only"
    return BaseChoice(image, reason, "python", version, True, warnings=warnings)


def cuda_base(framework: str, spec: SpecifierSet, locked: str | None,
              nvcc: bool) -> BaseChoice:
    """The nvidia/cuda tag for the framework version (locked, pinned, or newest known)."""
    table = data()["frameworks"][framework]
    minor, described = _framework_minor(table, spec, locked)
    warnings: tuple[str, ...] = ()
    if minor in table:
        cuda = next(v for v in table[minor] if v in data()["cuda"])
        why = f"{framework} {described} wheels are built for CUDA {', '.join(table[minor])}"
    else:
        cuda = max(data()["cuda"], key=Version)
        why = f"{framework} {described} is not in freight's table: newest known CUDA"
        warnings = (f"{framework} {described} is newer than freight's base table "
                    f"(updated {data()['updated']}): using CUDA {cuda}; refresh the table "
                    f"with `{REFRESH_COMMAND}` or pass --base",)
    tag = data()["cuda"][cuda]
    if nvcc:
        tag, why = tag.replace("-runtime-", "-devel-"), why + "; devel: a package compiles CUDA code"
    ubuntu = tag.rsplit("ubuntu", 1)[1]
    python = data()["ubuntu_python"].get(ubuntu)
    return BaseChoice(f"nvidia/cuda:{tag}", why, "cuda", python, False, cuda, nvcc, warnings)


def _framework_minor(table: dict, spec: SpecifierSet, locked: str | None) -> tuple[str, str]:
    """(major.minor, how it reads in messages) for the version that will be installed."""
    if locked:
        return _minor(locked), locked
    pinned = [s.version for s in spec if s.operator in ("==", "===") and "*" not in s.version]
    if pinned:
        return _minor(pinned[0]), pinned[0]
    fitting = [m for m in table if spec.contains(f"{m}.0") or spec.contains(f"{m}.999")]
    if fitting:
        best = max(fitting, key=Version)
        return best, f"{best} ({spec or 'unpinned'})"
    return "unknown", str(spec)


def _minor(version: str) -> str:
    try:
        release = Version(version).release
    except InvalidVersion:
        return version
    return ".".join(str(n) for n in release[:2])


def _parse(requirements: list[str]) -> list[Requirement]:
    parsed = []
    for text in requirements:
        try:
            parsed.append(Requirement(text))
        except InvalidRequirement:
            continue  # `freight deps` already warned about it
    return parsed


def gpu_framework(reqs: list[Requirement]) -> tuple[str, SpecifierSet] | None:
    """(framework, its specifier) when a requirement uses a GPU framework, else None."""
    names = data()["framework_names"]
    for framework in ("torch", "tensorflow", "jax"):
        wanted = [r for r in reqs if canonicalize_name(r.name) in names[framework]]
        if framework == "jax":  # plain jax is CPU-only; jax[cuda12] brings CUDA
            wanted = [r for r in wanted if any(e.startswith("cuda") for e in r.extras)]
        if wanted:
            own = [r for r in wanted if canonicalize_name(r.name) == framework]
            return framework, own[0].specifier if own else SpecifierSet()
    return None


def needs_nvcc(reqs: list[Requirement]) -> bool:
    return any(canonicalize_name(r.name) in data()["compile"]["cuda"] for r in reqs)


def system_packages(requirements: list[str], choice: BaseChoice) -> tuple[list[str], list[str]]:
    """(apt packages for the runtime stage, apt packages for the builder stage)."""
    if choice.kind == "conda":
        return [], []  # conda brings its own libraries
    table = data()["system"]
    names = {canonicalize_name(r.name) for r in _parse(requirements)}
    runtime = {pkg for name in names for pkg in table["runtime"].get(name, [])}
    build = {pkg for name in names for pkg in table["build"].get(name, [])}
    compiled = data()["compile"]["c"] + data()["compile"]["cuda"]
    if build or names & set(compiled):
        build |= set(table["build"]["compilers"])
    return sorted(runtime), sorted(build)


def refresh_help() -> str:
    """The data file's "How to refresh" notes."""
    text = resources.files("freight.data").joinpath("bases.toml").read_text(encoding="utf-8")
    notes = "# How to refresh" + text.split("# How to refresh", 1)[1]
    return "".join(line.removeprefix("#").removeprefix(" ") + "\n"
                   for line in notes.splitlines())


def main(argv: list[str]) -> int:
    if argv == ["--refresh-help"]:
        sys.stdout.write(refresh_help())
        return 0
    sys.stderr.write(f"usage: {REFRESH_COMMAND}\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
