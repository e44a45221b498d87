"""Jinja2 rendering shared by every target: templates live in sched/templates/, and the `q`
filter shell-quotes a value so no user input reaches a generated script unquoted."""

from __future__ import annotations

import shlex
from functools import lru_cache

import jinja2


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("freight.sched", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # shell, not HTML: values are quoted with `q` instead
    )
    env.filters["q"] = lambda value: shlex.quote(str(value))
    return env


def render_template(name: str, **context) -> str:
    return _environment().get_template(name).render(**context)
