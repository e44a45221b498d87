"""analyze(path): the requirements of the fixture projects, end to end."""

import json
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest

from freight.deps.analyze import analyze
from freight.errors import ConfigError, InputError

PROJECTS = Path(__file__).parent.parent / "projects"


def names(packages):
    return [p.name for p in packages]


def by_name(packages):
    return {p.name: p for p in packages}


def reasons(packages):
    return {p.name: p.reason for p in packages}


def test_folder_of_images_does_not_hide_tensorflow_and_local_modules_are_not_needs():
    report = analyze(PROJECTS / "local_shadow")
    assert names(report.requirements) == ["numpy", "requests", "scikit-learn", "tensorflow"]
    assert report.optional == []
    tensorflow = by_name(report.requirements)["tensorflow"]
    assert tensorflow.sources == ["main.py:2"] and tensorflow.modules == ["tensorflow"]


def test_optional_imports_are_listed_apart_with_their_reason():
    report = analyze(PROJECTS / "optional_imports")
    assert names(report.requirements) == ["numpy", "PyYAML", "requests", "scipy", "tomli"]
    assert reasons(report.optional) == {
        "cupy": "find_spec guard",
        "hypothesis": "tests",
        "orjson": "suppress(ImportError)",
        "pandas": "if TYPE_CHECKING",
        "pytest": "tests",
        "pywin32": "platform branch",
        "ujson": "try/except ImportError",
    }


def test_hard_somewhere_and_optional_elsewhere_is_hard():
    numpy = by_name(analyze(PROJECTS / "optional_imports").requirements)["numpy"]
    assert not numpy.optional
    assert numpy.sources == ["app.py:7", "app.py:15"]  # the second is under try/except


def test_namespace_packages():
    report = analyze(PROJECTS / "namespaces")
    assert {"google-cloud-storage", "google-cloud-bigquery", "google-cloud-pubsub", "azure-storage-blob",
            "azure-identity", "protobuf", "Pillow", "beautifulsoup4", "python-dateutil", "attrs",
            "scikit-learn"} <= set(names(report.requirements))
    assert not any(name in ("google", "azure") for name in names(report.requirements))


def test_python2_file_still_gives_its_imports_and_one_warning():
    report = analyze(PROJECTS / "py2_project")
    assert names(report.requirements) == ["numpy", "requests", "simplejson"]  # urllib2 etc.: stdlib
    assert [w.split(":")[:2] for w in report.warnings] == [["legacy.py", "7"]]


def test_broken_files_do_not_stop_the_scan(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "py2_project", project)
    (project / "nulls.py").write_bytes(b"import pandas\x00\n")
    (project / "latin.py").write_bytes(b"import scipy\nname = '\xe9'\n")
    (project / "big.py").write_text("x = 1\n" * (2 * 1024 * 1024))
    os.symlink(project, project / "loop")
    report = analyze(project)
    assert {"pandas", "scipy", "numpy", "requests"} <= set(names(report.requirements))
    assert len(report.warnings) == 5  # py2, null bytes, bad encoding, size, symlink loop
    assert all("\n" not in w for w in report.warnings)


def test_declared_and_imported_are_merged_with_declared_pins():
    report = analyze(PROJECTS / "declared_requirements")
    assert report.requirements_txt(include_optional=False).splitlines() == [
        "--extra-index-url https://download.pytorch.org/whl/cu118",
        "exampletool @ git+https://github.com/example/tool.git@v1.0",
        "gunicorn",
        'numpy<2,>=1.24; python_version >= "3.9"',
        "requests==2.31.0",
        'tomli; python_version < "3.11"',
        "torch==2.1.0",
    ]
    torch = by_name(report.requirements)["torch"]
    assert torch.declared and torch.imported and torch.reason == "imported; declared"
    assert torch.sources == ["serve.py:3", "requirements.txt:4"]
    assert names(report.optional) == ["pytest"]


def test_a_library_does_not_depend_on_itself_and_tests_docs_examples_setup_are_optional():
    report = analyze(PROJECTS / "declared_pyproject")
    assert [p.requirement for p in report.requirements] == ["click", "numpy>=1.24"]
    why = reasons(report.optional)
    assert why["seaborn"] == "examples"
    assert why["sphinx-rtd-theme"] == "docs"
    assert why["setuptools"] == "build script (setup.py)"
    assert why["pytest"].startswith("tests")
    assert "my-pkg" not in why and "mypkg" not in why


def test_library_code_lazy_imports_extras_and_undeclared_imports_are_optional():
    report = analyze(PROJECTS / "library_lazy")
    assert [p.requirement for p in report.requirements] == ["numpy>=1.24", "pandas"]  # pandas: a script
    assert reasons(report.optional) == {
        "h5py": "imported inside a function",
        "matplotlib": "imported by the package, not among its declared dependencies; extra 'plot' in pyproject.toml",
        "numba": "imported by the package, not among its declared dependencies",
        "torch": "optional integration",
    }
    assert names(report.undeclared_imports) == ["numba", "pandas"]


def test_a_module_the_package_imports_only_behind_a_guard_has_optional_imports():
    report = analyze(PROJECTS / "library_guarded")
    assert names(report.requirements) == ["numpy", "pydantic"]  # pydantic-core comes with it
    assert reasons(report.optional) == {
        "bitsandbytes": "in a module the project imports only optionally; find_spec guard",
        "pydantic-core": "comes with pydantic",
    }


