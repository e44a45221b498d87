"""How each engine builds an image: its command line, where the result lives, whether it exists.

One class per builder, tried by `pick_builder` in this order: docker, podman, buildah,
apptainer (`build --fakeroot`), charliecloud (`ch-image build`). Each says which recipe format
it reads (H1's renderers: docker, apptainer, charliecloud), which engine runs what it made
(engines/), and `ref(tag)`: what that engine is given as the image (a tag in the engine's
store, a .sif file, a Charliecloud directory image).

`exists(tag)` must be quick (it is all a second build of an unchanged project does): one
`image inspect` call for the daemon engines, a stat() for the file-based ones.

Where file-based images go: `image_root()` (`$FREIGHT_CACHE_DIR/images`, else the user cache):
  charliecloud/storage/     ch-image's storage ($CH_IMAGE_STORAGE when the user set one)
  charliecloud/<tag>/       the directory image ch-run runs (ch-convert'ed out of the storage:
                            ch-run refuses directories inside the storage)
  apptainer/<tag>.sif
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from freight.errors import MissingToolError

ORDER = ("docker", "podman", "buildah", "apptainer", "charliecloud")
PROBE_TIMEOUT_S = 10


def image_root() -> Path:
    from freight.engines.venv import cache_dir

    return cache_dir() / "images"


def file_name(tag: str) -> str:
    """A tag as one file name: localhost/freight/proj:abc -> localhost%freight%proj+abc."""
    return re.sub(r"[^A-Za-z0-9._+%-]", "_", tag.replace("/", "%").replace(":", "+"))


class Builder:
    """One engine's way of building. Subclasses fill in the attributes and build_argv."""

    name = ""
    program = ""
    recipe_format = "docker"  # which renderer's output it reads
    runs_with = ""  # the engines/ name that runs the result
    install_hint = ""

    def available(self) -> bool:
        return shutil.which(self.program) is not None

    def require(self) -> Builder:
        if not self.available():
            raise MissingToolError(f"image builder {self.name!r} needs {self.program}, which is not usable here",
                                   fix=f"{self.install_hint}, or choose another --engine")
        return self

    def ref(self, tag: str) -> str:
        """What the running engine is given: the tag itself for engines with an image store."""
        return tag

    def exists(self, tag: str) -> bool:
        return _quiet([self.program, "image", "inspect", tag])

    def build_argv(self, tag: str, recipe: Path, context: Path) -> list[str]:
        raise NotImplementedError

    def environ(self) -> dict[str, str]:
        """The build command's environment."""
        return dict(os.environ)

    def finish_argv(self, tag: str) -> list[str] | None:
        """A command to run after a successful build (None: nothing to do)."""
        return None

    def __repr__(self) -> str:
        return f"<builder {self.name}>"


class DockerBuilder(Builder):
    name = "docker"
    program = "docker"
    runs_with = "docker"
    install_hint = "install Docker Engine (apt install docker.io) and start dockerd"

    def available(self) -> bool:
        """The client alone is not enough: many login nodes have it without a daemon."""
        return super().available() and _quiet([self.program, "info", "--format", "{{.ID}}"])

    def build_argv(self, tag: str, recipe: Path, context: Path) -> list[str]:
        return [self.program, "build", "--force-rm", "-t", tag, "-f", str(recipe), str(context)]

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        if not _quiet([self.program, "buildx", "version"]):  # the legacy builder, without its warning
            env.setdefault("DOCKER_BUILDKIT", "0")
        return env


class PodmanBuilder(Builder):
    name = "podman"
    program = "podman"
    runs_with = "podman"
    install_hint = "apt install podman"

    def exists(self, tag: str) -> bool:
        return _quiet([self.program, "image", "exists", tag])

    def build_argv(self, tag: str, recipe: Path, context: Path) -> list[str]:
        return [self.program, "build", "--force-rm", "--layers", "-t", tag, "-f", str(recipe), str(context)]


class BuildahBuilder(PodmanBuilder):
    """Buildah shares Podman's image store, so Podman runs what it builds."""

    name = "buildah"
    program = "buildah"
    install_hint = "apt install buildah"

    def exists(self, tag: str) -> bool:
        return _quiet([self.program, "inspect", "--type", "image", tag])

    def build_argv(self, tag: str, recipe: Path, context: Path) -> list[str]:
        return [self.program, "bud", "--layers", "-t", tag, "-f", str(recipe), str(context)]


