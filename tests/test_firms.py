"""Firms within a sector and catch-up of lost output (issue 11, parts 2 and 3c), on tiny
hand-made worlds whose answers are derived by hand in each docstring.

The firm worlds: a Chinese mine with ample stock supplies one German line (1,000 units of 1 kg a
day: 1 t a day) through a lane with no transit time; every input line reviews daily, before the
day's production, and orders up to its target. A refusing ban on the lane comes into force on 11
January (day 10 from the start), before that day's reviews: every order from then on is
refused, so the last delivery is day 9's, which tops each firm up to its cover."""

import filecmp
import re

import numpy as np
import pytest
import simpy
import yaml

from simulator import Model, parse_scenario
from simulator.components import CatchUpRule, FixedQuantity, MinMax, OrderUpTo, Sector
from simulator.components.firms import policy_level, scaled_policy
from simulator.loading import ScenarioError
from simulator.results import write_run
from simulator.rng import Streams

from test_core_rules import DE_RECOVERS, HOLDING_BAN, IMPOSE_JAN_11, go, outage, world

REFUSING_BAN = {"instrument": "ban", "exporter": "CN", "materials": ["mag"], "on_block": "refuse"}
THIRD = 1000 / 3  # units a day of a firm with a third of the plan


def firm_world(firms=None, timeline=(), horizon_days=120, **line) -> dict:
    """The world of the module docstring; ``firms`` and ``line`` go into the line's spec."""
    data = world(("DE",), {"ban": REFUSING_BAN}, [{**IMPOSE_JAN_11, "control": "ban"}, *timeline],
                 horizon_days=horizon_days)
    data["lanes"][0]["modes"]["sea"]["transit_days"] = 0
    if firms is not None:
        data["facilities"]["de_line"]["firms"] = firms
    data["facilities"]["de_line"].update(line)
    return data


def daily(result) -> dict[str, float]:
    p = result.tables["production_daily"]
    return dict(zip(p["date"].astype(str), p["produced_units"]))


# ----------------------------------------------------------------------------- firms stop one by one

def test_firms_stop_one_after_another():
    """Three firms with a third of the plan each and covers of 10, 20 and 30 days of their own
    use (1/3 t a day): after day 9's delivery they hold 10/3, 20/3 and 10 t. Each makes its share
    for exactly its cover, days 9 .. 9 + cover - 1, and stops from day 9 + cover: day 19
    (20 January), day 29 (30 January) and day 39 (9 February). The sector's output steps down
    1,000 -> 666.67 -> 333.33 -> 0 a day (1 -> 2/3 -> 1/3 -> 0 of plan).
    Over the 120 days (0..119) firm 1 is stopped 101 days, firm 2 91, firm 3 81: 273 firm-days,
    273 x 333.33 = 91,000 units lost; stopped_days = 273 / 3 = 91, share of firm-days stopped
    = 273 / 360; longest stop 101 days (firm 1); never recovered."""
    result = go(firm_world({"count": 3, "cover_days": [10, 20, 30]}))
    made = daily(result)
    steps = {"2025-01-11": 1000, "2025-01-19": 1000, "2025-01-20": 2000 / 3, "2025-01-29": 2000 / 3,
             "2025-01-30": 1000 / 3, "2025-02-08": 1000 / 3, "2025-02-09": 0, "2025-04-30": 0}
    assert {day: made[day] for day in steps} == pytest.approx(steps, abs=1e-9)
    row = result.shortages.set_index("facility").loc["de_line"]
    assert row["units_lost"] == pytest.approx(91000)
    assert (row["stopped_days"], row["first_stop"], row["longest_stop_days"], row["recovered"]) == (
        pytest.approx(91), "2025-01-20", 101, "")
    assert row["share_firm_days_stopped"] == pytest.approx(273 / 360)
    firms = result.tables["shortages_firms"]
    assert firms["firm"].tolist() == [1, 2, 3] and firms["cover_days"].tolist() == [10, 20, 30]
    assert firms["share"].tolist() == pytest.approx([1 / 3] * 3)
    assert firms["units_lost"].tolist() == pytest.approx([101 * THIRD, 91 * THIRD, 81 * THIRD])
    assert firms["stopped_days"].tolist() == [101, 91, 81]
    assert firms["first_stop"].tolist() == ["2025-01-20", "2025-01-30", "2025-02-09"]
    assert firms["longest_stop_days"].tolist() == [101, 91, 81]
    assert firms["recovered"].tolist() == ["", "", ""]
    per_firm = result.tables["production_firms_daily"]
    assert len(per_firm) == 3 * 120 and set(per_firm["facility"]) == {"de_line"}


