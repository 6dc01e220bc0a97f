"""Scenario schema: built-in library, TOML round trip, rejections, property-based fuzzing."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranklsim.simulate.catalog import DIETS, DRUGS, GENOTYPES, SPECIES_VARIANTS, SUBJECTS, TEST_KINDS
from ranklsim.simulate.library import LIBRARY_DIR, builtin_names, list_scenarios, load_scenario
from ranklsim.simulate.scenario import (
    Scenario,
    ScenarioError,
    Test,
    Treatment,
    dump_scenario_file,
    dumps_scenario,
    load_scenario_file,
    loads_scenario,
    scenario_from_dict,
)

EXAMPLES = sorted((Path(__file__).parents[1] / "scenarios").glob("*.toml"))
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

MOUSE = {
    "name": "fuzz-mouse",
    "description": "base for mutations",
    "species": "mouse",
    "duration_days": 28.0,
    "timecourse": ["G", "I", "NFkBn"],
    "readouts": ["theta_hep"],
    "output_every_days": 1.0,
    "tests": [
        {"kind": "fasting", "day": 0.0},
        {"kind": "ipgtt", "glucose_g_per_kg": 2.0},
        {"kind": "itt", "insulin_U_per_kg": 0.75, "route": "ip", "duration_min": 90.0},
        {"kind": "clamp", "insulin_mU_per_kg_per_min": 2.5, "target_mg_dL": 120.0},
    ],
    "arms": [
        {"name": "WT", "diet": [{"diet": "hfd", "start_day": 7.0, "duration_days": 14.0}]},
        {
            "name": "KO + OPG-Fc",
            "genotype": [{"name": "hepatic_rank_ko", "fraction": 0.5}],
            "treatments": [{"drug": "opg_fc", "dose": 1.0, "unit": "mg/kg", "route": "sc",
                            "start_day": 1.0, "every_days": 3.5, "n_doses": 4}],
            "overrides": {"ikk_expr": 0.5},
        },
    ],
}
HUMAN = {
    "name": "fuzz-human",
    "species": "human",
    "duration_days": 90.0,
    "tests": [{"kind": "ogtt", "glucose_g": 75.0}],
    "arms": [
        {"name": "metformin", "subject": "diabetic",
         "treatments": [{"drug": "metformin", "dose": 500.0, "regimen": "bid", "n_doses": 180,
                         "effects": ["egp"]}]},
        {"name": "denosumab", "subject": "prediabetic",
         "treatments": [{"drug": "denosumab", "dose": 60.0, "every_days": 30.0, "n_doses": 3}]},
    ],
}
QUOTED = r"\['.*'\]|\[\".*\"\]"
PATH = re.compile(rf"^(\(scenario\)|[A-Za-z_]\w*|{QUOTED})(\[\d+\]|{QUOTED}|\.[A-Za-z_]\w*)*$")


def rejected(data, *, source="scenario") -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source)
    return info.value


def paths_of(exc: ScenarioError) -> list[str]:
    return [p for p, _ in exc.errors]


def numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from numbers(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


# ----------------------------------------------------------------------------- library


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_loads_and_round_trips(name, tmp_path):
    scenario = load_scenario(name)
    assert scenario.name == name
    assert loads_scenario(dumps_scenario(scenario)) == scenario
    assert load_scenario_file(dump_scenario_file(scenario, tmp_path / "s.toml")) == scenario
    assert load_scenario(LIBRARY_DIR / f"{name}.toml") == scenario
    assert (LIBRARY_DIR / f"{name}.toml").read_text().startswith("#")  # comment header


def test_library_contents():
    expected = {"mouse-hepatic-rank-ko-hfd", "mouse-opg-fc-hfd", "mouse-anti-rankl-hfd", "human-denosumab",
                "human-metformin", "human-metformin-denosumab", "opg-after-onset"}
    assert expected <= set(builtin_names())
    listed = list_scenarios()
    assert [n for n, _ in listed] == sorted(n for n, _ in listed) == builtin_names()
    assert all(desc for _, desc in listed)
    ko = load_scenario("mouse-hepatic-rank-ko-hfd")
    assert [a.name for a in ko.arms] == ["WT chow", "KO chow", "WT HFD", "KO HFD"]
    assert [t.kind for t in ko.tests] == ["fasting", "ipgtt", "itt", "clamp"]
    metformin = load_scenario("human-metformin").arm("2000 mg/day, RANKL effect only").treatments[0]
    assert metformin.effects == ("rankl",) and metformin.interval_days == 0.5
    assert metformin.administration_days()[-1] <= 90


def test_unknown_builtin_suggests():
    with pytest.raises(ScenarioError, match="did you mean 'human-denosumab'"):
        load_scenario("human-denosumb")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_load(path):
    scenario = load_scenario(str(path))
    assert loads_scenario(dumps_scenario(scenario)) == scenario


def test_examples_exist():
    assert len(EXAMPLES) >= 2


# ----------------------------------------------------------------------------- rejections


def with_treatment(base, **treatment):
    data = copy.deepcopy(base)
    data["arms"][0]["treatments"] = [treatment]
    return data


def test_negative_dose():
    exc = rejected(with_treatment(MOUSE, drug="opg_fc", dose=-1.0, unit="mg/kg"))
    assert "arms[0].treatments[0].dose" in paths_of(exc) and "arms[0].treatments[0].dose" in str(exc)


def test_unknown_genotype_drug_and_override():
    data = copy.deepcopy(MOUSE)
    data["arms"][1]["genotype"][0]["name"] = "hepatic_rank_kox"
    data["arms"][1]["treatments"][0]["drug"] = "opg-fc"
    exc = rejected(data)
    assert {"arms[1].genotype[0].name", "arms[1].treatments[0].drug"} <= set(paths_of(exc))
    assert "'hepatic_rank_ko'" in str(exc) and "'opg_fc'" in str(exc)
    data = copy.deepcopy(MOUSE)
    data["arms"][1]["overrides"] = {"ikk_exp": 0.5}
    exc = rejected(data)
    assert paths_of(exc) == ["arms[1].overrides.ikk_exp"] and "did you mean 'ikk_expr'" in str(exc)


def test_denosumab_needs_human_rankl():
    exc = rejected(with_treatment(MOUSE, drug="denosumab", dose=1.0, unit="mg/kg"))
    assert paths_of(exc) == ["arms[0].treatments[0].drug"]
    message = str(exc)
    assert "does not bind mouse RANKL" in message and "mouse-huRANKL" in message
    assert "opg_fc" in message and "anti_mouse_rankl" in message
    huranKL = with_treatment(MOUSE, drug="denosumab", dose=1.0, unit="mg/kg")
    huranKL["species"] = "mouse-huRANKL"
    assert scenario_from_dict(huranKL).model_species == "mouse"


def test_anti_mouse_rankl_not_in_human():
    exc = rejected(with_treatment(HUMAN, drug="anti_mouse_rankl", dose=1.0, unit="mg/kg"))
    assert paths_of(exc) == ["arms[0].treatments[0].drug"]


def test_mouse_dose_needs_mg_per_kg():
    data = with_treatment(MOUSE, drug="denosumab", dose=1.0)
    data["species"] = "mouse-huRANKL"
    assert paths_of(rejected(data)) == ["arms[0].treatments[0].unit"]


def test_effects_only_for_metformin():
    exc = rejected(with_treatment(MOUSE, drug="opg_fc", dose=1.0, unit="mg/kg", effects=["egp"]))
    assert paths_of(exc) == ["arms[0].treatments[0].effects"]


def test_duplicate_arm_names():
    data = copy.deepcopy(MOUSE)
    data["arms"][1]["name"] = "WT"
    assert paths_of(rejected(data)) == ["arms[1].name"]


def test_ipgtt_is_mouse_only():
    data = copy.deepcopy(HUMAN)
    data["tests"] = [{"kind": "ipgtt"}]
    assert paths_of(rejected(data)) == ["tests[0].kind"]


def test_treatment_after_end_of_run():
    exc = rejected(with_treatment(MOUSE, drug="opg_fc", dose=1.0, unit="mg/kg", start_day=40.0))
    assert paths_of(exc) == ["arms[0].treatments[0].start_day"]
    exc = rejected(with_treatment(MOUSE, drug="opg_fc", dose=1.0, unit="mg/kg", every_days=7.0, n_doses=6))
    assert paths_of(exc) == ["arms[0].treatments[0].n_doses"]


def test_field_not_for_test_kind_and_misc():
    data = copy.deepcopy(MOUSE)
    data["tests"][0]["insulin_U_per_kg"] = 1.0
    data["tests"][1]["route"] = "iv"
    data["diet"] = "hfd"
    del data["arms"][0]["name"]
    exc = rejected(data, source="my.toml")
    assert str(exc).startswith("my.toml: ")
    assert {"tests[0].insulin_U_per_kg", "tests[1].route", "diet", "arms[0].name"} <= set(paths_of(exc))


def test_subject_diet_and_genotype_checks():
    data = copy.deepcopy(MOUSE)
    data["arms"][0]["subject"] = "diabetic"  # a human subject
    data["arms"][0]["diet"][0]["duration_days"] = 30.0  # 7 + 30 > 28
    data["arms"][1]["genotype"][0]["fold"] = 2.0  # not a fold genotype
    data["arms"][1]["treatments"][0]["route"] = "oral"
    exc = rejected(data)
    # field-level problems first; species/run-length checks once the fields are valid
    assert set(paths_of(exc)) == {"arms[1].genotype[0].fold", "arms[1].treatments[0].route"}
    data["arms"][1]["genotype"][0].pop("fold")
    data["arms"][1]["treatments"][0]["route"] = "ip"
    exc = rejected(data)
    assert set(paths_of(exc)) == {"arms[0].subject", "arms[0].diet[0].duration_days"}
    assert "\n  arms[0].subject: " in str(exc)
    data = copy.deepcopy(MOUSE)
    data["arms"][1]["overrides"] = {"rank_hep_expr": 0.2, "beta_slow_on": 0.0}  # 0 switches a process off
    assert paths_of(rejected(data)) == ["arms[1].overrides.rank_hep_expr"]  # the genotype sets it


def test_non_finite_and_bad_toml():
    text = dumps_scenario(scenario_from_dict(MOUSE))
    bad = text.replace("duration_days = 28.0", "duration_days = inf")
    with pytest.raises(ScenarioError, match=r"duration_days: .*finite"):
        loads_scenario(bad)
    with pytest.raises(ScenarioError, match=r"^x\.toml: not valid TOML"):
        loads_scenario("name = = 3", "x.toml")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario_file("/nonexistent/file.toml")


def test_treatment_and_test_helpers():
    t = Treatment(drug="opg_fc", dose=2.0, start_day=1.0, every_days=3.5, n_doses=3)
    assert t.administration_days() == [1.0, 4.5, 8.0]
    assert t.unit_resolved == DRUGS["opg_fc"].default_unit == "mg/kg"
    assert t.dose_mg(0.025) == pytest.approx(0.05) and t.dose_mg_per_kg(0.025) == pytest.approx(2.0)
    assert t.resolved().route == DRUGS["opg_fc"].routes[0]
    assert Treatment(drug="denosumab", dose=60.0).dose_mg(78.0) == 60.0
    assert Test(kind="itt").resolved("mouse").insulin_U_per_kg == 0.75
    human_itt = Test(kind="itt").resolved("human", 10.0)
    assert (human_itt.insulin_U_per_kg, human_itt.route, human_itt.day) == (0.1, "iv", 10.0)
    assert Test(kind="ogtt").resolved("human").glucose_g == 75.0
    assert Test(kind="ogtt").resolved("mouse").glucose_g_per_kg == 2.0
    assert Test(kind="clamp").resolved("mouse").duration_min == 150.0
    assert set(TEST_KINDS) == {t.kind for t in scenario_from_dict(MOUSE).tests} | {"ogtt"}


# ----------------------------------------------------------------------------- fuzzing

NAMES = sorted({*SPECIES_VARIANTS, *GENOTYPES, *DIETS, *DRUGS, *SUBJECTS, *TEST_KINDS, "G", "ikk_expr",
                "mg", "mg/kg", "sc", "ip", "iv", "oral", "bid", "egp", "rankl", "denosumb", ""})
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-1.0, 0.0, 1e300, 0.5, 40.0, 1e5]),
    st.text(max_size=12), st.sampled_from(NAMES),
)
JUNK = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["name", "dose", "kind", "x", "day"]),
                                                 inner, max_size=3)), max_leaves=6)


def node_paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield from node_paths(v, (*prefix, k))


def mutate(data, draw):
    path = draw(st.sampled_from(list(node_paths(data))[1:]))
    parent = data
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    action = draw(st.sampled_from(["replace", "replace", "delete", "extra", "duplicate"]))
    if action == "delete":
        del parent[key]
    elif action == "extra" and isinstance(parent, dict):
        parent[draw(st.sampled_from(["bogus", "Name", "doses", "fraction", "fold", "regimen"]))] = draw(JUNK)
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    else:
        parent[key] = draw(JUNK)


def check_outcome(load):
    try:
        scenario = load()
    except ScenarioError as exc:
        assert exc.errors and str(exc).startswith(exc.source)
        for path, message in exc.errors:
            assert message
            assert (PATH.match(path) is not None) or message.startswith("not valid TOML"), (path, message)
        return None
    assert isinstance(scenario, Scenario)
    assert all(math.isfinite(x) for x in numbers(scenario.model_dump()))
    assert loads_scenario(dumps_scenario(scenario)) == scenario
    return scenario


@FUZZ
@given(st.data())
def test_fuzz_mutated_dicts(data):
    mutated = copy.deepcopy(data.draw(st.sampled_from([MOUSE, HUMAN])))
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(mutated, data.draw)
    check_outcome(lambda: scenario_from_dict(mutated))
    try:
        text = tomli_w.dumps(mutated)
    except (TypeError, ValueError):
        return  # not representable in TOML (e.g. None): the dict path above covers it
    check_outcome(lambda: loads_scenario(text, "fuzz.toml"))


@FUZZ
@given(st.data())
def test_fuzz_text(data):
    text = dumps_scenario(scenario_from_dict(data.draw(st.sampled_from([MOUSE, HUMAN]))))
    choice = data.draw(st.sampled_from(["random", "splice", "cut"]))
    if choice == "random":
        text = data.draw(st.text(max_size=200))
    elif choice == "splice":
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.text(max_size=20)) + text[at:]
    else:
        a, b = sorted(data.draw(st.lists(st.integers(0, len(text)), min_size=2, max_size=2)))
        text = text[:a] + text[b:]
    check_outcome(lambda: loads_scenario(text, "fuzz.toml"))


# ----------------------------------------------------------------------------- resource limits and outputs


def test_resource_limits_name_the_field_and_the_limit():
    from ranklsim.simulate.scenario_limits import MAX_EVENTS, MAX_OUTPUT_POINTS

    data = copy.deepcopy(HUMAN)
    data["duration_days"], data["output_every_days"] = 3650.0, 1e-9  # once a MemoryError
    exc = rejected(data)
    assert paths_of(exc) == ["output_every_days"]
    assert "1e-09 gives 3.7e+12 output points per arm; the limit is 100,000 points per arm" in str(exc)
    assert "--no-limits" in str(exc)
    data["output_every_days"], data["duration_days"] = 1e-6, 1.0  # once a hang
    data["tests"] = []
    data["arms"][0]["treatments"] = data["arms"][1]["treatments"] = []
    assert paths_of(rejected(data)) == ["output_every_days"]
    assert scenario_from_dict(data, limits=False).output_every_days == 1e-6
    data = with_treatment(HUMAN, drug="metformin", dose=500.0, every_days=0.00009, n_doses=1_000_000)
    exc = rejected(data)  # once a hang
    assert paths_of(exc) == ["arms[0].treatments[0].n_doses"]
    assert f"the limit is {MAX_EVENTS:,} events per scenario" in str(exc)
    assert MAX_OUTPUT_POINTS >= 36_500  # daily outputs over 100 years fit


def test_diet_period_and_row_limits():
    data = copy.deepcopy(MOUSE)
    data["duration_days"] = 36_000.0
    data["arms"][0]["diet"] = [{"diet": "hfd" if k % 2 else "chow", "start_day": 0.9 * k, "duration_days": 0.9}
                               for k in range(20_000)]
    exc = rejected(data)
    assert paths_of(exc) == ["arms[0].diet"] and "40,000 diet changes" in str(exc)
    data = copy.deepcopy(MOUSE)
    data["duration_days"], data["output_every_days"] = 90.0, 0.001  # 90,000 points x 13 ids x 2 arms
    data["timecourse"] = ["G", "I", "NFkBn", "IKKa", "L", "O", "beta", "M_hep", "X", "Y", "A_diet", "S"]
    exc = rejected(data)
    assert paths_of(exc) == ["timecourse"] and "time-course rows; the limit is 2,000,000 rows" in str(exc)
    text = tomli_w.dumps(data)
    assert loads_scenario(text, limits=False).timecourse[-1] == "S"


def test_builtin_and_examples_are_within_the_limits():
    for name in builtin_names():
        load_scenario(name, limits=True)
    for path in EXAMPLES:
        load_scenario_file(path, limits=True)


def test_arm_name_length_limit():
    data = copy.deepcopy(MOUSE)
    data["arms"][0]["name"] = "x" * 101
    exc = rejected(data)
    assert paths_of(exc) == ["arms[0].name"] and "at most 100 characters" in str(exc)
    data["arms"][0]["name"] = "x" * 100
    assert scenario_from_dict(data).arms[0].name == "x" * 100


@pytest.mark.parametrize("compartment", ["cytosol", "gut", "hepatocyte", "nucleus", "serum"])
def test_compartments_are_not_outputs(compartment):
    for field in ("readouts", "timecourse"):
        data = copy.deepcopy(MOUSE)
        data[field] = ["G", compartment]
        exc = rejected(data)
        assert paths_of(exc) == [f"{field}[1]"]
        assert f"{compartment!r} is a compartment" in str(exc)


def test_output_ids_are_what_the_model_records():
    from ranklsim.simulate import load_model
    from ranklsim.simulate.scenario_parts import OUTPUT_IDS

    for species in ("human", "mouse"):
        assert set(load_model(species, "chronic").ids) == OUTPUT_IDS
