"""IB's pacing rules as configuration (SimLimits) and as pure bookkeeping classes.

Defaults are IB's (``shared/research/ib-limits.md`` §1). Every class takes the current
monotonic time as an argument instead of reading a clock, so tests can drive them directly and
the server decides what "now" is.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class SimLimits:
    """IB's limits; tests shrink the windows so a violation takes milliseconds, not minutes."""

    market_data_lines: int = 100
    # None = IB's rule: lines / 2 messages per second, where IB never grants fewer than 100
    # lines (so tests may shrink the lines without throttling connect() itself).
    messages_per_second: int | None = None
    # Rejected messages after which IB closes the API session (the third one).
    rate_violations_to_disconnect: int = 3
    # tickSnapshotEnd (57) follows a snapshot after this long; the snapshot holds a line meanwhile.
    snapshot_seconds: float = 11.0
    max_open_historical: int = 50
    # Small-bar (≤ 30 s) pacing: > max requests per window, identical request within
    # identical_seconds, ≥ same_contract_max requests for one contract+exchange+type within
    # same_contract_seconds. BID_ASK counts twice.
    hist_pacing_max_requests: int = 60
    hist_pacing_window_seconds: float = 600.0
    hist_identical_seconds: float = 15.0
    hist_same_contract_max: int = 6
    hist_same_contract_seconds: float = 2.0
    # How often a stream re-reads the market and sends what changed (IB samples US options
    # every 100 ms and stocks every 250 ms; only changes go out, so a closed market is quiet).
    tick_interval_seconds: float = 0.25
    # How often a keepUpToDate historical query re-sends its last bar (IB: about 5 s).
    keep_up_to_date_seconds: float = 5.0
    # Delay of delayed data (types 3/4).
    delayed_minutes: int = 15

    @property
    def rate(self) -> int:
        """Accepted client messages per second."""
        if self.messages_per_second is not None:
            return self.messages_per_second
        return max(100, self.market_data_lines) // 2


def limits_from_flags(
    lines: str | None, rate: str | None, snapshot_seconds: str | None
) -> SimLimits:
    """IB's limits changed by ``--lines``, ``--rate`` and ``--snapshot-seconds`` as typed
    (None: not given; without ``--rate`` the rate still follows the lines).

    Raises:
        ValueError: a value that is not positive, naming the flag and the value.
    """
    changes: dict[str, Any] = {}
    if lines is not None:
        changes["market_data_lines"] = _positive_int(lines, "--lines")
    if rate is not None:
        changes["messages_per_second"] = _positive_int(rate, "--rate")
    if snapshot_seconds is not None:
        changes["snapshot_seconds"] = _positive_seconds(snapshot_seconds, "--snapshot-seconds")
    return replace(SimLimits(), **changes)


def _positive_int(text: str, flag: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0  # refused below, with the same message
    if value <= 0:
        raise ValueError(f"{flag} {text!r} is not a positive whole number")
    return value


def _positive_seconds(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0  # refused below, with the same message
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{flag} {text!r} is not a positive number of seconds")
    return value


class MessageRate:
    """IB's "N messages per second" as a token bucket holding one second's worth.

    A client that keeps above N per second, or bursts more than N at once, is refused; one
    that paces itself just under N (ib_insync/ib_async: 45/s) is never refused, even when its
    bursts arrive a few milliseconds early or late, as loopback scheduling makes them.
    """

    def __init__(self, per_second: int) -> None:
        self._rate = float(per_second)
        self._tokens = float(per_second)
        self._last: float | None = None

    def admit(self, now: float) -> bool:
        """Spend a token for a message at ``now``; False means reject it (error 100)."""
        if self._last is not None:
            self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


@dataclass(frozen=True, slots=True)
class HistKey:
    """What IB compares for its small-bar pacing rules."""

    contract: str  # conId, or symbol/secType/expiry/strike/right when there is no conId
    exchange: str
    what_to_show: str
    detail: str  # everything else of the request: end, duration, bar size, RTH


class HistoricalPacing:
    """IB's three small-bar rules; only requests that were served are remembered."""

    def __init__(self, limits: SimLimits) -> None:
        self._limits = limits
        self._served: deque[tuple[float, HistKey, int]] = deque()

    def violation(self, key: HistKey, now: float) -> str | None:
        """Which rule the request would break, or None (then it is recorded as served)."""
        lim = self._limits
        horizon = max(
            lim.hist_pacing_window_seconds,
            lim.hist_identical_seconds,
            lim.hist_same_contract_seconds,
        )
        while self._served and self._served[0][0] <= now - horizon:
            self._served.popleft()
        weight = 2 if key.what_to_show == "BID_ASK" else 1
        in_window = same_contract = 0
        for at, seen, w in self._served:
            age = now - at
            if age < lim.hist_pacing_window_seconds:
                in_window += w
            if age < lim.hist_identical_seconds and seen == key:
                return "identical"
            if age < lim.hist_same_contract_seconds and (
                seen.contract,
                seen.exchange,
                seen.what_to_show,
            ) == (key.contract, key.exchange, key.what_to_show):
                same_contract += w
        if in_window + weight > lim.hist_pacing_max_requests:
            return "window"
        if same_contract + weight >= lim.hist_same_contract_max:
            return "same_contract"
        self._served.append((now, key, weight))
        return None


def is_small_bar(bar_size: str) -> bool:
    """Bars of 30 seconds or less fall under IB's hard pacing rules."""
    number, _, unit = bar_size.strip().partition(" ")
    try:
        n = int(number)
    except ValueError:
        return False
    return unit.startswith("sec") and n <= 30
