"""The IB adapter: the only module that imports ib_insync or ib_async.

Both libraries share one API, so the adapter loads whichever ``IB_LIBRARY`` names and talks
to it through the same calls. It fixes the libraries' dangerous defaults for a collector:
every request has a timeout, request errors raise (instead of returning an empty list), and
IB's error codes become the exceptions of :mod:`opt_data.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Any, TypeVar

import structlog

from opt_data.errors import (
    ClientIdInUseError,
    ConfigError,
    IBConnectionError,
    IBError,
    IBNoDataError,
    IBPacingError,
    IBRequestError,
)
from opt_data.ib.errors import STREAM_FATAL_CODES, classify_error
from opt_data.models import (
    ChainParams,
    Greeks,
    MarketSnapshot,
    OptionContract,
    Underlying,
)

LIBRARIES = ("ib_insync", "ib_async")
# Messages a connection sends on its own before the first request: startApi and the library's
# start-up requests (positions, account updates twice, executions), plus one for the handshake.
# tests/ib/test_client.py counts them against the simulator for both libraries.
CONNECT_MESSAGES = 6
_T = TypeVar("_T")
_log = structlog.get_logger("opt_data.ib")


def load_library(name: str) -> ModuleType:
    """Import the IB client library the settings name (``ib_insync`` or ``ib_async``)."""
    if name not in LIBRARIES:
        raise ConfigError(
            f"IB_LIBRARY={name!r} is not supported; use one of {', '.join(LIBRARIES)}"
        )
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"IB_LIBRARY={name!r} is not installed: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ConnectionParams:
    """Where and how to connect; ``messages_per_second`` is handed to the client's throttle."""

    host: str
    port: int
    client_id: int
    library: str = "ib_insync"
    connect_timeout: float = 10.0
    request_timeout: float = 60.0
    messages_per_second: int = 45


def _num(value: Any) -> float | None:
    """A library float as received, or None where the library never got a value (NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _greeks(computation: Any) -> Greeks | None:
    if computation is None:
        return None
    return Greeks(
        implied_vol=_num(computation.impliedVol),
        delta=_num(computation.delta),
        gamma=_num(computation.gamma),
        vega=_num(computation.vega),
        theta=_num(computation.theta),
        opt_price=_num(computation.optPrice),
        pv_dividend=_num(computation.pvDividend),
        und_price=_num(computation.undPrice),
    )


def _parse_expiry(text: str) -> dt.date:
    return dt.datetime.strptime(text.split(" ")[0][:8], "%Y%m%d").date()


class _StreamWait:
    """One open streaming request: which fields it still waits for, and what went wrong."""

    def __init__(self, ticker: Any, required: frozenset[str], right: str) -> None:
        self.ticker = ticker
        self.required = set(required)
        self.right = right
        self.errors: list[str] = []
        self.link_lost = False
        self.done = asyncio.Event()

    def missing(self) -> set[str]:
        ticker = self.ticker
        present = {
            "bid": _num(ticker.bid) is not None,
            "ask": _num(ticker.ask) is not None,
            "bid_size": _num(ticker.bidSize) is not None,
            "ask_size": _num(ticker.askSize) is not None,
            "underlying_price": ticker.modelGreeks is not None
            and _num(ticker.modelGreeks.undPrice) is not None,
            "last": _num(ticker.last) is not None,
            "volume": _num(ticker.volume) is not None,
            "close": _num(ticker.close) is not None,
            "greeks": ticker.modelGreeks is not None,
            "open_interest": _open_interest(ticker, self.right) is not None,
            "hist_vol": _num(ticker.histVolatility) is not None,
            "implied_vol": _num(ticker.impliedVolatility) is not None,
        }
        return {name for name in self.required if not present.get(name, False)}


def _open_interest(ticker: Any, right: str) -> float | None:
    """The option's own open interest: IB sends calls on tick 27 and puts on tick 28."""
    call, put = _num(ticker.callOpenInterest), _num(ticker.putOpenInterest)
    preferred, other = (call, put) if right == "C" else (put, call)
    return preferred if preferred is not None else other


