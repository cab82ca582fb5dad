"""Components on their own: tiny hand-built SimPy models and exact assertions on what happened when."""

import itertools
import math

import numpy as np
import pytest
import simpy

from simulator.components import (
    Application,
    BanControl,
    Facility,
    Depot,
    FixedQuantity,
    JustInTime,
    Lane,
    Ledger,
    LicensingControl,
    LicensingOffice,
    MinMax,
    Mine,
    OrderUpTo,
    Plant,
    QuotaControl,
    Sector,
    Stockpile,
    repeat,
)
from simulator.records import Table


def cycle(values):
    """A deterministic 'random' source for decisions: returns the values in turn."""
    it = itertools.cycle(values)
    return lambda: next(it)


# --------------------------------------------------------------------------- licensing office


def test_office_serves_fcfs_with_one_reviewer():
    env = simpy.Environment()
    log = []
    office = LicensingOffice(env, reviewers=1, review_days=lambda: 10.0, approval_probability=1.0, uniform=lambda: 0.5)

    def applicant(name, at):
        yield env.timeout(at)
        office.apply(Application("DE", lambda: log.append((name, "approved", env.now)), lambda o: log.append((name, o, env.now))))

    for name, at in [("a", 0), ("b", 0), ("c", 5)]:
        env.process(applicant(name, at))
    env.run()
    assert log == [("a", "approved", 10.0), ("b", "approved", 20.0), ("c", "approved", 30.0)]


def test_office_reviews_in_parallel_and_decides_by_destination():
    env = simpy.Environment()
    log = []
    office = LicensingOffice(env, reviewers=2, review_days=lambda: 4.0, approval_probability=0.9,
                             uniform=cycle([0.5]), approval_by_destination={"US": 0.1})
    for dest in ["US", "DE", "JP"]:
        office.apply(Application(dest, lambda d=dest: log.append((d, "approved", env.now)), lambda o, d=dest: log.append((d, o, env.now))))
    assert office.busy == 2 and len(office.queue) == 1
    env.run()
    assert log == [("US", "denied", 4.0), ("DE", "approved", 4.0), ("JP", "approved", 8.0)]


def test_release_approves_oldest_fraction_at_once_and_frees_reviewers():
    env = simpy.Environment()
    log = []
    office = LicensingOffice(env, reviewers=1, review_days=lambda: 10.0, approval_probability=0.0, uniform=lambda: 0.5)
    for name in "abcd":
        office.apply(Application("DE", lambda n=name: log.append((n, "approved", env.now)), lambda o, n=name: log.append((n, o, env.now))))

    def release():
        yield env.timeout(3)
        assert office.release(0.5) == 2  # a (in review) and b (queued)

    env.process(release())
    env.run()
    # a and b released at t=3 (approve callback); c starts review at 3, denied at 13; d at 23.
    assert log == [("a", "approved", 3.0), ("b", "approved", 3.0), ("c", "denied", 13.0), ("d", "denied", 23.0)]


