#!/usr/bin/env bash
# Install freight and what its tests use on a fresh Debian 12 machine (apt as root), into
# ./.venv (`--dev`: with what the tests use). Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(python3 python3-venv python3-pip git shellcheck parallel)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "ci/install.sh: not root or no apt-get; install these yourself: ${missing[*]}" >&2
  fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "${1:-}" = "--dev" ]; then  # what the tests use (ci/test.sh)
  .venv/bin/python -m pip install -q -e '.[dev]'
  # The torchrun tests need torch; this exact version is a CPU build kept on this kind of
  # machine's disk (any other spec downloads a CUDA build of several GB). Skipped where absent.
  .venv/bin/python -m pip install -q "torch==${FREIGHT_CI_TORCH:-2.13.0}" 2>/dev/null \
    || echo "ci/install.sh: torch ${FREIGHT_CI_TORCH:-2.13.0} not installable here; the torchrun tests will skip" >&2
else  # freight and its plots, for the README's first command
  .venv/bin/python -m pip install -q -e '.[plot]'
fi
echo "freight installed in $(pwd)/.venv ($(.venv/bin/freight --version 2>/dev/null || echo ok))"
