"""The core rules on small hand-made worlds whose answers are worked out by hand (issue: core
mechanics): scope changes free held goods, control order does not matter, the textbook
inventory position, release rounding, withdrawal of held goods, re-order dates, mid-run buyer
settings, (s, Q) lots, and a mass balance that checks conversions."""

import filecmp
from pathlib import Path

import pytest
import simpy
import yaml

from simulator import MassBalanceError, Model, parse_scenario, run
from simulator.components import Depot, FixedQuantity, Lane, Ledger, LicensingOffice, OrderUpTo, Sector
from simulator.components.licensing import Application
from simulator.results import write_run
from simulator.table_dates import to_text

TINY = Path(__file__).parent / "data" / "tiny.yaml"
OUTAGE = ["units_lost", "stopped_days", "first_stop", "longest_stop_days", "recovered"]


def line(country: str, target_days: float = 20) -> dict:
    """A line using 1 t of magnets a day (1000 units of 1 kg), order-up-to reviewed daily."""
    return {"type": "sector", "sector": "ev", "country": country, "units_per_year": 365000,
            "bom_kg_per_unit": {"mag": 1.0}, "policy": {"type": "order_up_to", "review_days": 1, "target_days": target_days}}


def world(countries=("DE",), controls=None, timeline=(), warmup_days=30, horizon_days=120) -> dict:
    """A Chinese mine with ample stock -> one line per country, 10 days by sea.

    After the 30-day warm-up each line is in steady state: it ends each day with 9 t on hand and
    10 t on the water (target 20 days = 20 t of position, one day's use ordered each morning)."""
    return {
        "name": "rules", "start": "2025-01-01", "horizon_days": horizon_days, "warmup_days": warmup_days,
        "materials": {"mag": {"elements": {"Nd": 0.3, "Dy": 0.02}}, "other": {"elements": {"Ce": 0.5}}},
        "facilities": {
            "cn_mine": {"type": "mine", "country": "CN", "material": "mag", "capacity_t_per_year": 36500,
                        "batch_days": 1, "initial_stock_t": 100},
            **{f"{c.lower()}_line": line(c) for c in countries},
        },
        "lanes": [{"supplier": "cn_mine", "buyer": f"{c.lower()}_line", "material": "mag",
                   "modes": {"sea": {"transit_days": 10}}} for c in countries],
        "controls": controls or {},
        "timeline": list(timeline),
    }


def go(data: dict, seed: int = 1):
    """A run of ``data``; its tables' days as ISO text ('' where none), as the CSV files hold them."""
    result = run(parse_scenario(yaml.safe_dump(data, sort_keys=False), "rules.yaml", {}), seed=seed)
    result.tables = {name: to_text(table) for name, table in result.tables.items()}
    return result


def outage(result, facility: str) -> dict:
    row = result.shortages.set_index("facility").loc[facility]
    return {k: row[k] for k in OUTAGE}


# A licence that is never decided within the run (one reviewer, 1000 days a review).
NEVER_DECIDED = {"instrument": "licensing", "exporter": "CN", "materials": ["mag"], "reviewers": 1,
                 "review_days": 1000, "approval_probability": 1.0}
HOLDING_BAN = {"instrument": "ban", "exporter": "CN", "materials": ["mag"]}
IMPOSE_JAN_11 = {"date": "2025-01-11", "action": "impose"}

# ----------------------------------------------------------------------------- 1. scope changes

# From 11 January (day 10) every shipment to DE is held. The line has 9 t on hand and 10 t on
# the water, 19 days of use: it makes its plan on days 10..28 and first stops on day 29 (30
# January). On 10 February (day 40) the held goods go on; 10 days at sea bring them on day 50
# (20 February), before that day's production. Stopped 30 January .. 19 February: 21 days,
# 21,000 units. US goods stay held: the US line stops on 30 January and never recovers
# (days 29..119: 91 days).
DE_RECOVERS = {"units_lost": 21000.0, "stopped_days": 21.0, "first_stop": "2025-01-30", "longest_stop_days": 21.0,
               "recovered": "2025-02-20"}
