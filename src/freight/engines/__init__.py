"""Where a task's program runs: a Python environment (engines/venv.py) or, later, a container
engine (docker, podman, apptainer, charliecloud, enroot), one module each."""

from __future__ import annotations

from freight.engines.venv import PreparedEnv, cache_dir, prepare_environment, shim_pythonpath

__all__ = ["PreparedEnv", "cache_dir", "prepare_environment", "shim_pythonpath"]
