"""Command-line conventions shared by every ``ranklsim`` subcommand.

* numbers are parsed by the typed converters here (range errors name the option and the limit);
* engine options mean the same everywhere: ``--workers N`` local processes (default one per CPU,
  capped at the number of tasks; ``1`` runs serially in this process), ``--scheduler ADDRESS`` a Dask
  scheduler (``tcp://host:port``) or ``local`` for a LocalCluster of ``--workers`` processes;
* a user error raises :class:`~ranklsim.errors.UsageError` (or ValueError) and the top-level ``main``
  prints one line and exits 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable

from ranklsim.errors import UsageError
from ranklsim.parallel import DaskEngine, Engine, ProcessPoolEngine, SerialEngine


def _number(kind: type, text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def bounded(kind: type = float, *, low: float | None = None, high: float | None = None,
            low_inclusive: bool = True) -> Callable[[str], float]:
    """An argparse type: ``kind`` (int or float) within ``[low, high]`` (``(low, high]`` if not
    ``low_inclusive``)."""

    def convert(text: str):
        value = _number(kind, text)
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        if too_low or (high is not None and value > high):
            lo = "" if low is None else f"{'>=' if low_inclusive else '>'} {low:g}"
            hi = "" if high is None else f"<= {high:g}"
            raise argparse.ArgumentTypeError(f"must be {' and '.join(s for s in (lo, hi) if s)}, got {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert


positive_int = bounded(int, low=1)
non_negative_int = bounded(int, low=0)
positive_float = bounded(float, low=0.0, low_inclusive=False)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--scheduler`` with the package-wide meaning."""
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="local worker processes (default: one per CPU, capped at the number of "
                             "tasks; 1 runs serially in this process)")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (tcp://host:port), or 'local' for a LocalCluster "
                             "of --workers processes (needs ranklsim[dask])")


def engine_from_args(args: argparse.Namespace, n_tasks: int) -> Engine:
    """The engine the engine options ask for; ``n_tasks`` caps the default number of workers
    (a pool of idle workers would only pay the model build)."""
    cpus = os.cpu_count() or 1
    if args.scheduler:
        address = None if args.scheduler == "local" else args.scheduler
        try:
            return DaskEngine(address, n_workers=args.workers or cpus)
        except (ConnectionError, ImportError, OSError) as exc:  # before any work is done
            raise UsageError(f"--scheduler {args.scheduler}: {exc}") from exc
    workers = args.workers if args.workers is not None else max(1, min(cpus, n_tasks))
    return ProcessPoolEngine(workers) if workers > 1 else SerialEngine()
