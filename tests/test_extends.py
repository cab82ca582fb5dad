"""Deriving a scenario from another with `extends:`."""

from pathlib import Path

import pytest

from simulator import ScenarioError, load_scenario

TINY = (Path(__file__).parent / "data" / "tiny.yaml").read_text()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_child_merges_mappings_replaces_values_removes_nulls_and_appends(tmp_path):
    write(tmp_path, "base.yaml", TINY)
    child = write(tmp_path, "child.yaml", """\
extends: base.yaml
description: tiny, bigger German line, no licensing events
facilities:
  de_ev: {units_per_year: 500000}
timeline: null
lanes+:
  - {supplier: cn_mine, buyer: cn_magnets, material: ore, priority: 2, modes: {rail: {transit_days: 3}}}
""")
    s = load_scenario(child)
    assert s.name == "child" and s.description.startswith("tiny, bigger")
    assert s.facilities["de_ev"].units_per_year == 500000
    assert s.facilities["de_ev"].bom_kg_per_unit == {"ndfeb_magnet": 1.0}  # kept from the base
    assert s.timeline == [] and len(s.lanes) == 4 and s.lanes[3].priority == 2
    assert s.controls["cn_licence"].reviewers == 2


def test_errors_point_into_the_file_that_holds_the_value(tmp_path):
    write(tmp_path, "base.yaml", TINY.replace("reviewers: 2", "reviewers: 0"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nfacilities:\n  de_ev: {units_per_year: -5}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(child)
    assert caught.value.lines == [
        f"{child}:3: facilities.de_ev.units_per_year: expected a number >= 0, got -5",
        f"{tmp_path / 'base.yaml'}:47: controls.cn_licence.reviewers: expected a number >= 1, got 0",
    ]


def test_chains_and_loops(tmp_path):
    write(tmp_path, "a.yaml", TINY)
    write(tmp_path, "b.yaml", "extends: a.yaml\nseed: 5\n")
    c = write(tmp_path, "c.yaml", "extends: b.yaml\nhorizon_days: 100\n")
    s = load_scenario(c)
    assert (s.name, s.seed, s.horizon_days) == ("c", 5, 100)
    loop = write(tmp_path, "loop.yaml", "extends: loop2.yaml\n")
    write(tmp_path, "loop2.yaml", "extends: loop.yaml\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(loop)
    assert caught.value.lines == [f"{tmp_path / 'loop2.yaml'}:1: extends: expected a chain of scenarios without loops, got 'loop.yaml' again"]


def test_bad_extends_values(tmp_path):
    missing = write(tmp_path, "m.yaml", "extends: nowhere.yaml\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(missing)
    assert caught.value.lines == [f"{missing}:1: extends: expected a readable scenario file, got 'nowhere.yaml' (no such file at {tmp_path / 'nowhere.yaml'})"]
    write(tmp_path, "base.yaml", TINY)
    bad = write(tmp_path, "bad.yaml", "extends: base.yaml\nlanes+: {a: 1}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    assert caught.value.lines[0].startswith(f"{bad}:2: lanes+: expected a list to append")


def test_overrides_apply_after_merging(tmp_path):
    write(tmp_path, "base.yaml", TINY)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(child, ["controls.cn_licence.reviewers=0"])
    assert caught.value.lines == ["--set controls.cn_licence.reviewers=0: controls.cn_licence.reviewers: expected a number >= 1, got 0"]


def test_timeline_events_can_be_addressed_by_id(tmp_path):
    text = TINY.replace("  - {date: 2025-03-15, action: release, control: cn_licence, fraction: 1.0}",
                        "  - {date: 2025-03-15, id: big_release, action: release, control: cn_licence, fraction: 1.0}")
    path = write(tmp_path, "named.yaml", text)
    s = load_scenario(path, ["timeline.big_release.fraction=0.25"])
    assert s.timeline[1].id == "big_release" and s.timeline[1].fraction == 0.25
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, ["timeline.small_release.fraction=0.25"])
    assert caught.value.lines == ["--set timeline.small_release.fraction=0.25: timeline.small_release: expected a list index "
                                  "from 0 to 2 or the id of an item (big_release), got 'small_release'"]
    dup = write(tmp_path, "dup.yaml", text.replace("{date: 2025-02-01, action: impose", "{date: 2025-02-01, id: big_release, action: impose"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(dup)
    assert caught.value.lines == [f"{dup}:52: timeline[1].id: expected an id no other event has, got 'big_release' (also timeline[0])"]


def test_a_file_name_that_is_no_valid_name_is_explained(tmp_path):
    bad = write(tmp_path, "9lives.yaml", TINY.replace("name: tiny\n", ""))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    assert caught.value.lines == [f"{bad}:1: name: expected a name of letters, digits, '_' and '-' that starts with a "
                                  "letter, got '9lives' (taken from the file name: add a `name:` field)"]
    write(tmp_path, "base.yaml", TINY)
    child = write(tmp_path, "_child.yaml", "extends: base.yaml\n")  # the base's name is not inherited
    with pytest.raises(ScenarioError) as caught:
        load_scenario(child)
    assert caught.value.lines[0].startswith(f"{child}:1: name: expected a name")
