"""The collector as a child process: one daily update, measured from the inside.

::

    python -m bench.collector_process --workdir DIR --port N --symbols AAPL,MSFT --run-id ID

``DIR/opt-data.toml`` holds the settings (``bench.harness.write_config``). The update runs
exactly as ``opt-data update`` runs it: ``run_update`` with a run log at INFO in
``DIR/state/run_logs/``. One JSON line on stdout reports:

* ``wall_seconds`` and ``cpu_seconds``: ``time.perf_counter`` and ``time.process_time``
  deltas around ``run_update`` (the process holds no simulator, so the CPU is the
  collector's alone: its event loop, the client library, row building and Parquet writes);
* ``peak_rss_mb``: the peak resident set of the process during the update (Linux
  ``VmHWM``, reset through ``/proc/self/clear_refs`` just before the update starts, so
  neither imports nor the parent's memory image inherited at fork count), and
  ``base_rss_mb``, the resident set at that moment (interpreter, imports, settings);
* ``rows``, ``contracts``, ``outcomes``, ``errors``, ``exit_code`` from ``UpdateResult``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from opt_data.config import load_settings
from opt_data.jobs.update import run_update
from opt_data.logs import configure_logging

CLIENT_ID = "7"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.collector_process")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--symbols", required=True)
    parser.add_argument("--run-id", required=True)
    return parser.parse_args(argv)


def status_mb(key: str) -> float:
    """A ``/proc/self/status`` memory figure (``VmRSS``, ``VmHWM``) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {key}")


def reset_peak_rss() -> None:
    """Start ``VmHWM`` again from the current resident set (Linux ≥ 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    args = parse(sys.argv[1:])
    settings = load_settings(
        args.workdir / "opt-data.toml",
        environ={"IB_PORT": str(args.port), "IB_CLIENT_ID": CLIENT_ID},
        dotenv_file=None,
        cwd=args.workdir,
    )
    configure_logging(
        command="update",
        state_dir=settings.paths.state,
        level=settings.logging.level,
        log_format="none",
        run_id=args.run_id,
    )
    reset_peak_rss()
    base_rss = status_mb("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_update(settings, symbols=args.symbols.split(","), run_id=args.run_id)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    report = {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "base_rss_mb": base_rss,
        "peak_rss_mb": status_mb("VmHWM"),
        "rows": result.rows,
        "contracts": result.contracts_expected,
        "outcomes": result.outcomes,
        "errors": result.errors,
        "exit_code": result.exit_code,
    }
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
