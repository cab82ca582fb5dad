"""The market layer (issue 12) on tiny hand-made worlds whose answers are worked out by hand:
the price rule, thrifting and substitution, demand destruction, new supply, hoarding, stockpile
releases on a price trigger, the world premium from goods held at the exporter's controls, and
that a scenario without `markets` (or with prices alone) runs exactly as before.

The world (tests/test_core_rules.py ``world``): a Chinese mine -> one line per country, each
using 1 t of `mag` a day (1,000 units of 1 kg), order-up-to 20 days reviewed daily, 10 days by
sea. After the 30-day warm-up a line ends each day with 9 t on hand (and 10 t on the water), so
the market layer, updated once a day after the day's production and deliveries, reads a cover
of 9 days. The start date 2025-01-01 is day 0 (simulation time 30).
"""

from __future__ import annotations

import filecmp
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from simulator import Model, load_scenario, parse_scenario, run
from simulator.components import Levers, Substitution
from simulator.loading import ScenarioError
from simulator.report import build_run_report
from simulator.results import write_run
from simulator.table_dates import to_text
from test_core_rules import world

T0 = 30.0  # simulation time of the start date (the warm-up)
DATA = Path(__file__).parent / "data"


def with_markets(markets: dict, countries=("DE",), **kw) -> dict:
    data = world(countries, **kw)
    data["markets"] = {"exporter": "CN", "smoothing_days": 0, "reference_window_days": 10, **markets}
    return data


def price(**rule) -> dict:
    return {"mag": {"reference_per_kg": 50.0, **rule}}


FORCED = price(normal_cover_days=1000)  # cover 9 against a normal 1000: the index sits at its ceiling 4


def go(data: dict, seed: int = 1):
    """A run of ``data``; its tables' days as ISO text ('' where none), as the CSV files hold them."""
    result = run(parse_scenario(yaml.safe_dump(data, sort_keys=False), "markets.yaml", {}), seed=seed, keep_model=True)
    result.tables = {name: to_text(table) for name, table in result.tables.items()}
    return result


def daily(result, table: str, **where):
    """The raw daily rows of a market record table, with ``d`` = days from the start date."""
    frame = getattr(result.model.ledger.records, table).to_frame()
    for column, value in where.items():
        frame = frame[frame[column].astype(str) == value]
    return frame.assign(d=(frame["t"] - T0).round().astype(int)).set_index("d")


# ----------------------------------------------------------------------------- 1. prices

def test_learned_normal_cover_gives_the_reference_price():
    """Normal cover = the mean cover of the warm-up's last 10 days = 9 (steady state), and the
    cover stays 9: index (9 / 9) ^ 1 = 1 every day, so the price is the reference, $50/kg."""
    r = go(with_markets({"materials": price()}))
    p = daily(r, "prices")
    assert set(p["normal_cover_days"]) == {9.0} and set(p["cover_days"]) == {9.0}
    assert set(p["index"]) == {1.0} and set(p["price_per_kg"]) == {50.0}
    monthly = r.tables["prices_monthly"]
    assert list(monthly["month"]) == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert set(monthly["market"]) == {"world"} and set(monthly["price_per_kg"]) == {50.0}


@pytest.mark.parametrize(("normal", "elasticity", "index"), [
    (9.0, 1.0, 1.0),     # normal cover: the reference
    (18.0, 1.0, 2.0),    # the buyers hold half their normal cover: 2 x
    (4.5, 1.0, 0.5),     # twice their normal cover: 0.5 x (the floor, 0.5, is not below it)
    (18.0, 2.0, 4.0),    # elasticity 2: (18 / 9) ^ 2 = 4
    (54.0, 1.0, 5.0),    # 54 / 9 = 6, capped at the ceiling 5 of this test
])
def test_the_price_rule_without_smoothing(normal, elasticity, index):
    """smoothing_days 0: the index is its target from the first day, (normal / 9) ^ elasticity
    between floor 0.5 and ceiling 5."""
    r = go(with_markets({"materials": price(normal_cover_days=normal, elasticity=elasticity, ceiling=5.0)}))
    p = daily(r, "prices")
    assert p["index"].to_numpy() == pytest.approx([index] * len(p), abs=1e-12)
    assert p["price_per_kg"].to_numpy() == pytest.approx([50.0 * index] * len(p), abs=1e-9)


