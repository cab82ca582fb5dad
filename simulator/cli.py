"""The ``resim`` command line: run, validate, list, schema.

Exit codes: 0 success; 2 a problem with the user's input (one line per problem, no traceback,
no results written); 1 an internal error of the simulator.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from .loading import ScenarioError, load_scenario
from .model import MassBalanceError
from .results import OutputExistsError, format_summary, write_run
from .runner import run, version
from .scenario import Scenario

__all__ = ["main", "bundled_scenarios_dir"]

DEFAULT_SCENARIO = "baseline_2024.yaml"


def bundled_scenarios_dir() -> Path:
    """The ``scenarios/`` folder of the source tree the package runs from, else ./scenarios."""
    here = Path(__file__).resolve().parent.parent / "scenarios"
    return here if here.is_dir() else Path("scenarios")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="resim", description="Rare-earth supply under export controls: a discrete-event simulator.")
    p.add_argument("--version", action="version", version=f"resim {version()}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and write results/<scenario>/<run-id>/")
    r.add_argument("scenario", nargs="?", help=f"scenario file (default: the bundled {DEFAULT_SCENARIO})")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's seed)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario value, e.g. --set controls.cn_licensing.approval_probability=0.4")
    r.add_argument("--out", help="write results to this folder (must not exist or be empty)")
    r.add_argument("--results", default="results", help="results root folder (default: ./results)")
    r.add_argument("--quiet", action="store_true", help="print only the results folder")

    v = sub.add_parser("validate", help="check scenario files without running them")
    v.add_argument("files", nargs="+")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    sub.add_parser("list", help="list the bundled scenarios")
    sub.add_parser("schema", help="print the scenario JSON Schema (for editor completion)")
    return p


def _cmd_run(args) -> int:
    path = Path(args.scenario) if args.scenario else bundled_scenarios_dir() / DEFAULT_SCENARIO
    scenario = load_scenario(path, args.overrides)
    if args.seed is not None and args.seed < 0:
        raise ScenarioError([f"--seed {args.seed}: expected a seed >= 0, got {args.seed}"])
    if args.out and Path(args.out).exists() and (not Path(args.out).is_dir() or any(Path(args.out).iterdir())):
        raise OutputExistsError(f"--out {args.out}: expected a new or empty folder, got one that is not empty")
    result = run(scenario, seed=args.seed)
    folder = write_run(result, args.out, args.results)
    if args.quiet:
        print(folder)
    else:
        print(format_summary(result))
        print(f"\nresults: {folder}")
    return 0


def _cmd_validate(args) -> int:
    failed = False
    for name in args.files:
        try:
            load_scenario(name, args.overrides)
        except ScenarioError as err:
            failed = True
            for line in err.lines:
                print(line, file=sys.stderr)
        else:
            print(f"{name}: ok")
    return 2 if failed else 0


def _cmd_list(_args) -> int:
    folder = bundled_scenarios_dir()
    files = sorted(folder.glob("*.yaml"))
    if not files:
        print(f"no scenarios in {folder}", file=sys.stderr)
        return 2
    width = max(len(f.stem) for f in files)
    for f in files:
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
            text = str(data.get("description", "")).strip().splitlines()
        except yaml.YAMLError:
            text = ["(unreadable YAML: run resim validate)"]
        print(f"{f.stem:<{width}}  {text[0] if text else ''}")
    return 0


def _cmd_schema(_args) -> int:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["title"] = "resim scenario"
    print(json.dumps(schema, indent=2))
    return 0


COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "list": _cmd_list, "schema": _cmd_schema}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ScenarioError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 2
    except OutputExistsError as err:
        print(err, file=sys.stderr)
        return 2
    except MassBalanceError as err:
        print(f"internal error (please report): {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no results written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
