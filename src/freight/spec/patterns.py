"""Shapes of small values checked in several places (freight.toml, target options, the container
wrapper). Stdlib only: the task wrapper imports this."""

from __future__ import annotations

import re

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SIGNAL_SPEC = re.compile(r"(SIG)?[A-Z][A-Z0-9]*(@\d+)?")  # "USR1@90": name@seconds before the limit


def check_signal_spec(value: str | None) -> str | None:
    """The value unchanged, or ValueError (pydantic's validators turn it into a one-line error)."""
    if value is not None and not SIGNAL_SPEC.fullmatch(value):
        raise ValueError(f"{value!r} is not a signal like USR1@90 (name@seconds before the limit)")
    return value


MOUNT_FORM = "HOST[:CONTAINER[:ro]]"


def split_mount(text: str) -> tuple[str, str | None, bool]:
    """"HOST[:CONTAINER][:ro|:rw]" -> (host, container or None, read-only), paths as written;
    ValueError naming the form for anything else ("", "a:b:c:d", a relative CONTAINER)."""
    parts = str(text).split(":")
    readonly = False
    if len(parts) > 1 and parts[-1] in ("ro", "rw"):
        readonly = parts.pop() == "ro"
    if len(parts) > 2 or not parts[0].strip() or (len(parts) == 2 and not parts[1]):
        raise ValueError(f"mount {text!r} is not {MOUNT_FORM}")
    if len(parts) == 2 and not parts[1].startswith("/"):
        raise ValueError(f"mount {text!r}: the container path must be absolute")
    return parts[0], parts[1] if len(parts) == 2 else None, readonly


def check_mounts(mounts: list[str]) -> list[str]:
    """The list unchanged, or ValueError for the first mount that is not HOST[:CONTAINER[:ro]]."""
    for text in mounts:
        split_mount(text)
    return mounts


def check_env_names(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not ENV_NAME.fullmatch(str(name)):
            raise ValueError(f"{name!r} is not an environment variable name")
    return env
