"""What a project declares it needs: requirements*.txt, pyproject.toml ([project] and
Poetry), setup.py / setup.cfg, Pipfile, environment.yml and `conda list -e` exports.

Every requirement is parsed with `packaging`; a line that is not a requirement becomes a
warning naming the file and line. Also found here: the project's own distribution and
package names, so that a library importing itself is not told to depend on itself.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from freight.deps import conda
from freight.deps.models import Declared, Record
from freight.deps.names import canonicalize_name

_OPTIONAL_WORDS = {
    "dev", "develop", "development", "test", "tests", "testing", "doc", "docs", "lint", "ci",
    "optional", "extra", "extras", "style", "typing", "mypy", "bench", "benchmark", "build",
}  # fmt: skip
_INDEX_OPTIONS = (
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--pre",
)
_URL = re.compile(r"^[a-z][\w+.-]*://", re.I)
_EGG = re.compile(r"#egg=([A-Za-z0-9_.\-\[\],]+)")
_WHEEL = re.compile(r"/([A-Za-z0-9_.]+?)-\d[^/]*\.(?:whl|tar\.gz|zip)$")
_COMMENT = re.compile(r"(^|\s)#.*$")


class Declarations(Record):
    """Everything a project's declaration files say."""

    __slots__ = ("requirements", "own_names", "own_modules", "metadata_lists_dependencies",
                 "pip_options", "files", "warnings", "read")

    def __init__(self):
        self.requirements: list[Declared] = []
        self.own_names: set[str] = set()  # canonical distribution names
        self.own_modules: set[str] = set()  # top-level import names
        # Package metadata lists the dependencies (pyproject, setup.py/cfg): authoritative
        # for the package's own code, where an undeclared import is an optional feature.
        self.metadata_lists_dependencies = False
        self.pip_options: list[str] = []  # --index-url and friends
        self.files: list[str] = []
        self.warnings: list[str] = []
        self.read: set[Path] = set()  # requirements files read (-r loops)

    def add(self, text: str, rel: str, line: int, optional=False, reason="", **extra) -> None:
        """Parse one requirement string; a bad one becomes a warning."""
        # Imported here: a tree with no declaration file never parses a requirement.
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            where = f"{rel}:{line}" if line else rel
            reason = str(exc).splitlines()[0] if str(exc) else "invalid"
            self.warnings.append(f"{where}: not a requirement ({text!r}: {reason}); skipped")
            return
        reason = reason or (f"optional in {rel}" if optional else f"declared in {rel}")
        self.requirements.append(
            Declared(str(req), canonicalize_name(req.name), rel, line, optional, reason, **extra)
        )


def read_declarations(root: Path) -> Declarations:
    """Read every declaration file found at the project root (and in requirements/)."""
    found = Declarations()
    for path in _declaration_files(root):
        rel = path.relative_to(root).as_posix()
        found.files.append(rel)
        try:
            _READERS[_kind(path)](path, rel, found, root)
        except (OSError, ValueError, SyntaxError) as exc:  # TOML and decode errors are ValueErrors
            found.warnings.append(f"{rel}: cannot read ({exc}); skipped")
    found.own_modules |= {name.replace("-", "_") for name in found.own_names}
    return found


def _declaration_files(root: Path) -> list[Path]:
    names = (
        "pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "environment.yml", "environment.yaml",
    )
    files = [root / name for name in names if (root / name).is_file()]
    files += sorted(p for p in root.glob("*.txt") if _requirements_like(p.name))
    files += sorted(p for p in root.glob("requirements/*.txt"))
    return files


def _requirements_like(name: str) -> bool:
    return bool(re.search(r"requirement|reqs|conda|spec-file|environment|packages", name, re.I))


def _kind(path: Path) -> str:
    if path.suffix in (".yml", ".yaml"):
        return "environment.yml"
    return path.name if path.name in _READERS else "requirements.txt"


# ---- requirements.txt and conda exports ---------------------------------------------------


def read_requirements_txt(path: Path, rel: str, found: Declarations, root: Path) -> None:
    if path.resolve() in found.read:
        return
    found.read.add(path.resolve())
    lines = path.read_text("utf-8", errors="replace").splitlines()
    if conda.is_conda_export(lines):
        return _read_conda_export(lines, rel, found)
    optional = bool(set(re.split(r"[-_.]", path.stem.lower())) & _OPTIONAL_WORDS)
    for number, text in _logical_lines(lines):
        if text.startswith("-"):
            _option(text, path, rel, number, found, root)
        else:
            _requirement_line(text, rel, number, optional, found)


def _logical_lines(lines: list[str]):
    """(line number, text) with comments stripped and `\\` continuations joined."""
    pending, start = "", 0
    for number, raw in enumerate(lines, 1):
        text = _COMMENT.sub("", raw).strip()
        if not pending:
            start = number
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = (pending + text).strip(), ""
        if text:
            yield start, text


