"""`resim schema`: the JSON Schema of scenario files agrees with what the loader accepts.

Files are read as an editor reads them: with ``yaml.safe_load`` and dates as ISO text
(:func:`simulator.schema_export.json_ready`).
"""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from simulator.cli import main
from simulator.schema_export import json_ready, scenario_json_schema

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml"))
TEST_DATA = sorted((ROOT / "tests" / "data").rglob("*.yaml"))
TINY = (ROOT / "tests" / "data" / "tiny.yaml").read_text()


@pytest.fixture(scope="module")
def schema():
    built = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(built)
    return built


@pytest.fixture(scope="module")
def validator(schema):
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def errors(validator, text: str) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(json_ready(yaml.safe_load(text)))]


def validate_exit_code(path: Path, capsys) -> int:
    code = main(["validate", str(path)])
    capsys.readouterr()
    return code


def test_cli_prints_the_schema(capsys, schema):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == schema
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_bundled_scenario_fits_the_schema(path, validator):
    assert errors(validator, path.read_text()) == []


def test_bundled_scenarios_include_derived_ones():
    # So that the test above covers extends, lanes+, timeline+ and partial facilities.
    texts = " ".join(p.read_text() for p in BUNDLED)
    assert "\nextends:" in texts and "\nlanes+:" in texts and "\ntimeline+:" in texts


def test_every_test_file_validate_accepts_fits_the_schema(validator, capsys):
    accepted = [path for path in TEST_DATA if validate_exit_code(path, capsys) == 0]
    assert ROOT / "tests" / "data" / "tiny.yaml" in accepted  # so that this checks something
    assert {path.name: errors(validator, path.read_text()) for path in accepted} == {p.name: [] for p in accepted}


def _properties(node, where="#"):
    """(location, property schema) of every property anywhere in ``node``."""
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            yield f"{where}/properties/{name}", prop
        for key, value in node.items():
            yield from _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _properties(value, f"{where}/{i}")


def test_every_property_has_a_description(schema):
    found = list(_properties(schema))
    assert len(found) > 200  # the models' fields, the partial forms and the top level
    missing = [where for where, prop in found if not str(prop.get("description", "")).strip()]
    assert missing == []


def test_every_model_field_is_in_the_schema(schema):
    from simulator import scenario as sp

    for name in ("Mine", "Plant", "Sector", "Depot", "Stockpile", "Lane", "Licensing", "Quota", "Ban"):
        model = getattr(sp, name)
        fields = {f.alias or n for n, f in model.model_fields.items()}
        assert set(schema["$defs"][name]["properties"]) == fields


# Files `resim validate` rejects for their types or keys, which the schema rejects too (files it
# rejects for references, cross-field rules or dates outside the horizon fit the schema).
REJECTED = [
    "07_unknown_top_level_key.yaml", "08_facility_field_typo.yaml", "09_wrong_type.yaml",
    "10_negative_capacity.yaml", "11_approval_probability_above_one.yaml", "12_utilisation_above_one.yaml",
    "13_unknown_facility_type.yaml", "14_unknown_distribution.yaml", "22_invalid_country.yaml",
    "23_invalid_element.yaml", "36_missing_required_field.yaml", "37_horizon_zero.yaml",
    "42_norway_read_as_false.yaml", "43_destinations_neither_form.yaml", "48_yaml_booleans_as_numbers.yaml",
]


@pytest.mark.parametrize("name", REJECTED)
def test_files_validate_rejects_for_their_types_the_schema_rejects(name, validator, capsys):
    path = ROOT / "tests" / "data" / "malformed" / name
    assert validate_exit_code(path, capsys) == 2
    assert errors(validator, path.read_text()) != []


def test_unknown_top_level_key_and_text_for_a_number(validator):
    assert any("'horizon' was unexpected" in e for e in errors(validator, TINY + "horizon: 3\n"))
    assert errors(validator, TINY.replace("horizon_days: 120", "horizon_days: soon")) != []
    assert errors(validator, TINY.replace("name: tiny\n", "")) == []  # the file name stands in


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_derived_file_holds_only_what_changes(tmp_path, validator, capsys):
    write(tmp_path, "base.yaml", TINY)
    child = write(tmp_path, "child.yaml", """\
extends: base.yaml
facilities:
  de_ev: {units_per_year: 500000, policy: {target_days: 50}}
  cn_mine: {variability: {dist: uniform, min: 0.9, max: 1.1}}
controls:
  cn_licence: {review_days: {max: 50}, elements: {any_of+: [Ho]}, approval_by_destination: {US: 0.2}}
lanes+:
  - {supplier: cn_mine, buyer: cn_magnets, material: ore, priority: 2, modes: {rail: {transit_days: 3}}}
timeline: null
""")
    assert validate_exit_code(child, capsys) == 0
    assert errors(validator, child.read_text()) == []


@pytest.mark.parametrize("text", [
    "extends: base.yaml\nhorizon: 3\n",  # unknown key
    "extends: base.yaml\nfacilities:\n  de_ev: {units_per_yr: 5}\n",  # a typo in a partial facility
    "extends: base.yaml\nfacilities:\n  de_ev: {units_per_year: lots}\n",  # text for a number
    "extends: base.yaml\nlanes+: {a: 1}\n",  # lanes+ takes a list
    "extends: base.yaml\nlanes+:\n  - {supplier: cn_mine}\n",  # an appended lane is complete
    "extends: ''\n",
])
def test_derived_files_the_loader_rejects_for_their_types(text, tmp_path, validator, capsys):
    write(tmp_path, "base.yaml", TINY)
    child = write(tmp_path, "child.yaml", text)
    assert validate_exit_code(child, capsys) == 2
    assert errors(validator, text) != []


def test_extends_only_syntax_needs_extends(validator):
    appended = TINY + "lanes+:\n  - {supplier: cn_mine, buyer: cn_magnets, material: ore, modes: {rail: {transit_days: 3}}}\n"
    assert errors(validator, appended) != []
    assert errors(validator, TINY.replace("seed: 1", "seed: null")) != []
