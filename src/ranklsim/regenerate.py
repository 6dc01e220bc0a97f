"""Rebuild the generated files of the model from their sources (``ranklsim dev regenerate``).

In dependency order:

1. ``src/ranklsim/models/ids.py`` from the parameter table and the Antimony modules;
2. the derived reference rows of ``parameters.tsv`` and all of ``initial_state.tsv``, per species,
   by :func:`ranklsim.simulate.reference.derive_reference` (the function every run with changed
   constants calls): ``L_prod``, ``O_prod``, ``gng_ref``, ``irs_ref``, ``G_bf_ref``,
   ``S_ref``, ``I_ref``, ``M_ref`` and the fasting steady state (slow beta-cell states held);
3. the shipped PEtab problems of both species (:func:`ranklsim.fitting.problems.write_problem`);
4. the SBML shipped per species (``src/ranklsim/models/sbml/``, :func:`ranklsim.models.build.shipped_sbml`:
   a first build skips the Antimony conversion), rewritten only when its source key changed;
5. the generated parameter counts of docs/model.md Section 17 (:mod:`ranklsim.models.summary`).

Regenerated numbers that agree with the stored ones to solver precision keep their stored digits
(:func:`ranklsim.models.tables.same_value`), so regenerating current files changes nothing.  In check
mode nothing is written, and each step compares against what the files as they stand give.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from ranklsim.fitting.problems import PROBLEM_DIR, write_problem
from ranklsim.models import build, parameters, summary, tables
from ranklsim.models.ids import P
from ranklsim.models.parameters import SPECIES_NAMES
from ranklsim.simulate.reference import ABS_TOL, REL_TOL, derive_reference

#: the repository checkout holding the imported package (src/ranklsim/models -> root)
CHECKOUT = parameters.DATA_DIR.resolve().parents[2]
DOCS = Path("docs/model.md")
#: CVODE steps allowed per output interval of a fresh model's relaxation (it starts far from rest);
#: the tolerances are those of :func:`derive_reference` (``simulate.reference.REL_TOL``/``ABS_TOL``)
MAX_STEPS = 500000
#: start of the relaxation for states the stored initial state lacks (a new model is far from rest)
GUESS = {
    "L": 0.5, "O": 3.0, "LO": 0.0, "Dg": 0.0, "LD": 0.0,
    "IKKn": 0.2, "IKKa": 0.0, "IKKi": 0.0, "IKKa_IkBa": 0.0, "IKKa_IkBa_NFkB": 0.0,
    "IkBa": 0.0, "IkBa_NFkB": 0.06, "NFkB": 0.0, "NFkBn": 0.0, "IkBan": 0.0,
    "IkBan_NFkBn": 0.0, "IkBa_mRNA": 0.0, "A20_mRNA": 0.0, "A20": 0.0,
    "proIR": 46.22225, "IR": 46.22225, "p1IR": 0.0, "p2IR": 0.0, "p1p2IR": 0.0,
    "IRS1": 1.0, "beta_fn": 1.0, "G_pre": 100.0, "EGP_pre": 2.0, "IRS1_pY": 0.0, "IRS1_pS": 0.0,
    "AKT": 4.33812, "pAKT": 0.0, "mTOR": 0.09592, "pmTOR": 0.0, "FoxO1": 0.43571, "pFoxO1": 0.0,
    "G6Pase": 38.54029, "PEPCK": 1.0, "Qsto1": 0.0, "Qsto2": 0.0, "Qgut": 0.0, "X": 0.0, "Y": 0.0,
    "M_hep": 0.0, "A_diet": 0.0,
}


# ----------------------------------------------------------------------------- reference state
def guess(species: str) -> dict[str, float]:
    """Start of the relaxation: the stored reference state, else :data:`GUESS` and basal values."""
    t = parameters.parameter_table(species)
    g = dict(GUESS)
    gb, ib, vg, vi = t[P.gi_Gb].value, t[P.gi_Ib].value, t[P.gi_VG].value, t[P.gi_VI].value
    g.update(Gp=gb * vg, Gt=gb * vg * 0.76, Ip=ib * vi, Il=ib * vi * 3.6, I1=ib, Id=ib,
             Ipo=t[P.gi_Sb].value / t[P.gi_gamma].value, G_mem=gb, beta=t[P.beta_ref].value)
    g.update(parameters.initial_state(species))
    return g


def make_runner(species: str):
    """A fresh RoadRunner of the species' model (from the current files) started at :func:`guess`."""
    import antimony  # lazy: antimony costs ~0.3 s to import

    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(build.build_antimony(species, initial=guess(species))) < 0:
        raise RuntimeError(f"Antimony could not load the {species} model: {antimony.getLastError()}")
    rr = build.compile_sbml(antimony.getSBMLString(build.MODEL_ID))
    rr.integrator.relative_tolerance = REL_TOL
    rr.integrator.absolute_tolerance = ABS_TOL
    rr.integrator.setValue("maximum_num_steps", MAX_STEPS)  # kept by derive_reference's settings
    return rr