def _option(text: str, path: Path, rel: str, number: int, found: Declarations, root: Path):
    option, _, value = text.replace("=", " ", 1).partition(" ")
    value = value.strip()
    if option in ("-r", "--requirement"):
        included = (path.parent / value).resolve()
        if included.is_file() and included.is_relative_to(root.resolve()):
            sub_rel = included.relative_to(root.resolve()).as_posix()
            read_requirements_txt(included, sub_rel, found, root)
    elif option in ("-e", "--editable"):
        named = _from_url(value)
        if named:
            found.add(named, rel, number)
    elif option in _INDEX_OPTIONS and text not in found.pip_options:
        found.pip_options.append(text)


def _requirement_line(text: str, rel: str, number: int, optional: bool, found: Declarations):
    text = re.split(r"\s--?[a-z]", text, maxsplit=1)[0].strip()  # drop `--hash=...`
    if _URL.match(text):
        named = _from_url(text)
        if named is None:
            found.warnings.append(f"{rel}:{number}: cannot tell the package of {text!r}; skipped")
            return
        text = named
    elif text.startswith((".", "/", "~")) or text.startswith("file:"):
        return  # a local folder or archive: the project itself or a sibling
    found.add(text, rel, number, optional)


def _from_url(url: str) -> str | None:
    """`git+https://...#egg=name` or `https://.../name-1.0-py3-none-any.whl` -> `name @ url`."""
    egg = _EGG.search(url)
    if egg:
        return f"{egg.group(1)} @ {url.split('#')[0]}"
    wheel = _WHEEL.search(url.split("#")[0])
    return f"{wheel.group(1)} @ {url}" if wheel and _URL.match(url) else None


def _read_conda_export(lines: list[str], rel: str, found: Declarations) -> None:
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pip = conda.export_to_pip(line)
        if pip:
            found.add(pip, rel, number, kind="conda", snapshot=True, original=line)


# ---- pyproject.toml, Pipfile, setup.py, setup.cfg, environment.yml -----------------------


def read_pyproject(path: Path, rel: str, found: Declarations, root: Path) -> None:
    import tomllib  # here: most trees have no pyproject.toml or Pipfile

    data = tomllib.loads(path.read_text("utf-8"))
    project = data.get("project", {})
    if project.get("name"):
        found.own_names.add(canonicalize_name(project["name"]))
    found.metadata_lists_dependencies |= "dependencies" in project
    for text in project.get("dependencies", []):
        found.add(text, rel, 0)
    for extra, items in project.get("optional-dependencies", {}).items():
        for text in items:
            found.add(text, rel, 0, True, f"extra '{extra}' in {rel}")
    for group, items in data.get("dependency-groups", {}).items():
        for text in (item for item in items if isinstance(item, str)):
            found.add(text, rel, 0, True, f"group '{group}' in {rel}")
    tool = data.get("tool", {})
    _read_poetry(tool.get("poetry", {}), rel, found)
    for text in tool.get("uv", {}).get("dev-dependencies", []):
        found.add(text, rel, 0, True, f"uv dev-dependencies in {rel}")
    packages = tool.get("setuptools", {}).get("packages", [])
    if isinstance(packages, list):
        found.own_modules |= {p.split(".")[0] for p in packages if isinstance(p, str)}


def _read_poetry(poetry: dict, rel: str, found: Declarations) -> None:
    if poetry.get("name"):
        found.own_names.add(canonicalize_name(poetry["name"]))
    for package in poetry.get("packages", []):
        if isinstance(package, dict) and "include" in package:
            found.own_modules.add(package["include"].split("/")[0].split(".")[0])
    found.metadata_lists_dependencies |= "dependencies" in poetry
    tables = [("", poetry.get("dependencies", {})), ("dev", poetry.get("dev-dependencies", {}))]
    groups = poetry.get("group", {})
    tables += [(name, group.get("dependencies", {})) for name, group in groups.items()]
    for group, table in tables:
        for name, value in table.items():
            if name.lower() != "python":
                _poetry_dependency(name, value, group, rel, found)


def _poetry_dependency(name: str, value, group: str, rel: str, found: Declarations) -> None:
    extras, marker, optional = "", "", bool(group)
    if isinstance(value, dict):
        if "path" in value:
            return  # a local package
        extras = ",".join(value.get("extras", []))
        marker = value.get("markers", "")
        optional = optional or bool(value.get("optional"))
        value = value.get("version", "")
    spec = poetry_constraint(value) if isinstance(value, str) else ""
    text = name + (f"[{extras}]" if extras else "") + spec + (f"; {marker}" if marker else "")
    reason = f"poetry group '{group}' in {rel}" if group else ""
    found.add(text, rel, 0, optional, reason)


def poetry_constraint(value: str) -> str:
    """Poetry's `^1.2`, `~1.2.3`, `1.2.3`, `*` -> a PEP 440 specifier."""
    value = value.strip()
    if value in ("", "*") or "||" in value:
        return ""
    if value[0] in "^~":
        parts = value[1:].strip().split(".")
        numbers = [int(p) if p.isdigit() else 0 for p in parts]
        upper = _caret_upper(numbers) if value[0] == "^" else _tilde_upper(numbers)
        return f">={value[1:].strip()},<{upper}"
    if value[0].isdigit():
        return f"=={value}"
    return value.replace(" ", "")


