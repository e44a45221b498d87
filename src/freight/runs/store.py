"""The run store: which runs exist and where each of their tasks stands.

A SQLite file (`.freight/store.db`, WAL, busy timeout) indexes the run folders
(`.freight/runs/<run-id>/`, see layout.py). The folders stay the truth: `refresh()` reads each
task's state.json, written by the task wrapper, and lets it override the database, so
`freight status` is right even after the freight process that started the run was killed.

Old state files must not lie about a retried task: the store remembers a digest of the
state file it last read, and `mark_submitted()` (or marking a task pending/queued) declares
that file stale, so until the new attempt writes its own, the database's "queued" stands.
Any writer of state.json (the wrapper, a supervisor) is heard without having to cooperate.
Every write is one `BEGIN IMMEDIATE` transaction, committed before the method returns, so two
freight processes on one project queue behind each other instead of failing or corrupting.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from freight.errors import InputError
from freight.fsutil import write_json_atomic
from freight.runs.layout import RunPaths, freight_home
from freight.spec.job import Job, Task
from freight.spec.state import TaskState

BUSY_TIMEOUT_MS = 60_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, target TEXT NOT NULL,
    created REAL NOT NULL, n_tasks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempt INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER, reason TEXT, host TEXT, started REAL, ended REAL,
    scheduler_id TEXT, log_tail TEXT,
    seen TEXT,  -- digest of the state.json last read into this row
    stale TEXT,  -- digest of a state.json that belongs to an earlier attempt
    synced INTEGER NOT NULL DEFAULT 0,  -- 1: holds a final state.json, not read again
    PRIMARY KEY (run_id, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (run_id, key)) WITHOUT ROWID;
"""
TASK_COLUMNS = ("state", "attempt", "exit_code", "reason", "host", "started", "ended",
                "scheduler_id", "log_tail")
AliveCheck = Callable[[int, dict[str, Any]], "bool | None"]
STATE_FILE_FIELDS = ("attempt", "exit_code", "reason", "host", "started", "ended", "log_tail")


@dataclass
class TaskStatus:
    index: int
    params: dict[str, Any]
    state: TaskState
    attempt: int = 0
    exit_code: int | None = None
    reason: str | None = None
    host: str | None = None
    started: float | None = None
    ended: float | None = None
    scheduler_id: str | None = None
    log_tail: str | None = None
    wrapper_pid: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RunRecord:
    id: str
    name: str
    target: str
    created: float
    n_tasks: int
    paths: RunPaths

    @property
    def run_dir(self) -> RunPaths:
        return self.paths

    def tasks(self) -> list[Task]:
        return self.job.tasks

    @cached_property
    def job(self) -> Job:
        """The Job as submitted, tasks included (job.json + tasks.jsonl)."""
        data = json.loads(self.paths.job.read_text(encoding="utf-8"))
        tasks = [Task(index=i, params=p) for i, p in enumerate(self.params)]
        return Job.model_validate({**data, "tasks": tasks})

    @cached_property
    def params(self) -> list[dict[str, Any]]:
        """Each task's params, by index, read from tasks.jsonl without pydantic."""
        with open(self.paths.tasks, encoding="utf-8") as handle:
            return [json.loads(line).get("params", {}) for line in handle if line.strip()]


