"""Find a project's sources and the imports in each, in parallel when there are many.

`walk(root)` lists the Python files and notebooks under a folder, skipping what is not
source (.git, virtual environments, site-packages, node_modules, build, dist, hidden
folders ...) and never following a symlink into a loop. It also indexes which module names
are local to the project. `scan(tree)` reads each file once and returns its imports; it
never raises for a bad file: every problem becomes a one-line warning naming file and line.
"""

from __future__ import annotations

import os
import posixpath
from collections import namedtuple
from pathlib import Path

from freight.deps.models import FoundImport, Record
from freight.deps.pyast import LAZY_REASON
from freight.deps.pysource import imports_in_source
from freight.errors import FreightError

PY_SIZE_LIMIT = 10 * 1024 * 1024  # bigger .py files are generated data, not code
NOTEBOOK_SIZE_LIMIT = 100 * 1024 * 1024  # notebooks carry their outputs (plots) inline
# Below these (files, bytes to read), starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 50
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
PY_SUFFIXES = (".py", ".pyw")
EXTENSION_SUFFIXES = (".so", ".pyd")
SKIP_DIRS = {
    "__pycache__", "node_modules", "site-packages", "dist-packages", "build", "dist",
    "venv", "htmlcov", "__pypackages__",
}  # fmt: skip
ENV_MARKERS = {"pyvenv.cfg", "conda-meta"}  # a folder holding one is an environment
IPYTHON_EXTENSIONS = {"autoreload", "storemagic"}  # %load_ext names that ship with IPython
PROJECT_MARKERS = (
    "pyproject.toml", "setup.py", "setup.cfg", ".git", "requirements.txt", "environment.yml",
    "Pipfile",
)

# Where a file sits decides whether its imports are needs: a path part -> the reason.
TEST_DIRS = {"tests", "test", "testing", "_testing"}
TEST_MODULES = {"testing", "_testing", "testutils", "test_utils", "_test_utils", "pytest_plugin"}
DOC_DIRS = {"docs", "doc", "documentation"}
EXAMPLE_DIRS = {"examples", "example", "benchmarks", "benchmark", "demos"}
VENDOR_DIRS = {
    "vendor", "_vendor", "vendored", "_vendored", "third_party", "thirdparty", "3rdparty",
    "externals", "_externals", "extern", "_extern",
}
# Inside a package, these hold optional integrations (hypothesis/extra, matplotlib/backends).
INTEGRATION_DIRS = {"extra", "extras", "contrib", "integrations", "backends", "plugins", "templates"}
TOOL_FILES = {
    "setup.py": "build script (setup.py)", "__setup__.py": "build script (setup.py)",
    "noxfile.py": "dev tool (noxfile.py)",
}
BUILD_DIRS = {"_build_utils", "build_utils", "_build", "build_tools"}


class SourceTree(Record):
    """The sources of one analysis and the module names local to the project."""

    __slots__ = ("root", "files", "notebooks", "warnings", "modules", "package_roots",
                 "packages", "root_parents", "single", "project_root", "demote_examples",
                 "stats")

    def __init__(self, root: Path, files: list[str], notebooks: list[str], single=False,
                 demote_examples: bool = True):
        self.root = root  # the folder (a single script's or notebook's own folder)
        self.files = files  # .py files, relative posix paths
        self.notebooks = notebooks  # .ipynb files, relative posix paths
        self.warnings: list[str] = []
        self.modules: dict[str, set[str]] = {}  # dir -> importable names
        self.package_roots: set[str] = set()
        self.packages: set[str] = set()  # folders with an __init__.py
        self.root_parents: dict[str, set[str]] = {}  # package root -> folders
        self.single = single  # PATH was one file
        self.project_root: Path | None = None  # where a single file's declarations are read
        self.demote_examples = demote_examples  # examples/docs optional (there is other code)
        self.stats: dict[str, tuple[int, int]] = {}  # rel -> (size, mtime_ns)

    def is_local(self, top: str, importer: str) -> bool:
        """Whether `import top` in file `importer` finds a module of the project."""
        folder = posixpath.dirname(importer)
        while True:
            if top in self.modules.get(folder, ()):
                return True
            if not folder:
                break
            folder = posixpath.dirname(folder)
        return top in self.modules.get("src", ()) or top in self.package_roots

    def path_reason(self, rel: str) -> str:
        """Why imports in this file are optional ("" when they are needs)."""
        parts = rel.split("/")
        folders, name = set(parts[:-1]), parts[-1]
        if folders & VENDOR_DIRS:
            return "vendored code"
        if folders & TEST_DIRS or _is_test_file(name):
            return "tests"
        if name in TOOL_FILES:
            return TOOL_FILES[name]
        if folders & BUILD_DIRS:
            return "build tooling"
        if self.demote_examples and folders & DOC_DIRS:
            return "docs"
        if self.demote_examples and folders & EXAMPLE_DIRS:
            return "examples"
        if name == "conf.py" and self._beside_docs_index(parts[:-1]):
            return "docs"
        if folders & INTEGRATION_DIRS and posixpath.dirname(rel) in self.packages:
            return "optional integration"
        return ""

    def _beside_docs_index(self, folder: list[str]) -> bool:
        names = self.modules.get("/".join(folder), set())
        here = self.root / "/".join(folder)
        return "conf" in names and any((here / f"index{s}").exists() for s in (".rst", ".md"))


