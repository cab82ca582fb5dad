"""The benchmark scripts still run (on the tiny world, briefly): they are not timed here, only kept
working, since the figures in benchmarks/README.md come from them."""

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def bench(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kernel_benchmark_prints_its_figures():
    out = bench("kernel.py", "--repeats", "1", "--scenario", str(TINY), "--kernel-days", "200")
    assert "bare SimPy kernel" in out and "ceiling, resim timers" in out
    # tiny.yaml, seed 1: 883 since daily plants work in the end-of-day round (1003 before; 1124
    # before every sector's day was one event for all sectors)
    assert "events scheduled by the run: 883" in out
    assert "efficiency >= 0.6:" in out and "model work per event" in out


def test_profile_by_event_accounts_for_every_event():
    out = bench("profile_run.py", "--by-event", "--scenario", str(TINY))
    lines = [line.split() for line in out.splitlines()[2:] if line.strip()]
    total_events = int(out.splitlines()[0].split(", ")[-1].split()[0])
    assert sum(int(parts[0]) for parts in lines) == total_events
    assert any("Sector.produce" in line for line in out.splitlines())


def test_supplynetpy_chain_agrees_exactly_with_random_parts_off():
    pytest.importorskip("SupplyNetPy", reason="SupplyNetPy is installed with the [bench] extra only")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import vs_supplynetpy as chain
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    with warnings.catch_warnings():  # SupplyNetPy warns about capacities this chain never reaches
        warnings.simplefilter("ignore", UserWarning)
        a, b = chain.run_resim(None), chain.run_snp(None)
    assert (a["fill_rate"], a["lead_time"], a["orders"]) == (b["fill_rate"], b["lead_time"], b["orders"])


def test_replication_cost_prints_the_stages_in_kernel_units():
    out = bench("replication_cost.py", "--repeats", "1", "--replications", "1", "--scenario", str(TINY))
    assert "cost per replication:" in out and "kernel units" in out
    stages = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0] in
              ("build", "engine", "books", "tables", "headline", "total")]
    assert stages == ["build", "engine", "books", "tables", "headline", "total"]


def test_paired_headline_compares_two_collections(tmp_path):
    """The same engine twice over the same seeds: every paired difference is exactly 0."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for out in (a, b):
        bench("paired_headline.py", "collect", str(out), "--scenario", str(TINY), "--seeds", "2")
    text = bench("paired_headline.py", "compare", str(a), str(b), "--metrics", "share_lost.*")
    rows = [line.split() for line in text.splitlines()[2:] if line.strip()]
    assert rows and all(float(r[3]) == 0.0 and r[-1] != "*" for r in rows)


def test_versus_commit_compares_two_source_trees():
    """Run against this checkout itself (``--tree``: no git worktree), one round of one
    replication each: both sides measured, a ratio printed."""
    out = bench("versus_commit.py", "--tree", str(ROOT), "--rounds", "1", "--replications", "1")
    assert out.count("kernel units (median") == 2 and "ratio (this checkout / commit" in out
