"""The base of every spec, and the types fields share: identifiers, countries, elements, references, numbers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema,
)
from ..codes import AGGREGATE_COUNTRIES, ELEMENTS, ISO_COUNTRIES


class Spec(BaseModel):
    """Base of every spec: unknown keys are errors (catches typos) and specs are frozen.

    A field is documented by the docstring under it (or ``Field(description=...)``): that text
    is its description in ``resim schema``, so keep it to one line with the unit."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# --------------------------------------------------------------------------- identifiers

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]


def _check_country(code: str) -> str:
    if code not in ISO_COUNTRIES and code not in AGGREGATE_COUNTRIES:
        raise ValueError(f"expected an ISO 3166 alpha-2 country code (e.g. CN, US, DE), got {code!r}")
    return code


def _check_element(symbol: str) -> str:
    if symbol not in ELEMENTS:
        raise ValueError(f"expected a chemical element symbol (e.g. Nd, Dy, Tb), got {symbol!r}")
    return symbol


# The JSON Schema lists the codes too, so that an editor can complete and check them.
Country = Annotated[str, AfterValidator(_check_country),
                    WithJsonSchema({"type": "string", "enum": sorted(ISO_COUNTRIES | AGGREGATE_COUNTRIES)})]
Element = Annotated[str, AfterValidator(_check_element), WithJsonSchema({"type": "string", "enum": sorted(ELEMENTS)})]


def _reference(kind: str):
    """A validator that checks a name against the scenario's ``kind`` names (from context).

    The loader passes the names found in the document as validation context, so unknown
    references are reported in the same pass, with their line, as every other error.
    """

    def check(name: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(kind)
        if known is not None and name not in known:
            raise ValueError(f"expected one of the scenario's {kind} ({_few(known)}), got {_quoted(name)}")
        return name

    return AfterValidator(check)


def _quoted(name: str, limit: int = 60) -> str:
    """A name from the user's file for a message: quoted, escaped (one line), at most ``limit`` characters."""
    text = repr(str(name))
    return text if len(text) <= limit else text[:limit - 4] + "...'"


def _few(names, limit: int = 8) -> str:
    names = sorted(names)
    shown = ", ".join(_quoted(name)[1:-1] for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "") if names else "none defined"


MaterialRef = Annotated[str, _reference("materials")]
FacilityRef = Annotated[str, _reference("facilities")]
ControlRef = Annotated[str, _reference("controls")]


def _check_in_horizon(day: dt.date, info: ValidationInfo) -> dt.date:
    window = (info.context or {}).get("horizon")
    if window is not None and not (window[0] <= day <= window[1]):
        note = (info.context or {}).get("horizon_note")  # the horizon an override gave
        raise ValueError(
            f"expected a date within the scenario's horizon {window[0]} to {window[1]}"
            f"{f' (after {note})' if note else ''}, got {day}"
        )
    return day


# --------------------------------------------------------------------------- bounds
# Every number and date a scenario gives has a range (README, "Writing a scenario"): wide
# enough for any real rare-earth world, narrow enough that a run's arithmetic stays finite
# and its work proportional to its horizon (periods of at least 0.1 day: at most ten reviews
# or batches a day per facility and input).

EARLIEST_DATE = dt.date(1900, 1, 1)
"""The earliest date a scenario may give (and the earliest `start`)."""
LATEST_START = dt.date(2100, 12, 31)
"""The latest `start`: with the longest horizon (100 years) a run ends by 2200-12-31."""
LATEST_DATE = dt.date(2200, 12, 31)
"""The latest date a scenario may give (pandas dates, in the reports, end in 2262)."""
MAX_TONNES = 1_000_000_000
"""Tonnes, or tonnes per year: far above any real flow (world rare-earth output is ~4e5 t/yr)."""
MAX_UNITS = 1_000_000_000_000
"""Units per year of a demand sector."""
MAX_KG_PER_UNIT = 100_000
"""Kilograms of a material per unit made (100 t; a large wind turbine holds a few tonnes of magnets)."""
MAX_T_PER_T = 10_000
"""Tonnes of an input per tonne of output (ore to oxide of a poor ore is a few hundred)."""
MAX_HORIZON_DAYS = 36_500
"""Days of a run's horizon: a hundred years."""
MAX_DAYS = 3650
"""Days of a duration, a period, a cover or a distribution's parameters: ten years."""
MIN_PERIOD_DAYS = 0.1
"""Days between reviews or batches: at most ten a day (the model's grain is the day)."""
MAX_MONEY = 1_000_000_000
"""A cost per tonne, or a lane's relative share, in any unit."""


def _date_check(earliest: dt.date, latest: dt.date):
    def check(value: Any) -> Any:
        # YAML reads `2025-01-01 10:00` as a datetime (a kind of date to Python): not a day.
        if isinstance(value, dt.datetime):
            raise ValueError(f"expected a date (YYYY-MM-DD) without a time of day, got {value.isoformat(sep=' ')}")
        if isinstance(value, (int, float)):  # pydantic would read a number as seconds since 1970
            raise ValueError(f"expected a date (YYYY-MM-DD), got {str(value).lower() if isinstance(value, bool) else value!r}")
        if isinstance(value, dt.date) and not earliest <= value <= latest:
            raise ValueError(f"expected a date from {earliest} to {latest}, got {value.isoformat()}")
        return value

    return check


def _bounded_date(earliest: dt.date, latest: dt.date):
    # Before: a YAML date or datetime as read; after: a date pydantic parsed from text.
    check = _date_check(earliest, latest)
    return Annotated[dt.date, BeforeValidator(check), AfterValidator(check)]


Date = _bounded_date(EARLIEST_DATE, LATEST_DATE)
"""A calendar date (YYYY-MM-DD) from 1900-01-01 to 2200-12-31, without a time of day."""
StartDate = _bounded_date(EARLIEST_DATE, LATEST_START)
"""The first day of a run: 1900-01-01 to 2100-12-31."""
DateInHorizon = Annotated[Date, AfterValidator(_check_in_horizon)]

def _not_a_boolean(value: Any) -> Any:
    # YAML reads yes/no/on/off as booleans and pydantic would quietly take them as 1 and 0.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()} (a YAML boolean)")
    return value


NoBool = BeforeValidator(_not_a_boolean)
Probability = Annotated[float, Field(ge=0.0, le=1.0), NoBool]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False), NoBool]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False), NoBool]
Count = Annotated[int, NoBool]
Tonnes = Annotated[float, Field(ge=0.0, le=MAX_TONNES, allow_inf_nan=False), NoBool]
"""Tonnes or tonnes per year, 0 to 1e9."""
Days = Annotated[float, Field(ge=0.0, le=MAX_DAYS, allow_inf_nan=False), NoBool]
"""A duration or a cover in days, 0 to 3650."""
PositiveDays = Annotated[float, Field(gt=0.0, le=MAX_DAYS, allow_inf_nan=False), NoBool]
"""A duration in days above 0, at most 3650 (a time constant)."""
Period = Annotated[float, Field(ge=MIN_PERIOD_DAYS, le=MAX_DAYS, allow_inf_nan=False), NoBool]
"""Days between reviews or batches, 0.1 to 3650."""

