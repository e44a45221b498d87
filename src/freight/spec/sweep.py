r"""Parameter sweeps: from what the user wrote to `list[Task]` (index 0..N-1, params).

Dimensions
- `--sweep NAME=V1,V2,...` (repeatable). Values are split on commas; `\,` is a comma inside a
  value (the only escape; a value with other tricky text belongs in a sweep file). Every value
  stays the exact string typed: `{lr}` renders `1e-3` as `1e-3` (never 0.001), `007` as `007`,
  `true` as `true`, and `a b; rm -rf ~` as that one literal argument. The program parses its
  arguments as it always did; params.json holds the same strings (tasks.jsonl, read by the
  task wrapper in another process, could not keep a number's text otherwise); `numeric()`
  reads such a string as the number it stands for (results, plots). An empty value (`lr=`,
  `lr=a,,b`) is an error, nearly always a typo; a sweep file can hold an empty string.
- A range, written as the only value (`NAME=KIND:...`), generates numbers:
    log:A:B:N                   N log-spaced values from A to B inclusive (A, B > 0)
    lin:A:B:N                   N evenly spaced values from A to B inclusive
    range:[START:]STOP[:STEP]   integers, as Python's range()
    log:A:B  lin:A:B            no count: continuous (log-uniform / uniform), --random only
  Generated floats are rounded to 12 significant digits (0.1*3 is 0.3). When both bounds are
  written as integers and every value is whole, the values are ints (`log:16:256:5` is 16, 32,
  64, 128, 256). Continuous samples are always floats (`lin:0:1` is a probability, not 0 or 1):
  to draw integers at random, use `range:` or a counted `log:A:B:N`. A literal string
  that starts with `log:`, `lin:` or `range:` can only come from a sweep file.
- `[sweep.params]` in freight.toml (see config.py): a list keeps TOML's types (`[0.1, 0.01]`
  are floats), a string is a range as above, any other scalar is a single value.
- A sweep file of explicit rows (`--sweep-file`, `[sweep] file`), chosen by suffix:
    .toml            an array of tables `[[row]]`; values keep TOML's types
    .csv             a header row of names, then one row per task; values are the cells'
                     exact text (CSV has no types), like --sweep values
    .jsonl .ndjson   one JSON object per line; values keep JSON's types; blank lines skipped
  Every row names the same parameters as the first; values are strings, numbers or booleans.
  Errors name the file and its line (the row number for TOML, whose parser keeps no lines).

Combining
- grid (default): the cartesian product, in the order given, the last name varying fastest.
- zip: the i-th values of every dimension together; every dimension has the same length.
- file rows × dimensions: each file row (outer, slowest) with every grid/zip combination.
  A name may come from the file or from a dimension, not both.
- random N: N independent draws (with replacement); each draws a file row, a value from each
  list and a sample from each continuous range, with random.Random(seed): the same seed gives
  the same tasks. Without a seed every call draws afresh (the run records its tasks anyway).
  It does not combine with zip. A seed without random N is an error (it would do nothing).
- More than 1,000,000 tasks is an error that points to --random.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freight.errors import ConfigError
from freight.spec import sweepfile
from freight.spec.job import ParamValue, Task

MAX_TASKS = 1_000_000
SIGNIFICANT_DIGITS = 12
RANGE_KINDS = ("log", "lin", "range")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_RANDOM_FIX = "sample a subset with --random N --seed S, or narrow the sweep"

Row = dict[str, ParamValue]


@dataclass(frozen=True)
class Dimension:
    """One swept name: a list of values, or (for random search only) a way to sample one."""

    name: str
    source: str  # as the user wrote it, for messages
    values: tuple[ParamValue, ...] = ()
    sample: Callable[[random.Random], ParamValue] | None = None

    def draw(self, rng: random.Random) -> ParamValue:
        return self.sample(rng) if self.sample else rng.choice(self.values)


# ---------------------------------------------------------------- the public entry points


def expand_sweep(
    specs: list[str],
    zip_: bool = False,
    sweep_file: Path | None = None,
    random_n: int | None = None,
    seed: int | None = None,
) -> list[Task]:
    """The tasks of `--sweep` specs (+ `--zip`, `--sweep-file`, `--random`, `--seed`)."""
    return expand_params(
        parse_sweep_args(specs),
        mode="zip" if zip_ else "grid",
        sweep_file=sweep_file,
        random_n=random_n,
        seed=seed,
    )


def expand_params(
    params: dict[str, Any],
    *,
    mode: str = "grid",
    sweep_file: Path | None = None,
    random_n: int | None = None,
    seed: int | None = None,
) -> list[Task]:
    """The tasks of a name -> values/range mapping (config `[sweep.params]`, Python API)."""
    dims = [make_dimension(name, spec) for name, spec in params.items()]
    rows = load_rows(sweep_file) if sweep_file is not None else None
    return expand(dims, mode=mode, rows=rows, random_n=random_n, seed=seed)


def expand(
    dims: list[Dimension],
    *,
    mode: str = "grid",
    rows: list[Row] | None = None,
    random_n: int | None = None,
    seed: int | None = None,
) -> list[Task]:
    """Combine dimensions (and file rows) into numbered tasks; see the module docstring."""
    _check_combination(dims, rows, mode, random_n, seed)
    if random_n is not None:
        return _numbered(_random_rows(dims, rows, random_n, seed))
    _check_size(dims, rows or [{}], mode)
    return _numbered(_grid_rows(dims, rows or [{}], mode))


# ---------------------------------------------------------------- --sweep NAME=V1,V2


def parse_sweep_args(specs: Iterable[str]) -> dict[str, list[str] | str]:
    """`["lr=0.1,0.01", "n=range:3"]` -> `{"lr": ["0.1", "0.01"], "n": "range:3"}`."""
    parsed: dict[str, list[str] | str] = {}
    for text in specs:
        name, spec = parse_sweep_arg(text)
        if name in parsed:
            raise ConfigError(
                f"--sweep names '{name}' twice", fix=f"give all values of {name} in one --sweep"
            )
        parsed[name] = spec
    return parsed


def parse_sweep_arg(text: str) -> tuple[str, list[str] | str]:
    """One `NAME=V1,V2` -> (name, the literal values), or (name, "log:…") for a range."""
    name, equals, rest = text.partition("=")
    name = name.strip()
    if not equals:
        raise ConfigError(f"--sweep {text!r} has no '='", fix="write NAME=V1,V2, e.g. lr=0.1,0.01")
    check_name(name, f"--sweep {text!r}")
    if rest == "":
        raise ConfigError(
            f"--sweep {name}= has no values", fix=f"list them ({name}=1,2,3) or give a range ({name}=range:3)"
        )
    values = split_values(rest)
    if len(values) == 1 and is_range(values[0]):
        return name, values[0]
    _check_literal_values(name, rest, values)
    return name, values


def split_values(text: str) -> list[str]:
    r"""Split on commas, except `\,` which is a comma inside a value."""
    return [part.replace("\0", ",") for part in text.replace("\\,", "\0").split(",")]


def _check_literal_values(name: str, text: str, values: list[str]) -> None:
    if any(value == "" for value in values):
        raise ConfigError(
            f"--sweep {name}={text} has an empty value",
            fix="remove the extra comma (an empty string can come from a sweep file)",
        )
    if any(is_range(value) for value in values):
        raise ConfigError(
            f"--sweep {name}={text} mixes a range with other values",
            fix=f"a range must be the only value of {name}, e.g. {name}=lin:0:1:5",
        )


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def is_range(text: str) -> bool:
    kind, colon, _ = text.partition(":")
    return bool(colon) and kind in RANGE_KINDS


def check_name(name: str, where: str = "") -> None:
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{_at(where)}'{name}' is not a parameter name",
            fix="start with a letter or _, then letters, digits, _ . or -",
        )


def check_value(name: str, value: Any, where: str = "") -> None:
    """A param value is a string, a bool, an int or a finite float (params.json must be JSON)."""
    ok = isinstance(value, (str, int, bool)) or (isinstance(value, float) and math.isfinite(value))
    if not ok:
        raise ConfigError(
            f"{_at(where)}value {value!r} of '{name}' is not a string, number or true/false",
            fix="write plain scalars; lists, tables, dates and nan/inf cannot be params",
        )


def numeric(value: Any) -> int | float | None:
    """The number a param stands for, or None: `"1e-3"` -> 0.001, 3 -> 3, True/"adam" -> None.

    --sweep values stay strings (see the module docstring); results tables and plots use this
    to sort and scale them as the numbers they are.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------- one dimension


