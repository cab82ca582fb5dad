"""Saying things once (issue 14): timeline `set` by selector with relative values, overrides and
sweep parameters the timeline would overwrite, and working days on a country's holiday calendar.
Small hand-made worlds; every expected value is worked out in the docstring."""

import datetime as dt
import filecmp
from pathlib import Path

import pytest
import yaml

from simulator import Model, parse_scenario, run
from simulator.cli import main
from simulator.loading import ScenarioError, load_scenario
from simulator.results import write_run
from simulator.scenario import expand
from simulator.sweep import plan_sweep
from simulator.sweep.errors import SweepError

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def line(country: str, sector: str = "ev", target_days: float = 20) -> dict:
    """A line using 1 t of magnets a day (1000 units of 1 kg), order-up-to reviewed daily."""
    return {"type": "sector", "sector": sector, "country": country, "units_per_year": 365000,
            "bom_kg_per_unit": {"mag": 1.0}, "policy": {"type": "order_up_to", "review_days": 1, "target_days": target_days}}


def world(timeline=(), controls=None) -> dict:
    """A Chinese mine supplies lines in CN, DE (ev and wind) and US; a Japanese mine supplies JP.

    So "buyers of Chinese magnets outside China" are exactly de_ev, de_wind and us_ev."""
    lines = {"cn_ev": line("CN"), "de_ev": line("DE"), "de_wind": line("DE", "wind"), "us_ev": line("US"),
             "jp_ev": line("JP")}
    mine = {"type": "mine", "material": "mag", "capacity_t_per_year": 36500, "batch_days": 1, "initial_stock_t": 100}
    return {
        "name": "selectors", "start": dt.date(2025, 1, 1), "horizon_days": 60, "warmup_days": 20,
        "materials": {"mag": {"elements": {"Nd": 0.3, "Dy": 0.02}}},
        "facilities": {"cn_mine": {**mine, "country": "CN"}, "jp_mine": {**mine, "country": "JP"}, **lines},
        "lanes": [{"supplier": "jp_mine" if name == "jp_ev" else "cn_mine", "buyer": name, "material": "mag",
                   "modes": {"sea": {"transit_days": 10}}} for name in lines],
        "controls": controls or {},
        "timeline": list(timeline),
    }


def parse(data: dict, overrides=()):
    return parse_scenario(yaml.safe_dump(data, sort_keys=False), "world.yaml", list(overrides))


FOREIGN_BUYERS = {"uses": "mag", "buys_from": "CN", "country": {"exclude": ["CN"]}}


# ----------------------------------------------------------------------------- selectors

def test_selectors_and_relative_changes_apply_to_exactly_the_matching_facilities():
    """On 10 January every buyer of Chinese magnets outside China (de_ev, de_wind, us_ev)
    raises its target from 20 to 25 days; on 20 January the German lines double theirs (the
    value in force, 25, so 50); on 15 January the two DE lines of pattern "de_*" and sector
    wind (only de_wind) make 1.5 x 365,000 = 547,500 units a year; the listed us_ev expedites
    below 3 days of cover; Chinese mines lose 365 t a year (36,500 -> 36,135). cn_ev, jp_ev and
    jp_mine keep everything."""
    data = world([
        {"date": "2025-01-20", "action": "set", "facilities": {"country": "DE"}, "set": {"policy.target_days": "*2"}},
        {"date": "2025-01-10", "action": "set", "facilities": FOREIGN_BUYERS, "set": {"policy.target_days": "+5"}},
        {"date": "2025-01-15", "action": "set", "facilities": {"pattern": "de_*", "sector": "wind"},
         "set": {"units_per_year": "*1.5"}},
        {"date": "2025-01-15", "action": "set", "facilities": ["us_ev"], "set": {"expedite_below_cover_days": 3}},
        {"date": "2025-01-15", "action": "set", "facilities": {"type": "mine", "country": "CN"},
         "set": {"capacity_t_per_year": "-365"}},
    ])
    scenario = parse(data)
    assert expand(scenario).chosen == {0: ["de_ev", "de_wind"], 1: ["de_ev", "de_wind", "us_ev"], 2: ["de_wind"],
                                       3: ["us_ev"], 4: ["cn_mine"]}
    model = Model(scenario, seed=1)
    model.run()
    targets = {name: model.specs[name].policy.target_days for name in ("cn_ev", "de_ev", "de_wind", "us_ev", "jp_ev")}
    assert targets == {"cn_ev": 20, "de_ev": 50, "de_wind": 50, "us_ev": 25, "jp_ev": 20}
    running = {name: model.facilities[name].inputs["mag"].policy.target_days for name in targets}
    assert running == targets  # the components run with them
    assert [model.specs[n].units_per_year for n in ("de_ev", "de_wind")] == [365000, 547500]
    assert model.facilities["de_wind"].units_per_year == 547500
    assert [model.specs[n].expedite_below_cover_days for n in ("de_ev", "us_ev")] == [None, 3]
    assert (model.specs["cn_mine"].capacity_t_per_year, model.specs["jp_mine"].capacity_t_per_year) == (36135, 36500)


