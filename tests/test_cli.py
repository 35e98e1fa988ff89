"""The command line: config show, universe check/sync, sim wiring, exit codes, the helper."""

from __future__ import annotations

import json
import shutil
import sys
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from opt_data import cli
from opt_data.errors import LockHeldError, StorageError
from opt_data.logs import read_run_log
from opt_data.sim.limits import SimLimits

REPO = Path(__file__).resolve().parents[1]


def project(tmp_path: Path, toml: str = "") -> Path:
    """A project directory: config/opt-data.toml and the shipped universe."""
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "opt-data.toml").write_text(toml, encoding="utf-8")
    shutil.copy(REPO / "config" / "universe.csv", tmp_path / "config" / "universe.csv")
    return tmp_path


def run_logs(root: Path) -> list[Path]:
    return sorted((root / "state" / "run_logs").glob("*.jsonl"))


# --- global ------------------------------------------------------------------------------------


def test_help_lists_the_commands(run_cli: Any) -> None:
    """``opt-data --help`` exits 0 and names the commands and global options."""
    result = run_cli("--help")
    assert result.code == 0
    for word in ("config", "universe", "sim", "--config", "--verbose", "--log-format"):
        assert word in result.stdout


def test_unknown_option_is_a_usage_error(run_cli: Any) -> None:
    """A bad argument is bad input: exit 2, no traceback."""
    result = run_cli("--log-format", "xml", "config", "show")
    assert result.code == 2
    assert "Traceback" not in result.stderr


# --- config show -------------------------------------------------------------------------------


def test_config_show_names_every_source(run_cli: Any, tmp_path: Path) -> None:
    """default, file:line, .env:line (VAR) and env VAR all appear, one row per key."""
    project(tmp_path, "[ib]\nclient_id = 7\n\n[rate_limits.snapshot]\nper_minute = 600\n")
    (tmp_path / ".env").write_text("IB_PORT=4002\n", encoding="utf-8")
    result = run_cli("config", "show", env={"IB_HOST": "10.0.0.5", "IB_ACCOUNT": "DU999"})
    assert result.code == 0, result.stderr
    rows = {line.split(" = ")[0].strip(): line for line in result.stdout.splitlines()[1:]}
    assert rows["ib.host"].endswith("# env IB_HOST") and '"10.0.0.5"' in rows["ib.host"]
    assert rows["ib.port"].endswith("# .env:1 (IB_PORT)") and "4002" in rows["ib.port"]
    assert rows["ib.client_id"].endswith("# config/opt-data.toml:2")
    assert rows["rate_limits.snapshot.per_minute"].endswith("# config/opt-data.toml:5")
    assert rows["ib.market_data_type"].endswith("# default")
    assert "***" in rows["ib.account"]
    assert "DU999" not in result.stdout + result.stderr
    assert not (tmp_path / "state").exists()  # read-only: no run log


def test_config_show_uses_the_config_option(run_cli: Any, tmp_path: Path) -> None:
    """--config PATH replaces config/opt-data.toml."""
    (tmp_path / "other.toml").write_text("max_concurrent_snapshots = 12\n", encoding="utf-8")
    result = run_cli("--config", "other.toml", "config", "show")
    assert result.code == 0, result.stderr
    assert "# config file: other.toml" in result.stdout
    line = next(x for x in result.stdout.splitlines() if x.startswith("max_concurrent_snapshots"))
    assert "12" in line and line.endswith("# other.toml:1")


