"""Harness for update-job tests: a simulator in a thread, settings pointing at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opt_data.config import Settings, load_settings
from opt_data.sim.testing import SimHandle, running_simulator

REPO = Path(__file__).resolve().parents[2]
NEW_YORK = ZoneInfo("America/New_York")
# Friday 2026-11-20, an ordinary session, two hours after the close.
EVENING = dt.datetime(2026, 11, 20, 18, 0, tzinfo=NEW_YORK)
SYMBOLS = ("AAPL", "MSFT", "JPM")

SMALL_CHAINS = """
max_concurrent_snapshots = 40

[paths]
data = "data"
state = "state"
universe = "{universe}"

[filters]
max_dte = 30
moneyness = 0.05
max_contracts_per_underlying = 16

[snapshot]
timeout_seconds = {timeout}

[retry]
reconnect_first_wait_seconds = 0.2
"""


def make_settings(
    workdir: Path, port: int, *, library: str = "ib_insync", timeout: float = 3.0, extra: str = ""
) -> Settings:
    """Settings for a run in ``workdir`` against the simulator on ``port``."""
    config = workdir / "opt-data.toml"
    universe = REPO / "config" / "universe.csv"
    config.write_text(SMALL_CHAINS.format(universe=universe, timeout=timeout) + extra)
    environ = {"IB_PORT": str(port), "IB_CLIENT_ID": "7", "IB_LIBRARY": library}
    return load_settings(config, environ=environ, dotenv_file=None, cwd=workdir)


@pytest.fixture(name="sim")
def sim_fixture() -> Iterator[SimHandle]:
    with running_simulator(now=EVENING, symbols=SYMBOLS) as handle:
        yield handle


@pytest.fixture(name="settings_for")
def settings_for_fixture(tmp_path: Path) -> Callable[..., Settings]:
    def build(port: int, **kwargs: object) -> Settings:
        return make_settings(tmp_path, port, **kwargs)  # type: ignore[arg-type]

    return build
