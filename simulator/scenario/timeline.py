"""The timeline: dated events, and which parameters may change mid-run."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, model_validator

from .base import (
    ControlRef, Country, Date, DateInHorizon, FacilityRef, Identifier, MaterialRef, Probability,
    Spec, Tonnes,
)
from .selectors import Selector


def _names_mean_list(value: Any) -> Any:
    """``facilities: [a, b]`` is short for ``facilities: {names: [a, b]}``."""
    return {"names": value} if isinstance(value, list) else value


class _Event(Spec):
    date: DateInHorizon
    """The day the event happens (YYYY-MM-DD, from `start` to the end of the horizon)."""
    id: Identifier | None = Field(
        default=None, description="A name for the event, so that --set and sweeps can address it "
        "(timeline.<id>.fraction) whatever its position."
    )
    note: str = ""
    """Free text for readers of the file (e.g. the source); not used by the model."""


class Impose(_Event):
    """Bring a control into force (after a suspension ends, if it is suspended)."""

    action: Literal["impose"]
    """Event kind: impose."""
    control: ControlRef
    """The control (a name under `controls`)."""
    announced: Date | None = None
    """The day it was announced (YYYY-MM-DD, not after `date`): buyers with `prebuy_on_announcement` react then."""


class Expect(_Event):
    """Buyers come to expect a control before any announcement (front-loading): those with
    `prebuy_on_announcement` react as to an announcement effective on `until`. No legal effect."""

    action: Literal["expect"]
    """Event kind: expect."""
    control: ControlRef
    """The control buyers expect (a name under `controls`): its scope says whose inputs react."""
    until: Date
    """The day the expectation ends (YYYY-MM-DD, after `date`): when the control is expected to take effect."""


class Ease(_Event):
    """Change a control's parameters (approval probability, reviewers, quota, scope, ...)."""

    action: Literal["ease"]
    """Event kind: ease."""
    control: ControlRef
    """The control (a name under `controls`)."""
    set: dict[str, Any] = Field(min_length=1)
    """New values of control fields by name, e.g. {approval_probability: 0.6}; a dotted key reaches inside one (approval_by_destination.US), a number's change as text ("+0.05", "*2")."""
    buyers: Annotated[Selector, BeforeValidator(_names_mean_list, json_schema_input_type=Union[Selector, list[FacilityRef]])] | None = Field(
        default=None, exclude_if=lambda value: value is None)
    """The buying facilities (end users) whose own approval chance `set: {approval_by_buyer: ...}` gives: a list of names or a selector."""

    @model_validator(mode="after")
    def _buyers_with_their_chance(self):
        if self.buyers is not None and set(self.set) != {"approval_by_buyer"}:
            others = ", ".join(k for k in self.set if k != "approval_by_buyer") or "nothing"
            raise ValueError(f"expected only set: {{approval_by_buyer: ...}} with buyers, got {others}")
        return self


class Release(_Event):
    """Approve a fraction of the pending licence backlog at once, oldest first."""

    action: Literal["release"]
    """Event kind: release."""
    control: ControlRef
    """The licensing control whose pending applications are approved."""
    fraction: Probability = 1.0
    """Share (0 to 1) of the pending applications approved."""


class ReleaseStockpile(_Event):
    """Ship tonnes out of a stockpile now, split over its lanes by share."""

    action: Literal["release_stockpile"]
    """Event kind: release_stockpile."""
    facility: FacilityRef
    """The stockpile (a name under `facilities`)."""
    material: MaterialRef
    """The material released."""
    tonnes: Tonnes
    """Tonnes to release (at most what the stockpile holds)."""


class Suspend(_Event):
    """Stop applying a control for a while; it applies again when the suspension ends."""

    action: Literal["suspend"]
    """Event kind: suspend."""
    control: ControlRef
    """The control (a name under `controls`)."""
    until: Date | None = None
    """The day the suspension ends (YYYY-MM-DD; default: suspended until lifted or the end)."""


