"""Podman: `podman run --rm --init … -v HOST:DST[:ro] -w DIR -e K=V IMAGE CMD`.

- `--rm`: nothing is left behind; `--init`: a small init (catatonit) is PID 1, so the SIGTERM the
  task wrapper sends on cancel or time limit (podman forwards it) stops the program; a program
  that is PID 1 itself would ignore it.
- `--network=host --ipc=host`: as on a cluster node and with the other engines; data loaders
  need more shared memory than the 64 MB /dev/shm a container gets otherwise.
- The image's ENV applies, then each `-e NAME=VALUE`; the host's environment stays out, $HOME
  is the image's. The image's ENTRYPOINT runs with the command as its arguments (NGC images
  set up CUDA that way).
- GPUs: `--device nvidia.com/gpu=all` (CDI, from the NVIDIA Container Toolkit); the
  scheduler's CUDA_VISIBLE_DEVICES is passed in, so the numbering matches the host's.

Rootful here (CI): files the program writes into bound folders belong to root. Rootless Podman
maps the container's root to the user, so they belong to the user.
"""

from __future__ import annotations

from freight.engines.base import Engine


class Podman(Engine):
    name = "podman"
    program = "podman"
    install_hint = "apt install podman"
    gpu_note = "--device nvidia.com/gpu=all (CDI), CUDA_VISIBLE_DEVICES passed in"

    def exec_argv(self, image: str, argv: list[str], *, mounts: list[str], env: dict[str, str],
                  workdir: str, gpus: int = 0, interactive: bool = False) -> list[str]:
        parsed = self._parsed(mounts, env, workdir)
        command = [self.program, "run", "--rm", "--init", "--network=host", "--ipc=host"]
        if interactive:
            command += ["--interactive", "--tty"]
        command += self.run_options(gpus)
        for mount in parsed:
            command += ["-v", mount.spec()]
        command += ["-w", workdir]
        for name, value in env.items():
            command += ["-e", f"{name}={value}"]
        return [*command, image, *argv]

    def run_options(self, gpus: int) -> list[str]:
        """What differs between Podman and Docker: the GPU flag (and Docker's user)."""
        return ["--device", "nvidia.com/gpu=all"] if gpus else []
