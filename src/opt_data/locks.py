"""One run per job at a time: ``job_lock`` on ``state/locks/<job>.lock``.

The lock is an ``fcntl.flock`` (exclusive, non-blocking) on a file that also records who holds
it (run id, pid, host, start time) as JSON. The kernel releases a flock when its holder exits
for any reason, kill -9 included, so a crashed run never leaves a stale lock behind; the
holder details it wrote stay in the file, but only a live flock means "held".

The lock file is never deleted: removing it while another process waits on it would let two
processes lock two different files of the same name.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from opt_data.errors import ConfigError, LockHeldError
from opt_data.storage.atomic import make_dirs_durable

_JOB = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds (or last held) a job lock."""

    job: str
    run_id: str
    pid: int
    host: str
    started_at: str  # ISO 8601, UTC

    def describe(self) -> str:
        """One line for messages: run, pid, host and since when."""
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.started_at})"


def lock_path(state_dir: str | Path, job: str) -> Path:
    """``<state_dir>/locks/<job>.lock``."""
    if not _JOB.fullmatch(job):
        raise ConfigError(f"job name {job!r} cannot name a lock file (use a-z, 0-9, '_', '-')")
    return Path(state_dir) / "locks" / f"{job}.lock"


def read_holder(state_dir: str | Path, job: str) -> LockHolder | None:
    """The holder details recorded in the lock file (the last holder's, if none holds it now)."""
    try:
        text = lock_path(state_dir, job).read_text(encoding="utf-8")
        return LockHolder(**json.loads(text))
    except (FileNotFoundError, ValueError, TypeError):
        # Missing, empty (released, or the holder is between lock and write) or foreign.
        return None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def job_lock(
    state_dir: str | Path,
    job: str,
    run_id: str,
    *,
    now: Callable[[], dt.datetime] = _utc_now,
) -> Iterator[LockHolder]:
    """Hold the lock of ``job`` for the duration of the block.

    Raises:
        LockHeldError: another run holds it; the message names that run, its pid, host and
            start time, and what to do.
        ConfigError: the job name cannot name a lock file.
    """
    path = lock_path(state_dir, job)
    try:
        make_dirs_durable(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"cannot create the lock file {path} (check paths.state): {exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(state_dir, job)
            who = (
                holder.describe() if holder is not None else "another run (details not written yet)"
            )
            raise LockHeldError(
                f"the {job} job is already running: {who} holds {path}. Wait for it to finish, "
                f"or stop that process; the lock frees itself when the process exits."
            ) from None
        holder = LockHolder(
            job=job,
            run_id=run_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=now().astimezone(dt.UTC).isoformat(timespec="seconds"),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode("utf-8"), 0)
        try:
            yield holder
        finally:
            # Clear the details first: an empty file plus no flock reads as "free".
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