def test_config_show_on_a_terminal_renders_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a terminal, a rich table with the same rows."""
    project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(cli.app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "┃ key" in result.output or "│ ib.port" in result.output
    assert "default" in result.output


# --- universe ----------------------------------------------------------------------------------


def test_universe_check_equal_lists_exit_0_and_write_a_run_log(
    run_cli: Any, tmp_path: Path
) -> None:
    """Same symbols → exit 0; the run is recorded in state/run_logs with its id."""
    project(tmp_path)
    ref = tmp_path / "ref.txt"
    symbols = [
        line.split(",")[0] for line in (REPO / "config/universe.csv").read_text().splitlines()[1:]
    ]
    ref.write_text("\n".join(reversed(symbols)) + "\n", encoding="utf-8")
    result = run_cli("universe", "check", "--source", "ref.txt")
    assert result.code == 0, result.stderr
    assert "matches" in result.stdout
    (log,) = run_logs(tmp_path)
    assert "-universe-check-" in log.name
    events = read_run_log(log)
    assert [e["event"] for e in events] == ["run_started", "universe_checked", "run_finished"]
    assert len({e["run_id"] for e in events}) == 1
    assert log.name.startswith(events[0]["run_id"].split("-")[0])
    assert events[-1]["exit_code"] == 0


def test_universe_check_differences_exit_1(run_cli: Any, tmp_path: Path) -> None:
    """Added and removed symbols are listed; exit 1."""
    project(tmp_path)
    (tmp_path / "config" / "universe.csv").write_text(
        "symbol,name,sector,ib_symbol\nAAPL,Apple,IT,\nGONE,Gone Inc,IT,\n", encoding="utf-8"
    )
    (tmp_path / "ref.csv").write_text("ticker,name\nAAPL,Apple\nNEWCO,New Co\n", encoding="utf-8")
    result = run_cli("universe", "check", "--source", "ref.csv")
    assert result.code == 1
    assert "+ NEWCO" in result.stdout
    assert "- GONE" in result.stdout
    assert "Traceback" not in result.stderr


def test_universe_check_defaults_to_pitindex(run_cli: Any, tmp_path: Path) -> None:
    """Without --source the reference is pitindex's S&P 500, and the shipped file matches it."""
    project(tmp_path)
    result = run_cli("universe", "check", env={"PITINDEX_CACHE_DIR": str(tmp_path / "none")})
    assert result.code == 0, result.stdout + result.stderr
    assert "pitindex" in result.stdout and "as of" in result.stdout


def test_universe_check_bad_universe_row_exits_2(run_cli: Any, tmp_path: Path) -> None:
    """A bad row of universe.csv is a config error naming file:line."""
    project(tmp_path)
    (tmp_path / "config" / "universe.csv").write_text(
        "symbol,name,sector,ib_symbol\nAAPL,Apple,IT,\nbad sym,X,IT,\n", encoding="utf-8"
    )
    result = run_cli("universe", "check", "--source", "config/universe.csv")
    assert result.code == 2
    assert "universe.csv:3" in result.stderr and "'bad sym'" in result.stderr
    assert "Traceback" not in result.stderr
    events = read_run_log(run_logs(tmp_path)[0])
    assert events[-1]["event"] == "run_failed" and events[-1]["exit_code"] == 2


def test_universe_sync_rewrites_the_file(run_cli: Any, tmp_path: Path) -> None:
    """sync writes the reference as universe.csv, IB symbols filled in."""
    project(tmp_path)
    (tmp_path / "ref.csv").write_text(
        "symbol,name\nMSFT,Microsoft\nBRK-B,Berkshire\n", encoding="utf-8"
    )
    result = run_cli("universe", "sync", "--source", "ref.csv")
    assert result.code == 0, result.stderr
    text = (tmp_path / "config" / "universe.csv").read_text(encoding="utf-8")
    assert text == "symbol,name,sector,ib_symbol\nBRK.B,Berkshire,,BRK B\nMSFT,Microsoft,,\n"
    assert "(0 added, 501 removed)" in result.stdout
    assert run_cli("universe", "check", "--source", "ref.csv").code == 0


