"""resim: a discrete-event simulator of rare-earth supply under export controls.

    from simulator import load_scenario, run
    result = run("licensing_2025", seed=1)        # a bundled name, a file, or a Scenario
    result.shortages   # one row per demand facility

Components for your own SimPy models are in :mod:`simulator.components`. The names below are
imported on first use, so ``resim --version`` and ``resim list`` do not load pandas or SimPy.
``simulator.sweep`` is the subpackage (calling it still runs :func:`run_sweep`, as it did when
the name was the function).
"""

from __future__ import annotations

import importlib

# name -> the module that defines it
_EXPORTS = {
    "load_scenario": "loading", "parse_scenario": "loading", "scenario_hash": "loading", "ScenarioError": "loading",
    "Model": "model", "MassBalanceError": "model",
    "RunResult": "runner", "run": "runner",
    "Scenario": "scenario",
    "run_sweep": "sweep", "replicate": "sweep",
}

__all__ = ["load_scenario", "parse_scenario", "run", "Model", "RunResult", "Scenario", "ScenarioError",
           "MassBalanceError", "scenario_hash", "sweep", "run_sweep", "replicate"]


def __getattr__(name: str):
    if name == "sweep":  # the subpackage (importing it sets the attribute for good)
        return importlib.import_module(".sweep", __name__)
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, "sweep" if name == "run_sweep" else name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
