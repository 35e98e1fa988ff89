"""SimServer: the asyncio TCP gateway and the state IB keeps across all API connections.

One TWS/Gateway serves every client id of a user, so market-data lines, open historical
queries, historical pacing, client ids in use and IB↔gateway connectivity are gateway-wide and
live here; everything per connection lives in ``session.Session``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable
from zoneinfo import ZoneInfo

from opt_data.sim import handlers_market_data as market_data
from opt_data.sim import messages as m
from opt_data.sim.clock import SimClock
from opt_data.sim.limits import HistoricalPacing, SimLimits
from opt_data.sim.market import Market
from opt_data.sim.scenario import Scenario
from opt_data.sim.session import Session
from opt_data.sim.stats import SimStats

NEW_YORK = ZoneInfo("America/New_York")


class SimServer:
    """The simulated gateway. Create it on the loop that will run it; all methods are loop-only."""

    def __init__(
        self,
        *,
        market: Market,
        clock: SimClock,
        limits: SimLimits | None = None,
        scenario: Scenario | None = None,
        stats: SimStats | None = None,
        seed: int = 0,
    ) -> None:
        self.market = market
        self.clock = clock
        self.limits = limits or SimLimits()
        self.scenario = scenario or Scenario()
        self.stats = stats or SimStats()
        self.seed = seed
        self.pacing = HistoricalPacing(self.limits)
        self.lines_in_use = 0
        self.open_historical = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[Session] = set()
        self._connections = 0
        self._client_ids: set[int] = set()
        self._id_attempts: Counter[int] = Counter()
        self._storm_seen = [0] * len(self.scenario.pacing_storms)
        self._link_down = False
        self._link_lost_once = False
        self._held: list[tuple[Session, Callable[[], None]]] = []
        self._messages = 0
        self._hours: dict[tuple[dt.date, str], tuple[str, str]] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen; returns the bound (host, port) — port 0 picks a free one."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_session, host, port)
        bound = self._server.sockets[0].getsockname()
        conn = self.scenario.connectivity
        if conn is not None and conn.at is not None:
            delay = (conn.at - self.clock.now()).total_seconds()
            if delay > 0:
                loop.call_later(delay, self._lose_connectivity)
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        """Stop listening and close every session."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.abort()
        if self._server is not None:
            await self._server.wait_closed()
        # Let the transports run connection_lost so lines and counters are released.
        await asyncio.sleep(0)

    def _new_session(self) -> Session:
        session = Session(self, self._connections)
        self._connections += 1
        self._sessions.add(session)
        return session

    # ------------------------------------------------------------------ sessions

    def claim_client_id(self, client_id: int) -> bool:
        """Take a client id for a new session; False → IB's 326 and the socket closes."""
        self._id_attempts[client_id] += 1
        fault = self.scenario.client_id_in_use
        if (
            fault is not None
            and client_id in fault.client_ids
            and (fault.attempts == 0 or self._id_attempts[client_id] <= fault.attempts)
        ):
            return False
        if client_id in self._client_ids:
            return False
        self._client_ids.add(client_id)
        return True

    def session_ready(self, session: Session) -> None:
        """startApi accepted: arm a timed disconnect if the scenario has one for this session."""
        cut = self.scenario.disconnect
        if cut is not None and cut.at is not None and session.index < cut.sessions:
            delay = (cut.at - self.clock.now()).total_seconds()
            if delay > 0:
                session.call_later(delay, session.close)

    def session_closed(self, session: Session) -> None:
        self._sessions.discard(session)
        if session.client_id is not None:
            self._client_ids.discard(session.client_id)

    def message_handled(self, session: Session, received: int) -> None:
        """Count a client message towards the message-triggered faults."""
        self._messages += 1
        cut = self.scenario.disconnect
        if (
            cut is not None
            and cut.after_messages is not None
            and session.index < cut.sessions
            and received >= cut.after_messages
        ):
            session.close()
        conn = self.scenario.connectivity
        if (
            conn is not None
            and conn.after_messages is not None
            and self._messages >= conn.after_messages
            and not self._link_lost_once
        ):
            self._lose_connectivity()

    # ------------------------------------------------------------------ shared limits

    def take_line(self) -> bool:
        """Reserve a market-data line; False → IB's 101."""
        if self.lines_in_use >= self.limits.market_data_lines:
            return False
        self.lines_in_use += 1
        self.stats.lines_changed(+1)
        return True

    def release_line(self) -> None:
        self.lines_in_use -= 1
        self.stats.lines_changed(-1)

    def open_hist(self) -> bool:
        """Count an open historical query (bars or head timestamp); False → IB's 322."""
        if self.open_historical >= self.limits.max_open_historical:
            return False
        self.open_historical += 1
        self.stats.open_historical_changed(+1)
        return True

    def close_hist(self) -> None:
        self.open_historical -= 1
        self.stats.open_historical_changed(-1)

    def storm(self, kind: str, symbol: str) -> bool:
        """Whether a scenario pacing storm refuses this request (and count it if so)."""
        for i, storm in enumerate(self.scenario.pacing_storms):
            if storm.classes and kind not in storm.classes:
                continue
            if storm.symbols and symbol not in storm.symbols:
                continue
            self._storm_seen[i] += 1
            seen = self._storm_seen[i]
            if storm.after_requests < seen <= storm.after_requests + storm.count:
                return True
        return False

    # ------------------------------------------------------------------ connectivity (1100...)

    @property
    def connected(self) -> bool:
        """Whether the IB↔gateway link is up (streams tick, replies flow)."""
        return not self._link_down

    def when_connected(self, session: Session, fn: Callable[[], None]) -> None:
        """Run a reply now, or hold it until connectivity is restored."""
        if self._link_down:
            self._held.append((session, fn))
        elif session.alive:
            fn()

    def _lose_connectivity(self) -> None:
        conn = self.scenario.connectivity
        if conn is None or self._link_lost_once:
            return
        self._link_lost_once = True
        self._link_down = True
        for session in self._ready_sessions():
            session.error(-1, m.CONNECTIVITY_LOST)
        asyncio.get_running_loop().call_later(conn.duration_seconds, self._restore_connectivity)

    def _restore_connectivity(self) -> None:
        conn = self.scenario.connectivity
        assert conn is not None
        self._link_down = False
        lost = conn.restore == "data_lost"
        for session in self._ready_sessions():
            if lost:
                # 1101: IB dropped every subscription; the client must request them again.
                market_data.drop_all(session)
            session.error(-1, m.RESTORED_DATA_LOST if lost else m.RESTORED_DATA_KEPT)
        held, self._held = self._held, []
        for session, fn in held:
            if session.alive:
                fn()

    def _ready_sessions(self) -> list[Session]:
        return [s for s in self._sessions if s.alive and s.client_id is not None]

    # ------------------------------------------------------------------ calendar text

    def trading_hours(self, on: dt.date, sec_type: str) -> tuple[str, str]:
        """contractData's tradingHours and liquidHours for the week from ``on`` (US/Eastern)."""
        key = (on, sec_type)
        if key not in self._hours:
            trading: list[str] = []
            liquid: list[str] = []
            for i in range(7):
                day = on + dt.timedelta(days=i)
                ymd = day.strftime("%Y%m%d")
                noon = dt.datetime.combine(day, dt.time(12), NEW_YORK)
                if not self.market.is_open(noon):
                    trading.append(f"{ymd}:CLOSED")
                    liquid.append(f"{ymd}:CLOSED")
                    continue
                late = dt.datetime.combine(day, dt.time(15, 30), NEW_YORK)
                close = "1600" if self.market.is_open(late) else "1300"
                liquid.append(f"{ymd}:0930-{ymd}:{close}")
                if sec_type == "STK":
                    ext = "2000" if close == "1600" else "1700"
                    trading.append(f"{ymd}:0400-{ymd}:{ext}")
                else:
                    trading.append(f"{ymd}:0930-{ymd}:{close}")
            self._hours[key] = (";".join(trading), ";".join(liquid))
        return self._hours[key]
