"""Virtual cohort: seeded population, chronic follow-up, Bruneck analysis, arms, ensembles, replicates.

    from ranklsim.cohort import PopulationSpec, run_cohort, summary
    result = run_cohort(PopulationSpec(n=844, seed=1), years=15)
    summary(result)["odds_ratio_top_vs_bottom"]
"""

from __future__ import annotations

from ranklsim.cohort.analysis import summary
from ranklsim.cohort.ensemble import cohort_ensemble
from ranklsim.cohort.followup import follow_person
from ranklsim.cohort.population import PopulationSpec, generate_population
from ranklsim.cohort.replicates import ReplicateStudy, run_replicates
from ranklsim.cohort.runner import CohortResult, run_cohort

__all__ = ["CohortResult", "PopulationSpec", "ReplicateStudy", "cohort_ensemble", "follow_person",
           "generate_population", "run_cohort", "run_replicates", "summary"]
