"""Python environments for tasks: this interpreter as it is, or an isolated uv venv.

`prepare_environment(requirements, mode)` answers "which interpreter runs the tasks":

- `current`: this interpreter, untouched.
- `venv`: an isolated environment built by uv from the requirements. It lives in the cache
  (`$FREIGHT_CACHE_DIR`, else platformdirs' user cache dir for "freight") under
  `envs/<hash of the locked requirements>`, so an unchanged project reuses it. The lock itself
  is cached under `locks/<hash of the normalized requirements, python and index settings>`, so
  the second run of an unchanged project runs no resolver and no subprocess at all: a few small
  file reads (the lock, pip's config) and one `exists()`.
  A new release on the index does not change an unchanged project's environment; to
  re-resolve, delete `<cache>/locks` (or change the requirements).
- `auto`: `current` when this interpreter already satisfies every requirement, else `venv`.

Building is safe when several freight processes do it at once: one holds a `flock` on
`envs/<hash>.lock`, builds into a temporary folder (a `--relocatable` venv) and renames it into
place; the others wait for the lock and find it built. A half-built folder is never visible.

Package index: pip's index settings are passed on to uv (see engines/index.py).
`UV_OFFLINE=1` or `offline=True` keeps uv off the network.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from freight.engines.index import IndexSettings, index_settings
from freight.errors import ConfigError, FreightError, MissingToolError
from freight.spec.job import EnvMode

CACHE_ENV = "FREIGHT_CACHE_DIR"
UV_ENV = "FREIGHT_UV"  # an explicit uv binary, when the one from the `uv` package is not wanted
SHIM_INIT = (
    '"""Written by freight (engines/venv.py): copies of freight.report and the stdlib-only\n'
    "freight modules it imports, so that a program running in a freight venv (where freight is\n"
    'not installed) can `from freight import report`."""\n\n'
    "from freight.report import report\n\n"
    '__all__ = ["report"]\n'
)


@dataclass(frozen=True)
class PreparedEnv:
    """The interpreter that runs a job's `python` commands, and how it was chosen."""

    python: str  # interpreter path
    mode_used: EnvMode  # current or venv (never auto)
    created: bool  # True when this call built a new environment
    reason: str  # one line for the user: why this environment
    env_dir: Path | None = None  # the venv folder; None for current


def cache_dir() -> Path:
    """freight's cache: $FREIGHT_CACHE_DIR, else the user cache dir (~/.cache/freight)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(platformdirs.user_cache_dir("freight"))


def prepare_environment(
    requirements: list[str],
    mode: EnvMode | str,
    python: str | None = None,
    *,
    offline: bool = False,
) -> PreparedEnv:
    """Choose (and build, when needed) the environment for a job's tasks.

    `python` picks the venv's interpreter (a path or a version such as "3.12"; default: this
    one); in auto mode a `python` other than this interpreter means a venv.
    """
    mode = EnvMode(mode)
    reqs = parse_requirements(requirements)
    if mode is EnvMode.current:
        reason = "--env current: this interpreter"
        return PreparedEnv(sys.executable, EnvMode.current, False, reason)
    if mode is EnvMode.venv:
        return _venv(reqs, python, offline, because="--env venv")
    unmet = unmet_requirement(reqs) if _is_current_python(python) else f"python {python} asked for"
    if unmet is None:
        reason = f"this interpreter satisfies all {len(reqs)} requirement(s)"
        return PreparedEnv(sys.executable, EnvMode.current, False, reason)
    return _venv(reqs, python, offline, because=unmet)


# --- requirements ---------------------------------------------------------------------------


def parse_requirements(lines: list[str]) -> list[Requirement]:
    """PEP 508 requirements, blank lines and comments skipped; a bad one is a ConfigError."""
    reqs = []
    for line in lines:
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        try:
            reqs.append(Requirement(text))
        except InvalidRequirement as exc:
            raise ConfigError(
                f"invalid requirement {text!r}: {exc}",
                fix="write requirements as PEP 508 strings such as 'numpy>=1.24'",
            ) from None
    return reqs


def normalized(reqs: list[Requirement]) -> list[str]:
    """Sorted, de-duplicated, canonical names: the same set written differently hashes the same."""
    out = set()
    for req in reqs:
        copy = Requirement(str(req))
        copy.name = canonicalize_name(copy.name)
        out.add(str(copy))
    return sorted(out)


def unmet_requirement(reqs: list[Requirement]) -> str | None:
    """Why this interpreter does not satisfy `reqs` (one line), or None when it does."""
    seen: set[str] = set()
    pending = list(reqs)
    while pending:
        req = pending.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        problem = _installed_problem(req)
        if problem:
            return problem
        pending.extend(_extra_requirements(req, seen))
    return None


def _installed_problem(req: Requirement) -> str | None:
    try:
        installed = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return f"{req.name} is not installed in this interpreter"
    if req.specifier and not req.specifier.contains(installed, prereleases=True):
        return f"{req.name} {installed} is installed here, but {req} is required"
    return None


def _extra_requirements(req: Requirement, seen: set[str]) -> list[Requirement]:
    """What `pkg[extra]` adds on top of `pkg`: its extra's requirements, each visited once."""
    found = []
    for extra in sorted(req.extras):
        key = f"{canonicalize_name(req.name)}[{extra}]"
        if key in seen:
            continue
        seen.add(key)
        for text in importlib.metadata.requires(req.name) or []:
            dep = Requirement(text)
            if dep.marker is not None and dep.marker.evaluate({"extra": extra}):
                dep.marker = None
                found.append(dep)
    return found


