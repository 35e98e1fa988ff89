"""The progress store: task lifecycle, the manual queue, batching, corruption and concurrency."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opt_data.errors import ConfigError, ProgressError
from opt_data.progress import PROGRESS_SCHEMA, ErrorKind, ProgressStore, Status

DAY = dt.date(2026, 3, 2)
T0 = dt.datetime(2026, 3, 2, 22, 0, tzinfo=dt.UTC)


class Ticker:
    """A wall clock that moves one second per reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> ProgressStore:
    return ProgressStore(tmp_path / "state", now=Ticker())


class TestLifecycle:
    def test_empty_store(self, store: ProgressStore) -> None:
        """Before any change there is no file and nothing to report."""
        assert store.get("backfill", DAY, "AAPL") is None
        assert store.records() == []
        assert store.counts() == {}
        assert not store.path.exists()

    def test_start_then_done(self, store: ProgressStore) -> None:
        """start → running with one attempt; done → rows recorded, created_at kept."""
        started = store.start("backfill", DAY, "AAPL", "run-1")
        assert (started.status, started.attempts, started.run_id) == (Status.RUNNING, 1, "run-1")
        finished = store.done("backfill", DAY, "AAPL", rows=812, run_id="run-1")
        assert (finished.status, finished.rows, finished.attempts) == (Status.DONE, 812, 1)
        assert finished.created_at == started.created_at < finished.updated_at
        assert store.get("backfill", DAY, "AAPL") == finished
        assert store.path == store.path.parent / "backfill_progress.parquet"

    def test_three_transient_failures_go_to_the_manual_queue(self, store: ProgressStore) -> None:
        """Runbook: after 3 consecutive failures the task needs manual handling."""
        statuses = []
        for attempt in range(3):
            store.start("update", DAY, "MSFT", f"run-{attempt}")
            record = store.failed("update", DAY, "MSFT", "162 pacing violation", retryable=True)
            statuses.append((record.status, record.consecutive_failures))
        assert statuses == [(Status.FAILED, 1), (Status.FAILED, 2), (Status.NEEDS_MANUAL, 3)]
        (queued,) = store.queue()
        assert (queued.symbol, queued.attempts, queued.last_error) == (
            "MSFT",
            3,
            "162 pacing violation",
        )
        assert queued.error_kind is ErrorKind.TRANSIENT
        assert not queued.is_runnable

    def test_retry_and_drop(self, store: ProgressStore) -> None:
        """queue retry → pending with a fresh streak; queue drop → skipped."""
        for _ in range(3):
            store.failed("update", DAY, "MSFT", "timeout", retryable=True)
        retried = store.retry("update", DAY, "MSFT")
        assert (retried.status, retried.consecutive_failures) == (Status.PENDING, 0)
        assert retried.is_runnable
        assert (
            store.failed("update", DAY, "MSFT", "timeout", retryable=True).status is Status.FAILED
        )
        dropped = store.drop("update", DAY, "MSFT")
        assert dropped.status is Status.SKIPPED and not dropped.is_runnable
        with pytest.raises(ConfigError, match="no progress record for job=update"):
            store.retry("update", DAY, "NOPE")

    def test_terminal_errors_are_not_retried_forever(self, store: ProgressStore) -> None:
        """An unknown symbol fails once, terminally, and is not runnable again."""
        record = store.failed(
            "backfill", DAY, "ZZZZ", "200 no security definition", retryable=False
        )
        assert (record.status, record.error_kind) == (Status.FAILED, ErrorKind.TERMINAL)
        assert not record.is_runnable
        transient = store.failed("backfill", DAY, "AAPL", "1100 connectivity", retryable=True)
        assert transient.is_runnable

    def test_success_resets_the_failure_streak(self, store: ProgressStore) -> None:
        """Two failures, a success, then a failure: the streak starts again at 1."""
        store.failed("update", DAY, "AAPL", "x", retryable=True)
        store.failed("update", DAY, "AAPL", "x", retryable=True)
        done = store.done("update", DAY, "AAPL", rows=1, run_id="r")
        assert (done.consecutive_failures, done.last_error, done.error_kind) == (0, None, None)
        again = store.failed("update", DAY, "AAPL", "x", retryable=True)
        assert (again.status, again.consecutive_failures) == (Status.FAILED, 1)

    def test_needs_manual_directly(self, store: ProgressStore) -> None:
        """A job can queue a task for a human at once."""
        store.needs_manual("update", DAY, "AAPL", "chain changed shape")
        assert [r.symbol for r in store.queue("update")] == ["AAPL"]
        assert store.queue("backfill") == []

    def test_jobs_share_the_file_but_not_records(self, store: ProgressStore) -> None:
        """update and backfill keep separate records for the same date and symbol."""
        store.done("update", DAY, "AAPL", rows=10, run_id="u")
        store.start("backfill", DAY, "AAPL", "b")
        store.add_pending("backfill", DAY + dt.timedelta(days=1), "AAPL")
        assert store.counts() == {
            ("update", Status.DONE): 1,
            ("backfill", Status.RUNNING): 1,
            ("backfill", Status.PENDING): 1,
        }
        assert [(r.job, r.date) for r in store.records(job="backfill")] == [
            ("backfill", DAY),
            ("backfill", DAY + dt.timedelta(days=1)),
        ]
        assert [r.job for r in store.records(status="done")] == ["update"]

    def test_add_pending_keeps_existing_records(self, store: ProgressStore) -> None:
        """Planning again does not reset a task that already ran."""
        store.done("backfill", DAY, "AAPL", rows=5, run_id="r")
        assert store.add_pending("backfill", DAY, "AAPL").status is Status.DONE

    def test_bad_keys_and_parameters(self, store: ProgressStore) -> None:
        """Empty names, datetimes and a zero failure limit are refused."""
        with pytest.raises(ConfigError):
            store.start("", DAY, "AAPL", "r")
        with pytest.raises(TypeError):
            store.start("update", dt.datetime(2026, 3, 2), "AAPL", "r")
        with pytest.raises(ConfigError, match="max_consecutive"):
            store.failed("update", DAY, "AAPL", "x", retryable=True, max_consecutive=0)

    def test_naive_clock_is_refused(self, tmp_path: Path) -> None:
        """updated_at is UTC; a naive clock is a bug."""
        store = ProgressStore(tmp_path, now=lambda: dt.datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="aware"):
            store.start("update", DAY, "AAPL", "r")


