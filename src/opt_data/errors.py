"""The one exception tree of opt-data, and whether each error is worth retrying.

::

    OptDataError
     ├── ConfigError            bad settings, CLI arguments, dates or symbols (exit 2)
     ├── IBError
     │    ├── IBConnectionError  gateway unreachable, socket closed, 1100 (retryable)
     │    ├── ClientIdInUseError 326: another session holds IB_CLIENT_ID
     │    ├── IBPacingError      100 / 162 "pacing violation" (retryable, with backoff)
     │    ├── IBNoDataError      162 "no data", 200 no security definition (terminal)
     │    └── IBRequestError     any other error code on a request (terminal)
     ├── StorageError           a partition could not be written or read
     ├── ProgressError          state/backfill_progress.parquet is unreadable or corrupt
     └── LockHeldError          another run holds the job lock

``retryable`` is the predicate the retry policy uses: transient errors are retried with
backoff, terminal ones are recorded once and never retried.
"""

from __future__ import annotations

from typing import ClassVar


class OptDataError(Exception):
    """Base of every error opt-data raises on purpose; carries a user-facing message."""

    retryable: ClassVar[bool] = False
    exit_code: ClassVar[int] = 1


class ConfigError(OptDataError):
    """Invalid user input: the message names the value, where it came from and what is allowed."""

    exit_code: ClassVar[int] = 2


class IBError(OptDataError):
    """An error reported by (or while talking to) IB Gateway / TWS."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class IBConnectionError(IBError):
    """The gateway cannot be reached or the connection dropped."""

    retryable: ClassVar[bool] = True


class ClientIdInUseError(IBError):
    """Error 326: the configured client id is already connected."""


class IBPacingError(IBError):
    """IB refused a request for pacing (error 100, or 162 with "pacing violation")."""

    retryable: ClassVar[bool] = True


class IBNoDataError(IBError):
    """IB has nothing for this request (no security definition, no historical data)."""


class IBRequestError(IBError):
    """IB rejected a request for another reason; the code says which."""


class StorageError(OptDataError):
    """A partition could not be written, read or verified."""


class ProgressError(OptDataError):
    """The progress store is unreadable or does not have the expected shape."""

    exit_code: ClassVar[int] = 2


class LockHeldError(OptDataError):
    """Another run holds the lock for this job."""

    exit_code: ClassVar[int] = 3
