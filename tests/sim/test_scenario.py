"""Fault scenarios: each behaves as specified and as the clients expect."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sim_client import (
    TIMEOUT,
    connected,
    near_options,
    wait_disconnected,
    wait_ticker,
    watch_errors,
)

from opt_data.sim.instruments import Instrument
from opt_data.sim.limits import SimLimits
from opt_data.sim.scenario import (
    ClientIdInUse,
    CompetingSession,
    ConnectivityLoss,
    Disconnect,
    Latency,
    Missing,
    PacingStorm,
    Scenario,
    ScenarioError,
    share_hit,
)
from opt_data.sim.testing import SimHandle, running_simulator

EST = dt.timezone(dt.timedelta(hours=-5))
OPEN = dt.datetime(2024, 1, 5, 11, 0, tzinfo=EST)
FAST = SimLimits(snapshot_seconds=0.2, tick_interval_seconds=0.05)
STARTUP_MESSAGES = 6  # positions, open orders, completed orders, account, multi, executions


def _stock(ib_lib: ModuleType, sim: SimHandle, symbol: str) -> Any:
    inst = sim.market.stock(symbol)
    assert inst is not None
    return ib_lib.Stock(symbol, "SMART", "USD", conId=inst.con_id)


def _contract(ib_lib: ModuleType, inst: Instrument) -> Any:
    return ib_lib.Contract(conId=inst.con_id, exchange="SMART")


# --------------------------------------------------------------------------- the TOML schema


def test_toml_file_with_every_fault(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(
        """
delayed_only = true
unknown_symbols = ["XYZ"]

[disconnect]
after_messages = 40
sessions = 2

[connectivity]
at = 2024-01-05T16:30:00-05:00
duration_seconds = 2.5
restore = "data_lost"

[client_id_in_use]
client_ids = [7, 8]
attempts = 1

[[pacing_storm]]
classes = ["historical"]
symbols = ["AAPL"]
count = 5

[[pacing_storm]]
count = 2
after_requests = 10

[missing]
greeks_share = 0.1
oi_share = 0.05

[latency]
fixed_ms = 20
jitter_ms = 80
classes = ["historical", "contract_details"]