def test_a_selector_event_runs_byte_identical_to_the_events_written_out(tmp_path):
    """The selector event of 10 January (target +5 for de_ev, de_wind, us_ev) and a whole new
    bill for both German lines, against the same changes written facility by facility (a list
    of one name, or the path/value form), give the same files, byte for byte."""
    selected = [
        {"date": "2025-01-10", "action": "set", "facilities": FOREIGN_BUYERS, "set": {"policy.target_days": "+5"}},
        {"date": "2025-01-12", "action": "set", "facilities": {"country": "DE"}, "set": {"bom_kg_per_unit": {"mag": 0.5}}},
    ]
    written = [{"date": "2025-01-10", "action": "set", "facilities": [name], "set": {"policy.target_days": 25}}
               for name in ("de_ev", "de_wind", "us_ev")]
    written += [{"date": "2025-01-12", "action": "set", "path": f"facilities.{name}.bom_kg_per_unit", "value": {"mag": 0.5}}
                for name in ("de_ev", "de_wind")]
    folders = [write_run(run(parse(world(timeline)), seed=4), tmp_path / label)
               for label, timeline in (("selected", selected), ("written", written))]
    tables = sorted(p.name for p in folders[0].glob("*.csv"))
    assert len(tables) >= 8
    match, mismatch, errors = filecmp.cmpfiles(folders[0], folders[1], tables, shallow=False)
    assert mismatch == [] and errors == []
    events = (folders[0] / "events.csv").read_text().splitlines()
    assert sum(",set," in row for row in events) == 5  # one row per facility and parameter
    assert run(parse(world()), seed=4).shortages.equals(run(parse(world()), seed=4).shortages)


def _problems(data: dict, tmp_path: Path, capsys) -> list[str]:
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["validate", str(path)]) == 2
    return capsys.readouterr().err.splitlines()


def test_a_selector_that_matches_nothing_and_a_relative_change_of_no_number_are_input_errors(tmp_path, capsys):
    """No wind line in the US; a bill of materials is a mapping, not a number; a mine has no
    inventory policy; 20 - 25 days is below 0 (for both German lines: one line). One line per
    problem, with the event's line and the facility."""
    data = world([
        {"date": "2025-01-10", "action": "set", "facilities": {"country": "US", "sector": "wind"},
         "set": {"units_per_year": 0}},
        {"date": "2025-01-10", "action": "set", "facilities": ["de_ev"], "set": {"bom_kg_per_unit": "*0.9"}},
        {"date": "2025-01-10", "action": "set", "facilities": {"country": "CN"}, "set": {"policy.target_days": "+5"}},
        {"date": "2025-01-10", "action": "set", "path": "facilities.us_ev.policy", "value": "+5"},
        {"date": "2025-01-10", "action": "set", "facilities": {"country": "DE"}, "set": {"policy.target_days": "-25"}},
    ])
    lines = _problems(data, tmp_path, capsys)
    f = tmp_path / "world.yaml"
    rows = dict(enumerate(n for n, text in enumerate(f.read_text().splitlines(), 1) if text.startswith("- date")))
    assert lines == [
        f"{f}:{rows[0] + 2}: timeline[0].facilities: expected a selector that matches at least one facility, "
        "got none matching country US; sector wind",
        f"{f}:{rows[1] + 5}: timeline[1].set.bom_kg_per_unit: expected a number to change by '*0.9', got a mapping (de_ev)",
        f"{f}:{rows[2] + 5}: timeline[2].set.policy.target_days: expected a parameter every selected facility can "
        "change mid-run, got 'policy', which a mine cannot (allocation, capacity_t_per_year, max_stock_t, "
        "output_cap_t_per_year, utilisation, variability); narrow the selector (type: ...) (cn_mine)",
        f"{f}:{rows[3] + 3}: timeline[3].value: expected a number to change by '+5', got a mapping (us_ev)",
        f"{f}:{rows[4] + 5}: timeline[4].set.policy.target_days: expected a number >= 0, got -5 (de_ev and 1 more)",
    ]


