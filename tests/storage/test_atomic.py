"""Atomic publishing: file format settings, replace semantics, crashes and temp-file sweeping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from opt_data.errors import StorageError
from opt_data.schema import partitioning
from opt_data.storage.atomic import (
    ROW_GROUP_ROWS,
    atomic_writer,
    sweep_temp_files,
    write_table_atomic,
)
from opt_data.storage.layout import is_temp_name

SCHEMA = pa.schema([("k", pa.string()), ("strike", pa.float64()), ("iv", pa.float64())])


def table(n: int, *, tag: str = "a") -> pa.Table:
    return pa.table(
        {
            "k": [f"{tag}{i % 3}" for i in range(n)],
            "strike": [float((n - i) % 11) if i % 13 else None for i in range(n)],
            "iv": [i / 7 for i in range(n)],
        },
        schema=SCHEMA,
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if is_temp_name(p.name))


def test_file_format_settings(tmp_path: Path) -> None:
    """zstd, 128Ki-row groups, dictionary only where asked, sorted with sorting_columns."""
    path = tmp_path / "x" / "part-0.parquet"
    write_table_atomic(
        table(ROW_GROUP_ROWS + 5),
        path,
        sort_keys=("strike", "k"),
        dictionary_columns=("k",),
    )
    meta = pq.read_metadata(path)
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [ROW_GROUP_ROWS, 5]
    group = meta.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(3)}
    assert {c.compression for c in columns.values()} == {"ZSTD"}
    assert columns["k"].has_dictionary_page
    assert not columns["iv"].has_dictionary_page
    assert not columns["strike"].has_dictionary_page
    assert [(c.column_index, c.descending, c.nulls_first) for c in group.sorting_columns] == [
        (1, False, False),
        (0, False, False),
    ]
    strikes = pq.read_table(path).column("strike").to_pylist()
    present = [s for s in strikes if s is not None]
    assert present == sorted(present)
    assert strikes[len(present) :] == [None] * (len(strikes) - len(present))


def test_list_columns_can_be_dictionary_encoded(tmp_path: Path) -> None:
    """A list<string> column (qa_flags) gets its dictionary on the element path."""
    path = tmp_path / "part-0.parquet"
    flags = pa.table({"qa_flags": pa.array([["no_bid"], [], ["no_bid", "crossed"]])})
    write_table_atomic(flags, path, dictionary_columns=("qa_flags",))
    column = pq.read_metadata(path).row_group(0).column(0)
    assert column.path_in_schema == "qa_flags.list.element"
    assert column.has_dictionary_page


def test_rewrite_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    """Publishing the same path twice leaves exactly the second table and no temp files."""
    path = tmp_path / "d" / "part-0.parquet"
    write_table_atomic(table(10, tag="old"), path)
    size = write_table_atomic(table(4, tag="new"), path)
    assert size == path.stat().st_size
    assert pq.read_table(path).column("k").to_pylist() == ["new0", "new1", "new2", "new0"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["part-0.parquet"]


def test_a_failure_mid_write_publishes_nothing(tmp_path: Path) -> None:
    """An error inside the writer block removes the temp and keeps the previous file."""
    path = tmp_path / "part-0.parquet"
    write_table_atomic(table(3, tag="old"), path)
    with pytest.raises(RuntimeError, match="boom"), atomic_writer(path, SCHEMA) as writer:
        writer.write_table(table(5, tag="new"))
        raise RuntimeError("boom")
    assert pq.read_table(path).column("k").to_pylist() == ["old0", "old1", "old2"]
    assert leftovers(tmp_path) == []


def test_streaming_writer_checks_the_row_count_before_publishing(tmp_path: Path) -> None:
    """With expected_rows, a short file is refused and never becomes visible."""
    path = tmp_path / "part-0.parquet"
    with atomic_writer(path, SCHEMA, expected_rows=6) as writer:
        writer.write_table(table(3))
        writer.write_table(table(3))
    assert pq.read_metadata(path).num_rows == 6
    with (
        pytest.raises(StorageError, match="wrote 7 rows but the footer says 6"),
        atomic_writer(path.with_name("b.parquet"), SCHEMA, expected_rows=7) as writer,
    ):
        writer.write_table(table(6))
    assert not path.with_name("b.parquet").exists()
    assert leftovers(tmp_path) == []


def test_only_parquet_names_and_local_filesystems(tmp_path: Path) -> None:
    """Final names end in .parquet; other filesystems are refused until they are supported."""
    with pytest.raises(StorageError, match=r"must end in \.parquet"):
        write_table_atomic(table(1), tmp_path / "x.tmp")
    subtree = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    with pytest.raises(StorageError, match="only local paths"):
        write_table_atomic(table(1), tmp_path / "x.parquet", filesystem=subtree)


def test_unwritable_directory_is_a_storage_error(tmp_path: Path) -> None:
    """OS errors surface as StorageError naming the path."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="could not create the directory"):
        write_table_atomic(table(1), blocker / "part-0.parquet")


