"""Operations: ``status``, ``queue list|retry|drop`` and ``doctor``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from opt_data.cli.base import EXIT_FAILED, EXIT_OK, app, command_run, fail, load, parse_date
from opt_data.errors import OptDataError
from opt_data.universe import parse_symbols

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
