"""Experiment grids: a TOML file naming tasks x placements x training sigmas x seeds x backends.

Every key is checked (unknown keys, wrong types, unknown tasks, placements or backends) before
anything is trained; errors are :class:`GridError` (a ValueError) naming the file and the key.

File layout (all tables but ``[grid]`` are optional; defaults shown)::

    name = "my-grid"                     # label stored with every result row (default: file stem)

    [grid]
    tasks = ["FunctionApproximation-v0"] # task ids (brian_noisy_rnn.tasks.list_tasks())
    placements = ["pre", "post"]         # training-noise placements: pre / post / state
    train_sigmas = [1.0]                 # training-noise sigmas (dimensionless, >= 0)
    seeds = [0, 1, 2]                    # training seeds (one network per seed)
    backends = ["torch"]                 # test-sweep backends: numpy / torch / brian2 / ...

    [sweep]                              # the test-noise sweep of every network
    relative_sigmas = [0.0, 0.25, ..., 2.0]  # test sigmas as multiples of the training sigma
    # sigmas = [0.0, 0.5, 1.0]           # ... or absolute test sigmas (not both)
    n_trials = 2000                      # trials per test sigma
    seed = 1234                          # trials and test noise (the same at every sigma)
    # placement = "pre"                  # test-noise placement of every network (pre / post /
                                         # state; default: each network's training placement)
    # metric = "cross_entropy"           # the curves' metric (default: the task kind's primary
                                         # one, "mse" or "accuracy"); any metric of every task

    [network]
    n_hidden = 32
    activation = "relu"
    tau_ms = 100.0
    dt_ms = 20.0                         # also the task's dt
    process = "white"                    # noise process: white / ou / poisson
    # tau_noise_ms = 50.0                # OU correlation time (process = "ou" only)

    [training]                           # keywords of brian_noisy_rnn.bridges.train
    steps = 1500
    batch_size = 64
    lr = 0.01
    # grad_clip, rec_gain, trial_pool, val_trials, log_every,
    # loss ("mse_onehot": classification trained on one-hot targets)

    [backend_options.brian2]             # per backend: simulate() options, and n_trials
    target = "numpy"
    # n_trials = 500                     # overrides [sweep] n_trials for this backend

    [backend_options.brian2-spiking]     # e.g. sweep each spiking neuron's membrane noise
    # noise_as = "membrane"              # (noise inside f, so the test placement is "pre"
    # neurons_per_unit = 100             #  for networks of every training placement)

    [task_kwargs."PerceptualDecisionMaking-v0"]   # keywords of tasks.make for one task
    # timing = { stimulus = 500 }

A *cell* is one (task, placement, training sigma, seed, backend): one trained network (shared
by the backends of the same training settings) and its test-noise sweep on one backend.

What a run would need is checked too, so that ``experiment --dry-run`` refuses a grid that
cannot run: every training and test sigma is at most :data:`MAX_GRID_SIGMA` (a larger one
saturates any activation and overflows float32 training), each task's trials are at most
``tasks._base.MAX_PERIOD_STEPS`` steps per period, and one cell's training tensors and test
sweep fit in the memory available now (estimates: :func:`cell_memory`).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import numbers
import os
import tomllib
from dataclasses import dataclass, field

__all__ = ["Cell", "Grid", "GridError", "MAX_GRID_SIGMA", "canonical_hash", "cell_memory",
           "grid_from_dict", "load_grid", "DEFAULT_RELATIVE_SIGMAS"]

#: the largest training or test sigma a grid may hold
MAX_GRID_SIGMA = 1e6

#: default test sigmas, as multiples of the training sigma: 0, 0.25, ..., 2
DEFAULT_RELATIVE_SIGMAS = tuple(i / 4 for i in range(9))

_TOP_KEYS = {"name", "grid", "sweep", "network", "training", "backend_options", "task_kwargs"}
_GRID_KEYS = {"tasks", "placements", "train_sigmas", "seeds", "backends"}
_REQUIRED_GRID = ("tasks", "placements", "train_sigmas", "seeds")
_SWEEP_DEFAULTS = {"n_trials": 2000, "seed": 1234}
_NETWORK_DEFAULTS = {"n_hidden": 32, "activation": "relu", "tau_ms": 100.0, "dt_ms": 20.0,
                     "process": "white", "tau_noise_ms": None}
_TRAINING_DEFAULTS = {"steps": 1500, "batch_size": 64, "lr": 0.01}
# optional keywords of train() a grid may set, with their kind
_TRAINING_KINDS = {"steps": "int1", "batch_size": "int1", "lr": "pos", "grad_clip": "pos",
                   "rec_gain": "nonneg", "trial_pool": "int1", "val_trials": "int0",
                   "log_every": "int1", "loss": "str"}
_BRIAN2_OPTION_KINDS = {"target": "str", "method": "str", "recurrence": "str"}


class GridError(ValueError):
    """An invalid grid file or dict; the message names the file and the offending key."""


def _fail(source, key, message):
    raise GridError(f"{source}: {key}: {message}")


def _type_name(value):
    return type(value).__name__


def _check_table(source, key, value):
    if not isinstance(value, dict):
        _fail(source, key, f"must be a table, got {_type_name(value)} {value!r}")
    return value


def _check_keys(source, key, table, allowed):
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        bad = unknown[0]
        close = difflib.get_close_matches(bad, sorted(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        where = f"[{key}]" if key else "top level"
        _fail(source, f"{key + '.' if key else ''}{bad}",
              f"unknown key in {where}{hint}; known keys: {sorted(allowed)}")


def _check_value(source, key, value, kind):
    """Check one scalar: kinds int0, int1, seed, pos, nonneg, str."""
    if kind in ("int0", "int1", "seed"):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            _fail(source, key, f"must be an integer, got {_type_name(value)} {value!r}")
        lo = 1 if kind == "int1" else 0
        if value < lo or (kind == "seed" and value >= 2 ** 32):
            bound = "in [0, 2**32)" if kind == "seed" else f">= {lo}"
            _fail(source, key, f"must be an integer {bound}, got {value!r}")
        return int(value)
    if kind in ("pos", "nonneg"):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            _fail(source, key, f"must be a number, got {_type_name(value)} {value!r}")
        value = float(value)
        if not math.isfinite(value) or value < 0 or (kind == "pos" and value == 0):
            _fail(source, key, f"must be a finite number {'> 0' if kind == 'pos' else '>= 0'}, "
                               f"got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str) or not value:
            _fail(source, key, f"must be a non-empty string, got {_type_name(value)} {value!r}")
        return value
    raise AssertionError(kind)


def _check_list(source, key, value, kind, *, allow_empty=False):
    if not isinstance(value, list):
        _fail(source, key, f"must be a list, got {_type_name(value)} {value!r}")
    if not value and not allow_empty:
        _fail(source, key, "must not be empty")
    out = [_check_value(source, f"{key}[{i}]", v, kind) for i, v in enumerate(value)]
    seen = set()
    for i, v in enumerate(out):
        if v in seen:
            _fail(source, f"{key}[{i}]", f"duplicate value {v!r}")
        seen.add(v)
    return out


def canonical_hash(obj: object) -> str:
    """SHA-256 of the canonical JSON of ``obj``: equal for equal content, whatever the key order.

    The keys of cells, of their trained networks and of ensembles (and so the file names of
    ensemble checkpoints) are such hashes.

    Parameters
    ----------
    obj : JSON-compatible object
        Dicts (str keys), lists, str, numbers, bools, None.

    Returns
    -------
    str
        64 hex digits, of ``json.dumps(obj, sort_keys=True, separators=(",", ":"))``.
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Cell:
    """One unit of work: a trained network's test-noise sweep on one backend.

    Attributes
    ----------
    config : dict
        JSON-compatible; everything that determines the cell's result: task, task_kwargs,
        network, training, placement, process, tau_noise_ms, train_sigma, seed, backend,
        backend_options, test_sigmas (absolute), n_trials, eval_seed, and ``test_placement``
        when the grid sets ``sweep.placement`` (absent otherwise, so cells of grids without it
        keep their keys).
    key : str
        SHA-256 of the canonical JSON of ``config`` and ``grid_name`` (the database's unique
        cell key: two grids that differ only in name record their own cells, sharing the
        trained networks).
    train_key : str
        SHA-256 of the training part of ``config``: cells with the same train_key share one
        trained network.
    grid_name : str
        Name of the grid the cell belongs to.
    """

    config: dict
    key: str
    train_key: str
    grid_name: str = ""

    TRAIN_FIELDS = ("task", "task_kwargs", "network", "training", "placement", "train_sigma",
                    "seed")

    @classmethod
    def from_config(cls, config, grid_name=""):
        """A cell from its config dict (keys computed here).

        Parameters
        ----------
        config : dict
            The cell's config (see ``Cell.config``); copied.
        grid_name : str
            Name of the grid the cell belongs to.

        Returns
        -------
        Cell
            The cell, with ``key`` and ``train_key`` computed.
        """
        config = json.loads(json.dumps(config))  # a plain, independent copy
        train = {k: config[k] for k in cls.TRAIN_FIELDS}
        key = canonical_hash({"grid_name": grid_name, "config": config})
        return cls(config, key, canonical_hash(train), grid_name)

    @property
    def label(self):
        """A short human-readable name, e.g. ``FunctionApproximation-v0 pre sigma=1 seed=0 torch``."""
        c = self.config
        return (f"{c['task']} {c['placement']} sigma={c['train_sigma']:g} seed={c['seed']} "
                f"{c['backend']}")


