"""Token buckets, the request limiter and pacing backoff, all on a FakeClock (no test sleeps)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from opt_data.clock import FakeClock, RealClock
from opt_data.errors import ConfigError, IBPacingError
from opt_data.limiter import (
    MessageWindow,
    RequestLimiter,
    TokenBucket,
    pacing_wait,
    wait_pacing,
)


def max_in_window(
    grants: Sequence[tuple[float, int]], width: Fraction, *, closed: bool = False
) -> int:
    """Most units granted in any window [s, s + width) — or [s, s + width] when ``closed`` —
    in exact arithmetic.

    The busiest window can always be slid right until it starts at a grant, so only
    windows starting at grant times need checking.
    """
    times = [(Fraction(t), n) for t, n in grants]
    best = 0
    for start, _ in times:
        end = start + width
        best = max(
            best, sum(n for t, n in times if start <= t and (t <= end if closed else t < end))
        )
    return best


# One step of an adversarial caller: wait a chosen gap, or exactly the wait the bucket asked
# for (the tightest possible timing), then ask for n units.
steps = st.lists(
    st.tuples(
        st.one_of(
            st.just("asked"),
            st.sampled_from([0.0, 1e-9, 0.001, 0.02, 0.5, 0.999, 1.0, 1.5]),
            st.floats(min_value=0, max_value=3, allow_nan=False),
        ),
        st.integers(min_value=1, max_value=8),
    ),
    max_size=120,
)


class TestFakeClock:
    def test_sleep_advances_instantly_and_is_recorded(self) -> None:
        """Sleeps return at once, move time and are kept in order."""
        clock = FakeClock()

        async def run() -> None:
            await clock.sleep(30)
            await clock.sleep(60)

        asyncio.run(run())
        assert clock.sleeps == [30, 60]
        assert clock.monotonic() == 90

    def test_concurrent_sleepers_overlap(self) -> None:
        """Two tasks sleeping at the same time both wake at the later deadline, not the sum."""
        clock = FakeClock(start=100.0)
        woke: list[tuple[str, float]] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append((name, clock.monotonic()))

        async def run() -> None:
            await asyncio.gather(sleeper("a", 5), sleeper("b", 1))

        asyncio.run(run())
        assert clock.monotonic() == 105
        assert all(at >= 101 for _, at in woke)

    def test_tiny_sleep_still_moves_time(self) -> None:
        """A wait below one ulp of "now" moves time by an ulp, so a re-check loop terminates."""
        clock = FakeClock(start=1e6)
        asyncio.run(clock.sleep(1e-20))
        assert clock.monotonic() == math.nextafter(1e6, math.inf)

    def test_tiny_advance_still_moves_time(self) -> None:
        """advance() has the same guarantee as sleep()."""
        clock = FakeClock(start=1e6)
        clock.advance(1e-20)
        assert clock.monotonic() > 1e6

    def test_negative_sleep_is_refused(self) -> None:
        """Sleeping a negative time is a bug in the caller."""
        with pytest.raises(ValueError, match="cannot sleep"):
            asyncio.run(FakeClock().sleep(-1))

    def test_real_clock_is_monotonic_and_sleep_zero_returns(self) -> None:
        """The real clock never goes backwards; sleeping 0 returns."""
        clock = RealClock()
        first = clock.monotonic()
        asyncio.run(clock.sleep(0))
        assert clock.monotonic() >= first


class TestTokenBucket:
    def test_starts_full_then_refills_at_rate(self) -> None:
        """A fresh bucket grants its burst at once, then one token per 1/rate seconds."""
        clock = FakeClock()
        bucket = TokenBucket(10, 3, clock=clock)
        assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
        assert bucket.try_acquire() == pytest.approx(0.1)
        clock.advance(0.05)
        assert bucket.try_acquire() == pytest.approx(0.05)
        clock.advance(0.05)
        assert bucket.try_acquire() == 0.0

    def test_wait_time_does_not_take(self) -> None:
        """wait_time only looks: asking twice gives the same answer and takes nothing."""
        clock = FakeClock()
        bucket = TokenBucket(1, 2, clock=clock)
        assert bucket.wait_time(2) == 0.0
        assert bucket.wait_time(2) == 0.0
        assert bucket.try_acquire(2) == 0.0
        assert bucket.wait_time(1) == 1.0

    def test_wait_is_the_smallest_float_not_short_of_the_exact_wait(self) -> None:
        """With rate 3/s one token takes exactly 1/3 s: the wait is 1/3 rounded up, never down."""
        clock = FakeClock()
        bucket = TokenBucket(3, 1, clock=clock)
        bucket.try_acquire()
        wait = bucket.try_acquire()
        assert Fraction(wait) >= Fraction(1, 3)
        assert Fraction(math.nextafter(wait, 0)) < Fraction(1, 3)

    def test_more_than_burst_can_never_be_granted(self) -> None:
        """Asking for more tokens than the bucket holds is refused instead of waiting forever."""
        bucket = TokenBucket(5, 2, clock=FakeClock())
        with pytest.raises(ValueError, match="burst 2"):
            bucket.try_acquire(3)
        with pytest.raises(ValueError, match="at least 1"):
            bucket.try_acquire(0)

    @pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (math.inf, 1), (1, 0)])
    def test_bad_parameters_are_config_errors(self, rate: float, burst: int) -> None:
        """Zero, negative or infinite rates and empty buckets are refused."""
        with pytest.raises(ConfigError):
            TokenBucket(rate, burst, clock=FakeClock())

    def test_acquire_waits_on_the_clock(self) -> None:
        """acquire sleeps on the injected clock exactly as long as needed."""
        clock = FakeClock()
        bucket = TokenBucket(2, 1, clock=clock)

        async def run() -> None:
            for _ in range(3):
                await bucket.acquire()

        asyncio.run(run())
        assert clock.sleeps == [0.5, 0.5]
        assert clock.monotonic() == 1.0

    @settings(max_examples=150, deadline=None)
    @given(
        cap=st.integers(min_value=1, max_value=50),
        burst=st.integers(min_value=1, max_value=8),
        script=steps,
    )
    def test_no_one_second_window_exceeds_the_cap(
        self, cap: int, burst: int, script: list[tuple[str | float, int]]
    ) -> None:
        """Rate cap − burst + 1 with burst b: never more than cap units in any 1-second window."""
        burst = min(burst, cap)
        clock = FakeClock(start=1000.0)
        bucket = TokenBucket(cap - burst + 1, burst, clock=clock)
        grants: list[tuple[float, int]] = []
        asked = 0.0
        for gap, n in script:
            clock.advance(asked if gap == "asked" else float(gap))
            n = min(n, burst)
            wait = bucket.try_acquire(n)
            if wait == 0.0:
                grants.append((clock.monotonic(), n))
            asked = wait
        assert max_in_window(grants, Fraction(1)) <= cap

    def test_the_bound_is_tight(self) -> None:
        """Running at the cap with a burst of 2 would put cap + 1 messages in one second."""
        cap = 45
        clock = FakeClock()
        too_fast = TokenBucket(cap, 2, clock=clock)
        grants: list[tuple[float, int]] = []
        asked = 0.0
        for _ in range(200):
            clock.advance(asked)
            asked = too_fast.try_acquire()
            if asked == 0.0:
                grants.append((clock.monotonic(), 1))
        assert max_in_window(grants, Fraction(1)) == cap + 1


class TestMessageWindow:
    @settings(max_examples=150, deadline=None)
    @given(limit=st.integers(min_value=1, max_value=50), script=steps)
    def test_no_closed_one_second_window_exceeds_the_limit(
        self, limit: int, script: list[tuple[str | float, int]]
    ) -> None:
        """Adversarial timing, including exactly the wait it asked for: never over the limit,
        in any window counted with both ends included."""
        clock = FakeClock(start=1000.0)
        window = MessageWindow(limit, clock=clock)
        grants: list[tuple[float, int]] = []
        asked = 0.0
        for gap, n in script:
            clock.advance(asked if gap == "asked" else float(gap))
            n = min(n, limit)
            asked = window.wait_time(n)
            if asked == 0.0:
                window.record(n)
                grants.append((clock.monotonic(), n))
        assert max_in_window(grants, Fraction(1), closed=True) <= limit

    def test_a_whole_second_at_once_then_just_after_one_second(self) -> None:
        """The window alone allows the full limit at once; the next unit waits until the
        first has left every window that could hold both."""
        clock = FakeClock()
        window = MessageWindow(3, clock=clock)
        for _ in range(3):
            assert window.wait_time() == 0.0
            window.record(1)
        wait = window.wait_time()
        assert wait > 1.0 and wait == math.nextafter(1.0, math.inf)
        clock.advance(1.0)
        assert window.wait_time() > 0.0  # exactly one second later still shares [0, 1]
        clock.advance(wait - 1.0)
        assert window.wait_time() == 0.0

    def test_recorded_messages_delay_the_next_grants(self) -> None:
        """Messages sent without asking (a handshake) count: the limiter makes room for them."""
        clock = FakeClock()
        limiter = RequestLimiter({}, 5, clock=clock, message_burst=2)
        limiter.record_messages(4)
        assert limiter.try_acquire_messages(1) == 0.0
        assert limiter.try_acquire_messages(1) > 1.0

    def test_bad_limit_and_oversized_grants_are_refused(self) -> None:
        with pytest.raises(ConfigError, match="at least 1"):
            MessageWindow(0, clock=FakeClock())
        with pytest.raises(ValueError, match="window of 2"):
            MessageWindow(2, clock=FakeClock()).wait_time(3)


class TestRequestLimiter:
    def test_message_rate_is_the_cap_whatever_the_burst(self) -> None:
        """The window keeps the cap, so the bucket may run at it: no rate is given away."""
        clock = FakeClock()
        assert RequestLimiter({}, 45, clock=clock, message_burst=1).message_rate == 45
        assert RequestLimiter({}, 45, clock=clock, message_burst=20).message_rate == 45

    def test_waits_for_both_buckets(self) -> None:
        """A request is granted only when its class bucket and the message bucket both can pay."""
        clock = FakeClock()
        # Messages: cap 4 per second, at most 3 at one instant.
        limiter = RequestLimiter({"snapshot": 60, "historical": 6}, 4, clock=clock, message_burst=3)
        assert limiter.try_acquire("historical") == 0.0
        # The class bucket (6/min) now needs 10 s, although messages are still there.
        assert limiter.try_acquire("historical") == pytest.approx(10.0)
        assert limiter.try_acquire("snapshot", messages=2) == 0.0
        # Snapshot class has 1 s to go; the window (3 of 4 used) needs the first grant gone.
        assert limiter.try_acquire("snapshot", messages=2) == pytest.approx(1.0)
        assert limiter.try_acquire("snapshot", messages=1) == pytest.approx(1.0)
        clock.advance(0.5)
        assert limiter.try_acquire_messages(1) == 0.0

    def test_a_refused_request_takes_nothing(self) -> None:
        """When one bucket refuses, the other keeps its tokens (no phantom messages counted)."""
        clock = FakeClock()
        limiter = RequestLimiter({"historical": 6}, 10, clock=clock, message_burst=3)
        limiter.try_acquire("historical")
        assert limiter.try_acquire("historical", messages=2) > 0
        # Burst 3 minus the first request's message: two are still there.
        assert limiter.try_acquire_messages(2) == 0.0

    def test_config_errors_name_the_key(self) -> None:
        """A bad per-minute rate names its config key; a burst above the cap is refused."""
        with pytest.raises(ConfigError, match=r"rate_limits\.snapshot\.per_minute"):
            RequestLimiter({"snapshot": 0}, 45, clock=FakeClock())
        with pytest.raises(ConfigError, match="message_burst"):
            RequestLimiter({}, 2, clock=FakeClock(), message_burst=3)

    def test_unknown_class_and_oversized_message_counts_are_refused(self) -> None:
        """Programming errors surface at once instead of waiting forever."""
        limiter = RequestLimiter({"snapshot": 60}, 45, clock=FakeClock())
        with pytest.raises(ValueError, match="unknown request class 'bars'"):
            limiter.try_acquire("bars")
        with pytest.raises(ValueError, match="burst 2"):
            asyncio.run(limiter.acquire("snapshot", messages=3))

    @settings(max_examples=60, deadline=None)
    @given(
        cap=st.integers(min_value=2, max_value=50),
        burst=st.integers(min_value=1, max_value=4),
        tasks=st.lists(
            st.tuples(
                st.sampled_from(["discovery", "snapshot", "historical", "cancel"]),
                st.integers(min_value=1, max_value=4),
                st.sampled_from([0.0, 0.0, 0.01, 0.3, 1.0, 2.5]),
            ),
            min_size=1,
            max_size=60,
        ),
    )
    def test_concurrent_callers_never_cross_any_limit(
        self, cap: int, burst: int, tasks: list[tuple[str, int, float]]
    ) -> None:
        """Concurrent callers: ≤ cap messages per 1-s window, ≤ per_minute per class per 60 s."""
        burst = min(burst, cap)
        per_minute = {"discovery": 120, "snapshot": 600, "historical": 6}
        clock = FakeClock()
        limiter = RequestLimiter(per_minute, cap, clock=clock, message_burst=burst)
        messages: list[tuple[float, int]] = []
        requests: dict[str, list[tuple[float, int]]] = {name: [] for name in per_minute}

        async def caller(kind: str, n: int, delay: float) -> None:
            await clock.sleep(delay)
            n = min(n, burst)
            if kind == "cancel":
                await limiter.acquire_messages(n)
            else:
                await limiter.acquire(kind, messages=n)
                requests[kind].append((clock.monotonic(), 1))
            messages.append((clock.monotonic(), n))

        async def run() -> None:
            await asyncio.gather(*(caller(*task) for task in tasks))

        asyncio.run(run())
        assert len(messages) == len(tasks)
        assert max_in_window(messages, Fraction(1), closed=True) <= cap
        for name, limit in per_minute.items():
            assert max_in_window(requests[name], Fraction(60)) <= limit

    @settings(max_examples=40, deadline=None)
    @given(
        cap=st.integers(min_value=1, max_value=60),
        burst=st.integers(min_value=1, max_value=4),
        count=st.integers(min_value=50, max_value=400),
    )
    def test_back_to_back_callers_run_at_the_configured_rate(
        self, cap: int, burst: int, count: int
    ) -> None:
        """Efficiency: no wait is longer than needed, so the cap is also the sustained rate.

        Each second repeats the first: ``burst`` messages at once, then one per 1/cap s,
        until the window holds ``cap``; the last of N messages goes out at
        ``⌊(N−1)/cap⌋ + max(0, (N−1) mod cap − burst + 1)/cap``.
        """
        burst = min(burst, cap)
        clock = FakeClock()
        limiter = RequestLimiter(
            {"snapshot": 1e9}, cap, clock=clock, message_burst=burst, request_burst=cap
        )
        grants: list[tuple[float, int]] = []

        async def run() -> None:
            for _ in range(count):
                await limiter.acquire("snapshot")
                grants.append((clock.monotonic(), 1))

        asyncio.run(run())
        last = count - 1
        expected = last // cap + max(0, last % cap - burst + 1) / cap
        assert limiter.message_rate == cap
        assert clock.monotonic() == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert max_in_window(grants, Fraction(1), closed=True) == min(cap, count)

    def test_many_concurrent_snapshots_share_the_cap_fully(self) -> None:
        """95 concurrent snapshot tasks × 10 requests use the whole message budget."""
        clock = FakeClock()
        limiter = RequestLimiter({"snapshot": 1e9}, 45, clock=clock, message_burst=1)

        async def worker() -> None:
            for _ in range(10):
                await limiter.acquire("snapshot")

        async def run() -> None:
            await asyncio.gather(*(worker() for _ in range(95)))

        asyncio.run(run())
        assert clock.monotonic() == pytest.approx((950 - 1) / 45, rel=1e-9)


class TestPacingBackoff:
    def test_runbook_sequence(self) -> None:
        """30 s after the first violation, then 60, 120, 240 (runbook)."""
        assert [pacing_wait(n) for n in (1, 2, 3, 4)] == [30.0, 60.0, 120.0, 240.0]
        assert pacing_wait(2, first=10, factor=3) == 30.0

    def test_failure_count_starts_at_one(self) -> None:
        """There is no wait before the first failure."""
        with pytest.raises(ValueError, match="starts at 1"):
            pacing_wait(0)

    def test_tenacity_on_a_fake_clock_waits_30_then_60_and_gives_up(self) -> None:
        """Three violations in a row: two waits (30, 60), then the error goes to the caller."""
        clock = FakeClock()
        calls = 0

        async def request() -> None:
            nonlocal calls
            calls += 1
            raise IBPacingError("pacing violation", code=162)

        async def run() -> None:
            async for attempt in AsyncRetrying(
                sleep=clock.sleep,
                wait=wait_pacing(),
                stop=stop_after_attempt(3),
                retry=retry_if_exception_type(IBPacingError),
                reraise=True,
            ):
                with attempt:
                    await request()

        with pytest.raises(IBPacingError):
            asyncio.run(run())
        assert calls == 3
        assert clock.sleeps == [30.0, 60.0]
