"""Run a grid: train each cell's network, sweep its test noise, record it in the database.

:func:`~.jobs.run_cell` is the pure unit of work (config in, plain result out; it touches no file),
so it runs the same in this process, in local worker processes
(``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method: torch and
``fork`` do not mix) or on a Dask cluster (``client.submit``). Only the client process,
:func:`run_grid`, writes: it saves each trained network's spec file atomically and then
records the cell and its curve in one database transaction.

Cells that share a training configuration (the same network on several backends) share one
trained network: the first of them trains it, the others get the saved spec. Networks that
share a task and a shape (everything but placement, training sigma, seed and noise process)
are trained together as ensembles (:func:`~.planning.ensemble_groups`,
:func:`~brian_noisy_rnn.bridges.train_ensemble`), one ensemble per worker task; a member
of an ensemble is bit for bit the network ``train`` would give alone, so the grouping never
changes a result (and an ensemble that fails, e.g. one member diverging, is retried network
by network). Rerunning a grid skips recorded cells and reuses recorded (or saved)
networks, and an interrupted ensemble resumes from its checkpoint (``<spec_dir>/checkpoints``),
so an interrupted run loses at most the cells that were in flight. The runner removes its
ensemble checkpoints once all their networks are saved (also those of an earlier run that
grouped the networks differently), and at the end of a run those of its ensembles that
failed and were retried network by network; other checkpoints with untrained networks are
kept for their resume.

The run is split by concern: :mod:`~.jobs` (the work a worker does), :mod:`~.executors`
(where it runs), :mod:`~.planning` (which networks train, in which ensembles),
:mod:`~.checkpoints` (saved networks and ensemble checkpoints) and :mod:`~.claims` (sharing
a database with other runs); this module schedules and records.

On an HPC cluster, start a Dask scheduler and workers (for SLURM e.g. with dask-jobqueue)::

    from dask_jobqueue import SLURMCluster
    cluster = SLURMCluster(cores=1, processes=1, memory="4GB", walltime="04:00:00")
    cluster.scale(jobs=32)
    print(cluster.scheduler_address)   # -> brian-noisy-rnn experiment grid.toml --scheduler ADDRESS

or pass a ``distributed.Client`` to :func:`run_grid` directly. Dask is an optional
dependency: ``pip install 'brian-noisy-rnn[dask]'``. Workers need this package
installed; spec files are written by the client only, so they need no shared file system.
Brian2 keeps global state, so one process runs one Brian2 sweep at a time: start Dask workers
with one thread each (``dask worker ADDRESS --nthreads 1 --nworkers N``) to use N cores. The
client registers :class:`~.executors.Brian2WorkerPlugin`, which imports Brian2 in each
worker's main thread when it starts (Brian2's import installs a SIGINT handler, refused in
task threads).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backends.random_state import keeps_random_state
from ..core.atomic import check_distinct, check_writable
from .checkpoints import (default_spec_dir, ensemble_checkpoint, load_reusable_spec,
                          remove_checkpoint, spec_file_name, stale_checkpoints, write_manifest)
from .claims import ClaimHeartbeat, run_claimed
from .config import Grid, load_grid
from .executors import DASK_MISSING, Brian2WorkerPlugin  # noqa: F401 (importable from here)
from .executors import check_executor_options, default_workers, make_executor
from .jobs import package_versions, train_cell_network  # noqa: F401 (importable from here)
from .jobs import run_cell, train_ensemble_networks
from .planning import ENSEMBLE_MEMORY  # noqa: F401 (importable from here)
from .planning import ensemble_groups, plan_training
from .store import ResultStore, new_claim_owner

__all__ = ["RunReport", "default_spec_dir", "default_workers", "ensemble_groups", "run_cell",
           "run_grid", "train_ensemble_networks"]


@dataclass
class _EnsembleJob:
    """A running ensemble: one cell per network (``members``) and its checkpoint path."""

    members: list
    checkpoint: str


@dataclass
class RunReport:
    """What :func:`run_grid` did.

    Attributes
    ----------
    cells : list of Cell
        Every cell of the grid.
    skipped : int
        Cells already recorded before this run.
    recorded : list of str
        Keys of the cells recorded by this run.
    recorded_elsewhere : int
        Cells recorded by another run on the same database while this one ran (their
        networks were claimed by it; this run waited for them).
    failed : dict of str to str
        Cell key -> error message, for the cells that failed in this run.
    networks_trained : int
        Networks trained by this run.
    elapsed : float
        Wall time of the run in seconds.
    """

    cells: list
    skipped: int = 0
    recorded: list = field(default_factory=list)
    recorded_elsewhere: int = 0
    failed: dict = field(default_factory=dict)
    networks_trained: int = 0
    elapsed: float = 0.0

    @property
    def complete(self) -> bool:
        """True if every cell of the grid is recorded."""
        return not self.failed and (self.skipped + len(self.recorded) + self.recorded_elsewhere
                                    == len(self.cells))


@keeps_random_state
def run_grid(grid: Grid | str | os.PathLike | Sequence[Grid | str | os.PathLike],
             results: str | os.PathLike, *,
             workers: int | None = None, scheduler: str | None = None, client: Any = None,
             spec_dir: str | os.PathLike | None = None, progress: bool = True,
             log: Callable[[str], Any] | None = None,
             max_ensemble: int | None = None) -> RunReport:
    """Run every unfinished cell of ``grid`` and record it in the database ``results``.

    Parameters
    ----------
    grid : Grid or str or os.PathLike, or a list of them
        A :class:`~.config.Grid`, or the path of a grid TOML file (validated before any
        work). Several grids run as one pool of cells (duplicates once), so that small
        grids (e.g. one network each) keep every worker busy; each cell is recorded under
        its own grid's name.
    results : str or os.PathLike
        Path of the SQLite results database (created if missing).
    workers : int >= 1 or None
        Local worker processes (None: :func:`~.executors.default_workers`); 1 runs the cells in this
        process. Ignored with ``scheduler`` / ``client``.
    scheduler : str or None
        Address of a Dask scheduler (e.g. ``"tcp://10.0.0.1:8786"``); needs the ``dask``
        extra (``pip install 'brian-noisy-rnn[dask]'``). Not together with ``client``.
    client : distributed.Client or None
        An existing Dask client (e.g. of a ``LocalCluster``).
    spec_dir : str or os.PathLike or None
        Folder for the trained networks' spec files (None: :func:`~.checkpoints.default_spec_dir`).
    progress : bool
        Show a tqdm progress bar over cells.
    log : callable(str) or None
        Receives one line per failed cell, and one when the run waits for networks another
        run on the same database holds (None: print to stderr).
    max_ensemble : int >= 1 or None
        Most networks trained together in one ensemble (None: as many as the memory budget
        allows, see :func:`~.planning.ensemble_groups`; 1: one by one). The results do not depend on it.

    Returns
    -------
    RunReport
        What was skipped, recorded, failed and trained.

    Raises
    ------
    ValueError
        For invalid ``workers`` or ``max_ensemble``, both ``scheduler`` and ``client``, an
        unreachable scheduler, or a ``spec_dir`` that cannot hold files (or is where
        ``results`` is); before any work. An invalid grid file raises ``GridError`` (a
        ValueError).
    PermissionError
        If ``spec_dir`` is not writable; before any work.
    ImportError
        With ``scheduler`` or ``client`` when Dask is not installed (the message names the
        ``dask`` extra), before any work.
    KeyboardInterrupt
        On Ctrl-C: no new cells are started, cells in flight are cancelled, every cell
        recorded so far stays in the database; the interrupt is re-raised.
    """
    t_start = time.perf_counter()
    grids = [g if isinstance(g, Grid) else load_grid(g)
             for g in (grid if isinstance(grid, (list, tuple)) else [grid])]
    if not grids:
        raise ValueError("grid: expected a Grid, a grid file or a non-empty list of them, got []")
    _check_run_options(workers, scheduler, client, max_ensemble)
    if log is None:
        def log(line):
            print(line, file=sys.stderr)
    spec_dir = os.path.abspath(os.fspath(spec_dir if spec_dir is not None else default_spec_dir(results)))
    # trained networks are saved there: a folder that cannot take them is found now, not
    # after the first network has trained
    check_writable(os.path.join(spec_dir, ".probe.npz"), "spec_dir")
    check_distinct({"results": results, "spec_dir": spec_dir})
    cells = list({c.key: c for g in grids for c in g.cells()}.values())
    name = "+".join(g.name for g in grids)
    report = RunReport(cells=cells)
    owner = new_claim_owner()
    with ResultStore(results) as store, ClaimHeartbeat(store.path, owner):

        def run_round(mine):  # the cells whose networks this run holds
            run = _GridRun(store, make_executor(len(mine), workers, scheduler, client), spec_dir,
                           report, log)
            run.results_dir = os.path.dirname(os.path.abspath(os.fspath(results)))
            run.plan(mine, max_ensemble)
            run.execute(progress and _progress_bar(len(cells), len(cells) - len(mine), name))

        try:
            run_claimed(store, owner, cells, report, run_round, log)
        finally:
            store.release_claims(owner)
    report.elapsed = time.perf_counter() - t_start
    return report


def _in_results_dir(config, results_dir):
    """``config`` with a Brian2 build ``directory`` (relative, checked by the grid) resolved
    inside ``results_dir``, the results database's folder."""
    options = config["backend_options"]
    if "directory" not in options:
        return config
    return {**config, "backend_options": {
        **options, "directory": os.path.join(results_dir, options["directory"])}}


