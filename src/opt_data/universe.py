"""The universe of underlyings: ``config/universe.csv`` and its check against the S&P 500.

``config/universe.csv`` has the columns ``symbol,name,sector,ib_symbol``. ``symbol`` is the
index's ticker (``BRK.B``); ``ib_symbol`` is filled only where IB spells it differently
(``BRK B``) and defaults to ``symbol``. :func:`load_universe` validates every row and refuses a
bad one with a :class:`~opt_data.errors.ConfigError` naming ``file:line`` and the value.

:func:`diff_universe` compares the file with a constituents list: by default the current
S&P 500 list shipped by the MIT-licensed ``pitindex`` package (:func:`pitindex_constituents`),
or any CSV / plain list (:func:`read_constituents`). :func:`render_universe_csv` writes the file
from such a list.
"""

from __future__ import annotations

import csv
import difflib
import importlib.util
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opt_data.errors import ConfigError

__all__ = [
    "COLUMNS",
    "Constituent",
    "Constituents",
    "Underlying",
    "UniverseDiff",
    "diff_universe",
    "load_universe",
    "normalize_symbol",
    "parse_symbols",
    "pitindex_constituents",
    "read_constituents",
    "render_universe_csv",
    "select",
    "to_ib_symbol",
]

COLUMNS = ("symbol", "name", "sector", "ib_symbol")
_SYMBOL = re.compile(r"[A-Z][A-Z0-9]{0,9}(\.[A-Z]{1,2})?")
_IB_SYMBOL = re.compile(r"[A-Z][A-Z0-9]{0,9}( [A-Z]{1,2})?")


@dataclass(frozen=True, slots=True)
class Underlying:
    """One row of ``config/universe.csv``."""

    symbol: str
    name: str = ""
    sector: str = ""
    ib_symbol_override: str = ""

    @property
    def ib_symbol(self) -> str:
        """The symbol IB knows the stock by (``BRK B`` for ``BRK.B``)."""
        return self.ib_symbol_override or self.symbol


@dataclass(frozen=True, slots=True)
class Constituent:
    """One member of a constituents list (the reference ``universe check`` compares with)."""

    symbol: str
    name: str = ""
    sector: str = ""


@dataclass(frozen=True, slots=True)
class Constituents:
    """A constituents list and where it came from."""

    members: tuple[Constituent, ...]
    source: str
    as_of: str | None = None


@dataclass(frozen=True, slots=True)
class UniverseDiff:
    """``added``: in the reference, not in the file; ``removed``: in the file only."""

    added: tuple[Constituent, ...]
    removed: tuple[Underlying, ...]

    @property
    def equal(self) -> bool:
        return not self.added and not self.removed


def normalize_symbol(text: str) -> str:
    """Upper-case; a share class gets a dot: ``brk-b``, ``BRK/B``, ``BRK B`` → ``BRK.B``."""
    s = text.strip().upper()
    return re.sub(r"^([A-Z][A-Z0-9]*)[ /-]([A-Z]{1,2})$", r"\1.\2", s)


def to_ib_symbol(symbol: str) -> str:
    """IB's spelling of an index ticker: the share-class dot becomes a space."""
    return symbol.replace(".", " ")


