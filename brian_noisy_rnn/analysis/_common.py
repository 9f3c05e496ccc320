"""Small validation and algebra helpers shared by the analysis modules."""

from __future__ import annotations

import numpy as np

from ..core.validation import as_dimensionless


def check_input_vector(spec, u, name="u"):
    """``u`` as a float64 array (n_in,) (a scalar is accepted when n_in == 1).

    Parameters
    ----------
    spec : CTRNNSpec
        The network; gives n_in.
    u : array-like (n_in,)
        The input vector, dimensionless (see
        :func:`~brian_noisy_rnn.core.validation.as_dimensionless`).
    name : str
        Argument name for error messages.

    Returns
    -------
    numpy.ndarray of float64, shape (n_in,)
        The checked, finite input vector.
    """
    arr = as_dimensionless(u, name)
    if arr.ndim == 0 and spec.n_in == 1:
        arr = arr.reshape(1)
    if arr.shape != (spec.n_in,):
        raise ValueError(f"{name} must have shape (n_in={spec.n_in},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_input_set(spec, inputs, name="inputs"):
    """``inputs`` as float64 (K, n_in): K constant input vectors (1-D allowed when n_in == 1).

    Parameters
    ----------
    spec : CTRNNSpec
        The network; gives n_in.
    inputs : array-like (K, n_in)
        K >= 1 constant input vectors, dimensionless.
    name : str
        Argument name for error messages.

    Returns
    -------
    numpy.ndarray of float64, shape (K, n_in)
        The checked, finite input vectors.
    """
    arr = as_dimensionless(inputs, name)
    if arr.ndim == 1 and spec.n_in == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != spec.n_in or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (K, n_in={spec.n_in}) with K >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_sigma(spec, sigma, name="sigma"):
    """A noise std inside f: one value or one per hidden unit, dimensionless, finite, >= 0.

    Parameters
    ----------
    spec : CTRNNSpec
        Gives N.
    sigma : float or array-like (N,)
        The noise std, dimensionless.
    name : str
        Argument name for error messages.

    Returns
    -------
    numpy.ndarray of float64, shape () or (N,)
        The checked std.
    """
    sig = as_dimensionless(sigma, name)
    if sig.ndim > 1 or (sig.ndim == 1 and sig.shape[0] != spec.n_hidden):
        raise ValueError(f"{name} must be a float or shape (N={spec.n_hidden},), "
                         f"got shape {sig.shape}")
    if not np.all(np.isfinite(sig)) or np.any(sig < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {sig.tolist()}")
    return sig


def check_states(spec, h, name, *, batch=False):
    """Hidden states, dimensionless and finite: shape (N,), or (K, N) with ``batch``
    (a single (N,) state is then read as K = 1).

    Parameters
    ----------
    spec : CTRNNSpec
        Gives N.
    h : array-like (N,) or (K, N)
        The state(s), dimensionless.
    name : str
        Argument name for error messages.
    batch : bool
        Accept (and return) a batch (K, N) of states.

    Returns
    -------
    numpy.ndarray of float64, shape (N,) or (K, N)
        The checked, finite state(s).
    """
    arr = as_dimensionless(h, name)
    if batch and arr.ndim == 1:
        arr = arr[None]
    want = (spec.n_hidden,) if not batch else (arr.shape[0] if arr.ndim else -1, spec.n_hidden)
    if arr.shape != want:
        shape = "(K, N=%d)" % spec.n_hidden if batch else "(N=%d,)" % spec.n_hidden
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def resolve_noise(spec, noise, name="noise"):
    """``noise`` (a :class:`Noise`) or the spec's own noise when None; checked against the spec.

    Parameters
    ----------
    spec : CTRNNSpec
        The network; its ``noise`` is the default, its dt and N are checked against.
    noise : Noise or None
        The noise to use (anything :func:`~brian_noisy_rnn.core.noise.as_noise` accepts);
        None: ``spec.noise``.
    name : str
        Argument name for error messages.

    Returns
    -------
    Noise
        The noise, compatible with ``spec``.
    """
    return spec.noise if noise is None else spec.check_noise(noise, name)


def pre_sigma(spec, noise):
    """Per-neuron std (N,) of the noise *inside* f (zero unless placement is "pre").

    White and OU noise inside f both have per-step marginal std s (sigma in its scale,
    :func:`~brian_noisy_rnn.core.noise.per_step_sigma`), so the mean field averages f over
    N(0, s^2) in both cases.

    Parameters
    ----------
    spec : CTRNNSpec
        Gives N.
    noise : Noise
        The noise.

    Returns
    -------
    numpy.ndarray of float64, shape (N,)
        The per-neuron std inside f (dimensionless).
    """
    if noise.placement == "pre" and noise.is_active:
        if not noise.noise_process.gaussian:
            raise ValueError(f"the mean field averages f over Gaussian noise inside f; process="
                             f"{noise.process!r} is not Gaussian")
        return noise.per_step_sigma_vector(spec.n_hidden, spec.gamma)
    return np.zeros(spec.n_hidden)


def drive(spec, u):
    """The constant part of the pre-activation, ``w_in u + b`` (N,).

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    u : numpy.ndarray (n_in,)
        The constant input.

    Returns
    -------
    numpy.ndarray of float64, shape (N,)
        ``w_in u + b``.
    """
    return spec.w_in @ u + spec.b

