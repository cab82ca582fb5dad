"""resim: a discrete-event simulator of rare-earth supply under export controls.

    from simulator import load_scenario, run
    result = run(load_scenario("scenarios/licensing_2025.yaml"), seed=1)
    result.shortages   # one row per demand facility

Components for your own SimPy models are in :mod:`simulator.components`.
"""

from .loading import ScenarioError, load_scenario, parse_scenario, scenario_hash
from .model import MassBalanceError, Model
from .runner import RunResult, run
from .sweep import sweep
from .scenario import Scenario

__all__ = ["load_scenario", "parse_scenario", "run", "Model", "RunResult", "Scenario", "ScenarioError",
           "MassBalanceError", "scenario_hash", "sweep"]
