"""Reading scenario files: safe YAML with line numbers, ``--set`` overrides, clear errors.

Every problem becomes one line ``file:LINE: field.path: expected ..., got ...``; all problems
of a file are collected before anything is reported (:class:`ScenarioError`).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import errno
import hashlib
import json
import os
import stat
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from . import scenario as schema
from .scenario import Scenario, problems
from .scenario.base import EARLIEST_DATE, LATEST_START, MAX_HORIZON_DAYS

__all__ = ["ScenarioError", "load_scenario", "parse_scenario", "scenario_hash", "parse_overrides", "describe_error"]


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


# --------------------------------------------------------------------------- YAML with lines

_PLAIN_TAGS = {
    yaml.ScalarNode: frozenset(k for k in yaml.SafeLoader.yaml_constructors if k)
    - {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap",
       "tag:yaml.org,2002:pairs", "tag:yaml.org,2002:set"},
    yaml.SequenceNode: frozenset({"tag:yaml.org,2002:seq"}),
    yaml.MappingNode: frozenset({"tag:yaml.org,2002:map"}),
}
_MAX_VALUES = 250_000  # aliases can make a small file expand enormously ("billion laughs")
_MAX_DEPTH = 50  # levels of nesting (a scenario needs about 7); deeper would exhaust Python's stack
MAX_FILE_BYTES = 10 * 1024 * 1024  # scenario and sweep files, and extends: targets (README: 10 MiB)


# --------------------------------------------------------------------------- reading files


class _Unreadable(Exception):
    """Why a user's file cannot be read: ``reason`` (a folder, a device, too large, ...), or
    ``line`` and ``reason`` of a byte that is not UTF-8; ``missing`` when there is no file."""

    def __init__(self, reason: str, line: int | None = None, missing: bool = False):
        super().__init__(reason)
        self.reason, self.line, self.missing = reason, line, missing


_SPECIAL_FILES = ((stat.S_ISDIR, "a folder, not a file"), (stat.S_ISCHR, "a device, not a regular file"),
                  (stat.S_ISBLK, "a device, not a regular file"), (stat.S_ISFIFO, "a named pipe, not a regular file"),
                  (stat.S_ISSOCK, "a socket, not a regular file"))


def _read_file(path: Path) -> str:
    """A regular file of at most :data:`MAX_FILE_BYTES`, decoded as UTF-8; else :class:`_Unreadable`.

    A device (``/dev/zero``), a named pipe or a huge file is refused before it is read, so
    reading can neither wait forever nor fill the memory."""
    try:
        if path.is_dir():  # opening a folder fails differently on each system
            raise _Unreadable("a folder, not a file")
        # O_NONBLOCK: opening a named pipe does not wait for a writer (regular files ignore it).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise _Unreadable("no such file", missing=True) from None
    except ValueError:  # a NUL character in the name
        raise _Unreadable("not a valid file name") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise _Unreadable("a loop of symbolic links") from None
        raise _Unreadable(f"cannot be read: {err.strerror or err}") from None
    try:
        mode = os.fstat(fd).st_mode
        for test, reason in _SPECIAL_FILES:
            if test(mode):
                raise _Unreadable(reason)
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise _Unreadable(f"larger than {MAX_FILE_BYTES // 2**20} MiB, the most a file may have")
            chunks.append(chunk)
    except OSError as err:
        raise _Unreadable(f"cannot be read: {err.strerror or err}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise _Unreadable(f"expected UTF-8 text, got the byte 0x{data[err.start]:02x} (save the file as UTF-8)",
                          line=line) from None


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def _syntax_message(err: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem, in words an analyst can act on, with where the construct began."""
    problem = (err.problem or "").strip().replace(", but found", ", got").replace(", but got", ", got")
    context = (err.context or "").strip()
    start = err.context_mark.line + 1 if err.context_mark else None
    if "another document" in problem:
        return "YAML syntax error: expected one YAML document, got a second one (a '---' line?)"
    if "'\\t'" in problem:
        return "YAML syntax error: found a tab character; indent with spaces, not tabs"
    for kind, opener, closer in (("flow mapping", "{", "}"), ("flow sequence", "[", "]")):
        if kind in context and start is not None:
            return (f"YAML syntax error: {problem} (in the '{opener}' opened on line {start}; "
                    f"is a '{closer}' or ',' missing?)")
    if "expected <block end>" in problem and start is not None:
        return "YAML syntax error: expected this line to be indented like the keys above it, got a different indentation"
    if context and start is not None:
        return f"YAML syntax error: {problem} ({context} that starts on line {start})"
    return f"YAML syntax error: {problem or context or err}"


