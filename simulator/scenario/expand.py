"""The timeline as the model applies it: selectors and relative values resolved.

A ``set`` that selects facilities becomes one plain ``set`` per facility and field (in the
scenario's facility order, at the event's place in the list), and a relative value (``"+5"``,
``"*1.2"``) or a dotted key (``policy.target_days``, ``approval_by_destination.US``) becomes the
whole new value of the field, computed from the value in force at the event's date: the
scenario's own value (after ``--set`` overrides) changed by the earlier events, in the order the
model applies them (by date, then by place in the list). So a selector event runs exactly as the
same changes written out facility by facility, and a swept or overridden base value carries
through relative changes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from .selectors import changed_by, is_relative, select
from .timeline import Ease, RUNTIME_SETTABLE, SetParameter


@dataclass(frozen=True)
class Write:
    """A parameter a timeline event sets: ``target`` is ("facilities" or "controls", name,
    field, keys inside the field...); a relative write changes the value in force."""

    index: int
    target: tuple[str, ...]
    relative: bool
    loc: tuple = ()
    """Where in the event it is written (("set", key) or ("value",))."""


@dataclass
class Expansion:
    events: list = field(default_factory=list)
    """The timeline as applied, in file order: each event, or the plain events it stands for."""
    concrete: dict[int, list] = field(default_factory=dict)
    """Position in the file -> the plain events it became (only events that changed)."""
    chosen: dict[int, list[str]] = field(default_factory=dict)
    """Position of a selector event -> the facilities it selects."""
    writes: list[Write] = field(default_factory=list)
    problems: list[tuple[tuple, str]] = field(default_factory=list)


def needs_expansion(event: Any) -> bool:
    """Whether an event has a selector, a relative value or a dotted key."""
    if isinstance(event, SetParameter):
        return event.path is None or is_relative(event.value)
    if isinstance(event, Ease):
        return event.buyers is not None or any("." in key or is_relative(value) for key, value in event.set.items())
    return False


def expanded_timeline(scenario) -> list:
    """The events the model schedules, in order (the timeline itself when nothing needs resolving)."""
    if not any(needs_expansion(ev) for ev in scenario.timeline):
        return list(scenario.timeline)
    return expand(scenario).events


def _as_data(value: Any) -> Any:
    """A field's value as plain data, as it would be written in a file."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    if isinstance(value, dict):
        return {k: _as_data(v) for k, v in value.items()}
    return copy.deepcopy(value)


def _resolve(spec, changes: list[tuple[str, tuple[str, ...], Any]]) -> dict[str, Any]:
    """New whole values of the fields ``changes`` address (field, keys inside it, value), from
    ``spec``'s values; ValueError (naming the key) when a relative change meets no number."""
    out: dict[str, Any] = {}
    for name, keys, raw in changes:
        shown = ".".join((name, *keys))
        if not keys:
            if is_relative(raw):
                try:
                    out[name] = changed_by(out[name] if name in out else _as_data(getattr(spec, name, None)), raw)
                except ValueError as err:
                    raise ValueError(shown, str(err)) from None
            else:
                out[name] = copy.deepcopy(raw)
            continue
        whole = out[name] if name in out else _as_data(getattr(spec, name, None))
        node = whole
        for depth, key in enumerate(keys):
            if not isinstance(node, dict):
                raise ValueError(shown, f"expected {'.'.join((name, *keys[:depth]))} to be a mapping with {key!r}, got {_kind(node)}")
            if depth < len(keys) - 1:
                node = node.setdefault(key, {})
        last = keys[-1]
        if is_relative(raw):
            if last not in node:
                raise ValueError(shown, f"expected a value in force to change by {raw!r}, got none ({shown} is not set)")
            try:
                node[last] = changed_by(node[last], raw)
            except ValueError as err:
                raise ValueError(shown, str(err)) from None
        else:
            node[last] = copy.deepcopy(raw)
        out[name] = whole
    return out


def _kind(value: Any) -> str:
    return "nothing (not set)" if value is None else f"{type(value).__name__} {value!r}"


