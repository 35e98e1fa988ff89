"""Settings: precedence per key, provenance, and refusal of every kind of bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import string
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from opt_data.config import (
    ENV_VARS,
    SECRET_KEYS,
    Settings,
    effective_items,
    leaf_keys,
    load_settings,
    toml_key_lines,
)
from opt_data.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "config" / "opt-data.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(no for no, line in enumerate(text.splitlines(), 1) if needle in line)


# --- the shipped file and the docs ------------------------------------------------------------


def test_shipped_config_writes_out_exactly_the_defaults(workdir: Path) -> None:
    """config/opt-data.toml documents the built-in defaults: loading it changes no value."""
    loaded = load_settings(SHIPPED, environ={})
    defaults = load_settings(None, environ={})
    for key in leaf_keys():
        assert loaded.get(key) == defaults.get(key), key
        if key not in SECRET_KEYS:
            assert loaded.source_of(key).kind == "file", key


def test_shipped_config_gives_a_line_for_every_key() -> None:
    """Each key of the shipped file is found on the line that sets it."""
    text = SHIPPED.read_text(encoding="utf-8")
    settings_ = load_settings(SHIPPED, environ={})
    lines = text.splitlines()
    for key in leaf_keys():
        if key in SECRET_KEYS:
            continue
        src = settings_.source_of(key)
        assert src.line is not None, key
        assert key.rsplit(".", 1)[-1] in lines[src.line - 1], (key, src.line)


def test_docs_and_env_example_name_every_key_and_variable() -> None:
    """docs/configuration.md names every key and variable; .env.example every variable."""
    docs = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for key in leaf_keys():
        assert f"`{key}`" in docs, key
    for name in ENV_VARS:
        assert name in docs, name
        assert re.search(rf"^#?\s*{name}=", example, re.M), name


def test_env_example_copied_to_dotenv_changes_nothing(workdir: Path) -> None:
    """A user who copies .env.example to .env as it is gets the defaults."""
    shutil.copy(REPO / ".env.example", workdir / ".env")
    assert load_settings(None, environ={}) == load_settings(None, environ={}, dotenv_file=None)


# --- precedence -------------------------------------------------------------------------------


def test_precedence_is_per_key_env_then_dotenv_then_toml_then_default(workdir: Path) -> None:
    """Each key takes its value from the highest layer that sets it."""
    write(workdir / "c.toml", '[ib]\nhost = "toml-host"\nport = 7001\nclient_id = 7\n')
    toml = Path("c.toml")  # relative to the cwd, as a user would pass it
    write(workdir / ".env", "IB_HOST=dotenv-host\nIB_PORT=7002\n")
    env = {"IB_HOST": "env-host"}

    s = load_settings(toml, environ=env)

    assert s.ib.host == "env-host"  # env > .env > TOML
    assert s.ib.port == 7002  # .env > TOML
    assert s.ib.client_id == 7  # TOML > default
    assert s.ib.market_data_type == 1  # default
    assert str(s.source_of("ib.host")) == "env IB_HOST"
    assert str(s.source_of("ib.port")) == ".env:2 (IB_PORT)"
    assert str(s.source_of("ib.client_id")) == "c.toml:4"
    assert str(s.source_of("ib.market_data_type")) == "default"


def test_environment_beats_dotenv_for_the_same_variable(workdir: Path) -> None:
    """The process environment wins over .env (the shell can always override a file)."""
    write(workdir / ".env", "IB_MARKET_DATA_TYPE=3\n")
    assert load_settings(None, environ={}).ib.market_data_type == 3
    assert load_settings(None, environ={"IB_MARKET_DATA_TYPE": "2"}).ib.market_data_type == 2


def test_empty_variable_means_not_set(workdir: Path) -> None:
    """``IB_PORT=`` (empty) leaves the lower layers in charge."""
    write(workdir / ".env", "IB_PORT=\n")
    s = load_settings(None, environ={"IB_CLIENT_ID": ""})
    assert s.ib.port == 7497
    assert s.ib.client_id == 101


def test_dotenv_is_read_from_the_working_directory(workdir: Path) -> None:
    """.env next to the config file but outside the cwd is not read."""
    other = workdir / "elsewhere"
    write(other / ".env", "IB_CLIENT_ID=55\n")
    assert load_settings(None, environ={}).ib.client_id == 101
    os.chdir(other)
    assert load_settings(None, environ={}).ib.client_id == 55


def test_relative_paths_resolve_against_the_working_directory(workdir: Path) -> None:
    """paths.* relative to the cwd, absolute ones kept as they are."""
    toml = write(workdir / "conf" / "c.toml", f'[paths]\ndata = "lake"\nstate = "{workdir}/st"\n')
    s = load_settings(toml, environ={})
    assert s.paths.data == workdir / "lake"
    assert s.paths.state == workdir / "st"
    assert s.paths.universe == workdir / "config" / "universe.csv"


def test_settings_are_frozen() -> None:
    """Nothing can change a setting after it was loaded."""
    s = Settings()
    with pytest.raises(ValidationError):
        s.ib.port = 1  # type: ignore[misc]


def test_live_port_needs_an_opt_in(workdir: Path) -> None:
    """7496 is refused, unless allow_live in [ib] or OPT_DATA_ALLOW_LIVE=1."""
    with pytest.raises(ConfigError, match=r"IB_PORT=7496.*OPT_DATA_ALLOW_LIVE=1"):
        load_settings(None, environ={"IB_PORT": "7496"})
    ok = load_settings(None, environ={"IB_PORT": "7496", "OPT_DATA_ALLOW_LIVE": "1"})
    assert ok.ib.port == 7496
    toml = write(workdir / "c.toml", "[ib]\nallow_live = true\n")
    assert load_settings(toml, environ={"IB_PORT": "7496"}).ib.allow_live


def test_secret_only_from_environment_and_never_shown(workdir: Path) -> None:
    """IB_ACCOUNT is accepted from the environment, masked in show; refused in TOML."""
    s = load_settings(None, environ={"IB_ACCOUNT": "DU1234567"})
    assert s.secret_values() == ("DU1234567",)
    shown = {k: v for k, v, _ in effective_items(s)}
    assert shown["ib.account"] == "***"
    assert "DU1234567" not in repr(s)
    write(workdir / "c.toml", '[ib]\naccount = "DU1234567"\n')
    toml = Path("c.toml")
    with pytest.raises(ConfigError, match=r"ib.account at c.toml:2 is a secret") as exc:
        load_settings(toml, environ={})
    assert "DU1234567" not in str(exc.value)


def test_unknown_dotenv_variable_in_our_namespace_is_refused(workdir: Path) -> None:
    """A typo in .env (IB_PROT) is refused with the closest variable; others are ignored."""
    write(workdir / ".env", "HOME_THING=1\nIB_PROT=7497\n")
    with pytest.raises(ConfigError, match=r"IB_PROT in .env:2; did you mean IB_PORT\?"):
        load_settings(None, environ={})


# --- refusals, in-process --------------------------------------------------------------------

BAD_TOML = [
    pytest.param(
        "[rate_limits.snapshot]\nper_minut = 5\n",
        [
            "rate_limits.snapshot.per_minut",
            "c.toml:2",
            "did you mean rate_limits.snapshot.per_minute",
        ],
        id="typo",
    ),
    pytest.param(
        "[rate_limits]\nmax_concurrent_snapshots = 5\n",
        ["c.toml:2", "did you mean max_concurrent_snapshots (at the top level"],
        id="wrong-table",
    ),
    pytest.param(
        "[rate_limits.historical]\nper_minute = -3\n",
        ["rate_limits.historical.per_minute = -3", "c.toml:2", "greater than 0"],
        id="negative-rate",
    ),
    pytest.param(
        'max_concurrent_snapshots = "90"\n',
        ['max_concurrent_snapshots = "90"', "c.toml:1", "integer"],
        id="wrong-type",
    ),
    pytest.param(
        "rate_limits = 5\n",
        ["rate_limits = 5", "c.toml:1", "must be a table"],
        id="value-for-table",
    ),
    pytest.param(
        '[filters]\nrights = ["C", "X"]\n',
        ["filters.rights", "c.toml:2", '"C" and/or "P"'],
        id="bad-right",
    ),
    pytest.param(
        "[filters]\nmin_dte = 90\n",
        ["filters.min_dte = 90", "c.toml:2", "filters.max_dte = 60"],
        id="dte-window",
    ),
    pytest.param(
        '[schedule]\nupdate_time = "23:30"\n',
        ["schedule.latest_start", "later than schedule.update_time"],
        id="schedule-window",
    ),
    pytest.param(
        '[schedule]\ntimezone = "Eastern"\n',
        ['schedule.timezone = "Eastern"', "c.toml:2", "IANA"],
        id="time-zone",
    ),
    pytest.param(
        '[filters.trading_classes]\nSPX = ["SPX"]\nAAPL = 5\n',
        ["filters.trading_classes.AAPL = 5", "c.toml:3"],
        id="trading-class-entry",
    ),
    pytest.param(
        "[ib]\nport = \n",
        ["c.toml:2:8", "malformed TOML"],
        id="malformed",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_TOML)
def test_bad_toml_is_refused_naming_key_and_line(
    workdir: Path, text: str, expected: list[str]
) -> None:
    """Each problem is one line that names the key (or position) and the line."""
    write(workdir / "c.toml", text)
    with pytest.raises(ConfigError) as exc:
        load_settings(Path("c.toml"), environ={})
    message = str(exc.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"IB_MARKET_DATA_TYPE": "7"},
            ["IB_MARKET_DATA_TYPE=7", "environment variable", "4 (delayed-frozen)"],
        ),
        ({"IB_PORT": "abc"}, ["IB_PORT=abc", "environment variable", "integer"]),
        ({"IB_CLIENT_ID": "-1"}, ["IB_CLIENT_ID=-1", "greater than or equal to 0"]),
        ({"IB_LIBRARY": "ibapi"}, ["IB_LIBRARY=ibapi", '"ib_insync" or "ib_async"']),
        ({"OPT_DATA_ALLOW_LIVE": "perhaps"}, ["OPT_DATA_ALLOW_LIVE=perhaps", "boolean"]),
    ],
)
def test_bad_environment_is_refused_naming_the_variable(
    workdir: Path, env: dict[str, str], expected: list[str]
) -> None:
    """An environment value is blamed on its variable."""
    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ=env)
    for part in expected:
        assert part in str(exc.value)


# --- refusals, through the real command line --------------------------------------------------

CLI_CASES = [
    pytest.param(
        {"config/opt-data.toml": "[rate_limits.snapshot]\nper_minut = 5\n"},
        {},
        [],
        ["rate_limits.snapshot.per_minut", "config/opt-data.toml:2", "did you mean"],
        id="unknown-key",
    ),
    pytest.param(
        {"config/opt-data.toml": "max_concurrent_snapshots = 1.5\n"},
        {},
        [],
        ["max_concurrent_snapshots = 1.5", "config/opt-data.toml:1", "integer"],
        id="wrong-type",
    ),
    pytest.param(
        {"config/opt-data.toml": "[rate_limits.snapshot]\nper_minute = -10\n"},
        {},
        [],
        ["rate_limits.snapshot.per_minute = -10", "config/opt-data.toml:2", "greater than 0"],
        id="negative-rate",
    ),
    pytest.param(
        {"config/opt-data.toml": ""},
        {"IB_MARKET_DATA_TYPE": "7"},
        [],
        ["IB_MARKET_DATA_TYPE=7", "environment variable", "allowed: 1 (live)"],
        id="market-data-type",
    ),
    pytest.param(
        {"config/opt-data.toml": ""},
        {"IB_PORT": "abc"},
        [],
        ["IB_PORT=abc", "environment variable", "integer"],
        id="port-not-a-number",
    ),
    pytest.param(
        {"config/opt-data.toml": "", ".env": "# comment\nIB_PORT=x7\n"},
        {},
        [],
        ["IB_PORT=x7", ".env:2", "integer"],
        id="dotenv-value",
    ),
    pytest.param(
        {"config/opt-data.toml": ""},
        {"IB_PORT": "7496"},
        [],
        ["IB_PORT=7496", "live-account port", "allow_live = true", "OPT_DATA_ALLOW_LIVE=1"],
        id="live-port",
    ),
    pytest.param(
        {},
        {},
        ["--config", "missing.toml"],
        ["config file missing.toml not found"],
        id="missing-file",
    ),
    pytest.param(
        {},
        {},
        [],
        ["config file config/opt-data.toml not found", "--config"],
        id="missing-default-file",
    ),
    pytest.param(
        {"conf.d/x": ""},
        {},
        ["--config", "conf.d"],
        ["config file conf.d is a directory"],
        id="unreadable-directory",
    ),
    pytest.param(
        {"config/opt-data.toml": "[ib]\nport = 7497\n[ib]\nhost = 'x'\n"},
        {},
        [],
        ["config/opt-data.toml:3:", "malformed TOML"],
        id="malformed",
    ),
]


@pytest.mark.parametrize(("files", "env", "args", "expected"), CLI_CASES)
def test_cli_refuses_bad_config_before_any_work(
    run_cli: Any,
    tmp_path: Path,
    files: dict[str, str],
    env: dict[str, str],
    args: list[str],
    expected: list[str],
) -> None:
    """Exit 2, one line on stderr naming key and source, no traceback, nothing written."""
    for name, text in files.items():
        write(tmp_path / name, text)
    result = run_cli(*args, "universe", "check", env=env)
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in expected:
        assert part in lines[0]
    assert not (tmp_path / "state").exists()  # refused before the run log was started


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_cli_refuses_an_unreadable_config_file(run_cli: Any, tmp_path: Path) -> None:
    """A config file without read permission: exit 2, the file named."""
    toml = write(tmp_path / "config" / "opt-data.toml", "")
    toml.chmod(0)
    result = run_cli("config", "show")
    assert result.code == 2
    assert "cannot be read" in result.stderr
    assert "Traceback" not in result.stderr


# --- the TOML line scanner -------------------------------------------------------------------


def test_key_lines_follow_tables_dotted_keys_and_skip_multiline_values() -> None:
    """Lines for headers, dotted and quoted keys; no keys found inside strings or arrays."""
    text = (
        "top = 1\n"  # 1
        "[a]\n"  # 2
        "b.c = 2\n"  # 3
        'd = """\n'  # 4
        "[fake]\n"  # 5
        'e = 3"""\n'  # 6
        "f = [\n"  # 7
        "  1,  # g = 4\n"  # 8
        "]\n"  # 9
        '"h.i" = 5\n'  # 10
        "[a . 'x y']\n"  # 11
        "z = { w = 1 }\n"  # 12
    )
    lines = toml_key_lines(text)
    assert lines["top"] == 1
    assert lines["a"] == 2
    assert lines["a.b"] == 3
    assert lines["a.b.c"] == 3
    assert lines["a.d"] == 4
    assert "fake" not in lines
    assert "a.e" not in lines
    assert lines["a.f"] == 7
    assert "a.g" not in lines
    assert lines["a.h.i"] == 10
    assert lines["a.x y"] == 11
    assert lines["a.x y.z"] == 12


