"""IB error codes → opt-data exceptions (pure, table-tested).

IB sends several unrelated conditions under one code (162 is "no data", "pacing violation",
"query cancelled" and "no permissions"), so the text decides where the code alone cannot.
"""

from __future__ import annotations

from opt_data.errors import IBConnectionError, IBError, IBNoDataError, IBPacingError, IBRequestError

# A streaming request that got one of these will never deliver the missing fields.
STREAM_FATAL_CODES = frozenset({100, 101, 200, 321, 354, 10089, 10091, 10168, 10186, 10197})

_NO_DATA_CODES = frozenset({200, 166})
_PACING_CODES = frozenset({100, 101, 322, 420})
_CONNECTION_CODES = frozenset({502, 504, 507, 1100, 1300})


def classify_error(code: int, message: str, what: str) -> IBError:
    """The exception for IB error ``code`` with ``message`` on the request ``what``."""
    text = f"{what}: IB error {code}: {message}"
    lowered = message.lower()
    if code in _PACING_CODES or (code == 162 and "pacing violation" in lowered):
        return IBPacingError(text, code=code)
    if code in _NO_DATA_CODES or (code == 162 and "returned no data" in lowered):
        return IBNoDataError(text, code=code)
    if code in _CONNECTION_CODES:
        return IBConnectionError(text, code=code)
    return IBRequestError(text, code=code)
