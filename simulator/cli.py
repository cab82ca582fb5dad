"""The ``resim`` command line: run (optionally replicated), sweep, validate, list, schema.

Exit codes: 0 success; 2 a problem with the user's input (one line per problem, no traceback,
no results written); 1 an internal error of the simulator; 130 interrupted (SIGINT, Ctrl-C),
143 terminated (SIGTERM): one line, no results written.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import interrupts
from .loading import ScenarioError, load_scenario, peek_yaml
from .model import MassBalanceError
from .results import OutputExistsError, format_summary, write_run
from .runner import run, version

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
    r.add_argument("--no-report", action="store_true", help="do not write report.html and its charts")
    r.add_argument("--fresh", action="store_true",
                   help="with --replications: discard earlier results in the folder instead of resuming")
    r.add_argument("--keep-runs", type=int, default=20, metavar="K",
                   help="with --replications: keep the full outputs of the first K replications for the "
                        "report's fan charts (default 20; 0 with --no-report)")
    r.add_argument("--replications", type=int, metavar="N",
                   help="run N replications (child seeds of --seed) and print mean, sd, 95%% CI per metric; "
                        "writes results/<scenario>/replications-seed<S>-<hash>/ (or --out), resumable")
    _executor_options(r)

    s = sub.add_parser("sweep", help="run a parameter sweep file: results/<sweep-name>/ (resumable)")
    s.add_argument("sweep_file", help="sweep file (see sweeps/*.yaml)")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a base-scenario value for every run")
    s.add_argument("--out", help="results folder (default: <results>/<sweep-name>/)")
    s.add_argument("--results", default="results", help="results root folder (default: ./results)")
    s.add_argument("--fresh", action="store_true", help="discard earlier results of this sweep instead of resuming")
    s.add_argument("--retry-failed", action="store_true", help="run again the runs that failed last time")
    s.add_argument("--check", action="store_true", help="validate the sweep file and print its design; run nothing")
    s.add_argument("--quiet", action="store_true", help="no progress bar; print only the results folder")
    s.add_argument("--no-report", action="store_true", help="do not write the sweep's report.html and charts")
    _executor_options(s)

    v = sub.add_parser("validate", help="check scenario (or sweep) files without running them")
    v.add_argument("files", nargs="+")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")

    rep = sub.add_parser("report", help="(re)build report.html of a run folder or a sweep folder")
    rep.add_argument("folder")
    cmp_ = sub.add_parser("compare", help="compare runs side by side: report.html in --out")
    cmp_.add_argument("runs", nargs="+", metavar="RUN", help="two or more run folders (the first is the reference)")
    cmp_.add_argument("--out", help="output folder (default: <results>/compare/<scenario A>_vs_<scenario B>/)")
    cmp_.add_argument("--results", default="results", help="results root folder (default: ./results)")

    sub.add_parser("list", help="list the bundled scenarios")
    sub.add_parser("schema", help="print the scenario JSON Schema (for editor completion)")
    return p


def _sweep_module():
    # ``simulator.sweep`` the attribute is the function; the module is imported by name.
    return importlib.import_module("simulator.sweep")


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, help="worker processes (default: all cores; 1 runs in this process)")
    p.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="local processes (default) or Dask distributed (pip install -e '.[distributed]')")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (default: a local Dask cluster)")


def _lost(info: dict) -> int:
    if info["lost"]:
        print(f"{info['lost']} runs were not done ({info['lost_error']}); run the same command again to do them",
              file=sys.stderr)
        return 1
    return 0


def _cmd_replications(args, path: Path) -> int:
    sw = _sweep_module()

    if args.replications < 1:
        raise ScenarioError([f"--replications {args.replications}: expected a number of replications >= 1, got {args.replications}"])
    plan = sw.plan_replications(path, args.replications, args.seed, args.overrides)
    folder = sw._replications_folder(plan, args.results, args.out)
    keep = 0 if args.no_report else min(args.replications, args.keep_runs)
    with sw.make_executor(args.executor, args.workers, args.scheduler) as ex:
        runs, info = sw.execute(plan, folder, ex, progress=not args.quiet, keep_runs=keep, fresh=args.fresh)
    summary, _, _ = sw._finish(plan, runs, info, folder)
    if keep and sw.keep_representative(plan, folder) is not None:
        _report_module().build_run_report(folder)  # fan charts over the kept replications
    if args.quiet:
        print(folder)
    else:
        print(sw.format_replications(summary, info, plan))
        print(f"\nresults: {folder}")
    return _lost(info)


def _cmd_sweep(args) -> int:
    sw = _sweep_module()

    plan = sw.plan_sweep(args.sweep_file, args.overrides)
    folder = sw._results_folder(plan, args.results, args.out)
    if args.check:
        print(f"{args.sweep_file}: ok: {plan.design['type']} design, {len(plan.points)} points x "
              f"{plan.replications} replications = {plan.runs} runs over {', '.join(plan.parameters) or 'no parameters'}; "
              f"metrics {', '.join(plan.metrics)}; results would go to {folder}")
        return 0
    with sw.make_executor(args.executor, args.workers, args.scheduler) as ex:
        runs, info = sw.execute(plan, folder, ex, progress=not args.quiet, fresh=args.fresh, retry_failed=args.retry_failed)
    summary, _, ranking = sw._finish(plan, runs, info, folder)
    if not args.no_report and len(runs):
        _report_module().build_sweep_report(folder)
    if args.quiet:
        print(folder)
    else:
        print(sw.format_sweep(summary, info, plan))
        if ranking:
            print("\n" + ranking)
        print(f"\nresults: {folder}")
    return _lost(info)


def _cmd_run(args) -> int:
    path = Path(args.scenario) if args.scenario else bundled_scenarios_dir() / DEFAULT_SCENARIO
    if args.replications is not None:
        return _cmd_replications(args, path)
    if args.fresh:
        raise ScenarioError(["--fresh: expected --replications N with it, got a single run (whose --out must be new or empty)"])
    if args.workers is not None or args.executor != "local" or args.scheduler:
        raise ScenarioError(["--workers/--executor/--scheduler: expected --replications N with them, got a single run"])
    scenario = load_scenario(path, args.overrides)
    if args.seed is not None and args.seed < 0:
        raise ScenarioError([f"--seed {args.seed}: expected a seed >= 0, got {args.seed}"])
    if args.out and Path(args.out).exists() and (not Path(args.out).is_dir() or any(Path(args.out).iterdir())):
        raise OutputExistsError(f"--out {args.out}: expected a new or empty folder, got one that is not empty")
    result = run(scenario, seed=args.seed)
    finish = None if args.no_report else _report_module().build_run_report
    folder = write_run(result, args.out, args.results, finish=finish)
    if args.quiet:
        print(folder)
    else:
        print(format_summary(result))
        print(f"\nresults: {folder}")
    return 0


def _report_module():
    return importlib.import_module("simulator.report")  # matplotlib is loaded only when needed


def _cmd_report(args) -> int:
    print(_report_module().build_report(Path(args.folder)))
    return 0


def _cmd_compare(args) -> int:
    if len(args.runs) < 2:
        raise _report_module().ReportError(f"compare: expected two or more run folders, got {len(args.runs)}")
    runs = [Path(r) for r in args.runs]
    report = _report_module()
    out = Path(args.out) if args.out else report.compare_folder_name(runs, args.results)
    path, headline = report.compare(runs, out)
    print(headline)
    print(f"\nreport: {path}")
    return 0


def _is_sweep_file(name: str) -> bool:
    """A sweep file names a base scenario and parameters (cheap look at the top-level keys)."""
    data = peek_yaml(name)  # the loader's own reader: an impossible date must not escape as ValueError
    return isinstance(data, dict) and "scenario" in data and ("parameters" in data or "design" in data)


def _cmd_validate(args) -> int:
    """Check scenario files, and sweep files too (with their parameters against the scenario)."""
    failed = False
    for name in args.files:
        try:
            if _is_sweep_file(name):
                _sweep_module().plan_sweep(name, args.overrides)
            else:
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
        data = peek_yaml(f)
        if isinstance(data, dict):
            text = str(data.get("description") or "").strip().splitlines()
        else:
            text = ["(unreadable YAML: run resim validate)"]
        print(f"{f.stem:<{width}}  {text[0] if text else ''}")
    return 0


def _cmd_schema(_args) -> int:
    from .schema_export import scenario_json_schema  # of scenario files, derived ones too

    print(json.dumps(scenario_json_schema(), indent=2))
    return 0


COMMANDS = {"report": _cmd_report, "compare": _cmd_compare, "run": _cmd_run, "sweep": _cmd_sweep, "validate": _cmd_validate, "list": _cmd_list, "schema": _cmd_schema}


def main(argv: Sequence[str] | None = None) -> int:
    with interrupts.handle_signals():  # SIGTERM ends a command like Ctrl-C
        try:
            return _main(argv)
        except KeyboardInterrupt:  # cleaned up on the way (temporary folder, drawing workers)
            print("interrupted; no results written", file=sys.stderr)
            return interrupts.exit_code()  # 130 (SIGINT, Ctrl-C) or 143 (SIGTERM)


def _main(argv: Sequence[str] | None) -> int:
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
    except Exception as err:
        report = sys.modules.get("simulator.report")  # a ReportError can only come from a loaded report module
        if report is not None and isinstance(err, report.ReportError):
            print(err, file=sys.stderr)
            return 2
        from .sweep import SweepFailed, SweepInterrupted

        if isinstance(err, SweepInterrupted):
            print(err, file=sys.stderr)
            return interrupts.exit_code()
        if isinstance(err, SweepFailed):  # every run lost or raised: nothing to summarise
            print(f"error: {err}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
