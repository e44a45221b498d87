"""freight: run a researcher's ML workload wherever it should run, and track it.

    import freight
    run = freight.run("train.py", sweep={"lr": [1e-3, 1e-2]})
    run.wait(); print(run.results())

Inside a task, `freight.report(loss=0.1, acc=0.9)` records what the task measured. This module
imports only the standard library up front (tasks import it), the rest on first use.
"""

from __future__ import annotations

from freight.report import report

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~8 ms in every task
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "run": "freight.api",
    "Run": "freight.api",
    "Job": "freight.spec.job",
    "Task": "freight.spec.job",
    "Resources": "freight.spec.resources",
    "TaskState": "freight.spec.state",
}

__all__ = ["__version__", "report", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'freight' has no attribute {name!r}")