# --- property tests ----------------------------------------------------------------------------

RATE_KEYS = (
    "rate_limits.discovery.per_minute",
    "rate_limits.snapshot.per_minute",
    "rate_limits.historical.per_minute",
    "rate_limits.messages_per_second",
)
finite = st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False)
positive_int = st.integers(min_value=1, max_value=10_000)
symbol = st.text(string.ascii_uppercase, min_size=1, max_size=5)

VALID: dict[str, st.SearchStrategy[Any]] = {
    "ib.host": st.sampled_from(["127.0.0.1", "localhost", "gateway.internal"]),
    "ib.port": st.integers(1, 65535).filter(lambda p: p not in (7496, 4001)),
    "ib.client_id": st.integers(0, 2_147_483_647),
    "ib.market_data_type": st.integers(1, 4),
    "ib.library": st.sampled_from(["ib_insync", "ib_async"]),
    "ib.allow_live": st.booleans(),
    "ib.connect_timeout_seconds": finite,
    "ib.request_timeout_seconds": positive_int,
    **{key: st.one_of(finite, positive_int) for key in RATE_KEYS},
    "max_concurrent_snapshots": positive_int,
    "paths.data": st.sampled_from(["data", "lake/x", "/srv/opt-data"]),
    "paths.state": st.sampled_from(["state", "st"]),
    "paths.universe": st.sampled_from(["config/universe.csv", "u.csv"]),
    "retry.pacing_first_wait_seconds": finite,
    "retry.backoff_factor": st.floats(1, 10),
    "retry.max_consecutive_failures": positive_int,
    "retry.reconnect_attempts": st.integers(0, 100),
    "retry.reconnect_first_wait_seconds": finite,
    "retry.reconnect_max_wait_seconds": finite,
    "filters.min_dte": st.integers(0, 30),
    "filters.max_dte": st.integers(30, 1000),
    "filters.moneyness": finite,
    "filters.rights": st.sampled_from([["C"], ["P"], ["C", "P"], ["P", "C"]]),
    "filters.include_weeklies": st.booleans(),
    "filters.max_contracts_per_underlying": st.integers(0, 100_000),
    "filters.trading_classes": st.dictionaries(symbol, st.lists(symbol, max_size=3), max_size=3),
    "schedule.timezone": st.sampled_from(["America/New_York", "UTC", "Europe/London"]),
    "schedule.update_time": st.sampled_from(["16:30", "17:00", "09:05"]),
    "schedule.latest_start": st.sampled_from(["18:00", "23:59", "22:00"]),
    "snapshot.timeout_seconds": finite,
    "snapshot.require": st.sampled_from([[], ["bid"], ["bid", "ask", "open_interest"]]),
    "compaction.days": st.integers(0, 365),
    "compaction.target_file_mb": positive_int,
    "compaction.row_group_rows": st.integers(1024, 1 << 20),
    "logging.level": st.sampled_from(["DEBUG", "INFO", "warning", "ERROR"]),
}
NUMERIC = {k for k in VALID if k not in {"ib.host", "ib.library", "ib.allow_live"}} - {
    "paths.data",
    "paths.state",
    "paths.universe",
    "filters.rights",
    "filters.include_weeklies",
    "filters.trading_classes",
    "schedule.timezone",
    "schedule.update_time",
    "schedule.latest_start",
    "snapshot.require",
    "logging.level",
}


