"""What a notebook's `!shell` / `%pip` line does: split it into commands, and read package
installs (`pip install`, `apt-get install`, `conda install`) as requirements.

Installs are not run by a converted script: they become requirements of the job's
environment, which freight builds before the job starts.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})
_PIP = re.compile(r"^pip(3(\.\d+)?)?$")
_PYTHON = re.compile(r"^(.*/)?python(3(\.\d+)?)?$|^\{sys\.executable\}$|^\$\{?PYTHON\}?$")
_APT = frozenset({"apt", "apt-get", "aptitude"})
_CONDA = frozenset({"conda", "mamba", "micromamba"})
# pip install options that take a value; the ones about where packages come from are warned.
_VALUE_OPTIONS = frozenset({
    "-t", "--target", "--prefix", "--root", "--upgrade-strategy", "--only-binary",
    "--no-binary", "--platform", "--python-version", "--implementation", "--abi", "--src",
    "--progress-bar", "--root-user-action", "-C", "--config-settings", "--global-option",
    "--cache-dir", "--log", "--trusted-host", "--timeout", "--retries", "--proxy",
})
_SOURCE_OPTIONS = frozenset({
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links",
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable",
})
_ARCHIVE = re.compile(r"\.(whl|zip|tar\.gz|tgz|tar\.bz2)$")
_EGG = re.compile(r"#egg=([A-Za-z0-9_.\-]+)")
# An unquoted word `name>=1.2` / `name[extra]==3`: group 2 is the word.
_UNQUOTED_SPECIFIER = re.compile(
    r"(^|\s)([A-Za-z0-9][\w.\-\[\],]*(?:[<>]=?|[=!~]=)[\w.*+!\-,<>=]+)(?=\s|$)"
)


@dataclass
class Installs:
    """Packages a notebook installs, merged across cells, in first-seen order."""

    requirements: list[str] = field(default_factory=list)
    apt_packages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def commands(text: str) -> list[list[str]] | None:
    """The simple commands of a shell line, redirections dropped; None if it cannot be split
    (an unclosed quote)."""
    tokens = _tokens(text)
    return None if tokens is None else _split_commands(tokens)


def _tokens(text: str) -> list[str] | None:
    """Shell words and operators (`&&`, `|`, `>`), quotes removed, a trailing comment dropped."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # `#` starts a comment only at a word's start, as in bash
    try:
        return _drop_comment(list(lexer))
    except ValueError:
        return None


def _drop_comment(tokens: list[str]) -> list[str]:
    comment = next((i for i, tok in enumerate(tokens) if tok.startswith("#")), len(tokens))
    return tokens[:comment]


def _split_commands(tokens: list[str]) -> list[list[str]]:
    result: list[list[str]] = [[]]
    skip_next = False
    for i, tok in enumerate(tokens):
        if skip_next:
            skip_next = False
        elif tok in _SEPARATORS:
            result.append([])
        elif _is_redirect(tok):
            skip_next = True  # its target (a file or an fd) goes with it
        elif not (tok.isdigit() and i + 1 < len(tokens) and _is_redirect(tokens[i + 1])):
            result[-1].append(tok)
    return [cmd for cmd in result if cmd]


def _is_redirect(token: str) -> bool:
    return bool(token) and set(token) <= set("<>&") and bool(set(token) & set("<>"))


def installer(command: list[str]) -> tuple[str, list[str]] | None:
    """("pip" | "apt" | "conda", arguments after the program) for an install tool's command."""
    if command and command[0] == "sudo":
        command = command[1:]
    if not command:
        return None
    if len(command) >= 3 and _PYTHON.match(command[0]) and command[1:3] == ["-m", "pip"]:
        return "pip", command[3:]
    if command[:2] == ["uv", "pip"]:
        return "pip", command[2:]
    if _PIP.match(command[0]):
        return "pip", command[1:]
    if command[0] in _APT:
        return "apt", command[1:]
    if command[0] in _CONDA:
        return "conda", command[1:]
    return None


def line_commands(kind: str, name: str, args: str) -> list[list[str]] | None:
    """The commands of a `!cmd` line, or of a `%pip`/`%conda` magic written as one."""
    if kind == "shell":
        return commands(quote_specifiers(args))
    if kind == "magic" and name in {"pip", "pip3", "conda", "mamba"}:
        found = commands(quote_specifiers(args))
        return [[name] + found[0]] + found[1:] if found else [[name]]
    return None


def is_install_only(kind: str, name: str, args: str) -> bool:
    """Whether every command of the line is a package tool (a converted script drops it)."""
    found = line_commands(kind, name, args)
    return bool(found) and all(installer(cmd) is not None for cmd in found)


def quote_specifiers(text: str) -> str:
    """`pip install torch>=2` unquoted: the shell reads `>` as a redirection (Colab then
    installed the newest torch). The intent is a version bound: quote such words."""
    return _UNQUOTED_SPECIFIER.sub(r"\1'\2'", text)


def _redirected_bound(text: str) -> bool:
    return any(set("<>") & set(m.group(2)) for m in _UNQUOTED_SPECIFIER.finditer(text))


def collect(path: Path, cells) -> Installs:
    """Every install line of the notebook's parsed cells, merged."""
    from freight.deps.notebook import cell_label  # notebook imports this module

    installs = Installs()
    pins: dict[str, str] = {}
    for cell in cells:
        for lineno, line in enumerate(cell.lines, start=1):
            where = f"{path}: {cell_label(cell.index)}, line {lineno}"
            if is_install_only(line.kind, line.name, line.args) and _redirected_bound(line.args):
                installs.warnings.append(f"{where}: unquoted version bound in `{line.args}`: "
                                         "the shell read `>`/`<` as a redirection; recorded "
                                         "as the bound that was meant")
            for command in line_commands(line.kind, line.name, line.args) or []:
                _collect_command(command, where, pins, installs)
    installs.requirements = list(pins.values())
    return installs


