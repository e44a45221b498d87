"""`freight image export REF --to sif|squashfs|tar|dir`: an image in the form a cluster takes.

Where REF lives decides the command:
- a tag in Docker's or Podman's store: `tar` is `docker save` / `podman save` (an archive
  `docker load` / `podman load` / `apptainer build x.sif docker-archive://…` read); `dir` and
  `squashfs` are `ch-convert -i docker|podman` (a flat tree ch-run runs; SquashFS needs
  mksquashfs); `sif` is `apptainer build OUT docker-daemon://REF` (Docker) or a `podman save`
  archive then `apptainer build OUT docker-archive://ARCHIVE` (Podman).
- a Charliecloud directory image (what `freight image build --engine charliecloud` makes):
  `ch-convert -i dir` to tar (flat .tar.gz), squashfs or another dir; `apptainer build` to sif.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from freight.errors import ConfigError, FreightError, InputError, MissingToolError
from freight.image.builders import charliecloud_environ, get_builder

FORMATS = ("sif", "squashfs", "tar", "dir")
SUFFIX = {"sif": ".sif", "squashfs": ".sqfs", "tar": ".tar", "dir": ""}
CH_OUT = {"squashfs": "squash", "dir": "dir", "tar": "tar"}


def default_output(ref: str, to: str) -> Path:
    """./<name>-<tag><suffix> for REF name:tag (a dir REF: its own name)."""
    last = os.path.basename(ref.rstrip("/"))
    stem = last.replace(":", "-").replace("+", "-").replace("%", "-")
    if to == "tar" and os.path.isdir(ref):
        return Path(f"{stem}.tar.gz")  # ch-convert writes flat trees gzipped
    return Path(stem + SUFFIX[to])


def source_of(ref: str, engine: str | None = None) -> str:
    """Where REF lives: "dir" (a directory image), "docker" or "podman" (a tag in its store)."""
    if engine is not None and engine not in ("docker", "podman"):
        raise ConfigError(f"--engine {engine!r}: export and push read docker's or podman's image store",
                          fix="use --engine docker or --engine podman (podman sees buildah's images), or leave it out")
    if os.path.isdir(ref):
        return "dir"
    names = [engine] if engine else ["docker", "podman"]
    for name in names:
        builder = get_builder(name)
        if builder.available() and builder.exists(ref):
            return name
    where = engine or "docker or podman"
    raise InputError(f"no image {ref} in {where} here, and it is not a directory image",
                     fix=f"build it first (freight image build) or check the name with `{engine or 'podman'} images`")


def export_argv(ref: str, source: str, to: str, out: Path) -> list[list[str]]:
    """The commands (run in order) that write `out` from `ref`."""
    if to not in FORMATS:
        raise ConfigError(f"cannot export to {to!r}", fix=f"use one of: {', '.join(FORMATS)}")
    if to == "sif":
        return _sif_argv(ref, source, out)
    if to == "tar" and source in ("docker", "podman"):
        return [[source, "save", "-o", str(out), ref]]
    if to == "dir" and source == "dir":  # ch-convert refuses dir -> dir
        return [["cp", "-a", ref, str(out)]]
    return [["ch-convert", "-i", source, "-o", CH_OUT[to], ref, str(out)]]


def _sif_argv(ref: str, source: str, out: Path) -> list[list[str]]:
    if source == "docker":
        return [["apptainer", "build", "--force", str(out), f"docker-daemon://{ref}"]]
    if source == "podman":
        archive = f"{out}.docker-archive.tar"
        return [["podman", "save", "--format", "docker-archive", "-o", archive, ref],
                ["apptainer", "build", "--force", str(out), f"docker-archive://{archive}"],
                ["rm", "-f", archive]]
    return [["apptainer", "build", "--force", str(out), ref]]


def export_image(ref: str, to: str, out: Path | None = None, engine: str | None = None) -> Path:
    """Write REF as `to` at `out` (default: ./NAME-TAG.EXT); the path written."""
    source = source_of(ref, engine)
    out = Path(out or default_output(ref, to)).absolute()
    if out.exists():  # never written over: `docker save` would replace any file there
        what = "folder" if out.is_dir() else "file"
        raise InputError(f"the export {what} exists already", path=out, fix="remove it or pass another --out")
    if not out.parent.is_dir():
        raise InputError("no such folder for the export", path=out.parent, fix="create it first or pass another --out")
    for argv in export_argv(ref, source, to, out):
        _run(argv)
    return out


def _run(argv: list[str]) -> None:
    from shutil import which

    if which(argv[0]) is None:
        hint = {"apptainer": "install Apptainer (https://apptainer.org)",
                "ch-convert": "apt install charliecloud-builders squashfs-tools"}.get(argv[0], f"install {argv[0]}")
        raise MissingToolError(f"exporting needs {argv[0]}, which is not on PATH here", fix=hint)
    with tempfile.TemporaryDirectory(prefix="freight-export-") as scratch:
        env = charliecloud_environ(os.environ.get("CH_IMAGE_STORAGE") or os.path.join(scratch, "storage"))
        env.setdefault("TMPDIR", scratch)
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        from freight.image.build import last_error_line

        raise FreightError(f"{argv[0]} failed: {last_error_line((done.stderr + done.stdout).splitlines())}",
                           fix="see the message; `freight image export --help` lists the formats")
