#!/usr/bin/env bash
# Container engines for freight's tests: Charliecloud (ch-run, ch-image), rootful Podman, Buildah
# and Docker (dockerd started by hand: no systemd) from Debian 12's packages, with one base image
# made by debootstrap (no container registry is reachable here).
# From ../shared/infra/charliecloud.sh, podman.sh and docker-engine.sh, proven on the CI machine.
#
#   bash ci/containers.sh up       install what is missing, build the images once (~40 s for
#                                  debootstrap; the tarball is cached, so a second `up` is quick)
#   bash ci/containers.sh status   exit 0 when every engine runs the test image
#
# The image: Debian bookworm minbase with python3, /etc/freight-ci-image as a marker a test can
# read to prove it runs inside the image, and FREIGHT_CI_IMAGE_ENV set by the image's own ENV.
#   $CACHE/bookworm-py.tar        the root filesystem (debootstrap, then the host's extra CAs)
#   $CACHE/ch/bookworm-py/        Charliecloud directory image (with /ch/environment)
#   $CACHE/ch/bookworm-py.sqfs    the same as a SquashFS image (ch-run mounts it itself)
#   localhost/freight-ci/bookworm-py:latest   the same, imported into Podman and into Docker
#   $CACHE/images.env             where the tests find all of the above (KEY=VALUE lines)
#
# charliecloud-builders (ch-image, ch-convert) pulls in docker.io and buildah: the image tests
# build with all of them. dockerd's pid file and log: $CACHE/docker/.
# Not root (a developer machine): prints what to run and exits 0, so the container tests skip
# with a reason; in CI ($CI=true) that is an error.
set -euo pipefail
CACHE=${FREIGHT_CI_CACHE:-/var/cache/freight-ci}
TAR=$CACHE/bookworm-py.tar
CH_DIR=$CACHE/ch/bookworm-py
CH_SQFS=$CACHE/ch/bookworm-py.sqfs
PODMAN_IMAGE=localhost/freight-ci/bookworm-py:latest
IMAGES_ENV=$CACHE/images.env
MARKER="freight-ci bookworm-py 1"  # change it to rebuild every image
PATH_IN_IMAGE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

CI_SCRIPT=containers.sh CI_TESTS=container
# shellcheck source=ci/lib.sh
. "$(dirname "$0")/lib.sh"

