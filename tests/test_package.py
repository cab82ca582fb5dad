"""The package as a user installs it: a wheel that carries the bundled scenarios and sweeps and
runs them by name from any folder, and a command line that answers --version and list without
loading pandas, matplotlib or scipy."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "matplotlib", "scipy")


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **extra}


def _ok(cmd: list, cwd: Path, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300, **kw)
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done


@pytest.mark.package
def test_the_wheel_carries_the_bundled_files_and_runs_them_from_any_folder(tmp_path):
    """Build the wheel from a copy of the sources (no network: --no-build-isolation), install it
    with --no-deps into a fresh virtual environment outside the checkout that sees this
    interpreter's packages (the dependencies), and run it from an empty folder: `resim list`
    names every bundled scenario, `resim run licensing_2025` (horizon 350 days, so that its last
    timeline event, 15 December, is in it) writes its tables, and a bundled sweep validates."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("simulator", "scenarios", "sweeps"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _ok([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", src],
        tmp_path, env=_env())
    wheel = next((tmp_path / "dist").glob("resim-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    scenarios = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
    sweeps = sorted(p.name for p in (ROOT / "sweeps").glob("*.yaml"))
    assert {f"simulator/bundled/scenarios/{n}" for n in scenarios + ["FACTS.md"]} <= names
    assert {f"simulator/bundled/sweeps/{n}" for n in sweeps} <= names
    # every package of the source tree is listed in pyproject.toml's packages, so none is left out
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "simulator").rglob("__init__.py")}
    assert {f"{package}/__init__.py" for package in packages} <= names
    assert any(n.endswith(".dist-info/LICENSE") or n.endswith("/licenses/LICENSE") for n in names)

    venv = tmp_path / "venv"
    _ok([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], tmp_path, env=_env())
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    purelib = _ok([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env=_env()).stdout.strip()
    # The dependencies: this interpreter's site-packages, after the venv's own (the wheel wins).
    deps = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if Path(p).is_dir()]
    (Path(purelib) / "resim_test_deps.pth").write_text("\n".join(deps) + "\n")
    _ok([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel], tmp_path, env=_env())

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _ok([python, "-c", "import simulator; print(simulator.__file__)"], work, env=_env()).stdout
    assert Path(where.strip()).is_relative_to(venv)
    resim = bindir / "resim"
    assert _ok([resim, "--version"], work, env=_env()).stdout.strip() == "resim 0.1.0"
    listed = [line.split()[0] for line in _ok([resim, "list"], work, env=_env()).stdout.splitlines()]
    assert listed == [Path(n).stem for n in scenarios]
    checked = _ok([resim, "validate", "inventory_vs_approval", "licensing_2025"], work, env=_env()).stdout.splitlines()
    # each file's verdict, then what its relative timeline changes come to (indented)
    assert [line for line in checked if not line.startswith(" ")] == ["inventory_vs_approval: ok", "licensing_2025: ok"]
    folder = _ok([resim, "run", "licensing_2025", "--set", "horizon_days=350", "--no-report", "--quiet", "--out", "out"],
                 work, env=_env()).stdout.strip()
    assert folder == "out"
    assert (work / "out" / "shortages.csv").read_text().startswith("facility,")
    assert sorted(p.name for p in work.iterdir()) == ["out"]


def _imported(*args: str) -> set[str]:
    """Top-level modules imported by ``python -X importtime -m simulator <args>``."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "simulator", *args], cwd=ROOT, capture_output=True,
                          text=True, env=_env(PYTHONPATH=str(ROOT)), timeout=60)
    assert done.returncode == 0, done.stderr
    names = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {name.split(".")[0] for name in names}


def test_version_and_list_do_not_import_pandas_matplotlib_or_scipy():
    """`resim --version` and `resim list` import neither pandas, matplotlib nor scipy (nor the
    loader's pydantic); `resim validate` does import the loader, showing that the check sees it."""
    for args in (["--version"], ["list"], ["list", "--sweeps"]):
        imported = _imported(*args)
        assert "simulator" in imported
        assert not imported & {*HEAVY, "pydantic", "simpy"}, (args, imported & {*HEAVY, "pydantic", "simpy"})
    assert "pydantic" in _imported("validate", "tests/data/tiny.yaml")


def test_list_names_bundled_scenarios_and_sweeps(capsys):
    """`resim list --sweeps` names the bundled sweep files, with their descriptions."""
    from simulator.cli import main

    assert main(["list", "--sweeps"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
    assert all(len(line.split(None, 1)) == 2 for line in lines)


def test_bundled_names_resolve_and_files_in_the_folder_come_first(tmp_path, monkeypatch):
    """A bare name is the bundled file unless a file of that name is in the current folder."""
    from simulator import catalog

    monkeypatch.chdir(tmp_path)
    assert catalog.scenario_path("licensing_2025") == catalog.scenarios_dir() / "licensing_2025.yaml"
    assert catalog.scenario_path("licensing_2025.yaml") == catalog.scenarios_dir() / "licensing_2025.yaml"
    assert catalog.sweep_path("sobol_2025") == catalog.sweeps_dir() / "sobol_2025.yaml"
    (tmp_path / "licensing_2025.yaml").write_text("name: mine\n")
    assert catalog.scenario_path("licensing_2025.yaml") == Path("licensing_2025.yaml")
    assert catalog.scenario_path("nowhere") == Path("nowhere")
    assert catalog.scenario_path("sub/licensing_2025") == Path("sub/licensing_2025")


def test_the_startup_benchmark_runs():
    """benchmarks/cli_startup.py (the figures in benchmarks/README.md) still runs: one repeat."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cli_startup.py"), "--repeats", "1"], cwd=ROOT,
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "resim --version" in done.stdout and "resim list" in done.stdout and "import pandas" in done.stdout


def test_bundled_names_work_in_every_command(tmp_path, monkeypatch, capsys):
    """From an empty folder: validate a bundled scenario and a bundled sweep by name, check a
    bundled sweep by name; an unknown name is a one-line input error (exit 2)."""
    from simulator.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["validate", "licensing_2025", "sobol_2025"]) == 0
    verdicts = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")]
    assert verdicts == ["licensing_2025: ok", "sobol_2025: ok"]  # (indented lines: its relative changes)
    assert main(["sweep", "inventory_vs_approval", "--check"]) == 0
    assert capsys.readouterr().out.startswith("inventory_vs_approval: ok: grid design, 16 points x 10 replications")
    assert main(["run", "no_such_name"]) == 2
    assert capsys.readouterr().err == "no_such_name: no such scenario file\n"
    assert list(tmp_path.iterdir()) == []