@dataclass(frozen=True)
class Grid:
    """A validated experiment grid (see the module docstring for the file format).

    Attributes
    ----------
    name : str
        The grid's name.
    tasks : tuple of str
        Task ids.
    placements : tuple of str
        Noise placements.
    train_sigmas : tuple of float
        Training noise levels.
    seeds : tuple of int
        Training seeds.
    backends : tuple of str
        Evaluation backends.
    test_sigmas : tuple of float or None
        Absolute test sigmas.
    relative_sigmas : tuple of float or None
        Test sigmas as multiples of the training sigma.
    test_placement : str or None
        Where the test noise enters for every network ("pre", "post", "state"); None: each
        network's training placement (and "pre" for membrane noise on "brian2-spiking").
    n_trials : int
        Evaluation trials per test sigma.
    eval_seed : int
        Seed of the evaluation.
    network : dict
        Network settings (defaults filled in).
    training : dict
        Training settings (defaults filled in).
    backend_options : dict
        backend -> dict (``n_trials`` and simulate() options).
    task_kwargs : dict
        task -> dict (tasks.make keywords).
    source : str
        File the grid came from (or "<dict>").
    metric : str or None
        The curves' metric (``noise_preference(..., metric=...)``); None: the task kind's
        primary metric. Part of a cell's config only when set (so grids without it keep
        their cell keys).
    """

    name: str
    tasks: tuple
    placements: tuple
    train_sigmas: tuple
    seeds: tuple
    backends: tuple
    test_sigmas: tuple | None
    relative_sigmas: tuple | None
    n_trials: int
    eval_seed: int
    network: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    backend_options: dict = field(default_factory=dict)
    task_kwargs: dict = field(default_factory=dict)
    source: str = "<dict>"
    test_placement: str | None = None
    metric: str | None = None

    def sweep_sigmas(self, train_sigma):
        """Absolute test sigmas for a network trained at ``train_sigma``.

        Parameters
        ----------
        train_sigma : float
            The training sigma.

        Returns
        -------
        list of float
            ``test_sigmas``, or ``relative_sigmas`` times ``train_sigma``.
        """
        if self.test_sigmas is not None:
            return list(self.test_sigmas)
        return [r * train_sigma for r in self.relative_sigmas]

    def cells(self):
        """All cells, in the order tasks > placements > train sigmas > seeds > backends.

        Returns
        -------
        list of Cell
            One per (task, placement, train sigma, seed, backend).
        """
        out = []
        for task in self.tasks:
            for placement in self.placements:
                for sigma in self.train_sigmas:
                    for seed in self.seeds:
                        for backend in self.backends:
                            opts = dict(self.backend_options.get(backend, {}))
                            n_trials = opts.pop("n_trials", self.n_trials)
                            config = {
                                "task": task,
                                "task_kwargs": self.task_kwargs.get(task, {}),
                                "network": self.network,
                                "training": self.training,
                                "placement": placement,
                                "train_sigma": sigma,
                                "seed": seed,
                                "backend": backend,
                                "backend_options": opts,
                                "test_sigmas": self.sweep_sigmas(sigma),
                                "n_trials": n_trials,
                                "eval_seed": self.eval_seed,
                            }
                            if self.test_placement is not None:
                                config["test_placement"] = self.test_placement
                            if self.metric is not None:
                                config["metric"] = self.metric
                            out.append(Cell.from_config(config, self.name))
        return out

    def to_dict(self):
        """The grid as a dict in the file's layout (``grid_from_dict`` of it gives this grid).

        Returns
        -------
        dict
            Tables ``grid``, ``sweep``, ``network``, ``training``, ``backend_options``,
            ``task_kwargs`` and the ``name``.
        """
        sweep = {"n_trials": self.n_trials, "seed": self.eval_seed}
        if self.test_placement is not None:
            sweep["placement"] = self.test_placement
        if self.metric is not None:
            sweep["metric"] = self.metric
        if self.test_sigmas is not None:
            sweep["sigmas"] = list(self.test_sigmas)
        else:
            sweep["relative_sigmas"] = list(self.relative_sigmas)
        network = {k: v for k, v in self.network.items() if v is not None}
        return {
            "name": self.name,
            "grid": {"tasks": list(self.tasks), "placements": list(self.placements),
                     "train_sigmas": list(self.train_sigmas), "seeds": list(self.seeds),
                     "backends": list(self.backends)},
            "sweep": sweep, "network": network, "training": dict(self.training),
            "backend_options": copy.deepcopy(self.backend_options),
            "task_kwargs": copy.deepcopy(self.task_kwargs),
        }


