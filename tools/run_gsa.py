"""Sobol global sensitivity analysis of the human prediabetic subject (ranklsim.fitting.gsa).

    .venv/bin/python tools/run_gsa.py --n-base 128 --workers 2 --out docs/figures

Writes sobol.csv, sobol.png and sobol.json into --out and prints the top parameters per output.
``n_base`` should be a power of 2; the run costs ``n_base * (d + 2)`` scenario evaluations
(d = 10 parameters: 12 * n_base, about 40 ms each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ranklsim.parallel import ProcessPoolEngine, SerialEngine
from ranklsim.fitting.gsa import UNCERTAIN, run_gsa, top_parameters


def _git_commit() -> str:
    """HEAD commit of the repository (with "+dirty" if the model files have local changes)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src/ranklsim/models",
                                "src/ranklsim/simulate"], cwd=root, capture_output=True, text=True, check=False).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.strip() else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-base", type=int, default=128, help="Saltelli base sample size (power of 2)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (1 = serial)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parameters", nargs="+", default=None, choices=list(UNCERTAIN),
                    help="subset of the uncertain parameters (default all)")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    args = ap.parse_args(argv)
    engine = ProcessPoolEngine(args.workers) if args.workers > 1 else SerialEngine()
    engine_name = repr(engine) if args.workers > 1 else "serial"
    df = run_gsa(args.n_base, args.seed, engine=engine, out_dir=args.out, parameters=args.parameters)
    meta_path = args.out / "sobol.json"
    meta = json.loads(meta_path.read_text())
    meta["git_commit"] = _git_commit()
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{df.attrs['n_evaluations']} evaluations in {df.attrs['seconds']:.1f} s "
          f"({engine_name}); failures per output: "
          + ", ".join(f"{o} {int(g.n_failed.iloc[0])}" for o, g in df.groupby("output", sort=False)))
    for out, top in top_parameters(df, 3).items():
        print(f"  {out:24s} " + ", ".join(f"{p} (ST {st:.2f})" for p, st in top))
    print(f"wrote {args.out / 'sobol.csv'}, {args.out / 'sobol.png'}, {args.out / 'sobol.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