def erlang_c_wait(c: int, arrival_rate: float, service_rate: float) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C)."""
    a = arrival_rate / service_rate
    top = a**c / math.factorial(c) * c / (c - a)
    prob_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return prob_wait / (c * service_rate - arrival_rate)


def test_office_mean_wait_matches_erlang_c():
    c, lam, mean_review = 3, 1.0, 2.4  # utilisation 0.8
    env = simpy.Environment()
    rng = np.random.default_rng(2024)
    gaps = iter(rng.exponential(1 / lam, 400_000).tolist())
    reviews = iter(rng.exponential(mean_review, 400_000).tolist())
    office = LicensingOffice(env, reviewers=c, review_days=lambda: next(reviews), approval_probability=1.0, uniform=lambda: 0.0)
    waits = []

    def arrivals():
        while True:
            yield env.timeout(next(gaps))
            app = Application("DE", lambda: None, lambda o: None)
            office.apply(app)
            waits.append(app)

    env.process(arrivals())
    env.run(until=150_000)
    observed = np.array([a.t_review_start - a.t_applied for a in waits[5000:] if not math.isnan(a.t_review_start)])
    expected = erlang_c_wait(c, lam, 1 / mean_review)
    assert abs(observed.mean() / expected - 1) < 0.05, (observed.mean(), expected)


# --------------------------------------------------------------------------- facilities and lanes


def network(env, supplier_stock=100.0, transit=5.0, use_per_day=1.0, target_days=10.0, review_days=1.0, controls=(), buyer_country="DE"):
    """supplier (CN, fixed stock) --lane--> sector (buyer_country) using 1 t a day."""
    ledger = Ledger()
    supplier = Facility(env, "sup", "CN", ledger)
    supplier.add_initial_stock("mag", supplier_stock)
    sector = Sector(env, "line", buyer_country, units_per_year=365.0 * use_per_day, bom_kg_per_unit={"mag": 1000.0},
                    policy=OrderUpTo(review_days=review_days, target_days=target_days), ledger=ledger)
    lane = Lane(env, supplier, sector, "mag", {"sea": transit}, controls=list(controls))
    return ledger, supplier, sector, lane


def test_sector_first_stop_is_stock_over_use():
    env = simpy.Environment()
    ledger, _sup, sector, _lane = network(env, supplier_stock=0.0, target_days=12.5)
    env.run(until=30)
    produced = ledger.records.production.column("produced_units")
    # 12.5 t at 1 t/day: days 0..11 full, day 12 half, then nothing.
    assert produced[:12].tolist() == [1.0] * 12
    assert produced[12] == pytest.approx(0.5)
    assert produced[13:].tolist() == [0.0] * 17


def test_deterministic_chain_lead_time_is_sum_of_stages():
    env = simpy.Environment()
    office = LicensingOffice(env, reviewers=50, review_days=lambda: 7.0, approval_probability=1.0, uniform=lambda: 0.5)
    control = LicensingControl(env, "lic", "CN", {"mag"}, office, in_force=True)
    ledger, _sup, sector, _lane = network(env, supplier_stock=1e6, transit=5.0, target_days=30, controls=[control])
    env.run(until=100)
    frame = ledger.records.shipments.to_frame()
    delivered = frame[frame["outcome"] == "delivered"]
    assert len(delivered) > 50
    assert ((delivered["t_delivered"] - delivered["t_ordered"]) == 12.0).all()
    assert ((delivered["t_cleared"] - delivered["t_filled"]) == 7.0).all()
    assert sector.backlog_units == 0
    assert ledger.records.production.column("produced_units").min() == 1.0


def test_supplier_fills_fcfs_and_partially_when_short():
    env = simpy.Environment()
    ledger = Ledger()
    sup = Facility(env, "sup", "CN", ledger)
    sup.add_initial_stock("mag", 5.0)
    a = Sector(env, "a", "CN", 0.0, {"mag": 1.0}, ledger=ledger)
    b = Sector(env, "b", "CN", 0.0, {"mag": 1.0}, ledger=ledger)
    Lane(env, sup, a, "mag", {"road": 1.0})
    Lane(env, sup, b, "mag", {"road": 1.0})
    a.inputs["mag"].order(3.0)
    b.inputs["mag"].order(4.0)
    assert sup.stock["mag"] == 0.0 and sup.backlog_t("mag") == 2.0

    def restock():
        yield env.timeout(10)
        sup.take_back("mag", 6.0)

    env.process(restock())
    env.run(until=20)
    rows = ledger.records.shipments.to_frame().sort_values("shipment_id")
    assert rows[["buyer", "tonnes", "t_filled", "t_delivered"]].astype({"buyer": str}).values.tolist() == [
        ["a", 3.0, 0.0, 1.0], ["b", 2.0, 0.0, 1.0], ["b", 2.0, 10.0, 11.0]]
    assert a.stock["mag"] == 3.0 and b.stock["mag"] == 4.0 and sup.stock["mag"] == 4.0
    assert a.inputs["mag"].on_order_t == 0.0 and b.inputs["mag"].on_order_t == 0.0


def test_quota_splits_and_waits_for_next_period():
    env = simpy.Environment()
    quota = QuotaControl(env, "q", "CN", {"mag"}, tonnes_per_period=10.0, period_end=lambda t: (math.floor(t / 30) + 1) * 30.0, in_force=True)
    ledger, sup, sector, lane = network(env, supplier_stock=100.0, transit=1.0, use_per_day=0.0, controls=[quota])
    sector.inputs["mag"].order(6.0)
    sector.inputs["mag"].order(6.0)
    sector.inputs["mag"].order(15.0)
    env.run(until=100)
    rows = ledger.records.shipments.to_frame().sort_values(["t_cleared", "shipment_id"])
    assert rows[["tonnes", "t_cleared"]].values.tolist() == [[6.0, 0.0], [4.0, 0.0], [2.0, 30.0], [8.0, 30.0], [7.0, 60.0]]
    assert sector.stock["mag"] == 27.0


def test_ban_holds_until_lifted_and_refusal_resources_to_next_lane():
    env = simpy.Environment()
    ban = BanControl(env, "ban", "CN", {"mag"}, in_force=True)
    ledger, sup, sector, lane = network(env, supplier_stock=100.0, transit=2.0, use_per_day=0.0, controls=[ban])
    sector.inputs["mag"].order(5.0)
    env.run(until=10)
    assert ledger.in_flight_t()[0]["mag"] == 5.0 and sector.stock["mag"] == 0.0
    ban.lift()
    env.run(until=20)
    assert sector.stock["mag"] == 5.0  # left at 10, arrived at 12
    assert ledger.records.shipments.to_frame()["t_delivered"].tolist() == [12.0]

    # Refusal: goods return to the supplier, the buyer avoids the lane and re-sources at once.
    env = simpy.Environment()
    ban = BanControl(env, "ban", "CN", {"mag"}, on_block="refuse", in_force=True)
    ledger, sup, sector, lane = network(env, supplier_stock=100.0, transit=2.0, use_per_day=0.0, controls=[ban])
    other = Facility(env, "other", "AU", ledger)
    other.add_initial_stock("mag", 50.0)
    Lane(env, other, sector, "mag", {"sea": 20.0}, priority=2)
    sector.inputs["mag"].order(5.0)
    env.run(until=30)
    rows = ledger.records.shipments.to_frame().sort_values("shipment_id")
    assert rows[["supplier", "outcome", "t_delivered"]].astype({"supplier": str, "outcome": str}).values.tolist()[0][:2] == ["sup", "refused"]
    assert rows[["supplier", "outcome", "t_delivered"]].astype({"supplier": str, "outcome": str}).values.tolist()[1] == ["other", "delivered", 20.0]
    assert sup.stock["mag"] == 100.0 and sector.stock["mag"] == 5.0


def test_denied_goods_return_to_supplier_and_stay_at_home():
    env = simpy.Environment()
    office = LicensingOffice(env, reviewers=1, review_days=lambda: 3.0, approval_probability=0.0, uniform=lambda: 0.5)
    control = LicensingControl(env, "lic", "CN", {"mag"}, office, in_force=True)
    ledger, sup, sector, lane = network(env, supplier_stock=10.0, transit=1.0, use_per_day=0.0, controls=[control])
    domestic = Sector(env, "home", "CN", 0.0, {"mag": 1000.0}, ledger=ledger)
    Lane(env, sup, domestic, "mag", {"road": 1.0})
    sector.inputs["mag"].order(10.0)
    domestic.inputs["mag"].order(10.0)  # queued behind the export order
    env.run(until=10)
    assert sector.stock["mag"] == 0.0 and domestic.stock["mag"] == 10.0  # denied at 3, shipped home, arrived 4
    assert ledger.records.licences.to_frame()["decision"].astype(str).tolist() == ["denied"]


def test_domestic_shipments_are_not_controlled():
    env = simpy.Environment()
    ban = BanControl(env, "ban", "CN", {"mag"}, in_force=True)
    ledger, sup, sector, lane = network(env, transit=1.0, use_per_day=0.0, controls=[ban], buyer_country="CN")
    sector.inputs["mag"].order(5.0)
    env.run(until=5)
    assert sector.stock["mag"] == 5.0 and lane.controls == []


def test_mine_and_plant_pipeline():
    env = simpy.Environment()
    ledger = Ledger()
    mine = Mine(env, "m", "AU", "ore", capacity_t_per_year=365.0, batch_days=1.0, ledger=ledger)
    plant = Plant(env, "p", "AU", "oxide", {"ore": 2.0}, capacity_t_per_year=365.0 / 2, output_stock_days=4.0,
                  processing_days=lambda: 3.0, policy=OrderUpTo(review_days=1.0, target_days=5.0),
                  initial_stock_t={"ore": 0.0, "oxide": 0.0}, ledger=ledger)
    Lane(env, mine, plant, "ore", {"road": 1.0})
    env.run(until=50)
    # The plant targets 4 days (2 t) of finished oxide and nothing draws on it: it makes
    # exactly that from 4 t of ore, then stops; the mine makes 1 t a day into its own stock.
    assert plant.stock["oxide"] == 2.0 and plant.wip_t == 0.0
    assert ledger.consumed_t["ore"] == 4.0 and ledger.produced_t["oxide"] == 2.0
    assert ledger.produced_t["ore"] == 49.0
    assert plant.stock["ore"] + mine.stock["ore"] == 45.0


def test_stockpile_release_pushes_by_share():
    env = simpy.Environment()
    ledger = Ledger()
    pile = Stockpile(env, "pile", "US", {"mag": 30.0}, ledger=ledger)
    a = Sector(env, "a", "US", 0.0, {"mag": 1.0}, ledger=ledger)
    b = Sector(env, "b", "US", 0.0, {"mag": 1.0}, ledger=ledger)
    Lane(env, pile, a, "mag", {"truck": 1.0}, share=2.0)
    Lane(env, pile, b, "mag", {"truck": 1.0}, share=1.0)
    assert pile.release("mag", 12.0) == 12.0
    env.run(until=3)
    assert (a.stock["mag"], b.stock["mag"], pile.stock["mag"]) == (8.0, 4.0, 18.0)


def test_stockpile_tops_up_a_buyer_whose_cover_falls():
    env = simpy.Environment()
    ledger, sup, sector, lane = network(env, supplier_stock=0.0, target_days=10.0, transit=1.0)
    pile = Stockpile(env, "pile", "DE", {"mag": 100.0}, release_below_cover_days=3.0, release_target_cover_days=10.0, ledger=ledger)
    Lane(env, pile, sector, "mag", {"truck": 1.0})
    env.run(until=60)
    produced = ledger.records.production.column("produced_units")
    assert produced.min() == 1.0  # never stopped while the stockpile lasted
    assert pile.released_t > 0 and sup.backlog_t("mag") > 0


@pytest.mark.parametrize(
    "policy, position, expected",
    [
        (OrderUpTo(7, 30), 10.0, 20.0),
        (OrderUpTo(7, 30), 35.0, 0.0),
        (MinMax(1, 10, 30), 12.0, 0.0),
        (MinMax(1, 10, 30), 8.0, 22.0),
        (FixedQuantity(1, 10, 5), 12.0, 0.0),
        (FixedQuantity(1, 10, 5), 9.0, 5.0),
        (FixedQuantity(1, 10, 5), 1.0, 10.0),
    ],
)
def test_policies_quantity_in_tonnes(policy, position, expected):
    assert policy.quantity(position, 1.0) == expected


def test_hand_written_simpy_model_uses_components_directly():
    """A user's own SimPy model: their process drives a licensing office and a sector."""
    env = simpy.Environment()
    ledger = Ledger()
    line = Sector(env, "my_line", "DE", units_per_year=365.0, bom_kg_per_unit={"mag": 1000.0},
                  policy=OrderUpTo(review_days=1e9, target_days=3.0), ledger=ledger)  # never reorders itself
    office = LicensingOffice(env, reviewers=1, review_days=lambda: 2.0, approval_probability=1.0, uniform=lambda: 0.0)
    log = []

    def my_importer():
        # Every 5 days apply for a licence; on approval put 5 t straight into the line's stock.
        while True:
            app = Application("DE", lambda: (line.stock.__setitem__("mag", line.stock["mag"] + 5.0), log.append(env.now)), lambda o: None)
            office.apply(app)
            yield env.timeout(5)

    env.process(my_importer())
    env.run(until=20)
    assert log == [2.0, 7.0, 12.0, 17.0]
    produced = ledger.records.production.column("produced_units").tolist()
    assert produced == [1.0] * 20


