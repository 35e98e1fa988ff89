"""Request pacing: token buckets on an injectable clock, and the pacing-violation backoff.

IB bounds the collector in two ways (``shared/research/ib-limits.md`` §0–1):

* a message cap per second shared by *every* outgoing message (requests and cancels alike),
  whose third violation closes the session, and
* per-kind pacing (historical requests, contract-detail lookups, snapshots) that the config
  expresses as ``rate_limits.<class>.per_minute``.

``RequestLimiter`` holds one ``TokenBucket`` per request class plus the global message budget
and grants a request only when all of them can pay at the same instant.

The message budget is two rules at once:

* ``MessageWindow``: at most ``messages_per_second`` messages in any closed 1-second window
  ``[s, s + 1]``. That is the cap itself, read in the strictest way: it satisfies IB's "per
  second" whichever way IB counts it, the simulator's bucket of one second's worth, and
  ib_insync's own throttle (``[now − 1, now]``). A log of grants is the exact way to keep
  it: the sustained rate is the cap, and a grant the event loop makes late is not lost,
  because the window only looks back one second.
* a ``TokenBucket`` of rate ``messages_per_second`` and a small burst, which spreads the
  messages over the second instead of sending a whole second's worth at once.

A token bucket alone cannot do both: with rate ``r`` and burst ``b`` it grants up to
``b + r − 1`` units in a 1-second window, so keeping the cap meant running at
``cap − b + 1`` (``tests/test_limiter.py`` shows the bound and that it is tight), and a
burst of 1 turns every late wake-up into lost throughput.

All arithmetic is exact (``fractions.Fraction`` of the clock's float readings), so the
bounds hold to the last bit. A returned wait is rounded *up* to the next float, so it is
never short; the clock's own float addition may still leave a residue of an ulp or two,
which the ``acquire`` loops absorb by asking again.

Pacing violations (error 100/162) are handled by waiting ``pacing_wait(n)`` seconds after the
n-th consecutive one: 30, 60, 120, … (the runbook). The job owns the loop and the clock::

    failures = 0
    while True:
        await limiter.acquire("historical")
        try:
            bars = await client.historical_bars(...)
            break
        except IBPacingError as exc:
            failures += 1
            if failures >= max_consecutive:          # 3: the runbook's manual queue
                progress.failed(job, day, symbol, str(exc), retryable=True,
                                max_consecutive=max_consecutive)
                break
            await clock.sleep(pacing_wait(failures))

or, with tenacity, ``AsyncRetrying(sleep=clock.sleep, wait=wait_pacing(), stop=
stop_after_attempt(3), retry=retry_if_exception_type(IBPacingError), reraise=True)``. With a
``FakeClock`` no test sleeps: ``clock.sleeps == [30.0, 60.0]`` after two violations.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Mapping
from fractions import Fraction

from tenacity import RetryCallState

from opt_data.clock import Clock
from opt_data.errors import ConfigError


def _ceil_seconds(exact: Fraction) -> float:
    """The smallest float that is >= ``exact`` (a wait must never be rounded short)."""
    approx = float(exact)
    if Fraction(approx) < exact:
        approx = math.nextafter(approx, math.inf)
    return approx


def _positive_fraction(value: float | Fraction, what: str) -> Fraction:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, got {value!r}")
    exact = Fraction(value)
    if exact <= 0:
        raise ConfigError(f"{what} must be > 0, got {value!r}")
    return exact


class TokenBucket:
    """A token bucket of ``burst`` tokens refilled at ``rate_per_second``; starts full.

    ``try_acquire`` never waits; ``acquire`` waits on the injected clock, first come first
    served among concurrent ``acquire`` callers.
    """

    def __init__(self, rate_per_second: float | Fraction, burst: int, *, clock: Clock) -> None:
        self._rate = _positive_fraction(rate_per_second, "rate_per_second")
        if burst < 1:
            raise ConfigError(f"burst must be at least 1 token, got {burst!r}")
        self._burst = burst
        self._clock = clock
        self._tokens = Fraction(burst)
        self._stamp = Fraction(clock.monotonic())
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> Fraction:
        """Tokens added per second (exact)."""
        return self._rate

    @property
    def burst(self) -> int:
        """Capacity: the most tokens the bucket holds, hence the largest single grant."""
        return self._burst

    def _refill(self) -> Fraction:
        now = Fraction(self._clock.monotonic())
        if now > self._stamp:
            refilled = self._tokens + (now - self._stamp) * self._rate
            self._tokens = min(Fraction(self._burst), refilled)
            self._stamp = now
        return self._tokens

    def _check(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"must acquire at least 1 token, got {n}")
        if n > self._burst:
            raise ValueError(
                f"cannot acquire {n} tokens at once from a bucket of burst {self._burst}"
            )

    def wait_time(self, n: int = 1) -> float:
        """Seconds until ``n`` tokens are available (0.0 if now); takes nothing."""
        self._check(n)
        deficit = n - self._refill()
        return 0.0 if deficit <= 0 else _ceil_seconds(deficit / self._rate)

    def _take(self, n: int) -> None:
        # Callers check wait_time(n) == 0 first, with no await in between.
        self._tokens -= n

    def try_acquire(self, n: int = 1) -> float:
        """Take ``n`` tokens and return 0.0, or take nothing and return the seconds to wait."""
        wait = self.wait_time(n)
        if wait == 0.0:
            self._take(n)
        return wait

    async def acquire(self, n: int = 1) -> None:
        """Wait on the clock until ``n`` tokens can be taken, then take them."""
        self._check(n)
        async with self._lock:
            while (wait := self.try_acquire(n)) > 0:
                await self._clock.sleep(wait)


class MessageWindow:
    """At most ``limit`` units in any closed window ``[s, s + width]``: a log of grants.

    Units can also be ``record``-ed without asking (messages a library sends on its own,
    such as the connection handshake), so later grants leave room for them.
    """

    def __init__(self, limit: int, *, clock: Clock, width: float = 1.0) -> None:
        if limit < 1:
            raise ConfigError(f"a message window must allow at least 1 unit, got {limit!r}")
        self._limit = limit
        self._width = _positive_fraction(width, "width")
        self._clock = clock
        self._log: deque[tuple[Fraction, int]] = deque()
        self._count = 0

    @property
    def limit(self) -> int:
        return self._limit

    def _now(self) -> Fraction:
        now = Fraction(self._clock.monotonic())
        # a grant older than now − width is in no window that also holds now or later
        while self._log and self._log[0][0] < now - self._width:
            self._count -= self._log.popleft()[1]
        return now

    def wait_time(self, n: int = 1) -> float:
        """Seconds until ``n`` more units fit in every window (0.0 if now); takes nothing."""
        if not 1 <= n <= self._limit:
            raise ValueError(f"cannot grant {n} units in a window of {self._limit}")
        now = self._now()
        excess = self._count + n - self._limit
        if excess <= 0:
            return 0.0
        for stamp, units in self._log:
            excess -= units
            if excess <= 0:
                # that grant shares no closed window with a grant made after stamp + width
                exact = stamp + self._width - now
                wait = _ceil_seconds(exact)
                return math.nextafter(wait, math.inf) if Fraction(wait) == exact else wait
        raise AssertionError("unreachable: the log holds more than the excess")  # pragma: no cover

    def record(self, n: int) -> None:
        """Count ``n`` units sent now, whether or not they fit."""
        self._log.append((self._now(), n))
        self._count += n


class RequestLimiter:
    """Per-class request buckets plus the global message budget, granted together.

    Args:
        per_minute: requests per minute for each request class (the config's
            ``rate_limits.<class>.per_minute``).
        messages_per_second: the global API message cap, never exceeded in any 1-second
            window and also the sustained rate. Keep it below IB's 50/s: the guarantee
            holds for send times on our clock, and jitter can bunch messages up by the time
            IB reads them.
        clock: the time source (``RealClock()`` in production, ``FakeClock()`` in tests).
        message_burst: how many messages may leave at one instant (the message bucket's
            capacity), hence the largest ``messages`` one acquisition may ask for.
        request_burst: per-class burst, one number for every class or a mapping by class
            (classes not in it get 1); 1 spreads requests evenly, so a limit such as IB's
            "60 historical requests per 10 minutes" configured as 6/min is never exceeded
            in any window either. A class whose only IB limit is the global message cap
            (snapshots, discovery) may take a larger burst: it absorbs the event loop's late
            wake-ups, which a burst of 1 turns straight into lost throughput.
    """

    def __init__(
        self,
        per_minute: Mapping[str, float],
        messages_per_second: int,
        *,
        clock: Clock,
        message_burst: int = 2,
        request_burst: int | Mapping[str, int] = 1,
    ) -> None:
        if not 1 <= message_burst <= messages_per_second:
            raise ConfigError(
                f"message_burst must be between 1 and messages_per_second "
                f"({messages_per_second}), got {message_burst}"
            )
        self._clock = clock
        self._messages = TokenBucket(messages_per_second, message_burst, clock=clock)
        self._window = MessageWindow(messages_per_second, clock=clock)
        self._messages_lock = asyncio.Lock()
        self._classes: dict[str, TokenBucket] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        for name, rate in per_minute.items():
            what = f"rate_limits.{name}.per_minute"
            per_second = _positive_fraction(rate, what) / 60
            burst = (
                request_burst.get(name, 1) if isinstance(request_burst, Mapping) else request_burst
            )
            self._classes[name] = TokenBucket(per_second, burst, clock=clock)
            self._locks[name] = asyncio.Lock()

    @property
    def message_rate(self) -> Fraction:
        """The sustained global message rate (messages per second): the cap itself."""
        return self._messages.rate

    def _bucket(self, request_class: str) -> TokenBucket:
        try:
            return self._classes[request_class]
        except KeyError:
            known = ", ".join(sorted(self._classes))
            raise ValueError(
                f"unknown request class {request_class!r}; configured: {known}"
            ) from None

    def try_acquire(self, request_class: str, messages: int = 1) -> float:
        """Grant one ``request_class`` request sending ``messages`` messages now, or say how long
        to wait (0.0 means granted; nothing is taken otherwise)."""
        bucket = self._bucket(request_class)
        wait = max(bucket.wait_time(1), self._messages_wait(messages))
        if wait == 0.0:
            bucket._take(1)
            self._take_messages(messages)
        return wait

    async def acquire(self, request_class: str, messages: int = 1) -> None:
        """Wait until the class bucket and the message budget grant, then take from both.

        Tokens are taken only when both can pay at the same instant, so a request is counted
        at the moment it is really sent. ``messages`` are the messages sent right after the
        grant; a message sent later (a cancel at the end of a stream) acquires its own
        token then, with ``acquire_messages``.
        """
        self._bucket(request_class)
        async with self._locks[request_class]:
            while (wait := self.try_acquire(request_class, messages)) > 0:
                await self._clock.sleep(wait)

    def _messages_wait(self, messages: int) -> float:
        return max(self._messages.wait_time(messages), self._window.wait_time(messages))

    def _take_messages(self, messages: int) -> None:
        self._messages._take(messages)
        self._window.record(messages)

    def try_acquire_messages(self, messages: int = 1) -> float:
        """Message budget only (cancels and other messages outside any request class)."""
        wait = self._messages_wait(messages)
        if wait == 0.0:
            self._take_messages(messages)
        return wait

    async def acquire_messages(self, messages: int = 1) -> None:
        """Wait for the message budget only (cancels and other messages outside any class)."""
        async with self._messages_lock:
            while (wait := self.try_acquire_messages(messages)) > 0:
                await self._clock.sleep(wait)

    async def make_room(self, messages: int) -> None:
        """Wait until ``messages`` sent without asking would fit in the window (a connection's
        start-up requests, which the library sends back to back); takes nothing."""
        async with self._messages_lock:
            while (wait := self._window.wait_time(messages)) > 0:
                await self._clock.sleep(wait)

    def record_messages(self, messages: int) -> None:
        """Count messages sent without asking, once they are out, so the next grants leave
        room for them in the window."""
        self._window.record(messages)


def pacing_wait(consecutive_failures: int, first: float = 30.0, factor: float = 2.0) -> float:
    """Seconds to wait after the ``consecutive_failures``-th pacing violation in a row.

    ``first · factor^(n−1)``: 30, 60, 120, … with the runbook's defaults.
    """
    if consecutive_failures < 1:
        raise ValueError(f"consecutive_failures starts at 1, got {consecutive_failures}")
    if first < 0 or factor < 1:
        raise ValueError(f"need first >= 0 and factor >= 1, got first={first}, factor={factor}")
    return float(first * factor ** (consecutive_failures - 1))


def wait_pacing(first: float = 30.0, factor: float = 2.0) -> Callable[[RetryCallState], float]:
    """``pacing_wait`` as a tenacity ``wait=`` strategy (attempt n failed → wait for n)."""

    def wait(state: RetryCallState) -> float:
        return pacing_wait(state.attempt_number, first, factor)

    return wait
