"""`--mount` and [container] mounts are refused when freight reads them (one line, exit 2, the
form named), not later on a node when a task's container starts: `freight script` and `freight
run`, on the command line and in freight.toml."""

import pytest

from freight.cli import main


@pytest.fixture(autouse=True)
def in_a_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FREIGHT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FREIGHT_CONFIG_DIR", str(tmp_path / "no-config"))
    (tmp_path / "plain.py").write_text("print('hi')\n")
    return tmp_path


def refused(argv: list[str], capsys) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("command", ["script", "run"])
@pytest.mark.parametrize("mount", ["", "a:b:c:d", "/a:b:c:ro", ":/data"])
def test_a_mount_that_is_not_host_container_ro_is_refused(command, mount, capsys, in_a_project):
    line = refused([command, "--image", "docker://python:3.12-slim", "--mount", mount, "plain.py"], capsys)
    assert line.startswith("freight: error: bad value for --mount: ")
    assert f"mount {mount!r} is not HOST[:CONTAINER[:ro]]" in line  # printed as typed: no emoji for ":b:"
    assert "(fix: e.g. --mount /data" in line
    assert not (in_a_project / "home" / "runs").exists() or not any((in_a_project / "home" / "runs").iterdir())


def test_a_relative_container_path_is_refused(capsys):
    line = refused(["script", "--mount", "/data:data", "plain.py"], capsys)
    assert "mount '/data:data': the container path must be absolute" in line


def test_a_bad_mount_in_freight_toml_names_the_file_and_key(capsys, in_a_project):
    (in_a_project / "freight.toml").write_text('[container]\nimage = "docker://python:3.12-slim"\nmounts = ["/a:/b:/c"]\n')
    line = refused(["script", "plain.py"], capsys)
    assert "freight.toml: bad value for 'mounts' in [container]: mount '/a:/b:/c' is not HOST[:CONTAINER[:ro]]" in line


def test_good_mounts_still_render(capsys):
    assert main(["script", "--image", "docker://python:3.12-slim", "--engine", "podman",
                 "--mount", "/data:ro", "--mount", "/scratch/me:/in:rw", "plain.py"]) == 0
    assert "#!/usr/bin/env bash" in capsys.readouterr().out