install_packages() {
  local pkgs=(charliecloud-runtime charliecloud-builders squashfuse squashfs-tools podman runc catatonit
              fuse-overlayfs debootstrap buildah docker.io) missing=() pkg
  for pkg in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  "${APT[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    { "${APT[@]}" update -qq && "${APT[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

# Podman on this kind of machine (no systemd, no CAP_SYS_RESOURCE, hybrid cgroups): runc instead
# of crun, cgroupfs, file events, and rlimits the container may set.
configure_podman() {
  local want
  want="[containers]
default_ulimits = [\"nofile=$(ulimit -Hn):$(ulimit -Hn)\", \"nproc=4096:4096\"]

[engine]
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
runtime = \"runc\""
  mkdir -p /etc/containers
  [ "$(cat /etc/containers/containers.conf 2>/dev/null)" = "$want" ] && return 0
  printf '%s\n' "$want" > /etc/containers/containers.conf
}

debian_mirror() {
  awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
    awk '/^deb /{print $2; exit}' /etc/apt/sources.list
}

make_tarball() {
  [ -s "$TAR" ] && [ "$(tar -xOf "$TAR" ./etc/freight-ci-image 2>/dev/null)" = "$MARKER" ] && return 0
  local root=$CACHE/rootfs.tmp
  rm -rf "$root"
  log "debootstrap bookworm minbase + python3 (about 40 s)"
  debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$root" "$(debian_mirror)" >/dev/null
  # TLS may go through a proxy with its own CA: give the image the host's extra CAs (for pip)
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  printf '%s\n' "$MARKER" > "$root/etc/freight-ci-image"
  # Charliecloud's image metadata: ch-run --set-env reads the image's ENV from /ch/environment
  mkdir -p "$root/ch"
  printf 'PATH=%s\nFREIGHT_CI_IMAGE_ENV=from-image\n' "$PATH_IN_IMAGE" > "$root/ch/environment"
  tar -C "$root" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
  rm -rf "$root"
}

make_charliecloud_images() {
  if [ "$(cat "$CH_DIR/etc/freight-ci-image" 2>/dev/null)" != "$MARKER" ]; then
    rm -rf "$CH_DIR" "$CH_DIR.tmp"
    mkdir -p "$CH_DIR.tmp"
    tar -C "$CH_DIR.tmp" -xf "$TAR"
    mv "$CH_DIR.tmp" "$CH_DIR"
    rm -f "$CH_SQFS"
  fi
  if [ ! -s "$CH_SQFS" ]; then
    mksquashfs "$CH_DIR" "$CH_SQFS.tmp" -noappend -quiet -no-progress >/dev/null
    mv "$CH_SQFS.tmp" "$CH_SQFS"
  fi
}

# dockerd by hand (no systemd here); a daemon already answering is left alone.
start_docker() {
  /usr/bin/docker info >/dev/null 2>&1 && return 0
  mkdir -p "$CACHE/docker"
  log "starting dockerd (log: $CACHE/docker/dockerd.log)"
  setsid nohup /usr/sbin/dockerd --pidfile "$CACHE/docker/dockerd.pid" >"$CACHE/docker/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 100); do /usr/bin/docker info >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "dockerd did not start: see $CACHE/docker/dockerd.log"; return 1
}

docker_marker() { /usr/bin/docker run --rm --network=host "$PODMAN_IMAGE" cat /etc/freight-ci-image 2>/dev/null; }

make_docker_image() {
  [ "$(docker_marker)" = "$MARKER" ] && return 0
  /usr/bin/docker rmi -f "$PODMAN_IMAGE" >/dev/null 2>&1 || true
  /usr/bin/docker import --change "ENV PATH=$PATH_IN_IMAGE" --change "ENV FREIGHT_CI_IMAGE_ENV=from-image" \
    "$TAR" "$PODMAN_IMAGE" >/dev/null
}

podman_marker() { podman run --rm --network=host "$PODMAN_IMAGE" cat /etc/freight-ci-image 2>/dev/null; }

make_podman_image() {
  [ "$(podman_marker)" = "$MARKER" ] && return 0
  podman rmi -f "$PODMAN_IMAGE" >/dev/null 2>&1 || true
  podman import -q --change "ENV PATH=$PATH_IN_IMAGE" --change "ENV FREIGHT_CI_IMAGE_ENV=from-image" \
    "$TAR" "$PODMAN_IMAGE" >/dev/null
}

write_images_env() {
  local want
  want="FREIGHT_CI_MARKER=$MARKER
FREIGHT_CI_CH_DIR=$CH_DIR
FREIGHT_CI_CH_SQFS=$CH_SQFS
FREIGHT_CI_PODMAN_IMAGE=$PODMAN_IMAGE
FREIGHT_CI_DOCKER_IMAGE=$PODMAN_IMAGE
FREIGHT_CI_TAR=$TAR"
  [ "$(cat "$IMAGES_ENV" 2>/dev/null)" = "$want" ] && return 0
  printf '%s\n' "$want" > "$IMAGES_ENV.tmp" && mv "$IMAGES_ENV.tmp" "$IMAGES_ENV"
}

up() {
  need_root up
  install_packages
  configure_podman
  mkdir -p "$CACHE/ch"
  make_tarball
  make_charliecloud_images
  make_podman_image
  start_docker
  make_docker_image
  write_images_env
  status >/dev/null || { log "the engines do not run the image: see 'bash ci/containers.sh status'"; exit 1; }
  log "Charliecloud, Podman and Docker are ready; images listed in $IMAGES_ENV"
}

status() {
  local ok=0 got
  if [ ! -s "$IMAGES_ENV" ]; then log "no $IMAGES_ENV: run 'bash ci/containers.sh up' as root"; return 1; fi
  export USER=${USER:-$(id -un)}
  got=$(ch-run "$CH_SQFS" -- cat /etc/freight-ci-image 2>&1) || true
  if [ "$got" = "$MARKER" ]; then echo "charliecloud: ch-run $(ch-run --version 2>&1) runs $CH_SQFS"
  else log "ch-run cannot run $CH_SQFS: $got"; ok=1; fi
  got=$(podman_marker) || true
  if [ "$got" = "$MARKER" ]; then echo "podman: $(podman --version) runs $PODMAN_IMAGE"
  else log "podman cannot run $PODMAN_IMAGE"; ok=1; fi
  got=$(docker_marker) || true
  if [ "$got" = "$MARKER" ]; then echo "docker: $(/usr/bin/docker --version) runs $PODMAN_IMAGE"
  else log "docker cannot run $PODMAN_IMAGE (is dockerd up? bash ci/containers.sh up)"; ok=1; fi
  return "$ok"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  *) echo "usage: bash ci/containers.sh up|status" >&2; exit 2 ;;
esac
