"""The Parquet lake: path layout, atomic file publishing, partition writes and reads.

``layout`` is pure path math, ``atomic`` the only code that creates final ``.parquet`` files,
``writer`` the partition-level API the jobs use.
"""

from __future__ import annotations

from opt_data.storage.atomic import sweep_temp_files
from opt_data.storage.layout import partition_dir, partition_file, underlying_dir_name
from opt_data.storage.writer import PartitionWriter, WriteResult, read_dataset

__all__ = [
    "PartitionWriter",
    "WriteResult",
    "partition_dir",
    "partition_file",
    "read_dataset",
    "sweep_temp_files",
    "underlying_dir_name",
]
