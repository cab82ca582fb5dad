"""Licence decisions as they work in practice (issue: realistic licensing): granted, returned
for documents or denied; cumulative shares granted by a date; general licences; end-use rules;
an enforcement ramp; the weekly licensing table. Exact where the answer is known."""

import math

import numpy as np
import pytest
import simpy

from simulator.components import Application, BanControl, LicensingOffice
from test_core_rules import DE_RECOVERS, IMPOSE_JAN_11, NEVER_DECIDED, go, outage, world


def _office(env, uniform, **kw) -> LicensingOffice:
    return LicensingOffice(env, reviewers=kw.pop("reviewers", 10**6), review_days=kw.pop("review_days", lambda: 20.0),
                           approval_probability=kw.pop("approval_probability", 0.25), uniform=uniform, **kw)


def test_cumulative_share_granted_follows_the_analytic_curve():
    """4,000 applications on day 0, reviews of 20 days with unlimited reviewers (no queue),
    each decision granting with 0.25, returning with 0.5 (re-submitted 10 days later) and
    denying with 0.25. Granted by day t: 0.25 from day 20, + 0.5 x 0.25 from day 50 (returned,
    re-submitted on day 30, decided on day 50), + 0.25 x 0.25 from day 80, ... tending to
    0.25 / (1 - 0.5) = 0.5. The standard error of a share near 0.4 over 4,000 is 0.008."""
    env = simpy.Environment()
    rng = np.random.default_rng(11)
    office = _office(env, lambda: float(rng.random()), return_probability=0.5, resubmit_days=lambda: 10.0)
    granted = []
    n = 4000
    for _ in range(n):
        office.apply(Application("DE", lambda: granted.append(env.now), lambda _o: None))
    env.run(until=400)
    times = np.array(granted)
    for day, expected in [(19, 0.0), (21, 0.25), (49, 0.25), (51, 0.375), (81, 0.4375), (400, 0.5)]:
        assert (times <= day).sum() / n == pytest.approx(expected, abs=4 * math.sqrt(0.25 / n)), day


def test_a_returned_application_is_resubmitted_and_reviewed_again():
    """Approval 0.5, return 0.3: the first draw 0.6 returns it (after its 5-day review), the
    applicant re-submits 3 days later (day 8), the second draw 0.1 approves it on day 13."""
    env = simpy.Environment()
    draws = iter([0.6, 0.1])
    decisions = []
    office = _office(env, lambda: next(draws), approval_probability=0.5, return_probability=0.3,
                     review_days=lambda: 5.0, resubmit_days=lambda: 3.0)
    office.on_decision = lambda app: decisions.append((app.state, app.submission, app.t_applied, app.t_decided))
    office.apply(Application("DE", lambda: decisions.append(("goods go", env.now)), lambda _o: None))
    env.run(until=30)
    assert decisions == [("returned", 0, 0.0, 5.0), ("approved", 1, 8.0, 13.0), ("goods go", 13.0)]


def test_denials_and_returns_may_take_their_own_review_time():
    """Denials decided in 2 days, approvals in the ordinary 20: the draw 0.9 (> 0.25 + 0) denies
    on day 2; the draw 0.1 approves on day 20."""
    env = simpy.Environment()
    draws = iter([0.9, 0.1])
    office = _office(env, lambda: next(draws), review_days_by_outcome={"denied": lambda: 2.0})
    seen = []
    office.on_decision = lambda app: seen.append((app.state, app.t_decided))
    for _ in range(2):
        office.apply(Application("DE", lambda: None, lambda _o: None))
    env.run(until=30)
    assert sorted(seen, key=lambda s: s[1]) == [("denied", 2.0), ("approved", 20.0)]


def test_end_user_then_end_use_then_destination():
    """The most specific rule wins: buyer, then sector, then destination, then the default."""
    office = _office(simpy.Environment(), lambda: 0.5, approval_by_destination={"US": 0.1},
                     approval_by_sector={"defence": 0.0}, approval_by_buyer={"us_primes": 0.9})
    assert office.probability("US", "defence", "us_primes") == 0.9
    assert office.probability("US", "defence", "us_army") == 0.0
    assert office.probability("US", "ev", "us_ev") == 0.1
    assert office.probability("DE", "ev", "de_ev") == 0.25


