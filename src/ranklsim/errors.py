"""Error helpers shared by every layer: one "did you mean" for unknown names and ids."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: object, known: Iterable[object]) -> str:
    """`` (did you mean 'a', 'b'?)`` naming up to three close matches of ``name``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def unknown_name_message(kind: str, name: object, known: Iterable[object]) -> str:
    """``unknown <kind> 'x' (did you mean ...?); choose one of: ...``."""
    known = [str(k) for k in known]
    return f"unknown {kind} {name!r}{did_you_mean(name, known)}; choose one of: {', '.join(known)}"


def unknown_id_error(kind: str, name: object, known: Iterable[object]) -> ValueError:
    """A ValueError for an unknown id that names the closest known ids."""
    return ValueError(f"unknown {kind} id {name!r}" + did_you_mean(name, known))


class UsageError(ValueError):
    """A user error on the command line or in an input file: reported in one line, exit code 2."""
