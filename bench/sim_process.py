"""The simulator as a child process with any ``SimLimits``: the gateway side of a benchmark.

It builds the same ``SimServer`` as ``opt-data sim`` (which takes the same limits as
``--lines``, ``--rate`` and ``--snapshot-seconds``) in its own process, so the collector's CPU
time and memory are measured without the gateway's, and adds what a benchmark needs and a
user does not: a control channel for counters and clock jumps, and ``--warm``.

::

    python -m bench.sim_process --now 2026-11-20T18:00:00-05:00 --symbols AAPL,MSFT \\
        --lines 100 --rate 50 --snapshot-seconds 11 --warm

With ``--warm`` it first computes what the first requests of ``--now``'s session need
(``Market.warm``: paths, chains, chain totals), as IB answers a symbol's first quote in
milliseconds and the simulator's lazy first computation takes 0.1-0.2 s per symbol.

It prints ``listening on HOST:PORT`` once the port is bound (after warming), then reads
commands on stdin:

* ``stats``: one JSON line on stdout, ``SimStats.snapshot()`` plus ``cpu_seconds`` (the
  simulator process's own CPU time);
* ``jump ISO-8601``: move the simulated clock to that moment (a lake of consecutive sessions
  is collected from one simulator); answered with ``ok``.

End of stdin stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Sequence

import structlog

from opt_data.sim.clock import SimClock
from opt_data.sim.limits import SimLimits
from opt_data.sim.market import Market
from opt_data.sim.server import SimServer
from opt_data.sim.stats import SimStats


def parse(argv: Sequence[str]) -> argparse.Namespace:
    ib = SimLimits()
    parser = argparse.ArgumentParser(prog="python -m bench.sim_process")
    parser.add_argument("--now", type=dt.datetime.fromisoformat, required=True)
    parser.add_argument("--symbols", required=True, help="comma-separated IB symbols")
    parser.add_argument("--lines", type=int, default=ib.market_data_lines)
    parser.add_argument("--rate", type=int, default=None, help="messages/s (default lines/2)")
    parser.add_argument("--snapshot-seconds", type=float, default=ib.snapshot_seconds)
    parser.add_argument(
        "--warm", action="store_true", help="precompute the symbols' session before listening"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Serve until stdin ends, answering its commands on the way."""
    stats = SimStats()
    clock = SimClock(args.now)
    market = Market(seed=0, symbols=tuple(args.symbols.split(",")))
    if args.warm:
        market.warm(args.now)
    server = SimServer(
        market=market,
        clock=clock,
        limits=SimLimits(
            market_data_lines=args.lines,
            messages_per_second=args.rate,
            snapshot_seconds=args.snapshot_seconds,
        ),
        stats=stats,
    )
    host, port = await server.start("127.0.0.1", 0)
    sys.stdout.write(f"listening on {host}:{port}\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command, _, argument = line.strip().partition(" ")
            if command == "stats":
                answer = json.dumps(stats.snapshot() | {"cpu_seconds": time.process_time()})
            elif command == "jump":
                clock.advance(dt.datetime.fromisoformat(argument) - clock.now())
                answer = "ok"
            else:
                answer = json.dumps({"error": f"unknown command {command!r}"})
            sys.stdout.write(answer + "\n")
            sys.stdout.flush()
    finally:
        await server.stop()


def main() -> None:
    # stdout is the control channel: the simulator's log lines go to stderr, warnings only.
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    asyncio.run(serve(parse(sys.argv[1:])))


if __name__ == "__main__":
    main()
