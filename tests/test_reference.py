"""Derived normalisers follow the model constants (docs/model.md Section 13).

For each derived normaliser, a constant it depends on is overridden; the run must equal a model
rebuilt from a parameter table with that constant edited and the derived rows regenerated (the
developer's path: edit ``parameters.tsv``, run ``ranklsim dev regenerate``).  Inputs (subject traits,
genotypes, diets, drugs, protocols) perturb the reference person and recompute nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import ranklsim
from ranklsim import regenerate
from ranklsim.models import build, parameters, tables
from ranklsim.models.ids import P, V
from ranklsim.simulate.reference import DERIVED, FIXED_POINT, constant_overrides

#: constant -> factor, per species; together they move every derived normaliser (checked below)
CASES = [
    ("human", P.f_rank_stim, 0.5),  # M_ref, gng_ref (RANK share of hepatic IKK)
    ("human", P.is_kcat_ser, 2.0),  # gng_ref (IKK -> IRS1-Ser)
    ("human", P.gi_kp1, 1.1),  # G_bf_ref, S_ref, I_ref, gng_ref
    ("human", P.k_O_deg, 2.0),  # O_prod (and L_prod through the OPG complex)
    ("human", P.k_L_deg, 0.5),  # L_prod
    ("mouse", P.gi_kp1, 1.1),  # mouse G_bf_ref: beta-cell compensation pins glucose to it
    ("mouse", P.nf_k1, 1.5),  # NF-kB module: M_ref, gng_ref
]
#: outputs compared, over a 24-h run with sRANKL production x3 (an input) from the reference
OUTPUTS = [V.G, V.I, V.EGP, V.M_hep, V.egp_gng, V.beta_fn, V.L, V.O, V.NFkBn]
#: solver agreement of two differently built models (acute rtol 1e-8; derived values to 1e-9)
RTOL = 2e-6


def _rebuilt(species: str, pid: str, value: float, monkeypatch, tmp_path):
    """A RoadRunner built from a copy of the table with ``pid = value`` and the derived rows and the
    initial state regenerated, and the regenerated derived values."""
    import antimony
    import roadrunner

    rows = tables.read_rows()
    table = parameters.parameter_table(species)
    edited = [dict(r, value=repr(value)) if r["id"] == pid and r["species"] == table[pid].species else r
              for r in rows]
    path = tmp_path / "parameters.tsv"
    monkeypatch.setattr(parameters, "PARAMETER_TABLE", path)
    tables.write_rows(edited, path)
    try:
        derived, state = regenerate.reference(species)
        tables.write_rows(tables.set_values(edited, {k: {species: v} for k, v in derived.items()}), path)
        antimony.clearPreviousLoads()
        assert antimony.loadAntimonyString(build.build_antimony(species, initial=state)) >= 0
        rr = roadrunner.RoadRunner(antimony.getSBMLString(build.MODEL_ID))
    finally:
        monkeypatch.undo()
        tables.clear_caches()
    rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = 1e-8, 1e-12
    return rr, derived


@pytest.mark.parametrize(("species", "pid", "factor"), CASES)
def test_override_of_a_constant_equals_a_model_rebuilt_from_the_edited_table(species, pid, factor,
                                                                             monkeypatch, tmp_path):
    model = ranklsim.load_model(species)
    value = model.parameter_value(pid) * factor
    l_prod = 3 * model.parameter_value(P.L_prod)
    rr, derived = _rebuilt(species, pid, value, monkeypatch, tmp_path)
    rr[P.L_prod] = 3 * derived[P.L_prod]
    rr.timeCourseSelections = ["time", *OUTPUTS]
    expected = np.asarray(rr.simulate(0, 1440, 25))[:, 1:]

    res = model.simulate(1440, n_points=25, overrides={pid: value, P.L_prod: 3 * derived[P.L_prod]},
                         selections=OUTPUTS)
    assert res.derived == pytest.approx(derived, rel=1e-8)
    np.testing.assert_allclose(res.frame[OUTPUTS].to_numpy(), expected, rtol=RTOL, atol=1e-12)
    # and the reference person is the reference: modifiers 1, memory at M_ref, glucose at G_bf_ref
    start = res.frame.iloc[0]
    assert start[V.egp_gng] == pytest.approx(1.0, abs=1e-7)
    assert start[V.M_hep] == pytest.approx(derived[P.M_ref], rel=1e-7)
    assert start[V.G] == pytest.approx(derived[P.G_bf_ref], rel=1e-7)
    assert l_prod > 0


def test_cases_move_every_normaliser():
    moved: set[str] = set()
    for species, pid, factor in CASES:
        model = ranklsim.load_model(species)
        derived = model.reference({pid: model.parameter_value(pid) * factor}).derived
        moved |= {k for k in DERIVED if abs(derived[k] / model.parameter_value(k) - 1) > 1e-6}
    assert moved == set(DERIVED)


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_table_is_its_own_reference(species):
    """The shipped derived values are the fixed point of the shipped constants (nothing stale)."""
    model = ranklsim.load_model(species)
    derived, _ = regenerate.reference(species)
    for key in DERIVED:
        assert derived[key] == pytest.approx(model.parameter_value(key), rel=1e-8), key
    for key, quantity in FIXED_POINT.items():
        assert model.steady_state(selections=[quantity])[quantity] == pytest.approx(
            model.parameter_value(key), rel=1e-8)


def test_inputs_recompute_nothing():
    model = ranklsim.load_model("human")
    table = {k: p.value for k, p in model.parameters.items()}
    inputs = {P.L_prod: 5 * table[P.L_prod], P.diet_fat: 1.0, P.rank_hep_expr: 0.0, P.ir_comp: 2.0,
              P.adiposity: 1.0, P.u_infl0: 2 * table[P.u_infl0], P.ins_iv: 1.0, P.met_egp_on: 0.0,
              P.ab_CL: 2 * table[P.ab_CL], P.beta_slow_on: 0.0, P.gng_ref: 0.9}
    assert constant_overrides(table, inputs) == {}
    res = model.simulate(60, n_points=2, overrides=inputs, selections=[V.G])
    assert res.derived == {}
    # a constant set to its table value is no change either
    assert constant_overrides(table, {P.f_rank_stim: table[P.f_rank_stim]}) == {}


def test_input_effect_is_kept_under_a_changed_constant():
    """sRANKL x5 still raises hepatic NF-kB memory above the (recomputed) reference."""
    model = ranklsim.load_model("human", "chronic")
    s_rank = 0.5 * model.parameter_value(P.f_rank_stim)
    base = model.simulate(60, n_points=2, overrides={P.f_rank_stim: s_rank}, selections=[V.M_hep]).final()[V.M_hep]
    high = model.simulate(60, n_points=2, overrides={P.f_rank_stim: s_rank, P.L_prod: 5 * model.parameter_value(P.L_prod)},
                          selections=[V.M_hep]).final()[V.M_hep]
    ref = model.reference({P.f_rank_stim: s_rank}).derived[P.M_ref]
    assert base == pytest.approx(ref, rel=1e-6)
    assert high > 1.05 * ref


def test_explicit_normaliser_override_wins():
    model = ranklsim.load_model("human")
    res = model.simulate(60, n_points=2, overrides={P.f_rank_stim: 0.5 * model.parameter_value(P.f_rank_stim),
                                                    P.gng_ref: 0.8}, selections=[V.egp_gng, V.gng_index])
    final = res.final()
    assert final[V.egp_gng] == pytest.approx(final[V.gng_index] / 0.8)


def test_fitting_objective_recomputes_the_reference():
    """The PEtab objective at a changed constant equals the simulator at the same constant."""
    from ranklsim.fitting.objective import PetabObjective
    from ranklsim.fitting.problems import PROBLEM_DIR

    obj = PetabObjective(PROBLEM_DIR / "human.yaml", recompute_reference=True)
    x = obj.x_nominal.copy()
    i = obj.parameter_ids.index(P.gi_kp1)
    x[i] = obj.x_nominal[i] + np.log10(1.1) if obj.scales[i] == "log10" else obj.x_nominal[i] * 1.1
    obj.simulate(x)
    kp1 = obj.to_parameters(x)[P.gi_kp1]
    derived = next(iter(obj.references._cache.values())).derived
    model = ranklsim.load_model("human")
    assert derived == pytest.approx(model.reference({P.gi_kp1: kp1}).derived, rel=1e-8)


def test_knockout_survives_a_changed_constant():
    """States set by initial assignments (receptor binding) come from the run's own parameters: a
    hepatocyte Rank knockout has no hepatic RANK also when a constant is changed."""
    model = ranklsim.load_model("human")
    res = model.simulate(60, n_points=2, overrides={P.f_rank_stim: 0.5 * model.parameter_value(P.f_rank_stim),
                                                    P.rank_hep_expr: 0.0}, selections=[V.theta_hep, V.Rh, V.LRh])
    assert res.derived and res.frame[[V.theta_hep, V.Rh, V.LRh]].to_numpy().max() == 0.0
