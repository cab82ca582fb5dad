"""resim calibrate: ABC-SMC pieces on hand-made numbers, recovery of a known truth on a small
world, identifiability verdicts, resuming, and bad calibration files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulator import load_scenario, run
from simulator.calibrate import CalibrationError, calibrate, plan_calibration
from simulator.calibrate import smc
from simulator.calibrate.posterior import verdict
from simulator.cli import main
from simulator.score import observed_from_run

WORLD = Path(__file__).parent / "data" / "calibration_world.yaml"
APPROVAL = "controls.cn_licence.approval_probability"
MODE = "controls.cn_licence.review_days.mode"
RESUBMIT = "controls.cn_licence.resubmit_days"


def test_importance_weights_tolerance_and_weighted_quantiles_by_hand():
    """Distances of 4 points x 2 replications; the 0.5 quantile of the 8 values (1..8) is 4.5, so
    a = 2, 2, 0, 0 (points 0 and 1 have both replications within). Prior density equal; proposal
    densities q = 1, 2, 1, 1 -> weights 2/1 : 2/2 = 2 : 1 -> 2/3, 1/3, 0, 0.
    Weighted quantiles of values 10, 20 with weights 2/3, 1/3: midpoints of the cumulative
    weights are 1/3 (10) and 5/6 (20): the median interpolates 10 + (0.5 - 1/3) / (1/2) x 10 = 13.33."""
    d = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    eps = smc.tolerance(d)
    assert eps == 4.5
    a = smc.within(d, eps)
    assert a.tolist() == [2, 2, 0, 0]
    w = smc.importance_weights(a, np.zeros(4), np.log([1.0, 2.0, 1.0, 1.0]))
    assert w.tolist() == pytest.approx([2 / 3, 1 / 3, 0, 0])
    assert smc.ess(w) == pytest.approx(1 / (4 / 9 + 1 / 9))
    assert smc.weighted_quantiles(np.array([10.0, 20.0, 99.0]), np.array([2 / 3, 1 / 3, 0.0]), [0.5])[0] == \
        pytest.approx(10 + (0.5 - 1 / 3) / 0.5 * 10)


def test_proposal_density_is_the_mixture_it_draws_from():
    """Two particles at 0 and 10, weights 0.25/0.75, kernel variance 4: q(x) = 0.25 N(x; 0, 2) + 0.75 N(x; 10, 2)."""
    theta, w, cov = np.array([[0.0], [10.0]]), np.array([0.25, 0.75]), np.array([[4.0]])
    x = np.array([[1.0], [9.0]])
    expected = 0.25 * stats.norm.pdf(x[:, 0], 0, 2) + 0.75 * stats.norm.pdf(x[:, 0], 10, 2)
    assert np.exp(smc.log_proposal(x, theta, w, cov)) == pytest.approx(expected)
    draws = smc.propose(theta, w, cov, 4000, np.random.default_rng(1))
    assert (draws[:, 0] > 5).mean() == pytest.approx(0.75, abs=0.03)


def test_verdicts_by_narrowing():
    assert [verdict(x) for x in (0.9, 0.5, 0.3, 0.2, 0.1, -0.05)] == [
        "identified", "identified", "weakly identified", "weakly identified", "not identified", "not identified"]


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    """The truth: calibration_world.yaml as written (approval 0.4, review mode 30 days), seed 99;
    its CN exports of 8505.11 (the WLD total, Jan-Aug 2025) are the observed series."""
    folder = tmp_path_factory.mktemp("recovery")
    truth = run(load_scenario(WORLD), seed=99)
    observed_from_run(truth, {"reporter": "CN", "hs_code": "8505.11"}).to_csv(folder / "obs.csv", index=False)
    (folder / "cal.yaml").write_text(f"""name: recovery
scenario: {WORLD}
observed: obs.csv
select: {{reporter: CN, hs_code: "8505.11", partner: WLD}}
seed: 5
parameters:
  {APPROVAL}: [0.05, 0.95]
  {MODE}: {{dist: uniform, min: 6, max: 55}}
  {RESUBMIT}: [1, 60]        # nothing is returned for documents: no effect on the data
