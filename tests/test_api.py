"""The Python API a notebook uses: run() of a file, a name or a Scenario; Scenario.with_changes
validated like --set; RunResult's reprs and datetime columns (files unchanged); replicate and
sweeps from a Scenario without files; simulator.sweep the subpackage; the README walkthrough."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator import ScenarioError, load_scenario, replicate, run, run_sweep
from simulator.catalog import scenarios_dir
from simulator.results import FILES, write_run
from simulator.sweep.progress import Progress
from simulator.table_dates import to_datetimes, to_text

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def test_run_takes_a_file_a_bundled_name_or_a_scenario(tmp_path, monkeypatch):
    """The same scenario three ways gives the same run (seed 1): identical headline metrics."""
    monkeypatch.chdir(tmp_path)
    by_file = run(TINY, seed=1)
    by_scenario = run(load_scenario(TINY), seed=1)
    assert by_file.headline == by_scenario.headline and by_file.manifest["scenario_sha256"] == by_scenario.manifest["scenario_sha256"]
    by_name = load_scenario("licensing_2025")
    assert by_name == load_scenario(scenarios_dir() / "licensing_2025.yaml")
    assert load_scenario("stockpile_release").name == "stockpile_release"
    with pytest.raises(ScenarioError) as caught:
        run("no_such_scenario")
    assert caught.value.lines == ["no_such_scenario: no such scenario file"]


def test_with_changes_applies_dotted_paths_like_set_and_keeps_the_original():
    """Two changes apply; the original is untouched; changing twice keeps the first change."""
    base = load_scenario(TINY)
    name = next(iter(base.controls)) if base.controls else None
    changed = base.with_changes({"horizon_days": 80, "seed": 9})
    assert (changed.horizon_days, changed.seed) == (80, 9)
    assert (base.horizon_days, base.seed) == (120, 1)
    again = changed.with_changes({"seed": 11})
    assert (again.horizon_days, again.seed) == (80, 11)
    assert again == load_scenario(TINY, ["horizon_days=80", "seed=11"])
    if name is not None:
        assert base.with_changes({f"controls.{name}.approval_probability": 0.25}).controls[name].approval_probability == 0.25


def test_an_invalid_change_raises_the_same_error_as_set():
    """horizon_days: -5 -> exactly the line `resim run --set horizon_days=-5` prints, and a
    scenario built in Python (no file) says the same about the change."""
    base = load_scenario("licensing_2025")
    with pytest.raises(ScenarioError) as by_set:
        load_scenario("licensing_2025", ["horizon_days=-5"])
    with pytest.raises(ScenarioError) as by_change:
        base.with_changes({"horizon_days": -5})
    assert by_change.value.lines == by_set.value.lines == ["--set horizon_days=-5: horizon_days: expected a number >= 1, got -5"]
    # a date of the file outside a shortened horizon: the file's line, as with --set
    with pytest.raises(ScenarioError) as short:
        base.with_changes({"horizon_days": 100})
    with pytest.raises(ScenarioError) as short_set:
        load_scenario("licensing_2025", ["horizon_days=100"])
    assert short.value.lines == short_set.value.lines and "(after --set horizon_days=100)" in short.value.lines[0]
    built = simulator.parse_scenario(TINY.read_text(), "<text>")
    with pytest.raises(ScenarioError) as from_python:
        built.with_changes({"horizon_days": -5})
    assert from_python.value.lines == ["--set horizon_days=-5: horizon_days: expected a number >= 1, got -5"]
    with pytest.raises(ScenarioError, match="expected a mapping of dotted paths"):
        base.with_changes(["horizon_days=5"])


def test_result_reprs_are_short_and_html_is_the_headline_table():
    result = run(TINY, seed=1)
    text = repr(result)
    assert text.startswith(f"<RunResult tiny seed 1 {result.manifest['start']} to {result.manifest['end']}: ")
    assert "\n" not in text and len(text) < 200
    html = result._repr_html_()
    assert html.count("<tr") == len(result.shortages) + 1  # header + one row per demand facility
    for facility in result.shortages["facility"]:
        assert f"<td>{facility}</td>" in html


def test_date_columns_are_datetimes_with_nat_and_files_stay_the_same(tmp_path, monkeypatch):
    """Day columns are datetime64 in Python (NaT where the file has ''); a run written with them
    gives the same bytes as the text tables wrote (the runner's conversion switched off)."""
    scenario = load_scenario("licensing_2025", ["horizon_days=350"])
    result = run(scenario, seed=1)
    sh = result.shortages
    assert sh["first_stop"].dtype == "datetime64[ns]" and sh["recovered"].dtype == "datetime64[ns]"
    assert sh["first_stop"].isna().any() and sh["first_stop"].notna().any()
    for name in ("lead_times", "licences", "production_daily", "inventory_daily", "events", "licences_weekly"):
        table = result.tables[name]
        for column in ("date", "week", "ordered", "delivered", "applied", "decided"):
            if column in table:
                assert table[column].dtype == "datetime64[ns]", (name, column)
    new = write_run(result, tmp_path / "new")
    monkeypatch.setattr("simulator.runner.to_datetimes", lambda frame: frame)
    text = run(scenario, seed=1)
    assert text.shortages["first_stop"].dtype != "datetime64[ns]"
    old = write_run(text, tmp_path / "old")
    for filename in FILES.values():
        assert (new / filename).read_bytes() == (old / filename).read_bytes(), filename


def test_dates_round_trip_by_hand():
    """'2025-01-30', '' -> Timestamp, NaT -> back to the same text; months stay text."""
    frame = pd.DataFrame({"first_stop": ["2025-01-30", "", "2025-01-30"], "month": ["2025-01", "2025-02", "2025-03"],
                          "date": pd.Categorical(["2025-02-01", "2025-02-02", "2025-02-01"])})
    typed = to_datetimes(frame)
    assert typed["first_stop"].tolist()[0] == pd.Timestamp("2025-01-30") and pd.isna(typed["first_stop"][1])
    assert not pd.api.types.is_datetime64_any_dtype(typed["month"]) and typed["date"].dtype == "datetime64[ns]"
    back = to_text(typed)
    assert back["first_stop"].tolist() == ["2025-01-30", "", "2025-01-30"]
    assert back["date"].tolist() == ["2025-02-01", "2025-02-02", "2025-02-01"]


def test_replicate_a_scenario_without_files(tmp_path, monkeypatch):
    """Replications of a changed Scenario equal those of the same change given as overrides to
    the file (same seeds, same metrics), and save=False leaves the folder empty."""
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(TINY).with_changes({"horizon_days": 100})
    reps = replicate(scenario, 3, seed=5, workers=1, save=False)
    assert list(tmp_path.iterdir()) == [] and reps.attrs["folder"] is None
    same = replicate(TINY, 3, seed=5, overrides={"horizon_days": 100}, workers=1, results=tmp_path / "r")
    assert reps["seed"].tolist() == same["seed"].tolist()
    metrics = [c for c in reps.attrs["metrics"] if c in same]
    pd.testing.assert_frame_equal(reps[metrics], same[metrics])
    assert (tmp_path / "r").is_dir()


def test_a_sweep_over_a_given_scenario_without_files(tmp_path, monkeypatch):
    """A two-point sweep file (horizon 90 or 100) run on a Scenario passed in (approval 0.3): its
    points apply to that scenario, nothing is written, one row per point."""
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec" / "two.yaml"
    spec.parent.mkdir()
    (spec.parent / "base.yaml").write_text(TINY.read_text())
    spec.write_text("scenario: base.yaml\nreplications: 1\nseed: 3\nparameters:\n  horizon_days: [90, 100]\nmetrics: ['share_lost.*']\n")
    scenario = load_scenario(TINY).with_changes({"controls.cn_licence.approval_probability": 0.3})
    runs = run_sweep(spec, scenario=scenario, workers=1, save=False)
    assert len(runs) == 2 and runs["error"].isna().all() and runs.attrs["folder"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec"]
    one = run(scenario.with_changes({"horizon_days": 90}), seed=int(runs["seed"][0]))
    column = next(c for c in runs.attrs["metrics"] if c.startswith("share_lost."))
    assert runs[column][0] == one.headline[column]


def test_simulator_sweep_is_the_subpackage_and_still_callable():
    import simulator.sweep as package

    assert simulator.sweep is package and hasattr(simulator.sweep, "plan_sweep")
    assert simulator.run_sweep is package.sweep and callable(simulator.sweep)
    from simulator import sweep

    assert sweep is package


def test_progress_is_off_off_a_terminal_unless_asked():
    """A pipe gets nothing by default; asked for, one line at the end with 2/2 runs, 1 failed."""
    quiet, loud = io.StringIO(), io.StringIO()
    for stream, enabled in ((quiet, None), (loud, True)):
        bar = Progress(2, 0, enabled, stream)
        bar.update(1, 0)
        bar.update(1, 1)
        bar.close()
    assert quiet.getvalue() == ""
    lines = [line for line in loud.getvalue().replace("\r", "\n").splitlines() if line.strip()]
    assert re.match(r"runs: 2/2, failed=1 \[", lines[-1]), lines


def test_run_stages_on_stderr_only_when_asked(tmp_path, capsys):
    """--progress: one line per stage on stderr; without it (not a terminal) none."""
    from simulator.cli import main

    assert main(["run", str(TINY), "--no-report", "--quiet", "--out", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().err == ""
    assert main(["run", str(TINY), "--no-report", "--progress", "--out", str(tmp_path / "b")]) == 0
    stages = [line.split(":")[1].split()[0] for line in capsys.readouterr().err.splitlines()]
    assert stages == ["loading", "simulating", "writing"]


def test_the_readme_walkthrough_runs(tmp_path, monkeypatch):
    """The README's notebook walkthrough, as written, on a 350-day horizon (its last timeline
    event, 15 December, inside), writing no files."""
    import matplotlib

    matplotlib.use("Agg")
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- walkthrough: tests/test_api.py runs this block -->\n```python\n", 1)[1].split("```", 1)[0]
    assert 'load_scenario("licensing_2025")' in block
    code = block.replace('load_scenario("licensing_2025")', 'load_scenario("licensing_2025", {"horizon_days": 350})')
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(code, "README.md walkthrough", "exec"), names)
    assert list(tmp_path.iterdir()) == []
    assert len(names["reps"]) == 3 and names["lost"]["increase"].notna().all()
    assert np.isclose(names["de_ev"]["planned_units"].sum(), names["daily"].query("facility == 'de_ev'")["planned_units"].sum())


def test_scenario_hash_is_computed_once_per_scenario_object(monkeypatch):
    """A sweep's runs of one Scenario hash it once; another object (changed, or loaded again) is
    hashed on its own, and a collected scenario's entry goes with it."""
    import gc
    import hashlib

    from simulator.loading import entry

    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr(entry.hashlib, "sha256", lambda data: hashed.append(1) or real(data))
    scenario = load_scenario(TINY)
    first = simulator.scenario_hash(scenario)
    assert [simulator.scenario_hash(scenario) for _ in range(3)] == [first] * 3 and len(hashed) == 1
    assert run(scenario, seed=1, headline_only=True).manifest["scenario_sha256"] == first and len(hashed) == 1
    changed = scenario.with_changes({"horizon_days": scenario.horizon_days + 1})
    assert simulator.scenario_hash(changed) != first and len(hashed) == 2
    again = load_scenario(TINY)  # equal but another object: hashed again, to the same digest
    assert simulator.scenario_hash(again) == first and len(hashed) == 3
    key = id(scenario)
    del scenario
    gc.collect()
    assert key not in entry._HASHES
