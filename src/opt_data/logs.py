"""Run logs: structlog to ``state/run_logs/*.jsonl`` always, readable lines on a terminal.

Every command that does work calls :func:`configure_logging` once. From then on core modules
log through ``structlog.get_logger()`` with snake_case event names and bound context
(``job``, ``symbol``, ``date``, ``attempt``); each event is

* appended as one JSON object per line to
  ``<state>/run_logs/<UTC timestamp>-<command>-<suffix>.jsonl``, where the run id is
  ``<UTC timestamp>-<suffix>`` (e.g. ``20261123T170000Z-ab12cd``: short, sortable by start
  time, unique enough for one machine); every line carries ``run_id`` and ``command``;
* rendered on stderr by structlog's ``ConsoleRenderer`` when stderr is a terminal (``auto``),
  as plain console lines (``console``), as JSON lines (``json``), or not at all (``auto`` off
  a terminal, e.g. under systemd, and ``none``).

The file is opened, appended and closed per event, so a killed run keeps every line it
logged and no file handle outlives the run. Secrets never reach either sink: values under
keys named like ``password``, ``token``, ``secret`` or ``account`` become ``"***"``, as does
every occurrence of a known secret value (:func:`configure_logging`'s ``secrets``).
Records of the standard ``logging`` module (ib_insync / ib_async log there) are forwarded.
"""

from __future__ import annotations

import json
import logging
import re
import secrets as _secrets
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog
from pydantic import SecretStr

from opt_data.errors import StorageError

__all__ = [
    "LogFormat",
    "RunLog",
    "configure_logging",
    "new_run_id",
    "read_run_log",
    "redact",
    "reset_logging",
    "run_log_path",
]

LogFormat = Literal["auto", "console", "json", "none"]
REDACTED = "***"
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "token",
        "secret",
        "account",
        "accounts",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "cookie",
    }
)
_SECRET_SUFFIXES = ("api_key", "private_key", "access_key")
_FIRST_KEYS = ("timestamp", "level", "event", "run_id", "command")
_RUN_ID = re.compile(r"(\d{8}T\d{6}Z)-([0-9a-f]+)")


@dataclass(frozen=True, slots=True)
class RunLog:
    """The run being logged: its id, command and JSON-lines file (``None``: no file)."""

    run_id: str
    command: str
    path: Path | None


def new_run_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: UTC start time plus 6 random hex digits."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{suffix or _secrets.token_hex(3)}"


def run_log_path(state_dir: Path, command: str, run_id: str) -> Path:
    """``<state>/run_logs/<timestamp>-<command>-<suffix>.jsonl`` for ``run_id``."""
    m = _RUN_ID.fullmatch(run_id)
    if m is None:
        raise ValueError(f"not a run id: {run_id!r}")
    safe = re.sub(r"[^A-Za-z0-9_.]+", "-", command).strip("-") or "run"
    return state_dir / "run_logs" / f"{m.group(1)}-{safe}-{m.group(2)}.jsonl"


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    words = set(re.split(r"[^a-z0-9]+", lowered))
    return bool(words & _SECRET_WORDS) or lowered.endswith(_SECRET_SUFFIXES)


def redact(value: Any, secret_values: Iterable[str] = ()) -> Any:
    """A copy of ``value`` with secret-named keys and known secret values replaced."""
    known = tuple(s for s in secret_values if s)

    def scrub(v: Any) -> Any:
        if isinstance(v, SecretStr):
            return REDACTED
        if isinstance(v, str):
            for s in known:
                v = v.replace(s, REDACTED)
            return v
        if isinstance(v, Mapping):
            return {k: REDACTED if _is_secret_key(str(k)) else scrub(x) for k, x in v.items()}
        if isinstance(v, (list, tuple, set, frozenset)):
            return [scrub(x) for x in v]
        return v

    return scrub(value)


class _Redactor:
    """structlog processor: :func:`redact` on every event."""

    def __init__(self, secret_values: Iterable[str]) -> None:
        self._secrets = tuple(secret_values)

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        out: dict[str, Any] = redact(dict(event), self._secrets)
        for key in ("exc_info", "stack_info"):  # keep exception objects for the renderers
            if key in event and not isinstance(event[key], str):
                out[key] = event[key]
        return out


