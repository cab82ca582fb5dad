"""Calibration of the bundled scenarios against the facts they cite, seed robustness, and the
monotonic responses every user expects of the 2025 regime (common random numbers: same seed).

Figures and spreads are documented in scenarios/README.md; fact row ids refer to
scenarios/FACTS.md (the publications are listed in scenarios/SOURCES.md).
"""

from pathlib import Path

import pytest

from simulator import load_scenario, run

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
LICENSING = SCENARIOS / "licensing_2025.yaml"
BUNDLED = ["baseline_2024", "licensing_2025", "expansion_oct_2025", "quota_2010", "stockpile_release", "diversification_2028",
           "licensing_2025_markets"]


@pytest.fixture(scope="module")
def baseline():
    return run(load_scenario(SCENARIOS / "baseline_2024.yaml"), seed=1)


# ------------------------------------------------------------------ baseline_2024 calibration

def test_baseline_has_no_shortages(baseline):
    assert baseline.shortages.units_lost.max() == 0
    assert baseline.plants.short_t.max() == 0


def test_baseline_china_magnet_exports_match_b31_and_b32(baseline):
    years = baseline.scenario.horizon_days / 365.25
    f = baseline.flows
    cn = f[(f.exporter == "CN") & (f.destination != "CN") & (f.material == "ndfeb_magnet")]
    assert cn.tonnes.sum() / years == pytest.approx(58152, rel=0.05)                         # B3.1
    assert cn[cn.destination == "US"].tonnes.sum() / years == pytest.approx(7444, rel=0.10)  # B3.2


def test_baseline_china_share_of_mine_output_matches_a1(baseline):
    f = baseline.flows
    conc = f[f.material == "ree_concentrate"]   # every mine's shipments, by the mine's country
    share = conc[conc.exporter == "CN"].tonnes.sum() / conc.tonnes.sum()
    assert share == pytest.approx(270 / 390, abs=0.02)                                        # A1.1, A1.2


def test_baseline_inventories_do_not_drift(baseline):
    inv = baseline.inventory
    year = inv.date.astype(str).str[:4]
    g = inv.groupby([inv.facility, inv.material, year], observed=True).on_hand_t.mean().unstack()
    g = g[g["2024"] > 0]
    assert len(g) > 40   # every facility and input is there
    drift = (g["2026"] / g["2024"] - 1).abs()
    assert drift.max() < 0.10, drift.sort_values().tail(3)


# ------------------------------------------------------------------ every scenario, several seeds

# Spread of each headline metric between seeds: about twice max - min over seeds 1-10
# (scenarios/README.md, "Seed spread"); the test runs three other seeds.
SPREAD = {
    "baseline_2024": {"share_lost.all": 0.0, "exports_t.CN": 50.0},
    "licensing_2025": {"share_lost.all": 0.005, "exports_t.CN": 1300.0},
    "expansion_oct_2025": {"share_lost.all": 0.007, "exports_t.CN": 1000.0},
    "quota_2010": {"share_lost.all": 0.002, "exports_t.CN": 60.0},
    "stockpile_release": {"share_lost.all": 0.005, "exports_t.CN": 2300.0},
    "diversification_2028": {"share_lost.all": 0.006, "exports_t.CN": 1700.0},
    "licensing_2025_markets": {"share_lost.all": 0.005, "exports_t.CN": 1000.0},
}


@pytest.mark.parametrize("name", BUNDLED)
def test_seeds_move_headlines_less_than_documented_spread(name):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    runs = [run(scenario, seed=s) for s in (101, 102, 103)]
    for metric, spread in SPREAD[name].items():
        values = [r.headline[metric] for r in runs]
        assert max(values) - min(values) <= spread + 1e-9, (metric, values)


# ------------------------------------------------------------------ scenario-specific facts

def test_licensing_2025_front_loading_matches_b34():
    f = run(load_scenario(LICENSING), seed=1).flows
    cn = f[(f.exporter == "CN") & (f.destination != "CN") & (f.material == "ndfeb_magnet")]
    by_month = cn.groupby("month").tonnes.sum()
    assert by_month["2025-01"] == pytest.approx(6357, rel=0.05)                                     # B3.4
    assert by_month[["2025-01", "2025-02", "2025-03"]].sum() == pytest.approx(15270, rel=0.05)      # B3.4
    assert by_month["2025-04"] < 0.1 * by_month["2025-03"]   # licensing from 4 April stops exports