class _Unsafe(ScenarioError):
    """A document the guards refused (too many values, nested too deep): it was never expanded."""


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark):
        super().__init__("nested too deep")
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing nesting deeper than :data:`_MAX_DEPTH` while it composes
    (PyYAML composes recursively: 500 levels would exhaust Python's stack)."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH + 1:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _read_yaml(text: str, source: str, root: tuple = (),
               at: Callable[[int], str] | None = None) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML safely; return the data and a map from key paths to 1-based line numbers.

    Only plain YAML data is accepted (mappings, lists, text, numbers, booleans, dates, null):
    any other tag, such as ``!!python/object``, is reported, never constructed. At most
    :data:`_MAX_VALUES` values (aliases expanded) nested at most :data:`_MAX_DEPTH` deep are
    read (else :class:`_Unsafe`). ``root`` is the document's place (an override's dotted path:
    an empty value is then ``None``); ``at(line)`` says where a line is (default ``source:LINE``).
    """
    at = at or (lambda line: f"{source}:{line}")
    where = _dotted(root) or "scenario"
    lines: dict[tuple, int] = {}
    found: list[tuple[int, str]] = []
    data: Any = None
    stopped = False
    loader = None
    try:
        loader = _Loader(text)  # refuses unprintable characters (a NUL byte) at once
        node = loader.get_single_node()
        if node is None:
            if root:
                return None, lines
            raise ScenarioError([f"{at(1)}: scenario: expected a YAML mapping of scenario fields, got an empty file"])
        data = _build(loader, node, root, lines, source, found, [0, len(root)], set())
    except _Stop:
        stopped = True  # the problem is in `found`
    except (_TooDeep, RecursionError) as err:
        line = err.mark.line + 1 if isinstance(err, _TooDeep) else 1
        raise _Unsafe([f"{at(line)}: {where}: expected data nested at most {_MAX_DEPTH} levels deep, "
                       "got deeper nesting"]) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        char = "a NUL byte" if err.character == 0 else f"the control character U+{err.character:04X}"
        raise ScenarioError([f"{at(line)}: YAML syntax error: expected printable text, got {char}"]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        raise ScenarioError([f"{at(line)}: {_syntax_message(err)}"]) from None
    except yaml.YAMLError as err:
        raise ScenarioError([f"{at(1)}: YAML syntax error: {err}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if found:
        found.sort(key=lambda item: item[0])
        raise (_Unsafe if stopped else ScenarioError)([f"{at(line)}: {message}" for line, message in found])
    return data, lines


def _build(loader: yaml.SafeLoader, node, path: tuple, lines: dict, source: str,
           found: list, count: list, active: set) -> Any:
    """Turn a composed node into plain data, recording each key's line; problems go to ``found``."""
    line = node.start_mark.line + 1
    where = _dotted(path) or "scenario"
    lines.setdefault(path, line)
    count[0] += 1
    if count[0] > _MAX_VALUES:
        found.append((line, f"{where}: expected at most {_MAX_VALUES:,} values, got more (do aliases expand too much?)"))
        raise _Stop
    if len(path) - count[1] > _MAX_DEPTH:  # aliases nested in aliases
        found.append((line, f"{where}: expected data nested at most {_MAX_DEPTH} levels deep, got deeper nesting"))
        raise _Stop
    if node.tag not in _PLAIN_TAGS[type(node)]:
        found.append((line, f"{where}: expected plain YAML data, got the tag {_short_tag(node.tag)!r} "
                            "(only safe YAML is read: no objects, no code)"))
        return None
    if id(node) in active:
        found.append((line, f"{where}: expected data, got an alias that contains itself"))
        return None
    if isinstance(node, yaml.ScalarNode):
        try:
            return loader.construct_object(node, deep=True)
        except ValueError:  # e.g. 2025-13-45 looks like a date but is none: validation says so
            return node.value
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_build(loader, item, path + (i,), lines, source, found, count, active)
                    for i, item in enumerate(node.value)]
        own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merges: merged pairs come first
        merged = len(node.value) - own
        out: dict = {}
        first: dict[str, int] = {}  # keys written in this mapping itself (merged ones may be overridden)
        for index, (key_node, value_node) in enumerate(node.value):
            key_line = key_node.start_mark.line + 1
            key = None
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag in _PLAIN_TAGS[yaml.ScalarNode]:
                try:
                    key = loader.construct_object(key_node, deep=True)
                except ValueError:
                    key = None
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                if isinstance(key_node, yaml.ScalarNode):
                    shown = f"{key_node.value!r} (YAML reads it as a date, number, boolean or null: quote it)"
                else:
                    shown = "a " + type(key_node).__name__.removesuffix("Node").lower()
                found.append((key_line, f"{where}: expected a text key, got {shown}"))
                continue
            key = str(key)
            if key in first:
                found.append((key_line, f"{_dotted(path + (key,))}: expected each key once in a mapping, "
                                        f"got {key!r} again (first on line {first[key]})"))
                continue
            if index >= merged:
                first[key] = key_line
            if key in out:  # a merged key overridden: forget the lines of the merged value
                for stale in [k for k in lines if k[:len(path) + 1] == path + (key,)]:
                    del lines[stale]
            lines[path + (key,)] = key_line
            out[key] = _build(loader, value_node, path + (key,), lines, source, found, count, active)
        return out
    finally:
        active.discard(id(node))


