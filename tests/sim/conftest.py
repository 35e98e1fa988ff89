"""Fixtures for the simulator tests."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


@pytest.fixture(params=["ib_insync", "ib_async"])
def ib_lib(request: pytest.FixtureRequest) -> ModuleType:
    """Each test runs once with ib_insync and once with ib_async."""
    return importlib.import_module(request.param)