class TestBatchingAndFile:
    def test_a_transaction_writes_once_or_not_at_all(self, store: ProgressStore) -> None:
        """Many changes, one rewrite; an exception inside writes nothing."""
        symbols = [f"S{i:03d}" for i in range(40)]
        with store.transaction() as txn:
            for symbol in symbols:
                txn.start("backfill", DAY, symbol, "r")
            # More than 16 lookups: the transaction switches to its hash index.
            for symbol in symbols:
                txn.done("backfill", DAY, symbol, rows=len(symbol), run_id="r")
        first = store.path.stat().st_ino
        records = store.records(job="backfill")
        assert [(r.symbol, r.status, r.attempts) for r in records] == [
            (s, Status.DONE, 1) for s in symbols
        ]
        with pytest.raises(RuntimeError), store.transaction() as txn:
            txn.drop("backfill", DAY, "S000")
            raise RuntimeError("abort")
        assert store.path.stat().st_ino == first
        assert store.get("backfill", DAY, "S000").status is Status.DONE  # type: ignore[union-attr]

    def test_index_lookups_match_column_lookups(self, store: ProgressStore) -> None:
        """After the switch to the hash index, lookups still find (and miss) the right keys."""
        with store.transaction() as txn:
            for i in range(30):
                txn.done("update", DAY + dt.timedelta(days=i), "AAPL", rows=i, run_id="r")
        with store.transaction() as txn:
            rows = [txn.get("update", DAY + dt.timedelta(days=i), "AAPL") for i in range(30)]
            assert [r.rows for r in rows if r is not None] == list(range(30))
            assert txn.get("update", DAY, "MSFT") is None

    def test_get_many_reads_one_job_and_date_by_symbol(self, store: ProgressStore) -> None:
        """A run's plan in one read: only that job and date, missing symbols left out."""
        with store.transaction() as txn:
            txn.done("update", DAY, "AAPL", rows=5, run_id="r")
            txn.start("update", DAY, "MSFT", run_id="r")
            txn.done("update", DAY + dt.timedelta(days=1), "JPM", rows=1, run_id="r")
            txn.done("backfill", DAY, "JPM", rows=2, run_id="r")
        got = store.get_many("update", DAY, ["AAPL", "MSFT", "JPM", "XOM"])
        assert {symbol: record.status for symbol, record in got.items()} == {
            "AAPL": Status.DONE,
            "MSFT": Status.RUNNING,
        }
        assert got["AAPL"] == store.get("update", DAY, "AAPL")
        assert store.get_many("update", DAY, []) == {}

    def test_file_is_plain_parquet_for_duckdb(self, store: ProgressStore) -> None:
        """Operators can query the progress file directly (runbook: find the breakpoint)."""
        store.failed("backfill", DAY, "AAPL", "162 pacing", retryable=True)
        assert pq.read_schema(store.path).names == PROGRESS_SCHEMA.names
        with duckdb.connect() as con:
            row = con.execute(
                f"SELECT job, date, status, last_error FROM read_parquet('{store.path}')"
            ).fetchone()
        assert row == ("backfill", DAY, "failed", "162 pacing")


