"""Profile likelihoods: walk outward from the optimum, re-optimising the other parameters."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ranklsim.constants import FAILED_VALUE
from ranklsim.errors import unknown_id_error
from ranklsim.fitting.multistart import local_optimize
from ranklsim.fitting.types import CHI2_DELTA_95, ObjectiveLike, bounds_of, to_linear
from ranklsim.parallel import Engine, SerialEngine


@dataclass
class ProfileResult:
    """One parameter's profile. ``values`` are on the optimisation scale, sorted; ``xs`` the full
    re-optimised vectors; CI bounds are NaN on a side that is open (threshold not crossed)."""

    parameter_id: str
    index: int
    parameter_ids: tuple[str, ...]
    scales: tuple[str, ...]
    x_best: np.ndarray
    nll_best: float
    values: np.ndarray
    nll: np.ndarray
    xs: np.ndarray
    threshold: float = CHI2_DELTA_95
    messages: list[str] = field(default_factory=list)

    @property
    def scale(self) -> str:
        return self.scales[self.index]

    @property
    def delta(self) -> np.ndarray:
        """``nll - nll_best`` (NaN where the simulation failed)."""
        return self.nll - self.nll_best

    @property
    def ratio(self) -> np.ndarray:
        """Likelihood ratio ``exp(-delta)`` to the best fit."""
        return np.exp(-self.delta)

    @property
    def values_linear(self) -> np.ndarray:
        return to_linear(self.values[:, None], [self.scale])[:, 0]

    def _side(self, direction: int) -> float:
        ok = np.isfinite(self.nll)
        v, d = self.values[ok], self.delta[ok]
        ib = int(np.argmin(np.abs(v - self.x_best[self.index])))
        order = range(ib + 1, len(v)) if direction > 0 else range(ib - 1, -1, -1)
        prev = ib
        for j in order:
            if d[j] > self.threshold:
                da, db = d[prev], d[j]
                frac = (self.threshold - da) / (db - da) if db > da else 0.0
                return float(v[prev] + min(max(frac, 0.0), 1.0) * (v[j] - v[prev]))
            prev = j
        return math.nan

    @property
    def ci_lower(self) -> float:
        """Lower 95 % CI bound on the optimisation scale (NaN if open)."""
        return self._side(-1)

    @property
    def ci_upper(self) -> float:
        return self._side(+1)

    @property
    def lower_open(self) -> bool:
        return math.isnan(self.ci_lower)

    @property
    def upper_open(self) -> bool:
        return math.isnan(self.ci_upper)

    @property
    def identifiable(self) -> bool:
        """Both sides of the 95 % CI closed within the explored range."""
        return not (self.lower_open or self.upper_open)

    def to_frame(self) -> pd.DataFrame:
        """Profile points: value (opt/linear), nll, delta, ratio and the re-optimised vectors."""
        df = pd.DataFrame({"parameter": self.parameter_id, "value": self.values,
                           "value_linear": self.values_linear, "nll": self.nll, "delta_nll": self.delta,
                           "ratio": self.ratio})
        return pd.concat([df, pd.DataFrame(self.xs, columns=list(self.parameter_ids))], axis=1)

    def row(self) -> dict[str, Any]:
        lin = to_linear(np.array([[self.x_best[self.index], self.ci_lower, self.ci_upper]]), [self.scale] * 3)[0]
        return {"parameter": self.parameter_id, "scale": self.scale, "best": lin[0], "ci_lower": lin[1],
                "ci_upper": lin[2], "lower_open": self.lower_open, "upper_open": self.upper_open,
                "identifiable": self.identifiable}


class _Fixed:
    """The objective with parameter ``i`` fixed at ``v``."""

    def __init__(self, objective: Any, i: int, v: float) -> None:
        self.objective, self.i, self.v = objective, i, v

    def _full(self, y: np.ndarray) -> np.ndarray:
        return np.insert(np.asarray(y, float), self.i, self.v)

    def __call__(self, y: np.ndarray) -> float:
        return self.objective(self._full(y))

    def residuals(self, y: np.ndarray) -> np.ndarray:
        return self.objective.residuals(self._full(y))


def _point(objective: Any, i: int, v: float, warm: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           optimizer: str, max_nfev: int | None) -> tuple[float, np.ndarray]:
    if lo.size == 1:
        x = np.array([v])
        try:
            f = float(objective(x))
        except Exception:
            f = FAILED_VALUE
    else:
        out = local_optimize(_Fixed(objective, i, v), np.delete(warm, i), np.delete(lo, i), np.delete(hi, i),
                             optimizer, max_nfev)
        f, x = out["fval"], np.insert(out["x"], i, v)
    return (math.nan if not math.isfinite(f) or f >= FAILED_VALUE else f), x


def _side_range(item: dict[str, Any], lo: np.ndarray, hi: np.ndarray) -> tuple[float, float] | None:
    """``(end, max_step)`` of one side of a profile, or None when there is no room to walk."""
    i, sign, xb = item["index"], item["direction"], np.asarray(item["x_best"], float)
    limit = hi[i] if sign > 0 else lo[i]
    room = abs(limit - xb[i])
    reach = room if item["span"] is None else min(float(item["span"]), room)
    n = int(item["n_points"])
    if reach <= 0 or n < 1:
        return None
    end = limit if reach == room else xb[i] + sign * reach
    return end, reach / n


def _walk_task(objective: Any, item: dict[str, Any]) -> list[tuple[float, float, np.ndarray]]:
    """Points of one side of one profile, warm-started from the neighbour, with adaptive steps:
    a step raising nll by more than ``max_jump`` is halved; a flat step is doubled (up to reach / n)."""
    i, sign, xb, f0 = item["index"], item["direction"], np.asarray(item["x_best"], float), item["nll_best"]
    lo, hi = bounds_of(objective)
    side = _side_range(item, lo, hi)
    if side is None:
        return []
    end, max_step = side
    min_step, step, jump = max_step * 1e-4, max_step, item["max_jump"]
    pts: list[tuple[float, float, np.ndarray]] = []
    prev_v, prev_f, prev_x = xb[i], f0, xb
    for _ in range(20 * int(item["n_points"]) + 50):  # proposal budget
        left = sign * (end - prev_v)
        if left <= 1e-12 * max(1.0, abs(end)):
            break
        v = end if step >= left else prev_v + sign * step
        f, x = _point(objective, i, v, prev_x, lo, hi, item["optimizer"], item["max_nfev"])
        if step > min_step and (math.isnan(f) or f - prev_f > jump):
            step = max(step / 2, min_step)
            continue
        pts.append((v, f, x))
        if math.isnan(f):
            prev_v = v
            continue
        rise = f - prev_f
        prev_v, prev_f, prev_x = v, f, x
        if f - f0 > item["stop_delta"]:
            break
        if rise < jump / 4:
            step = min(2 * step, max_step)
    return pts


def _profiles(objective: ObjectiveLike, x_best: np.ndarray, indices: list[int], engine: Engine | None,
              opts: dict[str, Any]) -> list[ProfileResult]:
    xb = np.asarray(x_best, float)
    f0 = float(objective(xb))
    if not math.isfinite(f0) or f0 >= FAILED_VALUE:
        raise ValueError("the objective fails at x_best; profile from a successful fit")
    items = [{"index": i, "direction": s, "x_best": xb, "nll_best": f0, **opts} for i in indices for s in (-1, 1)]
    pts: dict[int, list[tuple[float, float, np.ndarray]]] = {i: [(xb[i], f0, xb)] for i in indices}
    msgs: dict[int, list[str]] = {i: [] for i in indices}
    for k, out in (engine or SerialEngine()).map(_walk_task, items, objective):
        i = items[k]["index"]
        if isinstance(out, Exception):
            msgs[i].append(f"direction {items[k]['direction']:+d} failed: {type(out).__name__}: {out}")
            warnings.warn(f"profile of {objective.parameter_ids[i]}: {msgs[i][-1]}", stacklevel=3)
        else:
            pts[i].extend(out)
    return [_result(objective, i, pts[i], msgs[i], xb, f0, opts["threshold"]) for i in indices]


def _result(objective: ObjectiveLike, i: int, points: list[tuple[float, float, np.ndarray]], msgs: list[str],
            xb: np.ndarray, f0: float, threshold: float) -> ProfileResult:
    """The profile of parameter ``i`` from its points (both sides and the best point)."""
    p = sorted(points, key=lambda t: t[0])
    nll = np.array([t[1] for t in p])
    ref = min(f0, float(np.nanmin(nll)))
    if ref < f0 - 1e-6:
        msgs.append(f"profile found a lower nll ({ref:.6g} < {f0:.6g}): x_best is not the optimum")
        warnings.warn(f"profile of {objective.parameter_ids[i]}: {msgs[-1]}", stacklevel=4)
    return ProfileResult(objective.parameter_ids[i], i, tuple(objective.parameter_ids), tuple(objective.scales),
                         xb, ref, np.array([t[0] for t in p]), nll, np.array([t[2] for t in p]), threshold, msgs)


def _index(objective: ObjectiveLike, index_or_id: int | str) -> int:
    ids = list(objective.parameter_ids)
    if isinstance(index_or_id, str):
        if index_or_id not in ids:
            raise unknown_id_error("estimated parameter", index_or_id, ids)
        return ids.index(index_or_id)
    if not -len(ids) <= int(index_or_id) < len(ids):
        raise ValueError(f"parameter index {index_or_id} out of range for {len(ids)} estimated parameters")
    return int(index_or_id) % len(ids)


def _opts(n_points: int, span: float | None, optimizer: str, max_nfev: int | None, threshold: float,
          stop_delta: float | None, max_jump: float | None) -> dict[str, Any]:
    return {"n_points": n_points, "span": span, "optimizer": optimizer, "max_nfev": max_nfev,
            "threshold": threshold, "stop_delta": 2 * threshold if stop_delta is None else stop_delta,
            "max_jump": threshold / 2 if max_jump is None else max_jump}


def profile_likelihood(objective: ObjectiveLike, x_best: np.ndarray, index_or_id: int | str, *,
                       n_points: int = 15, span: float | None = None, optimizer: str = "least_squares",
                       engine: Engine | None = None, max_nfev: int | None = None,
                       threshold: float = CHI2_DELTA_95, stop_delta: float | None = None,
                       max_jump: float | None = None) -> ProfileResult:
    """Profile one parameter (index or id).

    Each side walks up to ``span`` (optimisation scale; default: to the bound) in steps of at most
    ``span / n_points``, halved while a step raises nll by more than ``max_jump`` (default
    ``threshold / 2``), and stops once delta nll > ``stop_delta`` (default ``2 * threshold``).
    With an engine, the two sides run as parallel tasks.
    """
    opts = _opts(n_points, span, optimizer, max_nfev, threshold, stop_delta, max_jump)
    return _profiles(objective, x_best, [_index(objective, index_or_id)], engine, opts)[0]


def profile_all(objective: ObjectiveLike, x_best: np.ndarray, parameters: Sequence[int | str] | None = None, *,
                n_points: int = 15, span: float | None = None, optimizer: str = "least_squares",
                engine: Engine | None = None, max_nfev: int | None = None,
                threshold: float = CHI2_DELTA_95, stop_delta: float | None = None,
                max_jump: float | None = None) -> list[ProfileResult]:
    """Profiles of several parameters (default all); each side of each profile is one engine task."""
    idx = list(range(len(objective.parameter_ids))) if parameters is None else [
        _index(objective, p) for p in parameters]
    bounds_of(objective)
    opts = _opts(n_points, span, optimizer, max_nfev, threshold, stop_delta, max_jump)
    return _profiles(objective, x_best, idx, engine, opts)


def profile_table(profiles: Sequence[ProfileResult]) -> pd.DataFrame:
    """One row per parameter: best, lower/upper 95 % CI (linear scale), open flags, identifiable."""
    return pd.DataFrame([p.row() for p in profiles])
