"""Where the CVODE steps of a denosumab dosing interval go (issue 15's denosumab-arm cost).

One 182.5-day interval of the human chronic view, from the reference state, after a 60 mg SC
injection (the cohort arm's dose), is integrated with variable-step output (one row per CVODE
step) at each maximum BDF order and tolerance asked for; the steps are counted per time window.
Baselines in the same process: the same interval without a dose (a restart of the integrator
from rest, which every event costs) and, with ``--no-rank``, the same injection with RANK's
share of the hepatic IKK drive removed (``s_rank = 0``, its own reference state), which tells
whether the hepatic NF-κB response to the falling RANK signal sets the step size.

Step counts do not depend on the machine's load, so the ratios are exact; wall times are shown
for orientation only.  The slowest-damped oscillatory eigenvalues of the finite-difference
Jacobian (of the SBML right-hand side, ``sbml_to_scipy``) are reported at the reference and at
the drug's plateau (day 60), with the sector half-angle of BDF-q's A(alpha)-stability for comparison.

Run:  python benchmarks/dosing_steps.py [--orders 5,4,3,2] [--rtols 1e-6,1e-4] [--out results/dosing_steps.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sbml_to_scipy import ScipyModel  # noqa: E402

from ranklsim.constants import MINUTES_PER_DAY  # noqa: E402
from ranklsim.models.ids import P, V  # noqa: E402
from ranklsim.simulate.catalog import DRUGS  # noqa: E402
from ranklsim.simulate.simulator import load_model  # noqa: E402

#: A(alpha)-stability half-angles of BDF-1 ... BDF-6 (Hairer & Wanner, Solving ODEs II, Table V.2.3)
BDF_ALPHA_DEG = {1: 90.0, 2: 90.0, 3: 86.03, 4: 73.35, 5: 51.84, 6: 17.84}
INTERVAL_DAYS = 182.5
WINDOWS_DAYS = (0.0, 1.0, 5.0, 20.0, 60.0, 120.0, INTERVAL_DAYS)


def _dose_pmol() -> float:
    spec = DRUGS["denosumab"]
    return spec.default_dose * 1e-3 / spec.mw_g_per_mol * 1e12


class Interval:
    """One dosing interval on the chronic view's RoadRunner, restarted from a stored state."""

    def __init__(self, overrides: dict[str, float]) -> None:
        self.model = load_model("human", "chronic")
        self.rr = self.model._rr  # benchmarks look under the hood: variable-step output is a solver setting
        self.overrides = overrides
        self.model.steady_state(overrides)
        self.x0 = {s: self.rr[s] for s in self.model.state_ids}

    def run(
        self,
        order: int,
        rtol: float,
        dose: float,
        end_days: float = INTERVAL_DAYS,
        selections: tuple[str, ...] = ("time",),
    ) -> tuple[np.ndarray, float]:
        start = {**self.overrides, **self.x0}
        return step_rows(
            self.rr,
            start,
            {V.Ab_sc: start[V.Ab_sc] + dose},
            order,
            rtol,
            end_days=end_days,
            selections=selections,
        )


def step_rows(
    rr,
    start: dict[str, float],
    dose: dict[str, float],
    order: int,
    rtol: float,
    atol: dict[str, float] | None = None,
    end_days: float = INTERVAL_DAYS,
    selections: tuple[str, ...] = ("time",),
) -> tuple[np.ndarray, float]:
    """One row per CVODE step of ``rr`` from ``start`` (values set after ``resetAll``) with the ``dose``
    values set at t = 0, at BDF order <= ``order``, ``rtol``, absolute tolerance 1e-12 or the per-state
    ``atol``; and the integration's wall time."""
    rr.resetAll()
    for k, v in start.items():
        rr[k] = v
    integ = rr.integrator
    integ.setValue("maximum_bdf_order", order)
    integ.setValue("relative_tolerance", rtol)
    integ.setValue("absolute_tolerance", 1e-12)  # resets any per-state tolerance set before
    for sid, value in (atol or {}).items():
        integ.setIndividualTolerance(sid, value)
    integ.setValue("variable_step_size", True)
    for k, v in dose.items():
        rr[k] = v
    t0 = time.perf_counter()
    try:
        rows = np.asarray(rr.simulate(0.0, end_days * MINUTES_PER_DAY, selections=list(selections)))
    finally:
        integ.setValue("variable_step_size", False)
    return rows, time.perf_counter() - t0


def _windows(t_min: np.ndarray) -> dict[str, int]:
    edges = np.asarray(WINDOWS_DAYS) * MINUTES_PER_DAY
    counts = np.histogram(t_min[1:], edges)[0]
    return {
        f"{a:g}-{b:g} d": int(c) for a, b, c in zip(WINDOWS_DAYS[:-1], WINDOWS_DAYS[1:], counts, strict=True)
    }


