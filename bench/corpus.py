"""Build the public stand-in corpus that bench/deps.py scores `freight deps` and pipreqs on.

The issue's figures come from a private corpus of 60 real projects (ML example folders,
notebook course repos, libraries) with their declared requirements as truth. We cannot
ship it, so this builds a public stand-in of the same three kinds from PyPI:

* LIBRARIES — the code a wheel ships (its `*.dist-info` set aside). Truth: the wheel's
  own `Requires-Dist` without an `extra == ...` marker (the hard runtime requirements).
  Markers for other Pythons or platforms (`tomli; python_version < "3.11"`,
  `colorama; sys_platform == "win32"`) are KEPT: a static scanner sees those imports
  whatever interpreter runs it, and the author declared them.
* EXAMPLE_FOLDERS — ML example folders inside sdists that declare their own
  `requirements.txt` (flax, pytorch-ignite). Truth: that file, taken out of the tree.
  These are the noisiest truths, exactly as real ones are (`sklearn==0.0`, `jaxlib`
  listed while the code imports `jax`, `jax` left to come in through `flax`).
* NOTEBOOK_TREES — a notebook course (gpytorch's 50 example notebooks). Truth: the package
  plus the extra its authors declare for running them (`pip install gpytorch[examples]`).

Every tree is scanned from code alone: files that declare requirements
(DECLARATION_FILES) are removed from the trees, so neither tool can read the answer.
Names are compared after `packaging.utils.canonicalize_name`.

Run: `python bench/corpus.py` (idempotent; downloads go to bench/_work/corpus/, git-ignored,
about 85 MB). bench/deps.py calls `build()` itself when the manifest is missing.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import asdict, dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

WORK = Path(__file__).resolve().parent / "_work" / "corpus"
DOWNLOADS = WORK / "downloads"
TREES = WORK / "trees"
MANIFEST = WORK / "manifest.json"

# (distribution, pinned version): wheels whose shipped code is one tree each. A spread of
# web/CLI libraries, scientific Python and ML (torch, jax, HF) libraries; pins keep reruns
# comparable.
LIBRARIES: list[tuple[str, str]] = [
    ("requests", "2.34.2"),
    ("rich", "15.0.0"),
    ("httpx", "0.28.1"),
    ("flask", "3.1.3"),
    ("typer", "0.29.2"),
    ("click", "8.5.1"),
    ("attrs", "26.1.0"),
    ("pydantic-settings", "2.16.3"),
    ("fastapi", "0.165.0"),
    ("black", "26.10.1"),
    ("boto3", "1.44.5"),
    ("jsonschema", "4.26.0"),
    ("seaborn", "0.13.2"),
    ("scikit-learn", "1.9.1"),
    ("statsmodels", "0.15.0"),
    ("nltk", "3.10.4"),
    ("torchmetrics", "1.9.0"),
    ("lightning-utilities", "0.15.3"),
    ("pytorch-lightning", "2.6.6"),
    ("timm", "1.0.31"),
    ("transformers", "5.23.0"),
    ("datasets", "5.2.0"),
    ("evaluate", "0.4.6"),
    ("accelerate", "1.15.0"),
    ("peft", "0.21.2"),
    ("sentence-transformers", "6.2.0"),
    ("diffusers", "0.42.1"),
    ("huggingface-hub", "2.4.0"),
    ("albumentations", "2.0.8"),
    ("imgaug", "0.4.0"),
    ("gradio-client", "2.7.2"),
    ("optuna", "5.0.0"),
    ("keras", "3.15.1"),
    ("dm-haiku", "0.0.17"),
    ("optax", "0.2.8"),
    ("pyro-ppl", "1.9.2"),
    ("captum", "0.9.0"),
    ("skorch", "1.4.0"),
    ("stable-baselines3", "2.9.2"),
]

# sdists that hold example folders or notebooks (downloaded as source, never built).
SDISTS: dict[str, str] = {"flax": "0.12.8", "pytorch-ignite": "0.5.5", "gpytorch": "1.15.2"}

# (tree name, sdist, folder inside the sdist): each folder has its own requirements.txt.
EXAMPLE_FOLDERS: list[tuple[str, str, str]] = [
    *[
        (f"flax-examples/{name}", "flax", f"examples/{name}")
        for name in (
            "gemma", "imagenet", "lm1b", "mnist", "nlp_seq", "nnx_toy_examples",
            "ogbg_molpcba", "ppo", "seq2seq", "sst2", "vae", "wmt",
        )
    ],
    *[
        (f"ignite-examples/{name.rsplit('/', 1)[-1]}", "pytorch-ignite", f"examples/{name}")
        for name in (
            "cifar10", "cifar10_raytune", "siamese_network", "transformers",
            "references/classification/imagenet", "references/segmentation/pascal_voc2012",
        )
    ],
]

# (tree name, sdist, folder, extra): truth = the sdist's distribution + that extra.
NOTEBOOK_TREES: list[tuple[str, str, str, str]] = [
    ("gpytorch-notebooks", "gpytorch", "examples", "examples"),
]

# Files that declare requirements: removed from every tree so both tools scan code only.
# `setup.py` only at a tree's root: deeper down it is ordinary code
# (pytorch_lightning/trainer/setup.py).
DECLARATION_FILES = (
    "requirements*.txt", "requirements*.in", "pyproject.toml", "setup.cfg",
    "environment*.yml", "environment*.yaml", "Pipfile", "Pipfile.lock", "poetry.lock",
    "uv.lock", "pylock*.toml",
)
ROOT_DECLARATION_FILES = ("setup.py",)


@dataclass
class CorpusTree:
    """One scored tree: where it lies, what kind it is and its declared truth."""

    name: str
    kind: str  # "library" | "examples" | "notebooks"
    path: str
    truth: list[str]
    source: str
    files: int = 0
    removed: list[str] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="re-extract every tree")
    args = parser.parse_args(argv)
    trees = build(force=args.force)
    total = sum(tree.files for tree in trees)
    print(f"{len(trees)} trees, {total} .py/.ipynb files, manifest: {MANIFEST}")
    return 0


def build(force: bool = False) -> list[CorpusTree]:
    """Download, extract and describe every tree; write the manifest and return the trees."""
    if force and TREES.exists():
        shutil.rmtree(TREES)
    trees = [*_library_trees(), *_example_trees(), *_notebook_trees()]
    MANIFEST.write_text(json.dumps([asdict(tree) for tree in trees], indent=1))
    return trees


def load() -> list[CorpusTree]:
    """The trees of the manifest, building it first when it is missing."""
    if not MANIFEST.exists():
        return build()
    return [CorpusTree(**item) for item in json.loads(MANIFEST.read_text())]


# --- downloads -------------------------------------------------------------------------


def download(dist: str, version: str, binary: bool) -> Path:
    """The archive of dist==version, fetched with pip from the configured index once."""
    found = _downloaded(dist, version, binary)
    if found:
        return found
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    only = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *only,
         "--dest", str(DOWNLOADS), f"{dist}=={version}"],
        check=True,
    )
    found = _downloaded(dist, version, binary)
    if not found:
        raise RuntimeError(f"pip downloaded no archive for {dist}=={version}")
    return found


def _downloaded(dist: str, version: str, binary: bool) -> Path | None:
    # Archive names use the normalised name with '_' (PEP 427 / 625), older sdists '-'.
    stem = canonicalize_name(dist).replace("-", "_")
    suffixes = (".whl",) if binary else (".tar.gz", ".zip")
    for path in sorted(DOWNLOADS.glob("*")) if DOWNLOADS.exists() else []:
        name = path.name.lower().replace("-", "_")
        if name.startswith(f"{stem}_{version}") and path.name.endswith(suffixes):
            return path
    return None


# --- trees -----------------------------------------------------------------------------


def _library_trees() -> list[CorpusTree]:
    return [_library_tree(dist, version) for dist, version in LIBRARIES]


def _library_tree(dist: str, version: str) -> CorpusTree:
    wheel = download(dist, version, binary=True)
    dest = TREES / "lib" / canonicalize_name(dist)
    if not dest.exists():
        _extract(wheel, dest)
    metadata = _set_aside_dist_info(dest)
    tree = CorpusTree(dist, "library", str(dest), sorted(hard_requirements(metadata)), wheel.name)
    return _finish(tree, exclude={canonicalize_name(dist)})


def _set_aside_dist_info(dest: Path) -> str:
    """Move the wheel's *.dist-info out of the tree; return its METADATA text."""
    kept = dest.parent / f"{dest.name}.dist-info"
    for info in dest.glob("*.dist-info"):
        shutil.rmtree(kept, ignore_errors=True)
        info.rename(kept)
    return (kept / "METADATA").read_text(encoding="utf-8")