def test_poetry_pipfile_setup_py_projects():
    assert [p.requirement for p in analyze(PROJECTS / "declared_poetry").requirements] == [
        "pandas[excel]<2.2,>=2.1.1", "requests<3,>=2.31", "rich",
    ]
    pipfile = analyze(PROJECTS / "declared_pipfile")
    assert [p.requirement for p in pipfile.requirements] == ["Flask==3.0.0", "psycopg2-binary", "requests[socks]>=2.31"]
    setup = analyze(PROJECTS / "declared_setup")
    assert [p.requirement for p in setup.requirements] == ["numpy>=1.20", "pyserial"]


def test_environment_yml_gives_pip_requirements_and_keeps_conda_only_ones_as_declarations():
    report = analyze(PROJECTS / "declared_conda")
    assert [p.requirement for p in report.requirements] == [
        "numpy>=1.24", "scikit-learn", "torch==2.1.*", "transformers==4.35.0", "wandb",
    ]
    conda_only = {d.name for d in report.declared if not d.requirement}
    assert conda_only == {"python", "cudatoolkit"}


def test_conda_export_pins_what_is_imported_and_adds_nothing_else():
    report = analyze(PROJECTS / "declared_conda_export")
    assert [p.requirement for p in report.requirements] == ["numpy==1.26.0", "PyYAML==6.0.1", "torch==2.1.0"]
    assert report.unused_declared == []


def test_check_finds_undeclared_imports_and_unused_declarations_but_not_companions():
    report = analyze(PROJECTS / "check_mismatch")
    assert names(report.undeclared_imports) == ["scipy"]
    assert [d.name for d in report.unused_declared] == ["requests"]  # gunicorn: a companion
    assert "gunicorn" in names(report.requirements)
    assert not report.check_ok
    assert analyze(PROJECTS / "check_clean").check_ok


def test_pin_local_pins_installed_packages(tmp_path):
    (tmp_path / "tool.py").write_text("import packaging.version\nimport surely_missing_pkg_xyz\n")
    report = analyze(tmp_path, pin="local")
    pins = {p.name: p.specifier for p in report.requirements}
    assert pins == {"packaging": f"=={version('packaging')}", "surely_missing_pkg_xyz": ""}
    assert any("surely_missing_pkg_xyz: not installed here" in w for w in report.warnings)


def test_single_script_follows_its_local_imports():
    report = analyze(PROJECTS / "local_shadow" / "main.py")
    assert names(report.requirements) == ["numpy", "requests", "tensorflow"]  # helpers, mylib
    assert report.python_files_scanned == 5


def test_single_script_in_a_subfolder_reads_the_project_root():
    report = analyze(PROJECTS / "local_shadow" / "scripts" / "train.py")
    assert names(report.requirements) == ["scikit-learn"]  # helpers and mylib are local


def test_json_schema():
    data = analyze(PROJECTS / "declared_requirements").to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["schema"] == "freight.deps/1"
    assert set(data) >= {"root", "requirements", "optional", "declared", "warnings",
                         "undeclared_imports", "unused_declared", "python_files_scanned", "pin"}
    torch = next(r for r in data["requirements"] if r["name"] == "torch")
    assert torch == {
        "name": "torch", "requirement": "torch==2.1.0", "specifier": "==2.1.0", "marker": "",
        "optional": False, "reason": "imported; declared", "declared": True, "imported": True,
        "modules": ["torch"], "sources": ["serve.py:3", "requirements.txt:4"],
    }
    assert {"requirement", "name", "source", "optional", "reason", "kind"} <= set(data["declared"][0])


def test_missing_path_and_bad_pin_are_user_errors(tmp_path):
    with pytest.raises(InputError):
        analyze(tmp_path / "nope")
    with pytest.raises(ConfigError):
        analyze(tmp_path, pin="exact")


# ---- notebooks (read through freight.deps.notebook) -----------------------------------


def test_notebook_imports_pip_installs_and_load_ext():
    report = analyze(PROJECTS / "nb_colab" / "colab.ipynb")
    reqs = {p.name: p for p in report.requirements}
    assert reqs["transformers"].specifier == "==4.36.2" and reqs["transformers"].declared
    assert reqs["torch"].requirement == "torch==2.1.0+cu118"
    assert report.notebooks_scanned == 1
    assert all(name != "google" for name in reqs)  # google.colab exists only on Colab


def test_notebook_load_ext_of_ipython_builtins_is_not_a_requirement():
    report = analyze(PROJECTS / "nb_magics")
    assert "autoreload" not in names(report.requirements)


def test_broken_notebook_is_a_warning():
    report = analyze(PROJECTS / "nb_broken")
    assert report.requirements == [] and len(report.warnings) == 1
    assert report.warnings[0].startswith("broken.ipynb: ")


def test_one_bad_cell_only_warns(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import numpy as np"),
        nbformat.v4.new_markdown_cell("import not_code"),
        nbformat.v4.new_code_cell("for x in\n    pseudo code here"),
        nbformat.v4.new_code_cell("%load_ext tensorboard\nimport pandas\nfrom IPython.display import HTML"),
    ]
    nbformat.write(notebook, tmp_path / "nb.ipynb")
    report = analyze(tmp_path)
    assert names(report.requirements) == ["ipython", "numpy", "pandas", "tensorboard"]
    assert len(report.warnings) == 1 and report.warnings[0].startswith("nb.ipynb:cell2:")
    assert by_name(report.requirements)["pandas"].sources == ["nb.ipynb:cell3:2"]