def _slowest_oscillations(interval: Interval, n: int = 2) -> list[dict]:
    rr = interval.rr
    sm = ScipyModel.from_sbml(rr.getCurrentSBML())
    _, params = sm.initial_state()
    for k in params:
        with contextlib.suppress(RuntimeError):  # ids roadrunner does not hold
            params[k] = rr[k]
    y = np.array([rr[k] for k in sm.state_ids])
    rhs = sm.make_rhs(params)
    f0 = np.asarray(rhs(0.0, y))
    jac = np.empty((y.size, y.size))
    for j in range(y.size):
        h = 1e-6 * max(abs(y[j]), 1e-9)
        yp = y.copy()
        yp[j] += h
        jac[:, j] = (np.asarray(rhs(0.0, yp)) - f0) / h
    ev, vec = np.linalg.eig(jac)
    osc = [(e, sm.state_ids[int(np.argmax(abs(vec[:, i])))]) for i, e in enumerate(ev) if e.imag > 1e-9]
    osc.sort(key=lambda p: -p[0].real / p[0].imag)
    return [
        {
            "eigenvalue_per_min": [float(e.real), float(e.imag)],
            "period_min": 2 * math.pi / e.imag,
            "damping_ratio": float(-e.real / abs(e)),
            "angle_deg": math.degrees(math.atan2(e.imag, -e.real)),
            "largest_component": s,
        }
        for e, s in osc[:n]
    ]


def study(orders: list[int], rtols: list[float], no_rank: bool) -> dict:
    dose = _dose_pmol()
    variants = {"default": {}}
    if no_rank:
        variants["no RANK drive (s_rank = 0)"] = {P.s_rank: 0.0}
    out: dict = {"dose_pmol": dose, "interval_days": INTERVAL_DAYS, "runs": [], "eigen": {}}
    for label, overrides in variants.items():
        iv = Interval(overrides)
        if label == "default":
            out["eigen"]["reference"] = _slowest_oscillations(iv)
            iv.run(3, 1e-6, dose, end_days=60.0)
            out["eigen"]["day 60 after the injection"] = _slowest_oscillations(iv)
        for order in orders:
            for rtol in rtols:
                rest, t_rest = iv.run(order, rtol, 0.0)
                dosed, t_dosed = iv.run(order, rtol, dose)
                out["runs"].append(
                    {
                        "variant": label,
                        "max_order": order,
                        "rtol": rtol,
                        "atol": 1e-12,
                        "steps_restart_no_dose": len(rest) - 1,
                        "steps_dosed": len(dosed) - 1,
                        "ratio": (len(dosed) - 1) / max(len(rest) - 1, 1),
                        "steps_by_window": _windows(dosed[:, 0]),
                        "wall_s_restart": t_rest,
                        "wall_s_dosed": t_dosed,
                    }
                )
                print(json.dumps(out["runs"][-1]), flush=True)
    return out


def markdown(res: dict) -> str:
    lines = [
        "| variant | max order | rtol | steps, restart without dose | steps, injection | ratio | "
        + " | ".join(res["runs"][0]["steps_by_window"])
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(res["runs"][0]["steps_by_window"]),
    ]
    for r in res["runs"]:
        lines.append(
            f"| {r['variant']} | {r['max_order']} | {r['rtol']:g} | {r['steps_restart_no_dose']} | "
            f"{r['steps_dosed']} | {r['ratio']:.1f} | "
            + " | ".join(str(v) for v in r["steps_by_window"].values())
            + " |"
        )
    lines += [
        "",
        "| state | slowest-damped oscillation | period | damping ratio | angle from the negative real axis |",
        "|---|---|---|---|---|",
    ]
    for where, modes in res["eigen"].items():
        for m in modes:
            re, im = m["eigenvalue_per_min"]
            lines.append(
                f"| {where} | {re:.3g} ± {im:.3g}i /min ({m['largest_component']}) | "
                f"{m['period_min']:.0f} min | {m['damping_ratio']:.3f} | {m['angle_deg']:.1f}° |"
            )
    lines.append("")
    lines.append(
        "BDF A(alpha) sectors: " + ", ".join(f"order {q}: {a:g}°" for q, a in BDF_ALPHA_DEG.items() if q <= 5)
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", default="5,4,3,2")
    ap.add_argument("--rtols", default="1e-6,1e-4")
    ap.add_argument(
        "--no-rank", action="store_true", help="also run with RANK's share of the IKK drive removed"
    )
    ap.add_argument("--out", default=str(HERE / "results" / "dosing_steps.json"))
    args = ap.parse_args(argv)
    res = study(
        [int(x) for x in args.orders.split(",")], [float(x) for x in args.rtols.split(",")], args.no_rank
    )
    res["stamp"] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
