"""Setup commands: ``config show``, ``universe check|sync`` and ``sim``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import structlog
import typer
from rich.table import Table

from opt_data.cli.base import (
    EXIT_FAILED,
    EXIT_OK,
    Run,
    _map_errors,
    _stdout,
    app,
    command_run,
    global_options,
    load,
    parse_aware_datetime,
)
from opt_data.config import effective_items
from opt_data.errors import ConfigError
from opt_data.logs import configure_logging
from opt_data.universe import (
    Constituents,
    UniverseDiff,
    diff_universe,
    load_universe,
    parse_symbols,
    pitindex_constituents,
    read_constituents,
    render_universe_csv,
)

if TYPE_CHECKING:
    from opt_data.sim.limits import SimLimits

config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)
universe_app = typer.Typer(help="The underlyings in config/universe.csv.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(universe_app, name="universe")


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
        _log_diff(run, "universe_checked", path, reference, diff)
        if diff.equal:
            typer.echo("the universe matches the reference")
        else:
            typer.echo(
                f"{len(diff.added)} to add, {len(diff.removed)} to remove; "
                "`opt-data universe sync` rewrites the file from the reference"
            )
            run.exit_code = EXIT_FAILED


def _log_diff(
    run: Run, event: str, path: Path, reference: Constituents, diff: UniverseDiff
) -> None:
    run.log.info(
        event,
        universe=str(path),
        reference=reference.source,
        as_of=reference.as_of,
        added=[c.symbol for c in diff.added],
        removed=[u.symbol for u in diff.removed],
    )


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
        _log_diff(run, "universe_synced", path, reference, diff)
        as_of = f" as of {reference.as_of}" if reference.as_of else ""
        typer.echo(
            f"{path}: {len(reference.members)} symbols from {reference.source}{as_of} "
            f"({len(diff.added)} added, {len(diff.removed)} removed)"
        )


# --- sim -------------------------------------------------------------------------------------


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
    lines: Annotated[
        str | None,
        typer.Option(
            metavar="N",
            help="Market-data lines: concurrent streams and snapshots; one more gets error 101 "
            "(default: 100, as IB; Quote Booster packs add 100 each).",
        ),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            metavar="N",
            help="Client messages per second; more gets error 100 "
            "(default: lines / 2, at least 50, as IB).",
        ),
    ] = None,
    snapshot_seconds: Annotated[
        str | None,
        typer.Option(
            metavar="X",
            help="Seconds a snapshot holds its line before tickSnapshotEnd (default: 11, as IB).",
        ),
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
        limits = _sim_limits(lines, rate, snapshot_seconds)
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
                limits=limits,
            )
        )
        if code != EXIT_OK:
            raise typer.Exit(code)


def _sim_limits(lines: str | None, rate: str | None, snapshot_seconds: str | None) -> SimLimits:
    """IB's limits changed by the flags given; a bad value is a user error (exit 2)."""
    from opt_data.sim.limits import limits_from_flags  # lazily: only sim loads the simulator

    try:
        return limits_from_flags(lines, rate, snapshot_seconds)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
