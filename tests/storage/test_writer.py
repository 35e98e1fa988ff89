"""Partition writes and dataset reads, checked with pyarrow and DuckDB."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opt_data.errors import StorageError
from opt_data.schema import CHAINS, OPTIONS
from opt_data.storage.layout import duckdb_source
from opt_data.storage.writer import PartitionWriter, read_dataset

RowsFactory = Callable[..., list[dict[str, Any]]]
DAY = dt.date(2026, 3, 2)


def test_write_then_read_back_with_pyarrow(tmp_path: Path, option_rows: RowsFactory) -> None:
    """Rows come back with declared types and the typed partition columns."""
    writer = PartitionWriter(tmp_path)
    result = writer.write(OPTIONS, DAY, "AAPL", option_rows(DAY, "AAPL", [3, 1, 2]))
    assert result.rows == 3
    assert result.path == f"{tmp_path}/clean/options/date=2026-03-02/underlying=AAPL/part-0.parquet"
    assert result.bytes == Path(result.path).stat().st_size

    table = read_dataset(tmp_path, OPTIONS).to_table()
    assert table.schema == OPTIONS.full_schema
    assert table.schema.field("date").type == pa.date32()
    assert table.schema.field("underlying").type == pa.string()
    assert set(table.column("date").to_pylist()) == {DAY}
    assert sorted(table.column("con_id").to_pylist()) == [1, 2, 3]
    metadata = pq.read_schema(result.path).metadata
    assert metadata[b"opt_data.dataset"] == b"clean/options"


def test_duckdb_reads_the_lake_with_real_types(tmp_path: Path, option_rows: RowsFactory) -> None:
    """DuckDB, with plain hive_partitioning or with duckdb_source: DATE, DOUBLE, BIGINT."""
    writer = PartitionWriter(tmp_path)
    writer.write(OPTIONS, DAY, "AAPL", option_rows(DAY, "AAPL", [1, 2]))
    writer.write(OPTIONS, DAY, "BRK.B", option_rows(DAY, "BRK.B", [7]))
    plain = f"read_parquet('{tmp_path}/clean/options/**/*.parquet', hive_partitioning = true)"
    with duckdb.connect() as con:
        for source in (plain, duckdb_source(str(tmp_path), OPTIONS)):
            types = dict(
                con.execute(
                    f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {source})"
                ).fetchall()
            )
            assert types["date"] == "DATE"
            assert types["underlying"] == "VARCHAR"
            assert types["strike"] == "DOUBLE"
            assert types["con_id"] == "BIGINT"
            assert types["expiration"] == "DATE"
            assert types["snapshot_ts"] == "TIMESTAMP WITH TIME ZONE"
            assert types["qa_flags"] == "VARCHAR[]"
            row = con.execute(
                f"SELECT count(*), min(date) FROM {source} WHERE underlying = 'BRK.B'"
            ).fetchone()
            assert row == (1, DAY)


def test_rewriting_a_partition_replaces_it(tmp_path: Path, option_rows: RowsFactory) -> None:
    """A rerun of the same (dataset, date, underlying) leaves only the new rows."""
    writer = PartitionWriter(tmp_path)
    writer.write(OPTIONS, DAY, "AAPL", option_rows(DAY, "AAPL", [1, 2, 3], run_id="first"))
    writer.write(OPTIONS, DAY, "AAPL", option_rows(DAY, "AAPL", [2, 4], run_id="second"))
    table = read_dataset(tmp_path, OPTIONS).to_table()
    assert sorted(table.column("con_id").to_pylist()) == [2, 4]
    assert set(table.column("run_id").to_pylist()) == {"second"}


def test_ib_and_user_spellings_share_one_partition(
    tmp_path: Path, option_rows: RowsFactory
) -> None:
    """Writing under "BRK B" replaces what was written under "BRK.B"."""
    writer = PartitionWriter(tmp_path)
    writer.write(OPTIONS, DAY, "BRK.B", option_rows(DAY, "BRK.B", [1, 2]))
    result = writer.write(OPTIONS, DAY, "BRK B", option_rows(DAY, "BRK.B", [3]))
    assert "/underlying=BRK.B/" in result.path
    table = read_dataset(tmp_path, OPTIONS).to_table()
    assert table.column("con_id").to_pylist() == [3]


def test_rows_of_another_partition_are_refused(tmp_path: Path, option_rows: RowsFactory) -> None:
    """quote_date / underlying_symbol must equal the partition the rows are written to."""
    writer = PartitionWriter(tmp_path)
    with pytest.raises(StorageError, match=r"'quote_date' holds \['2026-03-03'\]"):
        writer.write(OPTIONS, DAY, "AAPL", option_rows(dt.date(2026, 3, 3), "AAPL", [1]))
    with pytest.raises(StorageError, match=r"'underlying_symbol' holds \['MSFT'\]"):
        writer.write(OPTIONS, DAY, "AAPL", option_rows(DAY, "MSFT", [1]))
    assert read_dataset(tmp_path, OPTIONS).count_rows() == 0


def test_empty_writes_are_refused_unless_asked(tmp_path: Path, option_rows: RowsFactory) -> None:
    """An empty result does not silently wipe a partition; allow_empty empties it on purpose."""
    writer = PartitionWriter(tmp_path)
    writer.write(OPTIONS, DAY, "AAPL", option_rows(DAY, "AAPL", [1]))
    with pytest.raises(StorageError, match=r"refusing to replace .* with 0 rows"):
        writer.write(OPTIONS, DAY, "AAPL", [])
    assert read_dataset(tmp_path, OPTIONS).count_rows() == 1
    result = writer.write(OPTIONS, DAY, "AAPL", [], allow_empty=True)
    assert result.rows == 0
    assert read_dataset(tmp_path, OPTIONS).count_rows() == 0


def test_missing_dataset_reads_as_empty(tmp_path: Path) -> None:
    """Before the first write a dataset is empty, with its full schema."""
    dataset = read_dataset(tmp_path / "nothing-yet", CHAINS)
    assert dataset.schema == CHAINS.full_schema
    assert dataset.count_rows() == 0


def test_file_uri_roots_work(tmp_path: Path, option_rows: RowsFactory) -> None:
    """A file:// URI resolves through pyarrow.fs to the same place as the plain path."""
    PartitionWriter(f"file://{tmp_path}").write(OPTIONS, DAY, "AAPL", option_rows(DAY, "AAPL", [1]))
    assert read_dataset(f"file://{tmp_path}", OPTIONS).count_rows() == 1
    assert read_dataset(tmp_path, OPTIONS).count_rows() == 1


