"""``train``: fit a :class:`TorchCTRNN` to a NeuroGym task and return a :class:`CTRNNSpec`;
``train_ensemble``: fit S such networks of one task and shape together.

The settings are one checked :class:`TrainConfig` (keyword arguments build it). One loop
(:class:`_Run`: resume, step, log, checkpoint) trains a :class:`StackedCTRNN`; ``train`` is
an ensemble of one, so a member of an ensemble is trained exactly as ``train`` trains it.

Adam on back-propagation through time of the whole trial, the task's masked loss
(:func:`brian_noisy_rnn.tasks.metrics.torch_loss`), gradient-norm clipping, a tqdm progress bar,
and a checkpoint file that makes training interruptible and resumable.

Determinism and resuming
------------------------
Every random number of a step is derived from ``(seed, step)``: the batch of trials
(``tasks.batch(env, batch_size, seed=derive_seed(seed, BATCH, step))``) and the training
noise (a ``torch.Generator`` re-seeded with ``derive_seed(seed, NOISE, step)``). Together
with the weights (initialised from ``seed``) and the Adam state stored in the checkpoint,
training for ``n`` steps in one go and training that is stopped at step ``k`` and resumed
give identical weights.

Threads: ``train`` runs torch with ``num_threads`` intra-op threads (default 1) and restores
the previous ``torch.get_num_threads()`` afterwards. For the small networks trained here
(tens to hundreds of units) more threads do not help, and on a busy machine they hurt badly:
FunctionApproximation, 16 units, 300 steps took 3.7 s with 1 thread and 73 s with 2 threads
on 2 cores shared with other jobs. Pass ``num_threads=None`` to keep torch's own setting.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..backends.random_state import keeps_random_state
from ..tasks import metrics as task_metrics_module
from .. import tasks as tasks_module
from ..backends.torch_backend import TorchCTRNN
from ..core.activations import get_activation
from ..core.noise import Noise, as_noise
from ..core.spec import CTRNNSpec, check_spec
from ..core.units import from_seconds, to_seconds
from ..core.validation import check_choice, check_int
from .checkpoint import config_differences, load_checkpoint, save_checkpoint
from .ensemble import StackedCTRNN, clip_per_member, member_losses

if TYPE_CHECKING:
    import gymnasium as gym
    from brian2 import Quantity

__all__ = ["EnsembleResult", "TrainConfig", "TrainingHistory", "TrainingResult", "derive_seed",
           "train", "train_ensemble"]

# purposes of derived seeds (second entry of the SeedSequence entropy)
BATCH, NOISE, VALIDATION, VALIDATION_NOISE, POOL, PICK, FINGERPRINT = range(1, 8)
# a loss that is not finite at step 0 with a noise sigma above this is blamed on the sigma
_SIGMA_OVERFLOW = 1e6


def derive_seed(seed: int, purpose: int, step: int = 0) -> int:
    """A seed in [0, 2**32) for ``(seed, purpose, step)``; independent streams per purpose and step.

    Parameters
    ----------
    seed : int
        The run's seed (``TrainConfig.seed``).
    purpose : int
        What the seed is for: one of the module constants ``BATCH``, ``NOISE``,
        ``VALIDATION``, ``VALIDATION_NOISE``, ``POOL``, ``PICK``, ``FINGERPRINT``.
    step : int
        The optimisation step (0 for seeds used once per run).

    Returns
    -------
    int
        From ``numpy.random.SeedSequence([seed, purpose, step])``.
    """
    return int(np.random.SeedSequence([int(seed), int(purpose), int(step)]).generate_state(1)[0])


@dataclass
class TrainingHistory:
    """What was logged during training, one entry per logging step.

    Attributes
    ----------
    metric_name : str
        The task's primary metric (``metrics.primary_metric(kind)``).
    higher_is_better : bool
        Whether a larger value of the primary metric is better.
    step : list of int
        Number of completed optimisation steps at the entry.
    loss : list of float
        Mean training loss over the steps since the previous entry.
    metrics : dict of str to list of float
        :func:`~brian_noisy_rnn.tasks.metrics.task_metrics` on that step's training batch
        (with the training noise), per metric name.
    val_metrics : dict of str to list of float
        The same on the fixed validation batch (empty unless ``val_trials > 0``).
    elapsed : list of float
        Wall-clock training time in seconds up to the entry.
    """

    metric_name: str
    higher_is_better: bool
    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    val_metrics: dict = field(default_factory=dict)
    elapsed: list = field(default_factory=list)

    def __len__(self):
        return len(self.step)

    @property
    def metric(self) -> list:
        """The primary metric per entry (list of float)."""
        return self.metrics.get(self.metric_name, [])

    def final(self) -> dict:
        """The last entry as a flat dict.

        Returns
        -------
        dict
            ``step``, ``loss``, ``elapsed_s`` (seconds), the metrics by name and the
            validation metrics as ``val_<name>``; {} if the history is empty.
        """
        if not self.step:
            return {}
        out = {"step": self.step[-1], "loss": self.loss[-1], "elapsed_s": self.elapsed[-1]}
        out.update({k: v[-1] for k, v in self.metrics.items()})
        out.update({f"val_{k}": v[-1] for k, v in self.val_metrics.items()})
        return out

    def append(self, step: int, loss: float, metrics: Mapping[str, float],
               val_metrics: Mapping[str, float], elapsed: float) -> None:
        """Add one entry.

        Parameters
        ----------
        step : int
            Number of completed optimisation steps.
        loss : float
            Mean training loss since the previous entry.
        metrics : dict of str to float
            The training-batch metrics of this entry.
        val_metrics : dict of str to float
            The validation metrics of this entry (may be empty).
        elapsed : float
            Wall-clock training time up to this entry, in seconds.
        """
        self.step.append(int(step))
        self.loss.append(float(loss))
        for k, v in metrics.items():
            self.metrics.setdefault(k, []).append(float(v))
        for k, v in val_metrics.items():
            self.val_metrics.setdefault(k, []).append(float(v))
        self.elapsed.append(float(elapsed))

    def as_dict(self) -> dict:
        """A JSON-compatible dict of plain lists (inverse: :meth:`from_dict`).

        Returns
        -------
        dict
            The attributes by name (copies of the lists).
        """
        return {"metric_name": self.metric_name, "higher_is_better": self.higher_is_better,
                "step": list(self.step), "loss": list(self.loss),
                "metrics": {k: list(v) for k, v in self.metrics.items()},
                "val_metrics": {k: list(v) for k, v in self.val_metrics.items()},
                "elapsed": list(self.elapsed)}

    @classmethod
    def from_dict(cls, d: Mapping) -> TrainingHistory:
        """Inverse of :meth:`as_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`as_dict` (e.g. read back from a checkpoint).

        Returns
        -------
        TrainingHistory
            With copies of the lists in ``d``.
        """
        return cls(metric_name=d["metric_name"], higher_is_better=bool(d["higher_is_better"]),
                   step=list(d["step"]), loss=list(d["loss"]),
                   metrics={k: list(v) for k, v in d["metrics"].items()},
                   val_metrics={k: list(v) for k, v in d["val_metrics"].items()},
                   elapsed=list(d["elapsed"]))


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    spec : CTRNNSpec
        The trained network; ``spec.noise`` is the training noise and
        ``spec.metadata["training"]`` a JSON summary (task, steps, seed, lr, final
        metrics, ...).
    history : TrainingHistory
        What was logged during training.
    model : TorchCTRNN
        The trained module (training dtype).
    steps : int
        Completed optimisation steps.
    elapsed : float
        Wall-clock training time in seconds (summed over resumed runs).
    config : dict
        The settings a checkpoint must match to be resumed.
    checkpoint : str or None
        Path of the checkpoint file (None: no checkpoint).
    """

    spec: CTRNNSpec
    history: TrainingHistory
    model: TorchCTRNN
    steps: int
    elapsed: float
    config: dict
    checkpoint: str | None = None


# --- argument checks -------------------------------------------------------------------
def _check_positive(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_real(value, name, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)


def _fingerprint(env):
    """A short hash of a small seeded batch: detects a differently configured task on resume."""
    import hashlib

    b = tasks_module.batch(env, 4, seed=derive_seed(0, FINGERPRINT))
    h = hashlib.sha256()
    for arr in (b.inputs, b.targets, b.mask, b.decision_mask):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16], b


# --- trial sources -----------------------------------------------------------------------
def _subset(batch, idx):
    """Trials ``idx`` of a padded TaskBatch, trimmed to their longest length."""
    T = int(batch.lengths[idx].max())
    return tasks_module.TaskBatch(
        inputs=batch.inputs[:T, idx], targets=batch.targets[:T, idx], mask=batch.mask[:T, idx],
        decision_mask=batch.decision_mask[:T, idx], kind=batch.kind, n_out=batch.n_out,
        lengths=batch.lengths[idx], dt=batch.dt,
        trials=tuple(batch.trials[i] for i in idx) if batch.trials else (),
        extra_metrics=batch.extra_metrics, task=batch.task)


class _TrialSource:
    """The training batch of each step: fresh trials, or a sample of a fixed pool of trials."""

    def __init__(self, env, seed, batch_size, pool_size):
        self.env, self.seed, self.batch_size = env, seed, batch_size
        self.pool = None
        if pool_size is not None:
            self.pool = tasks_module.batch(env, pool_size, seed=derive_seed(seed, POOL))

    def __call__(self, step):
        if self.pool is None:
            return tasks_module.batch(self.env, self.batch_size,
                                      seed=derive_seed(self.seed, BATCH, step))
        rs = np.random.RandomState(derive_seed(self.seed, PICK, step))
        return _subset(self.pool, rs.randint(0, self.pool.n_trials, size=self.batch_size))


# --- settings -----------------------------------------------------------------------------
class _BuildableSettings:
    """``build``: a settings dataclass from a base instance and/or keyword arguments (shared by
    :class:`TrainConfig` and :class:`~brian_noisy_rnn.bridges.feedforward.FeedforwardConfig`)."""

    @classmethod
    def build(cls, config=None, **settings: Any):
        """``config`` with ``settings`` replaced, or a new config from ``settings``.

        Parameters
        ----------
        config : instance of this class or None
            The base settings; None: build a new config from ``settings`` alone.
        **settings : keyword arguments
            Fields of this class (checked again on construction).

        Returns
        -------
        instance of this class
            ``config`` itself if there are no ``settings``.

        Raises
        ------
        TypeError
            For an unknown setting or a ``config`` that is not an instance of this class.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise TypeError(f"unknown training settings {unknown}; {cls.__name__} has "
                            f"{sorted(names)}")
        if config is None:
            return cls(**settings)
        if not isinstance(config, cls):
            raise TypeError(f"config must be a {cls.__name__} or None, got "
                            f"{type(config).__name__}")
        return replace(config, **settings) if settings else config


@dataclass(frozen=True, kw_only=True)
class TrainConfig(_BuildableSettings):
    """The settings that define a training run (checked on construction).

    ``train(env, TrainConfig(...))`` and ``train(env, n_hidden=..., ...)`` are the same call;
    an ensemble takes one config per member (:func:`train_ensemble`). Every check raises a
    ValueError or TypeError naming the field.

    Parameters
    ----------
    n_hidden : int >= 1
        Number of hidden units.
    noise : Noise
        The training noise (:class:`~brian_noisy_rnn.Noise`); it becomes ``spec.noise`` of
        the result. Default ``Noise("none")``, as the command line's ``train``.
    seed : int in [0, 2**32)
        Seeds the initial weights, every batch and the training noise.
    activation : str
        A registered activation name.
    tau : Brian2 time quantity or None
        Membrane time constant; None: ``100*ms`` (stored as such). Must exceed the task's dt.
    steps : int >= 1
        Total number of optimisation steps (a resumed run continues up to it).
    batch_size : int >= 1
        Trials per step.
    lr : float > 0
        Adam learning rate.
    grad_clip : float > 0 or None
        Maximal gradient norm (None: no clipping).
    log_every : int >= 1
        Steps between history entries.
    rec_gain : float >= 0
        Initial recurrent weights ~ N(0, rec_gain**2 / n_hidden).
    bias_init : float
        Initial hidden bias b (all units). A positive value (e.g. 0.5) keeps relu units from
        starting silent: with ``n_hidden=1`` a unit whose initial input weight is negative
        never receives a gradient (about half of the seeds at bias_init=0).
    init_spec : CTRNNSpec or None
        Start from these weights instead of a random init (its n_in, n_hidden, n_out and
        activation must fit).
    val_trials : int >= 0
        Size of a fixed validation batch scored at every log entry (0: none).
    trial_pool : int >= batch_size or None
        None: fresh trials every step. An int: generate that many trials once and sample each
        batch from them (much faster for tasks whose trial generation is slow).
    dtype : torch.dtype
        Floating dtype of the training, ``torch.float32`` (default) or ``torch.float64``; the
        spec is float64 either way.
    loss : str or None
        The training loss (:func:`brian_noisy_rnn.tasks.metrics.check_loss`): None, the task
        kind's default (masked cross-entropy for classification, masked MSE for regression);
        ``"mse_onehot"`` for classification: the squared error of the outputs against one-hot
        targets (Yang et al. 2019's least-squares loss). Checked against the task's kind
        when training starts.

    Attributes
    ----------
    PER_MEMBER : tuple of str
        The settings that may differ between the members of an ensemble.
    """

    n_hidden: int
    noise: Noise = field(default_factory=lambda: Noise("none"))
    seed: int
    activation: str = "relu"
    tau: Quantity | None = None
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-2
    grad_clip: float | None = 1.0
    log_every: int = 50
    rec_gain: float = 0.5
    bias_init: float = 0.0
    init_spec: CTRNNSpec | None = None
    val_trials: int = 0
    trial_pool: int | None = None
    dtype: torch.dtype = torch.float32
    loss: str | None = None

    # settings that may differ between the members of an ensemble
    PER_MEMBER = ("noise", "seed", "grad_clip", "rec_gain", "bias_init", "init_spec")

    def __post_init__(self):
        from brian2 import ms

        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen)
        put("n_hidden", check_int(self.n_hidden, "n_hidden", 1))
        as_noise(self.noise)
        self.noise.sigma_vector(self.n_hidden)  # a per-neuron sigma must fit n_hidden
        put("seed", check_int(self.seed, "seed", 0, 2 ** 32))
        put("activation", get_activation(self.activation).name)
        put("tau", 100 * ms if self.tau is None else self.tau)
        to_seconds(self.tau, "tau")
        put("steps", check_int(self.steps, "steps", 1))
        put("batch_size", check_int(self.batch_size, "batch_size", 1))
        put("lr", _check_positive(self.lr, "lr"))
        put("grad_clip", _check_positive(self.grad_clip, "grad_clip", allow_none=True))
        put("log_every", check_int(self.log_every, "log_every", 1))
        put("rec_gain", _check_real(self.rec_gain, "rec_gain", minimum=0.0))
        put("bias_init", _check_real(self.bias_init, "bias_init"))
        if self.init_spec is not None:
            check_spec(self.init_spec, "init_spec")
        put("val_trials", check_int(self.val_trials, "val_trials", 0))
        if self.trial_pool is not None:
            put("trial_pool", check_int(self.trial_pool, "trial_pool", self.batch_size))
        if self.loss is not None:
            check_choice(self.loss, "loss", sorted(set().union(*task_metrics_module.LOSSES.values())))
        if self.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {self.dtype!r}")
        for name in ("lr", "bias_init"):
            value = getattr(self, name)
            if abs(value) > torch.finfo(self.dtype).max:
                raise ValueError(f"{name} must be representable in {self.dtype} (|{name}| <= "
                                 f"{torch.finfo(self.dtype).max:.3g}), got {value!r}")


def _check_run_options(checkpoint_every, callback, num_threads, device):
    check_int(checkpoint_every, "checkpoint_every", 1)
    if num_threads is not None:
        check_int(num_threads, "num_threads", 1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable(step, loss) or None, got {callback!r}")
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device or None, got {device!r} ({err})") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}, but CUDA is not available here")
    return device


# --- Ctrl-C handling -----------------------------------------------------------------------
class _InterruptFlag:
    requested = False


@contextlib.contextmanager
def _deferred_sigint():
    """Defer the first Ctrl-C to the end of the current step (a second one interrupts at once).

    Only in the main thread (signal handlers cannot be set elsewhere); the previous handler
    (Python's default, or Brian2's, which only acts during ``Network.run``) is restored on exit.
    The yielded flag's ``requested`` turns True when Ctrl-C was pressed.
    """
    flag = _InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):  # Ctrl-C is ignored or handled outside Python
        yield flag
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _torch_threads(n):
    """Run the block with ``n`` torch intra-op threads (None: unchanged), then restore."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --- the loop (one network = an ensemble of one) ---------------------------------------------
@keeps_random_state
def train(env: str | gym.Env, config: TrainConfig | None = None, *,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 100,
          progress: bool = True, callback: Callable[[int, float], Any] | None = None,
          num_threads: int | None = 1, device: str | torch.device | None = None,
          **settings: Any) -> TrainingResult:
    """Train a CTRNN on a task with Adam and BPTT; return the network as a :class:`CTRNNSpec`.

    Parameters
    ----------
    env : str or gymnasium.Env
        The task: a task id, or a NeuroGym TrialEnv or wrapper (e.g.
        ``tasks.make(id, dt=20)``); its ``dt`` (ms) is the network's time step.
    config : TrainConfig or None
        The training settings (a :class:`TrainConfig`); keyword arguments
        (``n_hidden=32, noise=..., seed=0, ...``, the fields of :class:`TrainConfig`) give or
        replace them.
    checkpoint : str or os.PathLike or None
        File for the training state (None: no checkpoint). If it exists, training resumes
        from it (its settings must match: otherwise ValueError naming ``checkpoint``); it is
        rewritten atomically every ``checkpoint_every`` steps, at the end, and when training
        stops with an exception (Ctrl-C included), which is then re-raised.
    checkpoint_every : int >= 1
        Steps between checkpoint writes.
    progress : bool
        Show a tqdm progress bar.
    callback : callable(step, loss) or None
        Called after every completed step; an exception it raises stops training like Ctrl-C
        does (checkpoint written, exception re-raised).
    num_threads : int >= 1 or None
        Torch threads while training (restored afterwards; None: leave torch's setting). 1 is
        fastest for small networks, see the module docstring.
    device : str or torch.device or None
        The training device, e.g. ``"cuda"``; None: the CPU. Trials and noise are drawn on
        the CPU as there, so the results do not depend on the device beyond rounding.
    **settings : keyword arguments
        Fields of :class:`TrainConfig`, giving or replacing those of ``config``.

    Returns
    -------
    TrainingResult
        With ``.spec``, ``.history``, ``.model``, ``.steps``, ``.elapsed``.

    Raises
    ------
    ValueError, TypeError
        For invalid arguments (unknown task, n_hidden < 1, negative sigma, ...) or a checkpoint
        written with other settings; all raised before the first step.
    FloatingPointError
        If the loss becomes NaN or infinite (the checkpoint keeps the last finite state).
    """
    config = TrainConfig.build(config, **settings)
    cb = None if callback is None else (lambda step, losses: callback(step, losses[0]))
    if callback is not None and not callable(callback):
        cb = callback  # rejected by the option check, naming callback
    run = _Run(env, [config], single=True, checkpoint=checkpoint,
               checkpoint_every=checkpoint_every, progress=progress, callback=cb,
               num_threads=num_threads, device=device)
    run.fit()
    return run.result(0)


def train_ensemble(env: str | gym.Env, configs: Iterable[TrainConfig] | None = None, *,
                   members: Iterable[Mapping[str, Any]] | None = None,
                   checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 100,
                   progress: bool = True,
                   callback: Callable[[int, list[float]], Any] | None = None,
                   num_threads: int | None = 1, device: str | torch.device | None = None,
                   **settings: Any) -> EnsembleResult:
    """Train S networks of one task and shape together, weights stacked (see :class:`StackedCTRNN`).

    Member ``s`` is trained exactly as ``train(env, configs[s])`` would train it (same trials,
    noise draws, initial weights, Adam updates and per-network gradient clipping; equal up to
    rounding, about 1e-15 in float64), in a fraction of the time for small networks.

    Parameters
    ----------
    env : str or gymnasium.Env
        The task, as for :func:`train`.
    configs : list of TrainConfig or None
        One per member; they may differ only in ``TrainConfig.PER_MEMBER`` (noise, seed,
        grad_clip, rec_gain, bias_init, init_spec). Give either ``configs`` or ``members``.
    members : list of dict or None
        Instead of ``configs``: per-member settings (e.g.
        ``dict(seed=0, noise=Noise("pre", 1.0))``) combined with the shared ``settings``.
    checkpoint : str or os.PathLike or None
        As for :func:`train`: one checkpoint file for the whole ensemble.
    checkpoint_every : int >= 1
        As for :func:`train`.
    progress : bool
        As for :func:`train` (one progress bar for the ensemble).
    callback : callable(step, losses) or None
        Called after every completed step, ``losses`` a list of S floats.
    num_threads : int >= 1 or None
        As for :func:`train`.
    device : str or torch.device or None
        As for :func:`train`.
    **settings : keyword arguments
        Shared :class:`TrainConfig` fields (with ``members``), or overrides applied to every
        config (with ``configs``).

    Returns
    -------
    EnsembleResult
        With ``.specs``, ``.histories``, ``.model``, ``.members``.

    Raises
    ------
    TypeError
        If neither or both of ``configs`` and ``members`` are given, or they are not lists;
        otherwise as :func:`train`.
    """
    if (configs is None) == (members is None):
        raise TypeError("train_ensemble needs either configs (a list of TrainConfig) or "
                        "members (a list of per-member settings)")
    if members is not None:
        if isinstance(members, dict) or not hasattr(members, "__iter__"):
            raise TypeError(f"members must be a list of dicts, got {type(members).__name__}")
        members = list(members)
        for i, m in enumerate(members):
            if not isinstance(m, Mapping):
                raise TypeError(f"members[{i}] must be a dict of training settings, got "
                                f"{type(m).__name__} {m!r:.60}")
        configs = [TrainConfig.build(**{**settings, **dict(m)}) for m in members]
    else:
        if isinstance(configs, TrainConfig) or not hasattr(configs, "__iter__"):
            raise TypeError(f"configs must be a list of TrainConfig, got {type(configs).__name__}")
        configs = list(configs)
        for i, c in enumerate(configs):
            if c is not None and not isinstance(c, TrainConfig):
                raise TypeError(f"configs[{i}] must be a TrainConfig or None, got "
                                f"{type(c).__name__} {c!r:.60}")
        configs = [TrainConfig.build(c, **settings) for c in configs]
    run = _Run(env, configs, single=False, checkpoint=checkpoint,
               checkpoint_every=checkpoint_every, progress=progress, callback=callback,
               num_threads=num_threads, device=device)
    run.fit()
    return EnsembleResult(specs=[run.spec(s) for s in range(len(configs))],
                          histories=run.histories, model=run.model, steps=run.completed,
                          elapsed=run.elapsed, configs=run.configs,
                          checkpoint=run.checkpoint)


@dataclass
class EnsembleResult:
    """What :func:`train_ensemble` returns.

    Attributes
    ----------
    specs : list of CTRNNSpec
        The trained networks in the order of the configs.
    histories : list of TrainingHistory
        What was logged for each member.
    model : StackedCTRNN
        The trained stack (training dtype and device).
    steps : int
        Completed optimisation steps.
    elapsed : float
        Wall-clock training time of the ensemble in seconds.
    configs : list of dict
        Each member's settings as :attr:`TrainingResult.config`.
    checkpoint : str or None
        Path of the ensemble's checkpoint file (None: no checkpoint).
    """

    specs: list
    histories: list
    model: StackedCTRNN
    steps: int
    elapsed: float
    configs: list
    checkpoint: str | None = None

    def __len__(self):
        return len(self.specs)

    @property
    def members(self) -> list[TrainingResult]:
        """Each member as a :class:`TrainingResult` (as ``train`` would have returned it)."""
        return [TrainingResult(spec=self.specs[s], history=self.histories[s],
                               model=self.model.member(s), steps=self.steps,
                               elapsed=self.elapsed, config=self.configs[s],
                               checkpoint=self.checkpoint) for s in range(len(self))]


class _Run:
    """One training run of S >= 1 stacked networks: set-up, resume, steps, logs, checkpoints."""

    def __init__(self, env, configs, *, single, checkpoint, checkpoint_every, progress,
                 callback, num_threads, device):
        # ---- validate everything before any work ----
        if not configs:
            raise ValueError("configs must hold at least one TrainConfig, got none")
        for i, c in enumerate(configs):
            if not isinstance(c, TrainConfig):
                raise TypeError(f"configs[{i}] must be a TrainConfig, got {type(c).__name__}")
        self.device = _check_run_options(checkpoint_every, callback, num_threads, device)
        self.env = env = tasks_module.as_task(env)
        shared = _shared_settings(configs)
        self.shared, self.members = shared, configs
        tau_s = to_seconds(shared.tau, "tau")
        self.dt_ms = dt_ms = float(env.unwrapped.dt)
        if dt_ms * 1e-3 >= tau_s:
            from brian2 import ms

            raise ValueError(f"tau ({shared.tau}) must be larger than the task's dt ({dt_ms * ms})")
        fingerprint, probe = _fingerprint(env)
        self.kind = probe.kind
        self.loss = task_metrics_module.check_loss(shared.loss, probe.kind)
        self.name = tasks_module.task_name(env)
        self.construction = tasks_module.task_construction(env)
        modules = [_initial_module(c, probe, tau_s, dt_ms) for c in configs]
        self.model = StackedCTRNN(modules).to(self.device)
        self.configs = [_config_dict(self.name, fingerprint, dt_ms, probe, tau_s, c)
                        for c in configs]
        self.checkpoint_config = self.configs[0] if single else _ensemble_config(self.configs)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=shared.lr)
        self.max_norms = torch.tensor([math.inf if c.grad_clip is None else c.grad_clip
                                       for c in configs], dtype=shared.dtype, device=self.device)
        primary = task_metrics_module.primary_metric(self.kind)
        self.primary = primary
        self.histories = [TrainingHistory(primary.name, primary.higher_is_better) for _ in configs]
        self.single, self.progress, self.callback = single, progress, callback
        self.num_threads, self.checkpoint_every = num_threads, checkpoint_every
        self.completed, self.elapsed = 0, 0.0
        self.run_loss, self.run_count = [0.0] * len(configs), 0
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        if self.checkpoint is not None and os.path.exists(self.checkpoint):
            self._resume()

    # ---- resume and checkpoints ----
    def _resume(self):
        path, steps = self.checkpoint, self.shared.steps
        state = load_checkpoint(path)
        diff = config_differences(state["config"], self.checkpoint_config)
        if diff:
            lines = "; ".join(f"{k}: checkpoint has {a!r}, this call {b!r}" for k, a, b in diff)
            raise ValueError(f"checkpoint {path!r} was written by training with other "
                             f"settings ({lines}); use another checkpoint path or the "
                             "same settings")
        if state["step"] > steps:
            raise ValueError(f"checkpoint {path!r} already holds {state['step']} steps, "
                             f"more than steps={steps}")
        if self.single and state["model"]["w_rec"].ndim == 2:
            _stack_single_state(state)  # written by train before ensembles existed
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"checkpoint {path!r} holds weights or optimizer state that do not "
                             f"fit this network ({err})") from err
        histories = state["history"] if not self.single else [state["history"]]
        self.histories = [TrainingHistory.from_dict(h) for h in histories]
        self.completed = int(state["step"])
        extra = state["extra"]
        self.elapsed, self.run_count = float(extra["elapsed"]), int(extra["run_count"])
        run_loss = extra["run_loss"]
        self.run_loss = [float(run_loss)] if self.single else [float(x) for x in run_loss]

    def _snapshot(self):
        histories = [h.as_dict() for h in self.histories]
        return {"config": self.checkpoint_config, "step": self.completed,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "history": histories[0] if self.single else histories,
                "extra": {"elapsed": self.elapsed, "run_count": self.run_count,
                          "run_loss": self.run_loss[0] if self.single else list(self.run_loss)}}

    # ---- the training loop ----
    def fit(self):
        steps = self.shared.steps
        if self.completed >= steps:
            return
        cfg = self.shared
        self.sources = {c.seed: _TrialSource(self.env, c.seed, cfg.batch_size, cfg.trial_pool)
                        for c in self.members}
        self.validation = _Validation(self) if cfg.val_trials else None
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            desc = self.name if self.single else f"{self.name} x{len(self.members)}"
            bar = tqdm(total=steps, initial=self.completed, desc=desc, unit="step",
                       dynamic_ncols=True)
        in_update = False
        t_resume, elapsed_at_resume = time.perf_counter(), self.elapsed
        try:
            with _deferred_sigint() as interrupt, _torch_threads(self.num_threads):
                for step in range(self.completed, steps):
                    batches, outputs, losses = self._forward(step)
                    self._check_finite(losses)
                    in_update = True
                    self._update(losses)
                    self.completed = step + 1
                    values = losses.detach().tolist()
                    self.run_loss = [a + b for a, b in zip(self.run_loss, values)]
                    self.run_count += 1
                    self.elapsed = elapsed_at_resume + time.perf_counter() - t_resume
                    in_update = False
                    if self.completed % cfg.log_every == 0 or self.completed == steps:
                        self._log(batches, outputs, bar)
                    if bar is not None:
                        bar.update(1)
                    if self.checkpoint is not None and (
                            self.completed % self.checkpoint_every == 0 or self.completed == steps):
                        save_checkpoint(self.checkpoint, self._snapshot())
                    if self.callback is not None:
                        self.callback(self.completed, values)
                    if interrupt.requested:
                        raise KeyboardInterrupt
        except BaseException:
            # keep finished work: the state after the last completed step is consistent unless
            # the exception hit inside the update (then the previous checkpoint stays)
            if self.checkpoint is not None and not in_update:
                save_checkpoint(self.checkpoint, self._snapshot())
            raise
        finally:
            if bar is not None:
                bar.close()

    def _forward(self, step):
        """Trials, noise, outputs and the members' losses (S,) of one step."""
        by_seed = {}
        for seed, source in self.sources.items():
            batch = source(step)
            by_seed[seed] = (batch, _noise_draws(self.model, seed, NOISE, step,
                                                 batch.n_steps, batch.n_trials,
                                                 self.shared.dtype))
        batches = [by_seed[c.seed][0] for c in self.members]
        xis = [by_seed[c.seed][1] if c.noise.is_active else None for c in self.members]
        inputs, targets, mask = _stack_batches(batches, self.shared.dtype, self.device)
        terms = self.model.noise_terms(xis, inputs.shape[0], inputs.shape[2])
        outputs, _ = self.model(inputs, terms)
        losses = member_losses(outputs, targets, mask, self.kind, self.loss)
        return batches, outputs, losses

    def _check_finite(self, losses):
        values = losses.detach()
        if not bool(torch.isfinite(values).all()):
            bad = [s for s, v in enumerate(values.tolist()) if not math.isfinite(v)]
            which = "" if self.single else f" of member {bad[0]}"
            member = self.members[bad[0]]
            sigma = float(np.max(member.noise.sigma_array)) if member.noise.is_active else 0.0
            if self.completed == 0:
                # before any update the learning rate cannot be the cause
                cause = (f"the noise (sigma={sigma:g}) drives the activity out of floating-point "
                         "range; use a smaller sigma" if sigma > _SIGMA_OVERFLOW else
                         "the initial network (rec_gain, init_spec) or the task's inputs "
                         "overflow before any update")
            else:
                cause = (f"try a smaller lr (now {self.shared.lr}) or grad_clip "
                         f"(now {member.grad_clip})")
            raise FloatingPointError(
                f"training loss{which} became {values[bad[0]].item()} at step "
                f"{self.completed}; {cause}")

    def _update(self, losses):
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        clip_per_member(list(self.model.parameters()), self.max_norms)
        self.optimizer.step()

    def _log(self, batches, outputs, bar):
        vms = self.validation.metrics() if self.validation is not None else None
        outputs = outputs.detach()
        for s, (h, batch) in enumerate(zip(self.histories, batches)):
            m = task_metrics_module.task_metrics(outputs[: batch.n_steps, s], batch)
            h.append(self.completed, self.run_loss[s] / self.run_count, m,
                     vms[s] if vms is not None else {}, self.elapsed)
        self.run_loss, self.run_count = [0.0] * len(self.members), 0
        if bar is not None:
            name = self.primary.name
            loss = [h.loss[-1] for h in self.histories]
            metric = [h.metrics[name][-1] for h in self.histories]
            if self.single:
                bar.set_postfix(loss=f"{loss[0]:.4g}", **{name: f"{metric[0]:.4g}"})
            else:
                bar.set_postfix(loss=f"{min(loss):.3g}..{max(loss):.3g}",
                                **{name: f"{min(metric):.3g}..{max(metric):.3g}"})

    # ---- results ----
    def spec(self, s):
        """Member ``s`` as a spec with its training summary."""
        config = self.configs[s]
        noise = self.members[s].noise
        summary = _summary(config, self.completed, self.elapsed, self.histories[s], noise)
        summary["task_construction"] = self.construction
        if not self.single:
            summary["ensemble"] = {"members": len(self.members), "index": s}
        return self.model.member_spec(s, noise=noise, metadata={"training": summary})

    def result(self, s):
        return TrainingResult(spec=self.spec(s), history=self.histories[s],
                              model=self.model.member(s), steps=self.completed,
                              elapsed=self.elapsed, config=self.configs[s],
                              checkpoint=self.checkpoint)


def _stack_single_state(state):
    """Give a one-network checkpoint's weights and Adam moments the ensemble's leading axis."""
    state["model"] = {k: v.unsqueeze(0) for k, v in state["model"].items()}
    for moments in state["optimizer"]["state"].values():
        for k, v in moments.items():
            if k != "step":
                moments[k] = v.unsqueeze(0)


def _shared_settings(configs):
    """configs[0], after checking that the others differ only in per-member settings."""
    first = configs[0]
    for i, c in enumerate(configs[1:], 1):
        for f in fields(TrainConfig):
            if f.name in TrainConfig.PER_MEMBER:
                continue
            a, b = getattr(first, f.name), getattr(c, f.name)
            if not (a == b):
                raise ValueError(f"configs[{i}].{f.name} = {b!r} differs from configs[0].{f.name} "
                                 f"= {a!r}; the members of an ensemble may differ only in "
                                 f"{TrainConfig.PER_MEMBER}")
    return first


def _initial_module(config, probe, tau_s, dt_ms):
    """Member ``config``'s network before training (what ``train`` starts from)."""
    from brian2 import ms

    model = TorchCTRNN(probe.n_in, config.n_hidden, probe.n_out, tau=from_seconds(tau_s),
                       dt=dt_ms * ms, activation=config.activation, noise=config.noise,
                       rec_gain=config.rec_gain, seed=config.seed, dtype=config.dtype)
    with torch.no_grad():
        model.b.fill_(config.bias_init)
    if config.init_spec is not None:
        _load_init_spec(model, config.init_spec)
        init = config.init_spec
        if not (math.isclose(init.tau_seconds, tau_s, rel_tol=1e-12)
                and math.isclose(init.dt_seconds, dt_ms / 1000.0, rel_tol=1e-12)):
            raise ValueError(f"init_spec has tau={init.tau}, dt={init.dt}; this training uses "
                             f"tau={from_seconds(tau_s)} and the task's dt={dt_ms} ms: pass "
                             "tau=init_spec.tau and a task with dt=init_spec.dt")
    return model


def _config_dict(name, fingerprint, dt_ms, probe, tau_s, c):
    """The settings a checkpoint must match (JSON-able)."""
    return {
        "task": name, "task_fingerprint": fingerprint, "dt_ms": dt_ms, "n_in": probe.n_in,
        "n_out": probe.n_out, "kind": probe.kind, "n_hidden": c.n_hidden,
        "activation": c.activation, "tau_s": tau_s, "noise": c.noise.to_dict(), "seed": c.seed,
        "batch_size": c.batch_size, "lr": c.lr, "grad_clip": c.grad_clip,
        "rec_gain": c.rec_gain, "bias_init": c.bias_init, "trial_pool": c.trial_pool,
        "val_trials": c.val_trials, "dtype": str(c.dtype),
        "init_spec": None if c.init_spec is None else c.init_spec.content_hash(),
        # only when set: configs (and checkpoints) of the default loss stay as they were
        **({} if c.loss is None else {"loss": c.loss}),
    }


def _ensemble_config(configs):
    """An ensemble checkpoint's config: the members' settings flattened as ``member<i>.<key>``."""
    out = {"members": len(configs)}
    for i, c in enumerate(configs):
        out.update({f"member{i}.{k}": v for k, v in c.items()})
    return out


def _noise_draws(model, seed, purpose, step, n_steps, n_trials, dtype):
    """The (T, B, N) standard normal draws ``train`` makes for ``(seed, purpose, step)`` (CPU)."""
    gen = torch.Generator().manual_seed(derive_seed(seed, purpose, step))
    return torch.randn((n_steps, n_trials, model.n_hidden), generator=gen, dtype=dtype)


def _stack_batches(batches, dtype, device):
    """Inputs (T, S, B, n_in), targets (T, S, B[, n_out]) and mask (T, S, B) padded to the longest."""
    T = max(b.n_steps for b in batches)
    unique = {}
    for b in batches:
        if id(b) not in unique:
            unique[id(b)] = b.to_torch(dtype=dtype)
    parts = []
    for key in ("inputs", "targets", "mask"):
        arrays = []
        for b in batches:
            a = getattr(unique[id(b)], key)
            if a.shape[0] < T:
                pad = a.new_zeros((T - a.shape[0], *a.shape[1:]))
                a = torch.cat([a, pad])
            arrays.append(a)
        parts.append(torch.stack(arrays, dim=1).to(device))
    return parts


class _Validation:
    """The fixed validation batch of each member, scored with its own fixed noise draws."""

    def __init__(self, run):
        cfg, self.run = run.shared, run
        by_seed = {}
        for c in run.members:
            if c.seed not in by_seed:
                batch = tasks_module.batch(run.env, cfg.val_trials,
                                           seed=derive_seed(c.seed, VALIDATION))
                xi = _noise_draws(run.model, c.seed, VALIDATION_NOISE, 0, batch.n_steps,
                                  batch.n_trials, cfg.dtype)
                by_seed[c.seed] = (batch, xi)
        self.batches = [by_seed[c.seed][0] for c in run.members]
        self.xis = [by_seed[c.seed][1] if c.noise.is_active else None for c in run.members]
        self.inputs = _stack_batches(self.batches, cfg.dtype, run.device)[0]

    def metrics(self):
        model = self.run.model
        with torch.no_grad():
            terms = model.noise_terms(self.xis, self.inputs.shape[0], self.inputs.shape[2])
            out, _ = model(self.inputs, terms)
        return [task_metrics_module.task_metrics(out[: b.n_steps, s], b)
                for s, b in enumerate(self.batches)]


def _load_init_spec(model, spec):
    check_spec(spec, "init_spec")
    mine = (model.n_in, model.n_hidden, model.n_out, model.activation)
    theirs = (spec.n_in, spec.n_hidden, spec.n_out, spec.activation)
    if mine != theirs:
        raise ValueError(f"init_spec has (n_in, n_hidden, n_out, activation) = {theirs}, "
                         f"the task and arguments need {mine}")
    with torch.no_grad():
        for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0"):
            p = getattr(model, k)
            p.copy_(torch.tensor(np.array(getattr(spec, k)), dtype=p.dtype))


def _summary(config, completed, elapsed, history, noise):
    """JSON-able training summary stored in ``spec.metadata["training"]``."""
    from .. import __version__

    final = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in history.final().items()}
    return {
        "task": config["task"], "steps": completed, "seed": config["seed"],
        "lr": config["lr"], "batch_size": config["batch_size"], "grad_clip": config["grad_clip"],
        "trial_pool": config["trial_pool"], "noise": noise.to_dict(),
        "metric": history.metric_name, "final": final, "elapsed_s": elapsed,
        "brian_noisy_rnn_version": __version__,
        **({"loss": config["loss"]} if "loss" in config else {}),  # only when not the default
    }
