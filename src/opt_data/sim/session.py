"""One client connection: handshake, start API, the message-rate rule, dispatch, and sending.

A Session is an ``asyncio.Protocol``: bytes arrive in ``data_received`` and every request is
handled synchronously on the server's loop, so replies leave in request order unless a fault
(latency, lost connectivity) deliberately holds them. Request handlers live in the
``handlers_*`` modules; this class owns what they share: the socket, the per-connection state
IB keeps (market data type, open streams and historical queries) and the strike count.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from opt_data.sim import handlers_account as account
from opt_data.sim import handlers_contracts as contracts
from opt_data.sim import handlers_history as history
from opt_data.sim import handlers_market_data as market_data
from opt_data.sim import messages as m
from opt_data.sim import protocol as p
from opt_data.sim.limits import MessageRate
from opt_data.sim.market import MarketDataError

if TYPE_CHECKING:
    from opt_data.sim.handlers_history import HistJob
    from opt_data.sim.handlers_market_data import Stream
    from opt_data.sim.server import SimServer

log = structlog.get_logger()

# How long a closed session waits for the client to hang up before the socket is torn down.
_LINGER_SECONDS = 2.0

Handler = Callable[["Session", p.Fields], None]

_HANDLERS: dict[int, Handler] = {
    p.In.REQ_POSITIONS: account.positions,
    p.In.CANCEL_POSITIONS: account.ignore,
    p.In.REQ_OPEN_ORDERS: account.open_orders,
    p.In.REQ_AUTO_OPEN_ORDERS: account.ignore,
    p.In.REQ_COMPLETED_ORDERS: account.completed_orders,
    p.In.REQ_ACCOUNT_UPDATES: account.account_updates,
    p.In.REQ_ACCOUNT_UPDATES_MULTI: account.account_updates_multi,
    p.In.CANCEL_ACCOUNT_UPDATES_MULTI: account.ignore,
    p.In.REQ_ACCOUNT_SUMMARY: account.account_summary,
    p.In.CANCEL_ACCOUNT_SUMMARY: account.ignore,
    p.In.REQ_EXECUTIONS: account.executions,
    p.In.REQ_IDS: account.next_ids,
    p.In.REQ_CURRENT_TIME: account.current_time,
    p.In.REQ_CONTRACT_DATA: contracts.contract_details,
    p.In.REQ_SEC_DEF_OPT_PARAMS: contracts.sec_def_opt_params,
    p.In.REQ_MARKET_DATA_TYPE: market_data.market_data_type,
    p.In.REQ_MKT_DATA: market_data.req_mkt_data,
    p.In.CANCEL_MKT_DATA: market_data.cancel_mkt_data,
    p.In.REQ_HISTORICAL_DATA: history.req_historical,
    p.In.CANCEL_HISTORICAL_DATA: history.cancel_historical,
    p.In.REQ_HEAD_TIMESTAMP: history.req_head_timestamp,
    p.In.CANCEL_HEAD_TIMESTAMP: history.cancel_head_timestamp,
}


class Phase(enum.Enum):
    HANDSHAKE = enum.auto()
    WAIT_START_API = enum.auto()
    READY = enum.auto()
    CLOSED = enum.auto()


class Session(asyncio.Protocol):
    """The gateway's side of one API connection."""

    def __init__(self, server: SimServer, index: int) -> None:
        self.server = server
        self.index = index  # connection order, 0-based: faults target the first N sessions
        self.loop = asyncio.get_running_loop()
        self.client_id: int | None = None
        self.data_type = 1  # reqMarketDataType: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen
        self.streams: dict[int, Stream] = {}
        self.historical: dict[int, HistJob] = {}
        self.head_timestamps: set[int] = set()
        self.rng = random.Random(f"{server.seed}:latency:{index}")
        self._phase = Phase.HANDSHAKE
        self._decoder = p.FrameDecoder()
        self._rate = MessageRate(server.limits.rate)
        self._strikes = 0
        self._received = 0
        self._transport: asyncio.Transport | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._ticker: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.server.stats.session_opened()

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self._decoder.feed(data)
        except ValueError as exc:
            log.warning("sim_bad_stream", error=str(exc), session=self.index)
            self.close()
            return
        for payload in payloads:
            if self._phase is Phase.CLOSED:
                return
            if self._phase is Phase.HANDSHAKE:
                self._handshake(payload)
            else:
                self._message(p.split_fields(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = Phase.CLOSED
        self._transport = None
        for timer in self._timers:
            timer.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
        market_data.drop_all(self)
        history.drop_all(self)
        self.server.session_closed(self)

    # ------------------------------------------------------------------ sending

    @property
    def alive(self) -> bool:
        return self._phase is not Phase.CLOSED and self._transport is not None

    def send(self, fields: p.Fields) -> None:
        """Frame and write one message (dropped silently once the socket is gone)."""
        self.send_many([fields])

    def send_many(self, messages: list[p.Fields]) -> None:
        """Several messages in one write: big replies (a whole chain) stay cheap.

        Counted before writing, so a test that has seen a reply also sees it in the stats.
        """
        if self._transport is None or not messages:
            return
        stats = self.server.stats
        for msg in messages:
            stats.message_out(p.message_name(int(msg[0]), incoming=False))
        self._transport.write(b"".join([p.frame(msg) for msg in messages]))

    def error(self, req_id: int, err: tuple[int, str]) -> None:
        """Send IB error ``err`` = (code, text) for ``req_id`` (−1: not tied to a request)."""
        code, text = err
        self.server.stats.error_sent(code)
        self.send(m.error(req_id, code, text))

    def close(self) -> None:
        """End the session as IB does: what was written still arrives, then the socket closes.

        Closing a socket with unread input makes the kernel send RST, and the client would lose
        the last replies (the 100 or 326 that explain the disconnect). So: stop serving, send
        FIN after the queued bytes, discard further input, and close once the client has.
        """
        if self._transport is None or self._phase is Phase.CLOSED:
            return
        self._phase = Phase.CLOSED
        self.server.stats.session_dropped()
        market_data.drop_all(self)
        history.drop_all(self)
        transport = self._transport
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(_LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def abort(self) -> None:
        """Close at once (the server is shutting down)."""
        if self._transport is not None:
            self._transport.abort()

    def eof_received(self) -> bool:
        return False  # the client closed its side: let the transport close ours

    # ------------------------------------------------------------------ timing

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` after ``delay`` seconds unless the session has closed by then."""
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            if self.alive:
                fn()

        handle = self.loop.call_later(delay, run)
        self._timers.add(handle)

    def reply(self, kind: str, fn: Callable[[], None]) -> None:
        """Send a reply now, after the scenario's latency, or once connectivity is back."""
        latency = self.server.scenario.latency
        delay = latency.draw(self.rng) if latency.applies(kind) else 0.0
        if delay > 0:
            self.call_later(delay, lambda: self.server.when_connected(self, fn))
        else:
            self.server.when_connected(self, fn)

    def start_ticker(self) -> None:
        """Start the periodic stream refresh (one timer per session, not one per stream)."""
        if self._ticker is None:
            self._ticker = self.loop.call_later(
                self.server.limits.tick_interval_seconds, self._tick
            )

    def _tick(self) -> None:
        self._ticker = None
        if not self.alive or not self.streams:
            return
        if self.server.connected:
            market_data.refresh(self)
        self.start_ticker()

    # ------------------------------------------------------------------ inbound

    def _handshake(self, payload: bytes) -> None:
        try:
            _low, high = p.parse_handshake(payload)
        except ValueError:
            high = 0
        if high < p.SERVER_VERSION:
            # Only the 176 layouts are spoken here; an older client could not parse them.
            self.close()
            return
        # ib_insync tops out at 176 and ib_async at 178; 176 is right for both.
        self.server.stats.message_out("server_version")
        assert self._transport is not None
        self._transport.write(p.frame(m.server_hello(self.server.clock.now())))
        self._phase = Phase.WAIT_START_API

    def _message(self, fields: p.Fields) -> None:
        if not fields:
            return
        try:
            msg_id = int(fields[0])
        except ValueError:
            return
        stats = self.server.stats
        stats.message_in(p.message_name(msg_id, incoming=True))
        if self._phase is Phase.WAIT_START_API:
            if msg_id == p.In.START_API:
                self._start_api(fields)
            return
        if not self._rate.admit(self.loop.time()):
            self._rate_violation(fields)
            return
        self._received += 1
        handler = _HANDLERS.get(msg_id)
        if handler is None:
            log.info("sim_unhandled_message", msg_id=msg_id, session=self.index)
        else:
            try:
                handler(self, fields)
            except MarketDataError as exc:
                self.error(p.request_id(fields), (exc.code, exc.text))
            except (IndexError, ValueError):
                # IB answers a request it cannot parse with 320 and otherwise carries on.
                self.error(p.request_id(fields), m.READ_ERROR)
        self.server.message_handled(self, self._received)

    def _rate_violation(self, fields: p.Fields) -> None:
        self.server.stats.violation("rate")
        self._strikes += 1
        self.error(p.request_id(fields), m.RATE_EXCEEDED)
        if self._strikes >= self.server.limits.rate_violations_to_disconnect:
            self.close()

    def _start_api(self, fields: p.Fields) -> None:
        try:
            client_id = int(fields[2])
        except (IndexError, ValueError):
            self.close()
            return
        if not self.server.claim_client_id(client_id):
            self.error(-1, m.CLIENT_ID_IN_USE)
            self.close()
            return
        self.client_id = client_id
        self._phase = Phase.READY
        for code, _ in m.FARMS_OK:
            self.server.stats.error_sent(code)
        self.send_many(
            [
                m.managed_accounts([account.ACCOUNT]),
                m.next_valid_id(1),
                *(m.error(-1, code, text) for code, text in m.FARMS_OK),
            ]
        )
        self.server.session_ready(self)
