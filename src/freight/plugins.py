"""Registries of "name -> module:Class" (targets, container engines), imported on demand so one
plugin's imports never slow another's, with a did-you-mean for a name that is not there."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping


def load_plugin(registry: Mapping[str, str], name: str, kind: str):
    """A new instance of the class registered as `name`; ConfigError naming the `kind` if none."""
    if name not in registry:
        from freight.errors import ConfigError

        close = difflib.get_close_matches(name, registry, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of: {', '.join(registry)}"
        raise ConfigError(f"unknown {kind} {name!r}", fix=hint)
    module_name, class_name = registry[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
