"""Refactoring guard: the demo report, every scenario's readouts and a seed-1 cohort stay identical.

The stored snapshot in ``tests/reference/regression/`` was written by this file
(``python tests/test_regression.py --write``) from the code before a refactoring; a change that is
meant to alter results regenerates it in the same commit and says why.  Everything runs through the
``ranklsim`` command, the interface that survives internal moves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SNAPSHOT = Path(__file__).parent / "reference" / "regression"
COHORT_ARGS = ["--n", "120", "--seed", "1", "--arms", "control,denosumab,metformin", "--workers", "1"]
DEMO_TABLES = ["basal_state.csv", "ogtt_summary.csv", "hepatic_rank_ko_steady_state.csv", "scenario_summary.csv"]
#: relative tolerance: 1e-10 caught a change of the SBML annotations alone (1e-9 in one stiff 15-year cohort
#: person, b308aa5); 1e-8 still catches any change of a model value or of the code path
RTOL = 1e-8


def _ranklsim(*args: str) -> None:
    cmd = [sys.executable, "-c", "from ranklsim.cli import main; main()", *args]
    env = {"MPLBACKEND": "Agg", "PATH": ""} | {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}
    subprocess.run(cmd, check=True, capture_output=True, env=env)


def _timecourse_digest(path: Path) -> pd.DataFrame:
    tc = pd.read_csv(path)
    keys = [c for c in ("arm", "phase", "id", "unit") if c in tc.columns]
    g = tc.groupby(keys, sort=True)
    return pd.DataFrame({"n": g["value"].size(), "sum": g["value"].sum(), "time_sum": g["time"].sum(),
                         "last": g["value"].last()}).reset_index()


def collect(work: Path) -> dict[str, pd.DataFrame | str]:
    """Every compared output, keyed by its snapshot file name."""
    demo, cohort = work / "demo", work / "cohort"
    _ranklsim("demo", "--out", str(demo))
    _ranklsim("cohort", *COHORT_ARGS, "--quiet", "--out", str(cohort))
    out: dict[str, pd.DataFrame | str] = {"demo_report.md": (demo / "report.md").read_text()}
    for name in DEMO_TABLES:
        out[f"demo_{name}"] = pd.read_csv(demo / name)
    for folder in sorted(p for p in (demo / "scenarios").iterdir() if p.is_dir()):
        out[f"scenario_{folder.name}_readouts.csv"] = pd.read_csv(folder / "readouts.csv")
        out[f"scenario_{folder.name}_timecourse_digest.csv"] = _timecourse_digest(folder / "timecourse.csv")
    for tag, folder in (("demo_cohort", demo / "cohort"), ("cohort_seed1", cohort)):
        out[f"{tag}_people.csv"] = pd.read_csv(folder / "people.csv")
        out[f"{tag}_summary.json"] = json.dumps(json.loads((folder / "summary.json").read_text()),
                                                 indent=1, sort_keys=True)
    return out


def write(outputs: dict[str, pd.DataFrame | str]) -> None:
    SNAPSHOT.mkdir(parents=True, exist_ok=True)
    for name, value in outputs.items():
        if isinstance(value, pd.DataFrame):
            value.to_csv(SNAPSHOT / name, index=False, float_format="%.17g")
        else:
            (SNAPSHOT / name).write_text(value)


def _json_close(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _json_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _json_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        assert np.isclose(a, b, rtol=RTOL, atol=0, equal_nan=True), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.slow
def test_outputs_identical_to_snapshot(tmp_path):
    got = collect(tmp_path)
    stored = {p.name for p in SNAPSHOT.iterdir()}
    assert stored == set(got), f"snapshot files differ: {sorted(stored ^ set(got))}"
    for name, value in got.items():
        path = SNAPSHOT / name
        if name.endswith(".csv"):
            want = pd.read_csv(path)
            have = pd.read_csv(pd.io.common.StringIO(value.to_csv(index=False, float_format="%.17g")))
            pd.testing.assert_frame_equal(have, want, check_exact=False, rtol=RTOL, atol=0, obj=name)
        elif name.endswith(".json"):
            _json_close(json.loads(path.read_text()), json.loads(value), name)
        else:
            assert value == path.read_text(), name


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_regression.py --write   (rewrites the stored snapshot)")
    with tempfile.TemporaryDirectory() as tmp:
        write(collect(Path(tmp)))
    print(f"wrote {len(list(SNAPSHOT.iterdir()))} files to {SNAPSHOT}")