def test_a_sector_without_firms_has_empty_firm_tables():
    """The same world without firms: the line (target 20 days) stops on day 29 (30 January), its
    firm tables are empty, and its share of firm-days stopped is stopped days / days."""
    result = go(firm_world())
    row = result.shortages.set_index("facility").loc["de_line"]
    assert (row["first_stop"], row["stopped_days"], row["share_firm_days_stopped"]) == ("2025-01-30", 91, 91 / 120)
    assert result.tables["shortages_firms"].empty and result.tables["production_firms_daily"].empty


def test_firms_with_the_same_cover_lose_what_one_stock_loses():
    """Four equal firms with the line's own target (20 days) order a quarter each of what the
    line orders, on the same days, and stop on the same day: the same units lost and outage as
    without firms (the refusing ban: stopped from day 29 to the end, 91 days)."""
    one = outage(go(firm_world()), "de_line")
    four = outage(go(firm_world({"count": 4, "cover_days": 20})), "de_line")
    assert one == {"units_lost": 91000.0, "stopped_days": 91.0, "first_stop": "2025-01-30", "longest_stop_days": 91.0,
                   "recovered": ""}
    assert four == {**one, "units_lost": pytest.approx(one["units_lost"])}


def test_firms_with_the_same_cover_recover_as_one_stock():
    """test_core_rules' DE_RECOVERS world (a holding ban from 11 January, narrowed away on 10
    February, 10 days at sea) with four equal firms of 20 days' cover: the same outage."""
    data = world(("DE",), {"c": HOLDING_BAN}, [{**IMPOSE_JAN_11, "control": "c"},
                 {"date": "2025-02-10", "action": "ease", "control": "c", "set": {"destinations": {"include": ["US"]}}}])
    data["facilities"]["de_line"]["firms"] = {"count": 4, "cover_days": {"dist": "uniform", "min": 20, "max": 20}}
    got = outage(go(data), "de_line")
    assert got == {**DE_RECOVERS, "units_lost": pytest.approx(DE_RECOVERS["units_lost"])}


def test_the_same_seed_gives_the_same_tables_and_covers_come_from_the_facility_stream(tmp_path):
    """Covers drawn from a triangular distribution: two runs with seed 5 write identical files;
    the covers are the first draws of the generator named (de_line, firms), whatever else the
    world holds."""
    firms = {"count": 8, "cover_days": {"dist": "triangular", "min": 20, "mode": 40, "max": 75},
             "shares": [0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]}
    results = [go(firm_world(firms), seed=5) for _ in range(2)]
    folders = [write_run(r, tmp_path / f"run{i}") for i, r in enumerate(results)]
    names = sorted(p.name for p in folders[0].glob("*.csv"))
    assert "shortages_firms.csv" in names and "production_firms_daily.csv" in names
    match, mismatch, errors = filecmp.cmpfiles(folders[0], folders[1], names, shallow=False)
    assert mismatch == [] and errors == []
    expected = Streams(5).generator("de_line", "firms").triangular(20, 40, 75, 8)
    table = results[0].tables["shortages_firms"]
    assert np.array_equal(table["cover_days"].to_numpy(), expected)
    assert table["share"].tolist() == firms["shares"]


def test_a_stockpile_release_is_shared_by_share():
    """Firms with shares 0.5, 0.25 and 0.25 and 10 days' cover each stop on day 19. On 20
    February (day 50) a German stockpile sends 30 t through a lane with no transit, before
    that day's production: 15, 7.5 and 7.5 t, 30 days of each firm's use. The line makes its
    plan on days 50..79 (20 February .. 21 March) and stops again from day 80."""
    data = firm_world({"count": 3, "cover_days": 10, "shares": [0.5, 0.25, 0.25]},
                      [{"date": "2025-02-20", "action": "release_stockpile", "facility": "de_reserve",
                        "material": "mag", "tonnes": 30}])
    data["facilities"]["de_reserve"] = {"type": "stockpile", "country": "DE", "stock_t": {"mag": 100}}
    data["lanes"].append({"supplier": "de_reserve", "buyer": "de_line", "material": "mag",
                          "modes": {"road": {"transit_days": 0}}})
    made = daily(go(data))
    assert [made[d] for d in ("2025-01-19", "2025-01-20", "2025-02-19")] == [1000, 0, 0]
    assert [made[d] for d in ("2025-02-20", "2025-03-21")] == pytest.approx([1000, 1000])
    assert made["2025-03-22"] == pytest.approx(0, abs=1e-9)
    assert sum(made.values()) == pytest.approx(19 * 1000 + 30 * 1000)


