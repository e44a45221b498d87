"""`freight deps` vs pipreqs, side by side on the same trees: time, ratio, names, micro-F1.

Trees: the public stand-in corpus of bench/corpus.py (library wheels, ML example folders,
a notebook course, each with its declared requirements as truth), then two speed rows:
the synthetic 5,000-file tree of bench/synth.py and this Python's site-packages.

pipreqs 0.5.0 runs from its own venv (bench/_work/pipreqs-venv) so its dependencies stay
out of freight's environment; a .pth file there appends this Python's site-packages to
its sys.path, so `--use-local` sees the same installed distributions freight sees. It runs
as `pipreqs --use-local --scan-notebooks --print TREE`, the fairest offline settings;
`--as-shipped` adds a second pipreqs run without `--use-local` (its PyPI lookups) to count
its crashes as shipped. freight runs as `python -m freight deps TREE`. Both are timed as
whole CLI runs (interpreter start included), each with a timeout; a non-zero exit or a
timeout is a crash and scores as an empty answer.

Scoring: canonical names (packaging.utils.canonicalize_name); freight's hard requirements
only (what follows its `# optional` comment is left out); pipreqs's whole output. TP, FP
and FN are summed over the corpus trees for micro-F1.

Run: `python bench/deps.py` (add `--names` for the names each tool found per tree,
`--markdown` for tables to paste into bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import site
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402  (bench/ is a folder of scripts, not a package)
import synth  # noqa: E402

WORK = Path(__file__).resolve().parent / "_work"
PIPREQS_VENV = WORK / "pipreqs-venv"
PIPREQS_VERSION = "0.5.0"
RESULTS = WORK / "deps-results.json"
# Wide enough for the tables when piped to a file; a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 170)


@dataclass
class Outcome:
    """One tool's run on one tree."""

    seconds: float
    crashed: bool
    names: list[str]
    optional: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class Row:
    """Both tools on one tree, with the tree's truth (None for speed-only rows)."""

    tree: str
    kind: str
    files: int
    truth: list[str] | None
    freight: Outcome
    pipreqs: Outcome | None
    shipped: Outcome | None = None
    mapped: Outcome | None = None


# --- running the tools -----------------------------------------------------------------


def run_timed(argv: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess | None]:
    """Run argv; return its wall time and result (None when it ran past timeout)."""
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=WORK, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, None
    return time.perf_counter() - start, done


def outcome(argv: list[str], timeout: float, parse, repeat: int = 1) -> Outcome:
    """Run argv repeat times (fewer if it fails); keep the fastest time and the first answer."""
    seconds, done = run_timed(argv, timeout)
    for _ in range(repeat - 1):
        if done is None or done.returncode != 0:
            break
        seconds = min(seconds, run_timed(argv, timeout)[0])
    if done is None:
        return Outcome(seconds, True, [], error=f"timeout after {timeout:.0f} s")
    if done.returncode != 0:
        return Outcome(seconds, True, [], error=last_line(done.stderr or done.stdout))
    hard, optional = parse(done.stdout)
    return Outcome(seconds, False, sorted(hard), sorted(optional))


ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b")


def last_line(text: str) -> str:
    """The exception line of a traceback (else the last line), cut to 160 characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.match(line)]
    chosen = errors[-1] if errors else lines[-1] if lines else "no output"
    return chosen[:160]


def run_freight(tree: Path, timeout: float, repeat: int = 1) -> Outcome:
    argv = [sys.executable, "-m", "freight", "deps", str(tree)]
    return outcome(argv, timeout, parse_freight, repeat)


def run_pipreqs(tree: Path, timeout: float, use_local: bool = True, repeat: int = 1) -> Outcome:
    local = ["--use-local"] if use_local else []
    argv = [str(PIPREQS_VENV / "bin" / "pipreqs"), *local, "--scan-notebooks", "--print",
            str(tree)]
    return outcome(argv, timeout, parse_pipreqs, repeat)


def parse_pipreqs(stdout: str) -> tuple[set[str], set[str]]:
    return requirement_names(stdout.splitlines()), set()


def warm_cache(tree: Path) -> None:
    """Read the tree's sources once, so neither tool pays for a cold page cache."""
    for path in tree.rglob("*"):
        if path.suffix in (".py", ".ipynb") and path.is_file():
            path.read_bytes()


