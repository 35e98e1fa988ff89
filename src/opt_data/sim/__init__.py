"""A simulated IB Gateway that speaks the real TWS socket protocol (server version 176).

It shares no code with the collector: unmodified ib_insync / ib_async clients connect to it
over TCP exactly as they would to IB Gateway. ``market`` is the deterministic option market,
``protocol`` the wire format, ``server`` the asyncio gateway, ``limits`` IB's pacing rules,
``scenario`` the fault injection, and ``stats`` the counters tests and benchmarks read.
"""
