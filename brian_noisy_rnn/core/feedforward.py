"""Feedforward networks with noise inside or outside each hidden activation: :class:`FeedforwardSpec`.

The paper (Eckstein & Srinivasan, TMLR 2026) reports the noise preference also in
feedforward networks. One hidden layer ``l = 1..L`` maps ``h_{l-1}`` (``h_0 = x``) to::

    a_l = W_l h_{l-1} + b_l
    pre:   h_l = f(a_l + sigma xi_l)          # noise inside f
    post:  h_l = f(a_l) + sigma xi_l          # noise outside f
    none:  h_l = f(a_l)
    z     = W_out h_L + b_out

with ``xi_l ~ N(0, 1)`` drawn independently per sample and unit. There is no time: a sample
is one input vector ``x`` and one output ``z``.

Why a spec type of its own rather than a special case of :class:`~brian_noisy_rnn.CTRNNSpec`:
a CTRNN step with ``w_rec = 0`` and ``gamma = 1`` would be ``h' = f(w_in u + b)``, exactly one
hidden layer, but run over time (a CTRNNSpec describes a recurrent network that Brian2
integrates step by step), and a second hidden layer has no place in it at all. With ``gamma < 1`` a "feedforward" CTRNN would
still integrate over time and average the noise over about ``1/gamma`` steps, which is a
different network. A :class:`FeedforwardSpec` keeps the same conventions (read-only float64
weights, :class:`~brian_noisy_rnn.Noise` for the placement and sigma, an activation name from
the registry, an atomic ``.npz`` file without pickle, a content hash) with any number of
hidden layers.

:func:`forward` is written once for numpy arrays and torch tensors (as
:mod:`~brian_noisy_rnn.core.dynamics` is for the CTRNN step): the numpy call is the
reference, :class:`brian_noisy_rnn.backends.feedforward.TorchFeedforward` calls it with
tensors. :func:`layer_normal` gives the standard normal draws every backend uses for a seed.
"""

from __future__ import annotations

import os

import numpy as np

from .activations import get_activation
from .noise import Noise, as_noise
from .spec_file import content_hash, load_spec_file, save_spec_file
from .validation import as_dimensionless, check_int, check_metadata

__all__ = ["FeedforwardSpec", "check_feedforward_spec", "check_feedforward_noise", "forward",
           "layer_normal"]

FILE_FORMAT = "brian-noisy-rnn/feedforward-spec"
FILE_VERSION = 1