# ----------------------------------------------------------------------------- firm policies

def test_firm_policies_scale_the_sector_levels():
    """Cover / the sector's level: (s, S) = (20, 60) for a 30-day firm is (10, 30); (s, Q) =
    (20, 30) for a 25-day firm is (10, 15); order-up-to 60 for a 45-day firm is 45."""
    s_S, s_Q, up_to = MinMax(1, 20, 60), FixedQuantity(1, 20, 30), OrderUpTo(7, 60)
    assert scaled_policy(s_S, 30 / policy_level(s_S)) == MinMax(1, 10, 30)
    assert scaled_policy(s_Q, 25 / policy_level(s_Q)) == FixedQuantity(1, 10, 15)
    assert scaled_policy(up_to, 45 / policy_level(up_to)) == OrderUpTo(7, 45)


def test_a_policy_set_on_the_timeline_scales_every_firm():
    """The sector's target is 20 days; firms of 10 and 30 days have factors 0.5 and 1.5. Setting
    the target to 40 days on 1 February gives them 20 and 60 days."""
    data = firm_world({"count": 2, "cover_days": [10, 30]},
                      [{"date": "2025-02-01", "action": "set", "path": "facilities.de_line.policy",
                        "value": {"type": "order_up_to", "review_days": 1, "target_days": 40}}])
    m = Model(parse_scenario(yaml.safe_dump(data, sort_keys=False), "rules.yaml", {}), seed=1)
    sector = m.facilities["de_line"]
    assert [f.inputs["mag"].policy.target_days for f in sector.firms] == [10, 30]
    m.run()
    assert [f.inputs["mag"].policy.target_days for f in sector.firms] == [20, 60]
    assert sector.inputs["mag"].policy.target_days == 40
    assert sector.stock["mag"] == pytest.approx(sum(f.stock["mag"] for f in sector.firms))


# ----------------------------------------------------------------------------- the schema