def _is_current_python(python: str | None) -> bool:
    if python is None:
        return True
    if re.fullmatch(r"\d+(\.\d+){0,2}", python):
        return platform.python_version().startswith(python)
    try:
        return os.path.samefile(python, sys.executable)
    except OSError:
        return False


# --- the venv -------------------------------------------------------------------------------


def _venv(reqs: list[Requirement], python: str | None, offline: bool, because: str) -> PreparedEnv:
    interpreter = python or sys.executable
    settings = index_settings()
    lock = _cached_lock(reqs, interpreter, settings, offline)
    env_dir = cache_dir() / "envs" / _digest([lock, _python_identity(interpreter), _platform()])
    created = False
    if not _ready(env_dir):
        created = _build(env_dir, lock, interpreter, settings, offline)
    verb = "created" if created else "reused"
    reason = f"{because}; {verb} {env_dir}"
    return PreparedEnv(str(_env_python(env_dir)), EnvMode.venv, created, reason, env_dir)


def _cached_lock(
    reqs: list[Requirement], interpreter: str, settings: IndexSettings, offline: bool
) -> str:
    """The locked (fully pinned) requirements, resolved once per input and then read from disk."""
    names = normalized(reqs)
    if not names:
        return ""
    key = _digest([names, _python_identity(interpreter), _platform(), settings.fingerprint()])
    path = cache_dir() / "locks" / f"{key}.txt"
    if path.exists():
        return path.read_text(encoding="utf-8")
    lock = _compile(names, interpreter, settings, offline)
    _write_atomic(path, lock)
    return lock


def _compile(names: list[str], interpreter: str, settings: IndexSettings, offline: bool) -> str:
    argv = ["pip", "compile", "-", "--python", interpreter, "--no-header", "--no-annotate"]
    stdin = "\n".join(names) + "\n"
    return _uv(argv + settings.uv_args(constraints=True), settings, offline, stdin=stdin).stdout


