"""`freight image export` for real (podman save, ch-convert to a directory and to SquashFS, then
ch-run on what came out) and `freight image push` up to the registry: the name, the engine's
own login, the refusal when there is none (no registry is reachable here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from building import BASE, build_env, need_engine  # noqa: F401

from freight.errors import ConfigError, FreightError, MissingToolError
from freight.image.build import build_recipe
from freight.image.builders import get_builder
from freight.image.export import export_argv, export_image
from freight.image.push import destination, host_in_docker_config, push_argv, push_image

TAG = "localhost/freight/export-test:1"


@pytest.fixture(scope="module")
def small_image(build_env, tmp_path_factory):
    """A tiny image on the CI base, in Podman's store (no package index needed)."""
    need_engine("podman")
    context = tmp_path_factory.mktemp("ctx")
    (context / "marker.txt").write_text("exported\n")
    (context / "Dockerfile").write_text(f"FROM {BASE}\nCOPY marker.txt /opt/marker.txt\n")
    return build_recipe(get_builder("podman"), TAG, context / "Dockerfile", context)


def ch_run(image: Path, *argv: str) -> str:
    env = {**os.environ, "USER": os.environ.get("USER") or "root"}
    done = subprocess.run(["ch-run", str(image), "--", *argv], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_export_to_tar_is_an_image_archive(small_image, tmp_path):
    out = export_image(TAG, "tar", tmp_path / "img.tar")
    with tarfile.open(out) as archive:
        assert "manifest.json" in archive.getnames()
        manifest = json.load(archive.extractfile("manifest.json"))
    assert any(TAG in tag for entry in manifest for tag in entry.get("RepoTags") or [])


def test_export_to_dir_and_squashfs_run_with_ch_run(small_image, tmp_path):
    need_engine("charliecloud")  # ch-convert comes with ch-image
    folder = export_image(TAG, "dir", tmp_path / "img", engine="podman")
    assert ch_run(folder, "cat", "/opt/marker.txt") == "exported\n"
    squash = export_image(str(folder), "squashfs", tmp_path / "img.sqfs")
    assert squash.stat().st_size > 0 and ch_run(squash, "cat", "/opt/marker.txt") == "exported\n"


def test_export_refusals(small_image, tmp_path, monkeypatch):
    with pytest.raises(FreightError, match="no image localhost/freight/none:1"):
        export_image("localhost/freight/none:1", "tar", tmp_path / "x.tar")
    with pytest.raises(ConfigError):
        export_argv(TAG, "podman", "zip", tmp_path / "x.zip")
    monkeypatch.setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")  # no apptainer here or in CI
    if not any(Path(d, "apptainer").exists() for d in os.environ["PATH"].split(":")):
        with pytest.raises(MissingToolError, match="apptainer"):
            export_image(TAG, "sif", tmp_path / "x.sif", engine="podman")


def test_sif_command_lines(tmp_path):
    out = tmp_path / "x.sif"
    assert export_argv("img:1", "docker", "sif", out) == [["apptainer", "build", "--force", str(out), "docker-daemon://img:1"]]
    steps = export_argv("img:1", "podman", "sif", out)
    assert steps[0][:4] == ["podman", "save", "--format", "docker-archive"]
    assert steps[1][-1] == f"docker-archive://{out}.docker-archive.tar"
    assert export_argv("/images/d", "dir", "sif", out) == [["apptainer", "build", "--force", str(out), "/images/d"]]


def test_push_destination_keeps_name_and_tag():
    assert destination("localhost/freight/proj:abc123", "ghcr.io/org") == "ghcr.io/org/proj:abc123"
    assert destination("localhost/freight/proj:abc123", "docker.io/me/") == "docker.io/me/proj:abc123"
    assert destination("freight/proj:abc", "nvcr.io/org/team") == "nvcr.io/org/team/proj:abc"
    assert destination("localhost:5000/x/proj", "ghcr.io/org") == "ghcr.io/org/proj:latest"
    for bad in ("ghcr.io", "not a registry/x", "nvcr.io/org/team/extra", "ghcr.io/Org"):
        with pytest.raises(ConfigError):
            destination("freight/p:1", bad)


def test_push_uses_the_engine_and_never_a_password():
    assert push_argv("podman", "freight/p:1", "ghcr.io/o/p:1") == [["podman", "push", "freight/p:1", "docker://ghcr.io/o/p:1"]]
    assert push_argv("docker", "freight/p:1", "ghcr.io/o/p:1") == [
        ["docker", "tag", "freight/p:1", "ghcr.io/o/p:1"], ["docker", "push", "ghcr.io/o/p:1"]]
    assert not any("pass" in item for argv in push_argv("docker", "a", "b") for item in argv)


def test_docker_login_is_read_from_its_config():
    assert host_in_docker_config({"auths": {"https://index.docker.io/v1/": {}}}, "docker.io")
    assert host_in_docker_config({"auths": {"ghcr.io": {}}}, "ghcr.io")
    assert host_in_docker_config({"credHelpers": {"nvcr.io": "pass"}}, "nvcr.io")
    assert not host_in_docker_config({"auths": {"ghcr.io": {}}}, "nvcr.io")
    assert not host_in_docker_config({}, "docker.io")


def test_push_is_refused_without_a_login(small_image, tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))  # podman: no login at all
    with pytest.raises(FreightError) as caught:
        push_image(TAG, "nvcr.io/myorg/myteam", engine="podman")
    assert "not logged in to nvcr.io" in caught.value.problem and "podman login nvcr.io" in caught.value.fix
    assert "$oauthtoken" in caught.value.fix
    assert not (tmp_path / "auth.json").exists()


def test_push_cli_refuses_in_one_line(small_image, tmp_path):
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"), "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "freight", "image", "push", TAG, "--registry", "ghcr.io/someorg",
                           "--engine", "podman"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "podman login ghcr.io" in done.stderr


def test_export_cli_prints_the_path_written(small_image, tmp_path):
    done = subprocess.run([sys.executable, "-m", "freight", "image", "export", TAG, "--to", "tar", "--out",
                           str(tmp_path / "cli.tar")], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "cli.tar") and tarfile.is_tarfile(tmp_path / "cli.tar")