# ----------------------------------------------------------------------------- overwritten overrides

RAISE_DE = {"date": "2025-01-10", "action": "set", "facilities": {"country": "DE"}, "set": {"policy.target_days": 30}}


def test_an_override_the_timeline_sets_again_is_an_error_naming_both_places(tmp_path):
    """de_ev's target is set to 30 on 10 January by a selector (country DE), so --set of it (or
    of its whole policy) would hold only 10 days; us_ev's is not touched, and a relative change
    (+5) carries the override through: 40 + 5 = 45."""
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world([RAISE_DE]), sort_keys=False))
    event_line = path.read_text().splitlines().index("  set:") + 2  # the policy.target_days key
    for override in ("facilities.de_ev.policy.target_days=40", "facilities.de_ev.policy={type: order_up_to, target_days: 40}"):
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path, [override])
        assert caught.value.lines == [
            f"--set {override}: {override.split('=')[0]}: expected a parameter the scenario's timeline does not set "
            f"again, got one that timeline[0] (set on 2025-01-10, {path}:{event_line}) sets to a value of its own; "
            "write that change relative to the value in force (\"+5\", \"*1.2\") or change another parameter"]
    assert load_scenario(path, ["facilities.us_ev.policy.target_days=40"]).facilities["us_ev"].policy.target_days == 40
    relative = {**RAISE_DE, "set": {"policy.target_days": "+5"}}
    path.write_text(yaml.safe_dump(world([relative]), sort_keys=False))
    scenario = load_scenario(path, ["facilities.de_ev.policy.target_days=40"])
    assert [ev.value["target_days"] for ev in expand(scenario).events] == [45, 25]
    # The user who overrides the event too has said what the timeline does: no error.
    assert load_scenario(path, ["facilities.de_ev.policy.target_days=40", "timeline.0.set.policy.target_days=50"])


def test_a_sweep_over_a_parameter_the_timeline_overwrites_names_the_sweep_line_and_the_event(tmp_path, capsys):
    """A licensing control eased to approval 0.9 on 1 February: sweeping its approval share is
    refused at --check (and by validate), with the sweep's line and the ease's line."""
    controls = {"lic": {"instrument": "licensing", "exporter": "CN", "materials": ["mag"], "reviewers": 5,
                        "review_days": 3, "approval_probability": 0.5}}
    ease = {"date": "2025-02-01", "action": "ease", "control": "lic", "set": {"approval_probability": 0.9}}
    scenario = tmp_path / "world.yaml"
    scenario.write_text(yaml.safe_dump(world([ease], controls), sort_keys=False))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("scenario: world.yaml\nreplications: 1\nparameters:\n"
                     "  controls.lic.approval_probability: [0.3, 0.6]\nmetrics: [share_lost.de_ev]\n")
    ease_line = scenario.read_text().splitlines().index("  set:") + 2
    expected = (f"{sweep}:4: parameters.controls.lic.approval_probability = 0.3: controls.lic.approval_probability: "
                f"expected a parameter the scenario's timeline does not set again, got one that timeline[0] (ease on "
                f"2025-02-01, {scenario}:{ease_line}) sets to a value of its own; write that change relative to the "
                "value in force (\"+5\", \"*1.2\") or change another parameter")
    with pytest.raises(SweepError) as caught:
        plan_sweep(sweep)
    assert caught.value.lines == [expected]
    assert main(["sweep", str(sweep), "--check"]) == 2
    assert capsys.readouterr().err.splitlines() == [expected]
    # Made relative, the swept share carries through: 0.3 + 0.1 = 0.4 from 1 February.
    ease["set"]["approval_probability"] = "+0.1"
    scenario.write_text(yaml.safe_dump(world([ease], controls), sort_keys=False))
    assert len(plan_sweep(sweep).points) == 2
    swept = load_scenario(scenario, ["controls.lic.approval_probability=0.3"])
    assert expand(swept).events[0].set == {"approval_probability": 0.4}


