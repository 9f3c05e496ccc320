"""Where a grid run's jobs execute: this process, local worker processes, or a Dask cluster.

:func:`make_executor` picks one. Each executor has ``description`` (str), ``workers`` (int),
``submit(fn, *args)`` -> future, ``wait_any(futures)`` -> the futures done (waiting at most
about a second) and ``shutdown(cancel=False)``. Local workers are
``concurrent.futures.ProcessPoolExecutor`` processes with the ``spawn`` start method (torch
and ``fork`` do not mix), one torch / BLAS thread each, that exit when the client dies.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._threads import one_thread_environment

__all__ = ["Brian2WorkerPlugin", "DASK_MISSING", "check_executor_options", "default_workers",
           "make_executor", "run_each"]


def _exit_with_parent(parent_pid):
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:  # the client died (e.g. SIGKILL): do not linger
            os._exit(1)


def _worker_init(parent_pid):
    """Initialiser of local worker processes: one torch thread; exit when the client dies.

    It also imports what every cell needs (torch, Brian2, the tasks), so that a worker loads
    them while the client is still planning rather than in its first cell.
    """
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    try:
        import torch

        torch.set_num_threads(1)
        _import_brian2()
        from .. import tasks  # noqa: F401  (NeuroGym; without the tasks extra cells say so)
    except ImportError:  # pragma: no cover
        pass


def _worker_ready():
    """A no-op task: submitting one per worker starts all worker processes at once."""
    return os.getpid()


class _InlineFuture:
    """A future run lazily in this process when the runner waits for it."""

    def __init__(self, fn, args):
        self._fn, self._args = fn, args
        self._done, self._result, self._error = False, None, None

    def run(self):
        try:
            self._result = self._fn(*self._args)
        except Exception as err:  # noqa: BLE001 - reported per cell by the runner
            self._error = err
        self._done = True

    def done(self):
        return self._done

    def result(self):
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self):
        return True


class _InlineExecutor:
    """Runs cells one by one in this process (``workers=1``)."""

    description = "this process"
    workers = 1

    def submit(self, fn, *args):
        return _InlineFuture(fn, args)

    def wait_any(self, futures):
        for f in futures:
            if not f.done():
                f.run()
                return [f]
        return [f for f in futures if f.done()]

    def shutdown(self, cancel=False):
        pass


class _PoolExecutor:
    """Local worker processes (spawn context)."""

    def __init__(self, workers):
        ctx = multiprocessing.get_context("spawn")
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                           initializer=_worker_init,
                                           initargs=(os.getpid(),))
        self.description = f"{workers} local worker processes"
        self.workers = workers
        # start every worker now, with one BLAS / OpenMP thread each (the environment is read
        # when numpy loads, before any initialiser runs; see brian_noisy_rnn._threads): the
        # pool spawns a process per submitted task while none is idle, and a spawned process
        # inherits the environment of that moment
        with one_thread_environment():
            for _ in range(workers):
                self.pool.submit(_worker_ready)

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def wait_any(self, futures):
        done, _ = cf.wait(futures, timeout=1.0, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def shutdown(self, cancel=False):
        if cancel:
            # cells in flight are abandoned: stop our own worker processes now instead of
            # letting interpreter exit wait for them
            processes = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in processes:
                if p.is_alive():
                    p.terminate()
            for p in processes:
                p.join(timeout=5)
        else:
            self.pool.shutdown(wait=True)


#: the message of the ImportError raised when Dask is needed but not installed
DASK_MISSING = ("running cells on a Dask cluster (scheduler= / client=, or `experiment "
                "--scheduler`) needs Dask, an optional dependency: "
                "pip install 'brian-noisy-rnn[dask]'")


def _import_distributed():
    """The ``distributed`` module, or ImportError saying which extra to install."""
    try:
        import distributed
    except ImportError as err:
        raise ImportError(DASK_MISSING, name="distributed") from err
    return distributed


def _import_brian2():
    """Import Brian2 (and torch) now, in the calling thread: call it in a main thread."""
    import brian2  # noqa: F401  (installs Brian2's SIGINT handler: main thread only)

    from ..backends.brian2 import run  # noqa: F401


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPluginBase
except ImportError:  # pragma: no cover - Dask not installed (the dask extra)
    _WorkerPluginBase = object


class Brian2WorkerPlugin(_WorkerPluginBase):
    """Dask worker plugin: imports Brian2 when a worker starts (or the plugin is registered).

    ``import brian2`` installs a SIGINT handler, which Python allows only in the main thread;
    a worker runs tasks in other threads, so a cell that imports Brian2 first would fail
    with "signal only works in main thread". :func:`run_grid` registers this plugin with every
    Dask client it uses, so workers started with a plain ``dask worker ADDRESS`` need no
    preload option.
    """

    idempotent = True

    def setup(self, worker: Any) -> None:
        """Import Brian2 in the worker's event-loop (main) thread.

        Parameters
        ----------
        worker : distributed.Worker
            The worker the plugin is registered with (called by Dask).
        """
        if threading.current_thread() is threading.main_thread():
            _import_brian2()


class _DaskExecutor:
    """A Dask distributed client (given, or connected to ``scheduler``)."""

    def __init__(self, client=None, scheduler=None, connect_timeout=30):
        Client = _import_distributed().Client

        self.own = client is None
        if client is None:
            try:
                client = Client(scheduler, timeout=connect_timeout)
            except (OSError, TimeoutError) as err:
                raise ValueError(f"scheduler: cannot connect to the Dask scheduler {scheduler!r} "
                                 f"within {connect_timeout} s ({type(err).__name__}: {err}); "
                                 "is it running and reachable from here?") from err
        self.client = client
        # Brian2 must be imported in each worker's main thread (its import installs a SIGINT
        # handler, which Python refuses in the task threads where cells run)
        self.client.register_plugin(Brian2WorkerPlugin(), name="brian-noisy-rnn-brian2")
        self.description = f"Dask scheduler {self.client.scheduler.address}"
        try:
            self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        except Exception:  # noqa: BLE001 - only a hint for splitting ensembles
            self.workers = 1

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def wait_any(self, futures):
        from distributed import wait
        from distributed.client import TimeoutError as DaskTimeout

        try:
            done, _ = wait(futures, timeout=1.0, return_when="FIRST_COMPLETED")
        except (DaskTimeout, TimeoutError):
            return []
        return list(done)

    def shutdown(self, cancel=False):
        if self.own:
            self.client.close()


def default_workers() -> int:
    """Local worker processes by default: the number of CPUs this process may use.

    Returns
    -------
    int
        At least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def make_executor(n_pending: int, workers: int | None = None, scheduler: str | None = None,
                  client: Any = None, connect_timeout: float = 30):
    """The executor for ``n_pending`` jobs: Dask, a process pool, or this process.

    Parameters
    ----------
    n_pending : int
        Jobs to run (no more local workers are started).
    workers : int >= 1 or None
        Local worker processes (None: :func:`default_workers`); 1 runs the jobs in this
        process, lazily, when the runner waits for them. Ignored with ``scheduler`` /
        ``client``.
    scheduler : str or None
        Address of a Dask scheduler to connect to.
    client : distributed.Client or None
        An existing Dask client (used as it is, not closed at shutdown).
    connect_timeout : float
        Seconds to wait for ``scheduler``.

    Returns
    -------
    executor
        With ``description``, ``workers``, ``submit``, ``wait_any`` and ``shutdown`` (see
        the module docstring).

    Raises
    ------
    ValueError
        If ``scheduler`` cannot be reached within ``connect_timeout``.
    ImportError
        With ``scheduler`` or ``client`` when Dask is not installed (:data:`DASK_MISSING`).
    """
    if client is not None or scheduler is not None:
        return _DaskExecutor(client, scheduler, connect_timeout)
    n = min(default_workers() if workers is None else workers, n_pending)
    return _InlineExecutor() if n <= 1 else _PoolExecutor(n)


