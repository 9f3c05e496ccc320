"""``train``: fit a :class:`TorchCTRNN` to a NeuroGym task and return a :class:`CTRNNSpec`;
``train_ensemble``: fit S such networks of one task and shape together.

The settings are one checked :class:`TrainConfig` (keyword arguments build it;
:mod:`.training_config`). One loop (``_Run`` in :mod:`.training_loop`: resume, step, log,
checkpoint) trains a :class:`StackedCTRNN`; ``train`` is an ensemble of one, so a member of an
ensemble is trained exactly as ``train`` trains it. What a step draws is in :mod:`.draws`, what
training records (history, results, checkpoint settings) in :mod:`.training_history`.

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

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from ..backends.random_state import keeps_random_state
# the names this module held before it was split (kept importable from here)
from .draws import (BATCH, FINGERPRINT, NOISE, PICK, POOL, VALIDATION,  # noqa: F401
                    VALIDATION_NOISE, derive_seed)
from .training_config import (TrainConfig, _BuildableSettings, _check_positive,  # noqa: F401
                              _check_real)
from .training_history import EnsembleResult, TrainingHistory, TrainingResult
from .training_loop import _Run, _torch_threads  # noqa: F401

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["EnsembleResult", "TrainConfig", "TrainingHistory", "TrainingResult", "derive_seed",
           "train", "train_ensemble"]


# --- the entry points (one network = an ensemble of one; the loop is training_loop._Run) ------
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