def load_grid(path: str | os.PathLike) -> Grid:
    """Read and validate a grid TOML file.

    Parameters
    ----------
    path : str or os.PathLike
        The TOML file.

    Returns
    -------
    Grid
        The validated grid (its name defaults to the file's stem).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    GridError
        (a ValueError) Invalid TOML or an invalid key, naming the file and the key.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"grid: no grid file at {path!r}")
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise GridError(f"{path}: not valid TOML: {err}") from err
        except UnicodeDecodeError as err:
            raise GridError(f"{path}: not a UTF-8 text file (TOML must be UTF-8): {err}") from err
    default_name = os.path.splitext(os.path.basename(path))[0]
    return grid_from_dict(data, source=path, default_name=default_name)


def _check_tasks(source, tasks):
    from ..tasks import list_tasks

    known = list_tasks()
    known_set = set(known)
    for i, t in enumerate(tasks):
        if t not in known_set:
            lower = {k.lower(): k for k in known}
            close = [lower[m] for m in difflib.get_close_matches(t.lower(), list(lower), n=3, cutoff=0.5)]
            hint = f"; closest ids: {close}" if close else "; see `brian-noisy-rnn tasks`"
            _fail(source, f"grid.tasks[{i}]", f"unknown task {t!r}{hint}")


def _check_network(source, net):
    from ..core.activations import ACTIVATIONS
    from ..core.noise import PROCESSES
    from ..core.noise_processes import NOISE_PROCESSES

    _check_keys(source, "network", net, _NETWORK_DEFAULTS)
    out = dict(_NETWORK_DEFAULTS)
    out.update(net)
    out["n_hidden"] = _check_value(source, "network.n_hidden", out["n_hidden"], "int1")
    out["activation"] = _check_value(source, "network.activation", out["activation"], "str")
    if out["activation"] not in ACTIVATIONS:
        _fail(source, "network.activation",
              f"unknown activation {out['activation']!r}; known: {sorted(ACTIVATIONS)}")
    out["tau_ms"] = _check_value(source, "network.tau_ms", out["tau_ms"], "pos")
    out["dt_ms"] = _check_value(source, "network.dt_ms", out["dt_ms"], "pos")
    if out["dt_ms"] >= out["tau_ms"]:
        _fail(source, "network.dt_ms", f"must be smaller than network.tau_ms ({out['tau_ms']:g}), "
                                       f"got {out['dt_ms']:g}")
    out["process"] = _check_value(source, "network.process", out["process"], "str")
    if out["process"] not in PROCESSES:
        _fail(source, "network.process", f"must be one of {PROCESSES}, got {out['process']!r}")
    if NOISE_PROCESSES[out["process"]].needs_tau_noise:
        if out["tau_noise_ms"] is None:
            _fail(source, "network.tau_noise_ms", "is required with network.process = 'ou'")
        out["tau_noise_ms"] = _check_value(source, "network.tau_noise_ms", out["tau_noise_ms"], "pos")
    elif out["tau_noise_ms"] is not None:
        _fail(source, "network.tau_noise_ms", "is only used with network.process = 'ou'")
    return out


def _check_training(source, training):
    _check_keys(source, "training", training, _TRAINING_KINDS)
    out = dict(_TRAINING_DEFAULTS)
    for k, v in training.items():
        out[k] = _check_value(source, f"training.{k}", v, _TRAINING_KINDS[k])
    if "loss" in out:
        from ..tasks.metrics import LOSSES

        known = sorted(set().union(*LOSSES.values()))
        if out["loss"] not in known:
            _fail(source, "training.loss", f"must be one of {known}, got {out['loss']!r}")
    if "trial_pool" in out and out["trial_pool"] < out["batch_size"]:
        _fail(source, "training.trial_pool",
              f"must be >= training.batch_size ({out['batch_size']}), got {out['trial_pool']}")
    return out


def _check_build_directory(source, key, value):
    """A standalone build folder of a grid: a relative path that stays inside the results
    database's folder (where ``run_grid`` resolves it)."""
    _check_value(source, key, value, "str")
    parts = value.replace("\\", "/").split("/")
    if not value.strip() or os.path.isabs(value) or value.startswith(("~", "/", "\\")) \
            or ".." in parts:
        _fail(source, key, "must be a relative folder inside the results folder (no absolute "
                           f"path, no '..', no '~'), got {value!r}")
    return value


