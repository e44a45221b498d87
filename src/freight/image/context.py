"""The build context: which of a project's files may enter an image, and what was left out.

Nothing secret enters an image (DESIGN lessons): version-control folders, virtual and conda
environments, `.env` files, private keys, `.netrc`, `.git-credentials`, cloud credentials and
notebook checkpoints are always left out, whatever `.dockerignore` says; caches and freight's
own run folders too. `.dockerignore` / `.containerignore` are then honoured with Docker's
rules (patterns relative to the root, `**` for any folders, `!` re-includes, the last
matching line wins). Every file or folder left out is reported with the reason.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from freight.errors import InputError

SECRET = "may hold a secret"
ENVIRONMENT = "a virtual or conda environment"
NOT_CODE = "not part of the code"
IGNORED = "matched by {file}"

# Folders left out by name, wherever they are.
_SKIP_DIRS = {
    ".git": NOT_CODE, ".hg": NOT_CODE, ".svn": NOT_CODE, ".ipynb_checkpoints": NOT_CODE,
    "__pycache__": NOT_CODE, ".mypy_cache": NOT_CODE, ".pytest_cache": NOT_CODE,
    ".ruff_cache": NOT_CODE, ".tox": NOT_CODE, ".nox": NOT_CODE, ".freight": NOT_CODE,
    ".venv": ENVIRONMENT, ".ssh": SECRET, ".aws": SECRET, ".azure": SECRET, ".gnupg": SECRET,
    ".kube": SECRET, ".docker": SECRET,
}  # fmt: skip
# Folders left out by their path from the root (a parent named `.config` alone is harmless).
_SKIP_DIR_PATHS = {".config/gcloud": SECRET}
# Files left out by name (fnmatch patterns, matched case-insensitively).
_SECRET_FILES = (
    ".env", ".env.*", ".envrc", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "*.pem", "*.key",
    "*.p12", "*.pfx", "*.keystore", ".netrc", "_netrc", ".git-credentials", ".pypirc",
    ".npmrc", "credentials.json", "application_default_credentials.json",
    "service-account*.json", ".htpasswd",
)  # fmt: skip
_SAFE_FILES = (".env.example", ".env.sample", ".env.template")  # documented placeholders
IGNORE_FILES = (".containerignore", ".dockerignore")  # podman's name first, as podman reads it


@dataclass(frozen=True)
class LeftOut:
    """One file or folder (path ends with "/") kept out of the image, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path} ({self.reason})"


@dataclass
class Context:
    """The files of `root` that may enter an image (relative, forward slashes, sorted)."""

    root: Path
    files: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)


def collect(root: Path | str, only: list[str] | None = None) -> Context:
    """Walk `root` and keep what may enter an image. `only`: consider just these relative
    paths (a single script's context), still filtered."""
    root = Path(root)
    context = Context(root)
    ignore = IgnoreRules.read(root)
    if only is not None:
        for rel in only:
            _consider_file(context, ignore, rel)
    else:
        _walk(context, ignore, "")
    context.files.sort()
    context.left_out.sort(key=lambda item: item.path)
    return context


def _walk(context: Context, ignore: "IgnoreRules", rel_dir: str) -> None:
    folder = context.root / rel_dir if rel_dir else context.root
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        context.left_out.append(LeftOut(rel_dir + "/", f"cannot be read: {exc.strerror}"))
        return
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        if entry.is_dir(follow_symlinks=False):
            reason = _dir_reason(entry, rel) or ignore.reason(rel, is_dir=True)
            if reason:
                context.left_out.append(LeftOut(rel + "/", reason))
            else:
                _walk(context, ignore, rel)
        elif entry.is_symlink() and not _inside(context.root, entry.path):
            context.left_out.append(LeftOut(rel, "a link to outside the project"))
        elif entry.is_file():
            _consider_file(context, ignore, rel)


def _consider_file(context: Context, ignore: "IgnoreRules", rel: str) -> None:
    parts = rel.split("/")
    reason = next((_SKIP_DIRS[p] for p in parts[:-1] if p in _SKIP_DIRS), None)
    reason = reason or secret_reason(parts[-1]) or ignore.reason(rel, is_dir=False)
    if not reason and not os.access(context.root / rel, os.R_OK):  # hashing it would fail later
        reason = "cannot be read (permission denied)"
    if reason:
        context.left_out.append(LeftOut(rel, reason))
    else:
        context.files.append(rel)


def _dir_reason(entry: os.DirEntry, rel: str) -> str | None:
    """Why a folder stays out by freight's own rules, or None."""
    if entry.name in _SKIP_DIRS:
        return _SKIP_DIRS[entry.name]
    if rel in _SKIP_DIR_PATHS:
        return _SKIP_DIR_PATHS[rel]
    # A virtualenv has pyvenv.cfg, a conda environment conda-meta/, whatever they are named.
    if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")) or os.path.isdir(
        os.path.join(entry.path, "conda-meta")
    ):
        return ENVIRONMENT
    return None


def secret_reason(name: str) -> str | None:
    """SECRET when a file of this name may hold a key, a token or a password."""
    lowered = name.lower()
    if lowered in _SAFE_FILES:
        return None
    return SECRET if any(fnmatch.fnmatchcase(lowered, pat) for pat in _SECRET_FILES) else None


def _inside(root: Path, path: str) -> bool:
    real = os.path.realpath(path)
    base = os.path.realpath(root)
    return real == base or real.startswith(base + os.sep)


class IgnoreRules:
    """The patterns of a `.containerignore` or `.dockerignore` file, Docker's semantics."""

    def __init__(self, rules: list[tuple[re.Pattern, bool]], file: str = ""):
        self.rules = rules  # (regex for the path or a parent of it, negated)
        self.file = file

    @classmethod
    def read(cls, root: Path) -> "IgnoreRules":
        for name in IGNORE_FILES:
            path = root / name
            if path.is_file():
                try:
                    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                except OSError as exc:
                    raise InputError(f"cannot be read ({exc.strerror})", fix="check its permissions", path=path) from None
                return cls.parse(lines, name)
        return cls([])

    @classmethod
    def parse(cls, lines: list[str], file: str = ".dockerignore") -> "IgnoreRules":
        rules = []
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            negated = text.startswith("!")
            pattern = os.path.normpath(text.lstrip("!").strip()).strip("/")
            if pattern and pattern != ".":
                rules.append((_compile(pattern), negated))
        return cls(rules, file)

    def reason(self, rel: str, is_dir: bool) -> str | None:
        """IGNORED when the last rule matching `rel` (or a parent folder) excludes it."""
        excluded = False
        for regex, negated in self.rules:
            if _matches(regex, rel):
                excluded = not negated
        if excluded and is_dir and self._reincludes_inside(rel):
            return None  # `dir` then `!dir/keep.py`: walk in, decide per file
        return IGNORED.format(file=self.file) if excluded else None

    def _reincludes_inside(self, rel: str) -> bool:
        return any(negated and regex.pattern.startswith(re.escape(rel + "/"))
                   for regex, negated in self.rules)


def _matches(regex: re.Pattern, rel: str) -> bool:
    """Docker excludes a path when the pattern matches it or any folder above it."""
    parts = rel.split("/")
    return any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1))


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern:
    """Go's filepath.Match plus Docker's `**` (any number of folders)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)