class IBClient:
    """A read-only connection to IB Gateway / TWS with timeouts and typed errors."""

    def __init__(self, params: ConnectionParams) -> None:
        self.params = params
        self._lib = load_library(params.library)
        self._ib: Any = None
        self._waits: dict[int, _StreamWait] = {}
        self._connect_errors: list[tuple[int, str]] = []
        self._lost = asyncio.Event()
        # IB's own link to its servers (1100 down; 1101 back, data lost; 1102 back, data kept)
        self._link_up = asyncio.Event()
        self._link_up.set()
        self.pacing_violations = 0
        self.error_counts: dict[int, int] = {}

    # -- connection ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ib is not None and bool(self._ib.isConnected())

    async def connect(self) -> None:
        """Connect read-only; a refused port or a client id in use become clear errors."""
        p = self.params
        ib = self._lib.IB()
        ib.RaiseRequestErrors = True
        ib.client.MaxRequests = p.messages_per_second
        ib.errorEvent += self._on_error
        ib.pendingTickersEvent += self._on_pending_tickers
        ib.disconnectedEvent += self._on_disconnected
        self._ib = ib
        self._lost.clear()
        self._link_up.set()
        self._connect_errors.clear()
        try:
            await ib.connectAsync(
                p.host, p.port, clientId=p.client_id, timeout=p.connect_timeout, readonly=True
            )
        except (OSError, TimeoutError) as exc:
            # ConnectionError is an OSError too: decide by what the gateway said, not the type
            self._ib = None
            if any(code == 326 for code, _ in self._connect_errors):
                raise ClientIdInUseError(
                    f"client id {p.client_id} is already in use at {p.host}:{p.port}; "
                    "set IB_CLIENT_ID to a free id or close the other session",
                    code=326,
                ) from exc
            if isinstance(exc, ConnectionRefusedError):
                raise IBConnectionError(
                    f"cannot reach IB Gateway/TWS at {p.host}:{p.port} (IB_HOST/IB_PORT): {exc}"
                ) from exc
            raise IBConnectionError(
                f"IB Gateway/TWS at {p.host}:{p.port} did not complete the API handshake "
                f"within {p.connect_timeout:g}s: {exc or type(exc).__name__}"
            ) from exc
        _log.info("ib_connected", host=p.host, port=p.port, library=p.library)

    def disconnect(self) -> None:
        if self._ib is not None:
            self._ib.disconnect()
            self._ib = None

    def _on_disconnected(self) -> None:
        self._lost.set()
        for wait in self._waits.values():
            wait.errors.append("disconnected")
            wait.done.set()

    def _on_error(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        self.error_counts[code] = self.error_counts.get(code, 0) + 1
        if not self.connected or req_id == -1:
            self._connect_errors.append((code, message))
        if code == 100:
            self.pacing_violations += 1
        if code in (1100, 1101, 1102) or 2100 <= code < 2200:
            _log.info("ib_notice", code=code, message=message)
        if code in (1100, 1101):
            # down, or back with the subscriptions lost: every open stream must be redone
            for open_wait in self._waits.values():
                open_wait.errors.append(f"{code}: {message}")
                open_wait.link_lost = True
                open_wait.done.set()
        if code == 1100:
            self._link_up.clear()
        elif code in (1101, 1102):
            self._link_up.set()
        con_id = getattr(contract, "conId", 0) if contract is not None else 0
        wait = self._waits.get(con_id)
        if wait is None:
            return
        wait.errors.append(f"{code}: {message}")
        if code == 10090:
            # part of the data is not subscribed: no greeks will come; stop waiting for them
            wait.required.discard("greeks")
        if code in STREAM_FATAL_CODES or not wait.missing():
            wait.done.set()

    def _on_pending_tickers(self, tickers: Iterable[Any]) -> None:
        for ticker in tickers:
            contract = ticker.contract
            wait = self._waits.get(contract.conId) if contract is not None else None
            if wait is not None and not wait.done.is_set() and not wait.missing():
                wait.done.set()

    def _require(self) -> Any:
        if not self.connected or self._lost.is_set():
            raise IBConnectionError("not connected to IB Gateway/TWS")
        return self._ib

    async def _wait_link(self) -> None:
        """Hold new requests while IB's link is down (1100), up to the request timeout."""
        if self._link_up.is_set():
            return
        try:
            await asyncio.wait_for(self._link_up.wait(), self.params.request_timeout)
        except TimeoutError:
            raise IBConnectionError(
                "IB Gateway lost its connection to IB's servers (1100) and it did not come "
                f"back within {self.params.request_timeout:g}s"
            ) from None

    async def _request(self, what: str, make: Callable[[], Awaitable[_T]]) -> _T:
        """Run one request with the timeout and the error mapping every request needs."""
        await self._wait_link()
        self._require()
        error_type = self._lib.RequestError
        request = asyncio.ensure_future(make())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait(
                {request, lost},
                timeout=self.params.request_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if request in done:
                return request.result()
            if lost in done:
                raise IBConnectionError(f"connection lost during {what}")
            raise IBConnectionError(f"no answer to {what} within {self.params.request_timeout:g}s")
        except error_type as exc:
            raise classify_error(exc.code, exc.message, what) from exc
        finally:
            for task in (request, lost):
                if not task.done():
                    task.cancel()

    # -- requests -----------------------------------------------------------------------

    async def current_time(self) -> dt.datetime:
        """The gateway's clock (UTC): the collector's notion of "now"."""
        ib = self._require()
        value: dt.datetime = await self._request("current time", ib.reqCurrentTimeAsync)
        return value.astimezone(dt.UTC)

    def set_market_data_type(self, market_data_type: int) -> None:
        self._require().reqMarketDataType(market_data_type)

    async def qualify_underlying(
        self, symbol: str, ib_symbol: str, *, pace: Callable[[], Awaitable[None]] | None = None
    ) -> Underlying:
        """Resolve a stock (or index) to its contract; unknown symbols raise IBNoDataError.

        ``pace`` is awaited before each request (a stock first, then an index).
        """
        ib = self._require()
        lib = self._lib
        candidates = [lib.Stock(ib_symbol, "SMART", "USD"), lib.Index(ib_symbol, "CBOE", "USD")]
        for contract in candidates:
            if pace is not None:
                await pace()
            try:
                details = await self._request(
                    f"contract details of {symbol}", partial(ib.reqContractDetailsAsync, contract)
                )
            except IBNoDataError:
                continue
            if details:
                c = details[0].contract
                return Underlying(
                    symbol=symbol,
                    ib_symbol=ib_symbol,
                    con_id=int(c.conId),
                    sec_type=c.secType,
                    exchange=c.exchange or "SMART",
                    primary_exchange=c.primaryExchange or "",
                    currency=c.currency or "USD",
                )
        raise IBNoDataError(f"IB has no security definition for {symbol!r} (200)", code=200)

    async def chain_params(self, underlying: Underlying) -> list[ChainParams]:
        ib = self._require()
        chains = await self._request(
            f"option chain parameters of {underlying.symbol}",
            lambda: ib.reqSecDefOptParamsAsync(
                underlying.ib_symbol, "", underlying.sec_type, underlying.con_id
            ),
        )
        return [
            ChainParams(
                exchange=chain.exchange,
                trading_class=chain.tradingClass,
                multiplier=int(float(chain.multiplier or 100)),
                expirations=tuple(sorted(_parse_expiry(e) for e in chain.expirations)),
                strikes=tuple(sorted(float(s) for s in chain.strikes)),
            )
            for chain in chains
        ]

    async def option_contracts(
        self,
        underlying: Underlying,
        expiry: str,
        trading_class: str,
        exchange: str = "SMART",
    ) -> list[OptionContract]:
        """Every listed contract of one class and ``expiry`` — ``YYYYMMDD`` for one expiry,
        ``YYYYMM`` for a whole month: one request, never one per strike."""
        ib = self._require()
        spec = self._lib.Option(
            underlying.ib_symbol,
            expiry,
            exchange=exchange,
            currency=underlying.currency,
            tradingClass=trading_class,
        )
        details = await self._request(
            f"option contracts of {underlying.symbol} {expiry} {trading_class}",
            lambda: ib.reqContractDetailsAsync(spec),
        )
        contracts = []
        for d in details:
            c = d.contract
            multiplier = int(float(c.multiplier or 100))
            contracts.append(
                OptionContract(
                    con_id=int(c.conId),
                    symbol=c.symbol,
                    local_symbol=c.localSymbol,
                    trading_class=c.tradingClass,
                    exchange=c.exchange or exchange,
                    currency=c.currency or "USD",
                    multiplier=multiplier,
                    expiration=_parse_expiry(c.lastTradeDateOrContractMonth),
                    strike=float(c.strike),
                    right=c.right[:1],
                    nonstandard=multiplier != 100 or c.tradingClass.rstrip() != c.symbol,
                )
            )
        return contracts

    def _contract_for(self, target: OptionContract | Underlying) -> Any:
        lib = self._lib
        if isinstance(target, Underlying):
            return lib.Contract(
                conId=target.con_id,
                symbol=target.ib_symbol,
                secType=target.sec_type,
                exchange=target.exchange,
                currency=target.currency,
            )
        return lib.Contract(
            conId=target.con_id,
            symbol=target.symbol,
            secType="OPT",
            lastTradeDateOrContractMonth=target.expiration.strftime("%Y%m%d"),
            strike=target.strike,
            right=target.right,
            multiplier=str(target.multiplier),
            exchange=target.exchange,
            currency=target.currency,
            localSymbol=target.local_symbol,
            tradingClass=target.trading_class,
        )

    async def stream_snapshot(
        self,
        target: OptionContract | Underlying,
        *,
        generic_ticks: str,
        required: frozenset[str],
        timeout: float,
        now: Callable[[], dt.datetime],
        before_cancel: Callable[[], Awaitable[None]] | None = None,
    ) -> MarketSnapshot:
        """Stream one contract until ``required`` fields arrived or ``timeout``, then cancel.

        Streaming (not IB's snapshot mode) because snapshots cannot carry generic ticks such
        as open interest (101). ``before_cancel`` is awaited before the cancel message goes
        out, so the caller's message budget counts cancels too.
        """
        await self._wait_link()
        ib = self._require()
        contract = self._contract_for(target)
        right = target.right if isinstance(target, OptionContract) else ""
        wait = _StreamWait(None, required, right)
        self._waits[target.con_id] = wait
        ticker = ib.reqMktData(contract, generic_ticks, False, False)
        wait.ticker = ticker
        try:
            if wait.missing():
                with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                    await asyncio.wait_for(wait.done.wait(), timeout)
            if "disconnected" in wait.errors or self._lost.is_set():
                raise IBConnectionError(f"connection lost while streaming con_id {target.con_id}")
            if wait.link_lost:
                raise IBConnectionError(
                    f"IB's link dropped while streaming con_id {target.con_id}: {wait.errors[-1]}"
                )
            self._raise_if_paced(wait)
            return self._snapshot_of(target.con_id, ticker, wait, now())
        finally:
            self._waits.pop(target.con_id, None)
            if before_cancel is not None and self.connected:
                await before_cancel()
            self._cancel_stream(ticker, contract)

    def _raise_if_paced(self, wait: _StreamWait) -> None:
        for error in wait.errors:
            code = int(error.split(":", 1)[0]) if error[:1].isdigit() else 0
            if code in (100, 101):
                raise IBPacingError(f"IB refused the stream: {error}", code=code)

    def _cancel_stream(self, ticker: Any, contract: Any) -> None:
        ib = self._ib
        if ib is None or not ib.isConnected():
            return
        req_id = ib.wrapper.ticker2ReqId["mktData"].get(ticker)
        if req_id:
            ib.cancelMktData(contract)
            ib.wrapper.reqId2Ticker.pop(req_id, None)
        # the libraries keep every ticker forever; drop ours so memory stays flat
        for key in (id(contract), hash(contract)):
            if ib.wrapper.tickers.get(key) is ticker:
                del ib.wrapper.tickers[key]

    def _snapshot_of(
        self, con_id: int, ticker: Any, wait: _StreamWait, received_at: dt.datetime
    ) -> MarketSnapshot:
        return MarketSnapshot(
            con_id=con_id,
            received_at=received_at,
            market_data_type=int(ticker.marketDataType),
            bid=_num(ticker.bid),
            ask=_num(ticker.ask),
            bid_size=_num(ticker.bidSize),
            ask_size=_num(ticker.askSize),
            last=_num(ticker.last),
            last_size=_num(ticker.lastSize),
            volume=_num(ticker.volume),
            open=_num(ticker.open),
            high=_num(ticker.high),
            low=_num(ticker.low),
            close=_num(ticker.close),
            call_open_interest=_num(ticker.callOpenInterest),
            put_open_interest=_num(ticker.putOpenInterest),
            hist_vol=_num(ticker.histVolatility),
            implied_vol=_num(ticker.impliedVolatility),
            bid_greeks=_greeks(ticker.bidGreeks),
            ask_greeks=_greeks(ticker.askGreeks),
            last_greeks=_greeks(ticker.lastGreeks),
            model_greeks=_greeks(ticker.modelGreeks),
            complete=not wait.missing() and not wait.errors,
            errors=tuple(wait.errors),
        )


__all__ = [
    "CONNECT_MESSAGES",
    "LIBRARIES",
    "ConnectionParams",
    "IBClient",
    "IBError",
    "IBRequestError",
    "load_library",
]
