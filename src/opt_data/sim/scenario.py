"""Fault injection: the Scenario record, its TOML schema, and the deterministic draws it needs.

A scenario only says *what* goes wrong; the server decides *how* IB shows it on the wire.
The schema is documented in ``docs/simulator.md``; unknown keys are errors, so a typo never
silently disables a fault.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

T = TypeVar("T")

REQUEST_CLASSES = frozenset(
    {"contract_details", "sec_def", "market_data", "snapshot", "historical", "head_timestamp"}
)


class ScenarioError(ValueError):
    """A scenario file that does not match the schema; the message names the key."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the socket of a session after N client messages, or at a simulated time."""

    after_messages: int | None = None
    at: dt.datetime | None = None
    sessions: int = 1  # how many sessions, in connection order, are cut


@dataclass(frozen=True, slots=True)
class ConnectivityLoss:
    """IB↔gateway link down (1100) for a while, then back with data lost (1101) or kept (1102).

    Gateway-wide: triggered by the N-th client message of all sessions, or at a simulated time.
    While down, streams stop ticking and replies are held until the link is back.
    """

    after_messages: int | None = None
    at: dt.datetime | None = None
    duration_seconds: float = 1.0
    restore: Literal["data_lost", "data_kept"] = "data_kept"


@dataclass(frozen=True, slots=True)
class ClientIdInUse:
    """These client ids are taken by "another application" (326, then the socket closes)."""

    client_ids: tuple[int, ...] = ()
    attempts: int = 0  # refuse only the first N attempts per id; 0 = always


@dataclass(frozen=True, slots=True)
class PacingStorm:
    """The next ``count`` matching requests are refused: 162 pacing (historical) or 100."""

    count: int
    classes: tuple[str, ...] = ()  # empty = every request class
    symbols: tuple[str, ...] = ()  # empty = every symbol
    after_requests: int = 0  # let this many matching requests through first


@dataclass(frozen=True, slots=True)
class Missing:
    """A share of option contracts never gets greeks / open interest (chosen by con_id)."""

    greeks_share: float = 0.0
    oi_share: float = 0.0


@dataclass(frozen=True, slots=True)
class Latency:
    """Each reply is held ``fixed_ms`` + uniform(0, ``jitter_ms``), drawn from the seed."""

    fixed_ms: float = 0.0
    jitter_ms: float = 0.0
    classes: tuple[str, ...] = ()  # empty = every request class

    def applies(self, kind: str) -> bool:
        return (self.fixed_ms > 0 or self.jitter_ms > 0) and (
            not self.classes or kind in self.classes
        )

    def draw(self, rng: random.Random) -> float:
        """One delay in seconds."""
        return (self.fixed_ms + rng.uniform(0.0, self.jitter_ms)) / 1000.0


@dataclass(frozen=True, slots=True)
class CompetingSession:
    """Another session of the same user holds the data: market data answers 10197."""

    symbols: tuple[str, ...] = ()  # empty = every symbol


