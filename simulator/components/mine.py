"""A mine: produces one material (ore, concentrate) in batches at its capacity."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from .clock import repeat
from .facility import Facility
from .ledger import Ledger
from .output_cap import CappedOutput

__all__ = ["Mine"]


class Mine(Facility, CappedOutput):
    """Every ``batch_days`` adds ``capacity * utilisation`` worth of output, times a random
    multiplier ``variability()`` if given, up to ``max_stock_t`` on hand (no buyer, no room), and
    within ``output_cap_t_per_year`` if set (a production quota, :mod:`.output_cap`)."""

    kind = "mine"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        country: str,
        material: str,
        capacity_t_per_year: float,
        utilisation: float = 1.0,
        variability: Callable[[], float] | None = None,
        batch_days: float = 7.0,
        initial_stock_t: float = 0.0,
        max_stock_t: float | None = None,
        ledger: Ledger | None = None,
    ):
        super().__init__(env, name, country, ledger)
        self.material = material
        self.capacity_t_per_year, self.utilisation = capacity_t_per_year, utilisation
        self.variability, self.batch_days, self.max_stock_t = variability, batch_days, max_stock_t
        self.add_initial_stock(material, initial_stock_t)
        self._started = False
        repeat(env, self.produce)

    def planned_output_t_per_day(self, material: str) -> float:
        return self.capacity_t_per_year * self.utilisation / 365.0 if material == self.material else 0.0

    def produce(self) -> float:
        """Add the batch that ended now (nothing at the start); returns the days to the next."""
        if self._started:
            material, stock = self.material, self.stock
            qty = self.capacity_t_per_year * self.utilisation / 365.0 * self.batch_days
            if self.variability is not None:
                multiplier = self.variability()
                qty *= multiplier if multiplier > 0.0 else 0.0
            if self.max_stock_t is not None:
                room = self.max_stock_t - stock[material]
                room = room if room > 0.0 else 0.0
                qty = room if room < qty else qty
            cap = self.output_cap
            if cap is not None:
                allowed = cap.allowance(self.env.now, self.batch_days)
                qty = allowed if allowed < qty else qty
            if qty > 0.0:
                if cap is not None:
                    cap.record(qty)
                stock[material] += qty
                self.made_t[material] = self.made_t.get(material, 0.0) + qty
                self.ledger.produced_t[material] += qty
                self.serve(material)
        self._started = True
        return self.batch_days
