"""environment.yml (a small parser, no YAML library) and conda specs and exports."""

from pathlib import Path

import pytest

from freight.deps import conda

PROJECTS = Path(__file__).parent.parent / "projects"


def test_environment_yml_conda_and_pip_entries_with_lines():
    entries, warnings = conda.environment_yml(PROJECTS / "declared_conda" / "environment.yml")
    assert warnings == []
    assert entries == [
        (6, "python=3.10", False),
        (7, "pytorch::pytorch=2.1", False),
        (8, "numpy>=1.24", False),
        (9, "cudatoolkit=11.8", False),
        (10, "scikit-learn", False),
        (13, "transformers==4.35.0", True),
        (14, "wandb", True),
    ]


def test_environment_yml_flow_lists_and_what_follows_the_pip_block(tmp_path):
    path = tmp_path / "environment.yml"
    path.write_text(
        "dependencies: [numpy, 'pandas>=2']\n"
        "dependencies2:\n  - ignored\n"
        "---\n"
    )
    entries, _ = conda.environment_yml(path)
    assert [spec for _, spec, _ in entries] == ["numpy", "pandas>=2"]
    path.write_text("dependencies:\n  - pip:\n      - requests\n  - scipy\nname: x\n")
    entries, _ = conda.environment_yml(path)
    assert entries == [(3, "requests", True), (4, "scipy", False)]


@pytest.mark.parametrize(
    ("spec", "pip"),
    [
        ("numpy", "numpy"),
        ("numpy=1.26", "numpy==1.26.*"),
        ("numpy==1.26.0", "numpy==1.26.0"),
        ("numpy=1.26.0=py310h5f9d8c6_0", "numpy==1.26.0.*"),
        ("numpy>=1.24", "numpy>=1.24"),
        ("numpy 1.26", "numpy==1.26.*"),
        ("pytorch::pytorch=2.1", "torch==2.1.*"),
        ("conda-forge::py-opencv", "opencv-python"),
        ("python=3.10", None),
        ("cudatoolkit=11.8", None),
    ],
)
def test_conda_specs_to_pip(spec, pip):
    assert conda.spec_to_pip(spec)[0] == pip


def test_conda_list_export_is_recognized_and_converted():
    lines = (PROJECTS / "declared_conda_export" / "requirements.txt").read_text().splitlines()
    assert conda.is_conda_export(lines)
    assert not conda.is_conda_export(["numpy==1.2", "pandas"])
    assert conda.export_to_pip("pytorch=2.1.0=py3.10_cuda11.8_0") == "torch==2.1.0"
    assert conda.export_to_pip("_libgcc_mutex=0.1=main") is None