def test_licensing_2025_office_gives_the_published_cumulative_shares():
    """B2.1 / B2.2 are cumulative shares of requests granted by a date (EU auto suppliers): ~25%
    by 4 June, ~60% by 30 June. The office's assumptions were read from them (scenarios/README.md):
    check the German and rest-of-EU figures of licences_weekly.csv within 10 points."""
    w = run(load_scenario(LICENSING), seed=1).tables["licences_weekly"]
    eu = w[w.destination.isin(["DE", "EU"])].groupby("week")[["cumulative_submitted", "cumulative_granted"]].sum()
    share = eu.cumulative_granted / eu.cumulative_submitted
    assert share["2025-05-28"] == pytest.approx(0.25, abs=0.10)   # to 3 June
    assert share["2025-06-25"] == pytest.approx(0.60, abs=0.10)   # to 1 July


def test_quota_2010_exports_stay_within_the_quotas_and_japan_takes_two_thirds():
    """The announced quotas cap China's exports in every half-year (C1-C5, C34-C38): exports never
    exceed them (they are never checked against the exports that happened, which are held out)."""
    r = run(load_scenario(SCENARIOS / "quota_2010.yaml"), seed=1)
    f = r.flows
    x = f[(f.exporter == "CN") & (f.destination != "CN")]
    half = x.month.str[:4] + "H" + (x.month.str[5:7].astype(int) > 6).map({False: "1", True: "2"})
    by_half = x.groupby(half).tonnes.sum()
    quotas = {"2010H1": 22282, "2010H2": 7976, "2011H1": 14508, "2011H2": 15676, "2012H1": 21226, "2012H2": 9770,
              "2013H1": 15501, "2013H2": 15500}
    for period, quota in quotas.items():
        assert by_half[period] <= quota * 1.001, period
    assert by_half["2010H1"] + by_half["2010H2"] <= 30258 * 1.001                    # C2
    y2010 = x[x.month < "2011"]
    assert y2010[y2010.destination == "JP"].tonnes.sum() / y2010.tonnes.sum() == pytest.approx(2 / 3, abs=0.03)  # C11
    sh = r.shortages.set_index("facility")
    assert sh.loc["cn_users", "units_lost"] == 0 and sh.loc["jp_users", "share_lost"] > 0.05


def test_expansion_bites_only_through_the_extraterritorial_rule():
    base = run(load_scenario(LICENSING), seed=1)
    exp = run(load_scenario(SCENARIOS / "expansion_oct_2025.yaml"), seed=1)
    controls = set(exp.licences.control)
    assert "cn_licence_nov2025_unsuspended" not in controls   # no exported material has Ho/Er/Tm/Eu/Yb
    assert {"jp_extraterritorial_dec2025", "de_extraterritorial_dec2025"} <= controls
    assert exp.shortages.share_lost.mean() > base.shortages.share_lost.mean()


def test_licensing_2025_markets_without_responses_is_licensing_2025():
    """The market layer only reads stocks (and draws no random numbers), and the idle plant it
    may restart has no lanes while its capacity is 0: with its responses removed, every table of
    licensing_2025 comes back row for row, besides the idle plant's rows and its commitment."""
    base = run(load_scenario(LICENSING), seed=1)
    priced = run(load_scenario(SCENARIOS / "licensing_2025_markets.yaml",
                               ["markets.responses=[]", "markets.hoarding=[]"]), seed=1)
    for name, table in base.tables.items():
        other = priced.tables[name]
        if "facility" in other:
            other = other[other["facility"].astype(str) != "xx_magnets_restart"]
        if name == "events":
            other = other[other["action"] != "new supply"]
        if name in ("prices_monthly", "market_responses"):
            continue
        assert table.reset_index(drop=True).equals(other.reset_index(drop=True)), name
    prices = priced.tables["prices_monthly"].set_index(["month", "material", "market"])["index"]
    assert prices[("2025-07", "ndfeb_magnet", "world")] > 1.5 > prices[("2025-07", "ndfeb_magnet", "domestic")]


def test_licensing_2025_markets_loses_less_than_licensing_2025():
    """Hoarding raises buyers' targets as prices rise, so more tonnes wait in the licence queue
    when approvals come (scenarios/README.md): less output lost (seeds 1-10: 0.0126 vs 0.0211)."""
    for seed in (1, 2):
        base = run(load_scenario(LICENSING), seed=seed).headline["share_lost.all"]
        markets = run(load_scenario(SCENARIOS / "licensing_2025_markets.yaml"), seed=seed).headline["share_lost.all"]
        assert markets < 0.8 * base


