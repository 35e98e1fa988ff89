"""Historical bars, cancel, head timestamp: IB's answers and IB's 162 texts."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from sim_client import TIMEOUT, connected, near_options, watch_errors

from opt_data.sim.instruments import Instrument
from opt_data.sim.limits import SimLimits
from opt_data.sim.scenario import Latency, Scenario
from opt_data.sim.testing import SimHandle, running_simulator

EST = dt.timezone(dt.timedelta(hours=-5))
NOW = dt.datetime(2024, 1, 5, 17, 0, tzinfo=EST)  # Friday evening
END = dt.datetime(2024, 1, 5, 16, 0, tzinfo=EST)  # a fixed end: answers are reproducible
HMDS = "Historical Market Data Service error message:"
EOD_TEXT = HMDS + "No data of type EODChart is available"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(now=NOW) as handle:
        yield handle


def _stock(ib_lib: ModuleType, sim: SimHandle, symbol: str = "SPY") -> Any:
    inst = sim.market.stock(symbol)
    assert inst is not None
    return ib_lib.Stock(symbol, "SMART", "USD", conId=inst.con_id)


def _near_option(sim: SimHandle) -> Instrument:
    return near_options(sim, NOW, "C")[0]


def _option(ib_lib: ModuleType, inst: Instrument) -> Any:
    return ib_lib.Contract(conId=inst.con_id, exchange="SMART")


async def _bars(ib: Any, contract: Any, bar_size: str, duration: str, what: str, **kw: Any) -> Any:
    return await ib.reqHistoricalDataAsync(
        contract,
        endDateTime=kw.pop("end", END),
        durationStr=duration,
        barSizeSetting=bar_size,
        whatToShow=what,
        useRTH=True,
        timeout=kw.pop("timeout", TIMEOUT),
        **kw,
    )


@pytest.mark.parametrize(
    ("what", "bar_size", "duration"),
    [
        ("TRADES", "1 day", "1 M"),
        ("MIDPOINT", "1 hour", "2 D"),
        ("BID", "30 mins", "1 D"),
        ("ASK", "1 min", "3600 S"),
        ("BID_ASK", "1 hour", "1 D"),
        ("OPTION_IMPLIED_VOLATILITY", "1 day", "1 M"),
        ("HISTORICAL_VOLATILITY", "1 day", "1 M"),
    ],
)
def test_stock_bars_match_the_market(
    ib_lib: ModuleType, sim: SimHandle, what: str, bar_size: str, duration: str
) -> None:
    spy = sim.market.stock("SPY")
    assert spy is not None
    want = sim.market.bars(
        spy,
        end=END,
        duration=duration,
        bar_size=bar_size,
        what_to_show=what,
        use_rth=True,
        now=NOW,
    )

    async def main() -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            return list(await _bars(ib, _stock(ib_lib, sim), bar_size, duration, what))

    got = asyncio.run(main())
    assert len(got) == len(want) > 0
    assert [b.close for b in got] == pytest.approx([b.close for b in want])
    assert [b.barCount for b in got] == [b.count for b in want]
    first = got[0].date
    if bar_size == "1 day":
        assert first == want[0].start  # a date
    else:
        assert first == want[0].start  # an aware datetime, the same instant


@pytest.mark.parametrize("bar_size", ["8 hours", "1 hour"])
def test_option_intraday_bars_work(ib_lib: ModuleType, sim: SimHandle, bar_size: str) -> None:
    inst = _near_option(sim)

    async def main() -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            return list(await _bars(ib, _option(ib_lib, inst), bar_size, "5 D", "MIDPOINT"))

    bars = asyncio.run(main())
    assert len(bars) > 0
    if bar_size == "8 hours":
        assert len(bars) <= 2 * 5  # two UTC-aligned bars per US session


def test_daily_option_bars_fail_with_the_eodchart_162(ib_lib: ModuleType, sim: SimHandle) -> None:
    inst = _near_option(sim)

    async def main() -> tuple[list[Any], list[tuple[int, int, str]]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            bars = await _bars(ib, _option(ib_lib, inst), "1 day", "1 Y", "TRADES")
            return list(bars), errors.seen

    bars, seen = asyncio.run(main())
    assert bars == []
    assert len(seen) == 1
    assert seen[0][1] == 162
    assert seen[0][2].startswith(EOD_TEXT)


def test_implied_volatility_bars_of_an_option_fail_with_162(
    ib_lib: ModuleType, sim: SimHandle
) -> None:
    inst = _near_option(sim)

    async def main() -> list[int]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            contract = _option(ib_lib, inst)
            assert (
                list(await _bars(ib, contract, "1 hour", "1 D", "OPTION_IMPLIED_VOLATILITY")) == []
            )
            return errors.codes()

    assert asyncio.run(main()) == [162]


def test_head_timestamp_holds_a_slot_until_the_client_cancels(ib_lib: ModuleType) -> None:
    """Own simulator: head timestamps fall under the 15 s identical-request rule."""

    async def main(sim: SimHandle) -> tuple[Any, Any]:
        async with connected(ib_lib, sim) as ib:
            contract = _stock(ib_lib, sim)
            naive = await asyncio.wait_for(
                ib.reqHeadTimeStampAsync(contract, "TRADES", True, 1), TIMEOUT
            )
            aware = await asyncio.wait_for(
                ib.reqHeadTimeStampAsync(contract, "TRADES", True, 2), TIMEOUT
            )
            # Both clients cancel right after the answer; a round trip flushes that cancel.
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
            return naive, aware

    with running_simulator(now=NOW) as sim:
        spy = sim.market.stock("SPY")
        assert spy is not None
        want = sim.market.head_timestamp(spy, "TRADES", now=NOW)
        naive, aware = asyncio.run(main(sim))
        assert sim.stats.open_historical == 0
        assert sim.stats.peak_open_historical == 1
    assert naive == want.astimezone(dt.UTC).replace(tzinfo=None)  # formatDate 1: UTC, naive
    assert aware == want


def test_cancel_of_an_unknown_historical_query_answers_366(
    ib_lib: ModuleType, sim: SimHandle
) -> None:
    async def main() -> list[tuple[int, int, str]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            ib.client.cancelHistoricalData(777)
            await errors.wait_for(366)
            return errors.seen

    assert asyncio.run(main()) == [(777, 366, "No historical data query found for ticker id:777")]


def test_client_timeout_cancels_a_slow_query_with_162_cancelled(ib_lib: ModuleType) -> None:
    """The client gives up (its timeout) and cancels; IB confirms with 162 "cancelled"."""
    slow = Scenario(latency=Latency(fixed_ms=2000, classes=("historical",)))

    async def main(sim: SimHandle) -> tuple[list[Any], list[tuple[int, int, str]]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            bars = await _bars(ib, _stock(ib_lib, sim), "1 hour", "1 D", "TRADES", timeout=0.2)
            await errors.wait_for(162)
            return list(bars), errors.seen

    with running_simulator(now=NOW, scenario=slow) as sim:
        bars, seen = asyncio.run(main(sim))
        assert sim.stats.open_historical == 0
    assert bars == []
    ((req_id, code, text),) = seen
    assert code == 162
    assert text == f"{HMDS}API historical data query cancelled: {req_id}"


def test_keep_up_to_date_sends_updates_and_holds_a_slot(ib_lib: ModuleType) -> None:
    limits = SimLimits(keep_up_to_date_seconds=0.05)
    during = dt.datetime(2024, 1, 5, 11, 0, tzinfo=EST)

    async def main(sim: SimHandle) -> tuple[int, int]:
        async with connected(ib_lib, sim) as ib:
            bars = await ib.reqHistoricalDataAsync(
                _stock(ib_lib, sim),
                endDateTime="",
                durationStr="3600 S",
                barSizeSetting="1 min",
                whatToShow="TRADES",
                useRTH=True,
                keepUpToDate=True,
                timeout=TIMEOUT,
            )
            first = len(bars)

            async def updated() -> None:
                while True:
                    _, has_new = await bars.updateEvent
                    if has_new:
                        return

            sim.clock.advance(dt.timedelta(minutes=2))  # the market moves on a minute or two
            await asyncio.wait_for(updated(), TIMEOUT)
            open_now = sim.stats.open_historical
            ib.cancelHistoricalData(bars)
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
            return first, open_now

    with running_simulator(now=during, limits=limits) as sim:
        first, open_during = asyncio.run(main(sim))
        assert sim.stats.open_historical == 0
    assert first > 0
    assert open_during == 1


def test_expired_option_has_no_history(ib_lib: ModuleType) -> None:
    """Days after expiry: 200 without includeExpired, IB's 166 with it."""
    with running_simulator(now=NOW) as sim:
        listed = sim.market.options("SPY", sim.market.session_of(NOW))
        first = min(listed, key=lambda o: o.expiry or dt.date.max)
        assert first.expiry is not None
        days = (first.expiry - NOW.date()).days + 3

        async def main() -> list[int]:
            async with connected(ib_lib, sim) as ib:
                errors = watch_errors(ib)
                sim.clock.advance(dt.timedelta(days=days))
                contract = _option(ib_lib, first)
                assert list(await _bars(ib, contract, "1 hour", "1 D", "MIDPOINT", end="")) == []
                contract.includeExpired = True
                assert list(await _bars(ib, contract, "1 hour", "1 D", "MIDPOINT", end="")) == []
                return errors.codes()

        assert asyncio.run(main()) == [200, 166]
