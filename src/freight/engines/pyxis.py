"""Pyxis, Slurm's container plugin (enroot underneath): the task's program runs as a job step,
`srun --container-image=IMG --container-mounts=… --container-workdir=DIR … CMD`.

From pyxis's usage page:
- `--container-mounts=SRC:DST[:ro],…`: comma-separated, so paths may not hold commas.
- `--no-container-mount-home`: $HOME is not mounted whatever the site's enroot default.
- The step's environment reaches the container but the image's values win, except for the
  names listed in `--container-env`: the task's variables are given to srun (`env K=V srun`)
  and listed there, so they win over the image's. (They are in srun's own environment too.)
- GPUs: those Slurm allocated to the job; pyxis hands them to the container, no flag needed.

Only for `--target slurm` on a cluster with pyxis; not installable here: rendered and checked.
"""

from __future__ import annotations

import shutil
import subprocess

from freight.engines.base import Engine, env_prefix, refuse_in_paths


class Pyxis(Engine):
    name = "pyxis"
    program = "srun"
    install_hint = "use a Slurm cluster with the pyxis plugin (https://github.com/NVIDIA/pyxis)"
    gpu_note = "the GPUs Slurm allocated to the job; pyxis hands them to the container"

    def available(self) -> bool:
        """srun is here and knows --container-image (pyxis adds it to srun's options)."""
        if shutil.which(self.program) is None:
            return False
        try:
            done = subprocess.run([self.program, "--help"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return "--container-image" in done.stdout

    def exec_argv(self, image: str, argv: list[str], *, mounts: list[str], env: dict[str, str],
                  workdir: str, gpus: int = 0, interactive: bool = False) -> list[str]:
        parsed = self._parsed(mounts, env, workdir)
        refuse_in_paths(self.name, parsed, ",", "--container-mounts separates mounts with commas")
        command = [self.program, f"--container-image={image}"]
        if parsed:
            command.append("--container-mounts=" + ",".join(mount.spec() for mount in parsed))
        command += [f"--container-workdir={workdir}", "--no-container-mount-home"]
        if env:
            command.append("--container-env=" + ",".join(env))
        if interactive:
            command.append("--pty")
        return [*env_prefix(env), *command, *argv]
