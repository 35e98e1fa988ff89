"""When the daily update collects, and which market-data type it asks for (pure).

The collector's clock is the gateway's: these rules take that time and the XNYS calendar
and decide the session, so tests drive them with any instant and no gateway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from opt_data.calendar import TradingCalendar
from opt_data.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the run collects, and for which session."""

    action: Literal["collect", "market_closed"]
    trade_date: dt.date
    message: str


def decide_trade_date(
    now_utc: dt.datetime,
    requested: dt.date | None,
    calendar: TradingCalendar,
    *,
    force: bool,
    tz: dt.tzinfo,
) -> Decision:
    """The session to collect, from the gateway's clock (pure).

    Raises:
        ConfigError: a future date, a past date (history is the backfill's job), or a run
            before today's close without ``--force``.
    """
    today = now_utc.astimezone(tz).date()
    trade_date = requested or today
    if trade_date > today:
        raise ConfigError(f"--date {trade_date} is in the future (the gateway's date is {today})")
    if trade_date < today:
        raise ConfigError(
            f"--date {trade_date} is a past session: IB no longer serves its quotes, Greeks or "
            "open interest; re-collecting the history IB still has (daily bars) is the "
            "backfill's job, which is not built yet (PLAN.md, step 6)"
        )
    if not calendar.is_session(trade_date):
        return Decision(
            "market_closed",
            trade_date,
            f"{trade_date} ({trade_date:%A}) is not an XNYS trading session: nothing to collect",
        )
    close = calendar.session_close(trade_date)
    if now_utc < close and not force:
        local_close = close.astimezone(tz)
        early = " (early close)" if calendar.is_early_close(trade_date) else ""
        raise ConfigError(
            f"the {trade_date} session closes at {local_close:%H:%M %Z}{early}; the update "
            "collects end-of-day values after the close (use --force to collect now)"
        )
    return Decision("collect", trade_date, f"collecting the {trade_date} session")


def market_data_type_for(configured: int, market_open: bool) -> int:
    """After the close, live (1) quotes turn to −1, so ask frozen (2); delayed (3) → 4."""
    if market_open:
        return configured
    return {1: 2, 3: 4}.get(configured, configured)
