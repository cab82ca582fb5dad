"""Model components: plain SimPy classes you can use in your own models.

Each component takes a ``simpy.Environment`` and plain parameters (numbers, and zero-argument
callables for random quantities), starts its own processes, and shares a :class:`Ledger`
with the others it is wired to. None of them reads YAML or knows the scenario schema.
"""

from .adaptation import AdaptiveCoverRule, PrebuyRule, set_adaptive_cover, set_prebuying
from .allocation import ALLOCATIONS
from .catchup import CatchUp, CatchUpRule
from .clock import repeat, run_until
from .controls import BanControl, ExportControl, GeneralLicence, LicensingControl, QuotaControl
from .depot import Depot
from .facility import Facility, InputLine
from .firms import Firm, FirmsInput
from .lane import Lane, Mode
from .market import (DemandDestruction, Hoarding, HoardingCover, Levers, MarketLayer, NewSupply, PriceIndex,
                     StockpileTrigger, Substitution)
from .ledger import Ledger, Order, Shipment
from .licensing import Application, LicensingOffice
from .mine import Mine
from .plant import Plant
from .policies import POLICIES, FixedQuantity, JustInTime, MinMax, OrderUpTo
from .sector import Sector
from .stockpile import Stockpile

__all__ = [
    "ALLOCATIONS", "AdaptiveCoverRule", "PrebuyRule", "set_adaptive_cover", "set_prebuying",
    "Application", "BanControl", "Depot", "ExportControl", "Facility", "FixedQuantity", "GeneralLicence", "InputLine", "JustInTime", "Lane",
    "Ledger", "LicensingControl", "LicensingOffice", "MinMax", "Mine", "Mode", "Order", "OrderUpTo",
    "POLICIES", "Plant", "QuotaControl", "Sector", "Shipment", "Stockpile", "repeat", "run_until",
    "CatchUp", "CatchUpRule", "Firm", "FirmsInput",
    "DemandDestruction", "Hoarding", "HoardingCover", "Levers", "MarketLayer", "NewSupply", "PriceIndex",
    "StockpileTrigger", "Substitution",
]
