"""The command-line side of observed data: ``resim score``, ``resim calibrate`` and ``resim observed``.

:mod:`simulator.cli` adds these parsers (:func:`add_parsers`) and dispatches to :data:`COMMANDS`.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["add_parsers", "COMMANDS", "is_calibration_file"]


def add_parsers(sub, executor_options) -> None:
    sc = sub.add_parser("score", help="hold a run (or replications) against an observed series in the customs shape")
    sc.add_argument("folder", metavar="RUN_OR_REPLICATIONS_FOLDER")
    sc.add_argument("--observed", required=True, help="observed series (CSV: reporter, partner, hs_code, period, net_kg or tonnes)")
    sc.add_argument("--select", help="rows to score, e.g. reporter=CN,hs_code=8505.11,partner=WLD")
    sc.add_argument("--baseline", help="baseline months of the index, e.g. 202501 or 202501,202502 (default: each series' first)")
    sc.add_argument("--out", help="output folder (default: <results>/score/<folder name>/)")
    sc.add_argument("--results", default="results", help="results root folder (default: ./results)")

    ca = sub.add_parser("calibrate", help="infer scenario parameters from an observed series (ABC-SMC; resumable)")
    ca.add_argument("calibration_file", help="calibration file (see calibrations/*.yaml)")
    ca.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                    help="override a scenario value for every run")
    ca.add_argument("--budget", type=int, help="runs in all (default: the file's budget; more continues a finished calibration)")
    ca.add_argument("--out", help="results folder (default: <results>/calibrations/<name>/)")
    ca.add_argument("--results", default="results", help="results root folder (default: ./results)")
    ca.add_argument("--fresh", action="store_true", help="discard earlier results of this calibration instead of resuming")
    ca.add_argument("--check", action="store_true", help="validate the file against its scenario and series; run nothing")
    ca.add_argument("--quiet", action="store_true", help="print only the results folder")
    ca.add_argument("--no-report", action="store_true", help="do not write report.html and its charts")
    executor_options(ca)

    ob = sub.add_parser("observed", help="write a run's exports as an observed series (customs shape), e.g. synthetic test data")
    ob.add_argument("folder", metavar="RUN_FOLDER")
    ob.add_argument("--select", help="rows to keep, e.g. reporter=CN,hs_code=8505.11")
    ob.add_argument("--by-partner", action="store_true", help="one row per partner (default: the total over partners, WLD)")
    ob.add_argument("--out", required=True, help="CSV file to write (must not exist)")


def is_calibration_file(name: str) -> bool:
    """A calibration file names a scenario and an observed series (for ``resim validate``)."""
    from .loading import peek_yaml

    data = peek_yaml(name)
    return isinstance(data, dict) and "scenario" in data and "observed" in data


def _cmd_score(args) -> int:
    from .observed import ObservedError, parse_select, read_observed
    from .score import score
    from .score_output import format_score, write_score

    baseline = None
    if args.baseline:
        try:
            baseline = [int(p) for p in args.baseline.split(",")]
        except ValueError:
            raise ObservedError([f"--baseline {args.baseline}: expected months as YYYYMM separated by commas, "
                                 f"got {args.baseline!r}"]) from None
    observed = read_observed(args.observed)
    selection = parse_select(args.select)
    table, summary = score(Path(args.folder), observed, selection, baseline)
    out = Path(args.out) if args.out else Path(args.results) / "score" / Path(args.folder).resolve().name
    write_score(table, summary, out, {"run": str(args.folder), "observed": args.observed, "select": selection,
                                      "baseline": baseline})
    print(format_score(table, summary))
    print(f"\nresults: {out}")
    return 0


def _cmd_calibrate(args) -> int:
    from .calibrate import calibrate, format_calibration, plan_calibration

    if args.check:
        plan = plan_calibration(args.calibration_file, args.overrides)
        s = plan.spec
        print(f"{args.calibration_file}: ok: {len(plan.names)} parameters ({', '.join(plan.names)}), "
              f"{len(plan.observed)} observed months, population {s.population} x {s.replications} replications, "
              f"budget {args.budget or s.budget:,} runs; scenario {plan.description['scenario']}")
        return 0

    def log(r) -> None:
        if not args.quiet:
            print(f"round {r.round}: tolerance {r.eps:.4g}, {r.accepted} of {r.points} points within it "
                  f"(ESS {r.ess:.0f}), {r.runs} runs, {r.failed} failed", file=sys.stderr)

    result = calibrate(args.calibration_file, workers=args.workers, executor=args.executor, scheduler=args.scheduler,
                       results=args.results, out=args.out, overrides=args.overrides, fresh=args.fresh,
                       budget=args.budget, report=not args.no_report, on_round=log, progress=not args.quiet)
    if args.quiet:
        print(result.folder)
    else:
        print(format_calibration(result))
        print(f"\nresults: {result.folder}")
    return 1 if result.lost else 0  # runs lost with their worker: the same command again does them


def _cmd_observed(args) -> int:
    from .observed import ObservedError, parse_select
    from .safe_write import replacing
    from .score import observed_from_run

    out = Path(args.out)
    if out.exists() or out.is_symlink():
        raise ObservedError([f"--out {out}: expected a new file, got one that exists"])
    frame = observed_from_run(Path(args.folder), parse_select(args.select), by_partner=args.by_partner)
    with replacing(out) as handle:
        frame.to_csv(handle, index=False, float_format="%.6g", lineterminator="\n")
    print(out)
    return 0


COMMANDS = {"score": _cmd_score, "calibrate": _cmd_calibrate, "observed": _cmd_observed}
