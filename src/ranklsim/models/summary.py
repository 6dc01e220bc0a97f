"""Counts of the parameter table's rows per module and source category (docs/model.md Section 17).

The categories are those defined in the prose of Section 17; :func:`classify` assigns one to a row from
its ``source`` column (and, for the constants, its id), with the few id-specific decisions listed in
:data:`SPECIAL_CASES`.  :func:`update` rewrites the generated parts of Section 17 (the counts sentence,
the Human and Mouse tables and the count of published G-module values) in the text of docs/model.md.
"""

from __future__ import annotations

import re
from collections import Counter

from ranklsim.models.tables import read_rows

CATEGORIES = ("published", "data", "fitted (model)", "fitted (data)", "derived", "assumed",
              "input / switch", "constant")
#: ``module`` column -> row label in the docs (table order)
MODULES = {
    "rankl_axis": "R rankl_axis",
    "nfkb": "N nfkb",
    "insulin_signalling": "I insulin_signalling",
    "glucose_insulin": "G glucose_insulin",
    "progression": "P progression",
    "coupling": "couplings",
    "pk": "K pk",
}

#: (id, species) -> (category, reason): rows whose category the rules below would get wrong.
#: species "both" matches the shared row and either species' own row.
SPECIAL_CASES: dict[tuple[str, str], tuple[str, str]] = {
    ("bd_infl", "human"): (
        "fitted (data)",
        ("source starts 'assumed' (the link is an assumption), but the human value was calibrated to "
         "the Bruneck cohort (tools/calibrate_cohort.py, Section 18); the Section 17 prose lists it "
         "as calibrated, apart from the assumed P parameters. The mouse row (0) stays assumed."),
    ),
    ("homa_denominator", "both"): (
        "constant",
        ("cites Matthews 1985, but it is the HOMA-IR definition's denominator, which the prose lists "
         "as a constant"),
    ),
}

#: published models and papers whose values are used (the prose's list for "published")
PUBLISHED = ("Pivonka 2008", "Lipniacki 2004", "Kubota 2012", "Smith 2013", "Dalla Man 2007",
             "Topp 2000", "Martinez-Reina & Pivonka 2019", "Peterson 2004", "Zierhut 2008", "Sun 2011")
#: literature measurements (the prose's "data"): source prefixes
DATA_PREFIXES = ("docs/data-sources.md", "label:", "Ayala 2006")
#: constants: source prefixes of the numerical guard and the readout helper
CONSTANT_PREFIXES = ("definition", "numerical guard", "readout helper")
#: constants: unit-conversion ids (<unit>_per_<unit>)
UNIT_CONVERSION = re.compile(r"^[A-Za-z]+_per_[A-Za-z]+$")


def _by_source(pid: str, source: str) -> str | None:
    """The category the rules give for a row's id and source, or None (tried in this order)."""
    # constants: unit conversions, the numerical guard gi_D_min, the readout helper rate k_pre
    if UNIT_CONVERSION.match(pid) or source.startswith(CONSTANT_PREFIXES):
        return "constant"
    # inputs / switches: protocol inputs, genotype and scenario switches, subject traits
    # (the traits' sources start with "assumed: virtual-subject trait", so this precedes "assumed")
    if (source.startswith("protocol input") or re.search(r"\b(genotype|scenario) switch\b", source)
            or "virtual-subject trait" in source):
        return "input / switch"
    # fitted to the calibration data (tools/adopt_fit.py writes "fitted ... to PEtab problem ...")
    if source.startswith("fitted") and "PEtab problem" in source:
        return "fitted (data)"
    # fitted to a published model's simulation (metformin PK to Zake 2021)
    if source.startswith("fitted to"):
        return "fitted (model)"
    if source.startswith("derived"):
        return "derived"
    # assumed: "assumed..." sources, a published rate law with an assumed value (is_kcat_ser) and
    # the hypothesis met_Emax_rankl.  A trailing "(assumed)" on a published value (k_L_deg, ofc_Vp)
    # qualifies how it is used and does not make it assumed.
    if source.startswith(("assumed", "hypothesis")) or "value assumed" in source:
        return "assumed"
    if source.startswith(DATA_PREFIXES):
        return "data"
    # published, incl. unit/MW conversions of published values; "Martínez" is spelt without accent
    if any(ref in source for ref in PUBLISHED):
        return "published"
    return None


