"""Fuzzing what a user can type: scenario files and command lines, run for real.

Every generated case must end in a clean outcome: success (exit 0), a run whose parts failed and are
reported (exit 1), or a one-line user error (exit 2).  Never a traceback, never a hang (a per-case
time limit), never a NaN or a negative physiological readout in what was written.  The quick suite
runs a few hundred cases; ``-m slow`` runs 500 more.
"""

from __future__ import annotations

import collections
import copy
import json
import math
import os
import signal
import string
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranklsim.cli import main

#: wall-time limit of one case, seconds (a case that needs longer is a hang)
CASE_SECONDS = 60
#: readouts that are signed by definition (suppression of EGP can be negative when EGP rises, the
#: incremental AUC and the ITT slope change sign with the response)
SIGNED_READOUTS = {"EGP_suppression", "KITT", "iAUC_G", "G_nadir_pct"}

HUMAN = {
    "name": "fuzz-human", "species": "human", "duration_days": 20.0, "output_every_days": 5.0,
    "timecourse": ["G", "I"], "readouts": ["theta_hep"],
    "tests": [{"kind": "fasting"}, {"kind": "ogtt", "day": 10.0}],
    "arms": [{"name": "control", "subject": "prediabetic"},
             {"name": "treated", "subject": "prediabetic",
              "treatments": [{"drug": "denosumab", "dose": 60.0, "every_days": 10.0, "n_doses": 2}],
              "diet": [{"diet": "hfd", "start_day": 2.0, "duration_days": 5.0}]}],
}
MOUSE = {
    "name": "fuzz-mouse", "species": "mouse", "duration_days": 14.0,
    "tests": [{"kind": "fasting"}, {"kind": "ipgtt"}, {"kind": "clamp"}],
    "arms": [{"name": "wt", "diet": [{"diet": "hfd"}]},
             {"name": "ko", "genotype": [{"name": "hepatic_rank_ko"}], "diet": [{"diet": "hfd"}],
              "overrides": {"L_prod": 0.004}}],
}
NASTY_VALUES = [0, -1, -1.5, 1e-300, 9e-299, 1e-9, 1e308, math.inf, -math.inf, math.nan, 10**7, 0.1 + 0.2,
                "", "x" * 300, "hfd", "denosumab", "G", "cytosol", True, [], [1, 2], {}, {"a": 1}]
#: values a careful user would type, of the type already there: half the replacements, so that many
#: mutated files still run
PLAUSIBLE = {float: [0.5, 1.0, 3.0, 7.0, 12.0, 30.0, 45.0], int: [1, 2, 3],
             str: ["chow", "hfd", "ogtt", "fasting", "sc", "iv", "mg", "reference", "normoglycaemic",
                   "diabetic", "opg_fc", "G", "arm b"],
             list: [["G"], ["EGP", "theta_hep"], []], dict: [{}, {"L_prod": 0.002}]}
UNKNOWN_KEYS = ["extra", "dose_mg", "arm", "test", "Name"]


#: outcome counts of this session (exit code per kind of case); written to the file named by
#: RANKLSIM_FUZZ_REPORT at the end, for the record of a long run
OUTCOMES: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_outcomes():
    yield
    target = os.environ.get("RANKLSIM_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps(dict(OUTCOMES), indent=1, sort_keys=True))


class CaseTimeout(Exception):
    """A case ran past :data:`CASE_SECONDS`."""


@contextmanager
def time_limit(seconds: int):
    def _raise(signum, frame):
        raise CaseTimeout(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _paths(node, prefix=()):
    """Every (path, value) in a nested dict/list scenario."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _set(tree, path, value, delete=False):
    *head, last = path
    for key in head:
        tree = tree[key]
    if delete:
        del tree[last]
    else:
        tree[last] = value


@st.composite
def scenario_mutations(draw):
    base = copy.deepcopy(draw(st.sampled_from([HUMAN, MOUSE])))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, _ in _paths(base) if p]
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["value", "value", "value", "delete", "unknown_key", "repeat"]))
        parent = base
        for key in path[:-1]:
            parent = parent[key]
        if action == "delete":
            _set(base, path, None, delete=True)
        elif action == "unknown_key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(UNKNOWN_KEYS))] = copy.deepcopy(draw(st.sampled_from(NASTY_VALUES)))
        elif action == "repeat" and isinstance(parent, list):
            parent.extend(copy.deepcopy(parent[-1:]) * draw(st.sampled_from([1, 5, 200])))
        else:
            current = dict(_paths(base))[path]
            plausible = PLAUSIBLE.get(type(current))
            pool = NASTY_VALUES if not plausible or draw(st.booleans()) else plausible
            _set(base, path, copy.deepcopy(draw(st.sampled_from(pool))))  # never share the pools' lists
    return base


def _toml(tree) -> str:
    def clean(node):  # TOML has no null and no heterogeneous nesting rules to worry about here
        if isinstance(node, dict):
            return {str(k): clean(v) for k, v in node.items()}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return tomli_w.dumps(clean(tree))


def _check_outputs(out: Path) -> None:
    for path in out.rglob("readouts.csv"):
        table = pd.read_csv(path)
        values = pd.to_numeric(table["value"], errors="coerce")
        assert not values.isna().any(), f"NaN readouts in {path}"
        unsigned = ~table["readout"].isin(SIGNED_READOUTS)
        assert (values[unsigned] >= 0).all(), table[unsigned & (values < 0)].to_string()
    for path in out.rglob("timecourse.csv"):
        table = pd.read_csv(path)
        values = pd.to_numeric(table["value"], errors="coerce")
        assert not values.isna().any(), f"NaN in {path}"
        assert (values[~table["id"].isin(["X", "Y"])] >= 0).all(), f"negative values in {path}"


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of ``ranklsim ARGS`` run in this process (argparse's exits included)."""
    try:
        with time_limit(CASE_SECONDS):
            code = main(args)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code if isinstance(exc.code, int) else 2
    err = capsys.readouterr().err
    return code, err


def assert_clean(code: int, err: str, args) -> None:
    assert code in (0, 1, 2), (args, code, err)
    assert "Traceback" not in err, (args, err)
    if code == 2:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert lines and lines[-1].startswith(("ranklsim: error:", "usage:", "ranklsim ")), (args, err)


def _scenario_case(tree, tmp_path_factory, capsys):
    work = tmp_path_factory.mktemp("scenario")
    path = work / "fuzz.toml"
    path.write_text(_toml(tree))
    out = work / "out"
    args = ["run", str(path), "--out", str(out), "--no-figures", "--quiet"]
    code, err = run_cli(args, capsys)
    OUTCOMES[f"scenario exit {code}"] += 1
    assert_clean(code, err, tree)
    if code in (0, 1):
        _check_outputs(out)


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=scenario_mutations())
def test_scenario_files_end_cleanly(tree, tmp_path_factory, capsys):
    _scenario_case(tree, tmp_path_factory, capsys)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=scenario_mutations())
