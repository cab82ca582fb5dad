"""A depot: a distributor, port warehouse or trader that buys and resells unchanged."""

from __future__ import annotations

from collections.abc import Mapping

import simpy

from .facility import Facility
from .ledger import Ledger

__all__ = ["Depot"]


class Depot(Facility):
    """Holds stock of each material in ``throughput_t_per_year`` (its planned flow, which sets
    days of cover for its inventory policy), replenishes it through its inbound lanes and
    fills its buyers' orders from it, first come first served."""

    kind = "depot"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        country: str,
        throughput_t_per_year: Mapping[str, float],
        policy=None,
        policies=None,
        initial_stock_t: Mapping[str, float] | None = None,
        ledger: Ledger | None = None,
        **buying,
    ):
        super().__init__(env, name, country, ledger)
        self.throughput_t_per_year = dict(throughput_t_per_year)
        self._make_inputs(self.throughput_t_per_year, policy, policies, initial_stock_t, **buying)

    def daily_use_t(self, material: str) -> float:
        return self.throughput_t_per_year.get(material, 0.0) / 365.0

    def planned_output_t_per_day(self, material: str) -> float:
        return self.daily_use_t(material)
