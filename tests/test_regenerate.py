"""ranklsim.regenerate and the table writers of ranklsim.models.tables."""

from __future__ import annotations

import pytest

from ranklsim.models import tables
from ranklsim.models.parameters import INITIAL_STATE_TABLE, PARAMETER_TABLE, SPECIES_NAMES, parameter_table

ROW = {"id": "k_x", "value": "0.5", "unit": "per_min", "species": "both", "module": "nfkb",
       "description": "a rate", "source": 'assumed: "quoted"\tand tabbed', "lower": "0.05", "upper": "5.0"}


def test_parameter_table_text_round_trips():
    assert tables.rows_text(tables.read_rows()) == PARAMETER_TABLE.read_text()
    rows = tables.read_rows(INITIAL_STATE_TABLE)
    assert tables.rows_text(rows, tables.INITIAL_STATE_COLUMNS) == INITIAL_STATE_TABLE.read_text()


def test_a_row_round_trips_through_the_writer(tmp_path):
    path = tmp_path / "parameters.tsv"
    tables.write_rows([ROW], path)
    assert tables.read_rows(path) == [ROW]
    assert tables.rows_text(tables.read_rows(path)) == path.read_text()


def test_set_values_splits_a_shared_row_and_keeps_equal_digits():
    out = tables.set_values([ROW], {"k_x": {"human": 0.7}})
    assert [(r["species"], r["value"]) for r in out] == [("human", "0.7"), ("mouse", "0.5")]
    species_rows = tables.set_values(out, {"k_x": {"mouse": 0.5 * (1 + 1e-12), "human": 0.8}})
    assert [r["value"] for r in species_rows] == ["0.8", "0.5"]  # within solver precision: stored text
    assert tables.set_values([ROW], {"other": {"human": 1.0}}) == [ROW]


def test_update_parameter_values_writes_only_changes(tmp_path):
    path = tmp_path / "parameters.tsv"
    tables.write_rows([dict(ROW, species="human")], path)
    assert not tables.update_parameter_values({"k_x": {"human": 0.5}}, path)
    assert tables.update_parameter_values({"k_x": {"human": 2.0}}, path)
    assert tables.read_rows(path)[0]["value"] == "2.0"


def test_initial_state_text_keeps_previous_digits():
    previous = [{"id": "G", "species": "human", "value": "91.89999983391115"}]
    text = tables.initial_state_text({"human": {"G": 91.89999983391075, "I": 23.5}}, previous)
    assert text == "id\tspecies\tvalue\nG\thuman\t91.89999983391115\nI\thuman\t23.5\n"
    assert tables.initial_state_text({"human": {"G": 92.0}}, previous).endswith("G\thuman\t92.0\n")


def test_ids_module_text():
    text = tables.ids_text(["b", "a"], ["G"])
    assert '    a = "a"\n    b = "b"\n' in text and '    G = "G"\n' in text
    namespace: dict = {}
    exec(compile(text, "ids.py", "exec"), namespace)
    assert namespace["PARAMETER_IDS"] == {"a", "b"} and namespace["VARIABLE_IDS"] == {"G"}
    assert tables.render_ids() == tables.IDS_MODULE.read_text()
    namespace = {}
    exec(compile(tables.render_ids(), "ids.py", "exec"), namespace)
    assert namespace["PARAMETER_IDS"] == {p for sp in SPECIES_NAMES for p in parameter_table(sp)}


def test_regenerate_refuses_another_checkout(tmp_path):
    from ranklsim.regenerate import regenerate

    with pytest.raises(ValueError, match="not the checkout"):
        regenerate(check=True, root=tmp_path)


def test_dev_regenerate_parser():
    import argparse

    from ranklsim.regenerate import add_parsers, cmd_regenerate

    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dev", "regenerate", "--check"])
    assert args.check and args.func is cmd_regenerate


@pytest.mark.slow
def test_generated_files_are_current():
    from ranklsim.regenerate import regenerate

    assert regenerate(check=True) == [], "stale generated files: run `ranklsim dev regenerate`"
