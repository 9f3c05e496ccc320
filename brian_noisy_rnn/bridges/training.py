"""``train``: fit a :class:`TorchCTRNN` to a NeuroGym task and return a :class:`CTRNNSpec`.

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
from dataclasses import dataclass, field

import numpy as np
import torch

from ..backends.random_state import keeps_random_state
from ..tasks import metrics as task_metrics_module
from .. import tasks as tasks_module
from ..core.noise import as_noise
from ..core.spec import CTRNNSpec, check_spec
from ..core.units import from_seconds, to_seconds
from ..core.validation import check_int
from .checkpoint import config_differences, load_checkpoint, save_checkpoint
from ..backends.torch_backend import TorchCTRNN

__all__ = ["TrainingHistory", "TrainingResult", "derive_seed", "train"]

# purposes of derived seeds (second entry of the SeedSequence entropy)
BATCH, NOISE, VALIDATION, VALIDATION_NOISE, POOL, PICK, FINGERPRINT = range(1, 8)


def derive_seed(seed, purpose, step=0):
    """A seed in [0, 2**32) for ``(seed, purpose, step)``; independent streams per purpose and step."""
    return int(np.random.SeedSequence([int(seed), int(purpose), int(step)]).generate_state(1)[0])


@dataclass
class TrainingHistory:
    """What was logged during training, one entry per logging step.

    Attributes
    ----------
    step : list of int, number of completed optimisation steps at the entry
    loss : list of float, mean training loss over the steps since the previous entry
    metrics : dict name -> list of float, :func:`~brian_noisy_rnn.tasks.metrics.task_metrics` on
        that step's training batch (with the training noise)
    val_metrics : dict name -> list of float, the same on the fixed validation batch (empty
        unless ``val_trials > 0``)
    elapsed : list of float, wall-clock training time in seconds up to the entry
    metric_name : str, the task's primary metric (``metrics.primary_metric(kind)``)
    higher_is_better : bool
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
    def metric(self):
        """The primary metric per entry (list of float)."""
        return self.metrics.get(self.metric_name, [])

    def final(self):
        """The last entry as a flat dict (step, loss, metrics, ``val_`` metrics, elapsed); {} if empty."""
        if not self.step:
            return {}
        out = {"step": self.step[-1], "loss": self.loss[-1], "elapsed_s": self.elapsed[-1]}
        out.update({k: v[-1] for k, v in self.metrics.items()})
        out.update({f"val_{k}": v[-1] for k, v in self.val_metrics.items()})
        return out

    def append(self, step, loss, metrics, val_metrics, elapsed):
        """Add one entry (metrics / val_metrics: dict name -> float)."""
        self.step.append(int(step))
        self.loss.append(float(loss))
        for k, v in metrics.items():
            self.metrics.setdefault(k, []).append(float(v))
        for k, v in val_metrics.items():
            self.val_metrics.setdefault(k, []).append(float(v))
        self.elapsed.append(float(elapsed))

    def as_dict(self):
        """A JSON-compatible dict of plain lists (inverse: :meth:`from_dict`)."""
        return {"metric_name": self.metric_name, "higher_is_better": self.higher_is_better,
                "step": list(self.step), "loss": list(self.loss),
                "metrics": {k: list(v) for k, v in self.metrics.items()},
                "val_metrics": {k: list(v) for k, v in self.val_metrics.items()},
                "elapsed": list(self.elapsed)}

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`as_dict`."""
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
    spec : :class:`CTRNNSpec`, the trained network; ``spec.noise`` is the training noise and
        ``spec.metadata["training"]`` a JSON summary (task, steps, seed, lr, final metrics, ...)
    history : :class:`TrainingHistory`
    model : :class:`TorchCTRNN`, the trained module (training dtype)
    steps : int, completed optimisation steps
    elapsed : float, wall-clock training time in seconds (summed over resumed runs)
    config : dict, the settings a checkpoint must match to be resumed
    checkpoint : str or None, path of the checkpoint file
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


def _resolve_env(env):
    if isinstance(env, str):
        return tasks_module.make(env)
    core = getattr(env, "unwrapped", None)
    from neurogym.core import TrialEnv

    if not isinstance(core, TrialEnv):
        raise TypeError(f"env must be a task id or a NeuroGym TrialEnv (e.g. from "
                        f"brian_noisy_rnn.tasks.make), got {type(env).__name__}")
    return env


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


# --- the loop -----------------------------------------------------------------------------
@keeps_random_state
def train(env, *, n_hidden, noise, activation="relu", tau=None, steps=2000, batch_size=64,
          lr=1e-2, seed, checkpoint=None, grad_clip=1.0, log_every=50, checkpoint_every=100,
          progress=True, rec_gain=0.5, bias_init=0.0, init_spec=None, val_trials=0,
          trial_pool=None, dtype=torch.float32, callback=None, num_threads=1):
    """Train a CTRNN on a task with Adam and BPTT; return the network as a :class:`CTRNNSpec`.

    Parameters
    ----------
    env : task id (str) or NeuroGym TrialEnv / wrapper (e.g. ``tasks.make(id, dt=20)``)
        The task; its ``dt`` (ms) is the network's time step.
    n_hidden : int >= 1, number of hidden units
    noise : :class:`~brian_noisy_rnn.Noise`, the training noise (``Noise("none")`` for none);
        it becomes ``spec.noise`` of the result
    activation : str, a registered activation name
    tau : Brian2 time quantity, membrane time constant (default ``100*ms``); must exceed dt
    steps : int >= 1, total number of optimisation steps (a resumed run continues up to it)
    batch_size : int >= 1, trials per step
    lr : float > 0, Adam learning rate
    seed : int in [0, 2**32), seeds the initial weights, every batch and the training noise
    checkpoint : path or None
        File for the training state. If it exists, training resumes from it (its settings must
        match: otherwise ValueError naming ``checkpoint``); it is rewritten atomically every
        ``checkpoint_every`` steps, at the end, and when training stops with an exception
        (Ctrl-C included), which is then re-raised.
    grad_clip : float > 0 or None, maximal gradient norm (None: no clipping)
    log_every : int >= 1, steps between history entries
    checkpoint_every : int >= 1, steps between checkpoint writes
    progress : bool, show a tqdm progress bar
    rec_gain : float, initial recurrent weights ~ N(0, rec_gain**2 / n_hidden)
    bias_init : float, initial hidden bias b (all units). A positive value (e.g. 0.5) keeps
        relu units from starting silent: with ``n_hidden=1`` a unit whose initial input weight
        is negative never receives a gradient (about half of the seeds at bias_init=0)
    init_spec : :class:`CTRNNSpec` or None, start from these weights instead of a random init
        (its n_in, n_hidden, n_out and activation must fit)
    val_trials : int >= 0, size of a fixed validation batch scored at every log entry
    trial_pool : int >= batch_size or None
        None: fresh trials every step. An int: generate that many trials once and sample each
        batch from them (much faster for tasks whose trial generation is slow).
    dtype : torch dtype of the training (float32 default; the spec is float64)
    callback : callable(step, loss) or None, called after every completed step; an exception it
        raises stops training like Ctrl-C does (checkpoint written, exception re-raised)
    num_threads : int >= 1 or None, torch threads while training (restored afterwards; None:
        leave torch's setting). 1 is fastest for small networks, see the module docstring.

    Returns
    -------
    :class:`TrainingResult` with ``.spec``, ``.history``, ``.model``, ``.steps``, ``.elapsed``.

    Raises
    ------
    ValueError, TypeError
        For invalid arguments (unknown task, n_hidden < 1, negative sigma, ...) or a checkpoint
        written with other settings; all raised before the first step.
    FloatingPointError
        If the loss becomes NaN or infinite (the checkpoint keeps the last finite state).
    """
    from brian2 import ms

    # ---- validate everything before any work ----
    env = _resolve_env(env)
    n_hidden = check_int(n_hidden, "n_hidden", 1)
    noise = as_noise(noise)
    steps = check_int(steps, "steps", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    lr = _check_positive(lr, "lr")
    grad_clip = _check_positive(grad_clip, "grad_clip", allow_none=True)
    log_every = check_int(log_every, "log_every", 1)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1)
    val_trials = check_int(val_trials, "val_trials", 0)
    rec_gain = _check_real(rec_gain, "rec_gain", minimum=0.0)
    bias_init = _check_real(bias_init, "bias_init")
    if trial_pool is not None:
        trial_pool = check_int(trial_pool, "trial_pool", batch_size)
    seed = check_int(seed, "seed", 0, 2 ** 32)
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", 1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable(step, loss) or None, got {callback!r}")
    tau = 100 * ms if tau is None else tau
    tau_s = to_seconds(tau, "tau")
    dt_ms = float(env.unwrapped.dt)
    dt = dt_ms * ms
    if to_seconds(dt, "dt") >= tau_s:
        raise ValueError(f"tau ({tau}) must be larger than the task's dt ({dt})")
    fingerprint, probe = _fingerprint(env)
    n_in, n_out, kind = probe.n_in, probe.n_out, probe.kind
    model = TorchCTRNN(n_in, n_hidden, n_out, tau=from_seconds(tau_s), dt=dt,
                       activation=activation, noise=noise, rec_gain=rec_gain, seed=seed,
                       dtype=dtype)
    with torch.no_grad():
        model.b.fill_(bias_init)
    if init_spec is not None:
        _load_init_spec(model, init_spec)
    name = tasks_module.task_name(env)
    config = {
        "task": name, "task_fingerprint": fingerprint, "dt_ms": dt_ms, "n_in": n_in,
        "n_out": n_out, "kind": kind, "n_hidden": n_hidden, "activation": model.activation,
        "tau_s": tau_s, "noise": noise.to_dict(), "seed": seed, "batch_size": batch_size,
        "lr": lr, "grad_clip": grad_clip, "rec_gain": rec_gain, "bias_init": bias_init,
        "trial_pool": trial_pool, "val_trials": val_trials, "dtype": str(dtype),
        "init_spec": None if init_spec is None else init_spec.content_hash(),
    }
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    primary = task_metrics_module.primary_metric(kind)
    history = TrainingHistory(primary.name, primary.higher_is_better)
    start, elapsed, run_loss, run_count = 0, 0.0, 0.0, 0
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if os.path.exists(checkpoint):
            state = load_checkpoint(checkpoint)
            diff = config_differences(state["config"], config)
            if diff:
                lines = "; ".join(f"{k}: checkpoint has {a!r}, this call {b!r}" for k, a, b in diff)
                raise ValueError(f"checkpoint {checkpoint!r} was written by training with other "
                                 f"settings ({lines}); use another checkpoint path or the "
                                 "same settings")
            if state["step"] > steps:
                raise ValueError(f"checkpoint {checkpoint!r} already holds {state['step']} steps, "
                                 f"more than steps={steps}")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            history = TrainingHistory.from_dict(state["history"])
            start = int(state["step"])
            extra = state["extra"]
            elapsed, run_loss, run_count = (float(extra["elapsed"]), float(extra["run_loss"]),
                                            int(extra["run_count"]))

    # ---- training ----
    source = _TrialSource(env, seed, batch_size, trial_pool) if start < steps else None
    val = None
    if val_trials and start < steps:
        val = tasks_module.batch(env, val_trials, seed=derive_seed(seed, VALIDATION))
        val_t = val.to_torch(dtype=dtype)
    generator = torch.Generator()
    completed = start

    def snapshot():
        return {"config": config, "step": completed, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "history": history.as_dict(),
                "extra": {"elapsed": elapsed, "run_loss": run_loss, "run_count": run_count}}

    bar = None
    if progress and start < steps:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=start, desc=name, unit="step", dynamic_ncols=True)
    in_update = False
    t_resume = time.perf_counter()
    elapsed_at_resume = elapsed
    try:
        with _deferred_sigint() as interrupt, _torch_threads(num_threads):
            for step in range(start, steps):
                batch = source(step)
                bt = batch.to_torch(dtype=dtype)
                generator.manual_seed(derive_seed(seed, NOISE, step))
                outputs, _ = model(bt.inputs, generator=generator)
                loss = task_metrics_module.torch_loss(outputs, bt)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"training loss became {loss.item()} at step {step}; try a smaller lr "
                        f"(now {lr}) or grad_clip (now {grad_clip})")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                in_update = True
                optimizer.step()
                completed = step + 1
                run_loss += float(loss.detach())
                run_count += 1
                elapsed = elapsed_at_resume + time.perf_counter() - t_resume
                in_update = False
                if completed % log_every == 0 or completed == steps:
                    m = task_metrics_module.task_metrics(outputs.detach(), batch)
                    vm = _validation_metrics(model, val, val_t, seed) if val is not None else {}
                    history.append(completed, run_loss / run_count, m, vm, elapsed)
                    run_loss, run_count = 0.0, 0
                    if bar is not None:
                        bar.set_postfix(loss=f"{history.loss[-1]:.4g}",
                                        **{primary.name: f"{m[primary.name]:.4g}"})
                if bar is not None:
                    bar.update(1)
                if checkpoint is not None and (completed % checkpoint_every == 0
                                               or completed == steps):
                    save_checkpoint(checkpoint, snapshot())
                if callback is not None:
                    callback(completed, float(loss.detach()))
                if interrupt.requested:
                    raise KeyboardInterrupt
    except BaseException:
        # keep finished work: the state after the last completed step is consistent unless
        # the exception hit inside optimizer.step (then the previous checkpoint stays)
        if checkpoint is not None and not in_update:
            save_checkpoint(checkpoint, snapshot())
        raise
    finally:
        if bar is not None:
            bar.close()

    metadata = {"training": _summary(config, completed, elapsed, history, noise)}
    spec = model.to_spec(noise=noise, metadata=metadata)
    return TrainingResult(spec=spec, history=history, model=model, steps=completed,
                          elapsed=elapsed, config=config, checkpoint=checkpoint)


def _validation_metrics(model, val, val_t, seed):
    gen = torch.Generator().manual_seed(derive_seed(seed, VALIDATION_NOISE))
    with torch.no_grad():
        out, _ = model(val_t.inputs, generator=gen)
    return task_metrics_module.task_metrics(out, val)


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
    }
