"""Writers never follow links planted in an output folder, and signals end a command cleanly.

The signal tests run the real command line in its own process group and send it real signals;
every wait is bounded and fails only on a hang (no test depends on how fast the machine is)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from simulator import safe_write
from simulator.cli import main
from simulator.sweep.store import ResultStore, _atomic_write

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny.yaml"
LICENSING = ROOT / "scenarios" / "licensing_2025.yaml"
HANG = 120  # seconds: only a hung process takes this long


def _victim(tmp_path: Path, name: str = "victim") -> tuple[Path, bytes]:
    path = tmp_path / name
    data = f"{name}: the test's own file, which no writer may touch\n".encode()
    path.write_bytes(data)
    return path, data


def _plant(link: Path, target: Path) -> None:
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    elif os.path.lexists(link):
        link.unlink()
    link.symlink_to(target)


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


# --- 1. writers replace planted links ---------------------------------------------------------

def test_resim_report_replaces_planted_links_and_leaves_their_targets(tmp_path):
    run = tmp_path / "run"
    assert main(["run", str(TINY), "--no-report", "--quiet", "--out", str(run)]) == 0
    victim, data = _victim(tmp_path)
    png_victim, png_data = _victim(tmp_path, "png_victim")
    _plant(run / "report.html", victim)
    _plant(run / "production.png", png_victim)
    _plant(run / ".report.html.tmp", victim)  # the fixed temporary name of older versions
    done = subprocess.run([sys.executable, "-m", "simulator", "report", str(run)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert victim.read_bytes() == data and png_victim.read_bytes() == png_data
    assert _regular(run / "report.html") and _regular(run / "production.png")
    assert "<html" in (run / "report.html").read_text(encoding="utf-8")
    assert (run / "production.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in run.iterdir() if p.name.startswith(".") and p.name != ".report.html.tmp"]


def test_compare_and_sweep_outputs_replace_planted_links(tmp_path):
    run = tmp_path / "run"
    assert main(["run", str(TINY), "--no-report", "--quiet", "--out", str(run)]) == 0
    victim, data = _victim(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    cmp_ = tmp_path / "cmp"
    assert main(["compare", str(run), str(run), "--out", str(cmp_)]) == 0
    _plant(cmp_ / "report.html", victim)  # then the comparison is built again
    _plant(cmp_ / "compare_production.png", victim)
    assert main(["compare", str(run), str(run), "--out", str(cmp_)]) == 0
    assert _regular(cmp_ / "report.html") and _regular(cmp_ / "compare_production.png")

    reps = tmp_path / "reps"
    args = ["run", str(TINY), "--workers", "1", "--quiet", "--out", str(reps)]
    assert main([*args, "--replications", "2", "--keep-runs", "1"]) == 0
    for name in ("summary.csv", "points.csv", "shortages.csv", "report.html", "cover.png"):
        _plant(reps / name, victim)  # written again by the next call (shortages.csv: copied from a replication)
    _plant(reps / "runs", elsewhere)  # where the new runs' part files go
    assert main([*args, "--replications", "3", "--keep-runs", "2"]) == 0
    for name in ("summary.csv", "points.csv", "shortages.csv", "report.html", "cover.png"):
        assert _regular(reps / name), name
    assert not (reps / "runs").is_symlink()
    assert len(pd.read_parquet(reps / "runs.parquet") if (reps / "runs.parquet").exists()
               else pd.read_csv(reps / "runs.csv")) == 3

    assert victim.read_bytes() == data and not any(elsewhere.iterdir())


def test_safe_write_helpers_never_write_through_a_link(tmp_path):
    victim, data = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.txt", "b.bin", "c.csv", "d.csv", "e.csv"):
        _plant(out / name, victim)
    safe_write.write_text(out / "a.txt", "text\n")
    with safe_write.replacing(out / "b.bin", "wb") as handle:
        handle.write(b"\x00\x01")
    _atomic_write(out / "c.csv", lambda p: pd.DataFrame({"x": [1]}).to_csv(p, index=False))  # the sweep store's
    safe_write.copy_file(out / "a.txt", out / "d.csv")
    with pytest.raises(ZeroDivisionError):  # a failed write leaves the link and no temporary file
        with safe_write.replacing(out / "e.csv") as handle:
            handle.write("partial")
            1 / 0
    assert victim.read_bytes() == data
    assert (out / "a.txt").read_text() == "text\n" and (out / "b.bin").read_bytes() == b"\x00\x01"
    assert (out / "c.csv").read_text() == "x\n1\n" and (out / "d.csv").read_text() == "text\n"
    assert all(_regular(out / n) for n in ("a.txt", "b.bin", "c.csv", "d.csv")) and (out / "e.csv").is_symlink()
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.bin", "c.csv", "d.csv", "e.csv"]
    mode = (out / "a.txt").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # as a plain open() makes it

    store = ResultStore(tmp_path / "sweep", parquet=False)
    (tmp_path / "sweep").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _plant(store.parts, elsewhere)
    row = {"point_id": 0, "replication": 0, "seed": 1, "parameters": {}, "metrics": {"m": 1.0},
           "wall_seconds": 0.1, "error": None}
    store.append([row])
    assert not any(elsewhere.iterdir()) and not store.parts.is_symlink()
    assert len(store.compact()) == 1 and _regular(store.table_path) and not any(elsewhere.iterdir())


# --- 2. temporary folders of killed runs -------------------------------------------------------

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=HANG)
    return proc.pid


def _temp_folder(parent: Path, name: str, mark: dict | None) -> Path:
    folder = parent / name
    folder.mkdir()
    (folder / "data.csv").write_text("x\n")
    if mark is not None:
        (folder / safe_write.MARKER).write_text(json.dumps(mark))
    return folder


def test_only_stale_temporary_folders_of_resim_are_removed(tmp_path):
    here = socket.gethostname()
    mark = {"resim": "temporary run folder", "started": None, "host": here}
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        stale = _temp_folder(tmp_path, ".run.abcd1234", {**mark, "pid": _dead_pid()})
        keep = [
            _temp_folder(tmp_path, ".live.abcd1234", {**mark, "pid": sleeper.pid}),  # its process runs
            _temp_folder(tmp_path, ".mine.abcd1234", {**mark, "pid": os.getpid()}),
            _temp_folder(tmp_path, ".other.abcd1234", {**mark, "pid": _dead_pid(), "host": here + "-other"}),
            _temp_folder(tmp_path, ".nomark.abcd1234", None),
            _temp_folder(tmp_path, ".name.too-long-for-mkdtemp", {**mark, "pid": _dead_pid()}),
            _temp_folder(tmp_path, "visible.abcd1234", {**mark, "pid": _dead_pid()}),
            _temp_folder(tmp_path, ".foreign.abcd1234", {"pid": _dead_pid(), "host": here}),
        ]
        target = _temp_folder(tmp_path, "target", {**mark, "pid": _dead_pid()})
        _plant(tmp_path / ".linked.abcd1234", target)  # a link to a marked folder: not ours to follow
        assert safe_write.remove_stale_temp_dirs(tmp_path) == [stale]
        assert not stale.exists() and all(f.is_dir() for f in keep) and (target / "data.csv").exists()
        assert (tmp_path / ".linked.abcd1234").is_symlink()
    finally:
        sleeper.kill()
        sleeper.wait(timeout=HANG)


# --- 3. signals, with real processes --------------------------------------------------------------

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists() or not hasattr(os, "killpg"),
                                reason="needs Linux /proc and process groups")


def _state(pid: int) -> str | None:
    """The process's state letter, None if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _wait_until(condition, proc: subprocess.Popen, what: str):
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the run ended (code {proc.returncode}) before {what}: {proc.stderr.read()}")
        time.sleep(0.02)
    pytest.fail(f"no {what} within {HANG} s")


