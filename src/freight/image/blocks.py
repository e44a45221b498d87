"""Building blocks, as in HPC Container Maker: each returns the steps for one concern
(a Python interpreter, uv, a Python environment, NGC constraints, a conda environment,
system packages, the code), written once for every output format.

Commands work on Debian and Ubuntu bases (nvidia/cuda, python:slim, NGC, a local
debootstrap image). uv comes from the build context (this machine's uv executable), so a
base needs nothing but python3 (installed with apt when missing).
"""

from __future__ import annotations

import shlex

from freight.image.plan import CODE_DIR, FREIGHT_DIR, VENV, ImagePlan
from freight.image.steps import Copy, Env, Run, Step, Workdir

UV_FILE = "uv"  # the uv executable's name in the build context
PYTHON_DIR = "/opt/python"  # where uv puts a Python the base does not have
PYTHON_PACKAGES = ("python3", "ca-certificates")  # uv makes the venv: no python3-venv/pip


def apt_install(packages: list[str] | tuple[str, ...]) -> str:
    """One apt-get line that installs `packages` and leaves no package lists behind."""
    names = " ".join(shlex.quote(p) for p in packages)
    return ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
            f"--no-install-recommends {names} && rm -rf /var/lib/apt/lists/*")


def system_packages(packages: list[str], why: str) -> list[Step]:
    return [Run((apt_install(packages),), why)] if packages else []


def python_interpreter(present: bool | None) -> list[Step]:
    """python3 from apt when the base has none (nvidia/cuda); checked at build time when
    it is not known (a base given with --base)."""
    packages = PYTHON_PACKAGES
    if present:
        return []
    if present is False:
        return [Run((apt_install(packages),), "the base has no Python")]
    check = f"if ! command -v python3 >/dev/null 2>&1; then {apt_install(packages)}; fi"
    return [Run((check,), "Python, unless the base has it")]


def uv_tool() -> list[Step]:
    """uv from the build context (write_context puts this machine's uv there): no pip,
    venv module or download is needed in the base to get it."""
    return [
        Env((("UV_LINK_MODE", "copy"), ("UV_COMPILE_BYTECODE", "1"),
             ("UV_PYTHON_INSTALL_DIR", PYTHON_DIR), ("UV_NATIVE_TLS", "1")), runtime=False),
        Copy(UV_FILE, "/usr/local/bin/uv"),
        Run((f"mkdir -p {PYTHON_DIR}",)),
    ]


def requirements_file(plan: ImagePlan) -> list[Step]:
    return [Copy(plan.requirements_file, f"{FREIGHT_DIR}/{plan.requirements_file}")]


def python_env(plan: ImagePlan) -> list[Step]:
    """A venv at VENV with the (locked) requirements, made by uv."""
    python = "python3" if plan.python_source == "base" else plan.python
    commands = [f"uv venv {VENV} --python {shlex.quote(python)}"]
    install = f"uv pip install --python {VENV}/bin/python"
    if plan.requirements:
        hashes = " --require-hashes" if plan.locked is not None else ""
        commands.append(f"{install}{hashes} -r {FREIGHT_DIR}/{plan.requirements_file}")
    if plan.package:  # pip and the build backend: `pip install -e .` at task start, offline
        tools = ["pip", *plan.build_requires]
        commands.append(f"{install} " + " ".join(shlex.quote(t) for t in tools))
    steps = requirements_file(plan) if plan.requirements else []
    return steps + [Run(tuple(commands), "the Python environment")]


def copy_env_from(stage: str, plan: ImagePlan) -> list[Step]:
    """The builder's environment, and the Python uv installed if the base lacked it."""
    steps: list[Step] = [Copy(VENV, VENV, from_stage=stage)]
    if plan.python_source != "base":
        steps.append(Copy(PYTHON_DIR, PYTHON_DIR, from_stage=stage))
    return steps


def ngc_packages(plan: ImagePlan) -> list[Step]:
    """Requirements installed into the NGC image's own Python, never replacing its packages:
    the constraints file is the image's own `pip list` (PIP_CONSTRAINT, kept for later)."""
    constraints = f"{FREIGHT_DIR}/base-constraints.txt"
    commands = [f"mkdir -p {FREIGHT_DIR}",
                f"python3 -m pip list --format=freeze > {constraints}"]
    if plan.requirements:
        commands.append(f"PIP_CONSTRAINT={constraints} python3 -m pip install --no-cache-dir "
                        f"-r {FREIGHT_DIR}/{plan.requirements_file}")
    steps = requirements_file(plan) if plan.requirements else []
    return steps + [Run(tuple(commands), "keep the base's tuned packages: constraints")]


def conda_env(plan: ImagePlan) -> list[Step]:
    """environment.yml with micromamba, or a `conda list -e` export with conda."""
    target = f"{FREIGHT_DIR}/{conda_context_name(plan)}"
    if target.endswith(".yml"):
        commands = (f"micromamba install --yes --root-prefix /opt/conda --name base "
                    f"--file {target}", "micromamba clean --all --yes")
    else:
        commands = (f"/opt/conda/bin/conda install --yes --file {target}",
                    "/opt/conda/bin/conda clean --all --yes")
    return [Copy(conda_context_name(plan), target), Run(commands, "the conda environment")]


def conda_context_name(plan: ImagePlan) -> str:
    """The conda file's name in the build context."""
    return "environment.yml" if (plan.conda_file or "").endswith((".yml", ".yaml")) \
        else "conda-export.txt"


def runtime_env(plan: ImagePlan) -> list[Step]:
    return [Env(tuple(plan.env.items()))] if plan.env else []


def baked_code(plan: ImagePlan) -> list[Step]:
    """--bake: the filtered code at CODE_DIR, the working folder."""
    return [Copy("code", CODE_DIR), Workdir(CODE_DIR)] if plan.bake else []
