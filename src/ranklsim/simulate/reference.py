"""The reference person: derived normalisers computed from the current model constants.

Several parameters are not free: they define the reference state that other quantities are measured
against (docs/model.md Section 15, "Derived normalisers").  :data:`DERIVED` lists them:

* ``L_prod``, ``O_prod``: production rates that hold free sRANKL and OPG at ``L_ref`` and ``O_ref``
  (closed form, module R);
* ``s_rank``: IKK drive per unit hepatic RANK occupancy, such that hepatic RANK gives the share
  ``f_rank_stim`` of the reference IKK drive (closed form; the identifiable combination of ``s_rank``,
  ``Kd_LR`` and ``L_ref`` while free sRANKL is far below ``Kd_LR``);
* ``gng_ref``: the hepatic modifier ``egp_gng`` is 1 at the reference state; ``G_bf_ref``: beta-cell
  function ``beta_fn`` is 1 there -- a fixed point, because each normaliser changes the state it is
  read from;
* ``M_ref``, ``IKK_ref``: hepatic NF-kB memory and active IKK at the reference state (they scale the
  IRS1 serine kinase, so they are part of the fixed point; the NF-kB module does not depend on the
  others, so they settle in the first iteration);
* ``S_ref`` (reference secretion demand per unit capacity: beta-cell workload 1) and ``I_ref``
  (reference fasting insulin), read from the reference state.

The reference state is the fasting steady state with beta-cell mass held
(:data:`~ranklsim.models.parameters.HOLD_BETA_CELL_MASS`) and every *input*
(:func:`~ranklsim.models.parameters.reference_inputs`: subject traits, genotypes, diets, drugs, test
protocols) at its table value.  Overriding a model *constant* therefore redefines the reference
person, and :func:`derive_reference` recomputes the normalisers and the reference state for it;
overriding an input perturbs the reference person and leaves them alone.  Every path that runs the
model with changed constants (``Model.simulate``/``steady_state``, the PEtab objective, hence fits,
samples, Sobol runs and ensembles) calls this one function, so a changed constant never silently
moves the reference state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ranklsim.constants import RELAX_DAYS
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import HOLD_BETA_CELL_MASS, reference_inputs
from ranklsim.simulate.solver import flush_underflow, relax, solver_settings

#: the derived normalisers, in the order they are computed
DERIVED = (P.L_prod, P.O_prod, P.s_rank, P.gng_ref, P.G_bf_ref, P.S_ref, P.I_ref, P.M_ref, P.IKK_ref)
#: normaliser -> the reference-state quantity it equals (fixed point: normaliser = quantity)
FIXED_POINT = {P.gng_ref: V.gng_index, P.G_bf_ref: V.G, P.M_ref: V.M_hep, P.IKK_ref: V.IKKa}
#: fixed point: plain iterations tried first, their relative-change target, the hybrid solver's
#: Jacobian step (log scale) and the relative residual it must reach
PLAIN_ITERATIONS, ITERATION_TOL, JACOBIAN_STEP, SOLVE_TOL = 15, 1e-11, 1e-6, 1e-9
#: relaxations the hybrid solve may take (a smooth case needs about 10; a kinked one never converges)
MAX_SOLVE_RELAXATIONS = 40
#: solver tolerances of the reference relaxations (stricter than the simulator's)
REL_TOL, ABS_TOL = 1e-9, 1e-12
#: relaxation after a change of the normalisers alone, days: the slowest mode they excite at the
#: reference state is the 7-day hepatic NF-kB memory (glycaemia memory and diet state do not feed back
#: there), so 120 days are > 17 time constants (a 1e-3 perturbation left at < 1e-10)
WARM_DAYS = 120.0
#: references kept per model (a fit or a sample changes the constants at every step)
CACHE_SIZE = 32
#: relative difference below which an override equals the table value (no new reference)
SAME_VALUE_RTOL = 1e-15


class ReferenceError(RuntimeError):
    """The reference state of the changed constants could not be computed (no fixed point, solver
    failure); the message names the constants."""


def constant_overrides(base: Mapping[str, float], overrides: Mapping[str, float]) -> dict[str, float]:
    """The entries of ``overrides`` that change a model constant (not an input, not a derived
    normaliser, not the beta-cell hold, and different from its ``base`` value, the table's)."""
    out = {}
    inputs = reference_inputs()
    for key, value in overrides.items():
        if key in inputs or key in DERIVED or key in HOLD_BETA_CELL_MASS:
            continue
        ref = base[key]
        if abs(value - ref) > SAME_VALUE_RTOL * max(abs(ref), abs(value)):
            out[key] = value
    return out


def _rank_kd_eff(value) -> float:
    """Effective RANKL-RANK dissociation constant (pM), binding plus internalisation (module R)."""
    return (value(P.kon_LR) * value(P.Kd_LR) + value(P.k_L_int)) / value(P.kon_LR)


def production_rates(value) -> dict[str, float]:
    """``L_prod`` and ``O_prod`` that hold free sRANKL at ``L_ref`` and total (free + RANKL-bound) OPG at
    ``O_ref`` (module R; serum OPG assays detect both forms);
    ``value(id)`` gives the current value of a parameter or of an assignment rule of constants
    (``Kd_LO = Kd_LR / r_opg_rank``, read from the model so that the rule stays in one place)."""
    free_l, total_o = value(P.L_ref), value(P.O_ref)
    kd_lo_eff = (value(P.kon_LO) * value(V.Kd_LO) + value(P.k_LO_clr)) / value(P.kon_LO)  # LO = L*O/kd_lo_eff
    free_o = total_o / (1.0 + free_l / kd_lo_eff)
    lo = total_o - free_o
    kd_eff = _rank_kd_eff(value)
    lr = (value(P.Rb_tot_wt) + value(P.Rh_tot_wt)) * free_l / (kd_eff + free_l)
    return {
        P.L_prod: value(P.k_L_deg) * free_l + value(P.k_LO_clr) * lo + value(P.k_L_int) * lr,
        P.O_prod: value(P.k_O_deg) * free_o + value(P.k_LO_clr) * lo,
    }


def rank_gain(value) -> dict[str, float]:
    """``s_rank`` such that hepatic RANK gives the share ``f_rank_stim`` of the reference person's IKK
    drive (coupling module; free sRANKL at ``L_ref``, receptors at binding equilibrium, diet and
    adiposity at their table values); ``value(id)`` gives a parameter's current value."""
    free_l, share = value(P.L_ref), value(P.f_rank_stim)
    kd_eff = _rank_kd_eff(value)
    theta = value(P.rank_hep_expr) * free_l / (kd_eff + free_l)
    a_diet = value(P.diet_fat) + value(P.adiposity)
    inflammatory = value(P.s_infl) * value(P.u_infl0) * (1 + value(P.g_infl_diet) * a_diet)
    if share >= 1 or theta <= 0:
        raise ReferenceError(f"no RANK gain gives hepatic RANK the share f_rank_stim = {share:g} of the reference "
                             f"IKK drive (occupancy {theta:g}); f_rank_stim must be below 1")
    return {P.s_rank: share / (1 - share) * inflammatory / (theta * (1 + value(P.g_rank_diet) * a_diet))}


def relax_to_reference(rr, settings: Mapping[str, float], horizon_days: float = RELAX_DAYS) -> None:
    """Relax RoadRunner ``rr`` from its initial state to the fasting steady state with beta-cell
    mass held and ``settings`` (parameter values) applied; its clock is then 0."""
    rr.resetAll()
    for key, value in {**HOLD_BETA_CELL_MASS, **settings}.items():
        rr[key] = value
    rr.reset()
    relax(rr, horizon_days)


def derive_reference(rr, constants: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """The derived normalisers (:data:`DERIVED`) and the reference state (rate-rule states without an
    initial assignment) of the
    model with ``constants`` (parameter id -> value) changed, by relaxing RoadRunner ``rr``
    (whose parameter values must be the table's; it is left at the reference state, clock 0).

    Starts from the values in ``rr`` (the table's, a good first guess), iterates the fixed point of
    :data:`FIXED_POINT` and raises :class:`ReferenceError` if it does not converge.
    """
    rr.resetAll()
    for key, value in constants.items():
        rr[key] = value
    settings = {**constants, **production_rates(lambda k: float(rr[k])), **rank_gain(lambda k: float(rr[k]))}
    settings.update({k: float(rr[k]) for k in FIXED_POINT})
    try:
        with solver_settings(rr, rtol=REL_TOL, atol=ABS_TOL, quiet=True):
            _iterate(rr, settings)
    except RuntimeError as exc:
        raise ReferenceError(f"solver failed relaxing to the reference state of the changed constants; time reached "
                             f"{rr.model.getTime():g} min; parameters changed: {dict(constants)}; solver said: "
                             f"{str(exc).splitlines()[0]}") from exc
    settings.update({P.S_ref: float(rr[V.S_dem]), P.I_ref: float(rr[V.I])})
    # states with an initial assignment (receptor binding quasi-equilibrium) are left out: a run's own
    # parameters (e.g. a receptor knockout) set them when it starts
    assigned = set(rr.getInitialAssignmentIds())
    state = {sid: flush_underflow(float(rr[sid])) for sid in rr.getRateRuleIds() if sid not in assigned}
    return {k: float(settings[k]) for k in DERIVED}, state


def _iterate(rr, settings: dict[str, float]) -> None:
    """Solve the fixed point of :data:`FIXED_POINT` in ``settings`` (updated in place); ``rr`` ends
    at the reference state.  Plain iteration first (it converges at once when the normalisers are
    close); then a Powell hybrid solve on their logarithms (the mouse's beta-cell compensation pins
    fasting glucose to ``G_bf_ref``, which makes plain iteration contract by only ~1/200 per step)."""
    import numpy as np  # lazy: numpy is cheap, scipy.optimize is not (~0.2 s)

    keys = list(FIXED_POINT)

    def read(values: np.ndarray) -> np.ndarray:
        """The reference quantities with the normalisers ``values``: relaxed on from the last state."""
        settings.update(zip(keys, values.tolist(), strict=True))
        for key in keys:
            rr[key] = settings[key]
        try:
            relax(rr, WARM_DAYS)
        except RuntimeError:  # CVODE may refuse to go on from a state near rest: start afresh
            relax_to_reference(rr, settings)
        return np.array([float(rr[FIXED_POINT[k]]) for k in keys])

    relax_to_reference(rr, settings)

    x = np.array([settings[k] for k in keys])
    for _ in range(PLAIN_ITERATIONS):
        new = read(x)
        if np.max(np.abs(new / x - 1)) < ITERATION_TOL:
            return
        x = new
    from scipy.optimize import root  # lazy: only when plain iteration is slow

    base = np.log(x)
    sol = root(lambda z: np.log(read(np.exp(base + z))) - base - z, np.zeros(len(keys)), method="hybr",
               options={"xtol": ITERATION_TOL, "eps": JACOBIAN_STEP, "maxfev": MAX_SOLVE_RELAXATIONS})
    residual = float(np.max(np.abs(sol.fun)))
    read(np.exp(base + sol.x))  # leave rr at the solution
    if not residual < SOLVE_TOL:
        raise RuntimeError(f"no fixed point of {', '.join(keys)} (relative residual {residual:.2g} after "
                           f"{sol.nfev} relaxations: {sol.message})")


@dataclass(frozen=True)
class Reference:
    """The reference person of a set of overrides: ``derived`` normalisers recomputed for the changed
    ``constants`` (empty if none changed) and the reference ``state`` they start from."""

    constants: dict[str, float] = field(default_factory=dict)
    derived: dict[str, float] = field(default_factory=dict)
    state: dict[str, float] = field(default_factory=dict)

    def apply(self, overrides: Mapping[str, float], initial: Mapping[str, float]) -> tuple[dict, dict]:
        """Run overrides (derived normalisers, then the caller's overrides, which win) and initial
        state (the reference state, then the caller's initial values)."""
        return {**self.derived, **overrides}, {**self.state, **initial}


class ReferenceCache:
    """Recomputed references of one RoadRunner, by changed constants (the last :data:`CACHE_SIZE`)."""

    def __init__(self, rr, base: Mapping[str, float]) -> None:
        """``rr``: the RoadRunner to relax; ``base``: parameter id -> table value (its own values)."""
        self._rr = rr
        self._base = dict(base)
        self._cache: OrderedDict[tuple, Reference] = OrderedDict()

    def for_overrides(self, overrides: Mapping[str, float]) -> Reference:
        """The reference of ``overrides``: the table's (nothing recomputed) unless a constant changed."""
        constants = constant_overrides(self._base, overrides)
        if not constants:
            return Reference()
        key = tuple(sorted(constants.items()))
        if key not in self._cache:
            derived, state = derive_reference(self._rr, constants)
            self._cache[key] = Reference(constants, derived, state)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]
