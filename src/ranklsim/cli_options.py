"""Command-line conventions shared by every ``ranklsim`` subcommand.

* the parsers are :class:`CliParser`: an argparse error is one ``ranklsim: error: ...`` line, exit 2;
* numbers are parsed by the typed converters here (range errors name the option and the limit); every
  numeric option has both bounds where a value could exhaust the machine (:data:`MAX_WORKERS`,
  :data:`MAX_SEED`, :data:`~ranklsim.constants.MAX_FOLLOW_UP_YEARS` for ``--years``);
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
from typing import NoReturn

from ranklsim.constants import MAX_FOLLOW_UP_YEARS
from ranklsim.errors import UsageError
from ranklsim.parallel import DaskEngine, Engine, ProcessPoolEngine, SerialEngine

#: most local worker processes (4 per CPU: more only adds memory and model builds)
MAX_WORKERS = 4 * max(1, os.cpu_count() or 1)
#: largest random seed (numpy's legacy RandomState, used by emcee, takes 32-bit seeds)
MAX_SEED = 2**32 - 1


class CliParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, ``ranklsim: error: COMMAND: MESSAGE (see
    'ranklsim COMMAND --help')``, and exit code 2.  Sub-parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        text = " ".join(message.split())
        self.exit(2, f"ranklsim: error: {where}{text} (see '{self.prog} --help')\n")


def _number(kind: type, text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _fmt(x: float) -> str:
    """A limit as written: ``15``, ``4294967295``, ``0.5``, ``1e-09``."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def bounded(kind: type = float, *, low: float | None = None, high: float | None = None,
            low_inclusive: bool = True) -> Callable[[str], float]:
    """An argparse type: ``kind`` (int or float) within ``[low, high]`` (``(low, high]`` if not
    ``low_inclusive``)."""

    def convert(text: str):
        value = _number(kind, text)
        if low is not None and (value < low if low_inclusive else value <= low):
            raise argparse.ArgumentTypeError(f"must be {'>=' if low_inclusive else '>'} {_fmt(low)}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {_fmt(high)}, got {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its messages
    return convert


positive_int = bounded(int, low=1)
non_negative_int = bounded(int, low=0)
positive_float = bounded(float, low=0.0, low_inclusive=False)
#: ``--seed``: 0 to :data:`MAX_SEED`
seed_int = bounded(int, low=0, high=MAX_SEED)
#: ``--years`` of a cohort follow-up: > 0 and at most :data:`~ranklsim.constants.MAX_FOLLOW_UP_YEARS`
follow_up_years = bounded(float, low=0.0, low_inclusive=False, high=MAX_FOLLOW_UP_YEARS)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--scheduler`` with the package-wide meaning."""
    parser.add_argument("--workers", type=bounded(int, low=1, high=MAX_WORKERS), default=None,
                        help="local worker processes (default: one per CPU, capped at the number of "
                             f"tasks; 1 runs serially in this process; at most {MAX_WORKERS})")
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
