"""Settings: one frozen, typed object built from environment, ``.env``, TOML and defaults.

Precedence is decided **per key**: the process environment beats ``.env`` (in the current
working directory), which beats the TOML file (``config/opt-data.toml`` unless ``--config``
says otherwise), which beats the defaults declared on the models below. Every effective value
remembers where it came from (:meth:`Settings.source_of`), which ``opt-data config show``
prints and every error message names.

Only a few settings have environment names (``ENV_VARS``): the IB connection of the user's
runbook (``IB_HOST``, ``IB_PORT``, ``IB_CLIENT_ID``, ``IB_MARKET_DATA_TYPE``), the API library
(``IB_LIBRARY``), the live-port opt-in (``OPT_DATA_ALLOW_LIVE``) and the one secret
(``IB_ACCOUNT``), which may *only* come from the environment or ``.env`` and is never shown.

Bad input is refused before any work starts with :class:`~opt_data.errors.ConfigError`, whose
one-line message names the key, where the value came from (file and line, ``.env`` line or
environment variable), the bad value and what is allowed: unknown keys (with the closest valid
key), wrong types, out-of-range values, missing or unreadable files and malformed TOML.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    TypeAdapter,
    ValidationError,
)
from pydantic.fields import FieldInfo

from opt_data.errors import ConfigError
from opt_data.toml_lines import line_of as _line_of
from opt_data.toml_lines import toml_key_lines

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "ENV_VARS",
    "LIVE_PORTS",
    "SNAPSHOT_FIELDS",
    "Settings",
    "Source",
    "effective_items",
    "leaf_keys",
    "load_settings",
    "toml_key_lines",
]

DEFAULT_CONFIG_FILE = Path("config/opt-data.toml")
LIVE_PORTS = frozenset({7496, 4001})  # TWS live, IB Gateway live; 7497/4002 are paper

# environment name -> dotted settings key
ENV_VARS: Mapping[str, str] = {
    "IB_HOST": "ib.host",
    "IB_PORT": "ib.port",
    "IB_CLIENT_ID": "ib.client_id",
    "IB_MARKET_DATA_TYPE": "ib.market_data_type",
    "IB_LIBRARY": "ib.library",
    "IB_ACCOUNT": "ib.account",
    "OPT_DATA_ALLOW_LIVE": "ib.allow_live",
}
_ENV_PREFIXES = ("IB_", "OPT_DATA_")
SECRET_KEYS = frozenset({"ib.account"})  # environment / .env only, never displayed or logged
_MAP_KEYS = frozenset({"filters.trading_classes"})  # tables whose keys are data (symbols)

# --- value types --------------------------------------------------------------------------


def _parse_hhmm(value: object) -> object:
    """Accept ``"17:00"`` / ``"17:00:00"`` strings as well as TOML local times."""
    if isinstance(value, str):
        if not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value.strip()):
            raise ValueError('must be a time of day written HH:MM, e.g. "17:00"')
        try:
            return time.fromisoformat(value.strip().zfill(5 if value.count(":") == 1 else 8))
        except ValueError as exc:
            raise ValueError('must be a time of day written HH:MM, e.g. "17:00"') from exc
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError('must be an IANA time zone name, e.g. "America/New_York"') from exc
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _to_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _unique(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        raise ValueError("must not repeat a value")
    return value


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
TimeOfDay = Annotated[time, BeforeValidator(_parse_hhmm)]
Rights = Annotated[
    tuple[Literal["C", "P"], ...],
    BeforeValidator(_to_tuple),
    Field(min_length=1),
    AfterValidator(_unique),
]
SnapshotField = Literal[
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "last",
    "close",
    "volume",
    "open_interest",
    "greeks",
    "underlying_price",
]
SNAPSHOT_FIELDS: tuple[str, ...] = get_args(SnapshotField)
FsPath = Annotated[Path, Field(strict=False)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class IBSettings(_Model):
    """How to reach IB Gateway / TWS. The connection is always read-only."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(7497, ge=1, le=65535)
    client_id: int = Field(101, ge=0, le=2_147_483_647)
    market_data_type: int = Field(1, ge=1, le=4)
    library: Literal["ib_insync", "ib_async"] = "ib_insync"
    allow_live: bool = False
    connect_timeout_seconds: PositiveFloat = 10.0
    request_timeout_seconds: PositiveFloat = 60.0
    account: SecretStr | None = None


