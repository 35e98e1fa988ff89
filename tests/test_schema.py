"""The declared schemas (locked here) and coercion to them."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from opt_data.errors import StorageError
from opt_data.schema import (
    BARS,
    CHAINS,
    DATASETS,
    OPTION_QUOTES,
    OPTIONS,
    PARTITION_SCHEMA,
    QA_FLAGS,
    UNDERLYING_QUOTES,
    DatasetSpec,
    coerce,
)

DOCS = Path(__file__).parents[1] / "docs" / "data.md"

# The lock: "name type" per column, "!" = required (not null), "?" = nullable.
GREEKS = "\n".join(
    f"{src}_{name} double ?"
    for src in ("bid", "ask", "last", "model")
    for name in ("iv", "delta", "gamma", "vega", "theta", "opt_price", "pv_dividend", "und_price")
)
LOCK = {
    "chains": """
        con_id int64 ! | symbol string ! | sec_type string ! | local_symbol string !
        trading_class string ! | exchange string ! | currency string ! | multiplier int32 !
        expiration date32[day] ! | strike double ! | right string ! | nonstandard bool !
        discovered_at timestamp[us, tz=UTC] ! | run_id string !""",
    "option_quotes": """
        con_id int64 ! | received_at timestamp[us, tz=UTC] ! | market_data_type int8 ?
        bid double ? | ask double ? | last double ? | close double ? | open double ?
        high double ? | low double ? | bid_size double ? | ask_size double ?
        last_size double ? | volume double ? | call_open_interest double ?
        put_open_interest double ?"""
    + "\n"
    + GREEKS.replace("\n", " | ")
    + """
        complete bool ! | errors list<item: string> ! | run_id string !""",
    "underlying_quotes": """
        con_id int64 ! | symbol string ! | received_at timestamp[us, tz=UTC] !
        market_data_type int8 ? | bid double ? | ask double ? | last double ? | close double ?
        open double ? | high double ? | low double ? | volume double ? | hist_vol double ?
        implied_vol double ? | run_id string !""",
    "bars": """
        con_id int64 ! | bar_start timestamp[us, tz=UTC] ! | bar_size string !
        what_to_show string ! | open double ? | high double ? | low double ? | close double ?
        volume double ? | wap double ? | count int64 ? | run_id string !""",
    "options": """
        quote_date date32[day] ! | underlying_symbol string ! | root string !
        occ_symbol string ! | con_id int64 ! | expiration date32[day] ! | strike double !
        option_type string ! | multiplier int32 ! | nonstandard bool ! | bid_eod double ?
        ask_eod double ? | bid_size_eod int64 ? | ask_size_eod int64 ? | mid double ?
        last double ? | prev_close double ? | trade_volume int64 ? | open_interest int64 ?
        open_interest_asof date32[day] ? | implied_volatility double ? | delta double ?
        gamma double ? | vega double ? | theta double ? | model_price double ?
        pv_dividend double ? | underlying_price double ? | underlying_bid double ?
        underlying_ask double ? | underlying_last double ?
        snapshot_ts timestamp[us, tz=UTC] ? | market_data_type int8 ? | source string !
        run_id string ! | qa_flags list<item: string> !""",
}


def parse_lock(text: str) -> list[tuple[str, str, bool]]:
    columns = []
    for item in text.replace("\n", "|").split("|"):
        item = item.strip()
        if item:
            name, rest = item.split(" ", 1)
            type_, flag = rest.rsplit(" ", 1)
            columns.append((name, type_, flag == "?"))
    return columns


UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 22, 0, 1, 250_000, tzinfo=UTC)


def option_row(**overrides: Any) -> dict[str, Any]:
    """A complete clean options row; overrides replace fields."""
    row: dict[str, Any] = {
        "quote_date": dt.date(2026, 3, 2),
        "underlying_symbol": "AAPL",
        "root": "AAPL",
        "occ_symbol": "AAPL  260320C00200000",
        "con_id": 7_000_000_001,
        "expiration": dt.date(2026, 3, 20),
        "strike": 200.0,
        "option_type": "C",
        "multiplier": 100,
        "nonstandard": False,
        "bid_eod": 5.1,
        "ask_eod": 5.3,
        "bid_size_eod": 12,
        "ask_size_eod": 7,
        "mid": 5.2,
        "trade_volume": 1_250,
        "open_interest": 20_000,
        "open_interest_asof": dt.date(2026, 2, 27),
        "implied_volatility": 0.27,
        "snapshot_ts": T0,
        "market_data_type": 2,
        "source": "snapshot",
        "run_id": "r1",
        "qa_flags": [],
    }
    row.update(overrides)
    return row


class TestDeclaredSchemas:
    @pytest.mark.parametrize("name", sorted(LOCK))
    def test_names_types_and_nullability_are_locked(self, name: str) -> None:
        """Each dataset's file schema is exactly the documented one (docs/data.md)."""
        schema = DATASETS[name].schema
        actual = [(f.name, str(f.type), f.nullable) for f in schema]
        assert actual == parse_lock(LOCK[name])

    def test_registry_zones_and_partition_schema(self) -> None:
        """Five datasets; partition columns are date (date32) and underlying (string)."""
        assert {(s.zone, s.name) for s in DATASETS.values()} == {
            ("raw", "chains"),
            ("raw", "option_quotes"),
            ("raw", "underlying_quotes"),
            ("raw", "bars"),
            ("clean", "options"),
        }
        assert [(f.name, str(f.type)) for f in PARTITION_SCHEMA] == [
            ("date", "date32[day]"),
            ("underlying", "string"),
        ]
        assert OPTIONS.full_schema.names[-2:] == ["date", "underlying"]

    def test_partition_columns_never_inside_a_file_schema(self) -> None:
        """A spec that puts date/underlying in the file schema is refused."""
        for spec in DATASETS.values():
            assert not set(spec.schema.names) & {"date", "underlying"}
        with pytest.raises(ValueError, match="partition columns"):
            DatasetSpec("x", "raw", pa.schema([("date", pa.date32())]), (), ())

    def test_sort_and_dictionary_columns_exist(self) -> None:
        """Every sort key / dictionary column names a real column (checked at definition)."""
        with pytest.raises(ValueError, match="unknown columns"):
            DatasetSpec("x", "raw", pa.schema([("a", pa.int64())]), ("b",), ())
        assert CHAINS.sort_keys[:3] == ("expiration", "strike", "right")


