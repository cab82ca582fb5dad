"""A corpus of malformed scenarios, each with the exact error lines the loader must give.

Every file in ``tests/data/malformed/`` is derived from ``tests/data/tiny.yaml`` with one
intended problem (or, for the ``several`` files, a few). The expected lines are the full
messages, ``path:LINE: field.path: expected ..., got ...``, where ``{f}`` stands for the path
exactly as it was passed to :func:`load_scenario`. Bad input must never raise anything but a
:class:`ScenarioError`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.loading import ScenarioError, load_scenario

DATA = Path(__file__).parent / "data"
MALFORMED = DATA / "malformed"
TINY = DATA / "tiny.yaml"

CASES: list[tuple[str, list[str]]] = [
    # Input that used to crash, hang or read too much (issue 16): each a one-line error.
    ('51_nul_byte.yaml', ['{f}:5: YAML syntax error: expected printable text, got a NUL byte']),
    ('52_not_utf8.yaml', ['{f}:1: scenario: expected UTF-8 text, got the byte 0xe9 (save the file as UTF-8)']),
    ('53_nested_too_deep.yaml', ['{f}:6: scenario: expected data nested at most 50 levels deep, got deeper nesting']),
    ('54_start_out_of_range.yaml', ['{f}:3: start: expected a date from 1900-01-01 to 2100-12-31, got 9999-12-31']),
    ('55_datetime_start.yaml', [
        '{f}:3: start: expected a date (YYYY-MM-DD) without a time of day, got 2025-01-01 10:00:00',
    ]),
    ('56_gamma_cv_too_small.yaml', ['{f}:48: controls.cn_licence.review_days.cv: expected a number >= 0.001, got 1e-200']),
    ('57_lognormal_cv_too_large.yaml', ['{f}:48: controls.cn_licence.review_days.cv: expected a number <= 10, got 1e+200']),
    ('58_inventory_sample_days_too_small.yaml', ['{f}:6: inventory_sample_days: expected a number >= 1, got 1e-09']),
    ('59_batch_days_too_small.yaml', ['{f}:10: facilities.cn_mine.batch_days: expected a number >= 0.1, got 1e-06']),
    ('60_review_days_too_small.yaml', ['{f}:32: facilities.de_ev.policy.review_days: expected a number >= 0.1, got 1e-06']),
    ('61_review_working_days_too_large.yaml', [
        '{f}:48: controls.cn_licence.review_working_days: expected a number <= 3650, got 1e+09',
    ]),
    ('62_bom_too_large.yaml', [
        '{f}:31: facilities.de_ev.bom_kg_per_unit.ndfeb_magnet: expected a number <= 100,000, got 1e+308',
    ]),
    ('63_alias_bomb.yaml', [
        '{f}:7: x-bomb.f[2][5][6][6][2][5]: expected at most 250,000 values, got more (do aliases expand too much?)',
    ]),
    ('64_key_with_line_break.yaml', ["{f}:6: hori\\nzon: unknown field 'hori\\nzon' (did you mean 'horizon_days'?)"]),
    ('65_extends_a_folder.yaml', ["{f}:2: extends: expected a scenario file to build on, got '.' (a folder, not a file)"]),
    ('66_date_as_a_number.yaml', ['{f}:51: timeline[0].date: expected a date (YYYY-MM-DD), got 20250201']),
    ('67_normal_far_below_zero.yaml', [
        '{f}:41: lanes[2].modes.air.transit_days: expected mean >= -3 sd (a normal truncated at 0 must keep some '
        'mass above 0), got mean=-100, sd=0.001',
    ]),
    ('68_tonnes_too_large.yaml', [
        '{f}:16: facilities.cn_magnets.capacity_t_per_year: expected a number <= 1,000,000,000, got 1e+12',
    ]),
    ('50_just_in_time_on_a_plant.yaml', [
        '{f}:18: facilities.cn_magnets.policy: expected a periodic policy (order_up_to, s_S or s_Q) for a plant, '
        'got just_in_time (only a sector orders as it produces)',
    ]),
    ('49_schema_and_cross_field_at_once.yaml', [
        '{f}:18: facilities.cn_magnets.utilisation: expected a number <= 1, got 1.8',
        "{f}:36: lanes[1].supplier: expected a facility that ships 'ndfeb_magnet', got 'cn_mine' (a mine that does not)",
    ]),
    ('48_yaml_booleans_as_numbers.yaml', [
        '{f}:6: seed: expected a number, got true (a YAML boolean)',
        '{f}:18: facilities.cn_magnets.utilisation: expected a number, got true (a YAML boolean)',
    ]),
    ('01_yaml_bad_indent.yaml', [
        '{f}:14: YAML syntax error: expected this line to be indented like the keys above it, got a different indentation',
    ]),
    ('02_yaml_unclosed_bracket.yaml', [
        "{f}:11: YAML syntax error: expected ',' or '}', got ':' (in the '{' opened on line 10; is a '}' or ',' missing?)",
    ]),
    ('03_yaml_tab.yaml', [
        '{f}:17: YAML syntax error: found a tab character; indent with spaces, not tabs',
    ]),
    ('04_empty_file.yaml', [
        '{f}:1: scenario: expected a YAML mapping of scenario fields, got an empty file',
    ]),
    ('05_top_level_list.yaml', [
        '{f}:1: scenario: expected a YAML mapping of scenario fields, got a list',
    ]),
    ('06_duplicate_key.yaml', [
        "{f}:42: lanes[2].modes.air: expected each key once in a mapping, got 'air' again (first on line 40)",
    ]),
    ('07_unknown_top_level_key.yaml', [
        "{f}:6: horizon: unknown field 'horizon' (did you mean 'horizon_days'?)",
    ]),
    ('08_facility_field_typo.yaml', [
        "{f}:16: facilities.cn_magnets.capacity_t_per_yr: unknown field 'capacity_t_per_yr' (did you mean 'capacity_t_per_year'?)",
    ]),
    ('09_wrong_type.yaml', [
        "{f}:30: facilities.de_ev.units_per_year: expected a number, got 'lots'",
    ]),
    ('10_negative_capacity.yaml', [
        '{f}:10: facilities.cn_mine.capacity_t_per_year: expected a number >= 0, got -3650',
    ]),
    ('11_approval_probability_above_one.yaml', [
        '{f}:49: controls.cn_licence.approval_probability: expected a number <= 1, got 1.5',
    ]),
    ('12_utilisation_above_one.yaml', [
        '{f}:17: facilities.cn_magnets.utilisation: expected a number <= 1, got 1.2',
    ]),
    ('13_unknown_facility_type.yaml', [
        "{f}:10: facilities.cn_mine.type: expected one of 'mine', 'plant', 'sector', 'depot', 'stockpile', got 'quarry'",
    ]),
    ('14_unknown_distribution.yaml', [
        "{f}:48: controls.cn_licence.review_days.dist: expected one of 'fixed', 'uniform', 'triangular', 'normal', 'lognormal', 'gamma', 'exponential', got 'poisson'",
    ]),
    ('15_triangular_min_above_max.yaml', [
        '{f}:40: lanes[2].modes.sea.transit_days: expected min <= mode <= max and min < max, got min=42, mode=35, max=28',
    ]),
    ('16_uniform_min_above_max.yaml', [
        '{f}:48: controls.cn_licence.review_days: expected min <= max, got min=40, max=20',
    ]),
    ('17_lane_unknown_facility.yaml', [
        "{f}:35: lanes[1].supplier: expected one of the scenario's facilities (cn_ev, cn_magnets, cn_mine, de_ev), got 'cn_magnet'",
    ]),
    ('18_lane_unknown_material.yaml', [
        "{f}:34: lanes[0].material: expected one of the scenario's materials (ndfeb_magnet, ore), got 'ores'",
    ]),
    ('19_lane_supplier_does_not_ship.yaml', [
        "{f}:35: lanes[1].supplier: expected a facility that ships 'ndfeb_magnet', got 'cn_mine' (a mine that does not)",
    ]),
    ('20_lane_buyer_does_not_use.yaml', [
        "{f}:15: facilities.cn_magnets.recipe_t_per_t.ore: expected a lane from a mine, plant or depot supplying 'ore' to 'cn_magnets', got none",
        "{f}:34: lanes[0].buyer: expected a facility that uses 'ore' (in its recipe or bill of materials), got 'cn_ev'",
    ]),
    ('21_plant_input_without_lane.yaml', [
        "{f}:15: facilities.cn_magnets.recipe_t_per_t.ore: expected a lane from a mine, plant or depot supplying 'ore' to 'cn_magnets', got none",
    ]),
    ('22_invalid_country.yaml', [
        "{f}:29: facilities.de_ev.country: expected an ISO 3166 alpha-2 country code (e.g. CN, US, DE), got 'GER'",
    ]),
    ('23_invalid_element.yaml', [
        "{f}:46: controls.cn_licence.elements.any_of[1]: expected a chemical element symbol (e.g. Nd, Dy, Tb), got 'Tx'",
    ]),
    ('24_element_fractions_sum.yaml', [
        '{f}:8: materials.ndfeb_magnet: expected element mass fractions summing to at most 1, got 1.02',
    ]),
    ('25_timeline_date_outside_horizon.yaml', [
        "{f}:51: timeline[0].date: expected a date within the scenario's horizon 2025-01-01 to 2025-05-01, got 2026-02-01",
    ]),
    ('26_timeline_unknown_control.yaml', [
        "{f}:51: timeline[0].control: expected one of the scenario's controls (cn_licence), got 'cn_licensing'",
    ]),
    ('27_release_on_quota.yaml', [
        "{f}:50: timeline[1].control: expected a licensing control (only a licence backlog can be released), got 'cn_licence', a quota",
    ]),
    ('28_ease_unchangeable_field.yaml', [
        "{f}:52: timeline[1].set.exporter: expected a licensing parameter that can change mid-run (approval_by_buyer, approval_by_destination, approval_by_sector, approval_probability, consignment_t, destinations, elements, materials, resubmit_days, return_by_destination, return_probability, review_days, review_days_by_outcome, review_working_days, reviewers), got 'exporter'",
    ]),
    ('29_ease_invalid_value.yaml', [
        '{f}:57: timeline[1].set.approval_probability: expected a number <= 1, got 1.5',
    ]),
    ('30_set_unknown_facility.yaml', [
        "{f}:54: timeline[3].path: expected facilities.<facility>.<parameter> naming one of the scenario's facilities, got 'us_mine'",
    ]),
    ('31_set_unchangeable_parameter.yaml', [
        "{f}:54: timeline[3].path: expected a mine parameter that can change mid-run (allocation, capacity_t_per_year, max_stock_t, output_cap_t_per_year, utilisation, variability), got 'country'",
    ]),
    ('32_suspend_until_before_date.yaml', [
        '{f}:52: timeline[1].until: expected a date after 2025-03-01, got 2025-02-15',
    ]),
    ('33_both_review_times.yaml', [
        '{f}:43: controls.cn_licence: expected exactly one of review_days or review_working_days, got both',
    ]),
    ('34_neither_review_time.yaml', [
        '{f}:43: controls.cn_licence: expected exactly one of review_days or review_working_days, got neither',
    ]),
    ('35_control_without_scope.yaml', [
        '{f}:43: controls.cn_licence: expected a material scope: `materials`, `elements` or both, got neither',
    ]),
    ('36_missing_required_field.yaml', [
        '{f}:10: facilities.cn_mine.material: expected a value (this field is required), got nothing',
    ]),
    ('37_horizon_zero.yaml', [
        '{f}:4: horizon_days: expected a number >= 1, got 0',
    ]),
    ('38_s_S_reorder_above_target.yaml', [
        '{f}:18: facilities.cn_magnets.policy: expected reorder_days <= target_days, got reorder_days=20, target_days=10',
    ]),
    ('39_several_problems.yaml', [
        '{f}:10: facilities.cn_mine.capacity_t_per_year: expected a number >= 0, got -3650',
        "{f}:17: facilities.cn_magnets.utilisaton: unknown field 'utilisaton' (did you mean 'utilisation'?)",
        "{f}:29: facilities.de_ev.country: expected an ISO 3166 alpha-2 country code (e.g. CN, US, DE), got 'Germany'",
        "{f}:35: lanes[1].buyer: expected one of the scenario's facilities (cn_ev, cn_magnets, cn_mine, de_ev), got 'cn_eev'",
        '{f}:49: controls.cn_licence.approval_probability: expected a number <= 1, got 2',
        "{f}:51: timeline[0].date: expected a date within the scenario's horizon 2025-01-01 to 2025-05-01, got 2024-12-01",
    ]),
    ('40_python_object_tag.yaml', [
        "{f}:5: seed: expected plain YAML data, got the tag '!!python/object/apply:os.system' (only safe YAML is read: no objects, no code)",
    ]),
    ('41_impossible_date.yaml', [
        "{f}:3: start: expected a date (YYYY-MM-DD), got '2025-13-01'",
    ]),
    ('42_norway_read_as_false.yaml', [
        "{f}:29: facilities.de_ev.country: expected text, got false (YAML reads yes/no/on/off as true/false: quote it, e.g. 'NO')",
    ]),
    ('43_destinations_neither_form.yaml', [
        "{f}:46: controls.cn_licence.destinations: expected 'all', {include: [...]} or {exclude: [...]}, got {'exclud': ['US']}",
    ]),
    ('44_two_documents.yaml', [
        "{f}:6: YAML syntax error: expected one YAML document, got a second one (a '---' line?)",
    ]),
    ('45_several_structural_problems.yaml', [
        "{f}:6: seed: expected each key once in a mapping, got 'seed' again (first on line 5)",
        "{f}:18: facilities.cn_magnets.utilisation: expected plain YAML data, got the tag '!!python/name:builtins.float' (only safe YAML is read: no objects, no code)",
    ]),
    ('46_merge_key_override.yaml', [
        '{f}:29: facilities.de_ev.units_per_year: expected a number >= 0, got -5',
    ]),
    ('47_problems_in_file_order.yaml', [
        "{f}:3: timeline[0].control: expected one of the scenario's controls (cn_licence), got 'cn_licenc'",
        '{f}:14: facilities.cn_mine.capacity_t_per_year: expected a number >= 0, got -1',
    ]),
]

# --set overrides on the valid tiny.yaml: the message names the override, not a file line.
OVERRIDE_CASES: list[tuple[list[str], list[str]]] = [
    # Dates whose arithmetic overflowed, a datetime, and problems an override causes in what
    # the file holds: each names the override (issue 16).
    (["start=9999-12-31"], ["--set start=9999-12-31: start: expected a date from 1900-01-01 to 2100-12-31, got 9999-12-31"]),
    (["start=0001-01-01"], ["--set start=0001-01-01: start: expected a date from 1900-01-01 to 2100-12-31, got 0001-01-01"]),
    (["start=2025-01-01 10:00:00"], [
        "--set start=2025-01-01 10:00:00: start: expected a date (YYYY-MM-DD) without a time of day, got 2025-01-01 10:00:00",
    ]),
    (["controls.cn_licence.review_working_days=5"], [
        "--set controls.cn_licence.review_working_days=5: controls.cn_licence: expected exactly one of review_days "
        "or review_working_days, got both",
    ]),
    (["facilities.new_mine.type=mine"], [
        "--set facilities.new_mine.type=mine: facilities.new_mine.country: expected a value (this field is required), got nothing",
        "--set facilities.new_mine.type=mine: facilities.new_mine.material: expected a value (this field is required), got nothing",
        "--set facilities.new_mine.type=mine: facilities.new_mine.capacity_t_per_year: expected a value (this field is "
        "required), got nothing",
    ]),
    (["horizon_days=20"], [
        "{tiny}:51: timeline[0].date: expected a date within the scenario's horizon 2025-01-01 to 2025-01-21 "
        "(after --set horizon_days=20), got 2025-02-01",
        "{tiny}:52: timeline[1].date: expected a date within the scenario's horizon 2025-01-01 to 2025-01-21 "
        "(after --set horizon_days=20), got 2025-03-15",
        "{tiny}:53: timeline[2].date: expected a date within the scenario's horizon 2025-01-01 to 2025-01-21 "
        "(after --set horizon_days=20), got 2025-03-15",
    ]),
    (["facilities.cn_ev.policy.review_days=1e-6"], [
        "--set facilities.cn_ev.policy.review_days=1e-6: facilities.cn_ev.policy.review_days: expected a number >= 0.1, "
        "got '1e-6'",
    ]),
    (["facilities.cn_mine.capacity_t_per_year=-5"], [
        "--set facilities.cn_mine.capacity_t_per_year=-5: facilities.cn_mine.capacity_t_per_year: "
        "expected a number >= 0, got -5",
    ]),
    (["controls.cn_licence.approval_probability=1.5"], [
        "--set controls.cn_licence.approval_probability=1.5: controls.cn_licence.approval_probability: "
        "expected a number <= 1, got 1.5",
    ]),
    (["lanes.7.supplier=cn_mine"], [
        "--set lanes.7.supplier=cn_mine: lanes.7: expected a list index from 0 to 2, got 7",
    ]),
    (["lanes.first.supplier=cn_mine"], [
        "--set lanes.first.supplier=cn_mine: lanes.first: expected a list index from 0 to 2, got 'first'",
    ]),
    (["seed"], ["--set seed: expected dotted.path=value, got no '='"]),
    (["=3"], ["--set =3: expected dotted.path=value with a non-empty name between dots, got ''"]),
    (["seed.x=1"], ["--set seed.x=1: seed: expected a mapping to set 'x' in, got 1"]),
    (["facilities.cn_mine.capcity_t_per_year=5"], [
        "--set facilities.cn_mine.capcity_t_per_year=5: facilities.cn_mine.capcity_t_per_year: "
        "unknown field 'capcity_t_per_year' (did you mean 'capacity_t_per_year'?)",
    ]),
    (["start=2025-13-01"], ["--set start=2025-13-01: start: expected a date (YYYY-MM-DD), got '2025-13-01'"]),
    (["lanes.1.supplier=nowhere"], [
        "--set lanes.1.supplier=nowhere: lanes[1].supplier: expected one of the scenario's facilities "
        "(cn_ev, cn_magnets, cn_mine, de_ev), got 'nowhere'",
    ]),
    # A whole mapping replaced: its problems are the override's, not the file's old lines.
    (["facilities.cn_mine={type: mine, country: CN, material: ore, capacity_t_per_year: -1}"], [
        "--set facilities.cn_mine={type: mine, country: CN, material: ore, capacity_t_per_year: -1}: "
        "facilities.cn_mine.capacity_t_per_year: expected a number >= 0, got -1",
    ]),
    # Cross-field checks see overridden values too.
    (["lanes.1.supplier=cn_mine"], [
        "--set lanes.1.supplier=cn_mine: lanes[1].supplier: expected a facility that ships "
        "'ndfeb_magnet', got 'cn_mine' (a mine that does not)",
    ]),
    (["seed=!!python/object/apply:os.system [ls]"], [
        "--set seed=!!python/object/apply:os.system [ls]: seed: expected a whole number, "
        "got '!!python/object/apply:os.system [ls]'",
    ]),
]


def _expected(lines: list[str], path: Path) -> list[str]:
    return [line.replace("{f}", str(path)) for line in lines]


@pytest.mark.parametrize(("filename", "expected"), CASES, ids=[name for name, _ in CASES])
def test_malformed_file_gives_exact_lines(filename: str, expected: list[str]) -> None:
    path = MALFORMED / filename
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.lines == _expected(expected, path)
    assert str(caught.value) == "\n".join(caught.value.lines)


def test_every_corpus_file_is_listed() -> None:
    names = [name for name, _ in CASES]
    assert len(names) == len(set(names)), "a file is listed twice in CASES"
    on_disk = sorted(p.name for p in MALFORMED.iterdir() if p.is_file())
    assert sorted(names) == on_disk
    assert len(names) >= 35


def test_relative_path_is_reported_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)
    rel = Path("malformed") / "10_negative_capacity.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(rel)
    assert caught.value.lines == [
        f"{rel}:10: facilities.cn_mine.capacity_t_per_year: expected a number >= 0, got -3650"
    ]


def test_tiny_is_valid() -> None:
    """The corpus is derived from tiny.yaml, so tiny.yaml itself must load."""
    assert load_scenario(TINY).name == "tiny"


@pytest.mark.parametrize(("overrides", "expected"), OVERRIDE_CASES, ids=[o[0] for o, _ in OVERRIDE_CASES])
def test_bad_override_names_the_override(overrides: list[str], expected: list[str]) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(TINY, overrides=overrides)
    assert caught.value.lines == [line.replace("{tiny}", str(TINY)) for line in expected]


def test_override_and_file_problems_are_reported_together() -> None:
    path = MALFORMED / "11_approval_probability_above_one.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides=["seed=-1"])
    assert caught.value.lines == [
        f"{path}:49: controls.cn_licence.approval_probability: expected a number <= 1, got 1.5",
        "--set seed=-1: seed: expected a number >= 0, got -1",
    ]


def test_override_can_fix_a_file_problem() -> None:
    path = MALFORMED / "11_approval_probability_above_one.yaml"
    scenario = load_scenario(path, overrides=["controls.cn_licence.approval_probability=0.4"])
    assert scenario.controls["cn_licence"].approval_probability == 0.4


def test_override_mapping_form() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(TINY, overrides={"horizon_days": 0})
    assert caught.value.lines == ["--set horizon_days=0: horizon_days: expected a number >= 1, got 0"]


def test_missing_file() -> None:
    path = MALFORMED / "no_such_file.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.lines == [f"{path}: no such scenario file"]


# Every command reports a bad scenario the same way: the loader's lines on stderr, exit 2, no traceback.


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    from simulator.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, err.splitlines(), out


@pytest.mark.parametrize(("filename", "expected"), CASES, ids=[name for name, _ in CASES])
def test_validate_and_run_give_the_loader_lines(filename: str, expected: list[str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = MALFORMED / filename
    code, err, out = _cli(capsys, "validate", str(path))
    assert (code, err, out) == (2, _expected(expected, path), "")
    code, err, out = _cli(capsys, "run", str(path), "--results", str(tmp_path), "--no-report")
    assert (code, err, out) == (2, _expected(expected, path), "")
    assert not any(tmp_path.iterdir())


def test_sweep_check_and_validate_of_a_sweep_on_an_impossible_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = MALFORMED / "41_impossible_date.yaml"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"name: t\nscenario: {scenario}\nreplications: 2\ndesign: grid\n"
                     "parameters:\n  seed: [1, 2]\nmetrics: [licences_denied]\n", encoding="utf-8")
    expected = [f"{scenario}:3: start: expected a date (YYYY-MM-DD), got '2025-13-01'"]
    for argv in (("sweep", "--check", str(sweep)), ("validate", str(sweep)),
                 ("run", str(scenario), "--replications", "2", "--results", str(tmp_path / "r"))):
        assert _cli(capsys, *argv)[:2] == (2, expected), argv
    # An impossible date in the sweep file itself is reported by its line, not raised.
    sweep.write_text(f"name: t\nscenario: {TINY}\nreplications: 2\ndesign: grid\n"
                     "parameters:\n  start: [2025-13-01]\nmetrics: [licences_denied]\n", encoding="utf-8")
    for argv in (("sweep", "--check", str(sweep)), ("validate", str(sweep))):
        code, err, _ = _cli(capsys, *argv)
        assert code == 2 and len(err) == 1 and err[0].startswith(f"{sweep}:6: "), (argv, err)
        assert err[0].endswith("start: expected a date (YYYY-MM-DD), got '2025-13-01'")
