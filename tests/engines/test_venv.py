"""engines/venv.py against the real uv and the real package index.

Tests marked `network` build real environments with uv from the index this machine is
configured for (pip's mirrors, passed on to uv). CI has the index, so they run there; when the
index cannot be reached they fail with a message that says so, never skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from freight.engines import prepare_environment, shim_pythonpath
import freight
from freight.engines.venv import CACHE_ENV, UV_ENV, parse_requirements, unmet_requirement
from freight.errors import ConfigError, FreightError, MissingToolError
from freight.spec.job import EnvMode

network = pytest.mark.network  # needs the package index (PyPI or the configured mirrors)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("freight-cache")


@pytest.fixture(autouse=True)
def _cache(shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(shared_cache))
    monkeypatch.delenv(UV_ENV, raising=False)


@pytest.fixture(scope="module")
def six_env(shared_cache: Path):
    """The first build of a venv with `six`; fails clearly when the index is unreachable."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(shared_cache))
        try:
            return prepare_environment(["six"], EnvMode.venv)
        except FreightError as exc:
            pytest.fail(f"could not build a venv with six from the package index: {exc.one_line()}")


def run_python(python: str, code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run([python, "-c", code], capture_output=True, text=True, env=full_env)


@network
def test_venv_mode_builds_an_isolated_env_that_imports_six(six_env) -> None:
    assert six_env.mode_used is EnvMode.venv and six_env.created
    assert Path(six_env.python) != Path(sys.executable)
    out = run_python(six_env.python, "import six, sys; print(sys.prefix)")
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == six_env.env_dir
    isolated = run_python(six_env.python, "import pydantic")  # freight's deps are not in it
    assert isolated.returncode != 0 and "ModuleNotFoundError" in isolated.stderr


@network
def test_second_call_creates_nothing_and_runs_no_uv(six_env, monkeypatch) -> None:
    monkeypatch.setenv(UV_ENV, "/nonexistent/uv")  # any uv call would now raise MissingToolError
    again = prepare_environment(["six"], EnvMode.venv)
    assert not again.created
    assert (again.python, again.env_dir) == (six_env.python, six_env.env_dir)
    assert "reused" in again.reason


@network
def test_same_requirements_written_differently_share_the_env(six_env) -> None:
    again = prepare_environment(["# a comment", "", "Six  ", "six"], EnvMode.venv)
    assert not again.created and again.env_dir == six_env.env_dir


@network
def test_offline_builds_from_what_uv_already_has(six_env, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))  # a new freight cache: resolve and build again
    env = prepare_environment(["six"], EnvMode.venv, offline=True)
    assert env.created and run_python(env.python, "import six").returncode == 0


def test_current_mode_is_this_interpreter() -> None:
    env = prepare_environment(["no-such-package-anywhere"], EnvMode.current)
    assert env.python == sys.executable and env.mode_used is EnvMode.current
    assert env.env_dir is None and not env.created


def test_auto_uses_current_when_it_satisfies_the_requirements() -> None:
    env = prepare_environment(["packaging>=20", "pytest", "freight[plot]"], "auto")
    assert env.mode_used is EnvMode.current and env.python == sys.executable
    assert "satisfies all 3" in env.reason


@network
def test_auto_builds_a_venv_when_a_requirement_is_missing() -> None:
    env = prepare_environment(["appdirs"], EnvMode.auto)
    assert env.mode_used is EnvMode.venv
    assert "appdirs is not installed" in env.reason
    assert run_python(env.python, "import appdirs").returncode == 0


def test_unmet_requirement_explains_the_first_mismatch() -> None:
    assert "packaging" in unmet_requirement(parse_requirements(["packaging<1"]))
    assert unmet_requirement(parse_requirements(["no-such-pkg; python_version < '3'"])) is None
    # an extra's own requirements count: freight[plot] needs matplotlib, which is here
    assert unmet_requirement(parse_requirements(["freight[plot]", "pydantic[nosuchextra]"])) is None


def test_invalid_requirement_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        prepare_environment(["numpy>>=1"], EnvMode.venv)
    assert "numpy>>=1" in info.value.one_line() and "\n" not in info.value.one_line()


def test_missing_uv_is_a_missing_tool_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(UV_ENV, str(tmp_path / "no-uv-here"))
    with pytest.raises(MissingToolError) as info:
        prepare_environment(["six"], EnvMode.venv)
    assert "uv" in info.value.one_line()


@network
def test_unknown_package_fails_with_one_line_naming_it() -> None:
    with pytest.raises(FreightError) as info:
        prepare_environment(["six", "freight-no-such-package-7c1f==1.0"], EnvMode.venv)
    line = info.value.one_line()
    assert "freight-no-such-package-7c1f==1.0" in line and "fix:" in line and "\n" not in line


BUILD_ONE = textwrap.dedent(
    """
    import json, sys
    from freight.engines import prepare_environment
    env = prepare_environment(["six"], "venv")
    print(json.dumps({"created": env.created, "env_dir": str(env.env_dir)}))
    """
)


@network
def test_two_processes_building_at_once_build_it_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    procs = [
        subprocess.Popen([sys.executable, "-c", BUILD_ONE], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [json.loads(proc.communicate(timeout=300)[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert sorted(r["created"] for r in results) == [False, False, True]
    assert len({r["env_dir"] for r in results}) == 1
    leftovers = [p.name for p in (tmp_path / "envs").iterdir() if ".tmp-" in p.name]
    assert leftovers == []


@network
def test_program_in_a_venv_can_report_through_the_shim(six_env, tmp_path) -> None:
    code = "from freight import report; report(loss=0.25, acc=1.0)"
    env = {"PYTHONPATH": shim_pythonpath(), "FREIGHT_TASK_DIR": str(tmp_path)}
    out = run_python(six_env.python, code, **env)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "result.json").read_text()) == {"loss": 0.25, "acc": 1.0}


def test_shim_is_rewritten_when_it_differs_from_the_source() -> None:
    folder = Path(shim_pythonpath())
    report_copy = folder / "freight" / "report.py"
    source = Path(freight.__file__).parent / "report.py"
    assert report_copy.read_text() == source.read_text()
    report_copy.write_text("broken = True\n")
    assert Path(shim_pythonpath()) == folder
    assert report_copy.read_text() == source.read_text()
    names = {p.name for p in (folder / "freight").iterdir()}
    assert {"__init__.py", "report.py"} <= names and "cli" not in names  # not the whole package
