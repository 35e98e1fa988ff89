"""A simulated IB Gateway that speaks the real TWS socket protocol (server version 176).

It shares no code with the collector: unmodified ib_insync / ib_async clients connect to it
over TCP exactly as they would to IB Gateway.

- ``market/``: the deterministic option market (prices, chains, Greeks, OI, history).
- ``protocol``, ``messages``: the wire format and every reply layout with IB's error texts.
- ``server``, ``session``, ``handlers_*``: the asyncio gateway, one session per connection.
- ``limits``: IB's pacing rules; ``scenario``: fault injection; ``stats``: the counters
  tests and benchmarks read; ``clock``: the simulated clock.
- ``runner`` / ``__main__``: ``opt-data sim``; ``testing``: a simulator in a thread for tests.
"""
