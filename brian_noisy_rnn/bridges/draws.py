"""What each training step draws: derived seeds, the batch of trials and the noise.

Every random number of a training step is derived from ``(seed, purpose, step)`` with
:func:`derive_seed`, so that a run stopped and resumed draws what one uninterrupted run draws
(see :mod:`brian_noisy_rnn.bridges.training`).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import tasks as tasks_module

__all__ = ["BATCH", "FINGERPRINT", "NOISE", "PICK", "POOL", "VALIDATION", "VALIDATION_NOISE",
           "derive_seed"]

# purposes of derived seeds (second entry of the SeedSequence entropy)
BATCH, NOISE, VALIDATION, VALIDATION_NOISE, POOL, PICK, FINGERPRINT = range(1, 8)


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
