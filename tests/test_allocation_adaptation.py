"""Suppliers that allocate and buyers that adapt (issue 11, parts 3 and 4), on small hand-made
worlds whose answers are worked out by hand: allocation rules for short stock, safety stock that
follows observed lead times, and pre-buying between a control's announcement and its effect."""

import math
from types import SimpleNamespace

import pytest
import simpy
import yaml

from simulator import Model, parse_scenario
from simulator.components import ALLOCATIONS, BanControl, Depot, Lane, Ledger, OrderUpTo, Sector
from simulator.components.adaptation import AdaptiveCover, AdaptiveCoverRule
from simulator.loading import ScenarioError

from test_core_rules import go, outage, world

NEVER = OrderUpTo(review_days=1000, target_days=0)

# ----------------------------------------------------------------------------- 1. allocation


def short_supply(rule: str, params: dict | None = None, refuse_de: bool = False):
    """A Chinese depot with nothing in stock receives, in this order, orders of 8 t from a German
    line, 4 t from a Chinese line and 6 t from a US line (lanes without transit); then 10 t reach
    its stock and it serves its queue by ``rule``. ``refuse_de``: a ban refuses every shipment
    to Germany at the border. Returns (ledger, depot, {buyer: its order})."""
    env, ledger = simpy.Environment(), Ledger()
    depot = Depot(env, "cn_depot", "CN", {"mag": 365}, initial_stock_t={"mag": 0}, policy=NEVER, ledger=ledger)
    depot.allocation = ALLOCATIONS[rule](**(params or {}))
    controls = []
    if refuse_de:
        ban = BanControl(env, "ban", "CN", ["mag"], "refuse", destinations=["DE"])
        ban.in_force = True
        controls.append(ban)
    orders = {}
    for name, country, tonnes in (("de", "DE", 8.0), ("cn", "CN", 4.0), ("us", "US", 6.0)):
        buyer = Sector(env, name, country, 0, {"mag": 1.0}, initial_stock_t={"mag": 0}, policy=NEVER, ledger=ledger)
        Lane(env, depot, buyer, "mag", {"road": 0}, controls=controls)
        buyer.inputs["mag"].order(tonnes)
        orders[name] = buyer.inputs["mag"].open_orders[-1]
    depot.stock["mag"] += 10.0
    depot.serve("mag")
    return ledger, depot, orders


def shipped(ledger: Ledger, outcome: str = "delivered") -> dict:
    rows = ledger.records.shipments.to_frame()
    rows = rows[rows["outcome"] == outcome]
    return rows.groupby("buyer", observed=True)["tonnes"].sum().to_dict()


# 10 t for orders of 8 (DE, first), 4 (CN, domestic) and 6 t (US):
#   fcfs           DE 8, then CN the 2 t left;
#   pro_rata       each 10/18 of its order: DE 80/18 = 4.444, CN 40/18 = 2.222, US 60/18 = 3.333;
#   domestic_first CN 4 (the depot is in China), then DE 6 (first of the rest);
#   tiers          {us: 1, de: 2}: US 6, DE the 4 t left, CN (not listed) nothing.
SPLITS = {
    "fcfs": ({}, {"de": 8.0, "cn": 2.0}),
    "pro_rata": ({}, {"de": 80 / 18, "cn": 40 / 18, "us": 60 / 18}),
    "domestic_first": ({}, {"cn": 4.0, "de": 6.0}),
    "tiers": ({"tiers": {"us": 1, "de": 2}}, {"us": 6.0, "de": 4.0}),
}


@pytest.mark.parametrize("rule", SPLITS)
def test_a_short_supply_is_split_by_the_rule(rule):
    """The splits of SPLITS; the rest of every order waits in the backlog, and 10 t more fill
    all of them (18 t ordered in all) and leave 2 t in stock."""
    params, expected = SPLITS[rule]
    ledger, depot, orders = short_supply(rule, params)
    assert shipped(ledger) == pytest.approx(expected, abs=1e-12)
    assert depot.stock["mag"] == pytest.approx(0.0, abs=1e-12)
    assert depot.backlog_t("mag") == pytest.approx(8.0, abs=1e-12)
    depot.stock["mag"] += 10.0
    depot.serve("mag")
    assert shipped(ledger) == pytest.approx({"de": 8.0, "cn": 4.0, "us": 6.0}, abs=1e-12)
    assert depot.stock["mag"] == pytest.approx(2.0, abs=1e-12) and not depot.backlog["mag"]