def _is_test_file(name: str) -> bool:
    stem = name.rsplit(".", 1)[0]
    if name == "conftest.py" or stem in ("tests", "test") or stem in TEST_MODULES:
        return True
    return stem.startswith("test_") or stem.endswith("_test")


# ---- finding the sources ----------------------------------------------------------------


def walk(root: Path) -> SourceTree:
    """All sources under `root`, skipping folders that are not source."""
    tree = SourceTree(root=root, files=[], notebooks=[])
    extensions: list[str] = []
    seen = {os.path.realpath(root)}
    stack = [(str(root), "", os.path.realpath(root))]
    while stack:
        path, rel, real = stack.pop()
        for child in _children(path, rel, tree):
            _visit(child, rel, real, tree, stack, seen, extensions)
    tree.files.sort()
    tree.notebooks.sort()
    _index_modules(tree, extensions)
    tree.demote_examples = any(not _in_context_dir(f) for f in tree.files + tree.notebooks)
    return tree


def _children(path: str, rel: str, tree: SourceTree) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            children = list(entries)
    except OSError as exc:
        tree.warnings.append(f"{rel or '.'}: cannot read folder ({exc.strerror}); skipped")
        return []
    if rel and any(child.name in ENV_MARKERS for child in children):
        return []  # a virtual environment or conda environment inside the project
    return children


def _visit(entry: os.DirEntry, rel_dir: str, real_dir: str, tree, stack, seen, extensions):
    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
    try:
        if entry.is_dir():
            _visit_dir(entry, rel, real_dir, tree, stack, seen)
        elif entry.is_file():
            _visit_file(entry, rel, tree, extensions)
    except OSError as exc:
        tree.warnings.append(f"{rel}: cannot read ({exc.strerror}); skipped")


def _visit_dir(entry: os.DirEntry, rel: str, real_dir: str, tree, stack, seen) -> None:
    name = entry.name
    if name.startswith(".") or name in SKIP_DIRS or name.endswith((".egg-info", ".dist-info")):
        return
    real = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(real_dir, name)
    if real in seen:
        if real_dir == real or real_dir.startswith(real + os.sep):
            tree.warnings.append(f"{rel}: symlink loop (points back to {real}); not followed")
        return
    seen.add(real)
    stack.append((entry.path, rel, real))


def _visit_file(entry: os.DirEntry, rel: str, tree: SourceTree, extensions: list[str]) -> None:
    name = entry.name
    if name.endswith(PY_SUFFIXES):
        if _small_enough(_stat(entry, rel, tree), PY_SIZE_LIMIT, rel, tree):
            tree.files.append(rel)
    elif name.endswith(".ipynb"):
        if _small_enough(_stat(entry, rel, tree), NOTEBOOK_SIZE_LIMIT, rel, tree):
            tree.notebooks.append(rel)
    elif name.endswith(EXTENSION_SUFFIXES):
        extensions.append(rel)


def _stat(entry: os.DirEntry, rel: str, tree: SourceTree) -> int:
    """The file's size; its (size, mtime) is kept for the scan cache."""
    found = entry.stat()
    tree.stats[rel] = (found.st_size, found.st_mtime_ns)
    return found.st_size


def _small_enough(size: int, limit: int, rel: str, tree: SourceTree) -> bool:
    if size <= limit:
        return True
    megabytes = f"{size / 2**20:.0f} MB, over the {limit // 2**20} MB limit"
    tree.warnings.append(f"{rel}: {megabytes}; skipped")
    return False


def _in_context_dir(rel: str) -> bool:
    parts = rel.split("/")
    return bool(set(parts[:-1]) & (TEST_DIRS | DOC_DIRS | EXAMPLE_DIRS | VENDOR_DIRS)) or (
        _is_test_file(parts[-1]) or parts[-1] in TOOL_FILES
    )