class _Sinks:
    """The last processor: write the event to the run-log file and the console, then drop."""

    def __init__(
        self,
        path: Path | None,
        console: LogFormat,
        stream: TextIO | None,
        secret_values: Iterable[str],
    ) -> None:
        self._path = path
        self._console = console
        self._stream = stream
        self._secrets = tuple(secret_values)
        self._json = structlog.processors.JSONRenderer(default=str, ensure_ascii=False)
        self._exc = structlog.processors.format_exc_info
        colors = console == "auto"
        # never print local variables of a traceback: they may hold secrets
        formatter: Any = (
            structlog.dev.RichTracebackFormatter(show_locals=False)
            if colors
            else structlog.dev.plain_traceback
        )
        self._pretty = structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=formatter)

    def _as_json(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        flat = redact(self._exc(logger, name, dict(event)), self._secrets)
        first = {k: flat.pop(k) for k in _FIRST_KEYS if k in flat}
        return str(self._json(logger, name, {**first, **flat}))

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        if self._path is not None:
            line = self._as_json(logger, name, event)
            with self._path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        if self._console != "none":
            stream = self._stream or sys.stderr
            if self._console == "json":
                text = self._as_json(logger, name, event)
            else:
                text = str(self._pretty(logger, name, dict(event)))
                for s in self._secrets:
                    text = text.replace(s, REDACTED)
            stream.write(text + "\n")
            stream.flush()
        raise structlog.DropEvent


class _StdlibBridge(logging.Handler):
    """Forward records of the standard ``logging`` module (IB libraries) into structlog."""

    previous_root_level: int = logging.NOTSET

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not break the run
            message = str(record.msg)
        structlog.get_logger().log(
            record.levelno, "library_log", logger=record.name, message=message
        )


def configure_logging(
    *,
    command: str,
    state_dir: Path | None,
    level: str = "INFO",
    log_format: LogFormat = "auto",
    stream: TextIO | None = None,
    run_id: str | None = None,
    secrets: Iterable[str] = (),
    now: datetime | None = None,
) -> RunLog:
    """Set up structlog for one run and return its :class:`RunLog`.

    Args:
        command: the command name (``update``, ``config-show``), part of the file name.
        state_dir: the state root; the log goes to ``<state_dir>/run_logs/`` (created).
            ``None`` writes no file (commands that only read, the simulator).
        level: the minimum level of both sinks (``DEBUG`` for ``--verbose``).
        log_format: console output; ``auto`` = coloured lines on a terminal, none otherwise.
        stream: the console stream (default: ``sys.stderr`` at the time of each event).
        run_id: reuse an id (default: :func:`new_run_id`).
        secrets: values that must never appear in a log (e.g. the account id).

    Raises:
        StorageError: the run-log folder cannot be created.
    """
    if level.upper() not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}")
    min_level = _LEVELS[level.upper()]
    rid = run_id or new_run_id(now)
    path = None
    if state_dir is not None:
        path = run_log_path(state_dir, command, rid)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the run-log folder {path.parent} (paths.state): {exc.strerror}"
            ) from None
    console: LogFormat = log_format
    if log_format == "auto" and not (stream or sys.stderr).isatty():
        console = "none"
    secret_values = tuple(s for s in secrets if s)

    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(run_id=rid, command=command)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _Redactor(secret_values),
            _Sinks(path, console, stream, secret_values),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    _install_bridge(logging.INFO if min_level <= logging.DEBUG else logging.WARNING)
    return RunLog(run_id=rid, command=command, path=path)


def _install_bridge(level: int) -> None:
    root = logging.getLogger()
    previous = _remove_bridges(root)
    bridge = _StdlibBridge(level)
    bridge.previous_root_level = root.level if previous is None else previous
    root.addHandler(bridge)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)


def _remove_bridges(root: logging.Logger) -> int | None:
    """Remove our handlers; return the root level from before the first one was added."""
    previous = None
    for handler in [h for h in root.handlers if isinstance(h, _StdlibBridge)]:
        root.removeHandler(handler)
        previous = handler.previous_root_level
    return previous


def reset_logging() -> None:
    """Undo :func:`configure_logging` (for tests and long-lived processes)."""
    root = logging.getLogger()
    previous = _remove_bridges(root)
    if previous is not None:
        root.setLevel(previous)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def read_run_log(path: Path) -> list[dict[str, Any]]:
    """The events of a run log, oldest first (for ``status`` and tests)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
