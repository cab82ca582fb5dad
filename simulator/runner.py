"""One run: build the model, simulate, check the mass balance, compute the tables."""

from __future__ import annotations

import datetime as dt
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import customs, market_metrics, metrics, result_display
from .loading import load_scenario, scenario_hash
from .model import Model, fewer_collections
from .scenario import Scenario
from .table_dates import to_datetimes

__all__ = ["RunResult", "run", "version"]


@functools.cache  # read once per process (the installed version does not change under a run)
def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version("resim")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


@dataclass
class RunResult:
    """Everything a run produced. Tables are pandas DataFrames (see :mod:`simulator.metrics`);
    their day columns are datetime64, NaT where there is no such day (:mod:`simulator.table_dates`)."""

    scenario: Scenario
    seed: int
    manifest: dict
    tables: dict[str, pd.DataFrame] = field(repr=False)
    headline: dict[str, float] = field(repr=False)
    summary: dict = field(repr=False)
    model: Model | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return result_display.short_repr(self)

    def _repr_html_(self) -> str:  # notebooks: the headline table
        return result_display.html_repr(self)

    @property
    def shortages(self) -> pd.DataFrame:
        return self.tables["shortages"]

    @property
    def lead_times(self) -> pd.DataFrame:
        return self.tables["lead_times"]

    @property
    def flows(self) -> pd.DataFrame:
        return self.tables["flows_monthly"]

    @property
    def licences(self) -> pd.DataFrame:
        return self.tables["licences"]

    @property
    def inventory(self) -> pd.DataFrame:
        return self.tables["inventory_daily"]

    @property
    def plants(self) -> pd.DataFrame:
        return self.tables["plants"]


def run_info(model: Model) -> metrics.RunInfo:
    facilities = {}
    for name, spec in model.scenario.facilities.items():
        meta = {"kind": spec.type, "country": spec.country}
        if spec.type == "sector":
            meta.update(sector=spec.sector, unit=spec.unit)
            firms = getattr(model.facilities[name], "firms", None)
            if firms:  # (share, cover days) per firm, covers as drawn
                meta["firms"] = [(firm.share, firm.cover_days) for firm in firms]
        if spec.type == "plant":
            meta.update(output=spec.output, batch_days=spec.batch_days)
        facilities[name] = meta
    return metrics.RunInfo(model.scenario.start, model.t_start, model.t_end, facilities)


def headline_tables(frames: dict[str, pd.DataFrame], info: metrics.RunInfo,
                    days: dict | None = None) -> dict[str, pd.DataFrame]:
    """The tables :func:`metrics.headline` reads (:data:`HEADLINE_TABLES`), from the record
    frames of production, firm production, shipments and licences (``days``: the firms' days,
    :func:`metrics.firm_days`, if already computed)."""
    return {
        "shortages": metrics.shortages(frames["production"], info, frames["firm_production"], days),
        "lead_times": metrics.lead_times(frames["shipments"], info),
        "flows_monthly": metrics.flows_monthly(frames["shipments"], info),
        "licences": metrics.licences(frames["licences"], info),
    }


#: the tables :func:`metrics.headline` reads: all a sweep needs from a run it does not keep
HEADLINE_TABLES = ("shortages", "lead_times", "flows_monthly", "licences")


def run(scenario: Scenario | str | Path, seed: int | None = None, keep_model: bool = False,
        headline_only: bool = False) -> RunResult:
    """Simulate ``scenario`` (a :class:`Scenario`, a scenario file or a bundled scenario's name
    such as ``"licensing_2025"``) once with ``seed`` (default: the scenario's own seed).

    ``headline_only=True`` computes only the tables the headline metrics need
    (:data:`HEADLINE_TABLES`; ``summary`` is then empty): what a sweep collects from the runs it
    does not keep, for about a quarter less work after the simulation itself.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    with fewer_collections():  # building and tables allocate as much as the simulation
        return _run(scenario, seed, keep_model, headline_only)


def _run(scenario: Scenario, seed: int | None, keep_model: bool, headline_only: bool) -> RunResult:
    started = time.perf_counter()
    began = dt.datetime.now(dt.timezone.utc)
    model = Model(scenario, seed, sample_inventory=not headline_only)
    model.run()
    info = run_info(model)
    needed = ("production", "firm_production", "shipments", "licences") if headline_only else tuple(model.ledger.records.tables())
    frames = {}
    for name, table in model.ledger.records.tables().items():
        if name in needed:
            frames[name] = table.to_frame()
        if not keep_model:
            table.data = type(table.data)("d")  # the frame holds a copy: free the raw records
    days = metrics.firm_days(frames["production"], frames["firm_production"], info)  # once, for three tables
    tables = headline_tables(frames, info, days)
    lt = tables["lead_times"]
    if not headline_only:
        tables.update({
            "plants": metrics.plant_starvation(frames["batches"], info),
            "lead_time_stats": metrics.lead_time_stats(lt),
            "inventory_daily": metrics.inventory_daily(frames["inventory"], info),
            "production_daily": metrics.production_daily(frames["production"], info),
            "events": metrics.events(frames["events"], info),
            "licences_weekly": metrics.licences_weekly(frames["licences"], info),
            "shortages_firms": metrics.shortages_firms(frames["firm_production"], info, frames["production"], days),
            "production_firms_daily": metrics.production_firms_daily(frames["firm_production"], info, frames["production"],
                                                                     days),
            "prices_monthly": market_metrics.prices_monthly(frames["prices"], info),
            "market_responses": market_metrics.market_responses(frames["market_responses"], info),
            "flows_customs": customs.flows_customs(tables["flows_monthly"], customs.hs_codes(scenario)),
        })
        tables = {name: tables[name] for name in (
            "shortages", "plants", "lead_times", "lead_time_stats", "flows_monthly", "licences", "licences_weekly",
            "inventory_daily", "production_daily", "events", "shortages_firms",
            "production_firms_daily", "prices_monthly", "market_responses", "flows_customs")}  # the order files and reports list them in
    balance = {k: v for k, v in model.balance.items() if k != "by_material"}
    manifest = {
        "scenario": scenario.name,
        "scenario_sha256": scenario_hash(scenario),
        "seed": model.seed,
        "package_version": version(),
        "start": scenario.start.isoformat(),
        "end": scenario.end.isoformat(),
        "warmup_days": scenario.warmup_days,
        "started_at": began.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started, 4),
        "simpy_events": model.events_processed(),
        "mass_balance": balance,
        "mass_balance_by_material": model.balance["by_material"],
    }
    summary = {} if headline_only else metrics.summary(tables)
    headline = metrics.headline(tables, info)
    if not keep_model:
        model.release()  # freed now, not by the cyclic garbage collector later
    tables = {name: to_datetimes(table) for name, table in tables.items()}  # NaT where text had ''
    return RunResult(scenario, model.seed, manifest, tables, headline, summary, model if keep_model else None)
