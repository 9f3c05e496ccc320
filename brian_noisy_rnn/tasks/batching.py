"""Padded, masked, time-major batches of whole trials from any NeuroGym TrialEnv."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
from neurogym.core import TrialEnv

from ..core.validation import check_int
from ._base import TaskEnv, check_dataset_free, seed_trials
from .performance import snapshot
from .wrappers import check_batchable, observation_noise_std, trial_generator

if TYPE_CHECKING:
    import torch


@dataclass(eq=False)
class TaskBatch:
    """A batch of B whole trials, time-major and padded to the longest trial (T steps).

    Attributes
    ----------
    inputs : float64 array (T, B, n_in)
        Observations; 0 on padding.
    targets : int64 array (T, B) or float64 array (T, B, n_out)
        NeuroGym's ``gt``: class labels (classification) or target values (regression); 0 on
        padding.
    mask : bool array (T, B)
        Steps entering the training loss. Classification (NeuroGym and ours unless the task
        says otherwise): every valid step, fixation included (NeuroGym's cross-entropy training).
        Regression: the response period. False on padding.
    decision_mask : bool array (T, B)
        Steps scored by the metric (accuracy): the ``decision`` period of NeuroGym tasks (steps
        with ``gt != 0`` for tasks without one), our tasks' ``decision_mask`` (the response
        period for regression). False on padding.
    kind : str
        ``"classification"`` or ``"regression"``.
    n_out : int
        Number of classes (classification) or of output dimensions (regression).
    lengths : int64 array (B,)
        Number of valid steps of each trial.
    dt : float
        Time step in ms.
    trials : tuple of dict
        The trial dicts returned by ``new_trial()`` (e.g. ``x``, ``ground_truth``, ``task``).
    extra_metrics : tuple of str
        Task-specific metrics the metrics module adds (e.g. ``("trial_accuracy",)`` for mazes).
    task : str
        Class name of the task.
    env_states : tuple of TrialState
        :class:`~brian_noisy_rnn.tasks.performance.TrialState` s, NeuroGym tasks only (empty
        for this package's tasks): each trial's environment right after ``new_trial()``, to
        score NeuroGym's own ``performance`` by replaying the trial.
    action_space : gymnasium.spaces.Space or None
        The task's action space (NeuroGym tasks).
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    decision_mask: np.ndarray
    kind: str
    n_out: int
    lengths: np.ndarray
    dt: float
    trials: tuple = ()
    extra_metrics: tuple = ()
    task: str = ""
    env_states: tuple = ()
    action_space: object = None

    @property
    def n_steps(self) -> int:
        """T, the padded number of time steps."""
        return self.inputs.shape[0]

    @property
    def n_trials(self) -> int:
        """B, the number of trials."""
        return self.inputs.shape[1]

    @property
    def n_in(self) -> int:
        """Number of input channels."""
        return self.inputs.shape[2]

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(T, B, n_out): the shape network outputs must have for the metrics."""
        return (self.n_steps, self.n_trials, self.n_out)

    def to_torch(self, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> TorchBatch:
        """Tensors for training: a :class:`TorchBatch` (torch imported only here).

        Parameters
        ----------
        device : str or torch.device or None
            Device of the tensors (None: torch's default, the CPU).
        dtype : torch.dtype or None
            Floating dtype of inputs and regression targets (None: ``torch.float32``); class
            targets are int64, masks bool.

        Returns
        -------
        TorchBatch
            The same shapes as this batch.
        """
        import torch

        dtype = torch.float32 if dtype is None else dtype
        tdtype = torch.int64 if self.kind == "classification" else dtype
        return TorchBatch(
            inputs=torch.as_tensor(self.inputs, dtype=dtype, device=device),
            targets=torch.as_tensor(self.targets, dtype=tdtype, device=device),
            mask=torch.as_tensor(self.mask, dtype=torch.bool, device=device),
            decision_mask=torch.as_tensor(self.decision_mask, dtype=torch.bool, device=device),
            kind=self.kind,
            n_out=self.n_out,
        )


@dataclass(eq=False)
class TorchBatch:
    """Torch tensors of a :class:`TaskBatch` (same shapes), as made by :meth:`TaskBatch.to_torch`.

    Attributes
    ----------
    inputs : torch.Tensor (T, B, n_in)
        Observations, floating dtype.
    targets : torch.Tensor (T, B) or (T, B, n_out)
        Class labels, int64 (classification), or target values in the inputs' dtype
        (regression).
    mask : torch.Tensor (T, B), bool
        Steps entering the training loss.
    decision_mask : torch.Tensor (T, B), bool
        Steps scored by the metric.
    kind : str
        ``"classification"`` or ``"regression"``.
    n_out : int
        Number of classes (classification) or of output dimensions (regression).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    decision_mask: torch.Tensor
    kind: str
    n_out: int


#: stream of the observation noise of NeuroGym's ``Noise`` wrapper (with the batch seed)
_OBSERVATION_NOISE = 0x6F62736E


def _neurogym_decision_mask(core, gt, T):
    if "decision" in core.start_ind:
        dm = np.zeros(T, dtype=bool)
        dm[core.start_ind["decision"] : core.end_ind["decision"]] = True
        return dm
    return np.asarray(gt).reshape(T, -1).any(axis=1) if gt.ndim > 1 else gt != 0


def _check_args(env, n_trials, seed):
    check_dataset_free(env)
    core = getattr(env, "unwrapped", None)
    if not isinstance(core, TrialEnv):
        raise TypeError(
            f"env must be a NeuroGym TrialEnv (or a wrapper of one), e.g. from "
            f"brian_noisy_rnn.tasks.make(...); got {type(env).__name__}"
        )
    check_int(n_trials, "n_trials")
    check_int(seed, "seed", 0, 2**32)
    check_dataset_free(env)
    check_batchable(env)
    top = trial_generator(env)
    check_batchable(top)
    return top


def batch(env: gym.Env, n_trials: int, *, seed: int) -> TaskBatch:
    """Generate ``n_trials`` whole trials of ``env`` as a padded, masked :class:`TaskBatch`.

    The env's top-level trial generator (:func:`~.wrappers.trial_generator`: the env itself,
    or a NeuroGym ``TrialWrapper`` such as ``ScheduleEnvs``) is seeded with ``seed`` (this resets the env's
    random state) and ``new_trial()`` is called ``n_trials`` times; a task of this package with a
    vectorised :meth:`~._base.TaskEnv.new_trials` (FunctionApproximation, SingleNeuronRegulator
    with fixed timing) makes the same trials at once, bit for bit. Trials are padded with zeros
    to the longest; masks are False on padding. ``neurogym.Dataset`` is not used.

    Parameters
    ----------
    env : gymnasium.Env
        A NeuroGym TrialEnv or a wrapper of one (e.g. from
        :func:`~brian_noisy_rnn.tasks.make`).
    n_trials : int >= 1
        B, the number of trials.
    seed : int in [0, 2**32)
        The same seed gives the same batch; different seeds give different trials.

    Returns
    -------
    TaskBatch
        inputs (T, B, n_in) float64; targets (T, B) int64 or (T, B, n_out) float64;
        mask, decision_mask (T, B) bool; see :class:`TaskBatch`.

    Raises
    ------
    TypeError
        If ``env`` is not a TrialEnv or a wrapper of one.
    ValueError
        If ``n_trials`` or ``seed`` is not a valid int, trials have inconsistent input sizes,
        or ``env`` carries a step-level wrapper (``PassAction``, ``ReactionTime``, ...; see
        :mod:`brian_noisy_rnn.tasks.wrappers`): the message names it and points to
        closed-loop evaluation. NeuroGym's observation ``Noise`` wrapper is honoured: every
        input step of every trial gets its N(0, ``std_noise``) (drawn from a stream of
        ``seed`` of its own, so the trials are those of the env without the wrapper).
        A ``neurogym.Dataset`` is a TypeError saying to pass ``dataset.env``.
    """
    top = _check_args(env, n_trials, seed)
    seed_trials(top, seed)
    base = top.unwrapped
    ours = isinstance(base, TaskEnv)
    if ours:
        kind = base.task_kind
    else:
        kind = "classification" if isinstance(top.action_space, gym.spaces.Discrete) else "regression"
    states = ()
    arrays = base.new_trials(int(n_trials)) if ours and top is base else None
    if arrays is not None:  # the task's vectorised path: the same trials, made at once
        T, B = arrays.inputs.shape[:2]
        inputs, targets, trials = arrays.inputs, arrays.targets, arrays.trials
        mask = np.repeat(arrays.loss_mask[:, None], B, axis=1)
        dmask = np.repeat(arrays.decision_mask[:, None], B, axis=1)
        lengths = np.full(B, T, dtype=np.int64)
        n_out = int(top.action_space.n) if kind == "classification" else targets.shape[2]
    else:
        inputs, targets, mask, dmask, lengths, n_out, trials, states = _trial_by_trial(
            top, n_trials, kind, snapshots=not ours)
    std = observation_noise_std(env)
    if std > 0:  # NeuroGym's observation Noise wrapper, on every step of every trial
        rng = np.random.default_rng([int(seed), _OBSERVATION_NOISE])
        valid = np.arange(inputs.shape[0])[:, None] < lengths[None, :]
        inputs = inputs + std * rng.standard_normal(inputs.shape) * valid[..., None]
    return TaskBatch(
        inputs=inputs, targets=targets, mask=mask, decision_mask=dmask, kind=kind, n_out=n_out,
        lengths=lengths, dt=float(base.dt), trials=tuple(trials),
        extra_metrics=tuple(getattr(base, "extra_metrics", ())) if ours else (),
        task=type(base).__name__, env_states=tuple(states),
        action_space=None if ours else top.action_space,
    )


def _trial_by_trial(top, n_trials, kind, snapshots):
    """Call ``top.new_trial()`` n_trials times; pad and stack the trials (and, with
    ``snapshots``, keep each NeuroGym trial's env state for its performance)."""
    obs, gts, masks, dmasks, trials, states = [], [], [], [], [], []
    for _ in range(int(n_trials)):
        trials.append(top.new_trial())
        core = top.unwrapped  # may change with the scheduled sub-task
        if snapshots:
            states.append(snapshot(core))
        ob = np.asarray(core.ob, dtype=np.float64)
        T = ob.shape[0]
        gt = np.asarray(core.gt)
        if isinstance(core, TaskEnv):
            mask, dmask = core.loss_mask.copy(), core.decision_mask.copy()
        else:
            dmask = _neurogym_decision_mask(core, gt, T)
            mask = np.ones(T, dtype=bool)
            if kind == "regression":
                mask = dmask.copy() if dmask.any() else mask
        obs.append(ob.reshape(T, -1))
        gts.append(gt)
        masks.append(mask)
        dmasks.append(dmask)
    n_in = {o.shape[1] for o in obs}
    if len(n_in) != 1:
        raise ValueError(f"trials of env have different input sizes {sorted(n_in)}; cannot batch")
    lengths = np.array([o.shape[0] for o in obs], dtype=np.int64)
    T, B = int(lengths.max()), len(obs)
    inputs = np.zeros((T, B, n_in.pop()))
    mask = np.zeros((T, B), dtype=bool)
    dmask = np.zeros((T, B), dtype=bool)
    if kind == "classification":
        n_out = int(top.action_space.n)
        targets = np.zeros((T, B), dtype=np.int64)
    else:
        n_out = int(np.prod(gts[0].shape[1:])) if gts[0].ndim > 1 else 1
        targets = np.zeros((T, B, n_out), dtype=np.float64)
    for b, (ob, gt, m, dm) in enumerate(zip(obs, gts, masks, dmasks)):
        L = ob.shape[0]
        inputs[:L, b] = ob
        targets[:L, b] = gt.reshape(L, -1) if kind == "regression" else gt.reshape(L)
        mask[:L, b] = m
        dmask[:L, b] = dm
    return inputs, targets, mask, dmask, lengths, n_out, trials, states
