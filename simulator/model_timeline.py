"""The model's timeline: dated events carried out on the built components.

A mixin of :class:`~simulator.model.Model` (it reads the model's components, specs and
records): scheduling each event of the expanded timeline, carrying it out (impose, lift,
suspend, release, release a stockpile, expect, general licence, ease a control, set a
facility's parameter), announcements for pre-buying buyers, the end of suspensions, and the
events table. Split from model.py, which builds the components and runs them.
"""

from __future__ import annotations

import math

from . import components as c
from . import scenario as sp

__all__ = ["TimelineMixin"]


class TimelineMixin:
    """Timeline events on a built :class:`~simulator.model.Model` (see the module docstring)."""

    def _schedule(self, event) -> None:
        delay = self.time_of(event.date) - self.env.now
        self.env.timeout(max(0.0, delay)).callbacks.append(lambda _e, event=event: self.apply(event))

    def apply(self, event) -> None:
        """Carry out one timeline event now."""
        detail = ""
        if isinstance(event, sp.Impose):
            target = event.control
            detail = f"announced {event.announced}" if event.announced else ""
            if target in self.suspended:  # comes into force when the suspension ends
                self.suspended[target] = True
                detail = (detail + "; " if detail else "") + "deferred: suspended"
            else:
                self.controls[target].impose()
        elif isinstance(event, sp.Lift):
            self.controls[event.control].lift()
            self.suspended.pop(event.control, None)
            self._suspended_until.pop(event.control, None)
            target = event.control
        elif isinstance(event, sp.Suspend):
            target = event.control
            control = self.controls[target]
            # Remember whether the control should apply again when the suspension ends: it was
            # in force, or (see Impose) it is imposed while suspended.
            self.suspended[target] = self.suspended.get(target, False) or control.in_force
            control.lift()
            detail = f"until {event.until}" if event.until else "indefinitely"
            self._suspended_until[target] = math.inf
            if event.until is not None:
                t_until = self._suspended_until[target] = self.time_of(event.until)
                self.env.timeout(t_until - self.env.now).callbacks.append(lambda _e, name=target, until=t_until: self._end_suspension(name, until))
        elif isinstance(event, sp.Release):
            count = self.controls[event.control].release(event.fraction)
            target, detail = event.control, f"{count} applications released ({event.fraction:g} of backlog)"
        elif isinstance(event, sp.ReleaseStockpile):
            shipped = self.facilities[event.facility].release(event.material, event.tonnes)
            target, detail = event.facility, f"{shipped:.6g} t {event.material} released"
        elif isinstance(event, sp.Expect):
            buyers = self._prebuy_for(event.control, self.time_of(event.until))
            target = event.control
            detail = f"expected until {event.until}; pre-buying: {', '.join(buyers) if buyers else 'none'}"
        elif isinstance(event, sp.GrantGeneralLicence):
            licence = c.GeneralLicence(event.buyer, event.destination,
                                       math.inf if event.until is None else self.time_of(event.until),
                                       math.inf if event.tonnes is None else event.tonnes, event.supplier)
            count = self.controls[event.control].grant_general(licence)
            scope = ", ".join(f"{k} {v}" for k, v in (("supplier", event.supplier), ("buyer", event.buyer),
                                                      ("destination", event.destination),
                                                      ("until", event.until), ("tonnes", event.tonnes)) if v is not None)
            target, detail = event.control, f"general licence ({scope or 'all buyers'}); {count} pending applications approved"
        elif isinstance(event, sp.Ease):
            self._change_control(event.control, event.set)
            target, detail = event.control, ", ".join(f"{k}={v}" for k, v in event.set.items())
        elif isinstance(event, sp.SetParameter):
            _, name, field = event.path.split(".")
            self._change_facility(name, field, event.value)
            if self.markets is not None:  # a new base for the market's responses, if any
                from .market_build import base_changed

                base_changed(self.markets, name, field)
            self._refresh_rates(self.facilities[name])  # only a facility's parameters change its rates
            target, detail = name, f"{field}={event.value}"
        else:  # pragma: no cover - the schema admits no other action
            raise TypeError(event)
        self._record_event(event.action, target, detail)

    def _schedule_adaptation(self) -> None:
        """Announcements of controls (for pre-buying buyers) and the end of the warm-up (for
        buyers that learn their normal lead time), only in runs with such buyers (others get
        no extra events). An announcement dated before the start is heard in the warm-up, or at
        time 0 if it precedes that too."""
        specs = self.scenario.facilities.values()
        set_later = {ev.path.rsplit(".", 1)[1] for ev in self.timeline if isinstance(ev, sp.SetParameter)}
        if "prebuy_on_announcement" in set_later or any(getattr(s, "prebuy_on_announcement", None) for s in specs):
            for event in self.timeline:
                if isinstance(event, sp.Impose) and event.announced is not None:
                    delay = max(0.0, self.time_of(event.announced) - self.env.now)
                    self.env.timeout(delay).callbacks.append(lambda _e, event=event: self._announce(event))
        learned = [s for s in specs if getattr(s, "adaptive_cover", None) and s.adaptive_cover.normal_lead_days == "learned"]
        if learned:
            self.env.timeout(self.t_start - self.env.now).callbacks.append(lambda _e: self._settle_lead_times())

    def _settle_lead_times(self) -> None:
        for facility in self.facilities.values():
            for line in facility.input_lines():
                if line.adaptive_cover is not None:
                    line.adaptive_cover.settle()

    def _announce(self, event) -> None:
        """An ``impose`` is announced: buyers' inputs it concerns pre-buy until it takes effect."""
        buyers = self._prebuy_for(event.control, self.time_of(event.date))
        if buyers:
            self._record_event("announce", event.control, f"in force from {event.date}; pre-buying: {', '.join(buyers)}")

    def _prebuy_for(self, name: str, t_effect: float) -> list[str]:
        """Pre-buying buyers' inputs that control ``name`` concerns raise their cover until
        ``t_effect`` (plus their own days after it); returns them as "facility material"."""
        control = self.controls[name]
        return sorted({f"{line.facility.name} {line.material}" for facility in self.facilities.values()
                       for line in facility.input_lines()
                       if line.prebuying is not None and line.prebuying.announced(control, t_effect)})

    def _record_event(self, action: str, target: str, detail: str) -> None:
        table = self.ledger.records.events
        control = self.controls.get(target)
        state = "" if control is None else ("yes" if control.in_force else "no")
        table.append(self.env.now, table.code("action", action), table.code("target", target),
                     table.code("detail", detail), table.code("in_force", state))

    def _end_suspension(self, name: str, until: float) -> None:
        if name not in self.suspended or self._suspended_until.get(name, until) != until:
            return  # lifted meanwhile, or suspended again with another end
        reimpose = self.suspended.pop(name)
        self._suspended_until.pop(name, None)
        if reimpose:
            self.controls[name].impose()
        self._record_event("suspension ends", name, "in force again" if reimpose else "not in force")

    def _change_control(self, name: str, changes: dict) -> None:
        spec = self.specs[name] = sp.apply_change(self.specs[name], changes)
        control = self.controls[name]
        if any(k in changes for k in ("materials", "elements", "destinations")):
            control.set_scope(**self._scope(spec))
        if isinstance(control, c.LicensingControl):
            office = control.office
            office.approval_probability = spec.approval_probability
            office.approval_by_destination = dict(spec.approval_by_destination)
            if "review_days" in changes or "review_working_days" in changes:
                office.review_days = self._review_sampler(name + f"@{self.env.now:g}", spec)
            self._set_outcomes(office, name, spec, f"@{self.env.now:g}")
            control.consignment_t = spec.consignment_t
            office.set_reviewers(spec.reviewers)
        elif isinstance(control, c.QuotaControl):
            control.on_exceed = spec.on_exceed
            control.set_cap(spec.tonnes_per_period)
        elif isinstance(control, c.BanControl):
            control.on_block = spec.on_block

    def _change_facility(self, name: str, field: str, value) -> None:
        spec = self.specs[name] = sp.apply_change(self.specs[name], {field: value})
        facility = self.facilities[name]
        new = getattr(spec, field)
        if field in ("variability", "processing_days", "demand_variability"):
            new = self.sampler(new, name, field, f"{self.env.now:g}")
        if field == "release_below_cover_days":
            facility.set_release_below(new)
        elif field in ("bom_kg_per_unit", "throughput_t_per_year"):
            setattr(facility, field, dict(new))
            if field == "bom_kg_per_unit":
                self.conversions[name].append((len(self.ledger.records.production), self._conversion(facility)))
        elif field == "policy":  # every input without a policy of its own
            for material, line in facility.inputs.items():
                if material not in spec.policies:
                    line.policy = self._policy(new)
        elif field in ("expedite_below_cover_days", "resource_after_denial_days", "cancel_backlog_after_days",
                       "unfilled_orders", "withdraw_held_after_days"):
            for line in facility.inputs.values():
                setattr(line, field, new)
        elif field == "allocation":
            facility.allocation = self._allocation(new)
        elif field == "adaptive_cover":  # the lead time learned so far is kept
            for line in facility.input_lines():
                c.set_adaptive_cover(line, self._adaptive(new))
                if line.adaptive_cover is not None and self.env.now >= self.t_start:
                    line.adaptive_cover.settle()
        elif field == "prebuy_on_announcement":
            for line in facility.input_lines():
                c.set_prebuying(line, self._prebuy(new))
        else:
            setattr(facility, field, new)
