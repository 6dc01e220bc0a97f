"""Build the shipped PEtab (v1) problems from the calibration data table and the model.

One problem per species.  Every measurement is taken after pre-equilibration (steady state
with beta-cell mass held, as :meth:`Model.steady_state`) under the condition's settings; the
simulation condition then starts the protocol (clamp, dose) at t = 0.  The 4-week high-fat
diet is represented by its quasi-steady state at the diet level that the diet state reaches
after 4 weeks (A_diet = 1 - exp(-28 d / 14 d)); the fast adaptations (IKK memory 7 d, beta-cell
function 3 d) are then complete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ranklsim.constants import CLAMP_MOUSE_MU_PER_KG_PER_MIN, METFORMIN_HCL_MW, PMOL_PER_MU
from ranklsim.models.build import build_sbml
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import HOLD_BETA_CELL_MASS, parameter_table

DATA_DIR = Path(__file__).parent / "data"
CALIBRATION_TABLE = DATA_DIR / "calibration.tsv"
PROBLEM_DIR = DATA_DIR / "petab"

# PEtab v1 column names (petab.C has them too; spelled here to keep petab an optional import)
CONDITION_ID = "conditionId"
CONDITION_NAME = "conditionName"
OBSERVABLE_ID = "observableId"
OBSERVABLE_FORMULA = "observableFormula"
OBSERVABLE_TRANSFORMATION = "observableTransformation"
NOISE_FORMULA = "noiseFormula"
NOISE_DISTRIBUTION = "noiseDistribution"
PREEQ_ID = "preequilibrationConditionId"
SIM_ID = "simulationConditionId"
MEASUREMENT = "measurement"
TIME = "time"
NOISE_PARAMETERS = "noiseParameters"
DATASET_ID = "datasetId"
PARAMETER_ID = "parameterId"
PARAMETER_SCALE = "parameterScale"
LOWER = "lowerBound"
UPPER = "upperBound"
NOMINAL = "nominalValue"
ESTIMATE = "estimate"

#: diet level whose steady diet state equals the state after 4 weeks of HFD (tau 14 d)
HFD_4W = 1.0 - math.exp(-28.0 / 14.0)


def _clamp(mU_per_kg_per_min: float) -> dict[str, float]:
    return {P.clamp_on: 1.0, P.clamp_at_basal: 1.0, P.ins_iv: mU_per_kg_per_min * PMOL_PER_MU}


#: condition id -> settings (pre-equilibration conditions are "steady_<id>")
CONDITIONS: dict[str, dict[str, dict[str, float]]] = {
    "mouse": {
        "chow": {},
        "chow_clamp": _clamp(CLAMP_MOUSE_MU_PER_KG_PER_MIN),
        "hfd4w": {P.diet_fat: HFD_4W},
        "hfd4w_clamp": {P.diet_fat: HFD_4W, **_clamp(CLAMP_MOUSE_MU_PER_KG_PER_MIN)},
        "ko_hfd4w_clamp": {P.diet_fat: HFD_4W, P.rank_hep_expr: 0.0, **_clamp(CLAMP_MOUSE_MU_PER_KG_PER_MIN)},
    },
    "human": {
        "basal": {},
        "clamp_low": _clamp(0.25),
        "clamp_high": _clamp(1.0),
        "metformin500": {V.Met_gut: 500.0 / METFORMIN_HCL_MW * 1e3},
    },
}
#: settings that define each condition's pre-equilibrium (protocol inputs are not part of it)
_PROTOCOL_KEYS = {P.clamp_on, P.clamp_at_basal, P.ins_iv, V.Met_gut}

#: parameters estimated in the shipped problems (log10 scale, bounds from parameters.tsv)
ESTIMATED: dict[str, tuple[str, ...]] = {
    "mouse": (P.g_rank_diet, P.bf_max, P.gi_Sb, P.gi_kp1),
    "human": (P.gi_kp1, P.gi_kp3, P.gi_Vm0, P.gi_Vmx),
}

#: observable model ids that data may use, with their PEtab transformation
OBSERVABLES = {
    V.G: "lin", V.I: "lin", V.EGP_obs: "lin", V.EGP_supp: "lin", V.EGP_fall: "lin", V.GIR: "lin",
    V.C_met: "lin", V.L: "log", V.O: "log", V.O_total: "log",
}


@dataclass(frozen=True)
class ProblemFiles:
    yaml: Path
    species: str


def calibration_data(species: str | None = None) -> pd.DataFrame:
    """The calibration data table (one row per datum, with source and reliability)."""
    df = pd.read_csv(CALIBRATION_TABLE, sep="\t")
    return df if species is None else df[df.species == species].reset_index(drop=True)


def _formula(row) -> str:
    """The datum's observable formula: its ``formula`` column, or the model id it names."""
    text = row.get("formula")
    return str(text) if isinstance(text, str) and text.strip() else str(row.observable)


