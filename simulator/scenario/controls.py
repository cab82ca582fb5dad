"""Export controls: scope and instruments (licensing, quota, ban)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from .base import MAX_TONNES, Count, Country, Element, FacilityRef, MaterialRef, NoBool, Probability, Spec, Tonnes
from .distributions import Distribution


class Include(Spec):
    """Only shipments to these countries are in scope."""

    include: list[Country] = Field(min_length=1)
    """ISO country codes of the destinations in scope."""


class Exclude(Spec):
    """Shipments to every country but these are in scope."""

    exclude: list[Country] = Field(min_length=1)
    """ISO country codes of the destinations not in scope."""


class ElementScope(Spec):
    """In scope when the listed elements together make up at least ``min_fraction`` by mass."""

    any_of: list[Element] = Field(min_length=1)
    """Element symbols (e.g. Dy, Tb) whose mass fractions are added up."""
    min_fraction: Probability = 0.0
    """Least combined mass fraction (0 to 1) for a material to be in scope; 0: any content."""


class _Control(Spec):
    exporter: Country
    """ISO country code of the exporting country: the control covers shipments leaving it."""
    description: str = ""
    """Free text for readers of the file; not used by the model."""
    materials: list[MaterialRef] = Field(default_factory=list)
    """Materials in scope by name (names under `materials`)."""
    elements: ElementScope | None = None
    """Materials in scope by element content (besides those in `materials`)."""
    destinations: Literal["all"] | Include | Exclude = "all"
    """Destination countries in scope: all, {include: [...]} or {exclude: [...]}."""
    in_force_at_start: bool = False
    """In force from the start (true), or only once an `impose` event brings it in (false)."""
    enforcement_ramp_days: Annotated[float, Field(ge=0.0, le=3650.0)] = 0.0
    """Days for customs to enforce a new ban or licence fully: a covered shipment is stopped with chance (days since imposed) / ramp (0: at once)."""

    @model_validator(mode="after")
    def _has_scope(self):
        if not self.materials and self.elements is None:
            raise ValueError("expected a material scope: `materials`, `elements` or both, got neither")
        return self


def _known_calendar(country: str) -> str:
    from ..workdays import holiday_calendar  # the optional holidays package, only when asked for

    holiday_calendar(country)
    return country


class Licensing(_Control):
    """Every in-scope shipment needs a licence from the exporter's office (c reviewers, FCFS)."""

    instrument: Literal["licensing"]
    """Control kind: licensing."""
    reviewers: Annotated[Count, Field(ge=1, le=1_000_000)]
    """Number of reviewers working on applications in parallel, first come first served."""
    review_days: Distribution | None = None
    """Review time per application, calendar days (give this or `review_working_days`)."""
    review_working_days: Distribution | None = None
    """Review time per application, working days Monday to Friday (or give `review_days`)."""
    approval_probability: Probability
    """Chance (0 to 1) that an application is approved; denied goods return to the supplier."""
    approval_by_destination: dict[Country, Probability] = Field(default_factory=dict)
    """Approval chance by destination country code, instead of `approval_probability`."""
    approval_by_sector: dict[str, Probability] = Field(default_factory=dict)
    """Approval chance by the buyer's sector (end use, e.g. defence: 0), before destination."""
    approval_by_buyer: dict[FacilityRef, Probability] = Field(default_factory=dict)
    """Approval chance by buying facility (end user), before sector and destination."""
    return_probability: Probability = 0.0
    """Chance (0 to 1) that a decision returns the application for documents; it is re-submitted and reviewed again. Denied: the rest (a return chance above 1 - approval is cut to it)."""
    return_by_destination: dict[Country, Probability] = Field(default_factory=dict)
    """Return chance by destination country code, instead of `return_probability`."""
    resubmit_days: Distribution | None = None
    """Calendar days an applicant takes to re-submit a returned application (default 0)."""
    review_days_by_outcome: dict[Literal["denied", "returned"], Distribution] = Field(default_factory=dict)
    """Own review time for denials or returns, in the units of the review time (calendar or working days)."""
    consignment_t: Annotated[float, Field(ge=0.01, le=MAX_TONNES, allow_inf_nan=False), NoBool] | None = None
    """Tonnes one real application covers: a shipment is round(tonnes / this), at least 1, applications, each decided on its own; reviewers then count real applications (default: one per shipment)."""

    holidays: Annotated[Country, AfterValidator(_known_calendar)] | None = Field(
        default=None, exclude_if=lambda value: value is None)  # absent: the scenario's hash is as before
    """Country whose public holidays are not working days in `review_working_days` (e.g. CN: China's, with its make-up working weekends; from the holidays package). Default: Monday to Friday."""

    @model_validator(mode="after")
    def _one_review_time(self):
        if (self.review_days is None) == (self.review_working_days is None):
            given = "neither" if self.review_days is None else "both"
            raise ValueError(f"expected exactly one of review_days or review_working_days, got {given}")
        if self.holidays is not None and self.review_working_days is None:
            raise ValueError(f"expected review_working_days with a holiday calendar (holidays: {self.holidays}), "
                             "got review_days, in calendar days")
        return self


class Quota(_Control):
    """A tonnage cap per calendar period on the in-scope flows."""

    instrument: Literal["quota"]
    """Control kind: quota."""
    tonnes_per_period: Tonnes
    """The cap on in-scope shipments, tonnes per period."""
    period: Literal["year", "half_year", "quarter", "month"] = "year"
    """The calendar period the cap is counted over."""
    on_exceed: Literal["wait", "refuse"] = "wait"
    """Shipments over the cap wait for the next period, or are refused."""


class Ban(_Control):
    """In-scope shipments are held until the ban ends, or refused."""

    instrument: Literal["ban"]
    """Control kind: ban."""
    on_block: Literal["hold", "refuse"] = "hold"
    """In-scope shipments are held at the exporter until the ban ends, or refused."""


Control = Annotated[Union[Licensing, Quota, Ban], Field(discriminator="instrument")]

