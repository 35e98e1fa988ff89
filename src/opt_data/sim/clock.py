"""The simulated wall clock: a fixed start (``--now``) that then runs forward in real time.

Only *market* time comes from here (what the quotes, the session and ``currentTime`` say).
Pacing windows, snapshot timers and latencies are real elapsed time, because that is what the
client experiences; they use the event loop's monotonic clock instead.
"""

from __future__ import annotations

import datetime as dt
import threading
import time


class SimClock:
    """Simulated "now": ``start`` plus real elapsed time, or the real time if no start.

    ``advance`` moves it forward (tests use it to cross a close or an expiry without waiting).
    It is read from the server thread and from tests, so the offset is guarded by a lock.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the simulated start time needs a UTC offset")
        self._lock = threading.Lock()
        self._base = start
        self._t0 = time.monotonic()
        self._offset = dt.timedelta()

    def now(self) -> dt.datetime:
        """The simulated time, aware, in UTC."""
        with self._lock:
            offset = self._offset
        if self._base is None:
            return dt.datetime.now(dt.UTC) + offset
        elapsed = dt.timedelta(seconds=time.monotonic() - self._t0)
        return (self._base + elapsed + offset).astimezone(dt.UTC)

    def advance(self, delta: dt.timedelta) -> None:
        """Jump forward (or back, with a negative delta)."""
        with self._lock:
            self._offset += delta