@pytest.mark.parametrize("name", ["stockpile_release", "diversification_2028"])
def test_reserves_and_new_capacity_remove_part_of_the_shortage(name):
    for seed in (1, 2):
        base = run(load_scenario(LICENSING), seed=seed).shortages.set_index("facility")
        alt = run(load_scenario(SCENARIOS / f"{name}.yaml"), seed=seed).shortages.set_index("facility")
        us_eu = [f for f in base.index if f[:3] in ("us_", "eu_")]
        assert alt.loc[us_eu, "share_lost"].mean() < 0.5 * base.loc[us_eu, "share_lost"].mean()


# ------------------------------------------------------------------ monotonic responses (2025 regime)

SEEDS = (1, 2)
_BASE = load_scenario(LICENSING)


def _approval(p):
    out = [f"controls.cn_licence_apr2025.approval_probability={p}"]
    out += [f"timeline.{i}.set.approval_probability={p}" for i, ev in enumerate(_BASE.timeline)
            if ev.action == "ease" and "approval_probability" in ev.set]
    return out


def _inventory(facility, target):
    """The line's order-up-to target, and the front-loading events that move it, shifted alike."""
    usual = _BASE.facilities[facility].policy.target_days
    out = [f"facilities.{facility}.policy.target_days={target}"]
    out += [f"timeline.{i}.value.target_days={target + ev.value['target_days'] - usual}"
            for i, ev in enumerate(_BASE.timeline) if getattr(ev, "path", "") == f"facilities.{facility}.policy"]
    firms = _BASE.facilities[facility].firms
    if firms is not None:  # the firms' own covers are the lever: shift them by the same days
        cover = firms.cover_days
        out += [f"facilities.{facility}.firms.cover_days.min={cover.min + target - usual}",
                f"facilities.{facility}.firms.cover_days.max={cover.max + target - usual}"]
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_lower_approval_probability_loses_more_units(seed):
    low = run(load_scenario(LICENSING, _approval(0.1)), seed=seed).shortages
    high = run(load_scenario(LICENSING, _approval(0.6)), seed=seed).shortages
    assert low.share_lost.mean() > 2 * high.share_lost.mean()
    assert low.units_lost.sum() > high.units_lost.sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_more_weeks_of_inventory_delay_the_first_stoppage(seed):
    days = {}
    for target in (35, 70):   # Korean car lines: 4 weeks on hand (baseline) vs 5 more weeks
        r = run(load_scenario(LICENSING, _inventory("kr_auto_other", target)), seed=seed)
        days[target] = r.headline["first_stop_day.kr_auto_other"]
    assert days[35] >= 90   # not before licensing (4 April = day 93) bites
    assert days[70] >= days[35] + 28 or days[70] != days[70]   # NaN: never stopped


@pytest.mark.parametrize("seed", SEEDS)
def test_more_reviewers_shorten_licence_waits(seed):
    waits = {}
    for reviewers in (700, 7000):   # real applications under review at once (consignment_t: 1 t)
        lic = run(load_scenario(LICENSING, [f"controls.cn_licence_apr2025.reviewers={reviewers}"]), seed=seed).licences
        waits[reviewers] = lic[lic.control == "cn_licence_apr2025"].wait_days.mean()
    assert waits[700] > 3 * waits[7000]
    assert 15 < waits[7000] < 45   # about the review time itself (B1.3, D3): no queue


@pytest.mark.parametrize("seed", SEEDS)
def test_release_in_volume_delivers_the_backlog_within_weeks(seed):
    release = next(i for i, ev in enumerate(_BASE.timeline) if ev.action == "release")
    out = {}
    for fraction in (1.0, 0.0):
        lt = run(load_scenario(LICENSING, [f"timeline.{release}.fraction={fraction}"]), seed=seed).lead_times
        stuck = lt[(lt.material == "ndfeb_magnet") & (lt.destination != "CN")
                   & (lt.ordered >= "2025-04-04") & (lt.ordered < "2025-06-10")]
        out[fraction] = (stuck.lead_time_days.mean(), (stuck.delivered <= "2025-07-31").mean())
    assert out[1.0][1] == 1.0           # all delivered within 7 weeks of the 10 June release
    assert out[0.0][1] < 0.85
    assert out[1.0][0] < out[0.0][0] - 15
