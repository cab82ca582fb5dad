"""The report's first screen (summary, heatmap of output lost), its timeline strip, number
formats, comparisons on one calendar and sweep heatmaps, on small hand-made folders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from simulator import load_scenario, plots, run
from simulator.report import build_run_report, load_run
from simulator.report.html import num, pct, signed
from simulator.report.summary import facts, loss_by_sector_country, monthly_loss

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def _hand_made(folder: Path) -> Path:
    """Three demand facilities over January-March 2025 (90 days):

    - a_ev (DE, ev): plans 10/day, makes 0 on 1-14 February, else 10: lost 140 of 900;
      January 0%, February 140/280 = 50%, March 0%; one stop of 14 days, back at plan 15 February.
    - b_ev (US, ev): plans 5/day, makes 4 every day of March: lost 31 of 450; March 31/155 = 20%;
      still short at the end.
    - c_wind (DE, wind): plans 1/day, never short.
    By sector: ev (140 + 31) / (900 + 450) = 12.67%; DE ev 140/900 = 15.56%; US ev 31/450 = 6.89%; wind 0%.
    """
    folder.mkdir(parents=True)
    days = pd.date_range("2025-01-01", "2025-03-31", freq="D")
    rows = []
    for d in days:
        a = 0.0 if pd.Timestamp("2025-02-01") <= d <= pd.Timestamp("2025-02-14") else 10.0
        b = 4.0 if d.month == 3 else 5.0
        rows += [(d.date().isoformat(), "a_ev", 10.0, a), (d.date().isoformat(), "b_ev", 5.0, b),
                 (d.date().isoformat(), "c_wind", 1.0, 1.0)]
    pd.DataFrame(rows, columns=["date", "facility", "planned_units", "produced_units"]).to_csv(
        folder / "production_daily.csv", index=False)
    pd.DataFrame([
        ["a_ev", "ev", "DE", "vehicles", 900, 760, 140, 140 / 900, 14, "2025-02-01", 14, "2025-02-15"],
        ["b_ev", "ev", "US", "vehicles", 450, 419, 31, 31 / 450, 31, "2025-03-01", 31, ""],
        ["c_wind", "wind", "DE", "MW", 90, 90, 0, 0.0, 0, "", 0, ""],
    ], columns=["facility", "sector", "country", "unit", "units_planned", "units_produced", "units_lost", "share_lost",
                "stopped_days", "first_stop", "longest_stop_days", "recovered"]).to_csv(folder / "shortages.csv", index=False)
    pd.DataFrame([["2025-01-20", "impose", "cn_x", "", "yes"], ["2025-03-01", "lift", "cn_x", "", "no"]],
                 columns=["date", "action", "target", "detail", "in_force"]).to_csv(folder / "events.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"scenario": "hand", "seed": 1, "start": "2025-01-01",
                                                      "end": "2025-03-31"}))
    return folder


def test_monthly_loss_matrix_of_a_hand_made_run(tmp_path):
    matrix = monthly_loss(load_run(_hand_made(tmp_path / "h")))
    assert list(matrix.index) == ["a_ev", "b_ev", "c_wind"]  # largest share of plan lost first
    assert list(matrix.columns) == ["2025-01", "2025-02", "2025-03"]
    np.testing.assert_allclose(matrix.to_numpy(), [[0, 0.5, 0], [0, 0, 0.2], [0, 0, 0]], atol=1e-12)


def test_loss_by_sector_and_country_and_facts(tmp_path):
    run_ = load_run(_hand_made(tmp_path / "h"))
    table = loss_by_sector_country(run_)
    assert list(table.index) == ["ev", "wind"] and list(table.columns) == ["all", "DE", "US"]
    assert table.loc["ev", "all"] == pytest.approx(171 / 1350)
    assert table.loc["ev", "DE"] == pytest.approx(140 / 900) and table.loc["ev", "US"] == pytest.approx(31 / 450)
    assert table.loc["wind", "DE"] == 0 and np.isnan(table.loc["wind", "US"])
    f = facts(run_)
    assert (f.first_stop_day, f.first_stop_facility) == (31, "a_ev")  # 1 February is day 31
    assert (f.longest_stop_days, f.longest_stop_facility) == (31, "b_ev")
    assert (f.stopped, f.still_short) == (2, 1) and np.isnan(f.recovered_day)


def test_report_leads_with_the_summary_and_a_heatmap_that_is_not_blank(tmp_path):
    folder = _hand_made(tmp_path / "h")
    text = build_run_report(folder).read_text(encoding="utf-8")
    body = text[text.index("<body>"):]
    first = re.search(r"<section[^>]*>", body)
    assert first and 'id="summary"' in first.group(0), "the summary is the first section"
    summary = body[first.end():body.index("</section>")]
    assert "loss_heatmap.png" in summary
    for words in ("first stop", "2025-02-01", "a_ev", "longest stop", "31 days", "b_ev", "1 of 2 stopped facilities still short",
                  "12.7%", "15.6%", "6.9%"):
        assert words in summary, words
    img = mpimg.imread(folder / "loss_heatmap.png")[..., :3]
    reds = ((img[..., 0] - img[..., 2]) > 0.3).mean()  # the 50% and 20% cells
    assert reds > 0.005, f"heatmap shows no loss ({reds:.3%} red pixels)"
    assert len(np.unique((img[::3, ::3] * 255).astype(int).reshape(-1, 3), axis=0)) > 8


# --------------------------------------------------------------------------- the timeline strip


def test_strip_shows_every_control_of_licensing_2025():
    scenario = load_scenario(ROOT / "scenarios" / "licensing_2025.yaml")
    events = plots.events_from_frame(run(scenario, headline_only=False).tables["events"])
    tf = plots.time_figure(0, "t", pd.Timestamp(scenario.start), pd.Timestamp(scenario.start) + pd.Timedelta(days=455),
                           [("", events)])
    labels = [t.get_text() for t in tf.strip.get_yticklabels()]
    controls = {str(e.control) for e in scenario.timeline if getattr(e, "control", None)}
    assert controls and set(labels) == controls
    bands = [p for p in tf.strip.patches]  # one band per period in force
    assert len(bands) == sum(len(v) for v in plots.control_periods(events, pd.Timestamp("2026-04-01")).values()) >= 2


def test_strip_groups_facility_changes_on_one_row():
    """Eight facility changes on two days and one control: two rows, the second counting 8."""
    day = pd.Timestamp("2025-02-01")
    events = [plots.TimelineEvent(day, "impose", "ctl", "", "yes")]
    events += [plots.TimelineEvent(day + pd.Timedelta(days=10 * (i // 4)), "set", f"f{i}", "") for i in range(8)]
    tf = plots.time_figure(1, "t", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-01"), [("", events)])
    assert [t.get_text() for t in tf.strip.get_yticklabels()] == ["ctl", "facility changes (8)"]
    assert sorted(t.get_text() for t in tf.strip.texts) == ["×4", "×4"]


# ------------------------------------------------------------------------------ number formats


def test_numbers_never_read_minus_zero():
    assert num(-0.4) == "0" and num(-0.04, 1) == "0.0" and num(-1234.6) == "-1,235"
    assert signed(-0.0001) == "0" and signed(-0.04, 1, " pp") == "0 pp" and signed(2.5, 1) == "+2.5"
    assert signed(-3) == "−3" and pct(-0.00001) == "0.0%" and pct(0.1234) == "12.3%"


# ------------------------------------------------------------------------------- comparisons


def _tiny(folder: Path, *overrides: str) -> Path:
    from simulator.results import write_run

    return write_run(run(load_scenario(DATA / "tiny.yaml", list(overrides)), seed=1), out=folder)


def test_compare_puts_each_run_on_its_own_dates_and_prints_its_headline(tmp_path, capsys):
    """B starts two weeks after A: its lines start on 15 January, not shifted onto A's 1 January;
    the default folder is named after the scenarios (and the run folders, both being tiny)."""
    from simulator.cli import main
    from simulator.report.compare import _compare_lines, _production_pct

    a = _tiny(tmp_path / "a", "horizon_days=80")
    b = _tiny(tmp_path / "b", "start=2025-01-15", "horizon_days=80")
    runs = [load_run(a), load_run(b)]
    fig = _compare_lines(runs, ["A", "B"], "t", [("de_ev", "de_ev")], _production_pct, "%",
                         pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-05"), [("A: ", runs[0].events), ("B: ", runs[1].events)])
    first = {line.get_label()[0]: pd.Timestamp(line.get_xdata()[0]) for ax in fig.axes for line in ax.get_lines()
             if line.get_label()[:2] in ("A:", "B:")}
    assert first == {"A": pd.Timestamp("2025-01-01"), "B": pd.Timestamp("2025-01-15")}
    assert main(["compare", str(a), str(b), "--results", str(tmp_path / "res")]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "res" / "compare" / "tiny-a_vs_tiny-b"
    assert (folder / "report.html").is_file() and f"report: {folder / 'report.html'}" in out
    assert "largest differences in share of planned output lost" in out and "de_ev (DE): A " in out
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert "<title>resim comparison: A tiny seed 1" in text
    assert not re.search(r"[-−]0(\.0+)?(?![\d.])", re.sub(r"\d{4}-\d{2}-\d{2}", "", text)), "a '-0' in the page"


def test_difference_table_is_sorted_by_size(tmp_path):
    """Rows by the largest difference in share lost: a facility that loses 50 pp more in B comes
    before one that loses 10 pp less, which comes before one unchanged."""
    from simulator.report.compare import difference_table

    def folder(name, shares):
        f = tmp_path / name
        f.mkdir()
        pd.DataFrame([[n, "ev", "DE", "u", 100, 100 * (1 - s), 100 * s, s, 0, "", 0, ""] for n, s in shares.items()],
                     columns=["facility", "sector", "country", "unit", "units_planned", "units_produced", "units_lost",
                              "share_lost", "stopped_days", "first_stop", "longest_stop_days", "recovered"]) \
            .to_csv(f / "shortages.csv", index=False)
        (f / "manifest.json").write_text(json.dumps({"scenario": name, "seed": 1, "start": "2025-01-01", "end": "2025-02-01"}))
        return load_run(f)

    diff = difference_table([folder("a", {"x": 0.1, "y": 0.3, "z": 0.2}), folder("b", {"x": 0.1, "y": 0.2, "z": 0.7})])
    assert list(diff["facility"]) == ["z", "y", "x"]
    assert list(diff["share lost B − A"]) == ["+50.0 pp", "−10.0 pp", "0 pp"]


# ------------------------------------------------------------------------------------ sweeps


def test_points_whose_interval_overlaps_the_best_are_marked(tmp_path):
    """Share lost per point (lower is better): the best is 0.10 [0.08, 0.12]; 0.13 [0.11, 0.15]
    overlaps it, 0.20 [0.18, 0.22] does not. First stop day (higher is better): best 60 [50, 70];
    52 [45, 58] overlaps, 30 [28, 32] does not."""
    from simulator.report.sweep import colour_range, overlaps_best, tick_labels

    st = pd.DataFrame({"mean": [0.10, 0.13, 0.20], "low": [0.08, 0.11, 0.18], "high": [0.12, 0.15, 0.22]})
    assert list(overlaps_best(st, "share_lost.de_ev")) == [True, True, False]
    st2 = pd.DataFrame({"mean": [60, 52, 30], "low": [50, 45, 28], "high": [70, 58, 32]})
    assert list(overlaps_best(st2, "first_stop_day.de_ev")) == [True, True, False]
    # means 0.10-0.13, intervals 0.04 wide: the scale spans at least 0.08 around the middle
    assert colour_range(st.iloc[:2]) == pytest.approx((0.075, 0.155))
    assert tick_labels([0.1, 0.10001, 0.2]) == ["0.1", "0.10001", "0.2"]


def test_sweep_heatmap_outlines_cells_near_the_best(tmp_path):
    """A 2 x 2 grid whose metric is 0.1, 0.1, 0.5, 0.5 (+ noise 0.001): two cells tie for the best
    and are outlined, the others are not; labels are parameter names in words."""
    from simulator.report import build_sweep_report

    folder = tmp_path / "sw"
    folder.mkdir()
    rng = np.random.default_rng(1)
    rows = []
    for pid, (a, b) in enumerate([(0.2, 20), (0.8, 20), (0.2, 40), (0.8, 40)]):
        for rep in range(4):
            rows.append({"point_id": pid, "replication": rep, "seed": rep, "controls.c.approval_probability": a,
                         "facilities.de_ev.policy.target_days": b,
                         "share_lost.de_ev": (0.1 if b == 20 else 0.5) + rng.normal(0, 0.001), "error": None})
    pd.DataFrame(rows).to_csv(folder / "runs.csv", index=False)
    (folder / "sweep.json").write_text(json.dumps({"name": "sw", "design": {"type": "grid"},
                                                   "parameters": ["controls.c.approval_probability",
                                                                  "facilities.de_ev.policy.target_days"]}))
    text = build_sweep_report(folder).read_text(encoding="utf-8")
    assert text.count(">yes<") == 2
    assert "approval probability (c)" in text and "target days (de_ev)" in text
    assert "10.0%" in text and "0.1" not in re.findall(r">([^<]*)</td>", text)  # shares in %
    img = mpimg.imread(folder / "sweep_heatmaps.png")[..., :3]
    outline = (img[..., 0] > 0.9) & (img[..., 1] < 0.15) & (img[..., 2] > 0.55)  # the magenta outline (#ff00aa)
    assert outline.sum() > 200, "no cell is outlined in the heatmap"


# ---------------------------------------------------------------------- replications, folder


def test_replications_summary_is_the_mean_and_interval_over_all_replications(tmp_path):
    """Three replications of tiny: the summary's DE ev cell is the mean of the three runs'
    share_lost.de_ev and its 95% bootstrap interval (as summary.csv), not one run's share."""
    from simulator.cli import main
    from simulator.sweep.summary import mean_ci95

    folder = tmp_path / "reps"
    assert main(["run", str(DATA / "tiny.yaml"), "--replications", "3", "--out", str(folder), "--workers", "1",
                 "--quiet"]) == 0
    shares = pd.read_parquet(folder / "runs.parquet")["share_lost.de_ev"].to_numpy(float)
    assert len(set(shares)) > 1, "the replications should differ"
    low, high = mean_ci95([shares])[0]
    text = (folder / "report.html").read_text(encoding="utf-8")
    summary = text[text.index('id="summary"'):text.index("</section>")]
    assert f"{pct(shares.mean())} [{num(100 * low, 1)}–{num(100 * high, 1)}]" in summary
    assert "over 3 replications" in summary and "a stop in 3 of 3 replications" in summary
    assert "One replication (seed" in text  # the per-facility sentences say whose they are


def test_the_report_names_the_folder_the_run_is_renamed_to(tmp_path):
    """The report is built in the run's hidden temporary folder; it names the final folder."""
    from simulator.results import write_run

    target = tmp_path / "final"
    write_run(run(load_scenario(DATA / "tiny.yaml", ["horizon_days=80"]), seed=1), out=target, finish=build_run_report)
    text = (target / "report.html").read_text(encoding="utf-8")
    assert f"folder <b>{target}</b>" in text and ".final." not in text
