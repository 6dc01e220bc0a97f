"""Run folders: one writer per output folder, atomic files, settings hashes and clean interrupts.

* :func:`folder_lock` holds ``OUT/.ranklsim.lock`` (``fcntl.flock``) for the life of a run: a second
  writer (another process, or another thread of this one) is refused at once with a
  :class:`~ranklsim.errors.UsageError` naming the holder's pid.  The operating system drops the lock
  when the holder dies, even by SIGKILL, so a crashed run never leaves a stale lock; a clean exit
  also removes the file.  Nested use in one thread (a command that locks its folder and then calls a
  library function that locks it again) is re-entrant.
* :func:`atomic_write_bytes` / :func:`atomic_write_text`: temp file in the same folder, fsync,
  ``os.replace``: a reader sees the old file or the whole new one, never a torn one.
* :func:`settings_hash` / :func:`settings_diff`: a short digest of a run's settings and the dotted
  names of the settings that differ between two runs.
* :func:`write_checked` / :func:`read_checked`: a file with a one-line header recording the run's
  settings hash, its row count and the SHA-256 of the body; reading re-checks all three.
* :func:`interruptible` turns SIGTERM into :class:`Interrupted` (a ``KeyboardInterrupt``) so that the
  ``finally`` blocks of a long command run (workers stopped, lock released); :func:`plain_warnings`
  prints warnings as one ``ranklsim: warning: ...`` line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ranklsim.errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no advisory locks, folders are not guarded
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".ranklsim.lock"
HEADER_PREFIX = b"# ranklsim "
_HEADER = re.compile(rb"# ranklsim settings=(\w+) rows=(\d+) sha256=([0-9a-f]{64})")


class ResumeWarning(UserWarning):
    """A file of an earlier run was unusable and is being recomputed."""


class CheckedFileError(ValueError):
    """A checked file is torn, empty or unreadable (``foreign`` False) or from other settings (True)."""

    def __init__(self, path: Path, reason: str, foreign: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.foreign = path, reason, foreign


# ----------------------------------------------------------------------------- the folder lock


@dataclass
class _Held:
    fd: int
    path: Path
    thread: int
    count: int = 1


_HELD: dict[str, _Held] = {}
_GUARD = threading.Lock()


def _in_use(folder: Path, holder: str) -> UsageError:
    return UsageError(f"{folder} is in use by another ranklsim run ({holder}); wait for it to finish "
                      "or choose another --out folder")


def _holder_of(fd: int) -> str:
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return f"pid {text}" if text.isdigit() else "pid unknown"


def _acquire(folder: Path) -> tuple[int, Path]:
    path = folder / LOCK_NAME
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_of(fd)
            os.close(fd)
            raise _in_use(folder, holder) from None
        try:  # the previous holder may have removed the file after we opened it: lock the new one
            st, now = os.fstat(fd), os.stat(path)
            same = (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd, path
        os.close(fd)
    raise _in_use(folder, "the lock file keeps changing")  # pragma: no cover


def _release(held: _Held) -> None:
    with contextlib.suppress(OSError):
        os.unlink(held.path)  # while still locked: nobody can hold a lock on the removed file
    os.close(held.fd)


@contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the output folder ``folder`` (created if needed) for one writer; yields its path.

    Raises :class:`~ranklsim.errors.UsageError` at once if another process (or another thread of
    this process) holds it.  Re-entrant within one thread.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield folder
        return
    key = os.path.realpath(folder)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None and held.thread != threading.get_ident():
            raise _in_use(folder, f"pid {os.getpid()}, another thread")
        if held is not None:
            held.count += 1
        else:
            held = _HELD[key] = _Held(*_acquire(folder), thread=threading.get_ident())
    try:
        yield folder
    finally:
        with _GUARD:
            held.count -= 1
            if held.count == 0:
                del _HELD[key]
                _release(held)


# ----------------------------------------------------------------------------- atomic and checked files


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode())


def remove_temp_files(folder: str | Path) -> None:
    """Remove the temp files a killed writer left in ``folder`` (call while holding its lock)."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A 16-hex-digit digest of ``settings`` (JSON with sorted keys)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit - 3] + "..."


