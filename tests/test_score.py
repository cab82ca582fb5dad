"""Customs-shaped flows, reading observed series (with their errors), and scoring runs against them."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import load_scenario, run
from simulator.cli import main
from simulator.customs import flows_customs
from simulator.observed import ObservedError, read_observed
from simulator.score import score

DATA = Path(__file__).parent / "data"
HEADER = "reporter,partner,hs_code,period,flow,net_kg\n"


def _write(tmp_path, text, name="obs.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _errors(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ObservedError) as err:
        read_observed(path)
    return [line.replace(str(path), "obs.csv") for line in err.value.lines]


def test_flows_customs_shape_from_monthly_flows():
    """Domestic rows are dropped; tonnes become kg; the HS code comes from the material; period is YYYYMM."""
    flows = pd.DataFrame({"month": ["2025-01", "2025-01", "2025-02"], "exporter": ["CN", "CN", "CN"],
                          "destination": ["CN", "DE", "US"], "material": ["ndfeb_magnet"] * 3, "tonnes": [5.0, 1.5, 2.0]})
    out = flows_customs(flows, {"ndfeb_magnet": "8505.11"})
    assert out.to_dict("records") == [
        {"reporter": "CN", "partner": "DE", "hs_code": "8505.11", "period": 202501, "flow": "export", "net_kg": 1500.0,
         "material": "ndfeb_magnet"},
        {"reporter": "CN", "partner": "US", "hs_code": "8505.11", "period": 202502, "flow": "export", "net_kg": 2000.0,
         "material": "ndfeb_magnet"}]


def test_every_run_writes_flows_customs(tmp_path):
    """tiny.yaml has no hs_code: the column is empty; the customs total equals the cross-border flows."""
    result = run(load_scenario(DATA / "tiny.yaml"), seed=1)
    assert main(["run", str(DATA / "tiny.yaml"), "--no-report", "--quiet", "--out", str(tmp_path / "r")]) == 0
    written = pd.read_csv(tmp_path / "r" / "flows_customs.csv", keep_default_na=False)
    assert list(written.columns) == ["reporter", "partner", "hs_code", "period", "flow", "net_kg", "material"]
    cross = result.flows[result.flows.exporter != result.flows.destination]
    assert written.net_kg.sum() == pytest.approx(1000 * cross.tonnes.sum())
    assert set(written.hs_code) == {""} and "flows_customs.csv" in json.loads((tmp_path / "r" / "manifest.json").read_text())["files"]


def test_reader_accepts_tonnes_world_totals_and_yyyy_mm(tmp_path):
    path = _write(tmp_path, "reporter,partner,period,tonnes,extra\nCN,WLD,2025-03,12.5,x\nCN,DE,202504,0,y\n")
    frame = read_observed(path)
    assert frame[["reporter", "partner", "hs_code", "period", "tonnes"]].values.tolist() == [
        ["CN", "WLD", "", 202503, 12.5], ["CN", "DE", "", 202504, 0.0]]


@pytest.mark.parametrize("text, expected", [
    ("reporter,partner,period\nCN,WLD,202501\n",
     ["obs.csv:1: net_kg: expected a column net_kg or tonnes, got columns reporter, partner, period"]),
    ("partner,period,net_kg\nWLD,202501,5\n",
     ["obs.csv:1: reporter: expected a column reporter, got columns partner, period, net_kg"]),
    (HEADER + "CN,WLD,8505.11,202501,export,100\nCHN,WLD,8505.11,202502,export,100\n",
     ["obs.csv:3: reporter: expected an ISO 3166 alpha-2 country code (e.g. CN), got 'CHN'"]),
    (HEADER + "CN,Germany,8505.11,202501,export,100\n",
     ["obs.csv:2: partner: expected an ISO 3166 alpha-2 country code or WLD (all partners), got 'Germany'"]),
    (HEADER + "CN,WLD,8505.11,202513,export,100\nCN,WLD,8505.11,2025,export,100\n",
     ["obs.csv:2: period: expected a month as YYYYMM (e.g. 202504), got '202513'",
      "obs.csv:3: period: expected a month as YYYYMM (e.g. 202504), got '2025'"]),
    (HEADER + "CN,WLD,8505.11,202501,export,-5\nCN,WLD,8505.11,202502,export,lots\n",
     ["obs.csv:2: net_kg: expected a number >= 0, got '-5'", "obs.csv:3: net_kg: expected a number >= 0, got 'lots'"]),
    (HEADER + "CN,WLD,8505.11,202501,import,5\n",
     ["obs.csv:2: flow: expected export (the simulator's flows are exports), got 'import'"]),
    (HEADER + "CN,WLD,85-05,202501,export,5\n", ["obs.csv:2: hs_code: expected an HS code such as 8505.11, got '85-05'"]),
    (HEADER + "CN,WLD,8505.11,202501,export,5\nCN,WLD,8505.11,202501,export,6\n",
     ["obs.csv:3: period: expected one row per reporter, partner, hs_code, material and period, got a second row for "
      "202501 (the first is on line 2)"]),
    (HEADER + "CN,WLD,8505.11,202501,export\n", ["obs.csv:2: row: expected 6 cells as in the header, got 5"]),
    ("", ["obs.csv:1: header: expected a CSV header (reporter, partner, period, net_kg, ...), got an empty file"]),
])
def test_reader_errors_name_file_line_and_column(tmp_path, text, expected):
    assert _errors(tmp_path, text) == expected


def test_score_cli_bad_series_exits_2_with_one_line(tmp_path, capsys):
    assert main(["run", str(DATA / "tiny.yaml"), "--no-report", "--quiet", "--out", str(tmp_path / "r")]) == 0
    obs = _write(tmp_path, HEADER + "CN,WLD,8505.11,202501,export,-1\n")
    capsys.readouterr()
    assert main(["score", str(tmp_path / "r"), "--observed", str(obs), "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err == f"{obs}:2: net_kg: expected a number >= 0, got '-1'\n"
    assert not (tmp_path / "s").exists()


class _FakeRun:
    """A stand-in for RunResult: a scenario with start/end and a flows_customs table."""

    def __init__(self, tonnes_by_month):
        import datetime as dt

        class S:
            start, end = dt.date(2025, 1, 1), dt.date(2025, 4, 1)

        self.scenario = S()
        rows = [{"reporter": "CN", "partner": p, "hs_code": "8505.11", "period": m, "flow": "export", "net_kg": 1000 * t,
                 "material": "ndfeb_magnet"} for m, (de, us) in tonnes_by_month.items() for p, t in (("DE", de), ("US", us))]
        self.tables = {"flows_customs": pd.DataFrame(rows)}


def test_score_hand_made_case_exact_mape_index_error_and_band():
    """Observed WLD totals 100, 50, 80 t (Jan-Mar 2025); three replications export (DE + US):

    rep A: 60+40=100, 30+30=60, 50+50=100;  rep B: 110, 40, 90;  rep C: 90, 50, 70 (tonnes).
    Medians: 100, 50, 90 -> errors 0, 0, +10 -> APE 0%, 0%, 12.5% -> MAPE = 12.5 / 3 = 4.1667%.
    Index (base January): observed 100, 50, 80; each run's index: A 100, 60, 100; B 100, 36.36, 81.82;
    C 100, 55.56, 77.78; medians 100, 55.56, 81.82 -> index error outside the base month
    = (|55.56 - 50| + |81.82 - 80|) / 2 = (5.5556 + 1.8182) / 2 = 3.6869 points.
    90% band (numpy linear quantiles of 3 values: 5% = lo + 0.1 (mid - lo), 95% = mid + 0.9 (hi - mid)):
    Jan [91, 109] holds 100; Feb [41, 59] holds 50; Mar [72, 99] holds 80: share in band 1.0."""
    runs = [_FakeRun({202501: (60, 40), 202502: (30, 30), 202503: (50, 50)}),
            _FakeRun({202501: (70, 40), 202502: (20, 20), 202503: (45, 45)}),
            _FakeRun({202501: (45, 45), 202502: (25, 25), 202503: (35, 35)})]
    observed = pd.DataFrame({"reporter": ["CN"] * 3, "partner": ["WLD"] * 3, "hs_code": ["8505.11"] * 3,
                             "period": [202501, 202502, 202503], "net_kg": [100000, 50000, 80000]})
    table, summary = score(runs, observed)
    assert table["simulated_p50_t"].tolist() == [100.0, 50.0, 90.0]
    assert table["simulated_p05_t"].tolist() == pytest.approx([91.0, 41.0, 72.0])
    assert table["simulated_p95_t"].tolist() == pytest.approx([109.0, 59.0, 99.0])
    total = summary.set_index("series").loc["all"]
    assert total["mape_pct"] == pytest.approx(12.5 / 3)
    assert total["index_error_points"] == pytest.approx(((500 / 9 - 50) + (900 / 11 - 80)) / 2)
    assert total["share_in_band"] == 1.0 and total["replications"] == 3 and total["baseline"] == "202501"


def test_score_cli_on_a_run_folder_writes_table_summary_and_chart(tmp_path, capsys):
    """The observed series made from the same run scores perfectly (one run: no band)."""
    assert main(["run", str(DATA / "calibration_world.yaml"), "--no-report", "--quiet", "--out", str(tmp_path / "r")]) == 0
    obs = tmp_path / "obs.csv"
    assert main(["observed", str(tmp_path / "r"), "--select", "reporter=CN,hs_code=8505.11", "--out", str(obs)]) == 0
    assert read_observed(obs)["period"].tolist() == list(range(202501, 202509))
    assert main(["score", str(tmp_path / "r"), "--observed", str(obs), "--select", "partner=WLD",
                 "--out", str(tmp_path / "s")]) == 0
    assert "results:" in capsys.readouterr().out
    summary = pd.read_csv(tmp_path / "s" / "score_summary.csv")
    assert summary["mape_pct"].tolist() == [0.0, 0.0] and summary["index_error_points"].tolist() == [0.0, 0.0]
    assert np.isnan(summary["share_in_band"]).all()
    assert (tmp_path / "s" / "score.png").stat().st_size > 5000