def test_smoothing_converges_to_the_rule():
    """smoothing_days 30, target 2 (half the normal cover): the index starts at 1 and each daily
    update moves it 1 - e^(-1/30) of the way, so after the n-th update (n = 1 on the start date)
    it is 2 - e^(-n/30): 2 - e^(-1/30) on day 0, 2 - e^(-3) on day 89, and 2 within e^(-20) = 2.06e-9 on day 599."""
    data = with_markets({"smoothing_days": 30, "materials": price(normal_cover_days=18.0)}, horizon_days=600)
    p = daily(go(data), "prices")["index"]
    for d in (0, 10, 89, 300):
        assert p[d] == pytest.approx(2.0 - math.exp(-(d + 1) / 30.0), abs=1e-12)
    assert p[599] == pytest.approx(2.0, abs=2.1e-9)


def test_quota_waiting_tonnes_feed_the_world_premium():
    """A quota of 0 t a month on shipments leaving China from day 0 (a quota_2010 in small): every
    order of the German line (1 t each morning) waits at the quota, held = d + 1 t on day d.
    Normal monthly flow to the world market = 1 t/day x (all of it from China) x 365/12. Premium
    0.5 per month held: 0.5 (d + 1) / (365/12). The line's cover stays 9 until the last goods at
    sea arrive (day 9) and then falls 1 a day: index = 9 / cover + premium, 1.164384 on day 9 and
    9/5 + 0.5 x 14 / 30.41667 on day 13. The Chinese line (domestic market, no quota) stays at 1."""
    quota = {"q": {"instrument": "quota", "exporter": "CN", "materials": ["mag"], "tonnes_per_period": 0, "period": "month"}}
    data = with_markets({"materials": price(normal_cover_days=9, premium_per_month_held=0.5)}, ("DE", "CN"),
                        controls=quota, timeline=[{"date": "2025-01-01", "action": "impose", "control": "q"}], horizon_days=30)
    r = go(data)
    world_ = daily(r, "prices", market="world")
    month = 365 / 12
    for d in range(0, 10):
        assert world_.loc[d, "premium"] == pytest.approx(0.5 * (d + 1) / month, abs=1e-12)
        assert world_.loc[d, "index"] == pytest.approx(1.0 + 0.5 * (d + 1) / month, abs=1e-12)
    assert world_.loc[13, "index"] == pytest.approx(9 / 5 + 0.5 * 14 / month, abs=1e-12)
    assert set(daily(r, "prices", market="domestic")["index"]) == {1.0}


# ----------------------------------------------------------------------------- 2. demand response

def substitution(**rule) -> dict:
    return {"facilities": ["de_line"], "material": "mag",
            "substitution": {"threshold": 1.5, "lag_days": 30, "max_reduction_per_year": 0.1, "max_reduction": 0.05, **rule}}


def test_substitution_starts_after_its_lag_and_never_beats_its_annual_cap():
    """A forced high price (index 4 from day 0, above the full-rate index 2 x 1.5 = 3: top pace).
    The index has been above the threshold since day 0; the bill shrinks on days that are more
    than 30 days into that spell, 0.1 / 365 of the base a day: intensity 1 on days 0-30,
    1 - 0.1 (d - 30) / 365 from day 31, until the cap of 5% on day 213 (183 days x 0.1/365 >
    0.05 > 182 x 0.1/365). So the bill never falls by more than 10% of the base in any year, and
    every change is a new entry of the conversion history (183 changes) that the mass balance
    checks (the run raises MassBalanceError if bill x units made != magnets used)."""
    r = go(with_markets({"materials": FORCED, "responses": [substitution()]}, horizon_days=300))
    bom = daily(r, "market_responses", kind="bom_intensity")["value"]
    for d in range(0, 31):
        assert bom[d] == 1.0
    for d in (31, 100, 212):
        assert bom[d] == pytest.approx(1.0 - 0.1 * (d - 30) / 365, abs=1e-12)
    assert (bom.loc[213:] == 0.95).all()
    assert (bom.diff().dropna() >= -0.1 / 365 - 1e-15).all()   # never faster than the cap's pace
    assert r.model.facilities["de_line"].bom_kg_per_unit == {"mag": pytest.approx(0.95, abs=1e-12)}
    assert len(r.model.conversions["de_line"]) == 1 + 183


