"""The market layer's tables (issue 12): monthly prices and monthly response values.

Pure functions from the run's ``prices`` and ``market_responses`` records (one row a day from
the start date, :mod:`simulator.components.market`) to the tables users read, as
:mod:`simulator.metrics` does for the rest. A scenario without ``markets`` has no such records:
both tables are then empty, with their columns.
"""

from __future__ import annotations

import pandas as pd

from .metrics import RunInfo

__all__ = ["prices_monthly", "market_responses", "PRICE_COLUMNS", "RESPONSE_COLUMNS"]

PRICE_COLUMNS = ["month", "material", "market", "price_per_kg", "reference_per_kg", "index", "cover_days",
                 "normal_cover_days", "premium"]
RESPONSE_COLUMNS = ["month", "kind", "facility", "material", "value"]


def _monthly(frame: pd.DataFrame, info: RunInfo, keys: list[str], values: list[str]) -> pd.DataFrame:
    rows = frame[(frame["t"] >= info.t_start - 1e-9) & (frame["t"] < info.t_end)].reset_index(drop=True)
    data = {"month": info.dates(rows["t"]).str.slice(0, 7)}
    data.update({k: rows[k].astype(str) for k in keys})
    data.update({v: rows[v].to_numpy() for v in values})
    out = pd.DataFrame(data).groupby(["month", *keys], as_index=False, sort=True)[values].mean()
    return out


def prices_monthly(prices: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """One row per month, material and market (from the start date; empty without markets).

    Columns: ``month`` (YYYY-MM); ``material``; ``market`` (``domestic``: buyers in the
    controlling exporter's country, ``world``: all others); ``price_per_kg`` (the month's mean of
    the daily price, $/kg); ``reference_per_kg`` (the reference price, $/kg); ``index`` (the
    month's mean of the daily index = price / reference, after smoothing); ``cover_days`` (the
    month's mean of the buyers' cover: their stock on hand / their planned use per day);
    ``normal_cover_days`` (the cover at which the index is 1: given, or learned at the end of the
    warm-up); ``premium`` (the month's mean of the index points added for goods held at the
    exporter's controls, world market; 0 without)."""
    if not len(prices):
        return pd.DataFrame(columns=PRICE_COLUMNS)
    out = _monthly(prices, info, ["material", "market"], PRICE_COLUMNS[3:])
    return out[PRICE_COLUMNS]


def market_responses(responses: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """One row per month and response (from the start date; empty without markets): the month's
    mean of the daily value.

    Columns: ``month`` (YYYY-MM); ``kind``: ``bom_intensity`` (a sector's bill of materials, or a
    plant's recipe, of ``material`` as a share of its base: 1 = no saving), ``units_per_year``
    (a sector's planned units per year after demand destruction; ``material``: the one whose
    price drives it), ``capacity_added_t_per_year`` (a new-supply facility's capacity above its
    capacity at the start, t/yr; ``material``: the one whose price triggers it),
    ``hoarded_extra_days`` (days of use a buyer adds to its target cover of ``material``),
    ``stockpile_release_on`` (the share of the month's days a stockpile's automatic releases were
    switched on by a high price of ``material``); ``facility``; ``material``; ``value``."""
    if not len(responses):
        return pd.DataFrame(columns=RESPONSE_COLUMNS)
    out = _monthly(responses, info, ["kind", "facility", "material"], ["value"])
    return out[RESPONSE_COLUMNS]