@pytest.mark.parametrize(("change", "message"), [
    ({"firms": {"count": 3, "cover_days": 20, "shares": [0.5, 0.5]}}, "expected one share per firm (3), got 2 shares"),
    ({"firms": {"count": 2, "cover_days": 20, "shares": [0.5, 0.6]}}, "expected shares summing to 1, got 1.1"),
    ({"firms": {"count": 3, "cover_days": [10, 20]}}, "expected one cover_days per firm (3), got 2 values"),
    ({"firms": {"count": 2, "cover_days": 20}, "initial_stock_t": {"mag": 5}}, "expected no initial_stock_t with firms"),
    ({"catch_up": {"share": 0.5}}, "expected unmet_demand: catch_up with catch_up settings, got unmet_demand: lost"),
    ({"unmet_demand": "catch_up", "catch_up": {"max_rate": 0.9}}, "catch_up.max_rate: expected a number >= 1, got 0.9"),
])
def test_the_schema_checks_firms_and_catch_up(change, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(yaml.safe_dump(firm_world(**change), sort_keys=False), "rules.yaml", {})


# ----------------------------------------------------------------------------- catch-up

def catch_up_line(rule: CatchUpRule, stock_t: float = 5.0):
    """1,000 units a day of 1 kg; 5 t on hand (days 0..4); no supplier (its one review at time 0
    finds no lane)."""
    env = simpy.Environment()
    line = Sector(env, "s", "DE", 365000, {"mag": 1.0}, unmet_demand="catch_up", catch_up=rule,
                  initial_stock_t={"mag": stock_t}, policy=OrderUpTo(review_days=1000, target_days=0))
    return env, line


def made_by_day(line) -> list[float]:
    return line.ledger.records.production.to_frame()["produced_units"].tolist()


def test_catch_up_recovers_its_share_at_the_extra_rate():
    """Share 0.7, window 60 days, max rate 1.2. The stock runs out after day 4: days 5..14 make
    nothing (10 x 1,000 lost, 700 a day recoverable: 7,000). 1,000 t arrive before day 15: days
    15..49 make 1,200 (35 days x 200 = 7,000, oldest first, all within their 60 days), then
    1,000 a day. By day 59: 60,000 planned, 5,000 + 35 x 1,200 + 10 x 1,000 = 57,000 made:
    3,000 lost = 0.3 x 10,000."""
    env, line = catch_up_line(CatchUpRule(share=0.7, within_days=60, max_rate=1.2))
    env.run(until=14.5)
    line.stock["mag"] += 1000.0
    env.run(until=60)
    made = made_by_day(line)
    assert made == pytest.approx([1000] * 5 + [0] * 10 + [1200] * 35 + [1000] * 10)
    assert line._catch_up.recovered_units == pytest.approx(7000) and line._catch_up.expired_units == 0
    assert 60 * 1000 - sum(made) == pytest.approx(3000)
    assert line.owed_t("mag") == 0.0


def test_catch_up_loses_what_its_window_leaves_behind():
    """Window 20 days, a 30-day stop (days 5..34: 700 recoverable a day, 21,000), stock back
    before day 35. On day 35 the units of days 5..14 are past their window (17,000 - 10,000 =
    7,000 gone); day 35 makes 200 of day 15's 700, whose other 500 expire on day 36, which makes
    200 of day 16's, and so on: days 35..54 make 1,200 (4,000 recovered), every other
    recoverable unit expires (17,000), and day 55 on makes 1,000. Lost: 30,000 - 4,000."""
    env, line = catch_up_line(CatchUpRule(share=0.7, within_days=20, max_rate=1.2))
    env.run(until=10.5)
    assert line.owed_t("mag") == pytest.approx(0.7 * 6 * 1000 / 1000)  # days 5..10 owed, 1 kg a unit
    env.run(until=34.5)
    line.stock["mag"] += 1000.0
    env.run(until=70)
    made = made_by_day(line)
    assert made == pytest.approx([1000] * 5 + [0] * 30 + [1200] * 20 + [1000] * 15)
    assert line._catch_up.recovered_units == pytest.approx(4000)
    assert line._catch_up.expired_units == pytest.approx(17000)
    assert 70 * 1000 - sum(made) == pytest.approx(26000)


def test_catch_up_in_a_scenario():
    """The firm world without firms, a 5-day target, catch-up (0.7, 60 days, 1.2) and the ban
    lifted on 25 January (day 24). Day 9's delivery tops the line up to 5 t: days 9..13 at plan,
    stopped days 14..23 (10 days, 10,000 lost, 7,000 recoverable). Day 24's review orders the
    target plus the 7 t the owed units need, delivered at once; days 24..58 make 1,200 and
    recover 7,000. Over 120 days: 3,000 lost, stopped 10 days, recovered on 25 January."""
    data = firm_world(timeline=[{"date": "2025-01-25", "action": "lift", "control": "ban"}],
                      unmet_demand="catch_up", catch_up={"share": 0.7, "within_days": 60, "max_rate": 1.2},
                      policy={"type": "order_up_to", "review_days": 1, "target_days": 5})
    result = go(data)
    made = daily(result)
    assert [made[d] for d in ("2025-01-14", "2025-01-15", "2025-01-24")] == [1000, 0, 0]
    assert [made[d] for d in ("2025-01-25", "2025-02-28", "2025-03-01")] == pytest.approx([1200, 1200, 1000])
    assert outage(result, "de_line") == {"units_lost": pytest.approx(3000), "stopped_days": 10.0,
                                         "first_stop": "2025-01-15", "longest_stop_days": 10.0, "recovered": "2025-01-25"}


def test_firms_catch_up_each_on_their_own():
    """Firms of 10, 20 and 30 days (a third each), catch-up (0.7, 60 days, max rate 2) and the
    ban lifted on 15 February (day 45). The firms stop from days 19, 29 and 39 to day 44: 26, 16
    and 6 days, 48 x 333.33 = 16,000 units lost, 11,200 recoverable. From day 45 each makes up
    to twice its share: firm 1 recovers 26 x 0.7 = 18.2 days of its share by day 63, firm 2
    11.2 days, firm 3 4.2 days, all within 60 days of their loss. Lost: 16,000 - 11,200 = 4,800;
    every firm back at plan on day 45 (15 February)."""
    data = firm_world({"count": 3, "cover_days": [10, 20, 30]},
                      [{"date": "2025-02-15", "action": "lift", "control": "ban"}],
                      unmet_demand="catch_up", catch_up={"share": 0.7, "within_days": 60, "max_rate": 2.0})
    result = go(data)
    row = outage(result, "de_line")
    assert row == {"units_lost": pytest.approx(4800), "stopped_days": pytest.approx(48 / 3), "first_stop": "2025-01-20",
                   "longest_stop_days": 26.0, "recovered": "2025-02-15"}
    firms = result.tables["shortages_firms"]
    assert firms["units_lost"].tolist() == pytest.approx([0.3 * 26 * THIRD, 0.3 * 16 * THIRD, 0.3 * 6 * THIRD])


def test_days_made_to_plan_counted_without_visiting_firms_change_nothing(monkeypatch):
    """A day on which every firm surely makes its share is counted at the sector and settled into
    each firm's stock when read (Sector._produce_firms). Forcing the firm-by-firm path on every
    day must give the same tables (to round-off) on a world with random demand, catch-up, firms
    of different covers and a ban that stops them one by one: the lazy path is an economy, not a
    rule."""
    data = firm_world({"count": 3, "cover_days": [10, 20, 30]}, unmet_demand="catch_up",
                      demand_variability={"dist": "uniform", "min": 0.8, "max": 1.2})
    taken, lazy_rule = [], Sector._all_firms_make_plan

    def spy(self, plan_after):
        taken.append(lazy_rule(self, plan_after))
        return taken[-1]

    monkeypatch.setattr(Sector, "_all_firms_make_plan", spy)
    lazy = go(data, seed=3)
    assert sum(taken) > len(taken) / 4  # the lazy path was taken (before the ban bites), not only the other
    monkeypatch.setattr(Sector, "_all_firms_make_plan", lambda self, plan_after: False)
    eager = go(data, seed=3)
    for table in ("production_daily", "production_firms_daily", "shortages", "shortages_firms"):
        a, b = lazy.tables[table], eager.tables[table]
        assert list(a.columns) == list(b.columns) and len(a) == len(b), table
        for column in a.columns:
            if a[column].dtype.kind == "f":
                assert a[column].to_numpy() == pytest.approx(b[column].to_numpy(), rel=1e-9, abs=1e-9), (table, column)
            else:
                assert a[column].astype(str).tolist() == b[column].astype(str).tolist(), (table, column)
    firms = lazy.tables["production_firms_daily"]
    assert len(firms) == 3 * 120  # every firm-day, although most were never written as rows


def test_a_delivery_keeps_the_known_cover_as_a_lower_bound(monkeypatch):
    """Two firms, half of 1 unit a day each, 1 t a unit, 10 days of cover: 5 t each, so the
    firms cover the sector's cumulative plan through 10 units. A delivery only raises that
    figure, so the known 10 stays a lower bound: a day needing less is decided without visiting
    the firms; one needing 13.9 (after 2 t more for each firm: 7 t, 14 units) recomputes and is
    covered; one needing 14.1 is not."""
    from types import SimpleNamespace

    import simpy

    from simulator.components.firms import Firm

    env = simpy.Environment()
    sector = Sector(env, "s", "DE", 365.0, {"mag": 1000.0}, policy=OrderUpTo(review_days=1000.0, target_days=10.0),
                    firms=[(0.5, 10.0), (0.5, 10.0)])
    assert sector._all_firms_make_plan(9.9) and not sector._all_firms_make_plan(10.1)
    for firm in sector.firms:
        firm.receive(SimpleNamespace(material="mag"), 2.0)
    visits = []
    exact = Firm.covered_units
    monkeypatch.setattr(Firm, "covered_units", lambda firm: visits.append(firm.index) or exact(firm))
    assert sector._all_firms_make_plan(9.0) and visits == []  # the lower bound suffices
    assert sector._all_firms_make_plan(13.9) and visits == [1, 2]  # it does not: recomputed
    assert not sector._all_firms_make_plan(14.1) and visits == [1, 2]  # the figure is exact again
