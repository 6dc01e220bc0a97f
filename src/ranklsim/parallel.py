"""Execution engines: ``map(fn, items, context)`` yields ``(index, result | exception)`` as tasks finish.

``fn(context, item)`` must be a module-level (picklable) function. The ``context`` (typically the
objective) is shipped once per worker, never per task. Exceptions raised by ``fn`` are returned, not
raised; ``KeyboardInterrupt``/``SystemExit`` propagate and cancel the pending tasks.

Worker lifecycle (:class:`ProcessPoolEngine`): each worker ignores SIGINT (Ctrl-C reaches the whole
process group; the parent alone decides) and runs a daemon thread that ends the worker
(``os._exit``) within :data:`PARENT_POLL_SECONDS` once its parent process is gone, whatever killed
the parent (SIGKILL included).  An interrupted ``map`` (Ctrl-C, SIGTERM turned into an exception,
an error in the consumer, or a generator closed early) terminates its workers instead of waiting
for their running tasks.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Protocol

Task = Callable[[Any, Any], Any]
Outcome = tuple[int, Any]
DASK_EXTRA_HINT = "pip install ranklsim[dask]"
#: how often a pool worker checks that its parent process is still alive (seconds)
PARENT_POLL_SECONDS = 0.5


class Engine(Protocol):
    """Anything with ``map(fn, items, context=None)`` and ``close()``."""

    def map(self, fn: Task, items: Iterable[Any], context: Any = None) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


class _Base:
    def close(self) -> None:
        """Release resources (no-op unless the engine owns workers)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialEngine(_Base):
    """Runs the tasks one after another in this process."""

    def map(self, fn: Task, items: Iterable[Any], context: Any = None) -> Iterator[Outcome]:
        for i, item in enumerate(items):
            try:
                out = fn(context, item)
            except Exception as exc:  # returned to the caller by design
                out = exc
            yield i, out


# --- process pool ---------------------------------------------------------------------------------
_WORKER_CONTEXT: Any = None