replications: 1
population: 100
budget: 400
""")
    result = calibrate(folder / "cal.yaml", workers=1, out=folder / "out")
    return folder, result


def test_recovery_true_values_in_90_intervals_and_approval_narrowed(recovery):
    _, result = recovery
    p = result.parameters.set_index("parameter")
    assert p.loc[APPROVAL, "p05"] <= 0.4 <= p.loc[APPROVAL, "p95"]
    assert p.loc[MODE, "p05"] <= 30 <= p.loc[MODE, "p95"]
    prior_width = p.loc[APPROVAL, "prior_p95"] - p.loc[APPROVAL, "prior_p05"]
    assert p.loc[APPROVAL, "p95"] - p.loc[APPROVAL, "p05"] < 0.4 * prior_width
    assert p.loc[APPROVAL, "verdict"] == "identified"


def test_parameter_without_effect_is_reported_not_identified(recovery):
    _, result = recovery
    p = result.parameters.set_index("parameter")
    assert p.loc[RESUBMIT, "verdict"] == "not identified"
    assert p.loc[RESUBMIT, "narrowing"] < 0.2


def test_outputs_written_and_consistent(recovery):
    folder, result = recovery
    out = folder / "out"
    for name in ("posterior.csv", "parameters.csv", "correlations.csv", "predictive.csv", "rounds.csv",
                 "calibration.json", "report.html", "predictive.png", "marginals.png"):
        assert (out / name).is_file(), name
    post = pd.read_csv(out / "posterior.csv")
    assert post["weight"].sum() == pytest.approx(1.0) and list(post.columns[2:]) == [APPROVAL, MODE, RESUBMIT]
    corr = pd.read_csv(out / "correlations.csv").set_index("parameter")
    assert np.allclose(np.diag(corr.to_numpy()), 1.0) and np.allclose(corr.to_numpy(), corr.to_numpy().T)
    assert result.runs == 400 and len(result.rounds) == 4
    assert sorted(p.name for p in (out / "rounds").iterdir()) == ["round-000", "round-001", "round-002", "round-003"]
    assert "predictive.png" in (out / "report.html").read_text()


def test_same_command_again_resumes_without_new_runs(recovery):
    """Every round's runs are stored; the same call follows the same path and runs nothing."""
    folder, result = recovery
    parts_before = {p: p.stat().st_mtime_ns for p in (folder / "out" / "rounds").rglob("runs.*")}
    again = calibrate(folder / "cal.yaml", workers=1, out=folder / "out", report=False)
    assert {p: p.stat().st_mtime_ns for p in (folder / "out" / "rounds").rglob("runs.*")} == parts_before
    pd.testing.assert_frame_equal(again.parameters, result.parameters)


BASE = f"scenario: {WORLD}\nobserved: obs.csv\n"


@pytest.mark.parametrize("body, expected", [
    ("parametrs:\n  " + APPROVAL + ": [0.1, 0.9]\nbudget: 1000\n",
     ["cal.yaml:1: parameters: expected a value (this field is required), got nothing",
      "cal.yaml:3: parametrs: unknown field 'parametrs' (did you mean 'parameters'?)"]),
    ("parameters:\n  " + APPROVAL + ": {min: 0.9, max: 0.1}\nbudget: 1000\n",
     [f"cal.yaml:4: parameters.{APPROVAL}: expected max > min, got min=0.9, max=0.1"]),
    ("parameters:\n  controls.cn_license.approval_probability: [0.1, 0.9]\nbudget: 1000\n",
     ["cal.yaml:4: parameters.controls.cn_license.approval_probability: expected a path into the scenario, got "
      "'cn_license', which controls does not have (did you mean 'cn_licence'?)"]),
    ("parameters:\n  " + APPROVAL + ": [0.5, 1.5]\nbudget: 1000\n",
     [f"cal.yaml:4: parameters.{APPROVAL} = 1.5: {APPROVAL}: expected a number <= 1, got 1.5"]),
    ("parameters:\n  " + MODE + ": [2, 50]\nbudget: 1000\n",
     [f"cal.yaml:4: parameters.{MODE} = 2.0: controls.cn_licence.review_days: expected min <= mode <= max and "
      "min < max, got min=5, mode=2, max=60"]),
    ("parameters:\n  " + APPROVAL + ": [0.1, 0.9]\nbudget: 100\n",
     ["cal.yaml:5: budget: expected at least 2 x population x replications = 400 runs (the prior's round and one "
      "more), got 100"]),
    ("statistics: {baseline: [202412]}\nparameters:\n  " + APPROVAL + ": [0.1, 0.9]\nbudget: 1000\n",
     ["cal.yaml:3: statistics.baseline: expected months of the observed series, got 202412 (not observed or not "
      "simulated)"]),
    ("select: {country: CN}\nparameters:\n  " + APPROVAL + ": [0.1, 0.9]\nbudget: 1000\n",
     ["cal.yaml:3: select: country: expected one of reporter, partner, hs_code, material, got 'country'"]),
    ("set: {horizon_days: 0}\nparameters:\n  " + APPROVAL + ": [0.1, 0.9]\nbudget: 1000\n",
     ["cal.yaml:3: set.horizon_days = 0: horizon_days: expected a number >= 1, got 0"]),
    ("parameters:\n  " + APPROVAL + ": {dist: normal, mean: 0.5}\nbudget: 1000\n",
     [f"cal.yaml:4: parameters.{APPROVAL}: expected mean, sd for a normal prior, got no sd"]),
])
def test_bad_calibration_files_get_file_line_errors(tmp_path, monkeypatch, body, expected):
    monkeypatch.chdir(tmp_path)
    Path("obs.csv").write_text("reporter,partner,hs_code,period,net_kg\nCN,WLD,8505.11,202501,1000\n"
                               "CN,WLD,8505.11,202502,900\n")
    Path("cal.yaml").write_text(BASE + body)
    with pytest.raises(CalibrationError) as err:
        plan_calibration("cal.yaml")
    assert err.value.lines == expected


