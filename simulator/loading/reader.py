"""Reading files safely (regular files, size, UTF-8) and YAML with the line of every value."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .messages import ScenarioError, _dotted


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


