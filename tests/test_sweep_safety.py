"""Issue 16: sweeps, replications and compare never mix results, lose set: mappings, overwrite or
delete files they did not write, trip over a corrupted store, or run a value --check did not check.
Every test writes only under tmp_path, on the tiny hand-made world, with one worker."""

import json
from pathlib import Path

import pandas as pd
import pytest

from simulator.cli import main
from simulator.loading import parse_scenario
from simulator.sweep import SweepError, plan_sweep, sweep

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.yaml"
PARAM = "controls.cn_licence.approval_probability"
TARGET = "facilities.de_ev.policy.target_days"
POLICY = {"type": "order_up_to", "review_days": 7, "target_days": 40}

SMALL = f"""\
seed: 11
replications: 1
set: {{horizon_days: 80}}
parameters:
  {PARAM}: [0.2, 0.9]
  {TARGET}: [20, 60]
metrics: [share_lost.de_ev, licences_denied]
"""


def write_sweep(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"scenario: {TINY}\n" + body)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# --------------------------------------------------------------------------- 1. the fingerprint


def test_reordered_parameters_are_a_different_sweep_never_mixed(tmp_path, capsys):
    path = write_sweep(tmp_path, SMALL)
    folder = tmp_path / "out"
    first = sweep(path, out=folder, workers=1)
    before = snapshot(folder)
    lines = SMALL.splitlines()
    i = lines.index("parameters:")
    lines[i + 1], lines[i + 2] = lines[i + 2], lines[i + 1]
    path.write_text(f"scenario: {TINY}\n" + "\n".join(lines) + "\n")
    assert plan_sweep(path).points[1] == {TARGET: 20, PARAM: 0.9}  # point 1 is now another point
    with pytest.raises(SweepError, match="holds results of a different sweep"):
        sweep(path, out=folder, workers=1)
    assert snapshot(folder) == before  # refused before writing anything
    assert main(["sweep", str(path), "--workers", "1", "--out", str(folder), "--quiet", "--no-report"]) == 2
    assert "different sweep" in one_line(capsys)
    again = sweep(path, out=folder, workers=1, fresh=True)  # a fresh sweep: every run done again
    assert again.attrs["info"]["ran"] == 4
    pairs = {(r[PARAM], r[TARGET]): r["share_lost.de_ev"] for _, r in again.iterrows()}
    assert pairs == {(r[PARAM], r[TARGET]): r["share_lost.de_ev"] for _, r in first.iterrows()}


def test_workers_apply_set_in_the_order_given(tmp_path):
    # Overlapping paths: the later one wins, in the plan (its scenario hash) and in the workers.
    body = SMALL.replace("set: {horizon_days: 80}",
                         f"set: {{horizon_days: 80, {TARGET}: 30, facilities.de_ev.policy: {json.dumps(POLICY)}}}")
    body = body.replace(f"  {TARGET}: [20, 60]\n", "")
    plan = plan_sweep(write_sweep(tmp_path, body))
    from simulator.sweep.tasks import _batches, _scenario_for

    (task, *_) = _batches(plan, list(plan.keys()), 1, None)
    scenario = _scenario_for(task, task.runs[0][3])
    assert scenario.facilities["de_ev"].policy.target_days == 40


# --------------------------------------------------------------------------- 2. mappings in set:


MAPPING = f"""\
seed: 11
replications: 1
set: {{horizon_days: 80, facilities.de_ev.policy: {json.dumps(POLICY)}}}
parameters:
  {TARGET}: [20, 60]
metrics: [share_lost.de_ev]
"""


def test_a_mapping_in_set_reaches_the_workers_intact(tmp_path):
    path = write_sweep(tmp_path, MAPPING)
    plan = plan_sweep(path)
    from simulator.sweep.tasks import _batches, _scenario_for

    (task,) = _batches(plan, list(plan.keys()), 1, 10)
    built = [_scenario_for(task, overrides).facilities["de_ev"].policy for _, _, _, overrides in task.runs]
    assert [(p.type, p.review_days, p.target_days) for p in built] == [("order_up_to", 7, 20), ("order_up_to", 7, 60)]
    runs = sweep(path, out=tmp_path / "out", workers=1)
    assert runs["error"].isna().all() and len(runs) == 2


