"""Small building blocks: bounded caches, keyed randomness, strike grids, OCC symbols."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from opt_data.sim.market import rand
from opt_data.sim.market.chains import occ_symbol
from opt_data.sim.market.lru import Lru
from opt_data.sim.market.strikes import strike_grid
from opt_data.sim.market.underlyings import curated


def test_lru_evicts_the_least_recently_used_key() -> None:
    cache: Lru[int, int] = Lru(2)
    builds: list[int] = []

    def get(k: int) -> int:
        return cache.get(k, lambda: builds.append(k) or k * 10)

    assert [get(1), get(2), get(1), get(3), get(1), get(2)] == [10, 20, 10, 30, 10, 20]
    assert builds == [1, 2, 3, 2]  # 2 was evicted by 3, 1 was kept warm
    assert len(cache) == 2
    with pytest.raises(ValueError):
        Lru(0)


def test_keyed_draws_depend_on_the_key_only() -> None:
    assert rand.unit(1, "x", dt.date(2024, 1, 2)) == rand.unit(1, "x", dt.date(2024, 1, 2))
    assert rand.unit(1, "x", 2) != rand.unit(2, "x", 2)
    assert 0 < rand.unit("anything") < 1
    draws = [rand.normal(0, "n", i) for i in range(4000)]
    assert abs(float(np.mean(draws))) < 0.1 and abs(float(np.std(draws)) - 1) < 0.1
    a = rand.generator(5, "path").standard_normal(3)
    assert (a == rand.generator(5, "path").standard_normal(3)).all()


def test_occ_symbol_pads_the_root_and_encodes_the_strike_in_thousandths() -> None:
    assert occ_symbol("SPY", dt.date(2024, 1, 19), "C", 500.0) == "SPY   240119C00500000"
    assert occ_symbol("BRKB", dt.date(2024, 6, 21), "P", 412.5) == "BRKB  240621P00412500"
    assert occ_symbol("JPM1", dt.date(2024, 4, 19), "C", 113.33) == "JPM1  240419C00113330"


def test_strike_grid_lists_each_strike_from_the_first_day_spot_came_near() -> None:
    spy = curated("SPY")
    assert spy is not None
    spots = np.array([100.0, 100.0, 130.0, 130.0])
    grid = strike_grid(spy, spy.classes[0], spots, first_session=10, life_years=0.1)
    listed = dict(zip(grid.strikes, grid.first_index, strict=True))
    assert listed[100.0] == 10 and listed[101.0] == 10  # $1 strikes near the money at listing
    assert listed[130.0] == 10  # a $5 strike is in the middle tier from the start
    assert listed[131.0] == 12  # $1 strikes appear once spot gets near them
    assert list(grid.strikes) == sorted(grid.strikes)
    assert all(10 <= i <= 13 for i in grid.first_index)