def _obs_id(model_id: str) -> str:
    return f"obs_{model_id}"


def problem_tables(species: str) -> dict[str, pd.DataFrame]:
    """Condition, observable, measurement and parameter tables of the species' problem."""
    data = calibration_data(species)
    conds = CONDITIONS[species]
    columns = sorted({k for c in conds.values() for k in c} | set(HOLD_BETA_CELL_MASS))
    rows = []
    for cid, settings in conds.items():
        steady = {k: v for k, v in settings.items() if k not in _PROTOCOL_KEYS}
        for rid, values in ((f"steady_{cid}", steady), (cid, settings)):
            row = {CONDITION_ID: rid, CONDITION_NAME: rid.replace("_", " ")}
            row.update({c: values.get(c, _default(species, c)) for c in columns})
            row.update(HOLD_BETA_CELL_MASS)
            rows.append(row)
    condition_df = pd.DataFrame(rows).drop_duplicates(CONDITION_ID)
    # one observable per datum, with its noise SD as a number (no noise-parameter mapping needed)
    observable_df = pd.DataFrame([{
        OBSERVABLE_ID: _obs_id(r.datum_id), "observableName": r.observable,
        OBSERVABLE_FORMULA: _formula(r), OBSERVABLE_TRANSFORMATION: OBSERVABLES.get(r.observable, "lin"),
        NOISE_FORMULA: repr(float(r.sd)), NOISE_DISTRIBUTION: "normal"} for _, r in data.iterrows()])
    measurement_df = pd.DataFrame([{
        OBSERVABLE_ID: _obs_id(r.datum_id), PREEQ_ID: f"steady_{r.condition}",
        SIM_ID: r.condition, MEASUREMENT: float(r["mean"]), TIME: float(r.time_min),
        DATASET_ID: r.datum_id} for _, r in data.iterrows()])
    # rows grouped by condition in sorted order (pyPESTO 0.7's roadrunner objective pairs
    # conditions and simulations by sorted id; other orders give it wrong results)
    measurement_df = measurement_df.sort_values([SIM_ID, TIME], kind="stable").reset_index(drop=True)
    table = parameter_table(species)
    parameter_df = pd.DataFrame([{
        PARAMETER_ID: pid, "parameterName": table[pid].description, PARAMETER_SCALE: "log10",
        LOWER: _log_lower(table[pid]), UPPER: table[pid].upper, NOMINAL: table[pid].value, ESTIMATE: 1}
        for pid in ESTIMATED[species]])
    return {"condition": condition_df, "observable": observable_df,
            "measurement": measurement_df, "parameter": parameter_df}


def _log_lower(p) -> float:
    """Lower bound usable on log10 scale (the table's, or nominal / 100 when that is <= 0)."""
    return p.lower if p.lower > 0 else p.value / 100.0


def _default(species: str, key: str) -> float:
    table = parameter_table(species)
    if key in table:
        return table[key].value
    return 0.0  # a state set by a protocol (e.g. the metformin gut depot) is empty otherwise


def write_problem(species: str, out_dir: str | Path = PROBLEM_DIR) -> ProblemFiles:
    """Write the species' PEtab problem (YAML + TSV tables + our SBML) into ``out_dir``."""
    import yaml  # optional: pyyaml is the fitting extra

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = problem_tables(species)
    names = {k: f"{species}_{k}s.tsv" for k in tables}
    for key, df in tables.items():
        index = key in ("condition", "observable", "parameter")
        frame = df.set_index(df.columns[0]) if index else df
        frame.to_csv(out / names[key], sep="\t", index=index)
    sbml = out / f"ranklsim_{species}.xml"
    sbml.write_text(build_sbml(species))
    spec = {
        "format_version": 1,
        "parameter_file": names["parameter"],
        "problems": [{
            "sbml_files": [sbml.name],
            "condition_files": [names["condition"]],
            "measurement_files": [names["measurement"]],
            "observable_files": [names["observable"]],
        }],
    }
    path = out / f"{species}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return ProblemFiles(path, species)


def shipped_problem(species: str) -> Path:
    """Path of the shipped PEtab YAML for ``species``."""
    path = PROBLEM_DIR / f"{species}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no shipped PEtab problem for {species!r} at {path}")
    return path
