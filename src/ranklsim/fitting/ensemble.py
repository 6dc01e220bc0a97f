"""Parameter ensembles (from posterior samples or profiles) and prediction bands."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ranklsim.fitting.profile import ProfileResult
from ranklsim.fitting.sampling import SamplingResult
from ranklsim.fitting.types import to_linear
from ranklsim.parallel import Engine, SerialEngine

RunFn = Callable[[dict[str, float]], pd.DataFrame]


def parameter_ensemble_from_samples(sampling_result: SamplingResult, n: int, *, burn: int | None = None,
                                    thin: int | None = None, seed: int = 0) -> pd.DataFrame:
    """``n`` posterior draws (without replacement when possible), linear scale, columns = parameter ids."""
    s = sampling_result.samples(burn=burn, thin=thin)
    if s.empty:
        raise ValueError("no samples left after burn-in/thinning")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(s), size=n, replace=n > len(s))
    return s.iloc[idx].reset_index(drop=True)


def parameter_ensemble_from_profiles(profile_results: Sequence[ProfileResult],
                                     best_params: Mapping[str, float]) -> pd.DataFrame:
    """Best fit plus every profile point with delta nll <= threshold (linear scale).

    Columns: the keys of ``best_params`` (values not estimated in the profiles are copied from it)
    followed by any further profiled parameter ids.
    """
    rows = [dict(best_params)]
    for p in profile_results:
        keep = np.isfinite(p.delta) & (p.delta <= p.threshold)
        lin = to_linear(p.xs[keep], p.scales)
        rows.extend({**best_params, **dict(zip(p.parameter_ids, map(float, r), strict=True))} for r in lin)
    df = pd.DataFrame(rows)
    return df.drop_duplicates().reset_index(drop=True)


def _member_task(run: RunFn, params: dict[str, float]) -> pd.DataFrame:
    out = run(params)
    if not isinstance(out, pd.DataFrame) or "value" not in out.columns:
        raise TypeError("run(params) must return a DataFrame with a 'value' column")
    return out


def summarise_members(data: pd.DataFrame, quantiles: tuple[float, float] = (0.025, 0.975),
                      member_column: str = "_member") -> pd.DataFrame:
    """Bands over ensemble members: per combination of the identifying columns (all but ``value``
    and ``member_column``) the ``median``, ``q2.5``/``q97.5`` (names follow ``quantiles``) and ``n``
    (members with a finite value)."""
    keys = [c for c in data.columns if c not in ("value", member_column)]
    lo_name, hi_name = (f"q{100 * q:g}" for q in quantiles)
    values = pd.to_numeric(data["value"], errors="coerce")
    g = values.groupby([data[k] for k in keys], dropna=False, sort=False) if keys else values.groupby(lambda _: 0)
    return pd.DataFrame({
        "median": g.median(), lo_name: g.quantile(quantiles[0]), hi_name: g.quantile(quantiles[1]),
        "n": g.count(),
    }).reset_index(drop=not keys)


def predict_with_ensemble(ensemble: pd.DataFrame, run: RunFn, *, engine: Engine | None = None,
                          quantiles: tuple[float, float] = (0.025, 0.975)) -> pd.DataFrame:
    """Run every member and summarise ``value`` per identifying column combination.

    Output: identifying columns + ``median``, ``q2.5``, ``q97.5`` (names follow ``quantiles``) and ``n``
    (members with a finite value). Failed members are counted in ``attrs['n_failed']`` (and warned),
    messages in ``attrs['failures']``. With a process/Dask engine ``run`` must be picklable.
    """
    members = [{k: float(v) for k, v in row.items()} for row in ensemble.to_dict("records")]
    frames: list[pd.DataFrame] = []
    failures: dict[int, str] = {}
    for i, out in (engine or SerialEngine()).map(_member_task, members, run):
        if isinstance(out, Exception):
            failures[i] = f"{type(out).__name__}: {out}"
        else:
            frames.append(out.assign(_member=i))
    if not frames:
        raise RuntimeError(f"all {len(members)} ensemble members failed; first: {next(iter(failures.values()), '')}")
    if failures:
        warnings.warn(f"{len(failures)} of {len(members)} ensemble members failed", stacklevel=2)
    pred = summarise_members(pd.concat(frames, ignore_index=True), quantiles)
    pred.attrs["n_members"] = len(members)
    pred.attrs["n_failed"] = len(failures)
    pred.attrs["failures"] = failures
    return pred