def test_unfilled_orders_lost_takes_what_there_is():
    env = simpy.Environment()
    ledger = Ledger()
    sup = Facility(env, "sup", "CN", ledger)
    sup.add_initial_stock("mag", 5.0)
    buyer = Sector(env, "b", "CN", 0.0, {"mag": 1.0}, unfilled_orders="lost", ledger=ledger)
    Lane(env, sup, buyer, "mag", {"road": 1.0})
    buyer.inputs["mag"].order(8.0)
    assert sup.backlog_t("mag") == 0.0 and buyer.inputs["mag"].on_order_t == 5.0
    assert buyer.inputs["mag"].lost_order_t == 3.0
    env.run(until=3)
    assert buyer.stock["mag"] == 5.0 and buyer.inputs["mag"].on_order_t == 0.0


def test_a_control_applies_if_in_force_when_the_shipment_reaches_it():
    # A shipment waits at a quota; meanwhile a ban is lifted (it must not hold the shipment)
    # and a licence requirement is imposed (it must apply).
    env = simpy.Environment()
    quota = QuotaControl(env, "q", "CN", {"mag"}, tonnes_per_period=0.0, period_end=lambda t: (math.floor(t / 30) + 1) * 30.0, in_force=True)
    ban = BanControl(env, "ban", "CN", {"mag"}, in_force=True)
    office = LicensingOffice(env, reviewers=1, review_days=lambda: 4.0, approval_probability=1.0, uniform=lambda: 0.5)
    lic = LicensingControl(env, "lic", "CN", {"mag"}, office, in_force=False)
    ledger, sup, sector, lane = network(env, supplier_stock=10.0, transit=1.0, use_per_day=0.0, controls=[quota, ban, lic])
    sector.inputs["mag"].order(5.0)

    def change():
        yield env.timeout(10)
        ban.lift()
        lic.impose()
        quota.set_cap(100.0)  # the quota lets it through at day 10

    env.process(change())
    env.run(until=40)
    rows = ledger.records.shipments.to_frame()
    assert rows[["t_cleared", "t_delivered"]].values.tolist() == [[14.0, 15.0]]  # licence 10 -> 14, transit 1


