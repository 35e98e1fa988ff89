"""The market's one exception: an IB error code and IB's text for a request it refuses.

The server forwards ``code`` and ``text`` verbatim as an error message, so the texts below
are IB's own (see research/ib-limits.md §1–2); collectors match on them.
"""

from __future__ import annotations


class MarketDataError(Exception):
    """A request IB would answer with error ``code`` and message ``text``."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


def no_security_definition() -> MarketDataError:
    """IB's answer for a contract it does not (or no longer) list."""
    return MarketDataError(200, "No security definition has been found for the request")
