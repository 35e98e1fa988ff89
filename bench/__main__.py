"""``python -m bench [names...]`` (``make bench``): run the benchmarks, print one table.

Each benchmark writes ``bench/results/<name>.json``: when and on which commit it ran, how
long it took, its numbers and its targets. The table ends with every target, met or
missed; the exit code is 1 when any was missed, so a regression fails ``make bench``. With
no names every benchmark runs, in the order below (``projection`` uses this run's
``throughput`` when both run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from rich.console import Console
from rich.table import Table

from bench import memory, projection, sim_throughput, storage, throughput
from bench.harness import REPO, Target, save_result

Result = dict[str, Any]
Row = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Benchmark:
    run: Callable[[Mapping[str, Result]], Result]
    rows: Callable[[Result], list[Row]]
    targets: Callable[[Result], list[Target]]


def _simulator_rows(result: Result) -> list[Row]:
    return [
        (
            "simulator capacity",
            "messages/s",
            f"{result['requests_per_second']:,} requests, {result['messages_out_per_second']:,} "
            f"contractData, {result['ticks_per_second']:,} ticks "
            f"(IB's limit: {result['ib_default_limit_messages_per_second']})",
        )
    ]


BENCHMARKS: dict[str, Benchmark] = {
    "sim_throughput": Benchmark(
        lambda _: sim_throughput.run(), _simulator_rows, sim_throughput.targets
    ),
    "throughput": Benchmark(lambda _: throughput.run(), throughput.rows, throughput.targets),
    "memory": Benchmark(lambda _: memory.run(), memory.rows, memory.targets),
    "storage": Benchmark(lambda _: storage.run(), storage.rows, storage.targets),
    "projection": Benchmark(projection.run, projection.rows, projection.targets),
}


def _commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def main(argv: Sequence[str]) -> int:
    # The fill-time probe runs the collector's client in this process: keep its INFO lines
    # (connection notices) out of the table on stdout.
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    err = Console(stderr=True)
    results: dict[str, Result] = {}
    bars: list[Target] = []
    table = Table(title=f"opt-data benchmarks ({os.cpu_count()} CPUs, commit {_commit()})")
    for column in ("benchmark", "metric", "value"):
        table.add_column(column, overflow="fold")
    for i, name in enumerate(n for n in BENCHMARKS if n in names):
        err.print(f"[{i + 1}/{len(names)}] {name} …")
        started = time.perf_counter()
        results[name] = BENCHMARKS[name].run(results)
        seconds = time.perf_counter() - started
        met = BENCHMARKS[name].targets(results[name])
        bars.extend(met)
        path = save_result(
            name,
            {
                "benchmark": name,
                "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "commit": _commit(),
                "cpus": os.cpu_count(),
                "seconds": round(seconds, 1),
                "result": results[name],
                "targets": [{"what": t.what, "met": t.met, "value": t.value} for t in met],
            },
        )
        err.print(f"      done in {seconds:.0f} s → {path.relative_to(REPO)}")
        for row in BENCHMARKS[name].rows(results[name]):
            table.add_row(*row)
        table.add_section()
    for i, bar in enumerate(bars):
        verdict = "met" if bar.met else "MISSED"
        table.add_row("targets" if i == 0 else "", bar.what, f"{verdict}: {bar.value}")
    # Off a terminal (make bench | tee), keep each row on one line instead of 80 columns.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    missed = [bar.what for bar in bars if not bar.met]
    if missed:
        err.print(f"{len(missed)} target(s) missed: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