def load_universe(path: Path) -> tuple[Underlying, ...]:
    """Read and validate ``universe.csv``.

    Raises:
        ConfigError: the file is missing or unreadable, the header is not
            ``symbol,name,sector,ib_symbol``, or a row is bad (message names ``file:line``).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"universe file {path} not found (paths.universe)") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"universe file {path} cannot be read: {reason}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        got = ",".join(header) if header else "an empty file"
        raise ConfigError(f"{path}:1: header must be {','.join(COLUMNS)}, got {got}")
    rows: list[Underlying] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(COLUMNS):
            raise ConfigError(
                f"{path}:{line}: expected {len(COLUMNS)} columns ({','.join(COLUMNS)}), "
                f"got {len(row)}: {','.join(row)!r}"
            )
        symbol, name, sector, ib_symbol = (c.strip() for c in row)
        if not _SYMBOL.fullmatch(symbol):
            raise ConfigError(
                f"{path}:{line}: symbol {symbol!r} is not a ticker; allowed: upper-case "
                "letters and digits, a share class after a dot (e.g. BRK.B)"
            )
        if ib_symbol and not _IB_SYMBOL.fullmatch(ib_symbol):
            raise ConfigError(
                f"{path}:{line}: ib_symbol {ib_symbol!r} is not an IB symbol; allowed: empty "
                "(same as symbol) or upper-case letters and digits, a share class after a "
                "space (e.g. BRK B)"
            )
        if symbol in seen:
            raise ConfigError(
                f"{path}:{line}: symbol {symbol!r} is listed twice (first at line {seen[symbol]})"
            )
        seen[symbol] = line
        rows.append(Underlying(symbol, name, sector, "" if ib_symbol == symbol else ib_symbol))
    if not rows:
        raise ConfigError(f"{path}: the universe is empty (no rows after the header)")
    return tuple(rows)


def parse_symbols(text: str, *, option: str = "--symbols") -> tuple[str, ...]:
    """``"aapl, MSFT"`` → ``("AAPL", "MSFT")``; refuse an empty list or a malformed ticker."""
    out: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        symbol = normalize_symbol(part)
        if not _SYMBOL.fullmatch(symbol):
            raise ConfigError(f"{option}: {part.strip()!r} is not a ticker (e.g. AAPL, BRK.B)")
        if symbol not in out:
            out.append(symbol)
    if not out:
        raise ConfigError(f"{option}: give at least one symbol, comma-separated (e.g. AAPL,MSFT)")
    return tuple(out)


def select(
    universe: Sequence[Underlying], symbols: Iterable[str], *, option: str = "--symbols"
) -> tuple[Underlying, ...]:
    """The universe rows for ``symbols`` (index or IB spelling), in the order given.

    Raises:
        ConfigError: a symbol is not in the universe (with the closest one).
    """
    by_symbol = {u.symbol: u for u in universe}
    by_symbol.update({normalize_symbol(u.ib_symbol): u for u in universe})
    out: list[Underlying] = []
    for raw in symbols:
        symbol = normalize_symbol(raw)
        found = by_symbol.get(symbol)
        if found is None:
            near = difflib.get_close_matches(symbol, [u.symbol for u in universe], n=1)
            dym = f"; did you mean {near[0]}?" if near else ""
            raise ConfigError(f"{option}: {raw} is not in the universe (paths.universe){dym}")
        if found not in out:
            out.append(found)
    return tuple(out)


# --- reference lists -------------------------------------------------------------------------


def pitindex_constituents() -> Constituents:
    """The current S&P 500 as shipped by ``pitindex`` (or its refreshed user cache).

    Reads pitindex's bundled CSV without importing the package (which would load pandas).
    """
    spec = importlib.util.find_spec("pitindex")
    if spec is None or spec.origin is None:
        raise ConfigError("the pitindex package is not installed; pass --source FILE")
    data_dir = Path(spec.origin).parent / "data"
    cache = Path(os.environ.get("PITINDEX_CACHE_DIR") or Path.home() / ".cache" / "pitindex")
    if (cache / "sp500_current.csv").is_file():  # pitindex.update() writes fresher data here
        data_dir = cache
    as_of = None
    meta = data_dir / "build_metadata.json"
    if meta.is_file():
        info = json.loads(meta.read_text(encoding="utf-8"))
        section = (info.get("indices") or {}).get("sp500") or info
        as_of = section.get("end_date")
    listed = read_constituents(data_dir / "sp500_current.csv")
    version = _pitindex_version()
    return Constituents(listed.members, f"pitindex {version} S&P 500", as_of)


def _pitindex_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pitindex")
    except PackageNotFoundError:  # pragma: no cover - found by find_spec but not installed
        return "?"


def read_constituents(path: Path) -> Constituents:
    """A constituents list from a file.

    A CSV whose header has a ``symbol`` or ``ticker`` column (and optionally ``name`` or
    ``security``, and ``sector`` or ``gics_sector``), or a plain list: one symbol per line
    (``#`` comments allowed). Share classes may be written ``BRK.B``, ``BRK-B`` or ``BRK B``.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"--source: {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"--source: {path} cannot be read: {reason}") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ConfigError(f"--source: {path} lists no symbols")
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    members: list[Constituent] = []
    if "symbol" in header or "ticker" in header:
        col = header.index("symbol" if "symbol" in header else "ticker")
        name_col = _first_index(header, ("name", "security"))
        sector_col = _first_index(header, ("sector", "gics_sector", "gics sector"))
        for no, row in enumerate(csv.reader(lines[1:]), 2):
            if len(row) <= col:
                raise ConfigError(f"--source: {path}:{no}: no {header[col]} column in this row")
            members.append(
                Constituent(
                    _checked(row[col], path, no),
                    row[name_col].strip() if name_col is not None and name_col < len(row) else "",
                    row[sector_col].strip()
                    if sector_col is not None and sector_col < len(row)
                    else "",
                )
            )
    else:
        for no, line in enumerate(lines, 1):
            members.append(Constituent(_checked(line.split(",")[0], path, no)))
    return Constituents(tuple(members), str(path))


def _first_index(header: list[str], names: Iterable[str]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _checked(raw: str, path: Path, line: int) -> str:
    symbol = normalize_symbol(raw)
    if not _SYMBOL.fullmatch(symbol):
        raise ConfigError(f"--source: {path}:{line}: {raw.strip()!r} is not a ticker")
    return symbol


def diff_universe(universe: Sequence[Underlying], reference: Constituents) -> UniverseDiff:
    """Symbols to add to / remove from the universe to match ``reference``, sorted."""
    have = {u.symbol for u in universe}
    want = {c.symbol for c in reference.members}
    added = sorted(
        {c.symbol: c for c in reference.members if c.symbol not in have}.values(),
        key=lambda c: c.symbol,
    )
    removed = sorted((u for u in universe if u.symbol not in want), key=lambda u: u.symbol)
    return UniverseDiff(tuple(added), tuple(removed))


def render_universe_csv(members: Iterable[Constituent]) -> str:
    """``universe.csv`` text for ``members``, sorted by symbol, ib_symbol where it differs."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    unique = {m.symbol: m for m in members}
    for symbol in sorted(unique):
        m = unique[symbol]
        ib = to_ib_symbol(symbol)
        writer.writerow([symbol, m.name, m.sector, ib if ib != symbol else ""])
    return out.getvalue()