class RunStore:
    """The runs of one project. Safe to share between threads and between processes."""

    def __init__(self, home: Path | None = None):
        self.home = Path(home).resolve() if home is not None else freight_home()
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, job: Job, target: str, run_id: str | None = None) -> RunRecord:
        """Write the run folder, then its rows; committed before this returns."""
        paths = self._new_run_folder(job.name, run_id)
        run_id = paths.root.name
        write_json_atomic(paths.job, job.model_dump(mode="json", exclude={"tasks"}))
        lines = "".join(json.dumps(t.model_dump(mode="json")) + "\n" for t in job.tasks)
        paths.tasks.write_text(lines, encoding="utf-8")
        created = time.time()
        with self._write() as db:
            db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                       (run_id, job.name, target, created, len(job.tasks)))
            db.executemany("INSERT INTO tasks (run_id, idx) VALUES (?, ?)",
                           ((run_id, t.index) for t in job.tasks))
        return RunRecord(run_id, job.name, target, created, len(job.tasks), paths)

    def list_runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        rows = self._read("SELECT * FROM runs ORDER BY created, id")
        return [self._record(row) for row in rows]

    def get_run(self, ref: str | None = None) -> RunRecord:
        """The latest run (None), the run with this id, or the one whose id starts with it."""
        if ref is None:
            rows = self._read("SELECT * FROM runs ORDER BY created DESC, id DESC LIMIT 1")
            if not rows:
                raise InputError(f"no runs yet in {self.home}", fix="start one with `freight run`")
            return self._record(rows[0])
        rows = self._read("SELECT * FROM runs WHERE id = ? OR substr(id, 1, ?) = ? ORDER BY id",
                          (ref, len(ref), ref))
        exact = [row for row in rows if row["id"] == ref]
        if exact or len(rows) == 1:
            return self._record((exact or rows)[0])
        if not rows:
            raise InputError(f"no run {ref!r} in {self.home}", fix="`freight runs` lists them")
        names = ", ".join(row["id"] for row in rows[:5])
        raise InputError(f"run {ref!r} is ambiguous: it matches {names}", fix="give more of the id")

    # -- tasks ------------------------------------------------------------------------------

    def mark_submitted(self, run_id: str, indices: Iterable[int],
                       scheduler_ids: dict[int, str] | None = None) -> None:
        """These tasks were handed to a scheduler: queued, one attempt more, old outcome
        cleared, and the state file seen so far declared stale."""
        ids = scheduler_ids or {}
        with self._write() as db:
            db.executemany(
                "UPDATE tasks SET state = 'queued', attempt = attempt + 1, scheduler_id = ?,"
                " exit_code = NULL, reason = NULL, ended = NULL, log_tail = NULL,"
                " stale = seen, synced = 0 WHERE run_id = ? AND idx = ?",
                ((ids.get(i), run_id, i) for i in indices))

    def mark(self, run_id: str, indices: Iterable[int], state: TaskState, reason: str | None = None) -> None:
        """Set tasks' state directly. A newer state file still wins; pending or queued
        (about to run again) makes the current one stale."""
        state = TaskState(state)
        forget = "seen" if state in (TaskState.pending, TaskState.queued) else "stale"
        with self._write() as db:
            db.executemany(
                f"UPDATE tasks SET state = ?, reason = ?, stale = {forget}, synced = 0"
                " WHERE run_id = ? AND idx = ?",
                ((state.value, reason, run_id, i) for i in indices))

    def refresh(self, run_id: str, is_alive: AliveCheck | None = None) -> list[TaskStatus]:
        """Every task's status, from its state file first, then the database; saved back.

        `is_alive(index, state_json)` lets a target judge a task its state file calls running
        (True, False, or None for "cannot tell"); without an answer, a task whose wrapper ran
        on this host and is gone is lost.
        """
        run = self.get_run(run_id)
        rows = self._read("SELECT * FROM tasks WHERE run_id = ? ORDER BY idx", (run.id,))
        statuses, changed = [], []
        for row in rows:
            stored = _status_from_row(row, run.params)
            found = None if row["synced"] else _read_state_file(run.paths.state(row["idx"]))
            if found is None or found[1] == row["stale"] or _judged_lost(found, row):
                statuses.append(stored)
                continue
            status, final, digest = _judge(stored, found, run.paths, is_alive)
            statuses.append(status)
            if status != stored or digest != row["seen"] or final:
                changed.append((status, final, digest))
        if changed:
            self._save_statuses(run.id, changed)
        return statuses

    def retry_indices(self, run_id: str) -> list[int]:
        """Tasks a retry must run: failed, cancelled, lost or never started. Never succeeded
        ones, and not those still queued or running."""
        return [s.index for s in self.refresh(run_id) if s.state.retryable]

    # -- target data ------------------------------------------------------------------------

    def set_meta(self, run_id: str, key: str, value: Any) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?, ?)", (run_id, key, json.dumps(value)))

    def get_meta(self, run_id: str, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM meta WHERE run_id = ? AND key = ?", (run_id, key))
        return json.loads(rows[0]["value"]) if rows else default

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- internals --------------------------------------------------------------------------

    def _save_statuses(self, run_id: str, changed: list[tuple[TaskStatus, bool, str]]) -> None:
        sets = ", ".join(f"{c} = ?" for c in TASK_COLUMNS)
        with self._write() as db:
            db.executemany(
                f"UPDATE tasks SET {sets}, synced = ?, seen = ? WHERE run_id = ? AND idx = ?",
                ([_column_value(s, c) for c in TASK_COLUMNS] + [int(final), digest, run_id, s.index]
                 for s, final, digest in changed))

    def _new_run_folder(self, name: str, run_id: str | None) -> RunPaths:
        """A fresh run folder; a generated id that another process took just now is redrawn."""
        for _ in range(20):
            paths = RunPaths(self.home / "runs" / (run_id or new_run_id(name)))
            try:
                paths.root.mkdir(parents=True)
            except FileExistsError:
                if run_id:
                    raise InputError(f"run {run_id} exists already", path=paths.root) from None
                continue
            paths.scripts.mkdir()
            return paths
        raise InputError(f"no free run id for {name}", path=self.home / "runs")

    def _record(self, row: sqlite3.Row) -> RunRecord:
        paths = RunPaths(self.home / "runs" / row["id"])
        return RunRecord(row["id"], row["name"], row["target"], row["created"], row["n_tasks"], paths)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.home.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.home / "store.db", timeout=BUSY_TIMEOUT_MS / 1000,
                                 isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _ensure_wal(db)
            db.execute("PRAGMA foreign_keys = ON")
            _create_schema(db)
            self._db = db
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _immediate(self._connection()) as db:
            yield db

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection().execute(sql, args).fetchall()


def new_run_id(name: str) -> str:
    """`<name>-<yyyymmdd-hhmmss>-<4 hex>`: sorts by time, unique across concurrent processes."""
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


@contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction. IMMEDIATE takes the write lock up front, so a busy store is
    waited for (busy timeout) instead of failing half-way through."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _ensure_wal(db: sqlite3.Connection) -> None:
    """WAL mode, so readers never block the one writer. Switching takes a lock that SQLite does
    not wait for (no busy handler), so only switch when needed, and retry a busy switch."""
    for attempt in range(200):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(min(0.5, 0.005 * (attempt + 1)))


def _create_schema(db: sqlite3.Connection) -> None:
    with _immediate(db):
        for statement in filter(str.strip, SCHEMA.split(";")):  # no ";" inside SCHEMA's comments
            db.execute(statement)


def _status_from_row(row: sqlite3.Row, params: list[dict[str, Any]]) -> TaskStatus:
    values = {c: row[c] for c in TASK_COLUMNS}
    values["state"] = TaskState(values["state"])
    index = row["idx"]
    return TaskStatus(index=index, params=params[index] if index < len(params) else {}, **values)


def _read_state_file(path: Path) -> tuple[dict[str, Any], str] | None:
    """(parsed state.json, digest of its bytes), or None when missing or not a state file."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("state") not in TaskState._value2member_map_:
        return None
    return data, hashlib.blake2b(raw, digest_size=10).hexdigest()


def _judged_lost(found: tuple[dict[str, Any], str], row: sqlite3.Row) -> bool:
    """Lost already, and its state file has not changed since: the verdict stands."""
    return row["state"] == TaskState.lost.value and found[1] == row["seen"]


def _judge(stored: TaskStatus, found: tuple[dict[str, Any], str], paths: RunPaths,
           is_alive: AliveCheck | None) -> tuple[TaskStatus, bool, str]:
    """(status, whether it is final, digest of the file it came from) for a current file."""
    data, digest = found
    status = _apply_state_file(stored, data)
    if status.state is not TaskState.running or _alive(status, data, is_alive):
        return status, status.state.finished, digest
    again = _read_state_file(paths.state(stored.index))  # it may have ended while we looked
    if again and again[1] != digest and TaskState(again[0]["state"]).finished:
        return _apply_state_file(stored, again[0]), True, again[1]
    if stored.state.finished:  # e.g. marked cancelled, then its wrapper was killed
        return stored, False, digest
    reason = f"wrapper process {status.wrapper_pid} on {status.host} is gone without a final state"
    return replace(status, state=TaskState.lost, reason=reason), False, digest


def _apply_state_file(stored: TaskStatus, data: dict[str, Any]) -> TaskStatus:
    values = {k: data.get(k) for k in STATE_FILE_FIELDS}
    values["attempt"] = int(values["attempt"] or stored.attempt)
    return replace(stored, state=TaskState(data["state"]), wrapper_pid=data.get("wrapper_pid"), **values)


def _alive(status: TaskStatus, data: dict[str, Any], is_alive: AliveCheck | None) -> bool:
    answer = is_alive(status.index, data) if is_alive else None
    if answer is not None:
        return answer
    if status.host != os.uname().nodename or not status.wrapper_pid:
        return True  # another machine's process: only its target can tell
    return pid_alive(int(status.wrapper_pid), status.started)


def pid_alive(pid: int, started: float | None = None) -> bool:
    """Whether process `pid` runs (a zombie does not) and, given `started`, is still the
    process that was there then: pids get reused."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: no evidence that ours is gone
    proc = _proc_stat(pid)
    if proc is None:
        return True
    state, began = proc
    return state != "Z" and (started is None or began <= started + 2.0)


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """(state letter, start as Unix time) of a process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        with open("/proc/stat") as handle:
            boot = next(float(line.split()[1]) for line in handle if line.startswith("btime"))
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _column_value(status: TaskStatus, column: str) -> Any:
    value = getattr(status, column)
    return value.value if isinstance(value, TaskState) else value
