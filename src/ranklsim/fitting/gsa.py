"""Global sensitivity analysis of the human prediabetic virtual subject (Sobol indices).

Ten uncertain human parameters (:data:`UNCERTAIN`, log10-uniform within the parameter table's
bounds) against four outputs of the ``prediabetic`` subject (:data:`OUTPUTS`):

* ``fasting_G`` - fasting plasma glucose at the steady state [mg/dL];
* ``HOMA_IR`` - HOMA-IR at the steady state;
* ``clamp_EGP_suppression`` - suppression of endogenous glucose production by a 1 mU/kg/min
  hyperinsulinaemic-euglycaemic clamp started from the steady state [%];
* ``denosumab_dG`` - fasting glucose 90 days after one 60 mg sc dose of denosumab minus the
  untreated subject on the same day [mg/dL] (negative: denosumab lowers glucose).

One evaluation is one two-arm scenario (untreated, denosumab) of 180 days with tests on day 0
(fasting, clamp) and day 90 (fasting), run by :func:`ranklsim.simulate.runner.run_scenario`
(about 40 ms). The sampled parameters are arm overrides, applied after the subject's own
settings, so a sampled ``u_infl0`` replaces the prediabetic subject's 2x reference value.
A readout that fails (e.g. a clamp that cannot hold glucose) is NaN for that output only and is
counted in ``n_failed`` by :func:`ranklsim.fitting.sensitivity.sobol_indices`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import pandas as pd

from ranklsim.fitting.sensitivity import plot_sobol, sobol_indices
from ranklsim.fitting.types import package_version
from ranklsim.models.ids import P
from ranklsim.models.parameters import parameter_table
from ranklsim.parallel import Engine

SPECIES = "human"
SUBJECT = "prediabetic"
#: uncertain parameters (model ids), in the order they are reported
UNCERTAIN_IDS: tuple[str, ...] = (
    P.f_rank_stim, P.g_rank_diet, P.g_infl_diet, P.u_infl0, P.is_kcat_ser, P.Kd_LR, P.gi_kp3, P.gi_Vmx,
    P.stim_sat, P.k_mem,
)
#: output name -> unit
OUTPUTS: dict[str, str] = {
    "fasting_G": "mg/dL",
    "HOMA_IR": "1",
    "clamp_EGP_suppression": "%",
    "denosumab_dG": "mg/dL",
}
DENOSUMAB_MG = 60.0
EFFECT_DAY = 90.0
DURATION_DAYS = 180.0
CLAMP_INSULIN = 1.0  # mU/kg/min
_CONTROL, _TREATED = "untreated", "denosumab"


def uncertain_bounds(ids: Sequence[str] = UNCERTAIN_IDS, species: str = SPECIES) -> dict[str, tuple[float, float]]:
    """Linear ``(lower, upper)`` per id from the parameter table; a lower bound <= 0 (not usable on a
    log scale) is replaced by nominal / 100, as in the shipped PEtab problems."""
    table = parameter_table(species)
    unknown = [i for i in ids if i not in table]
    if unknown:
        raise KeyError(f"not in the {species} parameter table: {unknown}")
    out = {}
    for pid in ids:
        p = table[pid]
        lo = p.lower if p.lower > 0 else p.value / 100.0
        if not (0 < lo < p.upper):
            raise ValueError(f"{pid}: bounds ({p.lower}, {p.upper}) unusable on a log scale")
        out[pid] = (float(lo), float(p.upper))
    return out


#: id -> linear (lower, upper); all sampled log10-uniformly
UNCERTAIN: dict[str, tuple[float, float]] = uncertain_bounds()


def scenario_text() -> str:
    """TOML of the evaluation scenario (no parameter overrides)."""
    return f'''
name = "gsa-prediabetic"
description = "GSA evaluation: prediabetic subject, untreated vs one {DENOSUMAB_MG:g} mg sc denosumab dose"
species = "{SPECIES}"
duration_days = {DURATION_DAYS!r}
output_every_days = {DURATION_DAYS!r}

[[tests]]
kind = "fasting"
day = 0.0

[[tests]]
kind = "clamp"
day = 0.0
insulin_mU_per_kg_per_min = {CLAMP_INSULIN!r}

[[tests]]
kind = "fasting"
day = {EFFECT_DAY!r}

[[arms]]
name = "{_CONTROL}"
subject = "{SUBJECT}"

[[arms]]
name = "{_TREATED}"
subject = "{SUBJECT}"
treatments = [{{ drug = "denosumab", dose = {DENOSUMAB_MG!r}, unit = "mg", route = "sc" }}]
'''


@cache
def _base_scenario():
    from ranklsim.simulate.scenario import loads_scenario  # lazy: pydantic schema import

    return loads_scenario(scenario_text(), "gsa scenario")


def _with_overrides(scenario, params: Mapping[str, float]):
    arms = tuple(a.model_copy(update={"overrides": {**a.overrides, **params}}) for a in scenario.arms)
    return scenario.model_copy(update={"arms": arms})


def _readout(readouts: pd.DataFrame, arm: str, test: str, readout: str, day: float) -> float:
    sel = readouts[(readouts.arm == arm) & (readouts.test == test) & (readouts.readout == readout)
                   & (readouts.day == day)]
    return float(sel.value.iloc[-1]) if len(sel) else math.nan


def model_outputs(params: Mapping[str, float]) -> dict[str, float]:
    """The four :data:`OUTPUTS` of the prediabetic subject with ``params`` (linear values) overriding
    the subject's settings. Failed readouts are NaN; unknown parameter ids raise KeyError."""
    from ranklsim.simulate.runner import run_scenario  # lazy: builds the model on first use

    table = parameter_table(SPECIES)
    unknown = [k for k in params if k not in table]
    if unknown:
        raise KeyError(f"not in the {SPECIES} parameter table: {unknown}")
    params = {str(k): float(v) for k, v in params.items()}
    res = run_scenario(_with_overrides(_base_scenario(), params))
    r = res.readouts
    g0 = _readout(r, _CONTROL, "fasting", "G", 0.0)
    g_ctl = _readout(r, _CONTROL, "fasting", "G", EFFECT_DAY)
    g_trt = _readout(r, _TREATED, "fasting", "G", EFFECT_DAY)
    return {
        "fasting_G": g0,
        "HOMA_IR": _readout(r, _CONTROL, "fasting", "HOMA_IR", 0.0),
        "clamp_EGP_suppression": _readout(r, _CONTROL, "clamp", "EGP_suppression", 0.0),
        "denosumab_dG": g_trt - g_ctl,
    }