class RateLimit(_Model):
    """One token bucket: requests of one class per minute."""

    per_minute: PositiveFloat


class RateLimits(_Model):
    """Token buckets per request class plus the global API message cap."""

    discovery: RateLimit = RateLimit(per_minute=1800)
    snapshot: RateLimit = RateLimit(per_minute=1440)
    historical: RateLimit = RateLimit(per_minute=60)
    messages_per_second: PositiveFloat = 48.0


class PathSettings(_Model):
    """Data root, state root and universe file; relative paths resolve against the cwd."""

    data: FsPath = Path("data")
    state: FsPath = Path("state")
    universe: FsPath = Path("config/universe.csv")


class RetrySettings(_Model):
    """Pacing back-off (30 s, 60 s, 120 s, ...) and reconnect policy."""

    pacing_first_wait_seconds: PositiveFloat = 30.0
    backoff_factor: Annotated[float, Field(ge=1, allow_inf_nan=False)] = 2.0
    max_consecutive_failures: int = Field(3, ge=1)
    reconnect_attempts: int = Field(10, ge=0)
    reconnect_first_wait_seconds: PositiveFloat = 2.0
    reconnect_max_wait_seconds: PositiveFloat = 300.0


class FilterSettings(_Model):
    """Which listed contracts of an underlying are collected."""

    min_dte: int = Field(0, ge=0)
    max_dte: int = Field(60, ge=0)
    moneyness: PositiveFloat = 0.2
    rights: Rights = ("C", "P")
    include_weeklies: bool = True
    max_contracts_per_underlying: int = Field(400, ge=0)
    trading_classes: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class ScheduleSettings(_Model):
    """When the daily update runs, in the exchange's time zone."""

    timezone: Annotated[str, AfterValidator(_check_timezone)] = "America/New_York"
    update_time: TimeOfDay = time(17, 0)
    latest_start: TimeOfDay = time(23, 0)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SnapshotSettings(_Model):
    """How long one contract's market data may take, and what it must contain."""

    timeout_seconds: PositiveFloat = 15.0
    require: Annotated[
        tuple[SnapshotField, ...], BeforeValidator(_to_tuple), AfterValidator(_unique)
    ] = ("bid", "ask", "greeks", "open_interest")


class CompactionSettings(_Model):
    """`opt-data compact`: which partitions, and the shape of the merged files."""

    days: int = Field(14, ge=0)
    target_file_mb: int = Field(1024, ge=1)
    row_group_rows: int = Field(131_072, ge=1024)


class LoggingSettings(_Model):
    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = "INFO"


