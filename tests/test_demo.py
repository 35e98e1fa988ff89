"""`make demo` is the first thing a new user runs: it must work end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_demo_collects_a_session_from_the_simulator(tmp_path: Path) -> None:
    """The demo starts the simulator, runs the real update, and reports rows and 0 violations."""
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "universe.csv", tmp_path / "config" / "universe.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IB_", "OPT_DATA_"))}
    result = subprocess.run(
        [sys.executable, "-m", "opt_data.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 done" in result.stdout
    assert "0 limit violations" in result.stdout
    assert "read_parquet('demo/data/clean/options/**/*.parquet'" in result.stdout
    assert list((tmp_path / "demo" / "data" / "clean").rglob("part-0.parquet"))
