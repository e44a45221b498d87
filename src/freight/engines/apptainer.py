"""Apptainer (and its ancestor Singularity): `apptainer exec --cleanenv --no-home … IMAGE CMD`.

- `--cleanenv`: Apptainer passes the whole host environment in by default; the task's variables
  go in as APPTAINERENV_<NAME> (SINGULARITYENV_<NAME>) instead, which --cleanenv keeps. Not
  `--env`: it splits its value on commas.
- `--no-home`: $HOME is not mounted (it is by default).
- `--bind HOST:CONTAINER[:ro]`, one per mount (the flag's value is comma-separated, so a path
  with a comma cannot be bound); Apptainer creates missing mount points.
- `--pwd DIR`: the working directory inside.
- GPUs: `--nv` binds the host's NVIDIA driver libraries and devices; CUDA_VISIBLE_DEVICES from
  the scheduler is passed in, so the numbering matches the host's.

Not installable on Debian 12: rendered and checked by tests, not run.
"""

from __future__ import annotations

from freight.engines.base import Engine, env_prefix, refuse_in_paths


class Apptainer(Engine):
    name = "apptainer"
    program = "apptainer"
    install_hint = "install Apptainer (https://apptainer.org) or `module load apptainer` on a cluster"
    gpu_note = "--nv: the host's NVIDIA driver and devices, CUDA_VISIBLE_DEVICES passed in"
    env_var_prefix = "APPTAINERENV_"

    def exec_argv(self, image: str, argv: list[str], *, mounts: list[str], env: dict[str, str],
                  workdir: str, gpus: int = 0, interactive: bool = False) -> list[str]:
        parsed = self._parsed(mounts, env, workdir)
        refuse_in_paths(self.name, parsed, ",", "--bind separates mounts with commas")
        variables = {self.env_var_prefix + name: value for name, value in env.items()}
        command = [self.program, "exec", "--cleanenv", "--no-home"]
        if gpus:
            command.append("--nv")
        for mount in parsed:
            command += ["--bind", mount.spec()]
        return [*env_prefix(variables), *command, "--pwd", workdir, image, *argv]


class Singularity(Apptainer):
    """SingularityCE / Singularity 3.x: the same command line under its own name and prefix."""

    name = "singularity"
    program = "singularity"
    install_hint = "install SingularityCE (https://sylabs.io) or `module load singularity` on a cluster"
    env_var_prefix = "SINGULARITYENV_"
