"""The ``opt-data`` app, its global options and the helper every command runs in.

See the package docstring (:mod:`opt_data.cli`) for the pattern and the exit codes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import structlog
import typer
from rich.console import Console

from opt_data import __version__
from opt_data.config import DEFAULT_CONFIG_FILE, Settings, load_settings
from opt_data.errors import ConfigError, OptDataError
from opt_data.logs import LogFormat, RunLog, configure_logging

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="opt-data",
    help="Collect S&P 500 option data from Interactive Brokers into a Parquet lake.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # plain tracebacks, and never the locals (secrets)
)


# --- global options and the command helper ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """What the options before the command name say."""

    config: Path
    verbose: bool
    log_format: LogFormat


@dataclass(slots=True)
class Run:
    """One command's run: its settings, run log and structlog logger; set ``exit_code``."""

    settings: Settings
    run_log: RunLog
    log: Any
    exit_code: int = EXIT_OK


def _version(value: bool) -> None:
    if value:
        typer.echo(f"opt-data {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option("--config", metavar="PATH", help="The TOML settings file."),
    ] = DEFAULT_CONFIG_FILE,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            help="Console log output: auto (readable on a terminal, none otherwise), "
            "console, json or none. The run log in state/run_logs/ is always JSON lines.",
        ),
    ] = "auto",
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Collect S&P 500 option data from Interactive Brokers into a Parquet lake."""
    ctx.obj = GlobalOptions(config=config, verbose=verbose, log_format=log_format)


def global_options(ctx: typer.Context) -> GlobalOptions:
    """The global options of this invocation (defaults when called without the callback)."""
    found = ctx.find_object(GlobalOptions)
    return found or GlobalOptions(DEFAULT_CONFIG_FILE, False, "auto")


def load(ctx: typer.Context) -> Settings:
    """The settings for this invocation; bad config exits 2 with one line on stderr."""
    try:
        return load_settings(global_options(ctx).config)
    except OptDataError as exc:
        fail(exc)


def fail(exc: OptDataError) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with the error's code."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(exc.exit_code)


@contextmanager
def command_run(ctx: typer.Context, command: str, *, run_log: bool = True) -> Iterator[Run]:
    """Settings + logging + error mapping around one command (see the module docstring).

    Args:
        command: the run's name in logs and the run-log file (``update``, ``universe-check``).
        run_log: write ``state/run_logs/…jsonl`` (commands that do work); ``False`` for
            read-only commands, which still log to the console.
    """
    opts = global_options(ctx)
    settings = load(ctx)
    level = "DEBUG" if opts.verbose else settings.logging.level
    try:
        rl = configure_logging(
            command=command,
            state_dir=settings.paths.state if run_log else None,
            level=level,
            log_format=opts.log_format,
            secrets=settings.secret_values(),
        )
    except OptDataError as exc:
        fail(exc)
    log = structlog.get_logger()
    log.info(
        "run_started", version=__version__, config=str(settings.config_file), cwd=str(Path.cwd())
    )
    run = Run(settings=settings, run_log=rl, log=log)
    with _map_errors(log) as elapsed:
        yield run
        log.info("run_finished", exit_code=run.exit_code, duration_s=elapsed())
        if run.exit_code != EXIT_OK:
            raise typer.Exit(run.exit_code)


@contextmanager
def _map_errors(log: Any) -> Iterator[Any]:
    """OptDataError → message + its exit code; Ctrl-C → 130; anything else propagates."""
    start = time.monotonic()

    def elapsed() -> float:
        return round(time.monotonic() - start, 3)

    try:
        yield elapsed
    except typer.Exit:
        raise
    except OptDataError as exc:
        log.error(
            "run_failed",
            error=str(exc),
            error_type=type(exc).__name__,
            exit_code=exc.exit_code,
            duration_s=elapsed(),
        )
        fail(exc)
    except KeyboardInterrupt:
        log.warning("run_interrupted", exit_code=EXIT_INTERRUPTED, duration_s=elapsed())
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception:
        log.exception("run_crashed", exit_code=EXIT_FAILED, duration_s=elapsed())
        raise


def _stdout() -> Console:
    return Console(soft_wrap=True, highlight=False)


# --- argument parsing --------------------------------------------------------------------


def parse_date(text: str, *, option: str) -> date:
    """``YYYY-MM-DD``; anything else is refused naming the option (exit 2)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None


def parse_aware_datetime(text: str, *, option: str) -> datetime:
    """ISO-8601 with a UTC offset (``2026-11-23T17:00:00-05:00`` or ``…Z``); else exit 2."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not an ISO-8601 date-time; allowed e.g. "
            "2026-11-23T17:00:00-05:00 or 2026-11-23T22:00:00Z"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(
            f"{option} {text!r} has no UTC offset; add one, e.g. {text.strip()}-05:00 or "
            f"{text.strip()}Z"
        )
    return value
