"""``opt-data update``: the daily job, with a progress bar on a terminal."""

from __future__ import annotations

import time
from typing import Annotated, Any

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

from opt_data.cli.base import app, command_run, parse_date
from opt_data.universe import parse_symbols

# --- update ----------------------------------------------------------------------------------


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
