"""Unmodified ib_insync and ib_async clients connect to the simulator and get currentTime."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from types import ModuleType

import pytest

from opt_data.sim.testing import running_simulator

NOW = dt.datetime(2024, 1, 5, 17, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


@pytest.mark.parametrize("client_id", [0, 7])  # ib_insync sends reqAutoOpenOrders for id 0
def test_connect_completes_without_waiting_for_any_timeout(
    ib_lib: ModuleType, client_id: int
) -> None:
    """Every startup request gets its END, so connect() returns long before its timeout."""

    async def main(host: str, port: int) -> float:
        ib = ib_lib.IB()
        started = time.monotonic()
        await ib.connectAsync(host, port, clientId=client_id, timeout=3)
        elapsed = time.monotonic() - started
        try:
            assert ib.isConnected()
            assert ib.managedAccounts() == ["DU1234567"]
        finally:
            ib.disconnect()
        return elapsed

    with running_simulator(now=NOW) as sim:
        elapsed = asyncio.run(main(sim.host, sim.port))
        assert sim.stats.errors(320) == 0  # every startup request was understood
    assert elapsed < 1.5


def test_readonly_connect_also_completes(ib_lib: ModuleType) -> None:
    async def main(host: str, port: int) -> None:
        ib = ib_lib.IB()
        await ib.connectAsync(host, port, clientId=8, timeout=3, readonly=True)
        try:
            assert ib.isConnected()
        finally:
            ib.disconnect()

    with running_simulator(now=NOW) as sim:
        asyncio.run(main(sim.host, sim.port))
        assert sim.stats.snapshot()["messages_in"].get("req_open_orders", 0) == 0


def test_current_time_is_the_simulated_clock(ib_lib: ModuleType) -> None:
    async def main(host: str, port: int) -> dt.datetime:
        ib = ib_lib.IB()
        await ib.connectAsync(host, port, clientId=9, timeout=3)
        try:
            result: dt.datetime = await asyncio.wait_for(ib.reqCurrentTimeAsync(), 5)
        finally:
            ib.disconnect()
        return result

    with running_simulator(now=NOW) as sim:
        got = asyncio.run(main(sim.host, sim.port))
    assert abs((got - NOW).total_seconds()) < 60
