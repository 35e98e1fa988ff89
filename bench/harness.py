"""What every benchmark shares: the simulator and collector processes, settings, results.

Each measured update runs as two child processes on this 2-core box, as in production: the
simulated gateway (``bench.sim_process``) and the collector (``bench.collector_process``).
Neither shares an interpreter, a GIL or a heap with the other or with this parent, so CPU
time and peak memory belong to the side they are reported for.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from opt_data.config import Settings, load_settings
from opt_data.logs import new_run_id
from opt_data.sim.limits import SimLimits
from opt_data.sim.runner import market_symbols, read_universe

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
UNIVERSE = REPO / "config" / "universe.csv"
NEW_YORK = ZoneInfo("America/New_York")
# Friday 2026-11-20, an ordinary session, an hour after the close (the update's time of day).
EVENING = dt.datetime(2026, 11, 20, 18, 0, tzinfo=NEW_YORK)
# Informational notices every connection gets (market-data farm OK), not errors.
NOTICE_CODES = frozenset({2104, 2106, 2158})


@dataclass(frozen=True, slots=True)
class Target:
    """One bar a benchmark must clear; ``make bench`` exits 1 when any is missed."""

    what: str
    met: bool
    value: str


@dataclass(frozen=True, slots=True)
class Limits:
    """The simulator's limits and the collector's knobs that match them."""

    label: str
    lines: int  # SimLimits.market_data_lines
    rate: int  # SimLimits.messages_per_second
    messages_per_second: int  # [rate_limits] messages_per_second
    snapshot_per_minute: int  # [rate_limits.snapshot] per_minute
    discovery_per_minute: int  # [rate_limits.discovery] per_minute
    max_concurrent_snapshots: int

    def times(self, factor: int) -> Limits:
        """Every limit and every collector knob multiplied by ``factor``."""
        return Limits(
            label=f"×{factor}",
            lines=self.lines * factor,
            rate=self.rate * factor,
            messages_per_second=self.messages_per_second * factor,
            snapshot_per_minute=self.snapshot_per_minute * factor,
            discovery_per_minute=self.discovery_per_minute * factor,
            max_concurrent_snapshots=self.max_concurrent_snapshots * factor,
        )


def shipped_settings() -> Settings:
    """config/opt-data.toml as shipped (no environment, no .env)."""
    return load_settings(REPO / "config" / "opt-data.toml", environ={}, dotenv_file=None, cwd=REPO)


def default_limits() -> Limits:
    """IB's default account (SimLimits' defaults) and the shipped collector settings."""
    sim, settings = SimLimits(), shipped_settings()
    rl = settings.rate_limits
    return Limits(
        label="IB default",
        lines=sim.market_data_lines,
        rate=sim.rate,
        messages_per_second=int(rl.messages_per_second),
        snapshot_per_minute=int(rl.snapshot.per_minute),
        discovery_per_minute=int(rl.discovery.per_minute),
        max_concurrent_snapshots=settings.max_concurrent_snapshots,
    )


@dataclass(frozen=True, slots=True)
class Filters:
    """The ``[filters]`` of a benchmark run."""

    max_contracts_per_underlying: int
    max_dte: int = 60
    moneyness: float = 0.2


def universe_symbols() -> list[str]:
    """The symbols of config/universe.csv, in file order."""
    return list(read_universe(UNIVERSE))


def write_config(workdir: Path, limits: Limits, filters: Filters) -> None:
    """``workdir/opt-data.toml``: the shipped defaults except the limits and the filters."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "opt-data.toml"
    config.write_text(
        f"""max_concurrent_snapshots = {limits.max_concurrent_snapshots}

[paths]
data = "data"
state = "state"
universe = "{UNIVERSE}"

[rate_limits]
messages_per_second = {limits.messages_per_second}

[rate_limits.discovery]
per_minute = {limits.discovery_per_minute}

[rate_limits.snapshot]
per_minute = {limits.snapshot_per_minute}

[filters]
max_dte = {filters.max_dte}
moneyness = {filters.moneyness}
max_contracts_per_underlying = {filters.max_contracts_per_underlying}
""",
        encoding="utf-8",
    )


