"""Chunk files of a cohort run folder: ``out_dir/chunks[/<arm>]/chunk_XXXXX.csv``, each a checked
header (settings hash, rows, SHA-256; :func:`~ranklsim.rundir.write_checked`) and the CSV, and the
folder's ``run.json`` (see :mod:`ranklsim.cohort.runner` for the resume rules)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.errors import UsageError
from ranklsim.rundir import (
    CheckedFileError,
    ResumeWarning,
    check_run_record,
    read_checked,
    remove_temp_files,
    write_checked,
)

#: (chunk id, arm name or None): where a chunk's people are stored and how results are ordered
ChunkKey = tuple[int, str | None]


def as_bool(value) -> bool | None:
    """True/False from a bool, 0/1 or the CSV strings; None for a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return bool(value)


def chunk_path(out_dir: Path, key: ChunkKey) -> Path:
    chunk_id, arm = key
    folder = out_dir / "chunks" if arm is None else out_dir / "chunks" / arm
    return folder / f"chunk_{chunk_id:05d}.csv"


def _read_chunk(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"error": "object"})


def roundtrip(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as it reads back from CSV, so in-memory, written and resumed runs agree exactly."""
    return _read_chunk(io.StringIO(frame.to_csv(index=False)))


def write_chunk(path: Path, frame: pd.DataFrame, digest: str) -> None:
    write_checked(path, frame.to_csv(index=False).encode(), digest, len(frame))


def load_chunk(path: Path, digest: str, person_ids: list[int]) -> pd.DataFrame | None:
    """The chunk at ``path`` if it is whole and holds exactly the task's people; None (with a
    warning) if it must be recomputed; UsageError naming it if another run's settings wrote it."""
    try:
        body, rows = read_checked(path, digest)
        frame = _read_chunk(io.BytesIO(body))
        if len(frame) != rows or frame["person_id"].tolist() != person_ids:
            raise CheckedFileError(path, f"{len(frame)} rows, expected the chunk's {len(person_ids)} people")
    except (ValueError, KeyError) as exc:  # a CheckedFileError, or pandas' ParserError (a ValueError)
        if getattr(exc, "foreign", False):
            raise UsageError(f"{exc}; use a new --out folder or delete the file") from None
        text = str(exc) if isinstance(exc, CheckedFileError) else f"{path}: unreadable ({exc!r})"
        warnings.warn(f"{text}; recomputing the chunk", ResumeWarning, stacklevel=4)
        return None
    return frame


def check_run_folder(out_dir: Path, meta: dict, arms: tuple[str, ...] = ()) -> None:
    """Refuse a folder holding another run's settings (naming them); record ours in a new folder."""

    def arms_note(old: dict) -> str:
        names = [a["name"] for a in old.get("arms") or []] or ["control only, no arms"]
        return "" if old.get("arms") == meta.get("arms") else f" (different arms: the folder has {', '.join(names)})"

    check_run_record(out_dir / "run.json", meta, "cohort run", ("settings_hash", "spec_digest"), arms_note)
    for folder in (out_dir / "chunks", *(out_dir / "chunks" / arm for arm in arms)):
        folder.mkdir(parents=True, exist_ok=True)
        remove_temp_files(folder)
