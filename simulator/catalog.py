"""The bundled scenarios and sweeps, found by name in an installed package or a source tree.

The files live at the top of the repository (``scenarios/``, ``sweeps/``); a wheel carries
them as package data under ``simulator/bundled/`` (see ``pyproject.toml``). A bare name such
as ``licensing_2025`` that is not a file in the current folder names a bundled file.

Light on purpose: ``resim list`` and ``resim --version`` import only this and the standard
library.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["scenarios_dir", "sweeps_dir", "scenario_path", "sweep_path", "bundled_names", "DEFAULT_SCENARIO"]

DEFAULT_SCENARIO = "baseline_2024"


def _bundled(kind: str) -> Path:
    """``simulator/bundled/<kind>`` in an installed wheel, else ``<kind>/`` of the source tree."""
    package = Path(str(files("simulator")))
    packaged = package / "bundled" / kind
    if packaged.is_dir():
        return packaged
    source = package.parent
    if (source / "pyproject.toml").is_file() and (source / kind).is_dir():  # a checkout (or an editable install)
        return source / kind
    return packaged  # missing: callers say there is nothing there


def scenarios_dir() -> Path:
    """The folder of the bundled scenarios."""
    return _bundled("scenarios")


def sweeps_dir() -> Path:
    """The folder of the bundled sweep files."""
    return _bundled("sweeps")


def bundled_names(kind: str = "scenarios") -> list[str]:
    """Names (file stems) of the bundled scenarios or sweeps, sorted."""
    folder = _bundled(kind)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _resolve(name: str | Path, kind: str) -> Path | None:
    """``name`` itself if it exists or has a folder part; else the bundled file of that name."""
    path = Path(name)
    if path.exists() or path.parent != Path(".") or path.suffix not in ("", ".yaml", ".yml"):
        return path
    for candidate in (f"{path.stem}.yaml", f"{path.stem}.yml"):
        bundled = _bundled(kind) / candidate
        if bundled.is_file():
            return bundled
    return None


def scenario_path(name: str | Path) -> Path:
    """The file a scenario argument names: a path, or the name of a bundled scenario."""
    found = _resolve(name, "scenarios")
    return Path(name) if found is None else found


def sweep_path(name: str | Path) -> Path:
    """The file a sweep argument names: a path, or the name of a bundled sweep."""
    found = _resolve(name, "sweeps")
    return Path(name) if found is None else found


def is_bare_name(name: str | Path) -> bool:
    """A name that is neither an existing file nor a path with a folder (for messages)."""
    path = Path(name)
    return not path.exists() and path.parent == Path(".")


def description(path: Path) -> str | None:
    """The first line of a YAML file's top-level ``description:`` ('' if none; None if the file
    cannot be read). Only that entry is parsed, so listing stays fast."""
    import yaml

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    start = next((i for i, line in enumerate(lines) if line.startswith("description:")), None)
    if start is None:
        return ""
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
        end += 1  # the entry's continuation lines (block scalars, folded text)
    try:
        data = yaml.safe_load("\n".join(lines[start:end]))
    except (yaml.YAMLError, ValueError):
        return None
    text = str((data or {}).get("description") or "").strip().splitlines() if isinstance(data, dict) else []
    return text[0] if text else ""
