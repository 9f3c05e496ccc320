"""Small validation and algebra helpers shared by the analysis modules."""

import numpy as np

from ..core.noise import as_noise


def check_input_vector(spec, u, name="u"):
    """``u`` as a float64 array (n_in,) (a scalar is accepted when n_in == 1)."""
    try:
        arr = np.asarray(u, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a float array of shape (n_in={spec.n_in},), "
                        f"got {type(u).__name__}")
    if arr.ndim == 0 and spec.n_in == 1:
        arr = arr.reshape(1)
    if arr.shape != (spec.n_in,):
        raise ValueError(f"{name} must have shape (n_in={spec.n_in},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_input_set(spec, inputs, name="inputs"):
    """``inputs`` as float64 (K, n_in): K constant input vectors (1-D allowed when n_in == 1)."""
    try:
        arr = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a float array of shape (K, n_in={spec.n_in})")
    if arr.ndim == 1 and spec.n_in == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != spec.n_in or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (K, n_in={spec.n_in}) with K >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def resolve_noise(spec, noise, name="noise"):
    """``noise`` (a :class:`Noise`) or the spec's own noise when None; checked against the spec."""
    noise = spec.noise if noise is None else as_noise(noise, name)
    noise.check_compatible(spec.dt_seconds, spec.n_hidden)
    return noise


def pre_sigma(spec, noise):
    """Per-neuron std (N,) of the noise *inside* f (zero unless placement is "pre").

    White and OU noise inside f both have per-step marginal std sigma, so the mean field
    averages f over N(0, sigma^2) in both cases.
    """
    if noise.placement == "pre" and noise.is_active:
        return noise.sigma_vector(spec.n_hidden)
    return np.zeros(spec.n_hidden)


def drive(spec, u):
    """The constant part of the pre-activation, ``w_in u + b`` (N,)."""
    return spec.w_in @ u + spec.b

