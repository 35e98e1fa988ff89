"""Strike grids: which strikes an expiry lists, and from which session each one is listed.

On any session an expiry lists strikes around that day's spot in three tiers: a fine step
near the money, a coarser one further out and the coarsest in the wings, the whole range
wider for longer-dated expiries (about ±50% for weeklies, 0.25×–1.9× spot for LEAPS). Strikes
are never delisted, so the strikes listed on a day are the union of the day-by-day grids
since the expiry was listed, and each strike carries the session it first appeared.
Steps are fixed per expiry from the price at listing, which keeps every grid nested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opt_data.sim.market.underlyings import OptionClass, Underlying

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# (price below which the row applies, (near, middle, wing) steps in dollars)
_STEPS_BY_PRICE = (
    (5.0, (0.5, 1.0, 1.0)),
    (25.0, (0.5, 1.0, 2.5)),
    (75.0, (1.0, 2.5, 5.0)),
    (200.0, (2.5, 5.0, 10.0)),
    (500.0, (5.0, 10.0, 25.0)),
    (1000.0, (10.0, 25.0, 50.0)),
    (math.inf, (25.0, 50.0, 100.0)),
)
_ETF_STEPS = (1.0, 5.0, 10.0)
_INDEX_STEPS = (5.0, 25.0, 50.0)
_LONG_DATED_YEARS = 0.75  # beyond this, expiries list the next coarser spacing
_LOWEST_STRIKE = 0.25  # no strikes below a quarter of spot, even for LEAPS


@dataclass(frozen=True, slots=True)
class StrikeGrid:
    """The life-long strikes of one expiry (ascending) and each one's first listed session."""

    strikes: tuple[float, ...]
    first_index: tuple[int, ...]


def tier_steps(
    u: Underlying, cls: OptionClass, ref_price: float, life_years: float
) -> tuple[float, float, float]:
    if u.index_strikes:
        steps = _INDEX_STEPS
    elif u.etf_strikes:
        steps = _ETF_STEPS
    else:
        steps = next(s for limit, s in _STEPS_BY_PRICE if ref_price < limit)
    if cls.coarse or life_years > _LONG_DATED_YEARS:
        steps = (steps[1], steps[2], steps[2] * 2)
    return steps


def band_widths(life_years: float) -> tuple[float, float, float]:
    """Relative distance from spot covered by the near, middle and wing tiers."""
    root = math.sqrt(max(life_years, 0.0))
    return 0.05 + 0.10 * root, 0.20 + 0.20 * root, min(0.45 + 0.40 * root, 0.9)


def strike_grid(
    u: Underlying,
    cls: OptionClass,
    spots: FloatArray,
    first_session: int,
    life_years: float,
) -> StrikeGrid:
    """Strikes of an expiry whose sessions from listing to expiry had closes ``spots``.

    ``first_session`` is the session index of ``spots[0]``. For adjusted classes the grid
    is built in pre-adjustment units (spot / strike_scale) and scaled back.
    """
    base_spots = spots / cls.strike_scale
    steps = tier_steps(u, cls, float(base_spots[0]), life_years)
    near, middle, wing = band_widths(life_years)
    cents = [round(s * 100) for s in steps]
    lo_spot, hi_spot = float(base_spots.min()), float(base_spots.max())

    def multiples(step_cents: int, lo: float, hi: float) -> IntArray:
        first = math.ceil(lo * 100 / step_cents)
        last = math.floor(hi * 100 / step_cents)
        return np.arange(max(first, 1), last + 1, dtype=np.int64) * step_cents

    wing_lo = max(_LOWEST_STRIKE, 1.0 - wing)
    candidates = np.unique(
        np.concatenate(
            (
                multiples(cents[0], lo_spot * (1 - near), hi_spot * (1 + near)),
                multiples(cents[1], lo_spot * (1 - middle), hi_spot * (1 + middle)),
                multiples(cents[2], lo_spot * wing_lo, hi_spot * (1 + wing)),
            )
        )
    )
    strikes = candidates.astype(np.float64) / 100.0
    distance = np.abs(strikes[:, None] / base_spots[None, :] - 1.0)  # candidates × sessions
    ratio = strikes[:, None] / base_spots[None, :]
    member = (
        ((distance <= near) & (candidates % cents[0] == 0)[:, None])
        | ((distance <= middle) & (candidates % cents[1] == 0)[:, None])
        | ((ratio >= wing_lo) & (ratio <= 1 + wing) & (candidates % cents[2] == 0)[:, None])
    )
    listed = member.any(axis=1)
    first = member.argmax(axis=1)[listed] + first_session
    scaled = np.round(strikes[listed] * cls.strike_scale, 2)
    return StrikeGrid(
        strikes=tuple(float(k) for k in scaled),
        first_index=tuple(int(i) for i in first),
    )
