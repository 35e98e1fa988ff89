"""The baseline: a straightforward ib_insync collector, as the library's own examples write it.

It follows ib_insync's option-chain notebook, scaled to several underlyings:

1. ``qualifyContracts`` the stocks and ``reqTickers`` them (one snapshot each) for a spot;
2. ``reqSecDefOptParams``; take the SMART chain of the symbol's own trading class;
3. build candidates the naive way, ``Option(symbol, expiry, strike, right)`` for the
   ``EXPIRIES`` nearest expiries within 60 days × the ``STRIKES`` strikes nearest the spot ×
   both rights (the strikes are the *union* over all expiries, so some pairs are not listed:
   IB answers 200 "No security definition" for each);
4. ``qualifyContracts`` every candidate (one reqContractDetails each), then ``reqTickers``
   the qualified ones in batches of ``--batch``.

``reqTickers`` uses snapshots: each holds a market-data line until its tickSnapshotEnd
(~11 s at IB) and cannot carry generic ticks, so open interest (tick 101) never arrives.
Market data type 2 (frozen) is asked for, as an after-the-close script should.

::

    python -m bench.plain_script --port N --symbols AAPL,MSFT [--batch 100]

prints one JSON line: timings, counts of candidates / qualified / tickers with a quote,
greeks and open interest, the errors the client saw by code, and whether IB disconnected it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ib_insync import IB, Contract, Option, Stock, Ticker

CLIENT_ID = 9
EXPIRIES = 5
STRIKES = 10
MAX_DTE = 60


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.plain_script")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--symbols", required=True)
    parser.add_argument("--batch", type=int, default=100)
    return parser.parse_args(argv)


def candidates(ib: IB, stock: Contract, spot: float, today: dt.date) -> list[Option]:
    """Nearest expiries × nearest strikes × rights, from the chain parameters."""
    chains = ib.reqSecDefOptParams(stock.symbol, "", stock.secType, stock.conId)
    chain = next(c for c in chains if c.exchange == "SMART" and c.tradingClass == stock.symbol)
    expiries = [
        e
        for e in sorted(chain.expirations)
        if (dt.datetime.strptime(e, "%Y%m%d").date() - today).days <= MAX_DTE
    ][:EXPIRIES]
    strikes = sorted(chain.strikes, key=lambda k: abs(k - spot))[:STRIKES]
    return [
        Option(stock.symbol, expiry, strike, right, "SMART", tradingClass=chain.tradingClass)
        for expiry in expiries
        for strike in sorted(strikes)
        for right in ("C", "P")
    ]


def has(value: float) -> bool:
    return not math.isnan(value) and value > 0


def collect(ib: IB, symbols: list[str], batch: int, report: dict[str, Any]) -> list[Ticker]:
    """The script itself; fills ``report`` as it goes, so a disconnect keeps what was done."""
    ib.reqMarketDataType(2)
    today = ib.reqCurrentTime().date()
    stocks = ib.qualifyContracts(*(Stock(s, "SMART", "USD") for s in symbols))
    spot_tickers = ib.reqTickers(*stocks)
    spots = {s.symbol: t.marketPrice() for s, t in zip(stocks, spot_tickers, strict=True)}
    report["spot_seconds"] = time.perf_counter() - report["started"]
    options: list[Option] = []
    for stock in stocks:
        options.extend(candidates(ib, stock, spots[stock.symbol], today))
    report["candidates"] = len(options)
    qualified = ib.qualifyContracts(*options)
    report["qualified"] = len(qualified)
    report["qualify_seconds"] = time.perf_counter() - report["started"]
    tickers: list[Ticker] = []
    for start in range(0, len(qualified), batch):
        tickers.extend(ib.reqTickers(*qualified[start : start + batch]))
    return tickers


def main() -> None:
    args = parse(sys.argv[1:])
    ib = IB()
    errors: Counter[int] = Counter()
    ib.errorEvent += lambda req_id, code, message, contract: errors.update([code])
    report: dict[str, Any] = {"disconnected": False}
    cpu = time.process_time()
    report["started"] = time.perf_counter()
    tickers: list[Ticker] = []
    try:
        ib.connect("127.0.0.1", args.port, clientId=CLIENT_ID, timeout=10, readonly=True)
        tickers = collect(ib, args.symbols.split(","), args.batch, report)
    except ConnectionError:
        report["disconnected"] = True
    finally:
        ib.disconnect()
    report["wall_seconds"] = time.perf_counter() - report.pop("started")
    report["cpu_seconds"] = time.process_time() - cpu
    report["tickers"] = len(tickers)
    report["with_quote"] = sum(has(t.bid) or has(t.ask) for t in tickers)
    report["with_greeks"] = sum(t.modelGreeks is not None for t in tickers)
    report["with_open_interest"] = sum(
        has(t.callOpenInterest) or has(t.putOpenInterest) for t in tickers
    )
    report["client_errors_by_code"] = {str(k): v for k, v in sorted(errors.items())}
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
