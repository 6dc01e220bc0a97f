"""ranklsim.models.summary: every parameter row has a category, and docs/model.md Section 17 is in step
with parameters.tsv."""

from pathlib import Path

from ranklsim.models import summary as ps
from ranklsim.models.parameters import SPECIES_NAMES, parameter_table

ROOT = Path(__file__).resolve().parents[1]


def test_every_row_has_a_known_category():
    rows = ps.read_rows()
    assert rows
    for row in rows:
        assert ps.classify(row) in ps.CATEGORIES, row["id"]
        assert row["module"] in ps.MODULES, row["id"]


def test_special_cases_are_rows_of_the_table():
    ids = {(r["id"], r["species"]) for r in ps.read_rows()}
    for key, (category, reason) in ps.SPECIAL_CASES.items():
        assert key in ids, key
        assert category in ps.CATEGORIES and reason


def test_totals_per_species_equal_the_resolved_ids():
    for species in SPECIES_NAMES:
        counts = ps.counts(species)
        total = sum(sum(c.values()) for c in counts.values())
        assert total == len(parameter_table(species)) == len(ps.resolve(ps.read_rows(), species))


def test_docs_section_17_is_in_step_with_the_table():
    text = (ROOT / "docs/model.md").read_text()
    assert ps.docs_tables(text) == ps.tables()
    assert ps.update(text) == text  # counts sentence and the published G count too


def test_update_rewrites_the_counts_after_a_row_is_split():
    rows = ps.read_rows()
    text = (ROOT / "docs/model.md").read_text()
    shared = next(i for i, r in enumerate(rows) if r["species"] == "both")
    split = [*rows[:shared], dict(rows[shared], species="human"), dict(rows[shared], species="mouse"),
             *rows[shared + 1:]]
    n_ids, n_split, n_rows = ps.id_counts(rows)
    assert ps.id_counts(split) == (n_ids, n_split + 1, n_rows + 1)
    assert f"({n_rows + 1} rows in" in ps.update(text, split).replace("\n", " ")
