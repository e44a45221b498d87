"""--pin local: versions from this environment, declared ranges respected."""

from importlib.metadata import version

from freight.deps.models import NeededPackage
from freight.deps.pins import pin_locally


def test_unpinned_installed_package_gets_its_version():
    package = NeededPackage(name="packaging")
    assert pin_locally([package]) == []
    assert package.specifier == f"=={version('packaging')}"


def test_declared_range_that_the_installed_version_meets_is_narrowed():
    package = NeededPackage(name="packaging", specifier=">=1")
    pin_locally([package])
    assert package.specifier == f"=={version('packaging')}"


def test_declared_range_that_the_installed_version_misses_is_kept_with_a_warning():
    package = NeededPackage(name="packaging", specifier="<1")
    warnings = pin_locally([package])
    assert package.specifier == "<1"
    assert len(warnings) == 1 and "does not satisfy" in warnings[0]


def test_exact_declared_pin_is_kept():
    package = NeededPackage(name="packaging", specifier="==1.0")
    warnings = pin_locally([package])
    assert package.specifier == "==1.0" and "kept the declared pin" in warnings[0]


def test_missing_package_stays_unpinned_with_a_warning():
    package = NeededPackage(name="surely-not-installed-freight-test")
    assert pin_locally([package]) == ["surely-not-installed-freight-test: not installed here; left unpinned"]
    assert package.specifier == ""


def test_url_requirements_are_left_alone():
    package = NeededPackage(name="packaging", url="https://example.org/packaging.whl")
    assert pin_locally([package]) == [] and package.specifier == ""