def documented_names(section: str) -> set[str]:
    """First cells of the markdown table rows in a section, split on commas, templates expanded."""
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith(("| column", "| code", "|---")):
            for cell in line.split("|")[1].split(","):
                for part in cell.split("/"):
                    name = part.strip()
                    srcs = ("bid", "ask", "last", "model") if "{src}" in name else ("",)
                    names.update(name.replace("{src}", src) for src in srcs)
    return names


class TestDocs:
    @pytest.mark.parametrize("name", sorted(DATASETS))
    def test_every_column_is_documented(self, name: str) -> None:
        """docs/data.md has a row for every column of every dataset."""
        spec = DATASETS[name]
        text = DOCS.read_text(encoding="utf-8")
        section = text.split(f"## {spec.zone}/{spec.name}", 1)[1].split("\n## ", 1)[0]
        assert set(spec.schema.names) <= documented_names(section)

    def test_qa_flag_table_matches_the_vocabulary(self) -> None:
        """The documented reason codes are exactly the ones the writer accepts."""
        text = DOCS.read_text(encoding="utf-8")
        section = text.split("### qa_flags", 1)[1].split("\n## ", 1)[0]
        assert documented_names(section) == QA_FLAGS


class TestCoerce:
    def test_rows_become_the_declared_schema(self) -> None:
        """Row dicts with plain Python values, missing optional keys → NULL."""
        table = coerce([option_row(), option_row(con_id=2, strike=210.0)], OPTIONS)
        assert table.schema == OPTIONS.schema
        assert table.num_rows == 2
        assert table.column("last").to_pylist() == [None, None]

    def test_table_is_reordered_and_cast_within_family(self) -> None:
        """Reordered columns, int strikes, large strings and New York timestamps are accepted."""
        ny = ZoneInfo("America/New_York")
        table = pa.table(
            {
                "run_id": pa.array(["r"], pa.large_string()),
                "bar_size": pa.array(["8 hours"]).dictionary_encode(),
                "what_to_show": ["TRADES"],
                "con_id": pa.array([5], pa.int32()),
                "bar_start": pa.array(
                    [dt.datetime(2026, 3, 2, 9, 30, tzinfo=ny)], pa.timestamp("s", tz=str(ny))
                ),
                "open": [1],
                "high": [2.5],
                "low": [None],
                "close": [2.0],
                "volume": [10],
                "wap": [1.7],
                "count": [3.0],
            }
        )
        out = coerce(table, BARS)
        assert out.schema == BARS.schema
        assert out.column("bar_start")[0].as_py() == dt.datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
        assert out.column("count").to_pylist() == [3]

    @pytest.mark.parametrize(
        ("override", "column", "message"),
        [
            ({"trade_volume": 1.5}, "trade_volume", "cannot store double as int64"),
            ({"strike": "200"}, "strike", "cannot store string as double"),
            ({"multiplier": 2**40}, "multiplier", "cannot store int64 as int32"),
            ({"snapshot_ts": dt.datetime(2026, 3, 2, 22)}, "snapshot_ts", "naive"),
            ({"root": None}, "root", "required but has 1 null"),
            ({"option_type": "X"}, "option_type", "value(s) ['X']"),
            ({"qa_flags": ["no_bid", "made_up"]}, "qa_flags", "value(s) ['made_up']"),
            ({"qa_flags": "no_bid"}, "qa_flags", "cannot store string as list"),
            ({"qa_flags": [1, 2]}, "qa_flags", "cannot store list<item: int64> as list"),
            ({"expiration": dt.datetime(2026, 3, 20, 15)}, "expiration", "cannot store timestamp"),
            ({"nonstandard": 0}, "nonstandard", "cannot store int64 as bool"),
            ({"bid_eod": float("nan")}, "bid_eod", "NaN/inf/DBL_MAX"),
            ({"ask_eod": sys.float_info.max}, "ask_eod", "NaN/inf/DBL_MAX"),
            ({"delta": float("-inf")}, "delta", "NaN/inf/DBL_MAX"),
            ({"open_interest": float("nan")}, "open_interest", "NaN cannot be stored"),
            ({"con_id": [1, 2]}, "con_id", "cannot store list<item: int64> as int64"),
        ],
    )
    def test_misfits_are_refused_naming_the_column(
        self, override: dict[str, Any], column: str, message: str
    ) -> None:
        """Anything that does not fit the declared type is refused, never truncated."""
        with pytest.raises(StorageError, match=re.escape(message)) as info:
            coerce([option_row(**override)], OPTIONS)
        assert repr(column) in str(info.value)

    def test_unknown_and_missing_columns_are_refused(self) -> None:
        """Extra keys in a row, or a table lacking a column, are errors."""
        with pytest.raises(StorageError, match=r"unknown column\(s\) \['bidd'\]"):
            coerce([option_row(bidd=1.0)], OPTIONS)
        table = coerce([option_row()], OPTIONS).drop_columns(["mid"])
        with pytest.raises(StorageError, match=r"missing \['mid'\]"):
            coerce(table, OPTIONS)

    def test_sub_microsecond_timestamps_are_refused(self) -> None:
        """A nanosecond timestamp that would lose digits is not silently truncated."""
        table = coerce([option_row()], OPTIONS)
        ns = pa.array([1_000_000_000_000_000_001], pa.timestamp("ns", tz="UTC"))
        table = table.set_column(table.schema.get_field_index("snapshot_ts"), "snapshot_ts", ns)
        with pytest.raises(StorageError, match=r"'snapshot_ts'.*would lose data"):
            coerce(table, OPTIONS)

    def test_raw_keeps_ib_sentinels_as_received(self) -> None:
        """Raw quotes keep −1 and DBL_MAX; only the clean zone insists on NULL."""
        row = {
            "con_id": 1,
            "received_at": T0,
            "bid": -1.0,
            "model_iv": sys.float_info.max,
            "complete": False,
            "errors": ["10167 delayed"],
            "run_id": "r",
        }
        table = coerce([row], OPTION_QUOTES)
        assert table.column("bid").to_pylist() == [-1.0]
        assert table.column("model_iv").to_pylist() == [sys.float_info.max]

    def test_empty_input_gives_an_empty_table_of_the_schema(self) -> None:
        """No rows is a valid, typed, empty table."""
        assert coerce([], UNDERLYING_QUOTES).schema == UNDERLYING_QUOTES.schema
