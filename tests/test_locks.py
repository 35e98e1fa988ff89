"""Job locks: one run per job, a clear message naming the holder, freed by the OS on kill -9."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opt_data.errors import ConfigError, LockHeldError
from opt_data.locks import job_lock, lock_path, read_holder

T0 = dt.datetime(2026, 3, 2, 22, 0, tzinfo=dt.UTC)


def test_holder_details_are_written_while_held(tmp_path: Path) -> None:
    """The lock file says which run holds it; it is emptied on release."""
    with job_lock(tmp_path, "update", "run-7", now=lambda: T0) as holder:
        path = lock_path(tmp_path, "update")
        assert path == tmp_path / "locks" / "update.lock"
        recorded = json.loads(path.read_text())
        assert recorded == {
            "job": "update",
            "run_id": "run-7",
            "pid": os.getpid(),
            "host": holder.host,
            "started_at": "2026-03-02T22:00:00+00:00",
        }
        assert read_holder(tmp_path, "update") == holder
    assert path.read_text() == ""
    assert read_holder(tmp_path, "update") is None


def test_second_run_is_refused_with_the_holders_details(tmp_path: Path) -> None:
    """A second lock of the same job fails fast, naming run id, pid and start time."""
    with job_lock(tmp_path, "compact", "run-1", now=lambda: T0):
        with pytest.raises(LockHeldError) as info, job_lock(tmp_path, "compact", "run-2"):
            pass  # pragma: no cover - never entered
        message = str(info.value)
        assert "run run-1" in message
        assert f"pid {os.getpid()}" in message
        assert "since 2026-03-02T22:00:00+00:00" in message
        # Other jobs are independent.
        with job_lock(tmp_path, "update", "run-3"):
            pass
    with job_lock(tmp_path, "compact", "run-2"):
        pass


def test_an_exception_releases_the_lock(tmp_path: Path) -> None:
    """Leaving the block by an error frees the lock for the next run."""
    with pytest.raises(RuntimeError), job_lock(tmp_path, "backfill", "r1"):
        raise RuntimeError("boom")
    with job_lock(tmp_path, "backfill", "r2") as holder:
        assert holder.run_id == "r2"


@pytest.mark.parametrize("job", ["", "../x", "Update", "a b"])
def test_job_names_must_be_safe_file_names(tmp_path: Path, job: str) -> None:
    """A job name cannot escape state/locks/."""
    with pytest.raises(ConfigError, match="cannot name a lock file"), job_lock(tmp_path, job, "r"):
        pass  # pragma: no cover - never entered


HOLDER = textwrap.dedent(
    """
    import sys
    from opt_data.locks import job_lock
    with job_lock(sys.argv[1], "update", "child-run"):
        print("locked", flush=True)
        sys.stdin.readline()  # hold until killed
    """
)


def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    """kill -9 of the holder: the kernel drops its flock and the next run gets the lock."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stdout.readline() == "locked\n"
        held = rf"run child-run \(pid {child.pid} on "
        with pytest.raises(LockHeldError, match=held), job_lock(tmp_path, "update", "parent-run"):
            pass  # pragma: no cover - never entered
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    # The dead run's details are still in the file, but they no longer block anyone.
    stale = read_holder(tmp_path, "update")
    assert stale is not None and stale.run_id == "child-run"
    with job_lock(tmp_path, "update", "parent-run") as holder:
        assert read_holder(tmp_path, "update") == holder
