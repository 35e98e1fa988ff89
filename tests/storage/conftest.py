"""Row builders for the storage tests (pure factories, safe to share with hypothesis)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

RowsFactory = Callable[..., list[dict[str, Any]]]


def _option_rows(
    day: dt.date, underlying: str, con_ids: list[int], *, run_id: str = "run-1"
) -> list[dict[str, Any]]:
    rows = []
    for con_id in con_ids:
        right = "C" if con_id % 2 else "P"
        strike = 100.0 + (con_id % 50) * 2.5
        rows.append(
            {
                "quote_date": day,
                "underlying_symbol": underlying,
                "root": underlying.replace(".", " "),
                "occ_symbol": f"{underlying:<6}{day:%y%m%d}{right}{int(strike * 1000):08d}",
                "con_id": con_id,
                "expiration": day + dt.timedelta(days=7 * (1 + con_id % 3)),
                "strike": strike,
                "option_type": right,
                "multiplier": 100,
                "nonstandard": False,
                "bid_eod": 1.05 if con_id % 5 else None,
                "ask_eod": 1.10,
                "trade_volume": con_id % 7,
                "open_interest": 1000 + con_id,
                "implied_volatility": 0.2 + con_id / 1e6,
                "snapshot_ts": dt.datetime.combine(day, dt.time(21, 5), tzinfo=dt.UTC),
                "market_data_type": 2,
                "source": "snapshot",
                "run_id": run_id,
                "qa_flags": [] if con_id % 5 else ["no_bid"],
            }
        )
    return rows


@pytest.fixture(name="option_rows", scope="session")
def _option_rows_fixture() -> RowsFactory:
    """``option_rows(day, underlying, con_ids, run_id=...)`` → clean options rows."""
    return _option_rows
