"""Noise-preference curves of feedforward networks (:class:`~brian_noisy_rnn.core.feedforward.FeedforwardSpec`).

:func:`feedforward_noise_preference` returns the same :class:`NoisePreferenceCurve` as
:func:`~brian_noisy_rnn.evaluation.noise_preference` does for CTRNNs, so curves of both kinds
are summarised, compared and plotted alike. A "trial" is one sample (x, y): the metric is its
squared error ``mse = mean over outputs of (z - y)**2`` (``nmse`` divides by the variance of
y over the samples). Common random numbers: every test sigma sees the same samples
(``task.samples(n_trials, seed)``) and the same standard normal draws
(:func:`~brian_noisy_rnn.core.feedforward.layer_normal` of ``noise_seed(seed)``), scaled by
sigma, on numpy and torch alike.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import tasks as tasks_module
from ..backends.feedforward import FEEDFORWARD_BACKENDS, run_feedforward
from ..core.feedforward import check_feedforward_spec, layer_normal
from ..core.noise import Noise
from ..core.validation import check_choice, check_int
from .curves import NoisePreferenceCurve, sigma_grid
from .scoring import finite_mean_sem, noise_seed

__all__ = ["feedforward_noise_preference"]


def feedforward_noise_preference(spec, env="FunctionApproximation-v0", sigmas=None, *,
                                 placement=None, backend="numpy", n_trials=2000, seed=0):
    """A feedforward network's mean squared error at each test-noise sigma.

    Parameters
    ----------
    spec : FeedforwardSpec
        The trained network (its ``noise`` gives the training placement and sigma).
    env : str or TrialEnv
        The task giving the samples (a ``samples(n, seed)`` method); default
        FunctionApproximation-v0. Arguments in the order of
        :func:`~brian_noisy_rnn.noise_preference`: ``(spec, env, sigmas)``; the older
        ``(spec, sigmas)`` still works for one release with a DeprecationWarning.
    sigmas : sequence of float
        Test sigmas, >= 0; 0 and the training sigma are always added (:func:`sigma_grid`).
    placement : {"pre", "post"} or None
        Where the test noise enters every hidden layer; None: the training placement.
    backend : {"numpy", "torch"}
        numpy (the reference) or torch (float64); both give the same curve to float precision.
    n_trials : int
        Samples per sigma, >= 1 (the same samples at every sigma).
    seed : int
        In [0, 2**32): the samples are ``samples(n_trials, seed)``, the draws come from
        ``noise_seed(seed)``.

    Returns
    -------
    NoisePreferenceCurve
        ``metric="mse"`` (lower is better), per-sample values in ``trial_values`` (for
        :meth:`~NoisePreferenceCurve.difference`), ``nmse`` in ``other_metrics``;
        ``backend`` is ``"numpy"`` or ``"torch"``, ``task`` the task id with
        ``"/feedforward"`` appended, ``process`` "white".

    Raises
    ------
    TypeError, ValueError
        For invalid arguments, before anything is computed.

    Examples
    --------
    >>> import numpy as np
    >>> from brian_noisy_rnn import Noise
    >>> from brian_noisy_rnn.core.feedforward import FeedforwardSpec
    >>> spec = FeedforwardSpec([np.ones((4, 1)), np.ones((1, 4))], [np.zeros(4), np.zeros(1)],
    ...                        activation="relu", noise=Noise("pre", 1.0))
    >>> curve = feedforward_noise_preference(spec, sigmas=[0.5], n_trials=100, seed=0)
    >>> curve.sigmas.tolist(), curve.metric
    ([0.0, 0.5, 1.0], 'mse')
    """
    if sigmas is None and isinstance(env, (list, tuple, np.ndarray, int, float)):
        # the older order (spec, sigmas[, env=...]): env holds the sigmas
        warnings.warn("feedforward_noise_preference(spec, sigmas) is deprecated and will be "
                      "removed in the next release; use (spec, env, sigmas) as "
                      "noise_preference does, or sigmas=", DeprecationWarning, stacklevel=2)
        env, sigmas = "FunctionApproximation-v0", env
    if sigmas is None:
        raise TypeError("feedforward_noise_preference needs sigmas (a sequence of test sigmas)")
    check_feedforward_spec(spec)
    check_choice(backend, "backend", FEEDFORWARD_BACKENDS)
    train_placement = spec.noise.placement
    if placement is None:
        if train_placement == "none":
            raise ValueError("placement is required: the spec was trained without noise; pass "
                             "placement='pre' or 'post'")
        placement = train_placement
    check_choice(placement, "placement", ("pre", "post"))
    n_trials = check_int(n_trials, "n_trials", 1)
    seed = check_int(seed, "seed", 0, 2 ** 32)
    sigma_train = spec.noise.scalar_sigma()
    grid = sigma_grid(sigmas, sigma_train)
    task = tasks_module.sample_task(env)
    x, y = task.samples(n_trials, seed)
    if x.shape[1] != spec.n_in or y.shape[1] != spec.n_out:
        raise ValueError(f"spec has n_in={spec.n_in}, n_out={spec.n_out} but the task's samples "
                         f"have {x.shape[1]} inputs and {y.shape[1]} targets")
    xi = layer_normal(noise_seed(seed), n_trials, spec.hidden_sizes)
    variance = float(np.var(y)) if n_trials > 1 else float("nan")
    per_sigma = []
    for s in grid:
        noise = Noise(placement, float(s))
        out, _ = run_feedforward(spec, x, backend=backend, noise=noise, xi=xi)
        per_sigma.append(((out - y) ** 2).mean(axis=1))
    values = np.stack(per_sigma)  # (S, B)
    stats = np.array([finite_mean_sem(v) for v in values])
    nmse = np.array([finite_mean_sem(v / variance) for v in values]) if variance > 0 else \
        np.full((len(grid), 2), np.nan)
    return NoisePreferenceCurve(
        sigmas=grid, metric="mse", higher_is_better=False, mean=stats[:, 0], sem=stats[:, 1],
        n_trials=n_trials, placement=placement, process="white", sigma_train=sigma_train,
        train_placement=train_placement, backend=backend, seed=seed,
        task=f"{tasks_module.task_name(task)}/feedforward",
        other_metrics={"nmse": (nmse[:, 0], nmse[:, 1])}, trial_values=values,
        spec_hash=spec.content_hash())