def make_dimension(name: str, spec: Any) -> Dimension:
    """A list of values, a range string, or one scalar value -> a Dimension named `name`."""
    check_name(name, "sweep")
    if isinstance(spec, str) and is_range(spec):
        return parse_range(name, spec)
    values = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if not values:
        raise ConfigError(f"sweep '{name}' has an empty list of values", fix="give at least one value")
    for value in values:
        check_value(name, value, "sweep")
    return Dimension(name, source=str(spec), values=tuple(values))


def parse_range(name: str, text: str) -> Dimension:
    kind, *args = text.split(":")
    if kind == "range":
        return Dimension(name, source=text, values=tuple(_int_range(name, text, args)))
    if len(args) not in (2, 3):
        raise _bad_range(name, text, f"write {kind}:START:STOP:COUNT (or {kind}:START:STOP for --random)")
    low, high = (_number(name, text, arg) for arg in args[:2])
    if kind == "log" and (low <= 0 or high <= 0):
        raise _bad_range(name, text, "log ranges need both bounds above 0, e.g. log:1e-4:1e-1:4")
    whole = isinstance(low, int) and isinstance(high, int)
    if len(args) == 2:
        return Dimension(name, source=text, sample=_sampler(kind, low, high))
    count = _count(name, text, args[2])
    return Dimension(name, source=text, values=tuple(_spaced(kind, low, high, count, whole)))


