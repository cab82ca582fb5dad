"""Metric helpers against plain pandas on small hand-made tables."""

import datetime as dt
import math

import numpy as np
import pytest
import pandas as pd

from simulator import metrics


def test_dates_format_each_day_and_leave_missing_times_empty():
    info = metrics.RunInfo(dt.date(2024, 2, 28), 10.0, 20.0)
    t = np.array([np.nan, 9.99, 10.0, 11.5, 12.0, np.nan, 1000.2])
    assert info.dates(t).tolist() == ["", "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "", "2026-11-14"]
    assert info.dates(np.array([])).tolist() == []


def _per_tonne_percentile(values: pd.Series, tonnes: pd.Series, q: float) -> float:
    """The smallest value with at least q % of the tonnes at or below it, by sorting by hand."""
    pairs = sorted(zip(values, tonnes))
    total, cumulative = sum(t for _, t in pairs), 0.0
    for value, t in pairs:
        cumulative += t
        if cumulative >= q / 100 * total - 1e-12:
            return value
    raise AssertionError("unreachable")


def test_lead_time_percentiles_are_per_tonne_and_do_not_depend_on_splitting():
    """Lead times 1, 2, 3 and 10 days carrying 1, 1, 1 and 5 t: 5 of the 8 t (62.5 %) took 10
    days, so the median tonne took 10 days (per shipment it would be 2.5) and the mean is
    (1 + 2 + 3 + 50) / 8 = 7. Splitting the 10-day shipment into five of 1 t changes nothing."""
    lead = np.array([1.0, 2.0, 3.0, 10.0])
    tonnes = np.array([1.0, 1.0, 1.0, 5.0])
    assert metrics.weighted_percentiles(lead, tonnes, (50, 90)) == [10.0, 10.0]
    assert metrics.weighted_mean(lead, tonnes) == 7.0
    split_lead, split_tonnes = np.array([1.0, 2.0, 3.0] + [10.0] * 5), np.ones(8)
    assert metrics.weighted_percentiles(split_lead, split_tonnes, (50, 90)) == [10.0, 10.0]
    # 25 % of the tonnes (2 t) are at or below 2 days: the 25th percentile is 2 days
    assert metrics.weighted_percentiles(lead, tonnes, (25,)) == [2.0]
    assert math.isnan(metrics.weighted_percentiles(np.array([math.nan]), np.array([1.0]), (50,))[0])


def test_lead_time_stats_match_a_pandas_groupby():
    rng = np.random.default_rng(4)
    n = 300
    lt = pd.DataFrame({
        "destination": rng.choice(["DE", "US", "JP"], n), "material": rng.choice(["mag", "ore"], n),
        "supplier": rng.choice(["a", "b"], n), "buyer": rng.choice(["x", "y"], n),
        "delivered": [f"2025-{m:02d}-15" for m in rng.integers(1, 13, n)],
        "tonnes": rng.uniform(0, 10, n), "lead_time_days": rng.gamma(2.0, 10.0, n),
        "wait_stock_days": rng.uniform(0, 5, n), "wait_licence_days": rng.uniform(0, 30, n), "transit_days": rng.uniform(5, 40, n),
    })
    lt.loc[3, "wait_licence_days"] = math.nan  # means skip missing values, as pandas does
    stats = metrics.lead_time_stats(lt).set_index(["by", "group"])
    for by, key in (("destination", lt["destination"]), ("month", lt["delivered"].str.slice(0, 7)),
                    ("lane", lt["supplier"] + ">" + lt["buyer"] + ":" + lt["material"])):
        for group, g in lt.groupby(key, sort=True):
            row = stats.loc[(by, group)]
            assert row["shipments"] == len(g) and row["tonnes"] == g["tonnes"].sum()
            assert row["mean"] == pytest.approx((g["lead_time_days"] * g["tonnes"]).sum() / g["tonnes"].sum(), rel=1e-12)
            assert row["p90"] == _per_tonne_percentile(g["lead_time_days"], g["tonnes"], 90)
            ok = g["wait_licence_days"].notna()
            assert row["wait_licence_days"] == pytest.approx(
                (g["wait_licence_days"][ok] * g["tonnes"][ok]).sum() / g["tonnes"][ok].sum(), rel=1e-12)
        assert list(stats.loc[by].index) == sorted(key.unique())
    assert metrics.lead_time_stats(lt.iloc[:0]).empty


def test_licences_made_during_the_warm_up_are_not_reported():
    """An application belongs to the run if it was applied on or after the start date: the
    licensing control is in force through the warm-up, whose applications stay out of
    licences.csv and of the headline licence counts, as warm-up rows stay out of every table."""
    from pathlib import Path

    from simulator import load_scenario, run

    tiny = Path(__file__).parent / "data" / "tiny.yaml"
    scenario = load_scenario(tiny, {"warmup_days": 60, "controls.cn_licence.in_force_at_start": True,
                                    "timeline": [], "horizon_days": 90})
    result = run(scenario)
    lic = result.tables["licences"]
    assert len(lic) > 0 and (lic["applied"] != "").all()
    assert (lic["applied"] >= "2025-01-01").all(), lic["applied"].min()
    assert result.headline["licences_applied"] == len(lic)
    assert result.headline["licences_approved"] == lic["decision"].isin(["approved", "released"]).sum()
    assert result.headline["licences_denied"] == (lic["decision"] == "denied").sum()
    # Warm-up applications do exist in the records: the filter is what keeps them out.
    warm = run(scenario, keep_model=True).model.ledger.records.licences.to_frame()
    assert (warm["t_applied"] < 60).any() and (warm["t_applied"] >= 60).sum() == len(lic)


def _records(rng, n, categories):
    """A record frame as Table.to_frame makes it: names as categoricals, categories in order of first use."""
    frame = {}
    for column, names in categories.items():
        codes = rng.integers(0, len(names), n).astype(np.int32)
        frame[column] = pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object))
    return frame


