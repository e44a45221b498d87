"""Declared requirements from each kind of file, parsed with packaging."""

from pathlib import Path

import pytest

from freight.deps.declared import poetry_constraint, read_declarations

PROJECTS = Path(__file__).parent.parent / "projects"


def by_name(found):
    return {d.name: d for d in found.requirements}


def test_requirements_txt_with_includes_options_urls_hashes_and_bad_lines():
    found = read_declarations(PROJECTS / "declared_requirements")
    reqs = by_name(found)
    assert reqs["torch"].requirement == "torch==2.1.0" and reqs["torch"].line == 4
    assert reqs["numpy"].requirement == 'numpy<2,>=1.24; python_version >= "3.9"'
    assert reqs["requests"].requirement == "requests==2.31.0"
    assert reqs["requests"].path == "requirements/base.txt"
    assert reqs["exampletool"].requirement == "exampletool @ git+https://github.com/example/tool.git@v1.0"
    assert reqs["pytest"].optional and reqs["pytest"].path == "requirements-dev.txt"
    assert not reqs["gunicorn"].optional
    assert found.pip_options == ["--extra-index-url https://download.pytorch.org/whl/cu118"]
    assert len(found.warnings) == 1
    assert found.warnings[0].startswith("requirements.txt:11: not a requirement")
    assert "\n" not in found.warnings[0]


def test_pyproject_dependencies_extras_groups_and_own_name():
    found = read_declarations(PROJECTS / "declared_pyproject")
    reqs = by_name(found)
    assert not reqs["numpy"].optional and reqs["numpy"].requirement == "numpy>=1.24"
    assert reqs["matplotlib"].optional and "extra 'plot'" in reqs["matplotlib"].reason
    assert reqs["pytest"].optional and "group 'dev'" in reqs["pytest"].reason
    assert "my-pkg" in found.own_names and "my_pkg" in found.own_modules


def test_poetry_dependencies_become_pep440():
    found = read_declarations(PROJECTS / "declared_poetry")
    reqs = by_name(found)
    assert reqs["requests"].requirement == "requests<3,>=2.31"
    assert reqs["pandas"].requirement == "pandas[excel]<2.2,>=2.1.1"
    assert reqs["rich"].requirement == "rich"
    assert reqs["uvloop"].optional and 'sys_platform != "win32"' in reqs["uvloop"].requirement
    assert reqs["pytest"].optional
    assert "python" not in reqs and "locallib" not in reqs
    assert found.own_names == {"poetry-app"}


@pytest.mark.parametrize(
    ("constraint", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3"), ("~1", ">=1,<2"), ("1.2.3", "==1.2.3"), ("*", ""),
        (">=1.2, <2", ">=1.2,<2"), ("^1 || ^2", ""),
    ],
)
def test_poetry_constraints(constraint, pep440):
    assert poetry_constraint(constraint) == pep440


def test_environment_yml_conda_and_pip_sections():
    found = read_declarations(PROJECTS / "declared_conda")
    reqs = by_name(found)
    assert reqs["torch"].kind == "conda" and reqs["torch"].requirement == "torch==2.1.*"
    assert reqs["torch"].original == "pytorch::pytorch=2.1"
    assert reqs["transformers"].kind == "pip" and reqs["transformers"].line == 13
    assert reqs["python"].requirement == "" and reqs["python"].kind == "conda"  # for the image stage
    assert reqs["cudatoolkit"].requirement == ""


def test_conda_list_export_is_a_snapshot():
    found = read_declarations(PROJECTS / "declared_conda_export")
    reqs = by_name(found)
    assert set(reqs) == {"numpy", "torch", "pyyaml", "requests"}
    assert all(d.snapshot and d.kind == "conda" for d in found.requirements)
    assert reqs["torch"].requirement == "torch==2.1.0"


def test_pipfile_packages_and_dev_packages():
    reqs = by_name(read_declarations(PROJECTS / "declared_pipfile"))
    assert reqs["flask"].requirement == "flask==3.0.0"
    assert reqs["requests"].requirement == "requests[socks]>=2.31"
    assert reqs["psycopg2-binary"].requirement == "psycopg2-binary"
    assert reqs["pytest"].optional


def test_setup_py_literal_arguments():
    found = read_declarations(PROJECTS / "declared_setup")
    reqs = by_name(found)
    assert reqs["numpy"].requirement == "numpy>=1.20" and not reqs["numpy"].optional
    assert reqs["pyserial"].path == "setup.py"
    assert reqs["matplotlib"].optional
    assert found.own_names == {"fancy-tool"} and "fancy_tool" in found.own_modules


def test_setup_cfg(tmp_path):
    (tmp_path / "setup.cfg").write_text(
        "[metadata]\nname = cfg-tool\n\n[options]\ninstall_requires =\n"
        "    requests>=2\n    tomli; python_version < \"3.11\"\n\n"
        "[options.extras_require]\nplot = matplotlib\n"
    )
    found = read_declarations(tmp_path)
    reqs = by_name(found)
    assert reqs["tomli"].requirement == 'tomli; python_version < "3.11"'
    assert reqs["matplotlib"].optional
    assert found.own_names == {"cfg-tool"}


def test_broken_declaration_file_is_a_warning(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'x'\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    found = read_declarations(tmp_path)
    assert [d.name for d in found.requirements] == ["numpy"]
    assert len(found.warnings) == 1 and found.warnings[0].startswith("pyproject.toml: cannot read")


def test_requirements_include_loop_is_harmless(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r requirements-base.txt\nnumpy\n")
    (tmp_path / "requirements-base.txt").write_text("-r requirements.txt\npandas\n")
    names = sorted(d.name for d in read_declarations(tmp_path).requirements)
    assert names == ["numpy", "pandas"]
