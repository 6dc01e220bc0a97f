"""Units on the literal numbers of the exported SBML, so that libSBML's unit checks see every quantity.

SBML Level 3 lets a ``<cn>`` number carry units (``sbml:units``).  The Antimony modules write literals
without units (``1 + g*A``, ``max(0, G - G_thr)``, ``10*beta_fn``), which libSBML reports as
"missing unit declarations" (warning 99505) and which can hide real inconsistencies.  Each literal gets:

* the units of its siblings where it is added, subtracted, compared or taken as max/min/piecewise with
  them (``max(0, G - G_thr)``: the 0 is in mg/dL), found as an equivalent unit definition of the model;
* ``dimensionless`` otherwise (factors, exponents, function arguments), which is what those numbers are.
"""

from __future__ import annotations

#: functions whose arguments must share units (a literal there takes its siblings' units), with
#: + and -, the relations and piecewise.  Node kinds are read through ASTNode's predicates, not
#: getType(): another libSBML binding loaded in the process (tellurium brings one) returns types
#: that do not compare with this module's constants.
_SAME_UNIT_FUNCTIONS = ("max", "min")


def annotate_literal_units(model, libsbml) -> int:
    """Set units on every unit-less literal of ``model``'s math (rules, initial and event assignments,
    event triggers); returns how many were set."""
    count = 0
    for math in _maths(model):
        count += _annotate(math, None, model, libsbml)
    return count


def _maths(model):
    for i in range(model.getNumRules()):
        yield model.getRule(i).getMath()
    for i in range(model.getNumInitialAssignments()):
        yield model.getInitialAssignment(i).getMath()
    for i in range(model.getNumEvents()):
        ev = model.getEvent(i)
        if ev.isSetTrigger():
            yield ev.getTrigger().getMath()
        for j in range(ev.getNumEventAssignments()):
            yield ev.getEventAssignment(j).getMath()


def _same_units(node) -> bool:
    """Whether the operands of ``node`` must share units."""
    return bool(node.isRelational() or node.isPiecewise()
                or (node.isOperator() and node.getCharacter() in "+-")
                or (node.isFunction() and node.getName() in _SAME_UNIT_FUNCTIONS))


def _annotate(node, parent, model, libsbml) -> int:
    if node is None:
        return 0
    count = 0
    if node.isNumber() and not node.hasUnits():
        node.setUnits(_context_units(node, parent, model, libsbml))
        count += 1
    for i in range(node.getNumChildren()):
        count += _annotate(node.getChild(i), node, model, libsbml)
    return count


def _context_units(node, parent, model, libsbml) -> str:
    """Units of a literal: those of a unit-bearing sibling under a same-unit operator, else dimensionless."""
    if parent is None or not _same_units(parent):
        return "dimensionless"
    piecewise = parent.isPiecewise()
    for i in range(parent.getNumChildren()):
        sibling = parent.getChild(i)
        if sibling is node or sibling.isNumber() or (piecewise and i % 2 == 1):
            continue  # (a piecewise's odd children are its conditions, not values)
        ud = _units_of(sibling, model, libsbml)
        unit_id = None if ud is None else _unit_id(ud, model, libsbml)
        if unit_id:
            return unit_id
    return "dimensionless"


def _units_of(node, model, libsbml):
    """Unit definition of a name, or of the first operand with known units of a same-unit operator."""
    if node.isName():
        element = model.getElementBySId(node.getName())
        if element is None:  # the time symbol
            return model.getUnitDefinition(model.getTimeUnits())
        return element.getDerivedUnitDefinition()
    if _same_units(node):
        for i in range(node.getNumChildren()):
            child = node.getChild(i)
            if not child.isNumber() and (ud := _units_of(child, model, libsbml)) is not None:
                return ud
        return None
    return _expression_units(node, model)


def _expression_units(node, model):
    """Units of any expression, through a temporary assignment rule (libSBML derives rule units)."""
    probe = "__ranklsim_unit_probe"
    par = model.createParameter()
    par.setId(probe)
    par.setConstant(False)
    rule = model.createAssignmentRule()
    rule.setVariable(probe)
    rule.setMath(node.deepCopy())
    try:
        model.populateListFormulaUnitsData()
        ud = rule.getDerivedUnitDefinition()
        return None if ud is None or rule.containsUndeclaredUnits() else ud.clone()
    finally:
        model.removeRuleByVariable(probe)
        model.removeParameter(probe)
        model.populateListFormulaUnitsData()


def _unit_id(ud, model, libsbml) -> str | None:
    """Id of a unit definition of ``model`` (or a base unit) equivalent to ``ud``."""
    if ud.getNumUnits() == 0 or (ud.getNumUnits() == 1 and ud.getUnit(0).isDimensionless()):
        return "dimensionless"
    for i in range(model.getNumUnitDefinitions()):
        candidate = model.getUnitDefinition(i)
        if libsbml.UnitDefinition.areIdentical(candidate, ud):
            return candidate.getId()
    if ud.getNumUnits() == 1 and ud.getUnit(0).getExponent() == 1 and ud.getUnit(0).getScale() == 0 and \
            ud.getUnit(0).getMultiplier() == 1:
        return libsbml.UnitKind_toString(ud.getUnit(0).getKind())
    return None