US_NEVER = {"units_lost": 91000.0, "stopped_days": 91.0, "first_stop": "2025-01-30", "longest_stop_days": 91.0,
            "recovered": ""}


@pytest.mark.parametrize("control", [HOLDING_BAN, NEVER_DECIDED], ids=["ban", "licensing"])
def test_narrowing_destinations_lets_held_goods_go(control):
    """A control on all destinations from 11 January, narrowed to {include: [US]} on 10
    February: the German line gets its held goods (or pending applications' goods) that day and
    recovers on 20 February (see DE_RECOVERS); the US line stays stopped."""
    data = world(("DE", "US"), {"c": control}, [{**IMPOSE_JAN_11, "control": "c"},
                 {"date": "2025-02-10", "action": "ease", "control": "c", "set": {"destinations": {"include": ["US"]}}}])
    result = go(data)
    assert outage(result, "de_line") == DE_RECOVERS
    assert outage(result, "us_line") == US_NEVER


def test_narrowing_is_the_same_as_lifting_a_separate_ban():
    """The same world with one ban per destination, the German one lifted on 10 February."""
    controls = {f"ban_{c}": {**HOLDING_BAN, "destinations": {"include": [c.upper()]}} for c in ("de", "us")}
    data = world(("DE", "US"), controls, [{**IMPOSE_JAN_11, "control": "ban_de"}, {**IMPOSE_JAN_11, "control": "ban_us"},
                                         {"date": "2025-02-10", "action": "lift", "control": "ban_de"}])
    result = go(data)
    assert outage(result, "de_line") == DE_RECOVERS
    assert outage(result, "us_line") == US_NEVER


@pytest.mark.parametrize("control", [HOLDING_BAN, NEVER_DECIDED], ids=["ban", "licensing"])
def test_narrowing_materials_lets_held_goods_go(control):
    """The control's materials change from [mag] to [other] on 10 February: as DE_RECOVERS."""
    data = world(("DE",), {"c": control}, [{**IMPOSE_JAN_11, "control": "c"},
                 {"date": "2025-02-10", "action": "ease", "control": "c", "set": {"materials": ["other"]}}])
    assert outage(go(data), "de_line") == DE_RECOVERS


def test_applications_out_of_scope_are_recorded_as_such():
    """The German line orders one day's use every morning from day 10 to day 29 (it uses 1 t a
    day on days 9..28): 20 applications, all taken out of scope on 10 February. The 20 US ones
    are still pending at the end."""
    data = world(("DE", "US"), {"c": NEVER_DECIDED}, [{**IMPOSE_JAN_11, "control": "c"},
                 {"date": "2025-02-10", "action": "ease", "control": "c", "set": {"destinations": {"include": ["US"]}}}])
    lic = go(data).licences
    counts = lic.groupby(["destination", "decision"], observed=True).size().to_dict()
    assert counts == {("DE", "out of scope"): 20, ("US", "pending at end"): 20}
    assert set(lic.loc[lic["decision"] == "out of scope", "decided"]) == {"2025-02-10"}


# ----------------------------------------------------------------------------- 2. control order

def _three_controls() -> dict:
    return {
        "lic": {"instrument": "licensing", "exporter": "CN", "materials": ["mag"], "reviewers": 3,
                "review_days": {"dist": "uniform", "min": 2, "max": 9}, "approval_probability": 0.6},
        "cap": {"instrument": "quota", "exporter": "CN", "materials": ["mag"], "tonnes_per_period": 40, "period": "month"},
        "ban": {"instrument": "ban", "exporter": "CN", "materials": ["mag"], "destinations": {"include": ["US"]}},
    }


