"""Run a grid: train each cell's network, sweep its test noise, record it in the database.

:func:`run_cell` is the pure unit of work (config in, plain result out; it touches no file),
so it runs the same in this process, in local worker processes
(``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method: torch and
``fork`` do not mix) or on a Dask cluster (``client.submit``). Only the client process,
:func:`run_grid`, writes: it saves each trained network's spec file atomically and then
records the cell and its curve in one database transaction.

Cells that share a training configuration (the same network on several backends) share one
trained network: the first of them trains it, the others get the saved spec. Networks that
share a task and a shape (everything but placement, training sigma, seed and noise process)
are trained together as ensembles (:func:`ensemble_groups`,
:func:`~brian_noisy_rnn.bridges.train_ensemble`), one ensemble per worker task; a member
of an ensemble is bit for bit the network ``train`` would give alone, so the grouping never
changes a result (and an ensemble that fails, e.g. one member diverging, is retried network
by network). Rerunning a grid skips recorded cells and reuses recorded (or saved)
networks, and an interrupted ensemble resumes from its checkpoint (``<spec_dir>/checkpoints``),
so an interrupted run loses at most the cells that were in flight. The runner removes its
ensemble checkpoints once all their networks are saved (also those of an earlier run that
grouped the networks differently); checkpoints with untrained networks are kept.

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
client registers :class:`Brian2WorkerPlugin`, which imports Brian2 in each worker's main
thread when it starts (Brian2's import installs a SIGINT handler, refused in task threads).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import platform
import socket
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._threads import one_thread_environment
from ..backends.random_state import keeps_random_state
from ..core.atomic import check_distinct, check_writable
from .config import Cell, Grid, canonical_hash, load_grid
from . import store as store_module
from .store import ResultStore, new_claim_owner

if TYPE_CHECKING:
    from ..core.spec import CTRNNSpec

__all__ = ["RunReport", "default_spec_dir", "default_workers", "ensemble_groups", "run_cell",
           "run_grid", "train_ensemble_networks"]

_BRIAN2_LOCK = threading.Lock()
#: seconds between two looks at the database while another run holds networks this one needs
CLAIM_POLL_SECONDS = 2.0
_VERSION_PACKAGES = ("brian-noisy-rnn", "brian2", "torch", "numpy", "neurogym", "gymnasium",
                     "scipy", "dask", "distributed")


def package_versions() -> dict[str, str | None]:
    """Versions of the packages a result depends on, plus Python.

    Returns
    -------
    dict of str to str or None
        ``"python"`` and each distribution name (brian-noisy-rnn, brian2, torch, numpy,
        neurogym, gymnasium, scipy, dask, distributed) -> its version, None if not installed.
    """
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in _VERSION_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _make_env(config):
    from .. import tasks

    return tasks.make(config["task"], dt=config["network"]["dt_ms"], **config["task_kwargs"])


def _training_noise(config):
    from brian2 import ms

    from ..core.noise import Noise

    net = config["network"]
    tau_noise = None if net.get("tau_noise_ms") is None else net["tau_noise_ms"] * ms
    return Noise(config["placement"], config["train_sigma"], process=net["process"],
                 tau_noise=tau_noise)


def train_cell_network(config: dict, train_key: str = "") -> tuple[CTRNNSpec, dict]:
    """Train the network of a cell config (see :class:`~.config.Cell`).

    Parameters
    ----------
    config : dict
        ``Cell.config`` of the cell.
    train_key : str
        The cell's ``Cell.train_key``, stored in the spec's metadata.

    Returns
    -------
    spec : CTRNNSpec
        The trained network (:class:`~brian_noisy_rnn.CTRNNSpec`); its metadata holds the
        training summary, the ``train_key`` and the training part of the config.
    info : dict
        ``train_seconds`` (wall-clock training time, s) and ``train_final_loss`` (float,
        or None if nothing was logged).
    """
    from ..bridges.training import train

    env = _make_env(config)
    t0 = time.perf_counter()
    result = train(env, progress=False, **_train_settings(config))
    seconds = time.perf_counter() - t0
    metadata = dict(result.spec.metadata)
    metadata["experiment"] = {"train_key": train_key,
                              **{k: config[k] for k in Cell.TRAIN_FIELDS}}
    spec = result.spec.replace(metadata=metadata)
    loss = result.history.loss[-1] if result.history.loss else None
    return spec, {"train_seconds": seconds, "train_final_loss": loss}


def _train_settings(config):
    """The keyword arguments of ``train`` / ``train_ensemble`` for a cell config."""
    from brian2 import ms

    net = config["network"]
    return dict(n_hidden=net["n_hidden"], noise=_training_noise(config),
                activation=net["activation"], tau=net["tau_ms"] * ms, seed=config["seed"],
                **config["training"])


@keeps_random_state
def train_ensemble_networks(configs: Sequence[dict], train_keys: Sequence[str],
                            checkpoint: str | os.PathLike | None = None
                            ) -> list[tuple[CTRNNSpec, dict]]:
    """Train the networks of several cell configs together as one ensemble.

    Pure apart from the optional checkpoint file (a worker may run it anywhere). The configs
    must share everything but placement, training sigma, seed and noise process (see
    :func:`ensemble_groups`); each member is the network :func:`train_cell_network` gives.

    Parameters
    ----------
    configs : list of dict
        ``Cell.config`` of one cell per network.
    train_keys : list of str
        Their ``Cell.train_key`` (stored in the specs' metadata).
    checkpoint : str or os.PathLike or None
        The ensemble's checkpoint: training resumes from it if it exists and writes it while
        it runs (also when interrupted); its folder is created if needed. None: no
        checkpoint.

    Returns
    -------
    list of tuple (spec, info)
        As :func:`train_cell_network` returns, in the order of ``configs``;
        ``info["train_seconds"]`` is the ensemble's training time divided by the number of
        members.
    """
    import torch

    from ..bridges.training import TrainConfig, train_ensemble

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if checkpoint is not None:
            os.makedirs(os.path.dirname(os.path.abspath(checkpoint)), exist_ok=True)
        t0 = time.perf_counter()
        result = train_ensemble(_make_env(configs[0]),
                                [TrainConfig.build(**_train_settings(c)) for c in configs],
                                checkpoint=checkpoint, progress=False)
        seconds = (time.perf_counter() - t0) / len(configs)
    finally:
        torch.set_num_threads(threads)
    out = []
    for config, key, spec, history in zip(configs, train_keys, result.specs, result.histories):
        metadata = dict(spec.metadata)
        metadata["experiment"] = {"train_key": key, **{k: config[k] for k in Cell.TRAIN_FIELDS}}
        loss = history.loss[-1] if history.loss else None
        out.append((spec.replace(metadata=metadata),
                    {"train_seconds": seconds, "train_final_loss": loss}))
    return out


#: fields of a cell's training that may differ within one ensemble (the rest must agree)
_PER_MEMBER = ("placement", "train_sigma", "seed")
_PER_MEMBER_NETWORK = ("process", "tau_noise_ms")
#: default memory budget of one ensemble's training tensors
ENSEMBLE_MEMORY = 1 << 30


def _ensemble_key(config):
    """Cells with equal keys can be trained in one ensemble."""
    net = {k: v for k, v in config["network"].items() if k not in _PER_MEMBER_NETWORK}
    return canonical_hash({"task": config["task"], "task_kwargs": config["task_kwargs"],
                            "network": net, "training": config["training"]})


def _member_bytes(config):
    """Estimated memory of one member's training tensors: about ten float32 (T, B, N) arrays
    (drive, noise, pre-activations, states, their gradients), T from a few of the task's trials."""
    from .. import tasks

    T = tasks.batch(_make_env(config), 8, seed=0).n_steps
    return 10 * 4 * T * config["training"]["batch_size"] * config["network"]["n_hidden"]


def ensemble_groups(cells: Sequence[Cell], workers: int = 1, max_members: int | None = None,
                    memory: int = ENSEMBLE_MEMORY) -> list[list[Cell]]:
    """Split cells (one per network to train) into ensembles.

    Cells that share task, task options, network shape and training settings (all but
    placement, training sigma, seed and noise process) may share an ensemble. An ensemble
    holds at most ``max_members`` networks and at most ``memory`` bytes of training tensors
    (estimate: :func:`_member_bytes`); while there are fewer ensembles than ``workers``,
    the largest is halved, so that every worker gets one.

    Parameters
    ----------
    cells : list of Cell
        One :class:`~.config.Cell` per network to train.
    workers : int >= 1
        Workers that train in parallel.
    max_members : int >= 1 or None
        Most networks per ensemble (None: no limit but ``memory``; 1 trains one network at a
        time).
    memory : int
        Memory budget of one ensemble's training tensors, in bytes (at least one network
        per ensemble).

    Returns
    -------
    list of list of Cell
        The ensembles, cells sorted by seed within each list (networks of one seed share
        their trial batches and noise draws, so an ensemble with fewer seeds makes fewer).
    """
    by_key = {}
    for c in cells:
        by_key.setdefault(_ensemble_key(c.config), []).append(c)
    groups = []
    for members in by_key.values():
        # networks of one seed share their trials and noise draws: keep them together
        members = sorted(members, key=lambda c: c.config["seed"])
        cap = max(1, int(memory // max(1, _member_bytes(members[0].config))))
        if max_members is not None:
            cap = min(cap, max_members)
        n = -(-len(members) // cap)
        size = -(-len(members) // n)
        groups += [members[i: i + size] for i in range(0, len(members), size)]
    while len(groups) < workers and max(len(g) for g in groups) > 1:
        big = max(range(len(groups)), key=lambda i: len(groups[i]))
        g = groups.pop(big)
        groups += [g[: len(g) // 2 + len(g) % 2], g[len(g) // 2 + len(g) % 2:]]
    return groups


#: the runner's ensemble checkpoints: ``<spec_dir>/checkpoints/ensemble_<key>.pt``, each with
#: a manifest ``ensemble_<key>.json`` listing the train keys of its members
_CHECKPOINT_DIR, _CHECKPOINT_PREFIX = "checkpoints", "ensemble_"


def _ensemble_checkpoint(spec_dir, cells):
    key = canonical_hash([c.train_key for c in cells])
    return os.path.join(spec_dir, _CHECKPOINT_DIR, f"{_CHECKPOINT_PREFIX}{key[:16]}.pt")


def _manifest_path(checkpoint):
    return os.path.splitext(checkpoint)[0] + ".json"


def _write_manifest(checkpoint, train_keys):
    """Record which networks an ensemble checkpoint trains (so that it can be cleaned up)."""
    import json

    from ..core.atomic import atomic_write

    os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
    with atomic_write(_manifest_path(checkpoint), suffix=".json", name="spec_dir") as f:
        f.write(json.dumps({"checkpoint": os.path.basename(checkpoint),
                            "train_keys": list(train_keys)}).encode())


def _remove_checkpoint(checkpoint):
    """Remove an ensemble checkpoint and its manifest (and the folder once it is empty)."""
    for path in (checkpoint, _manifest_path(checkpoint)):
        with contextlib.suppress(OSError):
            os.remove(path)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(checkpoint))  # only if empty


def _stale_checkpoints(spec_dir, is_trained):
    """The runner's ensemble checkpoints in ``spec_dir`` whose networks are all trained.

    Only files with a manifest written by the runner (:func:`_write_manifest`) are
    considered; a checkpoint some of whose networks are still untrained (an interrupted
    ensemble of this or another grid sharing the folder) is kept for its resume.
    """
    import glob
    import json

    stale = []
    pattern = os.path.join(spec_dir, _CHECKPOINT_DIR, f"{_CHECKPOINT_PREFIX}*.json")
    for manifest in sorted(glob.glob(pattern)):
        try:
            with open(manifest, encoding="utf-8") as f:
                data = json.load(f)
            keys = data["train_keys"]
            name = data["checkpoint"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        checkpoint = os.path.splitext(manifest)[0] + ".pt"
        if name != os.path.basename(checkpoint) or not isinstance(keys, list):
            continue
        if keys and all(is_trained(k) for k in keys):
            stale.append(checkpoint)
    return stale


@keeps_random_state
def run_cell(config: dict, spec: CTRNNSpec | None = None, train_key: str = "") -> dict:
    """Run one cell: train its network (unless ``spec`` is given) and sweep the test noise.

    Pure: it reads and writes no file, so it can run in any process or on any Dask worker.
    Uses one torch thread while it runs (cells run in parallel instead).

    Parameters
    ----------
    config : dict
        ``Cell.config`` of the cell.
    spec : CTRNNSpec or None
        The already trained network (:class:`~brian_noisy_rnn.CTRNNSpec`); None: train it.
    train_key : str
        Stored in a newly trained spec's metadata.

    Returns
    -------
    dict
        ``spec`` (the newly trained CTRNNSpec, or None if ``spec`` was given), ``error``
        (only when the sweep of a newly trained network failed: the message; the dict then
        holds just ``spec``, ``trained`` and the training info, so the network is kept),
        ``trained`` (bool), ``curve`` (``NoisePreferenceCurve.to_dict()``), ``summary``
        (``curve.summary()``), ``train_seconds``, ``train_final_loss``, ``eval_seconds``
        (seconds), ``versions`` (:func:`package_versions`), ``host``, ``pid``.

    Raises
    ------
    Exception
        Whatever training, or the sweep of a given ``spec``, raises.
    """
    import torch

    from ..evaluation.curves import noise_preference

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        info = {"train_seconds": None, "train_final_loss": None}
        trained = spec is None
        if trained:
            spec, info = train_cell_network(config, train_key)
        env = _make_env(config)
        # Brian2 keeps global state (preferences, the magic network): one Brian2 sweep per
        # process at a time, also when a Dask worker runs several threads
        lock = _BRIAN2_LOCK if config["backend"].startswith("brian2") else contextlib.nullcontext()
        try:
            with lock:
                t0 = time.perf_counter()
                curve = noise_preference(spec, env, config["test_sigmas"],
                                         placement=config.get("test_placement"),
                                         backend=config["backend"], n_trials=config["n_trials"],
                                         seed=config["eval_seed"], metric=config.get("metric"),
                                         **config["backend_options"])
                eval_seconds = time.perf_counter() - t0
        except Exception as err:  # noqa: BLE001 - the trained network must not be lost
            if not trained:
                raise
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            return {"spec": spec, "trained": True, "error": f"evaluation failed: {detail}",
                    **info}
    finally:
        torch.set_num_threads(threads)
    return {
        "spec": spec if trained else None, "trained": trained, "curve": curve.to_dict(),
        "summary": curve.summary(), "eval_seconds": eval_seconds, **info,
        "versions": package_versions(), "host": socket.gethostname(), "pid": os.getpid(),
    }


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


# --- executors --------------------------------------------------------------------------------
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


def default_spec_dir(results: str | os.PathLike) -> str:
    """Where trained networks of a database go: ``<results stem>_specs/`` beside it.

    Parameters
    ----------
    results : str or os.PathLike
        Path of the results database.

    Returns
    -------
    str
        The absolute path of the folder (not created).
    """
    results = os.path.abspath(os.fspath(results))
    return os.path.splitext(results)[0] + "_specs"


def _spec_file_name(cell):
    c = cell.config
    task = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in c["task"])
    return (f"{task}_{c['placement']}_sigma{c['train_sigma']:g}_seed{c['seed']}_"
            f"{cell.train_key[:12]}.npz")


@dataclass
class _EnsembleJob:
    """A running ensemble: one cell per network (``members``) and its checkpoint path."""

    members: list
    checkpoint: str


def _plan_training(groups, specs, workers, max_ensemble):
    """Cells to submit now, ``[(cell, spec or None)]``, and ensembles to train (lists of cells).

    ``groups``: train_key -> pending cells; ``specs``: train_key -> (spec, path) of saved
    networks. A network that trains alone is trained by its first cell (as before ensembles).
    """
    ready, to_train = [], []
    for tk, members in groups.items():
        if tk in specs:
            ready += [(c, specs[tk][0]) for c in members]
        else:
            to_train.append(members[0])
    ensembles = []
    for group in (ensemble_groups(to_train, workers, max_ensemble) if to_train else []):
        if len(group) == 1:
            ready.append((group[0], None))
        else:
            ensembles.append(group)
    return ready, ensembles


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


def _load_reusable_spec(store, cell, spec_dir):
    """A saved network for ``cell.train_key`` (recorded in the db, or saved but unrecorded)."""
    from ..core.spec import CTRNNSpec

    candidates = []
    found = store.spec_for_train_key(cell.train_key)
    if found is not None:
        candidates.append(found)
    candidates.append((os.path.join(spec_dir, _spec_file_name(cell)), None))
    for path, expected_hash in candidates:
        if not os.path.isfile(path):
            continue
        try:
            spec = CTRNNSpec.load(path)
        except ValueError:
            continue
        if expected_hash is not None and spec.content_hash() != expected_hash:
            continue
        if spec.metadata.get("experiment", {}).get("train_key") != cell.train_key:
            continue
        return spec, path
    return None


@keeps_random_state
def run_grid(grid: Grid | str | os.PathLike, results: str | os.PathLike, *,
             workers: int | None = None, scheduler: str | None = None, client: Any = None,
             spec_dir: str | os.PathLike | None = None, progress: bool = True,
             log: Callable[[str], Any] | None = None,
             max_ensemble: int | None = None) -> RunReport:
    """Run every unfinished cell of ``grid`` and record it in the database ``results``.

    Parameters
    ----------
    grid : Grid or str or os.PathLike
        A :class:`~.config.Grid`, or the path of a grid TOML file (validated before any
        work).
    results : str or os.PathLike
        Path of the SQLite results database (created if missing).
    workers : int >= 1 or None
        Local worker processes (None: :func:`default_workers`); 1 runs the cells in this
        process. Ignored with ``scheduler`` / ``client``.
    scheduler : str or None
        Address of a Dask scheduler (e.g. ``"tcp://10.0.0.1:8786"``); needs the ``dask``
        extra (``pip install 'brian-noisy-rnn[dask]'``). Not together with ``client``.
    client : distributed.Client or None
        An existing Dask client (e.g. of a ``LocalCluster``).
    spec_dir : str or os.PathLike or None
        Folder for the trained networks' spec files (None: :func:`default_spec_dir`).
    progress : bool
        Show a tqdm progress bar over cells.
    log : callable(str) or None
        Receives one line per failed cell, and one when the run waits for networks another
        run on the same database holds (None: print to stderr).
    max_ensemble : int >= 1 or None
        Most networks trained together in one ensemble (None: as many as the memory budget
        allows, see :func:`ensemble_groups`; 1: one by one). The results do not depend on it.

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
    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    _check_run_options(workers, scheduler, client, max_ensemble)
    if log is None:
        def log(line):
            print(line, file=sys.stderr)
    spec_dir = os.path.abspath(os.fspath(spec_dir if spec_dir is not None else default_spec_dir(results)))
    # trained networks are saved there: a folder that cannot take them is found now, not
    # after the first network has trained
    check_writable(os.path.join(spec_dir, ".probe.npz"), "spec_dir")
    check_distinct({"results": results, "spec_dir": spec_dir})
    cells = grid.cells()
    report = RunReport(cells=cells)
    owner = new_claim_owner()
    with ResultStore(results) as store, _ClaimHeartbeat(store.path, owner):

        def run_round(mine):  # the cells whose networks this run holds
            run = _GridRun(store, _executor(len(mine), workers, scheduler, client), spec_dir,
                           report, log)
            run.results_dir = os.path.dirname(os.path.abspath(os.fspath(results)))
            run.plan(mine, max_ensemble)
            run.execute(progress and _progress_bar(len(cells), len(cells) - len(mine), grid.name))

        try:
            _run_claimed(store, owner, cells, report, run_round, log)
        finally:
            store.release_claims(owner)
    report.elapsed = time.perf_counter() - t_start
    return report


def _executor(n_pending, workers, scheduler, client):
    """The executor for ``n_pending`` cells: Dask, a process pool, or this process."""
    if client is not None or scheduler is not None:
        return _DaskExecutor(client, scheduler)
    n = min(default_workers() if workers is None else workers, n_pending)
    return _InlineExecutor() if n <= 1 else _PoolExecutor(n)


def _run_claimed(store, owner, cells, report, run_round, log):
    """Run the unrecorded cells whose networks this run can claim; wait for (or take over)
    those another process holds, until each cell is recorded, failed here, or recorded by
    the other process."""
    attempted, waited = set(), False
    before = store.finished_keys()
    report.skipped = sum(c.key in before for c in cells)
    while True:
        finished = store.finished_keys()
        pending = [c for c in cells if c.key not in finished and c.key not in attempted]
        if not pending:
            break
        claimed, held = store.claim({c.train_key for c in pending}, owner)
        mine = [c for c in pending if c.train_key in claimed]
        if mine:
            attempted.update(c.key for c in mine)
            try:
                run_round(mine)
            finally:
                store.release_claims(owner, claimed)
            continue
        if not waited:
            holders = sorted(set(held.values()))
            log(f"{len(pending)} cells wait for networks that another run holds "
                f"({', '.join(holders)}); waiting for them to be recorded")
            waited = True
        time.sleep(CLAIM_POLL_SECONDS)
    finished, recorded_here = store.finished_keys(), set(report.recorded)
    report.recorded_elsewhere = sum(c.key in finished and c.key not in before
                                    and c.key not in recorded_here for c in cells)


class _ClaimHeartbeat:
    """Renews ``owner``'s claims in the database ``path`` from a thread (its own connection)
    every :data:`~.store.CLAIM_HEARTBEAT_SECONDS` while the ``with`` block runs."""

    def __init__(self, path, owner):
        self.path, self.owner = path, owner
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="claim-heartbeat", daemon=True)

    def _beat(self):
        with ResultStore(self.path) as store:
            while not self.stop.wait(store_module.CLAIM_HEARTBEAT_SECONDS):
                with contextlib.suppress(sqlite3.Error):
                    store.renew_claims(self.owner)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


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
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an int >= 1 or None, got {workers!r}")
    if scheduler is not None and client is not None:
        raise ValueError("give scheduler or client, not both")
    if scheduler is not None or client is not None:
        _import_distributed()  # fail before any work when the dask extra is missing
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
    together (:func:`_plan_training`); the other cells of a group wait for its network.
    """

    def __init__(self, store, executor, spec_dir, report, log):
        self.store, self.executor, self.spec_dir = store, executor, spec_dir
        self.report, self.log = report, log
        self.specs = {}  # train_key -> (spec, path)
        self.waiting = {}  # train_key -> cells waiting for that network
        self.train_info = {}  # train_key -> info of an ensemble-trained network, for its first cell
        self.running = {}  # future -> (cell or _EnsembleJob, spec given or None)
        self.bar = None

    def plan(self, pending, max_ensemble):
        """Group the pending cells, reuse networks on disk and plan the training."""
        groups = {}
        # torch (fast) sweeps first so the spec is ready soonest
        for c in sorted(pending, key=lambda c: c.config["backend"] != "torch"):
            groups.setdefault(c.train_key, []).append(c)
        for tk, members in groups.items():
            found = _load_reusable_spec(self.store, members[0], self.spec_dir)
            if found is not None:
                self.specs[tk] = found
        self.ready, self.ensembles = _plan_training(groups, self.specs, self.executor.workers,
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
        for checkpoint in _stale_checkpoints(self.spec_dir, self.is_trained):
            _remove_checkpoint(checkpoint)

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
        checkpoint = _ensemble_checkpoint(self.spec_dir, members)
        _write_manifest(checkpoint, [c.train_key for c in members])
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
        path = os.path.join(self.spec_dir, _spec_file_name(cell))
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
            for c in job.members:  # the same networks: one that diverges fails alone
                self.waiting[c.train_key] = self.waiting[c.train_key][1:]
                self.submit(c, None)
            return
        for c, (spec, info) in zip(job.members, trained):
            self.save_network(c, spec)
            self.train_info[c.train_key] = info
        _remove_checkpoint(job.checkpoint)
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