# --------------------------------------------------------------------------- random demand, just in time


def test_sector_demand_variability_scales_each_days_plan():
    env = simpy.Environment()
    ledger = Ledger()
    line = Sector(env, "line", "DE", units_per_year=365.0 * 4, bom_kg_per_unit={"mag": 500.0},
                  demand_variability=cycle([1.0, 0.5, 2.0, 0.0, -1.0]), initial_stock_t={"mag": 100.0},
                  policy=OrderUpTo(review_days=1e9, target_days=0.0), ledger=ledger)
    env.run(until=5)
    prod = ledger.records.production
    assert prod.column("planned_units").tolist() == [4.0, 2.0, 8.0, 0.0, 0.0]  # a negative draw counts as 0
    assert prod.column("produced_units").tolist() == [4.0, 2.0, 8.0, 0.0, 0.0]
    assert line.stock["mag"] == 100.0 - 14 * 0.5
    assert line.daily_use_t("mag") == 2.0  # policies and cover keep the mean plan


def test_backorder_catchup_is_relative_to_the_mean_plan_under_random_demand():
    env = simpy.Environment()
    ledger = Ledger()
    line = Sector(env, "line", "DE", units_per_year=3650.0, bom_kg_per_unit={"mag": 1000.0}, unmet_demand="backorder",
                  catchup_factor=1.5, demand_variability=cycle([0.2]), initial_stock_t={"mag": 0.0},
                  policy=OrderUpTo(review_days=1e9, target_days=0.0), ledger=ledger)
    env.run(until=2)  # two days without stock: 4 units owed
    line.stock["mag"] = 100.0
    env.run(until=4)
    # a day makes today's plan (2) plus at most 0.5 x the mean plan (10) of the backlog
    assert ledger.records.production.column("produced_units").tolist() == [0.0, 0.0, 6.0, 2.0]
    assert line.backlog_units == 0.0


