"""The ``python -m opt_data.sim`` and ``opt-data sim`` processes: ready line, shutdown, flags."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ib_async
import ib_insync
import pytest
from sim_client import TIMEOUT, wait_ticker

from opt_data.sim.runner import market_symbols, read_universe


@contextmanager
def _running(
    tmp_path: Path, *extra: str, command: Sequence[str] = ("opt_data.sim",)
) -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    """``python -m COMMAND``, its host and port; killed if still running; stderr in stderr.txt."""
    with (
        (tmp_path / "stderr.txt").open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", *command, "--port", "0", *extra],
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


OPT_DATA_SIM = ("opt_data.cli", "--log-format", "console", "sim")


@pytest.mark.slow
def test_cli_lines_flag_refuses_the_line_after_the_last(tmp_path: Path) -> None:
    """``opt-data sim --lines 5``: five streams tick, the sixth gets 101 (ib_insync client);
    the startup log names the limits in force, the rate following the lines (IB: 50/s)."""
    symbols = ["SPY", "QQQ", "AAPL", "MSFT", "NVDA", "AMZN"]
    args = ["--now", "2024-01-05T11:00:00-05:00", "--symbols", ",".join(symbols)]
    args += ["--lines", "5", "--snapshot-seconds", "2.5"]

    async def client(host: str, port: int) -> list[tuple[int, str]]:
        ib = ib_insync.IB()
        await ib.connectAsync(host, port, clientId=1, timeout=TIMEOUT)
        refused: list[tuple[int, str]] = []
        errored = asyncio.Event()

        def on_error(req_id: int, code: int, text: str, contract: Any) -> None:
            refused.append((code, contract.symbol if contract else ""))
            errored.set()

        ib.errorEvent += on_error
        try:
            tickers = [
                ib.reqMktData(ib_insync.Stock(s, "SMART", "USD"), "", False, False) for s in symbols
            ]
            await asyncio.wait_for(errored.wait(), TIMEOUT)
            for ticker in tickers[:5]:
                await wait_ticker(ticker, lambda t: t.bid == t.bid)  # not NaN: streaming
        finally:
            ib.disconnect()
        return refused

    with _running(tmp_path, *args, command=OPT_DATA_SIM) as (proc, host, port):
        refused = asyncio.run(client(host, port))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert refused == [(101, "AMZN")]
    (listening,) = [
        line
        for line in (tmp_path / "stderr.txt").read_text().splitlines()
        if "sim_listening" in line
    ]
    for field in ("market_data_lines=5", "messages_per_second=50", "snapshot_seconds=2.5"):
        assert field in listening


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


def test_module_entry_point_takes_the_limit_flags_too() -> None:
    """``python -m opt_data.sim`` accepts what ``opt-data sim`` does; a bad value exits 2."""
    from opt_data.sim.__main__ import parse

    options = parse(["--lines", "200", "--snapshot-seconds", "2.5"])
    assert options.limits.market_data_lines == 200
    assert options.limits.rate == 100  # follows the lines
    assert options.limits.snapshot_seconds == 2.5
    assert parse(["--rate", "7"]).limits.rate == 7
    for bad in (["--lines", "0"], ["--rate", "x"], ["--snapshot-seconds", "inf"]):
        with pytest.raises(SystemExit) as exit_info:
            parse(bad)
        assert exit_info.value.code == 2
