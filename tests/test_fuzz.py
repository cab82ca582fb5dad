"""Fuzzing the whole path from a scenario file to results: whatever the file holds, `resim run`
either runs it with a closed mass balance or rejects it with one line per problem,
``file:LINE: ...`` (or ``--set ...: ...``), exit code 2 and no results; never a traceback,
never a hang.

Documents are ``tests/data/tiny.yaml`` mutated: values replaced with odd numbers, text, huge,
tiny, negative or non-finite values, dates out of range, keys deleted or duplicated, values
nested deep, lines duplicated or dropped, stray bytes. Every run has a 75-day horizon (an
override: tiny.yaml's timeline fits in it). No wall clock is asserted: the bound on a run's work comes from the schema's bounds
(periods of at least 0.1 day, at most 3650 days of warm-up, amounts at most 1e9 t), and the
test checks it as a count of SimPy events against horizon x (facilities + lanes).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import math
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main

TINY = Path(__file__).parent / "data" / "tiny.yaml"
BASE = yaml.safe_load(TINY.read_text(encoding="utf-8"))
HORIZON = 75  # tiny.yaml's timeline ends on day 73
OVERRIDE = f"--set horizon_days={HORIZON}"
EVENTS_PER_DAY_AND_PART = 100  # licensing_2025: 1.6 events per facility-day; 0.1-day periods: ~10x that

ODD_VALUES = [
    0, -1, 1, 2, 0.1, 0.5, 7, 1e-9, 1e-300, 5e-324, -1e-300, 1e9, 2e9, 1e12, 1e200, 1e308, -1e308,
    math.nan, math.inf, -math.inf, 2**63, 2**70, -(2**70), True, False, None, "", "x", "1e9", "1e-9", "nan",
    "2025-13-01", "a\nb", "k" * 2000, [], {}, [1, 2], {"dist": "gamma", "mean": 3, "cv": 1e-200},
    {"dist": "lognormal", "mean": 3, "cv": 1e200}, {"dist": "normal", "mean": -1e9, "sd": 1e-9},
    {"dist": "uniform", "min": 0, "max": 1e9}, dt.date(9999, 12, 31), dt.date(1, 1, 1), dt.date(2100, 12, 31),
    dt.datetime(2025, 1, 1, 10, 0), "!!python/object:os.system",
]


def _paths(node, prefix=()):
    """Every place in the document: (path, value)."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _parent(doc, path):
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


# Numbers within or at the edge of the schema's bounds, so that many mutated documents run.
EDGE_NUMBERS = [0, 0.0, 0.1, 0.5, 1, 2, 7, 1e-9, 1e-300, 5e-324, 3650, 36500, 1e6, 1e9, 1e12, 2**31]


@st.composite
def documents(draw) -> bytes:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p, _ in _paths(doc) if p]
        numbers = [p for p, v in _paths(doc) if p and isinstance(v, (int, float)) and not isinstance(v, bool)]
        kind = draw(st.sampled_from(["edge", "edge", "edge", "edge", "number", "value", "text", "delete",
                                     "nest", "duplicate"]))
        path = draw(st.sampled_from(numbers if kind == "edge" and numbers else places))
        parent = _parent(doc, path)
        if kind == "edge":
            parent[path[-1]] = draw(st.sampled_from(EDGE_NUMBERS))
        elif kind == "number":
            parent[path[-1]] = draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                              st.integers(-(2**80), 2**80)))
        elif kind == "value":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif kind == "text":
            parent[path[-1]] = draw(st.text(max_size=30))
        elif kind == "delete":
            del parent[path[-1]]
        elif kind == "nest":
            value = parent[path[-1]]
            for _ in range(draw(st.integers(1, 80))):
                value = draw(st.sampled_from([[value], {"a": value}]))
            parent[path[-1]] = value
        elif isinstance(parent, list):  # duplicate an item
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:  # duplicate a key under a new name (a typo)
            parent[f"{path[-1]}_"] = copy.deepcopy(parent[path[-1]])
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)
    lines = text.splitlines(keepends=True)
    edit = draw(st.sampled_from(["none"] * 7 + ["dup_line", "drop_line", "byte"]))
    if edit in ("dup_line", "drop_line") and lines:
        i = draw(st.integers(0, len(lines) - 1))
        if edit == "dup_line":  # a duplicate key, or a second list item
            lines.insert(i, lines[i])
        else:
            del lines[i]
    data = "".join(lines).encode("utf-8")
    if edit == "byte":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\x00", b"\xff", b"\t", b"\xc2\x85", b"\x1b", b"\r"])) + data[at:]
    return data


def _located(line: str, path: str) -> bool:
    return re.match(rf"^(?:{re.escape(path)}:\d+|{re.escape(OVERRIDE)}): \S", line) is not None


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents())
def test_any_document_runs_or_is_rejected_in_one_line_per_problem(document: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.yaml"
        path.write_bytes(document)
        out = Path(tmp) / "out"
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["run", str(path), "--no-report", "--quiet", "--out", str(out), "--set", f"horizon_days={HORIZON}"])
        errors = stderr.getvalue().splitlines()
        if code == 0:
            manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
            balance = manifest["mass_balance"]
            assert all(math.isfinite(v) for v in balance.values() if isinstance(v, float)), balance
            flows = sum(abs(v) for k, v in balance.items() if k != "residual_t" and isinstance(v, (int, float)))
            assert abs(balance["residual_t"]) <= 1e-6 * max(1.0, flows), balance  # the run checks 1e-9 per material
            # The schema's bounds keep a run's work proportional to its days x its network:
            # periods of at least 0.1 day (at most ten reviews or batches a day per facility and
            # input), each review with a bounded number of orders, shipments and decisions.
            days = HORIZON + manifest["warmup_days"]
            network = len(BASE["facilities"]) + len(BASE["lanes"]) + 4  # a mutation may add a few
            assert manifest["simpy_events"] <= EVENTS_PER_DAY_AND_PART * days * network, manifest
        else:
            assert code == 2, (code, errors, document[:2000])
            assert errors, "rejected without a message"
            assert all(_located(line, str(path)) for line in errors), errors
            assert all(len(line) <= 1200 for line in errors), [len(line) for line in errors]
            assert not out.exists() or not any(out.iterdir()), "results written for a rejected scenario"