def _split(key: str) -> tuple[str, tuple[str, ...]]:
    name, *keys = key.split(".")
    return name, tuple(keys)


def expand(scenario) -> Expansion:
    """Resolve every selector, relative value and dotted key of the timeline (see the module).

    ``scenario`` may be partly valid (the loader's salvage): ``None`` events are skipped, and an
    event naming what does not exist is left to :func:`simulator.scenario.problems`."""
    from .world import apply_change  # world imports this module

    out = Expansion()
    timeline = scenario.timeline
    facilities, controls = dict(scenario.facilities), dict(scenario.controls)  # specs in force, as the model keeps them
    order = sorted((i for i, ev in enumerate(timeline) if ev is not None), key=lambda i: (timeline[i].date, i))
    for i in order:
        ev = timeline[i]
        made = None
        if isinstance(ev, SetParameter):
            made = _expand_set(i, ev, scenario, facilities, out, apply_change)
        elif isinstance(ev, Ease) and ev.control in controls:
            made = _expand_ease(i, ev, scenario, controls, out, apply_change)
        if made is not None:
            out.concrete[i] = made
    for i, ev in enumerate(timeline):
        if ev is not None:
            out.events.extend(out.concrete.get(i, [ev]))
    return out


def _apply(current: dict, name: str, changes: dict, apply_change) -> None:
    try:
        current[name] = apply_change(current[name], changes)
    except (ValidationError, ValueError, TypeError):
        pass  # an invalid change is reported by problems(); the value in force stays


def _expand_set(i: int, ev: SetParameter, scenario, current: dict, out: Expansion, apply_change) -> list | None:
    if ev.path is not None:  # facilities.<name>.<field> = value
        _, name, field_name = ev.path.split(".")
        spec = current.get(name)
        if spec is None or field_name not in RUNTIME_SETTABLE[spec.type]:
            return None  # reported by problems()
        relative = is_relative(ev.value)
        out.writes.append(Write(i, ("facilities", name, field_name), relative, ("value",)))
        if not relative:
            _apply(current, name, {field_name: ev.value}, apply_change)
            return None
        try:
            changes = _resolve(spec, [(field_name, (), ev.value)])
        except ValueError as err:
            out.problems.append((("timeline", i, "value"), f"{err.args[1]} ({name})"))
            return []
        _apply(current, name, changes, apply_change)
        return [ev.model_copy(update={"value": changes[field_name]})]
    names = select(ev.facilities, scenario)
    out.chosen[i] = names
    if not names:
        out.problems.append((("timeline", i, "facilities"), f"expected a selector that matches at least one "
                             f"facility, got none matching {ev.facilities.describe()}"))
        return []
    made = []
    keys = [(key, *_split(key), value) for key, value in ev.set.items()]
    failed: dict[tuple, list[str]] = {}  # (location, message) -> the facilities it concerns
    for name in names:
        spec = current[name]
        allowed = RUNTIME_SETTABLE[spec.type]
        bad = [key for key, field_name, _k, _v in keys if field_name not in allowed]
        for key in bad:
            failed.setdefault((("timeline", i, "set", key), (
                f"expected a parameter every selected facility can change mid-run, got {key.split('.')[0]!r}, "
                f"which a {spec.type} cannot ({', '.join(sorted(allowed))}); narrow the selector (type: ...)")), []).append(name)
        if bad:
            continue
        try:
            changes = _resolve(spec, [(f, k, v) for _key, f, k, v in keys])
        except ValueError as err:
            failed.setdefault((("timeline", i, "set", err.args[0]), err.args[1]), []).append(name)
            continue
        for key, field_name, inner, value in keys:
            out.writes.append(Write(i, ("facilities", name, field_name, *inner), is_relative(value), ("set", key)))
        made.extend(ev.model_copy(update={"path": f"facilities.{name}.{f}", "value": v, "facilities": None, "set": None})
                    for f, v in changes.items())
        _apply(current, name, changes, apply_change)
    for (loc, message), which in failed.items():  # one line per problem, not per facility
        out.problems.append((loc, f"{message} ({which[0]}{f' and {len(which) - 1} more' if len(which) > 1 else ''})"))
    return made


