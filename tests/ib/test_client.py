"""The IB adapter against the simulator: every field the config may require can arrive."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from opt_data.config import SNAPSHOT_FIELDS
from opt_data.ib import ConnectionParams, IBClient
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
            contracts = await client.option_contracts(underlying, expiry, "AAPL")
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
