"""The IB adapter against the simulator: every field the config may require can arrive."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opt_data.config import SNAPSHOT_FIELDS
from opt_data.ib import CONNECT_MESSAGES, ConnectionParams, IBClient
from opt_data.models import OptionContract
from opt_data.sim.testing import running_simulator

EVENING = dt.datetime(2026, 11, 20, 18, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.mark.parametrize("library", ["ib_insync", "ib_async"])
def test_every_requirable_field_is_satisfied_by_a_full_stream(library: str) -> None:
    """snapshot.require may name any of SNAPSHOT_FIELDS; a liquid option completes on all of
    them without waiting for the timeout."""

    async def main(port: int) -> None:
        client = IBClient(ConnectionParams("127.0.0.1", port, 9, library=library))
        await client.connect()
        try:
            client.set_market_data_type(2)
            underlying = await client.qualify_underlying("AAPL", "AAPL")
            expiry = dt.date(2026, 12, 18)
            contracts = await client.option_contracts(underlying, f"{expiry:%Y%m%d}", "AAPL")
            spot = 190.0
            atm = min(contracts, key=lambda c: (abs(c.strike - spot), c.right))
            started = asyncio.get_running_loop().time()
            snap = await client.stream_snapshot(
                atm,
                generic_ticks="100,101,104,106",
                required=frozenset(SNAPSHOT_FIELDS),
                timeout=20,
                now=lambda: dt.datetime.now(dt.UTC),
            )
            assert snap.complete, snap
            assert asyncio.get_running_loop().time() - started < 10
        finally:
            client.disconnect()

    with running_simulator(now=EVENING, symbols=("AAPL",)) as sim:
        asyncio.run(main(sim.port))


@pytest.mark.parametrize("library", ["ib_insync", "ib_async"])
def test_connect_sends_no_more_messages_than_the_job_counts_for_it(library: str) -> None:
    """The update records CONNECT_MESSAGES against the message cap for every connection; a
    library version that sends more at start-up must raise it."""

    async def main(port: int) -> None:
        client = IBClient(ConnectionParams("127.0.0.1", port, 9, library=library))
        await client.connect()
        client.disconnect()

    with running_simulator(now=EVENING, symbols=("AAPL",)) as sim:
        asyncio.run(main(sim.port))
        sent = sim.stats.snapshot()["messages_in_total"]
    assert 0 < sent <= CONNECT_MESSAGES


def test_a_month_spec_lists_every_expiry_of_the_month_in_one_request() -> None:
    """``YYYYMM`` is IB's contract month: one request answers for all its expiries."""

    async def main(port: int) -> tuple[list[OptionContract], list[OptionContract]]:
        client = IBClient(ConnectionParams("127.0.0.1", port, 9))
        await client.connect()
        try:
            underlying = await client.qualify_underlying("AAPL", "AAPL")
            month = await client.option_contracts(underlying, "202612", "AAPL")
            one_day = await client.option_contracts(underlying, "20261218", "AAPL")
            return month, one_day
        finally:
            client.disconnect()

    with running_simulator(now=EVENING, symbols=("AAPL",)) as sim:
        before = sim.stats.requests("contract_details", "AAPL")
        month, one_day = asyncio.run(main(sim.port))
        assert sim.stats.requests("contract_details", "AAPL") == before + 3
    expiries = {c.expiration for c in month}
    assert len(expiries) > 1 and all(e.strftime("%Y%m") == "202612" for e in expiries)
    assert {c.con_id for c in one_day} == {
        c.con_id for c in month if c.expiration == dt.date(2026, 12, 18)
    }