def test_scenario_files_end_cleanly_500(tree, tmp_path_factory, capsys):
    _scenario_case(tree, tmp_path_factory, capsys)


# ----------------------------------------------------------------------------- command lines

NUMBERS = ["0", "-1", "1", "2", "3", "1e8", "1e308", "nan", "inf", "-inf", "x", "", "0.5", "1e-9"]
GOOD_NUMBERS = ["1", "2", "3", "0.5"]
IDS = ["G", "I", "nope", "L_prod", "cytosol", "G,I", ",", "gi_VG"]


def _out_choices(work: Path) -> list[str]:
    (work / "a-file.csv").write_text("x\n")
    (work / "a-dir").mkdir(exist_ok=True)
    return [str(work / "new" / "out.csv"), str(work / "a-file.csv"), str(work / "a-dir"),
            "/proc/ranklsim-not-writable/out", str(work / "a-file.csv" / "below")]


@st.composite
def command_lines(draw, outs: list[str]):
    cmd = draw(st.sampled_from(["simulate", "params", "export-sbml", "run", "cohort", "fit", "list"]))
    valid_out = [outs[0].replace("out.csv", f"out{draw(st.integers(0, 10**6))}.csv")]
    out = ["--out", draw(st.sampled_from(outs if draw(st.booleans()) else valid_out))]

    def number() -> str:
        return draw(st.sampled_from(NUMBERS if draw(st.booleans()) else GOOD_NUMBERS))

    if cmd == "simulate":
        args = [*out, "--hours", number(), "--points", number()]
        if draw(st.booleans()):
            args += ["--set", f"{draw(st.sampled_from(IDS))}={number()}"]
        if draw(st.booleans()):
            args += ["--select", draw(st.sampled_from(IDS))]
        return [cmd, "--species", draw(st.sampled_from(["human", "mouse"])), *args]
    if cmd == "params":
        return [cmd, "--grep", draw(st.sampled_from(["[", "(", "kp1", "", ".*", "*"])),
                *(out if draw(st.booleans()) else [])]
    if cmd == "export-sbml":
        return [cmd, "--species", draw(st.sampled_from(["human", "mouse", "rat"])), *out]
    if cmd == "run":
        return [cmd, draw(st.sampled_from(["nope", "missing.toml", "mouse-opg-fc-hfd"])), *out, "--no-figures"]
    if cmd == "cohort":
        return [cmd, "--n", draw(st.sampled_from(["0", "-1", "x", "3", "1e8"])), "--years",
                draw(st.sampled_from(["0", "-1", "1e6", "40", "nan", "5"])), "--workers", "1", "--quiet", *out]
    if cmd == "fit":
        return [cmd, draw(st.sampled_from(["human", "nope.yaml"])), "--starts",
                draw(st.sampled_from(["0", "-1", "x"])), "--max-nfev", draw(st.sampled_from(["0", "-1", "1"])), *out]
    return [cmd]


@pytest.fixture(scope="module")
def cli_outs(tmp_path_factory) -> list[str]:
    return _out_choices(tmp_path_factory.mktemp("cli"))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_command_lines_end_cleanly(data, cli_outs, capsys):
    args = data.draw(command_lines(cli_outs))
    code, err = run_cli(args, capsys)
    OUTCOMES[f"{args[0]} exit {code}"] += 1
    assert_clean(code, err, args)


def test_the_checks_catch_a_traceback_and_a_negative_readout(tmp_path):
    with pytest.raises(AssertionError):
        assert_clean(1, "Traceback (most recent call last):\n  ...", ["x"])
    with pytest.raises(AssertionError):
        assert_clean(3, "", ["x"])
    (tmp_path / "readouts.csv").write_text("arm,test,day,readout,value,unit\na,fasting,0,G,-1,mg_per_dL\n")
    with pytest.raises(AssertionError):
        _check_outputs(tmp_path)


def test_printable_names_round_trip():
    # the TOML writer is part of the harness: a name with every printable character survives it
    tree = copy.deepcopy(HUMAN)
    tree["description"] = string.printable
    assert "description" in _toml(tree)
