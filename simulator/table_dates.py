"""Date columns of the result tables: datetime64 (NaT where missing) in Python, ISO text in files.

The tables are computed with dates as ISO text (``''`` where there is none), the form the CSV
files hold; :func:`to_datetimes` turns them into datetime columns for the user's DataFrames and
:func:`to_text` turns them back, byte for byte, when a run is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DATE_COLUMNS", "to_datetimes", "to_text"]

#: columns that hold a day, in any table (months, ``YYYY-MM``, stay text)
DATE_COLUMNS = ("date", "week", "first_stop", "recovered", "first_starved", "ordered", "delivered", "applied", "decided")


def _parse(values: pd.Series) -> pd.Series:
    """ISO day text -> datetime64[ns], each distinct day parsed once."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # long daily tables: one label per day already
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories.astype(object).to_numpy()
    else:
        codes, uniques = pd.factorize(values.astype(object).to_numpy(), sort=False)
    days = pd.to_datetime(pd.Series(uniques, dtype=object).replace("", None), format="%Y-%m-%d").to_numpy("datetime64[ns]")
    out = np.full(len(values), np.datetime64("NaT", "ns"))
    present = codes >= 0
    out[present] = days[codes[present]]
    return pd.Series(out, index=values.index, name=values.name)


def to_datetimes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text date columns as datetime64 (NaT for ``''``)."""
    cols = [c for c in DATE_COLUMNS if c in frame.columns and not pd.api.types.is_datetime64_any_dtype(frame[c])]
    if not cols:
        return frame
    frame = frame.copy(deep=False)
    for c in cols:
        frame[c] = _parse(frame[c])
    return frame


def to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its datetime columns as ISO day text (``''`` for NaT), as the files hold them."""
    cols = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if not cols:
        return frame
    frame = frame.copy(deep=False)
    for c in cols:
        codes, uniques = pd.factorize(frame[c], sort=False)
        labels = np.append(np.asarray(pd.DatetimeIndex(uniques).strftime("%Y-%m-%d"), dtype=object), "")
        frame[c] = labels[codes]  # code -1 (NaT) takes the last label, ''
    return frame
