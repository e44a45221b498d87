"""Pins from the environment freight runs in (`--pin local`, like `pipreqs --use-local`).

A requirement without a version gets `==<installed version>`. A declared range that the
installed version satisfies is narrowed to that version; a declared range it does not
satisfy, or an exact declared pin, is kept and a warning says so. Nothing is looked up on
the network: a package that is not installed here stays unpinned, with a warning.
"""

from __future__ import annotations

from freight.deps.environment import Environment, load_environment
from freight.deps.models import NeededPackage


def installed_version(name: str, environment: Environment | None = None) -> str | None:
    """The version `importlib.metadata.version(name)` gives, or None when not installed."""
    found = (environment or load_environment()).find(name)
    return found[1] if found else None


def pin_locally(packages: list[NeededPackage]) -> list[str]:
    """Pin each package to its installed version, in place; returns warnings."""
    warnings = []
    environment = load_environment()
    for package in packages:
        if package.url:
            continue  # a direct URL is already as pinned as it gets
        problem = _pin(package, installed_version(package.name, environment))
        if problem:
            warnings.append(f"{package.name}: {problem}")
    return warnings


def _pin(package: NeededPackage, version: str | None) -> str:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if version is None:
        return "" if package.specifier else "not installed here; left unpinned"
    if not package.specifier:
        package.specifier = f"=={version}"
        return ""
    try:
        declared = SpecifierSet(package.specifier)
    except InvalidSpecifier:
        return ""
    if package.specifier.startswith("==") and "," not in package.specifier:
        if version in declared:
            return ""
        return f"declared {package.specifier}, installed {version}; kept the declared pin"
    if declared.contains(version, prereleases=True):
        package.specifier = f"=={version}"
        return ""
    return f"installed {version} does not satisfy {package.specifier}; kept the declared range"
