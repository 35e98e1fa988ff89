"""Benchmark 4: the collector's peak memory does not grow with the number of contracts.

The update keeps a few underlyings in flight and writes each one's partitions before it
moves on, so its resident set should be the same for 1k, 5k and 20k contracts. Each size is
one update in a fresh collector process (``bench.collector_process``: ``ru_maxrss``, the
process's peak resident set, which includes the interpreter and its imports, reported with
the resident set before the update started) against a simulator with ×10 limits, so the
20k run takes minutes, not a quarter of an hour. The count grows with the underlyings
(``PER_UNDERLYING`` contracts each, the first N symbols of the universe); a few cheap
underlyings list fewer contracts in the window, so the counts are approximate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.harness import (
    EVENING,
    Filters,
    Target,
    default_limits,
    run_collector,
    simulator,
    universe_symbols,
)

NAME = "memory"
PER_UNDERLYING = 100
SIZES = {"1k": 10, "5k": 50, "20k": 200}  # label: underlyings


def measure(underlyings: int) -> dict[str, Any]:
    """One update of ``underlyings`` × ``PER_UNDERLYING`` contracts in a fresh process."""
    symbols = universe_symbols()[:underlyings]
    limits = default_limits().times(10)
    with (
        simulator(now=EVENING, symbols=symbols, limits=limits) as sim,
        tempfile.TemporaryDirectory(prefix="opt-data-bench-") as tmp,
    ):
        report = run_collector(Path(tmp), sim.port, symbols, limits, Filters(PER_UNDERLYING))
        violations = sim.stats()["violations_total"]
    return {
        "underlyings": underlyings,
        "contracts": report["rows"],
        "peak_rss_mb": round(report["peak_rss_mb"], 1),
        "base_rss_mb": round(report["base_rss_mb"], 1),
        "wall_seconds": round(report["wall_seconds"], 1),
        "violations": violations,
    }


def run() -> dict[str, Any]:
    sizes = {label: measure(n) for label, n in SIZES.items()}
    peaks = [s["peak_rss_mb"] for s in sizes.values()]
    return {
        "sizes": sizes,
        "growth_mb": round(max(peaks) - min(peaks), 1),
        "growth_share": round((max(peaks) - min(peaks)) / min(peaks), 3),
    }


def rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Table rows: benchmark, metric, value."""
    out = [
        (
            "peak memory (×10 limits)" if i == 0 else "",
            f"{label} contracts",
            f"{s['peak_rss_mb']:.0f} MB peak RSS ({s['contracts']:,} contracts, "
            f"{s['base_rss_mb']:.0f} MB before the update, {s['wall_seconds']:.0f} s)",
        )
        for i, (label, s) in enumerate(result["sizes"].items())
    ]
    out.append(
        ("", "growth 1k → 20k", f"{result['growth_mb']:+.1f} MB ({result['growth_share']:.1%})")
    )
    return out


# "Flat": 20× the contracts may not add more than this share to the peak (today ~6%).
TARGET_GROWTH = 0.15


def targets(result: dict[str, Any]) -> list[Target]:
    """Peak memory does not grow with the contract count."""
    return [
        Target(
            f"peak memory flat: 1k → 20k contracts grows ≤ {TARGET_GROWTH:.0%}",
            result["growth_share"] <= TARGET_GROWTH,
            f"{result['growth_share']:.1%}",
        ),
        Target(
            "no violation in any memory run",
            all(size["violations"] == 0 for size in result["sizes"].values()),
            ", ".join(str(size["violations"]) for size in result["sizes"].values()),
        ),
    ]