def _check_backend_options(source, options, backends):
    from ..backends.simulation import check_backend_options

    out = {}
    for backend, opts in options.items():
        key = f"backend_options.{backend}"
        if backend not in backends:
            _fail(source, key, f"backend {backend!r} is not in grid.backends {list(backends)}")
        _check_table(source, key, opts)
        checked = {}
        for k, v in opts.items():
            if k == "n_trials":
                checked[k] = _check_value(source, f"{key}.n_trials", v, "int1")
            elif backend.startswith("brian2") and k == "directory":
                checked[k] = _check_build_directory(source, f"{key}.directory", v)
            elif backend.startswith("brian2") and k in _BRIAN2_OPTION_KINDS:
                checked[k] = _check_value(source, f"{key}.{k}", v, _BRIAN2_OPTION_KINDS[k])
            elif backend.startswith("brian2") and isinstance(v, (str, int, float, bool)):
                checked[k] = v  # further options of the Brian2 backend, passed through
            else:
                allowed = ["n_trials", *(sorted(_BRIAN2_OPTION_KINDS) if backend.startswith("brian2") else [])]
                _fail(source, f"{key}.{k}", f"unknown option for backend {backend!r}; known: {allowed}")
        try:  # option names and values the backend checks itself, without running
            check_backend_options(backend, {k: v for k, v in checked.items() if k != "n_trials"},
                                  name=key)
        except ValueError as err:
            raise GridError(f"{source}: {err}") from None
        out[backend] = checked
    return out


