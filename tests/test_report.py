"""Reports: every chart exists and is not blank, the HTML points only at files that exist, text
is escaped, comparisons and sweeps build, and the page renders in a headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml

from simulator import load_scenario, parse_scenario, run
from simulator.report import (ReportError, build_compare_report, build_report, build_run_report, build_sweep_report,
                              headline_rows, load_run)
from simulator.results import write_run

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
RUN_CHARTS = ["timeline.png", "production.png", "cover.png", "flows.png", "lead_times.png", "lead_time_split.png",
              "licensing.png"]


def _write_tiny(target: Path, seed: int = 1, overrides: tuple[str, ...] = ()) -> Path:
    scenario = load_scenario(DATA / "tiny.yaml", list(overrides)) if overrides else load_scenario(DATA / "tiny.yaml")
    result = run(scenario, seed=seed)
    folder = write_run(result, out=target)
    if not (folder / "production_daily.csv").exists():  # older results writers: derive it from the model
        raise AssertionError("write_run no longer writes production_daily.csv")
    return folder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    folder = _write_tiny(tmp_path_factory.mktemp("run") / "tiny")
    build_run_report(folder)
    return folder


def assert_not_blank(png: Path) -> None:
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 300, png
    rgb = img[..., :3]
    ink = (rgb < 0.9).any(axis=2).mean()
    assert ink > 0.01, f"{png.name}: only {ink:.2%} of pixels are not white"
    packed = (rgb[::2, ::2].reshape(-1, 3) * 255).astype(np.uint32) @ np.array([65536, 256, 1], dtype=np.uint32)
    colours = len(np.unique(packed))
    assert colours > 8, f"{png.name}: only {colours} colours"


def referenced(html_path: Path) -> list[str]:
    text = html_path.read_text(encoding="utf-8")
    return re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", text)


def assert_refs_exist(html_path: Path) -> list[str]:
    refs = referenced(html_path)
    for ref in refs:
        assert not re.match(r"^[a-z]+:|^/", ref), f"not a relative reference: {ref}"
        assert (html_path.parent / ref).is_file(), f"{html_path.name} references missing {ref}"
    return refs


# ------------------------------------------------------------------------------------- run report


def test_run_report_has_every_chart_and_they_are_not_blank(tiny_run):
    html = tiny_run / "report.html"
    refs = assert_refs_exist(html)
    for name in RUN_CHARTS:
        assert name in refs, f"{name} not in the report"
        assert_not_blank(tiny_run / name)


def test_run_report_headline_in_plain_words(tiny_run):
    text = (tiny_run / "report.html").read_text(encoding="utf-8")
    shortages = pd.read_csv(tiny_run / "shortages.csv", keep_default_na=False).set_index("facility")
    de = shortages.loc["de_ev"]
    assert de["first_stop"], "the tiny scenario is expected to stop de_ev"
    sentence = next(r["sentence"] for r in headline_rows(load_run(tiny_run)) if r["facility"] == "de_ev")
    assert sentence.startswith(f"de_ev: first stop {de['first_stop']}, {de['stopped_days']:.0f} days stopped")
    assert f"{100 * de['share_lost']:.1f}% of planned output lost" in sentence
    assert sentence in text
    assert re.search(r"No stoppage, full planned output: [^<]*\bcn_ev\b", text)
    assert "no replication outputs" in text  # fan charts skipped, and the report says so


def test_rebuilding_a_report_is_idempotent(tiny_run):
    before = sorted(p.name for p in tiny_run.iterdir())
    assert build_report(tiny_run) == tiny_run / "report.html"
    assert sorted(p.name for p in tiny_run.iterdir()) == before


def test_text_is_escaped(tiny_run, tmp_path):
    folder = tmp_path / "evil"
    shutil.copytree(tiny_run, folder)
    events = pd.read_csv(folder / "events.csv", keep_default_na=False)
    events.loc[0, "detail"] = "<script>alert('x')</script> & more"
    events.to_csv(folder / "events.csv", index=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["scenario"] = "a<b>&c"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    text = build_run_report(folder).read_text(encoding="utf-8")
    assert "<script>" not in text and "a<b>&c" not in text
    assert "&lt;script&gt;" in text and "a&lt;b&gt;&amp;c" in text


def test_missing_production_file_is_skipped_and_said(tiny_run, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(tiny_run, folder)
    for png in folder.glob("*.png"):
        png.unlink()
    (folder / "production_daily.csv").unlink()
    html = build_run_report(folder)
    refs = assert_refs_exist(html)
    assert "production.png" not in refs and "cover.png" in refs
    assert "production_daily.csv missing" in html.read_text(encoding="utf-8")


def test_not_a_run_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(ReportError) as err:
        build_run_report(tmp_path)
    assert str(err.value) == f"{tmp_path}: not a run folder (no manifest.json)"
    with pytest.raises(ReportError, match="no such folder"):
        build_report(tmp_path / "nope")
    with pytest.raises(ReportError, match="nor a sweep folder"):
        build_report(tmp_path)


def test_fan_charts_with_replications(tiny_run, tmp_path):
    folder = tmp_path / "reps"
    shutil.copytree(tiny_run, folder)
    for seed in (2, 3):
        _write_tiny(folder / "replications" / f"seed{seed}", seed=seed)
    html = build_run_report(folder)
    refs = assert_refs_exist(html)
    for name in ("fan_production.png", "fan_cover.png", "fan_lead_times.png", "fan_flows.png"):
        assert name in refs
        assert_not_blank(folder / name)
    assert "3 replications" in html.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------- comparison


def test_compare_report(tiny_run, tmp_path):
    other = _write_tiny(tmp_path / "b", seed=1, overrides=("controls.cn_licence.approval_probability=0.1",))
    html = build_compare_report([tiny_run, other], tmp_path / "cmp")
    refs = assert_refs_exist(html)
    for name in ("compare_production.png", "compare_cover.png", "compare_flows.png", "compare_lead_times.png",
                 "compare_licensing.png"):
        assert name in refs
        assert_not_blank(html.parent / name)
    text = html.read_text(encoding="utf-8")
    assert "B − A" in text and "de_ev" in text
    with pytest.raises(ReportError, match="at least two"):
        build_compare_report([tiny_run], tmp_path / "cmp1")


# ------------------------------------------------------------------------------------------ sweeps


def _sweep_folder(folder: Path, parameters: dict[str, list], replications: int = 3, design: str = "grid") -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    grid = pd.MultiIndex.from_product(list(parameters.values()), names=list(parameters)).to_frame(index=False) \
        if parameters else pd.DataFrame(index=[0])
    rows = []
    for point_id, point in grid.iterrows():
        x = sum(float(v) for v in point.to_numpy()) if parameters else 0.0
        for rep in range(replications):
            rows.append({"point_id": point_id, "replication": rep, "seed": 100 + rep, **point.to_dict(),
                         "share_lost.de_ev": 0.3 - 0.2 * x + rng.normal(0, 0.02),
                         "stopped_days.de_ev": 40 - 20 * x + rng.normal(0, 2), "licences_applied": 6.0,
                         "wall_seconds": 0.1, "error": None})
    rows[-1]["error"] = "ValueError: boom"
    pd.DataFrame(rows).to_csv(folder / "runs.csv", index=False)
    (folder / "sweep.json").write_text(json.dumps({"name": folder.name, "parameters": list(parameters),
                                                   "design": {"type": design}}))
    return folder


@pytest.mark.parametrize("parameters, chart", [
    ({}, "sweep_distributions.png"),
    ({"controls.cn_licence.approval_probability": [0.2, 0.5, 0.8]}, "sweep_metrics.png"),
    ({"controls.cn_licence.approval_probability": [0.2, 0.5, 0.8], "facilities.de_ev.policy.target_days": [20, 40]},
     "sweep_heatmaps.png"),
])
def test_sweep_report(tmp_path, parameters, chart):
    folder = _sweep_folder(tmp_path / "sw", parameters)
    html = build_report(folder)
    refs = assert_refs_exist(html)
    assert chart in refs
    assert_not_blank(folder / chart)
    text = html.read_text(encoding="utf-8")
    assert "1 of" in text and "runs failed" in text
    assert "licences_applied" in text  # constant: named, not charted


def test_sobol_sweep_report_uses_sensitivity_table(tmp_path):
    folder = _sweep_folder(tmp_path / "sob", {"a": [0.1, 0.9], "b": [1, 2]}, design="sobol")
    pd.DataFrame([{"metric": m, "parameter": p, "S1": s, "S1_low": s - 0.1, "S1_high": s + 0.1, "ST": s + 0.1,
                   "ST_low": s, "ST_high": s + 0.2}
                  for m in ("share_lost.de_ev", "stopped_days.de_ev") for p, s in (("a", 0.6), ("b", 0.2))]) \
        .to_csv(folder / "sensitivity.csv", index=False)
    html = build_sweep_report(folder)
    assert "sweep_sobol.png" in assert_refs_exist(html)
    assert_not_blank(folder / "sweep_sobol.png")


def test_not_a_sweep_folder(tmp_path):
    with pytest.raises(ReportError, match="not a sweep folder"):
        build_sweep_report(tmp_path)


# --------------------------------------------------------------------------------- a large world


def test_large_run_report_limits_panels(tmp_path):
    scenario = ROOT / "scenarios" / "licensing_2025.yaml"
    if not scenario.exists():
        pytest.skip("scenarios/licensing_2025.yaml not present")
    folder = write_run(run(load_scenario(scenario)), out=tmp_path / "lic")
    html = build_run_report(folder)
    refs = assert_refs_exist(html)
    for name in ("production.png", "cover.png", "flows.png", "lead_times.png", "licensing.png"):
        assert name in refs
    img = mpimg.imread(folder / "production.png")
    assert img.shape[0] < 1400  # at most 12 panels (4 rows of 3) per figure


# ---------------------------------------------------------------------------------- in a browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _screenshot(browser: str, html: Path, png: Path, profile: Path) -> np.ndarray:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2000", html.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.is_file(), f"chromium wrote no screenshot: {' '.join(cmd)}"
    return mpimg.imread(png)[..., :3]


def test_report_renders_in_headless_chromium(tiny_run, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary found (Debian package: chromium)")
    shot = _screenshot(browser, tiny_run / "report.html", tmp_path / "with.png", tmp_path / "profile1")
    ink = (shot < 0.9).any(axis=2)
    assert ink.mean() > 0.02, "the page looks blank"
    # the same page without its images: what the images add must show on the screenshot
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tiny_run / "report.html", bare / "report.html")
    without = _screenshot(browser, bare / "report.html", tmp_path / "without.png", tmp_path / "profile2")
    coloured = lambda img: ((img.max(axis=2) - img.min(axis=2)) > 0.25).mean()  # noqa: E731 - saturated pixels
    assert ink.mean() > (without < 0.9).any(axis=2).mean() + 0.02, "images did not render"
    assert coloured(shot) > coloured(without) + 0.002, "no chart colours on the page"


def test_event_markers_are_one_line_collection_per_panel():
    import matplotlib.collections

    from simulator import plots

    events = [plots.TimelineEvent(pd.Timestamp("2025-02-01") + pd.Timedelta(days=10 * i), "impose", "c", "") for i in range(7)]
    tf = plots.time_figure(4, "t", pd.Timestamp("2025-01-01"), pd.Timestamp("2025-12-31"), [("", events)])
    for ax in tf.axes:
        markers = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
        assert len(markers) == 1 and len(markers[0].get_segments()) == 7
        assert ax.get_xlim() == tf.axes[0].get_xlim()  # markers do not move the date range


def test_firms_chart_shows_the_share_of_firms_stopped(tmp_path):
    """A sector of three firms with covers 10, 20, 30 days and supply cut: the chart is drawn,
    and its data say 1/3, 2/3, then all firms below plan (as in tests/test_firms.py)."""
    from simulator.report.firms import firms_stopped

    data = yaml.safe_load((DATA / "tiny.yaml").read_text())
    sector = next(n for n, f in data["facilities"].items() if f["type"] == "sector")
    data["facilities"][sector]["firms"] = {"count": 3, "cover_days": [10, 20, 30]}
    data["facilities"][sector].pop("initial_stock_t", None)
    folder = write_run(run(parse_scenario(yaml.safe_dump(data), "tiny.yaml", {}), seed=1), tmp_path / "firms")
    build_run_report(folder)
    assert "firms.png" in referenced(folder / "report.html")
    assert_not_blank(folder / "firms.png")
    per_day = firms_stopped(pd.read_csv(folder / "production_firms_daily.csv"))
    assert set(per_day["share_stopped"].round(6)) <= {0.0, round(1 / 3, 6), round(2 / 3, 6), 1.0}
    assert (per_day["firms"] == 3).all()


_PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="report.html" style="width:{width}px;height:900px;border:0"></iframe>
<script>
document.getElementById("f").addEventListener("load", () => {{
  const d = document.getElementById("f").contentDocument, root = d.documentElement, imgs = [...d.images];
  document.body.setAttribute("data-probe", JSON.stringify({{scroll: root.scrollWidth, client: root.clientWidth,
    images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    wide: [...d.querySelectorAll("body *")].filter(e => !e.closest(".scroll")
          && e.getBoundingClientRect().right > root.clientWidth + 1).map(e => e.tagName + "." + e.className).slice(0, 5)}}));
}});
</script></body></html>"""


