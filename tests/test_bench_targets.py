"""``make bench`` fails when a benchmark misses its target (the numbers themselves are
measured by ``make bench``, never here)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import bench.__main__ as bench_main
import pytest
from bench import memory, throughput
from bench.harness import RESULTS, Target

REPO = Path(__file__).resolve().parents[1]


def _committed(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((RESULTS / f"{name}.json").read_text())["result"]
    return result


def _missed(targets: list[Target]) -> list[str]:
    return [t.what for t in targets if not t.met]


def test_the_committed_results_meet_every_target() -> None:
    """What docs/benchmarks.md reports is what the targets accept."""
    assert _missed(throughput.targets(_committed("throughput"))) == []
    assert _missed(memory.targets(_committed("memory"))) == []


@pytest.mark.parametrize(
    ("change", "missed"),
    [
        ({"default": {"efficiency": 0.89}}, "efficiency ≥ 90%"),
        ({"times_10": {"violations": 1}}, "no violation"),
        ({"default": {"errors_by_code": {"100": 1}}}, "no violation"),
        ({"efficiency_ratio_times_10_to_default": 0.85}, "efficiency holds"),
        ({"ratio_opt_data_to_plain": 0.9}, "ahead of the plain"),
        ({"default": {"rows_with_open_interest": 1}}, "ahead of the plain"),
    ],
)
def test_a_throughput_regression_misses_its_target(change: dict[str, Any], missed: str) -> None:
    result = copy.deepcopy(_committed("throughput"))
    for key, value in change.items():
        if isinstance(value, dict):
            result[key].update(value)
        else:
            result[key] = value
    (what,) = _missed(throughput.targets(result))
    assert missed in what


def test_memory_that_grows_with_the_contracts_misses_flatness() -> None:
    result = copy.deepcopy(_committed("memory"))
    result["growth_share"] = 0.4
    assert _missed(memory.targets(result)) == [memory.targets(result)[0].what]


def test_a_missed_target_makes_the_run_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table still prints, the target shows MISSED, and the exit code is 1."""
    fake = bench_main.Benchmark(
        run=lambda _: {"value": 1},
        rows=lambda result: [("fake", "value", str(result["value"]))],
        targets=lambda result: [Target("value ≥ 2", result["value"] >= 2, "1")],
    )
    monkeypatch.setattr(bench_main, "BENCHMARKS", {"fake": fake})
    monkeypatch.setattr(bench_main, "save_result", lambda name, result: REPO / "x.json")
    assert bench_main.main(["fake"]) == 1
    out = capsys.readouterr()
    assert "MISSED: 1" in out.out
    assert "1 target(s) missed: value ≥ 2" in out.err
