"""``benchmarks/peers.py`` runs (a small case set, no optional peers) and its numbers are sane.

The benchmark is run by hand to regenerate the README table; this keeps it from rotting between
runs.  It asserts agreement and that every measured quantity is there, never a wall-clock time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_peers_benchmark_runs_and_agrees(tmp_path):
    out = tmp_path / "peers.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--species", "human",
         "--cases", "acute_ogtt_ev,chronic_hfd", "--simulators", "ranklsim,roadrunner,roadrunner_jit", "--reps", "2",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert set(res["cases"]) == {"human/acute_ogtt_ev", "human/chronic_hfd"}
    for name, row in res["cases"].items():
        assert not row["errors"], (name, row["errors"])
        for plain in ("roadrunner", "roadrunner_jit"):  # libRoadRunner's default JIT and ranklsim's
            diff, worst = row["agree"][plain]
            # the same engine on the same equations: an OGTT as an SBML event (roadrunner) and as a
            # segment boundary (ranklsim) agree far inside the 1e-4 of the interoperability tests
            assert diff < 1e-5, (name, plain, diff, worst)
            assert row["ms"][plain] > 0
        assert row["ms"]["ranklsim"] > 0
        assert 0 < row["python_side_min_ms"] <= row["python_side_ms"]
        assert row["integrator"]["roadrunner_steps"] > 0
    assert "ranklsim outside roadrunner" in proc.stdout
    # the study of the time outside RoadRunner by the preceding call, and the README table from the JSON
    assert set(res["after_study_ms"]) == {f"{a} after {b}" for a in ("reference", "high-fat diet")
                                          for b in ("reference", "high-fat diet")}
    assert all(v > 0 for v in res["after_study_ms"].values())
    table = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--readme", str(out)],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "| human OGTT at 123 min (SBML event) |" in table and "| human 15 y high-fat diet |" in table
    assert "ranklsim - plain, same JIT ms" in table