def _check_task_kwargs(source, kwargs, tasks, dt_ms):
    from ..tasks import make

    out = {}
    for task, kw in kwargs.items():
        key = f"task_kwargs.{task}"
        if task not in tasks:
            _fail(source, key, f"task {task!r} is not in grid.tasks {list(tasks)}")
        _check_table(source, key, kw)
        out[task] = json.loads(json.dumps(kw))
    for task in tasks:  # every task must be constructible with its keywords (cheap)
        try:
            make(task, dt=dt_ms, **out.get(task, {}))
        except Exception as err:  # noqa: BLE001 - report any construction failure as a grid error
            _fail(source, f"task_kwargs.{task}" if task in out else f"grid.tasks ({task})",
                  f"cannot create task {task!r} with dt={dt_ms:g} ms: {type(err).__name__}: {err}")
    return out


def _check_metric(source, metric, tasks, dt_ms, task_kwargs):
    """GridError unless ``metric`` is a metric of every task (names from a 2-trial batch)."""
    import numpy as np

    from .. import tasks as tasks_module
    from ..tasks import metrics

    for task in tasks:
        probe = tasks_module.batch(tasks_module.make(task, dt=dt_ms, **task_kwargs.get(task, {})),
                                   2, seed=0)
        names = sorted(metrics.per_trial_metrics(np.zeros(probe.output_shape), probe))
        if metric not in names:
            _fail(source, "sweep.metric", f"{metric!r} is not a metric of task {task!r}; "
                                          f"its metrics: {names}")