class SimProcess:
    """A running ``bench.sim_process``: its port, and its counters on request."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self._proc = proc
        self.port = port

    def stats(self) -> dict[str, Any]:
        """``SimStats.snapshot()`` now, plus the simulator's ``cpu_seconds``."""
        stdin, stdout = self._pipes()
        stdin.write("stats\n")
        stdin.flush()
        report: dict[str, Any] = json.loads(stdout.readline())
        return report

    def jump(self, to: dt.datetime) -> None:
        """Move the simulated clock to ``to`` (it runs on from there)."""
        stdin, stdout = self._pipes()
        stdin.write(f"jump {to.isoformat()}\n")
        stdin.flush()
        answer = stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"the simulator refused the jump: {answer}")

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        return self._proc.stdin, self._proc.stdout


@contextmanager
def simulator(
    *,
    now: dt.datetime,
    symbols: Sequence[str],
    limits: Limits,
    snapshot_seconds: float = 11.0,
    warm: bool = False,
) -> Iterator[SimProcess]:
    """Start the simulator process with ``limits``; stop it when the block exits.

    ``symbols`` are spelled as the universe spells them (``BRK.B``); the simulator lists them
    as IB does (``BRK B``), exactly as ``opt-data sim`` would. ``warm`` has it precompute
    the symbols' session before it listens (``Market.warm``), so a symbol's first quote is
    as quick as IB's instead of costing the gateway 0.1-0.2 s of CPU.
    """
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.sim_process",
            "--now",
            now.isoformat(),
            "--symbols",
            ",".join(market_symbols(symbols, read_universe(UNIVERSE))),
            "--lines",
            str(limits.lines),
            "--rate",
            str(limits.rate),
            "--snapshot-seconds",
            str(snapshot_seconds),
            *(["--warm"] if warm else []),
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the simulator did not start (it said {line!r})")
        yield SimProcess(proc, int(line.rsplit(":", 1)[1]))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_collector(
    workdir: Path, port: int, symbols: Sequence[str], limits: Limits, filters: Filters
) -> dict[str, Any]:
    """One update in ``workdir`` by a fresh ``bench.collector_process``; its JSON report."""
    write_config(workdir, limits, filters)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.collector_process",
            "--workdir",
            str(workdir),
            "--port",
            str(port),
            "--symbols",
            ",".join(symbols),
            "--run-id",
            new_run_id(),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the collector failed ({done.returncode}):\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the simulator counted between two ``SimProcess.stats()`` readings."""

    def sub(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {k: v - a.get(k, 0) for k, v in sorted(b.items()) if v - a.get(k, 0)}

    return {
        "messages_in": sub(before["messages_in"], after["messages_in"]),
        "messages_in_total": after["messages_in_total"] - before["messages_in_total"],
        "errors_by_code": sub(before["errors_by_code"], after["errors_by_code"]),
        "requests_by_class": sub(before["requests_by_class"], after["requests_by_class"]),
        "violations": sub(before["violations"], after["violations"]),
        "violations_total": after["violations_total"] - before["violations_total"],
        "disconnects": after["disconnects"] - before["disconnects"],
        "peak_lines": after["peak_lines"],
        "cpu_seconds": after["cpu_seconds"] - before["cpu_seconds"],
    }


def error_codes(stats: dict[str, Any]) -> dict[str, int]:
    """Errors the simulator sent, by code, without the informational farm notices."""
    return {code: n for code, n in stats["errors_by_code"].items() if int(code) not in NOTICE_CODES}


def save_result(name: str, result: dict[str, Any]) -> Path:
    """``bench/results/<name>.json``: small, sorted, stable enough to commit."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