def classify(row: dict[str, str]) -> str:
    """Category of one parameters.tsv row (keys id, species, source, description, ...)."""
    pid, species, source = row["id"], row["species"], row["source"].strip()
    for key in ((pid, species), (pid, "both")):
        if key in SPECIAL_CASES:
            return SPECIAL_CASES[key][0]
    category = _by_source(pid, source)
    if category is None:
        raise ValueError(f"no category for {pid} ({species}): {source!r}")
    return category


def resolve(rows: list[dict[str, str]], species: str) -> dict[str, dict[str, str]]:
    """The row each id uses in ``species`` (a species' own row wins over the shared one)."""
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["species"] == species or (row["species"] == "both" and row["id"] not in out):
            out[row["id"]] = row
    return out


def counts(species: str, rows: list[dict[str, str]] | None = None) -> dict[str, Counter]:
    """module -> Counter of categories for the rows ``species`` resolves."""
    out: dict[str, Counter] = {m: Counter() for m in MODULES}
    for row in resolve(rows if rows is not None else read_rows(), species).values():
        out[row["module"]][classify(row)] += 1
    return out


def _table(c: dict[str, Counter]) -> list[str]:
    lines = ["| module | " + " | ".join(CATEGORIES) + " | total |",
             "|" + "---|" * (len(CATEGORIES) + 2)]
    for module, label in MODULES.items():
        cells = [c[module][k] for k in CATEGORIES]
        lines.append(f"| {label} | " + " | ".join(map(str, cells)) + f" | {sum(cells)} |")
    totals = [sum(c[m][k] for m in MODULES) for k in CATEGORIES]
    lines.append("| **total** | " + " | ".join(f"**{n}**" for n in totals) + f" | **{sum(totals)}** |")
    return lines


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def tables(rows: list[dict[str, str]] | None = None) -> str:
    """Markdown of the Human and Mouse tables of Section 17 (with their lead-in lines)."""
    rows = rows if rows is not None else read_rows()
    human, mouse = counts("human", rows), counts("mouse", rows)
    differ = [MODULES[m].split()[0] if " " in MODULES[m] else MODULES[m]
              for m in MODULES if human[m] != mouse[m]]
    return "\n".join(["Human:", "", *_table(human), "",
                      f"Mouse (differences from human are in {_join(differ)}):", "", *_table(mouse)])


def id_counts(rows: list[dict[str, str]] | None = None) -> tuple[int, int, int]:
    """(number of ids, ids with separate human and mouse rows, number of rows)."""
    rows = rows if rows is not None else read_rows()
    split = {r["id"] for r in rows if r["species"] != "both"}
    return len({r["id"] for r in rows}), len(split), len(rows)


SENTENCE = re.compile(r"`parameters\.tsv` has (\d+) parameter ids\. (\d+) of them have separate human "
                      r"and mouse rows \((\d+) rows in(\s+)all\), so each species resolves (\d+) parameters")
TABLES = re.compile(r"Human:\n\n(?:\|.*\n)+\nMouse \(differences from human are in [^)]*\):\n\n(?:\|.*\n)*"
                    r"\|.*")
PUBLISHED_G = re.compile(r"the (\d+) \"published\" G-module values")


def section(text: str) -> tuple[int, int]:
    """Start and end offsets of Section 17 in docs/model.md."""
    start = text.index("## 17. Parameter summary")
    end = text.find("\n## ", start + 1)
    return start, (end if end >= 0 else len(text))


def docs_tables(text: str) -> str:
    """The tables block of Section 17 as it stands in ``text``."""
    start, end = section(text)
    m = TABLES.search(text, start, end)
    if m is None:
        raise ValueError("Section 17 tables not found")
    return m.group(0)


def update(text: str, rows: list[dict[str, str]] | None = None) -> str:
    """``text`` (docs/model.md) with the counts sentence, the tables and the G count of Section 17
    replaced by the current ones."""
    rows = rows if rows is not None else read_rows()
    n_ids, n_split, n_rows = id_counts(rows)
    start, end = section(text)
    sec = text[start:end]
    sec, n1 = SENTENCE.subn(lambda m: f"`parameters.tsv` has {n_ids} parameter ids. {n_split} of them have "
                            f"separate human and mouse rows ({n_rows} rows in{m.group(4)}all), so each "
                            f"species resolves {n_ids} parameters", sec)
    sec, n2 = TABLES.subn(lambda m: tables(rows), sec)
    n_pub = counts("mouse", rows)["glucose_insulin"]["published"]
    sec, n3 = PUBLISHED_G.subn(f'the {n_pub} "published" G-module values', sec)
    if (n1, n2, n3) != (1, 1, 1):
        raise ValueError(f"Section 17 layout not recognised (matches {n1}, {n2}, {n3})")
    return text[:start] + sec + text[end:]
