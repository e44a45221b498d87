"""Walking a project: what is skipped, what is local, bad files as warnings, parallel scan."""

import os
import shutil
from pathlib import Path

import pytest

from freight.deps import scan

PROJECTS = Path(__file__).parent.parent / "projects"


def write(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_walk_skips_folders_that_are_not_source(tmp_path):
    write(tmp_path, "app.py", "import numpy\n")
    for rel in [
        ".git/hooks/x.py", ".venv/lib/x.py", "venv/x.py", "node_modules/x.py", "build/x.py",
        "dist/x.py", "__pycache__/x.py", ".tox/x.py", "lib/site-packages/x.py", ".freight/x.py",
        "myenv/lib/x.py", "condaenv/lib/x.py",
    ]:
        write(tmp_path, rel, "import should_not_be_seen\n")
    write(tmp_path, "myenv/pyvenv.cfg", "home = /usr\n")
    (tmp_path / "condaenv/conda-meta").mkdir(parents=True)
    tree = scan.walk(tmp_path)
    assert tree.files == ["app.py"]


def test_walk_finds_notebooks_and_nested_sources(tmp_path):
    write(tmp_path, "pkg/__init__.py")
    write(tmp_path, "pkg/sub/mod.py")
    write(tmp_path, "nb/analysis.ipynb", "{}")
    tree = scan.walk(tmp_path)
    assert tree.files == ["pkg/__init__.py", "pkg/sub/mod.py"]
    assert tree.notebooks == ["nb/analysis.ipynb"]


def test_symlink_loop_is_warned_about_and_not_followed(tmp_path):
    write(tmp_path, "a/mod.py", "import numpy\n")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    os.symlink(tmp_path, tmp_path / "a" / "up")
    tree = scan.walk(tmp_path)
    assert tree.files == ["a/mod.py"]
    loops = [w for w in tree.warnings if "symlink loop" in w]
    assert len(loops) == 2 and all("\n" not in w for w in loops)


def test_symlinked_folder_elsewhere_is_scanned_once(tmp_path):
    write(tmp_path, "outside/lib.py", "import yaml\n")
    write(tmp_path / "proj", "main.py")
    os.symlink(tmp_path / "outside", tmp_path / "proj" / "linked")
    tree = scan.walk(tmp_path / "proj")
    assert tree.files == ["linked/lib.py", "main.py"]


def test_files_over_the_size_limit_are_skipped_with_a_warning(tmp_path, monkeypatch):
    write(tmp_path, "small.py", "import numpy\n")
    big = tmp_path / "generated.py"
    big.write_text("x = 1\n" * (scan.PY_SIZE_LIMIT // 6 + 10))
    tree = scan.walk(tmp_path)
    assert tree.files == ["small.py"]
    assert len(tree.warnings) == 1
    assert tree.warnings[0].startswith("generated.py: ") and "limit" in tree.warnings[0]


def test_a_folder_of_images_named_like_a_package_is_not_local():
    tree = scan.walk(PROJECTS / "local_shadow")
    assert not tree.is_local("tensorflow", "main.py")
    assert tree.is_local("mylib", "main.py")
    assert tree.is_local("helpers", "scripts/train.py")  # a module at the root
    assert not tree.is_local("numpy", "main.py")


def test_namespace_folder_with_python_files_is_local(tmp_path):
    write(tmp_path, "ns/inner/mod.py")
    write(tmp_path, "src/srcpkg/__init__.py")
    write(tmp_path, "deep/x/vendored_pkg/__init__.py")
    write(tmp_path, "data/tensorflow/readme.txt")
    tree = scan.walk(tmp_path)
    assert tree.is_local("ns", "main.py")
    assert tree.is_local("srcpkg", "tests/test_a.py")
    assert tree.is_local("vendored_pkg", "main.py")  # a package root anywhere in the tree
    assert not tree.is_local("tensorflow", "data/load.py")


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("tests/test_a.py", "tests"),
        ("pkg/test_b.py", "tests"),
        ("pkg/b_test.py", "tests"),
        ("conftest.py", "tests"),
        ("setup.py", "build script (setup.py)"),
        ("docs/conf.py", "docs"),
        ("examples/demo.py", "examples"),
        ("pkg/_vendor/six.py", "vendored code"),
        ("pkg/core.py", ""),
    ],
)
def test_path_reasons(tmp_path, rel, reason):
    write(tmp_path, "pkg/core.py")
    write(tmp_path, rel)
    tree = scan.walk(tmp_path)
    assert tree.path_reason(rel) == reason


def test_examples_are_needs_when_they_are_all_the_code(tmp_path):
    write(tmp_path, "examples/mnist/train.py", "import torch\n")
    tree = scan.walk(tmp_path)
    assert tree.path_reason("examples/mnist/train.py") == ""


def test_decode_honours_the_coding_cookie():
    text, problem = scan.decode_source("# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1"))
    assert problem is None and "café" in text


def test_undecodable_bytes_warn_with_their_line():
    text, problem = scan.decode_source(b"import os\nx = '\xff\xfe'\nimport numpy\n")
    assert problem[0] == 2 and "not valid utf-8" in problem[1]
    assert "import numpy" in text


def test_bad_files_become_warnings_and_the_rest_is_scanned(tmp_path):
    shutil.copytree(PROJECTS / "py2_project", tmp_path / "p")
    (tmp_path / "p" / "nulls.py").write_bytes(b"import pandas\x00\x00\n")
    (tmp_path / "p" / "latin.py").write_bytes(b"import scipy\ns = '\xe9'\n")
    tree = scan.walk(tmp_path / "p")
    results = {s.path: s for s in scan.scan(tree)}
    assert {m for m, *_ in results["nulls.py"].imports} == {"pandas"}
    assert results["nulls.py"].warnings == ["nulls.py:1: contains null bytes; scanned without them"]
    assert results["latin.py"].warnings[0].startswith("latin.py:2: not valid utf-8")
    assert {m for m, *_ in results["legacy.py"].imports} >= {"urllib2", "requests", "simplejson"}
    assert results["legacy.py"].warnings[0].startswith("legacy.py:7: does not parse")
    assert {m for m, *_ in results["modern.py"].imports} == {"numpy"}


def test_unreadable_file_is_a_warning(tmp_path):
    path = write(tmp_path, "secret.py", "import numpy\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read anything (root)")
        scanned = scan.scan_file(tmp_path, "secret.py")
        assert scanned.imports == [] and "cannot read" in scanned.warnings[0]
    finally:
        path.chmod(0o644)


def test_parallel_scan_gives_the_same_answer_as_one_process(tmp_path, monkeypatch):
    for i in range(40):
        write(tmp_path, f"pkg{i % 4}/m{i}.py", f"import mod{i}\ndef f():\n    import lazy{i}\n")
    tree = scan.walk(tmp_path)
    one = scan.scan(tree, workers=1)
    monkeypatch.setattr(scan, "PARALLEL_MIN_FILES", 10)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    many = scan.scan(tree, workers=2)
    assert [(s.path, s.imports) for s in many] == [(s.path, s.imports) for s in one]
    assert len(one) == 40


def test_single_file_tree_sees_modules_beside_it_and_above_up_to_the_project_root():
    tree = scan.single_file(PROJECTS / "local_shadow" / "scripts" / "train.py")
    assert tree.files == ["train.py"]
    assert tree.project_root == (PROJECTS / "local_shadow").resolve()
    assert tree.is_local("helpers", "train.py") and tree.is_local("mylib", "train.py")
    assert not tree.is_local("tensorflow", "train.py")
