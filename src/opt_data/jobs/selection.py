"""Which expiries and contracts the daily update collects (pure; table-tested).

IB's chain parameters list the *union* of strikes across expiries, so the collector never
builds strike × expiry pairs from them: it picks expiries here, asks IB for the contracts
actually listed in them, and then picks contracts from that real list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby

from opt_data.models import ChainParams, OptionContract


@dataclass(frozen=True, slots=True)
class ContractFilter:
    """The user's contract filters (``[filters]`` in config/opt-data.toml)."""

    min_dte: int = 0
    max_dte: int = 60
    moneyness: float = 0.2  # keep strikes within ±20% of the underlying price
    rights: tuple[str, ...] = ("C", "P")
    include_weeklies: bool = True
    max_contracts_per_underlying: int = 400
    trading_classes: tuple[str, ...] = ()  # empty: every class IB lists


@dataclass(frozen=True, slots=True)
class ExpiryRequest:
    """One contract-details request: every contract of one expiry in one trading class."""

    trading_class: str
    expiration: dt.date


def is_standard_monthly(expiration: dt.date, is_session: Callable[[dt.date], bool]) -> bool:
    """Third-Friday expiries (the Thursday before when that Friday is a holiday)."""
    if 15 <= expiration.day <= 21 and expiration.weekday() == 4:
        return True
    friday = expiration + dt.timedelta(days=1)
    return expiration.weekday() == 3 and 15 <= friday.day <= 21 and not is_session(friday)


def select_expiries(
    chains: Iterable[ChainParams],
    trade_date: dt.date,
    flt: ContractFilter,
    is_session: Callable[[dt.date], bool],
) -> list[ExpiryRequest]:
    """The (trading class, expiry) pairs to resolve, one request each, earliest first.

    IB repeats each class once per exchange; SMART and CBOE list the same contracts, so each
    pair is requested once.
    """
    wanted: set[ExpiryRequest] = set()
    for chain in chains:
        if flt.trading_classes and chain.trading_class not in flt.trading_classes:
            continue
        for expiration in chain.expirations:
            dte = (expiration - trade_date).days
            if not flt.min_dte <= dte <= flt.max_dte:
                continue
            if not flt.include_weeklies and not is_standard_monthly(expiration, is_session):
                continue
            wanted.add(ExpiryRequest(chain.trading_class, expiration))
    return sorted(wanted, key=lambda r: (r.expiration, r.trading_class))


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """One contract-details request: a class and one expiry, or a whole month of expiries.

    ``expiry`` is IB's ``lastTradeDateOrContractMonth``: ``YYYYMMDD`` asks for one expiry,
    ``YYYYMM`` for every expiry of that month. ``expirations`` are the wanted ones among
    them; the answer's other expiries (outside the window, or weeklies when they are
    excluded) are dropped.
    """

    trading_class: str
    expiry: str
    expirations: frozenset[dt.date]


def plan_queries(requests: Iterable[ExpiryRequest]) -> list[ContractQuery]:
    """As few requests as cover ``requests``: one per class and month.

    Every request is an API message under IB's 50-per-second cap, the same cap the option
    streams live on, while the answer's size is free: a month of weeklies in one request
    costs one message instead of four or five. A month with a single wanted expiry asks for
    that expiry alone (same cost, a smaller answer).
    """

    def month(r: ExpiryRequest) -> tuple[str, int, int]:
        return (r.trading_class, r.expiration.year, r.expiration.month)

    queries = []
    for (trading_class, year, number), group in groupby(sorted(requests, key=month), key=month):
        expirations = frozenset(r.expiration for r in group)
        expiry = (
            f"{year:04d}{number:02d}"
            if len(expirations) > 1
            else next(iter(expirations)).strftime("%Y%m%d")
        )
        queries.append(ContractQuery(trading_class, expiry, expirations))
    return queries


def select_contracts(
    listed: Iterable[OptionContract], spot: float | None, flt: ContractFilter
) -> list[OptionContract]:
    """Contracts inside the moneyness band, nearest the money first, capped per underlying.

    Without an underlying price there is no band: nearest-expiry contracts are kept up to
    the cap, so the run still records something a user can inspect.
    """
    candidates = [c for c in listed if c.right in flt.rights]
    if spot is not None and spot > 0:
        band = flt.moneyness
        candidates = [c for c in candidates if abs(c.strike / spot - 1.0) <= band]
        candidates.sort(key=lambda c: (abs(c.strike / spot - 1.0), c.expiration, c.right))
    else:
        candidates.sort(key=lambda c: (c.expiration, c.strike, c.right))
    chosen = candidates[: flt.max_contracts_per_underlying]
    return sorted(chosen, key=lambda c: (c.expiration, c.strike, c.right, c.trading_class))