# pipreqs's own import scan and static name table, without its PyPI look-up. Online,
# pipreqs asks PyPI for each of these names and keeps those that exist (nearly all do,
# `sklearn` included), so this is its online answer, got without the network.
PIPREQS_MAPPED = """
import sys
from pipreqs import pipreqs
pipreqs.scan_noteboooks = True
pipreqs.handle_scan_noteboooks()
print("\\n".join(pipreqs.get_pkg_names(pipreqs.get_all_imports(sys.argv[1]))))
"""


def run_pipreqs_mapped(tree: Path, timeout: float) -> Outcome:
    argv = [str(PIPREQS_VENV / "bin" / "python"), "-c", PIPREQS_MAPPED, str(tree)]
    return outcome(argv, timeout, parse_pipreqs)


def parse_freight(stdout: str) -> tuple[set[str], set[str]]:
    """freight's hard names and the names after its `# optional` comment."""
    lines = stdout.splitlines()
    cut = next((i for i, line in enumerate(lines) if _is_optional_marker(line)), len(lines))
    # The optional block is commented out ("# chardet  # try/except ImportError").
    optional = [line.strip().removeprefix("#") for line in lines[cut + 1:]]
    return requirement_names(lines[:cut]), requirement_names(optional)


def _is_optional_marker(line: str) -> bool:
    return line.strip().lstrip("#").strip().lower().startswith("optional")


def requirement_names(lines: list[str]) -> set[str]:
    """Canonical names of the requirement lines (comments and pip options skipped)."""
    return corpus.requirements_file_names("\n".join(lines))


def ensure_pipreqs() -> None:
    """pipreqs in its own venv, seeing this Python's installed distributions after its own."""
    python = PIPREQS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PIPREQS_VENV)], check=True)
    if not (PIPREQS_VENV / "bin" / "pipreqs").exists():
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        f"pipreqs=={PIPREQS_VERSION}"], check=True)
    query = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = subprocess.run([str(python), "-c", query], capture_output=True, text=True,
                             check=True).stdout.strip()
    shared = "\n".join(site.getsitepackages()) + "\n"
    Path(purelib, "_freight_bench_shared_env.pth").write_text(shared)


# --- scoring ---------------------------------------------------------------------------


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, found: list[str], truth: list[str]) -> None:
        self.tp += len(set(found) & set(truth))
        self.fp += len(set(found) - set(truth))
        self.fn += len(set(truth) - set(found))

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0


def f1(found: list[str], truth: list[str]) -> float:
    counts = Counts()
    counts.add(found, truth)
    return counts.f1


# --- the benchmark ---------------------------------------------------------------------


def bench_corpus(args) -> list[Row]:
    trees = [t for t in corpus.load() if not args.only or args.only in t.name]
    return [bench_tree(t.name, t.kind, Path(t.path), t.files, t.truth, args) for t in trees]


def bench_tree(name, kind, path: Path, files: int, truth, args) -> Row:
    warm_cache(path)
    fr = run_freight(path, args.timeout, args.repeat)
    pr = None if args.no_pipreqs else run_pipreqs(path, args.timeout, repeat=args.repeat)
    shipped = run_pipreqs(path, args.timeout, use_local=False) if args.as_shipped else None
    mapped = None if args.no_pipreqs or truth is None else run_pipreqs_mapped(path, args.timeout)
    row = Row(name, kind, files, truth, fr, pr, shipped, mapped)
    console.print(f"[dim]{progress_line(row)}[/dim]", highlight=False)
    return row


def progress_line(row: Row) -> str:
    pipreqs = "-" if row.pipreqs is None else f"{row.pipreqs.seconds:.2f}s"
    return f"{row.tree}: freight {row.freight.seconds:.2f}s, pipreqs {pipreqs}"


