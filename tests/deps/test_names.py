"""Import name -> distribution: curated table, namespaces, the environment, declared names."""

import pytest

from freight.deps.names import NameResolver, canonicalize_name, conda_to_pip, is_companion
from freight.deps.names import is_stdlib, name_table


@pytest.fixture
def table_only():
    return NameResolver(use_environment=False)


@pytest.mark.parametrize(
    ("module", "distribution"),
    [
        ("sklearn.svm", "scikit-learn"), ("cv2", "opencv-python"), ("PIL.Image", "Pillow"),
        ("yaml", "PyYAML"), ("bs4", "beautifulsoup4"), ("attr", "attrs"), ("grpc", "grpcio"),
        ("multipart", "python-multipart"), ("markdown_it", "markdown-it-py"),
        ("skimage", "scikit-image"), ("Crypto.Cipher", "pycryptodome"),
        ("dateutil.parser", "python-dateutil"), ("dotenv", "python-dotenv"), ("jwt", "PyJWT"),
        ("magic", "python-magic"), ("serial", "pyserial"), ("usb.core", "pyusb"),
        ("git", "GitPython"), ("docx", "python-docx"), ("pptx", "python-pptx"), ("fitz", "PyMuPDF"),
        ("google.protobuf.message", "protobuf"), ("OpenGL.GL", "PyOpenGL"), ("wx", "wxPython"),
        ("zmq", "pyzmq"), ("Levenshtein", "Levenshtein"), ("jose.jwt", "python-jose"),
    ],
)
def test_curated_names(table_only, module, distribution):
    assert table_only.distribution(module) == distribution


@pytest.mark.parametrize(
    ("module", "distribution"),
    [
        ("google.cloud.storage", "google-cloud-storage"),
        ("google.cloud.storage.blob.Blob", "google-cloud-storage"),
        ("google.cloud.pubsub_v1", "google-cloud-pubsub"),
        ("google.cloud.vision_v1p3beta1", "google-cloud-vision"),
        ("azure.storage.blob", "azure-storage-blob"),
        ("azure.identity", "azure-identity"),
        ("azure.mgmt.compute.models", "azure-mgmt-compute"),
        ("llama_index.llms.openai", "llama-index-llms-openai"),
    ],
)
def test_namespace_packages_resolve_on_later_components(table_only, module, distribution):
    assert table_only.distribution(module) == distribution


def test_a_bare_namespace_is_no_distribution(table_only):
    assert table_only.distribution("google.cloud") is None
    assert table_only.distribution("azure") is None


def test_unknown_names_fall_back_to_the_import_name(table_only):
    assert table_only.distribution("somepkg.sub") == "somepkg"
    assert "somepkg" in table_only.guessed


@pytest.mark.parametrize("module", ["tests", "docs", "utils.io", "google.colab.drive", "_private"])
def test_generic_and_hosted_only_names_are_no_distribution(module):
    assert NameResolver().distribution(module) is None


def test_declared_alternative_wins():
    resolver = NameResolver(declared={"opencv-python-headless", "psycopg2-binary"}, use_environment=False)
    assert resolver.distribution("cv2") == "opencv-python-headless"
    assert resolver.distribution("psycopg2") == "psycopg2-binary"


def test_installed_distributions_are_asked_for_unknown_names():
    # packaging and pytest are installed wherever the tests run
    resolver = NameResolver()
    assert resolver.distribution("packaging.version") == "packaging"
    assert resolver.distribution("_pytest.fixtures") == "pytest"
    assert "packaging" not in resolver.guessed


def test_stdlib_includes_python2_and_removed_modules():
    assert all(is_stdlib(name) for name in ["os", "__future__", "urllib2", "cPickle", "distutils", "imp"])
    assert not is_stdlib("numpy")


def test_companions_and_conda_names():
    assert is_companion("gunicorn") and is_companion("Psycopg2-Binary")
    assert not is_companion("requests")
    assert conda_to_pip("pytorch") == "torch"
    assert conda_to_pip("py-opencv") == "opencv-python"
    assert conda_to_pip("cudatoolkit") == "" and conda_to_pip("libgcc-ng") == ""
    assert conda_to_pip("numpy") == "numpy"


def test_the_curated_table_is_a_few_hundred_entries():
    table = name_table()
    assert len(table.modules) >= 300
    assert all(names and all(isinstance(n, str) and n for n in names) for names in table.modules.values())


@pytest.mark.parametrize("name", ["Django", "oslo.concurrency", "ruamel.yaml", "Foo__Bar--baz", "A._-.b"])
def test_canonicalize_name_is_packaging_s(name):
    from packaging.utils import canonicalize_name as packaging_canonical

    assert canonicalize_name(name) == packaging_canonical(name)


def test_the_name_table_is_read_from_the_cache_as_parsed(tmp_path, monkeypatch):
    import tomllib
    from pathlib import Path

    from freight.deps import names

    monkeypatch.setenv("FREIGHT_CACHE_DIR", str(tmp_path))
    toml = Path(names.__file__).parent.parent / "data" / "import_names.toml"
    parsed = tomllib.loads(toml.read_text("utf-8"))
    assert names._table_data() == parsed  # parsed, then kept (the file is old enough)
    monkeypatch.setattr(names, "_parse_table", lambda path: pytest.fail("parsed again"))
    assert names._table_data() == parsed
