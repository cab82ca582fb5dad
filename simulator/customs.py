"""Simulated flows in the shape customs statistics and UN Comtrade publish them.

A pure function of the monthly flows table (:func:`simulator.metrics.flows_monthly`) and the
materials' HS codes; nothing here knows SimPy.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["CUSTOMS_COLUMNS", "WORLD", "flows_customs", "hs_codes"]

#: the columns of ``flows_customs.csv`` (and of an observed series, with ``tonnes`` allowed for ``net_kg``)
CUSTOMS_COLUMNS = ["reporter", "partner", "hs_code", "period", "flow", "net_kg", "material"]
WORLD = "WLD"  # UN Comtrade's partner code for the total over all partners


def hs_codes(scenario) -> dict[str, str]:
    """Material name -> HS code ("" for a material without one)."""
    return {name: material.hs_code or "" for name, material in scenario.materials.items()}


def flows_customs(flows: pd.DataFrame, codes: Mapping[str, str]) -> pd.DataFrame:
    """Exports as customs record them: one row per month, exporter, destination and material.

    ``reporter`` (the exporting country, ISO 3166 alpha-2), ``partner`` (the destination
    country), ``hs_code`` (the material's ``hs_code``; empty without one), ``period`` (YYYYMM,
    the month the goods cleared the exporter's controls and left), ``flow`` (``export``),
    ``net_kg`` (net mass in kilograms = tonnes x 1000), ``material`` (the scenario's name).
    Domestic deliveries (exporter = destination) are not trade and are left out; the total over
    all partners (partner ``WLD``) is the sum of a reporter's rows."""
    cross = flows[flows["exporter"] != flows["destination"]].reset_index(drop=True)
    out = pd.DataFrame({
        "reporter": cross["exporter"].astype(str),
        "partner": cross["destination"].astype(str),
        "hs_code": cross["material"].astype(str).map(lambda m: codes.get(m, "")),
        "period": cross["month"].astype(str).str.replace("-", "", regex=False).astype("int64"),
        "flow": "export",
        "net_kg": cross["tonnes"].to_numpy(dtype=float) * 1000.0,
        "material": cross["material"].astype(str),
    }, columns=CUSTOMS_COLUMNS)
    return out.sort_values(["period", "reporter", "partner", "material"], kind="stable").reset_index(drop=True)
