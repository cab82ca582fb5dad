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
    """ISO day text -> datetime64[ns], each distinct day parsed once.

    numpy parses the distinct days (``''`` gives NaT): the text is :meth:`RunInfo.dates`' own
    ``YYYY-MM-DD``, and numpy reads it in a tenth of the time ``pd.to_datetime`` takes."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # long daily tables: one label per day already
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, uniques = values.factorize(sort=False)  # pyarrow text: no Python string per row
    days = np.array(np.asarray(uniques, dtype=object), dtype="datetime64[D]").astype("datetime64[ns]")
    days = np.append(days, np.datetime64("NaT", "ns"))  # code -1 (missing) takes the last, NaT
    return pd.Series(days[codes], index=values.index, name=values.name)


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
