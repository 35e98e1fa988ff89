"""Market data: streams with generic ticks, snapshots, cancel, data types and the close."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from sim_client import TIMEOUT, connected, near_options, wait_ticker, watch_errors

from opt_data.sim.instruments import Instrument
from opt_data.sim.limits import SimLimits
from opt_data.sim.scenario import Scenario
from opt_data.sim.testing import SimHandle, running_simulator

EST = dt.timezone(dt.timedelta(hours=-5))
OPEN = dt.datetime(2024, 1, 5, 11, 0, tzinfo=EST)  # Friday, market open
CLOSED = dt.datetime(2024, 1, 5, 17, 0, tzinfo=EST)  # the same day, after the close
FAST = SimLimits(snapshot_seconds=0.2, tick_interval_seconds=0.05)


@pytest.fixture(scope="module")
def open_sim() -> Iterator[SimHandle]:
    """One simulator during the session, shared by the tests that need nothing special."""
    with running_simulator(now=OPEN, limits=FAST) as handle:
        yield handle


def _has(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _option(sim: SimHandle, at: dt.datetime, right: str) -> Instrument:
    return near_options(sim, at, right)[0]


def _contract(ib_lib: ModuleType, inst: Instrument) -> Any:
    """A qualified contract as the client would hold it after qualifyContracts."""
    if inst.sec_type == "OPT":
        assert inst.expiry is not None
        return ib_lib.Option(
            inst.symbol,
            inst.expiry.strftime("%Y%m%d"),
            inst.strike,
            inst.right,
            "SMART",
            multiplier=str(inst.multiplier),
            currency="USD",
            localSymbol=inst.local_symbol,
            tradingClass=inst.trading_class,
            conId=inst.con_id,
        )
    return ib_lib.Stock(inst.symbol, "SMART", "USD", conId=inst.con_id)


def test_stock_stream_with_generic_ticks(ib_lib: ModuleType, open_sim: SimHandle) -> None:
    """Default ticks plus 100/101/104/106: option volume, OI, historical and implied vol."""
    sim = open_sim
    spy = sim.market.stock("SPY")
    assert spy is not None
    state = sim.market.stock_state(spy, OPEN)

    async def main() -> Any:
        async with connected(ib_lib, sim) as ib:
            ticker = ib.reqMktData(_contract(ib_lib, spy), "100,101,104,106", False, False)
            await wait_ticker(
                ticker,
                lambda t: all(
                    _has(v)
                    for v in (
                        t.bid,
                        t.ask,
                        t.last,
                        t.close,
                        t.volume,
                        t.callOpenInterest,
                        t.putOpenInterest,
                        t.histVolatility,
                        t.impliedVolatility,
                        t.callVolume,
                        t.putVolume,
                    )
                ),
            )
            ib.cancelMktData(ticker.contract)
            return ticker

    ticker = asyncio.run(main())
    assert ticker.bid < ticker.ask
    assert ticker.callOpenInterest == state.call_open_interest
    assert ticker.putOpenInterest == state.put_open_interest
    assert ticker.histVolatility == pytest.approx(state.hist_vol)
    assert ticker.impliedVolatility == pytest.approx(state.implied_vol)


@pytest.mark.parametrize("right", ["C", "P"])
def test_option_stream_has_greeks_and_open_interest(
    ib_lib: ModuleType, right: str, open_sim: SimHandle
) -> None:
    """Option computations 10-13 and OI on 27 (calls) or 28 (puts) when 101 is requested."""
    sim = open_sim
    inst = _option(sim, OPEN, right)
    state = sim.market.option_state(inst, OPEN)

    def oi(t: Any) -> Any:
        return t.callOpenInterest if right == "C" else t.putOpenInterest

    async def main() -> Any:
        async with connected(ib_lib, sim) as ib:
            ticker = ib.reqMktData(_contract(ib_lib, inst), "101", False, False)
            await wait_ticker(
                ticker,
                lambda t: (
                    t.modelGreeks is not None
                    and t.bidGreeks is not None
                    and t.askGreeks is not None
                    and _has(oi(t))
                ),
            )
            return ticker

    ticker = asyncio.run(main())
    greeks = ticker.modelGreeks
    want = state.model_greeks
    assert greeks.delta == pytest.approx(want.delta)
    assert greeks.gamma == pytest.approx(want.gamma)
    assert greeks.vega == pytest.approx(want.vega)
    assert greeks.theta == pytest.approx(want.theta)
    assert greeks.impliedVol == pytest.approx(want.implied_vol)
    assert greeks.undPrice == pytest.approx(want.und_price)
    assert greeks.pvDividend == pytest.approx(want.pv_dividend)
    assert oi(ticker) == state.open_interest
    other = ticker.putOpenInterest if right == "C" else ticker.callOpenInterest
    assert not _has(other)


def test_snapshot_ends_with_57_after_snapshot_seconds(
    ib_lib: ModuleType, open_sim: SimHandle
) -> None:
    """reqTickers (snapshot, no generic ticks) returns once tickSnapshotEnd arrives."""
    sim = open_sim
    inst = _option(sim, OPEN, "C")

    async def main() -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            return list(
                await asyncio.wait_for(ib.reqTickersAsync(_contract(ib_lib, inst)), TIMEOUT)
            )

    ends = sim.stats.snapshot()["messages_out"].get("tick_snapshot_end", 0)
    snapshots = sim.stats.requests("snapshot", "SPY")
    tickers = asyncio.run(main())
    assert sim.stats.snapshot()["messages_out"]["tick_snapshot_end"] == ends + 1
    assert sim.stats.lines_in_use == 0  # the snapshot gave its line back
    assert sim.stats.requests("snapshot", "SPY") == snapshots + 1
    assert _has(tickers[0].bid)
    assert tickers[0].modelGreeks is not None


def test_snapshot_with_generic_ticks_is_refused_with_321(
    ib_lib: ModuleType, open_sim: SimHandle
) -> None:
    sim = open_sim
    spy = sim.market.stock("SPY")
    assert spy is not None

    async def main() -> None:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            ib.reqMktData(_contract(ib_lib, spy), "101", True, False)
            await errors.wait_for(321)

    before = sim.stats.violations("snapshot_generic")
    asyncio.run(main())
    assert sim.stats.lines_in_use == 0
    assert sim.stats.violations("snapshot_generic") == before + 1


def test_cancel_of_unknown_id_answers_300(ib_lib: ModuleType, open_sim: SimHandle) -> None:
    sim = open_sim

    async def main() -> list[tuple[int, int, str]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            ib.client.cancelMktData(4242)
            await errors.wait_for(300)
            return errors.seen

    seen = asyncio.run(main())
    assert seen == [(4242, 300, "Can't find EId with tickerId:4242")]


def test_cancel_stops_the_stream_and_frees_the_line(
    ib_lib: ModuleType, open_sim: SimHandle
) -> None:
    sim = open_sim
    spy = sim.market.stock("SPY")
    assert spy is not None

    async def main() -> int:
        async with connected(ib_lib, sim) as ib:
            ticker = ib.reqMktData(_contract(ib_lib, spy), "", False, False)
            await wait_ticker(ticker, lambda t: _has(t.bid))
            ib.cancelMktData(ticker.contract)
            # A round trip after the cancel proves the server has processed it.
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
            return int(sim.stats.lines_in_use)

    assert asyncio.run(main()) == 0


def test_after_close_live_type_has_no_quotes_and_frozen_has_closing_values(
    ib_lib: ModuleType,
) -> None:
    with running_simulator(now=CLOSED, limits=FAST) as sim:
        inst = _option(sim, CLOSED, "C")
        state = sim.market.option_state(inst, CLOSED)

        async def main() -> tuple[tuple[float, float, float, int], Any]:
            async with connected(ib_lib, sim) as ib:
                live = ib.reqMktData(_contract(ib_lib, inst), "", False, False)
                await wait_ticker(live, lambda t: _has(t.bid) and _has(t.close))
                # ib_async hands out one Ticker per contract, so keep what live data said.
                seen = (live.bid, live.ask, live.close, live.marketDataType)
                ib.cancelMktData(live.contract)
                ib.reqMarketDataType(2)
                frozen = ib.reqMktData(_contract(ib_lib, inst), "", False, False)
                await wait_ticker(frozen, lambda t: t.bid > 0 and t.marketDataType == 2)
                return seen, frozen

        (bid, ask, close, data_type), frozen = asyncio.run(main())
    assert (bid, ask) == (-1, -1)
    assert close == pytest.approx(state.quote.close)
    assert data_type == 1
    assert frozen.bid == pytest.approx(state.quote.bid)
    assert frozen.ask == pytest.approx(state.quote.ask)


def test_delayed_request_with_live_subscription_gets_live_data(
    ib_lib: ModuleType, open_sim: SimHandle
) -> None:
    """IB ignores a delayed-data request when live data is available."""
    sim = open_sim
    spy = sim.market.stock("SPY")
    assert spy is not None

    async def main() -> Any:
        async with connected(ib_lib, sim) as ib:
            ib.reqMarketDataType(3)
            ticker = ib.reqMktData(_contract(ib_lib, spy), "", False, False)
            await wait_ticker(ticker, lambda t: _has(t.bid))
            return ticker

    ticker = asyncio.run(main())
    assert sim.stats.errors(10167) == 0  # no "displaying delayed data": it is live
    assert ticker.marketDataType == 1


def test_delayed_only_account_354_for_live_then_10167_and_delayed_ticks(
    ib_lib: ModuleType,
) -> None:
    scenario = Scenario(delayed_only=True)
    with running_simulator(now=OPEN, limits=FAST, scenario=scenario) as sim:
        inst = _option(sim, OPEN, "P")
        delayed_at = OPEN - dt.timedelta(minutes=FAST.delayed_minutes)
        state = sim.market.option_state(inst, delayed_at)

        async def main() -> tuple[Any, list[int]]:
            async with connected(ib_lib, sim) as ib:
                errors = watch_errors(ib)
                ib.reqMktData(_contract(ib_lib, inst), "", False, False)
                await errors.wait_for(354)
                ib.reqMarketDataType(3)
                ticker = ib.reqMktData(_contract(ib_lib, inst), "", False, False)
                await wait_ticker(ticker, lambda t: _has(t.bid) and t.modelGreeks is not None)
                await errors.wait_for(10167)
                return ticker, errors.codes()

        ticker, codes = asyncio.run(main())
        assert sim.stats.requests("market_data", "SPY") == 2
    assert codes == [354, 10167]
    assert ticker.marketDataType == 3
    assert ticker.bid == pytest.approx(state.quote.bid)  # 15 minutes old, on tick 66
    assert ticker.modelGreeks.delta == pytest.approx(state.model_greeks.delta)  # tick 83
