"""Production quotas (``output_cap_t_per_year`` of a mine or plant): the year's allowance is
spread over what is left of the calendar year, a mid-year change keeps what was made since
1 January, and a new year starts afresh. Worked out by hand on a mine and a plant that could
make 100 t a day; and quota_2010, the scenario that uses it, run over its full 2009-2013 horizon.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import simpy
import yaml

from simulator import load_scenario, parse_scenario, run
from simulator.components import Mine, Plant
from test_core_rules import world

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_a_mine_makes_its_cap_in_equal_batches_and_starts_afresh_each_year():
    """Capacity 36,500 t/yr (100 t a day), batch 1 day, cap 3,650 t/yr, years of 365 days from
    time 0. The mine's first batch is at t=1 (nothing at the start), so year 0 has the 364
    batches t=1..364: at t the allowance is remaining / (365 - t), the same 3,650 / 364 each
    time, and the last (t=364, one day left) takes the rest: 3,650 t by the year's end. Year 1
    (t=365..) starts afresh: 3,650 / 365 = 10 t a batch, so 35 batches by t=399 add 350 t."""
    env = simpy.Environment()
    mine = Mine(env, "m", "CN", "ore", 36500.0, batch_days=1.0)
    mine.output_cap_t_per_year = 3650.0
    env.run(until=2)
    assert mine.made_t["ore"] == pytest.approx(3650.0 / 364.0, rel=1e-12)
    env.run(until=365)   # events at t < 365
    assert mine.made_t["ore"] == pytest.approx(3650.0, rel=1e-12)
    env.run(until=400)
    assert mine.made_t["ore"] == pytest.approx(3650.0 + 35 * 10.0, rel=1e-12)


def test_a_cap_first_set_mid_year_counts_the_year_gone_and_none_removes_it():
    """Set at t=182.5 (half of the 365-day year gone): as if 1,825 t were made; the other 1,825 t
    are spread over the batches t=183..364 (182 batches, 1,825 / 182.5 x 1 day each, the last
    taking what is left), so the year ends at 1,825 t. Removing the cap at t=365.5 restores
    100 t a day: batches t=366..370 make 500 t more."""
    env = simpy.Environment()
    mine = Mine(env, "m", "CN", "ore", 36500.0, batch_days=1.0)
    env.run(until=182.5)
    before = mine.made_t["ore"]
    assert before == pytest.approx(182 * 100.0)
    mine.output_cap_t_per_year = 3650.0
    env.run(until=365)
    assert mine.made_t["ore"] - before == pytest.approx(1825.0, rel=1e-12)
    env.run(until=365.5)
    mine.output_cap_t_per_year = None
    made = mine.made_t["ore"]
    env.run(until=370.5)
    assert mine.made_t["ore"] - made == pytest.approx(500.0, rel=1e-12)


def test_a_plant_starts_at_most_its_cap_and_reports_the_capped_room_as_desired():
    """A plant of 36,500 t/yr with ample input (1 t of y per t of x) and a finished-stock target
    it never reaches: capped at 730 t/yr, its daily batches t=0..364 (365 of them, the first at
    the start) start 2 t each, and each batch's `desired` is the capped room, so the plant is
    never reported short. Uncapped, it would start 100 t a day."""
    env = simpy.Environment()
    plant = Plant(env, "p", "CN", "x", {"y": 1.0}, 36500.0, output_stock_days=3650.0,
                  initial_stock_t={"y": 1.0e6, "x": 0.0})
    plant.output_cap_t_per_year = 730.0
    env.run(until=365)
    assert plant.made_t["x"] == pytest.approx(730.0, rel=1e-12)
    batches = plant.ledger.records.batches.to_frame()
    assert batches["produced_t"].to_numpy() == pytest.approx([2.0] * 365, rel=1e-12)
    assert (batches["desired_t"] == batches["produced_t"]).all()


def test_the_timeline_changes_a_mine_quota_mid_year_and_the_calendar_is_real():
    """world(): start 2025-01-01, no warm-up, so day d is time d; the mine (100 t a day) is capped
    at 3,650 t/yr. On 1 July (t=181) the timeline raises the cap to 7,300 t/yr: 2025's batches
    t=1..364 (364 of them) make 7,300 t in all, whatever was made before the change; 2026's first
    batches (t=365..399, the horizon ends at 400) make 7,300 / 365 = 20 t each: 700 t."""
    data = world(warmup_days=0, horizon_days=400,
                 timeline=[{"date": "2025-07-01", "action": "set", "path": "facilities.cn_mine.output_cap_t_per_year",
                            "value": 7300}])
    data["facilities"]["cn_mine"]["output_cap_t_per_year"] = 3650
    r = run(parse_scenario(yaml.safe_dump(data, sort_keys=False), "cap.yaml", {}), seed=1, keep_model=True)
    assert r.model.facilities["cn_mine"].made_t["mag"] == pytest.approx(7300.0 + 700.0, rel=1e-12)
    assert r.manifest["mass_balance"]["residual_t"] == pytest.approx(0.0, abs=1e-6)


def test_quota_2010_runs_2009_to_2013_with_markets_and_closes_its_mass_balance():
    """The rebuilt quota_2010 over its whole horizon (a run takes well under a second): prices
    for both markets in every month of 2009-2013, each response present, China's quota mines
    never above the mining quota in force (82,000 t assumed for 2009, C39 89,200 t from 15 March
    2010, C40 93,800 t from 31 March 2011), and the mass balance closes."""
    scenario = load_scenario(SCENARIOS / "quota_2010.yaml")
    r = run(scenario, seed=1, keep_model=True)
    assert scenario.markets is not None and str(scenario.start) == "2009-01-01" and str(scenario.end) == "2014-01-01"
    prices = r.tables["prices_monthly"]
    assert prices.month.min() == "2009-01" and prices.month.max() == "2013-12"
    assert set(prices.groupby("market").size()) == {60}
    kinds = set(r.tables["market_responses"].kind)
    assert {"bom_intensity", "units_per_year", "hoarded_extra_days", "capacity_added_t_per_year"} <= kinds
    assert r.manifest["mass_balance"]["residual_t"] == pytest.approx(0.0, abs=1e-3)
    cap = r.model.facilities["cn_mine"].output_cap
    assert cap.t_per_year == 93800 and cap.made_t <= 93800 + 1e-6
    assert "bom_kg_per_unit" not in {e.path.split(".")[-1] for e in scenario.timeline if hasattr(e, "path")}