def _check_run_options(workers, scheduler, client, max_ensemble):
    """ValueError (or ImportError naming the dask extra) for invalid run_grid options."""
    check_executor_options(workers, scheduler, client)
    if max_ensemble is not None and (isinstance(max_ensemble, bool)
                                     or not isinstance(max_ensemble, int) or max_ensemble < 1):
        raise ValueError(f"max_ensemble must be an int >= 1 or None, got {max_ensemble!r}")

def _progress_bar(total, done, name):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="cell", desc=name, dynamic_ncols=True)


class _GridRun:
    """The scheduling of one :func:`run_grid` call: which network trains where, which cell
    sweeps when its network is ready, and what is recorded.

    Cells are grouped by trained network (``train_key``); the first cell of a group whose
    network is not on disk trains it alone, or an ensemble trains several groups' networks
    together (:func:`~.planning.plan_training`); the other cells of a group wait for its network.
    """

    def __init__(self, store, executor, spec_dir, report, log):
        self.store, self.executor, self.spec_dir = store, executor, spec_dir
        self.report, self.log = report, log
        self.specs = {}  # train_key -> (spec, path)
        self.waiting = {}  # train_key -> cells waiting for that network
        self.train_info = {}  # train_key -> info of an ensemble-trained network, for its first cell
        self.failed_ensembles = []  # checkpoints of ensembles retried network by network
        self.running = {}  # future -> (cell or _EnsembleJob, spec given or None)
        self.bar = None

    def plan(self, pending, max_ensemble):
        """Group the pending cells, reuse networks on disk and plan the training."""
        groups = {}
        # torch (fast) sweeps first so the spec is ready soonest
        for c in sorted(pending, key=lambda c: c.config["backend"] != "torch"):
            groups.setdefault(c.train_key, []).append(c)
        for tk, members in groups.items():
            found = load_reusable_spec(self.store, members[0], self.spec_dir)
            if found is not None:
                self.specs[tk] = found
        self.ready, self.ensembles = plan_training(groups, self.specs, self.executor.workers,
                                                    max_ensemble)
        self.waiting = {tk: members for tk, members in groups.items() if tk not in self.specs}
        for cell, _ in self.ready:
            if cell.train_key in self.waiting:  # trains its network alone, then sweeps
                self.waiting[cell.train_key] = self.waiting[cell.train_key][1:]
        self.clean_checkpoints()

    def is_trained(self, train_key):
        """Whether network ``train_key`` is saved (by this run) or recorded in the database."""
        return train_key in self.specs or self.store.spec_for_train_key(train_key) is not None

    def clean_checkpoints(self):
        """Remove the ensemble checkpoints whose networks are all trained: left by an earlier
        run that grouped the networks differently, by an ensemble that failed and was retried
        network by network, or by an interrupted run whose networks were trained since."""
        for checkpoint in stale_checkpoints(self.spec_dir, self.is_trained):
            remove_checkpoint(checkpoint)

    def execute(self, bar):
        """Submit the planned work and handle results until nothing runs; on any exception
        (Ctrl-C included) cancel what is in flight and re-raise."""
        self.bar = bar or None
        try:
            for cell, spec in self.ready:
                self.submit(cell, spec)
            for members in self.ensembles:
                self.submit_ensemble(members)
            while self.running:
                for fut in self.executor.wait_any(list(self.running)):
                    job, given = self.running.pop(fut)
                    if isinstance(job, _EnsembleJob):
                        self.ensemble_done(job, fut)
                    else:
                        self.cell_done(job, given, fut)
        except BaseException:
            for fut in self.running:
                fut.cancel()
            self.executor.shutdown(cancel=True)
            raise
        else:
            self.executor.shutdown()
            self.clean_checkpoints()
            # an ensemble that failed was retried network by network: its checkpoint would
            # only resume the failure, also when one of its networks failed alone (and so
            # never counts as trained for clean_checkpoints); an interrupted run keeps it
            for checkpoint in self.failed_ensembles:
                remove_checkpoint(checkpoint)
        finally:
            if self.bar is not None:
                self.bar.close()

    def submit(self, cell, spec):
        """Run ``cell`` (training its network first if ``spec`` is None)."""
        fut = self.executor.submit(run_cell, _in_results_dir(cell.config, self.results_dir),
                                   spec, cell.train_key)
        self.running[fut] = (cell, spec)

    def submit_ensemble(self, members):
        """Train the networks of ``members`` (one cell per network) as one ensemble."""
        checkpoint = ensemble_checkpoint(self.spec_dir, members)
        write_manifest(checkpoint, [c.train_key for c in members])
        fut = self.executor.submit(train_ensemble_networks, [c.config for c in members],
                                   [c.train_key for c in members], checkpoint)
        self.running[fut] = (_EnsembleJob(members, checkpoint), None)

    def fail(self, cell, message):
        """Report ``cell`` as failed."""
        self.report.failed[cell.key] = message
        self.log(f"cell failed: {cell.label}: {message}")
        if self.bar is not None:
            self.bar.update(1)

    def network_ready(self, train_key, spec):
        """Start the cells that waited for network ``train_key``."""
        for other in self.waiting.pop(train_key, []):
            self.submit(other, spec)

    def save_network(self, cell, spec):
        """Save a trained network (atomically, before the rows that point to it)."""
        path = os.path.join(self.spec_dir, spec_file_name(cell))
        spec.save(path)
        self.specs[cell.train_key] = (spec, path)
        self.report.networks_trained += 1

    def ensemble_done(self, job, fut):
        """Save an ensemble's networks and start their cells (or retry them one by one)."""
        try:
            trained = fut.result()
        except Exception as err:  # noqa: BLE001 - retried network by network
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            self.log(f"ensemble of {len(job.members)} networks failed ({detail}); "
                     "training them one by one")
            self.failed_ensembles.append(job.checkpoint)
            for c in job.members:  # the same networks: one that diverges fails alone
                self.waiting[c.train_key] = self.waiting[c.train_key][1:]
                self.submit(c, None)
            return
        for c, (spec, info) in zip(job.members, trained):
            self.save_network(c, spec)
            self.train_info[c.train_key] = info
        remove_checkpoint(job.checkpoint)
        for c in job.members:
            self.network_ready(c.train_key, self.specs[c.train_key][0])

    def cell_done(self, cell, given, fut):
        """Record a finished cell (saving the network it trained) or report its failure."""
        try:
            result = fut.result()
        except Exception as err:  # noqa: BLE001 - one failed cell must not stop the grid
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            self.fail(cell, detail)
            if given is None:  # the network was not trained: the group cannot run
                for other in self.waiting.pop(cell.train_key, []):
                    self.fail(other, f"its network failed to train ({detail})")
            return
        if result["spec"] is not None:
            self.save_network(cell, result["spec"])
        elif cell.train_key in self.train_info:  # the first cell of an ensemble member
            result = {**result, "trained": True, **self.train_info.pop(cell.train_key)}
        spec, path = self.specs[cell.train_key]
        if "error" in result:  # network kept (a rerun reuses it), cell failed
            self.fail(cell, f"{result['error']} (the trained network is kept in {path})")
        else:
            if self.store.record(cell, result, path, spec.content_hash()):
                self.report.recorded.append(cell.key)
            if self.bar is not None:
                self.bar.set_postfix_str(cell.label, refresh=False)
                self.bar.update(1)
        self.network_ready(cell.train_key, spec)
