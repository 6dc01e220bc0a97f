"""Lifestyle intervention of the cohort (issue 15, item 8): weight loss and physical activity, as in
the diabetes-prevention trials, acting on the person's adiposity and insulin sensitivity.

* **Weight loss** lowers the adiposity trait to the value of the lower BMI (height unchanged, so BMI
  falls by the same fraction as weight), through the population's BMI -> adiposity map
  (:class:`~ranklsim.cohort.population.PopulationSpec` ``bmi_lean``/``bmi_obese``).  The model's
  adiposity state ``A_diet`` follows within weeks (``k_diet``); adiposity then lowers peripheral
  insulin resistance (``si_periph``), the hepatic inflammatory input and the diet gain of hepatic
  RANK signalling (docs/model.md).  Default :data:`WEIGHT_LOSS` 6 %: the Diabetes Prevention
  Program's lifestyle arm lost 5.6 kg on average over 2.8 years (Knowler et al. 2002, NEJM 346:393)
  at a mean BMI of 34 (~94 kg); its goal was 7 %, which 49 % met at 24 weeks and 37 % at the end
  (DPP Research Group 2004, Obes Res 12:1426).  Sustained for the whole follow-up (assumed; weight
  was partly regained in the trials, so later years are optimistic).
* **Activity** raises insulin sensitivity with compensated secretion: the person's ``ir_comp`` is
  divided by ``1 + gain`` (fasting insulin falls by that factor, glucose is unchanged by
  construction: docs/model.md Section 5).  Default :data:`INSULIN_SENSITIVITY_GAIN` 0.16: supervised
  exercise in healthy adults, meta-analysis of 115 samples: standardised effect 0.38, equivalent to
  fasting insulin 6.8 vs 7.9 mU/L (Conn et al. 2014, J Prim Care Community Health 5:211); the effect
  fades within 2-3 days of stopping (Ross 2003, Diabetes Care 26:944), so it lasts while the
  activity does (here: the whole follow-up).

Both act from baseline as parameter values of the person (the arm's ``baseline_values``), so the
examinations' OGTTs see them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ranklsim.cohort.population import PopulationSpec
from ranklsim.models.ids import P

#: fraction of body weight lost (DPP lifestyle arm, mean 5.6 kg of ~94 kg; Knowler 2002)
WEIGHT_LOSS = 0.06
#: fractional rise of insulin sensitivity from regular activity (Conn 2014: fasting insulin 7.9 -> 6.8 mU/L)
INSULIN_SENSITIVITY_GAIN = 7.9 / 6.8 - 1.0


@dataclass(frozen=True)
class Lifestyle:
    """Weight loss (fraction of body weight) and activity (fractional rise of insulin sensitivity)."""

    weight_loss: float = WEIGHT_LOSS
    insulin_sensitivity_gain: float = INSULIN_SENSITIVITY_GAIN

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight_loss < 0.5:
            raise ValueError(f"weight_loss must be a fraction in [0, 0.5), got {self.weight_loss!r}")
        if not 0.0 <= self.insulin_sensitivity_gain <= 2.0:
            raise ValueError(f"insulin_sensitivity_gain must be in [0, 2], got {self.insulin_sensitivity_gain!r}")

    def adiposity_after(self, adiposity: float, spec: PopulationSpec | None = None) -> float:
        """Adiposity trait after the weight loss (0 stays 0: BMI at or below the lean reference)."""
        spec = spec or PopulationSpec()
        if adiposity <= 0.0:
            return 0.0
        span = spec.bmi_obese - spec.bmi_lean
        bmi = (spec.bmi_lean + adiposity * span) * (1.0 - self.weight_loss)
        return min(max((bmi - spec.bmi_lean) / span, 0.0), 2.0)

    def baseline_values(self, person: Mapping[str, float], defaults: Mapping[str, float]) -> dict[str, float]:
        """The person's adiposity and ``ir_comp`` from baseline on (``defaults``: the model's values of
        the parameters the person does not set)."""
        adiposity = float(person.get(P.adiposity, defaults[P.adiposity]))
        ir_comp = float(person.get(P.ir_comp, defaults[P.ir_comp]))
        return {P.adiposity: self.adiposity_after(adiposity), P.ir_comp: ir_comp / (1.0 + self.insulin_sensitivity_gain)}

    def to_dict(self) -> dict:
        return asdict(self)
