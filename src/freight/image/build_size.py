"""How much disk and memory an image build job asks for (`freight image build --profile chtc`).

A rule of thumb, written down because a build job that runs out of disk is sent back to the
queue with nothing to show (the CHTC seed: "Building containers can use a surprising amount of
disk ... significantly larger than the total size of the container"):

    expected image = base image (unpacked) + the requirements' installed size + the context
    request_disk   = max(3 x expected image, 20 GB for CUDA / NGC bases, 8 GB otherwise,
                         the site's build_disk)

Three times, because a build holds the base's downloaded layers, the unpacked root file
system being built, and the finished image (a SIF or a layer tarball) side by side. The
sizes below are estimates of unpacked sizes (GB), not measurements of every tag: a guess
that errs high costs a little queue time, one that errs low costs the whole build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

DISK_FACTOR = 3
FLOOR_GB = {"cuda": 20, "ngc": 20}
DEFAULT_FLOOR_GB = 8
# Unpacked base sizes by kind (GB). Guesses from the images' published compressed sizes:
# nvidia/cuda cudnn-runtime ~1.5-2 GB compressed, NGC framework images ~9-10 GB compressed.
BASE_GB = {"cuda": 4.0, "ngc": 20.0, "conda": 1.0, "python": 0.2, "custom": 1.0}
DEFAULT_BASE_GB = 2.0
# Installed size of the heavy wheels (GB), CUDA libraries they pull in included; every other
# requirement counts SMALL_GB. torch 2.x with its nvidia-* wheels is ~5 GB on disk.
PACKAGE_GB = {"torch": 5.0, "tensorflow": 2.5, "jax": 0.3, "jaxlib": 0.3, "torchvision": 0.1,
              "torchaudio": 0.1, "vllm": 1.0, "xformers": 0.5, "flash-attn": 0.5,
              "deepspeed": 0.1, "transformers": 0.1, "opencv-python": 0.2, "scipy": 0.1}
CUDA_EXTRA_GB = 3.0  # jax[cuda12]: the CUDA wheels it brings
SMALL_GB = 0.05
MEMORY_GB = 4  # the seed's build job
HEAVY_MEMORY_GB = 8  # unpacking and installing a torch/tensorflow wheel set
HEAVY = {"torch", "tensorflow", "jax", "jaxlib", "vllm"}


@dataclass(frozen=True)
class BuildSize:
    """What a build job asks for, and the numbers behind it (shown to the user)."""

    disk_gb: int
    memory_gb: int
    expected_gb: float  # the image's estimated size
    why: str


def _parsed(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def requirement_gb(text: str) -> float:
    requirement = _parsed(text)
    if requirement is None:
        return SMALL_GB
    name = canonicalize_name(requirement.name)
    extra = CUDA_EXTRA_GB if name == "jax" and any(e.startswith("cuda") for e in requirement.extras) else 0.0
    return PACKAGE_GB.get(name, SMALL_GB) + extra


def base_kind(plan) -> str:
    """The plan's base kind, with a CUDA image given as --base (kind "custom") counted as cuda."""
    if plan.base.kind == "custom" and (plan.base.cuda or "nvidia/cuda" in plan.base.image):
        return "cuda"
    return plan.base.kind


def expected_image_gb(plan, context_bytes: int = 0) -> float:
    """The image's estimated size: base + requirements (only when they go into it) + context."""
    kind = base_kind(plan)
    base = BASE_GB.get(kind, DEFAULT_BASE_GB)
    packages = sum(map(requirement_gb, plan.requirements)) if plan.deps == "image" else 0.0
    if kind == "ngc":
        packages = 0.0  # the framework is in the base already; a constraints file keeps it
    return base + packages + context_bytes / 1e9


def size_build(plan, context_bytes: int = 0, site_floor_gb: int | None = None) -> BuildSize:
    """request_disk and request_memory for building `plan` (the module docstring's rule)."""
    expected = expected_image_gb(plan, context_bytes)
    kind = base_kind(plan)
    floor = FLOOR_GB.get(kind, DEFAULT_FLOOR_GB)
    disk = max(math.ceil(DISK_FACTOR * expected), floor, site_floor_gb or 0)
    names = {canonicalize_name(req.name) for req in map(_parsed, plan.requirements) if req is not None}
    memory = HEAVY_MEMORY_GB if names & HEAVY and plan.deps == "image" else MEMORY_GB
    why = (f"{DISK_FACTOR} x {expected:.1f} GB expected image ({kind} base), "
           f"at least {max(floor, site_floor_gb or 0)} GB")
    return BuildSize(disk, memory, expected, why)


def parse_gb(size: str | None) -> int | None:
    """"16G", "16GB", "16000M", "20" (GB) -> whole GB, rounded up; None stays None."""
    if size is None:
        return None
    text = str(size).strip().upper().removesuffix("B")
    units = {"K": 1e-6, "M": 1e-3, "G": 1.0, "T": 1e3}
    scale = units.get(text[-1:], None)
    number = text[:-1] if scale is not None else text
    try:
        value = float(number) * (scale if scale is not None else 1.0)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:  # "abc", "-5", "0", "inf"
        from freight.errors import ConfigError

        raise ConfigError(f"{size!r} is not a size like 16G", fix="write a number of GB above 0, e.g. 20G")
    return max(1, math.ceil(value))
