"""Charliecloud: `ch-run --unset-env='*' --set-env … -b HOST:DST -c DIR IMAGE -- CMD`.

IMAGE is a directory image, a SquashFS file (.sqfs) or the name of an image in ch-image's
storage. What ch-run (0.31, Debian 12) needs, learnt by running it:

- The environment: ch-run passes the host's environment through, so `--unset-env='*'` first,
  then a default PATH, then `--set-env` (the image's ENV from /ch/environment, which wins over
  that default), then each task variable as `--set-env=NAME='VALUE'` with `--env-no-expand`
  (ch-run strips one pair of single quotes, and would otherwise expand `$NAME` items).
- Bind targets must exist in the (read-only) image. The host's /tmp is always shared at /tmp,
  so paths under /tmp need nothing; for a directory image `prepare` creates the missing mount
  points inside it; a SquashFS image must already have them (`RUN mkdir -p /path`).
- ch-run shares $TMPDIR (not /tmp) as the container's /tmp when TMPDIR is set, as Grid Engine
  does per job: `env -u TMPDIR` keeps /tmp the host's /tmp, where project folders may live.
- There is no read-only bind (`:ro` is refused) and no GPU flag: the host's /dev is visible,
  CUDA_VISIBLE_DEVICES is passed in, and the image needs the host's driver libraries
  (`ch-fromhost --nvidia IMAGE`).
- `$USER` must be set for ch-run itself (engines/wrap.py sees to it).
"""

from __future__ import annotations

import os

from freight.engines.base import Engine, Mount
from freight.errors import ConfigError, FreightError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHARED_TMP = "/tmp"


class Charliecloud(Engine):
    name = "charliecloud"
    program = "ch-run"
    install_hint = "apt install charliecloud-runtime (or `module load charliecloud` on a cluster)"
    gpu_note = ("ch-run has no GPU flag: the host's /dev is visible and CUDA_VISIBLE_DEVICES is "
                "passed in; inject the driver libraries with `ch-fromhost --nvidia IMAGE`")

    def exec_argv(self, image: str, argv: list[str], *, mounts: list[str], env: dict[str, str],
                  workdir: str, gpus: int = 0, interactive: bool = False) -> list[str]:
        parsed = self._parsed(mounts, env, workdir)
        for mount in parsed:
            if mount.readonly:
                raise ConfigError(f"ch-run cannot bind read-only ({mount.host})",
                                  fix="drop :ro from the mount, or choose another --engine")
        command = ["env", "-u", "TMPDIR", self.program, "--unset-env=*", f"--set-env=PATH={DEFAULT_PATH}"]
        if _has_image_env(image):
            command.append("--set-env")
        command.append("--env-no-expand")
        command += [f"--set-env={name}='{value}'" for name, value in env.items()]
        for mount in parsed:
            command += ["-b", f"{mount.host}:{mount.container}"]
        return [*command, "-c", workdir, image, "--", *argv]

    def prepare(self, image: str, mounts: list[Mount]) -> None:
        """Create missing mount points inside a directory image (ch-run cannot: it is read-only)."""
        if not os.path.isdir(image):
            return
        for mount in mounts:
            if _under(mount.container, SHARED_TMP):
                continue
            inside = os.path.join(image, mount.container.lstrip("/"))
            if os.path.isdir(inside):
                continue
            try:
                os.makedirs(inside, exist_ok=True)
            except OSError as exc:
                raise FreightError(
                    f"ch-run needs the mount point {mount.container} in image {image}, and it "
                    f"cannot be created there: {exc.strerror}",
                    fix=f"add `RUN mkdir -p {mount.container}` to the image, or mount under /tmp",
                ) from None


def _has_image_env(image: str) -> bool:
    """A directory image made by hand may lack /ch/environment (ch-run then fails on --set-env);
    SquashFS files and storage names come from ch-image/ch-convert, which always write it."""
    if os.path.isdir(image):
        return os.path.isfile(os.path.join(image, "ch", "environment"))
    return True


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
