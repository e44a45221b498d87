"""Example projects for the image tests: name -> (files, make_plan keyword arguments)."""

from __future__ import annotations

from pathlib import Path

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.20"]
build-backend = "hatchling.build"

[project]
name = "vision"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["torch==2.5.1", "opencv-python==4.10.0.84"]
"""

ENVIRONMENT_YML = """\
name: sweep
channels: [conda-forge]
dependencies:
  - python=3.10
  - numpy=1.26
  - pip
  - pip:
      - fbpca==1.0
"""

CASES: dict[str, tuple[dict[str, str], dict]] = {
    "cpu": ({"train.py": "import numpy\nimport requests\n",
             "requirements.txt": "numpy==1.26.4\nrequests==2.32.3\n"}, {}),
    "cuda-package": ({"pyproject.toml": PYPROJECT,
                      "src/vision/__init__.py": "import torch\nimport cv2\n"}, {}),
    "ngc": ({"train.py": "import torch\nimport lightning\n",
             "requirements.txt": "lightning==2.4.0\n"},
            {"base": "nvcr.io/nvidia/pytorch:24.03-py3"}),
    "conda": ({"main.py": "import numpy\nimport fbpca\n", "environment.yml": ENVIRONMENT_YML}, {}),
    "local-bake": ({"run.py": "import yaml\n", "requirements.txt": "pyyaml==6.0.2\n",
                    ".env": "TOKEN=x\n", "id_rsa": "-----BEGIN-----\n"},
                   {"base": "localhost/freight-ci/bookworm-py:latest", "bake": True}),
    "outside": ({"run.py": "import yaml\n", "requirements.txt": "pyyaml==6.0.2\n"},
                {"deps": "outside"}),
}


def make_project(root: Path, name: str) -> tuple[Path, dict]:
    """Write case `name` under root/name; returns (its folder, make_plan keywords)."""
    files, options = CASES[name]
    folder = root / name
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder, dict(options)
