"""Resource limits of a scenario, checked at validation before any work.

A scenario that passes the schema could still ask for more than a run can give: a billion output
points (the whole grid is allocated up front: MemoryError), a million dose events (each restarts
the solver: hours), a time course of millions of rows.  :func:`limit_problems` refuses such a
scenario with a message naming the field, the amount asked for and the limit.  The limits are
generous for studies (a 15-year arm with twice-daily dosing fits; so do daily outputs over 100
years) and can be lifted by a user who means it: ``ranklsim run --no-limits`` or ``limits=False``
in :func:`~ranklsim.simulate.scenario.scenario_from_dict` and the loaders.

Costs behind the numbers (chronic view, one core): ~25 us per output point, ~3 ms per dose or
diet event (the solver restarts at each); a row of ``timecourse.csv`` is ~60 bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ranklsim.simulate.scenario import Scenario

#: longest run, days (100 years): the chronic view's horizon
MAX_DURATION_DAYS = 36_500.0
#: output points of one arm's run (``duration_days / output_every_days``): ~2.5 s and ~100 MB per arm
MAX_OUTPUT_POINTS = 100_000
#: dose administrations and diet changes of all arms together: ~75 s of solver restarts
MAX_EVENTS = 25_000
#: rows of ``timecourse.csv`` over all arms (output points x recorded ids x arms): ~120 MB
MAX_TIMECOURSE_ROWS = 2_000_000
#: longest arm name, characters (it is repeated on every row of the outputs)
MAX_NAME_LENGTH = 100
#: how a user lifts the limits (named in every message)
HOW_TO_LIFT = "ranklsim run --no-limits lifts the limits"


def _n(x: float) -> str:
    """``1,234`` for counts up to a billion, ``1.1e+12`` beyond."""
    return f"{x:,.0f}" if x < 1e9 else f"{x:.2g}"


def _limit(asked: str, limit: float, unit: str) -> str:
    return f"{asked}; the limit is {_n(limit)} {unit} ({HOW_TO_LIFT})"


def output_points(scenario: Scenario) -> float:
    """Output points of one arm's run (as a float: never allocates the grid)."""
    every = scenario.output_every_days or max(scenario.duration_days / 100.0, 1e-3)
    return scenario.duration_days / every + 1 + len(scenario.tests)


def arm_events(scenario: Scenario, i: int) -> dict[str, int]:
    """Solver events of arm ``i`` by field path: each treatment's administrations and the diet
    changes (a start and, before the end of the run, a return to chow per period)."""
    arm = scenario.arms[i]
    out = {f"arms[{i}].treatments[{j}].n_doses": t.n_doses for j, t in enumerate(arm.treatments)}
    if arm.diet:
        out[f"arms[{i}].diet"] = sum(1 + (d.end_day(scenario.duration_days) < scenario.duration_days)
                                     for d in arm.diet)
    return out


def limit_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """``(field path, message)`` for every resource limit ``scenario`` exceeds."""
    probs: list[tuple[str, str]] = []
    points = output_points(scenario)
    if points > MAX_OUTPUT_POINTS:
        every = scenario.output_every_days
        field = "output_every_days" if every is not None else "duration_days"
        asked = (f"{every:g} gives {_n(points)} output points per arm" if every is not None
                 else f"{scenario.duration_days:g} gives {_n(points)} output points per arm")
        probs.append((field, _limit(asked, MAX_OUTPUT_POINTS, "points per arm")))
        return probs  # the time-course rows follow from the points
    events = {k: v for i in range(len(scenario.arms)) for k, v in arm_events(scenario, i).items()}
    total = sum(events.values())
    if total > MAX_EVENTS:
        field = max(events, key=events.__getitem__)
        what = "diet changes" if field.endswith(".diet") else "administrations"
        asked = (f"{_n(events[field])} {what} make {_n(total)} dose and diet events in "
                 f"{len(scenario.arms)} arm(s)")
        probs.append((field, _limit(asked, MAX_EVENTS, "events per scenario")))
    ids = len({*scenario.timecourse, *scenario.readouts})
    rows = points * ids * len(scenario.arms)
    if rows > MAX_TIMECOURSE_ROWS:
        field = "timecourse" if scenario.timecourse else "readouts"
        asked = (f"{ids} ids x {_n(points)} output points x {len(scenario.arms)} arm(s) make {_n(rows)} "
                 "time-course rows")
        probs.append((field, _limit(asked, MAX_TIMECOURSE_ROWS, "rows")))
    return probs
