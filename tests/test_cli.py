"""The command line, called as users call it; every test writes only under tmp_path."""

import json
import re
import subprocess
import sys
from pathlib import Path


from simulator.cli import bundled_scenarios_dir, main

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def test_run_writes_every_documented_file(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(TINY), "--seed", "7", "--out", str(out), "--no-report"]) == 0
    printed = capsys.readouterr().out
    assert "Shortages by demand facility" in printed and "Lead times by destination" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "manifest.json", "summary.json", "shortages.csv", "plants.csv", "lead_times.csv", "lead_time_stats.csv",
        "flows_monthly.csv", "licences.csv", "licences_weekly.csv", "inventory_daily.csv", "production_daily.csv", "events.csv",
        "shortages_firms.csv", "production_firms_daily.csv", "prices_monthly.csv", "market_responses.csv",
        "flows_customs.csv"])
    # without a `markets:` section the market tables are empty, with their columns
    assert (out / "prices_monthly.csv").read_text().splitlines() == [
        "month,material,market,price_per_kg,reference_per_kg,index,cover_days,normal_cover_days,premium"]
    assert (out / "market_responses.csv").read_text().splitlines() == ["month,kind,facility,material,value"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and len(manifest["scenario_sha256"]) == 64 and manifest["package_version"]
    assert set(manifest["mass_balance"]) >= {"produced_t", "on_hand_t", "in_transit_t", "held_t", "consumed_t", "residual_t"}
    header = (out / "shortages.csv").read_text().splitlines()[0]
    assert header == "facility,sector,country,unit,units_planned,units_produced,units_lost,share_lost,stopped_days,first_stop,longest_stop_days,recovered,share_firm_days_stopped"
    header = (out / "lead_times.csv").read_text().splitlines()[0].split(",")
    assert {"order_id", "ordered", "delivered", "lead_time_days", "wait_stock_days", "wait_licence_days", "transit_days"} <= set(header)
    assert (out / "flows_monthly.csv").read_text().splitlines()[0] == "month,exporter,destination,material,tonnes"


def test_run_writes_the_report_unless_told_not_to(tmp_path, capsys):
    assert main(["run", str(TINY), "--out", str(tmp_path / "with"), "--quiet"]) == 0
    html = (tmp_path / "with" / "report.html").read_text()
    assert "production.png" in html and (tmp_path / "with" / "production.png").stat().st_size > 10_000
    assert main(["run", str(TINY), "--out", str(tmp_path / "without"), "--quiet", "--no-report"]) == 0
    assert not list((tmp_path / "without").glob("*.png")) and not (tmp_path / "without" / "report.html").exists()
    assert main(["report", str(tmp_path / "without")]) == 0
    assert (tmp_path / "without" / "report.html").exists()
    assert main(["compare", str(tmp_path / "with"), str(tmp_path / "without"), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "report.html").exists()
    capsys.readouterr()
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{tmp_path}: not a run folder (no manifest.json) nor a sweep folder (no runs.parquet or runs.csv)")


def test_run_default_results_folder_and_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(TINY), "--set", "horizon_days=80", "--quiet", "--no-report"]) == 0
    runs = list((tmp_path / "results" / "tiny").iterdir())
    assert len(runs) == 1
    assert json.loads((runs[0] / "manifest.json").read_text())["end"] == "2025-03-22"


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("capacity_t_per_year: 3650", "capacity_t_per_year: -5"))
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{bad}:10: facilities.cn_mine.capacity_t_per_year: expected a number >= 0, got -5"]
    assert not (tmp_path / "results").exists()
    assert main(["run", str(TINY), "--set", "controls.cn_licence.approval_probability=1.5"]) == 2
    assert capsys.readouterr().err.strip() == (
        "--set controls.cn_licence.approval_probability=1.5: controls.cn_licence.approval_probability: "
        "expected a number <= 1, got 1.5")
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.strip() == f"{tmp_path / 'missing.yaml'}: no such scenario file"
    assert not (tmp_path / "results").exists()


def test_out_folder_that_is_not_empty_is_refused(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    assert main(["run", str(TINY), "--out", str(tmp_path / "x")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["keep.txt"]


def test_validate_reports_all_files_and_problems(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text().replace("utilisation: 0.8", "utilisation: 1.8").replace("reviewers: 2", "reviewers: 0"))
    assert main(["validate", str(TINY), str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"{TINY}: ok" in captured.out
    assert captured.err.strip().splitlines() == [
        f"{bad}:17: facilities.cn_magnets.utilisation: expected a number <= 1, got 1.8",
        f"{bad}:47: controls.cn_licence.reviewers: expected a number >= 1, got 0",
    ]


def test_list_and_schema(capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in listed]
    assert names == sorted(p.stem for p in bundled_scenarios_dir().glob("*.yaml"))
    assert {"baseline_2024", "licensing_2025"} <= set(names)
    assert all(len(line.split(None, 1)) == 2 for line in listed), "every scenario has a description"
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "resim scenario" and "facilities" in schema["properties"]


def test_python_dash_m_is_the_same_cli(tmp_path):
    done = subprocess.run([sys.executable, "-m", "simulator", "validate", str(TINY)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"{TINY}: ok"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_starts_with_the_two_commands():
    run_cmd, test_cmd = _readme_commands()[:2]
    assert run_cmd.endswith("&& resim run") and "pip install -e ." in run_cmd
    assert test_cmd.endswith("&& pytest") and "pip install -e '.[test]'" in test_cmd


def test_readme_run_command_runs_the_default_scenario(tmp_path):
    """The README's run command after its install step: `resim run` on the bundled default."""
    resim = Path(sys.executable).parent / "resim"
    command = [str(resim)] if resim.exists() else [sys.executable, "-m", "simulator"]
    done = subprocess.run([*command, "run"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Shortages by demand facility" in done.stdout
    (folder,) = (tmp_path / "results" / "baseline_2024").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["scenario"] == "baseline_2024"
    assert abs(manifest["mass_balance"]["residual_t"]) < 1e-9 * manifest["mass_balance"]["produced_t"]


def test_replications_keep_runs_for_fan_charts(tmp_path, capsys):
    out = tmp_path / "reps"
    assert main(["run", str(TINY), "--replications", "4", "--keep-runs", "3", "--workers", "1", "--out", str(out), "--quiet"]) == 0
    kept = sorted(p.name for p in (out / "replications").iterdir())
    assert len(kept) == 3 and all(name.startswith("seed") for name in kept)
    html = (out / "report.html").read_text()
    for chart in ("fan_production.png", "fan_cover.png", "fan_lead_times.png"):
        assert chart in html and (out / chart).stat().st_size > 10_000
    assert "3 replications" in html
    # --no-report keeps nothing
    assert main(["run", str(TINY), "--replications", "2", "--workers", "1", "--out", str(tmp_path / "bare"), "--quiet", "--no-report"]) == 0
    assert not (tmp_path / "bare" / "replications").exists() and not (tmp_path / "bare" / "report.html").exists()


def test_output_cut_short_by_its_reader_is_not_a_traceback():
    """`resim list | true`: the reader has gone before the list is written (as `| head -1`
    after its line); the command ends quietly (exit code 1, as Python on EPIPE) instead of
    printing a BrokenPipeError traceback."""
    import subprocess
    import sys

    done = subprocess.run(["sh", "-c", f"'{sys.executable}' -m simulator list | true"],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