def just_in_time_network(env, depot_stock, demand):
    ledger = Ledger()
    depot = Facility(env, "port", "DE", ledger)
    depot.add_initial_stock("mag", depot_stock)
    line = Sector(env, "line", "DE", units_per_year=365.0 * 4, bom_kg_per_unit={"mag": 1000.0},
                  demand_variability=cycle([d / 4 for d in demand]), policy=JustInTime(), unfilled_orders="lost",
                  ledger=ledger)
    Lane(env, depot, line, "mag", {"truck": 0.0})
    return ledger, depot, line


def test_just_in_time_orders_each_days_need_and_loses_what_the_supplier_lacks():
    env = simpy.Environment()
    ledger, depot, line = just_in_time_network(env, depot_stock=10.0, demand=[3, 5, 4, 2])
    assert line.stock["mag"] == 0.0  # no opening stock by default
    env.run(until=4)
    assert ledger.records.production.column("produced_units").tolist() == [3.0, 5.0, 2.0, 0.0]
    shipments = ledger.records.shipments.to_frame()
    assert shipments["tonnes"].tolist() == [3.0, 5.0, 2.0]
    assert line.inputs["mag"].lost_order_t == 2.0 + 2.0
    assert depot.stock["mag"] == 0.0 and line.stock["mag"] == 0.0
    # no periodic review: the sector's timer (first tick, then one per day) and env.run's stop
    # event (scheduled, then put back when it stops the run) are all the events
    assert next(env._eid) == (1 + 4) + 2


def test_just_in_time_counts_what_is_on_the_way():
    """Goods on order count as covering today's need: right for a supplier next door (zero transit);
    over a lane of L days the buyer orders only when nothing is on the way, so it is starved."""
    env = simpy.Environment()
    ledger = Ledger()
    depot = Facility(env, "port", "DE", ledger)
    depot.add_initial_stock("mag", 100.0)
    line = Sector(env, "line", "DE", units_per_year=365.0, bom_kg_per_unit={"mag": 1000.0}, policy=JustInTime(),
                  ledger=ledger)
    Lane(env, depot, line, "mag", {"truck": 2.0})
    env.run(until=7)
    shipments = ledger.records.shipments.to_frame()
    # day 0 orders 1 t (arrives day 2); day 1 sees it on order; day 2 uses it; day 3 orders again ...
    assert shipments[["t_ordered", "t_delivered"]].values.tolist() == [[0.0, 2.0], [3.0, 5.0]]
    assert ledger.records.production.column("produced_units").tolist() == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]


def test_switching_a_sector_to_and_from_just_in_time():
    env = simpy.Environment()
    ledger = Ledger()
    depot = Facility(env, "port", "DE", ledger)
    depot.add_initial_stock("mag", 1000.0)
    line = Sector(env, "line", "DE", units_per_year=365.0, bom_kg_per_unit={"mag": 1000.0},
                  policy=OrderUpTo(review_days=10.0, target_days=10.0), initial_stock_t={"mag": 10.0}, ledger=ledger)
    Lane(env, depot, line, "mag", {"truck": 0.0})
    env.run(until=20)
    assert ledger.records.shipments.to_frame()["t_ordered"].tolist() == [10.0]  # day 0: at target; day 10: 10 t
    line.inputs["mag"].policy = JustInTime()
    env.run(until=25)  # the review due at 20 stops; each day orders its 1 t
    line.inputs["mag"].policy = OrderUpTo(review_days=3.0, target_days=3.0)
    env.run(until=31)
    ordered = ledger.records.shipments.to_frame()[["t_ordered", "tonnes"]].values.tolist()
    # The review due at day 20 found the just-in-time policy and stopped; days 20-24 then ordered
    # their 1 t at production; the new policy's reviews start when it is set (day 25), every 3 days.
    assert ordered[0] == [10.0, 10.0]
    jit = [o for o in ordered if 20.0 <= o[0] < 25.0]
    assert jit == [[20.0, 1.0], [21.0, 1.0], [22.0, 1.0], [23.0, 1.0], [24.0, 1.0]]
    periodic = [o[0] for o in ordered if o[0] >= 25.0]
    assert periodic == [25.0, 28.0]
    assert ledger.records.production.column("produced_units").min() == 1.0


