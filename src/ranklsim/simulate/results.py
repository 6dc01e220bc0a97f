"""What a simulation takes and gives: protocol events, time-course results (with units) and the errors
of a failed run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ranklsim.models.parameters import check_value

if TYPE_CHECKING:
    import pandas as pd


class SimulationError(RuntimeError):
    """The ODE solver failed; the message names the time reached and the overrides."""


class OutOfDomainError(SimulationError):
    """A quantity that must be non-negative (``Model.nonnegative``) went negative beyond solver
    round-off: the run left the model's valid domain.  The message names it, the time and the overrides."""


@dataclass(frozen=True)
class Event:
    """A protocol event: at ``time`` set (or add to) the value of a parameter or state.

    Times are in the view's time unit (minutes for acute, days for chronic).
    """

    time: float
    target: str
    value: float
    op: Literal["set", "add"] = "set"

    def __post_init__(self) -> None:
        check_value(f"time of event on {self.target}", self.time)
        if self.op not in ("set", "add"):
            raise ValueError(f"event op must be 'set' or 'add', got {self.op!r}")
        check_value(f"event value for {self.target}", self.value, allow_negative=self.op == "add")

    def applied(self, old: float) -> float:
        """The target's value after this event, given its value ``old`` before it."""
        return self.value if self.op == "set" else old + self.value


class SimulationResult:
    """A time course in wide form with units: one column per id, plus ``time`` (the view's unit).

    The values are held as one NumPy array (:attr:`array`, columns :attr:`columns`); the pandas
    :attr:`frame` is built only when first asked for, so inner loops (objectives, cohorts) that read
    columns with ``res[id]``, :attr:`time` or :meth:`final` never pay for a DataFrame.  Give either
    ``frame`` or ``array`` with ``columns``.
    """

    def __init__(self, frame: pd.DataFrame | None = None, units: dict[str, str] | None = None,
                 time_unit: str = "min", species: str = "human", view: str = "acute",
                 overrides: dict[str, float] | None = None, out_of_bounds: dict[str, float] | None = None,
                 derived: dict[str, float] | None = None, *, array: np.ndarray | None = None,
                 columns: Sequence[str] | None = None) -> None:
        if (frame is None) == (array is None):
            raise ValueError("give either frame or array (with columns)")
        if frame is not None:
            array, columns = frame.to_numpy(dtype=float), [str(c) for c in frame.columns]
        elif columns is None or np.ndim(array) != 2 or np.shape(array)[1] != len(columns):
            raise ValueError("array must be 2-D with one column per entry of columns")
        #: the values, one row per output time (first column: time)
        self.array: np.ndarray = np.asarray(array, dtype=float)
        #: the column ids of :attr:`array` (``time`` first)
        self.columns: tuple[str, ...] = tuple(columns)
        self._index = {k: j for j, k in enumerate(self.columns)}
        self._frame = frame
        self.units: dict[str, str] = dict(units or {})
        self.time_unit = time_unit
        self.species = species
        self.view = view
        self.overrides: dict[str, float] = dict(overrides or {})
        #: parameter values outside their table bounds (run with ``allow_out_of_bounds=True``); empty if none
        self.out_of_bounds: dict[str, float] = dict(out_of_bounds or {})
        #: derived normalisers recomputed for the changed model constants (:mod:`.reference`); empty if none
        self.derived: dict[str, float] = dict(derived or {})

    @classmethod
    def _of_run(cls, array: np.ndarray, columns: tuple[str, ...], index: dict[str, int], units: dict[str, str],
                time_unit: str, species: str, view: str, overrides: dict[str, float],
                out_of_bounds: dict[str, float], derived: dict[str, float]) -> SimulationResult:
        """A result of :meth:`Model.simulate`, without the checks and copies of ``__init__`` (its inner
        loop): ``array`` is a fresh 2-D float array with one column per entry of ``columns``, ``index``
        maps each column id to its position (shared between results: never mutated), and the dicts are
        the result's own."""
        res = cls.__new__(cls)
        res.array, res.columns, res._index, res._frame = array, columns, index, None
        res.units, res.time_unit, res.species, res.view = units, time_unit, species, view
        res.overrides, res.out_of_bounds, res.derived = overrides, out_of_bounds, derived
        return res

    def __repr__(self) -> str:
        return (f"SimulationResult({self.species}/{self.view}, {len(self.array)} times, "
                f"columns={list(self.columns)})")

    @property
    def frame(self) -> pd.DataFrame:
        """The time course as a DataFrame (built on first access, then kept)."""
        if self._frame is None:
            import pandas as pd  # lazy: pandas costs ~0.2 s to import and a run builds its frame only when asked

            self._frame = pd.DataFrame(self.array, columns=list(self.columns), copy=False)
        return self._frame

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.array[:, self._index[key]]
        except KeyError:
            raise KeyError(f"{key!r} is not an output of this result; outputs: {list(self.columns)}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __len__(self) -> int:
        """Number of output times."""
        return len(self.array)

    @property
    def time(self) -> np.ndarray:
        return self.array[:, 0]

    def final(self) -> dict[str, float]:
        """Values at the last output time."""
        return dict(zip(self.columns, map(float, self.array[-1]), strict=True))

    def tidy(self) -> pd.DataFrame:
        """Long form: time, time_unit, id, value, unit (one row per time and id)."""
        long = self.frame.melt(id_vars="time", var_name="id", value_name="value")
        long["unit"] = long["id"].map(self.units)
        long.insert(1, "time_unit", self.time_unit)
        return long
