"""The notebooks execute (fast mode) and are stored without outputs; the demo writes its outputs."""

import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from ranklsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_quickstart.ipynb", "02_knockout.ipynb", "03_anti_rankl.ipynb", "04_metformin.ipynb",
             "05_fitting.ipynb", "06_cohort.ipynb"]
#: notebooks that need the optional fitting extras (pip install ranklsim[fitting])
NEEDS_FITTING = {"05_fitting.ipynb": ("petab", "emcee")}


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_in_fast_mode(name, monkeypatch):
    for module in NEEDS_FITTING.get(name, ()):
        pytest.importorskip(module, reason=f"{name} needs the fitting extras (pip install ranklsim[fitting])")
    monkeypatch.setenv("RANKLSIM_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for c in _code_cells(nb) for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in _code_cells(nb):
        assert not cell.get("outputs") and cell.get("execution_count") is None


@pytest.mark.slow
def test_demo_writes_tables_figures_and_report(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--fast"]) == 0
    for name in ("report.md", "basal_state.csv", "ogtt_human.png", "rankl_challenge_mouse.png",
                 "hepatic_rank_ko_steady_state.csv", "cohort/summary.json", "cohort/incidence_by_tertile.png"):
        assert (tmp_path / name).exists(), name
    ko = pd.read_csv(tmp_path / "hepatic_rank_ko_steady_state.csv")
    wt, k = ko[ko.genotype == "WT"], ko[ko.genotype != "WT"]
    assert (k["NFkBn"].to_numpy() < wt["NFkBn"].to_numpy()).all()
    assert os.path.getsize(tmp_path / "ogtt_human.png") > 5000
    assert "Virtual cohort" in (tmp_path / "report.md").read_text()
