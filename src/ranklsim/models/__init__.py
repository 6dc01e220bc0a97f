"""Model definition: Antimony modules, the parameter table, ids, and the SBML build."""

from ranklsim.models.build import MODULES, VIEWS, build_antimony, build_sbml
from ranklsim.models.parameters import (
    HUMAN,
    MOUSE,
    SPECIES_NAMES,
    Parameter,
    parameter_table,
    parameters_frame,
)

__all__ = [
    "HUMAN",
    "MODULES",
    "MOUSE",
    "SPECIES_NAMES",
    "VIEWS",
    "Parameter",
    "build_antimony",
    "build_sbml",
    "parameter_table",
    "parameters_frame",
]
