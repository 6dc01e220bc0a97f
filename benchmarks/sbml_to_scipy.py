"""Turn an SBML model made of rate rules + assignment rules into a plain Python RHS.

This is a deliberately straightforward, independent re-implementation of the model
equations (no roadrunner, no JIT) used as a scipy baseline in ``run_benchmarks.py``:

* values: compartments, species (concentrations), parameters;
* initial assignments + assignment rules evaluated once at t = 0 (topologically sorted);
* assignment rules sorted topologically and evaluated inside ``rhs`` before the rate rules;
* every math AST is written out with ``libsbml.formulaToL3StringWithSettings`` (kept as a
  comment in the generated source) and translated to a Python expression by walking the
  AST (``^``/``pow`` -> ``**``, ``max``/``min`` builtins, ``tanh``/``exp``/``ln`` -> ``math``,
  ``piecewise`` -> conditional expression, relational/logical operators).

Supported SBML subset: no reactions, events, algebraic rules, delays or function
definitions (a ``NotImplementedError`` is raised otherwise); species are treated as
concentrations (compartment sizes are not applied), which is exact for the ranklsim
model where all species have ``hasOnlySubstanceUnits=false`` and the rate rules are
written on concentrations.

Usage::

    from sbml_to_scipy import ScipyModel
    sm = ScipyModel.from_sbml(sbml_text)
    y0, p = sm.initial_state()               # state vector and parameter dict at t = 0
    rhs = sm.make_rhs(p)                      # rhs(t, y) -> list of derivatives
    obs = sm.observe(t, y, p)                 # dict with every state / assignment-rule value
"""

from __future__ import annotations

import itertools
import math
import types
from dataclasses import dataclass, field
from graphlib import TopologicalSorter

import libsbml

__all__ = ["ScipyModel", "ast_names", "ast_to_python"]


# ---------------------------------------------------------------------------- AST -> Python
_UNARY_MATH = {
    libsbml.AST_FUNCTION_EXP: "math.exp",
    libsbml.AST_FUNCTION_LN: "math.log",
    libsbml.AST_FUNCTION_TANH: "math.tanh",
    libsbml.AST_FUNCTION_SINH: "math.sinh",
    libsbml.AST_FUNCTION_COSH: "math.cosh",
    libsbml.AST_FUNCTION_SIN: "math.sin",
    libsbml.AST_FUNCTION_COS: "math.cos",
    libsbml.AST_FUNCTION_TAN: "math.tan",
    libsbml.AST_FUNCTION_ARCTAN: "math.atan",
    libsbml.AST_FUNCTION_ARCSIN: "math.asin",
    libsbml.AST_FUNCTION_ARCCOS: "math.acos",
    libsbml.AST_FUNCTION_FLOOR: "math.floor",
    libsbml.AST_FUNCTION_CEILING: "math.ceil",
    libsbml.AST_FUNCTION_ABS: "abs",
}
_RELATIONAL = {
    libsbml.AST_RELATIONAL_EQ: "==",
    libsbml.AST_RELATIONAL_NEQ: "!=",
    libsbml.AST_RELATIONAL_LT: "<",
    libsbml.AST_RELATIONAL_LEQ: "<=",
    libsbml.AST_RELATIONAL_GT: ">",
    libsbml.AST_RELATIONAL_GEQ: ">=",
}
_LOGICAL = {libsbml.AST_LOGICAL_AND: " and ", libsbml.AST_LOGICAL_OR: " or "}


def _name_of(node) -> str:
    fn = node.getName() if node.getName() else ""
    return fn.lower()


