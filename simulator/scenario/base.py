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
            raise ValueError(f"expected one of the scenario's {kind} ({_few(known)}), got {name!r}")
        return name

    return AfterValidator(check)


def _few(names, limit: int = 8) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "") if names else "none defined"


MaterialRef = Annotated[str, _reference("materials")]
FacilityRef = Annotated[str, _reference("facilities")]
ControlRef = Annotated[str, _reference("controls")]


def _check_in_horizon(day: dt.date, info: ValidationInfo) -> dt.date:
    window = (info.context or {}).get("horizon")
    if window is not None and not (window[0] <= day <= window[1]):
        raise ValueError(
            f"expected a date within the scenario's horizon {window[0]} to {window[1]}, got {day}"
        )
    return day


DateInHorizon = Annotated[dt.date, AfterValidator(_check_in_horizon)]

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

