"""Registers the `network` marker (tests that need the package index) until pyproject does."""


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "network: needs the package index (PyPI or its mirrors)")
