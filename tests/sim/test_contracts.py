"""Contract details (stock, full and partial option) and option chain parameters."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from sim_client import TIMEOUT, connected, watch_errors

from opt_data.sim.instruments import Instrument
from opt_data.sim.testing import SimHandle, running_simulator

NEW_YORK = dt.timezone(dt.timedelta(hours=-5))
NOW = dt.datetime(2024, 1, 5, 17, 0, tzinfo=NEW_YORK)  # a Friday, after the close


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    """One simulator for the read-only tests of this module (building a chain costs ~0.3 s)."""
    with running_simulator(now=NOW) as handle:
        yield handle


def _option(ib_lib: ModuleType, inst: Instrument) -> Any:
    assert inst.expiry is not None
    return ib_lib.Option(
        inst.symbol,
        inst.expiry.strftime("%Y%m%d"),
        inst.strike,
        inst.right,
        "SMART",
        tradingClass=inst.trading_class,
    )


def _near_option(sim: SimHandle, symbol: str = "SPY") -> Instrument:
    listed = sim.market.options(symbol, sim.market.session_of(NOW))
    return listed[len(listed) // 2]


def test_stock_contract_details(ib_lib: ModuleType, sim: SimHandle) -> None:
    async def main(sim: SimHandle) -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            return list(
                await asyncio.wait_for(
                    ib.reqContractDetailsAsync(ib_lib.Stock("SPY", "SMART", "USD")), TIMEOUT
                )
            )

    details = asyncio.run(main(sim))
    spy = sim.market.stock("SPY")
    assert spy is not None
    assert [d.contract.conId for d in details] == [spy.con_id]
    assert details[0].contract.secType == "STK"
    assert details[0].longName == spy.long_name
    assert details[0].tradingHours  # a week of sessions, as IB sends


def test_fully_specified_option_resolves_to_one_contract(
    ib_lib: ModuleType, sim: SimHandle
) -> None:
    inst = _near_option(sim)

    async def main() -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            return list(
                await asyncio.wait_for(ib.reqContractDetailsAsync(_option(ib_lib, inst)), TIMEOUT)
            )

    details = asyncio.run(main())
    assert len(details) == 1
    c = details[0].contract
    assert (c.conId, c.strike, c.right, c.multiplier) == (
        inst.con_id,
        inst.strike,
        inst.right,
        str(inst.multiplier),
    )
    assert inst.expiry is not None
    assert c.lastTradeDateOrContractMonth == inst.expiry.strftime("%Y%m%d")
    assert details[0].underConId == inst.under_con_id


def test_partial_option_returns_every_matching_contract(ib_lib: ModuleType, sim: SimHandle) -> None:
    inst = _near_option(sim)
    assert inst.expiry is not None
    expiry = inst.expiry.strftime("%Y%m%d")
    expected = {
        o.con_id for o in sim.market.options("SPY", sim.market.session_of(NOW), expiry=inst.expiry)
    }

    async def main() -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            partial = ib_lib.Option("SPY", expiry, exchange="SMART")
            return list(await asyncio.wait_for(ib.reqContractDetailsAsync(partial), TIMEOUT))

    details = asyncio.run(main())
    assert {d.contract.conId for d in details} == expected
    assert len(expected) > 2  # calls and puts over several strikes


def test_unknown_symbol_answers_200(ib_lib: ModuleType, sim: SimHandle) -> None:
    async def main(sim: SimHandle) -> tuple[list[Any], list[int]]:
        async with connected(ib_lib, sim) as ib:
            errors = watch_errors(ib)
            details = await asyncio.wait_for(
                ib.reqContractDetailsAsync(ib_lib.Stock("NOSUCH", "SMART", "USD")), TIMEOUT
            )
            return list(details), errors.codes()

    before = sim.stats.errors(200)
    details, codes = asyncio.run(main(sim))
    assert sim.stats.errors(200) == before + 1
    assert details == []
    assert codes == [200]


def test_qualify_contracts_fills_con_ids(ib_lib: ModuleType, sim: SimHandle) -> None:
    inst = _near_option(sim)

    async def main() -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            stock = ib_lib.Stock("AAPL", "SMART", "USD")
            option = _option(ib_lib, inst)
            await asyncio.wait_for(ib.qualifyContractsAsync(stock, option), TIMEOUT)
            return [stock.conId, option.conId]

    con_ids = asyncio.run(main())
    aapl = sim.market.stock("AAPL")
    assert aapl is not None
    assert con_ids == [aapl.con_id, inst.con_id]


def test_sec_def_opt_params_one_message_per_exchange_and_class(
    ib_lib: ModuleType, sim: SimHandle
) -> None:
    spy = sim.market.stock("SPY")
    assert spy is not None
    expected = sim.market.chain_params("SPY", sim.market.session_of(NOW))

    async def main() -> list[Any]:
        async with connected(ib_lib, sim) as ib:
            return list(
                await asyncio.wait_for(
                    ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.con_id), TIMEOUT
                )
            )

    chains = asyncio.run(main())
    assert [(c.exchange, c.tradingClass) for c in chains] == [
        (e.exchange, e.trading_class) for e in expected
    ]
    for got, want in zip(chains, expected, strict=True):
        assert list(got.expirations) == list(want.expirations)
        assert [float(s) for s in got.strikes] == list(want.strikes)
        assert str(got.underlyingConId) == str(spy.con_id)


def test_expired_option_stops_resolving(ib_lib: ModuleType) -> None:
    """A contract listed today answers 200 once the clock is well past its expiry."""
    with running_simulator(now=NOW) as sim:
        listed = sim.market.options("SPY", sim.market.session_of(NOW))
        first = min(listed, key=lambda o: o.expiry or dt.date.max)

        async def main() -> tuple[int, int, list[int]]:
            async with connected(ib_lib, sim) as ib:
                errors = watch_errors(ib)
                before = await asyncio.wait_for(
                    ib.reqContractDetailsAsync(ib_lib.Contract(conId=first.con_id)), TIMEOUT
                )
                sim.clock.advance(dt.timedelta(days=30))
                after = await asyncio.wait_for(
                    ib.reqContractDetailsAsync(ib_lib.Contract(conId=first.con_id)), TIMEOUT
                )
                return len(before), len(after), errors.codes()

        n_before, n_after, codes = asyncio.run(main())
    assert (n_before, n_after) == (1, 0)
    assert codes == [200]


def test_whole_spy_chain_in_one_request(ib_lib: ModuleType, sim: SimHandle) -> None:
    """A partially specified option (symbol only) returns the whole chain, thousands of rows."""
    expected = len(sim.market.options("SPY", sim.market.session_of(NOW)))

    async def main() -> int:
        async with connected(ib_lib, sim) as ib:
            details = await asyncio.wait_for(
                ib.reqContractDetailsAsync(ib_lib.Option("SPY", exchange="SMART")), 30
            )
            return len(details)

    got = asyncio.run(main())
    assert got == expected
