"""The SBML shipped with the package is the SBML of the package's own Antimony text.

``build_sbml`` returns the shipped file (``src/ranklsim/models/sbml/``) when its source key matches the
Antimony text of the modules and the table, which saves the Antimony conversion (~1.5 s) of a first
build; any other text is converted.  ``ranklsim dev regenerate`` rewrites the files when the key
changes (``tests/test_regenerate.py`` checks that they are current).
"""

from __future__ import annotations

import pytest

from ranklsim.models import build


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_shipped_sbml_is_the_conversion_of_the_current_text(species):
    text = build.build_antimony(species)
    shipped = build.shipped_sbml(text, species)
    assert shipped is not None, "shipped SBML is stale: run `ranklsim dev regenerate`"
    assert build.sbml_from_antimony(text, species) == shipped
    fresh = build.convert_antimony(text, species)
    # the same antimony release gives the same file; another one may differ in layout only, so the
    # model content is compared through libSBML: every parameter value and species initial value
    import libsbml

    def values(sbml: str) -> dict[str, float]:
        model = libsbml.readSBMLFromString(sbml).getModel()
        out = {p.getId(): p.getValue() for p in model.getListOfParameters()}
        out.update({s.getId(): s.getInitialConcentration() for s in model.getListOfSpecies()})
        out.update({r.getVariable(): libsbml.formulaToL3String(r.getMath()) for r in model.getListOfRules()})
        return out

    assert values(fresh) == values(shipped)


def test_another_text_is_converted_not_served_from_the_shipped_file():
    text = build.build_antimony("human", initial={"Gp": 123.0})
    assert build.shipped_sbml(text, "human") is None
    sbml = build.sbml_from_antimony(text, "human")
    assert build.source_key(text) in sbml and "123.0" in sbml
    assert build.source_key(text) != build.source_key(build.build_antimony("human"))
