"""Examination schedules of the cohort follow-up: the years of the examinations and the days by which a
dosed arm's visits move to the trough before an injection (:mod:`ranklsim.cohort.arms`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from ranklsim.constants import DAYS_PER_YEAR, MAX_FOLLOW_UP_YEARS

#: the Bruneck examinations (Kiechl 2013): every 5 years, 0-15
DEFAULT_EXAM_INTERVAL = 5.0
#: most examinations per person (each is an output row; with an OGTT, an acute run)
MAX_EXAMS = 400

#: where follow-up examinations sit relative to an arm's repeated injections: "trough" (default) moves a
#: visit that falls on a dosing visit to just before that injection, where trials sample (pre-dose, e.g.
#: FREEDOM's 6-monthly visits before the next denosumab injection); "scheduled" keeps the schedule
VISIT_TIMINGS = ("trough", "scheduled")
#: days before the dose at which a trough visit samples
PRE_DOSE_DAYS = 1.0
#: a scheduled visit is a dosing visit when an injection was due at most this many days before it (a
#: trial's visit window); visits between injections (e.g. month 3 of a 6-monthly regimen) keep their day
VISIT_WINDOW_DAYS = 30.0


#: round-off tolerance of dose and visit days
_EPS = 1e-9

__all__ = ["DEFAULT_EXAM_INTERVAL", "MAX_EXAMS", "PRE_DOSE_DAYS", "VISIT_TIMINGS", "VISIT_WINDOW_DAYS", "check_shifts",
           "check_visits", "exam_schedule", "trough_before"]


def exam_schedule(years: float, exam_years: Sequence[float] | None = None,
                  every: float | None = None) -> tuple[float, ...]:
    """The examination years of a follow-up of ``years`` (baseline 0 always included).

    Either ``exam_years`` (explicit years, each in [0, ``years``], the last one ``years``: the
    follow-up ends at its last examination) or ``every`` (an interval: 0, every, 2 every, ... and a
    closing examination at ``years`` when it is not a multiple); by default every
    :data:`DEFAULT_EXAM_INTERVAL` years (Bruneck).  Bad schedules raise ValueError naming the problem.
    """
    years = float(years)
    if not 0.0 < years <= MAX_FOLLOW_UP_YEARS:
        raise ValueError(f"years must be > 0 and <= {MAX_FOLLOW_UP_YEARS:g} (the follow-up the cohort is "
                         f"calibrated for), got {years!r}")
    if exam_years is not None and every is not None:
        raise ValueError("give examination years or an interval, not both")
    if exam_years is None:
        exam_years = _interval_exams(years, DEFAULT_EXAM_INTERVAL if every is None else float(every))
    else:
        _check_explicit_exams(years, exam_years)
    exams = _distinct(sorted({0.0, *(min(max(float(y), 0.0), years) for y in exam_years)}))
    if len(exams) > MAX_EXAMS:
        raise ValueError(f"{len(exams)} examinations is more than {MAX_EXAMS} (e.g. monthly for 15 years is 181)")
    if len({f"{y:g}" for y in exams}) < len(exams):  # the record's columns are named by year
        raise ValueError(f"examinations closer than their names can tell apart: {exams}")
    return tuple(exams)


def _interval_exams(years: float, every: float) -> list[float]:
    """0, every, 2 every, ... up to ``years``, and ``years`` itself."""
    if not (math.isfinite(every) and every > 0.0):
        raise ValueError(f"the examination interval must be > 0 years, got {every!r}")
    n = min(math.floor(years / every + 1e-9), MAX_EXAMS)  # more is refused below
    return [k * every for k in range(n + 1)] + [years]


def _check_explicit_exams(years: float, exam_years: Sequence[float]) -> None:
    bad = [y for y in exam_years if not (math.isfinite(float(y)) and -1e-9 <= float(y) <= years + 1e-9)]
    if bad:
        raise ValueError(f"examinations must lie within the follow-up [0, {years:g}] years, got {bad}")
    if max((float(y) for y in exam_years), default=0.0) < years - 1e-9:
        raise ValueError(f"the follow-up ends at its last examination: add {years:g} to the examination "
                         f"years {tuple(exam_years)} or shorten the follow-up")


def _distinct(sorted_years: list[float]) -> list[float]:
    """Years closer than a minute to the one before dropped (round-off of interval schedules)."""
    out: list[float] = []
    for y in sorted_years:
        if not out or y - out[-1] > 1.0 / (DAYS_PER_YEAR * 1440.0):
            out.append(y)
    if out[-1] != sorted_years[-1]:
        out[-1] = sorted_years[-1]  # the closing examination is exactly the end of follow-up
    return out



def check_shifts(exams: tuple[float, ...], shifts: Sequence[float]) -> tuple[float, ...]:
    """Visit shifts (days, one per examination; empty: none): baseline 0, the rest <= 0 and in order."""
    if not len(shifts):
        return (0.0,) * len(exams)
    shifts = tuple(float(d) for d in shifts)
    days = [DAYS_PER_YEAR * y + d for y, d in zip(exams, shifts, strict=False)]
    if (len(shifts) != len(exams) or shifts[0] != 0.0 or any(not (math.isfinite(d) and d <= 0.0) for d in shifts)
            or any(b <= a for a, b in itertools.pairwise(days))):
        raise ValueError(f"visit shifts must be one finite value <= 0 days per examination, 0 at baseline, "
                         f"keeping the visits in order; got {list(shifts)} for examinations {list(exams)}")
    return shifts


def check_visits(visits: str) -> str:
    if visits not in VISIT_TIMINGS:
        raise ValueError(f"visits must be one of {VISIT_TIMINGS}, got {visits!r}")
    return visits


def trough_before(day: float, periodic: Sequence) -> float | None:
    """The trough sampling day of a dosing visit on ``day`` (:data:`PRE_DOSE_DAYS` before the latest
    injection after baseline due at most :data:`VISIT_WINDOW_DAYS` before it), or None.  ``periodic``:
    repeated treatments (``start_day``, ``interval_days``), e.g. a scenario's ``Treatment``."""
    due = [t.start_day + math.floor((day - t.start_day) / t.interval_days + _EPS) * t.interval_days
           for t in periodic if day >= t.start_day - _EPS]
    due = [d for d in due if d - PRE_DOSE_DAYS > 0.0 and day - d <= VISIT_WINDOW_DAYS]
    return max(due) - PRE_DOSE_DAYS if due else None
