"""Sweeps, replications and sensitivity: designs, reproducibility across executors, resuming,
failed runs, file:line errors, the CLI, and Sobol' indices against the Ishigami function."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import sweep
from simulator.cli import main
from simulator.rng import replication_seeds
from simulator.sweep import (
    DaskExecutor,
    LocalExecutor,
    SweepError,
    execute,
    plan_replications,
    plan_sweep,
    summarise,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.yaml"
PARAM = "controls.cn_licence.approval_probability"
TARGET = "facilities.de_ev.policy.target_days"


def write_sweep(tmp_path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"scenario: {TINY}\n" + body)
    return path


GRID = f"""\
seed: 11
replications: 2
set: {{horizon_days: 80}}
parameters:
  {PARAM}: [0.2, 0.9]
  {TARGET}: {{min: 20, max: 60, steps: 3}}
metrics: [share_lost.de_ev, lead_time_p90.DE, licences_denied]
"""


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_seconds"]).reset_index(drop=True)


# --------------------------------------------------------------------------- designs and seeds


def test_grid_design_rows_columns_and_seeds(tmp_path):
    runs = sweep(write_sweep(tmp_path, GRID), out=tmp_path / "out", workers=1)
    assert list(runs.columns) == ["point_id", "replication", "seed", PARAM, TARGET, "share_lost.de_ev",
                                  "lead_time_p90.DE", "licences_denied", "wall_seconds", "error"]
    assert len(runs) == 12 and runs["error"].isna().all()
    points = runs.drop_duplicates("point_id")
    assert list(zip(points[PARAM], points[TARGET])) == [(0.2, 20.0), (0.2, 40.0), (0.2, 60.0), (0.9, 20.0), (0.9, 40.0), (0.9, 60.0)]
    # Common random numbers: replication r has the same child seed at every point.
    assert (runs.groupby("replication")["seed"].nunique() == 1).all()
    assert list(runs[runs.point_id == 0]["seed"]) == replication_seeds(11, 2)
    # A more generous inventory target never loses more (same random numbers).
    by_point = runs.groupby("point_id")["share_lost.de_ev"].mean()
    assert by_point[0] >= by_point[2] and by_point[3] >= by_point[5]
    folder = tmp_path / "out"
    assert {"runs.parquet", "summary.csv", "points.csv", "sweep.json"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "runs").exists()  # parts merged
    assert len(pd.read_parquet(folder / "runs.parquet")) == 12


def test_run_result_equals_a_direct_run(tmp_path):
    from simulator import load_scenario, run

    plan = plan_sweep(write_sweep(tmp_path, GRID))
    seed = plan.seed_of(4, 1)
    direct = run(load_scenario(TINY, {"horizon_days": 80, PARAM: 0.9, TARGET: 40.0}), seed=seed).headline
    from simulator.sweep import _batches, run_task

    task = [t for t in _batches(plan, [(4, 1)], 1, None)][0]
    row = run_task(task)[0]
    assert row["seed"] == seed and row["metrics"]["share_lost.de_ev"] == direct["share_lost.de_ev"]


def test_independent_seeds_without_common_random_numbers(tmp_path):
    plan = plan_sweep(write_sweep(tmp_path, GRID + "common_random_numbers: false\n"))
    seeds = {plan.seed_of(p, r) for p, r in plan.keys()}
    assert len(seeds) == plan.runs == 12
    # A seed depends on its point and replication only, not on how many there are.
    more = plan_sweep(write_sweep(tmp_path, GRID.replace("replications: 2", "replications: 5")
                                  + "common_random_numbers: false\n", "m.yaml"))
    assert more.seed_of(3, 1) == plan.seed_of(3, 1)


def test_latin_hypercube_design_covers_each_stratum(tmp_path):
    body = f"""\
seed: 3
design: {{type: latin_hypercube, points: 8}}
parameters:
  {PARAM}: {{min: 0.1, max: 0.9}}
  {TARGET}: {{min: 10, max: 80, integer: true}}
  horizon_days: [80, 90]
