"""freight: run a researcher's ML workload wherever it should run, and track it."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
