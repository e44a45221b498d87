"""engines/index.py: pip's index settings read from real config files, handed to uv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from freight.engines.index import UV_INDEX_VARS, index_settings, pip_settings, uv_configured

PIP_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONSTRAINT", "PIP_CERT")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the files and variables a test writes count (not this machine's own pip.conf)."""
    for var in (*UV_INDEX_VARS, *PIP_VARS, "PIP_CONFIG_FILE", "SSL_CERT_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc-xdg"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write_pip_conf(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_install_section_wins_over_global_across_files(tmp_path, monkeypatch) -> None:
    site = "[install]\nextra-index-url = file:///i\n"
    write_pip_conf(tmp_path / "etc-xdg" / "pip" / "pip.conf", site)
    user = "[global]\nindex_url = https://mirror/simple\nextra-index-url = file:///a\n  file:///b\n"
    write_pip_conf(tmp_path / "config" / "pip" / "pip.conf", user)
    settings = pip_settings()
    assert settings["index-url"] == "https://mirror/simple"  # underscore spelling accepted
    assert settings["extra-index-url"] == "file:///i"


def test_pip_variables_override_files_and_devnull_disables_files(tmp_path, monkeypatch) -> None:
    write_pip_conf(tmp_path / "config" / "pip" / "pip.conf", "[global]\nfind-links = /wheels\n")
    monkeypatch.setenv("PIP_INDEX_URL", "https://from-env/simple")
    settings = pip_settings()
    assert (settings["find-links"], settings["index-url"]) == ("/wheels", "https://from-env/simple")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip's own switch: no config files at all
    assert pip_settings() == {"index-url": "https://from-env/simple"}


def test_pip_settings_become_uv_flags_and_cert(tmp_path, monkeypatch) -> None:
    constraints = write_pip_conf(tmp_path / "constraints.txt", "torch<=2.0\n")
    conf = (
        "[global]\nindex-url = https://m/simple\nextra-index-url = file:///a file:///b\n"
        f"find-links = /wheels\nconstraint = {constraints}\ncert = /certs.pem\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(write_pip_conf(tmp_path / "pip.conf", conf)))
    settings = index_settings()
    assert settings.uv_args(constraints=True) == [
        "--index-url", "https://m/simple",
        "--extra-index-url", "file:///a", "--extra-index-url", "file:///b",
        "--find-links", "/wheels",
        "--constraints", str(constraints),
    ]  # fmt: skip
    assert "--constraints" not in settings.uv_args(constraints=False)
    assert settings.uv_environ()["SSL_CERT_FILE"] == "/certs.pem"
    before = settings.fingerprint()
    constraints.write_text("torch<=2.1\n")  # a new site policy means a new lock
    assert index_settings().fingerprint() != before


@pytest.mark.parametrize("how", ["variable", "uv.toml"])
def test_users_own_uv_settings_win_over_pip(tmp_path, monkeypatch, how) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://pip-mirror/simple")
    assert not uv_configured()
    if how == "variable":
        monkeypatch.setenv("UV_DEFAULT_INDEX", "https://uv-mirror/simple")
    else:
        write_pip_conf(tmp_path / "config" / "uv" / "uv.toml", 'index-url = "https://uv/simple"\n')
    settings = index_settings()
    assert settings.uv_configured and settings.uv_args(constraints=True) == []