def _index_modules(tree: SourceTree, extensions: list[str]) -> None:
    """Which names each folder makes importable: modules, packages, namespace folders."""
    packages, with_code = set(), set()
    for rel in tree.files + extensions:
        folder, name = posixpath.split(rel)
        tree.modules.setdefault(folder, set()).add(name.split(".", 1)[0])
        if name == "__init__.py":
            packages.add(folder)
        while folder and folder not in with_code:
            with_code.add(folder)
            folder = posixpath.dirname(folder)
    for folder in with_code:
        parent, name = posixpath.split(folder)
        tree.modules.setdefault(parent, set()).add(name)
    roots = [p for p in packages if posixpath.dirname(p) not in packages]
    tree.package_roots = {posixpath.basename(p) for p in roots}
    for root in roots:
        tree.root_parents.setdefault(posixpath.basename(root), set()).add(posixpath.dirname(root))
    tree.packages = packages


def single_file(path: Path) -> SourceTree:
    """A tree of one script or notebook. Modules beside it count as local, and so do those
    in the folders above it up to its project's root (a folder with pyproject.toml, .git,
    requirements.txt ...), where a script in scripts/ finds them through sys.path tricks."""
    root = path.parent
    tree = SourceTree(root=root, files=[], notebooks=[], single=True, demote_examples=False)
    (tree.notebooks if path.suffix == ".ipynb" else tree.files).append(path.name)
    tree.project_root = project_root_of(root)
    tree.modules[""] = _module_names(root, tree)
    tree.packages = {""} if (root / "__init__.py").is_file() else set()
    folder = Path(os.path.abspath(root))
    while folder != tree.project_root and folder.parent != folder:
        folder = folder.parent
        tree.package_roots |= _module_names(folder, tree)
    tree.package_roots |= _module_names(tree.project_root / "src", tree)
    return tree


def project_root_of(folder: Path, levels: int = 2) -> Path:
    """The nearest folder at or above `folder` that looks like a project's root."""
    folder = Path(os.path.abspath(folder))
    for candidate in [folder, *folder.parents][: levels + 1]:
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def _module_names(folder: Path, tree: SourceTree) -> set[str]:
    if not folder.is_dir():
        return set()
    names = set()
    for child in _children(str(folder), folder.name, tree):
        if child.name.endswith(PY_SUFFIXES + EXTENSION_SUFFIXES):
            names.add(child.name.split(".", 1)[0])
        elif child.is_dir() and _holds_python(Path(child.path)):
            names.add(child.name)
    return names


def _holds_python(folder: Path) -> bool:
    try:
        return any(p.suffix == ".py" for p in folder.iterdir())
    except OSError:
        return False


# ---- reading the sources ----------------------------------------------------------------


# (dotted module, line, reason or "" for a hard need, notebook cell or None): plain tuples,
# because thousands of them cross from worker processes and objects pickle slowly.
ScannedImport = tuple[str, int, str, "int | None"]


class FileScan(namedtuple("FileScan", "path imports warnings pip_requirements notebook",
                          defaults=((), False))):
    """What one file holds: its imports and warnings; for notebooks also their
    `!pip install` requirements."""

    __slots__ = ()
    path: str
    imports: list[ScannedImport]
    warnings: list[str]
    pip_requirements: list[str] | tuple[()]
    notebook: bool


def scan(tree: SourceTree, paths: list[str] | None = None, workers: int | None = None,
         cache: bool = False) -> list[FileScan]:
    """Scan the given files of the tree (default: all), in worker processes when many.
    With `cache`, files unchanged since an earlier run are not read again (scancache.py)."""
    jobs = paths if paths is not None else tree.files + tree.notebooks
    if not cache:
        return _scan_all(tree, jobs, workers)
    from freight.deps.scancache import ScanCache

    kept = ScanCache(tree.root)
    stats = {rel: tree.stats.get(rel) or _stat_path(tree.root / rel) for rel in jobs}
    found = {rel: kept.get(rel, stats[rel]) for rel in jobs}
    missing = [rel for rel in jobs if found[rel] is None]
    found.update((s.path, s) for s in _scan_all(tree, missing, workers))
    scans = [found[rel] for rel in jobs]
    kept.save(scans, stats)
    return scans


def _stat_path(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_size, found.st_mtime_ns)


def _scan_all(tree: SourceTree, jobs: list[str], workers: int | None) -> list[FileScan]:
    """Scan every file in `jobs`, in their order."""
    root = tree.root
    size = sum(tree.stats.get(rel, (0, 0))[0] for rel in jobs)
    if len(jobs) < PARALLEL_MIN_FILES or size < PARALLEL_MIN_BYTES:
        return [scan_file(root, rel) for rel in jobs]
    cpus = workers or _idle_cpus()
    if cpus < 2:
        return [scan_file(root, rel) for rel in jobs]
    from concurrent.futures import ProcessPoolExecutor  # ~10 ms to import: only when used

    batches = [jobs[i::cpus * 4] for i in range(cpus * 4)]
    try:
        with ProcessPoolExecutor(max_workers=cpus) as pool:
            results = list(pool.map(_scan_batch, [(root, batch) for batch in batches]))
    except (OSError, RuntimeError):  # no processes here (a sandbox): scan in this one
        return [scan_file(root, rel) for rel in jobs]
    by_path = {scanned.path: scanned for batch in results for scanned in batch}
    return [by_path[rel] for rel in jobs]