def _spaced(kind: str, low: float, high: float, count: int, whole: bool) -> list[ParamValue]:
    """`count` values from low to high inclusive, evenly spaced on a linear or log scale."""
    if count == 1:
        return [low]
    if kind == "log":
        start, stop = math.log10(low), math.log10(high)
        raw = [10 ** (start + (stop - start) * i / (count - 1)) for i in range(count)]
    else:
        raw = [low + (high - low) * i / (count - 1) for i in range(count)]
    values = [float(low)] + [_tidy(v) for v in raw[1:-1]] + [float(high)]  # exact endpoints
    if whole and all(v.is_integer() for v in values):
        return [int(v) for v in values]
    return values


def _sampler(kind: str, low: float, high: float) -> Callable[[random.Random], ParamValue]:
    def draw(rng: random.Random) -> ParamValue:
        if kind == "log":
            return _tidy(math.exp(rng.uniform(math.log(low), math.log(high))))
        return _tidy(rng.uniform(low, high))

    return draw


def _int_range(name: str, text: str, args: list[str]) -> range:
    if not 1 <= len(args) <= 3:
        raise _bad_range(name, text, "write range:STOP, range:START:STOP or range:START:STOP:STEP")
    try:
        bounds = range(*[int(arg) for arg in args])
    except ValueError:
        raise _bad_range(name, text, "range takes whole numbers and a non-zero step") from None
    if len(bounds) == 0:
        raise _bad_range(name, text, "it is empty; check START < STOP (or a negative STEP)")
    if len(bounds) > MAX_TASKS:
        raise _bad_range(name, text, f"it has more than {MAX_TASKS:,} values; {_RANDOM_FIX}")
    return bounds


def _number(name: str, text: str, arg: str) -> int | float:
    try:
        return int(arg)
    except ValueError:
        pass
    try:
        value = float(arg)
    except ValueError:
        raise _bad_range(name, text, f"{arg!r} is not a number") from None
    if not math.isfinite(value):
        raise _bad_range(name, text, "bounds must be finite numbers")
    return value


def _count(name: str, text: str, arg: str) -> int:
    if not arg.isdigit() or not 1 <= int(arg) <= MAX_TASKS:
        raise _bad_range(name, text, f"the count must be a whole number from 1 to {MAX_TASKS:,}")
    return int(arg)


