"""Targets: where tasks run. One module per target; `get_target(name)` picks one by name."""

from __future__ import annotations

from freight.errors import ConfigError

# name -> "module:Class"; imported on demand so one target's imports never slow another's.
TARGETS = {
    "local": "freight.sched.local:LocalTarget",
    "sge": "freight.sched.sge:SgeTarget",
    "slurm": "freight.sched.slurm:SlurmTarget",
}


def get_target(name: str):
    import difflib
    import importlib

    if name not in TARGETS:
        close = difflib.get_close_matches(name, TARGETS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of: {', '.join(TARGETS)}"
        raise ConfigError(f"unknown target {name!r}", fix=hint)
    module_name, class_name = TARGETS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
