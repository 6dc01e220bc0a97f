"""``ranklsim fit / profile / sample / gsa``: validated numbers, one-line user errors, the gsa command.

The parser is built from :func:`ranklsim.fitting.cli.add_parsers` alone, so these tests do not depend
on the other subcommands of ``ranklsim``.
"""

from __future__ import annotations

import argparse
import json

import pytest

from ranklsim.errors import UsageError
from ranklsim.fitting.cli import add_parsers


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ranklsim")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize(("argv", "message"), [
    (["fit", "human", "--out", "o", "--starts", "0"], "--starts: must be >= 1, got 0"),
    (["fit", "human", "--out", "o", "--max-nfev", "0"], "--max-nfev: must be >= 1, got 0"),
    (["fit", "human", "--out", "o", "--workers", "0"], "--workers: must be >= 1, got 0"),
    (["fit", "human", "--out", "o", "--seed", "-1"], "--seed: must be >= 0, got -1"),
    (["profile", "human", "--out", "o", "--from", "f", "--points", "1"], "--points: must be >= 2, got 1"),
    (["sample", "human", "--out", "o", "--from", "f", "--steps", "0"], "--steps: must be >= 1, got 0"),
    (["sample", "human", "--out", "o", "--from", "f", "--steps", "ten"], "expected an integer"),
    (["gsa", "--out", "o", "--n-base", "100"], "must be a power of 2, got 100 (try 64 or 128)"),
    (["gsa", "--out", "o", "--chunk-size", "0"], "--chunk-size: must be >= 1"),
])
def test_bad_numbers_are_rejected_with_the_option_and_limit(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        parse(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_engine_options_mean_the_same_in_every_command():
    for argv in (["fit", "human", "--out", "o"], ["profile", "human", "--out", "o", "--from", "f"],
                 ["gsa", "--out", "o"]):
        args = parse([*argv, "--workers", "3", "--scheduler", "local"])
        assert args.workers == 3 and args.scheduler == "local"
    assert parse(["fit", "human", "--out", "o"]).workers is None  # default: one per CPU, capped at tasks


def test_unknown_profile_parameter_is_a_usage_error(tmp_path):
    pytest.importorskip("petab.v1", reason="the fitting extra (petab) is not installed")
    from ranklsim.fitting.objective import PetabObjective
    from ranklsim.fitting.problems import shipped_problem

    obj = PetabObjective(shipped_problem("human"))
    (tmp_path / "best.json").write_text(json.dumps({"x_linear": obj.to_parameters(obj.x_nominal)}))
    args = parse(["profile", "human", "--out", str(tmp_path / "p"), "--from", str(tmp_path),
                  "--parameters", "gi_kp33", "--workers", "1"])
    with pytest.raises(UsageError, match=r"--parameters: unknown parameter 'gi_kp33' \(did you mean 'gi_kp3'"):
        args.func(args)
    args = parse(["sample", "human", "--out", str(tmp_path / "s"), "--from", str(tmp_path / "none")])
    with pytest.raises(UsageError, match=r"best\.json not found: run `ranklsim fit"):
        args.func(args)


def test_gsa_command_writes_csv_json_png(tmp_path, capsys):
    pytest.importorskip("SALib", reason="SALib (pip install ranklsim[fitting]) is needed for Sobol indices")
    args = parse(["gsa", "--out", str(tmp_path), "--n-base", "4", "--parameters", "f_rank_stim,gi_Vmx",
                  "--workers", "1"])
    assert args.func(args) == 0
    for name in ("sobol.csv", "sobol.json", "sobol.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    meta = json.loads((tmp_path / "sobol.json").read_text())
    assert meta["n_evaluations"] == 4 * (2 + 2) and meta["n_base"] == 4 and "ranklsim" in meta
    assert set(meta["bounds_linear_log10_uniform"]) == {"f_rank_stim", "gi_Vmx"}
    assert "16 evaluations" in capsys.readouterr().out
    bad = parse(["gsa", "--out", str(tmp_path), "--parameters", "f_rank_stm"])
    with pytest.raises(UsageError, match="did you mean 'f_rank_stim'"):
        bad.func(bad)