def _caret_upper(numbers: list[int]) -> str:
    for index, number in enumerate(numbers):
        if number != 0 or index == len(numbers) - 1:
            return ".".join(map(str, numbers[:index] + [number + 1]))
    return "1"


def _tilde_upper(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return str(numbers[0] + 1)
    return f"{numbers[0]}.{numbers[1] + 1}"


def read_pipfile(path: Path, rel: str, found: Declarations, root: Path) -> None:
    import tomllib  # here: most trees have no pyproject.toml or Pipfile

    data = tomllib.loads(path.read_text("utf-8"))
    for section, optional in (("packages", False), ("dev-packages", True)):
        for name, value in data.get(section, {}).items():
            _pipfile_dependency(name, value, optional, rel, found)


def _pipfile_dependency(name: str, value, optional: bool, rel: str, found: Declarations):
    extras, marker = "", ""
    if isinstance(value, dict):
        if "path" in value:
            return
        extras = ",".join(value.get("extras", []))
        marker = value.get("markers", "")
        value = value.get("version", "*")
    spec = "" if value in ("*", "") else str(value).replace(" ", "")
    text = name + (f"[{extras}]" if extras else "") + spec + (f"; {marker}" if marker else "")
    found.add(text, rel, 0, optional)


def read_setup_py(path: Path, rel: str, found: Declarations, root: Path) -> None:
    """Literal `setup(install_requires=[...], ...)` arguments; anything computed is skipped."""
    tree = ast.parse(path.read_bytes())
    names = _literal_assignments(tree)
    for node in ast.walk(tree):
        callee = getattr(node, "func", None)
        name = getattr(callee, "id", getattr(callee, "attr", ""))
        if isinstance(node, ast.Call) and name == "setup":
            for keyword in node.keywords:
                _setup_keyword(keyword.arg, _literal(keyword.value, names), rel, found)


def _literal_assignments(tree: ast.Module) -> dict[str, object]:
    values = {}
    for node in tree.body:
        single = isinstance(node, ast.Assign) and len(node.targets) == 1
        if single and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
    return values


def _literal(node: ast.AST, names: dict[str, ast.AST]):
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def _setup_keyword(name: str | None, value, rel: str, found: Declarations) -> None:
    if name == "name" and isinstance(value, str):
        found.own_names.add(canonicalize_name(value))
    elif name == "install_requires" and isinstance(value, (list, tuple)):
        found.metadata_lists_dependencies = True
        for text in (v for v in value if isinstance(v, str)):
            found.add(text, rel, 0)
    elif name == "extras_require" and isinstance(value, dict):
        for extra, items in value.items():
            for text in ([items] if isinstance(items, str) else items or []):
                found.add(text, rel, 0, True, f"extra '{extra}' in {rel}")
    elif name in ("packages", "py_modules") and isinstance(value, (list, tuple)):
        found.own_modules |= {v.split(".")[0] for v in value if isinstance(v, str)}


def read_setup_cfg(path: Path, rel: str, found: Declarations, root: Path) -> None:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(path.read_text("utf-8"))
    if parser.has_option("metadata", "name"):
        found.own_names.add(canonicalize_name(parser.get("metadata", "name")))
    if parser.has_option("options", "install_requires"):
        found.metadata_lists_dependencies = True
        for text in _cfg_list(parser.get("options", "install_requires")):
            found.add(text, rel, 0)
    if parser.has_section("options.extras_require"):
        for extra, value in parser.items("options.extras_require"):
            for text in _cfg_list(value):
                found.add(text, rel, 0, True, f"extra '{extra}' in {rel}")


def _cfg_list(value: str) -> list[str]:
    if value.strip().startswith("file:"):
        return []  # the named requirements file is read on its own
    items = [_COMMENT.sub("", line).strip() for line in value.splitlines()]
    return [item for item in items if item]


def read_environment_yml(path: Path, rel: str, found: Declarations, root: Path) -> None:
    entries, warnings = conda.environment_yml(path)
    found.warnings += [f"{rel}: {w.split(': ', 1)[-1]}" for w in warnings]
    for line, spec, is_pip in entries:
        if is_pip:
            if spec.startswith("-"):
                _option(spec, path, rel, line, found, root)
            else:
                _requirement_line(spec, rel, line, False, found)
            continue
        pip, name = conda.spec_to_pip(spec)
        if pip:
            found.add(pip, rel, line, kind="conda", original=spec)
        else:  # python, cudatoolkit ...: for the image stage, never a pip requirement
            reason = f"conda-only in {rel}"
            found.requirements.append(
                Declared("", canonicalize_name(name), rel, line, reason=reason, kind="conda",
                         original=spec)
            )


_READERS = {
    "requirements.txt": read_requirements_txt,
    "pyproject.toml": read_pyproject,
    "Pipfile": read_pipfile,
    "setup.py": read_setup_py,
    "setup.cfg": read_setup_cfg,
    "environment.yml": read_environment_yml,
}