def test_property_strategies_cover_every_file_key() -> None:
    """The generator knows every key that may appear in the file."""
    assert set(VALID) == set(leaf_keys()) - SECRET_KEYS


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def to_toml(flat: dict[str, Any]) -> str:
    """A TOML document with top-level keys first, then one [table] per parent."""
    tables: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        parent, _, leaf = key.rpartition(".")
        tables.setdefault(parent, {})[leaf] = value
    out = [f"{k} = {toml_value(v)}" for k, v in tables.pop("", {}).items()]
    for parent, items in tables.items():
        out.append(f"\n[{parent}]")
        out.extend(f"{k} = {toml_value(v)}" for k, v in items.items())
    return "\n".join(out) + "\n"


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(VALID)), unique=True))
    return {key: draw(VALID[key]) for key in keys}


def expected(key: str, value: Any, base: Path) -> Any:
    if key.startswith("paths."):
        return base / value
    if key.startswith("schedule.") and key != "schedule.timezone":
        return time.fromisoformat(value)
    if isinstance(value, list):
        return tuple(value)
    if key == "filters.trading_classes":
        return {k: tuple(v) for k, v in value.items()}
    if key == "logging.level":
        return value.upper()
    return value


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=valid_documents())
def test_property_valid_documents_load_with_their_lines(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    """Any document of valid values loads; each value is as written, blamed on its line."""
    text = to_toml(doc)
    path = write(tmp_path / "gen.toml", text)
    loaded = load_settings(path, environ={}, dotenv_file=None, cwd=tmp_path)
    lines = text.splitlines()
    for key, value in doc.items():
        assert loaded.get(key) == expected(key, value, tmp_path), key
        src = loaded.source_of(key)
        assert src.kind == "file"
        assert src.line is not None
        assert lines[src.line - 1].startswith(key.rpartition(".")[2] + " ="), (key, text)


NOT_A_KEY = st.from_regex(r"[a-z][a-z_]{0,14}", fullmatch=True)
WRONG_FOR_NUMBER = st.sampled_from(["12", True, [1], "", {"x": 1}])
WRONG_FOR_OTHER = st.sampled_from([12, 1.5, [1], {"x": 1}])


@st.composite
def invalid_documents(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid document plus one fault; returns the document and the key the error must name."""
    doc = draw(valid_documents())
    doc.pop("filters.min_dte", None)  # keep cross-key rules out of the way
    doc.pop("schedule.update_time", None)
    kind = draw(st.sampled_from(["unknown", "wrong-type", "negative-rate"]))
    if kind == "unknown":
        table = draw(st.sampled_from(["", "ib.", "rate_limits.snapshot.", "filters.", "retry."]))
        name = draw(NOT_A_KEY)
        key = table + name
        if key in VALID or key.rpartition(".")[2] in {k.rpartition(".")[2] for k in VALID}:
            key = table + name + "_x"
        doc[key] = draw(st.integers(0, 9))
        return doc, key
    if kind == "negative-rate":
        key = draw(st.sampled_from(RATE_KEYS))
        doc[key] = draw(st.one_of(st.integers(-10_000, 0), st.floats(-1e6, 0.0)))
        return doc, key
    key = draw(st.sampled_from(sorted(VALID)))
    if key in NUMERIC:
        doc[key] = draw(WRONG_FOR_NUMBER)
    elif key in {"ib.host", "ib.library", "schedule.timezone", "logging.level"} or key.startswith(
        "paths."
    ):
        doc[key] = draw(st.sampled_from([12, True, [1], {"x": 1}]))
    else:
        doc[key] = draw(WRONG_FOR_OTHER if key != "filters.trading_classes" else st.just(5))
    return doc, key


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=invalid_documents())
def test_property_invalid_documents_are_refused_naming_the_key(
    tmp_path: Path, case: tuple[dict[str, Any], str]
) -> None:
    """A single bad key is refused with a ConfigError that names it, never anything else."""
    doc, key = case
    path = write(tmp_path / "gen.toml", to_toml(doc))
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={}, dotenv_file=None, cwd=tmp_path)
    assert key in str(exc.value)
    assert "gen.toml" in str(exc.value)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_property_arbitrary_text_is_loaded_or_refused_cleanly(text: str) -> None:
    """Whatever the file holds, the result is settings or a ConfigError, nothing else."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "any.toml"
        path.write_text(text, encoding="utf-8")
        try:
            load_settings(path, environ={}, dotenv_file=None, cwd=Path(tmp))
        except ConfigError as exc:
            assert "\n" not in str(exc)


def test_a_byte_order_mark_is_tolerated(workdir: Path) -> None:
    """A file saved with a UTF-8 BOM (Windows editors) loads like any other."""
    (workdir / "c.toml").write_bytes(b"\xef\xbb\xbfmax_concurrent_snapshots = 5\n")
    loaded = load_settings(Path("c.toml"), environ={})
    assert loaded.max_concurrent_snapshots == 5
    assert str(loaded.source_of("max_concurrent_snapshots")) == "c.toml:1"
