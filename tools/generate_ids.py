"""Regenerate src/ranklsim/models/ids.py from the parameter table and the Antimony modules.

``ranklsim dev regenerate`` rebuilds it together with the other generated files; this writes ids.py
alone.
"""

from __future__ import annotations

from ranklsim.models.tables import IDS_MODULE
from ranklsim.models.tables import render_ids as render

__all__ = ["render"]

if __name__ == "__main__":
    IDS_MODULE.write_text(render())
    print(f"wrote {IDS_MODULE}")
