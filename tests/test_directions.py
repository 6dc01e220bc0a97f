"""Direction tests on the composite: RANKL, hepatocyte RANK, OPG and inflammation."""

import numpy as np
import pytest

import ranklsim
from ranklsim.models.ids import P, V

OUT = [V.NFkBn, V.IKKa, V.EGP, V.G, V.L, V.theta_bone, V.theta_hep]


@pytest.fixture(scope="module")
def human():
    return ranklsim.load_model("human")


def ss(model, **overrides):
    return model.steady_state(overrides, selections=OUT)


def test_more_srankl_raises_nfkb_egp_and_glucose_monotonically(human):
    base = human.parameter_value(P.L_prod)
    runs = [ss(human, L_prod=f * base) for f in (0.5, 1, 2, 4, 8)]
    for key in (V.NFkBn, V.EGP, V.G):
        values = np.array([r[key] for r in runs])
        assert np.all(np.diff(values) > 0), (key, values)
    assert runs[-1][V.G] - runs[1][V.G] > 0.5  # mg/dL: a visible glucose effect


def test_hepatic_rank_knockout_removes_rankl_effect_only_in_liver(human):
    base = human.parameter_value(P.L_prod)
    ko_lo, ko_hi = ss(human, rank_hep_expr=0, L_prod=base), ss(human, rank_hep_expr=0, L_prod=4 * base)
    wt = ss(human, L_prod=base)
    for key in (V.NFkBn, V.EGP, V.G):
        assert ko_hi[key] == pytest.approx(ko_lo[key], rel=1e-5)
    # KO equals the model with the RANK -> IKK coupling cut (f_rank_stim = 0: a first-class switch
    # within the table bounds; the reference person is recomputed without the link)
    no_coupling = human.steady_state({P.f_rank_stim: 0.0, P.L_prod: base}, selections=OUT)
    assert ko_lo[V.NFkBn] == pytest.approx(no_coupling[V.NFkBn], rel=1e-5)
    assert ko_lo[V.NFkBn] < wt[V.NFkBn]
    # serum RANKL and bone RANK occupancy unchanged
    assert ko_lo[V.L] == pytest.approx(wt[V.L], rel=1e-6)
    assert ko_lo[V.theta_bone] == pytest.approx(wt[V.theta_bone], rel=1e-6)


def test_more_opg_lowers_free_rankl_and_nfkb(human):
    base = human.parameter_value(P.O_prod)
    lo, hi = ss(human), ss(human, O_prod=300 * base)
    assert hi[V.L] < lo[V.L]
    assert hi[V.NFkBn] < lo[V.NFkBn]


def test_hfd_nfkb_rise_is_mostly_rank_dependent():
    # calibrated to Kiechl 2013 (hepatocyte Rank KO protected on HFD, mice): the diet's
    # RANK-independent inflammatory input is small (g_infl_diet), its RANK part large
    mouse = ranklsim.load_model("mouse")
    wt = ss(mouse)
    ko = ss(mouse, rank_hep_expr=0)
    ko_hfd = ss(mouse, rank_hep_expr=0, diet_fat=1)
    wt_hfd = ss(mouse, diet_fat=1)
    assert ko[V.NFkBn] < ko_hfd[V.NFkBn] < 1.25 * ko[V.NFkBn]
    assert wt_hfd[V.NFkBn] > 1.5 * wt[V.NFkBn]
    # the RANK-dependent part of the HFD rise is larger than the RANK-independent part
    assert wt_hfd[V.NFkBn] - wt[V.NFkBn] > 2 * (ko_hfd[V.NFkBn] - ko[V.NFkBn])
    assert ko_hfd[V.NFkBn] < wt_hfd[V.NFkBn]
