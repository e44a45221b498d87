"""A test program steered by marker files, for tests of --pack and --smoke-first on every target
(marker files reach a task on every scheduler; environment variables do not reach Grid Engine's).

`packed.py N DIR` logs each execution to DIR/ran/N, waits while DIR/wait-N exists and DIR/gate
does not, fails (exit 3) while DIR/fail-N exists, else reports N squared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

PROGRAM = """
import os, sys, time
from pathlib import Path
import freight
n, where = sys.argv[1], Path(sys.argv[2])
(where / "ran").mkdir(parents=True, exist_ok=True)
with open(where / "ran" / n, "a") as f:
    f.write(f"ran {os.environ['FREIGHT_TASK_INDEX']}\\n")
while (where / f"wait-{n}").exists() and not (where / "gate").exists():
    time.sleep(0.1)
if (where / f"fail-{n}").exists():
    raise SystemExit(3)
freight.report(square=int(n) ** 2)
"""


@pytest.fixture
def where(tmp_path) -> Iterator[Path]:
    """The folder of marker files and execution logs. Its gate opens when the test ends, so a
    program a failed test left waiting (a scheduler that could not kill it) ends too."""
    folder = tmp_path / "marks"
    folder.mkdir()
    yield folder
    (folder / "gate").touch()


def mark(where: Path, *names: str) -> None:
    for name in names:
        (where / name).touch()


def executions(where: Path) -> dict[int, int]:
    """Row -> how many times its program ran (each time with its own FREIGHT_TASK_INDEX)."""
    found = {}
    for path in (where / "ran").glob("*"):
        lines = path.read_text().splitlines()
        assert set(lines) == {f"ran {path.name}"}
        found[int(path.name)] = len(lines)
    return found
