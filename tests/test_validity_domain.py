"""The model's validity domain: table bounds, non-negative outputs, solver round-off.

* Parameter values outside their table bounds are refused (``OutOfBoundsError``) unless the caller
  passes ``allow_out_of_bounds=True``; the result is then marked and a warning issued.
* Every run is checked for negative values of the quantities that must be >= 0
  (``Model.nonnegative``): a violation raises ``OutOfDomainError`` naming the quantity, the time and
  the overrides, never a silent number.
* The bound sweep: every table parameter at its lower and at its upper bound, one at a time, human
  and mouse, a 24-h acute fasting run from the reference state and a 15-year chronic run: each case
  runs with all non-negative quantities >= 0 or raises the clear error; none is silent.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest

import ranklsim
from ranklsim.models.build import SIGNED_OUTPUTS, SIGNED_STATES
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import HOLD_BETA_CELL_MASS, parameter_table
from ranklsim.simulate import Event
from ranklsim.simulate.catalog import DIETS, GENOTYPES, SUBJECTS
from ranklsim.simulate.simulator import (
    OutOfBoundsError,
    OutOfBoundsWarning,
    OutOfDomainError,
    SimulationError,
)

SPECIES = ("human", "mouse")
#: the sweep's runs: 24-h acute fasting run (5-min grid) and 15-year chronic run (monthly grid)
RUNS = {"acute": {"t_end": 24 * 60.0, "n_points": 289}, "chronic": {"t_end": 15 * 365.0, "n_points": 181}}
#: the parameters of the quick sweep: those whose bounds once gave negative outputs (U_id, HE, m3,
#: beta_fn, gi_aa, NaN from a negative base of a power) plus one or two of every module
FAST_IDS = (P.gi_Vmx, P.gi_Ib, P.gi_m5, P.gi_m6, P.gi_gamma, P.gi_b, P.glc_iv, P.gng_ref, P.bf_max, P.G_bf_ref,
            P.met_n_egp, P.ikk_expr, P.beta_ref, P.ir_comp, P.k_sig, P.is_k_g6p_deg, P.nf_k1, P.L_prod,
            P.stim_sat, P.ins_iv)
#: a value this far below zero is not solver round-off
NEGATIVE = -1e-9


def _run_case(species: str, view: str, pid: str, value: float) -> str:
    """``"valid"`` (ran, every non-negative quantity >= 0), ``"error"`` (the clear error) or
    ``"silent"`` (ran and returned a negative non-negative quantity: must never happen)."""
    model = ranklsim.load_model(species, view)
    selections = sorted(model.nonnegative)
    try:
        res = model.simulate(**RUNS[view], overrides={pid: value}, selections=selections)
    except SimulationError as exc:  # solver failure or OutOfDomainError: both name the parameter
        assert pid in str(exc) and "parameters changed" in str(exc), str(exc)
        return "error"
    values = res.frame[selections].to_numpy()
    return "valid" if np.all(values >= NEGATIVE) else "silent"


def _sweep(ids) -> Counter:
    counts: Counter = Counter()
    silent = []
    for species in SPECIES:
        table = parameter_table(species)
        for view in RUNS:
            for pid in ids:
                for value in {table[pid].lower, table[pid].upper}:
                    outcome = _run_case(species, view, pid, value)
                    counts[outcome] += 1
                    if outcome == "silent":
                        silent.append((species, view, pid, value))
    assert not silent, f"negative outputs returned without an error: {silent}"
    return counts


def test_bound_sweep_quick_subset():
    counts = _sweep(FAST_IDS)
    assert counts["silent"] == 0
    assert counts["valid"] > 0.9 * sum(counts.values()), counts


@pytest.mark.slow
@pytest.mark.study
def test_bound_sweep_every_parameter():
    """Every table parameter at its bounds (about 1,600 runs; ~15 minutes on one core): a study,
    run with ``pytest -m study`` (the quick subset above runs in every suite)."""
    ids = sorted(set(parameter_table("human")) & set(parameter_table("mouse")))
    counts = _sweep(ids)
    print(f"bound sweep: {dict(counts)}")
    assert counts["silent"] == 0


# ----------------------------------------------------------------------------- bounds refused


@pytest.mark.parametrize("species", SPECIES)
def test_far_outside_bounds_refused_for_every_parameter(species):
    """x1e-3 and x1e3 of each table value: refused (naming parameter, value and bounds) whenever
    it falls outside the bounds; nothing is simulated."""
    model = ranklsim.load_model(species)
    refused = 0
    for pid, p in model.parameters.items():
        for factor in (1e-3, 1e3):
            value = p.value * factor
            if p.lower <= value <= p.upper:
                continue
            with pytest.raises(OutOfBoundsError, match=rf"{pid} = .* outside its table bounds \[.*\]"):
                model.simulate(60, n_points=2, overrides={pid: value})
            refused += 1
    assert refused > len(model.parameters)


def test_out_of_bounds_allowed_explicitly_and_marked():
    model = ranklsim.load_model("human")
    value = 1e3 * model.parameter_value(P.L_prod)
    with pytest.warns(OutOfBoundsWarning, match="L_prod"):
        res = model.simulate(600, n_points=11, overrides={P.L_prod: value}, allow_out_of_bounds=True)
    assert res.out_of_bounds == {P.L_prod: value}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.simulate(60, n_points=2).out_of_bounds == {}
    with pytest.raises(OutOfBoundsError, match="L_prod"):
        model.steady_state({P.L_prod: value})
    with pytest.warns(OutOfBoundsWarning):
        model.steady_state({P.L_prod: value}, selections=[V.G], allow_out_of_bounds=True)


def test_events_setting_parameters_are_checked():
    model = ranklsim.load_model("mouse", "chronic")
    with pytest.raises(OutOfBoundsError, match=r"event at t=3 day: diet_fat = 5"):
        model.simulate(10, events=[Event(3, P.diet_fat, 5.0)])
    with pytest.raises(OutOfBoundsError, match=r"event at t=4 day: diet_fat = 2.5"):  # 'add' accumulates
        model.simulate(10, events=[Event(3, P.diet_fat, 1.5), Event(4, P.diet_fat, 1.0, "add")])
    with pytest.warns(OutOfBoundsWarning):
        res = model.simulate(10, events=[Event(3, P.diet_fat, 2.5)], allow_out_of_bounds=True)
    assert res.out_of_bounds == {P.diet_fat: 2.5}
    # states are not parameters: protocol amounts added to states are not bound-checked
    model.simulate(10, events=[Event(3, V.Qsto1, 1.0, "add")])


def test_catalogue_and_hold_overrides_are_inside_the_bounds():
    """Every built-in genotype, diet, subject and the beta-cell hold stays in the valid domain."""
    for species in SPECIES:
        table = parameter_table(species)
        values = [dict(HOLD_BETA_CELL_MASS), *({P.diet_fat: d.fat_input} for d in DIETS.values())]
        values += [g.overrides(f) for g in GENOTYPES.values() for f in (0.0, 0.5, 1.0)]
        values += [s.overrides for s in SUBJECTS.values() if species in s.species]
        for ov in values:
            for pid, v in ov.items():
                assert table[pid].lower <= v <= table[pid].upper, (species, pid, v)


def test_cohort_people_inside_the_bounds():
    from ranklsim.cohort.population import PARAMETER_COLUMNS, PopulationSpec, generate_population

    table = parameter_table("human")
    for seed in (1, 2, 3):
        people = generate_population(PopulationSpec(seed=seed))
        for pid in PARAMETER_COLUMNS:
            assert table[pid].lower <= people[pid].min() and people[pid].max() <= table[pid].upper, (seed, pid)


# ----------------------------------------------------------------------------- non-negative outputs


def test_nonnegative_set_is_derived_from_the_model():
    for species in SPECIES:
        model = ranklsim.load_model(species)
        assert set(model.state_ids) >= SIGNED_STATES and set(model.output_ids) >= SIGNED_OUTPUTS
        assert {s for s in model.state_ids if s not in SIGNED_STATES} <= model.nonnegative
        assert {V.U_id, V.U_ii, V.HE, V.m3, V.beta_fn, V.EGP, V.S, V.G, V.I, V.L_total} <= model.nonnegative
        assert not model.nonnegative & (SIGNED_STATES | SIGNED_OUTPUTS)


def test_negative_output_raises_naming_output_time_and_overrides():
    model = ranklsim.load_model("human")
    # gastric emptying fraction b above 1 makes the emptying-curve coefficient negative
    with pytest.warns(OutOfBoundsWarning), \
            pytest.raises(OutOfDomainError, match=r"gi_aa = -.* at t=0 min: it must be >= 0.*\{'gi_b': 2.0\}"):
        model.simulate(60, overrides={P.gi_b: 2.0}, selections=[V.G, V.gi_aa], allow_out_of_bounds=True)
    # the simulator is usable afterwards
    assert model.simulate(60, n_points=2, selections=[V.G]).final()[V.G] > 0


def test_negative_state_caught_at_segment_end_even_if_not_selected():
    model = ranklsim.load_model("human")
    with pytest.raises(OutOfDomainError, match=r"Qsto\d = -.* at t=60 min.*parameters changed: none"):
        model.simulate(60, events=[Event(30, V.Qsto1, -1e5, "add")], selections=[V.G])


# ----------------------------------------------------------------------------- round-off


def test_roundoff_negatives_clamped_before_reuse_as_initial_state():
    model = ranklsim.load_model("human")
    assert model.check_initial({V.p2IR: -1.5e-12}) == {V.p2IR: 0.0}
    assert model.check_initial({V.p2IR: -9e-10}) == {V.p2IR: 0.0}
    with pytest.raises(ValueError, match="p2IR"):
        model.check_initial({V.p2IR: -1e-6})
    with model.solver_settings(atol=1e-8):  # looser solver, larger round-off: 1e3 * atol
        assert model.check_initial({V.p2IR: -5e-6}) == {V.p2IR: 0.0}
    assert model.check_initial({V.X: -3.0}) == {V.X: -3.0}  # signed states keep their sign
    # a final state with round-off negatives is accepted as the next run's initial state
    state = model.simulate(60, n_points=2, selections=list(model.state_ids)).final()
    state = {k: v for k, v in state.items() if k != "time"} | {V.p2IR: -1.5e-12, V.Dg: -2e-13}
    res = model.simulate(60, n_points=2, initial=state, selections=[V.p2IR, V.Dg])
    assert res.frame[[V.p2IR, V.Dg]].to_numpy().min() >= NEGATIVE