def test_the_order_of_controls_in_the_file_does_not_change_any_output(tmp_path):
    """Licensing, a monthly quota and a US ban, listed in two orders: every table is identical
    (each control draws from its own named random stream, and a shipment meets bans, then
    licences, then quotas whatever the file says)."""
    timeline = [{**IMPOSE_JAN_11, "control": name} for name in ("lic", "cap", "ban")]
    timeline.append({"date": "2025-03-01", "action": "lift", "control": "ban"})
    controls = _three_controls()
    folders = []
    for order in (["lic", "cap", "ban"], ["ban", "cap", "lic"]):
        data = world(("DE", "US"), {k: controls[k] for k in order}, timeline)
        folders.append(write_run(go(data, seed=3), tmp_path / "-".join(order)))
    tables = sorted(p.name for p in folders[0].glob("*.csv"))
    assert len(tables) >= 8
    match, mismatch, errors = filecmp.cmpfiles(folders[0], folders[1], tables, shallow=False)
    assert mismatch == [] and errors == []


@pytest.mark.parametrize("order", [["quota", "lic"], ["lic", "quota"]])
def test_a_quota_counts_only_tonnes_that_leave(order):
    """Every licence is denied (approval 0), so nothing leaves China: whichever comes first in
    the file, the quota has counted 0 t at the end."""
    controls = {"lic": {**NEVER_DECIDED, "review_days": 3, "reviewers": 10, "approval_probability": 0.0},
                "quota": {"instrument": "quota", "exporter": "CN", "materials": ["mag"], "tonnes_per_period": 1000}}
    data = world(("DE",), {k: controls[k] for k in order}, [{**IMPOSE_JAN_11, "control": k} for k in order])
    model = Model(parse_scenario(yaml.safe_dump(data, sort_keys=False), "rules.yaml", {}), seed=1)
    model.run()
    assert model.controls["quota"].used_t == 0.0


# ----------------------------------------------------------------------------- 3. inventory position

def _depot_world(position_days_line: float) -> dict:
    data = world(("DE",), warmup_days=0, horizon_days=200)
    data["facilities"]["cn_mine"]["initial_stock_t"] = 1000
    data["facilities"]["de_depot"] = {"type": "depot", "country": "DE", "throughput_t_per_year": {"mag": 365},
                                      "policy": {"type": "order_up_to", "review_days": 1, "target_days": 10}}
    data["facilities"]["de_line"]["policy"]["target_days"] = position_days_line
    data["lanes"] = [
        {"supplier": "cn_mine", "buyer": "de_depot", "material": "mag", "modes": {"sea": {"transit_days": 20}}},
        {"supplier": "de_depot", "buyer": "de_line", "material": "mag", "modes": {"road": {"transit_days": 0}}},
    ]
    return data


def test_a_depot_counts_what_it_owes_in_its_position():
    """A depot with a 10-day target on a 20-day sea lane, ample supply, no controls, serving a
    line next door with a 30-day target.

    Textbook position (on hand + on order - owed): in steady state the depot passes the line's
    1 t a day upstream, so 20 t are on the water; its position 10 t = on hand + 20 - owed gives
    owed - on hand = 10: it owes the line 10 t. The line's position 30 t = on hand + 10 t owed
    to it, so it keeps 20 t on hand and never stops: no unit is lost at all (the opening stocks,
    10 t at the depot and 30 t at the line, carry the first lead time).
    Counting only on hand + on order, the depot would keep just 10 t on order: 10 t every 20
    days, half the line's use, and the line would lose output for good."""
    assert outage(go(_depot_world(30)), "de_line") == {
        "units_lost": 0.0, "stopped_days": 0.0, "first_stop": "", "longest_stop_days": 0.0, "recovered": ""}


