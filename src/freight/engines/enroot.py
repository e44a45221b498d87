"""enroot (NVIDIA): `enroot start --mount … --env K=V IMAGE sh -c 'cd "$1" && …' sh DIR CMD`.

IMAGE is a container name (`enroot create`) or a .sqsh file (started directly on Linux 4.18+
with fuse-overlayfs and squashfuse). From enroot's docs and its runtime.sh:

- `--mount SRC:DST:none:x-create=dir,bind[,ro]`: fstab fields separated by colons; paths may
  not hold whitespace (enroot rejects them); x-create makes a missing mount point.
- `--env NAME=VALUE`: one line in the container's environment file, so a value may not hold a
  newline. Nothing else of the host's environment goes in unless the site config says so.
- `ENROOT_MOUNT_HOME=no` for enroot itself: $HOME is not mounted even if the site enables it.
- No working-directory option: the command starts with `sh -c 'cd "$1" …'` (the image needs sh).
- GPUs: enroot's 98-nvidia.sh hook mounts the driver when NVIDIA_VISIBLE_DEVICES is set:
  `all` with NVIDIA_DRIVER_CAPABILITIES=compute,utility; the scheduler's CUDA_VISIBLE_DEVICES
  is passed in, so the numbering matches the host's.

Not installed here: rendered and checked by tests, not run.
"""

from __future__ import annotations

from freight.engines.base import Engine, env_prefix, refuse_in_paths
from freight.errors import ConfigError

CD_THEN_EXEC = 'cd "$1" && shift && exec "$@"'
GPU_ENV = {"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}


class Enroot(Engine):
    name = "enroot"
    program = "enroot"
    install_hint = "install enroot (https://github.com/NVIDIA/enroot/releases)"
    gpu_note = "NVIDIA_VISIBLE_DEVICES=all for enroot's nvidia hook, CUDA_VISIBLE_DEVICES passed in"

    def exec_argv(self, image: str, argv: list[str], *, mounts: list[str], env: dict[str, str],
                  workdir: str, gpus: int = 0, interactive: bool = False) -> list[str]:
        parsed = self._parsed(mounts, env, workdir)
        refuse_in_paths(self.name, parsed, " \t\n", "--mount takes no whitespace")
        if gpus:
            env = {**GPU_ENV, **env}
        command = [*env_prefix({"ENROOT_MOUNT_HOME": "no"}), self.program, "start"]
        for mount in parsed:
            options = "x-create=dir,bind" + (",ro" if mount.readonly else "")
            command += ["--mount", f"{mount.host}:{mount.container}:none:{options}"]
        for name, value in env.items():
            if "\n" in value:
                raise ConfigError(f"enroot cannot pass ${name}: its value holds a newline",
                                  fix="pass it in a file, or choose another --engine")
            command += ["--env", f"{name}={value}"]
        return [*command, image, "sh", "-c", CD_THEN_EXEC, "sh", workdir, *argv]