# --- sim ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--now", "2026-11-23T17:00:00"], "--now '2026-11-23T17:00:00' has no UTC offset"),
        (["--now", "yesterday"], "--now 'yesterday' is not an ISO-8601 date-time"),
        (["--symbols", "AAPL,??"], "--symbols: '??' is not a ticker"),
        (["--symbols", ","], "--symbols: give at least one symbol"),
        (["--rate", "0"], "--rate '0' is not a positive whole number"),
        (["--lines", "-1"], "--lines '-1' is not a positive whole number"),
        (["--lines", "abc"], "--lines 'abc' is not a positive whole number"),
        (["--lines", "2.5"], "--lines '2.5' is not a positive whole number"),
        (["--snapshot-seconds", "0"], "--snapshot-seconds '0' is not a positive number of seconds"),
        (["--snapshot-seconds", "nan"], "--snapshot-seconds 'nan' is not a positive number"),
    ],
)
def test_sim_refuses_bad_arguments_with_exit_2(
    run_cli: Any, args: list[str], expected: str
) -> None:
    """Bad --now / --symbols / limits: one line, exit 2, no traceback, before the sim starts."""
    result = run_cli("sim", *args)
    assert result.code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {expected}")
    assert "Traceback" not in result.stderr


def test_sim_refuses_a_missing_scenario_file(run_cli: Any) -> None:
    """--scenario must name an existing file (usage error, exit 2)."""
    result = run_cli("sim", "--scenario", "nope.toml")
    assert result.code == 2
    assert "Traceback" not in result.stderr


@dataclass(frozen=True)
class FakeSimOptions:
    host: str = "127.0.0.1"
    port: int = 7497
    seed: int = 0
    now: datetime | None = None
    symbols: tuple[str, ...] | None = None
    scenario: Path | None = None
    stats_file: Path | None = None
    limits: SimLimits = field(default_factory=SimLimits)


@pytest.fixture(name="fake_runner")
def _fake_runner(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace opt_data.sim.runner with a recorder; the list receives each SimOptions."""
    calls: list[Any] = []
    module = types.ModuleType("opt_data.sim.runner")
    module.SimOptions = FakeSimOptions  # type: ignore[attr-defined]

    def run(options: Any) -> int:
        calls.append(options)
        return 0 if options.seed != 99 else 1

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opt_data.sim.runner", module)
    return calls


def test_sim_passes_parsed_options_to_the_runner(tmp_path: Path, fake_runner: list[Any]) -> None:
    """Every option reaches SimOptions, typed: aware datetime, symbol tuple, paths."""
    scenario = tmp_path / "storm.toml"
    scenario.write_text("", encoding="utf-8")
    result = CliRunner().invoke(
        cli.app,
        [
            "sim",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--seed",
            "7",
            "--now",
            "2026-11-23T17:00:00-05:00",
            "--symbols",
            "aapl,BRK.B",
            "--scenario",
            str(scenario),
            "--stats-file",
            "stats.json",
            "--lines",
            "1000",
            "--rate",
            "80",
            "--snapshot-seconds",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    (options,) = fake_runner
    assert options == FakeSimOptions(
        host="0.0.0.0",
        port=0,
        seed=7,
        now=datetime(2026, 11, 23, 22, 0, tzinfo=UTC),
        symbols=("AAPL", "BRK.B"),
        scenario=scenario,
        stats_file=Path("stats.json"),
        limits=SimLimits(market_data_lines=1000, messages_per_second=80, snapshot_seconds=0.5),
    )
    assert options.now.utcoffset() == timedelta(hours=-5)


def test_sim_defaults_and_exit_code_pass_through(fake_runner: list[Any]) -> None:
    """Defaults are 127.0.0.1:7497 seed 0; the runner's exit code is the command's."""
    assert CliRunner().invoke(cli.app, ["sim"]).exit_code == 0
    assert fake_runner[0] == FakeSimOptions()
    assert CliRunner().invoke(cli.app, ["sim", "--seed", "99"]).exit_code == 1


def test_sim_rate_follows_lines_unless_given(fake_runner: list[Any]) -> None:
    """--lines alone keeps IB's rule (lines / 2 messages per second); other limits stay IB's."""
    assert CliRunner().invoke(cli.app, ["sim", "--lines", "1000"]).exit_code == 0
    limits = fake_runner[0].limits
    assert limits == SimLimits(market_data_lines=1000)
    assert limits.rate == 500


def test_sim_accepts_z_suffix(fake_runner: list[Any]) -> None:
    """``Z`` is a UTC offset."""
    result = CliRunner().invoke(cli.app, ["sim", "--now", "2026-11-23T22:00:00Z"])
    assert result.exit_code == 0, result.output
    assert fake_runner[0].now == datetime(2026, 11, 23, 22, tzinfo=timezone.utc)  # noqa: UP017


# --- the command helper ------------------------------------------------------------------------


def helper_app(body: Any) -> typer.Typer:
    """A fresh app with the real global options and one command built on command_run."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.callback()(cli._global_options)

    @app.command()
    def work(ctx: typer.Context) -> None:
        with cli.command_run(ctx, "work") as run:
            body(run)

    @app.command()
    def other() -> None:  # a second command keeps `work` a sub-command
        pass

    return app


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (LockHeldError("another compact holds state/locks/compact.lock"), 3),
        (StorageError("cannot write data/raw/x"), 1),
    ],
)
def test_helper_maps_opt_data_errors_to_their_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, code: int
) -> None:
    """OptDataError: message on stderr, its exit code, no traceback, run_failed logged."""
    project(tmp_path)
    monkeypatch.chdir(tmp_path)

    def body(run: cli.Run) -> None:
        raise error

    result = CliRunner().invoke(helper_app(body), ["work"])
    assert result.exit_code == code
    assert f"error: {error}" in result.output
    assert "Traceback" not in result.output
    events = read_run_log(run_logs(tmp_path)[0])
    assert events[-1]["event"] == "run_failed"
    assert events[-1]["error_type"] == type(error).__name__