class Settings(_Model):
    """The effective settings of one run. Build it with :func:`load_settings`."""

    ib: IBSettings = Field(default_factory=IBSettings)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    max_concurrent_snapshots: int = Field(90, ge=1)
    paths: PathSettings = Field(default_factory=PathSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    snapshot: SnapshotSettings = Field(default_factory=SnapshotSettings)
    compaction: CompactionSettings = Field(default_factory=CompactionSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    _sources: dict[str, Source] = PrivateAttr(default_factory=dict)
    _config_file: Path | None = PrivateAttr(default=None)

    def source_of(self, key: str) -> Source:
        """Where the effective value of dotted ``key`` came from."""
        if key not in _LEAVES:
            raise KeyError(key)
        return self._sources.get(key, _DEFAULT)

    @property
    def config_file(self) -> Path | None:
        """The TOML file these settings were read from (``None``: defaults only)."""
        return self._config_file

    def get(self, key: str) -> Any:
        """The effective value of dotted ``key`` (e.g. ``"rate_limits.snapshot.per_minute"``)."""
        node: Any = self
        for part in key.split("."):
            node = getattr(node, part)
        return node

    def secret_values(self) -> tuple[str, ...]:
        """The plain values of the secrets, for log redaction. Never print them."""
        out = []
        for key in sorted(SECRET_KEYS):
            value = self.get(key)
            if isinstance(value, SecretStr) and value.get_secret_value():
                out.append(value.get_secret_value())
        return tuple(out)


# --- provenance -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where one value came from: ``default``, a TOML ``file`` line, ``dotenv`` or ``env``."""

    kind: Literal["default", "file", "dotenv", "env"]
    path: Path | None = None
    line: int | None = None
    var: str | None = None

    def __str__(self) -> str:
        if self.kind == "default":
            return "default"
        if self.kind == "env":
            return f"env {self.var}"
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where} ({self.var})" if self.kind == "dotenv" else where


_DEFAULT = Source("default")


def _walk(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo, bool]]:
    """(dotted key, field, is_table) for every field of the model tree, depth first."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield key, info, True
            yield from _walk(ann, key + ".")
        else:
            yield key, info, False


_LEAVES: dict[str, FieldInfo] = {k: f for k, f, table in _walk(Settings) if not table}
_TABLES: frozenset[str] = frozenset(k for k, _, table in _walk(Settings) if table)


def leaf_keys() -> tuple[str, ...]:
    """Every dotted settings key, in declaration order (the TOML file's order)."""
    return tuple(_LEAVES)


# Human words for what is allowed, where pydantic's own message would be too terse.
_ALLOWED: Mapping[str, str] = {
    "ib.market_data_type": "allowed: 1 (live), 2 (frozen), 3 (delayed), 4 (delayed-frozen)",
    "ib.port": "allowed: a TCP port 1-65535 (7497 paper, 7496 live)",
    "ib.library": 'allowed: "ib_insync" or "ib_async"',
    "filters.rights": 'allowed: a non-empty list of "C" and/or "P"',
    "snapshot.require": "allowed: a list of " + ", ".join(f'"{f}"' for f in SNAPSHOT_FIELDS),
    "logging.level": 'allowed: "DEBUG", "INFO", "WARNING" or "ERROR"',
    "filters.trading_classes": 'allowed: a table of SYMBOL = ["CLASS", ...]',
}


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Value:
    value: Any
    source: Source
    raw: str | None = None  # the text as written, for environment / .env values
    lines: Mapping[str, int] | None = None  # the TOML file's key lines, for file values


def load_settings(
    config_file: Path | None = DEFAULT_CONFIG_FILE,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_file: Path | None = Path(".env"),
    cwd: Path | None = None,
) -> Settings:
    """Build the effective settings; refuse bad input with a :class:`ConfigError`.

    Args:
        config_file: the TOML file (must exist and parse); ``None`` reads no file.
        environ: the environment to read (default ``os.environ``).
        dotenv_file: ``.env`` file, relative to ``cwd``; skipped when it does not exist.
        cwd: base of relative paths (default: the current working directory).

    Raises:
        ConfigError: one line naming the key, its source, the value and what is allowed.
    """
    base = Path.cwd() if cwd is None else cwd
    env = os.environ if environ is None else environ
    values: dict[str, _Value] = {}
    if config_file is not None:
        values.update(_read_toml(config_file, base))
    if dotenv_file is not None:
        values.update(_read_dotenv(dotenv_file, base))
    values.update(_read_environ(env))

    nested: dict[str, Any] = {}
    for key, val in values.items():
        value = _coerce_string(key, val) if val.raw is not None else val.value
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    try:
        settings = Settings.model_validate(nested)
    except ValidationError as exc:
        raise _from_validation(exc, values) from None
    sources = {k: v.source for k, v in values.items()}
    _cross_checks(settings, sources, values)
    settings = _resolve_paths(settings, base)
    settings._sources.update(sources)
    settings._config_file = config_file
    return settings


def _read_toml(path: Path, base: Path) -> dict[str, _Value]:
    full = path if path.is_absolute() else base / path
    try:
        data = full.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found (in {base}); pass --config PATH or run from the "
            "project directory"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")  # tolerate a BOM from Windows editors
        doc = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_syntax_message(path, text, str(exc))) from None

    lines = toml_key_lines(text)
    out: dict[str, _Value] = {}
    problems: list[tuple[int, str]] = []

    def where(key: str) -> Source:
        return Source("file", path, _line_of(key, lines))

    def visit(table: Mapping[str, Any], prefix: str) -> None:
        for name, value in table.items():
            key = f"{prefix}{name}"
            src = where(key)
            if key in _TABLES:
                if isinstance(value, dict):
                    visit(value, key + ".")
                else:
                    problems.append(
                        (
                            src.line or 0,
                            f"{key} = {_show(key, value)} at {src}: "
                            "must be a table ([" + key + "]), not a single value",
                        )
                    )
            elif key in _LEAVES:
                if key in SECRET_KEYS:
                    env_name = next(n for n, k in ENV_VARS.items() if k == key)
                    problems.append(
                        (
                            src.line or 0,
                            f"{key} at {src} is a secret: set it only "
                            f"in the environment or .env as {env_name}, never in "
                            "the config file",
                        )
                    )
                elif isinstance(value, dict) and key not in _MAP_KEYS:
                    problems.append(
                        (
                            src.line or 0,
                            f"{key} at {src} must be a single value, not a table; {_allowed(key)}",
                        )
                    )
                else:
                    out[key] = _Value(_freeze(value), src, lines=lines)
            else:
                problems.append((src.line or 0, _unknown_key_message(key, src)))

    visit(doc, "")
    if problems:
        problems.sort(key=lambda p: p[0])
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ConfigError(problems[0][1] + more)
    return out


