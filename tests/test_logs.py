"""Run logs: JSON lines under state/run_logs, console sinks, levels and redaction."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr

from opt_data.logs import (
    configure_logging,
    new_run_id,
    read_run_log,
    redact,
    run_log_path,
)

T0 = datetime(2026, 11, 23, 22, 0, 5, tzinfo=UTC)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_run_id_is_utc_timestamp_and_suffix() -> None:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``, in UTC whatever the input zone."""
    eastern = T0.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    rid = new_run_id(eastern)
    assert re.fullmatch(r"20261123T220005Z-[0-9a-f]{6}", rid)


def test_run_ids_sort_by_start_time_and_differ() -> None:
    """Later runs sort after earlier ones; two runs in the same second still differ."""
    ids = [new_run_id(T0 + timedelta(seconds=s)) for s in (0, 1, 61, 3600)]
    assert sorted(ids) == ids
    assert len({new_run_id(T0) for _ in range(50)}) > 45


def test_run_log_path_has_timestamp_command_and_suffix(tmp_path: Path) -> None:
    """state/run_logs/<timestamp>-<command>-<suffix>.jsonl."""
    path = run_log_path(tmp_path, "universe check", "20261123T220005Z-ab12cd")
    assert path == tmp_path / "run_logs" / "20261123T220005Z-universe-check-ab12cd.jsonl"
    with pytest.raises(ValueError, match="not a run id"):
        run_log_path(tmp_path, "x", "nope")


def test_events_are_appended_as_json_lines_with_run_id_and_command(tmp_path: Path) -> None:
    """Every event is one JSON object with timestamp, level, event, run_id, command, context."""
    run = configure_logging(
        command="update", state_dir=tmp_path / "state", now=T0, stream=io.StringIO()
    )
    log = structlog.get_logger().bind(job="update")
    log.info("partition_written", symbol="AAPL", rows=12)
    log.warning("greeks_missing", symbol="MSFT")

    assert run.path is not None
    assert run.path.parent == tmp_path / "state" / "run_logs"
    assert run.path.name.startswith("20261123T220005Z-update-")
    assert run.run_id.startswith("20261123T220005Z-")
    events = read_run_log(run.path)
    assert [e["event"] for e in events] == ["partition_written", "greeks_missing"]
    first = events[0]
    assert first["run_id"] == run.run_id
    assert first["command"] == "update"
    assert first["job"] == "update"
    assert first["symbol"] == "AAPL"
    assert first["rows"] == 12
    assert first["level"] == "info"
    assert first["timestamp"].endswith("Z")
    assert list(first)[:5] == ["timestamp", "level", "event", "run_id", "command"]


def test_a_second_run_writes_its_own_file(tmp_path: Path) -> None:
    """Runs never share a file, and the earlier file keeps its lines."""
    a = configure_logging(command="update", state_dir=tmp_path, stream=io.StringIO())
    structlog.get_logger().info("one")
    b = configure_logging(command="update", state_dir=tmp_path, stream=io.StringIO())
    structlog.get_logger().info("two")
    assert a.path != b.path
    assert a.path is not None and b.path is not None
    assert [e["event"] for e in read_run_log(a.path)] == ["one"]
    assert [e["event"] for e in read_run_log(b.path)] == ["two"]


