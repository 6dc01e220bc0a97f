"""Parameter uncertainty in cohort predictions: the same virtual people under every member of a
parameter ensemble (e.g. the profile-likelihood or posterior ensembles of :mod:`ranklsim.fitting`).

Each member is one :func:`~ranklsim.cohort.runner.run_cohort` with the member's values as
``model_overrides`` (same population, same arms), so the spread across members is parameter
uncertainty only; replicate seeds (:mod:`ranklsim.cohort.replicates`, ``ranklsim replicates``) give
the sampling uncertainty.
A member whose cohort fails as a whole is recorded, not fatal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.cohort.analysis import summary
from ranklsim.cohort.population import PopulationSpec
from ranklsim.cohort.runner import check_model_overrides, run_cohort
from ranklsim.fitting.ensemble import summarise_members
from ranklsim.fitting.sampling import SamplingResult

#: per-member readouts of :func:`cohort_ensemble` (long table columns: member, arm, readout, value)
READOUTS = ("cases", "cumulative_incidence", "incidence_per_1000_py", "rr_vs_control")


def load_ensemble(path: str | Path, size: int | None = None, seed: int = 0) -> pd.DataFrame:
    """A parameter ensemble for :func:`cohort_ensemble` from ``path``: a CSV file with one member per
    row and parameter ids as columns (e.g. ``samples.csv`` of ``ranklsim sample``), or the output
    folder of ``ranklsim sample`` (its ``chain.npz``/``sampling.json``, burn-in = first quarter).

    ``size``: draw this many members without replacement (seeded); ``None`` keeps every row.
    Raises ``ValueError`` for a missing file, an empty table or non-numeric values; unknown ids are
    rejected later by :func:`cohort_ensemble` (before any simulation).
    """
    path = Path(path)
    table = _read_table(path)
    table = table.drop(columns=[c for c in ("member",) if c in table.columns])
    if table.empty or table.shape[1] == 0:
        raise ValueError(f"the ensemble {path} has no members or no parameter columns")
    bad = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if bad:
        raise ValueError(f"the ensemble {path} has non-numeric columns {bad}")
    if size is not None:
        if size <= 0:
            raise ValueError(f"ensemble size must be > 0, got {size}")
        if size < len(table):
            idx = np.random.default_rng(seed).choice(len(table), size=size, replace=False)
            table = table.iloc[np.sort(idx)]
    return table.reset_index(drop=True)


def _read_table(path: Path) -> pd.DataFrame:
    """The raw ensemble table of a CSV file or a ``ranklsim sample`` folder."""
    if not path.is_dir():
        if not path.exists():
            raise ValueError(f"ensemble file not found: {path}")
        return pd.read_csv(path)
    if (path / "sampling.json").exists():
        res = SamplingResult.load(path)
        return res.samples(burn=res.n_steps // 4)
    if (path / "samples.csv").exists():
        return pd.read_csv(path / "samples.csv")
    raise ValueError(f"{path} holds neither a sampling result (sampling.json) nor samples.csv")


def check_ensemble(ensemble: pd.DataFrame) -> list[dict[str, float]]:
    """The members of ``ensemble`` as validated parameter dicts; an empty ensemble, or a member with an
    unknown id, a bad value or a per-person parameter, raises ``ValueError`` naming the member."""
    members = [{k: float(v) for k, v in row.items()} for row in ensemble.to_dict("records")]
    if not members:
        raise ValueError("the ensemble has no members (rows)")
    for i, member in enumerate(members):
        try:
            check_model_overrides(member)
        except ValueError as exc:
            raise ValueError(f"ensemble member {i}: {exc}") from exc
    return members


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
                    quantiles: tuple[float, float] = (0.025, 0.975),
                    ogtt: bool = False, **design) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the cohort of ``spec`` under every ensemble member (one row of parameter values each).

    Returns ``(bands, members)``: ``bands`` has per (arm, readout) the median and the ``quantiles``
    over members and ``n`` (members with a value); ``members`` is the long per-member table
    (member, arm, readout, value).  Failed members are listed in ``bands.attrs["failures"]``.
    Every member is validated before any work (unknown ids, bad values, per-person parameters).
    With ``out_dir``, member ``i`` streams its chunks to ``out_dir/member_<i>`` (resumable).
    ``design``: further study-design arguments of :func:`~ranklsim.cohort.runner.run_cohort`
    (``exam_years``, ``exam_every``, ``criteria``, ``population``), the same for every member.
    """
    members = check_ensemble(ensemble)
    rows: list[dict] = []
    failures: dict[int, str] = {}
    for i, member in enumerate(members):
        folder = None if out_dir is None else Path(out_dir) / f"member_{i:04d}"
        try:
            result = run_cohort(spec, years=years, engine=engine, out_dir=folder, chunk_size=chunk_size,
                                arms=arms, model_overrides=member, ogtt=ogtt, **design)
            if not result.complete:
                raise RuntimeError(f"chunks failed: {sorted(result.failed_chunks)}")
            rows += _member_rows(i, summary(result))
        except Exception as exc:  # any failure: one member's failure is recorded, the rest still run
            failures[i] = f"{type(exc).__name__}: {exc}"
    if not rows:
        raise RuntimeError(f"all {len(members)} ensemble members failed; first: {next(iter(failures.values()))}")
    long = pd.DataFrame(rows)
    bands = summarise_members(long, quantiles, member_column="member")
    bands.attrs["failures"] = failures
    bands.attrs["n_members"] = len(members)
    return bands, long
