"""The CVODE settings a person's follow-up tries, in order (:func:`ranklsim.cohort.followup.simulate_plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ranklsim.simulate.solver import MAX_BDF_ORDER

__all__ = ["DOSING_ATTEMPT", "ORDER3_STEP_BUDGET", "SOLVER_ATTEMPTS", "SolverAttempt"]


@dataclass(frozen=True)
class SolverAttempt:
    """One CVODE setting tried for a person (see :data:`SOLVER_ATTEMPTS`)."""

    rtol: float  #: relative tolerance
    atol: float  #: absolute tolerance
    max_steps: int  #: maximum internal steps per output interval
    grid_days: float | None  #: output grid in days, or None for the examination times only
    max_order: int = 5  #: maximum BDF order

    def output_times(self, times: Sequence[float]) -> list[float]:
        """``times`` plus this attempt's output grid (the grid restarts CVODE's step budget)."""
        if self.grid_days is None:
            return list(times)
        return sorted({*times, *(float(t) for t in np.arange(0.0, times[-1], self.grid_days))})


#: solver attempts, in order; the attempt used is recorded per person (``solver_attempt``).
#:
#: The first attempt caps CVODE's BDF order at 3.  At order 5 (CVODE's default) about 7 % of people
#: (those whose hepatic NF-kB module has weakly damped eigenvalues close to the imaginary axis) are
#: *stability*-limited: the solver takes ~37,000 steps per simulated year whatever the tolerance
#: (1e-5 to 1e-7 all the same), chattering around the steady state with a ~1.7 h period and a relative
#: amplitude of 1e-5 -- the step count is the BDF-5 stability limit (its A(alpha) sector is 51 deg;
#: BDF-3's is 86 deg), not the dynamics.  Capped at order 3 these people cost ~10 ms like everyone else,
#: and the mean cost per person falls 3x (31.9 -> 10.8 ms on 1,000 people, benchmarks/README.md).
#: Outcomes are unchanged: on 1,000 + 300 people (seeds 11 and 7) no diagnosis flips and baseline
#: to 15-year fasting glucose moves by at most 1.5e-4 mmol/L against the order-5 rtol 1e-7 runs.
#: The quarterly output grid restarts CVODE's step budget every 91 days.
#: Since 2026-12-06 the chronic view itself uses this cap (``simulate.solver.MAX_BDF_ORDER``, from which
#: the first attempt takes it).
#:
#: Order 3 is not enough for everyone: where the hepatic IKK drive is far below the reference (a woman
#: with a low inflammatory input whose hepatocyte RANK is then blocked) the NF-kB module's eigenvalues
#: come closer still to the imaginary axis, outside BDF-3's 86 deg sector too, and the same chatter
#: returns (seed 1, person 91 of 100, RANK-blockade arm: 3.6 s at order 3 against 43 ms at order 2, BDF-2
#: being A-stable; final states equal to 1e-8).  So the first attempt has a step budget,
#: :data:`ORDER3_STEP_BUDGET` per quarterly output interval, that a chattering run exhausts within a
#: few tens of milliseconds, and the second attempt is order 2.  Measured 2026-12-06 on 300 people of
#: seed 1: the control arm never needs the second attempt (at a budget of 1,000 steps 13 of 300 would),
#: the RANK-blockade arm 3 of 300, and that arm's cost fell from 47 to 15 ms per person (the control
#: arm's is 7 ms); BDF-2 for everyone would cost 1.9x on the control arm.  The third attempt is order 5
#: at rtol 1e-7; the last two loosen the tolerances and refine the grid.
ORDER3_STEP_BUDGET = 3000
SOLVER_ATTEMPTS = (SolverAttempt(1e-6, 1e-12, ORDER3_STEP_BUDGET, 91.25, MAX_BDF_ORDER["chronic"]),
                   SolverAttempt(1e-6, 1e-12, 20000, 91.25, 2),
                   SolverAttempt(1e-7, 1e-12, 20000, 91.25, 5),
                   SolverAttempt(1e-6, 1e-10, 20000, 30.0, 5), SolverAttempt(1e-5, 1e-8, 100000, 30.0, 5))
#: a further attempt for runs with intervention events (``extra_events``): the loose attempts can
#: fail with corrector-convergence errors right after a large dose is added to a depot (seen for
#: denosumab in people whose burn-in already needs the fallbacks); tight relative and absolute
#: tolerances with a large step budget pass.  Not used without ``extra_events``, so control runs
#: are unchanged.
DOSING_ATTEMPT = SolverAttempt(1e-6, 1e-12, 100000, 91.25, 5)
