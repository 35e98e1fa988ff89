"""How many messages per second the simulator sustains, so it is never a benchmark's bottleneck.

A raw-socket client (no client library in the way) talks to a simulator running in a
background thread, with IB's message-rate limit lifted so the server's own speed is measured:

* ``requests_per_second``: pipelined reqCurrentTime round trips (request parsing, dispatch,
  framing: the per-message cost);
* ``messages_out_per_second``: contractData messages of one partially specified SPY option
  request (thousands of contracts: the bulk-reply path a chain download takes);
* ``ticks_per_second``: the first ticks of ``STREAMS`` option streams with open interest
  (pricing each contract: the path a daily update's streaming pass takes).

Run: ``python -m bench.sim_throughput`` (prints JSON); ``run()`` returns the same dict.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import struct
import time
from typing import Any

from bench.harness import Target
from opt_data.sim.limits import SimLimits
from opt_data.sim.testing import running_simulator

EST = dt.timezone(dt.timedelta(hours=-5))
DURING_SESSION = dt.datetime(2024, 1, 5, 11, 0, tzinfo=EST)
REQUESTS = 20_000
STREAMS = 100
# Rate and lines lifted: this measures the server, not IB's limits.
UNLIMITED = SimLimits(messages_per_second=10**9, market_data_lines=10**6)


class RawClient:
    """The TWS socket protocol by hand: just enough to send requests and count replies."""

    def __init__(self, host: str, port: int, client_id: int) -> None:
        self._sock = socket.create_connection((host, port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        hello = b"v157..176"
        self._sock.sendall(b"API\0" + struct.pack(">I", len(hello)) + hello)
        self.read()  # server version
        self.send("71", "2", str(client_id), "")
        ready: set[str] = set()
        while ready != {"9", "15"}:  # nextValidId and managedAccounts: the API is ready
            fields = self.read()
            if fields[0] in ("9", "15"):
                ready.add(fields[0])

    @staticmethod
    def frame(*fields: str) -> bytes:
        payload = ("\0".join(fields) + "\0").encode()
        return struct.pack(">I", len(payload)) + payload

    def send(self, *fields: str) -> None:
        self._sock.sendall(self.frame(*fields))

    def send_raw(self, data: bytes) -> None:
        self._sock.sendall(data)

    def read(self) -> list[str]:
        while True:
            if len(self._buf) >= 4:
                (size,) = struct.unpack_from(">I", self._buf)
                if len(self._buf) >= 4 + size:
                    payload = bytes(self._buf[4 : 4 + size])
                    del self._buf[: 4 + size]
                    return payload.decode().split("\0")[:-1]
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("simulator closed the connection")
            self._buf += chunk

    def read_until(self, msg_id: str, count: int = 1) -> int:
        """Read until ``count`` messages with ``msg_id`` arrived; returns all messages read."""
        seen = total = 0
        while seen < count:
            fields = self.read()
            total += 1
            if fields[0] == msg_id:
                seen += 1
        return total

    def close(self) -> None:
        self._sock.close()


def _spy_contract(con_id: int = 0, sec_type: str = "OPT") -> list[str]:
    symbol = "" if con_id else "SPY"
    return [str(con_id), symbol, sec_type, "", "0.0", "", "", "SMART", "", "USD", "", ""]


def run() -> dict[str, Any]:
    """Measure the three throughputs; every number is per wall-clock second."""
    with running_simulator(now=DURING_SESSION, limits=UNLIMITED) as sim:
        client = RawClient(sim.host, sim.port, client_id=1)
        try:
            # Warm the SPY chain up: its first build is the market's cost, not the server's.
            client.send("9", "8", "1", *_spy_contract(), "0", "", "", "")
            client.read_until("52")

            batch = RawClient.frame("49", "1") * REQUESTS
            started = time.perf_counter()
            client.send_raw(batch)
            client.read_until("49", REQUESTS)
            requests_s = REQUESTS / (time.perf_counter() - started)

            started = time.perf_counter()
            client.send("9", "8", "2", *_spy_contract(), "0", "", "", "")
            chain = client.read_until("52") - 1
            chain_s = chain / (time.perf_counter() - started)

            options = sim.market.options(
                "SPY", sim.market.session_of(DURING_SESSION), trading_class="SPY"
            )[:STREAMS]
            started = time.perf_counter()
            for i, inst in enumerate(options):
                client.send("1", "11", str(1000 + i), *_spy_contract(inst.con_id, ""),
                            "0", "101", "0", "0", "")  # fmt: skip
            # Requests are served in order: the currentTime reply follows every first tick.
            client.send("49", "1")
            ticks = client.read_until("49") - 1
            ticks_s = ticks / (time.perf_counter() - started)
        finally:
            client.close()
    return {
        "requests_per_second": round(requests_s),
        "messages_out_per_second": round(chain_s),
        "chain_contracts": chain,
        "ticks_per_second": round(ticks_s),
        "streams": len(options),
        "ib_default_limit_messages_per_second": SimLimits().rate,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))


def targets(result: dict[str, Any]) -> list[Target]:
    """The simulator is never the bottleneck, even at ten times IB's message limit."""
    needed = 10 * result["ib_default_limit_messages_per_second"]
    return [
        Target(
            f"simulator answers ≥ {needed} requests/s (×10 IB's limit)",
            result["requests_per_second"] >= needed,
            f"{result['requests_per_second']:,}",
        )
    ]
