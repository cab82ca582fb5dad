"""Every bundled scenario validates, runs, and keeps its mass balance."""

from pathlib import Path

import pytest

from simulator import load_scenario, run
from simulator.cli import main

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


def test_the_two_core_scenarios_are_bundled():
    assert {"baseline_2024", "licensing_2025"} <= {p.stem for p in SCENARIOS}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_bundled_scenario_runs_with_mass_balance(path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    result = run(scenario, seed=11)
    balance = result.manifest["mass_balance"]
    assert abs(balance["residual_t"]) < 1e-9 * balance["throughput_t"]
    assert balance["produced_t"] > 0 and balance["consumed_t"] > 0
    assert len(result.shortages) >= 6 and len(result.lead_times) > 100


def test_bundled_scenarios_validate_from_the_cli(capsys):
    assert main(["validate", *map(str, SCENARIOS)]) == 0
    assert capsys.readouterr().out.count(": ok") == len(SCENARIOS)


def test_licensing_2025_reaches_the_end_of_march_2026():
    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "licensing_2025.yaml")
    assert scenario.start.isoformat() == "2025-01-01" and scenario.end.isoformat() >= "2026-03-31"
