"""Trade tables: lead times (per shipment and their statistics per tonne), monthly flows, and
licence applications (each, and week by week)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .common import _CLOSED, _GRANTED, RunInfo, _by_code, _describe, _groups, _texts, _values, weighted_mean

def lead_times(shipments: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """One row per delivered shipment (an order filled in parts gives one row per part).

    Columns: ``order_id``, ``shipment_id``, ``material``, ``supplier``, ``buyer``, ``exporter``
    and ``destination`` (country codes), ``mode``; ``ordered`` and ``delivered`` (ISO dates);
    ``tonnes``; ``lead_time_days`` = delivered - ordered, split into ``wait_stock_days``
    (order placed -> goods left the supplier's stock), ``wait_licence_days`` (held at the
    exporter: licence review, quota or ban) and ``transit_days``. When the tonnes were ordered
    before and that order failed (licence denied, refused, or withdrawn from a supplier that
    had no stock), the time lost counts too: as licence wait for a denial or refusal
    (including the wait to re-order), as stock wait for a withdrawn order. ``ordered`` is the first order of
    the tonnes: a re-order after a denial keeps the original date. Shipments delivered from the
    start date on.
    """
    t_delivered = shipments["t_delivered"].to_numpy()
    rows = np.flatnonzero((shipments["outcome"] == "delivered").to_numpy() & (t_delivered >= info.t_start))
    # By delivery, then shipment, as DataFrame.sort_values sorts (np.lexsort's order), reading
    # only the rows and columns the table needs instead of sorting a copy of the whole table.
    rows = rows[_order_by(t_delivered[rows], shipments["shipment_id"].to_numpy()[rows])]
    t = {c: _values(shipments, c, rows) for c in ("t_first_ordered", "t_ordered", "t_filled", "t_cleared",
                                                 "t_delivered", "lost_stock_days", "lost_licence_days")}
    # Text columns stay pandas string arrays from end to end (no .to_numpy(), which would make a
    # Python object per cell: on a 30-year run that alone was 200 MB of peak memory).
    return pd.DataFrame({
        "order_id": _values(shipments, "order_id", rows), "shipment_id": _values(shipments, "shipment_id", rows),
        **{c: _texts(shipments[c], rows) for c in ("material", "supplier", "buyer", "exporter", "destination", "mode")},
        "ordered": info.dates(t["t_first_ordered"]), "delivered": info.dates(t["t_delivered"]),
        "tonnes": _values(shipments, "tonnes", rows),
        "lead_time_days": t["t_delivered"] - t["t_first_ordered"],
        "wait_stock_days": t["t_filled"] - t["t_ordered"] + t["lost_stock_days"],
        "wait_licence_days": t["t_cleared"] - t["t_filled"] + t["lost_licence_days"],
        "transit_days": t["t_delivered"] - t["t_cleared"],
    })


def _order_by(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Positions that sort by ``primary``, then ``secondary``, ties in their order: the order of
    ``np.lexsort((secondary, primary))`` and of ``DataFrame.sort_values``. Records mostly come
    already in time order without ties, and a stable sort of sorted data is nearly free; then
    the second key changes nothing and lexsort (ten times slower) is not needed."""
    order = np.argsort(primary, kind="stable")
    ranked = primary[order]
    if np.all(ranked[1:] > ranked[:-1]):  # no ties (nor NaN): the second key orders nothing
        return order
    return np.lexsort((secondary, primary))


def lead_time_stats(lt: pd.DataFrame) -> pd.DataFrame:
    """Lead-time distributions by ``by`` in (destination, material, lane, month) and ``group``.

    Columns: ``by``, ``group``, ``shipments``, ``tonnes``, ``mean``, ``p50``, ``p90``, ``p99`` (days,
    order to delivery), and the means of ``wait_stock_days``, ``wait_licence_days`` and
    ``transit_days``, all per tonne (:func:`weighted_percentiles`). ``month`` is the month of
    delivery (YYYY-MM).
    """
    keys = {
        "destination": lt["destination"],
        "material": lt["material"],
        "lane": lt["supplier"] + ">" + lt["buyer"] + ":" + lt["material"],
        "month": lt["delivered"].str.slice(0, 7),
    }
    values = {c: lt[c].to_numpy(dtype=float) for c in ("tonnes", "lead_time_days", "wait_stock_days", "wait_licence_days", "transit_days")}
    rows = []
    for by, key in keys.items():
        for group, rows_of_group in _groups(key):
            tonnes = values["tonnes"][rows_of_group]
            rows.append({"by": by, "group": group, "shipments": len(rows_of_group),
                         "tonnes": float(tonnes.sum()),
                         **_describe(values["lead_time_days"][rows_of_group], tonnes),
                         **{c: weighted_mean(values[c][rows_of_group], tonnes)
                            for c in ("wait_stock_days", "wait_licence_days", "transit_days")}})
    return pd.DataFrame(rows, columns=["by", "group", "shipments", "tonnes", "mean", "p50", "p90", "p99",
                                       "wait_stock_days", "wait_licence_days", "transit_days"])