@pytest.mark.parametrize("name", ["inventory_vs_approval", "sobol_2025"])
def test_the_bundled_sweeps_sweep_only_what_the_timeline_keeps(name):
    """Both bundled sweeps pass the check, and the scenario's easings are relative changes of
    the April approval share (0.85 -> 0.9 -> 0.95 in the scenario itself)."""
    plan = plan_sweep(ROOT / "sweeps" / f"{name}.yaml")
    assert "controls.cn_licence_apr2025.approval_probability" in plan.parameters
    scenario = load_scenario(ROOT / "scenarios" / "licensing_2025.yaml")
    eased = [ev.set["approval_probability"] for ev in expand(scenario).events
             if ev.action == "ease" and "approval_probability" in ev.set]
    assert eased == [0.9, 0.95]


# ----------------------------------------------------------------------------- holiday calendars

def _ends(applied: str, working_days: float) -> tuple[dt.date, dt.date]:
    """The day a review of ``working_days`` started on ``applied`` ends, on China's calendar
    and on plain Monday-to-Friday working days, as the model computes it."""
    scenario = load_scenario(TINY, ["warmup_days=0", "horizon_days=365"])
    model = Model(scenario, seed=1)
    on_calendar = model._working_days(lambda: working_days, holidays="CN")
    plain = model._working_days(lambda: working_days)
    model.env.run(until=(dt.date.fromisoformat(applied) - scenario.start).days + 0.25)  # a quarter into the day
    return tuple(scenario.start + dt.timedelta(days=int(model.env.now + draw())) for draw in (on_calendar, plain))


def test_reviews_in_working_days_skip_chinas_public_holidays_and_work_its_make_up_days():
    """Spring Festival 2025: 28 January - 4 February are holidays, Sunday 26 January and
    Saturday 8 February are make-up working days. A 10-working-day review from Friday 24
    January counts 26, 27 Jan, 5, 6, 7, 8, 10, 11, 12 Feb and ends on 13 February (day 0 is
    the 24th); on plain weekdays 27, 28, 29, 30, 31 Jan, 3, 4, 5, 6, 7 Feb: 7 February.
    Golden Week 2025: 1 - 8 October are holidays, Saturday 11 October works. 5 working days
    from Tuesday 30 September: 9, 10, 11, 13, 14 October; plainly 1, 2, 3, 6, 7 October.
    4.5 working days end half-way through the 5th: 13 October on the calendar (6 plainly)."""
    assert _ends("2025-01-24", 10.0) == (dt.date(2025, 2, 13), dt.date(2025, 2, 7))
    assert _ends("2025-09-30", 5.0) == (dt.date(2025, 10, 14), dt.date(2025, 10, 7))
    assert _ends("2025-09-30", 4.5) == (dt.date(2025, 10, 13), dt.date(2025, 10, 6))
    # Starting on a holiday: the first working day on or after it is day 0 (2 October -> 9 October).
    assert _ends("2025-10-02", 0.5) == (dt.date(2025, 10, 9), dt.date(2025, 10, 2))


def test_a_licensing_control_with_china_s_calendar_decides_later_over_the_make_up_weekend():
    """tiny.yaml's licence with reviews of exactly 10 working days and many reviewers: the
    first application, made on Wednesday 5 February 2025, is decided on the 10th working day
    after it: 6, 7, 8 (Saturday, make-up day), 10 ... 14, 17, 18 February on China's calendar;
    without the calendar 6, 7, 10 ... 14, 17, 18, 19 February."""
    base = ["controls.cn_licence.review_days=null", "controls.cn_licence.review_working_days=10",
            "controls.cn_licence.reviewers=1000"]
    decided = {}
    for label, extra in (("CN", ["controls.cn_licence.holidays=CN"]), ("plain", [])):
        licences = run(load_scenario(TINY, base + extra), seed=1).licences
        first = licences.sort_values(["applied", "decided"]).iloc[0]
        decided[label] = (str(first.applied)[:10], str(first.decided)[:10])
    assert decided == {"CN": ("2025-02-05", "2025-02-18"), "plain": ("2025-02-05", "2025-02-19")}


def test_a_holiday_calendar_needs_working_days_and_a_country_the_package_knows(tmp_path, capsys):
    path = tmp_path / "cal.yaml"
    path.write_text(f"extends: {TINY}\ncontrols:\n  cn_licence: {{holidays: CN}}\n")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{TINY}:43: controls.cn_licence: expected review_working_days with a holiday calendar (holidays: CN), "
        "got review_days, in calendar days"]
    path.write_text(f"extends: {TINY}\ncontrols:\n  cn_licence: {{holidays: EU, review_days: null, review_working_days: 5}}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{path}:3: controls.cn_licence.holidays: expected a country whose "
                                               "public holidays the holidays package knows (e.g. CN, DE, JP, US;")
    assert err[0].endswith("got 'EU'")


