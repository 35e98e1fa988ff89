"""The ``python -m opt_data.sim`` process: ready line, SIGINT/SIGTERM shutdown, stats file."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ib_async
import pytest

from opt_data.sim.runner import market_symbols, read_universe


@contextmanager
def _running(tmp_path: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    """The simulator process, its host and port; killed if still running at the end."""
    with (
        (tmp_path / "stderr.txt").open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "opt_data.sim", "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=tmp_path,
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # blocks until the port is bound (or it died)
            assert line.startswith("listening on "), line
            host, port = line.removeprefix("listening on ").strip().rsplit(":", 1)
            yield proc, host, int(port)
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serves_until_signalled_then_writes_stats(tmp_path: Path, sig: signal.Signals) -> None:
    stats_file = tmp_path / "stats.json"
    args = ["--now", "2024-01-05T17:00:00-05:00", "--symbols", "SPY,AAPL"]

    async def client(host: str, port: int) -> None:
        ib = ib_async.IB()
        await ib.connectAsync(host, port, clientId=1, timeout=5)
        try:
            details = await asyncio.wait_for(
                ib.reqContractDetailsAsync(ib_async.Stock("AAPL", "SMART", "USD")), 5
            )
            assert len(details) == 1
        finally:
            ib.disconnect()

    with _running(tmp_path, *args, "--stats-file", str(stats_file)) as (proc, host, port):
        asyncio.run(client(host, port))
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    stats = json.loads(stats_file.read_text())
    assert stats["requests_by_symbol"] == {"AAPL": {"contract_details": 1}}
    assert stats["sessions"] == 1
    assert stats["violations_total"] == 0


@pytest.mark.slow
def test_bad_scenario_exits_2_with_the_key_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[latency]\nfixed = 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "opt_data.sim", "--port", "0", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"{bad}: latency: unknown key(s) fixed" in result.stderr
    assert result.stdout == ""


def test_universe_symbols_are_listed_as_ib_spells_them(tmp_path: Path) -> None:
    csv_file = tmp_path / "universe.csv"
    csv_file.write_text("symbol,name,ib_symbol\nBRK.B,Berkshire,BRK B\nZTS,Zoetis,\n")
    universe = read_universe(csv_file)
    assert universe == {"BRK.B": "BRK B", "ZTS": "ZTS"}
    listed = market_symbols(None, universe)
    assert listed[-2:] == ("BRK B", "ZTS")
    assert "SPY" in listed  # the defaults stay
    assert market_symbols(("BRK.B", "MSFT"), universe) == ("BRK B", "MSFT")
    assert read_universe(tmp_path / "missing.csv") == {}
