"""`opt-data doctor`: the runbook's troubleshooting table, checked one row at a time.

Each check says what it looked at, whether it passed, and the command or step that fixes
it. Checks that need the gateway run only if it can be reached.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from opt_data.calendar import TradingCalendar, default_cache_dir
from opt_data.config import Settings
from opt_data.errors import ClientIdInUseError, IBConnectionError, OptDataError
from opt_data.ib import ConnectionParams, IBClient
from opt_data.universe import load_universe

Verdict = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnosis: what was checked, the verdict, and what to do about it."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""


def _writable(path: Path) -> bool:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


def local_checks(settings: Settings, now: dt.datetime) -> list[Check]:
    """Config, paths, universe and calendar: everything that needs no gateway."""
    checks = [Check("config", "ok", f"valid ({settings.config_file or 'defaults only'})")]
    for name, path in (("data path", settings.paths.data), ("state path", settings.paths.state)):
        ok = _writable(path)
        checks.append(
            Check(
                name,
                "ok" if ok else "fail",
                f"{path} is {'writable' if ok else 'not writable'}",
                "" if ok else f"fix the permissions of {path} or change paths.* in the config",
            )
        )
    try:
        universe = load_universe(settings.paths.universe)
        checks.append(Check("universe", "ok", f"{len(universe)} underlyings"))
    except OptDataError as exc:
        checks.append(Check("universe", "fail", str(exc), "opt-data universe sync"))
    calendar = TradingCalendar(cache_dir=default_cache_dir())
    today = now.astimezone(settings.schedule.tz).date()
    if calendar.is_session(today):
        close = calendar.close_time_local(today)
        detail = f"{today} is a session closing at {close:%H:%M %Z}"
    else:
        detail = f"{today} is not a session; next: {calendar.next_session(today)}"
    checks.append(Check("calendar", "ok", detail))
    return checks


async def gateway_checks(settings: Settings) -> list[Check]:
    """Reachability, client id, the gateway's clock and market-data permissions."""
    ib = settings.ib
    params = ConnectionParams(
        host=ib.host,
        port=ib.port,
        client_id=ib.client_id,
        library=ib.library,
        connect_timeout=ib.connect_timeout_seconds,
        request_timeout=min(ib.request_timeout_seconds, 20.0),
    )
    client = IBClient(params)
    where = f"{ib.host}:{ib.port}"
    try:
        await client.connect()
    except ClientIdInUseError as exc:
        return [
            Check("gateway", "ok", f"reachable at {where}"),
            Check("client id", "fail", str(exc), "set IB_CLIENT_ID to a free id"),
        ]
    except IBConnectionError as exc:
        return [
            Check(
                "gateway",
                "fail",
                str(exc),
                "start IB Gateway/TWS, enable API access, check IB_HOST/IB_PORT "
                "(7497 paper, 7496 live)",
            )
        ]
    try:
        checks = [
            Check("gateway", "ok", f"connected to {where} ({ib.library})"),
            Check("client id", "ok", f"{ib.client_id} is free"),
        ]
        gateway_now = await client.current_time()
        skew = abs((gateway_now - dt.datetime.now(dt.UTC)).total_seconds())
        checks.append(Check("gateway clock", "ok", f"{gateway_now:%Y-%m-%d %H:%M:%S} UTC"))
        if skew > 120:
            checks.append(
                Check(
                    "clock skew",
                    "warn",
                    f"the gateway's clock is {skew:.0f}s from this machine's "
                    "(opt-data follows the gateway's)",
                )
            )
        checks.append(await _market_data_check(client, settings))
        return checks
    finally:
        client.disconnect()


async def _market_data_check(client: IBClient, settings: Settings) -> Check:
    """Stream one underlying: permissions, delayed data and the type actually received."""
    wanted = settings.ib.market_data_type
    client.set_market_data_type(wanted)
    try:
        underlying = await client.qualify_underlying("AAPL", "AAPL")
        snap = await client.stream_snapshot(
            underlying,
            generic_ticks="101",
            required=frozenset({"bid", "ask"}),
            timeout=settings.snapshot.timeout_seconds,
            now=lambda: dt.datetime.now(dt.UTC),
        )
    except OptDataError as exc:
        return Check("market data", "fail", f"AAPL: {exc}", "check the account's subscriptions")
    codes = {e.split(":", 1)[0] for e in snap.errors}
    if codes & {"354", "10168", "10186", "10197", "10089", "10091"}:
        return Check(
            "market data",
            "fail",
            f"AAPL: {'; '.join(snap.errors)}",
            "subscribe to US equity/option data (OPRA) for the API user, or set "
            "IB_MARKET_DATA_TYPE=3 for delayed data; 10197 = the user is logged in elsewhere",
        )
    received = snap.market_data_type
    if received in (3, 4) and wanted in (1, 2):
        return Check(
            "market data",
            "warn",
            f"asked type {wanted}, IB sends delayed type {received} (no live subscription)",
            "subscribe to live data, or set IB_MARKET_DATA_TYPE=3 to say so",
        )
    return Check("market data", "ok", f"AAPL quotes arrive (type {received})")


def run_doctor(settings: Settings, now: Callable[[], dt.datetime] | None = None) -> list[Check]:
    """Every check, local first; the gateway's only when the config is usable."""
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    return [*local_checks(settings, clock()), *asyncio.run(gateway_checks(settings))]