# What Germany is refused goes back to stock and, by the same rule, to the others:
#   fcfs           DE 8 refused, then CN 4, US 6;
#   pro_rata       round 1: DE 4.444 refused, CN 2.222, US 3.333; round 2: the 4.444 t returned
#                  exactly cover what CN (1.778) and US (2.667) still lack;
#   domestic_first CN 4, DE 6 refused, then US 6;
#   tiers          US 6, DE 4 refused, then CN 4.
REFUSED_DE = {"fcfs": 8.0, "pro_rata": 80 / 18, "domestic_first": 6.0, "tiers": 4.0}


@pytest.mark.parametrize("rule", SPLITS)
def test_volume_refused_for_one_destination_goes_to_the_others(rule):
    """A ban refuses shipments to Germany: China and the US get all they ordered (4 t and 6 t),
    Germany's refused shipment is as above, and nothing stays in stock."""
    ledger, depot, _ = short_supply(rule, SPLITS[rule][0], refuse_de=True)
    assert shipped(ledger) == pytest.approx({"cn": 4.0, "us": 6.0}, abs=1e-12)
    assert shipped(ledger, "refused") == pytest.approx({"de": REFUSED_DE[rule]}, abs=1e-12)
    assert depot.stock["mag"] == pytest.approx(0.0, abs=1e-12)


def test_an_order_withdrawn_is_not_allocated():
    """Pro rata among the orders still queued: the US order is withdrawn before stock comes, so
    10 t split over DE 8 and CN 4: 80/12 = 6.667 and 40/12 = 3.333."""
    env, ledger = simpy.Environment(), Ledger()
    depot = Depot(env, "cn_depot", "CN", {"mag": 365}, initial_stock_t={"mag": 0}, policy=NEVER, ledger=ledger)
    depot.allocation = ALLOCATIONS["pro_rata"]()
    for name, country, tonnes in (("de", "DE", 8.0), ("cn", "CN", 4.0), ("us", "US", 6.0)):
        buyer = Sector(env, name, country, 0, {"mag": 1.0}, initial_stock_t={"mag": 0}, policy=NEVER, ledger=ledger)
        Lane(env, depot, buyer, "mag", {"road": 0})
        buyer.inputs["mag"].order(tonnes)
    us_order = depot.backlog["mag"][-1]
    assert depot.cancel_order(us_order) == 6.0
    depot.stock["mag"] += 10.0
    depot.serve("mag")
    assert shipped(ledger) == pytest.approx({"de": 80 / 12, "cn": 40 / 12}, abs=1e-12)


def test_pro_rata_shares_by_buyer_and_fills_its_orders_oldest_first():
    """Germany's 8 t come as two orders, 5 t then 3 t: its share is still 10 x 8/18 = 4.444 t,
    all of it (one shipment) to its older order; the newer one gets nothing yet."""
    env, ledger = simpy.Environment(), Ledger()
    depot = Depot(env, "cn_depot", "CN", {"mag": 365}, initial_stock_t={"mag": 0}, policy=NEVER, ledger=ledger)
    depot.allocation = ALLOCATIONS["pro_rata"]()
    for name, country, parts in (("de", "DE", (5.0, 3.0)), ("cn", "CN", (4.0,)), ("us", "US", (6.0,))):
        buyer = Sector(env, name, country, 0, {"mag": 1.0}, initial_stock_t={"mag": 0}, policy=NEVER, ledger=ledger)
        Lane(env, depot, buyer, "mag", {"road": 0})
        for tonnes in parts:
            buyer.inputs["mag"].order(tonnes)
    depot.stock["mag"] += 10.0
    depot.serve("mag")
    rows = ledger.records.shipments.to_frame()
    assert rows["buyer"].astype(str).tolist() == ["de", "cn", "us"] and rows["order_id"].tolist() == [1, 3, 4]
    assert rows["tonnes"].tolist() == pytest.approx([80 / 18, 40 / 18, 60 / 18], abs=1e-12)