def test_helper_lets_bugs_show_their_traceback_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception propagates (traceback, exit 1) and is logged as run_crashed."""
    project(tmp_path)
    monkeypatch.chdir(tmp_path)

    def body(run: cli.Run) -> None:
        raise KeyError("bug")

    result = CliRunner().invoke(helper_app(body), ["work"])
    assert result.exit_code == 1
    assert isinstance(result.exception, KeyError)
    events = read_run_log(run_logs(tmp_path)[0])
    assert events[-1]["event"] == "run_crashed"
    assert "KeyError" in events[-1]["exception"]


def test_helper_exit_code_and_verbose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run.exit_code becomes the process exit code; -v makes debug events land in the log."""
    project(tmp_path)
    monkeypatch.chdir(tmp_path)

    def body(run: cli.Run) -> None:
        run.log.debug("detail", n=1)
        run.exit_code = 1

    result = CliRunner().invoke(helper_app(body), ["-v", "--log-format", "none", "work"])
    assert result.exit_code == 1
    events = read_run_log(run_logs(tmp_path)[0])
    assert [e["event"] for e in events] == ["run_started", "detail", "run_finished"]
    assert events[-1]["exit_code"] == 1


def test_helper_json_log_format_on_stderr(run_cli: Any, tmp_path: Path) -> None:
    """--log-format json prints the events as JSON lines on stderr (not stdout)."""
    project(tmp_path)
    result = run_cli("--log-format", "json", "universe", "check", "--source", "config/universe.csv")
    assert result.code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events[0]["event"] == "run_started"
    assert not result.stdout.lstrip().startswith("{")


def test_unwritable_state_folder_is_refused_without_traceback(run_cli: Any, tmp_path: Path) -> None:
    """paths.state pointing at a file: one error line naming it, exit 1, no traceback."""
    project(tmp_path, '[paths]\nstate = "blocker"\n')
    (tmp_path / "blocker").write_text("not a folder", encoding="utf-8")
    result = run_cli("universe", "check", "--source", "config/universe.csv")
    assert result.code == 1
    assert "cannot create the run-log folder" in result.stderr
    assert "paths.state" in result.stderr
    assert "Traceback" not in result.stderr