class TestBrokenFiles:
    def corrupt(self, store: ProgressStore, write: Callable[[Path], None], match: str) -> None:
        store.path.parent.mkdir(parents=True, exist_ok=True)
        write(store.path)
        before = store.path.read_bytes()
        for action in (
            lambda: store.get("update", DAY, "AAPL"),
            lambda: store.start("update", DAY, "AAPL", "r"),
        ):
            with pytest.raises(ProgressError, match=match) as info:
                action()
            assert str(store.path) in str(info.value)
            assert "move it aside" in str(info.value)
        assert store.path.read_bytes() == before

    def test_garbage_bytes(self, store: ProgressStore) -> None:
        """A torn or foreign file is reported, never reset."""
        self.corrupt(store, lambda p: p.write_bytes(b"PAR1 not really"), "is unreadable")

    def test_wrong_schema(self, store: ProgressStore) -> None:
        """A Parquet file with other columns is reported with what is missing."""
        self.corrupt(
            store,
            lambda p: pq.write_table(pa.table({"job": ["x"]}), p),
            r"unexpected schema .*'attempts'",
        )

    def test_unknown_status(self, store: ProgressStore) -> None:
        """A status outside the lifecycle is reported by value."""
        store.done("update", DAY, "AAPL", rows=1, run_id="r")
        table = pq.read_table(store.path)
        table = table.set_column(3, "status", pa.array(["finished"]))

        self.corrupt(store, lambda p: pq.write_table(table, p), r"unknown status .*'finished'")

    def test_missing_required_value(self, store: ProgressStore) -> None:
        """A null in a required column is reported by column."""
        store.done("update", DAY, "AAPL", rows=1, run_id="r")
        table = pq.read_table(store.path)
        table = table.set_column(4, pa.field("attempts", pa.int32()), pa.array([None], pa.int32()))
        self.corrupt(store, lambda p: pq.write_table(table, p), "required column 'attempts'")


# ---------------------------------------------------------------------------------------------
# Several processes (real ones).

WORKER = textwrap.dedent(
    """
    import datetime as dt, sys
    from opt_data.progress import ProgressStore
    state, job, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = ProgressStore(state)
    print("ready", flush=True)
    sys.stdin.readline()  # wait for "go", so both workers really overlap
    if job == "reader":  # lock-free reads while the others write: always a whole file
        for _ in range(count * 8):
            store.counts()
            store.records(status="running")
        sys.exit(0)
    for i in range(count):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=i)
        store.start(job, day, "AAPL", job)
        store.done(job, day, "AAPL", rows=i, run_id=job)
    """
)


def test_two_processes_never_lose_each_others_updates(tmp_path: Path) -> None:
    """update and backfill hammer the same file at once: every change survives, and a
    lock-free reader meanwhile never sees a broken file."""
    count = 25
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, str(tmp_path), job, str(count)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            for job in ("update", "backfill", "reader")
        ]
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.close()
        for worker in workers:
            assert worker.wait(timeout=60) == 0
    assert ProgressStore(tmp_path).counts() == {
        ("update", Status.DONE): count,
        ("backfill", Status.DONE): count,
    }


KILLED_WRITER = textwrap.dedent(
    """
    import datetime as dt, os, pathlib, signal, sys
    from opt_data.progress import ProgressStore

    def die(self, target):
        os.kill(os.getpid(), signal.SIGKILL)

    pathlib.Path.replace = die  # dies holding the lock, with the new file not yet published
    ProgressStore(sys.argv[1]).done("update", dt.date(2026, 3, 2), "AAPL", rows=99, run_id="k")
    """
)


def test_kill_during_a_write_keeps_the_old_file_and_frees_the_lock(tmp_path: Path) -> None:
    """kill -9 mid-write: previous state intact, and the next writer is not blocked."""
    store = ProgressStore(tmp_path)
    store.start("update", DAY, "AAPL", "r1")
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], capture_output=True, timeout=60
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert store.get("update", DAY, "AAPL").status is Status.RUNNING  # type: ignore[union-attr]
    assert store.done("update", DAY, "AAPL", rows=3, run_id="r1").status is Status.DONE