def _example_trees() -> list[CorpusTree]:
    return [_example_tree(*entry) for entry in EXAMPLE_FOLDERS]


def _example_tree(name: str, dist: str, folder: str) -> CorpusTree:
    root = _sdist_root(dist)
    truth_file = root / folder / "requirements.txt"
    truth = requirements_file_names(truth_file.read_text(encoding="utf-8"))
    dest = _copy_folder(root / folder, name)
    return _finish(CorpusTree(name, "examples", str(dest), sorted(truth), f"{dist} sdist"))


def _notebook_trees() -> list[CorpusTree]:
    return [_notebook_tree(*entry) for entry in NOTEBOOK_TREES]


def _notebook_tree(name: str, dist: str, folder: str, extra: str) -> CorpusTree:
    root = _sdist_root(dist)
    metadata = (root / "PKG-INFO").read_text(encoding="utf-8")
    truth = {canonicalize_name(dist), *extra_requirements(metadata, extra)}
    dest = _copy_folder(root / folder, name)
    return _finish(CorpusTree(name, "notebooks", str(dest), sorted(truth), f"{dist} sdist"))


def _sdist_root(dist: str) -> Path:
    """The extracted sdist of dist (its single top folder), extracting it once."""
    version = SDISTS[dist]
    archive = download(dist, version, binary=False)
    dest = TREES / "sdist" / canonicalize_name(dist)
    if not dest.exists():
        _extract(archive, dest)
    (top,) = [p for p in dest.iterdir() if p.is_dir()]
    return top


