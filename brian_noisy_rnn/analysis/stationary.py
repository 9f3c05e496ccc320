"""The stationary distribution of a noisy CTRNN under constant input: simulated and predicted.

Simulated: :func:`stationary_stats` runs B independent trials with any backend of
:func:`brian_noisy_rnn.simulate`, discards a burn-in, and returns the mean and covariance
of the state (and output) over the remaining steps and trials.

Predicted: :func:`mean_field_fixed_point` solves

    h = E_xi[f(w_rec h + w_in u + b + sigma xi)]      (noise inside f, "pre")
    h = f(w_rec h + w_in u + b)                      (noise outside f: its mean field is f)

and reports the *noise-induced shift* of the state and output against the sigma = 0 fixed
point. This mean field is exact for an isolated unit (``w_rec = 0``). With recurrence it
ignores that the state itself fluctuates: every step injects variance
``gamma^2 Var[f(a + sigma xi)]`` that the leaky integrator averages down to a state
variance of about ``gamma sigma^2 f'^2 / 2`` per unit, which then enters f through
``w_rec``. ``closure="gaussian"`` adds that variance self-consistently (linear-noise
approximation of the covariance ``C = A C A^T + Q``, then
``E[f(a + delta + sigma xi)] = g_{sqrt(sigma^2 + Var delta)}(a)`` for Gaussian
``delta = (w_rec (h - mean))_i``), and ``MeanFieldShift.closure_correction`` is the
size of that neglected term: the justified tolerance of the plain mean field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np
from scipy.linalg import solve_discrete_lyapunov

from ..backends.random_state import keeps_random_state
from ..core.activations import get_activation
from ..core.spec import check_spec
from ..core.validation import check_int
from ._common import (check_input_set, check_input_vector, check_states, pre_sigma,
                      resolve_noise)
from .fixed_point_solver import averaged_map, reached_fixed_point, solve_fixed_point
from ..core.noise_averages import noise_variance

if TYPE_CHECKING:
    from ..core.noise import Noise
    from ..core.spec import CTRNNSpec


# --- simulated ------------------------------------------------------------------------------
@dataclass
class StationaryStats:
    """Mean and covariance of the stationary distribution, estimated by simulation.

    Attributes
    ----------
    mean : float array (N,)
        State mean over kept steps and trials.
    cov : float array (N, N)
        State covariance (pooled over kept steps and trials).
    sem : float array (N,)
        Standard error of ``mean`` (from the spread of the B per-trial means, so it
        accounts for the autocorrelation in time).
    output_mean : float array (n_out,)
        Output mean.
    output_cov : float array (n_out, n_out)
        Output covariance.
    output_sem : float array (n_out,)
        Standard error of ``output_mean``.
    n_trials : int
        Independent trials B.
    n_steps : int
        Total steps per trial.
    burn_in : int
        Steps discarded at the start (steps kept = n_steps - burn_in).
    backend : str
        The simulation backend.
    noise : Noise
        The noise of the run.
    seed : int or None
        The noise seed.
    """

    mean: np.ndarray
    cov: np.ndarray
    sem: np.ndarray
    output_mean: np.ndarray
    output_cov: np.ndarray
    output_sem: np.ndarray
    n_trials: int
    n_steps: int
    burn_in: int
    backend: str
    noise: object
    seed: Optional[int]


@keeps_random_state
def stationary_stats(spec: CTRNNSpec, u: np.ndarray, noise: Noise | None = None, *,
                     backend: str = "numpy", n_trials: int = 64, n_steps: int | None = None,
                     burn_in: int | None = None, seed: int | None = 0,
                     h_start: np.ndarray | None = None, **options) -> StationaryStats:
    """Simulate ``spec`` under constant input ``u`` and estimate its stationary distribution.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    noise : Noise or None
        The noise of the run (None: ``spec.noise``).
    backend : str
        A :func:`brian_noisy_rnn.simulate` backend ("numpy", "torch", "brian2", ...).
    n_trials : int >= 2
        Independent trials B.
    n_steps : int or None
        Total steps per trial (default ``burn_in + 50 tau / dt``).
    burn_in : int or None
        Steps discarded at the start (default: 10 tau or 10 times the slowest relaxation
        time of the deterministic fixed point, whichever is longer, in steps).
    seed : int or None
        The noise seed (see :func:`brian_noisy_rnn.simulate`).
    h_start : float array (N,) or None
        Initial state; default the deterministic fixed point (shortens burn-in).
    **options : dict
        Passed to the backend (e.g. ``target="cython"`` for brian2).

    Returns
    -------
    StationaryStats
        The estimated moments.
    """
    from ..backends.simulation import simulate

    check_spec(spec)
    u = check_input_vector(spec, u)
    noise = resolve_noise(spec, noise)
    check_int(n_trials, "n_trials", 2)
    steps_per_tau = 1.0 / spec.gamma
    if h_start is None or burn_in is None:
        fp = reached_fixed_point(spec, u)
        if h_start is None:
            h_start = fp.h
        if burn_in is None:
            t_slow = max(spec.tau_seconds, min(fp.slowest_time_constant, 100 * spec.tau_seconds))
            burn_in = int(np.ceil(10 * t_slow / spec.dt_seconds))
    burn_in = check_int(burn_in, "burn_in", 0)
    if n_steps is None:
        n_steps = burn_in + int(np.ceil(50 * steps_per_tau))
    n_steps = check_int(n_steps, "n_steps", burn_in + 2)
    h_start = check_states(spec, h_start, "h_start")
    run_spec = spec.replace(h0=h_start)
    inputs = np.broadcast_to(u, (n_steps, n_trials, spec.n_in)).copy()
    res = simulate(run_spec, inputs, backend=backend, noise=noise, seed=seed, **options)
    states = res.states[burn_in:]
    outputs = res.outputs[burn_in:]
    return StationaryStats(
        *_moments(states), *_moments(outputs), n_trials=int(n_trials), n_steps=int(n_steps),
        burn_in=int(burn_in), backend=backend, noise=noise, seed=seed)


def _moments(x):
    """mean (F,), pooled covariance (F, F), sem (F,) of x (T, B, F)."""
    flat = x.reshape(-1, x.shape[-1])
    mean = flat.mean(axis=0)
    cov = np.atleast_2d(np.cov(flat, rowvar=False))
    trial_means = x.mean(axis=0)  # (B, F)
    sem = trial_means.std(axis=0, ddof=1) / np.sqrt(x.shape[1])
    return mean, cov, sem


# --- predicted ------------------------------------------------------------------------------
@dataclass
class MeanFieldShift:
    """The noise-induced shift of a network's resting state for one constant input.

    Attributes
    ----------
    u : float array (n_in,)
        The input.
    h_det : float array (N,)
        Deterministic (sigma = 0) fixed point reached from ``spec.h0``.
    h_mf : float array (N,)
        Mean-field fixed point at the given noise (the predicted stationary mean).
    state_shift : float array (N,)
        ``h_mf - h_det``.
    output_shift : float array (n_out,)
        ``w_out (h_mf - h_det)``: the output bias removing the noise causes is
        ``-output_shift``.
    z_det : float array (n_out,)
        Output at ``h_det``.
    z_mf : float array (n_out,)
        Output at ``h_mf``.
    closure : str
        "mean" or "gaussian".
    closure_correction : float array (N,) or None
        For ``closure="mean"`` with white noise: the Gaussian-closure fixed point minus
        ``h_mf``, i.e. the size of the effect of the fluctuating recurrent input the plain
        mean field ignores (its tolerance).
    cov : float array (N, N) or None
        Linear-noise covariance of the state at the predicted point (white noise only).
    stable : bool
        The mean-field fixed point is stable.
    """

    u: np.ndarray
    h_det: np.ndarray
    h_mf: np.ndarray
    state_shift: np.ndarray
    output_shift: np.ndarray
    z_det: np.ndarray
    z_mf: np.ndarray
    closure: str
    closure_correction: Optional[np.ndarray]
    cov: Optional[np.ndarray]
    stable: bool


def mean_field_fixed_point(spec: CTRNNSpec, u: np.ndarray, noise: Noise | None = None, *,
                           closure: str = "mean", start: np.ndarray | None = None,
                           max_iter: int = 50, tol: float = 1e-10) -> MeanFieldShift:
    """The mean-field (noise-averaged) fixed point and its shift from the sigma = 0 one.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    noise : Noise or None
        The noise (None: ``spec.noise``).
    closure : {"mean", "gaussian"}
        "mean": ``h = E[f(a + sigma xi)]`` for noise inside f, ``h = f(a)`` otherwise.
        "gaussian": also average f over the stationary fluctuation of ``w_rec h``
        (linear-noise covariance), for any white-noise placement.
    start : float array (N,) or None
        Initial state (default ``spec.h0``). ``h_det`` is the fixed point the
        deterministic network settles to from it, ``h_mf`` the one the mean-field dynamics
        ``h' = (1 - gamma) h + gamma E[f(a + sigma xi)]`` settle to (as a trial does: the
        two need not lie on one branch if the noise moves the network past a fold).
    max_iter : int
        Self-consistency iterations of the Gaussian closure.
    tol : float
        Fixed-point residual.

    Returns
    -------
    MeanFieldShift
        The two fixed points and the shift between them.
    """
    check_spec(spec)
    u = check_input_vector(spec, u)
    noise = resolve_noise(spec, noise)
    if closure not in ("mean", "gaussian"):
        raise ValueError(f"closure must be 'mean' or 'gaussian', got {closure!r}")
    if closure == "gaussian" and noise.is_active and not noise.noise_process.independent_steps:
        raise ValueError("closure='gaussian' needs white noise (a process with independent "
                         f"steps, e.g. process='white'), got process={noise.process!r}")
    det = reached_fixed_point(spec, u, start=start, tol=tol)
    s_pre = pre_sigma(spec, noise)
    if np.any(s_pre > 0):
        mf = reached_fixed_point(spec, u, s_pre, start=start, tol=tol)
        h, stable = mf.h, mf.stable
    else:
        h, stable = det.h, det.stable
    correction = None
    cov = None
    if noise.is_active and noise.noise_process.independent_steps:
        hg, s_eff, cov, stable_g = _gaussian_closure(spec, u, noise, h, max_iter, tol)
        if closure == "gaussian":
            h, stable = hg, stable_g
        else:
            correction = hg - h
            cov = lna_covariance(spec, u, noise, h, s_pre)
    z_mf = spec.w_out @ h + spec.b_out
    return MeanFieldShift(u=u, h_det=det.h, h_mf=h, state_shift=h - det.h,
                          output_shift=spec.w_out @ (h - det.h), z_det=det.output, z_mf=z_mf,
                          closure=closure, closure_correction=correction, cov=cov, stable=stable)


def _solve_near(spec, u, h, sigma, tol):
    """The (mean-field) fixed point near ``h`` at noise ``sigma`` (N,), and its stability."""
    fp = solve_fixed_point(spec, u, h, sigma, tol=tol)
    if fp is None:
        fp = reached_fixed_point(spec, u, sigma, start=h, tol=tol)
    return fp.h, fp.stable


def step_variance(spec, u, noise, h, s_eff):
    """Variance (N,) one step injects into h around the point ``h`` (white noise).

    pre: ``gamma^2 Var[f(a + sigma xi)]``; post: ``gamma^2`` times the process's
    :meth:`~brian_noisy_rnn.core.noise_processes.NoiseProcess.step_variance` (white:
    ``sigma^2``; poisson: ``sigma^2 max(E f, 0)``); state: ``sigma^2``, with sigma the
    per-step amplitude (``2 gamma sigma^2`` for the default scale).

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    noise : Noise
        The (white) noise.
    h : float array (N,)
        The state around which the variance is injected.
    s_eff : float array (N,)
        The std used to average f (for the mean of f in the poisson case).

    Returns
    -------
    numpy.ndarray of float64, shape (N,)
        The per-step variance (dimensionless).
    """
    g = spec.gamma
    sig = noise.per_step_sigma_vector(spec.n_hidden, g) if noise.is_active \
        else np.zeros(spec.n_hidden)
    a = spec.w_rec @ h + spec.w_in @ u + spec.b
    if noise.placement == "pre":
        return g * g * noise_variance(spec.activation, a, sig)
    if noise.placement == "post":
        fa = get_activation(spec.activation).noise_average(a, s_eff)
        return g * g * noise.noise_process.step_variance(sig, fa)
    if noise.placement == "state":
        return sig ** 2
    return np.zeros(spec.n_hidden)


def lna_covariance(spec, u, noise, h, s_eff):
    """Linear-noise stationary covariance (N, N) of the state around ``h``.

    Solves ``C = A C A^T + Q`` with ``A = (1 - gamma) I + gamma diag(g'(a)) w_rec``
    (``g`` = f averaged with std ``s_eff`` (N,)) and ``Q = diag(step_variance)``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    noise : Noise
        The (white) noise.
    h : float array (N,)
        The state to linearize around.
    s_eff : float array (N,)
        The std f is averaged with.

    Returns
    -------
    numpy.ndarray of float64, shape (N, N)
        The symmetric covariance.
    """
    _, dg = averaged_map(spec, s_eff)
    a = spec.w_rec @ h + spec.w_in @ u + spec.b
    g = spec.gamma
    A = (1 - g) * np.eye(spec.n_hidden) + g * dg(a)[:, None] * spec.w_rec
    Q = np.diag(step_variance(spec, u, noise, h, s_eff))
    C = solve_discrete_lyapunov(A, Q)
    return 0.5 * (C + C.T)


def _gaussian_closure(spec, u, noise, h, max_iter, tol):
    """Self-consistent fixed point with f averaged over sigma_pre^2 + Var((w_rec h)_i)."""
    s_pre = pre_sigma(spec, noise)
    s_eff = s_pre.copy()
    cov = np.zeros((spec.n_hidden, spec.n_hidden))
    stable = True
    for _ in range(int(max_iter)):
        cov = lna_covariance(spec, u, noise, h, s_eff)
        v = np.einsum("ij,jk,ik->i", spec.w_rec, cov, spec.w_rec)
        s_new = np.sqrt(s_pre ** 2 + np.maximum(v, 0.0))
        h_new, stable = _solve_near(spec, u, h, s_new, tol)
        done = np.max(np.abs(h_new - h)) < 1e-12 and np.max(np.abs(s_new - s_eff)) < 1e-12
        h, s_eff = h_new, s_new
        if done:
            break
    return h, s_eff, cov, stable


def mean_field_shifts(spec, inputs, noise=None, **kwargs):
    """:func:`mean_field_fixed_point` for each row of ``inputs`` (K, n_in) -> list of shifts.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    inputs : float array (K, n_in)
        The constant inputs.
    noise : Noise or None
        The noise (None: ``spec.noise``).
    **kwargs : dict
        Passed to :func:`mean_field_fixed_point`.

    Returns
    -------
    list of MeanFieldShift
        One per row of ``inputs``.
    """
    inputs = check_input_set(spec, inputs)
    return [mean_field_fixed_point(spec, u, noise, **kwargs) for u in inputs]