class GrantGeneralLicence(_Event):
    """A general licence: shipments it covers pass a licensing control without review."""

    action: Literal["general_licence"]
    """Event kind: general_licence."""
    control: ControlRef
    """The licensing control (a name under `controls`)."""
    supplier: FacilityRef | None = None
    """Only shipments from this exporting facility, e.g. a magnet maker (default: any supplier)."""
    buyer: FacilityRef | None = None
    """Only shipments to this buying facility (default: any buyer)."""
    destination: Country | None = None
    """Only shipments to this country (default: any destination)."""
    until: Date | None = None
    """The day it expires (YYYY-MM-DD; default: the end of the run)."""
    tonnes: Tonnes | None = None
    """Tonnes it covers in all (default: no limit)."""


class Lift(_Event):
    """End a control (and any suspension of it)."""

    action: Literal["lift"]
    """Event kind: lift."""
    control: ControlRef
    """The control (a name under `controls`)."""


class SetParameter(_Event):
    """Change facility parameters: a mine outage, new capacity, a smaller bill of materials, a
    buyer's cover. Either one parameter (`path`, `value`) or, for every facility a selector
    matches, several (`facilities`, `set`); a value may be relative ("+5", "-2", "*1.2")."""

    action: Literal["set"]
    """Event kind: set."""
    path: str | None = Field(default=None, pattern=r"^facilities\.[A-Za-z][A-Za-z0-9_\-]*\.[a-z_]+$",
                             exclude_if=lambda value: value is None)
    """The parameter to change, as facilities.<facility>.<parameter> (with `value`)."""
    value: Any = None
    """The new value, written as in the facility (a number, a mapping, a distribution, ...), or a change of a number ("+5", "-2", "*1.2")."""
    facilities: Annotated[Selector, BeforeValidator(_names_mean_list, json_schema_input_type=Union[Selector, list[FacilityRef]])] | None = Field(
        default=None, exclude_if=lambda value: value is None)
    """The facilities to change (with `set`): a list of names, or a selector {type, country, sector, uses, buys_from, names, pattern} whose conditions all hold."""
    set: dict[str, Any] | None = Field(
        default=None, min_length=1, exclude_if=lambda value: value is None)
    """New values by parameter (with `facilities`), a dotted key reaching inside one (policy.target_days), a number's change as text ("+5", "*1.2")."""

    @model_validator(mode="after")
    def _one_form(self):
        single = self.path is not None or "value" in self.model_fields_set
        many = self.facilities is not None or self.set is not None
        if single and many:
            raise ValueError("expected either path and value, or facilities and set, got both forms")
        if many and (self.facilities is None or self.set is None):
            raise ValueError(f"expected facilities and set together, got only {'set' if self.facilities is None else 'facilities'}")
        if not many and (self.path is None or "value" not in self.model_fields_set):
            raise ValueError(f"expected path and value (or facilities and set), got {'no path' if self.path is None else 'no value'}")
        return self


Event = Annotated[
    Union[Impose, Ease, Release, ReleaseStockpile, Suspend, Lift, SetParameter, GrantGeneralLicence, Expect],
    Field(discriminator="action"),
]

# Parameters the running model knows how to change mid-run, by facility type / instrument.
_BUYING = frozenset({"policy", "expedite_below_cover_days", "resource_after_denial_days", "cancel_backlog_after_days",
                     "unfilled_orders", "withdraw_held_after_days", "adaptive_cover", "prebuy_on_announcement"})
RUNTIME_SETTABLE: dict[str, frozenset[str]] = {
    "mine": frozenset({"capacity_t_per_year", "utilisation", "variability", "max_stock_t", "allocation", "output_cap_t_per_year"}),
    "plant": _BUYING | {"capacity_t_per_year", "utilisation", "processing_days", "output_stock_days", "allocation",
                       "output_cap_t_per_year"},
    "sector": _BUYING | {"units_per_year", "bom_kg_per_unit", "demand_variability"},
    "depot": _BUYING | {"throughput_t_per_year", "allocation"},
    "stockpile": frozenset({"release_below_cover_days", "release_target_cover_days"}),
    "licensing": frozenset(
        {"reviewers", "review_days", "review_working_days", "approval_probability",
         "approval_by_destination", "approval_by_sector", "approval_by_buyer", "return_probability",
         "return_by_destination", "resubmit_days", "review_days_by_outcome", "consignment_t", "materials", "elements",
         "destinations"}
    ),
    "quota": frozenset({"tonnes_per_period", "on_exceed", "materials", "elements", "destinations"}),
    "ban": frozenset({"on_block", "materials", "elements", "destinations"}),
}