def _allocating_world(allocation=None, timeline=()) -> dict:
    """A Chinese mine making 1 t a day, with nothing in stock, for a Chinese and a German line
    using 1 t a day each (20 t opening stock, 20-day target, 10 days by sea)."""
    data = world(("CN", "DE"), timeline=timeline, warmup_days=0, horizon_days=200)
    data["facilities"]["cn_mine"].update(capacity_t_per_year=365, initial_stock_t=0)
    if allocation is not None:
        data["facilities"]["cn_mine"]["allocation"] = allocation
    return data


def test_domestic_first_keeps_the_home_line_running():
    """Half the supply the two lines need. First come, first served shares it and both lines
    lose output; domestic first gives the Chinese line all it orders (its order of each day is
    filled the next morning, before any German one), so it never stops, and Germany bears it all."""
    fcfs, home_first = go(_allocating_world()), go(_allocating_world("domestic_first"))
    assert outage(fcfs, "cn_line")["units_lost"] > 0 and outage(fcfs, "de_line")["units_lost"] > 0
    assert outage(home_first, "cn_line")["units_lost"] == 0.0
    assert outage(home_first, "de_line")["units_lost"] > outage(fcfs, "de_line")["units_lost"]


def test_fcfs_named_is_the_default_to_the_byte():
    """``allocation: fcfs`` written out gives the same tables as leaving it out."""
    default, named = go(_allocating_world()), go(_allocating_world("fcfs"))
    for name, table in default.tables.items():
        assert table.equals(named.tables[name]), name


def test_allocation_set_mid_run():
    """``set`` of allocation on 1 April gives the mine its new rule (tiers) from then on."""
    data = _allocating_world(timeline=[{"date": "2025-04-01", "action": "set", "path": "facilities.cn_mine.allocation",
                                        "value": {"rule": "tiers", "tiers": {"cn_line": 0}}}])
    model = Model(parse_scenario(yaml.safe_dump(data, sort_keys=False), "rules.yaml", {}), seed=1)
    assert model.facilities["cn_mine"].allocation is None
    model.run()
    assert model.facilities["cn_mine"].allocation.tiers == {"cn_line": 0}


@pytest.mark.parametrize(("allocation", "message"), [
    ({"rule": "tiers", "tiers": {"au_line": 1}}, "allocation.tiers.au_line: expected a buyer on a lane from 'cn_mine'"),
    ("tiers", "allocation: expected {rule: tiers, tiers: {<buyer>: <tier>, ...}} (the rule needs its tiers), got 'tiers'"),
    ("by_lottery", "allocation.rule: expected one of 'fcfs', 'pro_rata', 'domestic_first', 'tiers', got 'by_lottery'"),
])
def test_allocation_problems_are_reported(allocation, message):
    data = _allocating_world(allocation)
    data["facilities"]["au_mine"] = {**data["facilities"]["cn_mine"], "country": "AU"}
    data["facilities"]["au_mine"].pop("allocation", None)
    data["facilities"]["au_line"] = {**data["facilities"]["de_line"], "country": "AU"}
    data["lanes"].append({**data["lanes"][-1], "supplier": "au_mine", "buyer": "au_line"})
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(yaml.safe_dump(data, sort_keys=False), "rules.yaml", {})
    assert any(message in line for line in caught.value.lines), caught.value.lines


# ----------------------------------------------------------------------------- 2. adaptive cover