def run_gsa(n_base: int = 128, seed: int = 0, engine: Engine | None = None, out_dir: str | Path | None = None,
            parameters: Sequence[str] | None = None, chunk_size: int = 16,
            num_resamples: int = 100) -> pd.DataFrame:
    """Sobol indices (S1, ST with 95 % confidence) of :data:`OUTPUTS` for the uncertain parameters
    (default all of :data:`UNCERTAIN`; ``parameters`` picks a subset), ``n_base * (d + 2)`` evaluations.

    With ``out_dir``: writes them with :func:`write_gsa`.
    """
    ids = tuple(UNCERTAIN) if parameters is None else tuple(parameters)
    bounds = {p: UNCERTAIN[p] if p in UNCERTAIN else uncertain_bounds([p])[p] for p in ids}
    t0 = time.perf_counter()
    df = sobol_indices(model_outputs, bounds, n_base=n_base, seed=seed, log_scale={p: True for p in ids},
                       engine=engine, chunk_size=chunk_size, num_resamples=num_resamples)
    seconds = time.perf_counter() - t0
    order = {o: i for i, o in enumerate(OUTPUTS)}
    df = df.sort_values("output", key=lambda s: s.map(order).fillna(len(order)), kind="stable")
    df = df.reset_index(drop=True)
    df.insert(1, "unit", df["output"].map(OUTPUTS).fillna(""))
    df.attrs.update(seconds=seconds, n_base=int(n_base), seed=int(seed))
    if out_dir is not None:
        write_gsa(df, out_dir, bounds, engine)
    return df


def write_gsa(df: pd.DataFrame, out_dir: str | Path, bounds: Mapping[str, tuple[float, float]],
              engine: Engine | None = None) -> Path:
    """Write ``sobol.csv``, ``sobol.png`` and ``sobol.json`` (settings, bounds, evaluation count,
    failures per output, wall time, ranklsim version) of a :func:`run_gsa` result into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "sobol.csv", index=False, float_format="%.6g")
    plot_sobol(df, out / "sobol.png")
    meta = {
        "species": SPECIES, "subject": SUBJECT, "n_base": df.attrs.get("n_base"), "seed": df.attrs.get("seed"),
        "n_parameters": len(bounds), "n_evaluations": int(df.attrs.get("n_evaluations", 0)),
        "seconds": round(float(df.attrs.get("seconds", 0.0)), 2),
        "engine": type(engine).__name__ if engine else "SerialEngine", "ranklsim": package_version(),
        "bounds_linear_log10_uniform": {p: list(b) for p, b in bounds.items()},
        "outputs": OUTPUTS,
        "n_failed": {o: int(g["n_failed"].iloc[0]) for o, g in df.groupby("output", sort=False)},
    }
    (out / "sobol.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def top_parameters(df: pd.DataFrame, k: int = 3, by: str = "ST") -> dict[str, list[tuple[str, float]]]:
    """The ``k`` parameters with the largest ``by`` index per output."""
    return {o: [(str(r.parameter), float(getattr(r, by))) for r in g.nlargest(k, by).itertuples()]
            for o, g in df.groupby("output", sort=False)}