def test_an_end_use_rule_denies_one_sector_and_approves_another():
    """Approval 1 except for the defence sector (0): every decided US defence application is
    denied and every decided German EV one approved."""
    control = {"c": {**NEVER_DECIDED, "review_days": 5, "reviewers": 100, "approval_by_sector": {"defence": 0.0}}}
    data = world(("DE", "US"), control, [{**IMPOSE_JAN_11, "control": "c"}])
    data["facilities"]["us_line"]["sector"] = "defence"
    lic = go(data).licences
    decided = lic[lic["decision"] != "pending at end"]
    assert set(decided.loc[decided["sector"] == "defence", "decision"]) == {"denied"}
    assert set(decided.loc[decided["sector"] == "ev", "decision"]) == {"approved"}


def test_a_general_licence_passes_covered_shipments_until_it_expires():
    """Licences are never decided from 11 January; a general licence for the German line from 10
    February to 12 March. On 10 February its 20 pending applications are approved (recorded as
    general licence) and it recovers on 20 February (DE_RECOVERS). Shipments from 12 March
    (day 70) need a licence again: with 9 t on hand and 10 t at sea it makes plan on days
    70..88 and stops from day 89 (31 March) to the end (day 119): 31 more days, 52 in all."""
    data = world(("DE",), {"c": NEVER_DECIDED}, [{**IMPOSE_JAN_11, "control": "c"},
                 {"date": "2025-02-10", "action": "general_licence", "control": "c", "buyer": "de_line", "until": "2025-03-12"}])
    result = go(data)
    assert outage(result, "de_line") == {"units_lost": 52000.0, "stopped_days": 52.0, "first_stop": "2025-01-30",
                                         "longest_stop_days": 31.0, "recovered": ""}
    counts = result.licences.groupby("decision").size().to_dict()
    assert counts == {"general licence": 20, "pending at end": 20}


def test_a_general_licence_for_another_buyer_changes_nothing():
    data = world(("DE",), {"c": NEVER_DECIDED}, [{**IMPOSE_JAN_11, "control": "c"},
                 {"date": "2025-01-12", "action": "general_licence", "control": "c", "destination": "US"}])
    assert outage(go(data), "de_line")["stopped_days"] == 91.0


def test_shipments_cleared_before_the_rule_takes_effect_travel_on():
    """The 10 t at sea on 11 January arrive: the line makes its plan until day 28 (DE_RECOVERS'
    first stop), and they are delivered after the control came into force."""
    data = world(("DE",), {"c": NEVER_DECIDED}, [{**IMPOSE_JAN_11, "control": "c"}])
    result = go(data)
    assert outage(result, "de_line")["first_stop"] == DE_RECOVERS["first_stop"]
    after = result.lead_times[result.lead_times["delivered"] >= "2025-01-11"]
    assert after["tonnes"].sum() == pytest.approx(10.0)


def test_the_enforcement_ramp_stops_a_growing_share():
    """A ramp of 10 days from imposition on day 0, with the draw fixed at 0.5: on day 4 a
    shipment is stopped with chance 0.4 (0.5 is not below it: it passes), on day 6 with 0.6
    (stopped), from day 10 always."""
    env = simpy.Environment()
    ban = BanControl(env, "b", "CN", ["mag"])
    ban.enforcement_ramp_days, ban.uniform = 10.0, lambda: 0.5
    ban.impose()
    seen = []
    for day in (4, 6, 10, 30):
        env.run(until=day)
        seen.append(ban.enforced())
    assert seen == [False, True, True, True]


def test_weekly_table_counts_add_up_to_the_applications():
    """licences_weekly.csv against licences.csv: the last week's cumulative counts equal the
    table's counts; pending = submitted - granted - denied - withdrawn; shares within [0, 1]."""
    control = {"c": {**NEVER_DECIDED, "review_days": {"dist": "uniform", "min": 5, "max": 30}, "reviewers": 3,
                     "approval_probability": 0.5, "return_probability": 0.3, "resubmit_days": 4}}
    result = go(world(("DE", "US"), control, [{**IMPOSE_JAN_11, "control": "c"}]))
    weekly, lic = result.tables["licences_weekly"], result.licences
    last = weekly.groupby("destination").tail(1).set_index("destination")
    for dest, rows in lic.groupby("destination"):
        first = rows[rows["submission"] == 0]
        assert last.loc[dest, "cumulative_submitted"] == len(first)
        assert last.loc[dest, "cumulative_granted"] == rows["decision"].isin(["approved", "released", "general licence"]).sum()
    assert (weekly["pending"] == weekly["cumulative_submitted"] - weekly["cumulative_granted"]
            - weekly.groupby(["exporter", "destination", "sector"])[["denied", "withdrawn"]].cumsum().sum(axis=1)).all()
    shares = weekly["share_granted"].dropna()
    assert ((shares >= 0) & (shares <= 1)).all() and len(shares) > 0
    assert weekly["returned"].sum() == (lic["decision"] == "returned").sum() > 0