def test_no_state_dir_means_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-only commands and the simulator log to the console only."""
    monkeypatch.chdir(tmp_path)
    run = configure_logging(command="sim", state_dir=None, log_format="none")
    structlog.get_logger().info("listening")
    assert run.path is None
    assert list(tmp_path.iterdir()) == []


def test_level_filters_and_verbose_lowers_it(tmp_path: Path) -> None:
    """INFO drops debug events; DEBUG (-v) keeps them."""
    quiet = configure_logging(command="x", state_dir=tmp_path, level="INFO", stream=io.StringIO())
    structlog.get_logger().debug("detail")
    structlog.get_logger().info("fact")
    loud = configure_logging(command="x", state_dir=tmp_path, level="DEBUG", stream=io.StringIO())
    structlog.get_logger().debug("detail")
    assert quiet.path is not None and loud.path is not None
    assert [e["event"] for e in read_run_log(quiet.path)] == ["fact"]
    assert [e["event"] for e in read_run_log(loud.path)] == ["detail"]


def test_auto_format_is_silent_off_a_terminal(tmp_path: Path) -> None:
    """Under systemd or cron (no TTY) the console gets nothing; the file gets everything."""
    stream = io.StringIO()
    run = configure_logging(command="x", state_dir=tmp_path, stream=stream)
    structlog.get_logger().info("fact")
    assert stream.getvalue() == ""
    assert run.path is not None and read_run_log(run.path)


def test_auto_format_is_readable_on_a_terminal(tmp_path: Path) -> None:
    """A terminal gets ConsoleRenderer lines, not JSON."""
    stream = FakeTTY()
    configure_logging(command="x", state_dir=tmp_path, stream=stream)
    structlog.get_logger().info("fact", symbol="AAPL")
    out = stream.getvalue()
    assert "fact" in out and "AAPL" in out
    assert not out.lstrip().startswith("{")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_explicit_format_writes_to_a_non_terminal(tmp_path: Path, fmt: str) -> None:
    """--log-format json / console print even when stderr is not a terminal."""
    stream = io.StringIO()
    configure_logging(command="x", state_dir=None, log_format=fmt, stream=stream)  # type: ignore[arg-type]
    structlog.get_logger().info("fact", symbol="AAPL")
    line = stream.getvalue().strip()
    if fmt == "json":
        assert json.loads(line)["symbol"] == "AAPL"
    else:
        assert "fact" in line and "symbol=AAPL" in line
        assert "\x1b[" not in line  # no colour codes off a terminal


def test_secret_keys_and_values_are_redacted_in_every_sink(tmp_path: Path) -> None:
    """Keys named like secrets and known secret values never reach the file or console."""
    stream = io.StringIO()
    run = configure_logging(
        command="x", state_dir=tmp_path, log_format="console", stream=stream, secrets=["DU7654321"]
    )
    structlog.get_logger().info(
        "connected",
        password="hunter2",
        api_token="t0k",
        account_id="DU7654321",
        nested={"client_secret": "s3", "ok": 1},
        note="managed account DU7654321 ready",
        key=SecretStr("sek"),
        tokens=3.5,  # a token bucket's level is not a secret
    )
    assert run.path is not None
    text = run.path.read_text(encoding="utf-8") + stream.getvalue()
    for secret in ("hunter2", "t0k", "DU7654321", "s3", "sek"):
        assert secret not in text
    event = read_run_log(run.path)[0]
    assert event["password"] == "***"
    assert event["nested"] == {"client_secret": "***", "ok": 1}
    assert event["note"] == "managed account *** ready"
    assert event["tokens"] == 3.5


def test_redact_leaves_ordinary_values_alone() -> None:
    """Only secret-looking keys and known values change."""
    data = {"symbol": "AAPL", "bid": 1.5, "accounts": ["DU1"], "list": ["a", "xSECRETx"]}
    assert redact(data, ["SECRET"]) == {
        "symbol": "AAPL",
        "bid": 1.5,
        "accounts": "***",
        "list": ["a", "x***x"],
    }


def test_exceptions_are_logged_with_their_traceback(tmp_path: Path) -> None:
    """log.exception keeps the traceback text in the JSON line."""
    run = configure_logging(command="x", state_dir=tmp_path, stream=io.StringIO())
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        structlog.get_logger().exception("run_crashed")
    assert run.path is not None
    event = read_run_log(run.path)[0]
    assert "ZeroDivisionError: boom" in event["exception"]
    assert "Traceback" in event["exception"]


def test_standard_logging_of_ib_libraries_is_forwarded(tmp_path: Path) -> None:
    """Warnings of ib_insync / ib_async (stdlib logging) land in the run log, redacted."""
    run = configure_logging(command="x", state_dir=tmp_path, stream=io.StringIO(), secrets=["DU42"])
    logging.getLogger("ib_insync.wrapper").warning("Error 200 for account %s", "DU42")
    logging.getLogger("ib_insync.client").debug("chatter")  # below the bridge level
    assert run.path is not None
    events = read_run_log(run.path)
    assert len(events) == 1
    assert events[0]["logger"] == "ib_insync.wrapper"
    assert events[0]["message"] == "Error 200 for account ***"
    assert events[0]["level"] == "warning"
