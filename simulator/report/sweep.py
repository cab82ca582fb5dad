"""The sweep report: charts of metrics over a sweep's parameters, build_sweep_report."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib.patches
import matplotlib.ticker
import numpy as np
import pandas as pd

from .. import plots
from ..plots import MAX_PANELS
from ..sweep.summary import mean_ci95
from .data import MAX_FIGURES, REPORT_NAME, ReportError, _chunks, _read_json, _suffix
from .html import Chart, Section, _write, page, table
from .sweep_scales import (_HIGHER_IS_BETTER, _is_share, _value_text, colour_range, overlaps_best,  # noqa: F401
                           parameter_label, tick_labels)

_SWEEP_KEYS = {"point_id", "replication", "seed", "wall_seconds", "error", "parameters", "metrics"}


def _read_runs(folder: Path) -> pd.DataFrame:
    for name in ("runs.parquet", "runs.csv"):
        f = folder / name
        if f.is_file():
            try:
                return pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f)
            except ImportError:
                raise ReportError(f"{f}: reading Parquet needs pyarrow (pip install pyarrow)") from None
            except (OSError, ValueError) as exc:
                raise ReportError(f"{f}: cannot read ({type(exc).__name__}: {exc})") from None
    raise ReportError(f"{folder}: not a sweep folder (no runs.parquet or runs.csv)")


def _ci95(values: np.ndarray) -> tuple[float, float, float, int]:
    """Mean, 95% bootstrap percentile interval of the mean (as summary.csv), number of values."""
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan, 0
    low, high = mean_ci95([v])[0]
    return float(v.mean()), float(low), float(high), len(v)


def _point_stats(ok: pd.DataFrame, parameters: list[str], metric: str) -> pd.DataFrame:
    rows, samples = [], []
    for point_id, g in ok.groupby("point_id", sort=True):
        v = pd.to_numeric(g[metric], errors="coerce").to_numpy(float)
        v = v[~np.isnan(v)]
        samples.append(v)
        rows.append({"point_id": point_id, **{p: g[p].iloc[0] for p in parameters},
                     "mean": float(v.mean()) if len(v) else math.nan, "n": len(v)})
    for row, (low, high) in zip(rows, mean_ci95(samples)):  # every point's interval in one call
        row.update(low=float(low), high=float(high))
    return pd.DataFrame(rows)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _metric_title(metric: str) -> str:
    head, _, key = metric.partition(".")
    words = {"units_lost": "units lost", "share_lost": "share of plan lost", "stopped_days": "days stopped",
             "first_stop_day": "first stop (days from start)", "lead_time_p50": "median lead time (days)",
             "lead_time_p90": "p90 lead time (days)", "wait_licence_mean": "mean wait for licence (days)",
             "exports_t": "exports (t)", "licences_applied": "licences applied", "licences_approved": "licences approved",
             "licences_denied": "licences denied"}
    return f"{words.get(head, head)}: {key}" if key else words.get(head, head)


def _sweep_one(ok, runs, parameter, metrics, out, labels=None) -> list[Chart]:
    charts = []
    values = runs[parameter]
    numeric = _is_numeric(values)
    cats = sorted(values.dropna().unique(), key=str) if not numeric else None
    for k, chunk in enumerate(_chunks(metrics)):
        fig, axes = plots.grid_figure(len(chunk), f"Metrics against {parameter_label(parameter, labels)} (mean of replications, 95% confidence band)")
        for ax, metric in zip(axes, chunk):
            st = _point_stats(ok, [parameter], metric).sort_values(parameter, key=(None if numeric else lambda s: s.astype(str)))
            x = st[parameter].to_numpy(float) if numeric else np.array([cats.index(v) for v in st[parameter]])
            rx = ok[parameter].to_numpy(float) if numeric else np.array([cats.index(v) for v in ok[parameter]])
            ax.scatter(rx, pd.to_numeric(ok[metric], errors="coerce"), s=8, color="#999999", alpha=0.5, label="runs", zorder=1)
            ax.fill_between(x, st["low"], st["high"], color="#1f77b4", alpha=0.25, linewidth=0, label="95% CI of mean")
            ax.plot(x, st["mean"], color="#1f77b4", marker="o", markersize=4, linewidth=1.6, label="mean")
            if not numeric:
                ax.set_xticks(range(len(cats)), [str(c) for c in cats], fontsize=8)
            else:
                xs = sorted(set(st[parameter].to_numpy(float)))
                if len(xs) <= 12:
                    ax.set_xticks(xs, tick_labels(xs), fontsize=8)
            if _is_share(metric):
                ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
            ax.set_xlabel(parameter_label(parameter, labels), fontsize=8)
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7.5, loc="best")
        charts.append(Chart(plots.save(fig, out / f"sweep_metrics{_suffix(k)}.png").name, f"Metrics against {parameter_label(parameter, labels)}",
                            "Each panel: the mean of a metric over replications at each value (line), its 95% confidence "
                            "interval (band, bootstrap percentile) and the single runs (grey)."))
    return charts


def _sweep_two(ok, parameters, metrics, out, labels=None) -> list[Chart]:
    p1, p2 = parameters
    charts = []
    for k, chunk in enumerate(_chunks(metrics)):
        fig, axes = plots.grid_figure(len(chunk), f"Mean of each metric over {parameter_label(p1, labels)} × "
                                      f"{parameter_label(p2, labels)}", panel_height=3.4)
        for ax, metric in zip(axes, chunk):
            st = _point_stats(ok, [p1, p2], metric)
            st["near_best"] = overlaps_best(st, metric)
            scale = 100.0 if _is_share(metric) else 1.0
            table_ = st.pivot_table(index=p2, columns=p1, values="mean", aggfunc="mean", dropna=False)
            vmin, vmax = colour_range(st)
            if table_.size <= 400 and table_.size == len(st):  # a full grid (cells where the metric is undefined stay grey)
                near = st.pivot_table(index=p2, columns=p1, values="near_best", aggfunc="max", dropna=False).reindex_like(table_)
                values = table_.to_numpy(float)
                im = ax.imshow(values * scale, origin="lower", aspect="auto", cmap=matplotlib.colormaps["viridis"].with_extremes(
                    bad="#dddddd"), vmin=vmin * scale, vmax=vmax * scale)
                ax.set_xticks(range(table_.shape[1]), tick_labels(table_.columns), fontsize=7.5)
                ax.set_yticks(range(table_.shape[0]), tick_labels(table_.index), fontsize=7.5)
                for (i, j), v in np.ndenumerate(values):
                    if math.isnan(v):
                        ax.text(j, i, "undefined", ha="center", va="center", fontsize=7, color="#555555")
                        continue
                    if bool(near.iloc[i, j]):
                        ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#ff00aa",
                                                                  linewidth=2.2))
                    if table_.size <= 64:
                        light = vmax > vmin and (v - vmin) / (vmax - vmin) > 0.6  # viridis is light at the top
                        ax.text(j, i, _value_text(metric, v) + (" *" if bool(near.iloc[i, j]) else ""), ha="center",
                                va="center", fontsize=7.5, color="black" if light else "white")
            else:  # scattered design (latin hypercube): points coloured by the mean, near-best ringed
                im = ax.scatter(st[p1], st[p2], c=st["mean"] * scale, cmap="viridis", s=30, vmin=vmin * scale, vmax=vmax * scale)
                hit = st[st["near_best"]]
                ax.scatter(hit[p1], hit[p2], s=80, facecolors="none", edgecolors="#ff00aa", linewidths=1.5)
            bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
            if _is_share(metric):
                bar.set_label("%", fontsize=8)
            ax.set_xlabel(parameter_label(p1, labels), fontsize=8)
            ax.set_ylabel(parameter_label(p2, labels), fontsize=8)
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
        charts.append(Chart(plots.save(fig, out / f"sweep_heatmaps{_suffix(k)}.png").name,
                            f"Heatmaps over {parameter_label(p1, labels)} and {parameter_label(p2, labels)}",
                            "Each cell: the mean of the metric over the replications of that point. Outlined (and *): points "
                            "whose 95% interval overlaps that of the best point, which the replications cannot tell apart "
                            "from it. The colour scale spans at least twice the typical interval, so differences smaller "
                            "than the noise do not look large."))
    return charts


def _sweep_many(ok, parameters, metrics, out, labels=None) -> list[Chart]:
    charts = []
    for k, metric in enumerate(metrics[:MAX_PANELS]):
        params = parameters[:MAX_PANELS]
        fig, axes = plots.grid_figure(len(params), f"{_metric_title(metric)} against each parameter (mean per point)")
        st = _point_stats(ok, params, metric)
        for ax, p in zip(axes, params):
            if _is_numeric(st[p]):
                ax.scatter(st[p], st["mean"], s=14, color="#1f77b4")
            else:
                cats = sorted(st[p].unique(), key=str)
                ax.scatter([cats.index(v) for v in st[p]], st["mean"], s=14, color="#1f77b4")
                ax.set_xticks(range(len(cats)), [str(c) for c in cats], fontsize=8)
            ax.set_xlabel(parameter_label(p, labels), fontsize=8)
            ax.set_ylabel(_metric_title(metric), fontsize=8)
            ax.grid(alpha=0.3)
        charts.append(Chart(plots.save(fig, out / f"sweep_scatter_{k + 1}.png").name, metric))
    return charts


def _sweep_sobol(folder, ok, parameters, metrics, meta, out) -> tuple[list[Chart], list[str]]:
    labels = meta.get("labels")
    notes = []
    f = folder / "sensitivity.csv"
    if f.is_file():
        sens = pd.read_csv(f)
    else:
        try:
            from ..sensitivity import sweep_indices
            design = meta.get("design", {})
            sens, skipped = sweep_indices(ok, parameters, metrics, int(meta.get("points", ok["point_id"].max() + 1)),
                                          design.get("second_order", False), design.get("resamples", 1000),
                                          design.get("conf_level", 0.95))
            notes += [f"{m}: skipped ({why})" for m, why in skipped.items()]
        except ImportError as exc:  # SALib missing
            return [], [f"No sensitivity.csv and the indices cannot be computed here ({exc})."]
        except Exception as exc:  # noqa: BLE001 - a partial sweep cannot be analysed
            return [], [f"No sensitivity.csv and the indices cannot be computed ({type(exc).__name__}: {exc})."]
    if sens.empty:
        return [], notes + ["No Sobol' indices (every metric was skipped)."]
    charts = []
    mets = list(dict.fromkeys(sens["metric"]))
    for k, chunk in enumerate(_chunks(mets)):
        names = {p: parameter_label(p, labels) for p in sens["parameter"].astype(str)}
        longest = max(len(n) for n in names.values())
        fig, axes = plots.grid_figure(len(chunk), "Sobol' sensitivity indices per metric (first-order S1 and total ST, with intervals)",
                                      panel_height=0.45 * len(names) + 1.2, ncols=1 if longest > 18 else None,
                                      label_chars=longest)
        for ax, metric in zip(axes, chunk):
            g = sens[sens["metric"] == metric].sort_values("ST", ascending=False)
            y = np.arange(len(g))
            for off, col, colour, label in ((-0.2, "S1", "#1f77b4", "first-order S1"), (0.2, "ST", "#d62728", "total ST")):
                v = g[col].to_numpy(float)
                err = np.vstack([v - g[f"{col}_low"].to_numpy(float), g[f"{col}_high"].to_numpy(float) - v])
                ax.barh(y + off, v, height=0.38, color=colour, label=label, xerr=np.clip(err, 0, None),
                        error_kw={"elinewidth": 0.8, "capsize": 2})
            ax.set_yticks(y, [names[str(p)] for p in g["parameter"]], fontsize=8)
            ax.invert_yaxis()
            ax.axvline(0, color="#333333", linewidth=0.8)
            ax.set_xlabel("index (share of output variance)", fontsize=8)
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
            ax.grid(axis="x", alpha=0.3)
        axes[0].legend(fontsize=7.5, loc="lower left", bbox_to_anchor=(1.0, 1.0), frameon=False)  # above the panel, not on the bars
        charts.append(Chart(plots.save(fig, out / f"sweep_sobol{_suffix(k)}.png").name, "Sobol' indices",
                            "Bars: indices; whiskers: bootstrap confidence intervals. Parameters ordered by total index."))
    return charts, notes


def _sweep_replications(ok, metrics, out) -> list[Chart]:
    charts = []
    for k, chunk in enumerate(_chunks(metrics)):
        fig, axes = plots.grid_figure(len(chunk), "Distribution of each metric over replications")
        for ax, metric in zip(axes, chunk):
            v = pd.to_numeric(ok[metric], errors="coerce").dropna().to_numpy(float)
            mean, low, high, n = _ci95(v)
            ax.hist(v, bins=min(30, max(5, n // 3)), color="#1f77b4", alpha=0.7)
            ax.axvline(mean, color="#111111", linewidth=1.4, label=f"mean {_value_text(metric, mean)}")
            if _is_share(metric):
                ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
            if not math.isnan(low):
                ax.axvspan(low, high, color="#d62728", alpha=0.2, label="95% CI of mean")
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
            ax.set_ylabel("runs", fontsize=8)
            ax.legend(fontsize=7.5)
        charts.append(Chart(plots.save(fig, out / f"sweep_distributions{_suffix(k)}.png").name, "Metric distributions"))
    return charts


def build_sweep_report(sweep_dir: str | Path) -> Path:
    """Write ``report.html`` and its PNGs into a sweep's folder (``runs.parquet`` or ``runs.csv``
    with one row per run, and ``sweep.json`` if present); returns the HTML path."""
    with plots.style():
        return _build_sweep_report(sweep_dir)


def _build_sweep_report(sweep_dir: str | Path) -> Path:
    folder = Path(sweep_dir)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder")
    runs = _read_runs(folder)
    meta = _read_json(folder / "sweep.json") if (folder / "sweep.json").is_file() else {}
    if "point_id" not in runs:
        raise ReportError(f"{folder}: the runs table has no point_id column")
    parameters = [p for p in meta.get("parameters", []) if p in runs]
    if not meta.get("parameters"):  # infer: columns constant within a point that vary between points
        candidates = [c for c in runs.columns if c not in _SWEEP_KEYS and "." not in c and not c.startswith("licences_")]
        parameters = [c for c in candidates if runs.groupby("point_id")[c].nunique().max() <= 1 and runs[c].nunique() > 1]
    metric_cols = [c for c in runs.columns if c not in _SWEEP_KEYS and c not in parameters and _is_numeric(runs[c])]
    failed = runs["error"].notna() if "error" in runs else pd.Series(False, index=runs.index)
    ok = runs[~failed]
    design = (meta.get("design") or {}).get("type") or ("replications" if not parameters else "grid")
    labels = meta.get("labels") or {}
    notes = []
    if failed.any():
        notes.append(f"{int(failed.sum())} of {len(runs)} runs failed and are left out (see the error column of the runs table).")
    constant = [m for m in metric_cols if pd.to_numeric(ok[m], errors="coerce").nunique() <= 1]
    metrics = [m for m in metric_cols if m not in constant]
    if constant:
        notes.append(f"Constant or undefined in every run, not charted: {', '.join(constant)}.")
    limit = MAX_PANELS * MAX_FIGURES
    if len(metrics) > limit:
        notes.append(f"Charting the first {limit} of {len(metrics)} metrics (all are in the runs table).")
        metrics = metrics[:limit]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        charts: list[Chart] = []
        if ok.empty or not metrics:
            notes.append("No successful runs with varying metrics; no charts.")
        elif design == "sobol":
            got, more = _sweep_sobol(folder, ok, parameters, metrics, meta, folder)
            charts += got
            notes += more
        elif len(parameters) == 0:
            charts += _sweep_replications(ok, metrics, folder)
        elif len(parameters) == 1:
            charts += _sweep_one(ok, runs, parameters[0], metrics, folder, labels)
        elif len(parameters) == 2:
            charts += _sweep_two(ok, parameters, metrics, folder, labels)
        else:
            charts += _sweep_many(ok, parameters, metrics, folder, labels)
        rows = []
        for metric in metrics[:MAX_PANELS]:
            st = _point_stats(ok, parameters, metric)
            st["near"] = overlaps_best(st, metric)
            for r in st.sort_values("mean", ascending=metric.split(".")[0] not in _HIGHER_IS_BETTER, kind="stable").head(40).to_dict("records"):
                rows.append({"metric": _metric_title(metric), "point": r["point_id"],
                             **{parameter_label(p, labels): r[p] for p in parameters}, "runs": r["n"],
                             "mean": _value_text(metric, r["mean"]),
                             "95% CI": (f"[{_value_text(metric, r['low'])}, {_value_text(metric, r['high'])}]"
                                        if not math.isnan(r["low"]) else "–"),
                             "overlaps best": "yes" if r["near"] else ""})
    shown = [parameter_label(p, labels) for p in parameters]
    frame = pd.DataFrame(rows)
    tbl = table(frame, numeric=["point", *shown, "runs", "mean", "95% CI"],
                formats={p: (lambda v: tick_labels([v])[0]) for p in shown}) if rows else ""
    n_points = runs["point_id"].nunique()
    n_reps = runs.groupby("point_id").size().max() if len(runs) else 0
    name = meta.get("name", folder.name)
    sections = [Section(f"{design.replace('_', ' ')} design: {n_points} points × up to {n_reps} replications",
                        charts=charts, notes=notes),
                Section("Mean and 95% confidence interval per point, best first", html=tbl,
                        notes=["Up to 40 points of each of the first 12 metrics, best mean first (lowest, or highest for "
                               "first stop day, exports and approvals); 'overlaps best': the point's interval overlaps the "
                               "best point's. The runs table has everything."] if rows else ["Nothing to tabulate."])]
    meta_line = [("sweep", str(name)), ("design", design), ("parameters", ", ".join(shown) or "none"), ("runs", str(len(runs))),
                 ("folder", str(folder))]
    if meta.get("scenario_file"):
        meta_line.insert(1, ("scenario", str(meta["scenario_file"])))
    return _write(folder / REPORT_NAME, page(f"resim sweep report: {name}", [meta_line], sections))
