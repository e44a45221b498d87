"""Fixtures for every test. tests/ is on sys.path through this file, so `support` imports."""

import pytest
from support import Project


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    """A throwaway project folder with `freight` run in it as a user would."""
    monkeypatch.delenv("FREIGHT_HOME", raising=False)
    return Project(tmp_path)
