"""How fast the command line answers: `resim --version`, `resim list`, and for scale a bare
Python start and the loader's and pandas' imports. Each command runs in a fresh subprocess;
the figure is the median wall time of the repeats.

    python benchmarks/cli_startup.py [--repeats 11]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "python -c pass (interpreter start)": ["-c", "pass"],
    "resim --version": ["-m", "simulator", "--version"],
    "resim list": ["-m", "simulator", "list"],
    "import simulator.loading (pydantic, numpy)": ["-c", "import simulator.loading"],
    "import pandas": ["-c", "import pandas"],
    "resim validate scenarios/licensing_2025.yaml": ["-m", "simulator", "validate", "scenarios/licensing_2025.yaml"],
}


def wall(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # alternate the commands, so a busy moment spreads over all of them
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd, env))
    print(f"median of {args.repeats} runs, each in a new process (seconds)")
    for name, values in times.items():
        print(f"  {name:<48} {statistics.median(values):6.3f}   (min {min(values):.3f}, max {max(values):.3f})")


if __name__ == "__main__":
    main()