def _lead_times_double(adaptive: dict | None, horizon_days: int = 300, timeline=()) -> Model:
    """A German line (1 t a day, order-up-to 20 days, reviewed daily, 20 t opening stock) buys
    from a Chinese mine 10 days away; an Australian mine 20 days away is its second choice. From
    11 January (day 10) China refuses every shipment, and the line avoids China for good.

    Day 0's review finds 20 t and orders nothing; from day 1 the line orders 1 t a day: from
    China on days 1..9 (delivered days 11..19, lead time 10 = the normal one, the Chinese lane's
    transit), from Australia from day 10 (the day-10 order is refused and re-ordered at once;
    delivered from day 30 on, every day, lead time 20)."""
    data = world(("DE",), {"ban": {"instrument": "ban", "exporter": "CN", "materials": ["mag"], "on_block": "refuse"}},
                 [{"date": "2025-01-11", "action": "impose", "control": "ban"}, *timeline], warmup_days=0,
                 horizon_days=horizon_days)
    data["facilities"]["cn_mine"].update(capacity_t_per_year=0, initial_stock_t=10000)
    data["facilities"]["au_mine"] = {**data["facilities"]["cn_mine"], "country": "AU"}
    data["lanes"].append({"supplier": "au_mine", "buyer": "de_line", "material": "mag", "priority": 2,
                          "modes": {"sea": {"transit_days": 20}}})
    line = data["facilities"]["de_line"]
    line["resource_after_denial_days"] = 3650  # longer than any horizon here: for good
    if adaptive is not None:
        line["adaptive_cover"] = adaptive
    return Model(parse_scenario(yaml.safe_dump(data, sort_keys=False), "rules.yaml", {}), seed=1)


def _extra_by_day(model: Model, days: int) -> list[float]:
    """Extra cover after each day's deliveries (in the middle of each day)."""
    line, out = model.facilities["de_line"].inputs["mag"], []
    for day in range(days):
        model.env.run(until=day + 0.5)
        out.append(line.extra_cover_days())
    return out


def expected_extra(day: int, weight: float = 1.0, cap: float = 60.0, tau: float = 30.0) -> float:
    """The smoothed lead time L stays at 10 through day 19 (every delivery takes 10 days). The
    next deliveries come on day 30 and then daily, each 20 days after its order: day 30 folds in
    Δ = 11 days since day 19, each later day 1, so on a day t >= 30 (after its delivery, which
    comes before the review) L = 20 - 10 exp(-(t - 19) / τ), and the extra cover is
    min(cap, weight x (L - 10)) = min(cap, 10 weight (1 - exp(-(t - 19) / τ)))."""
    if day < 30:
        return 0.0
    return min(cap, weight * 10.0 * (1.0 - math.exp(-(day - 19) / tau)))


def test_cover_rises_with_lead_times_by_the_smoothed_difference():
    """Lead times double (10 -> 20 days) with weight 1 and 30-day smoothing: the extra cover
    follows expected_extra exactly (day 49: 10 (1 - e^-1) = 6.32 days) and converges to exactly
    10 days (the lead time's rise); after 1219 days (40 time constants, e^-40 = 4e-18) the line's
    position in the middle of a day is the raised target 30 t less the day's use: 29 t (19 t
    without adaptive cover)."""
    model = _lead_times_double({"lead_time_weight": 1.0, "max_extra_days": 60, "smoothing_days": 30}, horizon_days=1300)
    extra = _extra_by_day(model, 60)
    assert extra == pytest.approx([expected_extra(d) for d in range(60)], abs=1e-12)
    assert extra[49] == pytest.approx(10 * (1 - math.exp(-1)), abs=1e-12)
    model.env.run(until=1219.5)
    line = model.facilities["de_line"].inputs["mag"]
    assert line.extra_cover_days() == pytest.approx(10.0, abs=1e-9)
    assert line.position_t() == pytest.approx(29.0, abs=1e-6)
    plain = _lead_times_double(None, horizon_days=1300)
    plain.env.run(until=1219.5)
    assert plain.facilities["de_line"].inputs["mag"].position_t() == pytest.approx(19.0, abs=1e-6)


