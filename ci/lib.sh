# Shared by ci/slurm.sh, ci/sge.sh and ci/containers.sh (sourced, not run). The script sets
# CI_SCRIPT (its own name) and CI_TESTS (whose tests skip without it) before sourcing this file.
# shellcheck shell=bash
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2034  # used by the scripts that source this file
APT=(apt-get -o DPkg::Lock::Timeout=900)

log() { echo "ci/$CI_SCRIPT: $*" >&2; }

# Not root or no apt-get (a developer machine): say what to run and exit 0, so the tests skip
# with a reason; in CI ($CI=true) that is an error.
need_root() {
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null && return 0
  log "needs root and apt-get: run 'sudo bash ci/$CI_SCRIPT $1'; the $CI_TESTS tests skip meanwhile"
  [ "${CI:-}" = true ] && exit 1
  exit 0
}
