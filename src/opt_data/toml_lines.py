"""Line numbers of keys in a TOML document, for error messages that say ``file:line``.

``tomllib`` parses but forgets positions. This small scanner of an already valid document
follows ``[table]`` headers, ``key = value`` lines and dotted or quoted keys, and skips
multi-line strings and arrays, so a key found inside a string is never reported.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["line_of", "toml_key_lines"]


def toml_key_lines(text: str) -> dict[str, int]:
    """Map each dotted key (and table) of a valid TOML document to its 1-based line.

    A small scanner, not a parser: it follows ``[table]`` headers, ``key = value`` lines and
    dotted keys, and skips multi-line strings and arrays. Keys inside inline tables are not
    listed; :func:`line_of` falls back to the nearest listed parent.
    """
    found: dict[str, int] = {}
    table: list[str] = []
    in_string: str | None = None  # the closing delimiter of an open multi-line string
    depth = 0  # open brackets / braces of a multi-line value
    for no, line in enumerate(text.splitlines(), 1):
        if in_string is not None:
            if in_string in line:
                in_string = None
            continue
        if depth > 0:
            depth, in_string = _scan_value(line, depth)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            inner = stripped[2:] if stripped.startswith("[[") else stripped[1:]
            end = _find_outside_quotes(inner, "]")
            table = _split_key(inner[:end] if end >= 0 else inner)
            for i in range(1, len(table) + 1):
                found.setdefault(".".join(table[:i]), no)
            continue
        eq = _find_outside_quotes(stripped, "=")
        if eq < 0:
            continue
        parts = table + _split_key(stripped[:eq])
        for i in range(len(table) + 1, len(parts) + 1):
            found.setdefault(".".join(parts[:i]), no)
        depth, in_string = _scan_value(stripped[eq + 1 :], 0)
    return found


def line_of(key: str, lines: Mapping[str, int]) -> int | None:
    """The line of ``key``, else of its nearest listed parent (inline tables), else None."""
    parts = key.split(".")
    while parts:
        line = lines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return None


def _split_key(text: str) -> list[str]:
    parts: list[str] = []
    current = ""
    quote: str | None = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def _find_outside_quotes(text: str, target: str) -> int:
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == target:
            return i
    return -1


def _scan_value(text: str, depth: int) -> tuple[int, str | None]:
    """Bracket depth after ``text`` and whether it opens a multi-line string."""
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            break
        if text.startswith('"""', i) or text.startswith("'''", i):
            delim = text[i : i + 3]
            close = text.find(delim, i + 3)
            if close < 0:
                return depth, delim
            i = close + 3
            continue
        if ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if (ch == '"' and text[j] == "\\") else 1
            i = j + 1
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return depth, None
