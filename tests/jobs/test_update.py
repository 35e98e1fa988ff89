"""The daily update against the simulator, with the real IB client, files read back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest
from update_harness import EVENING, SYMBOLS

from opt_data import schema
from opt_data.clock import FakeClock
from opt_data.config import Settings
from opt_data.jobs.update import UpdateResult, run_update
from opt_data.progress import ProgressStore
from opt_data.sim.scenario import ConnectivityLoss, Disconnect, Missing, PacingStorm, Scenario
from opt_data.sim.testing import SimHandle, running_simulator
from opt_data.storage.writer import read_dataset

TRADE_DATE = EVENING.date()


def _run(settings: Settings, **kwargs: object) -> UpdateResult:
    return run_update(settings, symbols=list(SYMBOLS), run_id="20261120T230000Z-abcdef", **kwargs)  # type: ignore[arg-type]


def _clean(settings: Settings) -> list[dict[str, object]]:
    table = read_dataset(settings.paths.data, schema.OPTIONS).to_table()
    return sorted(table.to_pylist(), key=lambda r: (r["underlying_symbol"], r["con_id"]))


@pytest.mark.parametrize("library", ["ib_insync", "ib_async"])
def test_full_run_matches_the_simulated_market(
    sim: SimHandle, settings_for: Callable[..., Settings], library: str
) -> None:
    """Every clean row carries the simulator's closing quote, IV, Greeks and OI; no violation."""
    settings = settings_for(sim.port, library=library)
    result = _run(settings)
    assert result.exit_code == 0, result.errors
    assert result.outcomes == dict.fromkeys(SYMBOLS, "done")
    rows = _clean(settings)
    assert {r["underlying_symbol"] for r in rows} == set(SYMBOLS)
    assert len(rows) == result.rows == 3 * 16
    for row in rows:
        inst = sim.market.instrument(row["con_id"])  # type: ignore[arg-type]
        assert inst is not None
        truth = sim.market.option_state(inst, EVENING)
        quote = truth.quote
        # IB sends a price without size as −1 "no quote": NULL plus no_bid in clean data
        assert row["bid_eod"] == (quote.bid if quote.bid_size > 0 else None)
        assert row["ask_eod"] == (quote.ask if quote.ask_size > 0 else None)
        assert ("no_bid" in row["qa_flags"]) == (quote.bid_size <= 0)
        assert row["open_interest"] == truth.open_interest
        assert row["implied_volatility"] == pytest.approx(truth.model_greeks.implied_vol)
        assert row["delta"] == pytest.approx(truth.model_greeks.delta)
        assert row["strike"] == inst.strike and row["option_type"] == inst.right
        assert row["expiration"] == inst.expiry and row["occ_symbol"] == inst.local_symbol
        assert row["quote_date"] == TRADE_DATE
        assert row["open_interest_asof"] == dt.date(2026, 11, 19)
        assert row["market_data_type"] == 2  # frozen after the close
        assert row["nonstandard"] == inst.nonstandard, (inst, row["root"])
        assert set(row["qa_flags"]) <= {"no_bid", "no_ask", "nonstandard"}
    assert sim.stats.violations() == 0


def test_files_are_read_by_duckdb_with_real_types(
    sim: SimHandle, settings_for: Callable[..., Settings]
) -> None:
    """DuckDB reads the lake with no opt-data code: dates are DATE, ids BIGINT, prices DOUBLE."""
    settings = settings_for(sim.port)
    _run(settings)
    source = f"{settings.paths.data}/clean/options/**/*.parquet"
    con = duckdb.connect()
    types = dict(
        con.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
            f"read_parquet('{source}', hive_partitioning=true))"
        ).fetchall()
    )
    assert types["quote_date"] == "DATE" and types["con_id"] == "BIGINT"
    assert types["strike"] == "DOUBLE" and types["expiration"] == "DATE"
    count = con.execute(f"SELECT count(*) FROM read_parquet('{source}')").fetchone()
    assert count == (48,)
    ledger = read_dataset(settings.paths.data, schema.CHAINS).to_table()
    assert ledger.num_rows > 48  # every listed contract of the chosen expiries, not just 48