def test_no_substitution_while_the_price_stays_below_the_threshold():
    """The learned normal cover gives index 1 < 1.5 all run: the bill never changes."""
    r = go(with_markets({"materials": price(), "responses": [substitution()]}, horizon_days=300))
    assert set(daily(r, "market_responses", kind="bom_intensity")["value"]) == {1.0}
    assert len(r.model.conversions["de_line"]) == 1


def test_substitution_is_partly_undone_when_the_price_falls():
    """The rule on its own, one update a day: threshold 1, lag 5 days, top pace 0.365 a year
    (0.001 a day) at index 2. 25 days at index 2 (days 0-24; growth on days 6-24): r = 0.019;
    the bill 2 kg x 0.981. 20 days at 0.5: r falls 0.001 a day to the irreversible half of the
    peak, 0.0095, reached after 10 days, and stays. Back at index 1.5 (pace 0.5) the lag starts
    again: growth of 0.0005 a day from 6 days into the new spell."""
    fac = SimpleNamespace(name="s", bom_kg_per_unit={"mag": 2.0, "other": 1.0}, units_per_year=365.0)
    levers = Levers(fac, lambda field, value: setattr(fac, field, value))
    index = SimpleNamespace(index=2.0, material="mag")
    rule = Substitution(levers, "mag", index, threshold=1.0, max_reduction_per_year=0.365, max_reduction=0.5,
                        lag_days=5, full_rate_index=2.0, reversible_share=0.5)
    day = 0
    for _ in range(25):
        rule.update(day, 1.0)
        day += 1
    assert rule.reduction == pytest.approx(0.019, abs=1e-12)
    assert fac.bom_kg_per_unit == {"mag": pytest.approx(2 * 0.981, abs=1e-12), "other": 1.0}
    index.index = 0.5
    for k in range(20):
        rule.update(day, 1.0)
        day += 1
        assert rule.reduction == pytest.approx(max(0.0095, 0.019 - 0.001 * (k + 1)), abs=1e-12)
    index.index = 1.5
    for _ in range(6):  # days 45-50: the new spell's lag
        rule.update(day, 1.0)
        day += 1
    assert rule.reduction == pytest.approx(0.0095, abs=1e-12)
    rule.update(day, 1.0)
    assert rule.reduction == pytest.approx(0.0095 + 0.0005, abs=1e-12)


def test_demand_destruction_follows_the_smoothed_price():
    """Forced index 4, elasticity 0.5: units tend to 365,000 x 4^-0.5 = 182,500 a year with a
    10-day time constant, f_n = 0.5 + 0.5 e^(-n/10) after n daily updates (n = 1 on day 0), and a
    day's plan is the units per year set the evening before / 365."""
    demand = {"facilities": ["de_line"], "material": "mag", "demand": {"elasticity": 0.5, "smoothing_days": 10}}
    r = go(with_markets({"materials": FORCED, "responses": [demand]}, horizon_days=60))
    units = daily(r, "market_responses", kind="units_per_year")["value"]
    for d in (0, 5, 30, 59):
        assert units[d] == pytest.approx(365000 * (0.5 + 0.5 * math.exp(-(d + 1) / 10)), rel=1e-12)
    plan = r.tables["production_daily"].set_index("date")["planned_units"]
    assert plan["2025-01-01"] == pytest.approx(1000.0, abs=1e-9)
    assert plan["2025-01-06"] == pytest.approx(units[4] / 365, rel=1e-12)


def test_demand_does_not_rise_when_prices_are_below_the_reference():
    """Index 0.5 (twice the normal cover): units stay at their base."""
    demand = {"facilities": ["de_line"], "material": "mag", "demand": {"elasticity": 0.5, "smoothing_days": 0}}
    r = go(with_markets({"materials": price(normal_cover_days=4.5), "responses": [demand]}))
    assert set(daily(r, "market_responses", kind="units_per_year")["value"]) == {365000.0}


