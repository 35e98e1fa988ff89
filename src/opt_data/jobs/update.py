"""The daily update: discover, snapshot and store each underlying's option chain.

Orchestration only. For each underlying: qualify it; stream its quote while reading the
chain parameters and resolving the listed contracts of the chosen expiries (one request per
trading class and month); stream every selected contract until its fields are complete; then
write the chain ledger, raw quotes and clean rows atomically and only then mark the
underlying done.
A killed run therefore resumes at the first underlying not marked done, and a rerun replaces
rows instead of duplicating them.

Several underlyings are in flight at once so that the market-data lines never sit idle
while the next underlying is being discovered; all of them share one line semaphore, one
rate limiter and one connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

import structlog

from opt_data import schema
from opt_data.calendar import TradingCalendar, default_cache_dir
from opt_data.clock import Clock, RealClock
from opt_data.config import Settings
from opt_data.errors import (
    ClientIdInUseError,
    IBConnectionError,
    IBNoDataError,
    IBPacingError,
    IBRequestError,
)
from opt_data.ib import CONNECT_MESSAGES, ConnectionParams, IBClient
from opt_data.jobs import rows
from opt_data.jobs.selection import (
    ContractFilter,
    ContractQuery,
    plan_queries,
    select_contracts,
    select_expiries,
)
from opt_data.jobs.sessions import decide_trade_date, market_data_type_for
from opt_data.limiter import RequestLimiter, pacing_wait
from opt_data.locks import job_lock
from opt_data.models import MarketSnapshot, OptionContract, Underlying
from opt_data.progress import ProgressStore
from opt_data.storage.writer import PartitionWriter
from opt_data.universe import Underlying as UniverseRow
from opt_data.universe import load_universe, select

JOB = "update"
_log = structlog.get_logger("opt_data.update")

OPTION_TICKS = "100,101,104,106"
UNDERLYING_TICKS = "100,101,104,106"


@dataclass(frozen=True, slots=True)
class Symbol:
    """One underlying to collect: the user's symbol and IB's spelling of it."""

    symbol: str
    ib_symbol: str


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    """Everything the update needs from settings and the command line."""

    symbols: tuple[Symbol, ...]
    filters: ContractFilter
    date: dt.date | None = None
    force: bool = False
    market_data_type: int = 1
    max_concurrent_snapshots: int = 90
    snapshot_timeout: float = 15.0
    required_fields: frozenset[str] = frozenset({"bid", "ask", "greeks", "open_interest"})
    max_consecutive_failures: int = 3
    pacing_first_wait: float = 30.0
    backoff_factor: float = 2.0
    reconnect_attempts: int = 10
    reconnect_first_wait: float = 2.0
    reconnect_max_wait: float = 300.0
    underlyings_in_flight: int = 6
    trading_classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


Outcome = Literal["done", "skipped", "failed", "needs_manual"]


@dataclass
class UpdateResult:
    """What one run did; ``exit_code`` is 0 only when nothing failed or was queued."""

    trade_date: dt.date | None
    status: Literal["collected", "market_closed", "nothing_to_do"]
    message: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    rows: int = 0
    contracts_expected: int = 0
    files: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if any(o in ("failed", "needs_manual") for o in self.outcomes.values()) else 0


# -- the job ---------------------------------------------------------------------------------


@dataclass
class UpdateServices:
    """The I/O the update runs on, passed in so tests can substitute a fake clock."""

    client: IBClient
    calendar: TradingCalendar
    limiter: RequestLimiter
    progress: ProgressStore
    writer: PartitionWriter
    clock: Clock
    run_id: str
    tz: dt.tzinfo
    on_progress: Callable[[str, dict[str, Any]], None] = lambda event, fields: None


class UpdateJob:
    """One run of the daily update."""

    def __init__(self, options: UpdateOptions, services: UpdateServices) -> None:
        self.options = options
        self.s = services
        # A few lines are kept for the underlyings' own quotes, which discovery needs before
        # it can pick contracts: queued behind hundreds of option streams, they would leave
        # the next underlyings undiscovered and the message budget idle when a symbol ends.
        total = options.max_concurrent_snapshots
        reserved = min(options.underlyings_in_flight, max(1, total // 10), total - 1)
        self._lines = asyncio.Semaphore(total - reserved)
        self._discovery_lines = asyncio.Semaphore(reserved) if reserved else self._lines
        self._reconnect_lock = asyncio.Lock()
        self._data_type = options.market_data_type
        self._now_offset: dt.timedelta = dt.timedelta(0)

    def _now(self) -> dt.datetime:
        """Wall-clock time on the gateway's clock (offset measured at connect)."""
        return dt.datetime.now(dt.UTC) + self._now_offset

    async def run(self) -> UpdateResult:
        opts, s = self.options, self.s
        # the calendar's first schedule costs ~0.2 s: build it while the gateway handshakes
        today = dt.datetime.now(s.tz).date()
        warm_calendar = asyncio.ensure_future(asyncio.to_thread(s.calendar.is_session, today))
        try:
            await self._connect()
            await s.limiter.acquire_messages()
            gateway_now = await s.client.current_time()
        finally:
            await warm_calendar
        self._now_offset = gateway_now - dt.datetime.now(dt.UTC)
        decision = decide_trade_date(gateway_now, opts.date, s.calendar, force=opts.force, tz=s.tz)
        _log.info("update_decision", trade_date=str(decision.trade_date), action=decision.action)
        if decision.action == "market_closed":
            return UpdateResult(decision.trade_date, "market_closed", decision.message)
        trade_date = decision.trade_date
        market_open = gateway_now < s.calendar.session_close(trade_date)
        self._data_type = market_data_type_for(opts.market_data_type, market_open)
        await s.limiter.acquire_messages()
        s.client.set_market_data_type(self._data_type)

        result = UpdateResult(trade_date, "collected", decision.message)
        todo = self._pending_symbols(trade_date, result)
        if not todo:
            result.status = "nothing_to_do"
            result.message = f"every symbol of {trade_date} is already collected"
            return result
        s.on_progress("start", {"symbols": len(todo), "trade_date": trade_date})
        queue: asyncio.Queue[Symbol] = asyncio.Queue()
        for sym in todo:
            queue.put_nowait(sym)
        workers = [
            asyncio.ensure_future(self._worker(queue, trade_date, result))
            for _ in range(min(opts.underlyings_in_flight, len(todo)))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
        result.message = _summary(result)
        return result

    def _pending_symbols(self, trade_date: dt.date, result: UpdateResult) -> list[Symbol]:
        """Symbols not yet done; terminal failures and queued ones are not retried here."""
        todo = []
        known = self.s.progress.get_many(JOB, trade_date, [s.symbol for s in self.options.symbols])
        for sym in self.options.symbols:
            record = known.get(sym.symbol)
            if record is not None and record.status == "done":
                result.outcomes[sym.symbol] = "skipped"
                continue
            if record is not None and record.status in ("needs_manual", "skipped"):
                result.outcomes[sym.symbol] = "needs_manual"
                continue
            if record is not None and record.status == "failed" and record.error_kind == "terminal":
                result.outcomes[sym.symbol] = "failed"
                result.errors[sym.symbol] = record.last_error or "failed"
                continue
            todo.append(sym)
        return todo

    async def _worker(
        self, queue: asyncio.Queue[Symbol], trade_date: dt.date, result: UpdateResult
    ) -> None:
        while not queue.empty():
            sym = queue.get_nowait()
            outcome = await self._collect_with_retries(sym, trade_date, result)
            result.outcomes[sym.symbol] = outcome
            self.s.on_progress("symbol_done", {"symbol": sym.symbol, "outcome": outcome})

    async def _collect_with_retries(
        self, sym: Symbol, trade_date: dt.date, result: UpdateResult
    ) -> Outcome:
        """Collect one symbol; pacing waits 30 s, 60 s, … and 3 failures in a row queue it.

        The failure streak lives in the progress store, so it also counts across runs. A
        lost connection is not the symbol's fault: it reconnects and tries again without
        adding to the streak.
        """
        opts, s = self.options, self.s
        log = _log.bind(symbol=sym.symbol, trade_date=str(trade_date), run_id=s.run_id)
        reconnects = 0
        # progress writes fsync: off the event loop, so the streams of other symbols go on
        while True:
            await asyncio.to_thread(s.progress.start, JOB, trade_date, sym.symbol, s.run_id)
            try:
                rows_written, files, expected = await self._collect(sym, trade_date)
            except IBConnectionError as exc:
                reconnects += 1
                log.warning("connection_lost", error=str(exc), reconnects=reconnects)
                if reconnects > opts.reconnect_attempts:
                    await asyncio.to_thread(
                        s.progress.failed,
                        JOB,
                        trade_date,
                        sym.symbol,
                        str(exc),
                        retryable=True,
                        max_consecutive=opts.max_consecutive_failures,
                    )
                    result.errors[sym.symbol] = str(exc)
                    return "failed"
                await self._reconnect()
                continue
            except (IBPacingError, IBRequestError, IBNoDataError) as exc:
                terminal = isinstance(exc, IBNoDataError)
                record = await asyncio.to_thread(
                    s.progress.failed,
                    JOB,
                    trade_date,
                    sym.symbol,
                    str(exc),
                    retryable=not terminal,
                    max_consecutive=opts.max_consecutive_failures,
                )
                result.errors[sym.symbol] = str(exc)
                if terminal:
                    log.error("symbol_failed_terminal", error=str(exc))
                    return "failed"
                streak = record.consecutive_failures
                if record.status == "needs_manual":
                    log.error("needs_manual", error=str(exc), consecutive_failures=streak)
                    return "needs_manual"
                wait = pacing_wait(streak, opts.pacing_first_wait, opts.backoff_factor)
                log.warning("retry_wait", error=str(exc), consecutive_failures=streak, seconds=wait)
                await s.clock.sleep(wait)
                continue
            await asyncio.to_thread(
                s.progress.done, JOB, trade_date, sym.symbol, rows_written, s.run_id
            )
            result.errors.pop(sym.symbol, None)
            result.rows += rows_written
            result.contracts_expected += expected
            result.files.extend(files)
            log.info("symbol_done", rows=rows_written, contracts=expected)
            return "done"

    async def _connect(self) -> None:
        try:
            await self._open_connection()
        except ClientIdInUseError:
            raise
        except IBConnectionError:
            await self._reconnect()

    async def _open_connection(self) -> None:
        """Connect; the library's own start-up messages count against the message cap too."""
        await self.s.limiter.make_room(CONNECT_MESSAGES)
        try:
            await self.s.client.connect()
        finally:
            self.s.limiter.record_messages(CONNECT_MESSAGES)

    async def _reconnect(self) -> None:
        """Reconnect with exponential backoff; one task reconnects, the others wait for it."""
        opts, s = self.options, self.s
        async with self._reconnect_lock:
            if s.client.connected:
                return
            wait = opts.reconnect_first_wait
            for attempt in range(1, opts.reconnect_attempts + 1):
                s.client.disconnect()
                await s.clock.sleep(wait)
                try:
                    await self._open_connection()
                except ClientIdInUseError:
                    raise
                except IBConnectionError as exc:
                    _log.warning("reconnect_failed", attempt=attempt, error=str(exc))
                    wait = min(wait * 2, opts.reconnect_max_wait)
                    continue
                await s.limiter.acquire_messages()
                s.client.set_market_data_type(self._data_type)
                _log.info("reconnected", attempt=attempt)
                return
            raise IBConnectionError(
                f"could not reconnect to IB after {opts.reconnect_attempts} attempts"
            )

    async def _discover(
        self, sym: Symbol, trade_date: dt.date
    ) -> tuple[Underlying, MarketSnapshot | None, list[OptionContract]]:
        """The underlying, its quote and its listed contracts in the expiry window.

        The quote is needed only to choose contracts, so it streams while the chain is
        being resolved instead of before: discovery is on the critical path of every
        underlying's first option stream.
        """
        s = self.s
        pace = partial(s.limiter.acquire, "discovery")
        underlying = await s.client.qualify_underlying(sym.symbol, sym.ib_symbol, pace=pace)
        quote = asyncio.ensure_future(
            self._stream(underlying, UNDERLYING_TICKS, frozenset({"bid", "ask"}), discovery=True)
        )
        try:
            listed = await self._listed(sym, underlying, trade_date)
            und_snapshot = await quote
        except BaseException:
            quote.cancel()
            await asyncio.gather(quote, return_exceptions=True)
            raise
        return underlying, und_snapshot, listed

    async def _listed(
        self, sym: Symbol, underlying: Underlying, trade_date: dt.date
    ) -> list[OptionContract]:
        """Every listed contract of the chosen expiries and classes."""
        s = self.s
        await s.limiter.acquire("discovery")
        chains = await s.client.chain_params(underlying)
        classes = self.options.trading_classes.get(sym.symbol, ())
        flt = replace(self.options.filters, trading_classes=classes)
        queries = plan_queries(select_expiries(chains, trade_date, flt, s.calendar.is_session))

        async def resolve(query: ContractQuery) -> list[OptionContract]:
            await s.limiter.acquire("discovery")
            contracts = await s.client.option_contracts(
                underlying, query.expiry, query.trading_class
            )
            return [c for c in contracts if c.expiration in query.expirations]

        # all in flight at once: IB answers each at its own pace, and waiting for them one
        # by one would leave the message budget idle
        answers = await asyncio.gather(*(resolve(q) for q in queries))
        return [contract for contracts in answers for contract in contracts]

    async def _stream(
        self,
        target: OptionContract | Underlying,
        ticks: str,
        required: frozenset[str],
        *,
        discovery: bool = False,
    ) -> MarketSnapshot:
        """One streaming request, on an option line or (``discovery``) a reserved one."""
        s = self.s
        lines = self._discovery_lines if discovery else self._lines
        async with lines:
            await s.limiter.acquire("discovery" if discovery else "snapshot")
            return await s.client.stream_snapshot(
                target,
                generic_ticks=ticks,
                required=required,
                timeout=self.options.snapshot_timeout,
                now=self._now,
                before_cancel=s.limiter.acquire_messages,
            )

    async def _collect(self, sym: Symbol, trade_date: dt.date) -> tuple[int, list[str], int]:
        s, opts = self.s, self.options
        underlying, und_snapshot, listed = await self._discover(sym, trade_date)
        spot = rows.underlying_price(und_snapshot)
        chosen = select_contracts(listed, spot, opts.filters)
        streams = [
            asyncio.ensure_future(self._stream(c, OPTION_TICKS, opts.required_fields))
            for c in chosen
        ]
        try:
            snapshots = await asyncio.gather(*streams)
        except BaseException:
            # one failed (pacing, lost connection): stop the others so their lines free up
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
            raise
        oi_asof = s.calendar.previous_session(trade_date)
        half_day = s.calendar.is_early_close(trade_date)
        discovered_at = self._now()
        clean = [
            rows.clean_option_row(
                trade_date=trade_date,
                underlying=underlying,
                contract=contract,
                snapshot=snap,
                underlying_snapshot=und_snapshot,
                oi_asof=oi_asof,
                run_id=s.run_id,
                half_day=half_day,
            )
            for contract, snap in zip(chosen, snapshots, strict=True)
        ]
        batches = [
            (schema.CHAINS, [rows.chain_row(c, discovered_at, s.run_id) for c in listed]),
            (schema.OPTION_QUOTES, [rows.option_quote_row(x, s.run_id) for x in snapshots]),
            (
                schema.UNDERLYING_QUOTES,
                [rows.underlying_quote_row(underlying, und_snapshot, s.run_id)]
                if und_snapshot is not None
                else [],
            ),
            (schema.OPTIONS, clean),  # last: clean rows exist only once the raw ones do
        ]
        # compress and fsync off the event loop, so other underlyings keep streaming meanwhile
        files = await asyncio.to_thread(self._write_all, trade_date, sym.symbol, batches)
        s.on_progress("contracts", {"symbol": sym.symbol, "count": len(chosen)})
        return len(clean), files, len(chosen)

    def _write_all(
        self,
        trade_date: dt.date,
        symbol: str,
        batches: Sequence[tuple[schema.DatasetSpec, list[dict[str, Any]]]],
    ) -> list[str]:
        # an underlying with no contracts in the window is a real, empty answer
        return [
            str(self.s.writer.write(spec, trade_date, symbol, records, allow_empty=True).path)
            for spec, records in batches
        ]


def _summary(result: UpdateResult) -> str:
    counts: dict[str, int] = {}
    for outcome in result.outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    parts = [f"{n} {name}" for name, n in sorted(counts.items())]
    return (
        f"{result.trade_date}: {', '.join(parts) or 'no symbols'}; {result.rows} clean rows written"
    )


# -- assembly from settings ------------------------------------------------------------------


def options_from_settings(
    settings: Settings,
    symbols: Sequence[UniverseRow],
    *,
    date: dt.date | None = None,
    force: bool = False,
) -> UpdateOptions:
    """The job's options from the effective settings and the command line."""
    f = settings.filters
    r = settings.retry
    return UpdateOptions(
        symbols=tuple(Symbol(u.symbol, u.ib_symbol) for u in symbols),
        filters=ContractFilter(
            min_dte=f.min_dte,
            max_dte=f.max_dte,
            moneyness=f.moneyness,
            rights=tuple(f.rights),
            include_weeklies=f.include_weeklies,
            max_contracts_per_underlying=f.max_contracts_per_underlying,
        ),
        trading_classes=dict(f.trading_classes),
        date=date,
        force=force,
        market_data_type=settings.ib.market_data_type,
        max_concurrent_snapshots=settings.max_concurrent_snapshots,
        snapshot_timeout=settings.snapshot.timeout_seconds,
        required_fields=frozenset(settings.snapshot.require),
        max_consecutive_failures=r.max_consecutive_failures,
        pacing_first_wait=r.pacing_first_wait_seconds,
        backoff_factor=r.backoff_factor,
        reconnect_attempts=r.reconnect_attempts,
        reconnect_first_wait=r.reconnect_first_wait_seconds,
        reconnect_max_wait=r.reconnect_max_wait_seconds,
    )


def build_limiter(settings: Settings, clock: Clock) -> RequestLimiter:
    """The config's caps as a limiter, with bursts sized to run right at them.

    Messages go out at the cap itself (the limiter's window keeps every second within it);
    the message bucket's burst, about 1/24 of a second of messages (2 at the default cap of
    48), only lets a late wake-up of the event loop catch up instead of losing its turn.
    Snapshot and discovery requests are bounded by the global cap anyway, so their own
    buckets may hold a fifth of a second; historical requests keep a burst of 1 (IB's
    small-bar pacing counts every window).
    """
    rl = settings.rate_limits
    per_minute = {
        "discovery": rl.discovery.per_minute,
        "snapshot": rl.snapshot.per_minute,
        "historical": rl.historical.per_minute,
    }
    cap = int(rl.messages_per_second)
    return RequestLimiter(
        per_minute,
        cap,
        clock=clock,
        message_burst=min(cap, max(2, cap // 24)),
        request_burst={
            name: max(1, math.ceil(per_minute[name] / 60 / 5)) for name in ("discovery", "snapshot")
        },
    )


def run_update(
    settings: Settings,
    *,
    symbols: Sequence[str] | None = None,
    date: dt.date | None = None,
    force: bool = False,
    run_id: str,
    clock: Clock | None = None,
    on_progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> UpdateResult:
    """Run the daily update with the real services built from ``settings``."""
    universe = load_universe(settings.paths.universe)
    chosen = select(universe, symbols) if symbols else universe
    options = options_from_settings(settings, chosen, date=date, force=force)
    clock = clock or RealClock()
    ib = settings.ib
    connection = ConnectionParams(
        host=ib.host,
        port=ib.port,
        client_id=ib.client_id,
        library=ib.library,
        connect_timeout=ib.connect_timeout_seconds,
        request_timeout=ib.request_timeout_seconds,
        messages_per_second=int(settings.rate_limits.messages_per_second),
    )

    async def main() -> UpdateResult:
        limiter = build_limiter(settings, clock)
        client = IBClient(connection)
        services = UpdateServices(
            client=client,
            calendar=TradingCalendar(cache_dir=default_cache_dir()),
            limiter=limiter,
            progress=ProgressStore(settings.paths.state),
            writer=PartitionWriter(settings.paths.data),
            clock=clock,
            run_id=run_id,
            tz=settings.schedule.tz,
            on_progress=on_progress or (lambda event, fields: None),
        )
        try:
            return await UpdateJob(options, services).run()
        finally:
            client.disconnect()

    with job_lock(settings.paths.state, JOB, run_id):
        return asyncio.run(main())