def test_cli_bad_files_exit_2_with_one_line_each(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("cal.yaml").write_text(BASE + "parameters:\n  " + APPROVAL + ": [0.1, 0.9]\nbudget: 1000\n")
    assert main(["calibrate", "cal.yaml", "--check"]) == 2
    assert capsys.readouterr().err == "cal.yaml:2: observed: expected an observed series (CSV), got 'obs.csv' (no file obs.csv)\n"
    Path("obs.csv").write_text("reporter,partner,period,net_kg\nCN,WLD,202501,ten\n")
    assert main(["calibrate", "cal.yaml", "--out", "out"]) == 2
    assert capsys.readouterr().err == "obs.csv:2: net_kg: expected a number >= 0, got 'ten'\n"
    assert not Path("out").exists()


ROOT = Path(__file__).resolve().parent.parent


def test_bundled_example_is_valid_and_its_series_is_what_the_documented_command_makes(tmp_path, capsys):
    """calibrations/example_observed.csv is synthetic: the README's two commands make it again, byte for byte."""
    assert main(["validate", str(ROOT / "calibrations" / "licensing_2025_regime.yaml")]) == 0
    truth = tmp_path / "truth"
    assert main(["run", str(ROOT / "scenarios" / "licensing_2025.yaml"), "--seed", "2025", "--no-report", "--quiet",
                 "--out", str(truth), "--set", "controls.cn_licence_apr2025.approval_probability=0.6",
                 "--set", "controls.cn_licence_apr2025.review_working_days.mode=20"]) == 0
    assert main(["observed", str(truth), "--select", "reporter=CN,hs_code=8505.11", "--out", str(tmp_path / "obs.csv")]) == 0
    assert (tmp_path / "obs.csv").read_bytes() == (ROOT / "calibrations" / "example_observed.csv").read_bytes()


def test_changed_file_is_refused_and_fresh_removes_only_what_calibrate_wrote(recovery, tmp_path):
    import shutil

    from simulator.calibrate import _prepare

    folder, _ = recovery
    changed = folder / "changed.yaml"
    changed.write_text((folder / "cal.yaml").read_text().replace("seed: 5", "seed: 6"))
    with pytest.raises(CalibrationError) as err:
        calibrate(changed, workers=1, out=folder / "out")
    assert err.value.lines == [f"{folder / 'out'}: holds results of a different calibration (scenario, set:, observed "
                               "series, parameters, statistics, seed, replications or population changed); run with "
                               "--fresh to discard them, or choose another --out"]
    copy = tmp_path / "copy"
    shutil.copytree(folder / "out", copy)
    (copy / "notes.txt").write_text("mine")
    _prepare(copy, "another fingerprint", fresh=True)
    assert sorted(p.name for p in copy.iterdir()) == ["notes.txt"]
