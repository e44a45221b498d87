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

freight keeps caches (the installed environment's map, the curated name table, each
tree's per-file scans) in its cache folder, here bench/_work/deps-cache. Each round times
freight three ways: **cold**, the headline (the tree never scanned: its scan cache is
deleted first), **warm** (at once again, the tree unchanged: no file is read) and
**fresh** (the whole cache folder deleted first: also the environment map and name table
are rebuilt, as on freight's first run in a new environment). The three answers must be
the same; a difference is reported. Rounds are interleaved (pipreqs, then freight, in an
order that alternates) and each figure is the median of the rounds (`--repeat`).

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
import resource
import shutil
import site
import statistics
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
FREIGHT_CACHE = WORK / "deps-cache"  # $FREIGHT_CACHE_DIR of the freight runs
# Wide enough for the tables when piped to a file; a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 170)


@dataclass
class Outcome:
    """One tool's runs on one tree: the median time, the first answer."""

    seconds: float
    crashed: bool
    names: list[str]
    optional: list[str] = field(default_factory=list)
    error: str = ""
    runs: list[float] = field(default_factory=list)  # every timed run, in order
    stdout: str = ""  # the first run's output (kept in memory to compare answers)
    cpu_seconds: float = 0.0  # median CPU time (user + system, its children included)


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
    warm: Outcome | None = None  # freight again at once: its scan cache in use
    fresh: Outcome | None = None  # freight with its whole cache folder deleted first
    mismatch: str = ""  # set when cold, warm and fresh freight answers differ


# --- running the tools -----------------------------------------------------------------


def tool_env(freight: bool) -> dict[str, str]:
    """The environment of a timed run. Without PYTHONDONTWRITEBYTECODE (this sandbox sets
    it): with it, every run compiles freight's editable sources again, while pipreqs's were
    compiled when pip installed it. freight's caches go to bench/_work/deps-cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NO_COLOR="1", TERM="dumb")
    if freight:
        env["FREIGHT_CACHE_DIR"] = str(FREIGHT_CACHE)
    return env


def run_timed(argv: list[str], timeout: float, env: dict[str, str] | None = None,
              ) -> tuple[float, subprocess.CompletedProcess | None, float]:
    """Run argv; return its wall time, its result (None when it ran past timeout) and its
    CPU time (user + system of it and its children: less sensitive to a busy machine)."""
    env = env or tool_env(freight=False)
    before = _children_cpu()
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=WORK, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        done = None
    return time.perf_counter() - start, done, _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Timed:
    """Timed runs of one command on one tree, collected over interleaved rounds."""

    def __init__(self, argv: list[str], timeout: float, parse, env=None, before=None):
        self.argv, self.timeout, self.parse, self.env = argv, timeout, parse, env
        self.before = before  # called before each run (clears a cache)
        self.runs: list[float] = []
        self.cpu: list[float] = []
        self.first: subprocess.CompletedProcess | None = None
        self.failed = False

    def run(self) -> None:
        if self.failed:
            return  # a crash or timeout is not repeated
        if self.before:
            self.before()
        seconds, done, cpu = run_timed(self.argv, self.timeout, self.env)
        self.runs.append(seconds)
        self.cpu.append(cpu)
        if self.first is None:
            self.first = done
        if done is None or done.returncode != 0:
            self.failed = True

    def outcome(self) -> Outcome:
        seconds, cpu = statistics.median(self.runs), statistics.median(self.cpu)
        done = self.first
        if done is None:
            return Outcome(seconds, True, [], error=f"timeout after {self.timeout:.0f} s",
                           runs=self.runs, cpu_seconds=cpu)
        if done.returncode != 0:
            return Outcome(seconds, True, [], error=last_line(done.stderr or done.stdout),
                           runs=self.runs, cpu_seconds=cpu)
        hard, optional = self.parse(done.stdout)
        return Outcome(seconds, False, sorted(hard), sorted(optional), runs=self.runs,
                       stdout=done.stdout, cpu_seconds=cpu)


def outcome(argv: list[str], timeout: float, parse, repeat: int = 1) -> Outcome:
    """Run argv repeat times (fewer if it fails): the median time and the first answer."""
    timed = Timed(argv, timeout, parse)
    for _ in range(repeat):
        timed.run()
    return timed.outcome()


ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b")


def last_line(text: str) -> str:
    """The exception line of a traceback (else the last line), cut to 160 characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.match(line)]
    chosen = errors[-1] if errors else lines[-1] if lines else "no output"
    return chosen[:160]


def freight_argv(tree: Path) -> list[str]:
    return [sys.executable, "-m", "freight", "deps", str(tree)]


def pipreqs_argv(tree: Path, use_local: bool = True) -> list[str]:
    local = ["--use-local"] if use_local else []
    return [str(PIPREQS_VENV / "bin" / "pipreqs"), *local, "--scan-notebooks", "--print",
            str(tree)]


def run_pipreqs(tree: Path, timeout: float, use_local: bool = True, repeat: int = 1) -> Outcome:
    return outcome(pipreqs_argv(tree, use_local), timeout, parse_pipreqs, repeat)


def clear_scan_cache() -> None:
    """Forget every tree's scans (the environment map and name table stay)."""
    shutil.rmtree(FREIGHT_CACHE / "deps" / "scans", ignore_errors=True)


def clear_freight_cache() -> None:
    shutil.rmtree(FREIGHT_CACHE, ignore_errors=True)


def warm_up() -> None:
    """One untimed run of each tool, so that both start with their bytecode written (as
    after an install) and freight with its environment map built."""
    tiny = WORK / "warm-up"
    tiny.mkdir(exist_ok=True)
    (tiny / "main.py").write_text("import numpy\n")
    run_timed(freight_argv(tiny), 120, tool_env(freight=True))
    run_timed(pipreqs_argv(tiny), 120)


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
    fenv = tool_env(freight=True)
    cold = Timed(freight_argv(path), args.timeout, parse_freight, fenv, clear_scan_cache)
    warm = Timed(freight_argv(path), args.timeout, parse_freight, fenv)
    fresh = Timed(freight_argv(path), args.timeout, parse_freight, fenv, clear_freight_cache)
    pr = None if args.no_pipreqs else Timed(pipreqs_argv(path), args.timeout, parse_pipreqs)
    for round_ in range(args.repeat):
        freight_runs = [cold.run, warm.run, fresh.run]  # warm right after cold: its cache
        order = [pr.run, *freight_runs] if pr and round_ % 2 else [*freight_runs, pr and pr.run]
        for run in filter(None, order):
            run()
    shipped = run_pipreqs(path, args.timeout, use_local=False) if args.as_shipped else None
    mapped = None if args.no_pipreqs or truth is None else run_pipreqs_mapped(path, args.timeout)
    row = Row(name, kind, files, truth, cold.outcome(), pr and pr.outcome(), shipped, mapped,
              warm.outcome(), fresh.outcome())
    row.mismatch = answers_differ(row)
    console.print(f"[dim]{progress_line(row)}[/dim]", highlight=False)
    return row


def answers_differ(row: Row) -> str:
    """Which freight runs printed something else than the cold run ("" when none)."""
    runs = (("warm", row.warm), ("fresh", row.fresh))
    return ", ".join(name for name, result in runs if result.stdout != row.freight.stdout)


def progress_line(row: Row) -> str:
    pipreqs = "-" if row.pipreqs is None else f"{row.pipreqs.seconds:.2f}s"
    text = (f"{row.tree}: freight cold {row.freight.seconds:.3f}s, warm {row.warm.seconds:.3f}s"
            f", fresh {row.fresh.seconds:.3f}s; pipreqs {pipreqs}")
    return text + (f"; ANSWERS DIFFER: {row.mismatch}" if row.mismatch else "")


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
    clear_freight_cache()
    warm_up()
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
    parser.add_argument("--repeat", type=int, default=3,
                        help="interleaved timed rounds per tree; the median counts (3)")
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

HEADERS = ["tree", "kind", "files", "freight cold s", "warm s", "fresh s", "pipreqs s",
           "ratio cold", "ratio warm", "ratio fresh", "freight F1", "pipreqs F1",
           "pipreqs≈online F1", "crashes"]
FREIGHT_RUNS = ("freight", "warm", "fresh")  # Row attributes: cold (the headline), warm, fresh


def report(rows: list[Row], args) -> None:
    tables = [("Per tree", HEADERS, [tree_cells(row) for row in rows]),
              ("Totals over the corpus", TOTAL_HEADERS, total_rows(rows))]
    tables = [table for table in tables if table[2]]
    for title, headers, cells in tables:
        console.print(rich_table(title, headers, cells))
    print_crashes(rows)
    for row in rows:
        if row.mismatch:
            console.print(f"[red]freight's answers differ[/red] on {row.tree}: {row.mismatch}")
    if args.names:
        print_names(rows)
        print_frequent_misses(rows)
    if args.markdown:
        for title, headers, cells in tables:
            print(f"\n{title}:\n\n{markdown_table(headers, cells)}")


def tree_cells(row: Row) -> list[str]:
    pr = row.pipreqs
    freight = [getattr(row, name) for name in FREIGHT_RUNS]
    return [row.tree, row.kind, str(row.files),
            *["-" if result is None else seconds_cell(result, 3) for result in freight],
            "-" if pr is None else seconds_cell(pr), *[ratio_cell(row, r) for r in freight],
            f1_cell(row.freight, row.truth), f1_cell(pr, row.truth),
            f1_cell(row.mapped, row.truth), crash_cell(row)]


def seconds_cell(result: Outcome, digits: int = 2) -> str:
    return f"{result.seconds:.{digits}f}" + (" (crash)" if result.crashed else "")


def ratio_cell(row: Row, freight: Outcome | None = None) -> str:
    """pipreqs time over freight time; a lower bound (>=) when pipreqs stopped early."""
    freight = freight or row.freight
    if row.pipreqs is None or freight is None or freight.crashed:
        return "-"
    bound = ">=" if row.pipreqs.crashed else ""
    return f"{bound}{row.pipreqs.seconds / freight.seconds:.1f}x"


def f1_cell(result: Outcome | None, truth: list[str] | None) -> str:
    if result is None or truth is None:
        return "-"
    return f"{f1(result.names, truth):.2f}"


def crash_cell(row: Row) -> str:
    named = [("freight", row.freight), ("pipreqs", row.pipreqs),
             ("pipreqs as shipped", row.shipped)]
    return ", ".join(name for name, result in named if result and result.crashed) or "-"


TOTAL_HEADERS = ["trees", "n", "freight micro-F1", "pipreqs micro-F1",
                 "pipreqs≈online micro-F1", "freight crashes", "pipreqs crashes",
                 "freight cold s", "warm s", "fresh s", "pipreqs s", "ratio cold",
                 "ratio warm", "ratio fresh", "median tree ratio cold", "CPU ratio cold"]


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
    freight_s = [sum(getattr(row, run).seconds for row in rows if getattr(row, run))
                 for run in FREIGHT_RUNS]
    pr_s = sum(row.pipreqs.seconds for row in rows if row.pipreqs)
    ratios = [row.pipreqs.seconds / row.freight.seconds for row in rows if row.pipreqs]
    median = f"{statistics.median(ratios):.1f}x" if ratios else "-"
    cpu = [sum(getattr(row, tool).cpu_seconds for row in rows if getattr(row, tool))
           for tool in ("pipreqs", "freight")]
    return [name, str(len(rows)), f"{fr.f1:.2f}", f"{pr.f1:.2f}", f"{mapped.f1:.2f}",
            crashes(rows, "freight"), crashes(rows, "pipreqs"),
            *[f"{seconds:.2f}" for seconds in freight_s], f"{pr_s:.1f}",
            *[f"{pr_s / seconds:.1f}x" if seconds and pr_s else "-" for seconds in freight_s],
            median, f"{cpu[0] / cpu[1]:.1f}x" if cpu[0] and cpu[1] else "-"]


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
        keys = ("freight", "pipreqs", "shipped", "mapped", "warm", "fresh")
        item.update({key: outcome_of(item.get(key)) for key in keys})
        rows.append(Row(**item))
    return rows


if __name__ == "__main__":
    sys.exit(main())