def bench_speed(args) -> list[Row]:
    rows = []
    synth_tree = synth.build()
    rows.append(bench_tree("synthetic 5,000 files", "synthetic", synth_tree,
                           corpus.count_source_files(synth_tree), synth.truth(), args))
    packages = Path(site.getsitepackages()[0])
    rows.append(bench_tree("site-packages", "speed", packages,
                           corpus.count_source_files(packages), None, args))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results:
        report(load_results(), args)
        return 0
    if not args.no_pipreqs:
        ensure_pipreqs()
    rows = [] if args.speed_only else bench_corpus(args)
    rows += [] if args.skip_speed else bench_speed(args)
    RESULTS.write_text(json.dumps([asdict(row) for row in rows], indent=1))
    report(rows, args)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", action="store_true", help="print the names each tool found")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables too")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run (300)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed runs per tool and tree; the fastest counts (1)")
    parser.add_argument("--only", help="only corpus trees whose name contains this")
    parser.add_argument("--no-pipreqs", action="store_true", help="run freight alone")
    parser.add_argument("--as-shipped", action="store_true",
                        help="also run pipreqs without --use-local and count its crashes")
    parser.add_argument("--skip-speed", action="store_true", help="corpus rows only")
    parser.add_argument("--speed-only", action="store_true", help="speed rows only")
    parser.add_argument("--from-results", action="store_true",
                        help=f"report the last run ({RESULTS.name}) without running")
    return parser.parse_args(argv)


# --- reporting -------------------------------------------------------------------------

HEADERS = ["tree", "kind", "files", "freight s", "pipreqs s", "ratio", "freight F1",
           "pipreqs F1", "pipreqs≈online F1", "crashes"]


def report(rows: list[Row], args) -> None:
    tables = [("Per tree", HEADERS, [tree_cells(row) for row in rows]),
              ("Totals over the corpus", TOTAL_HEADERS, total_rows(rows))]
    tables = [table for table in tables if table[2]]
    for title, headers, cells in tables:
        console.print(rich_table(title, headers, cells))
    print_crashes(rows)
    if args.names:
        print_names(rows)
        print_frequent_misses(rows)
    if args.markdown:
        for title, headers, cells in tables:
            print(f"\n{title}:\n\n{markdown_table(headers, cells)}")


def tree_cells(row: Row) -> list[str]:
    pr = row.pipreqs
    return [row.tree, row.kind, str(row.files), f"{row.freight.seconds:.2f}",
            "-" if pr is None else seconds_cell(pr), ratio_cell(row),
            f1_cell(row.freight, row.truth), f1_cell(pr, row.truth),
            f1_cell(row.mapped, row.truth), crash_cell(row)]


def seconds_cell(result: Outcome) -> str:
    return f"{result.seconds:.2f}" + (" (crash)" if result.crashed else "")


def ratio_cell(row: Row) -> str:
    """pipreqs time over freight time; a lower bound (>=) when pipreqs stopped early."""
    if row.pipreqs is None or row.freight.crashed:
        return "-"
    bound = ">=" if row.pipreqs.crashed else ""
    return f"{bound}{row.pipreqs.seconds / row.freight.seconds:.1f}x"


def f1_cell(result: Outcome | None, truth: list[str] | None) -> str:
    if result is None or truth is None:
        return "-"
    return f"{f1(result.names, truth):.2f}"


def crash_cell(row: Row) -> str:
    named = [("freight", row.freight), ("pipreqs", row.pipreqs),
             ("pipreqs as shipped", row.shipped)]
    return ", ".join(name for name, result in named if result and result.crashed) or "-"


TOTAL_HEADERS = ["trees", "n", "freight micro-F1", "pipreqs micro-F1",
                 "pipreqs≈online micro-F1", "freight crashes", "pipreqs crashes", "freight s",
                 "pipreqs s", "time ratio"]


def total_rows(rows: list[Row]) -> list[list[str]]:
    scored = [row for row in rows if row.truth is not None and row.kind != "synthetic"]
    kinds = sorted({row.kind for row in scored})
    groups = [(kind, [r for r in scored if r.kind == kind]) for kind in kinds]
    return [total_cells(name, group) for name, group in [*groups, ("all", scored)] if group]