# ---------------------------------------------------------------------------------------------
# Crash safety (research §2.6), with a real SIGKILL.

CRASH_CHILD = textwrap.dedent(
    """
    import os, pathlib, signal, sys
    import pyarrow as pa
    from opt_data.storage.atomic import write_table_atomic

    def die(self, target):
        # The temp file is complete and fsynced; the process dies just before the rename.
        os.kill(os.getpid(), signal.SIGKILL)

    pathlib.Path.replace = die
    rows = pa.table({"k": ["new"] * 50_000, "strike": [1.0] * 50_000, "iv": [0.1] * 50_000})
    write_table_atomic(rows, sys.argv[1])
    """
)


def scan_counts(root: Path) -> tuple[int, int]:
    """Rows seen by a pyarrow dataset scan and by DuckDB's **/*.parquet glob."""
    schema = pa.schema(list(SCHEMA) + list(partitioning().schema))
    arrow = ds.dataset(root, schema=schema, format="parquet", partitioning=partitioning())
    with duckdb.connect() as con:
        result = con.execute(
            f"SELECT count(*) FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true)"
        ).fetchone()
    assert result is not None
    return arrow.count_rows(), int(result[0])


def test_killed_writer_leaves_old_data_and_an_invisible_temp(tmp_path: Path) -> None:
    """kill -9 mid-publish: old file intact, leftover temp (even torn) breaks no scan, sweep
    removes it once old enough."""
    part = tmp_path / "date=2026-03-02" / "underlying=AAPL"
    path = part / "part-0.parquet"
    write_table_atomic(table(7, tag="old"), path)

    child = subprocess.run(
        [sys.executable, "-c", CRASH_CHILD, str(path)], capture_output=True, timeout=60
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()

    (temp,) = [p for p in part.iterdir() if is_temp_name(p.name)]
    assert pq.read_table(path).column("k").to_pylist()[:1] == ["old0"]
    assert scan_counts(tmp_path) == (7, 7)

    # A kill during the write itself leaves a torn temp: still invisible to both engines.
    with temp.open("r+b") as handle:
        handle.truncate(temp.stat().st_size // 2)
    assert scan_counts(tmp_path) == (7, 7)

    # A fresh temp may belong to a running writer: kept. An old one is removed.
    assert sweep_temp_files(tmp_path, older_than_seconds=600) == []
    old = time.time() - 3600
    os.utime(temp, (old, old))
    assert sweep_temp_files(tmp_path, older_than_seconds=600) == [temp]
    assert leftovers(tmp_path) == []
    assert scan_counts(tmp_path) == (7, 7)


def test_a_torn_file_with_a_parquet_name_would_break_duckdb(tmp_path: Path) -> None:
    """Why temp names must not end in .parquet: DuckDB's glob reads such a torn file and fails."""
    part = tmp_path / "date=2026-03-02" / "underlying=AAPL"
    write_table_atomic(table(7), part / "part-0.parquet")
    torn = part / ".part-1.parquet"
    torn.write_bytes((part / "part-0.parquet").read_bytes()[:100])
    with pytest.raises(duckdb.Error):
        scan_counts(tmp_path)


def test_sweep_ignores_other_dot_files(tmp_path: Path) -> None:
    """Only names shaped like our temp files are ever deleted."""
    keep = [tmp_path / ".gitkeep", tmp_path / ".part-0.parquet.tmp", tmp_path / "a.tmp"]
    for path in keep:
        path.write_text("x")
        os.utime(path, (0, 0))
    assert sweep_temp_files(tmp_path, older_than_seconds=0) == []
    assert all(path.exists() for path in keep)