def cell_memory(n_steps, n_in, n_out, n_hidden, batch_size, n_trials):
    """Estimated peak memory of one cell, in bytes: its training and its test sweep.

    Parameters
    ----------
    n_steps : int
        Time steps T of a trial.
    n_in, n_out, n_hidden : int
        The network's sizes.
    batch_size : int
        Training trials per step.
    n_trials : int
        Test trials per sigma (all simulated at once).

    Returns
    -------
    training : int
        About ten float32 (T, batch_size, N) tensors (drive, noise, pre-activations, states
        and their gradients) and four float32 (N, N) ones (weights, gradients, Adam moments).
    sweep : int
        float64 states (twice), noise draws and outputs of (T, n_trials) and the inputs, as
        :func:`~brian_noisy_rnn.backends.simulation.check_memory` counts them.
    """
    training = 10 * 4 * n_steps * batch_size * n_hidden + 4 * 4 * n_hidden * (n_hidden + n_in + n_out)
    sweep = 8 * n_steps * n_trials * (3 * n_hidden + n_out + n_in)
    return training, sweep


def _check_sigmas(source, train_sigmas, test_sigmas, relative):
    """GridError naming the key if a training or test sigma exceeds MAX_GRID_SIGMA."""
    for i, s in enumerate(train_sigmas):
        if s > MAX_GRID_SIGMA:
            _fail(source, f"grid.train_sigmas[{i}]", f"{s!r} is larger than MAX_GRID_SIGMA = "
                  f"{MAX_GRID_SIGMA:g} (it saturates any activation)")
    if test_sigmas is not None:
        for i, s in enumerate(test_sigmas):
            if s > MAX_GRID_SIGMA:
                _fail(source, f"sweep.sigmas[{i}]", f"{s!r} is larger than MAX_GRID_SIGMA = "
                      f"{MAX_GRID_SIGMA:g}")
        return
    for i, r in enumerate(relative):
        top = r * max(train_sigmas, default=0.0)
        if not math.isfinite(top) or top > MAX_GRID_SIGMA:
            _fail(source, f"sweep.relative_sigmas[{i}]", f"{r!r} times the largest training "
                  f"sigma gives {top!r}, larger than MAX_GRID_SIGMA = {MAX_GRID_SIGMA:g}")