def total_cells(name: str, rows: list[Row]) -> list[str]:
    fr, pr, mapped = Counts(), Counts(), Counts()
    for row in rows:
        fr.add(row.freight.names, row.truth)
        pr.add(row.pipreqs.names if row.pipreqs else [], row.truth)
        mapped.add(row.mapped.names if row.mapped else [], row.truth)
    fr_s = sum(row.freight.seconds for row in rows)
    pr_s = sum(row.pipreqs.seconds for row in rows if row.pipreqs)
    return [name, str(len(rows)), f"{fr.f1:.2f}", f"{pr.f1:.2f}", f"{mapped.f1:.2f}",
            crashes(rows, "freight"), crashes(rows, "pipreqs"),
            f"{fr_s:.1f}", f"{pr_s:.1f}", f"{pr_s / fr_s:.1f}x"]


def crashes(rows: list[Row], tool: str) -> str:
    results = [getattr(row, tool) for row in rows if getattr(row, tool)]
    shipped = [row.shipped for row in rows if row.shipped] if tool == "pipreqs" else []
    text = f"{sum(r.crashed for r in results)}/{len(results)}"
    if shipped:
        text += f" ({sum(r.crashed for r in shipped)}/{len(shipped)} as shipped)"
    return text


def print_crashes(rows: list[Row]) -> None:
    """Why runs failed, grouped by their last error line."""
    reasons: dict[str, list[str]] = {}
    for row in rows:
        for tool, result in (("freight", row.freight), ("pipreqs", row.pipreqs),
                             ("pipreqs as shipped", row.shipped)):
            if result and result.crashed:
                reasons.setdefault(f"{tool}: {crash_kind(result.error)}", []).append(row.tree)
    for reason, trees in sorted(reasons.items()):
        console.print(f"[red]crash[/red] {reason} [dim]({len(trees)}: {', '.join(trees)})[/dim]",
                      highlight=False)


def crash_kind(error: str) -> str:
    """The error without the name it failed on, so that alike crashes group together."""
    return re.sub(r"url: /pypi/\S+/json.*", "url: /pypi/<name>/json ...", error)


def print_names(rows: list[Row]) -> None:
    for row in rows:
        console.rule(f"{row.tree} ({row.kind})")
        if row.truth is not None:
            console.print(f"truth: {', '.join(row.truth) or '(none)'}", highlight=False)
        for tool, result in (("freight", row.freight), ("pipreqs", row.pipreqs),
                             ("pipreqs≈online", row.mapped)):
            if result:
                console.print(names_line(tool, result, row.truth), highlight=False)


def print_frequent_misses(rows: list[Row], tool: str = "freight", most: int = 20) -> None:
    """The names a tool gets wrong most often across the corpus: where to look first."""
    fp, fn = Counter(), Counter()
    for row in rows:
        result = getattr(row, tool)
        if row.truth is None or row.kind == "synthetic" or result is None:
            continue
        fp.update(set(result.names) - set(row.truth))
        fn.update(set(row.truth) - set(result.names))
    for label, counter in (("FP", fp), ("FN", fn)):
        common = ", ".join(f"{name} {count}" for name, count in counter.most_common(most))
        console.print(f"{tool} most frequent {label} (trees): {common}", highlight=False)


def names_line(tool: str, result: Outcome, truth: list[str] | None) -> str:
    if result.crashed:
        return f"{tool}: CRASH {result.error}"
    if truth is None:
        return f"{tool}: {', '.join(result.names)}"
    fp = sorted(set(result.names) - set(truth))
    fn = sorted(set(truth) - set(result.names))
    text = (f"{tool}: found {len(result.names)}; FP: {', '.join(fp) or '-'}; "
            f"FN: {', '.join(fn) or '-'}")
    return text + (f"; optional: {', '.join(result.optional)}" if result.optional else "")


def rich_table(title: str, headers: list[str], cells: list[list[str]]) -> Table:
    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < 2 else "right")
    for row in cells:
        table.add_row(*row)
    return table


def markdown_table(headers: list[str], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join(["---"] * 2 + ["---:"] * (len(headers) - 2)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def load_results() -> list[Row]:
    def outcome_of(data):
        return Outcome(**data) if data else None

    rows = []
    for item in json.loads(RESULTS.read_text()):
        keys = ("freight", "pipreqs", "shipped", "mapped")
        item.update({key: outcome_of(item[key]) for key in keys})
        rows.append(Row(**item))
    return rows


if __name__ == "__main__":
    sys.exit(main())
