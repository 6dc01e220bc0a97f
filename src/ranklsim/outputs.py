"""Output paths of the command line, checked before any work is done.

* :func:`check_output_file`: ``--out`` names a file the command writes (``simulate``, ``export-sbml``,
  ``params``).  It must not be a folder; an existing file is refused unless ``force`` (``--force``).
* :func:`check_output_folder`: ``--out`` names a folder the command writes several files into
  (``run``, ``demo``, ``fit``, ``profile``, ``sample``, ``gsa``, ``cohort``, ``replicates``).  It must
  not be a file; an existing folder is fine (a rerun overwrites or resumes, as each command documents).

Both check that the nearest existing parent is a folder (``a-file.csv/out`` is refused) and that it
can be written in (a probe file that leaves nothing behind), so ``PermissionError``,
``FileExistsError``, ``IsADirectoryError``, ``NotADirectoryError`` and ``FileNotFoundError`` become
one :class:`~ranklsim.errors.UsageError` naming the option, the path and what to do, before any
simulation runs.  Nothing is created.  :func:`os_error_message` is the one-line text of an
``OSError`` that still happens later (a disk that fills up).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ranklsim.errors import UsageError

__all__ = ["check_output_file", "check_output_folder", "os_error_message"]


def os_error_message(exc: OSError) -> str:
    """``PATH: reason`` (or the error's text) in one line."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return f"{exc.filename}{target}: {reason}"
    return reason


def _exists(path: Path, option: str, shown: str) -> bool:
    try:
        return path.exists() or path.is_symlink()
    except OSError as exc:  # e.g. a parent that cannot be searched
        raise UsageError(f"{option} {shown}: cannot check the path ({os_error_message(exc)})") from None


def _writable_parent(path: Path, option: str, shown: str) -> None:
    """The nearest existing ancestor of ``path`` is a folder one can create files in."""
    parent = path.parent
    while not _exists(parent, option, shown):
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {shown}: {parent} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {shown}: cannot write in {parent} ({exc.strerror or exc}); "
                         "choose another place") from None


def _resolved(path: str | os.PathLike, option: str) -> tuple[Path, str]:
    shown = os.fspath(path)
    if not shown.strip():
        raise UsageError(f"{option}: empty path")
    if "\0" in shown:
        raise UsageError(f"{option}: the path contains a NUL character")
    return Path(shown).expanduser().absolute(), shown


def check_output_file(path: str | os.PathLike, *, force: bool = False, option: str = "--out",
                      example: str = "out.csv") -> Path:
    """Check that the command may write the file ``path``; returns it as a :class:`~pathlib.Path`.

    Refused: a folder (or a path ending in ``/``), an existing file without ``force``, a file or
    a parent that cannot be written.  ``example`` is the file name suggested inside a folder.
    """
    p, shown = _resolved(path, option)
    if p.is_dir() or shown.endswith(("/", os.sep)):
        raise UsageError(f"{option} {shown} is a folder; give a file name (e.g. {Path(shown) / example})")
    if _exists(p, option, shown):
        if not force:
            raise UsageError(f"{option} {shown} already exists; add --force to overwrite it")
        try:
            with open(p, "ab"):
                pass
        except OSError as exc:
            raise UsageError(f"{option} {shown}: cannot overwrite it ({exc.strerror or exc})") from None
        return Path(shown)
    _writable_parent(p, option, shown)
    return Path(shown)


def check_output_folder(path: str | os.PathLike, *, option: str = "--out") -> Path:
    """Check that the command may write into the folder ``path`` (created later if missing);
    returns it as a :class:`~pathlib.Path`.  Refused: a file, a parent that is a file, a place
    that cannot be written."""
    p, shown = _resolved(path, option)
    if _exists(p, option, shown) and not p.is_dir():
        raise UsageError(f"{option} {shown} is a file; give a folder (the command writes several files "
                         "into it)")
    _writable_parent(p / "probe", option, shown)
    return Path(shown)