def reference(species: str) -> tuple[dict[str, float], dict[str, float]]:
    """Derived parameter values and the reference initial state of ``species`` (from the current files)."""
    return derive_reference(make_runner(species), {})


# ----------------------------------------------------------------------------- artifacts
class _Artifacts:
    """Compares generated texts with the files under ``root``; writes the differing ones unless checking."""

    def __init__(self, root: Path, check: bool, log: Callable[[str], None] | None) -> None:
        self.root, self.check, self.log = root, check, log
        self.stale: list[str] = []

    def put(self, path: Path, text: str) -> bool:
        """Compare ``text`` with the file at ``path``; True (and noted as stale) if they differ."""
        path = Path(path)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return False
        name = path.resolve().relative_to(self.root).as_posix()
        self.stale.append(name)
        if not self.check:
            path.write_text(text, encoding="utf-8")
            tables.clear_caches()
        if self.log:
            self.log(("stale: " if self.check else "rewrote ") + name)
        return True


def _shipped_sbml(out: _Artifacts) -> None:
    """The SBML shipped per species: rewritten only when the Antimony text or the conversion changed
    (its source key), so another Antimony release converting the same text never makes it stale."""
    for species in SPECIES_NAMES:
        text = build.build_antimony(species)
        path = build.SBML_DIR / f"{species}.xml"
        path.parent.mkdir(exist_ok=True)
        out.put(path, build.shipped_sbml(text, species) or build.convert_antimony(text, species))


def _reference_tables(out: _Artifacts) -> None:
    derived: dict[str, dict[str, float]] = {}
    states: dict[str, dict[str, float]] = {}
    for species in SPECIES_NAMES:
        values, states[species] = reference(species)
        for key, value in values.items():
            derived.setdefault(key, {})[species] = value
    out.put(parameters.PARAMETER_TABLE, tables.rows_text(tables.set_values(tables.read_rows(), derived)))
    previous = tables.read_rows(parameters.INITIAL_STATE_TABLE)
    out.put(parameters.INITIAL_STATE_TABLE, tables.initial_state_text(states, previous))


def _petab(out: _Artifacts) -> None:
    with tempfile.TemporaryDirectory(prefix="ranklsim-petab-") as tmp:
        for species in SPECIES_NAMES:
            write_problem(species, tmp)
        for new in sorted(Path(tmp).iterdir()):
            out.put(PROBLEM_DIR / new.name, new.read_text(encoding="utf-8"))


def checkout(root: Path | None = None) -> Path:
    """The repository checkout to regenerate: ``root``, which must hold the imported package."""
    root = CHECKOUT if root is None else Path(root).resolve()
    if (root / "src/ranklsim/models").resolve() != parameters.DATA_DIR.resolve():
        raise ValueError(f"{root} is not the checkout ranklsim is imported from ({CHECKOUT}); "
                         "regenerate needs an editable install (pip install -e .)")
    if not (root / DOCS).exists():
        raise ValueError(f"{root} has no {DOCS}: regenerate needs the source checkout")
    return root


def regenerate(check: bool = False, root: Path | None = None, *,
               log: Callable[[str], None] | None = None) -> list[str]:
    """Rebuild the generated files (module docstring); return those that differed, relative to ``root``.

    ``check``: write nothing, only compare.  ``root``: the checkout (default: the one the package is
    imported from; another one is refused, since the model is read from the imported package).
    ``log`` is called with one line per differing file.
    """
    out = _Artifacts(checkout(root), check, log)
    tables.clear_caches()
    out.put(tables.IDS_MODULE, tables.render_ids())
    _reference_tables(out)
    _petab(out)
    _shipped_sbml(out)
    docs = out.root / DOCS
    out.put(docs, summary.update(docs.read_text(encoding="utf-8"), tables.read_rows()))
    return out.stale


# ----------------------------------------------------------------------------- command line
def cmd_regenerate(args: argparse.Namespace) -> int:
    stale = regenerate(check=args.check, log=print)
    if not stale:
        print("all generated files are current")
    return 1 if stale and args.check else 0


def add_parsers(sub) -> None:
    """Register ``dev`` (developer commands) with its ``regenerate`` subcommand."""
    dev = sub.add_parser("dev", help="developer commands (rebuild the generated files of a checkout)")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)
    r = dev_sub.add_parser("regenerate", help="rebuild ids.py, the derived parameters and initial state, "
                           "the PEtab problems and the parameter counts of docs/model.md")
    r.add_argument("--check", action="store_true", help="write nothing; list stale files and exit 1 if any")
    r.set_defaults(func=cmd_regenerate)
