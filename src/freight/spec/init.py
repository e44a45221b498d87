"""`freight init`: write a starting freight.toml for a script, notebook or project folder.

The file goes next to the script (or into the folder). Its command runs the script with
`python` (a notebook too: `freight run` converts notebooks on the fly), its requirements are
what the dependency analysis (`freight deps`) finds, and commented [resources] and [sweep]
sections show what can be set. An existing freight.toml is only replaced with `force`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from freight.errors import InputError
from freight.spec.config import CONFIG_FILE, parse_config
from freight.spec.tomlfile import tomllib

TEMPLATE = "freight.toml.j2"
# Entry points tried, in order, when init is given a folder.
ENTRY_NAMES = ("main.py", "train.py", "run.py", "app.py", "__main__.py")


@dataclass
class InitResult:
    path: Path  # the freight.toml written
    command: list[str] | None  # None: no entry point found, the file asks the user to set one
    requirements: list[str]
    notes: list[str] = field(default_factory=list)  # what the user should know (warnings)


def write_init(target: Path, force: bool = False) -> InitResult:
    """Write freight.toml for `target` (a .py, an .ipynb or a folder) and say what went in."""
    folder, entry = _project_of(target)
    path = folder / CONFIG_FILE
    if path.exists() and not force:
        raise InputError("already exists", fix="pass --force to replace it", path=path)
    command = ["python", entry.name] if entry else None
    found, notes = find_requirements(target)
    if command is None:
        notes.append(f"no entry point found in {folder}: set `command` in {path}")
    name = (entry.stem if entry else folder.resolve().name) or "job"
    text = render_init(name, command, found or [], target.name or ".", analyzed=found is not None)
    parse_config(tomllib.loads(text), path)  # what init writes must load back; check first
    path.write_text(text, encoding="utf-8")
    return InitResult(path=path, command=command, requirements=found or [], notes=notes)


def render_init(
    name: str, command: list[str] | None, requirements: list[str], source: str, analyzed: bool = True
) -> str:
    """The freight.toml text (a jinja2 template in freight/data)."""
    return _template().render(
        name=name, command=command, requirements=requirements, source=source, analyzed=analyzed
    )


def find_requirements(target: Path) -> tuple[list[str] | None, list[str]]:
    """The requirement strings `freight deps` finds for target (None: no analysis), and notes."""
    try:
        from freight.deps.analyze import analyze
    except ImportError:  # the dependency stage is optional for init: write the file anyway
        return None, ["the dependency analysis is not available; requirements left empty"]
    report = analyze(target)
    requirements = [str(getattr(item, "requirement", item)) for item in report.requirements]
    return requirements, list(getattr(report, "warnings", []))


def _project_of(target: Path) -> tuple[Path, Path | None]:
    """(the project folder, the script or notebook to run, if one is known)."""
    if target.is_dir():
        return target, _entry_point(target)
    if not target.is_file():
        raise InputError("no such file or folder", fix="name a .py script, an .ipynb notebook or a folder", path=target)
    if target.suffix not in (".py", ".ipynb"):
        raise InputError("not a Python script or notebook", fix="name a .py, an .ipynb or a folder", path=target)
    return target.parent, target


def _entry_point(folder: Path) -> Path | None:
    """A conventional entry name, else the only script, else the only notebook, else None."""
    for name in ENTRY_NAMES:
        if (folder / name).is_file():
            return folder / name
    for pattern in ("*.py", "*.ipynb"):
        found = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("test_"))
        if len(found) == 1:
            return found[0]
    return None


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, plus DEL which TOML does not allow raw."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("freight", "data"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # TOML, not HTML: values are escaped by the toml filter
    )
    environment.filters["toml"] = _toml_string
    return environment.get_template(TEMPLATE)
