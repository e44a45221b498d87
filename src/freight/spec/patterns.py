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


def check_env_names(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not ENV_NAME.fullmatch(str(name)):
            raise ValueError(f"{name!r} is not an environment variable name")
    return env
