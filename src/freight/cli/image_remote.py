"""`freight image build` in an HTCondor build job (`--profile chtc`, `--remote htcondor`): the
options H2's build command takes for it, and the printing. The work is in
freight.image.remote_build."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from freight.cli.app import err, out

PROFILE_OPT = typer.Option(None, "--profile", help="A site profile: one whose target is htcondor (chtc) "
                           "builds in an HTCondor build job instead of here.")
REMOTE_OPT = typer.Option(None, "--remote", help="htcondor: build in an HTCondor build job; none: build "
                          "here (default: by the target of the profile or freight.toml).")
REGISTRY_OPT = typer.Option(None, "--registry", help="Build job only: push to docker.io/USER, ghcr.io/ORG, … "
                            "from the job (an interactive job: you log in to the engine there).")
RENDER_ONLY_OPT = typer.Option(None, "--render-only", help="Build job only: write the submit file, "
                               "script and context into this folder; submit nothing.")
DRY_RUN_OPT = typer.Option(False, "--dry-run", help="Build job only: write its files, submit nothing.")
DISK_OPT = typer.Option(None, "--disk", help="Build job only: request_disk (default: 3x the expected "
                        "image, at least 20G for CUDA bases).")


def say(text: str) -> None:
    err.print(text, markup=False, highlight=False)


def build_remotely(plan, where, engine: Optional[str], registry: Optional[str],
                   render_only: Optional[Path], dry_run: bool, disk: Optional[str]) -> None:
    """Write the build job; submit it unless --render-only / --dry-run. stdout: the image file
    that comes back (batch), or the folder written."""
    from freight.image.remote_build import interactive_argv, prepare, submit

    build = prepare(plan, render_only, engine=engine or "apptainer", registry=registry,
                    site_disk=where.build_disk, disk=disk)
    for item in build.left_out:
        say(f"left out of the image: {item}")
    say(f"build job for {plan.ref} ({where.why}): {build.engine}, request_disk {build.size.disk_gb}G "
        f"({build.size.why}), request_memory {build.size.memory_gb}G")
    if render_only is not None or dry_run:
        say(f"wrote {build.folder}; submit it with `{' '.join(build.submit_argv())}`")
        out.print(str(build.folder), markup=False, highlight=False)
        return
    if build.interactive:
        argv = interactive_argv(build)
        say(f"starting an interactive build job: in its shell run ./freight-build.sh (it asks for the "
            f"{build.engine} login to {build.destination.split('/', 1)[0]} if needed)")
        os.execvp(argv[0], argv)
    cluster = submit(build)
    image = build.folder / build.image_file
    say(f"submitted build job {cluster}; when it ends the image is {image} (progress: condor_q {cluster}, "
        f"output: {build.folder / 'build.err'})")
    out.print(str(image), markup=False, highlight=False)