def _copy_folder(src: Path, name: str) -> Path:
    dest = TREES / name
    if not dest.exists():
        shutil.copytree(src, dest)
    return dest


def _extract(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(dest)
    else:
        with tarfile.open(archive) as tarred:
            tarred.extractall(dest, filter="data")


def _finish(tree: CorpusTree, exclude: set[str] = frozenset()) -> CorpusTree:
    """Drop declaration files and the tree's own name from truth; count scanned files."""
    path = Path(tree.path)
    tree.removed = _remove_declarations(path)
    tree.truth = [name for name in tree.truth if name not in exclude]
    tree.files = count_source_files(path)
    return tree


def _remove_declarations(root: Path) -> list[str]:
    removed = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and _declares(path, root):
            removed.append(str(path.relative_to(root)))
            path.unlink()
    return removed


def _declares(path: Path, root: Path) -> bool:
    at_root = path.parent == root
    patterns = DECLARATION_FILES + (ROOT_DECLARATION_FILES if at_root else ())
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)


def count_source_files(root: Path) -> int:
    """How many .py and .ipynb files a scanner of root has to read."""
    return sum(1 for p in root.rglob("*") if p.suffix in (".py", ".ipynb") and p.is_file())


# --- truth -----------------------------------------------------------------------------


def hard_requirements(metadata: str) -> set[str]:
    """Canonical names of Requires-Dist entries that no `extra` marker guards."""
    return {name for name, marker in _requires_dist(metadata) if "extra" not in marker}


def extra_requirements(metadata: str, extra: str) -> set[str]:
    """Canonical names of Requires-Dist entries of one extra."""
    wanted = f'extra == "{extra}"'
    return {name for name, marker in _requires_dist(metadata) if wanted in marker}


def _requires_dist(metadata: str) -> list[tuple[str, str]]:
    headers = HeaderParser().parsestr(metadata)
    parsed = [Requirement(line) for line in headers.get_all("Requires-Dist") or []]
    return [(canonicalize_name(req.name), str(req.marker or "")) for req in parsed]


def requirements_file_names(text: str) -> set[str]:
    """Canonical names in a requirements.txt; options (-f, --find-links) and comments skipped."""
    names = set()
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            names.add(canonicalize_name(Requirement(line).name))
        except InvalidRequirement:
            print(f"warning: skipped requirement line {line!r}", file=sys.stderr)
    return names


if __name__ == "__main__":
    sys.exit(main())