def test_rerun_is_a_no_op_and_leaves_identical_files(
    sim: SimHandle, settings_for: Callable[..., Settings]
) -> None:
    """A second run skips done symbols: the same files, byte for byte, and no new requests."""
    settings = settings_for(sim.port)
    _run(settings)
    files = {p: p.read_bytes() for p in Path(settings.paths.data).rglob("*.parquet")}
    requests_before = sim.stats.requests("contract_details")
    second = _run(settings)
    assert second.status == "nothing_to_do" and second.exit_code == 0
    assert {p: p.read_bytes() for p in Path(settings.paths.data).rglob("*.parquet")} == files
    assert sim.stats.requests("contract_details") == requests_before


def test_missing_greeks_and_oi_still_write_rows_with_flags(
    settings_for: Callable[..., Settings],
) -> None:
    """Contracts without Greeks/OI are written with NULLs and reason flags, visible to QA."""
    scenario = Scenario(missing=Missing(greeks_share=0.3, oi_share=0.3))
    with running_simulator(now=EVENING, symbols=SYMBOLS, scenario=scenario) as sim:
        settings = settings_for(sim.port, timeout=0.5)
        result = _run(settings)
        assert sim.stats.violations() == 0
    assert result.exit_code == 0
    table = read_dataset(settings.paths.data, schema.OPTIONS).to_table()
    assert table.num_rows == 48
    no_iv = table.filter(pc.is_null(table["implied_volatility"]))
    no_oi = table.filter(pc.is_null(table["open_interest"]))
    assert 0 < no_iv.num_rows < 48 and 0 < no_oi.num_rows < 48
    assert all("greeks_missing" in f for f in no_iv["qa_flags"].to_pylist())
    assert all("oi_missing" in f for f in no_oi["qa_flags"].to_pylist())
    # the rest of each row is still there: quotes of contracts that lack Greeks
    assert pc.count(no_iv["ask_eod"]).as_py() == no_iv.num_rows


def test_pacing_storm_waits_30_then_60_and_queues_after_3(
    settings_for: Callable[..., Settings],
) -> None:
    """Three pacing violations in a row: waits of 30 s and 60 s, then needs_manual; the rest
    of the run goes on."""
    storm = PacingStorm(count=100, classes=("sec_def",), symbols=("MSFT",))
    with running_simulator(
        now=EVENING, symbols=SYMBOLS, scenario=Scenario(pacing_storms=(storm,))
    ) as sim:
        settings = settings_for(sim.port)
        clock = FakeClock()
        result = _run(settings, clock=clock)
        assert sim.stats.violations() == 0
    assert result.outcomes == {"AAPL": "done", "MSFT": "needs_manual", "JPM": "done"}
    assert result.exit_code == 1
    assert [s for s in clock.sleeps if s >= 30] == [30.0, 60.0]
    record = ProgressStore(settings.paths.state).get("update", TRADE_DATE, "MSFT")
    assert record is not None and record.status == "needs_manual"
    assert record.consecutive_failures == 3


def test_unknown_symbol_is_recorded_once_and_not_retried(
    settings_for: Callable[..., Settings],
) -> None:
    """200 for a symbol: failed (terminal), the others done, and a rerun does not ask again."""
    with running_simulator(
        now=EVENING, symbols=SYMBOLS, scenario=Scenario(unknown_symbols=("JPM",))
    ) as sim:
        settings = settings_for(sim.port)
        first = _run(settings)
        asked = sim.stats.requests("contract_details", "JPM")
        second = _run(settings)
        assert sim.stats.requests("contract_details", "JPM") == asked
        assert sim.stats.violations() == 0
    assert first.outcomes["JPM"] == "failed" and first.exit_code == 1
    assert second.outcomes["JPM"] == "failed"
    record = ProgressStore(settings.paths.state).get("update", TRADE_DATE, "JPM")
    assert record is not None and record.error_kind == "terminal"