def _watch_parent(parent_pid: int, interval: float) -> None:
    """End this process as soon as its parent is gone (re-parented: ``getppid`` changes)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(interval)


def start_parent_watch(parent_pid: int, interval: float = PARENT_POLL_SECONDS) -> threading.Thread:
    """A daemon thread that ends this (worker) process once ``parent_pid`` is no longer its parent."""
    thread = threading.Thread(target=_watch_parent, args=(parent_pid, interval), name="ranklsim-parent-watch",
                              daemon=True)
    thread.start()
    return thread


def _init_worker(context: Any, parent_pid: int | None = None) -> None:
    global _WORKER_CONTEXT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        start_parent_watch(parent_pid)
    _WORKER_CONTEXT = context


def _pool_task(fn: Task, item: Any) -> Any:
    return fn(_WORKER_CONTEXT, item)


def _stop_workers(pool: ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Cancel the queued tasks, terminate the pool's workers (their running tasks are abandoned) and
    reap them.  The pool's own manager thread cancels the queued futures: cancelling them here too
    would make it fail on them when it finds the pool broken (CPython 3.11)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():  # pragma: no cover - a worker that ignores SIGTERM
            proc.kill()


def _outcome(exc: BaseException | None, get_result: Callable[[], Any]) -> Any:
    if exc is None:
        return get_result()
    if not isinstance(exc, Exception):
        raise exc
    return exc


class ProcessPoolEngine(_Base):
    """``concurrent.futures`` process pool; the context reaches each worker once via the initializer.

    ``mp_context`` defaults to ``"spawn"`` (workers rebuild simulators from a pickled objective, never
    inherit a live RoadRunner instance). A fresh pool is started per ``map`` call.
    """

    def __init__(self, n_workers: int | None = None, mp_context: str = "spawn") -> None:
        self.n_workers = int(n_workers or os.cpu_count() or 1)
        if self.n_workers < 1:
            raise ValueError("n_workers must be >= 1")
        self.mp_context = mp_context

    def map(self, fn: Task, items: Iterable[Any], context: Any = None) -> Iterator[Outcome]:
        items = list(items)
        if not items:
            return
        pool = ProcessPoolExecutor(
            max_workers=min(self.n_workers, len(items)),
            mp_context=multiprocessing.get_context(self.mp_context),
            initializer=_init_worker,
            initargs=(context, None if self.mp_context == "forkserver" else os.getpid()),
        )
        futures: dict[Future, int] = {pool.submit(_pool_task, fn, item): i for i, item in enumerate(items)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], _outcome(fut.exception(), fut.result)
        except BaseException:
            _stop_workers(pool)
            raise
        pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"ProcessPoolEngine(n_workers={self.n_workers})"


# --- dask -----------------------------------------------------------------------------------------
def _import_distributed():
    try:
        import distributed  # optional: dask is the ranklsim[dask] extra
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"DaskEngine needs dask.distributed: {DASK_EXTRA_HINT}") from exc
    return distributed


def _dask_task(fn: Task, context: Any, item: Any) -> Any:
    return fn(context, item)


class DaskEngine(_Base):
    """Dask ``distributed`` engine.

    ``address``: scheduler address (``"tcp://host:8786"``), an existing ``distributed.Client``, or
    ``None`` for a local cluster of ``n_workers`` single-threaded processes (closed by :meth:`close`).
    The context is scattered once per ``map`` call with ``broadcast=True``.
    """

    def __init__(self, address: Any = None, *, n_workers: int = 2, timeout: float = 5.0) -> None:
        distributed = _import_distributed()
        self._cluster = None
        self._owns_client = True
        self.address = address
        if isinstance(address, distributed.Client):
            self.client = address
            self._owns_client = False
        elif address is None:
            self._cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = distributed.Client(self._cluster)
        else:
            try:
                self.client = distributed.Client(str(address), timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise ConnectionError(
                    f"could not reach the Dask scheduler at {address!r} within {timeout:g} s "
                    f"({type(exc).__name__}: {exc}); is a scheduler running there (`dask scheduler`)?"
                ) from exc

    def map(self, fn: Task, items: Iterable[Any], context: Any = None) -> Iterator[Outcome]:
        distributed = _import_distributed()
        items = list(items)
        if not items:
            return
        ctx = self.client.scatter([context], broadcast=True, hash=False)[0]
        futures = [self.client.submit(_dask_task, fn, ctx, item, pure=False) for item in items]
        index = {fut.key: i for i, fut in enumerate(futures)}
        try:
            for fut in distributed.as_completed(futures):
                if fut.status == "finished":
                    yield index[fut.key], fut.result()
                    continue
                try:
                    fut.result()
                    raise RuntimeError(f"dask task ended with status {fut.status!r}")
                except Exception as exc:  # returned to the caller by design
                    yield index[fut.key], exc
        finally:
            self.client.cancel(futures)
            del ctx

    def close(self) -> None:
        if self._owns_client and self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __repr__(self) -> str:
        where = "local cluster" if self._cluster is not None else repr(self.address)
        return f"DaskEngine({where})"


def make_engine(spec: str | Engine | None = None) -> Engine:
    """Engine from a short spec: ``None``/``"serial"``, ``"processes[:N]"``, ``"dask[:N]"`` (local
    cluster) or a scheduler address (``"tcp://host:8786"``, also ``"dask:tcp://..."``)."""
    if spec is None or spec == "serial":
        return SerialEngine()
    if not isinstance(spec, str):
        return spec
    kind, _, arg = spec.partition(":")
    if kind == "processes":
        return ProcessPoolEngine(int(arg) if arg else None)
    if kind == "dask":
        if arg.isdigit() or not arg:
            return DaskEngine(None, n_workers=int(arg) if arg else 2)
        return DaskEngine(arg)
    if "://" in spec:
        return DaskEngine(spec)
    raise ValueError(f"unknown engine spec {spec!r}: use serial, processes[:N], dask[:N] or tcp://host:port")
