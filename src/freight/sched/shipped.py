"""The task wrapper as files, for targets whose jobs cannot import the freight installed here.

HTCondor sends a job's files to a scratch folder on a machine that may have no freight (a
container image with only python3): the wrapper (freight.task) and the stdlib-only freight
modules it imports travel with the job as a `freight` package, put on PYTHONPATH by the job's
start script. freight.report comes along, so `from freight import report` works too.
"""

from __future__ import annotations

from pathlib import Path

# The wrapper's modules; what they import from freight is added. engines/ is left out: a job
# whose scheduler starts it inside the image (HTCondor's container universe) runs no engine.
ROOTS = ("task.py", "task_pack.py", "report.py")
LEFT_OUT = ("engines/",)


def wrapper_files() -> dict[str, str]:
    """Path inside the shipped `freight` package -> content."""
    from freight.engines.venv import freight_module_files  # one walker for both shims

    return freight_module_files(list(ROOTS), LEFT_OUT)


def write_wrapper(folder: Path) -> Path:
    """Write the package into folder/freight; returns folder (what goes on PYTHONPATH)."""
    for relative, content in wrapper_files().items():
        path = folder / "freight" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return folder


def relocate_command(argv: list[str], workdir: str, code_root: str, shipped_root: str,
                     code_names: set[str]) -> tuple[list[str], list[Path]]:
    """The command for a job whose project is elsewhere: an argument that is a path inside the
    project becomes the same path under `code_root` when its top-level entry (`code_names`)
    travels with the code, else (a notebook freight converted into .freight/converted/) the
    file itself must travel: it becomes `shipped_root/NAME` and is returned to be sent."""
    moved, files = [], []
    for arg in argv:
        path = Path(arg)
        try:
            relative = path.relative_to(workdir) if path.is_absolute() else None
        except ValueError:
            relative = None
        if relative is None or not relative.parts:
            moved.append(arg)
        elif relative.parts[0] in code_names:
            moved.append(str(Path(code_root) / relative))
        elif path.is_file():
            files.append(path)
            moved.append(str(Path(shipped_root) / path.name))
        else:
            moved.append(arg)
    return moved, files