def _build(
    env_dir: Path, lock: str, interpreter: str, settings: IndexSettings, offline: bool
) -> bool:
    """Build the venv unless another process did while we waited; True when this call built it."""
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    with _flock(env_dir.parent / f"{env_dir.name}.lock"):
        if _ready(env_dir):
            return False
        _remove_leftovers(env_dir)
        tmp = env_dir.parent / f".{env_dir.name}.tmp-{os.getpid()}"
        try:
            _populate(tmp, lock, interpreter, settings, offline)
            os.rename(tmp, env_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return True


def _populate(
    tmp: Path, lock: str, interpreter: str, settings: IndexSettings, offline: bool
) -> None:
    # --relocatable: the folder is renamed after the build, so scripts must not embed its path.
    _uv(["venv", str(tmp), "--python", interpreter, "--relocatable"], settings, offline)
    (tmp / "freight-lock.txt").write_text(lock, encoding="utf-8")
    if lock.strip():
        sync = ["pip", "sync", str(tmp / "freight-lock.txt"), "--python", str(_env_python(tmp))]
        _uv(sync + settings.uv_args(constraints=False), settings, offline, requirements=lock)


def _remove_leftovers(env_dir: Path) -> None:
    """Temporary folders of builds that were killed (we hold the lock: nobody else is building)."""
    for stale in env_dir.parent.glob(f".{env_dir.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _ready(env_dir: Path) -> bool:
    return _env_python(env_dir).exists()  # the folder appears by rename, complete or not at all


def _env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _python_identity(interpreter: str) -> str:
    if interpreter == sys.executable:
        return f"{sys.executable}|{sys.version}"
    path = shutil.which(interpreter) or interpreter
    try:
        return f"{os.path.realpath(path)}|{os.stat(path).st_mtime_ns}"
    except OSError:
        return interpreter  # a version such as "3.12" that uv will find


def _platform() -> str:
    return f"{sys.platform}|{platform.machine()}"


def _digest(parts: list) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


# --- running uv -----------------------------------------------------------------------------


def uv_binary() -> str:
    """The uv executable: $FREIGHT_UV, the `uv` package's binary, or `uv` on PATH."""
    explicit = os.environ.get(UV_ENV)
    if explicit:
        if shutil.which(explicit):
            return explicit
        raise MissingToolError(
            f"${UV_ENV} names {explicit!r}, which is not an executable",
            fix=f"unset {UV_ENV} or point it at uv",
        )
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise MissingToolError(
        "uv is not installed; --env venv needs it", fix="pip install uv, or use --env current"
    )


def _uv(
    argv: list[str],
    settings: IndexSettings,
    offline: bool,
    stdin: str | None = None,
    requirements: str | None = None,
) -> subprocess.CompletedProcess:
    """Run uv; a failure becomes one FreightError naming the requirement uv complained about."""
    full = [uv_binary(), *argv, "--quiet", "--color", "never"] + (["--offline"] if offline else [])
    env = settings.uv_environ()
    result = subprocess.run(full, input=stdin, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise uv_failure(result.stderr, requirements or stdin or "")
    return result


def uv_failure(stderr: str, requirements: str) -> FreightError:
    """A one-line error from uv's stderr, naming the requirement it complained about."""
    names = [line.strip() for line in requirements.splitlines() if line.strip()]
    culprit = _culprit(stderr, names)
    cause = _cause_line(stderr)
    if culprit:
        return FreightError(
            f"uv could not install requirement {culprit!r}: {cause}",
            fix=f"check the name and version of {culprit!r} (is it on your package index?)"
            " or use --env current",
        )
    return FreightError(
        f"uv failed to build the environment: {cause}",
        fix="check the requirements, the python asked for and the package index settings,"
        " or use --env current",
    )


def _culprit(stderr: str, requirements: list[str]) -> str | None:
    by_name = {}
    for text in requirements:
        with contextlib.suppress(InvalidRequirement):
            by_name.setdefault(canonicalize_name(Requirement(text).name), text)
    patterns = (r"you require ([A-Za-z0-9][\w.\-]*)", r"Failed to \w+ `([A-Za-z0-9][\w.\-]*)")
    for pattern in patterns:
        for match in re.finditer(pattern, stderr):
            name = canonicalize_name(re.split(r"[=<>!~\[]", match.group(1))[0])
            if name in by_name:
                return by_name[name]
    lowered = stderr.lower()
    return next((text for name, text in by_name.items() if name in lowered), None)


def _cause_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    cause = next((line for line in lines if line.startswith("cause:")), None)
    error = next((line for line in lines if line.startswith("error:")), None)
    chosen = cause or error or (lines[0] if lines else "no message")
    return re.sub(r"^(error|cause):\s*", "", chosen)[:300]


# --- `from freight import report` inside a venv ---------------------------------------------


def shim_pythonpath() -> str:
    """A folder to put on PYTHONPATH so a venv task can `from freight import report`.

    It holds a `freight` package with only report.py and the freight modules it imports
    (stdlib-only), rewritten when their source changes. Only venv tasks need it: with
    --env current, freight itself is importable.
    """
    root = cache_dir() / "freight_shim"
    for relative, content in shim_files().items():
        target = root / "freight" / relative
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            _write_atomic(target, content)
    return str(root)


def shim_files() -> dict[str, str]:
    """Path inside the shim's `freight` package -> content: __init__, report and its imports."""
    return freight_module_files(["report.py"])


def freight_module_files(roots: list[str], left_out: tuple[str, ...] = ()) -> dict[str, str]:
    """`roots` (paths inside the freight package) and the freight modules they import, by path
    inside the package -> content; paths starting with `left_out` are skipped."""
    package = Path(__file__).resolve().parents[1]
    files = {"__init__.py": SHIM_INIT}
    pending = list(roots)
    while pending:
        relative = pending.pop()
        if relative in files or relative.startswith(left_out):
            continue
        files[relative] = _package_source(package / relative)
        pending += [_module_file(package, name) for name in _freight_imports(files[relative])]
    for relative in list(files):  # a sub-package of the shim gets an empty __init__ unless it has its own
        for parent in Path(relative).parents[:-1]:
            files.setdefault(str(parent / "__init__.py"), "")
    return files


def _package_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        raise FreightError(f"freight's module {path} is missing", fix="reinstall freight") from None


def _freight_imports(source: str) -> list[str]:
    """Files of the `freight.x.y` modules a source imports, relative to the package."""
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
    parts = [name.split(".")[1:] for name in modules if name.startswith("freight.")]
    return [str(Path(*rest)) for rest in parts if rest]


def _module_file(package: Path, name: str) -> str:
    """`launchers` -> "launchers/__init__.py" for a sub-package, else "launchers.py"."""
    init = Path(name) / "__init__.py"
    return str(init) if (package / init).is_file() else name + ".py"