def test_just_in_time_only_for_sectors():
    env = simpy.Environment()
    with pytest.raises(ValueError, match="just-in-time policy needs a facility that orders as it produces"):
        Depot(env, "port", "DE", {"mag": 100.0}, policy=JustInTime())


# --------------------------------------------------------------------------- timers and records


def test_repeat_fires_in_creation_order_one_event_per_tick_and_stops_on_none():
    env = simpy.Environment()
    log = []

    def ticker(name, period, times):
        count = iter(range(times))

        def tick():
            log.append((env.now, name))
            return period if next(count, None) is not None and len(log) < 100 else None
        return tick

    repeat(env, ticker("a", 1.0, 3))
    repeat(env, ticker("b", 0.5, 10))
    env.run(until=10)
    assert log[:6] == [(0.0, "a"), (0.0, "b"), (0.5, "b"), (1.0, "a"), (1.0, "b"), (1.5, "b")]
    assert [t for t, n in log if n == "a"] == [0.0, 1.0, 2.0, 3.0]  # stopped after its 4th call
    # one SimPy event per call (each timer's first, then one per call that returned a delay; the last
    # call of each returned None), plus env.run's stop event, scheduled and put back when it stops
    assert next(env._eid) == 2 + (len(log) - 2) + 2


def test_repeat_matches_a_process_looping_on_timeout():
    """The same interleaving as SimPy processes with timeouts, for activities created alike."""
    def trace(use_repeat):
        env = simpy.Environment()
        log = []
        for name, period in (("a", 0.25), ("b", 1.0), ("c", 0.75)):
            if use_repeat:
                repeat(env, lambda name=name, period=period: (log.append((env.now, name)), period)[1])
            else:
                def proc(name=name, period=period):
                    while True:
                        log.append((env.now, name))
                        yield env.timeout(period)
                env.process(proc())
        env.run(until=6)
        return log

    assert trace(True) == trace(False)


def test_repeat_rejects_a_negative_delay():
    env = simpy.Environment()
    repeat(env, lambda: -1.0)
    with pytest.raises(ValueError, match="negative delay"):
        env.run(until=1)


def test_table_rows_round_trip_through_packed_bytes():
    table = Table({"id": "i", "name": "c", "t": "f"})
    table.append(2**52 + 1, table.code("name", "b"), float("nan"))
    table.data.frombytes(table.pack(7, table.code("name", "a"), -0.5))
    frame = table.to_frame()
    assert frame["id"].tolist() == [2**52 + 1, 7]
    assert frame["name"].astype(str).tolist() == ["b", "a"]
    assert math.isnan(frame["t"][0]) and frame["t"][1] == -0.5


def test_stockpile_check_stops_when_switched_off_and_restarts_when_on_again():
    env = simpy.Environment()
    ledger, sup, sector, lane = network(env, supplier_stock=0.0, target_days=10.0, transit=1.0)
    pile = Stockpile(env, "pile", "DE", {"mag": 100.0}, release_below_cover_days=3.0, release_target_cover_days=10.0, ledger=ledger)
    Lane(env, pile, sector, "mag", {"truck": 1.0})
    env.run(until=20)
    released = pile.released_t
    assert released > 0
    pile.set_release_below(None)
    env.run(until=60)
    assert pile.released_t == released  # no release while switched off
    assert not pile._watching  # and the daily check is no longer scheduled
    pile.set_release_below(3.0)
    env.run(until=80)
    assert pile.released_t > released


def test_a_lane_refusing_at_once_is_passed_over_and_the_next_order_served():
    """The supplier has no stock; a US line's order (5 t) and then a German line's (5 t) wait in
    its backlog. A ban refusing shipments to the US is in force. 2 t arrive: first come, first
    served offers them to the US order, whose shipment comes straight back; the supplier then
    passes the US lane over for the rest of that filling round and the German order gets the
    2 t. One refused shipment, not a new one for every 2 t the US order still lacks (the goods
    taken back used to go out to the same order, and back, until it was used up)."""
    env = simpy.Environment()
    ban = BanControl(env, "ban", "CN", {"mag"}, on_block="refuse", destinations={"US"}, in_force=True)
    ledger, sup, us, _lane = network(env, supplier_stock=0.0, transit=1.0, use_per_day=0.0, controls=[ban],
                                     buyer_country="US")
    de = Sector(env, "de_line", "DE", units_per_year=0.0, bom_kg_per_unit={"mag": 1000.0},
                policy=OrderUpTo(review_days=1.0, target_days=10.0), ledger=ledger)
    Lane(env, sup, de, "mag", {"sea": 1.0}, controls=[ban])
    us.inputs["mag"].order(5.0)
    de.inputs["mag"].order(5.0)
    assert [o.lane.buyer.name for o in sup.backlog["mag"]] == ["line", "de_line"]
    sup.take_back("mag", 2.0)  # 2 t come into stock (as goods returned would)
    rows = ledger.records.shipments.to_frame()
    live = list(ledger.live.values())
    refused = rows[rows["outcome"].astype(str) == "refused"]
    assert len(refused) == 1 and refused["tonnes"].tolist() == [2.0]
    assert [(s.order.lane.buyer.name, s.tonnes) for s in live] == [("de_line", 2.0)]
    assert sup.stock["mag"] == 0.0


