"""The event log: compact, column-wise tables appended in memory during a run.

Numbers go into ``array`` columns (8 bytes a float, 4 an index) and names into category
columns (an index into a list of names), so memory grows with the number of records, not
with Python objects per event. Tables convert to pandas DataFrames at the end of a run.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence

__all__ = ["Table", "Records"]


class Table:
    """Rows of one kind of record, stored row after row in a single ``array('d')``.

    ``kinds`` maps column name to ``"f"`` (float), ``"i"`` (integer, exact below 2**53) or
    ``"c"`` (category: a name stored as a small integer code). A row is packed to bytes by a
    ``struct`` and appended with ``frombytes`` (two C calls, about a third of the cost of
    ``array.extend`` on a tuple); hot paths call ``data.frombytes(pack(...))`` themselves.
    8 bytes per value keeps memory proportional to the records.
    """

    def __init__(self, kinds: dict[str, str]):
        self.kinds = dict(kinds)
        self.width = len(kinds)
        self.data = array("d")
        self.categories: dict[str, list[str]] = {n: [] for n, k in kinds.items() if k == "c"}
        self._codes: dict[str, dict[str, int]] = {n: {} for n in self.categories}
        self.pack = struct.Struct(f"={self.width}d").pack  # native byte order, as the array holds it

    def code(self, column: str, name: str) -> int:
        """The integer that stands for ``name`` in a category column (added if new)."""
        codes = self._codes[column]
        found = codes.get(name)
        if found is None:
            found = codes[name] = len(self.categories[column])
            self.categories[column].append(name)
        return found

    def append(self, *values) -> None:
        """Append one row, values in column order; category values already as codes."""
        self.data.frombytes(self.pack(*values))

    def __len__(self) -> int:
        return len(self.data) // self.width

    def column(self, name: str):
        """One column as a numpy array (a strided view, no copy)."""
        import numpy as np

        index = list(self.kinds).index(name)
        return np.frombuffer(self.data, dtype=np.float64).reshape(-1, self.width)[:, index] if len(self.data) else np.array([])

    def to_frame(self):
        import numpy as np
        import pandas as pd

        rows = np.frombuffer(self.data, dtype=np.float64).reshape(-1, self.width) if len(self.data) else np.empty((0, self.width))
        data = {}
        for index, (name, kind) in enumerate(self.kinds.items()):
            values = rows[:, index]
            if kind == "c":
                # The codes are the table's own (see code()): no need for pandas to check them.
                names = self.categories[name]
                dtype = pd.CategoricalDtype(pd.Index(names, dtype=object))
                data[name] = pd.Categorical.from_codes(values.astype(np.int32), dtype=dtype, validate=False) if names else pd.Categorical([])
            elif kind == "i":
                data[name] = values.astype(np.int64)
            else:
                data[name] = values  # a view: the frame copies it (copy=True), as the record table is freed after
        return pd.DataFrame(data, copy=True)

    def nbytes(self) -> int:
        return self.data.itemsize * len(self.data)


class Records:
    """All tables of one run. Times are simulation days (floats) from the run's time zero."""

    def __init__(self):
        # One row per shipment once its fate is known (delivered, denied, refused) or at the
        # end of the run (still held or in transit: outcome says which).
        self.shipments = Table({
            "shipment_id": "i", "order_id": "i", "material": "c", "supplier": "c", "buyer": "c",
            "exporter": "c", "destination": "c", "mode": "c", "tonnes": "f", "t_first_ordered": "f",
            "lost_stock_days": "f", "lost_licence_days": "f", "t_ordered": "f",
            "t_filled": "f", "t_cleared": "f", "t_delivered": "f", "outcome": "c", "cost": "f",
        })
        # One row per licence application once decided, or at the end if still pending.
        self.licences = Table({
            "control": "c", "exporter": "c", "destination": "c", "material": "c", "tonnes": "f",
            "t_applied": "f", "t_review_start": "f", "t_decided": "f", "decision": "c", "buyer": "c",
            "submission": "i", "applications": "i",
        })
        # One row per demand facility per production day.
        self.production = Table({"facility": "c", "t": "f", "planned_units": "f", "produced_units": "f"})
        # One row per firm per production day, for sectors with firms only (firm: 1, 2, ...).
        self.firm_production = Table({"facility": "c", "firm": "i", "t": "f", "planned_units": "f",
                                      "produced_units": "f"})
        # One row per plant batch: what the plant wanted to make and what its inputs allowed.
        self.batches = Table({"facility": "c", "t": "f", "desired_t": "f", "produced_t": "f"})
        # Inventory snapshots.
        self.inventory = Table({"t": "f", "facility": "c", "material": "c", "on_hand_t": "f", "days_of_cover": "f"})
        # Timeline events as applied.
        # in_force: for controls, "yes"/"no" after the event; empty for facilities.
        self.events = Table({"t": "f", "action": "c", "target": "c", "detail": "c", "in_force": "c"})
        # The market layer (only in scenarios with `markets`), one row a day from the start date:
        # each material's price in each market (premium: index points from goods held at the
        # exporter's controls), and each response's value (simulator.components.market).
        self.prices = Table({"t": "f", "material": "c", "market": "c", "price_per_kg": "f", "reference_per_kg": "f",
                             "index": "f", "cover_days": "f", "normal_cover_days": "f", "premium": "f"})
        self.market_responses = Table({"t": "f", "kind": "c", "facility": "c", "material": "c", "value": "f"})

    def tables(self) -> dict[str, Table]:
        return {k: v for k, v in vars(self).items() if isinstance(v, Table)}

    def nbytes(self) -> int:
        return sum(t.nbytes() for t in self.tables().values())


def codes(table: Table, column: str, names: Sequence[str]) -> list[int]:
    return [table.code(column, n) for n in names]
