"""Atomic Parquet publishing: the only code that creates a final ``.parquet`` file.

A file becomes visible under its final name only when it is complete and durable:

1. write ``.<name>.<uuid>.tmp`` in the target directory (never matched by ``*.parquet``),
2. check the footer (row count) and ``fsync`` the file,
3. ``os.replace`` it over the final name (atomic on POSIX; an older version is swapped out
   in one step, so readers see the old file or the new one, never a mix or a gap),
4. ``fsync`` the directory so the rename itself survives a power cut.

A crash at any step leaves at most a ``*.tmp`` file that no reader picks up;
``sweep_temp_files`` deletes old ones. New directories are fsynced into their parents too.

Every file is written the same way (research §0): zstd level 3, row groups of 128Ki rows,
dictionary encoding only on the columns the caller names (low cardinality), rows sorted by the
caller's sort keys (ascending, nulls last) with ``sorting_columns`` recorded in the footer.

Only local filesystems are supported. An object store has no rename; publishing there means a
direct PUT of the final key plus a commit record (research §5), which is not built yet.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from opt_data.errors import StorageError
from opt_data.storage.layout import is_temp_name, temp_name

ROW_GROUP_ROWS = 128 * 1024
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path) -> None:
    """``mkdir -p`` that also fsyncs each parent whose entries it changed."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            # Another writer created it in the meantime; that is fine if it is a directory.
            if not directory.is_dir():
                raise
        _fsync_dir(directory.parent)


def _dictionary_paths(schema: pa.Schema, columns: Sequence[str]) -> list[str]:
    # Parquet addresses a list column's values as "<name>.list.element".
    return [
        f"{name}.list.element" if pa.types.is_list(schema.field(name).type) else name
        for name in columns
    ]


def _writer_options(
    schema: pa.Schema, sort_keys: Sequence[str], dictionary_columns: Sequence[str]
) -> dict[str, object]:
    return {
        "compression": COMPRESSION,
        "compression_level": COMPRESSION_LEVEL,
        "use_dictionary": _dictionary_paths(schema, dictionary_columns) or False,
        "sorting_columns": [
            pq.SortingColumn(schema.get_field_index(key), descending=False, nulls_first=False)
            for key in sort_keys
        ],
    }


@contextmanager
def atomic_writer(
    path: str | Path,
    schema: pa.Schema,
    *,
    sort_keys: Sequence[str] = (),
    dictionary_columns: Sequence[str] = (),
    metadata: Mapping[str, str] | None = None,
    expected_rows: int | None = None,
) -> Iterator[pq.ParquetWriter]:
    """Stream row groups into ``path``, published atomically when the block exits cleanly.

    For writers that do not hold the whole table in memory (compaction). Each
    ``write_table``/``write_batch`` call starts a new row group, so pass batches of about
    ``ROW_GROUP_ROWS`` rows, already in ``sort_keys`` order: the footer records that order and
    nothing here checks it. Before publishing, the footer is read back; with ``expected_rows``
    its row count must match. If the block raises, the temp file is removed and nothing is
    published.

    Raises:
        StorageError: the file could not be written or published.
    """
    final = Path(path)
    if final.suffix != ".parquet":
        raise StorageError(f"{final}: final data files must end in .parquet")
    if metadata:
        schema = schema.with_metadata(dict(metadata))
    try:
        make_dirs_durable(final.parent)
    except OSError as exc:
        raise StorageError(f"could not create the directory of {final}: {exc}") from exc
    temp = final.with_name(temp_name(final.name, uuid.uuid4().hex))
    try:
        with temp.open("xb") as handle:
            writer = pq.ParquetWriter(
                handle, schema, **_writer_options(schema, sort_keys, dictionary_columns)
            )
            try:
                yield writer
            finally:
                writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        written = pq.read_metadata(temp).num_rows
        if expected_rows is not None and written != expected_rows:
            raise StorageError(f"{final}: wrote {expected_rows} rows but the footer says {written}")
        temp.replace(final)
        _fsync_dir(final.parent)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError | pa.ArrowException):
            raise StorageError(f"could not write {final}: {exc}") from exc
        raise


def write_table_atomic(
    table: pa.Table,
    path: str | Path,
    *,
    filesystem: pafs.FileSystem | None = None,
    sort_keys: Sequence[str] = (),
    dictionary_columns: Sequence[str] = (),
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Sort ``table`` and publish it at ``path`` atomically; return the file size in bytes.

    Raises:
        StorageError: not a local filesystem, or the file could not be written, verified or
            published.
    """
    if filesystem is not None and filesystem.type_name != "local":
        raise StorageError(
            f"cannot publish {path} atomically on a {filesystem.type_name!r} filesystem: "
            f"only local paths are supported for now"
        )
    if sort_keys:
        table = table.sort_by([(key, "ascending", "at_end") for key in sort_keys])
    with atomic_writer(
        path,
        table.schema,
        sort_keys=sort_keys,
        dictionary_columns=dictionary_columns,
        metadata=metadata,
        expected_rows=table.num_rows,
    ) as writer:
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    return Path(path).stat().st_size


def sweep_temp_files(
    root: str | Path, older_than_seconds: float, *, now: float | None = None
) -> list[Path]:
    """Delete leftover ``.<name>.<uuid>.tmp`` files under ``root`` older than the given age.

    The age guard keeps files of a writer that is still running (``now`` defaults to the
    current time; mtime is compared). Returns the deleted paths.
    """
    cutoff = (time.time() if now is None else now) - older_than_seconds
    removed: list[Path] = []
    for directory, _, names in os.walk(root):
        for name in names:
            if not is_temp_name(name):
                continue
            candidate = Path(directory) / name
            try:
                stale = candidate.stat().st_mtime < cutoff
            except FileNotFoundError:  # its writer just published or removed it
                continue
            if stale:
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
    return sorted(removed)
