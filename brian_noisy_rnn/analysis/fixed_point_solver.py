"""Fixed points of a CTRNN for a constant input, their Jacobians and stability.

For a constant input ``u`` the deterministic network (any gamma) rests where

    h = f(w_rec h + w_in u + b)          i.e.   F(h) = -h + f(a(h)) = 0,

the fixed points of the ODE ``tau dh/dt = -h + f(a)`` and of its Euler map alike. The
Jacobian of the flow is ``J = (-I + diag(f'(a)) w_rec) / tau`` (units 1/s); a fixed point
is stable when every eigenvalue has a negative real part (for the Euler map with
gamma = dt/tau this is necessary, and sufficient unless gamma*|lambda*tau| is large).

The same solver finds *mean-field* fixed points (``f`` replaced by its noise average
``g_s(a) = E[f(a + s xi)]``; see :mod:`.stationary`): pass ``sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import root

from ..core.activations import get_activation
from ..core.spec import check_spec
from ..core.validation import check_int
from ._common import check_input_vector, check_sigma, check_states, drive

if TYPE_CHECKING:
    from ..core.spec import CTRNNSpec


@dataclass(frozen=True)
class FixedPoint:
    """One fixed point.

    Attributes
    ----------
    h : float64 array (N,)
        The state.
    a : float64 array (N,)
        The pre-activation ``w_rec h + w_in u + b`` there.
    output : float64 array (n_out,)
        The output ``w_out h + b_out``.
    eigenvalues : complex128 array (N,)
        Eigenvalues of the flow Jacobian, in 1/s, sorted by real part (largest first).
    stable : bool
        All real parts < 0.
    residual : float
        ``max |-h + f(a)|`` (dimensionless).
    """

    h: np.ndarray
    a: np.ndarray
    output: np.ndarray
    eigenvalues: np.ndarray
    stable: bool
    residual: float

    @property
    def slowest_time_constant(self):
        """``1 / min |Re lambda|`` in seconds (inf at a marginal point).

        Returns
        -------
        float
            The slowest time constant, in seconds.
        """
        re = np.abs(self.eigenvalues.real)
        return float(np.inf) if re.min() == 0 else float(1.0 / re.min())


def averaged_map(spec, sigma):
    """``(g, dg)``: callables a -> (N,) for ``E[f(a + sigma xi)]`` and its derivative.

    Parameters
    ----------
    spec : CTRNNSpec
        The network (gives the activation f).
    sigma : float array (N,)
        Noise std inside f, >= 0, dimensionless (zeros give f and f').

    Returns
    -------
    g : callable
        ``a -> E[f(a + sigma xi)]``, float array (N,) -> (N,).
    dg : callable
        Its derivative, float array (N,) -> (N,).
    """
    act = get_activation(spec.activation)
    sigma = np.asarray(sigma, float)
    if not np.any(sigma > 0):
        return act.numpy, act.derivative
    return (lambda a: act.noise_average_and_derivative(a, sigma)[0],
            lambda a: act.noise_average_and_derivative(a, sigma)[1])


def flow_jacobian(spec, a, dg):
    """``(-I + diag(dg(a)) w_rec) / tau`` (N, N), 1/s.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    a : float array (N,)
        The pre-activation.
    dg : callable
        Derivative of the (averaged) activation, float array (N,) -> (N,).

    Returns
    -------
    numpy.ndarray of float64, shape (N, N)
        The Jacobian of the flow, in 1/s.
    """
    n = spec.n_hidden
    return (-np.eye(n) + dg(a)[:, None] * spec.w_rec) / spec.tau_seconds


def solve_fixed_point(spec, u, start, sigma=None, *, tol=1e-10):
    """Newton-type solve (``scipy.optimize.root``, hybr, analytic Jacobian) from one start.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    start : float array (N,)
        The starting state.
    sigma : float array (N,) or None
        Noise std inside f (None: deterministic f).
    tol : float
        Accepted residual ``max |-h + g(a)|``.

    Returns
    -------
    FixedPoint or None
        The fixed point, or None if the solver did not converge to ``tol``.
    """
    c = drive(spec, u)
    sig = np.zeros(spec.n_hidden) if sigma is None else np.asarray(sigma, float)
    g, dg = averaged_map(spec, sig)
    w = spec.w_rec

    def fun(h):
        return -h + g(w @ h + c)

    def jac(h):
        return -np.eye(len(h)) + dg(w @ h + c)[:, None] * w

    def attempt(h0, method):
        try:
            sol = root(fun, h0, jac=jac, method=method, tol=1e-13)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return None
        if not np.all(np.isfinite(sol.x)) or np.max(np.abs(fun(sol.x))) > tol:
            return None
        return sol.x

    start = np.asarray(start, float)
    # hybr can stall at relu's kinks: retry from the point the damped Euler map settles to
    # (converges to the stable fixed point near start), then with Levenberg-Marquardt
    h = attempt(start, "hybr")
    if h is None:
        h = attempt(settle(spec, u, start[None], sig)[0], "hybr")
    if h is None:
        h = attempt(start, "lm")
    if h is None:
        return None
    return make_fixed_point(spec, u, h, sig)


def make_fixed_point(spec, u, h, sigma=None):
    """A :class:`FixedPoint` record for state ``h`` (its eigenvalues, stability, residual).

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    h : float array (N,)
        The state.
    sigma : float array (N,) or None
        Noise std inside f (None: deterministic f).

    Returns
    -------
    FixedPoint
        The record for ``h``.
    """
    sig = np.zeros(spec.n_hidden) if sigma is None else np.asarray(sigma, float)
    g, dg = averaged_map(spec, sig)
    a = spec.w_rec @ h + drive(spec, u)
    eig = np.linalg.eigvals(flow_jacobian(spec, a, dg)).astype(complex)
    eig = eig[np.argsort(-eig.real, kind="stable")]
    return FixedPoint(h=np.array(h, float), a=a, output=spec.w_out @ h + spec.b_out,
                      eigenvalues=eig, stable=bool(np.all(eig.real < 0)),
                      residual=float(np.max(np.abs(-h + g(a)))))


def settle(spec, u, starts, sigma=None, *, n_steps=None):
    """Iterate the deterministic (or mean-field) Euler map from each start (K, N) -> (K, N).

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    starts : float array (K, N)
        The starting states.
    sigma : float array (N,) or None
        Noise std inside f (None: deterministic f).
    n_steps : int or None
        Number of Euler steps; defaults to 40 time constants.

    Returns
    -------
    numpy.ndarray of float64, shape (K, N)
        The states after ``n_steps`` steps.
    """
    gamma = spec.gamma
    n_steps = int(np.ceil(40 / gamma)) if n_steps is None else int(n_steps)
    sig = np.zeros(spec.n_hidden) if sigma is None else np.asarray(sigma, float)
    g, _ = averaged_map(spec, sig)
    c = drive(spec, u)
    h = np.array(starts, float)
    for _ in range(n_steps):
        h = (1 - gamma) * h + gamma * g(h @ spec.w_rec.T + c)
    return h


def fixed_points(spec: CTRNNSpec, u: np.ndarray, *, sigma: float | np.ndarray | None = None,
                 n_random: int = 16, seed: int = 0, starts: np.ndarray | None = None,
                 scale: float | None = None, tol: float = 1e-10,
                 dedup_tol: float = 1e-6) -> list[FixedPoint]:
    """All fixed points found from many starts, deduplicated, stable ones first.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    sigma : None, float or float array (N,), optional
        Noise std inside f: find the fixed points of the mean-field map
        ``h = E[f(w_rec h + w_in u + b + sigma xi)]`` instead of the deterministic one.
    n_random : int >= 0
        Number of random starts (normal, std ``scale``) and of simulated trajectories
        (settled from random states) used as further starts.
    seed : int
        Seed of the random starts.
    starts : float array (K, N), optional
        Extra starting states.
    scale : float, optional
        Std of the random starts (default: 1 + max abs(f(w_in u + b))).
    tol : float
        Residual ``max |-h + f(a)|`` a fixed point must reach.
    dedup_tol : float
        Fixed points closer than ``dedup_tol * (1 + |h|)`` (max norm) are one.

    Returns
    -------
    list of FixedPoint
        Stable first, then by residual. Always tried starts: zeros, ``spec.h0``, the
        random ones, and the states the network settles to from them.
    """
    check_spec(spec)
    u = check_input_vector(spec, u)
    n = spec.n_hidden
    sig = None
    if sigma is not None:
        sig = np.broadcast_to(check_sigma(spec, sigma), (n,)).copy()
    check_int(n_random, "n_random", 0)
    rng = np.random.default_rng(seed)
    if scale is None:
        scale = 1.0 + float(np.max(np.abs(get_activation(spec.activation).numpy(drive(spec, u)))))
    cand = [np.zeros(n), np.array(spec.h0)]
    rand = rng.normal(0.0, scale, size=(n_random, n))
    cand.extend(rand)
    if starts is not None:
        extra = check_states(spec, starts, "starts", batch=True)
        cand.extend(extra)
    settled = settle(spec, u, np.array(cand), sig)
    cand = list(settled) + cand
    found = []
    for s in cand:
        fp = solve_fixed_point(spec, u, s, sig, tol=tol)
        if fp is None:
            continue
        if any(np.max(np.abs(fp.h - q.h)) <= dedup_tol * (1 + np.max(np.abs(q.h))) for q in found):
            continue
        found.append(fp)
    found.sort(key=lambda q: (not q.stable, q.residual))
    return found


class NoFixedPointError(ValueError, RuntimeError):
    """The network does not settle to a fixed point for an input (it oscillates or diverges)."""


def reached_fixed_point(spec, u, sigma=None, *, start=None, tol=1e-10):
    """The fixed point the network settles to from ``start`` (default ``spec.h0``).

    Runs the (mean-field) Euler map for 40 time constants, then polishes with Newton.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : float array (n_in,)
        The constant input.
    sigma : None, float or float array (N,)
        Noise std inside f (None: deterministic f).
    start : float array (N,) or None
        The starting state (default ``spec.h0``).
    tol : float
        Residual ``max |-h + f(a)|`` the fixed point must reach.

    Returns
    -------
    FixedPoint
        The fixed point reached.

    Raises
    ------
    NoFixedPointError
        (a ValueError and a RuntimeError) if no fixed point is reached (e.g. the network
        oscillates or diverges): a property of the network, not a bug.
    """
    u = check_input_vector(spec, u)
    start = np.array(spec.h0) if start is None else check_states(spec, start, "start")
    sig = np.zeros(spec.n_hidden) if sigma is None \
        else np.broadcast_to(check_sigma(spec, sigma), (spec.n_hidden,))
    g, _ = averaged_map(spec, sig)
    c = drive(spec, u)
    h = start[None]
    for _ in range(5):  # settle until close, so Newton polishes the point actually reached
        h = settle(spec, u, h, sig)
        if np.max(np.abs(-h[0] + g(spec.w_rec @ h[0] + c))) < 1e-6:
            break
    fp = solve_fixed_point(spec, u, h[0], sig, tol=tol)
    if fp is None:
        raise NoFixedPointError(
            f"spec: the network does not settle to a fixed point for the input u = "
            f"{np.round(u, 4).tolist()} (it may oscillate or diverge); use fixed_points() to "
            "list candidates")
    return fp
