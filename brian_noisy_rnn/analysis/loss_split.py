"""Predict a network's noise preference from one run at its training noise: shift against fluctuation.

A network trained with noise ``sigma`` is, at test time, a random function of its inputs. Over
the noise (for fixed trials) its outputs have a centre and a spread, and the expected loss splits
exactly into the loss of the centre plus the spread (a bias-variance decomposition):

MSE (regression, and ``mse_onehot`` on one-hot targets)
    centre ``z_bar = E[z]``; ``L(sigma) = (z_bar - y)^2 + Var[z]``. Removing the noise moves the
    output from ``z_bar`` to the noiseless ``z_0``:
    ``L(0) - L(sigma) = shift - fluctuation + cross`` with ``shift = (z_0 - z_bar)^2`` (the
    noise-induced shift of the mean output: what removing the noise costs),
    ``fluctuation = Var[z]`` (what keeping it costs) and ``cross = 2 (z_0 - z_bar)(z_bar - y)``.
cross-entropy (classification, on logits)
    the centre of the log loss is the normalised geometric mean of the predicted
    distributions, ``p_bar = softmax(E[z])`` (Heskes 1998, "Bias/variance decompositions for
    likelihood-based estimators", Neural Computation 10:1425); ``L(sigma) = CE(y, p_bar) +
    E[KL(p_bar || p)]`` exactly, and ``E[KL(p_bar || p)] = E[lse(z)] - lse(E[z]) >= 0`` is the
    fluctuation. The shift is ``KL(p_bar || p_0)``, the divergence from the centre to the
    noiseless prediction, and ``cross = L(0) - L(sigma) - shift + fluctuation`` is what is left
    (zero when the centre equals the target distribution, as the MSE's cross term).

A network whose training absorbed the noise has ``z_bar ~ y``, so the cross terms are small and
``ratio = shift / fluctuation > 1`` predicts that it performs better with its training noise
than without it: the paradoxical preference. The split needs one noiseless run and ``R`` noisy
repeats of the same trials, no sweep over test sigmas; ``cross`` is reported, so how well the
prediction holds is visible network by network.

Statistics: per masked step, then the mean over each trial's steps, then mean and standard
error over trials (as the noise-preference curves). With ``R`` repeats the MSE shift is
corrected for the finite-sample noise of ``z_bar`` (``- Var/R``); the cross-entropy terms carry
a bias of order ``fluctuation / R`` (about 3% at the default ``R = 32``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import log_softmax, logsumexp

from ..backends.random_state import keeps_random_state
from ..backends.simulation import simulate
from ..core.noise import Noise
from ..core.validation import check_choice, check_int, check_seed
from ..evaluation.scoring import check_spec_for_task, finite_mean_sem, noise_seed, task_env
from ..tasks import batch as make_batch
from ..tasks.metrics import check_loss

if TYPE_CHECKING:
    import gymnasium as gym

    from ..core.spec import CTRNNSpec

__all__ = ["NoiseDependence", "noise_dependence"]

#: doubles of one simulated chunk of repeats (T * B * chunk * (N + n_out)), about 160 MB
_CHUNK_DOUBLES = 2e7


@dataclass(frozen=True)
class NoiseDependence:
    """The split of a network's loss at its training noise (see the module docstring).

    Attributes
    ----------
    loss : str
        "mse", "cross_entropy" or "mse_onehot".
    steps : str
        "mask" (every scored step) or "decision" (decision steps only: fixation excluded).
    sigma_train : float
        The noise the network was run with (its training sigma), dimensionless.
    shift, fluctuation, cross : float
        Means over trials of the three terms (loss units); ``loss_zero - loss_train = shift -
        fluctuation + cross`` exactly on these trials.
    shift_sem, fluctuation_sem, cross_sem : float
        Their standard errors over trials.
    loss_zero : float
        The loss without noise, ``L(0)``.
    loss_train : float
        The loss at the training noise, ``L(sigma_train)`` (mean over the repeats).
    difference_sem : float
        Standard error over trials of ``loss_zero - loss_train``.
    n_trials, n_repeats : int
        Trials, and noisy repeats of each.
    """

    loss: str
    steps: str
    sigma_train: float
    shift: float
    fluctuation: float
    cross: float
    shift_sem: float
    fluctuation_sem: float
    cross_sem: float
    loss_zero: float
    loss_train: float
    difference_sem: float
    n_trials: int
    n_repeats: int

    @property
    def ratio(self) -> float:
        """shift / fluctuation (inf if there is no fluctuation and a positive shift)."""
        if self.fluctuation == 0:
            return float("inf") if self.shift > 0 else float("nan")
        return self.shift / self.fluctuation

    @property
    def predicts_preference(self) -> bool:
        """``ratio > 1``: the network should do better with its training noise than without."""
        return bool(self.ratio > 1)

    @property
    def measured_difference(self) -> float:
        """``loss_zero - loss_train`` on the same trials (> 0: better with the noise)."""
        return self.loss_zero - self.loss_train

    def to_dict(self) -> dict:
        """All fields and the derived ``ratio``, ``predicts_preference`` (JSON-compatible)."""
        out = asdict(self)
        out.update(ratio=self.ratio, predicts_preference=self.predicts_preference)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> NoiseDependence:
        """Inverse of :meth:`to_dict` (derived keys are ignored)."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def _per_step_terms(z0, mean, second, lse_mean_of, loss_r_mean, targets, loss, n_repeats):
    """(shift, fluctuation, L(0), L(sigma)) per (t, b) from the accumulated moments."""
    if loss == "cross_entropy":
        log_p0 = log_softmax(z0, axis=-1)
        log_pbar = log_softmax(mean, axis=-1)
        shift = (np.exp(log_pbar) * (log_pbar - log_p0)).sum(-1)
        fluctuation = lse_mean_of - logsumexp(mean, axis=-1)
        loss0 = -np.take_along_axis(log_p0, targets[..., None], axis=-1)[..., 0]
        return shift, fluctuation, loss0, loss_r_mean
    y = np.eye(z0.shape[-1])[targets] if loss == "mse_onehot" else targets
    var = (second - mean ** 2) * n_repeats / max(n_repeats - 1, 1)
    fluctuation = var.mean(-1)
    shift = ((z0 - mean) ** 2).mean(-1) - fluctuation / n_repeats
    loss0 = ((z0 - y) ** 2).mean(-1)
    return shift, fluctuation, loss0, loss_r_mean


