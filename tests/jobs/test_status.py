"""`opt-data status` and `opt-data queue` on a lake and progress store made by a real run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from update_harness import EVENING, SYMBOLS, make_settings

from opt_data.clock import FakeClock
from opt_data.jobs.update import run_update
from opt_data.progress import ProgressStore
from opt_data.sim.scenario import PacingStorm, Scenario
from opt_data.sim.testing import running_simulator


def _cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IB_", "OPT_DATA_"))}
    return subprocess.run(
        [sys.executable, "-m", "opt_data.cli", "--config", str(workdir / "opt-data.toml"), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(name="queued", scope="module")
def _queued(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run where MSFT hit a pacing storm and went to the manual queue."""
    workdir = tmp_path_factory.mktemp("status")
    storm = PacingStorm(count=3, classes=("sec_def",), symbols=("MSFT",))
    with running_simulator(
        now=EVENING, symbols=SYMBOLS, scenario=Scenario(pacing_storms=(storm,))
    ) as sim:
        settings = make_settings(workdir, sim.port)
        run_update(
            settings, symbols=list(SYMBOLS), run_id="20261120T230000Z-abcdef", clock=FakeClock()
        )
    return workdir


def test_status_shows_counts_queue_and_partitions(queued: Path) -> None:
    """The runbook's weekly check: tasks by status, the queue, partitions and sizes."""
    result = _cli(queued, "status")
    assert result.returncode == 0, result.stderr
    assert "update     done          2" in result.stdout
    assert "needs manual handling: 1" in result.stdout and "MSFT" in result.stdout
    assert "clean/options" in result.stdout and "2 partitions" in result.stdout


def test_queue_retry_then_the_next_run_collects_it(queued: Path) -> None:
    """queue retry puts MSFT back to pending; the next update collects only MSFT."""
    listed = _cli(queued, "queue", "list")
    assert "MSFT" in listed.stdout and "needs_manual" in listed.stdout
    retried = _cli(queued, "queue", "retry", "--symbols", "MSFT")
    assert retried.returncode == 0, retried.stderr
    assert "1 task(s) back to pending" in retried.stdout
    record = ProgressStore(queued / "state").get("update", EVENING.date(), "MSFT")
    assert record is not None and record.status == "pending" and record.consecutive_failures == 0
    with running_simulator(now=EVENING, symbols=SYMBOLS) as sim:
        settings = make_settings(queued, sim.port)
        result = run_update(settings, symbols=list(SYMBOLS), run_id="20261120T233000Z-abcdef")
        assert sim.stats.requests("contract_details", "AAPL") == 0
    assert result.outcomes == {"AAPL": "skipped", "MSFT": "done", "JPM": "skipped"}
    assert _cli(queued, "queue", "list").stdout.strip() == "the queue is empty"


def test_queue_retry_of_nothing_names_what_was_asked(queued: Path) -> None:
    """Retrying a symbol that is not queued is refused with the selection named (exit 2)."""
    result = _cli(queued, "queue", "retry", "--symbols", "XOM")
    assert result.returncode == 2
    assert "symbols XOM" in result.stderr