def check_executor_options(workers: int | None, scheduler: str | None, client: Any) -> None:
    """Check the options of :func:`make_executor` before any work.

    Parameters
    ----------
    workers : int >= 1 or None
        Local worker processes.
    scheduler : str or None
        Address of a Dask scheduler.
    client : distributed.Client or None
        An existing Dask client.

    Raises
    ------
    ValueError
        For invalid ``workers``, or both ``scheduler`` and ``client``.
    ImportError
        With ``scheduler`` or ``client`` when Dask is not installed (the message names the
        ``dask`` extra).
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an int >= 1 or None, got {workers!r}")
    if scheduler is not None and client is not None:
        raise ValueError("give scheduler or client, not both")
    if scheduler is not None or client is not None:
        _import_distributed()  # fail before any work when the dask extra is missing


def run_each(calls: Sequence[tuple[Callable, tuple]], workers: int | None,
             on_result: Callable[[int, Any], Any],
             on_error: Callable[[int, Exception], Any] | None = None) -> None:
    """Run independent calls on local worker processes, handing over each result as it arrives.

    Parameters
    ----------
    calls : sequence of (callable, tuple)
        ``(fn, args)`` per job; with more than one worker ``fn`` must be a module-level
        function and ``args`` picklable.
    workers : int >= 1 or None
        Local worker processes (None: :func:`default_workers`; 1: this process, one by one).
    on_result : callable(int, object)
        Called in this process with a job's index in ``calls`` and its result, as each job
        finishes (in completion order), so a caller can store it at once.
    on_error : callable(int, Exception) or None
        Called with the index and the exception of a job that raised; the other jobs go on.
        None: the first failure is raised.

    Raises
    ------
    Exception
        A job's exception when ``on_error`` is None, or what ``on_result`` / ``on_error``
        raise. On any exception or interrupt the jobs still running are cancelled and the
        worker processes stopped; every result handed over before stays with the caller.
    """
    if not calls:
        return
    executor = make_executor(len(calls), workers)
    running = {executor.submit(fn, *args): i for i, (fn, args) in enumerate(calls)}
    try:
        while running:
            for future in executor.wait_any(list(running)):
                i = running.pop(future)
                try:
                    result = future.result()
                except Exception as err:  # noqa: BLE001 - the caller decides (on_error)
                    if on_error is None:
                        raise
                    on_error(i, err)
                    continue
                on_result(i, result)
    except BaseException:
        executor.shutdown(cancel=True)
        raise
    executor.shutdown()