def flows_monthly(shipments: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """Tonnes leaving each exporter per month: ``month`` (YYYY-MM, when the shipment cleared the
    exporter's controls and left), ``exporter``, ``destination`` (countries; domestic deliveries
    have exporter == destination), ``material``, ``tonnes``."""
    t = shipments["t_cleared"].to_numpy()
    rows = np.flatnonzero(shipments["t_cleared"].notna().to_numpy() & (t >= info.t_start) & (t < info.t_end))
    # The four keys as codes into their sorted texts, grouped as groupby(keys, sort=True) groups
    # them; text is made for the groups only, not for every shipment.
    days, day_labels = info.day_codes(t[rows])
    months, month_of_day = np.unique(day_labels.astype("U7"), return_inverse=True)  # YYYY-MM: a day's first 7 characters
    keys = {"month": (month_of_day.reshape(-1)[days], months.astype(object)),
            **{c: _sorted_codes(shipments[c].take(rows)) for c in ("exporter", "destination", "material")}}
    group, first = _key_groups([(codes, len(labels)) for codes, labels in keys.values()])
    grouped = group >= 0
    # pandas' own group sum (compensated, row by row): the same tonnes as a groupby on the keys
    tonnes = pd.Series(shipments["tonnes"].to_numpy()[rows][grouped]).groupby(group[grouped]).sum().to_numpy()
    return pd.DataFrame({**{c: pd.array(labels[codes[first]], dtype="str") for c, (codes, labels) in keys.items()},
                         "tonnes": tonnes})


def _sorted_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as text coded into its distinct texts sorted: (each row's code, -1 if missing;
    the texts), the order of a groupby on ``column.astype(str)``. A category column sorts its
    names once and its rows keep their codes."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(column.astype(str), sort=True)
        return codes, np.asarray(uniques, dtype=object)
    labels, rank = np.unique(np.asarray(column.cat.categories.astype(str), dtype=object), return_inverse=True)
    codes = column.array.codes
    return np.where(codes < 0, -1, rank.reshape(-1)[codes]), labels


def _key_groups(keys: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by several keys, each given as (each row's code into the key's sorted
    values, -1 if missing; how many values), as ``groupby(keys, sort=True)`` groups them: each
    row's group number (groups in the keys' order; -1 for a row with a missing key, which a
    groupby drops) and the first row of each group."""
    combined, size = np.zeros(len(keys[0][0]) if keys else 0, dtype=np.int64), 1
    missing = np.zeros(len(combined), dtype=bool)
    for codes, n in keys:
        missing |= codes < 0
        if size * max(n, 1) >= 2**62:  # renumber the groups so far before int64 overflows
            size, combined = len(combined), np.unique(combined, return_inverse=True)[1].reshape(-1).astype(np.int64)
        combined, size = combined * n + codes, size * max(n, 1)
    group = np.full(len(combined), -1, dtype=np.int64)
    _, first, group[~missing] = np.unique(combined[~missing], return_index=True, return_inverse=True)
    return group, np.flatnonzero(~missing)[first]


def _buyer_sector(buyers: pd.Series, info: RunInfo) -> pd.Series:
    """The end use of each buyer: a sector's ``sector``, else the facility's kind (plant, depot)."""
    lookup = {name: meta.get("sector") or meta["kind"] for name, meta in info.facilities.items()}
    if isinstance(buyers.dtype, pd.CategoricalDtype):  # a record column: each buyer looked up once
        sectors = [lookup.get(name) for name in buyers.cat.categories]
        sectors = np.array(["" if s is None else s for s in sectors], dtype=object)
        return pd.Series(_by_code(buyers.array.codes, sectors, missing=""), index=buyers.index, name=buyers.name)
    return buyers.astype(str).map(lookup).fillna("")


def licences(lic: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """One row per licence application made from the start date on: ``control``, ``exporter``,
    ``destination``, ``buyer`` (the buying facility: end user), ``sector`` (its sector: end use;
    for plants and depots their kind), ``material``, ``tonnes``, ``applications`` (real
    applications the row stands for: tonnes / the control's consignment size; 1 without one;
    a bundle whose applications were decided differently is split into one row per decision),
    ``submission`` (0 for a first
    application, n for its n-th re-submission after being returned for documents), ``applied``
    and ``decided`` (ISO dates; decided empty while pending), ``decision`` (approved; returned:
    for documents, re-submitted as a new row; denied; released: approved in a backlog release or
    because the control was lifted; general licence: approved when a general licence covering it
    was granted; withdrawn: by the buyer; out of scope: the control's scope no longer covers it;
    pending at end), ``wait_days`` (applied -> decided, or -> end).

    An application belongs to the run if it was applied at or after the start (``t_applied >=
    t_start``): one made during the warm-up is left out, even if decided after the start, as
    warm-up rows are left out of every table (the headline licence counts are this table's)."""
    t_applied = lic["t_applied"].to_numpy()
    rows = np.flatnonzero(t_applied >= info.t_start - 1e-9)
    rows = rows[np.argsort(t_applied[rows], kind="stable")]  # as sort_values(kind="stable"): only the rows kept
    t_applied, t_decided = t_applied[rows], _values(lic, "t_decided", rows)
    decision = _texts(lic["decision"], rows)
    pending = np.asarray(decision == "pending at end", dtype=bool)
    return pd.DataFrame({
        **{c: _texts(lic[c], rows) for c in ("control", "exporter", "destination", "buyer")},
        "sector": _buyer_sector(lic["buyer"].take(rows), info).array, "material": _texts(lic["material"], rows),
        "tonnes": _values(lic, "tonnes", rows), "applications": _values(lic, "applications", rows).astype("int64"),
        "submission": _values(lic, "submission", rows).astype("int64"),
        "applied": info.dates(t_applied), "decided": info.dates(np.where(pending, np.nan, t_decided)),
        "decision": decision,
        "wait_days": np.where(pending, info.t_end - t_applied, t_decided - t_applied),
    })


def licences_weekly(lic: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """The licensing office week by week, in the shape published figures take ("x% of requests
    submitted since April granted by 4 June"): one row per week (from the start date, 7 days
    each) and exporter, destination and sector (the buyer's end use) that ever applied. Counts
    are of real applications (the ``applications`` column of :func:`licences`).

    Columns: ``week`` (ISO date of its first day), ``exporter``, ``destination``, ``sector``;
    counts within the week: ``submitted`` (first applications), ``resubmitted`` (after a return),
    ``granted`` (approved, released or under a general licence), ``returned`` (for documents),
    ``denied``, ``withdrawn`` (by the buyer, or out of the control's scope); at the week's end:
    ``pending`` (first applications not yet granted, denied or withdrawn: a returned request is
    still pending), ``cumulative_submitted``, ``cumulative_granted``, and ``share_granted`` =
    cumulative granted / cumulative submitted (empty before any submission). Applications made
    during the warm-up are left out (as in :func:`licences`)."""
    keys = ["exporter", "destination", "sector"]
    columns = ["week", *keys, "submitted", "resubmitted", "granted", "returned", "denied", "withdrawn", "pending",
               "cumulative_submitted", "cumulative_granted", "share_granted"]
    lic = lic[lic["t_applied"] >= info.t_start - 1e-9]
    if not len(lic):
        return pd.DataFrame(columns=columns)
    n_weeks = max(1, math.ceil((info.t_end - info.t_start) / 7.0 - 1e-9))
    base = pd.DataFrame({"exporter": lic["exporter"].astype(str).to_numpy(),
                         "destination": lic["destination"].astype(str).to_numpy(),
                         "sector": _buyer_sector(lic["buyer"], info).to_numpy()})
    decision = lic["decision"].astype(str).to_numpy()
    # A split bundle's later parts are not new submissions: count a first application once, as
    # the applications of every row with submission 0 (its parts carry their own counts).
    first = lic["submission"].to_numpy() == 0
    kind_applied = np.where(first, "submitted", "resubmitted")
    kind_decided = pd.Series(decision).replace({**{d: "granted" for d in _GRANTED}, **{d: "withdrawn" for d in _CLOSED}}).to_numpy()
    decided = decision != "pending at end"
    week = lambda t: np.floor((np.asarray(t, dtype=float) - info.t_start) / 7.0).astype("int64")  # noqa: E731
    weight = lic["applications"].to_numpy()
    events = pd.concat([
        base.assign(week=week(lic["t_applied"]), kind=kind_applied, n=weight),
        base[decided].assign(week=week(lic["t_decided"].to_numpy()[decided]), kind=kind_decided[decided], n=weight[decided]),
    ])
    events = events[events["week"] < n_weeks]
    counts = events.pivot_table(index=[*keys, "week"], columns="kind", values="n", aggfunc="sum", fill_value=0)
    groups = base.drop_duplicates().sort_values(keys)
    grid = pd.MultiIndex.from_tuples([(*g, w) for g in groups.itertuples(index=False) for w in range(n_weeks)],
                                     names=[*keys, "week"])
    counts = counts.reindex(grid, fill_value=0).reindex(columns=columns[4:10], fill_value=0).astype("int64")
    by_group = counts.groupby(level=[0, 1, 2], sort=False)
    cumulative = by_group.cumsum()
    counts["cumulative_submitted"] = cumulative["submitted"]
    counts["cumulative_granted"] = cumulative["granted"]
    counts["pending"] = cumulative["submitted"] - cumulative["granted"] - cumulative["denied"] - cumulative["withdrawn"]
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["share_granted"] = np.where(counts["cumulative_submitted"] > 0,
                                           counts["cumulative_granted"] / counts["cumulative_submitted"], np.nan)
    out = counts.reset_index()
    out.columns.name = None
    out["week"] = (np.datetime64(info.start) + (out["week"].to_numpy() * 7).astype("timedelta64[D]")).astype(str)
    return out[columns]