def _collect_command(command: list[str], where: str, pins: dict, installs: Installs) -> None:
    found = installer(command)
    if found is None:
        return
    tool, args = found
    words = [a for a in args if not a.startswith("-")]
    if not words or words[0] != "install":
        return
    if tool == "apt":
        installs.apt_packages += [w for w in words[1:] if w not in installs.apt_packages]
    elif tool == "conda":
        installs.warnings.append(f"{where}: conda install not converted: add "
                                 f"{' '.join(words[1:])} to an environment.yml")
    else:
        for requirement in pip_install_requirements(args, where, installs.warnings):
            _merge(pins, requirement)


def pip_install_requirements(args: list[str], where: str, warnings: list[str]) -> list[str]:
    """Requirement strings from `pip install` arguments (after `install`), pins kept."""
    found: list[str] = []
    rest = args[args.index("install") + 1 :]
    i = 0
    while i < len(rest):
        token = rest[i]
        option = token.split("=", 1)[0]
        takes_value = "=" not in token and option in _VALUE_OPTIONS | _SOURCE_OPTIONS
        if option in _SOURCE_OPTIONS:
            value = token.split("=", 1)[1] if "=" in token else _at(rest, i + 1)
            warnings.append(f"{where}: `pip install {option} {value}` not recorded: "
                            "declare those packages in a requirements file")
        elif not token.startswith("-"):
            requirement = _requirement(token, where, warnings)
            found += [requirement] if requirement else []
        i += 2 if takes_value else 1
    return found


def _at(items: list[str], index: int) -> str:
    return items[index] if index < len(items) else ""


def _requirement(token: str, where: str, warnings: list[str]) -> str | None:
    if "{" in token or "$" in token:
        warnings.append(f"{where}: `{token}` in pip install uses a variable: add it by hand")
        return None
    if "://" in token or "/" in token or _ARCHIVE.search(token):
        return _direct_reference(token, where, warnings)
    try:
        return str(Requirement(token))
    except InvalidRequirement:
        warnings.append(f"{where}: `{token}` in pip install is not a requirement: skipped")
        return None


def _direct_reference(token: str, where: str, warnings: list[str]) -> str | None:
    """`git+https://...#egg=name` → `name @ git+https://...`; other URLs/paths are skipped."""
    if " @ " in token or "@" in token.split("://")[0]:
        try:
            return str(Requirement(token))
        except InvalidRequirement:
            pass
    egg = _EGG.search(token)
    if egg and "://" in token:
        return f"{egg.group(1)} @ {_EGG.sub('', token)}"
    warnings.append(f"{where}: pip install of `{token}` skipped: freight cannot name that "
                    "package; add `name @ URL` to a requirements file")
    return None


def _merge(pins: dict[str, str], requirement: str) -> None:
    """A later install replaces an earlier one, except a bare name after a pinned one: pip
    keeps the version it already installed then."""
    key = canonicalize_name(Requirement(requirement).name)
    old = pins.get(key)
    if old is None or _is_pinned(requirement) or not _is_pinned(old):
        pins[key] = requirement


def _is_pinned(requirement: str) -> bool:
    parsed = Requirement(requirement)
    return bool(parsed.specifier) or parsed.url is not None


_SINGLE_QUOTED = re.compile(r"'[^']*'")
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
# IPython puts `{expr}` values into a `!` line before the shell splits it; `{{` is a brace.
_PYTHON_FIELD = re.compile(r"(?<!\{)\{[^{}]+\}(?!\})")
_FIELD_MARK = "FREIGHTFIELD{}X"
_BUILTINS = frozenset({
    "cd", "export", "source", ".", "set", "unset", "alias", "ulimit", "umask", "exec",
    "eval", "pushd", "popd", "shopt", "trap", "wait", "read",
})


def simple_words(command: str) -> list[str] | None:
    """The words of a `!cmd` line that runs from an argument list, each `{expr}` kept whole
    inside its word; None when it needs a shell (see `shell_reason`)."""
    if shell_reason(command) is not None:
        return None
    marked, fields = _mark_fields(command)
    words = _tokens(marked) or []
    for index, value in enumerate(fields):
        words = [word.replace(_FIELD_MARK.format(index), value) for word in words]
    return words


def _mark_fields(command: str) -> tuple[str, list[str]]:
    fields: list[str] = []

    def mark(found: re.Match) -> str:
        fields.append(found.group(0))
        return _FIELD_MARK.format(len(fields) - 1)

    return _PYTHON_FIELD.sub(mark, command), fields


def shell_reason(command: str) -> str | None:
    """Why a `!cmd` line needs a shell (`shell=True`), or None when it is one simple command
    that can run from an argument list."""
    command = _mark_fields(command)[0]
    tokens = _tokens(command)
    if tokens is None:
        return "has an unclosed quote"
    if any(tok in _SEPARATORS or _is_redirect(tok) or tok in ("(", ")") for tok in tokens):
        return "uses a pipe, redirection or command list"
    if re.search(r"[$`]", _SINGLE_QUOTED.sub("", command)):
        return "uses $ or ` expansion (IPython also put Python variables into $name)"
    unquoted = _QUOTED.sub("", command)
    if re.search(r"[*?\[]", unquoted):
        return "uses wildcards"
    if re.search(r"(^|\s)~", unquoted):
        return "uses ~ for the home folder"
    first = tokens[0] if tokens else ""
    if first in _BUILTINS:
        return f"runs the shell builtin `{first}`"
    if re.match(r"^[A-Za-z_]\w*=", first):
        return "sets an environment variable for the command"
    return None