def _read_dotenv(path: Path, base: Path) -> dict[str, _Value]:
    full = path if path.is_absolute() else base / path
    if not full.exists():
        return {}
    try:
        text = full.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path} cannot be read: {reason}") from None
    values = dotenv_values(stream=io.StringIO(text))
    out: dict[str, _Value] = {}
    for name, raw in values.items():
        line = _dotenv_line(text, name)
        if name not in ENV_VARS:
            if name.startswith(_ENV_PREFIXES):
                hint = difflib.get_close_matches(name, list(ENV_VARS), n=1)
                dym = f"; did you mean {hint[0]}?" if hint else ""
                raise ConfigError(
                    f"unknown variable {name} in {path}:{line}{dym} (known: {', '.join(ENV_VARS)})"
                )
            continue
        if raw is None or raw.strip() == "":
            continue  # `IB_PORT=` means "not set"
        out[ENV_VARS[name]] = _Value(None, Source("dotenv", path, line, name), raw.strip())
    return out


def _read_environ(env: Mapping[str, str]) -> dict[str, _Value]:
    out: dict[str, _Value] = {}
    for name, key in ENV_VARS.items():
        raw = env.get(name)
        if raw is not None and raw.strip() != "":
            out[key] = _Value(None, Source("env", var=name), raw.strip())
    return out


def _dotenv_line(text: str, name: str) -> int | None:
    pattern = re.compile(rf"^\s*(?:export\s+)?{re.escape(name)}\s*=")
    found = None
    for no, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            found = no  # python-dotenv keeps the last assignment
    return found


def _coerce_string(key: str, val: _Value) -> Any:
    """Parse an environment / .env string into the field's type; errors name the variable."""
    info = _LEAVES[key]
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    try:
        return adapter.validate_strings(val.raw)
    except ValidationError as exc:
        problem = _problem(key, exc.errors()[0])
        raise ConfigError(f"{_describe(key, val)}: {problem}") from None


def _from_validation(exc: ValidationError, values: Mapping[str, _Value]) -> ConfigError:
    errors = exc.errors()
    first = errors[0]
    full = ".".join(str(p) for p in first["loc"])
    loc = [str(p) for p in first["loc"]]
    key = full
    while key and key not in _LEAVES and key not in _TABLES:
        loc.pop()
        key = ".".join(loc)
    val = values.get(key) or _Value(first.get("input"), _DEFAULT)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    if key in _MAP_KEYS and full != key and val.source.kind == "file":
        # name the entry inside the table (e.g. filters.trading_classes.AAPL) and its line
        entry = ".".join(full.split(".")[: len(key.split(".")) + 1])
        line = (val.lines or {}).get(entry, val.source.line)
        inner = _Value(first.get("input"), Source("file", val.source.path, line))
        return ConfigError(f"{_describe(entry, inner)}: {_problem(key, first)}{more}")
    return ConfigError(f"{_describe(key, val)}: {_problem(key, first)}{more}")


