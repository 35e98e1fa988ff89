"""Who is listed: the underlyings, their parameters and their option classes.

``DEFAULT_SYMBOLS`` have curated parameters close to their real selves (price level on the
anchor date 2024-01-02, volatility, dividend yield, real IB con_ids, exchanges). Any other
symbol gets parameters drawn deterministically from ``(seed, symbol)``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from opt_data.sim.market import rand

ANCHOR_DATE = dt.date(2024, 1, 2)  # the session whose close equals ``Underlying.anchor``

# Expiry kinds and how many calendar days before expiry an expiry of that kind is listed.
WEEKLY = ("weekly", 35)  # every Friday (Thursday when Friday is a holiday)
MON_WED = ("mon_wed", 35)  # Monday and Wednesday expiries (SPY, QQQ, SPXW)
MONTHLY = ("monthly", 270)  # third Friday, ~9 months ahead
QUARTERLY = ("quarterly", 450)  # third Friday of Mar/Jun/Sep/Dec, ~15 months ahead
LEAPS = ("leaps", 913)  # third Friday of January, ~2.5 years ahead
SHORT_MONTHLY = ("monthly", 100)  # adjusted classes: only a few months remain listed

# Option tick schemes: (tick below $3, tick at/above $3).
TICKS = {
    "penny_all": (0.01, 0.01),  # SPY, QQQ: pennies at every price
    "penny": (0.01, 0.05),  # penny-pilot names
    "nickel": (0.05, 0.10),  # everything else
}


@dataclass(frozen=True, slots=True)
class OptionClass:
    """One trading class of options on an underlying (its OCC root)."""

    name: str
    multiplier: int = 100
    nonstandard: bool = False
    kinds: tuple[tuple[str, int], ...] = (MONTHLY, QUARTERLY, LEAPS)
    am_settled: bool = False  # SPX monthlies settle on the opening print
    ticks: str = "penny"
    strike_scale: float = 1.0  # adjusted classes: strikes of a split-adjusted deliverable
    coarse: bool = False  # use the next coarser strike spacing
    oi_factor: float = 1.0


@dataclass(frozen=True, slots=True)
class Underlying:
    """Parameters of one underlying and of the options listed on it."""

    symbol: str
    sec_type: str  # "STK" or "IND"
    primary_exchange: str
    long_name: str
    con_id: int
    anchor: float  # close on ANCHOR_DATE
    base_vol: float  # long-run at-the-money implied volatility
    div_yield: float  # continuous dividend yield
    drift: float  # annual log-trend of the price
    skew: float  # slope of the smile in standardised moneyness (puts richer)
    classes: tuple[OptionClass, ...]
    liquidity: float  # spread multiplier: < 1 tighter than average
    share_volume: float  # mean daily share volume
    oi_scale: float  # open interest of a typical near-money monthly
    beta: float  # correlation of its shocks with the common market factor
    etf_strikes: bool = False  # $1 strikes near the money whatever the price (SPY, QQQ)
    index_strikes: bool = False  # SPX: 5-point strikes

    @property
    def stock_trading_class(self) -> str:
        return "NMS" if self.primary_exchange == "NASDAQ" else self.symbol

    @property
    def exchange(self) -> str:
        return "CBOE" if self.sec_type == "IND" else "SMART"

    @property
    def option_exchanges(self) -> tuple[str, ...]:
        return ("SMART", "CBOE") if self.sec_type == "IND" else ("SMART", "AMEX", "CBOE", "ISE")


def _std(root: str, *, weekly: bool, mon_wed: bool = False, ticks: str = "penny") -> OptionClass:
    kinds: tuple[tuple[str, int], ...] = (MONTHLY, QUARTERLY, LEAPS)
    if weekly:
        kinds = (WEEKLY, *kinds)
    if mon_wed:
        kinds = (MON_WED, *kinds)
    return OptionClass(name=root, kinds=kinds, ticks=ticks)


# fmt: off
_NAMES = {
    "SPY": "SPDR S&P 500 ETF TRUST",
    "QQQ": "INVESCO QQQ TRUST SERIES 1",
    "SPX": "S&P 500 Stock Index",
    "AAPL": "APPLE INC",
    "MSFT": "MICROSOFT CORP",
    "NVDA": "NVIDIA CORP",
    "AMZN": "AMAZON.COM INC",
    "JPM": "JPMORGAN CHASE & CO",
    "BRK B": "BERKSHIRE HATHAWAY INC-CL B",
}
_CLASSES = {
    "SPY": (_std("SPY", weekly=True, mon_wed=True, ticks="penny_all"),),
    "QQQ": (_std("QQQ", weekly=True, mon_wed=True, ticks="penny_all"),),
    # SPX: AM-settled monthlies ("SPX") and PM-settled weeklies/dailies ("SPXW").
    "SPX": (
        OptionClass("SPX", am_settled=True, ticks="nickel", oi_factor=1.5),
        OptionClass("SPXW", kinds=(MON_WED, WEEKLY, MONTHLY, QUARTERLY), ticks="nickel"),
    ),
    # Adjusted deliverables left over from corporate actions: flagged nonstandard.
    "AAPL": (
        _std("AAPL", weekly=True),
        OptionClass("AAPL1", nonstandard=True, kinds=(SHORT_MONTHLY,), coarse=True,
                    ticks="nickel", oi_factor=0.05),
    ),
    "JPM": (
        _std("JPM", weekly=True),
        OptionClass("JPM1", multiplier=150, nonstandard=True, kinds=(SHORT_MONTHLY,),
                    strike_scale=1 / 1.5, coarse=True, ticks="nickel", oi_factor=0.05),
    ),
    "BRK B": (_std("BRKB", weekly=True),),  # IB's class and OCC root drop the space
}

# Anchor closes are the real 2024-01-02 closes (rounded); con_ids are IB's real ones.
# beta: correlation with the common market factor (SPY and SPX share one path, x10).
# symbol   primary   con_id     anchor   vol   div     drift skew  liq   shares oi     beta
_ROWS = (
    ("SPY",  "ARCA",   756733,    472.65,  0.14, 0.013,  0.07, 0.16, 0.35, 8e7,   4e4,   1.0),
    ("QQQ",  "NASDAQ", 320227571, 402.00,  0.19, 0.006,  0.09, 0.13, 0.45, 4.5e7, 2.5e4, 0.9),
    ("SPX",  "CBOE",   416904,    4742.83, 0.14, 0.013,  0.07, 0.17, 0.60, 0.0,   1.5e4, 1.0),
    ("AAPL", "NASDAQ", 265598,    185.64,  0.22, 0.005,  0.10, 0.09, 0.60, 5.5e7, 3e4,   0.7),
    ("MSFT", "NASDAQ", 272093,    370.87,  0.23, 0.008,  0.10, 0.08, 0.70, 2.5e7, 1.5e4, 0.7),
    ("NVDA", "NASDAQ", 4815747,   481.68,  0.45, 0.0003, 0.15, 0.06, 0.80, 4.5e7, 2e4,   0.6),
    ("AMZN", "NASDAQ", 3691937,   149.93,  0.31, 0.0,    0.09, 0.08, 0.70, 4.5e7, 2e4,   0.65),
    ("JPM",  "NYSE",   1520593,   170.30,  0.21, 0.024,  0.08, 0.10, 0.80, 1e7,   8e3,   0.65),
    ("BRK B", "NYSE",  72063691,  361.00,  0.17, 0.0,    0.09, 0.09, 0.90, 4e6,   4e3,   0.75),
)
_CURATED: dict[str, Underlying] = {
    row[0]: Underlying(
        symbol=row[0], sec_type="IND" if row[0] == "SPX" else "STK", primary_exchange=row[1],
        long_name=_NAMES[row[0]], con_id=row[2], anchor=row[3], base_vol=row[4],
        div_yield=row[5], drift=row[6], skew=row[7], liquidity=row[8], share_volume=row[9],
        oi_scale=row[10], beta=row[11],
        classes=_CLASSES.get(row[0], (_std(row[0], weekly=True),)),
        etf_strikes=row[0] in ("SPY", "QQQ"), index_strikes=row[0] == "SPX",
    )
    for row in _ROWS
}
# fmt: on

DEFAULT_SYMBOLS: tuple[str, ...] = tuple(_CURATED)

GENERATED_STOCK_CON_ID_BASE = 500_000_000


def curated(symbol: str) -> Underlying | None:
    return _CURATED.get(symbol)


def generated(seed: int, symbol: str, rank: int) -> Underlying:
    """Parameters for a symbol without curated ones, drawn from ``(seed, symbol)``.

    ``rank`` (the symbol's position among the market's generated symbols) only picks the
    stock con_id, so that con_ids are unique by construction.
    """

    def u(what: str) -> float:
        return rand.unit(seed, "underlying", symbol, what)

    anchor = round(math.exp(math.log(12.0) + u("price") * math.log(700.0 / 12.0)), 2)
    weekly = u("weekly") < 0.6
    penny = u("penny") < 0.5
    div = 0.0 if u("div?") < 0.35 else round(0.004 + 0.04 * u("div") ** 1.5, 4)
    root = symbol.replace(" ", "").replace(".", "")[:6]
    return Underlying(
        symbol=symbol,
        sec_type="STK",
        primary_exchange="NYSE" if u("exchange") < 0.55 else "NASDAQ",
        long_name=f"{symbol} SIMULATED CORP",
        con_id=GENERATED_STOCK_CON_ID_BASE + rank,
        anchor=anchor,
        base_vol=round(0.16 + 0.30 * u("vol") ** 1.3, 3),
        div_yield=div,
        drift=0.02 + 0.10 * u("drift"),
        skew=0.05 + 0.06 * u("skew"),
        classes=(_std(root, weekly=weekly, ticks="penny" if penny else "nickel"),),
        liquidity=1.0 + 1.5 * u("liquidity"),
        share_volume=3.0e5 * math.exp(3.0 * u("volume")),
        oi_scale=300.0 * math.exp(3.0 * u("oi")),
        beta=0.35 + 0.35 * u("beta"),
    )
