"""Listed contracts: option chains per session, con_ids, and con_id reverse lookup.

con_ids are collision-free by construction, and decodable without any registry, so
``Market.instrument`` answers for any contract in any call order. Options live in
``[2**30, 2**31)``: each underlying owns a block (default symbols a fixed one each, other
symbols one per rank among the market's generated symbols), split into equal slots per
(expiry, trading class) of the whole calendar, each slot holding ``2 × strike rank + put``.
Stocks keep IB's real con_ids (default symbols) or ``500_000_000 + rank``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opt_data.sim.instruments import Instrument
from opt_data.sim.market.calendar import Sessions
from opt_data.sim.market.expiries import Expiry, class_expiries
from opt_data.sim.market.lru import Lru
from opt_data.sim.market.paths import DailyPath
from opt_data.sim.market.strikes import StrikeGrid, strike_grid
from opt_data.sim.market.underlyings import DEFAULT_SYMBOLS, TICKS, OptionClass, Underlying

OPTION_BASE = 2**30
CURATED_BLOCK = 2**24
GENERATED_BASE = OPTION_BASE + 2**28
GENERATED_BLOCK = 786_432  # (2**31 - GENERATED_BASE) / 1024
MAX_GENERATED = 1024
_LONGEST_HORIZON = dt.timedelta(days=1000)  # beyond any listing horizon (LEAPS: 913 days)
CHAINS_KEPT = 32  # (symbol, session) chains cached: an SPX chain alone is ~10 MB


@dataclass(frozen=True, slots=True)
class Series:
    """One expiry of one trading class of an underlying, with its life-long strike grid."""

    underlying: Underlying
    cls: OptionClass
    expiry: Expiry
    pair: int  # position among the underlying's (expiry, class) pairs: the con_id slot
    grid: StrikeGrid


@dataclass(frozen=True, slots=True)
class Contract:
    """A listed option and what the market needs to price it."""

    inst: Instrument
    series: Series
    first_index: int  # first session on which this strike is listed
    key: str  # seed key for its activity: independent of con_id, hence of the symbol set


@dataclass(frozen=True, slots=True)
class _Layout:
    start: int  # first con_id of the underlying's block
    slots: int  # con_ids per (expiry, class) pair
    pairs: tuple[tuple[int, int], ...]  # pair -> (class index, expiry position)
    pair_of: dict[tuple[int, int], int]


def _day(e: Expiry) -> dt.date:
    return e.day


def occ_symbol(root: str, expiry: dt.date, right: str, strike: float) -> str:
    """The 21-character OCC option symbol, e.g. ``SPY   240119C00500000``."""
    return f"{root:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


class Universe:
    """Everything listed by a market: stocks, classes, expiries, strikes, con_ids."""

    def __init__(
        self,
        underlyings: Sequence[Underlying],
        sessions: Sessions,
        path_of: Callable[[str], DailyPath],
    ) -> None:
        self._sessions = sessions
        self._path_of = path_of
        self._by_symbol = {u.symbol: u for u in underlyings}
        self._by_stock_con_id = {u.con_id: u for u in underlyings}
        generated = sorted(s for s in self._by_symbol if s not in DEFAULT_SYMBOLS)
        if len(generated) > MAX_GENERATED:
            raise ValueError(f"at most {MAX_GENERATED} non-default symbols are supported")
        self._generated = generated
        self._block_start = {
            s: GENERATED_BASE + i * GENERATED_BLOCK for i, s in enumerate(generated)
        }
        for i, s in enumerate(DEFAULT_SYMBOLS):
            if s in self._by_symbol:
                self._block_start[s] = OPTION_BASE + i * CURATED_BLOCK
        self._expiries_by_kinds: dict[tuple[tuple[str, int], ...], tuple[Expiry, ...]] = {}
        # Bounded: a whole-universe run touches every symbol.
        self._layouts: Lru[str, _Layout] = Lru(256)
        self._series: Lru[tuple[str, int, int], Series] = Lru(2048)
        self._chains: Lru[tuple[str, int], tuple[Contract, ...]] = Lru(CHAINS_KEPT)

    def underlying(self, symbol: str) -> Underlying | None:
        return self._by_symbol.get(symbol)

    def expiries(self, cls: OptionClass) -> tuple[Expiry, ...]:
        found = self._expiries_by_kinds.get(cls.kinds)
        if found is None:
            found = class_expiries(cls, self._sessions)
            self._expiries_by_kinds[cls.kinds] = found
        return found

    def stock_instrument(self, u: Underlying) -> Instrument:
        return Instrument(
            con_id=u.con_id, symbol=u.symbol, sec_type=u.sec_type, expiry=None, strike=0.0,
            right="", multiplier=1, exchange=u.exchange, primary_exchange=u.primary_exchange,
            currency="USD", local_symbol=u.symbol, trading_class=u.stock_trading_class,
            long_name=u.long_name, min_tick=0.01, nonstandard=False, under_con_id=0,
        )  # fmt: skip

    def stock_by_con_id(self, con_id: int) -> Underlying | None:
        return self._by_stock_con_id.get(con_id)

    def listed(self, u: Underlying, session: int) -> tuple[Contract, ...]:
        """Every contract listed on session index ``session`` (expiring on it or later)."""
        return self._chains.get((u.symbol, session), lambda: self._build_chain(u, session))

    def recently_expired(self, u: Underlying, on: dt.date, days: int) -> list[Contract]:
        """Contracts that expired in the ``days`` calendar days before ``on``."""
        out: list[Contract] = []
        for ci, cls in enumerate(u.classes):
            exps = self.expiries(cls)
            pos = bisect_left(exps, on - dt.timedelta(days=days), key=_day)
            while pos < len(exps) and exps[pos].day < on:
                series = self.series(u, ci, pos)
                out.extend(self._contracts(series, exps[pos].index))
                pos += 1
        return out

    def series(self, u: Underlying, cls_index: int, pos: int) -> Series:
        return self._series.get(
            (u.symbol, cls_index, pos), lambda: self._build_series(u, cls_index, pos)
        )

    def contract(self, con_id: int) -> Contract | None:
        """Decode an option con_id back into its contract (None if it names nothing)."""
        symbol = self._symbol_of_block(con_id)
        if symbol is None:
            return None
        u = self._by_symbol[symbol]
        layout = self._layout(u)
        pair, rem = divmod(con_id - layout.start, layout.slots)
        if pair >= len(layout.pairs):
            return None
        series = self.series(u, *layout.pairs[pair])
        rank, put = divmod(rem, 2)
        if rank >= len(series.grid.strikes):
            return None
        return self._contract(series, rank, "P" if put else "C")

    def _symbol_of_block(self, con_id: int) -> str | None:
        if OPTION_BASE <= con_id < GENERATED_BASE:
            i = (con_id - OPTION_BASE) // CURATED_BLOCK
            symbol = DEFAULT_SYMBOLS[i] if i < len(DEFAULT_SYMBOLS) else None
        elif GENERATED_BASE <= con_id < 2**31:
            i = (con_id - GENERATED_BASE) // GENERATED_BLOCK
            symbol = self._generated[i] if i < len(self._generated) else None
        else:
            return None
        return symbol if symbol in self._by_symbol else None

    def _layout(self, u: Underlying) -> _Layout:
        return self._layouts.get(u.symbol, lambda: self._build_layout(u))

    def _build_layout(self, u: Underlying) -> _Layout:
        keyed = sorted(
            (e.day, ci, pos)
            for ci, cls in enumerate(u.classes)
            for pos, e in enumerate(self.expiries(cls))
        )
        pairs = tuple((ci, pos) for _, ci, pos in keyed)
        block = CURATED_BLOCK if u.symbol in DEFAULT_SYMBOLS else GENERATED_BLOCK
        return _Layout(
            start=self._block_start[u.symbol],
            slots=(block // len(pairs)) & ~1,
            pairs=pairs,
            pair_of={p: i for i, p in enumerate(pairs)},
        )

    def _build_series(self, u: Underlying, cls_index: int, pos: int) -> Series:
        cls = u.classes[cls_index]
        expiry = self.expiries(cls)[pos]
        closes = self._path_of(u.symbol).closes[expiry.listing_index : expiry.index + 1]
        life = (expiry.day - self._sessions.date(expiry.listing_index)).days / 365.0
        grid = strike_grid(u, cls, closes, expiry.listing_index, life)
        layout = self._layout(u)
        if 2 * len(grid.strikes) > layout.slots:  # an invariant of the grid rules, not input
            raise RuntimeError(f"{u.symbol} {expiry.day}: {len(grid.strikes)} strikes overflow")
        return Series(u, cls, expiry, layout.pair_of[(cls_index, pos)], grid)

    def _contract(self, series: Series, rank: int, right: str) -> Contract:
        u, cls, day = series.underlying, series.cls, series.expiry.day
        strike = series.grid.strikes[rank]
        layout = self._layout(u)
        con_id = layout.start + series.pair * layout.slots + 2 * rank + (right == "P")
        inst = Instrument(
            con_id=con_id, symbol=u.symbol, sec_type="OPT", expiry=day, strike=strike,
            right=right, multiplier=cls.multiplier, exchange="SMART", primary_exchange="",
            currency="USD", local_symbol=occ_symbol(cls.name, day, right, strike),
            trading_class=cls.name, long_name=u.long_name, min_tick=TICKS[cls.ticks][0],
            nonstandard=cls.nonstandard, under_con_id=u.con_id,
        )  # fmt: skip
        key = f"{u.symbol}|{cls.name}|{day}|{strike:.2f}|{right}"
        return Contract(inst, series, series.grid.first_index[rank], key)

    def _contracts(self, series: Series, session: int) -> list[Contract]:
        return [
            self._contract(series, rank, right)
            for rank, first in enumerate(series.grid.first_index)
            if first <= session
            for right in ("C", "P")
        ]

    def _build_chain(self, u: Underlying, session: int) -> tuple[Contract, ...]:
        on = self._sessions.date(session)
        out: list[Contract] = []
        for ci, cls in enumerate(u.classes):
            exps = self.expiries(cls)
            pos = bisect_left(exps, on, key=_day)
            while pos < len(exps) and exps[pos].day <= on + _LONGEST_HORIZON:
                if exps[pos].listing_index <= session:
                    out.extend(self._contracts(self.series(u, ci, pos), session))
                pos += 1
        out.sort(key=lambda c: (c.inst.expiry, c.inst.trading_class, c.inst.strike, c.inst.right))
        return tuple(out)
