"""The per-file scan cache: a second scan of an unchanged tree reads no file, and a change
(to a file, to the scanner) is never hidden by it."""

import os
import time

import pytest

from freight.deps import cache, scan, scancache
from freight.deps.analyze import analyze


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FREIGHT_CACHE_DIR", str(tmp_path / "cache"))


def write(root, rel, text, seconds_ago=100):
    """A file last modified `seconds_ago` (older than the cache's trust window)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time_ns() - seconds_ago * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    return path


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    write(root, "app.py", "import numpy\nimport yaml\n")
    write(root, "pkg/__init__.py", "try:\n    import ujson\nexcept ImportError:\n    ujson = None\n")
    return root


@pytest.fixture
def reads(monkeypatch):
    """The files scan_file reads from now on."""
    seen = []
    original = scan.scan_file

    def counting(root, rel):
        seen.append(rel)
        return original(root, rel)

    monkeypatch.setattr(scan, "scan_file", counting)
    return seen


def test_a_second_scan_of_an_unchanged_tree_reads_no_file(project, reads):
    first = scan.scan(scan.walk(project), cache=True)
    assert sorted(reads) == ["app.py", "pkg/__init__.py"]
    second = scan.scan(scan.walk(project), cache=True)
    assert sorted(reads) == ["app.py", "pkg/__init__.py"]  # nothing read again
    assert [(s.path, s.imports, s.warnings) for s in second] == \
        [(s.path, s.imports, s.warnings) for s in first]


def test_the_cached_answer_is_the_analysis_without_cache(project):
    plain = analyze(project).to_json()
    analyze(project, cache=True)
    assert analyze(project, cache=True).to_json() == plain


def test_a_changed_file_is_scanned_again(project, reads):
    scan.scan(scan.walk(project), cache=True)
    write(project, "app.py", "import pandas\n", seconds_ago=50)
    scans = scan.scan(scan.walk(project), cache=True)
    assert reads[2:] == ["app.py"]
    assert [i[0] for i in scans[0].imports] == ["pandas"]


def test_a_just_modified_file_is_not_trusted_to_the_cache(project, reads):
    write(project, "new.py", "import requests\n", seconds_ago=0)
    scan.scan(scan.walk(project), cache=True)
    scan.scan(scan.walk(project), cache=True)
    assert reads.count("new.py") == 2 and reads.count("app.py") == 1


def test_a_new_scanner_forgets_the_old_scans(project, reads, monkeypatch):
    scan.scan(scan.walk(project), cache=True)
    monkeypatch.setattr(scancache, "scanner_key", lambda: ("another scanner",))
    scan.scan(scan.walk(project), cache=True)
    assert len(reads) == 4


def test_a_broken_cache_file_is_ignored_and_replaced(project, reads):
    scan.scan(scan.walk(project), cache=True)
    (kept,) = (cache.cache_dir() / "scans").iterdir()
    kept.write_bytes(b"not marshal data")
    assert [s.path for s in scan.scan(scan.walk(project), cache=True)] == ["app.py", "pkg/__init__.py"]
    scan.scan(scan.walk(project), cache=True)
    assert len(reads) == 4  # read again once, then cached again


def test_an_unwritable_cache_folder_only_costs_the_cache(project, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("FREIGHT_CACHE_DIR", str(blocker))
    assert [s.path for s in scan.scan(scan.walk(project), cache=True)] == ["app.py", "pkg/__init__.py"]


def test_cache_store_and_load_round_trip(tmp_path):
    path = tmp_path / "x" / "value.marshal"
    cache.store(path, {"a": [("b", 1, None)]})
    assert cache.load(path) == {"a": [("b", 1, None)]}
    assert cache.load(tmp_path / "missing") is None
