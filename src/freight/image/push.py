"""`freight image push REF --registry docker.io/USER|ghcr.io/ORG|nvcr.io/ORG/TEAM`.

freight never sees a password: it uses the engine's own login (`docker login`, `podman login`)
and refuses, before pushing anything, when the engine is not logged in to that registry,
naming the login command to run. The pushed name is REGISTRY/NAME:TAG, NAME and TAG from REF.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from freight.errors import ConfigError, FreightError
from freight.image.builders import get_builder

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
NGC_HINT = " (user: $oauthtoken, password: your NGC API key)"
HOST = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:\d+)?$")
PATH_PART = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")


def destination(ref: str, registry: str) -> str:
    """REGISTRY/NAME:TAG for REF (localhost/freight/proj:abc -> ghcr.io/org/proj:abc)."""
    host, parts = split_registry(registry)
    repository, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    name = repository.rsplit("/", 1)[-1]
    return "/".join([host, *parts, name]) + f":{tag}"


def split_registry(registry: str) -> tuple[str, list[str]]:
    """"ghcr.io/org" -> ("ghcr.io", ["org"]); ConfigError for what no registry takes."""
    host, _, rest = registry.strip().rstrip("/").partition("/")
    parts = [p for p in rest.split("/") if p]
    if not HOST.match(host) or not parts or not all(PATH_PART.match(p) for p in parts):
        raise ConfigError(f"--registry {registry!r} is not REGISTRY/NAMESPACE",
                          fix="e.g. docker.io/USER, ghcr.io/ORG or nvcr.io/ORG/TEAM (lower case)")
    if host == "nvcr.io" and len(parts) > 2:
        raise ConfigError(f"--registry {registry!r}: NGC takes nvcr.io/ORG or nvcr.io/ORG/TEAM", fix="drop the extra part")
    return host, parts


def login_hint(engine: str, host: str) -> str:
    return f"{engine} login {host}" + (NGC_HINT if host == "nvcr.io" else "")


def logged_in(engine: str, host: str) -> bool:
    """Whether the engine holds a login for `host` (its own files or helper; never read here)."""
    if engine in ("podman", "buildah"):
        done = subprocess.run([engine, "login", "--get-login", host], capture_output=True, text=True)
        return done.returncode == 0
    return host_in_docker_config(docker_config(), host)


def docker_config() -> dict:
    path = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def host_in_docker_config(config: dict, host: str) -> bool:
    """An `auths` entry or a credential helper for `host` (Docker Hub has several spellings);
    with a credsStore, the store's `list` says which registries it holds."""
    keys = DOCKER_HUB_KEYS if host in DOCKER_HUB_KEYS else (host, f"https://{host}")
    if any(key in config.get("auths", {}) for key in keys) or any(key in config.get("credHelpers", {}) for key in keys):
        return True
    store = config.get("credsStore")
    if not store:
        return False
    try:
        listed = subprocess.run([f"docker-credential-{store}", "list"], capture_output=True, text=True, timeout=30)
        held = json.loads(listed.stdout or "{}")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return False
    return any(key.rstrip("/").removeprefix("https://") in keys or key in keys for key in held)


def push_argv(engine: str, ref: str, dest: str) -> list[list[str]]:
    if engine in ("podman", "buildah"):
        return [[engine, "push", ref, f"docker://{dest}"]]
    return [["docker", "tag", ref, dest], ["docker", "push", dest]]


def push_image(ref: str, registry: str, engine: str | None = None) -> str:
    """Push REF (a tag in Docker's or Podman's store) to the registry; the name pushed."""
    from freight.image.export import source_of

    split_registry(registry)  # a malformed --registry is said first, before looking for REF
    source = source_of(ref, engine)
    if source == "dir":
        raise ConfigError("a directory image cannot be pushed", fix="build with --engine podman or docker, then push")
    dest = destination(ref, registry)
    host = dest.split("/", 1)[0]
    get_builder(source).require()
    if not logged_in(source, host):
        raise FreightError(f"{source} is not logged in to {host}; nothing was pushed",
                           fix=f"run `{login_hint(source, host)}` first (freight never handles the password)")
    for argv in push_argv(source, ref, dest):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            from freight.image.build import last_error_line

            raise FreightError(f"{argv[0]} push to {host} failed: {last_error_line((done.stderr + done.stdout).splitlines())}",
                               fix=f"check the name and your rights on {registry} (`{login_hint(source, host)}`)")
    return dest
