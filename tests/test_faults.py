"""Faults a real user causes, on the real command line (issue 14, items 5-7):

* two ``ranklsim cohort`` runs into one ``--out`` at the same instant: one runs, the other is refused
  (exit 2, one line); other settings in a folder are refused, naming them;
* a torn and an empty chunk are recomputed (with a warning naming each), a chunk of other settings
  is refused naming the file; the resumed people equal the uninterrupted run's;
* SIGKILL / SIGTERM of a running ``ranklsim cohort`` leaves no worker process alive, and the same
  command then resumes to the same ``people.csv``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ranklsim.cli import main
from ranklsim.cohort import PopulationSpec, run_cohort
from ranklsim.errors import UsageError
from ranklsim.rundir import LOCK_NAME, ResumeWarning, write_checked

CLI = [sys.executable, "-c", "import sys; from ranklsim.cli import main; sys.exit(main(sys.argv[1:]))"]
needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds child processes in /proc")


def cohort_argv(out: Path, *, n: int, seed: int = 1, years: float = 15, chunk: int = 20, workers: int = 1) -> list:
    return ["cohort", "--n", str(n), "--years", str(years), "--seed", str(seed), "--chunk-size", str(chunk),
            "--workers", str(workers), "--quiet", "--out", str(out)]


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()  # state, ppid, ...
    except (FileNotFoundError, ProcessLookupError):
        return None


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and int(st[1]) == pid and st[0] != "Z":
                out.append(int(entry))
    return out


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if (st := _stat(p)) is not None and st[0] != "Z"]


def _wait_for_chunks(proc: subprocess.Popen, folder: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and len(list(folder.glob("chunk_*.csv"))) < count:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be interrupted"


# ----------------------------------------------------------------------------- one writer per folder


@pytest.mark.slow
def test_two_runs_into_one_folder_at_once_one_is_refused(tmp_path):
    for attempt in range(3):
        out = tmp_path / f"race{attempt}"
        procs = [subprocess.Popen([*CLI, *cohort_argv(out, n=40)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
        assert sorted(r[0] for r in results) == [0, 2], results
        _, _, err = next(r for r in results if r[0] == 2)
        assert err.strip().count("\n") == 0 and "Traceback" not in err
        assert f"{out} is in use by another ranklsim run (pid " in err
        assert len(pd.read_csv(out / "people.csv")) == 40 and not (out / LOCK_NAME).exists()
    code = main(cohort_argv(out, n=40, seed=2))  # the finished folder, other settings
    assert code == 2


def test_other_settings_in_a_folder_are_refused_naming_them(tmp_path, capsys):
    out = tmp_path / "run"
    run_cohort(PopulationSpec(n=40, seed=1), years=15, out_dir=out, chunk_size=20, max_chunks=0)
    assert main(cohort_argv(out, n=40, seed=2)) == 2
    err = capsys.readouterr().err
    assert "different settings: spec.seed: folder 1, this run 2" in err and err.count("\n") == 1
    assert main(cohort_argv(out, n=40, seed=1, years=10)) == 2
    assert "years: folder 15.0, this run 10.0" in capsys.readouterr().err
    with pytest.raises(UsageError, match="chunk_size: folder 20, this run 10"):
        run_cohort(PopulationSpec(n=40, seed=1), years=15, out_dir=out, chunk_size=10)


class _Quadratic:
    """A tiny objective for run_multistart: 0.5 |x - 0.3|^2 on [-1, 1]^2."""

    parameter_ids = ("a", "b")
    scales = ("lin", "lin")
    lower, upper = (-1.0, -1.0), (1.0, 1.0)

    def residuals(self, x):
        return [float(v) - 0.3 for v in x]

    def __call__(self, x):
        return 0.5 * sum(r * r for r in self.residuals(x))


HOLD = "import sys, time\nfrom ranklsim.rundir import folder_lock\nwith folder_lock(sys.argv[1]):\n" \
       "    print('held', flush=True)\n    time.sleep(60)\n"


def test_library_runs_refuse_a_folder_another_process_writes(tmp_path):
    from ranklsim.fitting.multistart import run_multistart  # lazy: scipy, only this test

    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=rf"in use by another ranklsim run \(pid {holder.pid}\)"):
            run_cohort(PopulationSpec(n=5, seed=1), years=5, out_dir=tmp_path, chunk_size=5)
        with pytest.raises(UsageError, match="in use"):
            run_multistart(_Quadratic(), 2, out_dir=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "run.json").exists() and not (tmp_path / "starts.csv").exists()
    res = run_multistart(_Quadratic(), 3, seed=1, out_dir=tmp_path)  # the dead holder's lock is gone
    assert sorted(pd.read_csv(tmp_path / "starts.csv")["start_id"]) == [0, 1, 2] and res.best_fval < 1e-12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "starts.csv"]  # no lock, no temp file


# ----------------------------------------------------------------------------- resume checks what it reuses


def test_torn_and_empty_chunks_are_recomputed_foreign_ones_refused(tmp_path):
    spec, out = PopulationSpec(n=45, seed=5), tmp_path / "run"
    full = run_cohort(spec, years=10, out_dir=out, chunk_size=15)
    chunks = sorted((out / "chunks").glob("chunk_*.csv"))
    assert len(chunks) == 3
    intact = chunks[2].stat().st_mtime_ns
    chunks[0].write_bytes(chunks[0].read_bytes()[: chunks[0].stat().st_size // 2])  # cut mid-line
    chunks[1].write_bytes(b"")
    with pytest.warns(ResumeWarning) as caught:
        resumed = run_cohort(spec, years=10, out_dir=out, chunk_size=15)
    messages = " | ".join(str(w.message) for w in caught)
    assert str(chunks[0]) in messages and "checksum" in messages
    assert str(chunks[1]) in messages and "empty" in messages
    assert resumed.chunks_reused == 1 and resumed.chunks_computed == 2 and chunks[2].stat().st_mtime_ns == intact
    assert resumed.people["person_id"].tolist() == list(range(45))
    pd.testing.assert_frame_equal(resumed.people, full.people, check_exact=True)
    # a whole chunk of another run's settings is not silently mixed in
    write_checked(chunks[2], b"person_id\n30\n", "0123456789abcdef", 1)
    with pytest.raises(UsageError, match=rf"{chunks[2]}: written by a run with other settings"):
        run_cohort(spec, years=10, out_dir=out, chunk_size=15)


# ----------------------------------------------------------------------------- worker lifecycle


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """people.csv of an uninterrupted run of the interrupted command below."""
    out = tmp_path_factory.mktemp("faults") / "reference"
    assert main(cohort_argv(out, n=200, seed=6, years=10, workers=2)) == 0
    return (out / "people.csv").read_text()


def _interrupt(tmp_path: Path, sig: int) -> tuple[subprocess.Popen, Path, list[int], str]:
    out = tmp_path / "run"
    argv = cohort_argv(out, n=200, seed=6, years=10, workers=2)
    proc = subprocess.Popen([*CLI, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_chunks(proc, out / "chunks", 1)
    kids = children(proc.pid)
    assert len(kids) >= 2, f"expected the pool's workers among the children, got {kids}"
    proc.send_signal(sig)
    err = proc.communicate(timeout=30)[1]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(kids):
        time.sleep(0.1)
    assert not alive(kids), f"worker processes {alive(kids)} outlived their parent by 10 s"
    return proc, out, argv, err


@pytest.mark.slow
@needs_proc
def test_sigkill_leaves_no_worker_and_resume_gives_the_same_people(tmp_path, reference):
    proc, out, argv, _ = _interrupt(tmp_path, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "people.csv").exists() and 1 <= len(list((out / "chunks").glob("chunk_*.csv"))) < 10
    assert main(argv) == 0
    assert (out / "people.csv").read_text() == reference


@pytest.mark.slow
@needs_proc
def test_sigterm_exits_cleanly_and_resume_gives_the_same_people(tmp_path, reference):
    proc, out, argv, err = _interrupt(tmp_path, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "ranklsim: interrupted (SIGTERM)" in err and "rerun" in err
    assert not (out / LOCK_NAME).exists()  # released and removed on the way out
    assert main(argv) == 0
    assert (out / "people.csv").read_text() == reference