def test_daily_round_runs_its_activities_after_every_other_event_of_the_day():
    """Two activities join one daily round at time 0 (one stops after its third call by
    returning None); a plain timeout scheduled for day 1 after the round was set up still comes
    first on day 1, because the round runs last at each time. Calls: day 0 a, b; day 1 the
    timeout, a, b; day 2 a, b; day 3 a (b stopped). One SimPy event a day for the round."""
    from simulator.components.clock import daily

    env = simpy.Environment()
    calls = []
    b_calls = itertools.count(1)

    def a():
        calls.append((env.now, "a"))
        return 1.0

    def b():
        calls.append((env.now, "b"))
        return 1.0 if next(b_calls) < 3 else None

    daily(env, a)
    daily(env, b)
    env.timeout(1.0).callbacks.append(lambda _e: calls.append((env.now, "timeout")))
    env.run(until=3.5)
    assert calls == [(0, "a"), (0, "b"), (1, "timeout"), (1, "a"), (1, "b"), (2, "a"), (2, "b"), (3, "a")]
    alone = simpy.Environment()  # the same with one activity: as many SimPy events
    daily(alone, lambda: 1.0)
    alone.timeout(1.0)
    alone.run(until=3.5)
    assert next(env._eid) == next(alone._eid)


def test_daily_batches_finish_in_the_round_nearest_their_processing_time():
    """A plant with daily batches works in the end-of-day round; processing counts whole days.

    1 t a day of room (365 t/year), target 3 t of oxide in stock or in process, ore plenty,
    processing times drawn 2.4, 2.6, 0.4 (rounded: 2, 3, 0 days):
    round 0: 1 t starts, ready in round 2.  Round 1: in process 1, 1 t starts, ready in round 4.
    Round 2: the first batch joins stock (1 t), in process 1, so 1 t starts; 0 days: in stock
    at once (2 t). Round 3: 2 t + 1 t in process = target: no batch. Round 4: the second batch
    joins: 3 t. Between rounds (t = 1.5, 2.5, 3.5, 4.5) stock reads 0, 2, 2, 3.

    A plant with 2-day batches (2 t of room) keeps its own clock and exact processing time:
    2 t start at time 0 and are in stock from 2.4 on; at time 2, with 2 t in process, 1 t
    starts, in stock from 4.4 on (3 t)."""
    env = simpy.Environment()
    ledger = Ledger()
    draws = iter([2.4, 2.6, 0.4])
    daily = Plant(env, "daily", "CN", "oxide", {"ore": 1.0}, capacity_t_per_year=365.0, output_stock_days=3.0,
                  processing_days=lambda: next(draws), initial_stock_t={"ore": 100.0, "oxide": 0.0}, ledger=ledger)
    two_day = Plant(env, "two_day", "CN", "oxide", {"ore": 1.0}, capacity_t_per_year=365.0, output_stock_days=3.0,
                    processing_days=lambda: 2.4, batch_days=2.0, initial_stock_t={"ore": 100.0, "oxide": 0.0},
                    ledger=ledger)
    seen = []

    def probe():
        for t in (1.5, 2.3, 2.5, 3.5, 4.5):
            yield env.timeout(t - env.now)
            seen.append((t, daily.stock["oxide"], two_day.stock["oxide"]))

    env.process(probe())
    env.run(until=4.9)
    assert seen == [(1.5, 0.0, 0.0), (2.3, 2.0, 0.0), (2.5, 2.0, 2.0), (3.5, 2.0, 2.0), (4.5, 3.0, 3.0)]
    batches = ledger.records.batches.to_frame()
    made = batches[batches["facility"] == "daily"]["produced_t"].tolist()
    assert made == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_firms_switched_to_just_in_time_order_their_needs_every_day():
    """A sector of two firms (shares 1/2, 1/2; covers 10 days: 5 t each of 1 t a day in all),
    reviewed every 100 days, next door to a depot with 1,000 t. Days 0-4 the firms live off
    stock (days made to plan, counted at the sector without visiting them); on day 5, before
    production, every firm's input becomes just in time: each firm orders at production what
    its stock and orders do not cover, nothing while its stock lasts (to day 9), then its own
    0.5 t every day, so days 10-14 bring 10 orders of 0.5 t and the line never stops."""
    env = simpy.Environment()
    ledger = Ledger()
    depot = Facility(env, "port", "DE", ledger)
    depot.add_initial_stock("mag", 1000.0)
    line = Sector(env, "line", "DE", units_per_year=365.0, bom_kg_per_unit={"mag": 1000.0},
                  policy=OrderUpTo(review_days=100.0, target_days=10.0), firms=[(0.5, 10.0), (0.5, 10.0)],
                  ledger=ledger)
    Lane(env, depot, line, "mag", {"truck": 0.0})
    env.run(until=5)
    assert len(ledger.records.shipments.to_frame()) == 0
    assert line._all_firms_make_plan(line.cum_plan_units)  # stock for more days: no need to visit them
    line.inputs["mag"].policy = JustInTime()
    # a firm buying just in time orders at production (what it orders depends on its levels and
    # adjustments), so no day is counted without visiting the firms
    assert not line._all_firms_make_plan(line.cum_plan_units)
    env.run(until=15)
    ordered = ledger.records.shipments.to_frame()[["t_ordered", "tonnes"]].values.tolist()
    assert ordered == [[t, 0.5] for t in (10.0, 11.0, 12.0, 13.0, 14.0) for _firm in range(2)]
    assert ledger.records.production.column("produced_units").tolist() == [1.0] * 15