def _expect_workers() -> bool:
    return (os.cpu_count() or 1) >= 2 and "fork" in mp.get_all_start_methods()


def _start_report_phase(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    """``python -m simulator run licensing_2025 --out <tmp>/x``, once it is drawing its report:
    (the process, its drawing workers)."""
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "run", str(LICENSING), "--out", str(tmp_path / "x")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, as `timeout` makes one

    def temp_with_manifest():  # the run's files are written; the report is being drawn
        return [p for p in tmp_path.glob(".x.*") if (p / "manifest.json").exists()]

    _wait_until(temp_with_manifest, proc, "temporary folder")
    workers = _wait_until(lambda: len(_children(proc.pid)) >= 2 and _children(proc.pid), proc,
                          "drawing workers") if _expect_workers() else []
    return proc, workers


def _reap(proc: subprocess.Popen) -> None:
    """End whatever is left of the test's process group (only on failure is there any)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=HANG)


def _assert_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + HANG
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [p for p in pids if _alive(p)], "drawing workers outlived the run"


@needs_proc
@pytest.mark.parametrize("sig, times, code", [(signal.SIGINT, 2, 130), (signal.SIGTERM, 1, 143), (signal.SIGTERM, 2, 143)],
                         ids=["sigint-twice", "sigterm", "sigterm-twice"])
def test_signals_during_the_report_end_the_run_cleanly(tmp_path, sig, times, code):
    proc, workers = _start_report_phase(tmp_path)
    try:
        for _ in range(times):
            os.killpg(proc.pid, sig)  # to the whole group, as `timeout -s INT` and Ctrl-C send it
        _, err = proc.communicate(timeout=HANG)
        assert proc.returncode == code
        assert err.strip().splitlines() == ["interrupted; no results written"], err
        _assert_gone(workers)
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # no results folder, no temporary folder
    finally:
        _reap(proc)


@needs_proc
def test_a_third_sigint_to_the_parent_alone_leaves_no_worker(tmp_path):
    proc, workers = _start_report_phase(tmp_path)
    try:
        for _ in range(3):
            os.kill(proc.pid, signal.SIGINT)  # the workers get nothing: the parent must end them
        proc.communicate(timeout=HANG)
        assert proc.returncode == 130
        _assert_gone(workers)
        assert list(tmp_path.iterdir()) == []
    finally:
        _reap(proc)


@needs_proc
def test_sigkill_leaves_a_temporary_folder_that_the_next_run_removes(tmp_path):
    proc, workers = _start_report_phase(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers must die with it
        proc.wait(timeout=HANG)
        (stale,) = tmp_path.glob(".x.*")
        if sys.platform.startswith("linux"):
            _assert_gone(workers)
    finally:
        _reap(proc)
    unrelated = tmp_path / ".unrelated.abcd1234"
    unrelated.mkdir()
    assert main(["run", str(TINY), "--no-report", "--quiet", "--out", str(tmp_path / "y")]) == 0
    assert not stale.exists() and unrelated.is_dir() and (tmp_path / "y" / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".unrelated.abcd1234", "y"]


def test_cleanup_is_shielded_and_main_restores_the_handlers(tmp_path):
    from simulator import interrupts

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(KeyboardInterrupt):
        with interrupts.shielded():
            os.kill(os.getpid(), signal.SIGINT)  # deferred: the block runs to its end
            for _ in range(1000):
                (tmp_path / "done").write_text("yes")  # Python code in which the handler would run
        pytest.fail("the deferred SIGINT was not sent again after the block")
    assert (tmp_path / "done").read_text() == "yes"
    assert main(["validate", str(TINY)]) == 0
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before


def _interrupted_by(sig):
    """A stand-in for cli._main that sends this process ``sig`` and runs Python code until the
    handler interrupts it."""
    def interrupted(_argv):
        os.kill(os.getpid(), sig)
        for _ in range(100_000):  # the handler raises KeyboardInterrupt in here
            pass
        raise AssertionError(f"{signal.Signals(sig).name} was not handled")

    return interrupted


def test_main_interrupted_in_process_gives_ctrl_c_back(monkeypatch, capsys):
    """main() called from Python (a notebook) and interrupted by SIGINT returns 130 after its
    cleanup, and Ctrl-C works again afterwards: the handlers in place before the call come back
    (they used to stay ignored, for a process assumed to be ending)."""
    import simulator.cli as cli
    from simulator import interrupts

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    monkeypatch.setattr(cli, "_main", _interrupted_by(signal.SIGINT))
    assert cli.main(["run"]) == 130
    assert "interrupted; no results written" in capsys.readouterr().err
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before
    interrupts.check()  # the signal is over: a later run in this process is not interrupted by it
    with pytest.raises(KeyboardInterrupt):  # and Ctrl-C interrupts again
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100_000):
            pass


def test_the_command_keeps_signals_ignored_after_an_interrupt(monkeypatch, capsys):
    """`resim` (cli.command: a process that ends with main) interrupted by SIGTERM returns 143,
    and SIGINT and SIGTERM stay ignored afterwards: a second signal arriving late, while the
    interpreter shuts down (joining threads, flushing), neither prints a traceback nor ends the
    process by the signal instead of its exit code. An uninterrupted command restores them."""
    import simulator.cli as cli

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    try:
        monkeypatch.setattr(cli, "_main", _interrupted_by(signal.SIGTERM))
        assert cli.command() == 143
        assert "interrupted; no results written" in capsys.readouterr().err
        assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == {
            signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN}
        os.kill(os.getpid(), signal.SIGTERM)  # a late second signal: ignored
        for s, handler in before.items():
            signal.signal(s, handler)
        monkeypatch.setattr(cli, "_main", lambda _argv: 0)
        assert cli.command() == 0
        assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
