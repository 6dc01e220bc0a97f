"""Virtual cohort (issue 5): seeded population, chronic follow-up, Bruneck analysis, arms, ensembles.

    from ranklsim.simulate.cohort import PopulationSpec, run_cohort, summary
    result = run_cohort(PopulationSpec(n=844, seed=1), years=15)
    summary(result)["odds_ratio_top_vs_bottom"]
"""

from __future__ import annotations

from ranklsim.simulate.cohort.analysis import summary
from ranklsim.simulate.cohort.ensemble import cohort_ensemble
from ranklsim.simulate.cohort.followup import follow_person
from ranklsim.simulate.cohort.population import PopulationSpec, generate_population
from ranklsim.simulate.cohort.runner import CohortResult, run_cohort

__all__ = ["CohortResult", "PopulationSpec", "cohort_ensemble", "follow_person", "generate_population", "run_cohort", "summary"]