# --------------------------------------------------------------------------- timers and cached scope


def test_timer_is_ordered_and_counted_as_a_timeout():
    """A Timer (reviews, re-submissions, transits) is one event scheduled like env.timeout: at
    creation, with NORMAL priority, so same-time events run in creation order whichever kind."""
    from simulator.components.clock import Timer

    def trace(use_timer):
        env = simpy.Environment()
        log = []
        for i, delay in enumerate((2.0, 1.0, 2.0, 0.0, 1.0, 2.0)):
            if use_timer and i % 2:
                Timer(env, delay, lambda event: log.append((env.now, event.value)), i)
            else:
                env.timeout(delay, i).callbacks.append(lambda event: log.append((env.now, event.value)))
        env.run()
        return log, next(env._eid)

    assert trace(True) == trace(False)
    assert trace(True)[0] == [(0.0, 3), (1.0, 1), (1.0, 4), (2.0, 0), (2.0, 2), (2.0, 5)]
    with pytest.raises(ValueError, match="Negative delay"):
        Timer(simpy.Environment(), -1.0, lambda event: None)


def test_a_control_covers_a_lane_by_its_current_scope():
    """covers() is cached per lane and must follow set_scope (a scope change on the timeline)."""
    env = simpy.Environment()
    ban = BanControl(env, "ban", "CN", {"mag"}, in_force=True)
    ledger, sup, sector, lane = network(env, supplier_stock=10.0, transit=1.0, use_per_day=0.0, controls=[ban])
    assert ban.covers(lane)
    ban.set_scope({"mag"}, excluded_destinations={lane.destination})
    assert not ban.covers(lane)
    ban.set_scope({"oxide"})
    assert not ban.covers(lane)
    ban.set_scope({"mag"}, destinations={lane.destination})
    assert ban.covers(lane)


def test_a_rescoped_licence_lets_the_shipment_go_and_a_widened_one_stops_the_next():
    env = simpy.Environment()
    office = LicensingOffice(env, reviewers=1, review_days=lambda: 10.0, approval_probability=1.0, uniform=lambda: 0.5)
    lic = LicensingControl(env, "lic", "CN", {"mag"}, office, in_force=True)
    ledger, sup, sector, lane = network(env, supplier_stock=20.0, transit=1.0, use_per_day=0.0, controls=[lic])
    sector.inputs["mag"].order(5.0)
    env.run(until=2)
    lic.set_scope({"oxide"})  # no longer covers the lane: the held shipment leaves at once
    env.run(until=4)
    sector.inputs["mag"].order(5.0)  # not covered: no application
    env.run(until=6)
    lic.set_scope({"mag"})
    sector.inputs["mag"].order(5.0)  # covered again: reviewed 6 -> 16
    env.run(until=30)
    rows = ledger.records.shipments.to_frame().sort_values("shipment_id")
    assert rows[["t_cleared", "t_delivered"]].values.tolist() == [[2.0, 3.0], [4.0, 5.0], [16.0, 17.0]]
    assert ledger.records.licences.to_frame()["decision"].astype(str).tolist() == ["out of scope", "approved"]


def test_run_until_is_simpys_run():
    """clock.run_until runs exactly as env.run(until=...): processes and timeouts in the same
    order, events at `until` itself not run, the same event count; a failed event nobody
    defused raises as SimPy raises it; an `until` not ahead is refused."""
    from simulator.components.clock import run_until

    def world():
        env, log = simpy.Environment(), []

        def proc(name, step):
            while True:
                yield env.timeout(step)
                log.append((env.now, name))

        env.process(proc("a", 1.0))
        env.process(proc("b", 2.5))
        env.timeout(5.0).callbacks.append(lambda _e: log.append((env.now, "at until")))
        return env, log

    env_a, log_a = world()
    env_a.run(until=5.0)
    env_b, log_b = world()
    run_until(env_b, 5.0)
    assert log_a == log_b and env_a.now == env_b.now == 5.0 and next(env_a._eid) == next(env_b._eid)
    assert (5.0, "at until") not in log_b and (4.0, "a") in log_b

    env = simpy.Environment()
    failed = env.event()
    failed.fail(ValueError("broken"))
    with pytest.raises(ValueError, match="broken"):
        run_until(env, 1.0)
    with pytest.raises(ValueError, match="must be greater"):
        run_until(simpy.Environment(), 0.0)
