import subprocess
import sys

import pandas as pd
import pytest

from ranklsim.cli import main


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "ranklsim.cli", "--help"], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0
    for cmd in ("demo", "list", "run", "simulate", "export-sbml", "params"):
        assert cmd in out.stdout


def test_simulate_writes_tidy_csv(tmp_path):
    out = tmp_path / "tc.csv"
    assert main(["simulate", "--species", "mouse", "--hours", "2", "--points", "5", "--select", "G,I",
                 "--set", "L_prod=0.01", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["time", "time_unit", "id", "value", "unit"]
    assert set(df["id"]) == {"G", "I"} and len(df) == 10
    assert set(df["unit"]) == {"mg_per_dL", "pmol_per_L"}


def test_params_filter(capsys):
    assert main(["params", "--species", "mouse", "--grep", "kp1"]) == 0
    text = capsys.readouterr().out
    assert "gi_kp1" in text and "mouse" in text


def test_cli_reports_bad_id(capsys):
    assert main(["simulate", "--hours", "1", "--set", "nope=1", "--out", "x.csv"]) == 2
    assert "unknown parameter id 'nope'" in capsys.readouterr().err


def test_every_subcommand_has_help(capsys):
    for argv in (["run"], ["simulate"], ["export-sbml"], ["params"], ["demo"], ["list"], ["fit"], ["profile"],
                 ["sample"], ["gsa"], ["cohort"], ["replicates"], ["dev", "regenerate"]):
        with pytest.raises(SystemExit) as info:
            main([*argv, "--help"])
        assert info.value.code == 0
        assert "usage: ranklsim" in capsys.readouterr().out


def test_simulate_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "tc.csv"
    args = ["simulate", "--hours", "1", "--points", "3", "--select", "G", "--out", str(out)]
    assert main(args) == 0
    assert main(args) == 2
    assert "already exists; add --force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
