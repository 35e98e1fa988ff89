"""The ``opt-data sim`` process: serve until SIGINT/SIGTERM, then write the stats file.

``run`` prints exactly one line, ``listening on HOST:PORT``, once the port is bound (scripts
and tests wait for it), and returns the process exit code: 0 after a clean shutdown, 2 for a
bad scenario file or symbol list.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from opt_data.sim.clock import SimClock
from opt_data.sim.limits import SimLimits
from opt_data.sim.market import DEFAULT_SYMBOLS, Market
from opt_data.sim.scenario import Scenario, ScenarioError
from opt_data.sim.server import SimServer
from opt_data.sim.stats import SimStats

UNIVERSE_CSV = Path("config/universe.csv")
EXIT_OK = 0
EXIT_USAGE = 2

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class SimOptions:
    """Everything ``opt-data sim`` can be told; the defaults are the command's defaults."""

    host: str = "127.0.0.1"
    port: int = 7497
    seed: int = 0
    now: dt.datetime | None = None  # simulated start; None = the real time
    symbols: tuple[str, ...] | None = None  # None = the defaults plus the universe file
    scenario: Path | None = None
    stats_file: Path | None = None
    universe: Path = UNIVERSE_CSV
    limits: SimLimits = field(default_factory=SimLimits)


def run(options: SimOptions) -> int:
    """Serve until SIGINT/SIGTERM; write the stats JSON if asked; return the exit code."""
    try:
        scenario = Scenario.from_toml(options.scenario) if options.scenario else Scenario()
        symbols = market_symbols(options.symbols, read_universe(options.universe))
        market = Market(seed=options.seed, symbols=symbols)
    except (ScenarioError, ValueError, OSError) as exc:
        sys.stderr.write(f"opt-data sim: {exc}\n")
        return EXIT_USAGE
    stats = SimStats()
    server = SimServer(
        market=market,
        clock=SimClock(options.now),
        limits=options.limits,
        scenario=scenario,
        stats=stats,
        seed=options.seed,
    )
    try:
        asyncio.run(_serve(server, options.host, options.port))
    finally:
        if options.stats_file is not None:
            stats.write_json(options.stats_file)
    return EXIT_OK


async def _serve(server: SimServer, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound_host, bound_port = await server.start(host, port)
    # The limits in force go with the ready event, so a run with --lines/--rate says so.
    limits = server.limits
    log.info(
        "sim_listening",
        host=bound_host,
        port=bound_port,
        market_data_lines=limits.market_data_lines,
        messages_per_second=limits.rate,
        snapshot_seconds=limits.snapshot_seconds,
    )
    sys.stdout.write(f"listening on {bound_host}:{bound_port}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await server.stop()
        log.info("sim_stopped")


def read_universe(path: Path) -> dict[str, str]:
    """``config/universe.csv`` as {symbol: IB symbol}; empty if the file does not exist."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out: dict[str, str] = {}
    for row in rows:
        symbol = (row.get("symbol") or "").strip()
        if symbol:
            out[symbol] = (row.get("ib_symbol") or "").strip() or symbol
    return out


def market_symbols(requested: Sequence[str] | None, universe: dict[str, str]) -> tuple[str, ...]:
    """The IB symbols to list: the requested ones, else the defaults plus the universe.

    Symbols are spelled as the user's universe spells them (``BRK.B``) and listed as IB
    spells them (``BRK B``).
    """
    if requested is not None:
        return tuple(dict.fromkeys(universe.get(s, s) for s in requested))
    return tuple(dict.fromkeys([*DEFAULT_SYMBOLS, *universe.values()]))
