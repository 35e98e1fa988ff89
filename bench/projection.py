"""Benchmark 6: how long the full S&P 500 takes on 100 lines, and whether it beats the reset.

* **Contracts per underlying**: for a sample of ``SAMPLE`` universe symbols (every 25th), the
  simulator's market (``opt_data.sim.market.Market``, the same deterministic chains the
  gateway serves) on the benchmarks' Friday evening, filtered by the job's own selection
  functions (``select_expiries``, ``select_contracts``) with the shipped ``[filters]`` and the
  underlying's price as the job takes it (last, else mid, else close).
* **Expected contracts**: the sample's mean × the universe's underlyings.
* **Minutes**: expected contracts ÷ the contracts/s the ``throughput`` benchmark measured at
  IB's default limits (this invocation's, else ``bench/results/throughput.json``), and at
  the bound with discovery included: (2 × contracts + discovery messages) ÷ 50 msg/s.
* **Deadline**: the update starts at the shipped ``schedule.update_time`` (17:00 ET); IB's
  nightly reset starts around 23:45 ET (Fridays 23:00 ET).
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Mapping
from typing import Any

from bench.harness import (
    EVENING,
    RESULTS,
    Target,
    default_limits,
    shipped_settings,
    universe_symbols,
)
from opt_data.calendar import TradingCalendar
from opt_data.jobs.selection import (
    ContractFilter,
    plan_queries,
    select_contracts,
    select_expiries,
)
from opt_data.models import ChainParams, OptionContract
from opt_data.sim.market import Market
from opt_data.sim.runner import read_universe

NAME = "projection"
SAMPLE = 20
RESET = dt.time(23, 45)
FRIDAY_RESET = dt.time(23, 0)
# Per underlying: qualify (1), its quote stream (2), chain parameters (1), then one
# contract-details request per trading class and month of the chosen expiries.
FIXED_DISCOVERY_MESSAGES = 4


def _filters() -> ContractFilter:
    f = shipped_settings().filters
    return ContractFilter(
        min_dte=f.min_dte,
        max_dte=f.max_dte,
        moneyness=f.moneyness,
        rights=tuple(f.rights),
        include_weeklies=f.include_weeklies,
        max_contracts_per_underlying=f.max_contracts_per_underlying,
    )


def _spot(market: Market, ib_symbol: str) -> float | None:
    stock = market.stock(ib_symbol)
    if stock is None:
        return None
    quote = market.stock_state(stock, EVENING).quote
    if quote.last:
        return quote.last
    if quote.bid and quote.ask and quote.ask >= quote.bid:
        return (quote.bid + quote.ask) / 2
    return quote.close


def selected(market: Market, ib_symbol: str, flt: ContractFilter) -> tuple[int, int]:
    """(contracts the update would stream, contract-details requests) for one underlying."""
    day = EVENING.date()
    chains = [
        ChainParams(
            exchange=c.exchange,
            trading_class=c.trading_class,
            multiplier=c.multiplier,
            expirations=tuple(dt.datetime.strptime(e, "%Y%m%d").date() for e in c.expirations),
            strikes=c.strikes,
        )
        for c in market.chain_params(ib_symbol, day)
    ]
    requests = select_expiries(chains, day, flt, TradingCalendar().is_session)
    listed = [
        OptionContract(
            con_id=i.con_id,
            symbol=i.symbol,
            local_symbol=i.local_symbol,
            trading_class=i.trading_class,
            exchange=i.exchange,
            currency=i.currency,
            multiplier=i.multiplier,
            expiration=r.expiration,
            strike=i.strike,
            right=i.right,
            nonstandard=i.nonstandard,
        )
        for r in requests
        for i in market.options(ib_symbol, day, expiry=r.expiration, trading_class=r.trading_class)
    ]
    queries = plan_queries(requests)
    return len(select_contracts(listed, _spot(market, ib_symbol), flt)), len(queries)


def _measured(previous: Mapping[str, dict[str, Any]]) -> tuple[float, str]:
    if "throughput" in previous:
        return previous["throughput"]["default"]["contracts_per_second"], "this run"
    path = RESULTS / "throughput.json"
    if not path.exists():
        raise RuntimeError("no throughput result yet: run `python -m bench throughput` first")
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved["result"]["default"]["contracts_per_second"], f"{path.name} {saved['measured_at']}"


def _ends(minutes: float, start: dt.time) -> dict[str, Any]:
    begin = dt.datetime.combine(dt.date(2026, 11, 16), start)  # any date: only the clock matters
    end = begin + dt.timedelta(minutes=minutes)
    weekday_deadline = dt.datetime.combine(begin.date(), RESET)
    friday_deadline = dt.datetime.combine(begin.date(), FRIDAY_RESET)
    return {
        "minutes": round(minutes, 1),
        "ends_et": end.strftime("%H:%M") if end.date() == begin.date() else "after midnight",
        "before_weekday_reset": end <= weekday_deadline,
        "before_friday_reset": end <= friday_deadline,
    }


def run(previous: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    universe = read_universe(shipped_settings().paths.universe)
    sample = universe_symbols()[::25][:SAMPLE]
    market = Market(seed=0, symbols=[universe[s] for s in sample])
    flt = _filters()
    counts, detail_requests = {}, []
    for symbol in sample:
        counts[symbol], requests = selected(market, universe[symbol], flt)
        detail_requests.append(requests)
    per_underlying = statistics.mean(counts.values())
    underlyings = len(universe)
    contracts = per_underlying * underlyings
    discovery = (FIXED_DISCOVERY_MESSAGES + statistics.mean(detail_requests)) * underlyings
    rate, source = _measured(previous)
    limits = default_limits()
    start = shipped_settings().schedule.update_time
    return {
        "sample": counts,
        "filters": {
            "max_dte": flt.max_dte,
            "moneyness": flt.moneyness,
            "max_contracts_per_underlying": flt.max_contracts_per_underlying,
        },
        "mean_contracts_per_underlying": round(per_underlying, 1),
        "capped_share": round(
            sum(c == flt.max_contracts_per_underlying for c in counts.values()) / len(counts), 2
        ),
        "underlyings": underlyings,
        "expected_contracts": round(contracts),
        "discovery_messages": round(discovery),
        "start_et": start.strftime("%H:%M"),
        "measured_contracts_per_second": rate,
        "measured_source": source,
        "at_measured_rate": _ends(contracts / rate / 60, start),
        "at_bound": _ends((2 * contracts + discovery) / limits.rate / 60, start),
    }


def rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Table rows: benchmark, metric, value."""
    m, b = result["at_measured_rate"], result["at_bound"]

    def verdict(e: dict[str, Any]) -> str:
        weekday = "before" if e["before_weekday_reset"] else "AFTER"
        friday = "before" if e["before_friday_reset"] else "AFTER"
        return f"{weekday} the 23:45 reset, {friday} Friday's 23:00"

    return [
        (
            "projection: S&P 500",
            "expected contracts",
            f"{result['expected_contracts']:,} = {result['underlyings']} underlyings × "
            f"{result['mean_contracts_per_underlying']:.0f} (sample of {len(result['sample'])}; "
            f"{result['capped_share']:.0%} hit the cap of "
            f"{result['filters']['max_contracts_per_underlying']})",
        ),
        (
            "",
            "at measured rate",
            f"{m['minutes']:.0f} min at {result['measured_contracts_per_second']:.1f}/s: "
            f"{result['start_et']} → {m['ends_et']} ET, {verdict(m)}",
        ),
        (
            "",
            "at the bound",
            f"{b['minutes']:.0f} min at 50 msg/s incl. discovery: "
            f"{result['start_et']} → {b['ends_et']} ET, {verdict(b)}",
        ),
    ]


def targets(result: dict[str, Any]) -> list[Target]:
    """The S&P 500 at the measured rate ends before IB's earliest nightly reset (Friday)."""
    m = result["at_measured_rate"]
    return [
        Target(
            "S&P 500 at the measured rate ends before Friday's 23:00 ET reset",
            bool(m["before_friday_reset"]),
            f"{result['start_et']} → {m['ends_et']} ET",
        )
    ]
