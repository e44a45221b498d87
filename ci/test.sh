#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: install, start the real services the
# tests use, run pytest. README.md names this command; .ci/run runs exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh --dev
bash ci/slurm.sh up
bash ci/sge.sh up
bash ci/containers.sh up
exec .venv/bin/python -m pytest "$@"
