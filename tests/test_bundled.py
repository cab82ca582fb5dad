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


def test_every_cited_fact_row_is_in_the_facts_table():
    """Scenarios cite facts by row id (`# source: B3.1`, notes "B1.6: ..."); every id they name
    is a row of scenarios/FACTS.md, which the repository carries (no path outside it)."""
    import re

    folder = Path(__file__).resolve().parent.parent / "scenarios"
    rows = set(re.findall(r"^\| ([A-D]\d+(?:\.\d+)?|MP) \|", (folder / "FACTS.md").read_text(encoding="utf-8"), re.M))
    assert len(rows) > 50
    cited = {}
    for path in [*folder.glob("*.yaml"), folder / "SOURCES.md"]:
        text = path.read_text(encoding="utf-8")
        # no absolute path, and no relative one climbing out of the repository
        assert not re.search(r"(?:^|[\s(`'\"])/[A-Za-z_.-]+/", text, re.M), path.name
        assert "../.." not in text, path.name
        for row in re.findall(r"\b([A-D]\d+\.\d+|[A-D]\d{1,2})\b(?![\w.-])", text):
            cited.setdefault(row, path.name)
    assert len(cited) > 20  # the ids are found at all
    missing = {row: where for row, where in cited.items() if row not in rows}
    assert not missing, missing