def ast_to_python(node, time_name: str = "t") -> str:
    """Python expression for a libsbml ASTNode (fully parenthesised)."""
    tp = node.getType()
    kids = [node.getChild(i) for i in range(node.getNumChildren())]
    c = [ast_to_python(k, time_name) for k in kids]
    if tp == libsbml.AST_NAME:
        return node.getName()
    if tp == libsbml.AST_NAME_TIME:
        return time_name
    if tp in (libsbml.AST_INTEGER,):
        return repr(float(node.getInteger()))
    if tp in (libsbml.AST_REAL, libsbml.AST_REAL_E, libsbml.AST_RATIONAL):
        return repr(float(node.getValue()))
    if tp == libsbml.AST_CONSTANT_PI:
        return repr(math.pi)
    if tp == libsbml.AST_CONSTANT_E:
        return repr(math.e)
    if tp == libsbml.AST_CONSTANT_TRUE:
        return "True"
    if tp == libsbml.AST_CONSTANT_FALSE:
        return "False"
    if tp == libsbml.AST_PLUS:
        return "(" + " + ".join(c) + ")" if c else "0.0"
    if tp == libsbml.AST_TIMES:
        return "(" + " * ".join(c) + ")" if c else "1.0"
    if tp == libsbml.AST_MINUS:
        return f"(-{c[0]})" if len(c) == 1 else f"({c[0]} - {c[1]})"
    if tp == libsbml.AST_DIVIDE:
        return f"({c[0]} / {c[1]})"
    if tp in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
        return f"({c[0]} ** {c[1]})"
    if tp == libsbml.AST_FUNCTION_ROOT:
        if len(c) == 1:
            return f"math.sqrt({c[0]})"
        return f"({c[1]} ** (1.0 / {c[0]}))"
    if tp == libsbml.AST_FUNCTION_LOG:
        if len(c) == 1:
            return f"math.log10({c[0]})"
        return f"math.log({c[1]}, {c[0]})"
    if tp in _UNARY_MATH:
        return f"{_UNARY_MATH[tp]}({c[0]})"
    if tp == libsbml.AST_FUNCTION_MAX:
        return c[0] if len(c) == 1 else f"max({', '.join(c)})"
    if tp == libsbml.AST_FUNCTION_MIN:
        return c[0] if len(c) == 1 else f"min({', '.join(c)})"
    if tp == libsbml.AST_FUNCTION_PIECEWISE:
        # piecewise(v1, c1, v2, c2, ..., [otherwise]) -> v1 if c1 else (v2 if c2 else ...)
        pairs, otherwise = c[: len(c) - len(c) % 2], (c[-1] if len(c) % 2 else "float('nan')")
        expr = otherwise
        for i in range(len(pairs) - 2, -1, -2):
            expr = f"({pairs[i]} if {pairs[i + 1]} else {expr})"
        return expr
    if tp in _RELATIONAL:
        op = _RELATIONAL[tp]
        if len(c) == 2:
            return f"({c[0]} {op} {c[1]})"
        return "(" + " and ".join(f"({a} {op} {b})" for a, b in itertools.pairwise(c)) + ")"
    if tp in _LOGICAL:
        return "(" + _LOGICAL[tp].join(f"bool({x})" for x in c) + ")"
    if tp == libsbml.AST_LOGICAL_NOT:
        return f"(not {c[0]})"
    if tp == libsbml.AST_LOGICAL_XOR:
        return f"(bool({c[0]}) != bool({c[1]}))"
    if tp == libsbml.AST_FUNCTION:
        name = _name_of(node)
        if name in ("max", "min"):
            return f"{name}({', '.join(c)})"
        raise NotImplementedError(f"user function {node.getName()!r} not supported")
    raise NotImplementedError(f"AST node type {tp} ({node.getName()!r}) not supported")


