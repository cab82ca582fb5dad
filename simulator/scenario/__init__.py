"""The scenario schema: typed, immutable specifications of a world and its timeline.

Everything a run needs is described here and validated once, at the edge, with pydantic.
The schema knows nothing of SimPy; :mod:`simulator.model` turns a :class:`Scenario` into
components. Reading YAML (with line numbers for error messages) is in :mod:`simulator.loading`.

Units: tonnes (``_t``), days (``_days``), kilograms per unit (``_kg_per_unit``); dates are
ISO dates. Random quantities are :data:`Distribution` specs (a bare number means fixed).
"""

from __future__ import annotations

from ..codes import AGGREGATE_COUNTRIES, ELEMENTS, ISO_COUNTRIES  # noqa: F401 - re-exported
from .base import (  # noqa: F401 - the schema's names, re-exported
    ControlRef, Count, Country, DateInHorizon, Element, FacilityRef, Identifier, MaterialRef,
    NoBool, NonNegative, Positive, Probability, Spec, _check_country, _check_element,
    _check_in_horizon, _few, _not_a_boolean, _reference,
)
from .distributions import (  # noqa: F401 - the schema's names, re-exported
    Distribution, Exponential, Fixed, Gamma, LogNormal, Normal, Triangular, Uniform, _Dist,
    _DistributionSpec, _number_means_fixed,
)
from .network import (  # noqa: F401 - the schema's names, re-exported
    AdaptiveCover, Allocation, CatchUp, Depot, DomesticFirst, Facility, Firms, FirstComeFirstServed,
    FixedQuantity, JustInTime, Lane, Material, MinMax, Mine, OrderUpTo, Plant, Policy,
    PrebuyOnAnnouncement, ProRata, Sector, Stockpile, Tiers, TransportMode, _AllocationSpec, _Buyer,
    _Facility, _allocation_field, _name_means_rule, _periodic_only,
)
from .controls import (  # noqa: F401 - the schema's names, re-exported
    Ban, Control, ElementScope, Exclude, Include, Licensing, Quota, _Control,
)
from .timeline import (  # noqa: F401 - the schema's names, re-exported
    Ease, Event, Expect, GrantGeneralLicence, Impose, Lift, RUNTIME_SETTABLE, Release,
    ReleaseStockpile, SetParameter, Suspend, _BUYING, _Event,
)
from .markets import (  # noqa: F401 - the schema's names, re-exported
    MARKETS, DemandDestruction, Hoarding, Markets, MaterialMarket, NewSupply, Response, StockpileTrigger,
    Substitution, market_of, markets_problems, responders,
)
from .selectors import Selector, changed_by, is_relative, select  # noqa: F401 - re-exported
from .expand import (  # noqa: F401 - re-exported
    Expansion, Write, expand, expanded_timeline, expansion_lines, overwriting_events,
)
from .world import (  # noqa: F401 - the schema's names, re-exported
    Scenario, _changed, _inputs, _revalidate, apply_change, destination_in_scope, material_in_scope,
    problems, supplies,
)

__all__ = [
    "Scenario",
    "Material",
    "Mine",
    "Plant",
    "Sector",
    "Firms",
    "CatchUp",
    "Stockpile",
    "Depot",
    "Lane",
    "TransportMode",
    "Licensing",
    "Quota",
    "Ban",
    "Distribution",
    "RUNTIME_SETTABLE",
]