def test_the_schema_takes_selectors_relative_values_and_calendars():
    """`resim schema` accepts what the loader accepts: a selector with one value or a list, a
    list of names, relative values, dotted keys and `holidays`; it refuses an unknown selector
    condition."""
    import jsonschema

    from simulator.schema_export import json_ready, scenario_json_schema

    validator = jsonschema.Draft202012Validator(scenario_json_schema(), format_checker=jsonschema.FormatChecker())
    data = world([
        {"date": "2025-01-10", "action": "set", "facilities": FOREIGN_BUYERS, "set": {"policy.target_days": "+5"}},
        {"date": "2025-01-10", "action": "set", "facilities": {"type": ["sector"], "pattern": "*_ev"},
         "set": {"units_per_year": "*0.9"}},
        {"date": "2025-01-10", "action": "set", "facilities": ["de_ev"], "set": {"expedite_below_cover_days": 3}},
        {"date": "2025-01-10", "action": "ease", "control": "lic", "set": {"reviewers": "*2"}},
    ], {"lic": {"instrument": "licensing", "exporter": "CN", "materials": ["mag"], "reviewers": 5,
                "review_working_days": 3, "holidays": "CN", "approval_probability": 0.5}})
    assert list(validator.iter_errors(json_ready(data))) == []
    assert parse(data).controls["lic"].holidays == "CN"
    data["timeline"][0]["facilities"] = {"continent": "Asia"}
    assert [e.validator for e in validator.iter_errors(json_ready(data))] != []


def test_validate_shows_what_selectors_choose_and_relative_changes_come_to(tmp_path, capsys):
    """The foreign buyers (de_ev, de_wind, us_ev) raise 20 days by 5 to 25; every Chinese
    facility of type mine loses a tenth of 36,500 t a year: 32,850."""
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world([
        {"date": "2025-01-10", "action": "set", "facilities": FOREIGN_BUYERS, "set": {"policy.target_days": "+5"}},
        {"date": "2025-01-11", "action": "set", "path": "facilities.cn_mine.capacity_t_per_year", "value": "*0.9"},
    ]), sort_keys=False))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: ok",
        "  timeline[0] (set on 2025-01-10) selects 3 facilities: de_ev, de_wind, us_ev",
        "    policy.target_days +5 -> de_ev 25, de_wind 25, us_ev 25",
        "  timeline[1] (set on 2025-01-11) capacity_t_per_year *0.9 -> cn_mine 32850",
    ]


def test_an_ease_gives_the_buyers_a_selector_chooses_their_own_approval_chance(tmp_path, capsys):
    """On 5 January the German lines (de_ev, de_wind) get approval 0.2 as end users; on 6
    January de_ev's rises by 0.1 to 0.3, and the office's default stays 0.5. A selector that
    chooses no buyer, and any other parameter beside buyers, are input errors."""
    controls = {"lic": {"instrument": "licensing", "exporter": "CN", "materials": ["mag"], "reviewers": 5,
                        "review_days": 3, "approval_probability": 0.5}}
    timeline = [
        {"date": "2025-01-06", "action": "ease", "control": "lic", "buyers": ["de_ev"], "set": {"approval_by_buyer": "+0.1"}},
        {"date": "2025-01-05", "action": "ease", "control": "lic", "buyers": {"country": "DE"}, "set": {"approval_by_buyer": 0.2}},
    ]
    scenario = parse(world(timeline, controls))
    assert [ev.set for ev in expand(scenario).events] == [{"approval_by_buyer": {"de_ev": 0.3, "de_wind": 0.2}},
                                                          {"approval_by_buyer": {"de_ev": 0.2, "de_wind": 0.2}}]
    model = Model(scenario, seed=1)
    model.run()
    office = model.controls["lic"].office
    assert (office.approval_by_buyer, office.approval_probability) == ({"de_ev": 0.3, "de_wind": 0.2}, 0.5)
    timeline[1]["buyers"] = {"country": "FR"}
    timeline[0]["set"]["reviewers"] = 3
    lines = _problems(world(timeline, controls), tmp_path, capsys)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "timeline[0]: expected only set: {approval_by_buyer: ...} with buyers, got reviewers",
        "timeline[1].buyers: expected a selector that matches at least one facility, got none matching country FR"]
