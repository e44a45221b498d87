"""Does this NVIDIA driver run that CUDA version? NVIDIA's minimum-driver table, as data.

    check_driver("535.104.05", "12.4") -> DriverVerdict(ok=False, needs="550.54.14",
        fix="update the driver to >= 550.54.14, or use a CUDA 12.2 base", notes=[...])

The table (src/freight/data/cuda_drivers.toml) maps each CUDA toolkit minor version to the
minimum Linux driver from NVIDIA's release notes; how to refresh it is written in that file.
A CUDA version newer than the table is checked against the newest row, with a note saying so.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from freight.errors import ConfigError

CUDA_VERSION = re.compile(r"(\d+)\.(\d+)")
DRIVER_VERSION = re.compile(r"\d+(\.\d+)*")


@dataclass(frozen=True)
class DriverTable:
    toolkit: dict[tuple[int, int], str]  # (major, minor) -> minimum driver, newest first
    minor_compat: dict[int, str]  # CUDA major -> minimum driver for minor version compatibility
    notes: dict[str, str]


@dataclass
class DriverVerdict:
    cuda: str  # "12.4"
    driver: str
    ok: bool
    needs: str  # the minimum driver for full support
    fix: str = ""
    notes: list[str] = field(default_factory=list)


@cache
def load_table() -> DriverTable:
    text = resources.files("freight").joinpath("data", "cuda_drivers.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    toolkit = {parse_cuda(key): value for key, value in data["toolkit_driver"].items()}
    ordered = dict(sorted(toolkit.items(), reverse=True))
    return DriverTable(ordered, {int(k): v for k, v in data["minor_compat"].items()}, dict(data["notes"]))


def parse_cuda(text: str) -> tuple[int, int]:
    """"12.4", "12.4.1", "cuda12.1" -> (12, 4); ConfigError for anything else."""
    match = CUDA_VERSION.search(str(text))
    if match is None:
        raise ConfigError(f"{text!r} is not a CUDA version", fix="write it as MAJOR.MINOR, e.g. --cuda 12.4")
    return int(match.group(1)), int(match.group(2))


def parse_driver(text: str) -> tuple[int, ...]:
    """"550.54.14" -> (550, 54, 14); ConfigError when it is not a driver version."""
    match = DRIVER_VERSION.fullmatch(str(text).strip())
    if match is None:
        raise ConfigError(f"{text!r} is not an NVIDIA driver version", fix="e.g. 550.54.14")
    return tuple(int(part) for part in match.group(0).split("."))


def minimum_driver(cuda: str, table: DriverTable | None = None) -> tuple[str, list[str]]:
    """The minimum Linux driver for CUDA `cuda`, and notes (a version newer than the table)."""
    table = table or load_table()
    wanted = parse_cuda(cuda)
    if wanted in table.toolkit:
        return table.toolkit[wanted], []
    newest = next(iter(table.toolkit))
    if wanted > newest:
        note = (f"CUDA {wanted[0]}.{wanted[1]} is newer than freight's driver table (newest "
                f"{newest[0]}.{newest[1]}): checked against that; refresh src/freight/data/cuda_drivers.toml")
        return table.toolkit[newest], [note]
    older = [key for key in table.toolkit if key <= wanted]
    if not older:
        raise ConfigError(f"CUDA {cuda} is older than freight's driver table knows",
                          fix="use a CUDA 10.0 or newer base")
    return table.toolkit[older[0]], []


def newest_supported(driver: str, table: DriverTable | None = None) -> str | None:
    """The newest CUDA minor version this driver runs with every feature, e.g. "12.2"."""
    table = table or load_table()
    have = parse_driver(driver)
    for (major, minor), needs in table.toolkit.items():
        if have >= parse_driver(needs):
            return f"{major}.{minor}"
    return None


def check_driver(driver: str, cuda: str, table: DriverTable | None = None) -> DriverVerdict:
    """Whether `driver` runs CUDA `cuda` with every feature; when not, the fix and the
    compatibility paths NVIDIA documents (minor version and forward compatibility)."""
    table = table or load_table()
    major, minor = parse_cuda(cuda)
    needs, notes = minimum_driver(cuda, table)
    verdict = DriverVerdict(f"{major}.{minor}", driver, parse_driver(driver) >= parse_driver(needs), needs, notes=notes)
    if verdict.ok:
        return verdict
    best = newest_supported(driver, table)
    verdict.fix = f"update the driver to >= {needs}" + (f", or use a CUDA {best} base" if best else "")
    compat = table.minor_compat.get(major)
    if compat and parse_driver(driver) >= parse_driver(compat):
        verdict.notes.append(table.notes["minor_compat"])
    verdict.notes.append(table.notes["forward_compat"])
    return verdict