def test_sweep_json_records_set_as_given_not_the_values_tried(tmp_path):
    path = write_sweep(tmp_path, MAPPING)
    sweep(path, out=tmp_path / "out", workers=1)
    data = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert data["sweep"]["set"] == {"horizon_days": 80, "facilities.de_ev.policy": POLICY}
    assert data["fixed_overrides"] == {"horizon_days": 80, "facilities.de_ev.policy": POLICY}
    assert data["parameters"] == [TARGET]
    points = pd.read_csv(tmp_path / "out" / "points.csv")
    assert list(points[TARGET]) == [20, 60]


def test_overrides_do_not_change_the_callers_mapping():
    given = {"facilities.de_ev.policy": dict(POLICY), TARGET: 25}
    scenario = parse_scenario(TINY.read_text(), str(TINY), given)
    assert scenario.facilities["de_ev"].policy.target_days == 25
    assert given == {"facilities.de_ev.policy": POLICY, TARGET: 25}


def test_a_mapping_given_with_set_reaches_replications_intact(tmp_path, capsys):
    out = tmp_path / "reps"
    argv = ["run", str(TINY), "--replications", "2", "--set", "horizon_days=80", "--set",
            "facilities.de_ev.policy={type: order_up_to, review_days: 7, target_days: 20}",
            "--workers", "1", "--out", str(out), "--quiet", "--no-report"]
    assert main(argv) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["error"].isna().all() and len(runs) == 2


# --------------------------------------------------------------------------- 3. folders not ours


def test_replications_refuse_a_run_folder(tmp_path, capsys):
    run_folder = tmp_path / "run"
    assert main(["run", str(TINY), "--set", "horizon_days=80", "--out", str(run_folder), "--no-report", "--quiet"]) == 0
    capsys.readouterr()
    before = snapshot(run_folder)
    argv = ["run", str(TINY), "--replications", "2", "--set", "horizon_days=80", "--workers", "1",
            "--out", str(run_folder), "--quiet"]
    assert main(argv) == 2
    line = one_line(capsys)
    assert line.startswith(f"{run_folder}: ") and "choose another --out" in line
    assert snapshot(run_folder) == before


def test_sweep_refuses_a_folder_of_other_files_even_with_fresh(tmp_path, capsys):
    path = write_sweep(tmp_path, SMALL)
    folder = tmp_path / "mine"
    (folder / "runs").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "summary.csv").write_text("a,b\n1,2\n")
    (folder / "runs" / "keep.txt").write_text("mine too")
    before = snapshot(folder)
    for extra in ([], ["--fresh"]):
        assert main(["sweep", str(path), "--workers", "1", "--out", str(folder), "--quiet", "--no-report", *extra]) == 2
        line = one_line(capsys)
        assert line.startswith(f"{folder}: ") and "sweep.json" in line and "choose another --out" in line
        assert snapshot(folder) == before


def test_fresh_removes_only_what_the_sweep_wrote(tmp_path, capsys):
    path = write_sweep(tmp_path, SMALL)
    folder = tmp_path / "out"
    assert main(["sweep", str(path), "--workers", "1", "--out", str(folder), "--quiet"]) == 0
    (folder / "notes.txt").write_text("mine")
    (folder / "runs").mkdir()
    (folder / "runs" / "keep.txt").write_text("mine too")
    (folder / "runs" / "part-00000000000000000001-1-000001.parquet").write_bytes(b"old part")
    path.write_text(path.read_text().replace("seed: 11", "seed: 12"))
    assert main(["sweep", str(path), "--workers", "1", "--out", str(folder), "--quiet", "--no-report", "--fresh"]) == 0
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "runs" / "keep.txt").read_text() == "mine too"
    assert not (folder / "report.html").exists() and not list(folder.glob("sweep_*.png"))  # the old report went too
    assert not list((folder / "runs").glob("part-*"))
    assert json.loads((folder / "sweep.json").read_text())["seed"] == 12
    assert len(pd.read_parquet(folder / "runs.parquet")) == 4