def test_flows_and_lead_times_match_pandas_on_unsorted_categories_and_tied_times():
    """Monthly flows group and lead times sort with numpy on category codes: the same rows, order and
    sums as a pandas groupby / sort_values on the text (categories not in alphabetical order, and
    deliveries on the same day to exercise the second sort key)."""
    rng = np.random.default_rng(7)
    n = 400
    info = metrics.RunInfo(dt.date(2025, 1, 1), 10.0, 200.0)
    shipments = pd.DataFrame({
        "shipment_id": rng.permutation(n).astype(np.int64), "order_id": np.arange(n, dtype=np.int64),
        **_records(rng, n, {"material": ["oxide", "magnet", "alloy"], "supplier": ["s2", "s1"], "buyer": ["b", "a"],
                            "exporter": ["CN", "AU", "US"], "destination": ["US", "DE", "CN"], "mode": ["sea", "air"],
                            "outcome": ["delivered", "denied"]}),
        "tonnes": rng.uniform(0.1, 10, n), "t_first_ordered": rng.uniform(0, 100, n), "lost_stock_days": np.zeros(n),
        "lost_licence_days": np.zeros(n), "t_ordered": rng.uniform(0, 100, n), "t_filled": rng.uniform(0, 100, n),
        "t_cleared": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 220, n)),
        "t_delivered": np.floor(rng.uniform(0, 220, n)), "cost": np.zeros(n),
    })
    text = shipments.assign(**{c: shipments[c].astype(str) for c in ("material", "exporter", "destination")})
    s = text[text["t_cleared"].notna() & (text["t_cleared"] >= info.t_start) & (text["t_cleared"] < info.t_end)]
    expected = (s.assign(month=info.dates(s["t_cleared"]).str.slice(0, 7).to_numpy())
                .groupby(["month", "exporter", "destination", "material"], as_index=False, sort=True)["tonnes"].sum())
    pd.testing.assert_frame_equal(metrics.flows_monthly(shipments, info), expected, check_exact=True)
    d = shipments[(shipments["outcome"] == "delivered") & (shipments["t_delivered"] >= info.t_start)]
    d = d.sort_values(["t_delivered", "shipment_id"])
    assert metrics.lead_times(shipments, info)["shipment_id"].tolist() == d["shipment_id"].tolist()


def test_record_frames_copy_the_records_and_keep_their_types():
    """Table.to_frame: numbers copied out of the record array (it is freed after), names as
    categoricals in order of first use, integers as int64."""
    from simulator.records import Table

    table = Table({"facility": "c", "firm": "i", "t": "f", "units": "f"})
    for name, firm, t, units in [("b", 1, 0.5, 2.0), ("a", 2, 1.5, 3.0), ("b", 3, 2.5, np.nan)]:
        table.append(table.code("facility", name), firm, t, units)
    frame = table.to_frame()
    assert list(frame.columns) == ["facility", "firm", "t", "units"]
    assert frame["facility"].tolist() == ["b", "a", "b"] and list(frame["facility"].cat.categories) == ["b", "a"]
    assert frame["firm"].dtype == np.int64 and frame["firm"].tolist() == [1, 2, 3]
    table.data[2] = 99.0  # the records change (or go): the frame does not
    assert frame["t"].tolist() == [0.5, 1.5, 2.5] and math.isnan(frame["units"].iloc[2])
    assert Table({"facility": "c", "t": "f"}).to_frame()["facility"].tolist() == []


def test_firm_stops_all_at_once_match_firm_by_firm():
    """A sector's stop columns from its firms' days agree with _outages run firm by firm."""
    from simulator.metrics.common import _outages
    from simulator.metrics.production import _firm_outages, _short_days

    info = metrics.RunInfo(dt.date(2025, 1, 1), 5.0, 100.0)
    rng = np.random.default_rng(3)
    for days, firms in [(0, 3), (1, 1), (40, 4), (60, 7)]:
        times = 5.0 + np.arange(days, dtype=float)
        planned = rng.uniform(1, 2, (days, firms))
        made = np.where(rng.random((days, firms)) < 0.3, planned * 0.5, planned)
        stops, share = _firm_outages(metrics.FirmDays(times, planned, made), info)
        short = _short_days(planned, made)
        per_firm = [_outages(times, short[:, i], 1.0, info) for i in range(firms)]
        firsts = [o["first_stop"] for o in per_firm if o["first_stop"]]
        assert stops["first_stop"] == (min(firsts) if firsts else "")
        assert stops["longest_stop_days"] == max(o["longest_stop_days"] for o in per_firm)
        assert stops["stopped_days"] == float(short.sum()) / firms