def _tidy(value: float) -> float:
    """Round away float noise: 0.30000000000000004 -> 0.3."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _bad_range(name: str, text: str, fix: str) -> ConfigError:
    return ConfigError(f"bad range {name}={text}", fix=fix)


# ---------------------------------------------------------------- combining


def _check_combination(
    dims: list[Dimension], rows: list[Row] | None, mode: str, random_n: int | None, seed: int | None
) -> None:
    if mode not in ("grid", "zip"):
        raise ConfigError(f"sweep mode {mode!r} is not grid or zip", fix='use mode = "grid" or "zip"')
    _check_unique_names(dims, rows)
    if random_n is None and seed is not None:
        raise ConfigError(
            "--seed is the seed of --random and does nothing without it",
            fix="add --random N, or sweep a program seed with --sweep seed=0,1,2",
        )
    if random_n is not None:
        _check_random(dims, rows, mode, random_n)
    else:
        _check_discrete(dims)


def _check_unique_names(dims: list[Dimension], rows: list[Row] | None) -> None:
    from_file = set(rows[0]) if rows else set()
    for dim in dims:
        if dim.name in from_file:
            raise ConfigError(
                f"'{dim.name}' is swept and also a column of the sweep file",
                fix=f"take {dim.name} from one place only",
            )


def _check_random(dims: list[Dimension], rows: list[Row] | None, mode: str, random_n: int) -> None:
    if not dims and not rows:
        raise ConfigError(
            "--random has nothing to sample", fix="give dimensions to sample, e.g. --sweep lr=log:1e-4:1e-1"
        )
    if mode == "zip":
        raise ConfigError("--random draws each name on its own and cannot --zip", fix="drop --zip or --random")
    if not 1 <= random_n <= MAX_TASKS:
        raise ConfigError(f"--random {random_n} is out of range", fix=f"sample 1 to {MAX_TASKS:,} tasks")


def _check_discrete(dims: list[Dimension]) -> None:
    for dim in dims:
        if dim.sample is not None:
            raise ConfigError(
                f"{dim.name}={dim.source} has no count, so it can only be sampled",
                fix=f"add a count ({dim.name}={dim.source}:5) or use --random N",
            )


def _check_size(dims: list[Dimension], rows: list[Row], mode: str) -> None:
    lengths = [len(dim.values) for dim in dims]
    if mode == "zip" and len(set(lengths)) > 1:
        shown = ", ".join(f"{dim.name} has {len(dim.values)}" for dim in dims)
        raise ConfigError(f"--zip needs equally long lists: {shown}", fix="give every name as many values")
    combos = (lengths[0] if lengths else 1) if mode == "zip" else math.prod(lengths)
    total = combos * len(rows)
    if total > MAX_TASKS:
        raise ConfigError(f"the sweep has {total:,} tasks, more than {MAX_TASKS:,}", fix=_RANDOM_FIX)


def _grid_rows(dims: list[Dimension], rows: list[Row], mode: str) -> Iterator[Row]:
    names = [dim.name for dim in dims]
    columns = [dim.values for dim in dims]
    for row in rows:
        combos = zip(*columns) if mode == "zip" and dims else itertools.product(*columns)
        for combo in combos:
            yield {**row, **dict(zip(names, combo))}


def _random_rows(dims: list[Dimension], rows: list[Row] | None, count: int, seed: int | None) -> Iterator[Row]:
    rng = random.Random(seed)
    for _ in range(count):
        row = dict(rng.choice(rows)) if rows else {}
        row.update((dim.name, dim.draw(rng)) for dim in dims)
        yield row


def _numbered(rows: Iterable[Row]) -> list[Task]:
    # Values are checked above; construct without re-validating (a million tasks stay fast).
    return [Task.model_construct(index=i, params=params) for i, params in enumerate(rows)]


# ---------------------------------------------------------------- sweep files


def load_rows(path: Path) -> list[Row]:
    """The parameter rows of a .toml / .csv / .jsonl sweep file (see the module docstring)."""
    rows = _checked_rows(path, sweepfile.read_rows(path))
    if not rows:
        raise ConfigError("the sweep file has no rows", fix="add one row per task", path=path)
    return rows


def _checked_rows(path: Path, located: Iterable[tuple[str, dict[str, Any]]]) -> list[Row]:
    rows: list[Row] = []
    for where, row in located:
        for name, value in row.items():
            _in_file(path, where, check_name, name)
            _in_file(path, where, check_value, name, value)
        if rows and set(row) != set(rows[0]):
            raise ConfigError(
                f"{where}: names {sorted(row)} differ from the first row's {sorted(rows[0])}",
                fix="give every row the same names",
                path=path,
            )
        rows.append(row)
    return rows


def _in_file(path: Path, where: str, check: Callable[..., None], *args: Any) -> None:
    """Run a check; re-raise its error located at the file and line."""
    try:
        check(*args)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.problem}", fix=exc.fix, path=path) from None
