import json
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="session")
def reference():
    def load(name):
        return json.loads((REFERENCE / f"{name}.json").read_text())

    return load


def peaks(t, y):
    """Times and values of interior local maxima, refined by parabolic interpolation."""
    import numpy as np

    t, y = np.asarray(t), np.asarray(y)
    idx = np.where((y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:]))[0] + 1
    out = []
    for i in idx:
        y0, y1, y2 = y[i - 1], y[i], y[i + 1]
        den = y0 - 2 * y1 + y2
        d = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        h = t[i + 1] - t[i]
        out.append((t[i] + d * h, y1 - 0.25 * (y0 - y2) * d))
    return out
