"""One-line problem messages: the error every reader raises, and how long texts are shortened."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from typing import Any


class ScenarioError(Exception):
    """A user's scenario (or override) is invalid; ``lines`` holds one message per problem."""

    def __init__(self, lines: Sequence[str]):
        lines = [one_line(line) for line in lines]
        super().__init__("\n".join(lines))
        self.lines = lines


_OVERRIDE = "--set"
_MAX_LINE = 1000  # characters of one message: a 100 kB key or value is shortened, never echoed


def one_line(text: str, limit: int = _MAX_LINE) -> str:
    """``text`` as one printable line: line breaks and other control or separator characters
    escaped (``\\n``), and the middle of a text longer than ``limit`` left out."""
    text = str(text)
    if not text.isprintable():
        text = "".join(ch if ch == " " or unicodedata.category(ch)[0] not in "CZ"
                       else ch.encode("unicode_escape").decode("ascii") for ch in text)
    if len(text) > limit:
        head = limit * 3 // 4
        text = f"{text[:head]} ...({len(text) - limit + 5:,} characters left out)... {text[-(limit - head - 5):]}"
    return text


def _clip(text: Any, limit: int = 60) -> str:
    """A name or value from the user's file for a message: one line, at most ``limit`` characters."""
    text = one_line(str(text), 10 * limit)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _dotted(loc: Sequence) -> str:
    out = ""
    for part in loc:  # a key from the file: one line, shortened if long
        out += f"[{part}]" if isinstance(part, int) else (f".{_clip(part)}" if out else _clip(part))
    return out


def _given(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict) and not value:
        return "an empty mapping"
    if isinstance(value, list) and not value:
        return "an empty list"
    shown = repr(value)
    if len(shown) > 60:
        return "a mapping" if isinstance(value, dict) else ("a list" if isinstance(value, list) else shown[:57] + "...")
    return shown


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {_given(value)}"
    return f"the value {_given(value)}"