def settings_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``"name: folder OLD, this run NEW"`` for each (dotted) setting that differs, sorted by name."""
    a, b = _flat(old), _flat(new)
    missing = "(not set)"
    return [f"{k}: folder {_short(a.get(k, missing))}, this run {_short(b.get(k, missing))}"
            for k in sorted(set(a) | set(b)) if a.get(k, missing) != b.get(k, missing)]


def check_run_record(path: str | Path, settings: Mapping[str, Any], kind: str = "run",
                     ignore: tuple[str, ...] = ("settings_hash",),
                     describe: Callable[[dict], str] | None = None) -> None:
    """Refuse a folder whose record ``path`` (e.g. ``run.json``) holds other ``settings`` (the keys in
    ``ignore`` aside), naming the settings that differ (``describe(old)`` may add a note); write the
    record atomically when there is none.  Call while holding the folder's lock."""
    path = Path(path)
    if not path.exists():
        atomic_write_text(path, json.dumps(settings, indent=2, sort_keys=True))
        return
    try:
        old = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is unreadable ({exc}); use a new --out folder or delete it") from None
    a = {k: v for k, v in old.items() if k not in ignore}
    b = {k: v for k, v in json.loads(json.dumps(settings, default=str)).items() if k not in ignore}
    if a != b:
        note = describe(old) if describe is not None else ""
        raise UsageError(f"{path.parent} holds a {kind} with different settings: {'; '.join(settings_diff(a, b))}"
                         f"{note} ({path}); use a new --out folder or delete it")


def write_checked(path: str | Path, body: bytes, settings: str, rows: int) -> None:
    """Atomically write ``body`` behind a header with the settings hash, ``rows`` and its SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    header = HEADER_PREFIX + f"settings={settings} rows={int(rows)} sha256={digest}\n".encode()
    atomic_write_bytes(path, header + body)


def read_checked(path: str | Path, settings: str) -> tuple[bytes, int]:
    """The body and row count of a file written by :func:`write_checked` with ``settings``.

    Raises :class:`CheckedFileError`: ``foreign`` for a whole file of other settings, otherwise
    for an empty, torn (checksum) or header-less file.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data:
        raise CheckedFileError(path, "empty file")
    head, _, body = data.partition(b"\n")
    match = _HEADER.fullmatch(head)
    if match is None:
        raise CheckedFileError(path, "no ranklsim header (torn, or written by an older version)")
    if hashlib.sha256(body).hexdigest() != match.group(3).decode():
        raise CheckedFileError(path, "checksum mismatch (torn or edited)")
    if match.group(1).decode() != settings:
        raise CheckedFileError(path, f"written by a run with other settings (hash {match.group(1).decode()}, "
                                     f"this run {settings})", foreign=True)
    return body, int(match.group(2))


# ----------------------------------------------------------------------------- interrupts and warnings


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or another signal) delivered while :func:`interruptible` was active."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(exc: KeyboardInterrupt) -> int:
    """The shell's exit code for an interrupt: 128 + the signal number (130 for Ctrl-C)."""
    return 128 + getattr(exc, "signum", signal.SIGINT)


def signal_name(exc: KeyboardInterrupt) -> str:
    return signal.Signals(getattr(exc, "signum", signal.SIGINT)).name


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Interrupted` in the main thread (no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ranklsim: warning: {message}", file=file or sys.stderr)


@contextmanager
def plain_warnings() -> Iterator[None]:
    """Within the block, warnings print as one ``ranklsim: warning: ...`` line (for the CLI)."""
    with warnings.catch_warnings():
        warnings.showwarning = _show
        yield


__all__ = ["LOCK_NAME", "CheckedFileError", "Interrupted", "ResumeWarning", "atomic_write_bytes",
           "atomic_write_text", "check_run_record", "exit_code", "folder_lock", "interruptible", "plain_warnings", "read_checked",
           "remove_temp_files", "settings_diff", "settings_hash", "signal_name", "write_checked"]
