"""Locking with `uv pip compile --generate-hashes` (needs the package index: marked network)."""

from __future__ import annotations

import pytest

from freight.errors import FreightError
from freight.image import lock
from freight.image.plan import make_plan


def test_resolver_message_is_one_line_without_decoration():
    stderr = ("  × No solution found when resolving dependencies:\n"
              "  ╰─▶ Because nothing-here was not found in the package registry, we can conclude"
              " that your requirements are unsatisfiable.\n")
    assert lock.resolver_message(stderr) == (
        "No solution found when resolving dependencies: Because nothing-here was not found in"
        " the package registry, we can conclude that your requirements are unsatisfiable.")


def test_pinned_versions_from_a_lock():
    text = "numpy==1.26.4 \\\n    --hash=sha256:ab\n    # via -r -\nPyYAML==6.0.2 ; python_version >= '3'\n"
    assert lock.pinned_versions(text) == {"numpy": "1.26.4", "pyyaml": "6.0.2"}


def test_compile_argv_targets_linux_and_the_images_python():
    argv = lock.compile_argv("3.12")
    assert argv[1:5] == ["pip", "compile", "-", "--generate-hashes"]
    assert argv[argv.index("--python-version") + 1] == "3.12"
    assert argv[argv.index("--python-platform") + 1].endswith("-unknown-linux-gnu")


@pytest.mark.network
def test_lock_has_exact_versions_and_hashes(tmp_path):
    (tmp_path / "run.py").write_text("import yaml\n")
    (tmp_path / "requirements.txt").write_text("pyyaml==6.0.2\n")
    plan = make_plan(tmp_path)
    assert plan.requirements_file == "requirements.lock"
    assert plan.locked.startswith("pyyaml==6.0.2 \\\n    --hash=sha256:")
    assert make_plan(tmp_path).content_hash == plan.content_hash


@pytest.mark.network
def test_an_unresolvable_requirement_is_the_resolvers_message():
    with pytest.raises(FreightError) as caught:
        lock.compile_requirements(["freight-no-such-package-xyz==1.0"], python="3.11")
    line = caught.value.one_line()
    assert "\n" not in line and "freight-no-such-package-xyz" in line
    assert line.startswith("cannot lock the requirements:") and "--no-lock" in line
