"""Parsing and validating a historical-data request the way IB's HMDS does.

Durations (``"5 D"``, ``"3600 S"``, ``"2 W"``, ``"1 M"``, ``"1 Y"``), bar sizes (``"1 min"``
… ``"8 hours"``, ``"1 day"``, ``"1 week"``, ``"1 month"``) and whatToShow values, plus the
error texts IB sends when a request cannot be served (research/ib-limits.md §1–2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opt_data.sim.market.errors import MarketDataError

HMDS = "Historical Market Data Service error message:"

PRICE_KINDS = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST")
VOL_KINDS = ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY")
# How HMDS names each kind in its "no data" texts.
HMDS_NAMES = {
    "TRADES": "Trades",
    "ADJUSTED_LAST": "Trades",
    "MIDPOINT": "Midpoint",
    "BID": "Bid",
    "ASK": "Ask",
    "BID_ASK": "Bid_Ask",
    "HISTORICAL_VOLATILITY": "HistoricalVolatility",
    "OPTION_IMPLIED_VOLATILITY": "OptionImpliedVol",
}

_DURATION = re.compile(r"^\s*(\d+)\s+([SDWMY])\s*$")
_BAR = re.compile(r"^\s*(\d+)\s+(secs?|mins?|hours?|days?|weeks?|months?)\s*$")
_INTRADAY_SECONDS = {"min": 60, "hour": 3600}
_INTRADAY_ALLOWED = {60 * n for n in (1, 2, 3, 5, 10, 15, 20, 30)} | {
    3600 * n for n in (1, 2, 3, 4, 8)
}
_CALENDAR_UNITS = {"day": "day", "week": "week", "month": "month"}


@dataclass(frozen=True, slots=True)
class Duration:
    count: int
    unit: str  # "S" | "D" | "W" | "M" | "Y"

    @property
    def seconds(self) -> int:
        """Calendar span of the duration (sessions for "D" are counted separately)."""
        per = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 31 * 86400, "Y": 365 * 86400}
        return self.count * per[self.unit]

    def text(self) -> str:
        return f"{self.count} {self.unit.lower()}"


@dataclass(frozen=True, slots=True)
class BarSize:
    text: str
    seconds: int  # intraday bar length; 0 for daily/weekly/monthly bars
    period: str  # "" for intraday, else "day" | "week" | "month"

    @property
    def daily(self) -> bool:
        return self.period != ""


def invalid(what: str) -> MarketDataError:
    return MarketDataError(321, f"Error validating request.-'bP' : cause - {what}")


def parse_duration(text: str) -> Duration:
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise invalid(f"Historical data request duration is invalid: {text!r}")
    return Duration(int(match.group(1)), match.group(2))


def parse_bar_size(text: str) -> BarSize:
    match = _BAR.match(text)
    if match is None:
        raise invalid(f"Historical data bar size setting is invalid: {text!r}")
    n, unit = int(match.group(1)), match.group(2).rstrip("s")
    if unit in _CALENDAR_UNITS:
        if n != 1:
            raise invalid(f"Historical data bar size setting is invalid: {text!r}")
        return BarSize(text.strip(), 0, _CALENDAR_UNITS[unit])
    if unit == "sec":
        # IB serves seconds bars; the simulated tape has one price per minute, so it
        # refuses them rather than invent sub-minute structure.
        raise invalid(
            f"Historical data bar size setting is invalid: {text!r} (simulator: >= 1 min)"
        )
    seconds = n * _INTRADAY_SECONDS[unit]
    if seconds not in _INTRADAY_ALLOWED:
        raise invalid(f"Historical data bar size setting is invalid: {text!r}")
    return BarSize(text.strip(), seconds, "")


def parse_what(text: str) -> str:
    what = text.strip().upper()
    if what not in PRICE_KINDS + VOL_KINDS:
        raise invalid(f"Invalid whatToShow: {text!r}")
    return what


def eod_chart_error(duration: Duration, bar: BarSize) -> MarketDataError:
    return MarketDataError(
        162,
        f"{HMDS}No data of type EODChart is available for the exchange 'BEST' and the security "
        f"type 'Option' and '{duration.text()}' and '{bar.text}'",
    )


def option_vol_error(symbol: str, what: str, bar_seconds: int) -> MarketDataError:
    """IB serves volatility history for underlyings only (the text ends in the bar length)."""
    return MarketDataError(
        162,
        f"{HMDS}No historical market data for {symbol}/OPT@IBVOL {HMDS_NAMES[what]} {bar_seconds}",
    )


def no_data_error(name: str, what: str) -> MarketDataError:
    return MarketDataError(
        162, f"{HMDS}HMDS query returned no data: {name}@SMART {HMDS_NAMES[what]}"
    )


def expired_error() -> MarketDataError:
    return MarketDataError(166, "HMDS Expired Contract Violation.")
