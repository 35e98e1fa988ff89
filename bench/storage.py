"""Benchmark 5: the lake: write throughput, bytes per clean row, one DuckDB query.

* **Lake**: the daily update collects ``SESSIONS`` consecutive XNYS sessions (ending on the
  benchmarks' Friday) for ``LAKE_SYMBOLS``, one collector process per session, against one
  simulator whose clock jumps to each session's 17:30 ET (×10 limits: it is the lake that is
  measured here, not the collection).
* **Bytes per clean row**: the size of every ``clean/options`` file ÷ the rows in them.
* **Query**: one underlying, every date, through ``storage.layout.duckdb_source`` (the
  project's own DuckDB table expression, Hive partitions typed); the median of
  ``QUERY_RUNS`` runs on one connection, and the first (cold) run.
* **Write throughput**: ``PartitionWriter.write`` (coerce to the schema, partition check,
  sort, dictionary columns, zstd-3, fsync of file and directory, atomic rename) against
  ``pyarrow.parquet.write_table`` with pyarrow's defaults (snappy, no sort, no fsync) of
  the same Arrow table, as MB/s of the table's in-memory size (``Table.nbytes``); the
  median of several writes. Two sizes: one partition as the update writes it, and
  131,072 rows (one row group, what compaction writes), tiled from the lake's rows.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.harness import (
    NEW_YORK,
    Filters,
    Target,
    default_limits,
    run_collector,
    simulator,
)
from opt_data import schema
from opt_data.calendar import TradingCalendar
from opt_data.storage.atomic import ROW_GROUP_ROWS
from opt_data.storage.layout import dataset_dir, duckdb_source
from opt_data.storage.writer import PartitionWriter, read_dataset

NAME = "storage"
SESSIONS = 20
LAST_SESSION = dt.date(2026, 11, 20)
COLLECT_AT = dt.time(17, 30)
LAKE_SYMBOLS = ("AAPL", "MSFT", "JPM", "XOM", "KO")
PER_UNDERLYING = 100
QUERY_RUNS = 7
WRITE_RUNS = {"partition": 21, "bulk": 5}


def build_lake(workdir: Path) -> dict[str, Any]:
    """Collect ``SESSIONS`` sessions into ``workdir/data``; how long it took."""
    calendar = TradingCalendar()
    days = calendar.sessions(LAST_SESSION - dt.timedelta(days=45), LAST_SESSION)[-SESSIONS:]
    evenings = [dt.datetime.combine(day, COLLECT_AT, NEW_YORK) for day in days]
    limits = default_limits().times(10)
    filters = Filters(max_contracts_per_underlying=PER_UNDERLYING)
    started = time.perf_counter()
    with simulator(now=evenings[0], symbols=LAKE_SYMBOLS, limits=limits) as sim:
        for evening in evenings:
            sim.jump(evening)
            report = run_collector(workdir, sim.port, LAKE_SYMBOLS, limits, filters)
            if report["exit_code"] != 0:
                raise RuntimeError(f"the update of {evening.date()} failed: {report['errors']}")
        violations = sim.stats()["violations_total"]
    return {
        "first_session": str(days[0]),
        "last_session": str(days[-1]),
        "build_seconds": round(time.perf_counter() - started, 1),
        "violations": violations,
    }


def query(data: Path, symbol: str) -> dict[str, Any]:
    """One underlying over every date: median and cold seconds, and the row count."""
    sql = f"""
        SELECT quote_date, expiration, strike, option_type, bid_eod, ask_eod,
               implied_volatility, delta, open_interest
        FROM {duckdb_source(str(data), schema.OPTIONS)}
        WHERE underlying = ?
        ORDER BY quote_date, expiration, strike, option_type
    """
    con = duckdb.connect()
    seconds, count = [], 0
    for _ in range(QUERY_RUNS):
        started = time.perf_counter()
        count = len(con.execute(sql, [symbol]).fetchall())
        seconds.append(time.perf_counter() - started)
    dates = con.execute(
        f"SELECT count(DISTINCT date) FROM {duckdb_source(str(data), schema.OPTIONS)}"
    ).fetchone()
    return {
        "underlying": symbol,
        "rows": count,
        "dates": int(dates[0]) if dates else 0,
        "median_ms": round(1000 * statistics.median(seconds), 2),
        "cold_ms": round(1000 * seconds[0], 2),
    }


def clean_bytes_per_row(data: Path) -> dict[str, Any]:
    files = list(Path(dataset_dir(str(data.absolute()), schema.OPTIONS)).rglob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    size = sum(f.stat().st_size for f in files)
    return {"files": len(files), "rows": rows, "bytes": size, "bytes_per_row": round(size / rows)}


def _median_seconds(write: Callable[[], object], runs: int) -> float:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        write()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _single_partition(table: pa.Table, day: dt.date, symbol: str) -> pa.Table:
    """``table`` with every row filed under one date and underlying (the writer checks)."""
    for column, value in (("quote_date", day), ("underlying_symbol", symbol)):
        index = table.schema.get_field_index(column)
        field = table.schema.field(index)
        table = table.set_column(index, field, pa.array([value] * len(table), field.type))
    return table


def write_throughput(data: Path, scratch: Path) -> dict[str, Any]:
    """PartitionWriter.write vs pq.write_table, one partition and a 128Ki-row table."""
    spec = schema.OPTIONS
    lake = read_dataset(data, spec).to_table().select(spec.schema.names)
    first = lake.slice(0, 1).to_pylist()[0]
    day, symbol = first["quote_date"], first["underlying_symbol"]
    one = lake.filter((pc.field("quote_date") == day) & (pc.field("underlying_symbol") == symbol))
    tiles = -(-ROW_GROUP_ROWS // len(lake))
    bulk = _single_partition(pa.concat_tables([lake] * tiles).slice(0, ROW_GROUP_ROWS), day, symbol)
    writer = PartitionWriter(scratch / "writer")
    plain = scratch / "plain.parquet"
    out: dict[str, Any] = {}
    for label, table in (("partition", one), ("bulk", bulk)):
        runs = WRITE_RUNS[label]
        opt_data_s = _median_seconds(partial(writer.write, spec, day, symbol, table), runs)
        pyarrow_s = _median_seconds(partial(pq.write_table, table, plain), runs)
        mb = table.nbytes / 1e6
        out[label] = {
            "rows": len(table),
            "arrow_mb": round(mb, 3),
            "writer_mb_per_second": round(mb / opt_data_s, 2),
            "pyarrow_mb_per_second": round(mb / pyarrow_s, 2),
            "ratio_writer_to_pyarrow": round(pyarrow_s / opt_data_s, 3),
            "writer_ms": round(1000 * opt_data_s, 2),
            "pyarrow_ms": round(1000 * pyarrow_s, 2),
            "writer_file_bytes": writer.write(spec, day, symbol, table).bytes,
            "pyarrow_file_bytes": plain.stat().st_size,
        }
    return out


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="opt-data-bench-") as tmp:
        workdir = Path(tmp)
        lake = build_lake(workdir)
        data = workdir / "data"
        return {
            "lake": lake | {"symbols": list(LAKE_SYMBOLS), "sessions": SESSIONS},
            "clean": clean_bytes_per_row(data),
            "query": query(data, LAKE_SYMBOLS[0]),
            "write": write_throughput(data, workdir / "scratch"),
        }


def rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Table rows: benchmark, metric, value."""
    q, c, w = result["query"], result["clean"], result["write"]
    out = [
        (
            "storage",
            "DuckDB query",
            f"{q['median_ms']:.1f} ms median ({q['cold_ms']:.1f} ms cold): {q['rows']:,} rows of "
            f"{q['underlying']}, {q['dates']} sessions",
        ),
        (
            "",
            "bytes / clean row",
            f"{c['bytes_per_row']} B ({c['rows']:,} rows in {c['files']} files)",
        ),
    ]
    for label, s in w.items():
        out.append(
            (
                "",
                f"write, {label} ({s['rows']:,} rows)",
                f"PartitionWriter {s['writer_mb_per_second']:.1f} MB/s vs pyarrow "
                f"{s['pyarrow_mb_per_second']:.1f} MB/s: ratio {s['ratio_writer_to_pyarrow']:.2f}",
            )
        )
    return out


def targets(result: dict[str, Any]) -> list[Target]:
    """The lake answers the query whole: every session, every row of the underlying."""
    q = result["query"]
    expected = SESSIONS * PER_UNDERLYING
    return [
        Target(
            f"DuckDB query sees all {SESSIONS} sessions of {q['underlying']}",
            q["dates"] == SESSIONS and q["rows"] == expected,
            f"{q['dates']} sessions, {q['rows']:,} of {expected:,} rows",
        )
    ]
