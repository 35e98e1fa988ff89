"""Fixtures shared by the whole suite. Keep this file small; put topic fixtures next to tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opt_data.logs import reset_logging

_OWN_PREFIXES = ("IB_", "OPT_DATA_")


@pytest.fixture(autouse=True, scope="session")
def _private_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's calendar cache lives in a temp dir, shared by its tests and subprocesses,
    never in the developer's ~/.cache."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if saved is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No IB_* / OPT_DATA_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith(_OWN_PREFIXES):
            monkeypatch.delenv(name)
    yield
    reset_logging()


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test with ``tmp_path`` as the current working directory (``.env``, paths)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@dataclass(frozen=True)
class CliResult:
    """What one ``opt-data`` subprocess did."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture(name="run_cli")
def _run_cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run ``python -m opt_data.cli ARGS`` as a subprocess (cwd ``tmp_path`` by default)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
        environ.update({"COLUMNS": "200", "NO_COLOR": "1"})
        environ.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "opt_data.cli", *args],
            cwd=cwd or tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
