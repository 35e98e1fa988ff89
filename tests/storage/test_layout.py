"""Pure path math of the lake: partition directories, file names, symbols, temp names."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opt_data.errors import ConfigError
from opt_data.schema import OPTION_QUOTES, OPTIONS
from opt_data.storage.layout import (
    FILE_NAME,
    dataset_dir,
    duckdb_source,
    is_temp_name,
    partition_dir,
    partition_file,
    temp_name,
    underlying_dir_name,
)

DAY = dt.date(2026, 3, 2)


def test_partition_dir_is_zone_dataset_date_underlying() -> None:
    """<root>/<zone>/<dataset>/date=YYYY-MM-DD/underlying=<SYM>, with a trailing slash ignored."""
    assert partition_dir("data/", OPTIONS, DAY, "AAPL") == (
        "data/clean/options/date=2026-03-02/underlying=AAPL"
    )
    assert partition_dir("/lake", OPTION_QUOTES, DAY, "AAPL") == (
        "/lake/raw/option_quotes/date=2026-03-02/underlying=AAPL"
    )
    assert dataset_dir("s3://bucket/lake", OPTIONS) == "s3://bucket/lake/clean/options"


def test_file_name_is_deterministic() -> None:
    """The same key always gives the same file, so a rewrite replaces instead of duplicating."""
    first = partition_file("data", OPTIONS, DAY, "MSFT")
    assert first == partition_file("data", OPTIONS, DAY, "MSFT")
    assert first.endswith(f"/underlying=MSFT/{FILE_NAME}")


@pytest.mark.parametrize("spelling", ["BRK.B", "BRK B", "BRK/B", "brk.b", " BRK.B "])
def test_every_spelling_of_a_class_share_names_one_directory(spelling: str) -> None:
    """IB's "BRK B", the slash form and the user's "BRK.B" all land in underlying=BRK.B."""
    assert underlying_dir_name(spelling) == "BRK.B"
    assert partition_dir("d", OPTIONS, DAY, spelling).endswith("/underlying=BRK.B")


@pytest.mark.parametrize(
    "symbol", ["", " ", "A=B", "../ETC", "A..B", ".A", "A.", "A%2F", "ÄPPL", "A" * 17, "A\nB"]
)
def test_unsafe_symbols_are_refused(symbol: str) -> None:
    """Anything that could escape or confuse the hive path is a config error."""
    with pytest.raises(ConfigError, match="cannot name a partition"):
        underlying_dir_name(symbol)


@given(st.text(max_size=20))
def test_any_accepted_symbol_is_one_plain_path_segment(symbol: str) -> None:
    """Whatever is accepted is a single safe segment: no separators, '=', '%' or dot-prefix."""
    try:
        name = underlying_dir_name(symbol)
    except ConfigError:
        return
    assert name and not name.startswith(".")
    assert not set(name) & set("/\\=% \t\n")
    assert underlying_dir_name(name) == name


def test_a_datetime_is_not_a_partition_date() -> None:
    """Partition dates are session dates; a datetime is refused."""
    with pytest.raises(TypeError):
        partition_dir("d", OPTIONS, dt.datetime(2026, 3, 2, 21), "AAPL")


def test_temp_names_never_look_like_parquet() -> None:
    """.<name>.<uuid>.tmp: a dot-file that DuckDB's *.parquet glob cannot match."""
    token = uuid.uuid4().hex
    name = temp_name(FILE_NAME, token)
    assert name == f".part-0.parquet.{token}.tmp"
    assert not name.endswith(".parquet")
    assert is_temp_name(name)
    assert not is_temp_name(FILE_NAME)
    assert not is_temp_name(".part-0.parquet.tmp")
    with pytest.raises(ValueError):
        temp_name(FILE_NAME, "not-a-uuid")


def test_duckdb_source_pins_partition_types_and_quotes_the_path() -> None:
    """The DuckDB expression names hive_types and escapes quotes in the root."""
    source = duckdb_source("/it's/lake", OPTIONS)
    assert source.startswith("read_parquet('/it''s/lake/clean/options/**/*.parquet'")
    assert "'date': 'DATE'" in source
    assert "'underlying': 'VARCHAR'" in source
