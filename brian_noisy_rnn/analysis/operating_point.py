"""Where a network operates relative to its activation's nonlinearity.

The noise-induced shift ``E[f(a + sigma xi)] - f(a)`` is largest where ``a`` is within a
few sigma of the nonlinearity (the kink of relu: for relu it is ``sigma psi(a/sigma)``,
``psi(z) = z Phi(z) + phi(z) - max(z, 0)``, 0.40 sigma at the kink, 0.083 sigma at 1 sigma,
0.0085 sigma at 2 sigma). :func:`operating_point_stats` measures, over simulated task
trials, the pre-activations ``a_t = w_rec h_{t-1} + w_in u_t + b`` of every unit and the
fraction of them within 1 and 2 sigma of the kink, plus the local shift per unit, so that
networks trained with noise inside and outside f can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..backends.random_state import keeps_random_state
from ..core.activations import get_activation
from ..core.noise import per_step_sigma
from ..core.spec import check_spec
from ..core.validation import as_dimensionless
from ._common import resolve_noise

if TYPE_CHECKING:
    from ..core.noise import Noise
    from ..core.spec import CTRNNSpec


@keeps_random_state
def preactivations(spec, inputs, *, noise=None, backend="numpy", seed=0, **options):
    """Pre-activations ``a_t = w_rec h_{t-1} + w_in u_t + b`` along simulated trials.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    inputs : float array (T, B, n_in)
        The inputs, dimensionless.
    noise : Noise or None
        The noise during the run (None: ``spec.noise``).
    backend : str
        A :func:`brian_noisy_rnn.simulate` backend ("numpy", "torch", "brian2", ...).
    seed : int or None
        The noise seed, as for :func:`brian_noisy_rnn.simulate`.
    **options : dict
        Passed to the backend, as for :func:`brian_noisy_rnn.simulate`.

    Returns
    -------
    a : float64 array (T, B, N)
        The deterministic part of the argument of f at each step (``h_{-1} = spec.h0``).
        With noise inside f, f receives ``a + sigma xi``.
    """
    from ..backends.simulation import simulate
    from ..core.validation import check_inputs

    check_spec(spec)
    inputs = check_inputs(spec, inputs)
    noise = resolve_noise(spec, noise)
    res = simulate(spec, inputs, backend=backend, noise=noise, seed=seed, **options)
    prev = np.concatenate([np.broadcast_to(spec.h0, (1, inputs.shape[1], spec.n_hidden)),
                           res.states[:-1]], axis=0)
    return prev @ spec.w_rec.T + inputs @ spec.w_in.T + spec.b


@dataclass
class OperatingPointStats:
    """Summary of the pre-activations of a network relative to its nonlinearity.

    Attributes
    ----------
    sigma : float
        The noise scale distances are measured in (dimensionless).
    kink : float or None
        The activation's kink (None for smooth activations).
    fraction_within : dict of float to float
        ``{k: fraction of (step, trial, unit) samples with |a - kink| < k sigma}`` (empty
        without a kink).
    mean_abs_distance : float
        Mean ``|a - kink| / sigma`` (nan without a kink).
    local_shift : float
        Mean ``|E[f(a + sigma xi)] - f(a)|`` over the samples (any activation).
    fraction_active : float
        Fraction with ``a > kink`` (nan without a kink).
    n_samples : int
        Number of (step, trial, unit) samples.
    distances : float array (n_samples,)
        Signed ``(a - kink) / sigma`` (or ``a / sigma`` without a kink).
    """

    sigma: float
    kink: object
    fraction_within: dict
    mean_abs_distance: float
    local_shift: float
    fraction_active: float
    n_samples: int
    distances: np.ndarray = field(repr=False)

    def as_dict(self):
        """JSON-friendly summary (without the samples).

        Returns
        -------
        dict
            ``sigma``, ``kink``, ``mean_abs_distance``, ``local_shift``,
            ``fraction_active``, ``n_samples`` and one ``within_<k>_sigma`` per k.
        """
        d = {"sigma": self.sigma, "kink": self.kink, "mean_abs_distance": self.mean_abs_distance,
             "local_shift": self.local_shift, "fraction_active": self.fraction_active,
             "n_samples": self.n_samples}
        d.update({f"within_{k:g}_sigma": v for k, v in self.fraction_within.items()})
        return d


@keeps_random_state
def operating_point_stats(spec: CTRNNSpec, inputs: np.ndarray, mask: np.ndarray | None = None, *,
                          sigma: float | None = None, noise: Noise | None = None,
                          backend: str = "numpy", seed: int | None = 0,
                          within: tuple[float, ...] = (1.0, 2.0),
                          **options) -> OperatingPointStats:
    """Distribution of pre-activations relative to the activation's nonlinearity.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    inputs : float array (T, B, n_in)
        The inputs, e.g. ``TaskBatch.inputs``.
    mask : bool array (T, B) or None
        Which steps count (e.g. ``TaskBatch.mask``); None = all.
    sigma : float > 0 or None
        The distance unit (default: the spec's training sigma per step,
        ``spec.noise.scalar_sigma()`` in the noise's scale; required if that is 0).
    noise : Noise or None
        The noise during the simulated trials (default ``spec.noise``: the network in its
        own operating regime).
    backend : str
        A :func:`brian_noisy_rnn.simulate` backend ("numpy", "torch", "brian2", ...).
    seed : int or None
        The noise seed, as for :func:`brian_noisy_rnn.simulate`.
    **options : dict
        Passed to the backend, as for :func:`brian_noisy_rnn.simulate`.
    within : tuple of float
        The k of the "within k sigma" fractions.

    Returns
    -------
    OperatingPointStats
        The summary over the selected samples.
    """
    check_spec(spec)
    if sigma is None:
        sigma = per_step_sigma(spec.noise.scalar_sigma(), spec.noise.scale, spec.gamma) \
            if spec.noise.placement != "none" else 0.0  # the per-step std, in its scale
        if sigma <= 0:
            raise ValueError("sigma must be given (> 0) for a network trained without noise")
    sigma = as_dimensionless(sigma, "sigma")
    if sigma.ndim != 0 or not np.isfinite(sigma) or not sigma > 0:
        raise ValueError(f"sigma must be a finite float > 0, got {sigma!r}")
    sigma = float(sigma)
    a = preactivations(spec, inputs, noise=noise, backend=backend, seed=seed, **options)
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != a.shape[:2]:
            raise ValueError(f"mask must have shape (T, B) = {a.shape[:2]}, got {mask.shape}")
        a = a[mask]  # (M, N)
    a = a.reshape(-1)
    if a.size == 0:
        raise ValueError("mask selects no steps")
    act = get_activation(spec.activation)
    shift = np.abs(act.noise_average(a, sigma) - act.numpy(a))
    if act.kink is None:
        d = a / sigma
        return OperatingPointStats(float(sigma), None, {}, float("nan"), float(shift.mean()),
                                   float("nan"), int(a.size), d)
    d = (a - act.kink) / sigma
    fr = {float(k): float(np.mean(np.abs(d) < k)) for k in within}
    return OperatingPointStats(float(sigma), float(act.kink), fr, float(np.mean(np.abs(d))),
                               float(shift.mean()), float(np.mean(d > 0)), int(a.size), d)