class _Stop(yaml.YAMLError):
    """Raised to abandon a document that expands too far; its problem is already recorded."""


# --------------------------------------------------------------------------- overrides


def parse_overrides(items: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """``["a.b=3", ...]`` or ``{"a.b": 3}`` -> ``[(path, value, shown)]``; values read as YAML."""
    out = []
    if isinstance(items, Mapping):
        items = [(str(k), v, f"{_OVERRIDE} {k}={v}") for k, v in items.items()]
    else:
        parsed = []
        for item in items:
            if "=" not in item:
                raise ScenarioError([f"{_OVERRIDE} {item}: expected dotted.path=value, got no '='"])
            key, _, raw = item.partition("=")
            shown = f"{_OVERRIDE} {item}"
            parsed.append((key.strip(), _override_value(raw, shown, key.strip()), shown))
        items = parsed
    for key, value, shown in items:
        if not key or any(not part.strip() for part in key.split(".")):
            raise ScenarioError([f"{shown}: expected dotted.path=value with a non-empty name between dots, got {key!r}"])
        if key.count(".") >= _MAX_DEPTH:
            raise ScenarioError([f"{shown}: expected a path of at most {_MAX_DEPTH} names, got {key.count('.') + 1}"])
        out.append((key, value, shown))
    return out


def _override_value(raw: str, shown: str, key: str) -> Any:
    """An override's value read as YAML by the file reader, with its guards: an alias bomb or
    deep nesting is refused (one line naming the override); text that is not plain YAML (or an
    impossible date) stays text, and validation says what was expected."""
    if not raw.strip():
        return ""
    root = tuple(key.split(".")) if key else ("value",)
    try:
        return _read_yaml(raw, _OVERRIDE, root, at=lambda _line: shown)[0]
    except _Unsafe:
        raise
    except ScenarioError:
        return raw


def _apply_override(data: dict, path: str, value: Any, shown: str, origins: dict, lines: dict) -> None:
    parts: list[Any] = path.split(".")
    node: Any = data
    created = []  # mappings the override brings into being: their problems are the override's
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            # An item is addressed by its index, or by its `id` (timeline events may have one).
            ids = [item.get("id") if isinstance(item, dict) else None for item in node]
            if not part.isdigit() and part in ids:
                part = str(ids.index(part))
            if not part.isdigit() or int(part) >= len(node):
                named = [str(i) for i in ids if i is not None]
                also = f" or the id of an item ({', '.join(named)})" if named else ""
                raise ScenarioError([f"{shown}: {_dotted(parts[:depth + 1])}: expected a list index from 0 to {len(node) - 1}{also}, got {part if part.isdigit() else repr(part)}"
                                     if node else f"{shown}: {_dotted(parts[:depth + 1])}: expected an index into a list, got {part!r} (the list is empty)"])
            part = int(part)
            parts[depth] = part
        elif not isinstance(node, dict):
            raise ScenarioError([f"{shown}: {_dotted(parts[:depth]) or 'scenario'}: expected a mapping to set {part!r} in, got {_given(node)}"])
        if last:
            node[part] = copy.deepcopy(value)  # later overrides edit the document, never the caller's value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
                created.append(tuple(parts[:depth + 1]))
            node = node[part]
    key = tuple(parts)
    for table in (lines, origins):
        for old in [k for k in table if k[:len(key)] == key]:
            del table[old]  # the file's lines no longer describe what the override replaced
    origins[key] = shown
    for prefix in created:
        origins.setdefault(prefix, shown)


# --------------------------------------------------------------------------- extends


def _forget(table: dict, prefix: tuple) -> None:
    for old in [k for k in table if k[:len(prefix)] == prefix]:
        del table[old]


def _merge(base: dict, child: dict, path: tuple, lines: dict, inherited: dict, source: str) -> None:
    """Merge ``child`` into ``base`` (in place). Mappings merge key by key; other values
    replace; ``null`` removes a key; ``key+: [...]`` appends to the base's list ``key``."""
    for key, value in child.items():
        here = path + (key,)
        if key.endswith("+") and len(key) > 1:
            name = key[:-1]
            target = base.get(name)
            if not isinstance(value, list) or not isinstance(target, list):
                raise ScenarioError([f"{source}:{lines.get(here, 1)}: {_dotted(here)}: expected a list to append to "
                                     f"the base scenario's list {name!r}, got {_kind_of(value) if not isinstance(value, list) else 'no such list in the base'}"])
            offset = len(target)
            for old in [k for k in lines if k[:len(here)] == here]:
                moved = path + (name,) + ((old[len(here)] + offset,) + old[len(here) + 1:] if len(old) > len(here) else ())
                lines[moved] = lines.pop(old)
            target.extend(value)
        elif value is None:
            base.pop(key, None)
            _forget(inherited, here)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, here, lines, inherited, source)
        else:
            base[key] = value
            _forget(inherited, here)