def _cross_checks(
    settings: Settings, sources: Mapping[str, Source], values: Mapping[str, _Value]
) -> None:
    def val(key: str) -> _Value:
        return values.get(key) or _Value(settings.get(key), _DEFAULT)

    f = settings.filters
    if f.min_dte > f.max_dte:
        raise ConfigError(
            f"{_describe('filters.min_dte', val('filters.min_dte'))}: must not exceed "
            f"filters.max_dte = {f.max_dte} ({sources.get('filters.max_dte', _DEFAULT)})"
        )
    s = settings.schedule
    if s.update_time >= s.latest_start:
        raise ConfigError(
            f"{_describe('schedule.latest_start', val('schedule.latest_start'))}: must be "
            f'later than schedule.update_time = "{s.update_time:%H:%M}" '
            f"({sources.get('schedule.update_time', _DEFAULT)})"
        )
    if settings.ib.port in LIVE_PORTS and not settings.ib.allow_live:
        raise ConfigError(
            f"{_describe('ib.port', val('ib.port'))}: {settings.ib.port} is a live-account "
            "port; the live port needs an explicit opt-in: set allow_live = true in [ib] of "
            "the config file or OPT_DATA_ALLOW_LIVE=1 (paper ports: 7497 TWS, 4002 Gateway)"
        )


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def resolve(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else base / p

    paths = settings.paths
    resolved = PathSettings.model_construct(
        data=resolve(paths.data), state=resolve(paths.state), universe=resolve(paths.universe)
    )
    return settings.model_copy(update={"paths": resolved})


# --- messages --------------------------------------------------------------------------------


def _describe(key: str, val: _Value) -> str:
    """``KEY = VALUE at SOURCE`` in the words of the layer the value came from."""
    src = val.source
    if src.kind == "env":
        shown = "***" if key in SECRET_KEYS else val.raw
        return f"{src.var}={shown} (environment variable, sets {key})"
    if src.kind == "dotenv":
        shown = "***" if key in SECRET_KEYS else val.raw
        return f"{src.var}={shown} at {src} (sets {key})"
    if src.kind == "file":
        return f"{key} = {_show(key, val.value)} at {src}"
    return f"{key} = {_show(key, val.value)} (default)"


def _problem(key: str, error: Mapping[str, Any]) -> str:
    msg = str(error.get("msg", "invalid value"))
    msg = re.sub(r"^Value error, ", "", msg)
    msg = re.sub(r"^(Input|Value) should (be|have)", r"must \2", msg)
    msg = re.sub(r"^Input", "value", msg).replace("valid tuple", "list")
    hint = _ALLOWED.get(key)
    if hint is None:
        return f"{msg} (default: {_show(key, _default_of(key))})"
    if error.get("type") == "literal_error":
        return hint
    return f"{msg}; {hint}"


def _allowed(key: str) -> str:
    return _ALLOWED.get(key, f"default {_show(key, _default_of(key))}")


def _default_of(key: str) -> Any:
    return Settings().get(key)


def _show(key: str, value: Any) -> str:
    if value is None:
        return "(not set)"
    if key in SECRET_KEYS:
        return "***"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show("", v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show('', v)}" for k, v in value.items()) + "}"
    if isinstance(value, time):
        return f'"{value:%H:%M}"' if value.second == 0 else f'"{value:%H:%M:%S}"'
    if isinstance(value, Path):
        return f'"{value}"'
    return str(value)


def _unknown_key_message(key: str, src: Source) -> str:
    candidates = [*_LEAVES, *_TABLES]
    last_part = key.rpartition(".")[2]
    same_name = [k for k in candidates if k.rpartition(".")[2] == last_part]
    if same_name:  # a valid key in the wrong table
        where = "at the top level, before any [table]" if "." not in same_name[0] else ""
        return (
            f"unknown key {key} at {src}; did you mean {same_name[0]}"
            f"{' (' + where + ')' if where else ''}?"
        )
    hint = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not hint:  # a typo in the last part only: compare against the keys of that table
        prefix, _, last = key.rpartition(".")
        siblings = {k.rpartition(".")[2]: k for k in candidates if k.rpartition(".")[0] == prefix}
        near = difflib.get_close_matches(last, list(siblings), n=1, cutoff=0.5)
        hint = [siblings[near[0]]] if near else []
    dym = f"; did you mean {hint[0]}?" if hint else ""
    return f"unknown key {key} at {src}{dym} (valid keys are listed in docs/configuration.md)"


def _toml_syntax_message(path: Path, text: str, message: str) -> str:
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if m:
        return f"{path}:{m.group(1)}:{m.group(2)}: malformed TOML: {message.strip()}"
    end = message.replace(" (at end of document)", "")
    return f"{path}:{text.count(chr(10)) + 1}: malformed TOML: {end} (at end of document)"


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    return value


# --- display ---------------------------------------------------------------------------------


def effective_items(settings: Settings) -> list[tuple[str, str, str]]:
    """``(key, value as TOML would write it, source)`` for every key; secrets are masked."""
    return [(k, _show(k, settings.get(k)), str(settings.source_of(k))) for k in _LEAVES]