@pytest.mark.parametrize("library", ["ib_insync", "ib_async"])
def test_disconnect_mid_run_reconnects_and_completes(
    settings_for: Callable[..., Settings], library: str
) -> None:
    """The gateway drops the socket mid-run: the job reconnects and every symbol is done."""
    scenario = Scenario(disconnect=Disconnect(after_messages=80))
    with running_simulator(now=EVENING, symbols=SYMBOLS, scenario=scenario) as sim:
        settings = settings_for(sim.port, library=library)
        result = _run(settings)
        assert sim.stats.violations() == 0
        assert sim.stats.snapshot()["disconnects"] >= 1
    assert result.outcomes == dict.fromkeys(SYMBOLS, "done"), result.errors
    rows = _clean(settings)
    assert len(rows) == 48
    assert len({r["con_id"] for r in rows}) == 48


def test_early_close_day_collects_after_13_00_with_half_day_flag(
    settings_for: Callable[..., Settings],
) -> None:
    """The day after Thanksgiving closes at 13:00: a 14:00 run collects and flags half_day."""
    after_early_close = dt.datetime(2026, 11, 27, 14, 0, tzinfo=EVENING.tzinfo)
    with running_simulator(now=after_early_close, symbols=SYMBOLS) as sim:
        settings = settings_for(sim.port)
        result = run_update(settings, symbols=["AAPL"], run_id="20261127T190000Z-abcdef")
        assert sim.stats.violations() == 0
    assert result.outcomes == {"AAPL": "done"} and result.trade_date == dt.date(2026, 11, 27)
    rows = _clean(settings)
    assert rows and all("half_day" in r["qa_flags"] for r in rows)
    assert all(r["market_data_type"] == 2 for r in rows)  # closed at 13:00: frozen


@pytest.mark.parametrize("restore", ["data_lost", "data_kept"])
def test_connectivity_loss_1100_then_restored_leaves_no_holes(
    settings_for: Callable[..., Settings], restore: str
) -> None:
    """1100 mid-run, then 1101/1102: streams in flight are redone, no row is a timeout."""
    loss = ConnectivityLoss(after_messages=70, duration_seconds=0.5, restore=restore)  # type: ignore[arg-type]
    with running_simulator(
        now=EVENING, symbols=SYMBOLS, scenario=Scenario(connectivity=loss)
    ) as sim:
        settings = settings_for(sim.port)
        result = _run(settings)
        assert sim.stats.errors(1100) == 1
        assert sim.stats.violations() == 0
    assert result.outcomes == dict.fromkeys(SYMBOLS, "done"), result.errors
    rows = _clean(settings)
    assert len(rows) == 48
    assert not [r for r in rows if "timeout" in r["qa_flags"] or "ib_error" in r["qa_flags"]]


def test_discovery_asks_once_per_class_and_month_and_keeps_only_the_window(
    sim: SimHandle, settings_for: Callable[..., Settings]
) -> None:
    """Contract details cost one message per trading class and month, not per expiry, and
    the month's expiries beyond the window stay out of the chain ledger."""
    settings = settings_for(sim.port)  # max_dte = 30: 2026-11-20 … 2026-12-20
    _run(settings)
    window = {}
    for chain in sim.market.chain_params("AAPL", TRADE_DATE):
        for text in chain.expirations:
            expiry = dt.datetime.strptime(text, "%Y%m%d").date()
            if 0 <= (expiry - TRADE_DATE).days <= 30:
                window.setdefault((chain.trading_class, text[:6]), set()).add(expiry)
    assert sum(len(expiries) for expiries in window.values()) > len(window)  # months share
    qualify = 1
    assert sim.stats.requests("contract_details", "AAPL") == qualify + len(window)
    ledger = read_dataset(settings.paths.data, schema.CHAINS).to_table()
    aapl = ledger.filter(pc.equal(ledger["symbol"], "AAPL"))
    listed = set(aapl["expiration"].to_pylist())
    assert listed == set().union(*window.values())
