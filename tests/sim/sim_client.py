"""Helpers for driving a real ib_insync / ib_async client against the simulator in tests.

Every wait is on an event with a timeout: a test that would hang fails instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from opt_data.sim.instruments import Instrument
from opt_data.sim.testing import SimHandle

TIMEOUT = 5.0


@asynccontextmanager
async def connected(
    ib_lib: ModuleType, sim: SimHandle, client_id: int = 1, **kwargs: Any
) -> AsyncIterator[Any]:
    """A connected ``IB`` of the library under test; disconnected on exit."""
    ib = ib_lib.IB()
    await ib.connectAsync(sim.host, sim.port, clientId=client_id, timeout=TIMEOUT, **kwargs)
    try:
        yield ib
    finally:
        ib.disconnect()


@dataclass
class Errors:
    """Collects ``errorEvent`` emissions as (reqId, code) and lets a test wait for one."""

    seen: list[tuple[int, int, str]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, req_id: int, code: int, text: str, *_: Any) -> None:
        self.seen.append((req_id, code, text))
        self._changed.set()

    def codes(self) -> list[int]:
        return [code for _, code, _ in self.seen]

    async def wait_for(self, code: int, count: int = 1, timeout: float = TIMEOUT) -> None:
        async def until() -> None:
            while self.codes().count(code) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)


def watch_errors(ib: Any) -> Errors:
    errors = Errors()
    ib.errorEvent += errors
    return errors


async def wait_ticker(ticker: Any, done: Callable[[Any], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``done(ticker)`` holds, re-checking on each of the ticker's updates."""

    async def until() -> None:
        while not done(ticker):
            await ticker.updateEvent

    await asyncio.wait_for(until(), timeout)


async def wait_disconnected(ib: Any, timeout: float = TIMEOUT) -> None:
    async def until() -> None:
        while ib.isConnected():
            await ib.disconnectedEvent

    await asyncio.wait_for(until(), timeout)


def near_options(
    sim: SimHandle, at: dt.datetime, right: str, n: int = 1, symbol: str = "SPY"
) -> list[Instrument]:
    """``n`` options of the nearest expiry (at least a week out) with strikes around the money."""
    market = sim.market
    stock = market.stock(symbol)
    assert stock is not None
    spot = market.stock_state(stock, at).quote.last
    assert spot is not None
    on = market.session_of(at)
    listed = [o for o in market.options(symbol, on, right=right) if o.trading_class == symbol]
    expiry = min(o.expiry for o in listed if o.expiry and o.expiry >= on + dt.timedelta(days=7))
    chain = sorted((o for o in listed if o.expiry == expiry), key=lambda o: abs(o.strike - spot))
    return sorted(chain[:n], key=lambda o: o.strike)