def _layout(browser: str, folder: Path, width: int, profile: Path) -> dict:
    """The report laid out in a frame ``width`` CSS pixels wide: its scroll width, client width,
    images loaded, and the first elements that stick out on the right (outside a scroll box)."""
    probe = folder / f"probe{width}.html"
    probe.write_text(_PROBE.format(width=width), encoding="utf-8")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--allow-file-access-from-files", f"--user-data-dir={profile}",
           "--window-size=1400,900", "--virtual-time-budget=10000", "--dump-dom", probe.resolve().as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False).stdout
    found = re.search(r'data-probe="([^"]*)"', out)
    assert found, f"the page did not load in chromium: {' '.join(cmd)}"
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.mark.parametrize("width", [390, 1366])  # a phone, a laptop
def test_report_fits_a_phone_and_a_desktop_width(tiny_run, tmp_path, width):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary found (Debian package: chromium)")
    folder = tmp_path / "page"
    folder.mkdir()
    for f in [tiny_run / "report.html", *tiny_run.glob("*.png")]:
        shutil.copy(f, folder / f.name)
    got = _layout(browser, folder, width, tmp_path / "profile")
    assert got["scroll"] <= got["client"] and not got["wide"], f"the page overflows at {width} px: {got}"
    assert got["images"] >= len(RUN_CHARTS) and got["loaded"] == got["images"], got
