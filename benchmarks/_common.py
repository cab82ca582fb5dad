"""Shared helpers for the benchmarks: the scenario under test, the kernel reference rate, scaling."""

from __future__ import annotations

import gc
import statistics
import time
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parents[1]
LICENSING = ROOT / "scenarios" / "licensing_2025.yaml"
TINY = ROOT / "tests" / "data" / "tiny.yaml"


def scenario_path() -> Path:
    """licensing_2025 if present, else the tiny test world (with a warning)."""
    if LICENSING.exists():
        return LICENSING
    print(f"NOTE: {LICENSING} not found; using {TINY}")
    return TINY


def load(path: Path | None = None, **overrides):
    from simulator import load_scenario

    return load_scenario(path or scenario_path(), overrides=overrides)


def kernel_loop(n_proc: int = 100, until: float = 10_000.0, clock=time.perf_counter) -> tuple[int, float]:
    """A bare SimPy kernel: ``n_proc`` processes looping on ``timeout(1)``. Returns (events,
    seconds by ``clock``: wall time by default, ``time.process_time`` for this process's CPU time)."""
    env = simpy.Environment()

    def loop():
        timeout = env.timeout
        while True:
            yield timeout(1.0)

    for _ in range(n_proc):
        env.process(loop())
    gc.collect()
    t0 = clock()
    env.run(until=until)
    return next(env._eid), clock() - t0  # noqa: SLF001 - SimPy's event counter


def store_loop(n_pairs: int = 50, until: float = 10_000.0) -> tuple[int, float]:
    """``n_pairs`` producer/consumer pairs on a plain ``simpy.Store``."""
    env = simpy.Environment()

    def producer(store):
        while True:
            yield store.put(1)
            yield env.timeout(1.0)

    def consumer(store):
        while True:
            yield store.get()

    for _ in range(n_pairs):
        store = simpy.Store(env)
        env.process(producer(store))
        env.process(consumer(store))
    gc.collect()
    t0 = time.perf_counter()
    env.run(until=until)
    return next(env._eid), time.perf_counter() - t0  # noqa: SLF001


def callback_loop(work: bool, n_timers: int = 100, until: float = 10_000.0) -> tuple[int, float]:
    """``n_timers`` periodic activities on resim's own timer (``simulator.components.repeat``), each
    firing every day: doing nothing (``work=False``) or the least a model event can do (``work=True``:
    take one tonne from a stock and append one 4-value record row, as a sector's day does). The
    ceiling of kernel efficiency for a model whose events do anything at all."""
    from array import array
    import struct

    from simulator.components import repeat

    env = simpy.Environment()
    stock = {"magnet": 1e12}
    rows = array("d")
    write, pack = rows.frombytes, struct.Struct("=4d").pack

    def make(code: float):
        if not work:
            return lambda: 1.0

        def tick() -> float:
            stock["magnet"] -= 1.0
            write(pack(code, env.now, 1.0, 1.0))
            return 1.0
        return tick

    for i in range(n_timers):
        repeat(env, make(float(i)))
    gc.collect()
    t0 = time.perf_counter()
    env.run(until=until)
    return next(env._eid), time.perf_counter() - t0  # noqa: SLF001


def kernel_rate(repeats: int = 5) -> float:
    """Median events per second of :func:`kernel_loop`."""
    return statistics.median(e / s for e, s in (kernel_loop() for _ in range(repeats)))


def scaled(scenario, factor: int):
    """The scenario's world copied ``factor`` times: every facility and lane again with a ``__k``
    suffix. Controls keep their scope (by country and material) and so cover the copies; their
    licensing reviewers and quota tonnes are multiplied by ``factor`` so that each copy sees the
    same congestion as the original. Timeline events aimed at a facility are copied too."""
    from simulator.scenario import Scenario

    if factor == 1:
        return scenario
    data = scenario.model_dump(mode="json", by_alias=True, exclude_unset=True)
    facilities, lanes, timeline = dict(data["facilities"]), list(data["lanes"]), list(data.get("timeline", []))
    for k in range(1, factor):
        for name, spec in data["facilities"].items():
            facilities[f"{name}__{k}"] = spec
        for lane in data["lanes"]:
            lanes.append({**lane, "supplier": f"{lane['supplier']}__{k}", "buyer": f"{lane['buyer']}__{k}"})
        for event in data.get("timeline", []):
            if event.get("facility"):
                timeline.append({**event, "facility": f"{event['facility']}__{k}"})
            elif event.get("action") == "set" and str(event.get("path", "")).startswith("facilities."):
                _, name, field = event["path"].split(".")
                timeline.append({**event, "path": f"facilities.{name}__{k}.{field}"})
    controls = {}
    for name, spec in data.get("controls", {}).items():
        spec = dict(spec)
        if "reviewers" in spec:
            spec["reviewers"] = spec["reviewers"] * factor
        if "tonnes_per_period" in spec:
            spec["tonnes_per_period"] = spec["tonnes_per_period"] * factor
        controls[name] = spec
    for i, event in enumerate(timeline):  # eases that set reviewers / quota scale too
        changes = event.get("set")
        if isinstance(changes, dict):
            changes = dict(changes)
            if "reviewers" in changes:
                changes["reviewers"] = changes["reviewers"] * factor
            if "tonnes_per_period" in changes:
                changes["tonnes_per_period"] = changes["tonnes_per_period"] * factor
            timeline[i] = {**event, "set": changes}
    data.update(facilities=facilities, lanes=lanes, timeline=timeline, controls=controls,
                name=f"{data['name']}_x{factor}")
    return Scenario.model_validate(data)


def facility_days(scenario) -> float:
    return len(scenario.facilities) * (scenario.warmup_days + scenario.horizon_days)
