"""IB's limits: crossing each on purpose gives IB's error; staying under gives none."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import ModuleType
from typing import Any

from sim_client import TIMEOUT, connected, wait_disconnected, wait_ticker, watch_errors

from opt_data.sim.limits import HistKey, HistoricalPacing, MessageRate, SimLimits, is_small_bar
from opt_data.sim.scenario import Latency, Scenario
from opt_data.sim.testing import SimHandle, running_simulator

EST = dt.timezone(dt.timedelta(hours=-5))
OPEN = dt.datetime(2024, 1, 5, 11, 0, tzinfo=EST)


def _stock(ib_lib: ModuleType, sim: SimHandle, symbol: str) -> Any:
    inst = sim.market.stock(symbol)
    assert inst is not None
    return ib_lib.Stock(symbol, "SMART", "USD", conId=inst.con_id)


# --------------------------------------------------------------------------- message rate


def test_message_rate_window_unit() -> None:
    rate = MessageRate(2)
    assert [rate.admit(t) for t in (0.0, 0.1, 0.2, 1.05, 1.2)] == [True, True, False, True, True]


def test_rate_exceeded_gives_100_and_the_third_violation_closes_the_session(
    ib_lib: ModuleType,
) -> None:
    limits = SimLimits(messages_per_second=10)

    async def main(sim: SimHandle) -> list[int]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            ib.client.MaxRequests = 0  # switch the client's own throttle off
            for _ in range(20):
                ib.client.reqCurrentTime()
            await wait_disconnected(ib)
            return errors.codes()

    with running_simulator(now=OPEN, limits=limits) as sim:
        codes = asyncio.run(main(sim))
        assert sim.stats.violations("rate") == 3
        assert sim.stats.errors(100) == 3
    assert codes == [100, 100, 100]


def test_client_default_throttle_stays_under_ib_default_rate(ib_lib: ModuleType) -> None:
    """Requests at the client's own pace (45/s) never cross IB's 50/s."""

    async def main(sim: SimHandle) -> None:
        async with connected(ib_lib, sim) as ib:
            for _ in range(60):  # one at a time: the clients key currentTime by name
                await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)

    with running_simulator(now=OPEN) as sim:
        asyncio.run(main(sim))
        assert sim.stats.violations() == 0
        assert sim.stats.snapshot()["messages_in"]["req_current_time"] == 60


# --------------------------------------------------------------------------- lines


def test_more_streams_than_lines_gives_101(ib_lib: ModuleType) -> None:
    limits = SimLimits(market_data_lines=2, tick_interval_seconds=0.05)

    async def main(sim: SimHandle) -> list[tuple[int, int, str]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            first = ib.reqMktData(_stock(ib_lib, sim, "SPY"), "", False, False)
            ib.reqMktData(_stock(ib_lib, sim, "AAPL"), "", False, False)
            third = ib.reqMktData(_stock(ib_lib, sim, "QQQ"), "", False, False)
            await errors.wait_for(101)
            ib.cancelMktData(first.contract)
            again = ib.reqMktData(third.contract, "", False, False)
            await wait_ticker(again, lambda t: t.bid == t.bid)  # not NaN any more
            return errors.seen

    with running_simulator(now=OPEN, limits=limits, symbols=["SPY", "AAPL", "QQQ"]) as sim:
        seen = asyncio.run(main(sim))
        assert sim.stats.peak_lines == 2
        assert sim.stats.violations("lines") == 1
    assert [(code, text) for _, code, text in seen] == [
        (101, "Max number of tickers has been reached.")
    ]


def test_a_snapshot_holds_a_line_until_its_end(ib_lib: ModuleType) -> None:
    limits = SimLimits(market_data_lines=1, snapshot_seconds=0.3)

    async def main(sim: SimHandle) -> list[int]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            snapshot = asyncio.ensure_future(ib.reqTickersAsync(_stock(ib_lib, sim, "SPY")))
            await asyncio.sleep(0)  # one loop step: the task sends its request first
            ib.reqMktData(_stock(ib_lib, sim, "AAPL"), "", False, False)
            await errors.wait_for(101)
            await asyncio.wait_for(snapshot, TIMEOUT)
            ticker = ib.reqMktData(_stock(ib_lib, sim, "QQQ"), "", False, False)
            await wait_ticker(ticker, lambda t: t.bid == t.bid)
            return errors.codes()

    with running_simulator(now=OPEN, limits=limits, symbols=["SPY", "AAPL", "QQQ"]) as sim:
        assert asyncio.run(main(sim)) == [101]
        assert sim.stats.peak_lines == 1


# --------------------------------------------------------------------------- historical


def _hist(ib: Any, contract: Any, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "endDateTime": "",
        "durationStr": "1 D",
        "barSizeSetting": "1 hour",
        "whatToShow": "TRADES",
        "useRTH": True,
        "timeout": TIMEOUT,
    }
    args.update(kw)
    return ib.reqHistoricalDataAsync(contract, **args)


def test_more_open_historical_requests_than_allowed_gives_322(ib_lib: ModuleType) -> None:
    limits = SimLimits(max_open_historical=2)
    slow = Scenario(latency=Latency(fixed_ms=300, classes=("historical",)))

    async def main(sim: SimHandle) -> tuple[list[int], list[int]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            results = await asyncio.gather(
                *(_hist(ib, _stock(ib_lib, sim, s)) for s in ("SPY", "AAPL", "QQQ"))
            )
            return [len(r) for r in results], errors.codes()

    with running_simulator(now=OPEN, limits=limits, scenario=slow) as sim:
        sizes, codes = asyncio.run(main(sim))
        assert sim.stats.peak_open_historical == 2
        assert sim.stats.open_historical == 0
        assert sim.stats.violations("open_historical") == 1
    assert codes == [322]
    assert sorted(n > 0 for n in sizes) == [False, True, True]


def test_small_bar_pacing_window_gives_162(ib_lib: ModuleType) -> None:
    limits = SimLimits(hist_pacing_max_requests=3)

    async def main(sim: SimHandle) -> list[str]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            for symbol in ("SPY", "AAPL", "QQQ", "MSFT"):
                # Short timeout: ib_async waits out the simulator's 321 for sub-minute bars.
                contract = _stock(ib_lib, sim, symbol)
                await _hist(
                    ib, contract, barSizeSetting="5 secs", durationStr="1800 S", timeout=0.3
                )
            return [text for _, code, text in errors.seen if code == 162]

    with running_simulator(now=OPEN, limits=limits) as sim:
        texts = asyncio.run(main(sim))
        assert sim.stats.violations("hist_pacing") == 1
        assert sim.stats.requests("historical", "MSFT") == 1
    assert texts == [
        "Historical Market Data Service error message:Historical data request pacing violation"
    ]


def test_identical_small_bar_request_within_15_seconds_gives_162(ib_lib: ModuleType) -> None:
    async def main(sim: SimHandle) -> list[tuple[int, int, str]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            spy = _stock(ib_lib, sim, "SPY")
            # ib_async takes the simulator's 321 for sub-minute bars as a warning and waits
            # out the timeout, so the first request gets a short one.
            await _hist(ib, spy, barSizeSetting="30 secs", durationStr="3600 S", timeout=0.5)
            await _hist(ib, spy, barSizeSetting="30 secs", durationStr="3600 S")
            return errors.seen

    with running_simulator(now=OPEN) as sim:
        seen = asyncio.run(main(sim))
        assert sim.stats.violations("hist_pacing") == 1
    pacing = [req_id for req_id, code, text in seen if "pacing violation" in text]
    assert len(pacing) == 1
    assert pacing[0] == max(req_id for req_id, _, _ in seen)  # the second request


def test_six_small_bar_requests_for_one_contract_within_2_seconds_give_162(
    ib_lib: ModuleType,
) -> None:
    async def main(sim: SimHandle) -> list[str]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            spy = _stock(ib_lib, sim, "SPY")
            # Concurrent and distinct (durations differ), so only the same-contract rule bites;
            # short timeouts because ib_async waits out the simulator's 321 for 5-second bars.
            await asyncio.gather(
                *(
                    _hist(
                        ib,
                        spy,
                        barSizeSetting="5 secs",
                        durationStr=f"{60 * (i + 1)} S",
                        timeout=0.3,
                    )
                    for i in range(6)
                )
            )
            return [text for _, _, text in errors.seen if "pacing" in text]

    with running_simulator(now=OPEN) as sim:
        assert len(asyncio.run(main(sim))) == 1
        assert sim.stats.violations("hist_pacing") == 1


def test_minute_bars_are_not_paced(ib_lib: ModuleType) -> None:
    """Bars of 1 minute and more fall outside the hard pacing rules."""
    limits = SimLimits(hist_pacing_max_requests=1)

    async def main(sim: SimHandle) -> None:
        async with connected(ib_lib, sim) as ib:
            spy = _stock(ib_lib, sim, "SPY")
            for _ in range(3):
                assert len(await _hist(ib, spy, barSizeSetting="1 min")) > 0

    with running_simulator(now=OPEN, limits=limits) as sim:
        asyncio.run(main(sim))
        assert sim.stats.violations() == 0


def test_pacing_rules_unit() -> None:
    limits = SimLimits(hist_same_contract_max=3, hist_pacing_max_requests=100)
    pacing = HistoricalPacing(limits)

    def key(detail: str, what: str = "TRADES") -> HistKey:
        return HistKey("1", "SMART", what, detail)

    assert pacing.violation(key("a"), 0.0) is None
    assert pacing.violation(key("a"), 1.0) == "identical"
    assert pacing.violation(key("b"), 1.0) is None
    assert pacing.violation(key("c"), 1.5) == "same_contract"  # the third within 2 s
    assert pacing.violation(key("c"), 3.5) is None  # the window moved on
    assert pacing.violation(key("a"), 16.0) is None  # identical, but 16 s later
    assert pacing.violation(key("e", "BID_ASK"), 30.0) is None
    assert pacing.violation(key("f", "BID_ASK"), 30.1) == "same_contract"  # BID_ASK counts 2


def test_small_bar_sizes() -> None:
    assert [is_small_bar(b) for b in ("1 secs", "30 secs", "1 min", "1 day", "junk")] == [
        True,
        True,
        False,
        False,
        False,
    ]
