"""Contract resolution (the request's contract fields → listed instruments) and the replies
to reqContractDetails (9) and reqSecDefOptParams (78).

Resolution follows IB: a conId wins over every other field; without one, the fields given
filter the listed contracts and unset fields match everything, so a partial option contract
returns the whole matching chain. Nothing matching → 200. Expired options stop resolving
(the market decides how long after expiry) unless ``includeExpired`` is set.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from opt_data.sim import messages as m
from opt_data.sim import protocol as p
from opt_data.sim.instruments import Instrument

if TYPE_CHECKING:
    from opt_data.sim.session import Session

_UNDERLYING_TYPES = ("STK", "IND")


def today(s: Session) -> dt.date:
    """The session date the simulated clock is in (what "listed today" means)."""
    return s.server.market.session_of(s.server.clock.now())


def known_symbol(s: Session, symbol: str) -> bool:
    """IB knows the symbol (and the scenario does not pretend otherwise)."""
    return symbol not in s.server.scenario.unknown_symbols and s.server.market.knows(symbol)


def resolve(s: Session, spec: p.ContractSpec, *, include_expired: bool) -> list[Instrument]:
    """Every listed instrument matching the request's contract fields."""
    market = s.server.market
    on = today(s)
    if spec.con_id:
        inst = market.instrument(spec.con_id)
        if inst is None or not known_symbol(s, inst.symbol):
            return []
        if spec.sec_type and spec.sec_type != inst.sec_type:
            return []
        if inst.sec_type == "OPT" and inst.expiry is not None and inst.expiry < on:
            still = market.options(
                inst.symbol,
                on,
                expiry=inst.expiry,
                strike=inst.strike,
                right=inst.right,
                trading_class=inst.trading_class,
                include_expired=include_expired,
            )
            return [inst] if inst in still else []
        return [inst]
    if not spec.symbol or not known_symbol(s, spec.symbol):
        return []
    if spec.currency and spec.currency != "USD":
        return []
    if spec.sec_type in _UNDERLYING_TYPES:
        stock = market.stock(spec.symbol)
        return [stock] if stock is not None and stock.sec_type == spec.sec_type else []
    if spec.sec_type != "OPT":
        return []
    return _options(s, spec, on, include_expired=include_expired)


def _options(
    s: Session, spec: p.ContractSpec, on: dt.date, *, include_expired: bool
) -> list[Instrument]:
    expiry: dt.date | None = None
    month = ""
    if len(spec.expiry) == 8:
        expiry = dt.datetime.strptime(spec.expiry, "%Y%m%d").date()
    elif len(spec.expiry) == 6:
        month = spec.expiry
    elif spec.expiry:
        return []
    found = s.server.market.options(
        spec.symbol,
        on,
        expiry=expiry,
        strike=spec.strike or None,
        right=spec.right or None,
        trading_class=spec.trading_class or None,
        include_expired=include_expired,
    )
    multiplier = spec.multiplier.strip()
    local = spec.local_symbol.replace(" ", "")
    return [
        inst
        for inst in found
        if (not month or (inst.expiry is not None and inst.expiry.strftime("%Y%m") == month))
        and (not multiplier or float(multiplier) == inst.multiplier)
        and (not local or inst.local_symbol.replace(" ", "") == local)
    ]


def resolve_one(s: Session, req_id: int, spec: p.ContractSpec) -> Instrument | None:
    """The single instrument a data request is for, or None after sending IB's 200."""
    found = resolve(s, spec, include_expired=False)
    if len(found) != 1:
        s.error(req_id, m.NO_SECURITY)
        return None
    return found[0]


def contract_details(s: Session, fields: p.Fields) -> None:
    """``9``: one contractData per match, then contractDataEnd; nothing matching → 200."""
    req = p.parse_contract_details(fields)
    s.server.stats.request("contract_details", req.contract.symbol or None)
    if s.server.storm("contract_details", req.contract.symbol):
        s.error(req.req_id, m.RATE_EXCEEDED)
        return

    def answer() -> None:
        found = resolve(s, req.contract, include_expired=req.include_expired)
        if not found:
            s.error(req.req_id, m.NO_SECURITY)
            return
        on = today(s)
        messages = []
        for inst in found:
            trading, liquid = s.server.trading_hours(on, inst.sec_type)
            under = s.server.market.instrument(inst.under_con_id) if inst.under_con_id else None
            messages.append(
                m.contract_data(
                    req.req_id,
                    inst,
                    under_symbol=under.symbol if under else inst.symbol,
                    under_sec_type=under.sec_type if under else "",
                    trading_hours=trading,
                    liquid_hours=liquid,
                )
            )
        messages.append(m.contract_data_end(req.req_id))
        s.send_many(messages)

    s.reply("contract_details", answer)


def sec_def_opt_params(s: Session, fields: p.Fields) -> None:
    """``78``: one 75 per exchange and trading class, then 76."""
    req = p.parse_sec_def(fields)
    s.server.stats.request("sec_def", req.symbol or None)
    if s.server.storm("sec_def", req.symbol):
        s.error(req.req_id, m.RATE_EXCEEDED)
        return

    def answer() -> None:
        market = s.server.market
        stock = market.stock(req.symbol) if known_symbol(s, req.symbol) else None
        if stock is None or (req.con_id and req.con_id != stock.con_id):
            s.error(req.req_id, m.NO_SECURITY)
            return
        chains = market.chain_params(req.symbol, today(s))
        exchange = req.fut_fop_exchange.strip()
        s.send_many(
            [
                *(
                    m.sec_def_opt_param(req.req_id, chain)
                    for chain in chains
                    if not exchange or chain.exchange == exchange
                ),
                m.sec_def_opt_param_end(req.req_id),
            ]
        )

    s.reply("sec_def", answer)
