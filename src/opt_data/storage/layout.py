"""Where every file of the lake lives: pure path math, no I/O.

Layout (one file per dataset, session date and underlying)::

    <root>/<zone>/<dataset>/date=YYYY-MM-DD/underlying=<SYM>/part-0.parquet

The file name is fixed, so writing the same (dataset, date, underlying) again *replaces* the
file instead of adding a second one: a rerun never duplicates rows. Temporary files are
``.<final-name>.<32 hex>.tmp`` in the same directory: they never end in ``.parquet``, so
neither pyarrow (which skips dot-files) nor DuckDB's ``**/*.parquet`` glob ever reads one
(research §2.6).

Underlying directory names use the user's symbol (``BRK.B``). IB's spelling with a space
(``BRK B``) and the slash form (``BRK/B``) map to the same name, so whichever spelling reaches
the writer, one company has one partition. Anything else outside ``A–Z 0–9 . -`` is refused.

Paths are ``/``-joined strings: the same math serves a local root and an object-store root
(``s3://bucket/lake``) once the writer resolves the root with ``pyarrow.fs``.
"""

from __future__ import annotations

import datetime as dt
import re

from opt_data.errors import ConfigError
from opt_data.schema import DatasetSpec

FILE_NAME = "part-0.parquet"
TEMP_SUFFIX = ".tmp"

_SYMBOL = re.compile(r"[A-Z0-9](?:[A-Z0-9.\-]{0,14}[A-Z0-9])?")
_TEMP = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")


def underlying_dir_name(symbol: str) -> str:
    """The canonical partition value of an underlying symbol (``BRK B`` → ``BRK.B``).

    Raises:
        ConfigError: the symbol cannot be a safe directory name.
    """
    canonical = re.sub(r"[ /]", ".", symbol.strip().upper())
    if not _SYMBOL.fullmatch(canonical) or ".." in canonical:
        raise ConfigError(
            f"underlying symbol {symbol!r} cannot name a partition: use letters, digits, "
            f"'.' or '-' (for example BRK.B), at most 16 characters"
        )
    return canonical


def _check_date(date: dt.date) -> str:
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise TypeError(f"partition date must be a datetime.date, got {date!r}")
    return date.isoformat()


def dataset_dir(root: str, spec: DatasetSpec) -> str:
    """``<root>/<zone>/<dataset>``: the directory a dataset scan starts from."""
    return f"{root.rstrip('/')}/{spec.zone}/{spec.name}"


def partition_dir(root: str, spec: DatasetSpec, date: dt.date, underlying: str) -> str:
    """``<root>/<zone>/<dataset>/date=YYYY-MM-DD/underlying=<SYM>``."""
    return (
        f"{dataset_dir(root, spec)}/date={_check_date(date)}"
        f"/underlying={underlying_dir_name(underlying)}"
    )


def partition_file(root: str, spec: DatasetSpec, date: dt.date, underlying: str) -> str:
    """The one data file of a partition (deterministic, so a rewrite replaces it)."""
    return f"{partition_dir(root, spec, date, underlying)}/{FILE_NAME}"


def temp_name(final_name: str, token: str) -> str:
    """``.<final_name>.<token>.tmp``; ``token`` is a uuid4 hex (32 lowercase hex digits)."""
    if not re.fullmatch(r"[0-9a-f]{32}", token) or "/" in final_name:
        raise ValueError(f"bad temp name parts: {final_name!r}, {token!r}")
    return f".{final_name}.{token}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    """True for names made by ``temp_name`` (what ``sweep_temp_files`` may delete)."""
    return _TEMP.fullmatch(name) is not None


def duckdb_source(root: str, spec: DatasetSpec) -> str:
    """A DuckDB table expression reading the whole dataset with typed partition columns.

    ``hive_types`` pins ``date`` to DATE and ``underlying`` to VARCHAR, so DuckDB never
    guesses a type from the directory names.
    """
    pattern = f"{dataset_dir(root, spec)}/**/*.parquet".replace("'", "''")
    return (
        f"read_parquet('{pattern}', hive_partitioning = true, "
        f"hive_types = {{'date': 'DATE', 'underlying': 'VARCHAR'}})"
    )
