"""Conda declarations: environment.yml and `conda list -e` exports.

environment.yml is read by a small parser for its common shape (a `dependencies:` block
list, an optional nested `- pip:` list, `[a, b]` flow lists, comments, quotes), so reading
it needs no YAML library and gives line numbers. Anchors and other YAML features are not
supported; a file using them yields what the parser understood plus a warning.
"""

from __future__ import annotations

import re
from pathlib import Path

from freight.deps.names import conda_to_pip

# `conda list -e` lines: name=version=build
EXPORT_LINE = re.compile(r"^([A-Za-z0-9_.\-]+)=([^=\s]+)=([^=\s]+)$")
_CONDA_SPEC = re.compile(r"^(?:[\w.\-/]+::)?([A-Za-z0-9_.\-]+)\s*(.*)$")
_ITEM = re.compile(r"^(\s*)-\s*(.*)$")


def is_conda_export(lines: list[str]) -> bool:
    """Whether a requirements-like text is a `conda list -e` export."""
    if any("platform:" in line and line.lstrip().startswith("#") for line in lines[:5]):
        return True
    specs = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return bool(specs) and sum(bool(EXPORT_LINE.match(s)) for s in specs) * 2 > len(specs)


def export_to_pip(line: str) -> str | None:
    """`numpy=1.21.2=py39h...` -> `numpy==1.21.2`; None for conda-only packages."""
    match = EXPORT_LINE.match(line.strip())
    if not match:
        return None
    name = conda_to_pip(match.group(1))
    return f"{name}=={match.group(2)}" if name else None


def spec_to_pip(spec: str) -> tuple[str | None, str]:
    """A conda match spec (`pytorch::pytorch=1.13`, `numpy>=1.2`) -> (pip requirement, name).

    The requirement is None for packages that are not Python packages (python, cudatoolkit).
    Conda's `=1.2` means `1.2.*`; `==1.2` is exact; a build string after a second `=` is dropped.
    """
    match = _CONDA_SPEC.match(spec.strip().strip("\"'"))
    if not match:
        return None, spec
    name, version = match.group(1), match.group(2).replace(" ", "")
    pip_name = conda_to_pip(name)
    if not pip_name:
        return None, name
    return pip_name + _version_to_pip(version), name


def _version_to_pip(version: str) -> str:
    if not version:
        return ""
    if version.startswith("=") and not version.startswith("=="):
        version = version[1:].split("=")[0]
        return f"=={version}" if "*" in version else f"=={version}.*"
    if version.startswith("=="):
        return "==" + version[2:].split("=")[0]
    if version[0].isdigit():  # `numpy 1.21` (space-separated form)
        return f"=={version.split('=')[0]}.*" if "*" not in version else f"=={version}"
    return version


def environment_yml(path: Path) -> tuple[list[tuple[int, str, bool]], list[str]]:
    """(line, spec, is_pip) for each dependency of an environment.yml, and warnings."""
    text = path.read_text("utf-8", errors="replace")
    found: list[tuple[int, str, bool]] = []
    warnings: list[str] = []
    in_deps, in_pip, pip_indent = False, False, -1
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_deps, in_pip = _top_key(line, number, found)
            continue
        if not in_deps:
            continue
        item = _ITEM.match(line)
        if item is None:
            continue
        if in_pip and len(item.group(1)) <= pip_indent:
            in_pip = False
        value = item.group(2).strip()
        if value.rstrip(":").strip() == "pip" and value.endswith(":"):
            in_pip, pip_indent = True, len(item.group(1))
        elif value.startswith("pip:"):
            found += [(number, spec, True) for spec in _flow_list(value[4:])]
        elif value and value != "pip":
            found.append((number, value.strip("\"'"), in_pip))
    if "&" in text or "<<:" in text:
        warnings.append(f"{path.name}: YAML anchors are not supported; some entries may be missed")
    return found, warnings


def _top_key(line: str, number: int, found: list) -> tuple[bool, bool]:
    key, _, rest = line.partition(":")
    if key.strip() != "dependencies":
        return False, False
    found += [(number, spec, False) for spec in _flow_list(rest)]
    return True, False


def _flow_list(text: str) -> list[str]:
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return []
    return [part.strip().strip("\"'") for part in text[1:-1].split(",") if part.strip()]


def _strip_comment(line: str) -> str:
    return re.sub(r"(^|\s)#.*$", "", line).rstrip()