# ----------------------------------------------------------------------------- 3. new supply

def us_mine_world(markets: dict, new_supply: dict, horizon_days: int = 120) -> dict:
    """The world plus an idle US mine (capacity 0) with a lane to the German line."""
    data = with_markets({**markets, "new_supply": [{"facility": "us_mine", "trigger_index": 2, "trigger_days": 10,
                                                     "lead_days": 50, "capacity_t_per_year": 36500, **new_supply}]},
                        horizon_days=horizon_days)
    data["facilities"]["us_mine"] = {"type": "mine", "country": "US", "material": "mag", "capacity_t_per_year": 0, "batch_days": 1}
    data["lanes"].append({"supplier": "us_mine", "buyer": "de_line", "material": "mag", "modes": {"sea": {"transit_days": 10}}})
    return data


def test_new_supply_arrives_exactly_after_its_lead_time():
    """Forced index 4 > 2 from day 0: committed after 10 days above the trigger (day 10,
    2025-01-11, in events.csv), output 50 days later, day 60 (2 March), at once (no ramp): 0
    t/yr added before, 36,500 from then. Its lane joins the line's lanes that day (the line's
    review that day came first), so the line's first order from the US mine is of 3 March."""
    r = go(us_mine_world({"materials": FORCED}, {}))
    added = daily(r, "market_responses", kind="capacity_added_t_per_year")["value"]
    assert (added.loc[:59] == 0.0).all() and (added.loc[60:] == 36500.0).all()
    events = r.tables["events"]
    row = events[events["action"] == "new supply"].iloc[0]
    assert row["date"] == "2025-01-11" and row["target"] == "us_mine"
    assert "output from 2025-03-02" in row["detail"]
    lt = r.lead_times
    assert lt[lt["supplier"] == "us_mine"]["ordered"].min() == "2025-03-03"


def test_new_supply_ramps_linearly():
    """ramp_days 40: capacity 36,500 x (d - 60) / 40 on days 60-100, e.g. 9,125 t/yr on day 70."""
    r = go(us_mine_world({"materials": FORCED}, {"ramp_days": 40}))
    added = daily(r, "market_responses", kind="capacity_added_t_per_year")["value"]
    assert added[59] == 0.0 and added[60] == 0.0 and added[70] == pytest.approx(9125.0, abs=1e-9)
    assert added[100] == 36500.0 and added[119] == 36500.0


@pytest.mark.parametrize("case", ["calm", "short spell"])
def test_new_supply_never_comes_without_its_trigger(case):
    """Calm: index 1, never above 2. Short spell: the index is high but the trigger asks for more
    days in a row than the run has. Either way: no capacity, no orders to the idle mine, no event."""
    markets, extra = ({"materials": price()}, {}) if case == "calm" else ({"materials": FORCED}, {"trigger_days": 500})
    r = go(us_mine_world(markets, extra))
    assert set(daily(r, "market_responses", kind="capacity_added_t_per_year")["value"]) == {0.0}
    assert "new supply" not in set(r.tables["events"]["action"])
    assert "us_mine" not in set(r.lead_times["supplier"])
    assert r.model.facilities["us_mine"].capacity_t_per_year == 0.0


# ----------------------------------------------------------------------------- 4. hoarding

@pytest.mark.parametrize(("normal", "per_point", "cap", "extra"), [
    (18.0, 10.0, 100.0, 10.0),   # index 2: 10 x (2 - 1)
    (18.0, 30.0, 20.0, 20.0),    # 30 x 1 = 30, capped at 20
    (4.5, 10.0, 100.0, 0.0),     # index 0.5: prices below the reference add nothing
])
def test_hoarding_raises_the_target_by_days_per_index_point(normal, per_point, cap, extra):
    """Smoothing off: the index is 9-day cover against `normal` from day 0. The line's review on
    day 0 comes before the market's first update; from day 1 its order-up-to target is 20 days +
    `extra`, so on 2 January it orders its day's use, 1 t, plus `extra` days of use (1 t each).
    Those goods land on day 11: until then the cover, the index and the extra days hold."""
    hoard = {"material": "mag", "days_per_index_point": per_point, "max_extra_days": cap}
    r = go(with_markets({"materials": price(normal_cover_days=normal), "hoarding": [hoard]}, horizon_days=40))
    days = daily(r, "market_responses", kind="hoarded_extra_days")["value"]
    assert (days.loc[0:10] == extra).all()
    lt = r.lead_times
    assert lt.loc[lt["ordered"] == "2025-01-02", "tonnes"].sum() == pytest.approx(1.0 + extra, abs=1e-9)
    assert lt.loc[lt["ordered"] == "2025-01-01", "tonnes"].sum() == pytest.approx(1.0, abs=1e-9)