def ast_names(node) -> set[str]:
    """Identifiers referenced by an AST (excluding the time csymbol)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.getType() == libsbml.AST_NAME:
            out.add(n.getName())
        stack.extend(n.getChild(i) for i in range(n.getNumChildren()))
    return out


def _l3(node) -> str:
    settings = libsbml.L3ParserSettings()
    settings.setParseUnits(False)
    return libsbml.formulaToL3StringWithSettings(node, settings)


# ---------------------------------------------------------------------------- model
@dataclass
class ScipyModel:
    state_ids: list[str]
    values: dict[str, float]                      # every symbol's value before t = 0 rules
    initial_assignments: dict[str, object]        # id -> ASTNode
    assignment_order: list[str]                   # topological order
    assignment_expr: dict[str, str]               # id -> python expression
    rate_expr: dict[str, str]                     # state id -> python expression
    source: str = ""
    _doc: object = field(default=None, repr=False)  # keeps the AST nodes alive
    _ia_ast: dict = field(default_factory=dict, repr=False)
    _ar_ast: dict = field(default_factory=dict, repr=False)
    _code_rhs: object = field(default=None, repr=False)
    _code_obs: object = field(default=None, repr=False)

    # --------------------------------------------------------------- construction
    @classmethod
    def from_sbml(cls, sbml: str) -> ScipyModel:
        doc = libsbml.readSBMLFromString(sbml)
        if doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR):
            raise ValueError(doc.getErrorLog().toString())
        m = doc.getModel()
        for what, n in (("reactions", m.getNumReactions()), ("events", m.getNumEvents()),
                        ("function definitions", m.getNumFunctionDefinitions())):
            if n:
                raise NotImplementedError(f"model has {n} {what}; only rules are supported")

        values: dict[str, float] = {}
        for i in range(m.getNumCompartments()):
            comp = m.getCompartment(i)
            values[comp.getId()] = comp.getSize() if comp.isSetSize() else 1.0
        for i in range(m.getNumSpecies()):
            sp = m.getSpecies(i)
            if sp.isSetInitialConcentration():
                values[sp.getId()] = sp.getInitialConcentration()
            elif sp.isSetInitialAmount():
                values[sp.getId()] = sp.getInitialAmount() / values[sp.getCompartment()]
            else:
                values[sp.getId()] = math.nan   # must come from an initial assignment
        for i in range(m.getNumParameters()):
            par = m.getParameter(i)
            values[par.getId()] = par.getValue() if par.isSetValue() else math.nan

        ia = {m.getInitialAssignment(i).getSymbol(): m.getInitialAssignment(i).getMath()
              for i in range(m.getNumInitialAssignments())}
        ar, rr, state_ids = {}, {}, []
        for i in range(m.getNumRules()):
            rule = m.getRule(i)
            if rule.isAlgebraic():
                raise NotImplementedError("algebraic rules are not supported")
            if rule.isAssignment():
                ar[rule.getVariable()] = rule.getMath()
            else:
                rr[rule.getVariable()] = rule.getMath()
                state_ids.append(rule.getVariable())

        order = list(TopologicalSorter(
            {k: {n for n in ast_names(v) if n in ar} for k, v in ar.items()}).static_order())
        self = cls(
            state_ids=state_ids,
            values=values,
            initial_assignments=ia,
            assignment_order=order,
            assignment_expr={k: ast_to_python(ar[k]) for k in order},
            rate_expr={k: ast_to_python(rr[k]) for k in state_ids},
        )
        self._doc, self._ia_ast, self._ar_ast = doc, ia, ar
        self._compile(rr)
        return self

    def _compile(self, rate_ast) -> None:
        unpack = f"    ({', '.join(self.state_ids)},) = y\n"
        body = []
        for k in self.assignment_order:
            body.append(f"    # {k} = {_l3(self._ar_ast[k])}\n    {k} = {self.assignment_expr[k]}\n")
        rhs = ["def rhs(t, y):\n", unpack, *body, "    return [\n"]
        for k in self.state_ids:
            rhs.append(f"        # d{k}/dt = {_l3(rate_ast[k])}\n        {self.rate_expr[k]},\n")
        rhs.append("    ]\n")
        obs = ["def observe(t, y):\n", unpack, *body, "    return locals()\n"]
        self.source = "".join(rhs) + "\n\n" + "".join(obs)
        scope: dict = {}
        exec(compile(self.source, "<sbml_to_scipy>", "exec"), {"math": math}, scope)
        self._code_rhs = scope["rhs"].__code__
        self._code_obs = scope["observe"].__code__

    # --------------------------------------------------------------- evaluation
    def initial_state(self, overrides: dict[str, float] | None = None):
        """(y0 list, parameter dict) at t = 0: values, then initial assignments and
        assignment rules evaluated together in dependency order (overrides applied first)."""
        ns = dict(self.values)
        ns.update(overrides or {})
        nodes = {**{k: v for k, v in self._ia_ast.items()}, **self._ar_ast}
        deps = {k: {n for n in ast_names(v) if n in nodes and n != k} for k, v in nodes.items()}
        env = {"math": math, "t": 0.0, "__builtins__": {"max": max, "min": min, "abs": abs,
                                                          "bool": bool, "float": float}}
        for k in TopologicalSorter(deps).static_order():
            expr = ast_to_python(nodes[k])
            ns[k] = float(eval(expr, env, ns))
        y0 = [ns[k] for k in self.state_ids]
        params = {k: v for k, v in ns.items()
                  if k not in self.state_ids and k not in self._ar_ast}
        return y0, params

    def _globals(self, params: dict[str, float]) -> dict:
        g = {"math": math, "__builtins__": {"max": max, "min": min, "abs": abs, "bool": bool,
                                            "float": float, "locals": locals}}
        g.update(params)
        return g

    def make_rhs(self, params: dict[str, float]):
        """rhs(t, y) with the parameter values bound as globals (fast lookups)."""
        return types.FunctionType(self._code_rhs, self._globals(params), "rhs")

    def observe(self, t: float, y, params: dict[str, float]) -> dict[str, float]:
        """All states and assignment-rule values at (t, y)."""
        fn = types.FunctionType(self._code_obs, self._globals(params), "observe")
        return {k: v for k, v in fn(t, y).items() if k not in ("t", "y")}

    def observe_many(self, ts, ys, params, ids) -> dict[str, list[float]]:
        """Time courses of ``ids`` for states ``ys`` (shape n_states x n_times)."""
        fn = types.FunctionType(self._code_obs, self._globals(params), "observe")
        out = {k: [] for k in ids}
        for j, t in enumerate(ts):
            vals = fn(t, [row[j] for row in ys])
            for k in ids:
                out[k].append(vals[k] if k in vals else params[k])
        return out