# ----------------------------------------------------------------------------- granularity

def test_capacity_is_counted_in_real_applications():
    """10 reviewers, 10-day reviews. A bundle of 4 real applications starts on day 0 (4 busy); a
    bundle of 8 must wait for 8 free reviewers: it starts when the first ends, on day 10, and is
    decided on day 20. A bundle of 15 takes all 10 reviewers once they are free."""
    env = simpy.Environment()
    office = _office(env, lambda: 0.0, reviewers=10, review_days=lambda: 10.0, approval_probability=1.0)
    done = []
    for name, count in (("four", 4), ("eight", 8), ("fifteen", 15)):
        office.apply(Application("DE", lambda name=name: done.append((name, env.now)), lambda _o: None, count=count))
    assert office.busy == 4
    env.run(until=100)
    assert done == [("four", 10.0), ("eight", 20.0), ("fifteen", 30.0)]


def test_a_bundle_is_decided_application_by_application():
    """A bundle of 10 with draws 0.1, 0.9, 0.1, 0.9, ... (approval 0.5, no returns): 5
    approved and 5 denied; the office asks for a split into one part per decision."""
    env = simpy.Environment()
    draws = iter([0.1, 0.9] * 5)
    office = _office(env, lambda: next(draws), approval_probability=0.5)
    asked = []

    def split(app, counts):
        asked.append(dict(counts))
        parts = []
        for decision, count in sorted(counts.items()):
            part = Application("DE", lambda d=decision: asked.append(("go", d)), lambda _o, d=decision: asked.append(("back", d)), count=count)
            parts.append((part, decision))
        return parts

    office.on_split = split
    office.apply(Application("DE", lambda: None, lambda _o: None, count=10))
    env.run(until=30)
    assert asked == [{"approved": 5, "denied": 5}, ("go", "approved"), ("back", "denied")]


def test_bundled_shipments_split_their_goods_by_decision():
    """Consignments of 0.1 t: a day's 1 t order is 10 applications, each approved with 0.6.
    Granted tonnes over all decided tonnes come out near 0.6 (standard error for ~1,000
    applications about 0.016), the run's mass balance closes (run() checks), and each row of
    licences.csv carries its real applications, 10 per tonne."""
    control = {"c": {**NEVER_DECIDED, "review_days": 5, "reviewers": 1000, "approval_probability": 0.6,
                     "consignment_t": 0.1}}
    data = world(("DE",), control, [{**IMPOSE_JAN_11, "control": "c"}])
    data["facilities"]["de_line"]["resource_after_denial_days"] = 0
    lic = go(data).licences
    decided = lic[lic["decision"].isin(["approved", "denied"])]
    share = decided.loc[decided["decision"] == "approved", "tonnes"].sum() / decided["tonnes"].sum()
    assert share == pytest.approx(0.6, abs=0.05)
    assert (lic["applications"] == (lic["tonnes"] / 0.1).round().clip(lower=1)).all()
    assert (lic["decision"] == "approved").any() and (lic["decision"] == "denied").any()
    assert lic["applications"].sum() > 500


def test_firms_do_not_add_licence_work_when_counted_in_applications():
    """The same sector as one stock or as three equal firms: with consignments of 1/3 t, a day's
    1 t is 3 applications either way (one shipment of 3, or three of 1), so the office sees the
    same real applications: the same count applied over the run."""
    control = {"c": {**NEVER_DECIDED, "review_days": 5, "reviewers": 6, "approval_probability": 1.0,
                     "consignment_t": 1 / 3}}
    applied = []
    for firms in (None, {"count": 3, "cover_days": [20, 20, 20]}):
        data = world(("DE",), control, [{**IMPOSE_JAN_11, "control": "c"}])
        if firms:
            data["facilities"]["de_line"]["firms"] = firms
        applied.append(go(data).headline["licences_applied"])
    assert applied[0] == applied[1] > 0