@dataclass(frozen=True, slots=True)
class Scenario:
    """Every fault the simulator can inject; the default injects none."""

    disconnect: Disconnect | None = None
    connectivity: ConnectivityLoss | None = None
    client_id_in_use: ClientIdInUse | None = None
    pacing_storms: tuple[PacingStorm, ...] = ()
    missing: Missing = field(default_factory=Missing)
    latency: Latency = field(default_factory=Latency)
    delayed_only: bool = False
    unknown_symbols: tuple[str, ...] = ()
    competing_session: CompetingSession | None = None

    @classmethod
    def from_toml(cls, path: Path) -> Scenario:
        """Read a scenario file; ScenarioError names the offending key."""
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ScenarioError(f"{path}: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
        """Build from parsed TOML (or any mapping of the same shape)."""
        try:
            return cls._build(_Reader(data, ""))
        except ScenarioError as exc:
            raise ScenarioError(f"{source}: {exc}") from None

    @classmethod
    def _build(cls, r: _Reader) -> Scenario:
        scenario = cls(
            disconnect=r.table("disconnect", _disconnect),
            connectivity=r.table("connectivity", _connectivity),
            client_id_in_use=r.table("client_id_in_use", _client_id_in_use),
            pacing_storms=r.tables("pacing_storm", _pacing_storm),
            missing=r.table("missing", _missing) or Missing(),
            latency=r.table("latency", _latency) or Latency(),
            delayed_only=r.boolean("delayed_only", default=False),
            unknown_symbols=r.strings("unknown_symbols"),
            competing_session=r.table("competing_session", _competing),
        )
        r.done()
        return scenario


def share_hit(seed: int, con_id: int, salt: str, share: float) -> bool:
    """Deterministic "is this contract in the share": the same seed and con_id always agree."""
    if share <= 0.0:
        return False
    digest = hashlib.blake2b(f"{seed}:{salt}:{con_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < share


# --------------------------------------------------------------------------- schema reading


class _Reader:
    """Typed access to one TOML table that remembers which keys were used."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(f"{where or 'top level'}: expected a table")
        self._data = data
        self._where = where
        self._used: set[str] = set()

    def _get(self, key: str) -> Any:
        self._used.add(key)
        return self._data.get(key)

    def _path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def _fail(self, key: str, expected: str) -> ScenarioError:
        return ScenarioError(f"{self._path(key)}: expected {expected}, got {self._data[key]!r}")

    def integer(self, key: str, *, default: int | None = None, minimum: int = 0) -> int | None:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, f"an integer ≥ {minimum}")
        return value

    def number(self, key: str, *, default: float, maximum: float | None = None) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self._fail(key, "a number ≥ 0")
        if maximum is not None and value > maximum:
            raise self._fail(key, f"a number ≤ {maximum}")
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def strings(self, key: str, *, allowed: frozenset[str] | None = None) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings")
        if allowed is not None and not set(value) <= allowed:
            raise self._fail(key, f"values from {sorted(allowed)}")
        return tuple(value)

    def integers(self, key: str) -> tuple[int, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self._fail(key, "a list of integers")
        return tuple(value)

    def choice(self, key: str, options: tuple[str, ...], *, default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if value not in options:
            raise self._fail(key, f"one of {list(options)}")
        return str(value)

    def moment(self, key: str) -> dt.datetime | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise self._fail(key, "an ISO-8601 date-time with offset") from None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise self._fail(key, "a date-time with a UTC offset")
        return value

    def table(self, key: str, build: Callable[[_Reader], T]) -> T | None:
        value = self._get(key)
        if value is None:
            return None
        sub = _Reader(value, self._path(key))
        result = build(sub)
        sub.done()
        return result

    def tables(self, key: str, build: Callable[[_Reader], T]) -> tuple[T, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._fail(key, "an array of tables ([[...]])")
        out = []
        for i, item in enumerate(value):
            sub = _Reader(item, f"{self._path(key)}[{i}]")
            out.append(build(sub))
            sub.done()
        return tuple(out)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            where = self._where or "top level"
            raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _disconnect(r: _Reader) -> Disconnect:
    d = Disconnect(
        after_messages=r.integer("after_messages", minimum=1),
        at=r.moment("at"),
        sessions=r.integer("sessions", default=1, minimum=1) or 1,
    )
    if d.after_messages is None and d.at is None:
        raise ScenarioError("disconnect: set after_messages or at")
    return d


def _connectivity(r: _Reader) -> ConnectivityLoss:
    c = ConnectivityLoss(
        after_messages=r.integer("after_messages", minimum=1),
        at=r.moment("at"),
        duration_seconds=r.number("duration_seconds", default=1.0),
        restore=cast(
            Literal["data_lost", "data_kept"],
            r.choice("restore", ("data_lost", "data_kept"), default="data_kept"),
        ),
    )
    if c.after_messages is None and c.at is None:
        raise ScenarioError("connectivity: set after_messages or at")
    return c


def _client_id_in_use(r: _Reader) -> ClientIdInUse:
    return ClientIdInUse(
        client_ids=r.integers("client_ids"), attempts=r.integer("attempts", default=0) or 0
    )


def _pacing_storm(r: _Reader) -> PacingStorm:
    count = r.integer("count", minimum=1)
    if count is None:
        raise ScenarioError("pacing_storm: count is required")
    return PacingStorm(
        count=count,
        classes=r.strings("classes", allowed=REQUEST_CLASSES),
        symbols=r.strings("symbols"),
        after_requests=r.integer("after_requests", default=0) or 0,
    )


def _missing(r: _Reader) -> Missing:
    return Missing(
        greeks_share=r.number("greeks_share", default=0.0, maximum=1.0),
        oi_share=r.number("oi_share", default=0.0, maximum=1.0),
    )


def _latency(r: _Reader) -> Latency:
    return Latency(
        fixed_ms=r.number("fixed_ms", default=0.0),
        jitter_ms=r.number("jitter_ms", default=0.0),
        classes=r.strings("classes", allowed=REQUEST_CLASSES),
    )


def _competing(r: _Reader) -> CompetingSession:
    return CompetingSession(symbols=r.strings("symbols"))
