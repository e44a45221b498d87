"""Docker: the same `run` command line as Podman (engines/podman.py), with two differences.

- GPUs: `--gpus all` (the NVIDIA Container Toolkit's Docker integration); the scheduler's
  CUDA_VISIBLE_DEVICES is passed in, so the numbering matches the host's.
- `--user UID:GID` of the submitting user: Docker's daemon runs as root, so without it the
  program would write root-owned files into the project folder.

In CI, ci/containers.sh starts Debian's dockerd by hand: the image tests build and run with it.
"""

from __future__ import annotations

import os

from freight.engines.podman import Podman


class Docker(Podman):
    name = "docker"
    program = "docker"
    install_hint = "install Docker Engine (apt install docker.io) and start dockerd"
    gpu_note = "--gpus all (NVIDIA Container Toolkit), CUDA_VISIBLE_DEVICES passed in"

    def run_options(self, gpus: int) -> list[str]:
        return ["--user", f"{os.getuid()}:{os.getgid()}", *(["--gpus", "all"] if gpus else [])]