def _expand_ease(i: int, ev: Ease, scenario, current: dict, out: Expansion, apply_change) -> list | None:
    spec = current[ev.control]
    allowed = RUNTIME_SETTABLE[spec.instrument]
    keys = [(key, *_split(key), value) for key, value in ev.set.items()]
    if ev.buyers is not None:  # approval_by_buyer.<name> for every buyer chosen
        names = out.chosen[i] = select(ev.buyers, scenario)
        if not names:
            out.problems.append((("timeline", i, "buyers"), f"expected a selector that matches at least one "
                                 f"facility, got none matching {ev.buyers.describe()}"))
            return []
        keys = [(key, f, (name,), value) for key, f, _k, value in keys for name in names]
    if any(f not in allowed for _key, f, _k, _v in keys):
        return None  # reported by problems()
    for key, f, inner, value in keys:
        out.writes.append(Write(i, ("controls", ev.control, f, *inner), is_relative(value), ("set", key)))
    if not needs_expansion(ev):
        _apply(current, ev.control, dict(ev.set), apply_change)
        return None
    try:
        changes = _resolve(spec, [(f, k, v) for _key, f, k, v in keys])
    except ValueError as err:
        out.problems.append((("timeline", i, "set", err.args[0]), err.args[1]))
        return []
    _apply(current, ev.control, changes, apply_change)
    return [ev.model_copy(update={"set": changes})]


_SAME_SLOT = {"review_working_days": "review_days"}  # a control has one review time, in either unit


def _slot(parts: tuple) -> tuple:
    return tuple(_SAME_SLOT.get(p, p) if depth == 2 else p for depth, p in enumerate(parts))


def overwriting_events(expansion: Expansion, path: str) -> list[tuple]:
    """Positions of the timeline events that set the parameter at ``path`` (a dotted path such
    as ``facilities.de_ev.policy.target_days``), a part of it or a whole it is part of, to a
    value of their own (a relative change carries the value through, so it does not count)."""
    wanted = _slot(tuple(path.split(".")))
    if wanted[:1] not in (("facilities",), ("controls",)):
        return []
    hits = []
    for write in expansion.writes:
        target = _slot(write.target)
        if not write.relative and (target[:len(wanted)] == wanted or wanted[:len(target)] == target):
            where = ("timeline", write.index, *write.loc)
            if where not in hits:
                hits.append(where)
    return hits


def _inside(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def expansion_lines(scenario) -> list[str]:
    """What the timeline's selectors choose and its relative values come to, one line per
    selector event and per relative change (``resim validate`` prints them)."""
    expansion = expand(scenario)
    out = []
    for i in sorted(expansion.concrete):
        ev, made = scenario.timeline[i], expansion.concrete[i]
        head = f"  timeline[{i}] ({ev.action} on {ev.date})"
        if i in expansion.chosen:
            names = expansion.chosen[i]
            out.append(f"{head} selects {len(names)} {'facility' if len(names) == 1 else 'facilities'}: {', '.join(names)}")
            head = "   "
        changes = ev.set if isinstance(ev, Ease) or ev.path is None else {ev.path.split(".")[2]: ev.value}
        for key, raw in changes.items():
            if not is_relative(raw):
                continue
            field_name, keys = _split(key)
            if isinstance(ev, Ease) and ev.buyers is not None:
                values = [f"{name} {m.set[field_name][name]}" for m in made for name in expansion.chosen[i]]
            elif isinstance(ev, Ease):
                values = [str(_inside(m.set.get(field_name), keys) if keys else m.set.get(field_name)) for m in made]
            else:
                values = [f"{m.path.split('.')[1]} {_inside(m.value, keys) if keys else m.value}"
                          for m in made if m.path.split(".")[2] == field_name]
            out.append(f"{head} {key} {raw} -> {', '.join(values)}")
    return out