def _check_memory(source, tasks, task_kwargs, network, training, n_trials, backend_options):
    """GridError naming the keys to reduce if one cell cannot fit in the memory available."""
    from .. import tasks as tasks_module
    from ..core.run_checks import available_memory

    available = available_memory()
    if available is None:
        return
    trials = max([n_trials] + [o.get("n_trials", n_trials) for o in backend_options.values()])
    for task in tasks:
        probe = tasks_module.batch(tasks_module.make(task, dt=network["dt_ms"],
                                                     **task_kwargs.get(task, {})), 2, seed=0)
        n_in, n_out = probe.inputs.shape[2], probe.output_shape[-1]
        training_bytes, sweep_bytes = cell_memory(probe.n_steps, n_in, n_out,
                                                  network["n_hidden"], training["batch_size"],
                                                  trials)
        n_hidden, batch = network["n_hidden"], training["batch_size"]
        # the larger factor is named first (and as the key)
        for what, need, keys in (
                ("training", training_bytes, sorted(
                    [(n_hidden, "network.n_hidden"), (batch, "training.batch_size")], reverse=True)),
                ("test sweep", sweep_bytes, sorted(
                    [(n_hidden, "network.n_hidden"), (trials, "sweep.n_trials")], reverse=True))):
            if need > available:
                keys = ", ".join(k for _, k in keys)
                _fail(source, keys.split(",")[0],
                      f"one cell's {what} of task {task!r} ({probe.n_steps} steps per trial) "
                      f"needs about {need / 2**30:.3g} GiB, more than the "
                      f"{available / 2**30:.3g} GiB of memory available; reduce {keys} or "
                      "the task's trial length")


