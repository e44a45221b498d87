"""Small pieces several targets share: their `[targets.NAME]` options checked with a
did-you-mean, and one script folder per submission (a retry keeps the first one's files)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from freight.errors import ConfigError

Options = TypeVar("Options", bound=BaseModel)


def load_target_options(model: type[Options], options: dict, target: str,
                        fix: str = "correct it in freight.toml or --target-opt") -> Options:
    """`[targets.<target>]` checked by the target's model; a one-line ConfigError naming the key."""
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, model.model_fields, n=1)
            fix = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(model.model_fields)
            raise ConfigError(f"[targets.{target}] has no setting {key!r}", fix=fix) from None
        shown = f" = {error['input']!r}" if isinstance(error["input"], (str, int, float)) else ""
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"[targets.{target}] {key}{shown}: {message}", fix=fix) from None


def submission_folder(run, prefix: str, create: bool = True) -> Path:
    """scripts/<prefix>-1/, <prefix>-2/ …: the next one for this run's next submission."""
    number = 1 + sum(1 for p in run.paths.scripts.glob(f"{prefix}-*") if p.is_dir())
    folder = run.paths.scripts / f"{prefix}-{number}"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder
