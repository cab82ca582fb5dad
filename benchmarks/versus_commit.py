"""Benchmark: the cost of a headline-only licensing_2025 replication here against another commit.

Issue 11's speed limit compares this checkout with the engine before firms and real licence
applications (commit 2eeb8ac, with its own licensing_2025): a replication may cost at most 1.5x
as much. Each version runs in its own subprocess (``PYTHONPATH`` on its source tree, its own
``scenarios/licensing_2025.yaml``), and each subprocess measures, in CPU time of that process,
1M bare SimPy kernel events (the kernel-unit reference, the same loop code in both) and
``--replications`` headline-only replications (seeds 1..N, after one warm-up run). The two
alternate for ``--rounds`` rounds, so load from other jobs falls on both alike; the ratio of the
medians is the figure.

The other commit is checked out into a temporary git worktree (removed afterwards) unless
``--tree`` names a source tree already checked out.

Run:
  python benchmarks/versus_commit.py [--rev 2eeb8ac] [--rounds 3] [--replications 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in the child, against whichever source tree is on PYTHONPATH: only APIs both versions have.
CHILD = r"""
import gc, json, sys, time
import simpy
from simulator import load_scenario
from simulator.runner import run

def kernel_units_per_second():
    env = simpy.Environment()
    def loop():
        timeout = env.timeout
        while True:
            yield timeout(1.0)
    for _ in range(100):
        env.process(loop())
    gc.collect()
    t0 = time.process_time()
    env.run(until=10_000.0)
    return (time.process_time() - t0) * 1e6 / next(env._eid)  # CPU seconds per 1M events

scenario, replications = load_scenario(sys.argv[1]), int(sys.argv[2])
run(scenario, seed=1, headline_only=True)  # warm imports and caches
kernel = kernel_units_per_second()
gc.collect()
t0 = time.process_time()
for seed in range(1, replications + 1):
    result = run(scenario, seed=seed, headline_only=True)
per_replication = (time.process_time() - t0) / replications
print(json.dumps({"units": per_replication / kernel, "seconds": per_replication, "kernel_s": kernel,
                  "events": result.manifest.get("simpy_events")}))
"""


def measure(tree: Path, replications: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    scenario = tree / "scenarios" / "licensing_2025.yaml"
    out = subprocess.run([sys.executable, "-c", CHILD, str(scenario), str(replications)], env=env, cwd=tree,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="2eeb8ac", help="the commit to compare with (default: 2eeb8ac)")
    parser.add_argument("--tree", type=Path, help="a checked-out source tree of that version (default: a temporary worktree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replications", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        other = args.tree
        if other is None:
            other = Path(tmp) / "other"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(other), args.rev], check=True)
        try:
            rows: dict[str, list[dict]] = {"other": [], "here": []}
            for _ in range(args.rounds):
                rows["other"].append(measure(other, args.replications))
                rows["here"].append(measure(ROOT, args.replications))
        finally:
            if args.tree is None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=False)
    print(f"licensing_2025, headline-only; {args.rounds} rounds x {args.replications} replications, alternating")
    medians = {}
    for name, label in (("other", f"commit {args.rev}"), ("here", "this checkout")):
        units = [r["units"] for r in rows[name]]
        medians[name] = statistics.median(units)
        print(f"{label:18s} {medians[name]:.4f} kernel units (median; min {min(units):.4f}); "
              f"{statistics.median(r['seconds'] for r in rows[name]):.3f} s CPU; {rows[name][-1]['events']:,} events")
    print(f"ratio (this checkout / commit {args.rev}): {medians['here'] / medians['other']:.2f}x")


if __name__ == "__main__":
    main()
