"""The ``opt-data`` command line: parse, build settings, call one job, render, exit.

This package is the only place that knows about Typer and exit codes; the jobs it calls
know neither. ``base`` holds the app, the global options and :func:`command_run`; ``update``,
``ops`` (status, queue, doctor) and ``tools`` (config, universe, sim) register their
commands on import. A command that does work is written as::

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

import typer

from opt_data.cli import ops, tools, update  # noqa: F401  (each module registers its commands)
from opt_data.cli.base import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    Run,
    _global_options,
    app,
    command_run,
)
from opt_data.errors import OptDataError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "Run",
    "_global_options",
    "app",
    "command_run",
    "main",
]


def main() -> None:
    """Console-script entry point (``opt-data``)."""
    try:
        app()
    except OptDataError as exc:  # raised outside command_run: still no traceback
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
