"""`opt-data doctor` diagnoses the runbook's failure table against the simulator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from update_harness import EVENING, SYMBOLS, make_settings

from opt_data.sim.scenario import ClientIdInUse, Scenario
from opt_data.sim.testing import running_simulator


def _doctor(workdir: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IB_", "OPT_DATA_"))}
    env |= {"IB_PORT": str(port), "IB_CLIENT_ID": "7"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "opt_data.cli",
            "--config",
            str(workdir / "opt-data.toml"),
            "doctor",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_healthy_setup_passes_every_check(tmp_path: Path) -> None:
    """A reachable gateway with data: every line ok, exit 0."""
    with running_simulator(now=EVENING, symbols=SYMBOLS) as sim:
        make_settings(tmp_path, sim.port)
        result = _doctor(tmp_path, sim.port)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (
        "config",
        "data path",
        "universe",
        "calendar",
        "gateway",
        "client id",
        "market data",
    ):
        assert f"ok    {name}" in result.stdout


def test_gateway_down_fails_with_the_fix(tmp_path: Path) -> None:
    """Nothing listening: the gateway check fails and names IB_HOST/IB_PORT."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    make_settings(tmp_path, port)
    result = _doctor(tmp_path, port)
    assert result.returncode == 1
    assert "FAIL  gateway" in result.stdout and "IB_HOST/IB_PORT" in result.stdout


def test_client_id_in_use_is_named(tmp_path: Path) -> None:
    """326: the client-id check fails and tells to change IB_CLIENT_ID."""
    scenario = Scenario(client_id_in_use=ClientIdInUse(client_ids=(7,)))
    with running_simulator(now=EVENING, symbols=SYMBOLS, scenario=scenario) as sim:
        make_settings(tmp_path, sim.port)
        result = _doctor(tmp_path, sim.port)
    assert result.returncode == 1
    assert "FAIL  client id" in result.stdout and "IB_CLIENT_ID" in result.stdout


def test_delayed_only_account_is_reported(tmp_path: Path) -> None:
    """No live subscription: the market-data check fails with the delayed-data fix."""
    with running_simulator(
        now=EVENING, symbols=SYMBOLS, scenario=Scenario(delayed_only=True)
    ) as sim:
        make_settings(tmp_path, sim.port)
        result = _doctor(tmp_path, sim.port)
    assert result.returncode == 1
    assert "market data" in result.stdout and "IB_MARKET_DATA_TYPE=3" in result.stdout