metrics: [share_lost.*]
"""
    plan = plan_sweep(write_sweep(tmp_path, body))
    assert len(plan.points) == 8
    probs = sorted(p[PARAM] for p in plan.points)
    strata = [int((x - 0.1) / 0.8 * 8) for x in probs]
    assert strata == list(range(8))
    assert all(isinstance(p[TARGET], int) and 10 <= p[TARGET] <= 80 for p in plan.points)
    assert {p["horizon_days"] for p in plan.points} == {80, 90}
    assert plan_sweep(write_sweep(tmp_path, body, "again.yaml")).points == plan.points  # same seed, same design


def test_replications_plan_uses_child_seeds_of_the_seed():
    plan = plan_replications(TINY, 5, seed=42)
    assert [plan.seed_of(0, r) for r in range(5)] == replication_seeds(42, 5)


# --------------------------------------------------------------------------- executors


def test_same_results_with_one_worker_several_workers_and_dask(tmp_path):
    path = write_sweep(tmp_path, GRID)
    one = sweep(path, out=tmp_path / "one", workers=1)
    two = sweep(path, out=tmp_path / "two", workers=2, batch=1)
    pd.testing.assert_frame_equal(_comparable(one), _comparable(two))
    pytest.importorskip("distributed")
    with DaskExecutor(workers=2, processes=False) as dask:
        assert dask.workers == 2
        on_dask = sweep(path, out=tmp_path / "dask", executor=dask, batch=2)
    pd.testing.assert_frame_equal(_comparable(one), _comparable(on_dask))


# --------------------------------------------------------------------------- resuming, failures


def test_interrupted_sweep_resumes_and_skips_done_runs(tmp_path):
    path = write_sweep(tmp_path, GRID)
    folder = tmp_path / "out"
    plan = plan_sweep(path)

    class Interrupting(LocalExecutor):
        def map_unordered(self, fn, tasks):
            for i, item in enumerate(super().map_unordered(fn, tasks)):
                if i == 2:
                    raise KeyboardInterrupt
                yield item

    from simulator.sweep import SweepInterrupted

    with pytest.raises(SweepInterrupted) as caught:
        execute(plan, folder, Interrupting(1), progress=False, batch=3)
    assert caught.value.saved == 6
    assert len(pd.read_parquet(folder / "runs.parquet")) == 6

    calls = []

    class Counting(LocalExecutor):
        def map_unordered(self, fn, tasks):
            calls.extend(len(t.runs) for t in tasks)
            yield from super().map_unordered(fn, tasks)

    runs, info = execute(plan, folder, Counting(1), progress=False, batch=3)
    assert sum(calls) == 6 and info["skipped"] == 6 and info["ran"] == 6
    whole = sweep(path, out=tmp_path / "whole", workers=1)
    pd.testing.assert_frame_equal(_comparable(runs), _comparable(whole))
    # Nothing left to do the third time; a longer sweep only runs the new replications.
    _, info = execute(plan, folder, Counting(1), progress=False)
    assert info["ran"] == 0 and sum(calls) == 6
    longer = plan_sweep(write_sweep(tmp_path, GRID.replace("replications: 2", "replications: 3"), "s.yaml"))
    runs, info = execute(longer, folder, Counting(1), progress=False)
    assert info["ran"] == 6 and len(runs) == 18


def test_part_files_are_appended_as_batches_finish(tmp_path):
    path = write_sweep(tmp_path, GRID)
    folder = tmp_path / "out"
    plan = plan_sweep(path)
    seen = []

    class Watching(LocalExecutor):
        def map_unordered(self, fn, tasks):
            for item in super().map_unordered(fn, tasks):
                seen.append(sorted(p.name for p in (folder / "runs").glob("part-*")) if (folder / "runs").exists() else [])
                yield item

    execute(plan, folder, Watching(1), progress=False, batch=4)
    assert [len(s) for s in seen] == [0, 1, 2]  # each batch on disk before the next is handed over
    assert not list(folder.glob(".*"))  # no temporary files left


def test_changed_sweep_refuses_old_results_unless_fresh(tmp_path, capsys):
    path = write_sweep(tmp_path, GRID)
    folder = tmp_path / "out"
    sweep(path, out=folder, workers=1)
    path.write_text(path.read_text().replace("seed: 11", "seed: 12"))
    with pytest.raises(SweepError, match="holds results of a different sweep"):
        sweep(path, out=folder, workers=1)
    runs = sweep(path, out=folder, workers=1, fresh=True)
    assert json.loads((folder / "sweep.json").read_text())["seed"] == 12 and len(runs) == 12


def test_a_run_that_raises_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    path = write_sweep(tmp_path, GRID)
    import sys

    sw = sys.modules["simulator.sweep.tasks"]

    original = sw._scenario_for

    def flaky(task, overrides):
        if dict(overrides) == {PARAM: 0.9, TARGET: 20.0}:
            raise RuntimeError("boom at point 3")
        return original(task, overrides)

    monkeypatch.setattr(sw, "_scenario_for", flaky)
    runs = sweep(path, out=tmp_path / "out", workers=1)
    monkeypatch.setattr(sw, "_scenario_for", original)
    assert len(runs) == 12
    failed = runs[runs["error"].notna()]
    assert list(failed["point_id"]) == [3, 3] and failed["error"].iloc[0] == "RuntimeError: boom at point 3"
    assert failed["share_lost.de_ev"].isna().all() and runs["error"].isna().sum() == 10
    summary = summarise(runs)
    first = summary[summary["metric"] == "share_lost.de_ev"].set_index("point_id")
    assert first.loc[3, "failed"] == 2 and first.loc[3, "n"] == 0 and first.loc[2, "n"] == 2
    # Running again does not repeat recorded failures; --retry-failed runs only them.
    assert sweep(path, out=tmp_path / "out", workers=1).attrs["info"]["ran"] == 0
    again = sweep(path, out=tmp_path / "out", workers=1, retry_failed=True)
    assert again["error"].isna().all() and again.attrs["info"]["ran"] == 2


def test_a_sweep_in_which_every_run_raises_raises(tmp_path, monkeypatch, capsys):
    import sys

    from simulator.sweep import SweepFailed, replicate

    def broken(task, overrides):
        raise RuntimeError("no scenario today")

    monkeypatch.setattr(sys.modules["simulator.sweep.tasks"], "_scenario_for", broken)
    path = write_sweep(tmp_path, GRID)
    with pytest.raises(SweepFailed) as caught:
        sweep(path, out=tmp_path / "out", workers=1)
    assert (caught.value.total, caught.value.failed, caught.value.lost) == (12, 12, 0)
    assert str(caught.value).startswith("all 12 runs failed (12 raised an error); first error: RuntimeError: no scenario today")
    with pytest.raises(SweepFailed, match="all 3 runs failed"):
        replicate(TINY, 3, overrides={"horizon_days": 80}, workers=1, out=tmp_path / "reps")
    # The CLI: exit 1 and one line on stderr, no traceback, for a sweep and for replications.
    for argv in (["sweep", str(path), "--workers", "1", "--out", str(tmp_path / "cli"), "--quiet"],
                 ["run", str(TINY), "--replications", "2", "--set", "horizon_days=80", "--workers", "1",
                  "--out", str(tmp_path / "cli-reps"), "--quiet"]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: all ") and "RuntimeError: no scenario today" in err[0]


def test_a_script_without_a_main_guard_gets_told_to_add_one(tmp_path):
    """Worker processes (spawn, forkserver) import the script again: without the guard each of
    them starts a sweep of its own while starting up and dies; every run is lost."""
    import subprocess
    import sys

    script = tmp_path / "no_guard.py"
    script.write_text(
        "from simulator.sweep import LocalExecutor, replicate\n"
        f"runs = replicate({str(TINY)!r}, 2, seed=1, overrides={{'horizon_days': 80}}, out={str(tmp_path / 'out')!r},\n"
        "                 executor=LocalExecutor(workers=2, start_method='spawn'))\n"
        "print('returned', len(runs), 'rows')\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "returned" not in done.stdout
    raised = [line for line in done.stderr.splitlines() if line.startswith("simulator.sweep.errors.SweepFailed: ")]
    assert len(raised) == 1, done.stderr
    assert ": all 2 runs failed (2 lost with their worker); first error: BrokenProcessPool: " in raised[0]
    assert raised[0].endswith("(the worker processes died; a script that runs sweeps or replications on several "
                              "processes must make the call under `if __name__ == \"__main__\":`, as Python's "
                              f"multiprocessing documentation requires, or use workers=1) (results in {tmp_path / 'out'})")


def test_csv_when_pyarrow_is_missing(tmp_path):
    plan = plan_sweep(write_sweep(tmp_path, GRID))
    runs, _ = execute(plan, tmp_path / "out", LocalExecutor(1), progress=False, parquet=False)
    assert (tmp_path / "out" / "runs.csv").exists() and not (tmp_path / "out" / "runs.parquet").exists()
    pq, _ = execute(plan, tmp_path / "pq", LocalExecutor(1), progress=False, parquet=True)
    pd.testing.assert_frame_equal(_comparable(runs), _comparable(pq), check_dtype=False)


# --------------------------------------------------------------------------- summary


def test_summary_statistics():
    runs = pd.DataFrame({"point_id": [0] * 4 + [1] * 2, "replication": [0, 1, 2, 3, 0, 1], "seed": 0,
                         "m": [1.0, 2.0, 3.0, 4.0, 5.0, np.nan], "wall_seconds": 0.1, "error": None})
    s = summarise(runs, [], ["m"]).set_index("point_id")
    assert s.loc[0, "n"] == 4 and s.loc[0, "mean"] == 2.5
    assert s.loc[0, "sd"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert 1.0 <= s.loc[0, "ci95_low"] < 2.5 < s.loc[0, "ci95_high"] <= 4.0  # bootstrap: within the values
    assert (s.loc[0, "p10"], s.loc[0, "p50"], s.loc[0, "p90"]) == pytest.approx((1.3, 2.5, 3.7))
    # one value: no interval (one run says nothing about its spread)
    assert s.loc[1, "n"] == 1 and s.loc[1, "mean"] == 5.0 and np.isnan(s.loc[1, "ci95_low"]) and np.isnan(s.loc[1, "ci95_high"])


def test_confidence_interval_of_a_non_negative_quantity_is_not_negative():
    """A Student t interval of [0, 0, 0, 0, 10] is about [-3.6, 7.6]: days stopped cannot be negative."""
    from simulator.sweep.summary import mean_ci95

    def table(values_by_point):
        rows = [{"point_id": p, "replication": r, "seed": 0, "m": v, "wall_seconds": 0.1, "error": None}
                for p, values in enumerate(values_by_point) for r, v in enumerate(values)]
        return summarise(pd.DataFrame(rows), [], ["m"]).set_index("point_id")

    skewed = [0.0, 0.0, 0.0, 0.0, 10.0]
    s = table([skewed, [3.0, 1.0, 4.0, 1.0, 5.0], [7.0, 7.0, 7.0], [np.nan, np.nan]])
    low, high, mean = s.loc[0, "ci95_low"], s.loc[0, "ci95_high"], s.loc[0, "mean"]
    assert mean == 2.0 and 0.0 <= low <= mean <= high <= 10.0 and high > low
    assert (s.loc[2, "ci95_low"], s.loc[2, "ci95_high"]) == (7.0, 7.0)  # all equal: the point value
    assert math.isnan(s.loc[3, "ci95_low"]) and s.loc[3, "n"] == 0
    # Reproducible, and a point's interval depends only on its own values.
    again = table([skewed])
    assert (again.loc[0, "ci95_low"], again.loc[0, "ci95_high"]) == (low, high)
    assert tuple(mean_ci95([np.array(skewed)])[0]) == (low, high)
    # Many points and metrics at once (vectorised): every bound within the values, every interval around the mean.
    rng = np.random.default_rng(5)
    samples = [rng.exponential(3.0, size=10) * (rng.random(10) < 0.3) for _ in range(4000)]
    ci = mean_ci95(samples)
    means = np.array([v.mean() for v in samples])
    assert (ci[:, 0] >= 0).all() and (ci[:, 0] <= means).all() and (means <= ci[:, 1]).all()
    assert np.array_equal(ci[:7], mean_ci95(samples[:7]))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("body, expected", [
    ("replications: 0\n", ["{f}:2: replications: expected a number >= 1, got 0"]),
    ("design: {type: sobl, base_points: 8}\n",
     ["{f}:2: design.type: expected one of 'grid', 'latin_hypercube', 'sobol', got 'sobl'"]),
    ("design: {type: sobol, base_points: 12}\nparameters: {horizon_days: {min: 50, max: 60}}\n",
     ["{f}:2: design: expected base_points to be a power of 2 (e.g. 64, 128, 256), got 12"]),
    ("parameters:\n  horizon_days: {min: 50, max: 60}\n",
     ["{f}:3: parameters.horizon_days: expected steps: N (or step: d) for a range in a grid design, got neither"]),
    ("parameters:\n  horizon_days: {min: 60, max: 50, steps: 2}\n",
     ["{f}:3: parameters.horizon_days: expected max > min, got min=60, max=50"]),
    ("parameters:\n  horizon_days: {min: 50, max: 60, stepz: 2}\n",
     ["{f}:3: parameters.horizon_days.stepz: unknown field 'stepz' (did you mean 'step"]),
    (f"parameters:\n  {PARAM}: [0.5, 1.5]\n",
     [f"{{f}}:3: parameters.{PARAM} = 1.5: controls.cn_licence.approval_probability: expected a number <= 1, got 1.5"]),
    ("parameters:\n  controls.cn_license.approval_probability: [0.5]\n",
     ["{f}:3: parameters.controls.cn_license.approval_probability: expected a path into the scenario, got "
      "'cn_license', which controls does not have (did you mean 'cn_licence'?)"]),
    ("set: {horizon_days: 60}\n",
     ["{f}:2: set: " + str(TINY) + ":52: timeline[1].date: expected a date within the scenario's horizon",
      "{f}:2: set: " + str(TINY) + ":53: timeline[2].date: expected"]),
    ("metrics: [share_lost.de_evv, lead_time_p90.*]\n",
     ["{f}:2: metrics[0]: unknown metric 'share_lost.de_evv' (did you mean 'share_lost.de_ev'?)"]),
    ("metrics: [nothing.*]\n", ["{f}:2: metrics[0]: expected a pattern that matches some headline metric, got 'nothing.*'"]),
    ("replicatons: 3\n", ["{f}:2: replicatons: unknown field 'replicatons' (did you mean 'replications'?)"]),
])
def test_sweep_file_errors_have_file_and_line(tmp_path, body, expected):
    path = write_sweep(tmp_path, body)
    with pytest.raises(SweepError) as caught:
        plan_sweep(path)
    wanted = [e.format(f=path) for e in expected]
    assert len(caught.value.lines) == len(wanted), caught.value.lines
    for got, want in zip(caught.value.lines, wanted):
        assert got.startswith(want), (got, want)


def test_missing_scenario_and_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: nowhere.yaml\n")
    with pytest.raises(SweepError, match=r"bad.yaml:1: scenario: expected a scenario file, got 'nowhere.yaml'"):
        plan_sweep(bad)
    bad.write_text("scenario: [unclosed\n")
    with pytest.raises(SweepError, match=r"bad.yaml:\d+: YAML syntax error"):
        plan_sweep(bad)
    with pytest.raises(SweepError, match="no such sweep file"):
        plan_sweep(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- CLI


def test_cli_run_with_replications_prints_ci_and_resumes(tmp_path, capsys):
    out = tmp_path / "reps"
    args = ["run", str(TINY), "--replications", "4", "--seed", "3", "--set", "horizon_days=80", "--out", str(out), "--workers", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "tiny: 4 replications (seed 3" in printed and "95% CI" in printed and "share_lost.de_ev" in printed
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs["seed"]) == replication_seeds(3, 4)
    assert main(args[:3] + ["6"] + args[4:]) == 0
    assert "2 run now, 4 already done" in capsys.readouterr().out


def test_cli_sweep_check_quiet_and_errors(tmp_path, capsys):
    path = write_sweep(tmp_path, GRID)
    assert main(["sweep", str(path), "--check"]) == 0
    assert "6 points x 2 replications = 12 runs" in capsys.readouterr().out
    assert main(["sweep", str(path), "--quiet", "--workers", "1", "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "o")
    html = (tmp_path / "o" / "report.html").read_text()  # the sweep's report, unless --no-report
    images = __import__("re").findall(r"src='([^']+\.png)'", html)
    assert images and all((tmp_path / "o" / name).is_file() for name in images)
    assert main(["sweep", str(path), "--quiet", "--workers", "1", "--out", str(tmp_path / "o2"), "--no-report"]) == 0
    assert not (tmp_path / "o2" / "report.html").exists()
    capsys.readouterr()
    bad = write_sweep(tmp_path, "replications: -1\n", "bad.yaml")
    assert main(["sweep", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"{bad}:2: replications: expected a number >= 1, got -1"
    assert main(["sweep", str(path), "--workers", "0"]) == 2
    assert "--workers 0: expected a number of workers >= 1" in capsys.readouterr().err
    assert main(["run", str(TINY), "--workers", "2"]) == 2
    assert "expected --replications N" in capsys.readouterr().err


def test_bundled_example_sweeps_validate():
    files = sorted((ROOT / "sweeps").glob("*.yaml"))
    assert len(files) >= 2
    for f in files:
        if f.name.startswith("sobol"):
            pytest.importorskip("SALib")
        plan = plan_sweep(f)
        assert plan.runs > 0


# --------------------------------------------------------------------------- sensitivity


def test_sobol_indices_of_the_ishigami_function():
    pytest.importorskip("SALib")
    from simulator.sensitivity import saltelli_unit_sample, sobol_indices
    from simulator.sweep import Range, _from_unit

    names = ["x1", "x2", "x3"]
    unit = saltelli_unit_sample(names, 2048, False, seed=1)
    rng = Range(min=-math.pi, max=math.pi)
    x = np.vectorize(lambda u: _from_unit(rng, u))(unit)
    a, b = 7.0, 0.1
    y = np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])
    table = sobol_indices(names, y, resamples=200, seed=1).set_index("parameter")
    # Known values: V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2.
    v = a**2 / 8 + b * math.pi**4 / 5 + b**2 * math.pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    s1 = [v1 / v, v2 / v, 0.0]
    st = [(v1 + v13) / v, v2 / v, v13 / v]
    assert table["S1"].to_numpy() == pytest.approx(s1, abs=0.03)
    assert table["ST"].to_numpy() == pytest.approx(st, abs=0.03)
    assert ((table["S1_low"] <= table["S1"]) & (table["S1"] <= table["S1_high"])).all()
    assert (table["ST_high"] - table["ST_low"] < 0.2).all()


def test_sobol_sweep_writes_ranked_indices(tmp_path, capsys):
    pytest.importorskip("SALib")
    body = f"""\
