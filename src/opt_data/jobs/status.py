"""`opt-data status` and `opt-data queue`: what the progress store and the lake hold.

The runbook's weekly check (partition counts and file sizes under ``data/raw`` and
``data/clean``) and its recovery steps (find the failed symbol/date, retry it) read from
here; the CLI only renders.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from opt_data.errors import ConfigError
from opt_data.progress import ProgressRecord, ProgressStore, Status
from opt_data.schema import DATASETS


@dataclass(frozen=True, slots=True)
class DatasetUsage:
    """Partitions, files and bytes of one dataset."""

    zone: str
    name: str
    partitions: int
    files: int
    bytes: int
    first_date: str | None
    last_date: str | None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The outcome of one earlier run, read from its JSON-lines log."""

    path: Path
    command: str
    run_id: str
    started: str
    exit_code: int | None  # None: the run has no run_finished/run_failed line (killed)


@dataclass(frozen=True, slots=True)
class LakeStatus:
    """Everything `opt-data status` shows."""

    counts: dict[tuple[str, str], int]
    queue: list[ProgressRecord]
    failed: list[ProgressRecord]
    runs: list[RunSummary]
    datasets: list[DatasetUsage]


def dataset_usage(data_root: Path) -> list[DatasetUsage]:
    """Partition and file counts and sizes per dataset (only ``*.parquet``, never temp files)."""
    out = []
    for spec in DATASETS.values():
        base = data_root / spec.zone / spec.name
        files = sorted(base.glob("date=*/underlying=*/*.parquet")) if base.is_dir() else []
        dates = sorted({f.parent.parent.name.removeprefix("date=") for f in files})
        out.append(
            DatasetUsage(
                zone=spec.zone,
                name=spec.name,
                partitions=len({f.parent for f in files}),
                files=len(files),
                bytes=sum(f.stat().st_size for f in files),
                first_date=dates[0] if dates else None,
                last_date=dates[-1] if dates else None,
            )
        )
    return out


def recent_runs(state_dir: Path, limit: int = 10) -> list[RunSummary]:
    """The latest run logs, newest first, with how each ended."""
    logs = sorted((state_dir / "run_logs").glob("*.jsonl"), reverse=True)[:limit]
    out = []
    for path in logs:
        command = run_id = started = ""
        exit_code: int | None = None
        for line in path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill
            if event.get("event") == "run_started":
                command = str(event.get("command", ""))
                run_id = str(event.get("run_id", ""))
                started = str(event.get("timestamp", ""))
            elif event.get("event") in ("run_finished", "run_failed", "run_crashed"):
                exit_code = int(event.get("exit_code", 1))
        out.append(RunSummary(path, command, run_id, started, exit_code))
    return out


def status(data_root: Path, state_dir: Path) -> LakeStatus:
    store = ProgressStore(state_dir)
    records = store.records()
    return LakeStatus(
        counts={(job, str(st)): n for (job, st), n in sorted(store.counts().items())},
        queue=[r for r in records if r.status is Status.NEEDS_MANUAL],
        failed=[r for r in records if r.status is Status.FAILED],
        runs=recent_runs(state_dir),
        datasets=dataset_usage(data_root),
    )


def _matching(
    store: ProgressStore,
    job: str | None,
    day: dt.date | None,
    symbols: Sequence[str],
    statuses: tuple[Status, ...],
) -> list[ProgressRecord]:
    found = [
        r
        for r in store.records(job=job)
        if r.status in statuses
        and (day is None or r.date == day)
        and (not symbols or r.symbol in symbols)
    ]
    if not found:
        what = ", ".join(
            part
            for part in (
                f"job {job}" if job else "",
                f"date {day}" if day else "",
                f"symbols {','.join(symbols)}" if symbols else "",
            )
            if part
        )
        states = "/".join(str(s) for s in statuses)
        raise ConfigError(f"no {states} task matches {what or 'the queue'}")
    return found


def change_queue(
    state_dir: Path,
    action: Literal["retry", "drop"],
    *,
    job: str | None,
    day: dt.date | None,
    symbols: Sequence[str],
) -> list[ProgressRecord]:
    """Queued or failed tasks → pending (``retry``: the next run of their job picks them up)
    or → skipped (``drop``: a human decided they will not be collected)."""
    store = ProgressStore(state_dir)
    chosen = _matching(store, job, day, symbols, (Status.NEEDS_MANUAL, Status.FAILED))
    with store.transaction() as tx:
        change = tx.retry if action == "retry" else tx.drop
        return [change(r.job, r.date, r.symbol) for r in chosen]
