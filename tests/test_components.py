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
    FixedQuantity,
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
)


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
