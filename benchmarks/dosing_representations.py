"""Would another drug representation make a denosumab interval cheap?  (issue 15: denosumab arm <= 3x control)

Same interval as ``dosing_steps.py`` (human chronic view, reference state, 60 mg SC, 182.5 days, BDF order
<= 3, rtol 1e-6, one output row per CVODE step), integrated with the shipped model and with three changes a
cheaper representation could make:

* **scaled absolute tolerances**: every state gets ``atol_i = f * max(|x_ref,i|, s_i)`` (``x_ref`` the
  reference state, ``s_i`` a scale for states that are 0 there: 3 pM for drug and complex concentrations,
  1 pmol for depots), so that a state far below its own scale (free sRANKL under the drug, a decayed
  depot) is held to an absolute, not a relative, error.  libRoadRunner's default scales the scalar
  tolerance by each state's value when the integration starts, i.e. every state is relative-controlled.
* **log-transformed antibody PK**: the depot ``Ab_sc``, the central ``Dg`` and the peripheral ``Ab_per``
  become ``z = ln(1 + y/c)`` with rate rules ``z' = y'/(y + c)`` and ``y := c (exp(z) - 1)``, so that their
  exponential phases are straight lines for the BDF formula (``c`` = 1 pM or pmol, the floor below which
  the error is absolute; ``z`` is held to ``f`` absolutely, a relative error ``f`` on ``y``).
* **both**, and both with every other state at ``atol`` 1e-3 (which gives up accuracy: a floor that shows
  what the physiology's own response to the injection costs).

Each row reports the CVODE steps per time window and the largest relative difference of free sRANKL, the
drug, plasma glucose, nuclear NF-kB and beta-cell mass at the interval's end against an rtol 1e-10,
order-5 run of the shipped model.  Step counts do not depend on the machine's load.

Run:  python benchmarks/dosing_representations.py [--out results/dosing_representations.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dosing_steps import INTERVAL_DAYS, _dose_pmol, _windows, step_rows  # noqa: E402

from ranklsim.models.build import MODEL_ID, build_antimony, compile_sbml  # noqa: E402
from ranklsim.models.ids import V  # noqa: E402
from ranklsim.simulate.simulator import load_model  # noqa: E402

#: the antibody PK states and their log-transform floors c (pmol for the depot, pM otherwise)
LOG_STATES = {V.Ab_sc: 1.0, V.Dg: 1.0, V.Ab_per: 1.0}
#: absolute-tolerance scale of states that are 0 at the reference (pM concentrations, pmol or umol amounts)
ZERO_SCALES = {V.Dg: 3.0, V.LD: 3.0, V.Ab_per: 3.0, V.OFc: 3.0, V.LOFc: 3.0, V.Ofc_per: 3.0}
READOUTS = (V.L, V.Dg, V.G, V.NFkBn, V.beta)


def _log_antimony(species: str = "human") -> str:
    """The shipped Antimony with the antibody PK states as z = ln(1 + y/c)."""
    text = build_antimony(species)
    rules = {V.Ab_sc: "-ab_ka*Ab_sc", V.Ab_per: "ab_Q/ab_Vp*(Dg - Ab_per)", V.Dg: "ab_abs - ab_out - v_LD"}
    for sid, rhs in rules.items():
        old = f"{sid}' = {rhs};"
        if old not in text:
            raise RuntimeError(f"rate rule of {sid} not found: {old}")
        c = LOG_STATES[sid]
        text = text.replace(
            old, f"z_{sid}' = ({rhs})/({sid} + {c!r}); {sid} := {c!r}*(exp(z_{sid}) - 1); z_{sid} = 0;"
        )
        text = re.sub(
            rf"^\s+{sid} = [-+0-9.eE]+;\n", "", text, flags=re.M
        )  # initial value: now an assignment
    return text


def _runner(log: bool):
    if not log:
        return load_model("human", "chronic")._rr
    import antimony

    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(_log_antimony()) < 0:
        raise RuntimeError(antimony.getLastError())
    return compile_sbml(antimony.getSBMLString(MODEL_ID))


def _state_ids(rr) -> list[str]:
    return [rr.model.getStateVectorId(i) for i in range(len(rr.integrator.getAbsoluteToleranceVector()))]


def run(rr, x0: dict[str, float], log: bool, atol: dict[str, float], rtol: float = 1e-6, order: int = 3):
    """Rows (time, READOUTS) at every CVODE step of one dosed interval from ``x0``."""
    dose = _dose_pmol()
    if log:  # the log model's PK states are assignments of z_*; the dose goes into the depot's z
        start = {k: v for k, v in x0.items() if k not in LOG_STATES}
        at_zero = {f"z_{V.Ab_sc}": float(np.log1p(dose / LOG_STATES[V.Ab_sc]))}
    else:
        start, at_zero = x0, {V.Ab_sc: dose}
    rows, _ = step_rows(rr, start, at_zero, order, rtol, atol, selections=("time", *READOUTS))
    return rows


def study(factors: list[float]) -> dict:
    model = load_model("human", "chronic")
    model.steady_state({})
    x0 = {s: model._rr[s] for s in model.state_ids}  # benchmarks look under the hood: the relaxed state
    shipped = model._rr
    reference = run(shipped, x0, False, {}, rtol=1e-10, order=5)[-1, 1:]
    logged = _runner(True)
    rows = []

    def record(label: str, rr, log: bool, atol: dict[str, float]) -> None:
        out = run(rr, x0, log, atol)
        err = np.abs(out[-1, 1:] - reference) / np.abs(reference)
        rows.append(
            {
                "variant": label,
                "steps": len(out) - 1,
                "steps_by_window": _windows(out[:, 0]),
                "max_rel_error_end": float(err.max()),
                "worst": READOUTS[int(np.argmax(err))],
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    def scaled(rr, f: float, loose: float | None = None) -> dict[str, float]:
        tol = {}
        for sid in _state_ids(rr):
            if sid.startswith("z_"):
                tol[sid] = f
            elif loose is not None:
                tol[sid] = loose
            else:
                tol[sid] = f * max(abs(x0.get(sid, 0.0)), ZERO_SCALES.get(sid, 1e-2 if x0.get(sid) else 1.0))
        return tol

    record("shipped", shipped, False, {})
    for f in factors:
        record(f"scaled atol, f = {f:g}", shipped, False, scaled(shipped, f))
        record(
            f"log PK, z atol = {f:g}", logged, True, {s: f for s in _state_ids(logged) if s.startswith("z_")}
        )
        record(f"log PK + scaled atol, f = {f:g}", logged, True, scaled(logged, f))
    record(
        "log PK (z atol 1e-3) + every other state atol 1e-3 (accuracy given up)",
        logged,
        True,
        scaled(logged, 1e-3, loose=1e-3),
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "interval_days": INTERVAL_DAYS,
        "dose_pmol": _dose_pmol(),
        "rows": rows,
    }


def markdown(res: dict) -> str:
    windows = list(res["rows"][0]["steps_by_window"])
    lines = [
        "| variant | steps | " + " | ".join(windows) + " | max. rel. error at day 182.5 (worst) |",
        "|---|---|" + "---|" * len(windows) + "---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['variant']} | {r['steps']} | "
            + " | ".join(str(v) for v in r["steps_by_window"].values())
            + f" | {r['max_rel_error_end']:.1e} ({r['worst']}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="1e-8,1e-6,1e-4")
    ap.add_argument("--out", default=str(HERE / "results" / "dosing_representations.json"))
    args = ap.parse_args(argv)
    res = study([float(x) for x in args.factors.split(",")])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