def test_a_backordering_sector_counts_units_it_owes():
    """A sector with backorders owing 3 units of 2 kg: its position is 6 kg = 0.006 t lower."""
    env = simpy.Environment()
    sector = Sector(env, "s", "DE", 365, {"mag": 2.0}, unmet_demand="backorder", initial_stock_t={"mag": 1.0},
                    policy=OrderUpTo(review_days=1000, target_days=0))
    sector.backlog_units = 3.0
    assert sector.inputs["mag"].position_t() == pytest.approx(1.0 - 0.006, abs=1e-12)


# ----------------------------------------------------------------------------- 5. release rounding

@pytest.mark.parametrize(("fraction", "pending", "released"), [
    (0.5, 1, 1), (0.5, 3, 2), (0.5, 5, 3), (0.5, 7, 4), (0.5, 10, 5), (0.3, 5, 2), (0.2, 5, 1), (0.0, 4, 0),
    (1.0, 4, 4), (0.49, 1, 0)])
def test_release_rounds_halves_up(fraction, pending, released):
    """Round to the nearest whole application, halves up: 0.5 x 3 = 1.5 -> 2, 0.3 x 5 = 1.5 -> 2."""
    assert LicensingOffice.released_count(fraction, pending) == released


def test_release_approves_the_rounded_number_oldest_first():
    """Five applications on days 0..4, one reviewer busy for 100 days: releasing half approves
    three (2.5 rounds up), those applied on days 0, 1 and 2."""
    env = simpy.Environment()
    office = LicensingOffice(env, reviewers=1, review_days=lambda: 100.0, approval_probability=0.0, uniform=lambda: 0.5)
    approved = []
    for day in range(5):
        env.run(until=day + 0.5)
        office.apply(Application("DE", lambda day=day: approved.append(day), lambda _o: None))
    assert office.release(0.5) == 3
    assert approved == [0, 1, 2] and office.pending == 2


# ----------------------------------------------------------------------------- 6. withdrawal

def _with_australian_source(control: dict, withdraw_after_days: float | None) -> dict:
    data = world(("DE",), {"c": control}, [{**IMPOSE_JAN_11, "control": "c"}])
    data["facilities"]["au_mine"] = {"type": "mine", "country": "AU", "material": "mag", "capacity_t_per_year": 3650,
                                     "batch_days": 1, "initial_stock_t": 100}
    data["lanes"].append({"supplier": "au_mine", "buyer": "de_line", "material": "mag", "priority": 2,
                          "modes": {"sea": {"transit_days": 5}}})
    data["facilities"]["de_line"]["resource_after_denial_days"] = 365
    if withdraw_after_days is not None:
        data["facilities"]["de_line"]["withdraw_held_after_days"] = withdraw_after_days
    return data


@pytest.mark.parametrize("control", [HOLDING_BAN, NEVER_DECIDED], ids=["ban", "licensing"])
def test_held_goods_are_withdrawn_and_resourced(control):
    """Chinese goods are held from 11 January (day 10); an idle Australian mine on priority 2
    is 5 days away. The line withdraws goods held 15 days: the first (left stock on day 10) at
    the review of day 25; it avoids the Chinese lane from then on and orders that tonne plus the
    day's use from Australia, arriving on day 30. On hand runs out after day 28 (as in
    DE_RECOVERS), so the line stops on day 29 (30 January) only: 1 day, 1,000 units; from day 30
    Australian goods arrive every day."""
    assert outage(go(_with_australian_source(control, 15)), "de_line") == {
        "units_lost": 1000.0, "stopped_days": 1.0, "first_stop": "2025-01-30", "longest_stop_days": 1.0,
        "recovered": "2025-01-31"}


def test_without_withdrawal_the_idle_source_is_never_used():
    """The same world without withdrawal: held goods count as on order, the line never orders
    elsewhere, and it stops from 30 January to the end (US_NEVER's numbers)."""
    result = go(_with_australian_source(HOLDING_BAN, None))
    assert outage(result, "de_line") == US_NEVER
    assert "au_mine" not in set(result.lead_times["supplier"])