def _matrix(value, name, shape):
    arr = np.array(as_dimensionless(value, name), dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    arr.setflags(write=False)
    return arr


def check_feedforward_noise(noise, name="noise"):
    """Return ``noise`` as a :class:`Noise` a feedforward network can use.

    Parameters
    ----------
    noise : Noise or None
        None for ``Noise("none")``. The placement must be "none", "pre" or "post", the
        process "white", sigma one scalar (the same in every hidden layer).
    name : str
        Argument name used in error messages.

    Returns
    -------
    Noise
        The checked noise.

    Raises
    ------
    TypeError
        If ``noise`` is not a Noise.
    ValueError
        For another placement, process or a per-neuron sigma.
    """
    noise = Noise("none") if noise is None else as_noise(noise, name)
    if noise.placement not in ("none", "pre", "post"):
        raise ValueError(f"{name}: a feedforward network takes placement 'none', 'pre' or "
                         f"'post', got {noise.placement!r}")
    if noise.process != "white":
        raise ValueError(f"{name}: a feedforward network has no time, so only process='white' "
                         f"exists, got {noise.process!r}")
    if not noise.is_scalar:
        raise ValueError(f"{name}: a feedforward network takes one scalar sigma, got shape "
                         f"{noise.sigma_array.shape}")
    return noise


class FeedforwardSpec:
    """Weights, activation and noise of a feedforward network with L >= 1 hidden layers.

    Parameters
    ----------
    weights : sequence of float arrays
        ``W_1 (N_1, n_in), W_2 (N_2, N_1), ..., W_L (N_L, N_{L-1})`` and last the readout
        ``W_out (n_out, N_L)``: L + 1 matrices, dimensionless.
    biases : sequence of float arrays
        ``b_1 (N_1,), ..., b_L (N_L,), b_out (n_out,)``: one per matrix.
    activation : str
        A registered activation name (the same in every hidden layer).
    noise : Noise or None
        The network's own (training) noise: placement "none", "pre" or "post", white, one
        scalar sigma for every hidden unit. None: ``Noise("none")``.
    metadata : dict or None
        JSON-serialisable extra information (e.g. training settings).

    Attributes
    ----------
    weights : tuple of read-only float64 arrays
        The L + 1 matrices.
    biases : tuple of read-only float64 arrays
        The L + 1 bias vectors.
    activation : str
        The activation's registry name.
    noise : Noise
        The training noise.
    metadata : dict
        A copy of the metadata.

    Examples
    --------
    >>> import numpy as np
    >>> spec = FeedforwardSpec([np.ones((3, 1)), np.ones((1, 3))], [np.zeros(3), np.zeros(1)],
    ...                        activation="relu")
    >>> spec.hidden_sizes, spec.n_in, spec.n_out
    ((3,), 1, 1)
    """

    def __init__(self, weights, biases, *, activation, noise=None, metadata=None):
        weights, biases = list(weights), list(biases)
        if len(weights) < 2:
            raise ValueError(f"weights must hold at least 2 matrices (one hidden layer and the "
                             f"readout), got {len(weights)}")
        if len(biases) != len(weights):
            raise ValueError(f"biases must hold one vector per weight matrix ({len(weights)}), "
                             f"got {len(biases)}")
        first = np.asarray(as_dimensionless(weights[0], "weights[0]"))
        if first.ndim != 2 or min(first.shape) < 1:
            raise ValueError(f"weights[0] must have shape (N_1, n_in) with N_1, n_in >= 1, "
                             f"got {first.shape}")
        ws, bs = [], []
        fan_in = first.shape[1]
        for k, w in enumerate(weights):
            arr = np.asarray(as_dimensionless(w, f"weights[{k}]"))
            if arr.ndim != 2 or arr.shape[0] < 1:
                raise ValueError(f"weights[{k}] must be a matrix (n_out_of_layer, {fan_in}), "
                                 f"got shape {arr.shape}")
            ws.append(_matrix(arr, f"weights[{k}]", (arr.shape[0], fan_in)))
            bs.append(_matrix(biases[k], f"biases[{k}]", (arr.shape[0],)))
            fan_in = arr.shape[0]
        self.weights, self.biases = tuple(ws), tuple(bs)
        self.activation = get_activation(activation).name
        self.noise = check_feedforward_noise(noise)
        self.metadata = check_metadata(metadata)

    # --- shape ---------------------------------------------------------------------------
    @property
    def n_in(self):
        """Number of inputs (int)."""
        return self.weights[0].shape[1]

    @property
    def n_out(self):
        """Number of outputs (int)."""
        return self.weights[-1].shape[0]

    @property
    def hidden_sizes(self):
        """Units per hidden layer, ``(N_1, ..., N_L)`` (tuple of int)."""
        return tuple(w.shape[0] for w in self.weights[:-1])

    @property
    def n_layers(self):
        """Number of hidden layers L (int)."""
        return len(self.weights) - 1

    def replace(self, **changes):
        """A copy with some constructor arguments changed (e.g. ``noise=``).

        Parameters
        ----------
        **changes : constructor arguments
            New ``weights``, ``biases``, ``activation``, ``noise`` or ``metadata`` (TypeError
            for other names).

        Returns
        -------
        FeedforwardSpec
            A new, validated spec.
        """
        kwargs = dict(weights=self.weights, biases=self.biases, activation=self.activation,
                      noise=self.noise, metadata=self.metadata)
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise TypeError(f"unknown FeedforwardSpec arguments: {sorted(unknown)}")
        kwargs.update(changes)
        weights, biases = kwargs.pop("weights"), kwargs.pop("biases")
        return FeedforwardSpec(weights, biases, **kwargs)

    def __eq__(self, other):
        if not isinstance(other, FeedforwardSpec):
            return NotImplemented
        return (self._meta() == other._meta() and len(self.weights) == len(other.weights)
                and all(np.array_equal(a, b) for a, b in zip(self.weights + self.biases,
                                                               other.weights + other.biases)))

    __hash__ = None

    def __repr__(self):
        return (f"FeedforwardSpec(n_in={self.n_in}, hidden_sizes={self.hidden_sizes}, "
                f"n_out={self.n_out}, activation={self.activation!r}, noise={self.noise!r})")

    # --- file format ---------------------------------------------------------------------
    def _meta(self, with_metadata=True):
        meta = {"format": FILE_FORMAT, "version": FILE_VERSION, "activation": self.activation,
                "noise": self.noise.to_dict(), "n_layers": self.n_layers}
        if with_metadata:
            meta["metadata"] = self.metadata
        return meta

    def _arrays(self):
        out = {f"w{k}": w for k, w in enumerate(self.weights)}
        out.update({f"b{k}": b for k, b in enumerate(self.biases)})
        return out

    def content_hash(self):
        """SHA-256 hex digest of the weights and settings (not of ``metadata``).

        Returns
        -------
        str
            64 hexadecimal digits.
        """
        return content_hash(self._meta(with_metadata=False), self._arrays())

    def save(self, path):
        """Write the spec to ``path`` (.npz of plain arrays + JSON metadata), atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (conventionally ending in ``.npz``); written through a
            temporary file and renamed (see :func:`brian_noisy_rnn.core.atomic.atomic_write`).

        Returns
        -------
        str
            ``path`` as a str.
        """
        return save_spec_file(path, self._meta(), {"sigma": self.noise.sigma_array,
                                                   **self._arrays()})

    @classmethod
    def load(cls, path):
        """Read a spec written by :meth:`save` (no pickle is ever loaded).

        Parameters
        ----------
        path : str or os.PathLike
            The spec file.

        Returns
        -------
        FeedforwardSpec

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If it is not a readable feedforward spec file of this version.
        """
        meta, contents = load_spec_file(path, FILE_FORMAT, FILE_VERSION, "FeedforwardSpec",
                                        allowed=_member_names)
        path = os.fspath(path)
        try:
            n = int(meta["n_layers"]) + 1
            weights = [contents[f"w{k}"] for k in range(n)]
            biases = [contents[f"b{k}"] for k in range(n)]
            noise_d = dict(meta["noise"])
            noise_d["sigma"] = contents["sigma"]
            for arr in (*weights, *biases):
                if arr.dtype.kind not in "fiu":
                    raise ValueError(f"an array has dtype {arr.dtype}, not numbers")
            return cls(weights, biases, activation=meta["activation"],
                       noise=Noise.from_dict(noise_d), metadata=meta.get("metadata", {}))
        except KeyError as err:
            raise ValueError(f"path: {path!r} lacks field or array {err}") from err
        except (TypeError, ValueError) as err:
            raise ValueError(f"path: {path!r} holds an invalid network: {err}") from err


def _member_names(meta):
    """The arrays a feedforward spec file with header ``meta`` holds."""
    n = meta.get("n_layers")
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 1000:
        raise ValueError(f"key 'n_layers' must be an int in [0, 1000], got {n!r:.40}")
    return ["sigma", *(f"{p}{k}" for k in range(n + 1) for p in "wb")]


def check_feedforward_spec(spec, name="spec"):
    """Return ``spec`` if it is a :class:`FeedforwardSpec`; raise TypeError naming ``name``.

    Parameters
    ----------
    spec : object
        The value to check.
    name : str
        Argument name used in the error message.

    Returns
    -------
    FeedforwardSpec
        ``spec`` itself.
    """
    if not isinstance(spec, FeedforwardSpec):
        raise TypeError(f"{name} must be a FeedforwardSpec, got {type(spec).__name__}")
    return spec


def layer_normal(seed, n_samples, hidden_sizes):
    """The standard normal draws of a feedforward network for a seed, one array per layer.

    ``RandomState(seed).randn(n_samples, sum(hidden_sizes))`` split along the units: every
    backend (numpy, torch) and every test sigma of a sweep uses these draws for this seed.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.RandomState``, in [0, 2**32).
    n_samples : int
        Number of samples B (>= 1).
    hidden_sizes : sequence of int
        Units per hidden layer.

    Returns
    -------
    list of float64 arrays (B, N_l)
        One per hidden layer.
    """
    n_samples = check_int(n_samples, "n_samples", 1)
    sizes = [check_int(n, "hidden_sizes", 1) for n in hidden_sizes]
    xi = np.random.RandomState(seed).randn(n_samples, sum(sizes))
    return np.split(xi, np.cumsum(sizes)[:-1], axis=1)


def forward(weights, biases, x, *, activation, placement="none", sigma=0.0, xi=None):
    """The feedforward pass, for numpy arrays or torch tensors alike.

    Parameters
    ----------
    weights : sequence of arrays
        ``W_1 .. W_L, W_out`` (numpy arrays or torch tensors, one library throughout).
    biases : sequence of arrays
        ``b_1 .. b_L, b_out``.
    x : float array (B, n_in)
        The inputs (same library as the weights).
    activation : str
        The activation's registry name.
    placement : {"none", "pre", "post"}
        Where the noise enters every hidden layer.
    sigma : float
        Noise amplitude (>= 0).
    xi : sequence of float arrays (B, N_l) or None
        Standard normal draws per hidden layer; required if ``placement != "none"`` and
        ``sigma > 0``.

    Returns
    -------
    outputs : float array (B, n_out)
        ``W_out h_L + b_out``.
    hidden : list of float arrays (B, N_l)
        The hidden activities ``h_1 .. h_L`` (after the noise).
    """
    act = get_activation(activation)
    f = act.numpy if isinstance(x, np.ndarray) else act.torch
    active = placement != "none" and float(sigma) > 0
    if active and (xi is None or len(xi) != len(weights) - 1):
        raise ValueError(f"xi must hold one (B, N_l) array per hidden layer "
                         f"({len(weights) - 1}) when there is noise")
    h, hidden = x, []
    for k in range(len(weights) - 1):
        a = h @ weights[k].T + biases[k]
        if not active:
            h = f(a)
        elif placement == "pre":
            h = f(a + sigma * xi[k])
        elif placement == "post":
            h = f(a) + sigma * xi[k]
        else:
            raise ValueError(f"placement must be 'none', 'pre' or 'post', got {placement!r}")
        hidden.append(h)
    return h @ weights[-1].T + biases[-1], hidden
