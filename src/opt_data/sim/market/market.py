"""``Market``: the deterministic simulated option market the gateway serves.

A pure facade: no I/O, no clock of its own (every question carries the instant it is
asked about), no global state. Same seed and same arguments give the same answers in any
order and in any process. The parts: ``underlyings`` (who is listed), ``paths`` (prices),
``chains``/``expiries``/``strikes`` (what is listed), ``pricing``/``quotes``/``activity``
(what it trades at), ``history`` (bars).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from opt_data.sim.instruments import Bar, ChainParams, Instrument, OptionState, StockState
from opt_data.sim.market.calendar import Sessions
from opt_data.sim.market.chains import CHAINS_KEPT, Contract, Universe
from opt_data.sim.market.errors import no_security_definition
from opt_data.sim.market.history import History
from opt_data.sim.market.paths import DailyPath
from opt_data.sim.market.pricing import Pricer
from opt_data.sim.market.quotes import Quoter
from opt_data.sim.market.underlyings import DEFAULT_SYMBOLS, Underlying, curated, generated

EXPIRED_MEMORY_DAYS = 7  # IB stops resolving expired options about a week after expiry


class Market:
    """Stocks, option chains, quotes, Greeks, open interest and history for a set of symbols."""

    def __init__(self, *, seed: int = 0, symbols: Iterable[str] | None = None) -> None:
        wanted = DEFAULT_SYMBOLS if symbols is None else tuple(dict.fromkeys(symbols))
        for symbol in wanted:
            if not symbol or symbol != symbol.strip():
                raise ValueError(f"bad symbol {symbol!r}")
        rank = {s: i for i, s in enumerate(sorted(s for s in wanted if curated(s) is None))}
        underlyings = [curated(s) or generated(seed, s, rank[s]) for s in wanted]
        self.seed = seed
        self.symbols: tuple[str, ...] = wanted
        self._sessions = Sessions()
        self._pricer = Pricer(seed, self._sessions)
        self._universe = Universe(underlyings, self._sessions, self._daily_path)
        self._quoter = Quoter(self._pricer, self._universe)
        self._history = History(self._pricer, self._quoter)

    # ----------------------------------------------------------------- reference data
    def knows(self, symbol: str) -> bool:
        return self._universe.underlying(symbol) is not None

    def stock(self, symbol: str) -> Instrument | None:
        u = self._universe.underlying(symbol)
        return None if u is None else self._universe.stock_instrument(u)

    def instrument(self, con_id: int) -> Instrument | None:
        u = self._universe.stock_by_con_id(con_id)
        if u is not None:
            return self._universe.stock_instrument(u)
        c = self._universe.contract(con_id)
        return None if c is None else c.inst

    def chain_params(self, symbol: str, on: dt.date) -> list[ChainParams]:
        """One entry per (exchange, trading class): listed expiries and the union of strikes."""
        u = self._universe.underlying(symbol)
        if u is None:
            return []
        by_class: dict[str, tuple[set[str], set[float], int]] = {}
        for c in self._listed(u, on):
            exps, strikes, _ = by_class.setdefault(
                c.inst.trading_class, (set(), set(), c.inst.multiplier)
            )
            assert c.inst.expiry is not None
            exps.add(c.inst.expiry.strftime("%Y%m%d"))
            strikes.add(c.inst.strike)
        return [
            ChainParams(
                exchange=exchange,
                underlying_con_id=u.con_id,
                trading_class=cls,
                multiplier=multiplier,
                expirations=tuple(sorted(exps)),
                strikes=tuple(sorted(strikes)),
            )
            for exchange in u.option_exchanges
            for cls, (exps, strikes, multiplier) in by_class.items()
        ]

    def options(
        self,
        symbol: str,
        on: dt.date,
        *,
        expiry: dt.date | None = None,
        strike: float | None = None,
        right: str | None = None,
        trading_class: str | None = None,
        include_expired: bool = False,
    ) -> list[Instrument]:
        """Contracts listed on session ``on`` matching the partial spec (None = any).

        With ``include_expired``, contracts that expired in the ``EXPIRED_MEMORY_DAYS``
        calendar days before ``on`` are included too; older ones are forgotten, as by IB.
        """
        u = self._universe.underlying(symbol)
        if u is None:
            return []
        want_right = _normal_right(right)
        candidates = list(self._listed(u, on))
        if include_expired:
            recent = self._universe.recently_expired(u, on, EXPIRED_MEMORY_DAYS)
            candidates = recent + candidates
        return [
            c.inst
            for c in candidates
            if (expiry is None or c.inst.expiry == expiry)
            and (strike is None or abs(c.inst.strike - strike) < 1e-6)
            and (want_right is None or c.inst.right == want_right)
            and (trading_class is None or c.inst.trading_class == trading_class)
        ]

    def warm(self, at: dt.datetime, symbols: Iterable[str] | None = None) -> None:
        """Compute ahead what the first requests of ``at``'s session for ``symbols`` need.

        IB answers the first quote of a symbol in milliseconds; here it first builds the
        daily path, the session's chain and its open interest and volume totals (ticks
        27-30), 0.1-0.2 s for an ordinary symbol and over 1 s for SPX, during which the
        single-threaded gateway answers nothing. Warming before serving keeps that out of
        what the benchmarks measure. Covers ``stock_state`` at any moment of that session,
        ``chain_params`` and ``options`` on its date, and option con_id lookups in its
        chain. ``symbols`` defaults to all of the market's; more than ``CHAINS_KEPT`` (the
        chain cache's size) raise ``ValueError``, as the first would be evicted again.
        """
        wanted = self.symbols if symbols is None else tuple(dict.fromkeys(symbols))
        if len(wanted) > CHAINS_KEPT:
            raise ValueError(f"at most {CHAINS_KEPT} symbols stay warm, not {len(wanted)}")
        on = self.session_of(at)
        for symbol in wanted:
            stock = self.stock(symbol)
            if stock is None:
                raise ValueError(f"unknown symbol {symbol!r}")
            self.stock_state(stock, at)
            self.chain_params(symbol, on)

    # ------------------------------------------------------------------------- time
    def is_open(self, at: dt.datetime) -> bool:
        """Whether ``at`` falls inside an XNYS regular session (early closes honoured)."""
        return self._pricer.moment(at).live

    def session_of(self, at: dt.datetime) -> dt.date:
        """The session whose values ``at`` sees: today's from its open on, else the previous."""
        return self._sessions.date(self._pricer.moment(at).session)

    # ------------------------------------------------------------------ market data
    def stock_state(self, inst: Instrument, at: dt.datetime) -> StockState:
        u = self._universe.stock_by_con_id(inst.con_id)
        if u is None:
            raise no_security_definition()
        return self._quoter.stock_state(u, self._pricer.moment(at))

    def option_state(self, inst: Instrument, at: dt.datetime) -> OptionState:
        """Intraday values while open; the closing values of ``session_of(at)`` otherwise.

        Raises ``MarketDataError`` 200 for a contract not listed at ``at`` (not yet listed,
        or already expired).
        """
        c = self._contract(inst)
        m = self._pricer.moment(at)
        if not c.first_index <= m.session <= c.series.expiry.index:
            raise no_security_definition()
        return self._quoter.option_state(c, m)

    # ---------------------------------------------------------------------- history
    def bars(
        self,
        inst: Instrument,
        *,
        end: dt.datetime,
        duration: str,
        bar_size: str,
        what_to_show: str,
        use_rth: bool,
        now: dt.datetime | None = None,
    ) -> list[Bar]:
        """Historical bars ending at ``end`` (daily: ``Bar.start`` a date; else NY datetimes).

        ``now`` is the simulated clock when the server knows it: ``end`` is clamped to it and
        an option that expired before it has no history (166). ``use_rth`` is accepted for
        the wire's sake; the simulated tape only has regular trading hours.
        """
        del use_rth
        u, c = self._subject(inst)
        return self._history.bars(
            u, c, end=end, duration=duration, bar_size=bar_size,
            what_to_show=what_to_show, now=now,
        )  # fmt: skip

    def head_timestamp(
        self, inst: Instrument, what_to_show: str, now: dt.datetime | None = None
    ) -> dt.datetime:
        """Earliest available data: the calendar's first session, or an option's listing."""
        u, c = self._subject(inst)
        return self._history.head_timestamp(u, c, what_to_show, now)

    # ----------------------------------------------------------------------- helpers
    def _subject(self, inst: Instrument) -> tuple[Underlying, Contract | None]:
        if inst.sec_type == "OPT":
            c = self._contract(inst)
            return c.series.underlying, c
        u = self._universe.stock_by_con_id(inst.con_id)
        if u is None:
            raise no_security_definition()
        return u, None

    def _daily_path(self, symbol: str) -> DailyPath:
        u = self._universe.underlying(symbol)
        assert u is not None
        return self._pricer.daily(u)

    def _listed(self, u: Underlying, on: dt.date) -> tuple[Contract, ...]:
        """Contracts listed on ``on``; on a non-session day, the last session's unexpired ones."""
        self._sessions.check_range(on)
        session = self._sessions.index_on_or_before(on)
        chain = self._universe.listed(u, session)
        if self._sessions.date(session) == on:
            return chain
        return tuple(c for c in chain if c.inst.expiry is not None and c.inst.expiry >= on)

    def _contract(self, inst: Instrument) -> Contract:
        c = self._universe.contract(inst.con_id) if inst.sec_type == "OPT" else None
        if c is None:
            raise no_security_definition()
        return c


def _normal_right(right: str | None) -> str | None:
    if not right:
        return None
    r = right.upper()
    return {"CALL": "C", "PUT": "P"}.get(r, r)
