"""The progress store: one record per (job, date, symbol), and the manual-handling queue.

The store is ``state/backfill_progress.parquet`` (the runbook's file), shared by every job
through its ``job`` column. Each record says where a task stands:

``pending`` → ``running`` → ``done``; or ``failed`` (transient: retried by the next run;
terminal, e.g. unknown symbol: kept, never retried automatically); after
``max_consecutive`` transient failures in a row (3, runbook) → ``needs_manual`` (the queue);
``queue retry`` → ``pending``; ``queue drop`` → ``skipped``.

Durability and concurrency. Every change is a read-modify-write of the whole file under an
exclusive ``fcntl.flock`` on ``state/backfill_progress.lock``, published with the atomic
temp + fsync + rename of ``storage.atomic``: two processes (``update`` and ``backfill``) never
lose each other's changes, and a kill at any moment leaves the previous or the new file, never
a torn one. Readers take no lock; they always see a complete file. Group many changes into one
rewrite with ``transaction()``. The data partition is written *before* its task is marked
done, so a crash in between repeats work (harmlessly: partition writes replace) but never
loses it.

A progress file that cannot be read, or does not have the expected shape, raises
``ProgressError`` naming the file, the problem and how to recover; it is never reset silently.
"""

from __future__ import annotations

import datetime as dt
import fcntl
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opt_data.errors import ConfigError, ProgressError
from opt_data.storage.atomic import make_dirs_durable, write_table_atomic

FILE_NAME = "backfill_progress.parquet"
LOCK_NAME = "backfill_progress.lock"
MAX_CONSECUTIVE_FAILURES = 3


class Status(StrEnum):
    """Where a task stands."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    NEEDS_MANUAL = "needs_manual"
    SKIPPED = "skipped"


class ErrorKind(StrEnum):
    """Whether the last error is worth retrying (``OptDataError.retryable``)."""

    TRANSIENT = "transient"
    TERMINAL = "terminal"


PROGRESS_SCHEMA = pa.schema(
    [
        pa.field("job", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("consecutive_failures", pa.int32(), nullable=False),
        pa.field("last_error", pa.string()),
        pa.field("error_kind", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("run_id", pa.string()),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

Key = tuple[str, dt.date, str]


@dataclass(frozen=True, slots=True)
class ProgressRecord:
    """One task's progress."""

    job: str
    date: dt.date
    symbol: str
    status: Status
    attempts: int
    consecutive_failures: int
    last_error: str | None
    error_kind: ErrorKind | None
    rows: int | None
    run_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def key(self) -> Key:
        """``(job, date, symbol)``."""
        return (self.job, self.date, self.symbol)

    @property
    def is_runnable(self) -> bool:
        """Pending, interrupted (left ``running`` by a crash) or failed with a transient error.

        Done, skipped, queued (``needs_manual``) and terminal failures are not picked up again
        automatically.
        """
        if self.status is Status.FAILED:
            return self.error_kind is not ErrorKind.TERMINAL
        return self.status in (Status.PENDING, Status.RUNNING)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_string(key: Key) -> str:
    job, date, symbol = key
    return f"{job}\x1f{date.isoformat()}\x1f{symbol}"


def _key_strings(table: pa.Table) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(
        table.column("job"),
        pc.cast(table.column("date"), pa.string()),
        table.column("symbol"),
        "\x1f",
    )


def _check_key(job: str, date: dt.date, symbol: str) -> Key:
    if not job or not symbol:
        raise ConfigError(f"a progress key needs a job and a symbol, got {job!r}, {symbol!r}")
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise TypeError(f"progress dates are session dates (datetime.date), got {date!r}")
    return (job, date, symbol)