class ApptainerBuilder(Builder):
    """`apptainer build --fakeroot OUT.sif RECIPE.def`: the definition file names its own base
    and files; the build runs in the context folder so `%files` paths are relative to it."""

    name = "apptainer"
    program = "apptainer"
    recipe_format = "apptainer"
    runs_with = "apptainer"
    install_hint = "install Apptainer (https://apptainer.org) or `module load apptainer`"

    def ref(self, tag: str) -> str:
        return str(image_root() / "apptainer" / f"{file_name(tag)}.sif")

    def exists(self, tag: str) -> bool:
        return os.path.isfile(self.ref(tag))

    def build_argv(self, tag: str, recipe: Path, context: Path) -> list[str]:
        Path(self.ref(tag)).parent.mkdir(parents=True, exist_ok=True)
        return [self.program, "build", "--fakeroot", "--force", self.ref(tag), str(recipe)]


class CharliecloudBuilder(Builder):
    """`ch-image build`, then `ch-convert` into a directory image ch-run can run by path."""

    name = "charliecloud"
    program = "ch-image"
    recipe_format = "charliecloud"
    runs_with = "charliecloud"
    install_hint = "apt install charliecloud-builders (or `module load charliecloud`)"

    def storage(self) -> str:
        return os.environ.get("CH_IMAGE_STORAGE") or str(image_root() / "charliecloud" / "storage")

    def ref(self, tag: str) -> str:
        return str(image_root() / "charliecloud" / file_name(tag))

    def exists(self, tag: str) -> bool:
        return os.path.isfile(os.path.join(self.ref(tag), "ch", "environment"))

    def build_argv(self, tag: str, recipe: Path, context: Path) -> list[str]:
        return [self.program, "build", "-t", tag, "-f", str(recipe), str(context)]

    def finish_argv(self, tag: str) -> list[str]:
        if os.path.isdir(self.ref(tag)):  # a half-made one from an interrupted build
            shutil.rmtree(self.ref(tag))
        return ["ch-convert", "-i", "ch-image", "-o", "dir", tag, self.ref(tag)]

    def environ(self) -> dict[str, str]:
        os.makedirs(os.path.dirname(self.storage()), exist_ok=True)  # ch-image makes only the last level
        return charliecloud_environ(self.storage())


def charliecloud_environ(storage: str) -> dict[str, str]:
    """ch-image's environment: its storage, no build cache (it needs a git identity and keeps
    stale bases), $USER set, and the folder ch-image is in first on PATH: it starts with
    `#!/usr/bin/env python3` and needs the python it was installed for (Debian's, with lark)."""
    env = dict(os.environ)
    env["CH_IMAGE_STORAGE"] = storage
    env.setdefault("CH_IMAGE_CACHE", "disabled")
    if not env.get("USER"):
        import pwd

        env["USER"] = pwd.getpwuid(os.getuid()).pw_name
    where = os.path.dirname(shutil.which("ch-image") or "/usr/bin/ch-image")
    env["PATH"] = os.pathsep.join([where, env.get("PATH", "")])
    return env


BUILDERS: dict[str, type[Builder]] = {
    "docker": DockerBuilder,
    "podman": PodmanBuilder,
    "buildah": BuildahBuilder,
    "apptainer": ApptainerBuilder,
    "singularity": ApptainerBuilder,
    "charliecloud": CharliecloudBuilder,
}


def get_builder(name: str) -> Builder:
    from freight.errors import ConfigError

    if name not in BUILDERS:
        raise ConfigError(f"no image builder called {name!r}", fix=f"use one of: {', '.join(ORDER)}")
    return BUILDERS[name]()


def pick_builder(preferred: str | None = None) -> Builder:
    """`preferred` (installed, else MissingToolError), or the first of ORDER this machine has."""
    if preferred:
        return get_builder(preferred).require()
    for name in ORDER:
        builder = get_builder(name)
        if builder.available():
            return builder
    raise MissingToolError("no image builder here (looked for docker with a running daemon, podman, buildah, "
                           "apptainer, ch-image)",
                           fix="install one: apt install podman (or docker.io, buildah, charliecloud-builders)")


def _quiet(argv: list[str]) -> bool:
    """True when the command exits 0 (output dropped)."""
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=PROBE_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
