"""Public test helper: a simulator on an ephemeral loopback port, in a background thread.

::

    from opt_data.sim.testing import running_simulator

    with running_simulator(now=dt.datetime(2024, 1, 5, 17, tzinfo=NEW_YORK)) as sim:
        ib.connect(sim.host, sim.port, clientId=1, timeout=5)
        ...
        assert sim.stats.violations() == 0

The server runs on its own event loop in its own thread, so it never shares a loop with the
client under test (ib_insync and ib_async both drive asyncio themselves).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from opt_data.sim.clock import SimClock
from opt_data.sim.limits import SimLimits
from opt_data.sim.market import Market
from opt_data.sim.scenario import Scenario
from opt_data.sim.server import SimServer
from opt_data.sim.stats import SimStats

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class SimHandle:
    """A running simulator: where it listens, its counters, its clock and its settings."""

    host: str
    port: int
    stats: SimStats
    clock: SimClock
    limits: SimLimits
    scenario: Scenario
    seed: int
    symbols: tuple[str, ...] | None

    @cached_property
    def market(self) -> Market:
        """A second Market with the server's seed and symbols, for the test's own thread.

        The market is deterministic, so it answers exactly as the server's does, and the test
        never touches the server thread's caches. Built on first use (it costs ~0.3 s).
        """
        return Market(seed=self.seed, symbols=self.symbols)


@contextmanager
def running_simulator(
    *,
    seed: int = 0,
    now: dt.datetime | None = None,
    symbols: Iterable[str] | None = None,
    limits: SimLimits | None = None,
    scenario: Scenario | None = None,
) -> Iterator[SimHandle]:
    """Run a simulator on 127.0.0.1 (free port) until the block exits; yields its handle."""
    symbol_list = tuple(symbols) if symbols is not None else None
    stats = SimStats()
    limits = limits or SimLimits()
    scenario = scenario or Scenario()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    bound: list[tuple[str, int, SimClock]] = []
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            market = Market(seed=seed, symbols=symbol_list)
            # The clock starts once the slow part is done: the first client sees ``now``.
            clock = SimClock(now)
            server = SimServer(
                market=market,
                clock=clock,
                limits=limits,
                scenario=scenario,
                stats=stats,
                seed=seed,
            )
            host, port = loop.run_until_complete(server.start("127.0.0.1", 0))
            bound.append((host, port, clock))
        except BaseException as exc:  # reported to the caller's thread below
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(server.stop())
            loop.close()

    thread = threading.Thread(target=serve, name="opt-data-sim", daemon=True)
    thread.start()
    if not ready.wait(_START_TIMEOUT):
        raise TimeoutError("the simulator did not start")
    if failure:
        raise failure[0]
    host, port, clock = bound[0]
    try:
        yield SimHandle(
            host=host,
            port=port,
            stats=stats,
            clock=clock,
            limits=limits,
            scenario=scenario,
            seed=seed,
            symbols=symbol_list,
        )
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_TIMEOUT)