def grid_from_dict(data: dict, source: str = "<dict>", default_name: str = "grid") -> Grid:
    """Validate a grid given as a dict in the file's layout (see the module docstring).

    Parameters
    ----------
    data : dict
        The grid, as parsed from a TOML file.
    source : str
        Where the grid came from, for error messages (and ``Grid.source``).
    default_name : str
        The grid's name if ``data`` has no ``name``.

    Returns
    -------
    Grid
        The validated grid.

    Raises
    ------
    GridError
        (a ValueError) Naming ``source`` and the offending key.
    """
    from ..core.noise import PLACEMENTS, SUPPORTED
    from ..backends.simulation import BACKENDS

    _check_table(source, "top level", data)
    _check_keys(source, "", data, _TOP_KEYS)
    name = _check_value(source, "name", data.get("name", default_name), "str")
    if "grid" not in data:
        _fail(source, "grid", "missing table [grid] (with tasks, placements, train_sigmas, seeds)")
    g = _check_table(source, "grid", data["grid"])
    _check_keys(source, "grid", g, _GRID_KEYS)
    for k in _REQUIRED_GRID:
        if k not in g:
            _fail(source, f"grid.{k}", "is required")
    tasks = _check_list(source, "grid.tasks", g["tasks"], "str")
    placements = _check_list(source, "grid.placements", g["placements"], "str")
    for i, p in enumerate(placements):
        if p not in PLACEMENTS or p == "none":
            _fail(source, f"grid.placements[{i}]",
                  f"must be one of {[p for p in PLACEMENTS if p != 'none']}, got {p!r}")
    train_sigmas = _check_list(source, "grid.train_sigmas", g["train_sigmas"], "nonneg")
    seeds = _check_list(source, "grid.seeds", g["seeds"], "seed")
    backends = _check_list(source, "grid.backends", g.get("backends", ["torch"]), "str")
    for i, b in enumerate(backends):
        if b not in BACKENDS:
            _fail(source, f"grid.backends[{i}]", f"must be one of {sorted(BACKENDS)}, got {b!r}")

    sweep = _check_table(source, "sweep", data.get("sweep", {}))
    _check_keys(source, "sweep", sweep, {"sigmas", "relative_sigmas", "n_trials", "seed",
                                         "placement", "metric"})
    if "sigmas" in sweep and "relative_sigmas" in sweep:
        _fail(source, "sweep.sigmas", "give either sweep.sigmas or sweep.relative_sigmas, not both")
    test_sigmas = relative = None
    if "sigmas" in sweep:
        test_sigmas = tuple(_check_list(source, "sweep.sigmas", sweep["sigmas"], "nonneg"))
    else:
        relative = tuple(_check_list(source, "sweep.relative_sigmas",
                                     sweep.get("relative_sigmas", list(DEFAULT_RELATIVE_SIGMAS)),
                                     "nonneg"))
        if 0.0 in train_sigmas:
            _fail(source, "sweep.relative_sigmas", "needs every grid.train_sigmas > 0 (it scales "
                                                   "the training sigma); use sweep.sigmas instead")
    n_trials = _check_value(source, "sweep.n_trials", sweep.get("n_trials", _SWEEP_DEFAULTS["n_trials"]), "int1")
    eval_seed = _check_value(source, "sweep.seed", sweep.get("seed", _SWEEP_DEFAULTS["seed"]), "seed")
    test_placement = None
    if "placement" in sweep:
        test_placement = _check_value(source, "sweep.placement", sweep["placement"], "str")
        if test_placement not in PLACEMENTS or test_placement == "none":
            _fail(source, "sweep.placement", f"must be one of "
                  f"{[p for p in PLACEMENTS if p != 'none']}, got {test_placement!r}")

    network = _check_network(source, _check_table(source, "network", data.get("network", {})))
    for i, p in enumerate(placements):
        if network["process"] not in SUPPORTED[p]:
            _fail(source, "network.process", f"process {network['process']!r} is not supported with "
                                             f"placement {p!r} (grid.placements[{i}]); supported: {SUPPORTED[p]}")
    training = _check_training(source, _check_table(source, "training", data.get("training", {})))
    backend_options = _check_backend_options(
        source, _check_table(source, "backend_options", data.get("backend_options", {})), backends)
    if test_placement not in (None, "pre"):
        for backend, opts in backend_options.items():
            if opts.get("noise_as") == "membrane":
                _fail(source, "sweep.placement",
                      f"must be 'pre' (or absent) with backend_options.{backend}.noise_as = "
                      f"'membrane': membrane noise is noise inside f; got {test_placement!r}")
    _check_tasks(source, tasks)
    task_kwargs = _check_task_kwargs(
        source, _check_table(source, "task_kwargs", data.get("task_kwargs", {})), tasks, network["dt_ms"])
    _check_sigmas(source, train_sigmas, test_sigmas, relative)
    _check_memory(source, tasks, task_kwargs, network, training, n_trials, backend_options)
    metric = None
    if "metric" in sweep:
        metric = _check_value(source, "sweep.metric", sweep["metric"], "str")
        _check_metric(source, metric, tasks, network["dt_ms"], task_kwargs)
    return Grid(name=name, tasks=tuple(tasks), placements=tuple(placements),
                train_sigmas=tuple(train_sigmas), seeds=tuple(seeds), backends=tuple(backends),
                test_sigmas=test_sigmas, relative_sigmas=relative, n_trials=n_trials,
                eval_seed=eval_seed, network=network, training=training,
                backend_options=backend_options, task_kwargs=task_kwargs, source=source,
                test_placement=test_placement, metric=metric)