seed: 2
set: {{horizon_days: 80}}
design: {{type: sobol, base_points: 4, resamples: 50}}
parameters:
  {TARGET}: {{min: 5, max: 50}}
  {PARAM}: {{min: 0.0, max: 1.0}}
metrics: [share_lost.de_ev, first_stop_day.cn_ev]
"""
    path = write_sweep(tmp_path, body)
    out = tmp_path / "sobol"
    assert main(["sweep", str(path), "--workers", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Sobol' sensitivity" in printed and f"1. {TARGET}" in printed
    assert "first_stop_day.cn_ev: skipped" in printed
    table = pd.read_csv(out / "sensitivity.csv")
    assert list(table.columns) == ["metric", "parameter", "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high"]
    assert set(table["parameter"]) == {TARGET, PARAM} and len(pd.read_parquet(out / "runs.parquet")) == 16


def test_validate_recognises_sweep_files(capsys):
    from simulator.cli import main as cli_main

    sweeps = sorted((Path(__file__).resolve().parent.parent / "sweeps").glob("*.yaml"))
    assert cli_main(["validate", *map(str, sweeps)]) == 0
    assert capsys.readouterr().out.count(": ok") == len(sweeps)


def test_printed_shares_are_in_per_cent():
    """Terminal tables print share metrics in per cent (0.0208 -> 2.08%), other metrics as
    numbers, and a missing value as '-'."""
    from simulator.sweep.summary import _value

    assert _value("share_lost.all", 0.0208) == "2.08%"
    assert _value("share_lost.de_ev", 0.0) == "0%"
    assert _value("units_lost.de_ev", 1234.5) == "1,234"
    assert _value("share_lost.all", float("nan")) == "-"
