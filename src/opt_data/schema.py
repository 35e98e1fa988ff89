"""The declared Arrow schema of every dataset in the lake, and coercion to it.

Every dataset is Hive-partitioned by ``date=YYYY-MM-DD/underlying=SYM`` (``PARTITION_SCHEMA``:
``date`` date32, ``underlying`` string). The partition columns live **only in the path**, never
inside the files: ``read_dataset`` (pyarrow, with the explicit partitioning below) and DuckDB
(``hive_partitioning=true``) add them back as ``date DATE`` and ``underlying VARCHAR``. Keeping
them out of the files avoids two sources of truth that could disagree; the clean dataset's own
``quote_date`` / ``underlying_symbol`` columns are separate names, and the writer checks that
they equal the partition they are written to.

Schemas are declared here and never inferred. ``coerce`` turns a table or a list of row dicts
into exactly the declared schema, or raises ``StorageError`` naming the column that does not
fit. The column-by-column documentation is ``docs/data.md``; a test locks names, types and
nullability, so changing a schema here means changing that test and the docs together.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from opt_data.errors import StorageError

Zone = Literal["raw", "clean"]

PARTITION_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("underlying", pa.string(), nullable=False),
    ]
)

# IB sends an unset double as DBL_MAX; clean data must carry NULL instead.
IB_UNSET_DOUBLE = sys.float_info.max

# Reason codes allowed in clean ``qa_flags`` (docs/data.md explains each one).
QA_FLAGS: frozenset[str] = frozenset(
    {
        "no_bid",
        "no_ask",
        "zero_bid",
        "crossed",
        "locked",
        "iv_missing",
        "greeks_missing",
        "oi_missing",
        "underlying_missing",
        "timeout",
        "ib_error",
        "nonstandard",
        "half_day",
    }
)

TS = pa.timestamp("us", tz="UTC")
F64 = pa.float64()
STR = pa.string()
STR_LIST = pa.list_(pa.string())


def _req(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, nullable=False)


def _opt(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, nullable=True)


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """One dataset: where it lives, its declared schema and how its files are written.

    Attributes:
        name: directory name under the zone (``data/<zone>/<name>/``).
        zone: ``raw`` (what IB returned) or ``clean`` (one row per contract per date).
        schema: the file schema (partition columns excluded).
        sort_keys: rows are sorted by these columns (ascending, nulls last) in every file.
        dictionary_columns: the only columns written with dictionary encoding (low cardinality;
            dictionary on high-cardinality floats makes files larger, research §2.2).
        allowed_values: closed vocabularies checked by ``coerce`` (e.g. right ∈ {C, P}).
        finite_floats: refuse NaN, ±inf and IB's DBL_MAX in float columns (clean data: a
            missing value is NULL, never a sentinel).
        date_column / underlying_column: file columns that repeat the partition's date /
            underlying; the writer refuses rows whose values differ from the partition.
        version: schema version, stored in each file's metadata.
    """

    name: str
    zone: Zone
    schema: pa.Schema
    sort_keys: tuple[str, ...]
    dictionary_columns: tuple[str, ...]
    allowed_values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    finite_floats: bool = False
    date_column: str | None = None
    underlying_column: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        names = set(self.schema.names)
        clash = names & set(PARTITION_SCHEMA.names)
        mirrors = {c for c in (self.date_column, self.underlying_column) if c is not None}
        used = set(self.sort_keys) | set(self.dictionary_columns) | set(self.allowed_values)
        unknown = (used | mirrors) - names
        if clash or unknown or len(names) != len(self.schema.names):
            raise ValueError(
                f"bad spec {self.name}: partition columns in schema {sorted(clash)}, "
                f"unknown columns {sorted(unknown)}, or duplicate names"
            )

    @property
    def full_schema(self) -> pa.Schema:
        """File schema plus the partition columns: what a dataset scan returns."""
        return pa.schema(list(self.schema) + list(PARTITION_SCHEMA))


def partitioning() -> ds.Partitioning:
    """The explicit Hive partitioning of every dataset (never inferred: research §2.7)."""
    return ds.partitioning(PARTITION_SCHEMA, flavor="hive")


_GREEK_SOURCES = ("bid", "ask", "last", "model")
_GREEK_FIELDS = ("iv", "delta", "gamma", "vega", "theta", "opt_price", "pv_dividend", "und_price")

CHAINS = DatasetSpec(
    name="chains",
    zone="raw",
    schema=pa.schema(
        [
            _req("con_id", pa.int64()),
            _req("symbol", STR),
            _req("sec_type", STR),
            _req("local_symbol", STR),
            _req("trading_class", STR),
            _req("exchange", STR),
            _req("currency", STR),
            _req("multiplier", pa.int32()),
            _req("expiration", pa.date32()),
            _req("strike", F64),
            _req("right", STR),
            _req("nonstandard", pa.bool_()),
            _req("discovered_at", TS),
            _req("run_id", STR),
        ]
    ),
    sort_keys=("expiration", "strike", "right", "trading_class", "con_id"),
    dictionary_columns=(
        "symbol",
        "sec_type",
        "trading_class",
        "exchange",
        "currency",
        "multiplier",
        "expiration",
        "strike",
        "right",
        "run_id",
    ),
    allowed_values={"right": frozenset({"C", "P"})},
)

OPTION_QUOTES = DatasetSpec(
    name="option_quotes",
    zone="raw",
    schema=pa.schema(
        [
            _req("con_id", pa.int64()),
            _req("received_at", TS),
            _opt("market_data_type", pa.int8()),
            *(_opt(name, F64) for name in ("bid", "ask", "last", "close", "open", "high", "low")),
            *(_opt(name, F64) for name in ("bid_size", "ask_size", "last_size", "volume")),
            _opt("call_open_interest", F64),
            _opt("put_open_interest", F64),
            *(_opt(f"{src}_{name}", F64) for src in _GREEK_SOURCES for name in _GREEK_FIELDS),
            _req("complete", pa.bool_()),
            _req("errors", STR_LIST),
            _req("run_id", STR),
        ]
    ),
    sort_keys=("con_id", "received_at"),
    dictionary_columns=("market_data_type", "bid", "ask", "last", "close", "errors", "run_id"),
)

UNDERLYING_QUOTES = DatasetSpec(
    name="underlying_quotes",
    zone="raw",
    schema=pa.schema(
        [
            _req("con_id", pa.int64()),
            _req("symbol", STR),
            _req("received_at", TS),
            _opt("market_data_type", pa.int8()),
            *(
                _opt(name, F64)
                for name in (
                    "bid",
                    "ask",
                    "last",
                    "close",
                    "open",
                    "high",
                    "low",
                    "volume",
                    "hist_vol",
                    "implied_vol",
                )
            ),
            _req("run_id", STR),
        ]
    ),
    sort_keys=("con_id", "received_at"),
    dictionary_columns=("symbol", "market_data_type", "run_id"),
)

BARS = DatasetSpec(
    name="bars",
    zone="raw",
    schema=pa.schema(
        [
            _req("con_id", pa.int64()),
            _req("bar_start", TS),
            _req("bar_size", STR),
            _req("what_to_show", STR),
            *(_opt(name, F64) for name in ("open", "high", "low", "close", "volume", "wap")),
            _opt("count", pa.int64()),
            _req("run_id", STR),
        ]
    ),
    sort_keys=("con_id", "bar_size", "what_to_show", "bar_start"),
    dictionary_columns=("bar_size", "what_to_show", "run_id"),
)

OPTIONS = DatasetSpec(
    name="options",
    zone="clean",
    schema=pa.schema(
        [
            _req("quote_date", pa.date32()),
            _req("underlying_symbol", STR),
            _req("root", STR),
            _req("occ_symbol", STR),
            _req("con_id", pa.int64()),
            _req("expiration", pa.date32()),
            _req("strike", F64),
            _req("option_type", STR),
            _req("multiplier", pa.int32()),
            _req("nonstandard", pa.bool_()),
            _opt("bid_eod", F64),
            _opt("ask_eod", F64),
            _opt("bid_size_eod", pa.int64()),
            _opt("ask_size_eod", pa.int64()),
            _opt("mid", F64),
            _opt("last", F64),
            _opt("prev_close", F64),
            _opt("trade_volume", pa.int64()),
            _opt("open_interest", pa.int64()),
            _opt("open_interest_asof", pa.date32()),
            *(
                _opt(name, F64)
                for name in ("implied_volatility", "delta", "gamma", "vega", "theta")
            ),
            _opt("model_price", F64),
            _opt("pv_dividend", F64),
            _opt("underlying_price", F64),
            _opt("underlying_bid", F64),
            _opt("underlying_ask", F64),
            _opt("underlying_last", F64),
            _opt("snapshot_ts", TS),
            _opt("market_data_type", pa.int8()),
            _req("source", STR),
            _req("run_id", STR),
            _req("qa_flags", STR_LIST),
        ]
    ),
    sort_keys=("expiration", "strike", "option_type", "root", "con_id"),
    dictionary_columns=(
        "quote_date",
        "underlying_symbol",
        "root",
        "expiration",
        "strike",
        "option_type",
        "multiplier",
        "bid_eod",
        "ask_eod",
        "last",
        "prev_close",
        "trade_volume",
        "open_interest",
        "open_interest_asof",
        "underlying_price",
        "underlying_bid",
        "underlying_ask",
        "underlying_last",
        "market_data_type",
        "source",
        "run_id",
        "qa_flags",
    ),
    allowed_values={
        "option_type": frozenset({"C", "P"}),
        "source": frozenset({"snapshot", "historical"}),
        "qa_flags": QA_FLAGS,
    },
    finite_floats=True,
    date_column="quote_date",
    underlying_column="underlying_symbol",
)

DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {spec.name: spec for spec in (CHAINS, OPTION_QUOTES, UNDERLYING_QUOTES, BARS, OPTIONS)}
)


# ---------------------------------------------------------------------------------------------
# Coercion


def _family(type_: pa.DataType) -> str:
    """Which types may be cast into each other without changing what a value means."""
    if pa.types.is_dictionary(type_):
        return _family(type_.value_type)
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return f"list<{_family(type_.value_type)}>"
    checks = (
        (pa.types.is_null, "null"),
        (pa.types.is_boolean, "bool"),
        (pa.types.is_integer, "number"),
        (pa.types.is_floating, "number"),
        (pa.types.is_decimal, "number"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
    )
    for check, name in checks:
        if check(type_):
            return name
    return str(type_)


def _cast_column(column: pa.ChunkedArray, target: pa.Field, spec: DatasetSpec) -> pa.ChunkedArray:
    source = column.type
    where = f"{spec.zone}/{spec.name} column {target.name!r}"
    if source == target.type:
        return column
    src_family, dst_family = _family(source), _family(target.type)
    # All-null values (including empty lists, list<null>) fit any type.
    if src_family not in ("null", "list<null>") and src_family != dst_family:
        raise StorageError(f"{where}: cannot store {source} as {target.type}")
    # A safe cast already refuses fractions; NaN would otherwise fail with a vague message.
    float_to_int = pa.types.is_floating(source) and pa.types.is_integer(target.type)
    if float_to_int and pc.any(pc.is_nan(column)).as_py():
        raise StorageError(f"{where}: NaN cannot be stored as {target.type}; use NULL")
    if pa.types.is_timestamp(source) and source.tz is None:
        raise StorageError(f"{where}: timestamps need a time zone (UTC); got naive {source}")
    try:
        return pc.cast(column, target.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StorageError(f"{where}: cannot store {source} as {target.type}: {exc}") from exc


def _check_values(table: pa.Table, spec: DatasetSpec) -> None:
    for target in spec.schema:
        column = table.column(target.name)
        where = f"{spec.zone}/{spec.name} column {target.name!r}"
        if not target.nullable and column.null_count:
            raise StorageError(f"{where} is required but has {column.null_count} null value(s)")
        if spec.finite_floats and pa.types.is_floating(target.type):
            bad = pc.invert(pc.is_finite(column))
            huge = pc.greater_equal(pc.abs(column), IB_UNSET_DOUBLE)
            count = pc.sum(pc.or_(bad, huge)).as_py() or 0
            if count:
                raise StorageError(
                    f"{where} has {count} NaN/inf/DBL_MAX value(s); missing values must be NULL"
                )
        allowed = spec.allowed_values.get(target.name)
        if allowed is not None:
            values = pc.list_flatten(column) if pa.types.is_list(target.type) else column
            seen = {value for value in pc.unique(values).to_pylist() if value is not None}
            if not seen <= allowed:
                raise StorageError(
                    f"{where} has value(s) {sorted(seen - allowed)}; allowed: {sorted(allowed)}"
                )


def _from_rows(rows: Sequence[Mapping[str, Any]], spec: DatasetSpec) -> pa.Table:
    names = set(spec.schema.names)
    for index, row in enumerate(rows):
        extra = set(row) - names
        if extra:
            raise StorageError(
                f"{spec.zone}/{spec.name}: row {index} has unknown column(s) {sorted(extra)}"
            )
    columns = []
    for target in spec.schema:
        values = [row.get(target.name) for row in rows]
        # Let Arrow infer the values' own type, then cast with the same checks as a table:
        # pa.array(values, type=...) would silently truncate 1.5 to an int, a datetime to a
        # date, or read a naive datetime as UTC.
        try:
            inferred = pa.chunked_array([pa.array(values)])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise StorageError(
                f"{spec.zone}/{spec.name} column {target.name!r}: values do not fit "
                f"{target.type}: {exc}"
            ) from exc
        columns.append(_cast_column(inferred, target, spec))
    return pa.Table.from_arrays(columns, schema=spec.schema)


def coerce(data: pa.Table | Sequence[Mapping[str, Any]], spec: DatasetSpec) -> pa.Table:
    """Return ``data`` as a table with exactly ``spec.schema``, or raise ``StorageError``.

    Accepts a ``pyarrow.Table`` or a list of row dicts (missing keys are NULL). Columns are
    reordered and cast only within a family that keeps the meaning (int ↔ float without loss,
    string ↔ large string or dictionary, timestamp unit/zone changes without loss). Refused,
    with the column named: missing or unknown columns, lossy or cross-family casts, naive
    timestamps, nulls in required columns, values outside ``allowed_values``, and (clean
    zone) NaN/inf/DBL_MAX floats.
    """
    if isinstance(data, pa.Table):
        table = data
        missing = [name for name in spec.schema.names if name not in table.column_names]
        extra = [name for name in table.column_names if name not in spec.schema.names]
        if missing or extra or len(set(table.column_names)) != table.num_columns:
            raise StorageError(
                f"{spec.zone}/{spec.name}: table does not match the schema: "
                f"missing {missing}, unknown {extra}, or duplicate column names"
            )
        columns = [_cast_column(table.column(f.name), f, spec) for f in spec.schema]
        table = pa.Table.from_arrays(columns, schema=spec.schema)
    else:
        table = _from_rows(data, spec)
    _check_values(table, spec)
    return table
