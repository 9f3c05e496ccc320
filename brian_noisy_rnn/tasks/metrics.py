"""Task metrics on network outputs (numpy or torch) and the matching differentiable torch loss.

Conventions (``batch`` is a :class:`brian_noisy_rnn.tasks.TaskBatch`, outputs have shape
(T, B, n_out); classification outputs are logits, one per class):

classification
    ``accuracy``: fraction of ``decision_mask`` steps with ``argmax(outputs) == target``
    (pooled over all scored steps of all trials). ``cross_entropy``: mean over ``mask`` steps of
    ``-log softmax(outputs)[target]`` (natural log). Tasks with ``"trial_accuracy"`` in
    ``batch.extra_metrics`` (MazeNavigation) also get ``trial_accuracy``: the fraction of trials
    (with at least one scored step) whose every scored step is correct.
    ``decision_cross_entropy``: the cross-entropy over ``decision_mask`` steps only (fixation
    steps excluded). ``mse_onehot`` / ``decision_mse_onehot``: mean over ``mask`` /
    ``decision_mask`` steps and all n_out outputs of (outputs - onehot(target))^2, the
    least-squares loss of Yang et al. (2019) (the training loss of ``loss="mse_onehot"``).
regression
    ``mse``: mean of (outputs - targets)^2 over ``mask`` steps and all n_out outputs.
    ``nmse``: mse / var, var = the mean over outputs of the variance of the masked targets of
    that output (so predicting each output's mean gives nmse = 1); NaN if var = 0 (up to
    rounding error: constant targets, e.g. a single trial of a constant-target task).
NeuroGym tasks (either kind)
    ``performance``: NeuroGym's own ``info["performance"]`` at the end of each trial, when the
    trial is stepped with the network's actions (argmax of the logits, or the outputs of a
    continuous task; :mod:`brian_noisy_rnn.tasks.performance`), averaged over trials. It is
    what NeuroGym users quote, and it is not ``accuracy``: e.g. on ReadySetGo a production
    one step late scores performance 1 and accuracy 0 (accuracy scores the single step where
    the ground truth is "go"), and on PerceptualDecisionMaking the first response in the
    decision period decides the trial.

Empty masks give NaN metrics. The torch loss is the training loss of the batch kind (masked
cross-entropy or masked MSE) and equals ``cross_entropy`` / ``mse`` of :func:`task_metrics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..core.validation import check_choice

if TYPE_CHECKING:
    from .batching import TaskBatch

KINDS = ("classification", "regression")
_NAMES = {"classification": ("accuracy", "cross_entropy"), "regression": ("mse", "nmse")}
_LOSS = {"classification": "cross_entropy", "regression": "mse"}
_HIGHER_IS_BETTER = {"performance": True, "accuracy": True, "trial_accuracy": True,
                     "cross_entropy": False, "decision_cross_entropy": False,
                     "mse_onehot": False, "decision_mse_onehot": False, "mse": False,
                     "nmse": False}
#: training losses of each kind (the first is the default)
LOSSES = {"classification": ("cross_entropy", "mse_onehot"), "regression": ("mse",)}


class PrimaryMetric(NamedTuple):
    """The headline metric of a task kind: its name and whether higher values are better.

    Attributes
    ----------
    name : str
        The metric name, e.g. "accuracy" or "mse".
    higher_is_better : bool
        Whether larger values are better.
    """

    name: str
    higher_is_better: bool


def _check_kind(kind):
    return check_choice(kind, "kind", KINDS)


def loss_and_metric_names(kind: str) -> tuple[str, tuple[str, ...]]:
    """``(loss_name, metric_names)`` of a task kind.

    classification -> ``("cross_entropy", ("accuracy", "cross_entropy"))``;
    regression -> ``("mse", ("mse", "nmse"))``. Task-specific extras (``trial_accuracy``) are
    listed in ``TaskBatch.extra_metrics``.

    Parameters
    ----------
    kind : {"classification", "regression"}
        The task kind.

    Returns
    -------
    loss_name : str
        The training loss.
    metric_names : tuple of str
        The metrics of the kind.
    """
    _check_kind(kind)
    return _LOSS[kind], _NAMES[kind]


def primary_metric(kind: str) -> PrimaryMetric:
    """Headline metric of a task kind: ``PrimaryMetric("accuracy", True)`` or ``("mse", False)``.

    Parameters
    ----------
    kind : {"classification", "regression"}
        The task kind.

    Returns
    -------
    PrimaryMetric
        Its name and direction.
    """
    _check_kind(kind)
    name = "accuracy" if kind == "classification" else "mse"
    return PrimaryMetric(name, _HIGHER_IS_BETTER[name])


def higher_is_better(name: str) -> bool:
    """Whether larger values of metric ``name`` are better (ValueError naming ``name`` if unknown).

    Parameters
    ----------
    name : str
        A metric name ("performance", "accuracy", "trial_accuracy", "cross_entropy", "mse"
        or "nmse").

    Returns
    -------
    bool
        True if higher is better.
    """
    return _HIGHER_IS_BETTER[check_choice(name, "name", sorted(_HIGHER_IS_BETTER))]


def _as_numpy(outputs, batch):
    if type(outputs).__module__.startswith("torch"):
        outputs = outputs.detach().cpu().numpy()
    outputs = np.asarray(outputs, dtype=np.float64)
    expected = (batch.inputs.shape[0], batch.inputs.shape[1], batch.n_out)
    if outputs.shape != expected:
        raise ValueError(f"outputs must have shape (T, B, n_out) = {expected} for this batch, got {outputs.shape}")
    return outputs


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _masked_mean_per_trial(values, mask):
    """values, mask (T, B) -> (B,) mean over masked steps (NaN where none)."""
    count = mask.sum(axis=0)
    total = np.where(mask, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _target_variance(batch):
    masked = batch.targets[batch.mask]  # (N, n_out)
    if masked.shape[0] == 0:
        return np.nan
    var = float(masked.var(axis=0).mean())
    # constant targets (e.g. a single trial of a constant-target task) leave only rounding
    # error in the variance: count it as 0, or nmse becomes mse / 1e-33
    scale = float(np.mean(masked.astype(float) ** 2))
    return var if var > (64 * np.finfo(float).eps) ** 2 * scale and var > 0 else np.nan


def _performance(outputs, batch):
    """Per-trial NeuroGym performance; the last result is kept on the batch (task_metrics and
    per_trial_metrics of the same outputs replay the trials once)."""
    import hashlib

    from .performance import trial_performance

    key = hashlib.blake2b(np.ascontiguousarray(outputs).tobytes(), digest_size=16).digest()
    cached = vars(batch).get("_performance_cache")
    if cached is not None and cached[0] == key:
        return cached[1].copy()
    perf = trial_performance(outputs, batch.env_states, batch.lengths, batch.action_space)
    batch._performance_cache = (key, perf)  # noqa: SLF001  (a private memo on our own dataclass)
    return perf.copy()


def _classification(outputs, batch):
    logp = _log_softmax(outputs)
    nll = -np.take_along_axis(logp, batch.targets[..., None], axis=-1)[..., 0]
    correct = (outputs.argmax(axis=-1) == batch.targets).astype(float)
    onehot = np.eye(outputs.shape[-1])[batch.targets]
    sq = ((outputs - onehot) ** 2).mean(axis=-1)
    return nll, correct, sq


def _pooled_mean(values, mask):
    return float(values[mask].mean()) if mask.any() else np.nan


def per_trial_metrics(outputs: np.ndarray, batch: TaskBatch) -> dict[str, np.ndarray]:
    """Metrics of each trial (e.g. for standard errors over trials).

    Parameters
    ----------
    outputs : numpy array or torch tensor (T, B, n_out)
        Network outputs (logits for classification).
    batch : TaskBatch
        The batch the outputs were computed on (its targets and masks).

    Returns
    -------
    dict of str -> float64 array (B,)
        The same keys as :func:`task_metrics`, each trial's value (NaN for a trial without
        masked / scored steps). ``nmse`` uses the whole batch's target variance;
        ``performance`` (NeuroGym tasks) is NeuroGym's end-of-trial ``info["performance"]``.
    """
    outputs = _as_numpy(outputs, batch)
    if batch.kind == "classification":
        nll, correct, sq = _classification(outputs, batch)
        out = {
            "accuracy": _masked_mean_per_trial(correct, batch.decision_mask),
            "cross_entropy": _masked_mean_per_trial(nll, batch.mask),
            "decision_cross_entropy": _masked_mean_per_trial(nll, batch.decision_mask),
            "mse_onehot": _masked_mean_per_trial(sq, batch.mask),
            "decision_mse_onehot": _masked_mean_per_trial(sq, batch.decision_mask),
        }
        if "trial_accuracy" in batch.extra_metrics:
            acc = out["accuracy"]
            out["trial_accuracy"] = np.where(np.isnan(acc), np.nan, (acc == 1.0).astype(float))
    else:
        _check_kind(batch.kind)
        sq = ((outputs - batch.targets) ** 2).mean(axis=-1)
        mse = _masked_mean_per_trial(sq, batch.mask)
        out = {"mse": mse, "nmse": mse / _target_variance(batch)}
    if batch.env_states:
        out["performance"] = _performance(outputs, batch)
    return out


def task_metrics(outputs: np.ndarray, batch: TaskBatch) -> dict[str, float]:
    """Metrics of a batch, pooled over all masked steps of all trials.

    Parameters
    ----------
    outputs : numpy array or torch tensor (T, B, n_out)
        Network outputs (logits for classification).
    batch : TaskBatch
        The batch the outputs were computed on (its targets and masks).

    Returns
    -------
    dict of str -> float
        classification: ``accuracy``, ``cross_entropy``, ``decision_cross_entropy``,
        ``mse_onehot``, ``decision_mse_onehot`` (+ ``trial_accuracy`` for maze tasks);
        regression: ``mse``, ``nmse``; NeuroGym tasks also ``performance`` (the mean over
        trials of NeuroGym's end-of-trial performance).

    Raises
    ------
    ValueError
        If ``outputs`` does not have shape (T, B, n_out) of the batch.
    """
    outputs = _as_numpy(outputs, batch)
    res = _pooled(outputs, batch)
    if batch.env_states:
        perf = _performance(outputs, batch)
        res["performance"] = float(np.nanmean(perf)) if np.isfinite(perf).any() else np.nan
    return res


def _pooled(outputs, batch):
    if batch.kind == "classification":
        nll, correct, sq = _classification(outputs, batch)
        res = {
            "accuracy": _pooled_mean(correct, batch.decision_mask),
            "cross_entropy": _pooled_mean(nll, batch.mask),
            "decision_cross_entropy": _pooled_mean(nll, batch.decision_mask),
            "mse_onehot": _pooled_mean(sq, batch.mask),
            "decision_mse_onehot": _pooled_mean(sq, batch.decision_mask),
        }
        if "trial_accuracy" in batch.extra_metrics:
            per = per_trial_metrics(outputs, batch)["trial_accuracy"]
            res["trial_accuracy"] = float(np.nanmean(per)) if np.isfinite(per).any() else np.nan
        return res
    _check_kind(batch.kind)
    if not batch.mask.any():
        return {"mse": np.nan, "nmse": np.nan}
    mse = float(((outputs - batch.targets) ** 2)[batch.mask].mean())
    return {"mse": mse, "nmse": mse / _target_variance(batch)}


def check_loss(loss, kind, name="loss"):
    """The training loss of a task kind: ``loss`` checked against :data:`LOSSES` (None: the
    kind's default, "cross_entropy" or "mse").

    Parameters
    ----------
    loss : str or None
        "cross_entropy" or "mse_onehot" (classification), "mse" (regression), or None.
    kind : {"classification", "regression"}
        The task kind.
    name : str
        The argument's name in the error message.

    Returns
    -------
    str
        The loss name.

    Raises
    ------
    ValueError
        Naming ``name`` and the losses of the kind.
    """
    choices = LOSSES[_check_kind(kind)]
    return choices[0] if loss is None else check_choice(loss, name, choices)


def torch_loss(outputs, batch_tensors, loss=None):
    """Differentiable training loss: masked cross-entropy (classification) or masked MSE.

    Parameters
    ----------
    outputs : torch.Tensor (T, B, n_out)
        Network outputs (logits for classification).
    batch_tensors : TorchBatch or TaskBatch
        The batch, as from ``TaskBatch.to_torch()``. A TaskBatch is converted on the fly
        (to ``outputs``' device and dtype); convert once with ``to_torch`` when training in
        a loop.
    loss : str or None
        :func:`check_loss`: None (the kind's default), "cross_entropy", "mse_onehot" or "mse".

    Returns
    -------
    torch.Tensor (scalar)
        Equal to ``task_metrics(outputs, batch)[loss]`` (``cross_entropy``, ``mse_onehot``
        or ``mse``; 0 if the mask is empty).

    Raises
    ------
    ValueError
        If ``outputs`` does not have shape (T, B, n_out) of the batch.
    """
    import torch

    from .batching import TaskBatch

    if not isinstance(outputs, torch.Tensor):
        raise TypeError(f"outputs must be a torch.Tensor, got {type(outputs).__name__}")
    bt = batch_tensors
    if isinstance(bt, TaskBatch):
        bt = bt.to_torch(device=outputs.device, dtype=outputs.dtype)
    expected = (*bt.mask.shape, bt.n_out)
    if tuple(outputs.shape) != expected:
        raise ValueError(f"outputs must have shape (T, B, n_out) = {expected} for this batch, got {tuple(outputs.shape)}")
    mask = bt.mask.to(outputs.device)
    targets = bt.targets.to(outputs.device)
    count = mask.sum().clamp_min(1)
    # zero the unmasked outputs first, so non-finite values there give neither loss nor NaN gradients
    outputs = torch.where(mask.unsqueeze(-1), outputs, torch.zeros_like(outputs))
    per_step = torch_loss_per_step(outputs, targets, check_loss(loss, bt.kind))
    return torch.where(mask, per_step, torch.zeros_like(per_step)).sum() / count


def torch_loss_per_step(outputs, targets, loss):
    """The loss of every step (no mask): (..., n_out) outputs -> (...).

    Parameters
    ----------
    outputs : torch.Tensor (..., n_out)
        Network outputs (logits for classification).
    targets : torch.Tensor (...) int64 or (..., n_out)
        Class labels (classification) or target values (regression).
    loss : {"cross_entropy", "mse_onehot", "mse"}
        A checked loss name (:func:`check_loss`).

    Returns
    -------
    torch.Tensor (...)
        The per-step loss, mean over the n_out outputs for the squared errors.
    """
    import torch

    if loss == "cross_entropy":
        return -torch.log_softmax(outputs, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    if loss == "mse_onehot":
        onehot = torch.nn.functional.one_hot(targets, outputs.shape[-1]).to(outputs.dtype)
        return ((outputs - onehot) ** 2).mean(dim=-1)
    return ((outputs - targets.to(outputs.dtype)) ** 2).mean(dim=-1)
