"""``python -m opt_data.sim``: the simulator without the opt-data CLI (same flags)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from opt_data.sim.limits import limits_from_flags
from opt_data.sim.runner import SimOptions, run


def _aware(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. 17:00:00-05:00")
    return value


def _symbols(text: str) -> tuple[str, ...]:
    names = tuple(s.strip().upper() for s in text.split(",") if s.strip())
    if not names:
        raise argparse.ArgumentTypeError("no symbols given")
    return names


def parse(argv: Sequence[str]) -> SimOptions:
    parser = argparse.ArgumentParser(
        prog="python -m opt_data.sim", description="Run the bundled IB Gateway simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7497)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--now", type=_aware, metavar="ISO-8601", default=None)
    parser.add_argument("--symbols", type=_symbols, metavar="A,B,...", default=None)
    parser.add_argument("--scenario", type=Path, metavar="FILE.toml", default=None)
    parser.add_argument("--stats-file", type=Path, metavar="FILE.json", default=None)
    parser.add_argument("--lines", metavar="N", default=None)
    parser.add_argument("--rate", metavar="N", default=None)
    parser.add_argument("--snapshot-seconds", metavar="X", default=None)
    args = parser.parse_args(argv)
    try:
        limits = limits_from_flags(args.lines, args.rate, args.snapshot_seconds)
    except ValueError as exc:
        parser.error(str(exc))  # exit 2
    return SimOptions(
        host=args.host,
        port=args.port,
        seed=args.seed,
        now=args.now,
        symbols=args.symbols,
        scenario=args.scenario,
        stats_file=args.stats_file,
        limits=limits,
    )


if __name__ == "__main__":
    # stdout carries only the "listening on" line; log lines go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    sys.exit(run(parse(sys.argv[1:])))
