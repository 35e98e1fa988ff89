"""The universe file: the shipped S&P 500 list, row validation, symbols and the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from opt_data.errors import ConfigError
from opt_data.universe import (
    Constituent,
    Constituents,
    Underlying,
    diff_universe,
    load_universe,
    normalize_symbol,
    parse_symbols,
    pitindex_constituents,
    read_constituents,
    render_universe_csv,
    select,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "config" / "universe.csv"
HEADER = "symbol,name,sector,ib_symbol\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_universe_is_the_sp500_with_ib_symbols() -> None:
    """About 503 rows; BRK.B and BF.B carry IB's spelling; others default to the symbol."""
    universe = load_universe(SHIPPED)
    assert 495 <= len(universe) <= 510
    by_symbol = {u.symbol: u for u in universe}
    assert by_symbol["BRK.B"].ib_symbol == "BRK B"
    assert by_symbol["BF.B"].ib_symbol == "BF B"
    assert by_symbol["AAPL"].ib_symbol == "AAPL"
    assert by_symbol["AAPL"].sector == "Information Technology"
    assert [u.symbol for u in universe if u.ib_symbol != u.symbol] == ["BF.B", "BRK.B"]


def test_shipped_universe_matches_the_pinned_pitindex_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """config/universe.csv was built from the pitindex version pyproject.toml pins."""
    monkeypatch.setenv("PITINDEX_CACHE_DIR", str(tmp_path))  # ignore a refreshed user cache
    reference = pitindex_constituents()
    assert reference.as_of is not None
    assert reference.source.startswith("pitindex ")
    assert diff_universe(load_universe(SHIPPED), reference).equal
    assert render_universe_csv(reference.members) == SHIPPED.read_text(encoding="utf-8")


def test_rows_are_frozen_records() -> None:
    """Records cannot be changed after loading."""
    row = Underlying("AAPL")
    with pytest.raises(AttributeError):
        row.symbol = "MSFT"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEADER + "AAPL,Apple,IT,\naapl,Apple,IT,\n", ["u.csv:3", "'aapl'", "not a ticker"]),
        (HEADER + "AAPL,Apple,IT,\nAAPL,Apple,IT,\n", ["u.csv:3", "listed twice", "line 2"]),
        (HEADER + "BRK.B,Berkshire,Fin,BRK.B.X\n", ["u.csv:2", "'BRK.B.X'", "ib_symbol"]),
        (HEADER + "AAPL,Apple\n", ["u.csv:2", "expected 4 columns", "got 2"]),
        ("ticker,name\nAAPL,Apple\n", ["u.csv:1", "header must be symbol,name,sector,ib_symbol"]),
        ("", ["u.csv:1", "an empty file"]),
        (HEADER, ["u.csv", "empty"]),
        (HEADER + ",Nameless,IT,\n", ["u.csv:2", "''"]),
    ],
)
def test_bad_rows_are_refused_naming_file_line_and_value(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    """A bad row is a ConfigError with file:line and the offending value."""
    path = write(tmp_path / "u.csv", text)
    with pytest.raises(ConfigError) as exc:
        load_universe(path)
    for part in expected:
        assert part in str(exc.value)


def test_missing_universe_file_is_a_config_error(tmp_path: Path) -> None:
    """The message names the file and the key that points to it."""
    with pytest.raises(ConfigError, match=r"nope.csv not found \(paths.universe\)"):
        load_universe(tmp_path / "nope.csv")


def test_blank_lines_and_quoted_names_are_fine(tmp_path: Path) -> None:
    """Quoted names with commas load; blank lines are skipped; ib_symbol == symbol is dropped."""
    path = write(tmp_path / "u.csv", HEADER + '\nA,"Agilent, Inc.",Health Care,A\n\n')
    (row,) = load_universe(path)
    assert row == Underlying("A", "Agilent, Inc.", "Health Care", "")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("brk-b", "BRK.B"),
        ("BRK/B", "BRK.B"),
        ("BRK B", "BRK.B"),
        (" aapl ", "AAPL"),
        ("BF.B", "BF.B"),
    ],
)
def test_share_classes_are_normalized_to_a_dot(raw: str, normal: str) -> None:
    """Every common spelling of a share class compares equal."""
    assert normalize_symbol(raw) == normal


def test_parse_symbols_upper_cases_dedups_and_refuses_junk() -> None:
    """``--symbols`` text to a tuple; nothing or a bad ticker is refused."""
    assert parse_symbols("aapl, MSFT,,aapl,brk-b") == ("AAPL", "MSFT", "BRK.B")
    with pytest.raises(ConfigError, match="at least one symbol"):
        parse_symbols(" , ")
    with pytest.raises(ConfigError, match=r"--symbols: 'AA\$' is not a ticker"):
        parse_symbols("AAPL,AA$")


def test_select_resolves_both_spellings_and_suggests_on_a_miss() -> None:
    """Rows for the symbols asked for; an unknown one names its closest neighbour."""
    universe = (Underlying("AAPL"), Underlying("BRK.B", ib_symbol_override="BRK B"))
    assert select(universe, ["BRK B", "aapl"]) == (universe[1], universe[0])
    with pytest.raises(ConfigError, match=r"AAPX is not in the universe.*did you mean AAPL"):
        select(universe, ["AAPX"])


def test_diff_lists_added_and_removed_sorted() -> None:
    """added = in the reference only; removed = in the universe only."""
    universe = (Underlying("AAPL"), Underlying("OLD"), Underlying("MSFT"))
    ref = Constituents(
        (Constituent("NEW", "New Co"), Constituent("MSFT"), Constituent("AAPL")), "x"
    )
    diff = diff_universe(universe, ref)
    assert [c.symbol for c in diff.added] == ["NEW"]
    assert [u.symbol for u in diff.removed] == ["OLD"]
    assert not diff.equal


@pytest.mark.parametrize(
    "text",
    [
        "Symbol,Security,GICS Sector\nAAPL,Apple,IT\nBRK-B,Berkshire,Fin\n",
        "date,ticker,name\n2026-01-01,AAPL,Apple\n2026-01-01,BRK.B,Berkshire\n",
        "# my list\nAAPL\n\nbrk b\n",
    ],
)
def test_reference_lists_in_common_shapes(tmp_path: Path, text: str) -> None:
    """CSV with a symbol or ticker column, or one symbol per line."""
    ref = read_constituents(write(tmp_path / "ref.csv", text))
    assert [c.symbol for c in ref.members] == ["AAPL", "BRK.B"]


def test_reference_with_a_bad_symbol_names_its_line(tmp_path: Path) -> None:
    """A junk line in --source is refused with file:line."""
    with pytest.raises(ConfigError, match=r"ref.txt:2: 'NOT A TICKER!'"):
        read_constituents(write(tmp_path / "ref.txt", "AAPL\nNOT A TICKER!\n"))


def test_rendered_universe_loads_back(tmp_path: Path) -> None:
    """render_universe_csv writes a file load_universe accepts, ib_symbol filled where needed."""
    members = [
        Constituent("BRK.B", "Berkshire, Hathaway", "Financials"),
        Constituent("A", "Agilent"),
    ]
    path = write(tmp_path / "u.csv", render_universe_csv(members))
    rows = load_universe(path)
    assert [(r.symbol, r.ib_symbol, r.name) for r in rows] == [
        ("A", "A", "Agilent"),
        ("BRK.B", "BRK B", "Berkshire, Hathaway"),
    ]
