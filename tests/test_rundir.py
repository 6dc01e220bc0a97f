"""Run folders (:mod:`ranklsim.rundir`): the folder lock, atomic and checked files, settings hashes,
interrupts; and the pool workers' parent-death watch (:mod:`ranklsim.parallel`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ranklsim.errors import UsageError
from ranklsim.rundir import (
    LOCK_NAME,
    CheckedFileError,
    Interrupted,
    atomic_write_text,
    check_run_record,
    exit_code,
    folder_lock,
    interruptible,
    read_checked,
    remove_temp_files,
    settings_diff,
    settings_hash,
    write_checked,
)

HOLD = """
import sys, time
from ranklsim.rundir import folder_lock
with folder_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(folder) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lock_refuses_a_second_process_and_dies_with_its_holder(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(UsageError, match=rf"is in use by another ranklsim run \(pid {proc.pid}\)"), \
                folder_lock(tmp_path):
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (tmp_path / LOCK_NAME).exists()  # left behind by the SIGKILL, but no longer locked
    with folder_lock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert not (tmp_path / LOCK_NAME).exists()  # a clean exit removes it


def test_lock_is_reentrant_in_one_thread_and_refuses_another(tmp_path):
    errors = []

    def other():
        try:
            with folder_lock(tmp_path / "out"):
                pass
        except UsageError as exc:
            errors.append(str(exc))

    with folder_lock(tmp_path / "out"), folder_lock(tmp_path / "out"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1 and "another thread" in errors[0]
    with folder_lock(tmp_path / "out"):  # released after the outer block
        pass


def test_atomic_and_checked_files(tmp_path):
    path = tmp_path / "a.csv"
    atomic_write_text(path, "x\n1\n")
    assert path.read_text() == "x\n1\n" and [p.name for p in tmp_path.iterdir()] == ["a.csv"]
    write_checked(path, b"x\n1\n2\n", "abc", 2)
    assert read_checked(path, "abc") == (b"x\n1\n2\n", 2)
    with pytest.raises(CheckedFileError, match="other settings") as info:
        read_checked(path, "def")
    assert info.value.foreign
    path.write_bytes(path.read_bytes()[:-2])  # torn
    with pytest.raises(CheckedFileError, match="checksum") as info:
        read_checked(path, "abc")
    assert not info.value.foreign
    path.write_bytes(b"")
    with pytest.raises(CheckedFileError, match="empty"):
        read_checked(path, "abc")
    path.write_text("x\n1\n")
    with pytest.raises(CheckedFileError, match="no ranklsim header"):
        read_checked(path, "abc")
    (tmp_path / ".a.csv.123.456.tmp").write_text("partial")
    remove_temp_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_settings_hash_and_record(tmp_path):
    a = {"spec": {"n": 10, "seed": 1}, "years": 15.0}
    assert settings_hash(a) == settings_hash({"years": 15.0, "spec": {"seed": 1, "n": 10}})
    assert settings_hash(a) != settings_hash({**a, "years": 10.0})
    assert settings_diff(a, {"spec": {"n": 10, "seed": 2}, "years": 15.0}) == ["spec.seed: folder 1, this run 2"]
    record = tmp_path / "run.json"
    check_run_record(record, {**a, "settings_hash": "x"})
    assert json.loads(record.read_text())["settings_hash"] == "x"
    check_run_record(record, {**a, "settings_hash": "y"})  # the ignored key may differ
    with pytest.raises(UsageError, match=r"different settings: spec\.seed: folder 1, this run 2"):
        check_run_record(record, {"spec": {"n": 10, "seed": 2}, "years": 15.0})
    record.write_text("{")
    with pytest.raises(UsageError, match="unreadable"):
        check_run_record(record, a)


def test_sigterm_becomes_an_interrupt_in_the_block():
    with pytest.raises(Interrupted) as info, interruptible():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert isinstance(info.value, KeyboardInterrupt) and exit_code(info.value) == 143
    assert exit_code(KeyboardInterrupt()) == 130
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


POOL = """
import os, sys, time
from ranklsim.parallel import ProcessPoolEngine

def task(context, item):
    # one write per line: print() writes the value and the newline separately, so two workers'
    # lines could interleave ("12" "34" "\\n" "\\n"); a short write to a pipe is atomic
    sys.stdout.write(f"{os.getpid()}\\n")
    sys.stdout.flush()
    time.sleep(120)

if __name__ == "__main__":
    for _ in ProcessPoolEngine(2).map(task, range(2)):
        pass
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_pool_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(POOL)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    workers = [int(proc.stdout.readline()) for _ in range(2)]
    assert all(_alive(pid) for pid in workers)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
