"""Fixtures for the job tests (the harness itself lives in update_harness.py)."""

from update_harness import settings_for_fixture, sim_fixture

__all__ = ["settings_for_fixture", "sim_fixture"]