_MAX_EXTENDS = 20  # scenarios in a chain of extends:


def _path_shown(ref: str) -> str:
    """A path from the file for a message: quoted, one line, at most 200 characters."""
    text = repr(ref)
    return text if len(text) <= 200 else text[:196] + "...'"


def _shape(value: Any) -> str:
    """What a YAML document is, without its content."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    return "nothing" if value is None else "a value"


def _read_document(text: str, source: str, folder: Path, chain: tuple = ()) -> tuple[Any, dict, dict]:
    """Read YAML and resolve ``extends: other.yaml`` (a path relative to this file).

    Returns the data, this file's lines, and ``inherited``: for values that came from a base
    file, where they stand there (``"base.yaml:LINE"``).
    """
    data, lines = _read_yaml(text, source)
    if not isinstance(data, dict) or "extends" not in data:
        return data, lines, {}
    ref = data.pop("extends")
    where = f"{source}:{lines.get(('extends',), 1)}"
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError([f"{where}: extends: expected the path of a scenario file to build on, got {_given(ref)}"])
    base_path = folder / ref
    try:
        resolved = base_path.resolve()
    except (OSError, RuntimeError, ValueError) as err:  # RuntimeError: a loop of symbolic links (Python < 3.13)
        why = "not a valid file name" if isinstance(err, ValueError) else "a loop of symbolic links"
        raise ScenarioError([f"{where}: extends: expected a scenario file to build on, got {_path_shown(ref)} "
                             f"({why})"]) from None
    if resolved in chain:
        raise ScenarioError([f"{where}: extends: expected a chain of scenarios without loops, got {_path_shown(ref)} again"])
    if len(chain) >= _MAX_EXTENDS:
        raise ScenarioError([f"{where}: extends: expected a chain of at most {_MAX_EXTENDS} scenarios, got a longer one"])
    try:
        base_text = _read_file(base_path)
    except _Unreadable as why:
        if why.line is not None:  # not UTF-8: the base file's own problem, at its line
            raise ScenarioError([f"{base_path}:{why.line}: scenario: {why.reason}"]) from None
        if why.missing:
            raise ScenarioError([f"{where}: extends: expected a readable scenario file, got {_path_shown(ref)} "
                                 f"(no such file at {base_path})"]) from None
        raise ScenarioError([f"{where}: extends: expected a scenario file to build on, got {_path_shown(ref)} ({why.reason})"]) from None
    base, base_lines, base_inherited = _read_document(base_text, str(base_path), base_path.parent, chain + (resolved,))
    if not isinstance(base, dict):
        # Say what it holds, not what it says: the file may be anyone's (/etc/passwd).
        raise ScenarioError([f"{where}: extends: expected {_path_shown(ref)} to hold a YAML mapping of scenario fields, "
                             f"got {_shape(base)}, not a mapping"])
    inherited = {**{k: f"{base_path}:{v}" for k, v in base_lines.items() if k[:1] != ("name",)}, **base_inherited}
    base.pop("name", None)  # a derived scenario is named after its own file unless it says
    _forget(base_inherited, ("name",))
    _merge(base, data, (), lines, inherited, source)
    return base, lines, inherited


# --------------------------------------------------------------------------- errors


def _dotted(loc: Sequence) -> str:
    out = ""
    for part in loc:  # a key from the file: one line, shortened if long
        out += f"[{part}]" if isinstance(part, int) else (f".{_clip(part)}" if out else _clip(part))
    return out


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` from a type."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _tags_of(model: type[BaseModel]) -> set[str]:
    tags = set()
    for key in _TAG_FIELDS:
        field = model.model_fields.get(key)
        if field is not None and get_origin(field.annotation) is Literal:
            tags.update(get_args(field.annotation))
    return tags


def _type_at(loc: Sequence) -> Any:
    """The schema type at a pydantic error location (tags pick union members), or None."""
    tp: Any = Scenario
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, str) and part.startswith("function-"):
            continue
        if get_origin(tp) in (Union, UnionType):
            members = [_unwrap(a) for a in get_args(tp)]
            chosen = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)
                      and (part in _tags_of(m) or m.__name__ == part)]
            if not chosen:
                return None
            tp = chosen[0]
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {f.alias or n: f for n, f in tp.model_fields.items()}
            if part not in fields:
                return None
            tp = fields[part].annotation
        elif get_origin(tp) is dict:
            if part == "[key]":
                return None
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)


def _field_names(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _union_tags(tp: Any) -> list[str]:
    tags: list[str] = []
    for member in get_args(tp):
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            tags.extend(sorted(_tags_of(member)))
    return tags


def _data_path(data: Any, loc: Sequence, not_keys: frozenset[str] | None = None) -> tuple:
    """Map a pydantic error location onto the document: drop union tags, member and validator names
    (``not_keys``: the scenario schema's, unless another schema's, e.g. a sweep file's, are given)."""
    not_keys = _TAGS | _MODELS if not_keys is None else not_keys
    path: list = []
    node = data
    missing = object()
    for part in loc:
        if isinstance(node, dict) and part in not_keys and part in {node.get(k) for k in _TAG_FIELDS}:
            continue  # the tag of a discriminated union (even when a key has the same name)
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and (part in not_keys or "[" in part):
            continue  # a union tag, a union member or a validator name, not a document key
        elif isinstance(node, dict):
            path.append(part)  # a missing field: name it
            node = missing
        elif node is missing:
            path.append(part)
        else:
            break  # below a scalar (e.g. `value` of a number read as a fixed distribution)
    return tuple(path)


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


_PATTERNS = {
    r"^[A-Za-z][A-Za-z0-9_\-]*$": "expected a name of letters, digits, '_' and '-' that starts with a letter",
    r"^[a-z][a-z0-9_]*$": "expected a lower-case name of letters, digits and '_' that starts with a letter",
    r"^facilities\.[A-Za-z][A-Za-z0-9_\-]*\.[a-z_]+$": "expected facilities.<facility>.<parameter>",
}

_KINDS = {
    "float_type": "expected a number", "float_parsing": "expected a number",
    "int_type": "expected a whole number", "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number", "finite_number": "expected a finite number",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "date_type": "expected a date (YYYY-MM-DD)", "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "expected a date without a time of day",
    "dict_type": "expected a mapping", "model_type": "expected a mapping of fields",
    "model_attributes_type": "expected a mapping of fields", "list_type": "expected a list",
}


def describe_error(err: Mapping[str, Any], fields: Sequence[str] = ()) -> str:
    """One pydantic error as ``expected ..., got ...``; ``fields`` are the names valid there."""
    kind, msg, given = err["type"], err["msg"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "union_alternatives":
        return f"{msg}, got {_given(given)}"
    if kind == "missing":
        return "expected a value (this field is required), got nothing"
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        near = difflib.get_close_matches(name, fields or _FIELDS, n=1, cutoff=0.6) if len(name) <= 100 else []
        if near:
            return f"unknown field {_given(name)} (did you mean {near[0]!r}?)"
        return f"unknown field {_given(name)}" + (f" (expected one of: {', '.join(fields)})" if fields else "")
    if kind == "union_tag_invalid":
        return f"expected one of {ctx.get('expected_tags')}, got {_given(ctx.get('tag'))}"
    if kind == "union_tag_not_found":
        return f"expected a mapping with a {ctx.get('discriminator', 'tag')} field, got {_given(given)}"
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        return text if "got" in text else f"{text}, got {_given(given)}"
    if kind == "string_type" and isinstance(given, bool):
        return f"expected text, got {_given(given)} (YAML reads yes/no/on/off as true/false: quote it, e.g. 'NO')"
    if kind in _KINDS:
        return f"{_KINDS[kind]}, got {_given(given)}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        big = isinstance(limit, (int, float)) and abs(limit) >= 100_000 and float(limit).is_integer()
        shown = f"{int(limit):,}" if big else _given(limit)  # 1,000,000,000 rather than 1e+09
        return f"expected a number {bounds[kind]} {shown}, got {_given(given)}"
    if kind == "string_pattern_mismatch":
        return f"{_PATTERNS.get(ctx.get('pattern'), 'expected text matching ' + str(ctx.get('pattern')))}, got {_given(given)}"
    if kind == "string_too_long":
        return f"expected at most {ctx.get('max_length')} characters, got {len(given)}"
    if kind == "too_short":
        what = "entry" if isinstance(given, dict) else "item"
        return f"expected at least {ctx.get('min_length')} {what}, got {_given(given)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {_given(given)}"
    text = msg.replace("Input should be ", "expected ").replace("Input ", "expected input ")
    return f"{text}, got {_given(given)}"


_TAG_FIELDS = ("type", "dist", "instrument", "action")


def _all_tags() -> frozenset[str]:
    tags: set[str] = set()
    for cls in vars(schema).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            tags |= _tags_of(cls)
    return frozenset(t for t in tags if isinstance(t, str))


def _all_field_names() -> frozenset[str]:
    names = set()
    for cls in vars(schema).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            names.update(_field_names(cls))
    return frozenset(names)


_TAGS = _all_tags()
_FIELDS = _all_field_names()
_MODELS = frozenset(name for name, cls in vars(schema).items() if isinstance(cls, type) and issubclass(cls, BaseModel))


def _where(path: tuple, lines: dict, origins: dict, source: str) -> tuple[tuple, str]:
    """``(sort key, "file:LINE")`` or the override that set the value, or a value inside it
    (``--set x.review_working_days=5`` where x has review_days: x's problem is the override's)."""
    below = [k for k, v in origins.items() if path and len(k) > len(path) and k[:len(path)] == path
             and v.startswith(_OVERRIDE + " ")]
    if below:
        return (1, list(origins).index(below[0])), origins[below[0]]
    for cut in range(len(path), -1, -1):
        if path[:cut] in origins:
            return (1, list(origins).index(path[:cut])), origins[path[:cut]]
        if path[:cut] in lines:
            return (0, lines[path[:cut]]), f"{source}:{lines[path[:cut]]}"
    return (0, 1), f"{source}:1"


def _member_at(data: Any, loc: Sequence) -> int | None:
    """Index in ``loc`` of a smart-union member label (``Include``, ``literal['all']``), if any."""
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and (part in _MODELS or part.startswith(("literal[", "function-"))):
            return i
        elif not (isinstance(part, str) and part in _TAGS):
            return None
    return None


def _alternative(label: str) -> str:
    if label.startswith("literal["):
        return label.removeprefix("literal[").removesuffix("]")
    model = getattr(schema, label, None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        required = [f.alias or n for n, f in model.model_fields.items() if f.is_required()]
        shown = ", ".join(f"{n}: [...]" if get_origin(_unwrap(model.model_fields[n].annotation)) is list else f"{n}: ..." for n in required)
        return "{" + shown + "}"
    return label


def _pick_union_members(errors: list[dict], data: Any) -> list[dict]:
    """Keep the errors of the union member the input was meant as; one line if none fits."""
    groups: dict[tuple, list[tuple[str, dict]]] = {}
    for e in errors:
        i = _member_at(data, e["loc"])
        if i is not None:
            groups.setdefault(tuple(e["loc"][:i]), []).append((e["loc"][i], e))
    drop: set[int] = set()
    extra: dict[int, dict] = {}
    for prefix, members in groups.items():
        labels = list(dict.fromkeys(label for label, _ in members))
        if len(labels) < 2:
            continue
        given = members[0][1].get("input") if len(members[0][1]["loc"]) == len(prefix) + 1 else None
        node = data
        for part in _data_path(data, prefix):
            node = node.get(part) if isinstance(node, dict) else (node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
        fits = [label for label in labels if isinstance(node, dict) and not any(
            lab == label and (e["type"] in ("extra_forbidden", "model_type", "model_attributes_type", "literal_error")
                              or (e["type"] == "missing" and len(e["loc"]) == len(prefix) + 2))
            for lab, e in members)]
        for label, e in members:
            if not fits or label != fits[0]:
                drop.add(id(e))
        if not fits:
            shown = [_alternative(label) for label in labels]
            text = ", ".join(shown[:-1]) + " or " + shown[-1]
            first = members[0][1]
            extra[id(first)] = {"type": "union_alternatives", "loc": prefix, "msg": f"expected {text}",
                                "input": node if given is None else given}
    out = []
    for e in errors:
        if id(e) in extra:
            out.append(extra[id(e)])
        elif id(e) not in drop:
            out.append(e)
    return out


def _schema_lines(errors: list[dict], data: Any, lines: dict, origins: dict, source: str) -> list[tuple[tuple, str]]:
    out = []
    errors = _pick_union_members(errors, data)
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    typos: set[tuple] = set()  # missing fields explained by a misspelt key next to them
    described = []
    for e in errors:
        loc = tuple(e["loc"])
        fields: list[str] = []
        if e["type"] == "extra_forbidden":
            fields = _field_names(_type_at(loc[:-1]))
            near = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
            if near and loc[:-1] + (near[0],) in missing:
                typos.add(loc[:-1] + (near[0],))
        path = _data_path(data, loc)
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            disc = str((e.get("ctx") or {}).get("discriminator", "")).strip("'")
            if isinstance(e.get("input"), dict):
                path = path + (disc,)
                if e["type"] == "union_tag_not_found":
                    tags = _union_tags(_type_at(loc))
                    described.append((loc, path, f"expected one of {', '.join(map(repr, tags))}, got nothing"
                                      if tags else describe_error(e)))
                    continue
        if e["type"] in ("model_attributes_type", "model_type") and "fixed" in _union_tags(_type_at(loc)):
            described.append((loc, path, "expected a number of days or a distribution such as "
                              f"{{dist: uniform, min: 10, max: 20}}, got {_given(e.get('input'))}"))
            continue
        described.append((loc, path, describe_error(e, fields)))
    for loc, path, message in described:
        if loc in typos:
            continue
        key, where = _where(path, lines, origins, source)
        out.append((key, f"{where}: {_dotted(path) or 'scenario'}: {message}"))
    return out


def _sorted_unique(items: list[tuple[tuple, str]]) -> list[str]:
    """File lines in line order, then override lines; repeated messages once."""
    seen: dict[str, None] = {}
    for _, text in sorted(items, key=lambda item: item[0]):
        seen.setdefault(text, None)
    return list(seen)


# --------------------------------------------------------------------------- entry points


def _context(data: dict) -> dict:
    """Names and the horizon, read defensively from raw data, for reference checks."""
    context: dict[str, Any] = {"defer_problems": True}
    for kind in ("materials", "facilities", "controls"):
        section = data.get(kind)
        context[kind] = set(section) if isinstance(section, dict) else set()
        if kind != "controls" and not context[kind]:
            context[kind] = None  # a missing required section is reported once, not per reference
    start, days = data.get("start"), data.get("horizon_days")
    # Only a valid start and horizon (a datetime is no date here, and no date arithmetic may overflow).
    if (type(start) is dt.date and EARLIEST_DATE <= start <= LATEST_START
            and type(days) is int and 1 <= days <= MAX_HORIZON_DAYS):
        context["horizon"] = (start, start + dt.timedelta(days=days))
    return context


_FILE_NAME_LABEL = "\x00file-name\x00"  # stands for "the name came from the file name" in messages


def _explain_file_name(lines: list[str], source: str) -> list[str]:
    return [f"{source}:1: {line[len(_FILE_NAME_LABEL) + 2:]} (taken from the file name: add a `name:` field)"
            if line.startswith(_FILE_NAME_LABEL) else line for line in lines]


def parse_scenario(
    text: str,
    source: str = "<scenario>",
    overrides: Iterable[str] | Mapping[str, Any] = (),
    default_name: str | None = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """Validate YAML text into a :class:`Scenario`, raising :class:`ScenarioError` on problems.

    ``extends:`` paths are read relative to ``base_dir`` (default: the folder of ``source`` if
    it names a file, else the current folder)."""
    is_file = Path(source).is_file()
    start = (Path(source).resolve(),) if is_file else ()
    folder = Path(base_dir) if base_dir else (Path(source).parent if is_file else Path("."))
    data, lines, inherited = _read_document(text, source, folder, start)
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}:1: scenario: expected a YAML mapping of scenario fields, got {_kind_of(data)}"])
    origins: dict[tuple, str] = dict(inherited)  # where inherited values stand in their base file
    if default_name and "name" not in data:
        data["name"] = default_name
        origins[("name",)] = _FILE_NAME_LABEL
    for path, value, shown in parse_overrides(overrides):
        _apply_override(data, path, value, shown, origins, lines)
    context = _context(data)
    changed = [origins[k] for k in (("start",), ("horizon_days",)) if origins.get(k, "").startswith(_OVERRIDE + " ")]
    if changed and "horizon" in context:  # dates of the file outside a horizon an override moved: say so
        context["horizon_note"] = " and ".join(changed)
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as err:
        found = _schema_lines(err.errors(), data, lines, origins, source)
        # Report the cross-field problems of the parts that are valid too, so that a file's
        # problems all come at once.
        partial = _salvage(data, context)
        if partial is not None:
            for loc, msg in problems(partial):
                key, where = _where(tuple(loc), lines, origins, source)
                found.append((key, f"{where}: {_dotted(loc)}: {msg}"))
        raise ScenarioError(_explain_file_name(_sorted_unique(found), source)) from None
    found = problems(scenario)
    if found:
        located = []
        for loc, msg in found:
            key, where = _where(tuple(loc), lines, origins, source)
            located.append((key, f"{where}: {_dotted(loc)}: {msg}"))
        raise ScenarioError(_explain_file_name(_sorted_unique(located), source))
    return scenario


def _salvage(data: dict, context: dict):
    """The valid parts of a scenario that failed validation, for the cross-field checks:
    entries that fail on their own are left out (``None`` in lists, to keep positions)."""
    from types import SimpleNamespace

    from pydantic import TypeAdapter

    if "horizon" not in context:
        return None

    def valid(adapter, value):
        try:
            return adapter.validate_python(value, context=context)
        except (ValidationError, ValueError, TypeError):
            return None

    def mapping(key, adapter):
        section = data.get(key)
        if not isinstance(section, dict):
            return {}
        checked = {name: valid(adapter, value) for name, value in section.items()}
        return {name: spec for name, spec in checked.items() if spec is not None}

    def listing(key, adapter):
        section = data.get(key)
        return [valid(adapter, item) for item in section] if isinstance(section, list) else []

    start, end = context["horizon"]
    return SimpleNamespace(
        start=start, end=end,
        materials=mapping("materials", TypeAdapter(schema.Material)),
        facilities=mapping("facilities", TypeAdapter(schema.Facility)),
        controls=mapping("controls", TypeAdapter(schema.Control)),
        lanes=listing("lanes", TypeAdapter(schema.Lane)),
        timeline=listing("timeline", TypeAdapter(schema.Event)),
    )


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {_given(value)}"
    return f"the value {_given(value)}"


def read_text_file(path: Path, kind: str, error: type[ScenarioError] = ScenarioError) -> str:
    """A user's file as text, or one line saying why it cannot be read (``kind``: "scenario").

    Only a regular file of at most 10 MiB in UTF-8 is read (see :func:`_read_file`)."""
    try:
        return _read_file(Path(path))
    except _Unreadable as why:
        if why.missing:
            raise error([f"{path}: no such {kind} file"]) from None
        if why.line is not None:
            raise error([f"{path}:{why.line}: {kind}: {why.reason}"]) from None
        raise error([f"{path}: expected a {kind} file, got {why.reason}"]) from None


def peek_yaml(path: str | Path) -> Any:
    """A YAML file's plain data for a quick look (is it a sweep file? its description?), or
    ``None`` if it cannot be read. Never raises: reading it for real reports its problems.

    It goes through the same safe reader as :func:`load_scenario`, so a value that only looks
    like a date (``2025-13-01``) stays text instead of escaping as a ``ValueError``.
    """
    try:
        return _read_yaml(_read_file(Path(path)), str(path))[0]
    except (_Unreadable, OSError, ScenarioError, yaml.YAMLError, ValueError, RecursionError):
        return None


def load_scenario(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Scenario:
    """Read and validate a scenario file. ``overrides`` are ``dotted.path=value`` strings."""
    path = Path(path)
    text = read_text_file(path, "scenario")
    return parse_scenario(text, str(path), overrides, default_name=path.stem, base_dir=path.parent)


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the validated scenario's canonical JSON (comments and key order do not count)."""
    canonical = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
