"""Parameter uncertainty in cohort predictions: the same virtual people under every member of a
parameter ensemble (e.g. the profile-likelihood or posterior ensembles of :mod:`ranklsim.fitting`).

Each member is one :func:`~ranklsim.simulate.cohort.runner.run_cohort` with the member's values as
``model_overrides`` (same population, same arms), so the spread across members is parameter
uncertainty only; replicate seeds (tools/cohort_replicates.py) give the sampling uncertainty.
A member whose cohort fails as a whole is recorded, not fatal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.fitting.ensemble import summarise_members
from ranklsim.simulate.cohort.analysis import summary
from ranklsim.simulate.cohort.population import PopulationSpec
from ranklsim.simulate.cohort.runner import check_model_overrides, run_cohort

#: per-member readouts of :func:`cohort_ensemble` (long table columns: member, arm, readout, value)
READOUTS = ("cases", "cumulative_incidence", "incidence_per_1000_py", "rr_vs_control")


def _member_rows(i: int, s: dict) -> list[dict]:
    arms = s.get("arms") or {"control": {"cases": s["cases"], "cumulative_incidence": s["cumulative_incidence"],
                                         "per_1000_py": s["incidence_per_1000_py"]}}
    rows = []
    for arm, a in arms.items():
        rr = (a.get("risk_ratio_vs_control") or {}).get("rr")
        values = (a["cases"], a["cumulative_incidence"], a["per_1000_py"], rr)
        rows += [{"member": i, "arm": arm, "readout": k, "value": np.nan if v is None else float(v)}
                 for k, v in zip(READOUTS, values, strict=True)]
    return rows


def cohort_ensemble(ensemble: pd.DataFrame, spec: PopulationSpec, years: float = 15, *, arms=None,
                    engine=None, chunk_size: int = 500, out_dir: str | Path | None = None,
                    quantiles: tuple[float, float] = (0.025, 0.975)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the cohort of ``spec`` under every ensemble member (one row of parameter values each).

    Returns ``(bands, members)``: ``bands`` has per (arm, readout) the median and the ``quantiles``
    over members and ``n`` (members with a value); ``members`` is the long per-member table
    (member, arm, readout, value).  Failed members are listed in ``bands.attrs["failures"]``.
    Every member is validated before any work (unknown ids, bad values, per-person parameters).
    With ``out_dir``, member ``i`` streams its chunks to ``out_dir/member_<i>`` (resumable).
    """
    members = [{k: float(v) for k, v in row.items()} for row in ensemble.to_dict("records")]
    if not members:
        raise ValueError("the ensemble has no members (rows)")
    for i, member in enumerate(members):
        try:
            check_model_overrides(member)
        except ValueError as exc:
            raise ValueError(f"ensemble member {i}: {exc}") from exc
    rows: list[dict] = []
    failures: dict[int, str] = {}
    for i, member in enumerate(members):
        folder = None if out_dir is None else Path(out_dir) / f"member_{i:04d}"
        try:
            result = run_cohort(spec, years=years, engine=engine, out_dir=folder, chunk_size=chunk_size,
                                arms=arms, model_overrides=member)
            if not result.complete:
                raise RuntimeError(f"chunks failed: {sorted(result.failed_chunks)}")
            rows += _member_rows(i, summary(result))
        except Exception as exc:  # noqa: BLE001 - one member's failure is recorded, the rest still run
            failures[i] = f"{type(exc).__name__}: {exc}"
    if not rows:
        raise RuntimeError(f"all {len(members)} ensemble members failed; first: {next(iter(failures.values()))}")
    long = pd.DataFrame(rows)
    bands = summarise_members(long, quantiles, member_column="member")
    bands.attrs["failures"] = failures
    bands.attrs["n_members"] = len(members)
    return bands, long