def test_an_expected_control_makes_prebuying_buyers_stock_up_until_it_is_due():
    """The line (1 t a day, target 20 days, steady state after the warm-up) pre-buys 10 days
    when it expects a control: on 11 January (expected until 10 February) it orders its day's
    use plus 10 t = 11 t; from 10 February its target is back to 20 t, so it orders nothing
    until its position has fallen the 10 t back (10 days: first order again on 20 February).
    The control is never imposed: an expectation has no legal effect."""
    control = {"c": {**NEVER_DECIDED}}
    data = world(("DE",), control, [{"date": "2025-01-11", "action": "expect", "control": "c", "until": "2025-02-10"}])
    data["facilities"]["de_line"]["prebuy_on_announcement"] = {"extra_days": 10}
    result = go(data)
    lt = result.lead_times
    by_day = lt.groupby("ordered")["tonnes"].sum()
    assert by_day["2025-01-11"] == pytest.approx(11.0)
    assert not any("2025-02-10" <= d < "2025-02-20" for d in by_day.index)
    assert by_day["2025-02-20"] == pytest.approx(1.0)
    assert result.licences.empty
    events = result.tables["events"]
    assert events.loc[events["action"] == "expect", "detail"].str.contains("de_line mag").all()


def test_a_general_licence_to_an_exporter_covers_only_its_shipments():
    """A general licence to the Chinese mine (the only exporter here) lets every German shipment
    pass from 10 February, as DE_RECOVERS; one to another supplier name changes nothing."""
    for supplier, expected in (("cn_mine", DE_RECOVERS["stopped_days"]), ("de_line", 91.0)):
        data = world(("DE",), {"c": NEVER_DECIDED}, [{**IMPOSE_JAN_11, "control": "c"},
                     {"date": "2025-02-10", "action": "general_licence", "control": "c", "supplier": supplier}])
        assert outage(go(data), "de_line")["stopped_days"] == expected


def test_an_expedited_shipment_needs_its_own_licence_and_flies_after_it():
    """Licences name the freight mode (B1.4): an order expedited by air is a shipment like any
    other. With every licence taking 5 days and air taking 1 day against 10 by sea, air-shipped
    tonnes arrive 6 days after they leave stock (5 waiting for the licence + 1 in the air)."""
    control = {"c": {**NEVER_DECIDED, "review_days": 5, "reviewers": 100}}
    data = world(("DE",), control, [{**IMPOSE_JAN_11, "control": "c"}])
    data["lanes"][0]["modes"]["air"] = {"transit_days": 1}
    data["facilities"]["de_line"]["expedite_below_cover_days"] = 10  # on hand falls to ~5 days once licences take 5
    lt = go(data).lead_times
    air = lt[(lt["mode"] == "air") & (lt["ordered"] >= "2025-01-11")]
    assert len(air) > 0
    assert (air["wait_licence_days"] == 5.0).all() and (air["transit_days"] == 1.0).all()


def test_a_bundle_of_real_applications_is_decided_as_multinomial_counts():
    """A bundle of 50 real applications with approval 0.6 and return 0.3 (denial 0.1): the
    counts granted, returned and denied are Multinomial(50; 0.6, 0.3, 0.1), drawn as a binomial
    for the granted and a binomial of the rest with 0.3 / 0.4 for the returned. Over 4,000
    bundles the mean counts are 30, 15 and 5 (standard errors 3.46, 3.24 and 2.12 per bundle:
    0.055, 0.051 and 0.034 over 4,000), and every bundle's counts sum to 50."""
    import numpy as np
    import simpy

    from simulator.components import LicensingOffice
    from simulator.components.licensing import Application

    rng = np.random.default_rng(11)
    office = LicensingOffice(simpy.Environment(), 1, lambda: 1.0, 0.6, rng.random, return_probability=0.3)
    office.binomial = lambda n, p: int(rng.binomial(n, p))
    totals = {"approved": 0, "returned": 0, "denied": 0}
    for _ in range(4000):
        counts = office._draw_counts(Application("DE", lambda: None, lambda _o: None, count=50))
        assert sum(counts.values()) == 50 and all(n > 0 for n in counts.values())
        for decision, n in counts.items():
            totals[decision] += n
    means = {k: v / 4000 for k, v in totals.items()}
    assert abs(means["approved"] - 30) < 4 * 0.055
    assert abs(means["returned"] - 15) < 4 * 0.051
    assert abs(means["denied"] - 5) < 4 * 0.034
