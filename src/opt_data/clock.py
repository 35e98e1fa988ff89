"""Elapsed time for the collector: the ``Clock`` protocol, the real clock and a fake one.

Everything that waits (the rate limiter, pacing backoff, reconnect loops) takes a ``Clock``
instead of calling ``time`` / ``asyncio.sleep`` directly, so tests can run hours of waiting in
microseconds with ``FakeClock`` and assert exactly which waits were asked for.

Only elapsed (monotonic) time lives here. Wall-clock timestamps (``received_at``,
``updated_at``) come from ``datetime.now(UTC)`` or an injected callable where needed.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Protocol


class Clock(Protocol):
    """A monotonic time source that can also wait."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (the origin is arbitrary)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once at least ``seconds`` have passed on ``monotonic()``."""
        ...


class RealClock:
    """The process's monotonic clock and the event loop's sleep."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep`` (which may return a hair early; callers re-check the clock)."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A deterministic clock whose ``sleep`` returns at once and moves time forward.

    ``sleep(s)`` records ``s`` in ``sleeps``, yields to the event loop once (so concurrent
    tasks interleave as they would for real) and then sets the time to
    ``max(now, time_at_call + s)``. Concurrent sleepers that start together therefore overlap
    instead of adding up, and no sleeper ever wakes before its deadline; a sleeper may wake
    later than its deadline if another one moved time further first, which is what a busy
    real event loop can do too.

    Example::

        clock = FakeClock()
        await clock.sleep(30)
        await clock.sleep(60)
        assert clock.sleeps == [30, 60] and clock.monotonic() == 90
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The fake time."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Record the wait, yield once, then jump to the deadline."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"cannot sleep {seconds!r} seconds")
        self.sleeps.append(seconds)
        deadline = _later(self._now, seconds)
        await asyncio.sleep(0)
        self._now = max(self._now, deadline)

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep (time passing between calls)."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"cannot move a monotonic clock by {seconds!r} seconds")
        self._now = _later(self._now, seconds)


def _later(now: float, seconds: float) -> float:
    """``now + seconds``, but at least one ulp later when ``seconds > 0``.

    A wait smaller than one ulp of ``now`` would otherwise not move time at all, and a caller
    that re-checks the clock after waiting would spin forever.
    """
    later = now + seconds
    if seconds > 0 and later <= now:
        later = math.nextafter(now, math.inf)
    return later