def test_rows_are_sorted_by_the_spec_keys(tmp_path: Path, option_rows: RowsFactory) -> None:
    """Files are ordered by expiration, strike, option_type, root, con_id."""
    writer = PartitionWriter(tmp_path)
    result = writer.write(OPTIONS, DAY, "AAPL", option_rows(DAY, "AAPL", list(range(40, 0, -1))))
    table = pq.read_table(result.path)
    keys = list(
        zip(
            *(table.column(k).to_pylist() for k in OPTIONS.sort_keys),
            strict=True,
        )
    )
    assert keys == sorted(keys)


keys = st.tuples(
    st.sampled_from([dt.date(2026, 3, 2), dt.date(2026, 3, 3)]),
    st.sampled_from(["AAPL", "MSFT", "BRK.B"]),
)
batches = st.lists(
    st.tuples(keys, st.lists(st.integers(1, 10_000), min_size=1, max_size=12, unique=True)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None)
@given(batches=batches)
def test_dataset_equals_the_last_write_per_key(
    option_rows: RowsFactory, batches: list[tuple[tuple[dt.date, str], list[int]]]
) -> None:
    """Any sequence of writes leaves exactly the last write per key: no loss, no duplicates."""
    expected: dict[tuple[dt.date, str], list[int]] = {}
    with tempfile.TemporaryDirectory() as root:
        writer = PartitionWriter(root)
        for index, ((day, symbol), con_ids) in enumerate(batches):
            writer.write(
                OPTIONS, day, symbol, option_rows(day, symbol, con_ids, run_id=f"r{index}")
            )
            expected[(day, symbol)] = sorted(con_ids)
        table = read_dataset(root, OPTIONS).to_table(columns=["date", "underlying", "con_id"])
        with duckdb.connect() as con:
            duck = con.execute(f"SELECT count(*) FROM {duckdb_source(root, OPTIONS)}").fetchone()
    actual: dict[tuple[dt.date, str], list[int]] = {}
    for day, symbol, con_id in zip(*(c.to_pylist() for c in table.columns), strict=True):
        actual.setdefault((day, symbol), []).append(con_id)
    assert {key: sorted(ids) for key, ids in actual.items()} == expected
    assert duck == (sum(len(ids) for ids in expected.values()),)
