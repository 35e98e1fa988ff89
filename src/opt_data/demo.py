"""`make demo`: the real daily update against the bundled IB Gateway simulator.

It starts ``opt-data sim`` with its clock at 17:00 New York time of the latest trading
session (so the demo works on any day, at any hour), runs ``opt-data update`` against it
with a scratch config under ``demo/``, prints what landed in the lake, and stops the
simulator. Both steps are the real commands in real subprocesses, as a user would run them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from opt_data.calendar import TradingCalendar, default_cache_dir

DEMO_DIR = Path("demo")
DEMO_SYMBOLS = "AAPL,MSFT,NVDA,JPM,XOM"
NEW_YORK = ZoneInfo("America/New_York")

DEMO_CONFIG = """\
# Scratch config written by `make demo`; the real one is config/opt-data.toml.
max_concurrent_snapshots = 90

[paths]
data = "demo/data"
state = "demo/state"

[filters]
max_dte = 35
moneyness = 0.05
max_contracts_per_underlying = 60

[snapshot]
timeout_seconds = 5
"""


def latest_session_evening(now: dt.datetime, calendar: TradingCalendar) -> dt.datetime:
    """17:00 New York time of the latest session whose 17:00 has passed."""
    day = now.astimezone(NEW_YORK).date()
    while True:
        if calendar.is_session(day):
            evening = dt.datetime.combine(day, dt.time(17, 0), NEW_YORK)
            if evening <= now:
                return evening
        day -= dt.timedelta(days=1)


def _opt_data() -> list[str]:
    return [sys.executable, "-m", "opt_data.cli"]


def _start_simulator(now: dt.datetime, stats_file: Path) -> tuple[subprocess.Popen[str], int]:
    sim = subprocess.Popen(
        [
            *_opt_data(),
            "sim",
            "--port",
            "0",
            "--now",
            now.isoformat(),
            "--stats-file",
            str(stats_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    line = sim.stdout.readline().strip()
    if not line.startswith("listening on "):
        sim.kill()
        raise SystemExit(f"the simulator did not start (it said {line!r})")
    return sim, int(line.rsplit(":", 1)[1])


def _report(data_root: Path) -> None:
    clean = f"{data_root}/clean/options/**/*.parquet"
    con = duckdb.connect()
    query = f"""
        SELECT underlying_symbol, count(*) AS contracts,
               round(avg((bid_eod IS NULL)::INT) * 100, 1) AS bid_missing_pct,
               round(avg((implied_volatility IS NULL)::INT) * 100, 1) AS iv_missing_pct,
               round(avg((open_interest IS NULL)::INT) * 100, 1) AS oi_missing_pct,
               min(quote_date) AS quote_date
        FROM read_parquet('{clean}', hive_partitioning = true)
        GROUP BY 1 ORDER BY 1
    """
    table = con.execute(query).fetchall()
    print("\nclean rows per underlying:")
    header = ("underlying", "rows", "bid NULL %", "IV NULL %", "OI NULL %")
    print("  {:<10} {:>6} {:>10} {:>10} {:>10}".format(*header))
    for symbol, count, bid_na, iv_na, oi_na, _ in table:
        print(f"  {symbol:<10} {count:>6} {bid_na:>10} {iv_na:>10} {oi_na:>10}")
    files = sorted(p.relative_to(DEMO_DIR) for p in data_root.rglob("*.parquet"))
    print(f"\n{len(files)} Parquet files under {data_root}/, e.g. {files[0] if files else '-'}")
    print("\nread them with DuckDB (no opt-data code needed):")
    print(
        '  duckdb -c "SELECT underlying_symbol, expiration, strike, option_type, bid_eod, '
        f"ask_eod, implied_volatility, delta, open_interest FROM read_parquet('{clean}', "
        'hive_partitioning=true) LIMIT 10"'
    )


def main() -> int:
    calendar = TradingCalendar(cache_dir=default_cache_dir())
    evening = latest_session_evening(dt.datetime.now(dt.UTC), calendar)
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir()
    config = DEMO_DIR / "opt-data.toml"
    config.write_text(DEMO_CONFIG)
    print(f"opt-data demo: the {evening.date()} session, collected at {evening:%H:%M %Z}")
    sim, port = _start_simulator(evening, DEMO_DIR / "sim-stats.json")
    print(f"simulated IB Gateway on 127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IB_", "OPT_DATA_"))} | {
        "IB_HOST": "127.0.0.1",
        "IB_PORT": str(port),
        "IB_CLIENT_ID": "101",
    }
    try:
        update = subprocess.run(
            [*_opt_data(), "--config", str(config), "update", "--symbols", DEMO_SYMBOLS],
            env=env,
            check=False,
        )
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
    if update.returncode != 0:
        print(f"\nthe update exited with {update.returncode}: see demo/state/run_logs/")
        return update.returncode
    _report(DEMO_DIR / "data")
    stats = json.loads((DEMO_DIR / "sim-stats.json").read_text())
    print(
        f"\nthe gateway saw {stats['messages_in_total']} API messages from opt-data and "
        f"{stats['violations_total']} limit violations"
    )
    print("\nrun logs (JSON lines): demo/state/run_logs/; simulator counters: demo/sim-stats.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