def test_extra_cover_never_exceeds_the_cap():
    """The same world with weight 2 and a cap of 4 days: 20 (1 - exp(-(t - 19)/30)) first reaches 4
    on day 26 (t - 19 >= 30 ln(20/16) = 6.7), but no 20-day delivery has come before day 30, so
    the cover jumps from 0 to 20 (1 - e^(-11/30)) = 6.14 capped: 4 from day 30, and never more."""
    model = _lead_times_double({"lead_time_weight": 2.0, "max_extra_days": 4, "smoothing_days": 30}, horizon_days=200)
    extra = _extra_by_day(model, 200)
    assert extra == [expected_extra(d, weight=2.0, cap=4.0) for d in range(200)]
    assert max(extra) == 4.0 and extra[29] == 0.0 and extra[30] == 4.0


def test_smoothing_pools_a_day_and_relaxes_at_its_own_pace():
    """Normal lead time 10 days, smoothing 10 days, relax 40 days, weight 1, cap 60.
    Day 1: 1 t after 20 days and 1 t after 30 days count as their mean, 25, once:
    L = 10 + (1 - e^-0.1) x 15 = 11.427. Day 3: 2 t after 5 days (below L) relax over 40 days:
    L = 11.427 + (1 - e^(-2/40)) (5 - 11.427) = 11.114. Then lead times of 5 days for 200 more
    days bring L below 10: no extra cover (never negative)."""
    env = SimpleNamespace(now=0.0)
    line = SimpleNamespace(facility=SimpleNamespace(env=env), lanes=[])
    cover = AdaptiveCover(AdaptiveCoverRule(1.0, 60.0, 10.0, 40.0, 10.0), line)
    cover.observe(1.0, 20.0, 1.0)
    cover.observe(1.0, 30.0, 1.0)
    day1 = 10 + (1 - math.exp(-0.1)) * 15
    assert cover.level == pytest.approx(day1, abs=1e-12)
    assert cover.extra_days(1.0) == pytest.approx(day1 - 10, abs=1e-12)
    cover.observe(3.0, 5.0, 2.0)
    day3 = day1 + (1 - math.exp(-2 / 40)) * (5 - day1)
    assert cover.level == pytest.approx(day3, abs=1e-12)
    for day in range(4, 204):
        cover.observe(float(day), 5.0, 1.0)
    assert cover.level < 10 and cover.extra_days(204.0) == 0.0


def test_adaptive_cover_set_mid_run_with_a_learned_normal():
    """Set on the timeline on 6 January (day 5; weight 1, normal `learned`): the normal lead time
    is the smoothed one when it is set, 10 days (nothing has been late yet), so the extra cover
    afterwards is expected_extra's, as with `transit`."""
    model = _lead_times_double(None, horizon_days=100, timeline=[
        {"date": "2025-01-06", "action": "set", "path": "facilities.de_line.adaptive_cover",
         "value": {"normal_lead_days": "learned"}}])
    extra = _extra_by_day(model, 60)
    assert extra == pytest.approx([expected_extra(d) for d in range(60)], abs=1e-12)
    assert model.facilities["de_line"].inputs["mag"].adaptive_cover.normal == 10.0


# ----------------------------------------------------------------------------- 3. pre-buying

BAN_DE = {"instrument": "ban", "exporter": "CN", "materials": ["mag"], "destinations": {"include": ["DE"]}}
# Announced 31 January (day 30 of the run, t = 60 with the 30-day warm-up), in force 2 March (t = 90).
ANNOUNCED_BAN = [{"date": "2025-03-02", "action": "impose", "control": "ban", "announced": "2025-01-31"}]


def _prebuy_world(prebuy: dict | None) -> dict:
    data = world(("DE", "US"), {"ban": BAN_DE}, ANNOUNCED_BAN)
    if prebuy is not None:
        for name in ("de_line", "us_line"):
            data["facilities"][name]["prebuy_on_announcement"] = prebuy
    return data