def test_a_sweep_does_not_take_over_a_replications_folder(tmp_path, capsys):
    reps = tmp_path / "reps"
    assert main(["run", str(TINY), "--replications", "2", "--set", "horizon_days=80", "--workers", "1",
                 "--out", str(reps), "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    before = snapshot(reps)
    path = write_sweep(tmp_path, SMALL)
    assert main(["sweep", str(path), "--workers", "1", "--out", str(reps), "--quiet", "--fresh"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"{reps}: ") and "replications" in line and "choose another --out" in line
    assert snapshot(reps) == before


def test_replications_fresh_removes_only_what_they_wrote(tmp_path, capsys):
    reps = tmp_path / "reps"
    argv = ["run", str(TINY), "--replications", "2", "--set", "horizon_days=80", "--workers", "1",
            "--keep-runs", "2", "--out", str(reps), "--quiet"]
    assert main(argv) == 0
    assert (reps / "manifest.json").is_file() and (reps / "report.html").is_file()
    (reps / "notes.txt").write_text("mine")
    (reps / "replications" / "notes.txt").write_text("mine too")
    # Other --set values: other replications, refused without --fresh (which `run` offers too).
    other = [a.replace("horizon_days=80", "horizon_days=90") for a in argv]
    assert main(other) == 2
    assert "--fresh" in one_line(capsys)
    assert main([*other[:-3], "--no-report", "--out", str(reps), "--quiet", "--fresh"]) == 0
    names = sorted(p.name for p in reps.iterdir())
    assert names == ["notes.txt", "points.csv", "replications", "runs.parquet", "summary.csv", "sweep.json"]
    assert sorted(p.name for p in (reps / "replications").iterdir()) == ["notes.txt"]
    assert main(["run", str(TINY), "--fresh", "--out", str(tmp_path / "single")]) == 2
    assert "expected --replications N with it" in one_line(capsys)


def test_compare_refuses_to_write_into_a_run_folder(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, seed, report in ((a, "1", []), (b, "2", ["--no-report"])):  # A with its report.html
        assert main(["run", str(TINY), "--seed", seed, "--set", "horizon_days=80", "--out", str(folder), "--quiet", *report]) == 0
    assert (a / "report.html").is_file()
    capsys.readouterr()
    before = snapshot(a)
    assert main(["compare", str(a), str(b), "--out", str(a)]) == 2
    line = one_line(capsys)
    assert line.startswith(f"{a}: ") and "choose another --out" in line
    assert snapshot(a) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["compare", str(a), str(b), "--out", str(other)]) == 2
    assert "choose another --out" in one_line(capsys)
    # Its own folder, again: allowed (the comparison is rebuilt).
    cmp_ = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(cmp_)]) == 0
    assert main(["compare", str(b), str(a), "--out", str(cmp_)]) == 0
    assert json.loads((cmp_ / "compare.json").read_text())["runs"] == [str(b), str(a)]


# --------------------------------------------------------------------------- 4. a corrupted store


@pytest.mark.parametrize("parquet", [True, False])
def test_a_corrupted_store_is_one_line_offering_fresh(tmp_path, capsys, parquet):
    path = write_sweep(tmp_path, SMALL)
    folder = tmp_path / "out"
    from simulator.sweep import LocalExecutor, execute

    execute(plan_sweep(path), folder, LocalExecutor(1), progress=False, parquet=parquet)
    ext = "parquet" if parquet else "csv"
    (folder / "runs").mkdir()
    part = folder / "runs" / f"part-00000000000000000001-1-000001.{ext}"
    part.write_bytes(b"\x00\xff not a table \xfe" * 3)
    argv = ["sweep", str(path), "--workers", "1", "--out", str(folder), "--quiet", "--no-report"]
    assert main(argv) == 2
    line = one_line(capsys)
    assert line.startswith(f"{part}: cannot read") and "--fresh" in line
    part.unlink()
    (folder / f"runs.{ext}").write_bytes(b"\x00\xff garbage")
    assert main(argv) == 2
    line = one_line(capsys)
    assert line.startswith(f"{folder / f'runs.{ext}'}: cannot read") and "--fresh" in line
    (folder / "sweep.json").write_text("{ not json")
    assert main(argv) == 2
    line = one_line(capsys)
    assert line.startswith(f"{folder / 'sweep.json'}: cannot read") and "--fresh" in line
    assert main(argv + ["--fresh"]) == 0
    assert len(pd.read_parquet(folder / "runs.parquet")) == 4 and not (folder / "runs.csv").exists()  # the CLI: pyarrow


def test_a_store_without_the_key_columns_is_refused(tmp_path, capsys):
    path = write_sweep(tmp_path, SMALL)
    folder = tmp_path / "out"
    sweep(path, out=folder, workers=1)
    pd.DataFrame({"x": [1, 2]}).to_parquet(folder / "runs.parquet")
    assert main(["sweep", str(path), "--workers", "1", "--out", str(folder), "--quiet", "--no-report"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"{folder / 'runs.parquet'}: ") and "point_id" in line and "--fresh" in line


# --------------------------------------------------------------------------- 5. --check checks every value


def test_check_checks_the_51st_list_value(tmp_path, capsys):
    values = [round(0.01 * i, 2) for i in range(1, 51)] + [1.5]
    path = write_sweep(tmp_path, f"parameters:\n  {PARAM}: {values}\n")
    assert main(["sweep", str(path), "--check"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"{path}:3: parameters.{PARAM} = 1.5: ")


def test_check_checks_interior_grid_values(tmp_path, capsys):
    path = write_sweep(tmp_path, "parameters:\n  controls.cn_licence.reviewers: {min: 1, max: 2, steps: 4}\n")
    assert main(["sweep", str(path), "--check"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"{path}:3: parameters.controls.cn_licence.reviewers = 1.333333333333: ")
    ok = write_sweep(tmp_path, "parameters:\n  controls.cn_licence.reviewers: {min: 1, max: 4, steps: 4}\n", "ok.yaml")
    assert main(["sweep", str(ok), "--check"]) == 0


def test_check_checks_the_values_a_sampled_design_draws(tmp_path, capsys):
    body = ("design: {type: latin_hypercube, points: 5}\n"
            "parameters:\n  controls.cn_licence.reviewers: {min: 1, max: 3}\n")
    path = write_sweep(tmp_path, body)
    assert main(["sweep", str(path), "--check"]) == 2
    line = one_line(capsys)
    assert line.startswith(f"{path}:4: parameters.controls.cn_licence.reviewers = ")
    drawn = plan_sweep(write_sweep(tmp_path, body.replace("3}", "3, integer: true}"), "ok.yaml"))
    assert {p["controls.cn_licence.reviewers"] for p in drawn.points} <= {1, 2, 3}


def test_fast_value_check_agrees_with_the_loader(tmp_path):
    from simulator.sweep.values import ValueChecker

    text = TINY.read_text()
    fixed = {"horizon_days": 80, "facilities.de_ev.policy": dict(POLICY)}
    checker = ValueChecker(text, str(TINY), fixed, "tiny")
    cases = [(PARAM, 0.3), (PARAM, 1.5), (PARAM, "x"), ("controls.cn_licence.reviewers", 2),
             ("controls.cn_licence.reviewers", 1.5), (TARGET, 10), (TARGET, -1), ("horizon_days", 30),
             ("timeline.1.fraction", 0.5), ("timeline.1.fraction", 2)]
    for name, value in cases:
        try:
            parse_scenario(text, str(TINY), {**fixed, name: value}, default_name="tiny")
            expected = []
        except Exception as err:  # noqa: BLE001
            expected = err.lines
        assert checker.problems(name, value) == expected, (name, value)
    assert fixed["facilities.de_ev.policy"] == POLICY
