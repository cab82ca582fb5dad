"""The summary's picture: a facility x month heatmap under the scenario's timeline strip."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from ..plots import TimelineEvent, time_figure


def month_heatmap(values: np.ndarray, rows: Sequence[str], months: Sequence[str], title: str, scale_label: str,
                  start: pd.Timestamp, end: pd.Timestamp, events: Sequence[TimelineEvent] = (), vmax: float = 100.0) -> Figure:
    """Rows x calendar months of percentages on a fixed white-to-red scale (0..vmax: the same
    colour means the same share in every report), under the timeline strip on the same dates,
    so a reader sees when output was lost against when controls were in force. Cells are
    labelled with their rounded value where they fit."""
    values = np.asarray(values, dtype=float)
    n_rows, n_cols = values.shape
    tf = time_figure(1, title, start, end, [("", events)], panel_height=max(0.8, 0.3 * n_rows), ncols=1,
                     label_chars=max((len(r) for r in rows), default=0), gap_in=0.3)
    ax = tf.axes[0]
    edges = mdates.date2num([pd.Timestamp(m + "-01") for m in months] + [pd.Timestamp(months[-1] + "-01") + pd.offsets.MonthBegin(1)])
    cmap = LinearSegmentedColormap.from_list("lost", ["#ffffff", "#fcbba1", "#fb6a4a", "#cb181d", "#67000d"]).with_extremes(
        bad="#eeeeee")  # white at zero: a month without loss is blank
    mesh = ax.pcolormesh(edges, np.arange(n_rows + 1) - 0.5, np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=vmax,
                         edgecolors="white", linewidth=0.8)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_yticks(range(n_rows), rows, fontsize=8.5)
    ax.grid(False)
    if n_cols <= 24:
        for (i, j), v in np.ndenumerate(values):
            if not math.isnan(v) and v >= 0.5:
                ax.text((edges[j] + edges[j + 1]) / 2, i, f"{v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.55 * vmax else "#333333")
    box = ax.get_position()
    cax = tf.fig.add_axes((0.875, box.y0, 0.012, box.height))
    tf.fig.colorbar(mesh, cax=cax).set_label(scale_label, fontsize=8)
    return tf.fig