def _per_trial(values, mask):
    count = mask.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(mask, values, 0.0).sum(0) / np.maximum(count, 1),
                        np.nan)


@keeps_random_state
def noise_dependence(spec: CTRNNSpec, env: str | gym.Env, *, noise: Noise | None = None,
                     n_trials: int = 200, n_repeats: int = 32, seed: int = 0,
                     loss: str | None = None, steps: str = "mask",
                     backend: str = "torch") -> NoiseDependence:
    """Split the network's loss at its training noise into noise-induced shift and fluctuation.

    Parameters
    ----------
    spec : CTRNNSpec
        The trained network.
    env : str or TrialEnv
        Its task (a task id is made with the spec's dt).
    noise : Noise or None
        The noise to split at; None: ``spec.noise`` (the training noise).
    n_trials : int >= 2
        Trials B (the same trials for the noiseless run and every repeat).
    n_repeats : int >= 2
        Noisy repeats R of each trial.
    seed : int
        Seeds the trials and the noise draws (as :func:`~brian_noisy_rnn.evaluate`).
    loss : str or None
        The loss to split (:func:`~brian_noisy_rnn.tasks.metrics.check_loss`): None, the
        task kind's training loss; "mse_onehot" for a classification network trained on
        one-hot targets.
    steps : {"mask", "decision"}
        The steps that count: every scored step, or decision steps only (classification;
        the same as "mask" on regression tasks).
    backend : str
        The simulation backend (``"torch"`` or ``"numpy"``; any of ``simulate``'s).

    Returns
    -------
    NoiseDependence
        Shift, fluctuation, the remainder, L(0), L(sigma) and their standard errors.

    Raises
    ------
    ValueError
        Naming the argument: a task that does not fit the spec, a loss of the other task
        kind, counts below 2, or a noise without sigma (nothing to split).
    """
    env = task_env(spec, env)
    probe = check_spec_for_task(spec, env)
    loss = check_loss(loss, probe.kind)
    steps = check_choice(steps, "steps", ("mask", "decision"))
    n_trials = check_int(n_trials, "n_trials", 2)
    n_repeats = check_int(n_repeats, "n_repeats", 2)
    seed = check_seed(seed)
    noise = spec.noise if noise is None else noise
    if noise.placement == "none" or not np.any(noise.sigma_vector(spec.n_hidden) > 0):
        raise ValueError(f"noise must have a positive sigma to split the loss at, got {noise!r}")
    batch = make_batch(env, n_trials, seed=seed)
    mask = batch.decision_mask if steps == "decision" and batch.kind == "classification" \
        else batch.mask
    T, B, n_out = batch.inputs.shape[0], batch.n_trials, batch.n_out
    z0 = simulate(spec, batch.inputs, backend=backend, noise=Noise("none")).outputs
    chunk = int(max(1, min(n_repeats, _CHUNK_DOUBLES // (T * B * (spec.n_hidden + n_out)))))
    mean = np.zeros_like(z0)
    second = np.zeros_like(z0)
    lse_mean = np.zeros(z0.shape[:-1])
    loss_r = np.zeros(z0.shape[:-1])
    targets = batch.targets
    done = 0
    while done < n_repeats:
        k = min(chunk, n_repeats - done)
        inputs = np.concatenate([batch.inputs] * k, axis=1)  # (T, k*B, n_in), repeat-major
        z = simulate(spec, inputs, backend=backend, noise=noise,
                     seed=noise_seed(seed + 7919 * (done + 1))).outputs.reshape(T, k, B, n_out)
        mean += z.sum(1)
        second += (z ** 2).sum(1)
        if loss == "cross_entropy":
            lse_mean += logsumexp(z, axis=-1).sum(1)
            loss_r -= np.take_along_axis(log_softmax(z, axis=-1),
                                         targets[:, None, :, None], axis=-1)[..., 0].sum(1)
        else:
            y = np.eye(n_out)[targets] if loss == "mse_onehot" else targets
            loss_r += ((z - y[:, None]) ** 2).mean(-1).sum(1)
        done += k
    mean /= n_repeats
    second /= n_repeats
    terms = _per_step_terms(z0, mean, second, lse_mean / n_repeats, loss_r / n_repeats,
                            targets, loss, n_repeats)
    shift, fluct, loss0, loss_sigma = (_per_trial(v, mask) for v in terms)
    cross = loss0 - loss_sigma - shift + fluct
    stats = {name: finite_mean_sem(v) for name, v in
             (("shift", shift), ("fluctuation", fluct), ("cross", cross), ("zero", loss0),
              ("train", loss_sigma), ("difference", loss0 - loss_sigma))}
    return NoiseDependence(
        loss=loss, steps=steps, sigma_train=float(np.mean(noise.sigma_vector(spec.n_hidden))),
        shift=stats["shift"][0], fluctuation=stats["fluctuation"][0], cross=stats["cross"][0],
        shift_sem=stats["shift"][1], fluctuation_sem=stats["fluctuation"][1],
        cross_sem=stats["cross"][1], loss_zero=stats["zero"][0], loss_train=stats["train"][0],
        difference_sem=stats["difference"][1], n_trials=n_trials, n_repeats=n_repeats)
