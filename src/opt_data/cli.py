"""The ``opt-data`` command line: parse, build settings, call one job, render, exit.

This module is the only place that knows about Typer and exit codes; the jobs it calls know
neither. A command that does work is written as::

    @app.command()
    def update(ctx: typer.Context, date: str | None = None) -> None:
        \"\"\"The daily update.\"\"\"
        with command_run(ctx, "update") as run:    # settings, run log, error mapping
            from opt_data.jobs.update import run_update
            result = run_update(run.settings, ...)
            run.exit_code = render_update(result)  # 0 ok, 1 something failed

:func:`command_run` loads the settings (bad config → exit 2 before any work), configures
logging (``state/run_logs/<ts>-<command>-<id>.jsonl``), logs ``run_started`` /
``run_finished``, turns an :class:`~opt_data.errors.OptDataError` into its message on stderr
and its ``exit_code``, and lets any other exception show its traceback (bugs must be visible).

Exit codes (stable; systemd's ``OnFailure=`` alerts on any non-zero):

====  ==========================================================================
0     all done, or nothing to do (e.g. not a trading day)
1     a task failed or was queued for manual handling; or an unexpected error
2     bad input: configuration, command-line arguments, dates, symbols
3     the job's lock is held by another run
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import structlog
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from opt_data import __version__
from opt_data.config import DEFAULT_CONFIG_FILE, Settings, effective_items, load_settings
from opt_data.errors import ConfigError, OptDataError
from opt_data.logs import LogFormat, RunLog, configure_logging
from opt_data.universe import (
    Constituents,
    diff_universe,
    load_universe,
    parse_symbols,
    pitindex_constituents,
    read_constituents,
    render_universe_csv,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_LOCKED", "EXIT_OK", "Run", "app", "main"]

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
config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)
universe_app = typer.Typer(help="The underlyings in config/universe.csv.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(universe_app, name="universe")


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


# --- config ----------------------------------------------------------------------------------


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print every effective setting and where it came from (default, file:line, .env, env)."""
    settings = load(ctx)
    rows = effective_items(settings)
    out = _stdout()
    header = f"config file: {settings.config_file}"
    if out.is_terminal:
        table = Table(title=header, title_justify="left")
        for column in ("key", "value", "source"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    typer.echo(f"# {header}")
    key_w = max(len(k) for k, _, _ in rows)
    val_w = max(len(v) for _, v, _ in rows)
    for key, value, source in rows:
        typer.echo(f"{key:<{key_w}} = {value:<{val_w}}  # {source}")


# --- universe --------------------------------------------------------------------------------

_SourceOption = Annotated[
    Path | None,
    typer.Option(
        "--source",
        metavar="FILE",
        help="Constituents list: a CSV with a symbol (or ticker) column, or one symbol per "
        "line. Default: the current S&P 500 shipped by the pitindex package.",
    ),
]


def _reference(source: Path | None) -> Constituents:
    return pitindex_constituents() if source is None else read_constituents(source)


@universe_app.command("check")
def universe_check(ctx: typer.Context, source: _SourceOption = None) -> None:
    """Diff config/universe.csv against a constituents list; exit 1 if they differ."""
    with command_run(ctx, "universe-check") as run:
        path = run.settings.paths.universe
        universe = load_universe(path)
        reference = _reference(source)
        diff = diff_universe(universe, reference)
        as_of = f" as of {reference.as_of}" if reference.as_of else ""
        typer.echo(f"{path}: {len(universe)} symbols")
        typer.echo(f"{reference.source}{as_of}: {len(reference.members)} symbols")
        for c in diff.added:
            typer.echo(f"+ {c.symbol:<6} {c.name}  (in the reference, missing from the universe)")
        for u in diff.removed:
            typer.echo(f"- {u.symbol:<6} {u.name}  (in the universe, not in the reference)")
        run.log.info(
            "universe_checked",
            universe=str(path),
            reference=reference.source,
            as_of=reference.as_of,
            added=[c.symbol for c in diff.added],
            removed=[u.symbol for u in diff.removed],
        )
        if diff.equal:
            typer.echo("the universe matches the reference")
        else:
            typer.echo(
                f"{len(diff.added)} to add, {len(diff.removed)} to remove; "
                "`opt-data universe sync` rewrites the file from the reference"
            )
            run.exit_code = EXIT_FAILED


@universe_app.command("sync")
def universe_sync(ctx: typer.Context, source: _SourceOption = None) -> None:
    """Rewrite config/universe.csv from a constituents list (default: pitindex's S&P 500)."""
    with command_run(ctx, "universe-sync") as run:
        path = run.settings.paths.universe
        reference = _reference(source)
        before = load_universe(path) if path.exists() else ()
        diff = diff_universe(before, reference)
        tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(render_universe_csv(reference.members), encoding="utf-8")
        tmp.replace(path)
        run.log.info(
            "universe_synced",
            universe=str(path),
            reference=reference.source,
            as_of=reference.as_of,
            added=[c.symbol for c in diff.added],
            removed=[u.symbol for u in diff.removed],
        )
        as_of = f" as of {reference.as_of}" if reference.as_of else ""
        typer.echo(
            f"{path}: {len(reference.members)} symbols from {reference.source}{as_of} "
            f"({len(diff.added)} added, {len(diff.removed)} removed)"
        )


# --- update ----------------------------------------------------------------------------------


def parse_date(text: str, *, option: str) -> date:
    """``YYYY-MM-DD``; anything else is refused naming the option (exit 2)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None


class _UpdateProgress:
    """A progress bar on a terminal (symbols done, contracts collected, ETA); silent otherwise."""

    def __init__(self, console: Console) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._contracts = 0
        self._started = time.monotonic()
        self._console = console

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        if not self._console.is_terminal:
            return
        if event == "start":
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("symbols · {task.fields[contracts]} contracts · {task.fields[rate]}/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                f"update {fields['trade_date']}", total=fields["symbols"], contracts=0, rate="-"
            )
            self._started = time.monotonic()
        elif self._progress is not None and self._task is not None:
            if event == "contracts":
                self._contracts += int(fields["count"])
                elapsed = max(time.monotonic() - self._started, 1e-9)
                rate = f"{self._contracts / elapsed:.1f}"
                self._progress.update(self._task, contracts=self._contracts, rate=rate)
            elif event == "symbol_done":
                self._progress.advance(self._task)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


@app.command()
def update(
    ctx: typer.Context,
    date_: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="The session (default: today, NY)."),
    ] = None,
    symbols: Annotated[
        str | None,
        typer.Option(metavar="A,B", help="Underlyings (default: all of paths.universe)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Collect even before today's close.")
    ] = False,
) -> None:
    """The daily update: discover, snapshot and store today's option chains (17:00 ET)."""
    with command_run(ctx, "update") as run:
        day = parse_date(date_, option="--date") if date_ is not None else None
        names = parse_symbols(symbols) if symbols is not None else None
        from opt_data.jobs.update import run_update

        progress = _UpdateProgress(Console(stderr=True))
        try:
            result = run_update(
                run.settings,
                symbols=names,
                date=day,
                force=force,
                run_id=run.run_log.run_id,
                on_progress=progress,
            )
        finally:
            progress.stop()
        typer.echo(result.message)
        for symbol, error in sorted(result.errors.items()):
            typer.echo(f"  {symbol}: {result.outcomes.get(symbol, 'failed')}: {error}", err=True)
        if result.rows:
            typer.echo(f"data: {run.settings.paths.data} · run log: {run.run_log.path}")
        run.exit_code = result.exit_code


# --- status and queue ------------------------------------------------------------------------

queue_app = typer.Typer(
    help='The "needs manual handling" queue (and terminal failures).', no_args_is_help=True
)
app.add_typer(queue_app, name="queue")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _record_line(r: Any) -> str:
    return (
        f"{r.job:<8} {r.date} {r.symbol:<6} {r.status!s:<12} failures={r.consecutive_failures} "
        f"attempts={r.attempts}  {r.last_error or ''}"
    )


@app.command()
def status(ctx: typer.Context) -> None:
    """Progress by job and status, the manual queue, recent runs, partitions and sizes."""
    from opt_data.jobs.status import status as read_status

    settings = load(ctx)
    try:
        st = read_status(settings.paths.data, settings.paths.state)
    except OptDataError as exc:
        fail(exc)
    typer.echo("progress (state/backfill_progress.parquet):")
    if not st.counts:
        typer.echo("  no tasks yet")
    for (job, state), n in st.counts.items():
        typer.echo(f"  {job:<10} {state:<13} {n}")
    typer.echo(f"\nneeds manual handling: {len(st.queue)}")
    for r in st.queue:
        typer.echo(f"  {_record_line(r)}")
    if st.failed:
        typer.echo(f"\nfailed: {len(st.failed)}")
        for r in st.failed:
            typer.echo(f"  {_record_line(r)}")
    typer.echo("\nrecent runs (state/run_logs/):")
    for run in st.runs:
        ended = "killed or running" if run.exit_code is None else f"exit {run.exit_code}"
        typer.echo(f"  {run.started[:19]:<19} {run.command:<14} {run.run_id:<24} {ended}")
    if not st.runs:
        typer.echo("  none")
    typer.echo(f"\ndata ({settings.paths.data}):")
    for d in st.datasets:
        span = f"{d.first_date} … {d.last_date}" if d.first_date else "-"
        typer.echo(
            f"  {d.zone}/{d.name:<18} {d.partitions:>6} partitions {d.files:>6} files "
            f"{_size(d.bytes):>10}  {span}"
        )


_JobOption = Annotated[str | None, typer.Option(help="Only this job (update, backfill).")]
_DateOption = Annotated[str | None, typer.Option("--date", metavar="YYYY-MM-DD")]
_SymbolsOption = Annotated[str | None, typer.Option(metavar="A,B")]


@queue_app.command("list")
def queue_list(ctx: typer.Context) -> None:
    """Tasks waiting for a human, and tasks that failed for good."""
    from opt_data.jobs.status import status as read_status

    settings = load(ctx)
    try:
        st = read_status(settings.paths.data, settings.paths.state)
    except OptDataError as exc:
        fail(exc)
    for r in [*st.queue, *st.failed]:
        typer.echo(_record_line(r))
    if not st.queue and not st.failed:
        typer.echo("the queue is empty")


def _queue_change(
    ctx: typer.Context,
    action: Literal["retry", "drop"],
    job: str | None,
    day: str | None,
    symbols: str | None,
) -> None:
    from opt_data.jobs import status as jobs_status

    with command_run(ctx, f"queue-{action}") as run:
        when = parse_date(day, option="--date") if day is not None else None
        names = parse_symbols(symbols) if symbols is not None else ()
        changed = jobs_status.change_queue(
            run.settings.paths.state, action, job=job, day=when, symbols=names
        )
        for r in changed:
            typer.echo(_record_line(r))
        verb = "back to pending" if action == "retry" else "dropped (skipped)"
        typer.echo(f"{len(changed)} task(s) {verb}")


@queue_app.command("retry")
def queue_retry(
    ctx: typer.Context,
    job: _JobOption = None,
    date_: _DateOption = None,
    symbols: _SymbolsOption = None,
) -> None:
    """Put queued/failed tasks back to pending; the next run of their job collects them."""
    _queue_change(ctx, "retry", job, date_, symbols)


@queue_app.command("drop")
def queue_drop(
    ctx: typer.Context,
    job: _JobOption = None,
    date_: _DateOption = None,
    symbols: _SymbolsOption = None,
) -> None:
    """Give up on queued/failed tasks (status skipped); they stay visible in status."""
    _queue_change(ctx, "drop", job, date_, symbols)


# --- doctor ----------------------------------------------------------------------------------


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Diagnose the runbook's failure table: config, paths, calendar, gateway, client id,
    market-data permissions. Exit 1 when any check fails."""
    from opt_data.jobs.doctor import run_doctor

    with command_run(ctx, "doctor", run_log=False) as run:
        checks = run_doctor(run.settings)
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
        for check in checks:
            typer.echo(f"{marks[check.verdict]}  {check.name:<14} {check.detail}")
            if check.fix:
                typer.echo(f"      {'':<14} fix: {check.fix}")
        run.exit_code = EXIT_FAILED if any(c.verdict == "fail" for c in checks) else EXIT_OK


# --- sim -------------------------------------------------------------------------------------


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


@app.command()
def sim(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free).")] = 7497,
    seed: Annotated[int, typer.Option(help="Seed of the simulated market.")] = 0,
    now: Annotated[
        str | None,
        typer.Option(metavar="ISO-8601", help="Simulated clock start, with UTC offset."),
    ] = None,
    symbols: Annotated[
        str | None, typer.Option(metavar="A,B", help="Underlyings to list (default: all).")
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, metavar="FILE.toml", help="Fault scenario."),
    ] = None,
    stats_file: Annotated[
        Path | None, typer.Option(metavar="FILE.json", help="Write the counters here on exit.")
    ] = None,
) -> None:
    """Run the bundled IB Gateway simulator (real TWS socket protocol) until interrupted."""
    opts = global_options(ctx)
    configure_logging(
        command="sim",
        state_dir=None,
        level="DEBUG" if opts.verbose else "INFO",
        log_format=opts.log_format,
    )
    log = structlog.get_logger()
    with _map_errors(log):
        start = parse_aware_datetime(now, option="--now") if now is not None else None
        names = parse_symbols(symbols) if symbols is not None else None
        # imported here so that other commands never load the simulator
        from opt_data.sim.runner import SimOptions, run

        code = run(
            SimOptions(
                host=host,
                port=port,
                seed=seed,
                now=start,
                symbols=names,
                scenario=scenario,
                stats_file=stats_file,
            )
        )
        if code != EXIT_OK:
            raise typer.Exit(code)


# --- entry point -----------------------------------------------------------------------------


def main() -> None:
    """Console-script entry point (``opt-data``)."""
    try:
        app()
    except OptDataError as exc:  # raised outside command_run: still no traceback
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