def test_a_stockpile_releases_while_the_price_is_high():
    """A German reserve of 100 t with no automatic release of its own; releases below 15 days
    of cover are switched on while the index is above 2. Forced index 4: on from day 0, and the
    reserve tops the line (9 t on hand) up to its 30-day release target: 21 t that day. Calm
    (index 1): never on, nothing released."""
    for markets, on, released in (({"materials": FORCED}, 1.0, 21.0), ({"materials": price()}, 0.0, 0.0)):
        data = with_markets({**markets, "stockpile_releases": [
            {"facility": "de_reserve", "price_of": "mag", "above_index": 2, "release_below_cover_days": 15}]}, horizon_days=20)
        data["facilities"]["de_reserve"] = {"type": "stockpile", "country": "DE", "stock_t": {"mag": 100}}
        data["lanes"].append({"supplier": "de_reserve", "buyer": "de_line", "material": "mag", "modes": {"road": {"transit_days": 1}}})
        r = go(data)
        assert set(daily(r, "market_responses", kind="stockpile_release_on")["value"]) == {on}
        lt = r.lead_times
        assert lt.loc[lt["supplier"] == "de_reserve", "tonnes"].sum() == pytest.approx(released, abs=1e-9)


# ----------------------------------------------------------------------------- 5. with the rest of the model

def test_a_timeline_set_gives_substitution_a_new_base():
    """The substitution of the first test, and the timeline halves the line's bill on 1 April
    (day 90): from then the bill is 0.5 kg x the intensity, 0.475 kg once the 5% are saved.
    The mass balance closes over both kinds of change."""
    data = with_markets({"materials": FORCED, "responses": [substitution()]}, horizon_days=300,
                        timeline=[{"date": "2025-04-01", "action": "set", "path": "facilities.de_line.bom_kg_per_unit",
                                   "value": {"mag": 0.5}}])
    r = go(data)
    assert r.model.facilities["de_line"].bom_kg_per_unit == {"mag": pytest.approx(0.475, abs=1e-12)}
    assert daily(r, "market_responses", kind="bom_intensity")["value"][90] == pytest.approx(1 - 0.1 * 60 / 365, abs=1e-12)
    assert abs(r.manifest["mass_balance"]["residual_t"]) < 1e-9


def everything(horizon_days: int = 150) -> dict:
    """Every kind of response on one world, with a ban from 11 January to 20 February."""
    ban = {"ban": {"instrument": "ban", "exporter": "CN", "materials": ["mag"]}}
    data = us_mine_world({"smoothing_days": 10, "materials": price(premium_per_month_held=0.5), "responses": [
        {**substitution(lag_days=5), "demand": {"elasticity": 0.2, "smoothing_days": 10}}],
        "hoarding": [{"material": "mag", "days_per_index_point": 5, "max_extra_days": 15}]},
        {"trigger_days": 5, "lead_days": 20, "ramp_days": 10}, horizon_days=horizon_days)
    data["controls"] = ban
    data["timeline"] = [{"date": "2025-01-11", "action": "impose", "control": "ban"},
                        {"date": "2025-02-20", "action": "lift", "control": "ban"}]
    return data


def test_same_seed_same_files_and_the_mass_balance_closes(tmp_path):
    """With every response at work, two runs with the same seed write identical files (market
    tables included), and every run's mass balance closes (run() checks it)."""
    folders = [write_run(go(everything(), seed=5), tmp_path / f"run{i}") for i in range(2)]
    files = sorted(p.name for p in folders[0].glob("*.csv"))
    assert {"prices_monthly.csv", "market_responses.csv"} <= set(files)
    match, mismatch, errors = filecmp.cmpfiles(folders[0], folders[1], files, shallow=False)
    assert mismatch == [] and errors == []
    kinds = set(go(everything(), seed=5).tables["market_responses"]["kind"])
    assert kinds == {"bom_intensity", "units_per_year", "capacity_added_t_per_year", "hoarded_extra_days"}