def _record_from_row(row: dict[str, Any]) -> ProgressRecord:
    kind = row["error_kind"]
    return ProgressRecord(
        job=row["job"],
        date=row["date"],
        symbol=row["symbol"],
        status=Status(row["status"]),
        attempts=row["attempts"],
        consecutive_failures=row["consecutive_failures"],
        last_error=row["last_error"],
        error_kind=None if kind is None else ErrorKind(kind),
        rows=row["rows"],
        run_id=row["run_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _table_from_records(records: list[ProgressRecord]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in PROGRESS_SCHEMA.names}
    for record in records:
        for name in PROGRESS_SCHEMA.names:
            columns[name].append(getattr(record, name))
    return pa.Table.from_pydict(columns, schema=PROGRESS_SCHEMA)


class _Snapshot:
    """One validated version of the file, with lookups that stay columnar.

    A few lookups filter the table column by column (milliseconds even at 10^6 records);
    a transaction that looks up many keys (planning a backfill) builds a hash index once.
    """

    _INDEX_AFTER = 16

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._lookups = 0
        self._index: dict[str, int] | None = None

    def positions(self, keys: Collection[Key]) -> list[int]:
        """Row numbers of the records with these keys."""
        table = self.table
        if not keys or table.num_rows == 0:
            return []
        # Cheap column-wise prefilter, then the exact key check on the few candidates.
        mask = pc.and_(
            pc.and_(
                pc.is_in(table.column("job"), value_set=pa.array({k[0] for k in keys})),
                pc.is_in(table.column("symbol"), value_set=pa.array({k[2] for k in keys})),
            ),
            pc.is_in(table.column("date"), value_set=pa.array({k[1] for k in keys}, pa.date32())),
        )
        candidates = pc.indices_nonzero(mask.combine_chunks())
        wanted = {_key_string(key) for key in keys}
        found_keys = _key_strings(table.take(candidates)).to_pylist()
        return [
            position
            for position, key in zip(candidates.to_pylist(), found_keys, strict=True)
            if key in wanted
        ]

    def find(self, key: Key) -> ProgressRecord | None:
        """The record with this key, if any."""
        self._lookups += 1
        if self._index is None and self._lookups > self._INDEX_AFTER:
            keys = _key_strings(self.table).to_pylist()
            self._index = {key: position for position, key in enumerate(keys)}
        if self._index is not None:
            position = self._index.get(_key_string(key))
        else:
            found = self.positions([key])
            position = found[0] if found else None
        if position is None:
            return None
        return _record_from_row(self.table.slice(position, 1).to_pylist()[0])

    def without(self, keys: Collection[Key]) -> pa.Table:
        """The table minus the records with these keys."""
        drop = self.positions(keys)
        if not drop:
            return self.table
        keep = np.ones(self.table.num_rows, dtype=bool)
        keep[drop] = False
        return self.table.filter(pa.array(keep))


def _load(path: Path) -> _Snapshot:
    """Read and validate the progress file; a missing file is an empty store."""

    def broken(problem: str) -> ProgressError:
        return ProgressError(
            f"progress file {path} {problem}. Nothing was changed. To recover, move it aside "
            f"(mv {path} {path}.broken) and run again: every task then starts over as pending, "
            f"which is safe because partition writes replace rows and never duplicate them; "
            f"the manual queue and done markers in the old file are lost unless you restore them."
        )

    try:
        # One open file for footer and pages: readers take no lock, and a writer may rename a
        # new version over the path at any moment; the open handle keeps reading the old one.
        with path.open("rb") as handle:
            table = pq.read_table(handle)
    except FileNotFoundError:
        return _Snapshot(PROGRESS_SCHEMA.empty_table())
    except (OSError, pa.ArrowException) as exc:
        raise broken(f"is unreadable ({exc})") from exc
    expected = [(f.name, f.type) for f in PROGRESS_SCHEMA]
    actual = [(f.name, f.type) for f in table.schema]
    if actual != expected:
        missing = sorted({n for n, _ in expected} - {n for n, _ in actual})
        raise broken(f"has an unexpected schema (missing or changed columns: {missing or actual})")
    for field in PROGRESS_SCHEMA:
        if not field.nullable and table.column(field.name).null_count:
            raise broken(f"has empty values in the required column {field.name!r}")
    # Same types, but a hand-written file may lack the not-null flags that concat needs.
    table = table.cast(PROGRESS_SCHEMA)
    for column, allowed in (("status", Status), ("error_kind", ErrorKind)):
        seen = {v for v in pc.unique(table.column(column)).to_pylist() if v is not None}
        unknown = seen - {member.value for member in allowed}
        if unknown:
            raise broken(f"has unknown {column} value(s) {sorted(unknown)}")
    # Duplicate keys are not checked here (it would double the cost of every change); this
    # module never writes them, and a hand-edited duplicate is merged by the next change to it.
    return _Snapshot(table)


class ProgressTransaction:
    """Changes made inside ``ProgressStore.transaction()``: all written at once, or none."""

    def __init__(self, snapshot: _Snapshot, now: dt.datetime) -> None:
        self._snapshot = snapshot
        self._now = now
        self.changed: dict[Key, ProgressRecord] = {}

    def get(self, job: str, date: dt.date, symbol: str) -> ProgressRecord | None:
        """The record as this transaction sees it (its own changes included)."""
        key = _check_key(job, date, symbol)
        if key in self.changed:
            return self.changed[key]
        return self._snapshot.find(key)

    def _current(self, key: Key) -> ProgressRecord:
        existing = self.get(*key)
        if existing is not None:
            return existing
        return ProgressRecord(
            job=key[0],
            date=key[1],
            symbol=key[2],
            status=Status.PENDING,
            attempts=0,
            consecutive_failures=0,
            last_error=None,
            error_kind=None,
            rows=None,
            run_id=None,
            created_at=self._now,
            updated_at=self._now,
        )

    def _existing(self, key: Key) -> ProgressRecord:
        record = self.get(*key)
        if record is None:
            job, date, symbol = key
            raise ConfigError(f"no progress record for job={job} date={date} symbol={symbol}")
        return record

    def _put(self, record: ProgressRecord, **changes: Any) -> ProgressRecord:
        updated = replace(record, updated_at=self._now, **changes)
        self.changed[updated.key] = updated
        return updated

    def add_pending(self, job: str, date: dt.date, symbol: str) -> ProgressRecord:
        """Plan a task: create it as pending; an existing record is returned unchanged."""
        key = _check_key(job, date, symbol)
        existing = self.get(*key)
        return existing if existing is not None else self._put(self._current(key))

    def start(self, job: str, date: dt.date, symbol: str, run_id: str) -> ProgressRecord:
        """→ running; one more attempt, by ``run_id``."""
        record = self._current(_check_key(job, date, symbol))
        return self._put(record, status=Status.RUNNING, attempts=record.attempts + 1, run_id=run_id)

    def done(self, job: str, date: dt.date, symbol: str, rows: int, run_id: str) -> ProgressRecord:
        """→ done with ``rows`` written; clears the failure streak and the last error."""
        record = self._current(_check_key(job, date, symbol))
        return self._put(
            record,
            status=Status.DONE,
            rows=rows,
            run_id=run_id,
            consecutive_failures=0,
            last_error=None,
            error_kind=None,
        )

    def failed(
        self,
        job: str,
        date: dt.date,
        symbol: str,
        error: str,
        *,
        retryable: bool,
        max_consecutive: int = MAX_CONSECUTIVE_FAILURES,
    ) -> ProgressRecord:
        """Record a failure: terminal → failed (never retried automatically); transient →
        failed, or needs_manual once ``max_consecutive`` failures happened in a row."""
        if max_consecutive < 1:
            raise ConfigError(f"max_consecutive must be at least 1, got {max_consecutive}")
        record = self._current(_check_key(job, date, symbol))
        streak = record.consecutive_failures + 1
        if not retryable:
            status, kind = Status.FAILED, ErrorKind.TERMINAL
        else:
            kind = ErrorKind.TRANSIENT
            status = Status.NEEDS_MANUAL if streak >= max_consecutive else Status.FAILED
        return self._put(
            record, status=status, consecutive_failures=streak, last_error=error, error_kind=kind
        )

    def needs_manual(self, job: str, date: dt.date, symbol: str, error: str) -> ProgressRecord:
        """→ needs_manual directly (a job that knows a human must look)."""
        record = self._current(_check_key(job, date, symbol))
        return self._put(record, status=Status.NEEDS_MANUAL, last_error=error)

    def retry(self, job: str, date: dt.date, symbol: str) -> ProgressRecord:
        """→ pending with a fresh failure streak (``queue retry``); the last error is kept."""
        record = self._existing(_check_key(job, date, symbol))
        return self._put(record, status=Status.PENDING, consecutive_failures=0, error_kind=None)

    def drop(self, job: str, date: dt.date, symbol: str) -> ProgressRecord:
        """→ skipped: never run again unless retried (``queue drop``)."""
        record = self._existing(_check_key(job, date, symbol))
        return self._put(record, status=Status.SKIPPED)


class ProgressStore:
    """``state/backfill_progress.parquet`` and its lock, under ``state_dir``.

    Each mutating method is its own transaction; use ``transaction()`` to batch.
    """

    def __init__(self, state_dir: str | Path, *, now: Callable[[], dt.datetime] = _utc_now) -> None:
        self._dir = Path(state_dir)
        self._now = now

    @property
    def path(self) -> Path:
        """The progress file."""
        return self._dir / FILE_NAME

    @property
    def lock_path(self) -> Path:
        """The file locked (flock) during every read-modify-write."""
        return self._dir / LOCK_NAME

    @contextmanager
    def transaction(self) -> Iterator[ProgressTransaction]:
        """Lock, read, let the caller change records, write once (nothing if it raises)."""
        try:
            make_dirs_durable(self._dir)
            lock = self.lock_path.open("a+b")
        except OSError as exc:
            raise ProgressError(f"cannot use the state directory {self._dir}: {exc}") from exc
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                # Read the clock under the lock, so updated_at follows the order of the writes.
                now = self._now()
                if now.tzinfo is None:
                    raise ValueError("the progress clock must return aware (UTC) datetimes")
                snapshot = _load(self.path)
                txn = ProgressTransaction(snapshot, now.astimezone(dt.UTC))
                yield txn
                if txn.changed:
                    self._write(snapshot, txn.changed)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _write(self, snapshot: _Snapshot, changed: dict[Key, ProgressRecord]) -> None:
        kept = snapshot.without(changed.keys())
        table = pa.concat_tables([kept, _table_from_records(list(changed.values()))])
        write_table_atomic(table, self.path, dictionary_columns=("job", "status", "error_kind"))

    # Reads: no lock needed, the file is always complete.

    def get(self, job: str, date: dt.date, symbol: str) -> ProgressRecord | None:
        """The record of one task, or None if it was never planned or run."""
        return _load(self.path).find(_check_key(job, date, symbol))

    def get_many(
        self, job: str, date: dt.date, symbols: Collection[str]
    ) -> dict[str, ProgressRecord]:
        """The records of many symbols of one job and date, by symbol, from one read (a run
        plans all its symbols at once; one ``get`` each would read the file each time)."""
        snapshot = _load(self.path)
        positions = snapshot.positions([_check_key(job, date, symbol) for symbol in symbols])
        rows = snapshot.table.take(pa.array(positions, pa.int64())).to_pylist()
        return {row["symbol"]: _record_from_row(row) for row in rows}

    def records(
        self, job: str | None = None, status: Status | str | None = None
    ) -> list[ProgressRecord]:
        """Records, optionally of one job and/or one status, ordered by job, date, symbol."""
        table = _load(self.path).table
        if job is not None:
            table = table.filter(pc.equal(table.column("job"), job))
        if status is not None:
            table = table.filter(pc.equal(table.column("status"), Status(status).value))
        table = table.sort_by(
            [("job", "ascending"), ("date", "ascending"), ("symbol", "ascending")]
        )
        return [_record_from_row(row) for row in table.to_pylist()]

    def queue(self, job: str | None = None) -> list[ProgressRecord]:
        """The "needs manual handling" queue."""
        return self.records(job=job, status=Status.NEEDS_MANUAL)

    def counts(self) -> dict[tuple[str, Status], int]:
        """Number of records per (job, status)."""
        table = _load(self.path).table
        grouped = table.group_by(["job", "status"]).aggregate([("symbol", "count")])
        return {
            (row["job"], Status(row["status"])): row["symbol_count"] for row in grouped.to_pylist()
        }

    # Single-change shortcuts: one transaction each.

    def add_pending(self, job: str, date: dt.date, symbol: str) -> ProgressRecord:
        """See ``ProgressTransaction.add_pending``."""
        with self.transaction() as txn:
            return txn.add_pending(job, date, symbol)

    def start(self, job: str, date: dt.date, symbol: str, run_id: str) -> ProgressRecord:
        """See ``ProgressTransaction.start``."""
        with self.transaction() as txn:
            return txn.start(job, date, symbol, run_id)

    def done(self, job: str, date: dt.date, symbol: str, rows: int, run_id: str) -> ProgressRecord:
        """See ``ProgressTransaction.done``."""
        with self.transaction() as txn:
            return txn.done(job, date, symbol, rows, run_id)

    def failed(
        self,
        job: str,
        date: dt.date,
        symbol: str,
        error: str,
        *,
        retryable: bool,
        max_consecutive: int = MAX_CONSECUTIVE_FAILURES,
    ) -> ProgressRecord:
        """See ``ProgressTransaction.failed``."""
        with self.transaction() as txn:
            return txn.failed(
                job, date, symbol, error, retryable=retryable, max_consecutive=max_consecutive
            )

    def needs_manual(self, job: str, date: dt.date, symbol: str, error: str) -> ProgressRecord:
        """See ``ProgressTransaction.needs_manual``."""
        with self.transaction() as txn:
            return txn.needs_manual(job, date, symbol, error)

    def retry(self, job: str, date: dt.date, symbol: str) -> ProgressRecord:
        """See ``ProgressTransaction.retry``."""
        with self.transaction() as txn:
            return txn.retry(job, date, symbol)

    def drop(self, job: str, date: dt.date, symbol: str) -> ProgressRecord:
        """See ``ProgressTransaction.drop``."""
        with self.transaction() as txn:
            return txn.drop(job, date, symbol)