[competing_session]
symbols = ["SPY"]
"""
    )
    assert Scenario.from_toml(path) == Scenario(
        disconnect=Disconnect(after_messages=40, sessions=2),
        connectivity=ConnectivityLoss(
            at=dt.datetime(2024, 1, 5, 16, 30, tzinfo=EST),
            duration_seconds=2.5,
            restore="data_lost",
        ),
        client_id_in_use=ClientIdInUse(client_ids=(7, 8), attempts=1),
        pacing_storms=(
            PacingStorm(count=5, classes=("historical",), symbols=("AAPL",)),
            PacingStorm(count=2, after_requests=10),
        ),
        missing=Missing(greeks_share=0.1, oi_share=0.05),
        latency=Latency(fixed_ms=20, jitter_ms=80, classes=("historical", "contract_details")),
        delayed_only=True,
        unknown_symbols=("XYZ",),
        competing_session=CompetingSession(symbols=("SPY",)),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[disconect]\nafter_messages = 3", "unknown key(s) disconect"),
        ("[latency]\nfixed_ms = -1", "latency.fixed_ms"),
        ("[[pacing_storm]]\nclasses = ['orders']\ncount = 1", "pacing_storm[0].classes"),
        ("[missing]\ngreeks_share = 2", "greeks_share: expected a number ≤ 1.0"),
        ("[disconnect]\nsessions = 1", "set after_messages or at"),
        ("[connectivity]\nat = 2024-01-05T16:30:00\n", "connectivity.at"),
        ("delayed_only = 'yes'", "delayed_only: expected true or false"),
    ],
)
def test_schema_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        Scenario.from_dict(tomllib.loads(text))


def test_share_and_latency_draws_are_deterministic() -> None:
    hits = [share_hit(7, con_id, "greeks", 0.3) for con_id in range(1000)]
    assert hits == [share_hit(7, con_id, "greeks", 0.3) for con_id in range(1000)]
    assert 200 < sum(hits) < 400
    assert hits != [share_hit(8, con_id, "greeks", 0.3) for con_id in range(1000)]
    latency = Latency(fixed_ms=10, jitter_ms=20)
    draws = [latency.draw(random.Random("s")) for _ in range(3)]
    assert draws == [latency.draw(random.Random("s")) for _ in range(3)]
    assert all(0.010 <= d <= 0.030 for d in draws)


# --------------------------------------------------------------------------- disconnects


def test_disconnect_after_n_messages_then_reconnect_works(ib_lib: ModuleType) -> None:
    scenario = Scenario(disconnect=Disconnect(after_messages=STARTUP_MESSAGES + 2))

    async def main(sim: SimHandle) -> None:
        async with connected(ib_lib, sim) as ib:
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
            ib.client.reqCurrentTime()  # the 8th message: the gateway hangs up
            await wait_disconnected(ib)
        async with connected(ib_lib, sim, client_id=1) as ib:  # only the first session is cut
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
            assert ib.isConnected()

    with running_simulator(now=OPEN, scenario=scenario) as sim:
        asyncio.run(main(sim))
        assert sim.stats.snapshot()["disconnects"] == 1


def test_disconnect_at_a_simulated_time(ib_lib: ModuleType) -> None:
    scenario = Scenario(disconnect=Disconnect(at=OPEN + dt.timedelta(seconds=0.5)))

    async def main(sim: SimHandle) -> None:
        async with connected(ib_lib, sim) as ib:
            await wait_disconnected(ib)

    with running_simulator(now=OPEN, scenario=scenario) as sim:
        asyncio.run(main(sim))


@pytest.mark.parametrize("restore", ["data_kept", "data_lost"])
def test_connectivity_lost_then_restored(ib_lib: ModuleType, restore: str) -> None:
    """1100, requests held meanwhile, then 1102 (streams go on) or 1101 (streams dropped)."""
    scenario = Scenario(
        connectivity=ConnectivityLoss(
            after_messages=STARTUP_MESSAGES + 1,
            duration_seconds=0.3,
            restore=restore,  # type: ignore[arg-type]
        )
    )

    async def main(sim: SimHandle) -> tuple[list[int], int, int]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            ticker = ib.reqMktData(_stock(ib_lib, sim, "SPY"), "", False, False)  # 7th: link down
            await errors.wait_for(1100)
            details = await asyncio.wait_for(
                ib.reqContractDetailsAsync(ib_lib.Stock("AAPL", "SMART", "USD")), TIMEOUT
            )
            await errors.wait_for(1101 if restore == "data_lost" else 1102)
            await wait_ticker(ticker, lambda t: t.bid == t.bid)
            return errors.codes(), len(details), sim.stats.lines_in_use

    with running_simulator(now=OPEN, scenario=scenario, limits=FAST) as sim:
        codes, n_details, lines = asyncio.run(main(sim))
    assert n_details == 1  # held during the outage, answered after it
    if restore == "data_lost":
        assert codes == [1100, 1101]
        assert lines == 0  # IB dropped the subscription; the client must request it again
    else:
        assert codes == [1100, 1102]
        assert lines == 1


def test_client_id_in_use_by_scenario_then_free(ib_lib: ModuleType) -> None:
    """326 with reqId −1, the socket closes, connect() times out; the next attempt works."""
    scenario = Scenario(client_id_in_use=ClientIdInUse(client_ids=(5,), attempts=1))

    async def main(sim: SimHandle) -> None:
        ib = ib_lib.IB()
        errors = watch_errors(ib)
        with pytest.raises(TimeoutError):
            await ib.connectAsync(sim.host, sim.port, clientId=5, timeout=0.5)
        assert errors.seen[0][:2] == (-1, 326)
        async with connected(ib_lib, sim, client_id=5) as again:
            assert again.isConnected()

    with running_simulator(now=OPEN, scenario=scenario) as sim:
        asyncio.run(main(sim))
        assert sim.stats.errors(326) == 1


def test_second_connection_with_the_same_client_id_gets_326(ib_lib: ModuleType) -> None:
    async def main(sim: SimHandle) -> None:
        async with connected(ib_lib, sim, client_id=3) as first:
            second = ib_lib.IB()
            with pytest.raises(TimeoutError):
                await second.connectAsync(sim.host, sim.port, clientId=3, timeout=0.5)
            await asyncio.wait_for(first.reqCurrentTimeAsync(), TIMEOUT)  # untouched
        async with connected(ib_lib, sim, client_id=3):  # free again once the first left
            pass

    with running_simulator(now=OPEN) as sim:
        asyncio.run(main(sim))
        assert sim.stats.errors(326) == 1


# --------------------------------------------------------------------------- data faults


def test_pacing_storm_on_market_data_answers_100_without_a_strike(ib_lib: ModuleType) -> None:
    scenario = Scenario(pacing_storms=(PacingStorm(count=2, classes=("market_data",)),))

    async def main(sim: SimHandle) -> list[tuple[int, int]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            tickers = [
                ib.reqMktData(_stock(ib_lib, sim, s), "", False, False)
                for s in ("SPY", "AAPL", "QQQ", "MSFT")
            ]
            await errors.wait_for(100, count=2)
            await wait_ticker(tickers[3], lambda t: t.bid == t.bid)
            await wait_ticker(tickers[2], lambda t: t.bid == t.bid)
            assert ib.isConnected()
            return [(req_id, code) for req_id, code, _ in errors.seen]

    with running_simulator(now=OPEN, scenario=scenario, limits=FAST) as sim:
        seen = asyncio.run(main(sim))
        assert sim.stats.violations() == 0
    assert [code for _, code in seen] == [100, 100]
    assert all(req_id > 0 for req_id, _ in seen)  # each carries its request's id


def test_missing_greeks_and_open_interest_follow_the_con_id(ib_lib: ModuleType) -> None:
    scenario = Scenario(missing=Missing(greeks_share=0.5, oi_share=0.5))

    async def main(sim: SimHandle, insts: list[Instrument]) -> list[tuple[bool, bool]]:
        async with connected(ib_lib, sim) as ib:
            tickers = [ib.reqMktData(_contract(ib_lib, i), "101", False, False) for i in insts]
            # bid, greeks and OI of one stream leave in the same write: once the bid is in,
            # whatever greeks and OI were sent are in too.
            for ticker in tickers:
                await wait_ticker(ticker, lambda t: t.volume == t.volume)
            await asyncio.wait_for(ib.reqCurrentTimeAsync(), TIMEOUT)
            return [
                (t.modelGreeks is not None, t.callOpenInterest == t.callOpenInterest)
                for t in tickers
            ]

    with running_simulator(now=OPEN, scenario=scenario, limits=FAST) as sim:
        insts = near_options(sim, OPEN, "C", n=12)
        seen = asyncio.run(main(sim, insts))
    expected = [
        (not share_hit(0, i.con_id, "greeks", 0.5), not share_hit(0, i.con_id, "oi", 0.5))
        for i in insts
    ]
    assert seen == expected
    assert {g for g, _ in seen} == {True, False}  # the share really splits the contracts


def test_slow_replies_hold_only_the_configured_class(ib_lib: ModuleType) -> None:
    scenario = Scenario(latency=Latency(fixed_ms=300, classes=("contract_details",)))

    async def main(sim: SimHandle) -> tuple[float, float]:
        async with connected(ib_lib, sim) as ib:
            # Warm the chain up so the sec-def timing below is only the gateway's.
            await asyncio.wait_for(ib.reqSecDefOptParamsAsync("SPY", "", "STK", 0), TIMEOUT)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.wait_for(
                ib.reqContractDetailsAsync(ib_lib.Stock("SPY", "SMART", "USD")), TIMEOUT
            )
            slow = loop.time() - started
            started = loop.time()
            await asyncio.wait_for(ib.reqSecDefOptParamsAsync("SPY", "", "STK", 0), TIMEOUT)
            return slow, loop.time() - started

    with running_simulator(now=OPEN, scenario=scenario) as sim:
        slow, fast = asyncio.run(main(sim))
    assert slow >= 0.3
    assert fast < 0.3


def test_unknown_symbols_answer_200_everywhere(ib_lib: ModuleType) -> None:
    scenario = Scenario(unknown_symbols=("AAPL",))

    async def main(sim: SimHandle) -> list[int]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            stock = ib_lib.Stock("AAPL", "SMART", "USD")
            assert await asyncio.wait_for(ib.reqContractDetailsAsync(stock), TIMEOUT) == []
            assert (
                await asyncio.wait_for(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", 0), TIMEOUT)
                == []
            )
            ib.reqMktData(_stock(ib_lib, sim, "AAPL"), "", False, False)
            await errors.wait_for(200, count=3)
            spy = await asyncio.wait_for(
                ib.reqContractDetailsAsync(ib_lib.Stock("SPY", "SMART", "USD")), TIMEOUT
            )
            assert len(spy) == 1
            return errors.codes()

    with running_simulator(now=OPEN, scenario=scenario) as sim:
        assert asyncio.run(main(sim)) == [200, 200, 200]


def test_competing_session_answers_10197_and_holds_no_line(ib_lib: ModuleType) -> None:
    scenario = Scenario(competing_session=CompetingSession(symbols=("SPY",)))

    async def main(sim: SimHandle) -> list[int]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            ib.reqMktData(_stock(ib_lib, sim, "SPY"), "", False, False)
            await errors.wait_for(10197)
            aapl = ib.reqMktData(_stock(ib_lib, sim, "AAPL"), "", False, False)
            await wait_ticker(aapl, lambda t: t.bid == t.bid)
            return errors.codes()

    with running_simulator(now=OPEN, scenario=scenario, limits=FAST) as sim:
        assert asyncio.run(main(sim)) == [10197]
        assert sim.stats.peak_lines == 1


def test_the_documented_example_is_a_valid_scenario_using_every_fault() -> None:
    doc = Path(__file__).parents[2] / "docs" / "simulator.md"
    block = doc.read_text().split("```toml\n", 1)[1].split("```", 1)[0]
    scenario = Scenario.from_dict(tomllib.loads(block), source=str(doc))
    assert scenario.disconnect is not None
    assert scenario.connectivity is not None
    assert scenario.client_id_in_use is not None
    assert scenario.pacing_storms
    assert scenario.missing != Missing()
    assert scenario.latency != Latency()
    assert scenario.unknown_symbols
    assert scenario.competing_session is not None
