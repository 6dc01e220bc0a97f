"""Calibration of the population's HOMA-IR distribution to Bruneck, with the fitting tools.

The compensated-insulin-resistance trait ``ir_comp`` (docs/model.md sections 5 and 18) multiplies
fasting insulin, and so HOMA-IR, exactly and leaves glucose unchanged.  A person's baseline HOMA-IR
under any ``(ir_comp_median, ir_comp_log_sd)`` is therefore ``homa_ir0 / ir_comp * ir_comp_new``:
one simulated cohort gives the objective for every candidate without re-simulation, and the
calibration is an ordinary least-squares problem solved by
:func:`ranklsim.fitting.multistart.run_multistart` (the :class:`HomaObjective` follows the fitting
subpackage's ``ObjectiveLike`` protocol).

Targets (:data:`HOMA_TARGETS`; log scale, each with the SD used as its weight):

* the top-quintile cut-off of HOMA-IR in the reference group (nonobese, no impaired fasting
  glucose; :func:`~ranklsim.cohort.analysis.homa_reference_group`) = 2.77 (Bonora 1998
  Diabetes 47:1643; SD 0.05 on the log scale, the sampling error of a quintile of 225 people);
* the SD of log HOMA-IR among people without diabetes = 0.5 (the IQRs 1.1-2.1 and 1.7-3.5 of US
  primary-care adults give 0.48 and 0.53, docs/data-sources.md s8; SD 0.05).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ranklsim.cohort.analysis import BRUNECK_HOMA_IR_CUTOFF, HOMA_COLUMN, homa_reference_group, is_false
from ranklsim.cohort.population import PopulationSpec, ir_comp_values
from ranklsim.fitting.multistart import MultistartResult, run_multistart
from ranklsim.models.ids import P


@dataclass(frozen=True)
class HomaTarget:
    """One calibration target: ``value`` with ``sd`` (both on the scale of ``statistic``)."""

    statistic: str
    value: float
    sd: float
    source: str


HOMA_TARGETS = (
    HomaTarget("log_reference_p80", math.log(BRUNECK_HOMA_IR_CUTOFF), 0.05,
               "Bonora 1998 Diabetes 47:1643: lower limit of the top HOMA-IR quintile, 225 nonobese "
               "Bruneck people without metabolic disorder"),
    HomaTarget("log_sd", 0.5, 0.05,
               "US primary care, nondiabetic (docs/data-sources.md s8): IQRs 1.1-2.1 and 1.7-3.5"),
)
#: the spec fields fitted, on log10 scale, with bounds
PARAMETERS = {"ir_comp_median": (0.5, 8.0), "ir_comp_log_sd": (0.05, 1.5)}


class HomaObjective:
    """Negative log-likelihood of the HOMA targets as a function of the ``ir_comp`` distribution.

    ``people``: a followed control cohort (population columns merged, as in
    :attr:`~ranklsim.cohort.runner.CohortResult.people`) generated from ``spec``.
    """

    parameter_ids = tuple(PARAMETERS)
    scales = ("log10", "log10")

    def __init__(self, people: pd.DataFrame, spec: PopulationSpec, targets=HOMA_TARGETS) -> None:
        need = {HOMA_COLUMN, P.ir_comp, "bmi", "z_comp", "fpg_y0", "baseline_diabetes", "error"}
        if missing := sorted(need - set(people.columns)):
            raise ValueError(f"people frame lacks columns {missing} (run_cohort output expected)")
        ok = people["error"].isna()
        if "arm" in people:
            ok &= people["arm"] == "control"
        data = people.loc[ok]
        if len(data) < 50:
            raise ValueError(f"need at least 50 simulated people, got {len(data)}")
        self.spec = spec
        self.targets = tuple(targets)
        self._homa1 = (data[HOMA_COLUMN] / data[P.ir_comp]).to_numpy(float)
        self._bmi = data["bmi"].to_numpy(float)
        self._z = data["z_comp"].to_numpy(float)
        self._nd = is_false(data["baseline_diabetes"]).to_numpy()
        self._ref = homa_reference_group(data).to_numpy(dtype=bool)
        self.lower = np.log10([b[0] for b in PARAMETERS.values()])
        self.upper = np.log10([b[1] for b in PARAMETERS.values()])
        self.x_nominal = np.log10([getattr(spec, k) for k in PARAMETERS])

    def to_parameters(self, x: np.ndarray) -> dict[str, float]:
        return {k: float(10.0 ** v) for k, v in zip(self.parameter_ids, np.asarray(x, float), strict=True)}

    def homa(self, x: np.ndarray) -> np.ndarray:
        """Baseline HOMA-IR of every person under the ``ir_comp`` distribution ``x``."""
        p = self.to_parameters(x)
        return self._homa1 * ir_comp_values(self.spec, self._bmi, self._z, p["ir_comp_median"], p["ir_comp_log_sd"])

    def statistics(self, x: np.ndarray) -> dict[str, float]:
        h = self.homa(x)
        return {"log_reference_p80": float(np.log(np.quantile(h[self._ref], 0.8))),
                "log_sd": float(np.log(h[self._nd]).std(ddof=1))}

    def residuals(self, x: np.ndarray) -> np.ndarray:
        s = self.statistics(x)
        return np.array([(s[t.statistic] - t.value) / t.sd for t in self.targets])

    def __call__(self, x: np.ndarray) -> float:
        r = self.residuals(x)
        return float(0.5 * np.sum(r**2) + sum(math.log(math.sqrt(2 * math.pi) * t.sd) for t in self.targets))


def calibrate_homa(people: pd.DataFrame, spec: PopulationSpec, targets=HOMA_TARGETS, n_starts: int = 4,
                   seed: int = 0) -> tuple[PopulationSpec, HomaObjective, MultistartResult]:
    """Fit ``ir_comp_median`` and ``ir_comp_log_sd`` to ``targets`` by multistart least squares;
    returns ``(calibrated spec, objective, multistart result)``."""
    obj = HomaObjective(people, spec, targets)
    res = run_multistart(obj, n_starts, seed=seed, x0=obj.x_nominal, progress=False)
    best = obj.to_parameters(res.best_x)
    return replace(spec, **{k: round(v, 4) for k, v in best.items()}), obj, res
