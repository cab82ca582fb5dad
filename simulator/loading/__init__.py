"""Reading scenario files: safe YAML with line numbers, ``--set`` overrides, clear errors.

Every problem becomes one line ``file:LINE: field.path: expected ..., got ...``; all problems
of a file are collected before anything is reported (:class:`ScenarioError`).
"""

from __future__ import annotations

from .messages import (  # noqa: F401 - re-exported: the loader's names
    ScenarioError, _MAX_LINE, _OVERRIDE, _clip, _dotted, _given, _kind_of, one_line,
)
from .reader import (  # noqa: F401 - re-exported: the loader's names
    MAX_FILE_BYTES, _Loader, _MAX_DEPTH, _MAX_VALUES, _PLAIN_TAGS, _SPECIAL_FILES, _Stop, _TooDeep,
    _Unreadable, _Unsafe, _build, _read_file, _read_yaml, _short_tag, _syntax_message,
)
from .overrides import (  # noqa: F401 - re-exported: the loader's names
    _apply_override, _override_value, parse_overrides,
)
from .extends import (  # noqa: F401 - re-exported: the loader's names
    _MAX_EXTENDS, _forget, _merge, _path_shown, _read_document, _shape,
)
from .describe import (  # noqa: F401 - re-exported: the loader's names
    _FIELDS, _KINDS, _MODELS, _PATTERNS, _TAGS, _TAG_FIELDS, _all_field_names, _all_tags,
    _alternative, _data_path, _field_names, _member_at, _pick_union_members, _schema_lines,
    _sorted_unique, _tags_of, _type_at, _union_tags, _unwrap, _where, describe_error,
)
from .entry import (  # noqa: F401 - re-exported: the loader's names
    _FILE_NAME_LABEL, _context, _explain_file_name, _salvage, load_scenario, parse_scenario,
    peek_yaml, read_text_file, scenario_hash,
)

__all__ = ["ScenarioError", "load_scenario", "parse_scenario", "scenario_hash", "parse_overrides", "describe_error"]
