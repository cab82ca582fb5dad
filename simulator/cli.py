"""The ``resim`` command line: run (optionally replicated), sweep, validate, list, schema.

Exit codes: 0 success; 2 a problem with the user's input (one line per problem, no traceback,
no results written); 1 an internal error of the simulator; 130 interrupted (SIGINT, Ctrl-C),
143 terminated (SIGTERM): one line, no results written.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import catalog, cli_observed, interrupts

# The loader (pydantic, numpy), pandas, SimPy and matplotlib are imported by the commands that
# need them: `resim --version` and `resim list` stay fast (benchmarks/cli_startup.py).

__all__ = ["main", "bundled_scenarios_dir"]

DEFAULT_SCENARIO = f"{catalog.DEFAULT_SCENARIO}.yaml"
bundled_scenarios_dir = catalog.scenarios_dir  # the folder of the bundled scenarios (source tree or wheel)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("resim")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="resim", description="Rare-earth supply under export controls: a discrete-event simulator.")
    p.add_argument("--version", action="version", version=f"resim {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and write results/<scenario>/<run-id>/")
    r.add_argument("scenario", nargs="?", help=f"scenario file or bundled scenario name (default: {catalog.DEFAULT_SCENARIO})")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's seed)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario value, e.g. --set controls.cn_licensing.approval_probability=0.4")
    r.add_argument("--out", help="write results to this folder (must not exist or be empty)")
    r.add_argument("--results", default="results", help="results root folder (default: ./results)")
    r.add_argument("--quiet", action="store_true", help="print only the results folder")
    _progress_option(r)
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
    s.add_argument("sweep_file", help="sweep file or bundled sweep name (see sweeps/*.yaml)")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a base-scenario value for every run")
    s.add_argument("--out", help="results folder (default: <results>/<sweep-name>/)")
    s.add_argument("--results", default="results", help="results root folder (default: ./results)")
    s.add_argument("--fresh", action="store_true", help="discard earlier results of this sweep instead of resuming")
    s.add_argument("--retry-failed", action="store_true", help="run again the runs that failed last time")
    s.add_argument("--check", action="store_true", help="validate the sweep file and print its design; run nothing")
    s.add_argument("--quiet", action="store_true", help="no progress bar; print only the results folder")
    _progress_option(s)
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

    cli_observed.add_parsers(sub, _executor_options)  # score, calibrate, observed
    ls = sub.add_parser("list", help="list the bundled scenarios (their names work as files: resim run licensing_2025)")
    ls.add_argument("--sweeps", action="store_true", help="list the bundled sweeps instead")
    sub.add_parser("schema", help="print the scenario JSON Schema (for editor completion)")
    return p


def _sweep_module():
    # imported when a command needs it (pandas, the executors)
    return importlib.import_module("simulator.sweep")


def _progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal (default: only on a terminal)")


def _progress(args) -> bool | None:
    """Progress on stderr: off with --quiet, on with --progress, else only on a terminal."""
    return False if args.quiet else True if args.progress else None


def _stage(args, text: str) -> None:
    """One line on stderr saying what a run is doing (when progress is shown)."""
    on = _progress(args)
    if on or (on is None and sys.stderr.isatty()):
        print(f"resim: {text}", file=sys.stderr, flush=True)


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
    from .loading import ScenarioError

    sw = _sweep_module()

    if args.replications < 1:
        raise ScenarioError([f"--replications {args.replications}: expected a number of replications >= 1, got {args.replications}"])
    plan = sw.plan_replications(path, args.replications, args.seed, args.overrides)
    folder = sw._replications_folder(plan, args.results, args.out)
    keep = 0 if args.no_report else min(args.replications, args.keep_runs)
    with sw.make_executor(args.executor, args.workers, args.scheduler) as ex:
        runs, info = sw.execute(plan, folder, ex, progress=_progress(args), keep_runs=keep, fresh=args.fresh)
    summary, _, _ = sw._finish(plan, runs, info, folder)
    if keep and sw.keep_representative(plan, folder) is not None:
        _stage(args, f"building the report in {folder}")
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
        runs, info = sw.execute(plan, folder, ex, progress=_progress(args), fresh=args.fresh, retry_failed=args.retry_failed)
    summary, _, ranking = sw._finish(plan, runs, info, folder)
    if not args.no_report and len(runs):
        _stage(args, f"building the report in {folder}")
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
    from .loading import ScenarioError, load_scenario

    path = catalog.scenario_path(args.scenario) if args.scenario else catalog.scenarios_dir() / DEFAULT_SCENARIO
    if args.replications is not None:
        return _cmd_replications(args, path)
    if args.fresh:
        raise ScenarioError(["--fresh: expected --replications N with it, got a single run (whose --out must be new or empty)"])
    if args.workers is not None or args.executor != "local" or args.scheduler:
        raise ScenarioError(["--workers/--executor/--scheduler: expected --replications N with them, got a single run"])
    from .results import OutputExistsError, format_summary, write_run
    from .runner import run

    _stage(args, f"loading {path}")
    scenario = load_scenario(path, args.overrides)
    if args.seed is not None and args.seed < 0:
        raise ScenarioError([f"--seed {args.seed}: expected a seed >= 0, got {args.seed}"])
    if args.out and Path(args.out).exists() and (not Path(args.out).is_dir() or any(Path(args.out).iterdir())):
        raise OutputExistsError(f"--out {args.out}: expected a new or empty folder, got one that is not empty")
    _stage(args, f"simulating {scenario.name} from {scenario.start} to {scenario.end}")
    result = run(scenario, seed=args.seed)
    _stage(args, f"writing the tables ({result.manifest['simpy_events']:,} events in {result.manifest['wall_seconds']:.1f} s)")

    def finish(tmp: Path) -> None:
        _stage(args, "drawing the report (report.html and its charts)")
        _report_module().build_run_report(tmp)

    folder = write_run(result, args.out, args.results, finish=None if args.no_report else finish)
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
    from .loading import peek_yaml

    data = peek_yaml(name)  # the loader's own reader: an impossible date must not escape as ValueError
    return isinstance(data, dict) and "scenario" in data and ("parameters" in data or "design" in data)


def _cmd_validate(args) -> int:
    """Check scenario files, and sweep files too (with their parameters against the scenario)."""
    from .loading import ScenarioError, load_scenario
    from .scenario import expansion_lines

    failed = False
    for name in args.files:
        scenario = None
        try:
            path = catalog.scenario_path(name)
            path = path if path.exists() else catalog.sweep_path(name)  # a bundled scenario's name, or a sweep's
            if cli_observed.is_calibration_file(path):
                importlib.import_module("simulator.calibrate").plan_calibration(path, args.overrides)
            elif _is_sweep_file(path):
                _sweep_module().plan_sweep(path, args.overrides)
            else:
                scenario = load_scenario(path, args.overrides)
        except ScenarioError as err:
            failed = True
            for line in err.lines:
                print(line, file=sys.stderr)
        else:
            print(f"{name}: ok")
            if scenario is not None:  # what selectors choose and relative changes come to
                for line in expansion_lines(scenario):
                    print(line)
    return 2 if failed else 0


def _cmd_list(args) -> int:
    folder = catalog.sweeps_dir() if args.sweeps else catalog.scenarios_dir()
    files = sorted(folder.glob("*.yaml"))
    if not files:
        print(f"no scenarios in {folder}", file=sys.stderr)
        return 2
    width = max(len(f.stem) for f in files)
    for f in files:
        text = catalog.description(f)
        print(f"{f.stem:<{width}}  {'(unreadable YAML: run resim validate)' if text is None else text}")
    return 0


def _cmd_schema(_args) -> int:
    from .schema_export import scenario_json_schema  # of scenario files, derived ones too

    print(json.dumps(scenario_json_schema(), indent=2))
    return 0


COMMANDS = {"report": _cmd_report, "compare": _cmd_compare, "run": _cmd_run, "sweep": _cmd_sweep, "validate": _cmd_validate, "list": _cmd_list, "schema": _cmd_schema,
            **cli_observed.COMMANDS}


def command() -> int:
    """The ``resim`` command (and ``python -m simulator``): :func:`main`, in a process that ends
    with it (after an interrupt, further signals stay ignored until it has ended)."""
    return main(exiting=True)


def main(argv: Sequence[str] | None = None, *, exiting: bool = False) -> int:
    with interrupts.handle_signals(exiting):  # SIGTERM ends a command like Ctrl-C
        try:
            code = _main(argv)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
            return code
        except KeyboardInterrupt:  # cleaned up on the way (temporary folder, drawing workers)
            print("interrupted; no results written", file=sys.stderr)
            return interrupts.exit_code()  # 130 (SIGINT, Ctrl-C) or 143 (SIGTERM)
        except BrokenPipeError:  # whoever read the output stopped reading (resim list | head -1)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush there
            return 1  # as Python itself exits on EPIPE


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)  # --version answers here
    if args.command == "list":
        return _cmd_list(args)  # reads descriptions only: no loader
    from .loading import ScenarioError

    try:
        return COMMANDS[args.command](args)
    except ScenarioError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return 2
    except Exception as err:
        results, model = sys.modules.get("simulator.results"), sys.modules.get("simulator.model")  # loaded if raised
        if results is not None and isinstance(err, results.OutputExistsError):
            print(err, file=sys.stderr)
            return 2
        if model is not None and isinstance(err, model.MassBalanceError):
            print(f"internal error (please report): {err}", file=sys.stderr)
            return 1
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
    sys.exit(command())