def _idle_cpus() -> int:
    """CPUs free for worker processes (at most 8): on a busy machine they only add cost.
    The load average counts this process too (and, when freight runs in a loop, the runs
    before it): one unit of it is ours."""
    if hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count() or 1
    try:
        busy = max(0.0, os.getloadavg()[0] - 1.0)
    except OSError:
        busy = 0.0
    return max(1, min(8, round(count - busy)))


def _scan_batch(job: tuple[Path, list[str]]) -> list[FileScan]:
    root, paths = job
    return [scan_file(root, rel) for rel in paths]


def scan_file(root: Path, rel: str) -> FileScan:
    """The imports of one file; problems become warnings."""
    if rel.endswith(".ipynb"):
        return _scan_notebook(root, rel)
    try:
        with open(os.path.join(root, rel), "rb") as source:  # (no Path made per file)
            data = source.read()
    except OSError as exc:
        return FileScan(rel, [], [f"{rel}: cannot read ({exc.strerror}); skipped"])
    text, problem = decode_source(data)
    found, raw_warnings = imports_in_source(text)
    found.sort(key=lambda item: item[1])
    problems = ([problem] if problem else []) + raw_warnings
    warnings = [f"{rel}:{line}: {message}" for line, message in problems]
    return FileScan(rel, [(module, line, why, None) for module, line, why in found], warnings)


def found_import(path: str, item: ScannedImport, path_reason: str, library: bool) -> FoundImport:
    """The FoundImport for one scanned import; `path_reason` says why the file is optional.
    An import inside a function is optional in library code (a package's lazy import of an
    optional dependency) and a need in scripts and notebooks."""
    module, line, reason, cell = item
    reason = import_reason(reason, path_reason, library)
    return FoundImport(module, path, line, bool(reason), reason or "import", cell)


def import_reason(reason: str, path_reason: str, library: bool) -> str:
    """Why an import is optional ("" for a need): its own context, else its file's."""
    if reason == LAZY_REASON and not library:
        reason = ""
    return reason or path_reason


def decode_source(data: bytes) -> tuple[str, tuple[int, str] | None]:
    """Text of a Python file (PEP 263 coding cookie honoured) and a warning if undecodable."""
    try:
        return data.decode("utf-8").lstrip("\ufeff"), None
    except UnicodeDecodeError:
        pass
    encoding = _coding_cookie(data) or "utf-8"
    try:
        return data.decode(encoding), None
    except LookupError:
        encoding = "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return data.decode(encoding, "replace"), (line, f"not valid {encoding}; bad bytes replaced")
    return data.decode(encoding, "replace"), None


def _coding_cookie(data: bytes) -> str | None:
    for line in data.split(b"\n", 2)[:2]:
        stripped = line.strip()
        if stripped.startswith(b"#") and b"coding" in stripped:
            rest = stripped.split(b"coding", 1)[1]
            if rest[:1] in (b":", b"="):
                name = rest[1:].strip().split()[0] if rest[1:].strip() else b""
                return name.decode("ascii", "replace").rstrip("-*") or None
    return None


def _scan_notebook(root: Path, rel: str) -> FileScan:
    try:
        from freight.deps.notebook import read_notebook
    except ImportError:
        warning = f"{rel}: notebook support is not installed; skipped"
        return FileScan(rel, [], [warning], notebook=True)
    try:
        notebook = read_notebook(root / rel)
    except FreightError as exc:
        return FileScan(rel, [], [f"{rel}: {exc.problem}"], notebook=True)
    except OSError as exc:
        return FileScan(rel, [], [f"{rel}: cannot read ({exc.strerror}); skipped"], notebook=True)
    imports, warnings = [], list(notebook.warnings)
    for cell in notebook.cells:
        found, raw_warnings = imports_in_source(cell.source, check_syntax=True, tree=cell.tree)
        imports += [(module, line, why, cell.index) for module, line, why in found]
        warnings += [f"{rel}:cell{cell.index}:{line}: {message}" for line, message in raw_warnings]
    imports += [(name, 0, "", None) for name in notebook.load_ext if name not in IPYTHON_EXTENSIONS]
    return FileScan(rel, imports, warnings, list(notebook.pip_requirements), notebook=True)
