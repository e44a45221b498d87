"""The installed environment as freight reads it: the same answers as importlib.metadata,
from its cache when nothing changed, read again when a distribution changes."""

import os
import sys
import time
from importlib import metadata

import pytest

from freight.deps import environment
from freight.deps.environment import load_environment, normalize


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FREIGHT_CACHE_DIR", str(tmp_path / "cache"))


def test_packages_distributions_is_the_stdlib_answer():
    assert load_environment().packages_distributions() == metadata.packages_distributions()


def test_a_cached_read_gives_the_same_answer(tmp_path):
    first = load_environment().packages_distributions()
    assert list((tmp_path / "cache" / "deps" / "env").iterdir()), "nothing was cached"
    assert load_environment().packages_distributions() == first


def test_find_is_what_metadata_distribution_finds():
    env = load_environment()
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    names |= {name.upper() for name in names} | {"surely-not-installed-freight-test", ""}
    for name in sorted(names):
        try:
            dist = metadata.distribution(name)
            expected = (dist.metadata["Name"], dist.version)
        except (metadata.PackageNotFoundError, ValueError):
            expected = None
        found = env.find(name)
        assert (found and found[:2]) == expected, name


def write_dist(site, folder, files):
    info = site / folder
    info.mkdir(parents=True)
    for name, text in files.items():
        (info / name).write_text(text)


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """A site folder of hand-made distributions, first on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    return site


def test_odd_records_and_metadata_read_as_importlib_metadata_reads_them(fake_site):
    record = "\n".join([
        '"odd,name/__init__.py",sha256=x,1', "./dotted/mod.py,,", "/abs/path.py,,",
        "solo.py,,", "pkg//deep/x.py,,", ".py,,", "data/file.txt,,", "trailing/,,",
    ])
    write_dist(fake_site, "weird_dist-1.0.dist-info",
               {"METADATA": "Metadata-Version: 2.1\nname: Weird.Dist\nVersion: 1.0\n\nName: no",
                "RECORD": record})
    write_dist(fake_site, "declared-2.0.dist-info",
               {"METADATA": "Name: declared\nVersion: 2.0\n", "top_level.txt": "a\nb\n"})
    write_dist(fake_site, "nothing-0.1.dist-info", {"METADATA": "Name: nothing\n"})
    env = load_environment(use_cache=False)
    assert env.packages_distributions() == metadata.packages_distributions()
    assert env.find("weird-dist")[:2] == ("Weird.Dist", "1.0")
    assert env.find("nothing")[:2] == ("nothing", None)


def set_mtime(path, seconds_ago):
    stamp = time.time_ns() - seconds_ago * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_an_unchanged_distribution_is_read_from_the_cache(fake_site, monkeypatch):
    write_dist(fake_site, "mine-1.0.dist-info", {"METADATA": "Name: mine\n", "RECORD": "old.py,,\n"})
    set_mtime(fake_site / "mine-1.0.dist-info", 100)
    assert load_environment().packages_distributions()["old"] == ["mine"]
    monkeypatch.setattr(environment, "read_record", lambda folder: pytest.fail(folder))
    assert load_environment().packages_distributions()["old"] == ["mine"]


def test_a_changed_distribution_is_read_again(fake_site):
    write_dist(fake_site, "mine-1.0.dist-info", {"METADATA": "Name: mine\n", "RECORD": "old.py,,\n"})
    set_mtime(fake_site / "mine-1.0.dist-info", 100)
    assert load_environment().packages_distributions()["old"] == ["mine"]
    (fake_site / "mine-1.0.dist-info" / "top_level.txt").write_text("new\n")
    set_mtime(fake_site / "mine-1.0.dist-info", 50)
    found = load_environment().packages_distributions()
    assert found["new"] == ["mine"] and "old" not in found


def test_a_just_modified_distribution_is_not_cached(fake_site, monkeypatch):
    write_dist(fake_site, "mine-1.0.dist-info", {"METADATA": "Name: mine\n"})
    load_environment()  # its folder's mtime is now: within one clock tick of a change
    calls = []
    monkeypatch.setattr(environment, "read_record", lambda folder: calls.append(folder) or
                        ("mine", None, [], [], []))
    load_environment()
    assert calls == [str(fake_site / "mine-1.0.dist-info")]


def test_a_distribution_installed_later_is_seen(fake_site):
    load_environment()
    write_dist(fake_site, "later-3.0.dist-info", {"METADATA": "Name: later\nVersion: 3\n"})
    assert load_environment().find("later")[:2] == ("later", "3")


def test_normalize_matches_importlib_metadata():
    for name in ["Foo.Bar", "foo__bar", "FOO-bar", "a..b-_c"]:
        assert normalize(name) == metadata.Prepared.normalize(name)


def test_other_distribution_finders_fall_back_to_the_stdlib(monkeypatch):
    class Finder:
        @staticmethod
        def find_distributions(context=None):
            return iter(())

        @staticmethod
        def find_spec(*args, **kwargs):
            return None

    monkeypatch.setattr(sys, "meta_path", [Finder, *sys.meta_path])
    env = load_environment()
    assert isinstance(env, environment._StdlibEnvironment)
    assert env.packages_distributions() == metadata.packages_distributions()