def test_withdrawn_applications_are_recorded():
    """One application a day on days 10..24 (from day 25 the line avoids China, and re-orders go
    to Australia), each withdrawn 15 days after its goods left stock: on days 25..39, 26 January
    to 9 February."""
    lic = go(_with_australian_source(NEVER_DECIDED, 15)).licences
    assert lic["decision"].astype(str).tolist() == ["withdrawn"] * 15
    assert lic["decided"].tolist() == [f"2025-01-{d}" for d in range(26, 32)] + [f"2025-02-0{d}" for d in range(1, 10)]


# ----------------------------------------------------------------------------- 7. re-order dates

def test_a_reorder_keeps_the_first_date_only_for_the_tonnes_it_replaces():
    """2 t first ordered on day 3 failed on day 8 after 1 day waiting for stock and 4 at the
    border. An order of 5 t on day 10 ships as two parts: 2 t dated day 3 (licence wait 4 + 2
    days from the failure to the re-order) and 3 t dated day 10."""
    env, ledger = simpy.Environment(), Ledger()
    never = OrderUpTo(review_days=1000, target_days=0)
    supplier = Depot(env, "sup", "CN", {"mag": 365}, initial_stock_t={"mag": 100}, policy=never, ledger=ledger)
    buyer = Sector(env, "buy", "DE", 0, {"mag": 1.0}, initial_stock_t={"mag": 0}, policy=never, ledger=ledger)
    Lane(env, supplier, buyer, "mag", {"road": 0})
    line = buyer.inputs["mag"]
    line.unfilled_since.append([2.0, 3.0, 1.0, 4.0, 8.0, "control"])
    env.run(until=10)
    line.order(5.0)
    rows = ledger.records.shipments.to_frame()[["tonnes", "t_first_ordered", "lost_stock_days", "lost_licence_days"]]
    assert rows.to_dict("records") == [
        {"tonnes": 2.0, "t_first_ordered": 3.0, "lost_stock_days": 1.0, "lost_licence_days": 6.0},
        {"tonnes": 3.0, "t_first_ordered": 10.0, "lost_stock_days": 0.0, "lost_licence_days": 0.0},
    ]


# ----------------------------------------------------------------------------- 8. mid-run settings

def test_a_withdrawal_rule_set_mid_run_applies_to_orders_already_open():
    """The Chinese mine has nothing (its orders wait in its backlog); Australia (priority 2) is 5
    days away. The line starts with 20 t and orders one day's use from day 1. On 11 January
    (day 10) the timeline sets cancel_backlog_after_days = 5: the review that day withdraws the
    orders of days 1..4 (open longer than 5 days) and re-orders them from Australia, arriving on
    day 15, and every later day one more; the line's 20 t last until day 19, so it never stops.
    (If the rule applied only to orders placed after it was set, the first withdrawal would be on
    day 16 and the line would stop on 21 January.)"""
    data = world(("DE",), warmup_days=0, timeline=[{"date": "2025-01-11", "action": "set",
                 "path": "facilities.de_line.cancel_backlog_after_days", "value": 5}])
    data["facilities"]["cn_mine"].update(capacity_t_per_year=0, initial_stock_t=0)
    data["facilities"]["au_mine"] = {"type": "mine", "country": "AU", "material": "mag", "capacity_t_per_year": 3650,
                                     "batch_days": 1, "initial_stock_t": 100}
    data["lanes"].append({"supplier": "au_mine", "buyer": "de_line", "material": "mag", "priority": 2,
                          "modes": {"sea": {"transit_days": 5}}})
    data["facilities"]["de_line"]["resource_after_denial_days"] = 365
    assert outage(go(data), "de_line")["units_lost"] == 0.0


# ----------------------------------------------------------------------------- 9. (s, Q)

