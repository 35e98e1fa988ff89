"""opt-data benchmarks: `python -m bench [names...]` (see docs/benchmarks.md)."""