def ordered_by_day(model: Model, buyer: str, start: float, end: float) -> dict[int, float]:
    rows = model.ledger.records.shipments.to_frame()
    rows = rows[(rows["buyer"] == buyer) & (rows["t_ordered"] >= start) & (rows["t_ordered"] < end)]
    return {int(t): round(v, 9) for t, v in rows.groupby("t_ordered")["tonnes"].sum().items()}


@pytest.mark.parametrize(("scope", "us_prebuys"), [("covered", False), ("exporter", True)])
def test_buyers_prebuy_between_announcement_and_effect(scope, us_prebuys):
    """Each line is in steady state (9 t on hand, 10 t at sea, one day's use ordered each
    morning). The ban on shipments to Germany is announced at t = 60: the announcement comes
    before that day's review (timeline events first), so the German line's target rises from 20
    to 50 t and it orders 1 + 30 = 31 t that morning, then 1 t a day to t = 89: 60 t in the 30
    days instead of 30. At t = 90 the ban takes effect and the raised cover ends; the position
    (49 t) is above 20, so the line orders nothing until t = 120. The US line's lane is not
    covered: with scope `covered` it orders 1 t a day; with `exporter` (any lane from China) it
    pre-buys as well."""
    model = Model(parse_scenario(yaml.safe_dump(_prebuy_world({"extra_days": 30, "scope": scope}), sort_keys=False),
                                 "rules.yaml", {}), seed=1)
    model.run()
    de = ordered_by_day(model, "de_line", 55, 125)
    assert de == {**{t: 1.0 for t in range(55, 60)}, 60: 31.0, **{t: 1.0 for t in range(61, 90)}, 120: 1.0, 121: 1.0,
                  122: 1.0, 123: 1.0, 124: 1.0}
    us = ordered_by_day(model, "us_line", 55, 90)
    assert sum(us.values()) == (65.0 if us_prebuys else 35.0)
    assert us[60] == (31.0 if us_prebuys else 1.0)
    events = model.ledger.records.events.to_frame()
    announce = events[events["action"] == "announce"]
    assert announce["t"].tolist() == [60.0]
    expected = "de_line mag, us_line mag" if us_prebuys else "de_line mag"
    assert announce["detail"].astype(str).tolist() == [f"in force from 2025-03-02; pre-buying: {expected}"]


def test_prebuying_delays_the_stop_by_the_extra_days():
    """Without pre-buying the German line has 9 + 10 = 19 days of use when the ban holds its
    goods at t = 90 (2 March): it stops on day 79 of the run, 21 March. Pre-buying 30 days gave it
    39 t on hand + 10 t at sea at t = 90: 49 days, so it first stops 30 days later, on 20 April.
    The US line never stops."""
    plain, prebuying = go(_prebuy_world(None)), go(_prebuy_world({"extra_days": 30}))
    assert outage(plain, "de_line")["first_stop"] == "2025-03-21"
    assert outage(prebuying, "de_line")["first_stop"] == "2025-04-20"
    assert outage(prebuying, "de_line")["units_lost"] == outage(plain, "de_line")["units_lost"] - 30000
    assert outage(prebuying, "us_line")["units_lost"] == 0.0


def test_without_prebuying_an_announcement_adds_no_event():
    """The default: announcements are not scheduled, so runs are as before (the same SimPy events)."""
    model = Model(parse_scenario(yaml.safe_dump(_prebuy_world(None), sort_keys=False), "rules.yaml", {}), seed=1)
    with_prebuy = Model(parse_scenario(yaml.safe_dump(_prebuy_world({"extra_days": 0}), sort_keys=False),
                                       "rules.yaml", {}), seed=1)
    assert with_prebuy.events_processed() == model.events_processed() + 1


def test_an_announcement_after_the_effective_date_is_an_error():
    data = world(("DE",), {"ban": BAN_DE}, [{**ANNOUNCED_BAN[0], "announced": "2025-03-05"}])
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(yaml.safe_dump(data, sort_keys=False), "rules.yaml", {})
    assert any("announced: expected a date on or before 2025-03-02, got 2025-03-05" in line for line in caught.value.lines)
