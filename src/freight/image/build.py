"""`freight image build`: build a planned image with whatever engine this machine has.

    build_image(plan, engine=None)  -> Built   (plan: freight.image.plan.ImagePlan)
    build_recipe(builder, tag, recipe, context) -> Built   (a recipe already written)

The tag is the plan's content hash, so a second build of an unchanged project asks the engine
one question (`image exists`, or a stat() for file-based images) and builds nothing. The
engine's whole output goes to a log file under the freight cache (images/logs/); a failed build
is one FreightError quoting the engine's last error line and naming that log. A build whose
failing step is FROM says the base image does not exist (or cannot be pulled).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from freight.errors import FreightError
from freight.image.builders import Builder, file_name, image_root, pick_builder

LineHook = Callable[[str], None]
RECIPE_NAMES = {"docker": "Dockerfile", "charliecloud": "Dockerfile", "apptainer": "freight.def"}
STEP_MARKS = ("STEP ", "Step ")  # podman/buildah, docker; ch-image numbers its steps: "  2. RUN"


@dataclass(frozen=True)
class Built:
    """An image freight built (or found already built)."""

    tag: str  # the name with the content hash: localhost/freight/<project>:<hash>
    ref: str  # what the running engine is given (the tag, a .sif, a Charliecloud directory)
    builder: str  # the engine that built it
    engine: str  # the engines/ name that runs it
    built: bool  # False: it was there already and nothing ran
    log: Path | None  # the engine's output (None when nothing was built)


@contextmanager
def progress(title: str, enabled: bool | None = None) -> Iterator[LineHook | None]:
    """A Rich status line on stderr showing the engine's current step; `enabled` None: only
    when stderr is a terminal. Yields the hook for build_recipe/build_image (None: off)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    with console.status(escape(title)) as status:
        def show(line: str) -> None:
            if _is_step(line):
                status.update(f"{escape(title)}: {escape(line.strip()[:100])}")

        yield show


def log_path(builder: Builder, tag: str) -> Path:
    return image_root() / "logs" / f"{file_name(tag)}.{builder.name}.log"


def already_built(builder: Builder, tag: str) -> Built | None:
    if builder.exists(tag):
        return Built(tag, builder.ref(tag), builder.name, builder.runs_with, False, None)
    return None


def build_recipe(builder: Builder, tag: str, recipe: Path, context: Path, *,
                 base: str | None = None, on_line: LineHook | None = None, force: bool = False) -> Built:
    """Build `recipe` in `context` as `tag`, unless the engine has it already (and not `force`)."""
    found = None if force else already_built(builder, tag)
    if found:
        return found
    log = log_path(builder, tag)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as sink:
        _run_logged(builder.build_argv(tag, recipe, context), builder, sink, on_line, base, cwd=context)
        finish = builder.finish_argv(tag)
        if finish:
            _run_logged(finish, builder, sink, on_line, None, cwd=context)
    return Built(tag, builder.ref(tag), builder.name, builder.runs_with, True, log)


def build_image(plan, engine: str | None = None, *, on_line: LineHook | None = None,
                force: bool = False) -> Built:
    """Render `plan` for the engine picked, write its filtered build context, and build it
    (or find it built). `engine`: docker, podman, buildah, apptainer, charliecloud."""
    builder = pick_builder(engine)
    tag = plan_tag(plan)
    found = None if force else already_built(builder, tag)
    if found:
        return found
    with tempfile.TemporaryDirectory(prefix="freight-build-") as scratch:
        context, recipe = write_build_inputs(plan, builder, Path(scratch))
        return build_recipe(builder, tag, recipe, context, base=plan.base.image, on_line=on_line, force=True)


def plan_tag(plan) -> str:
    """localhost/freight/<name>:<hash>: the content hash makes an unchanged project's image the
    same tag, in every engine's store (`localhost/`: never looked up on a registry)."""
    return f"localhost/{plan.ref}"


def write_build_inputs(plan, builder: Builder, scratch: Path) -> tuple[Path, Path]:
    """The filtered context with the recipe rendered for this builder (H1's write_context)."""
    from freight.image.render import write_context

    context = scratch / "context"
    context.mkdir(parents=True)
    write_context(plan, context, builder.recipe_format)
    return context, context / RECIPE_NAMES[builder.recipe_format]


def _run_logged(argv: list[str], builder: Builder, sink, on_line: LineHook | None,
                base: str | None, cwd: Path) -> None:
    """Run one engine command, its output into `sink` (and `on_line`); FreightError on failure."""
    sink.write(f"$ {' '.join(argv)}\n")
    sink.flush()
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace", env=builder.environ(), cwd=cwd)
    except OSError as exc:
        raise FreightError(f"{builder.name} could not start: {exc.strerror}", fix=builder.install_hint) from None
    tail: list[str] = []
    step = ""
    assert process.stdout is not None
    for line in process.stdout:
        sink.write(line)
        text = line.rstrip()
        step = text if _is_step(text) else step
        tail = [*tail[-199:], text]
        if on_line and text:
            on_line(text)
    if process.wait() != 0:
        sink.flush()
        raise build_failure(builder, tail, step, base, Path(sink.name))


def _is_step(line: str) -> bool:
    line = re.sub(r"^\[\d+/\d+\] ", "", line)  # podman's multi-stage builds: "[1/2] STEP 1/6: FROM …"
    stripped = line.lstrip()
    if line.startswith(STEP_MARKS):
        return True
    number, dot, rest = stripped.partition(". ")
    return bool(dot) and number.isdigit() and rest[:1].isupper()  # ch-image: "  2. RUN ..."


def build_failure(builder: Builder, tail: list[str], step: str, base: str | None, log: Path) -> FreightError:
    """One line: the engine's last error line; a failing FROM means the base is missing."""
    cause = last_error_line(tail)
    if re.search(r"\bFROM\b", step):
        shown = base or step.split("FROM", 1)[-1].strip()
        return FreightError(f"base image {shown} does not exist or cannot be pulled ({builder.name}: {cause})",
                            fix="check --base (a local image must be in this engine's store)", path=log)
    return FreightError(f"{builder.name} build failed: {cause}",
                        fix="read the build log named here", path=log)


def last_error_line(lines: list[str]) -> str:
    """The last line that says error (Error:, error:, ERROR), else the last non-empty line."""
    texts = [line.strip() for line in lines if line.strip()]
    for text in reversed(texts):
        if "error" in text.lower() and not text.lower().startswith(("hint", "warning")):
            return text[:300]
    return texts[-1][:300] if texts else "no output"
