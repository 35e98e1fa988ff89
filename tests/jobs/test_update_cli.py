"""`opt-data update` as a user runs it: a real subprocess against the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from update_harness import EVENING, NEW_YORK, make_settings

from opt_data import schema
from opt_data.locks import job_lock
from opt_data.progress import ProgressStore
from opt_data.sim.scenario import ClientIdInUse, Scenario
from opt_data.sim.testing import running_simulator
from opt_data.storage.writer import read_dataset

MANY = ("AAPL", "MSFT", "JPM", "NVDA", "AMZN", "XOM")
VOLATILE = ("run_id", "snapshot_ts", "received_at", "discovered_at")


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IB_", "OPT_DATA_"))}
    return env | {"IB_PORT": str(port), "IB_CLIENT_ID": "7", "NO_COLOR": "1"}


def _cmd(workdir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "opt_data.cli",
        "--config",
        str(workdir / "opt-data.toml"),
        "--log-format",
        "json",
        *args,
    ]


def _update(workdir: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd(workdir, "update", *args),
        cwd=workdir,
        env=_env(port),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _stable(root: Path, spec: schema.DatasetSpec) -> list[dict[str, object]]:
    table: pa.Table = read_dataset(root, spec).to_table()
    keep = [c for c in table.column_names if c not in VOLATILE]
    return sorted(table.select(keep).to_pylist(), key=lambda r: json.dumps(r, default=str))


def test_kill_9_mid_run_then_rerun_gives_the_uninterrupted_rows(tmp_path: Path) -> None:
    """kill -9 after the first symbol is stored; the rerun fetches only what was not done and
    the lake equals an uninterrupted run's, row for row."""
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    killed.mkdir(), reference.mkdir()
    symbols = ",".join(MANY)
    with running_simulator(now=EVENING, symbols=MANY) as sim:
        settings = make_settings(killed, sim.port)
        with subprocess.Popen(
            _cmd(killed, "update", "--symbols", symbols),
            cwd=killed,
            env=_env(sim.port),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        ) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:  # wait on the event itself: the first symbol marked done
                if '"symbol_done"' in line:
                    proc.send_signal(signal.SIGKILL)
                    break
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        store = ProgressStore(settings.paths.state)
        done = {r.symbol for r in store.records(job="update") if r.status == "done"}
        assert done and done != set(MANY), "the kill must land mid-run"
        asked = {s: sim.stats.requests("contract_details", s) for s in done}

        rerun = _update(killed, sim.port, "--symbols", symbols)
        assert rerun.returncode == 0, rerun.stderr
        assert {s: sim.stats.requests("contract_details", s) for s in done} == asked

        make_settings(reference, sim.port)
        assert _update(reference, sim.port, "--symbols", symbols).returncode == 0
        assert sim.stats.violations() == 0
    for spec in (schema.OPTIONS, schema.CHAINS, schema.UNDERLYING_QUOTES):
        assert _stable(killed / "data", spec) == _stable(reference / "data", spec)
    assert not list((killed / "data").rglob("*.tmp"))


def test_weekend_says_so_writes_nothing_and_exits_0(tmp_path: Path) -> None:
    """Saturday: the gateway's date is no session; nothing is written, exit 0."""
    import datetime as dt

    saturday = dt.datetime(2026, 11, 21, 17, 0, tzinfo=NEW_YORK)
    with running_simulator(now=saturday, symbols=MANY) as sim:
        make_settings(tmp_path, sim.port)
        result = _update(tmp_path, sim.port, "--symbols", "AAPL")
    assert result.returncode == 0, result.stderr
    assert "not an XNYS trading session" in result.stdout
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").rglob("*.parquet"))


def test_before_the_close_exits_2_naming_the_close(tmp_path: Path) -> None:
    """15:00 on a session: refused with the close time, no traceback, nothing written."""
    import datetime as dt

    afternoon = dt.datetime(2026, 11, 20, 15, 0, tzinfo=NEW_YORK)
    with running_simulator(now=afternoon, symbols=MANY) as sim:
        make_settings(tmp_path, sim.port)
        result = _update(tmp_path, sim.port, "--symbols", "AAPL")
    assert result.returncode == 2
    assert "closes at 16:00" in result.stderr and "Traceback" not in result.stderr


def test_client_id_in_use_names_ib_client_id(tmp_path: Path) -> None:
    """326 from the gateway: a clear message naming IB_CLIENT_ID, exit 1, no traceback."""
    scenario = Scenario(client_id_in_use=ClientIdInUse(client_ids=(7,)))
    with running_simulator(now=EVENING, symbols=MANY, scenario=scenario) as sim:
        make_settings(tmp_path, sim.port)
        result = _update(tmp_path, sim.port, "--symbols", "AAPL")
    assert result.returncode == 1
    assert "IB_CLIENT_ID" in result.stderr and "Traceback" not in result.stderr


def test_second_run_at_once_names_the_lock_holder(tmp_path: Path) -> None:
    """While another run holds the update lock, a second one says which and exits 3."""
    with running_simulator(now=EVENING, symbols=MANY) as sim:
        settings = make_settings(tmp_path, sim.port)
        with job_lock(settings.paths.state, "update", "20261120T220000Z-0a0b0c"):
            result = _update(tmp_path, sim.port, "--symbols", "AAPL")
    assert result.returncode == 3
    assert "20261120T220000Z-0a0b0c" in result.stderr


@pytest.mark.parametrize("bad", ["--date=2026-13-01", "--symbols=AAPL,$$$"])
def test_bad_arguments_exit_2_naming_the_value(tmp_path: Path, bad: str) -> None:
    """A malformed date or symbol is refused before connecting, naming the value."""
    make_settings(tmp_path, 1)
    result = _update(tmp_path, 1, bad)
    assert result.returncode == 2
    assert bad.split("=", 1)[1].split(",")[-1] in result.stderr
    assert "Traceback" not in result.stderr
