"""SimStats: what the simulator saw and sent, for tests, benchmarks and ``--stats-file``.

The server thread writes, tests read from another thread: every update and every read goes
through one lock, and readers get plain copies (``snapshot()``), never the live dicts.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any


class SimStats:
    """Counters of one simulator run (all sessions together)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages_in: Counter[str] = Counter()
        self._messages_out: Counter[str] = Counter()
        self._errors: Counter[int] = Counter()
        self._requests: Counter[str] = Counter()
        self._violations: Counter[str] = Counter()
        self._by_symbol: dict[str, Counter[str]] = {}
        self._lines = 0
        self._peak_lines = 0
        self._open_hist = 0
        self._peak_open_hist = 0
        self._sessions = 0
        self._disconnects = 0

    # ------------------------------------------------------------------ writers (server thread)

    def message_in(self, name: str) -> None:
        with self._lock:
            self._messages_in[name] += 1

    def message_out(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._messages_out[name] += n

    def error_sent(self, code: int) -> None:
        with self._lock:
            self._errors[code] += 1

    def request(self, kind: str, symbol: str | None = None) -> None:
        """One request of a class (contract_details, market_data, historical...)."""
        with self._lock:
            self._requests[kind] += 1
            if symbol:
                self._by_symbol.setdefault(symbol, Counter())[kind] += 1

    def violation(self, kind: str) -> None:
        """A limit crossed: rate, lines, open_historical, hist_pacing, snapshot_generic..."""
        with self._lock:
            self._violations[kind] += 1

    def lines_changed(self, delta: int) -> None:
        with self._lock:
            self._lines += delta
            self._peak_lines = max(self._peak_lines, self._lines)

    def open_historical_changed(self, delta: int) -> None:
        with self._lock:
            self._open_hist += delta
            self._peak_open_hist = max(self._peak_open_hist, self._open_hist)

    def session_opened(self) -> None:
        with self._lock:
            self._sessions += 1

    def session_dropped(self) -> None:
        """The server closed a session on purpose (rate strikes, 326, a scripted disconnect)."""
        with self._lock:
            self._disconnects += 1

    # ------------------------------------------------------------------ readers (any thread)

    @property
    def lines_in_use(self) -> int:
        with self._lock:
            return self._lines

    @property
    def peak_lines(self) -> int:
        with self._lock:
            return self._peak_lines

    @property
    def open_historical(self) -> int:
        with self._lock:
            return self._open_hist

    @property
    def peak_open_historical(self) -> int:
        with self._lock:
            return self._peak_open_hist

    def errors(self, code: int) -> int:
        """How many errors with this code were sent."""
        with self._lock:
            return self._errors[code]

    def requests(self, kind: str, symbol: str | None = None) -> int:
        """Requests of a class, overall or for one symbol."""
        with self._lock:
            if symbol is None:
                return self._requests[kind]
            return self._by_symbol.get(symbol, Counter())[kind]

    def violations(self, kind: str | None = None) -> int:
        """Violations of one kind, or of all kinds."""
        with self._lock:
            return self._violations[kind] if kind else sum(self._violations.values())

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every counter."""
        with self._lock:
            return {
                "sessions": self._sessions,
                "disconnects": self._disconnects,
                "messages_in": dict(self._messages_in),
                "messages_out": dict(self._messages_out),
                "messages_in_total": sum(self._messages_in.values()),
                "messages_out_total": sum(self._messages_out.values()),
                "errors_by_code": {str(k): v for k, v in sorted(self._errors.items())},
                "requests_by_class": dict(self._requests),
                "requests_by_symbol": {s: dict(c) for s, c in sorted(self._by_symbol.items())},
                "violations": dict(self._violations),
                "violations_total": sum(self._violations.values()),
                "lines_in_use": self._lines,
                "peak_lines": self._peak_lines,
                "open_historical": self._open_hist,
                "peak_open_historical": self._peak_open_hist,
            }

    def write_json(self, path: Path) -> None:
        """Write ``snapshot()`` as JSON (temp file + rename, so a reader never sees half)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)