def test_prices_alone_change_nothing():
    """The tiny world with a market layer that only prices (no responses): every other table is
    the same as without it (the layer reads stocks and draws no random numbers)."""
    base = load_scenario(DATA / "tiny.yaml")
    priced = load_scenario(DATA / "tiny.yaml", [  # no warm-up: normal covers given
        "markets.exporter=CN", "markets.materials.ndfeb_magnet.reference_per_kg=50",
        "markets.materials.ndfeb_magnet.normal_cover_days=20", "markets.materials.ore.reference_per_kg=1",
        "markets.materials.ore.normal_cover_days=5"])
    a, b = run(base, seed=3), run(priced, seed=3)
    for name, table in a.tables.items():
        if name in ("prices_monthly", "market_responses"):
            assert table.empty
            continue
        assert table.equals(b.tables[name]), name
    assert len(b.tables["prices_monthly"]) > 0 and b.tables["market_responses"].empty


def test_a_scenario_without_markets_keeps_its_hash_and_builds_no_layer():
    scenario = load_scenario(DATA / "tiny.yaml")
    assert "markets" not in scenario.model_dump()
    assert Model(scenario, 1).markets is None


def test_the_run_report_shows_prices_and_responses(tmp_path):
    import matplotlib.image as mpimg

    folder = write_run(go(everything()), tmp_path / "run")
    build_run_report(folder)
    html = (folder / "report.html").read_text(encoding="utf-8")
    for png in ("prices.png", "market_responses.png"):
        assert png in html
        image = mpimg.imread(folder / png)
        assert image.shape[0] > 100 and (image[..., :3] < 0.9).any(axis=2).mean() > 0.01


# ----------------------------------------------------------------------------- 6. validation

@pytest.mark.parametrize(("change", "message"), [
    ({"new_supply": [{"facility": "cn_mine", "trigger_index": 2, "lead_days": 10, "capacity_t_per_year": 1}]},
     "expected a facility outside the exporter's country CN"),
    ({"responses": [{"facilities": ["cn_mine"], "material": "mag", "demand": {"elasticity": 1}}]},
     "expected a sector or plant that uses 'mag'"),
    ({"hoarding": [{"material": "other", "days_per_index_point": 1, "max_extra_days": 5}]},
     "expected a material under markets.materials"),
    ({"materials": {"mag": {"reference_per_kg": 50, "floor": 2}}}, "expected floor <= 1 <= ceiling"),
    ({"responses": [substitution(), substitution()]}, "expected one substitution response per facility"),
    ({"stockpile_releases": [{"facility": "cn_mine", "price_of": "mag", "above_index": 2, "release_below_cover_days": 5}]},
     "expected a stockpile, got 'cn_mine'"),
])
def test_markets_problems_are_reported_with_their_place(change, message):
    data = with_markets({"materials": price(), **change})
    with pytest.raises(ScenarioError) as err:
        parse_scenario(yaml.safe_dump(data, sort_keys=False), "markets.yaml", {})
    assert message in str(err.value) and "markets." in str(err.value)


def test_new_supply_needs_a_world_price():
    """Only a Chinese line buys `mag`: it has no world price to trigger a US mine's restart."""
    data = us_mine_world({"materials": price()}, {})
    data["facilities"]["cn_line"] = data["facilities"].pop("de_line") | {"country": "CN"}
    for lane in data["lanes"]:
        lane["buyer"] = "cn_line"
    with pytest.raises(ScenarioError, match="expected a material with buyers in the world market"):
        parse_scenario(yaml.safe_dump(data, sort_keys=False), "markets.yaml", {})


def test_without_a_warm_up_normal_cover_must_be_given():
    data = with_markets({"materials": price()}, warmup_days=0)
    with pytest.raises(ScenarioError, match="expected normal_cover_days for both markets"):
        parse_scenario(yaml.safe_dump(data, sort_keys=False), "markets.yaml", {})
