"""Trading activity of an option: open interest, daily volume and the day's trades.

Open interest is a closed-form function of (contract, session): it builds up after the
strike is listed, concentrates near the strikes spot has spent time around (the mean
close since listing), leans to the out-of-the-money side and winds down in the final
week. Daily volume is the change in open interest plus "churn" (trades that open and
close positions the same day), so ``|OI(D) − OI(D−1)| ≤ volume(D)`` holds by
construction, and far out-of-the-money contracts often do not trade at all.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from opt_data.sim.market import rand
from opt_data.sim.market.chains import Contract
from opt_data.sim.market.expiries import third_friday
from opt_data.sim.market.paths import DailyPath

_MAX_TRADES_PER_DAY = 24  # enough to shape bars; a busy contract's prints are batched
_THURSDAY, _FRIDAY = 3, 4


@dataclass(frozen=True, slots=True)
class Trades:
    """One contract's trades in one session, by time: minute of the session, size, and
    where inside the spread each printed (0 = bid, 0.5 = mid, 1 = ask)."""

    minutes: tuple[int, ...]
    sizes: tuple[int, ...]
    sides: tuple[float, ...]


def _kind_weight(day: dt.date) -> float:
    """Monthlies carry the most open interest, Friday weeklies less, Mon/Wed dailies least."""
    if day.weekday() not in (_THURSDAY, _FRIDAY):
        return 0.2
    friday = day if day.weekday() == _FRIDAY else day + dt.timedelta(days=1)
    return 1.0 if friday == third_friday(friday.year, friday.month) else 0.35


def peak(seed: int, c: Contract) -> float:
    """Peak open interest: scale × expiry kind × round-strike appeal × contract luck."""
    u = c.series.underlying
    k = c.inst.strike
    big = 50.0 if u.index_strikes else 10.0
    roundness = 1.5 if k % big == 0 else 1.2 if k % (big / 2) == 0 else 1.0
    luck = rand.lognormal(0.6, seed, "oi", c.key)
    return (
        u.oi_scale * c.series.cls.oi_factor * _kind_weight(c.series.expiry.day) * roundness * luck
    )


def _moneyness(c: Contract, ref: float, sessions_left: int) -> float:
    """Standardised distance of the strike from ``ref`` (in long-run standard deviations)."""
    u = c.series.underlying
    years = max(sessions_left, 5) / 252.0
    return math.log(c.inst.strike / ref) / (u.base_vol * math.sqrt(years + 0.02))


def open_interest(c: Contract, session: int, path: DailyPath, top: float) -> int:
    """Open interest at the close of ``session`` given the contract's ``peak`` (0 before
    the strike is listed and after expiry)."""
    expiry = c.series.expiry.index
    if session < c.first_index or session > expiry:
        return 0
    age = session - c.first_index
    life = max(expiry - c.first_index, 1)
    build = 1.0 - math.exp(-(age + 1) / max(2.0, 0.2 * life))
    w = _moneyness(c, path.mean_close(c.first_index, session), expiry - session)
    bell = math.exp(-0.5 * (w / 1.2) ** 2)
    otm_side = w if c.inst.right == "C" else -w
    lean = 1.0 + 0.4 * math.tanh(2.0 * otm_side)  # out-of-the-money side is more popular
    wind_down = 0.55 + 0.45 * min(1.0, (expiry - session) / 5.0)
    return int(top * build * bell * lean * wind_down)


def volume(seed: int, c: Contract, session: int, path: DailyPath, top: float) -> int:
    """Contracts traded in ``session``: the change in open interest plus same-day churn."""
    expiry = c.series.expiry.index
    if session < c.first_index or session > expiry:
        return 0
    change = abs(open_interest(c, session, path, top) - open_interest(c, session - 1, path, top))
    w = _moneyness(c, float(path.closes[session]), expiry - session)
    near_expiry = 1.0 + 4.0 * math.exp(-(expiry - session) / 5.0)
    rate = 0.08 * top * math.exp(-0.5 * w * w) * near_expiry
    if rand.unit(seed, "churn?", c.key, session) < math.exp(-rate):
        return change
    return change + max(1, round(rate * rand.lognormal(0.8, seed, "churn", c.key, session)))


def trades(seed: int, c: Contract, session: int, minutes: int, total: int) -> Trades:
    """Split a day's ``total`` volume into trades at random minutes of the session."""
    if total <= 0:
        return Trades((), (), ())
    count = min(total, 1 + math.isqrt(total), _MAX_TRADES_PER_DAY)
    # Python's Mersenne Twister: seeding is ~10x cheaper than a numpy Generator, and
    # ``random()`` sequences for an int seed are stable across Python versions.
    rng = random.Random(rand.key64(seed, "trades", c.key, session))
    at = tuple(sorted(int(rng.random() * minutes) for _ in range(count)))
    weights = [0.2 + rng.random() for _ in range(count)]
    scale = (total - count) / sum(weights)
    sizes = [1 + int(w * scale) for w in weights]
    sizes[weights.index(max(weights))] += total - sum(sizes)  # rounding remainder
    sides = tuple(0.0 if u < 0.4 else 0.5 if u < 0.6 else 1.0 for u in (rng.random() for _ in at))
    return Trades(at, tuple(sizes), sides)
