"""Pure functions from a run's records to the tables users read.

Nothing here knows SimPy: inputs are the record tables as DataFrames and a small
:class:`RunInfo`; every output column is documented in the function that computes it.
Only what happens from the scenario's start date on is reported (warm-up is dropped).
The functions live by subject: :mod:`.production` (shortages, plants, daily production,
inventories, events), :mod:`.trade` (lead times, flows, licences), :mod:`.headline` (the
headline and the summary), on :mod:`.common` (RunInfo, grouping, weighted statistics).
"""

from .common import STOP_TOLERANCE, RunInfo, weighted_mean, weighted_percentiles
from .headline import headline, summary
from .production import (FirmDays, events, firm_days, inventory_daily, plant_starvation, production_daily,
                         production_firms_daily, shortages, shortages_firms)
from .trade import flows_monthly, lead_time_stats, lead_times, licences, licences_weekly

__all__ = ["RunInfo", "shortages", "plant_starvation", "lead_times", "lead_time_stats", "flows_monthly",
           "licences", "licences_weekly", "production_daily", "shortages_firms", "production_firms_daily",
           "inventory_daily", "events", "headline", "summary", "firm_days", "FirmDays", "STOP_TOLERANCE",
           "weighted_mean", "weighted_percentiles"]
