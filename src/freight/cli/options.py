"""Commands that take `freight run`'s options (`freight script`, `freight shell`) borrow them
from `run` itself, so each option is defined once, with one help text."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable


def borrow_options(model: Callable, *, keep: Iterable[str] | None = None, drop: Iterable[str] = (),
                   extra: Iterable[inspect.Parameter] = ()) -> Callable[[Callable], Callable]:
    """Decorator: the command takes `model`'s parameters (only `keep`, or all but `drop`), then
    `extra`, and receives them as keyword arguments. Typer reads a function's parameters from its
    signature and their types from its annotations; both are set here, with resolved types."""
    hints = typing.get_type_hints(model)
    wanted = set(keep) if keep is not None else None
    dropped = set(drop)

    def decorate(command: Callable) -> Callable:
        params = [param.replace(annotation=hints[name]) for name, param in inspect.signature(model).parameters.items()
                  if (wanted is None or name in wanted) and name not in dropped]
        params += list(extra)
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {param.name: param.annotation for param in params}
        return command

    return decorate


def option(name: str, annotation: type, default: typing.Any) -> inspect.Parameter:
    """An extra parameter for borrow_options: `default` is a typer.Option(...)."""
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)