@pytest.mark.parametrize(("position", "expected"), [(0.0, 20.0), (5.0, 20.0), (10.0, 10.0), (19.999, 10.0), (20.0, 0.0), (-15.0, 40.0)])
def test_s_q_orders_the_fewest_lots_that_reach_s(position, expected):
    """s = 20 t, Q = 10 t (1 t a day): from 0 two lots reach s exactly (not three); from 10 one."""
    assert FixedQuantity(review_days=1, reorder_days=20, quantity_days=10).quantity(position, 1.0) == pytest.approx(expected)


# ----------------------------------------------------------------------------- mass balance

def _tiny_model() -> Model:
    return Model(parse_scenario(TINY.read_text(), str(TINY), {}), seed=1)


def test_a_sector_using_half_its_bill_fails_the_balance(monkeypatch):
    """A fault: the sector consumes half of what its bill of materials says for the units it
    records. The per-material balance still closes (consumed counters are halved too); the
    conversion check names the facility."""
    from simulator.components import sector as sector_module

    real = sector_module.Sector.produce

    def half_bill(self):
        bom = self._needs_t
        self._needs_t = [(m, need / 2) for m, need in bom]
        try:
            return real(self)
        finally:
            self._needs_t = bom

    monkeypatch.setattr(sector_module.Sector, "produce", half_bill)
    model = _tiny_model()
    with pytest.raises(MassBalanceError, match=r"bill of materials x units made"):
        model.run()


def test_a_plant_yielding_twice_its_output_fails_the_balance(monkeypatch):
    """A fault: each batch adds twice what it started to stock and to every counter. The
    material totals close; the plant's started-versus-made check names it."""
    from simulator.components import plant as plant_module

    real = plant_module.Plant._finish
    monkeypatch.setattr(plant_module.Plant, "_finish", lambda self, qty: (real(self, qty), self._bonus(qty)))
    monkeypatch.setattr(plant_module.Plant, "_bonus", lambda self, qty: (
        self.stock.__setitem__(self.output, self.stock[self.output] + qty),
        self.made_t.__setitem__(self.output, self.made_t[self.output] + qty),
        self.ledger.produced_t.__setitem__(self.output, self.ledger.produced_t[self.output] + qty)), raising=False)
    model = _tiny_model()
    plants = [name for name, fac in model.facilities.items() if fac.kind == "plant"]
    with pytest.raises(MassBalanceError, match=rf"{plants[0]}: .*started .* in batches"):
        model.run()


def test_stock_that_appears_from_nowhere_fails_the_facility_balance(monkeypatch):
    """A fault: a delivery adds 10% more to the buyer's stock than the shipment carried, and the
    run-wide counters are bent to match. The buyer's own books (received from the shipments
    table) name it."""
    from simulator.components import facility as facility_module

    real = facility_module.Facility.receive

    def generous(self, lane, tonnes):
        self.ledger.produced_t[lane.material] += 0.1 * tonnes
        real(self, lane, 1.1 * tonnes)
        self.inputs[lane.material].on_order_t += 0.1 * tonnes

    monkeypatch.setattr(facility_module.Facility, "receive", generous)
    with pytest.raises(MassBalanceError, match=r"opening \+ made \+ received \+ returned - sent - used"):
        _tiny_model().run()


def test_a_non_finite_total_fails_the_balance():
    """A bill of materials of 1e308 kg per unit overflows the consumption: never a pass."""
    data = yaml.safe_load(TINY.read_text())
    sector = next(name for name, f in data["facilities"].items() if f["type"] == "sector")
    data["facilities"][sector]["bom_kg_per_unit"] = {k: 1.0e308 for k in data["facilities"][sector]["bom_kg_per_unit"]}
    try:
        model = Model(parse_scenario(yaml.safe_dump(data), "tiny.yaml", {}), seed=1)
    except Exception:  # rejected at validation (bounds): also not a pass
        return
    with pytest.raises(MassBalanceError):
        model.run()
