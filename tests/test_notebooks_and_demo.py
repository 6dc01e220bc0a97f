"""The quickstart notebook executes (fast mode) and the demo writes its outputs."""

import os
from pathlib import Path

import nbformat
import pandas as pd
from nbclient import NotebookClient

from ranklsim.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_notebook_executes(monkeypatch):
    monkeypatch.setenv("RANKLSIM_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def test_demo_writes_tables_figures_and_report(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--fast"]) == 0
    for name in ("report.md", "basal_state.csv", "ogtt_human.png", "rankl_challenge_mouse.png",
                 "hepatic_rank_ko_steady_state.csv"):
        assert (tmp_path / name).exists(), name
    ko = pd.read_csv(tmp_path / "hepatic_rank_ko_steady_state.csv")
    wt, k = ko[ko.genotype == "WT"], ko[ko.genotype != "WT"]
    assert (k["NFkBn"].to_numpy() < wt["NFkBn"].to_numpy()).all()
    assert os.path.getsize(tmp_path / "ogtt_human.png") > 5000
