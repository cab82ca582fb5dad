"""Input that must never crash, hang, fill the memory or leak (issue 16), one test per class.

What files the loader reads (regular files of at most 10 MiB, in UTF-8: scenario files,
``extends:`` targets, sweep files), what it says about them without echoing foreign content,
the guards on ``--set`` values, messages that stay one line, names from file names, and the
working-day arithmetic of reviews that end long after a run. The malformed-file corpus
(``tests/test_malformed.py``) holds the crashes and hangs that are one file each.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main
from simulator.loading import MAX_FILE_BYTES, ScenarioError, load_scenario

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.yaml"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="devices, named pipes and symbolic links of POSIX")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err.splitlines()


def _rejected(capsys, *argv: str) -> list[str]:
    """Run `argv` through `resim run` and `resim validate` style commands: exit 2, one line each."""
    code, err = _cli(capsys, *argv)
    assert code == 2 and err, (code, err)
    return err


def _derived(tmp_path: Path, ref: str, name: str = "derived.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"extends: {ref}\ndescription: built on something\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ what files are read


@posix_only
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_refused_before_it_is_read(tmp_path, capsys):
    assert _rejected(capsys, "validate", "/dev/zero") == ["/dev/zero: expected a scenario file, got a device, not a regular file"]
    assert _rejected(capsys, "run", "/dev/zero", "--results", str(tmp_path / "r")) == [
        "/dev/zero: expected a scenario file, got a device, not a regular file"]
    derived = _derived(tmp_path, "/dev/zero")
    assert _rejected(capsys, "validate", str(derived)) == [
        f"{derived}:1: extends: expected a scenario file to build on, got '/dev/zero' (a device, not a regular file)"]
    assert not (tmp_path / "r").exists()


@posix_only
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path, capsys):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert _rejected(capsys, "validate", str(fifo)) == [f"{fifo}: expected a scenario file, got a named pipe, not a regular file"]
    derived = _derived(tmp_path, "pipe.yaml")
    assert _rejected(capsys, "validate", str(derived)) == [
        f"{derived}:1: extends: expected a scenario file to build on, got 'pipe.yaml' (a named pipe, not a regular file)"]
    assert _rejected(capsys, "sweep", "--check", str(fifo)) == [f"{fifo}: expected a sweep file, got a named pipe, not a regular file"]


def test_a_file_larger_than_the_limit_is_refused(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    assert MAX_FILE_BYTES == 10 * 2**20  # the README says 10 MiB
    expected = "larger than 10 MiB, the most a file may have"
    assert _rejected(capsys, "validate", str(big)) == [f"{big}: expected a scenario file, got {expected}"]
    derived = _derived(tmp_path, "big.yaml")
    assert _rejected(capsys, "validate", str(derived)) == [
        f"{derived}:1: extends: expected a scenario file to build on, got 'big.yaml' ({expected})"]
    assert _rejected(capsys, "sweep", "--check", str(big)) == [f"{big}: expected a sweep file, got {expected}"]


def test_a_folder_is_not_a_file(tmp_path, capsys):
    assert _rejected(capsys, "validate", str(tmp_path)) == [f"{tmp_path}: expected a scenario file, got a folder, not a file"]
    derived = _derived(tmp_path, ".")
    assert _rejected(capsys, "validate", str(derived)) == [
        f"{derived}:1: extends: expected a scenario file to build on, got '.' (a folder, not a file)"]


@posix_only
def test_extends_through_a_loop_of_symbolic_links(tmp_path, capsys):
    (tmp_path / "one.yaml").symlink_to(tmp_path / "two.yaml")
    (tmp_path / "two.yaml").symlink_to(tmp_path / "one.yaml")
    derived = _derived(tmp_path, "one.yaml")
    assert _rejected(capsys, "validate", str(derived)) == [
        f"{derived}:1: extends: expected a scenario file to build on, got 'one.yaml' (a loop of symbolic links)"]
    assert _rejected(capsys, "validate", str(tmp_path / "one.yaml")) == [
        f"{tmp_path / 'one.yaml'}: expected a scenario file, got a loop of symbolic links"]


def test_a_long_chain_of_extends_is_refused(tmp_path, capsys):
    (tmp_path / "s0.yaml").write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    for i in range(1, 30):
        (tmp_path / f"s{i}.yaml").write_text(f"extends: s{i - 1}.yaml\n", encoding="utf-8")
    assert load_scenario(tmp_path / "s19.yaml").name == "s19"  # 20 files
    err = _rejected(capsys, "validate", str(tmp_path / "s29.yaml"))
    assert err == [f"{tmp_path / 's10.yaml'}:1: extends: expected a chain of at most 20 scenarios, got a longer one"]


def test_extends_of_a_foreign_file_does_not_echo_it(tmp_path, capsys):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\nadmin:s3cret-hash:1000\n", encoding="utf-8")
    derived = _derived(tmp_path, str(secret))
    err = _rejected(capsys, "validate", str(derived))
    assert err == [f"{derived}:1: extends: expected '{secret}' to hold a YAML mapping of scenario fields, got text, not a mapping"]
    assert "root:x" not in err[0] and "s3cret" not in err[0]
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    derived = _derived(tmp_path, "list.yaml", "derived2.yaml")
    assert _rejected(capsys, "validate", str(derived)) == [
        f"{derived}:1: extends: expected 'list.yaml' to hold a YAML mapping of scenario fields, got a list, not a mapping"]


def test_files_that_are_not_utf8_are_located(tmp_path, capsys):
    scenario = tmp_path / "latin.yaml"
    scenario.write_bytes(TINY.read_bytes().replace(b"seed: 1", b"seed: 1 # r\xe9sum\xe9"))
    assert _rejected(capsys, "validate", str(scenario)) == [
        f"{scenario}:5: scenario: expected UTF-8 text, got the byte 0xe9 (save the file as UTF-8)"]
    base = _derived(tmp_path, "latin.yaml")
    assert _rejected(capsys, "validate", str(base)) == [
        f"{scenario}:5: scenario: expected UTF-8 text, got the byte 0xe9 (save the file as UTF-8)"]
    sweep = tmp_path / "sweep.yaml"
    sweep.write_bytes(f"scenario: {TINY}\nparameters:\n  seed: [1, 2]\nmetrics: [licences_denied] # \xe9\n".encode("latin-1"))
    assert _rejected(capsys, "sweep", "--check", str(sweep)) == [
        f"{sweep}:4: sweep: expected UTF-8 text, got the byte 0xe9 (save the file as UTF-8)"]
    # a sweep over a scenario that is not UTF-8
    sweep.write_text(f"scenario: {scenario}\nparameters:\n  seed: [1, 2]\nmetrics: [licences_denied]\n", encoding="utf-8")
    assert _rejected(capsys, "sweep", "--check", str(sweep)) == [
        f"{scenario}:5: scenario: expected UTF-8 text, got the byte 0xe9 (save the file as UTF-8)"]


# ------------------------------------------------------------------ names from file names


def test_a_sweep_named_after_dots_is_refused_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "root" / "results"
    root.mkdir(parents=True)
    sweep = root / "...yaml"  # its stem is '..': results/.. would be outside the results root
    sweep.write_text(f"scenario: {TINY}\nreplications: 1\nparameters:\n  seed: [1]\nmetrics: [licences_denied]\n",
                     encoding="utf-8")
    expected = [f"{sweep}:1: name: expected a name of letters, digits, '_' and '-' that starts with a letter, "
                "got '..' (taken from the file name: add a `name:` field)"]
    assert _rejected(capsys, "sweep", "--check", str(sweep)) == expected
    assert _rejected(capsys, "validate", str(sweep)) == expected
    assert _rejected(capsys, "sweep", str(sweep), "--results", str(root), "--workers", "1", "--quiet") == expected
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["...yaml", "results", "root"]


def test_a_scenario_named_after_dots_is_refused(tmp_path, capsys):
    scenario = tmp_path / "...yaml"
    scenario.write_text(TINY.read_text(encoding="utf-8").replace("name: tiny\n", ""), encoding="utf-8")
    assert _rejected(capsys, "run", str(scenario), "--results", str(tmp_path / "r"), "--no-report") == [
        f"{scenario}:1: name: expected a name of letters, digits, '_' and '-' that starts with a letter, "
        "got '..' (taken from the file name: add a `name:` field)"]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("body", "expected"), [
    ("replications: 1000000000000\nparameters:\n  seed: [1, 2]\n",
     "{f}:2: replications: expected a number <= 1,000,000, got 1000000000000"),
    ("parameters:\n  facilities.de_ev.policy.target_days: {min: 1, max: 100, step: 1.0e-7}\n",
     "{f}:3: parameters.facilities.de_ev.policy.target_days: expected at most 1,000,000 values from min to max, "
     "got 9.9e+08 steps of 1e-07"),
    ("design: {type: latin_hypercube, points: 1000000000}\nparameters:\n  facilities.de_ev.policy.target_days: {min: 1, max: 9}\n",
     "{f}:2: design.points: expected a number <= 1,000,000, got 1000000000"),
    ("replications: 10\nparameters:\n  facilities.de_ev.policy.target_days: {min: 1, max: 100, steps: 1000}\n"
     "  facilities.cn_ev.policy.target_days: {min: 1, max: 100, steps: 1000}\n",
     "{f}:3: sweep: expected at most 1,000,000 runs (points x replications), got 10,000,000"),
])
def test_a_sweep_too_large_to_lay_out_is_refused_before_anything_runs(tmp_path, capsys, body, expected):
    sweep = tmp_path / "big.yaml"
    sweep.write_text(f"scenario: {TINY}\n{body}metrics: [licences_denied]\n", encoding="utf-8")
    assert _rejected(capsys, "sweep", "--check", str(sweep)) == [expected.format(f=sweep)]
    assert _rejected(capsys, "run", str(TINY), "--replications", "2000000", "--results", str(tmp_path / "r")) == [
        "--replications 2000000: expected a number of replications from 1 to 1,000,000, got 2000000"]
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ --set values and one-line messages


def test_an_alias_bomb_through_set_is_refused_in_one_line(capsys):
    levels = ["&a [x, x, x, x, x, x, x, x, x]"] + [
        f"&{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefg", "bcdefgh")]
    value = "[" + ", ".join(levels) + "]"
    for command in (("validate", str(TINY)), ("run", str(TINY), "--no-report", "--results", "/nonexistent/never")):
        err = _rejected(capsys, *command, "--set", f"description={value}")
        assert len(err) == 1 and err[0].startswith(f"--set description={value[:40]}")
        assert err[0].endswith("expected at most 250,000 values, got more (do aliases expand too much?)")


def test_deep_nesting_through_set_is_refused_in_one_line(capsys):
    err = _rejected(capsys, "validate", str(TINY), "--set", "description=" + "[" * 500 + "]" * 500)
    assert len(err) == 1 and err[0].startswith("--set description=[[[")
    assert err[0].endswith(": description: expected data nested at most 50 levels deep, got deeper nesting")
    assert len(err[0]) < 1100  # the override's 1000 characters are shortened


def test_keys_with_line_breaks_and_huge_names_stay_on_one_line(tmp_path, capsys):
    huge = "k" * 100_000
    text = TINY.read_text(encoding="utf-8").replace("seed: 1\n", f'seed: 1\n"bad\\nkey\\u2028": 3\n? {huge}\n: 4\n')
    text = text.replace("  cn_mine: {type: mine, country: CN, material: ore,",
                        f"  ? m{huge}\n  : {{type: mine, country: CN, material: o{huge},")
    path = tmp_path / "keys.yaml"
    path.write_text(text, encoding="utf-8")
    err = _rejected(capsys, "validate", str(path))
    assert len(err) >= 4
    for line in err:
        assert line.startswith(f"{path}:") and len(line) < 1100, line[:200]
    assert err[0].startswith(f"{path}:6: bad\\nkey\\u2028: unknown field 'bad\\nkey\\u2028' (expected one of: name,")
    assert err[1].startswith(f"{path}:7: kkkkk") and "unknown field 'kkkkk" in err[1]
    with pytest.raises(ScenarioError) as caught:
        load_scenario(TINY, overrides=["facilities.a\nb.type=mine"])
    assert all("\n" not in line for line in caught.value.lines)
    assert str(caught.value).count("\n") == len(caught.value.lines) - 1


# ------------------------------------------------------------------ reviews in working days


def test_working_day_reviews_far_beyond_the_run_match_numpy():
    """A review of many working days (a long tail draw) is computed by whole weeks, with no
    table growing with it, and equals numpy's business-day arithmetic."""
    from simulator.model import Model

    scenario = load_scenario(TINY, overrides=["warmup_days=10"])
    model = Model(scenario, seed=1)
    draws = iter([0.5, 3.0, 7.25, 999.0, 36_499.6, 1e6 + 0.3, 2.0])
    draw = model._working_days(lambda: next(draws))
    start = np.datetime64(scenario.start)
    model.env.run(until=12.5)  # day 2 of the horizon (after 10 days of warm-up)
    today = start + np.timedelta64(2, "D")
    for working in (0.5, 3.0, 7.25, 999.0, 36_499.6, 1e6 + 0.3, 2.0):
        whole = int(np.ceil(working))
        expected = int((np.busday_offset(today, whole, roll="forward") - today).astype(int)) - (whole - working)
        assert draw() == pytest.approx(expected, abs=1e-6), working
