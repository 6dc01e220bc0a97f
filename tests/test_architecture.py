"""Code shape: imports run one way, modules and functions stay small, function-level imports say why.

Layers (lowest first): ``constants``, ``errors``, ``parallel``, ``cli_options`` <- ``models`` <- ``simulate`` <-
``fitting`` <- ``cohort`` <- ``cli``/``demo``/``regenerate`` and the package facade ``ranklsim``.
A module may import its own layer or any lower one, never a higher one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "ranklsim"
LAYERS = {"constants": 0, "errors": 0, "parallel": 0, "cli_options": 0, "rundir": 0, "outputs": 0, "models": 1, "simulate": 2,
          "fitting": 3, "cohort": 4, "cli": 5, "demo": 5, "regenerate": 5, "__main__": 5}
FACADE = 5  # ``import ranklsim`` / ``from ranklsim import load_model``: the public facade
MAX_MODULE_LINES = 400
#: generated modules: one line per model id (their length is the model's size, nothing to split);
#: tests/test_ids.py checks them against the tables they are generated from
GENERATED = ("ranklsim.models.ids",)
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 15
#: a function-level import must give its reason in a comment on its line or the line above
LAZY_REASON = re.compile(r"#\s*(lazy|optional)\b")


def layer_of_module(dotted: str) -> int:
    parts = dotted.split(".")
    if parts[0] != "ranklsim":
        raise ValueError(dotted)
    if len(parts) == 1:
        return FACADE
    if parts[1] not in LAYERS:
        raise KeyError(f"module {dotted} has no layer: add it to LAYERS")
    return LAYERS[parts[1]]


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module == "ranklsim":  # from ranklsim import models | load_model
            return [f"ranklsim.{a.name}" if a.name in LAYERS else "ranklsim" for a in node.names]
        return [node.module]
    return []


def upward_imports(source: str, module: str) -> list[str]:
    """Every import in ``source`` (module ``module``) of a higher layer, as readable strings."""
    own = layer_of_module(module)
    found = []
    for node in ast.walk(ast.parse(source)):
        for target in _imported(node):
            if target.split(".")[0] == "ranklsim" and layer_of_module(target) > own:
                found.append(f"{module}:{node.lineno} imports {target}")
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def test_every_import_runs_down_the_layers():
    problems = []
    for module, path in _modules():
        problems += upward_imports(path.read_text(), module)
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_upward_import():
    # a models module that reaches into simulate, and a simulate module that uses the cohort
    assert upward_imports("from ranklsim.simulate.runner import run_scenario\n", "ranklsim.models.build")
    assert upward_imports("def f():\n    import ranklsim.cohort.runner\n", "ranklsim.simulate.runner")
    assert upward_imports("from ranklsim import load_model\n", "ranklsim.cohort.arms")
    assert not upward_imports("from ranklsim.models.ids import P\n", "ranklsim.simulate.runner")
    assert not upward_imports("from ranklsim.parallel import SerialEngine\n", "ranklsim.fitting.profile")


def test_every_package_module_has_a_layer():
    for module, _ in _modules():
        layer_of_module(module)  # raises for a new top-level module without a layer


def test_function_level_imports_give_a_reason():
    missing = []
    for module, path in _modules():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    here = lines[node.lineno - 1] + (lines[node.lineno - 2] if node.lineno > 1 else "")
                    if not LAZY_REASON.search(here):
                        missing.append(f"{module}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not missing, "function-level imports without '# lazy: why' or '# optional: why':\n" + "\n".join(
        sorted(set(missing)))


def test_modules_and_functions_stay_small():
    radon = pytest.importorskip("radon.complexity", reason="radon is in the dev extra")
    problems = []
    for module, path in _modules():
        text = path.read_text()
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES and module not in GENERATED:
            problems.append(f"{module}: {n} lines > {MAX_MODULE_LINES}")
        for fn in ast.walk(ast.parse(text)):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                length = fn.end_lineno - fn.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{module}.{fn.name}: {length} lines > {MAX_FUNCTION_LINES}")
        for block in radon.cc_visit(text):
            if block.complexity > MAX_COMPLEXITY:
                problems.append(f"{module}.{block.name}: cyclomatic complexity {block.complexity}")
    assert not problems, "\n".join(problems)
