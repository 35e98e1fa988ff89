"""Writing one partition of a dataset, and reading a dataset back with its declared types.

``PartitionWriter.write`` coerces rows to the dataset's declared schema, checks that they
belong to the partition they are written to, and publishes
``<root>/<zone>/<dataset>/date=…/underlying=…/part-0.parquet`` atomically. Writing the same
(dataset, date, underlying) again replaces that file: the partition then holds exactly the
last write, never a mix and never a duplicate.

The root is resolved with ``pyarrow.fs`` (a local path, or any URI ``FileSystem.from_uri``
understands), so reading already works on any filesystem and only the atomic publish step is
local-only today (see ``storage.atomic``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from opt_data.errors import StorageError
from opt_data.schema import DatasetSpec, coerce, partitioning
from opt_data.storage.atomic import write_table_atomic
from opt_data.storage.layout import dataset_dir, partition_file, underlying_dir_name


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one partition write published."""

    path: str
    rows: int
    bytes: int


def resolve_root(root: str | Path) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, base path)`` for a data root: a local path or a filesystem URI."""
    text = str(root)
    if "://" in text:
        filesystem, base = pafs.FileSystem.from_uri(text)
        return filesystem, base.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(text).absolute())


def _check_partition(table: pa.Table, spec: DatasetSpec, date: dt.date, symbol: str) -> None:
    # Clean rows repeat their partition in columns; a row filed under the wrong date or
    # underlying would silently be read back twice or under the wrong key.
    for column, expected in ((spec.date_column, date), (spec.underlying_column, symbol)):
        if column is None or table.num_rows == 0:
            continue
        values = set(pc.unique(table.column(column)).to_pylist())
        if values != {expected}:
            wrong = sorted(str(v) for v in values - {expected})
            raise StorageError(
                f"{spec.zone}/{spec.name}: column {column!r} holds {wrong} but the rows are "
                f"being written to the partition {expected}"
            )


class PartitionWriter:
    """Publishes whole partitions under one data root."""

    def __init__(self, root: str | Path) -> None:
        self._filesystem, self._base = resolve_root(root)

    @property
    def base(self) -> str:
        """The resolved root path on its filesystem."""
        return self._base

    def write(
        self,
        spec: DatasetSpec,
        date: dt.date,
        underlying: str,
        data: pa.Table | Sequence[Mapping[str, Any]],
        *,
        allow_empty: bool = False,
    ) -> WriteResult:
        """Replace the partition (spec, date, underlying) with exactly ``data``.

        Args:
            spec: the dataset.
            date: the session date (the partition's ``date``).
            underlying: the underlying symbol; ``BRK B`` and ``BRK.B`` name one partition.
            data: a table or row dicts, coerced to ``spec.schema``.
            allow_empty: an empty write replaces the partition with an empty file. Refused by
                default, because a request that came back empty (an outage, a permission
                problem) would otherwise wipe rows collected earlier.

        Raises:
            StorageError: the rows do not fit the schema or the partition, or the file could
                not be published.
            ConfigError: the symbol cannot name a partition.
        """
        symbol = underlying_dir_name(underlying)
        table = coerce(data, spec)
        path = partition_file(self._base, spec, date, symbol)
        if table.num_rows == 0 and not allow_empty:
            raise StorageError(
                f"refusing to replace {path} with 0 rows; pass allow_empty=True to empty it"
            )
        _check_partition(table, spec, date, symbol)
        size = write_table_atomic(
            table,
            path,
            filesystem=self._filesystem,
            sort_keys=spec.sort_keys,
            dictionary_columns=spec.dictionary_columns,
            metadata={
                "opt_data.dataset": f"{spec.zone}/{spec.name}",
                "opt_data.schema_version": str(spec.version),
            },
        )
        return WriteResult(path=path, rows=table.num_rows, bytes=size)


def read_dataset(root: str | Path, spec: DatasetSpec) -> ds.Dataset:
    """The whole dataset under ``root`` with declared types, partition columns included.

    Columns: ``spec.schema`` followed by ``date`` (date32) and ``underlying`` (string).
    Temp files (dot-files) are ignored. A dataset with no files yet is empty, not an error.
    """
    filesystem, base = resolve_root(root)
    directory = dataset_dir(base, spec)
    if filesystem.get_file_info(directory).type == pafs.FileType.NotFound:
        return ds.dataset([], schema=spec.full_schema, format="parquet")
    return ds.dataset(
        directory,
        schema=spec.full_schema,
        format="parquet",
        partitioning=partitioning(),
        filesystem=filesystem,
    )
