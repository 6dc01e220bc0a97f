"""Every bad invocation of the reliability issue ends with one ``ranklsim: error: ...`` line and exit 2.

Run in this process through :func:`ranklsim.cli.main` (argparse's exits included); a few through a
real ``ranklsim`` process, where stderr is everything the user sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from ranklsim.cli import OUT_KINDS, main, one_line
from ranklsim.cli_options import follow_up_years
from ranklsim.constants import MAX_FOLLOW_UP_YEARS
from ranklsim.errors import UsageError
from ranklsim.outputs import check_output_file, check_output_folder
from ranklsim.rundir import folder_lock
from ranklsim.simulate.scenario import ScenarioError
from ranklsim.simulate.simulator import OutOfBoundsWarning

#: a place even root cannot write in (sysfs), if this machine has one
UNWRITABLE = "/sys/ranklsim-test-out"


def _read_only(folder: str) -> bool:
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return True
    return False


needs_unwritable = pytest.mark.skipif(not _read_only("/sys"), reason="no read-only /sys here")


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ranklsim: error: "), err
    return lines[0]


@pytest.fixture
def places(tmp_path) -> dict[str, str]:
    (tmp_path / "a-file.csv").write_text("x\n")
    (tmp_path / "a-dir").mkdir()
    return {"file": str(tmp_path / "a-file.csv"), "dir": str(tmp_path / "a-dir"),
            "below-file": str(tmp_path / "a-file.csv" / "out"), "unwritable": UNWRITABLE,
            "new-file": str(tmp_path / "new" / "deeper" / "out.csv"), "new-dir": str(tmp_path / "new-dir")}


# ----------------------------------------------------------------------------- --out, checked before any work

#: (command line without --out, where --out points, expected text)
OUT_CASES = [
    (["simulate", "--hours", "1"], "file", "already exists; add --force to overwrite it"),
    (["simulate", "--hours", "1"], "dir", "is a folder; give a file name"),
    (["simulate", "--hours", "1"], "below-file", "is a file, not a folder"),
    (["export-sbml"], "file", "already exists; add --force"),
    (["export-sbml"], "dir", "is a folder; give a file name"),
    (["export-sbml"], "below-file", "is a file, not a folder"),
    (["params", "--grep", "kp1"], "file", "already exists; add --force"),
    (["params"], "dir", "is a folder; give a file name"),
    (["run", "mouse-opg-fc-hfd", "--no-figures"], "file", "is a file; give a folder"),
    (["run", "mouse-opg-fc-hfd"], "below-file", "is a file, not a folder"),
    (["demo", "--fast"], "file", "is a file; give a folder"),
    (["fit", "human", "--starts", "1"], "file", "is a file; give a folder"),
    (["profile", "human", "--from", "nowhere"], "file", "is a file; give a folder"),
    (["sample", "human", "--from", "nowhere"], "below-file", "is a file, not a folder"),
    (["gsa"], "file", "is a file; give a folder"),
    (["cohort", "--n", "2", "--workers", "1"], "file", "is a file; give a folder"),
    (["cohort", "--n", "2", "--workers", "1"], "below-file", "is a file, not a folder"),
    (["replicates", "--replicates", "1"], "file", "is a file; give a folder"),
    (["uncertainty", "--study", "screen"], "file", "is a file; give a folder"),
]


@pytest.mark.parametrize(("argv", "where", "expected"), OUT_CASES,
                         ids=[f"{a[0]}-{w}" for a, w, _ in OUT_CASES])
def test_bad_out_is_one_line(argv, where, expected, places, capsys):
    code, _, err = run([*argv, "--out", places[where]], capsys)
    line = one_error_line(code, err)
    assert expected in line and "--out" in line


@needs_unwritable
@pytest.mark.parametrize("argv", [["simulate"], ["export-sbml"], ["export-omex", "mouse-opg-fc-hfd"], ["params"],
                                  ["run", "mouse-opg-fc-hfd"], ["demo"], ["fit", "human"], ["cohort", "--n", "2"]])
def test_unwritable_out_is_one_line(argv, capsys):
    code, _, err = run([*argv, "--out", f"{UNWRITABLE}/x"], capsys)
    assert "cannot write in /sys" in one_error_line(code, err)


def test_every_command_with_out_is_checked():
    assert set(OUT_KINDS) == {"simulate", "export-sbml", "export-omex", "params", "run", "demo", "fit", "profile",
                              "sample", "gsa", "cohort", "replicates", "uncertainty"}


def test_force_overwrites_a_file_and_nothing_is_created_by_a_refusal(places, capsys):
    code, out, _ = run(["export-sbml", "--species", "mouse", "--out", places["file"], "--force"], capsys)
    assert code == 0 and "wrote" in out
    assert Path(places["file"]).read_text().startswith("<?xml")
    new = places["new-file"]
    code, _, err = run(["simulate", "--hours", "1", "--set", "nope=1", "--out", new], capsys)
    assert "unknown parameter id 'nope'" in one_error_line(code, err)
    assert not Path(new).parent.exists()  # the check creates nothing


def test_output_helpers(places, tmp_path):
    assert check_output_folder(places["dir"]) == Path(places["dir"])  # a previous run's folder: fine
    assert check_output_folder(places["new-dir"]) == Path(places["new-dir"])
    assert check_output_file(places["new-file"]) == Path(places["new-file"])
    assert check_output_file(places["file"], force=True) == Path(places["file"])
    with pytest.raises(UsageError, match="is a folder"):
        check_output_file(str(tmp_path) + "/not-yet/")
    with pytest.raises(UsageError, match="empty path"):
        check_output_folder("")
    assert not Path(places["new-dir"]).exists() and not Path(places["new-file"]).parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-dir", "a-file.csv"]  # no probe left


def test_unwritable_parent_without_root(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.geteuid() == 0:  # root writes anywhere: simulate the refusal the probe would get
            def refuse(*args, **kwargs):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
        with pytest.raises(UsageError, match=r"cannot write in .*locked \(Permission denied\)"):
            check_output_folder(locked / "run")
        with pytest.raises(UsageError, match="cannot write in"):
            check_output_file(locked / "x.csv")
    finally:
        locked.chmod(0o700)


# ----------------------------------------------------------------------------- numbers and other values

NUMBER_CASES = [
    (["fit", "human", "--starts", "0"], "--starts: must be >= 1, got 0"),
    (["fit", "human", "--starts", "-1"], "--starts: must be >= 1, got -1"),
    (["fit", "human", "--max-nfev", "0"], "--max-nfev: must be >= 1, got 0"),
    (["fit", "human", "--max-nfev", "-1"], "--max-nfev: must be >= 1, got -1"),
    (["fit", "human", "--seed", str(2**40)], "--seed: must be <= 4294967295"),
    (["fit", "human", "--workers", "100000"], "--workers: must be <="),
    (["simulate", "--points", "1e8"], "--points: expected an integer, got '1e8'"),
    (["simulate", "--points", "100000000"], "--points: must be <= 100000, got 100000000"),
    (["simulate", "--points", "1"], "--points: must be >= 2"),
    (["simulate", "--hours", "0"], "--hours: must be > 0"),
    (["simulate", "--hours", "1e9"], "--hours: must be <= 876000"),
    (["simulate", "--hours", "nan"], "--hours: expected a finite number"),
    (["profile", "human", "--from", "f", "--points", "100000"], "--points: must be <= 1000"),
    (["sample", "human", "--from", "f", "--steps", "0"], "--steps: must be >= 1"),
    (["gsa", "--n-base", "131072"], "--n-base: must be <= 65536"),
    (["gsa", "--n-base", "100"], "must be a power of 2"),
    (["simulate", "--species", "rat"], "--species: invalid choice: 'rat'"),
    (["simulate"], "the following arguments are required: --out"),
    (["bogus"], "invalid choice: 'bogus'"),
]


@pytest.mark.parametrize(("argv", "expected"), NUMBER_CASES, ids=[" ".join(a) for a, _ in NUMBER_CASES])
def test_bad_numbers_and_options_are_one_line(argv, expected, tmp_path, capsys):
    needs_out = argv[0] not in ("bogus",) and expected != "the following arguments are required: --out"
    code, _, err = run([*argv, *(["--out", str(tmp_path / "o")] if needs_out else [])], capsys)
    line = one_error_line(code, err)
    assert expected in line
    if argv[0] != "bogus":
        assert f"(see 'ranklsim {argv[0]} --help')" in line


@pytest.mark.parametrize("years", ["1e6", "40", str(MAX_FOLLOW_UP_YEARS + 0.5)])
def test_follow_up_years_type_refuses_a_horizon_beyond_the_exams(years):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match=f"must be <= {MAX_FOLLOW_UP_YEARS:g}"):
        follow_up_years(years)
    assert follow_up_years("15") == 15.0 and follow_up_years("2.5") == 2.5


@pytest.mark.parametrize("years", ["1e6", "40"])
def test_cohort_years_beyond_the_follow_up_is_refused(years, tmp_path, capsys):
    code, _, err = run(["cohort", "--n", "2", "--years", years, "--workers", "1", "--quiet",
                        "--out", str(tmp_path / "c")], capsys)
    assert "--years: must be <= 15" in one_error_line(code, err)
    assert not (tmp_path / "c" / "summary.json").exists()


def test_follow_up_limit_is_the_last_default_examination():
    from ranklsim.cohort.followup import DEFAULT_EXAMS, exam_schedule
    from ranklsim.constants import MAX_FOLLOW_UP_YEARS

    assert max(DEFAULT_EXAMS) == MAX_FOLLOW_UP_YEARS
    with pytest.raises(ValueError, match=r"<= 15 \(the follow-up the cohort is calibrated for"):
        exam_schedule(40.0)  # the library refuses too, never stops silently at year 15


@pytest.mark.parametrize("pattern", ["[", "("])
def test_params_grep_bad_regex(pattern, capsys):
    code, _, err = run(["params", "--grep", pattern], capsys)
    assert "is not a regular expression" in one_error_line(code, err)


def test_out_of_bounds_set_is_one_line(tmp_path, capsys):
    code, _, err = run(["simulate", "--set", "gi_VG=0", "--out", str(tmp_path / "x.csv")], capsys)
    line = one_error_line(code, err)
    assert "gi_VG = 0 is outside its table bounds [0.188, 18.8] dL_per_kg" in line and "allow_out_of_bounds" in line
    assert not (tmp_path / "x.csv").exists()


def test_solver_failure_of_simulate_is_one_line(tmp_path, capsys):
    code, _, err = run(["simulate", "--set", "gi_VG=0", "--allow-out-of-bounds", "--out", str(tmp_path / "x.csv")],
                       capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2, err  # the out-of-bounds warning, then the error
    assert lines[0].startswith("ranklsim: warning: ") and "outside their table bounds" in lines[0]
    assert lines[1].startswith("ranklsim: error: ") and "solver failed" in lines[1] and "gi_VG" in lines[1]
    assert not (tmp_path / "x.csv").exists()


def test_simulate_rows_limit(tmp_path, capsys):
    code, _, err = run(["simulate", "--points", "100000", "--select", ",".join(["G"] * 30),
                        "--out", str(tmp_path / "x.csv")], capsys)
    assert "3,000,000 rows; the limit is 2,000,000" in one_error_line(code, err)


def test_scenario_problems_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    arms = "\n".join(f'[[arms]]\nname = "a{i}"\nsubject = "nobody{i}"' for i in range(7))
    bad.write_text(f'name = "bad"\nspecies = "human"\nduration_days = 10.0\n{arms}\n')
    code, _, err = run(["run", str(bad), "--out", str(tmp_path / "o")], capsys)
    line = one_error_line(code, err)
    assert line.startswith(f"ranklsim: error: {bad}: 7 problems: arms[0].subject: unknown subject 'nobody0'")
    assert line.endswith("; ... and 2 more (see --debug)")
    code, _, err = run(["run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")], capsys)
    assert "cannot read the file" in one_error_line(code, err)


def test_scenario_limits_and_no_limits(tmp_path, capsys):
    big = tmp_path / "big.toml"
    big.write_text('name = "big"\nspecies = "human"\nduration_days = 3650.0\noutput_every_days = 1e-9\n'
                   '[[arms]]\nname = "a"\n')
    code, _, err = run(["run", str(big), "--out", str(tmp_path / "o")], capsys)
    line = one_error_line(code, err)
    assert "output_every_days: 1e-09 gives 3.7e+12 output points per arm; the limit is 100,000" in line
    assert "--no-limits" in line
    fine = tmp_path / "fine.toml"
    fine.write_text('name = "fine"\nspecies = "human"\nduration_days = 1.0\noutput_every_days = 0.00001\n'
                    'readouts = ["G"]\n[[arms]]\nname = "a"\n')
    assert run(["run", str(fine), "--out", str(tmp_path / "o")], capsys)[0] == 2
    code, _, err = run(["run", str(fine), "--out", str(tmp_path / "o"), "--no-limits", "--quiet", "--no-figures"],
                       capsys)
    assert code == 0, err


def test_debug_shows_the_traceback(places):
    with pytest.raises(UsageError, match="is a folder"):
        main(["--debug", "simulate", "--out", places["dir"]])


def test_one_line_messages():
    assert one_line(FileExistsError(17, "File exists", "x.csv")) == "x.csv: File exists"
    assert one_line(MemoryError()).startswith("out of memory")
    exc = ScenarioError("s.toml", [("a", "first"), ("b", "second")])
    assert one_line(exc) == "s.toml: 2 problems: a: first; b: second"
    assert one_line(ValueError("")) == "ValueError"


# ----------------------------------------------------------------------------- a real process


def ranklsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "ranklsim.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, check=False, timeout=120)


@pytest.mark.parametrize("argv", [
    ["simulate", "--out", "a-dir"],
    ["fit", "human", "--starts", "0", "--out", "f"],
    ["export-sbml", "--out", "a-file.csv"],
    ["run", "nope", "--out", "r"],
])
def test_process_stderr_is_one_line(argv, tmp_path):
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-file.csv").write_text("x\n")
    proc = ranklsim(*argv, cwd=tmp_path)
    one_error_line(proc.returncode, proc.stderr)


def test_run_keeps_solver_log_lines_off_stderr(tmp_path):
    (tmp_path / "s.toml").write_text('name = "s"\nspecies = "human"\nduration_days = 2.0\n'
                                     'allow_out_of_bounds = true\n'
                                     '[[arms]]\nname = "broken"\noverrides = { gi_VG = 0.0 }\n'
                                     '[[arms]]\nname = "fine"\n')
    proc = ranklsim("run", "s.toml", "--out", "o", "--quiet", "--no-figures", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    # the out-of-bounds warning (one line) and the failure; no solver log line
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("ranklsim: warning: s/broken run with parameter values outside"), proc.stderr
    assert lines[1].startswith("FAILED broken: "), proc.stderr
    assert json.loads((tmp_path / "o" / "out_of_bounds.json").read_text()) == {"broken": {"gi_VG": 0.0}}


def test_run_refuses_out_of_bounds_overrides_unless_allowed(tmp_path, capsys):
    (tmp_path / "s.toml").write_text('name = "s"\nspecies = "human"\nduration_days = 2.0\n'
                                     '[[arms]]\nname = "a"\noverrides = { gi_VG = 0.0 }\n')
    code, _, err = run(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    line = one_error_line(code, err)
    assert "arms[0].overrides.gi_VG: 0 is outside its table bounds [0.188, 18.8] dL_per_kg" in line, line
    assert "allow_out_of_bounds = true" in line


def test_a_second_run_into_a_held_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "o"
    with folder_lock(out):  # another thread of this process holds it: same refusal as another process
        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(code=run(
            ["run", "mouse-opg-fc-hfd", "--out", str(out), "--quiet", "--no-figures"], capsys)))
        worker.start()
        worker.join(60)
    code, _, err = result["code"]
    assert "is in use by another ranklsim run" in one_error_line(code, err)


def test_a_solver_failure_in_a_run_logs_nothing_on_stderr(tmp_path, capfd, monkeypatch):
    # roadrunner's logger writes to file descriptor 2 directly: capfd sees what a user would
    from ranklsim.simulate.runner import run_scenario
    from ranklsim.simulate.scenario import scenario_from_dict
    scenario = scenario_from_dict({"name": "s", "species": "human", "duration_days": 2.0, "allow_out_of_bounds": True,
                                   "arms": [{"name": "broken", "overrides": {"gi_VG": 0.0}}, {"name": "fine"}]})
    with pytest.warns(OutOfBoundsWarning):
        res = run_scenario(scenario)
    assert list(res.failures) == ["broken"] and "solver" in res.failures["broken"]
    err = capfd.readouterr().err
    assert "CVODE" not in err, err


def test_amici_backend_without_amici_is_one_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("petab")
    import ranklsim.fitting.amici_backend as backend

    monkeypatch.setattr(backend, "amici_available", lambda: False)
    code = main(["fit", "human", "--backend", "amici", "--starts", "1", "--out", str(tmp_path / "fit")])
    err = capsys.readouterr().err
    assert code != 0
    assert "--backend amici needs AMICI" in err and "pip install 'ranklsim[amici]'" in err
    assert not (tmp_path / "fit").exists()  # refused before any work


def test_amici_backend_that_cannot_compile_is_one_line(tmp_path, monkeypatch, capsys):
    """AMICI imports but cannot compile the model: one error line with what to try, before any fitting."""
    pytest.importorskip("amici")
    pytest.importorskip("petab")
    import ranklsim.fitting.amici_backend as backend

    def broken(problem, sbml, root=None):
        raise backend.AmiciBuildError(f"AMICI could not compile the model (test); {backend.AMICI_REBUILD_HINT}")

    monkeypatch.setattr(backend, "build_model", broken)
    code = main(["fit", "human", "--backend", "amici", "--starts", "1", "--out", str(tmp_path / "fit")])
    err = capsys.readouterr().err
    assert code != 0
    assert "AMICI could not compile the model" in err and "--force-reinstall" in err and "Traceback" not in err
    assert not (tmp_path / "fit").exists()  # refused before any work
