"""The framework-neutral network description: :class:`CTRNNSpec`, and its file format."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from .activations import get_activation
from .noise import Noise, as_noise
from .spec_file import content_hash, load_spec_file, save_spec_file
from .units import check_time_constants, from_seconds
from .validation import as_dimensionless, check_choice, check_metadata

if TYPE_CHECKING:
    from brian2 import Quantity

#: network forms: "h" filters the rate (this package's CTRNN), "x" the state before f
#: (nn4n, PsychRNN, spikeRNN); see :class:`CTRNNSpec`
FORMS = ("h", "x")
#: noise placements an x-form network can run with
X_FORM_PLACEMENTS = ("none", "state")

FILE_FORMAT = "brian-noisy-rnn/ctrnn-spec"
FILE_VERSION = 1
_ARRAYS = ("w_in", "w_rec", "b", "w_out", "b_out", "h0")


def _as_matrix(value, name, shape):
    arr = np.array(as_dimensionless(value, name))  # a copy: the spec owns its arrays
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    arr.setflags(write=False)
    return arr


def check_form_noise(noise, form, dt_seconds, n_hidden, name="noise"):
    """Return ``noise`` if a network of ``form``, step ``dt_seconds`` and N = ``n_hidden``
    can run with it; raise naming ``name`` otherwise.

    Parameters
    ----------
    noise : Noise
        The noise model (a per-neuron sigma must have N values, an OU ``tau_noise`` must be
        >= dt, an x-form network takes :data:`X_FORM_PLACEMENTS` only).
    form : {"h", "x"}
        The network form.
    dt_seconds : float
        The time step in seconds.
    n_hidden : int
        N.
    name : str
        Argument name used in the error messages.

    Returns
    -------
    Noise
        ``noise`` itself.
    """
    as_noise(noise, name)
    noise.check_compatible(dt_seconds, n_hidden)
    if form == "x" and noise.placement not in X_FORM_PLACEMENTS:
        raise ValueError(f"{name}: an x-form network (form='x') takes noise placement "
                         f"{X_FORM_PLACEMENTS}, got {noise.placement!r} (noise inside or "
                         "outside f is defined for the h-form step)")
    return noise


#: how many checked Noise objects a spec remembers (a sweep's test noises; more are re-checked)
_CHECKED_NOISES = 64


class NetworkShape:
    """Mixin: ``n_in``, ``n_hidden``, ``n_out`` read from ``w_in`` (N, n_in), ``w_rec``
    (N, N) and ``w_out`` (n_out, N) (numpy arrays or torch tensors)."""

    @property
    def n_in(self):
        """Number of inputs."""
        return self.w_in.shape[1]

    @property
    def n_hidden(self):
        """Number of hidden units N."""
        return self.w_rec.shape[0]

    @property
    def n_out(self):
        """Number of outputs."""
        return self.w_out.shape[0]


class CTRNNSpec(NetworkShape):
    """Weights, time constants, activation and noise of a continuous-time rate RNN.

    One step (``gamma = dt / tau``, time-major arrays), form ``"h"`` (the default: the rate
    is filtered, as the paper and NeuroGym's examples write it)::

        a_t = w_rec h_t + w_in u_t + b
        h_{t+1} = (1 - gamma) h_t + gamma f(a_t)      (+ noise, see :class:`Noise`)
        z_t = w_out h_t + b_out

    form ``"x"`` (the state *before* f is filtered, as nn4n, PsychRNN and spikeRNN write it;
    the arrays keep their names, ``h`` holds that state x)::

        x_{t+1} = (1 - gamma) x_t + gamma (w_rec f(x_t) + w_in u_t + b)   (+ state noise)
        z_t = w_out f(x_t) + b_out

    No h-form network equals an x-form one for every input (docs/importing.md gives the
    derivation): x-form networks are run as they are, by every backend of ``simulate``,
    with noise placement "none" or "state" (:data:`X_FORM_PLACEMENTS`).

    All arrays are dimensionless: plain numbers or dimensionless Brian2 quantities (a
    quantity with dimensions raises Brian2's ``DimensionMismatchError``; booleans and
    complex values a TypeError naming the array). They are stored as read-only float64
    copies; validation happens here, so an invalid network cannot exist.

    Parameters
    ----------
    w_in : float array (N, n_in)
        Input weights.
    w_rec : float array (N, N)
        Recurrent weights.
    b : float array (N,)
        Hidden biases.
    w_out : float array (n_out, N)
        Readout weights.
    b_out : float array (n_out,)
        Readout biases.
    tau : Brian2 time quantity
        Membrane time constant (e.g. ``100*ms``).
    dt : Brian2 time quantity
        Integration step, <= tau (dt == tau: the discrete-time RNN h' = f(a)).
    activation : str
        A name from :data:`brian_noisy_rnn.ACTIVATIONS`.
    noise : Noise or None
        The network's own (training) noise; None for ``Noise("none")``.
    h0 : float array (N,) or None
        Initial state; None for zeros.
    metadata : dict or None
        JSON-serialisable extra information (e.g. training settings); None for ``{}``.
    form : {"h", "x"}
        Which variable the leaky integration filters (:data:`FORMS`, see above).

    Attributes
    ----------
    w_in, w_rec, b, w_out, b_out, h0 : read-only float64 arrays
        The arrays above, of the shapes above.
    tau_seconds : float
        tau in seconds.
    dt_seconds : float
        dt in seconds.
    activation : str
        The activation's registry name.
    noise : Noise
        The network's own noise.
    metadata : dict
        A copy of the metadata.
    form : str
        "h" or "x".
    """

    def __init__(self, w_in: np.ndarray, w_rec: np.ndarray, b: np.ndarray, w_out: np.ndarray,
                 b_out: np.ndarray, *, tau: Quantity, dt: Quantity, activation: str,
                 noise: Noise | None = None, h0: np.ndarray | None = None,
                 metadata: dict | None = None, form: str = "h") -> None:
        self.form = check_choice(form, "form", FORMS)
        self.w_rec = _as_matrix(w_rec, "w_rec", (None, None))
        n = self.w_rec.shape[0]
        if self.w_rec.shape != (n, n) or n < 1:
            raise ValueError(f"w_rec must be square (N, N) with N >= 1, got {self.w_rec.shape}")
        self.w_in = _as_matrix(w_in, "w_in", (n, None))
        if self.w_in.shape[1] < 1:
            raise ValueError(f"w_in must have shape (N, n_in) with n_in >= 1, got {self.w_in.shape}")
        self.b = _as_matrix(b, "b", (n,))
        self.w_out = _as_matrix(w_out, "w_out", (None, n))
        if self.w_out.shape[0] < 1:
            raise ValueError(f"w_out must have shape (n_out, N) with n_out >= 1, "
                             f"got {self.w_out.shape}")
        self.b_out = _as_matrix(b_out, "b_out", (self.w_out.shape[0],))
        self.h0 = _as_matrix(np.zeros(n) if h0 is None else h0, "h0", (n,))
        self.tau_seconds, self.dt_seconds = check_time_constants(tau, dt)
        self.activation = get_activation(activation).name
        self._checked_noises = []  # Noise objects checked against this network (see check_noise)
        self.noise = self.check_noise(Noise("none") if noise is None else noise)
        self.metadata = check_metadata(metadata)

    def check_noise(self, noise, name="noise"):
        """Return ``noise`` if this network can run with it; raise naming ``name`` otherwise.

        Parameters
        ----------
        noise : Noise
            The noise model, checked by :func:`check_form_noise` with this network's form,
            dt and N.
        name : str
            Argument name used in the error messages.

        Returns
        -------
        Noise
            ``noise`` itself.

        Notes
        -----
        Validated once: a :class:`Noise` (frozen) that passed is remembered by identity, so
        the layers it is handed through (``noise_preference`` -> ``simulate`` -> a backend)
        do not check it again.
        """
        checked = self.__dict__.setdefault("_checked_noises", [])
        if any(n is noise for n in checked):
            return noise
        check_form_noise(noise, self.form, self.dt_seconds, self.n_hidden, name)
        if len(checked) < _CHECKED_NOISES:
            checked.append(noise)
        return noise

    def readout(self, states):
        """The outputs ``w_out r + b_out`` of states (``r = h`` in form "h", ``f(x)`` in form "x").

        Parameters
        ----------
        states : float array (..., N)
            Hidden states, e.g. ``simulate(...).states`` (T, B, N).

        Returns
        -------
        float64 array (..., n_out)
        """
        states = np.asarray(states, dtype=float)
        rates = get_activation(self.activation).numpy(states) if self.form == "x" else states
        return rates @ self.w_out.T + self.b_out

    # --- time -------------------------------------------------------------------------
    @property
    def tau(self):
        """Time constant as a Brian2 quantity."""
        return from_seconds(self.tau_seconds)

    @property
    def dt(self):
        """Time step as a Brian2 quantity."""
        return from_seconds(self.dt_seconds)

    @property
    def gamma(self):
        """dt / tau (dimensionless, in (0, 1))."""
        return self.dt_seconds / self.tau_seconds

    def replace(self, **changes):
        """A copy with some constructor arguments changed (e.g. ``noise=``, ``b=``).

        Parameters
        ----------
        **changes : constructor arguments
            New values of ``w_in``, ``w_rec``, ``b``, ``w_out``, ``b_out``, ``tau``,
            ``dt``, ``activation``, ``noise``, ``h0``, ``metadata`` or ``form`` (TypeError
            for other names).

        Returns
        -------
        CTRNNSpec
            A new, validated spec.
        """
        kwargs = dict(w_in=self.w_in, w_rec=self.w_rec, b=self.b, w_out=self.w_out,
                      b_out=self.b_out, tau=self.tau, dt=self.dt, activation=self.activation,
                      noise=self.noise, h0=self.h0, metadata=self.metadata, form=self.form)
        unknown = set(changes) - set(kwargs)
        if unknown:
            raise TypeError(f"unknown CTRNNSpec arguments: {sorted(unknown)}")
        kwargs.update(changes)
        return CTRNNSpec(**kwargs)

    def __eq__(self, other):
        if not isinstance(other, CTRNNSpec):
            return NotImplemented
        return (self._meta(with_metadata=True) == other._meta(with_metadata=True)
                and all(np.array_equal(getattr(self, k), getattr(other, k)) for k in _ARRAYS))

    __hash__ = None

    def __repr__(self):
        return (f"CTRNNSpec(n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}, "
                f"tau={self.tau!r}, dt={self.dt!r}, activation={self.activation!r}, "
                f"noise={self.noise!r}{', form=' + repr(self.form) if self.form != 'h' else ''})")

    # --- file format ------------------------------------------------------------------
    def _meta(self, with_metadata=True):
        meta = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "tau_s": self.tau_seconds,
            "dt_s": self.dt_seconds,
            "activation": self.activation,
            "noise": self.noise.to_dict(),
        }
        if self.form != "h":  # absent for h-form: files and hashes as before the field
            meta["form"] = self.form
        if with_metadata:
            meta["metadata"] = self.metadata
        return meta

    def content_hash(self):
        """SHA-256 hex digest of the weights and settings (not of ``metadata``).

        Returns
        -------
        str
            64 hexadecimal digits.
        """
        return content_hash(self._meta(with_metadata=False),
                            {k: getattr(self, k) for k in _ARRAYS})

    def save(self, path: str | os.PathLike) -> str:
        """Write the spec to ``path`` (.npz of plain arrays + JSON metadata), atomically.

        The file is written to a temporary name in the same folder and renamed, so an
        interrupted save never leaves a truncated file at ``path``. It gets the permissions
        a plain ``open()`` would give; a symlink is written through; a directory or other
        non-regular file (ValueError) and a read-only file (PermissionError) are refused
        (see :func:`brian_noisy_rnn.core.atomic.atomic_write`).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (conventionally ending in ``.npz``).

        Returns
        -------
        str
            ``path`` as a str.
        """
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        arrays["sigma"] = self.noise.sigma_array
        return save_spec_file(path, self._meta(), arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CTRNNSpec:
        """Read a spec written by :meth:`save` (no pickle is ever loaded).

        Parameters
        ----------
        path : str or os.PathLike
            The spec file.

        Returns
        -------
        CTRNNSpec

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If it is truncated, corrupt, not a spec file, of an unsupported version or holds
            an array that is not real-valued (complex or boolean; the message names the
            array).
        """
        meta, contents = load_spec_file(path, FILE_FORMAT, FILE_VERSION, "CTRNNSpec",
                                        allowed=(*_ARRAYS, "sigma"))
        path = os.fspath(path)
        missing = [k for k in (*_ARRAYS, "sigma") if k not in contents]
        if missing:
            raise ValueError(f"path: {path!r} lacks arrays {missing}")
        for field, kinds, expected in (("tau_s", (int, float), "a number"),
                                       ("dt_s", (int, float), "a number"),
                                       ("activation", str, "a str"), ("noise", dict, "a dict"),
                                       ("metadata", dict, "a dict"), ("form", str, "a str")):
            if field not in meta:
                if field in ("metadata", "form"):
                    continue
                raise ValueError(f"path: {path!r} lacks metadata field {field!r}")
            value = meta[field]
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ValueError(f"path: {path!r}: metadata field {field!r} must be {expected}, "
                                 f"got {type(value).__name__} {value!r:.80}")
        for k in (*_ARRAYS, "sigma"):
            if contents[k].dtype.kind not in "fiu":
                raise ValueError(f"path: {path!r}: array {k!r} must hold numbers, "
                                 f"got dtype {contents[k].dtype}")
        try:
            noise_d = dict(meta["noise"])
            noise_d["sigma"] = contents["sigma"]
            return cls(*(contents[k] for k in _ARRAYS[:5]),
                       tau=from_seconds(meta["tau_s"]), dt=from_seconds(meta["dt_s"]),
                       activation=meta["activation"], noise=Noise.from_dict(noise_d),
                       h0=contents["h0"], metadata=meta.get("metadata", {}),
                       form=meta.get("form", "h"))
        except KeyError as err:
            raise ValueError(f"path: {path!r} lacks metadata field {err}") from err
        except TypeError as err:  # e.g. a complex or boolean array in the file
            raise ValueError(f"path: {path!r} holds an invalid array: {err}") from err
        except ValueError as err:
            raise ValueError(f"path: {path!r} holds an invalid network: {err}") from err


def check_spec(spec, name="spec", forms=("h",)):
    """Return ``spec`` if it is a :class:`CTRNNSpec` of one of ``forms``; raise naming ``name``.

    Parameters
    ----------
    spec : object
        The value to check.
    name : str
        Argument name used in the error message.
    forms : tuple of str
        The network forms the caller handles (:data:`FORMS`); the default, h-form only,
        protects every computation written for the h-form step (fixed points, training,
        spiking realisations) from an x-form network (ValueError).

    Returns
    -------
    CTRNNSpec
        ``spec`` itself.
    """
    if not isinstance(spec, CTRNNSpec):
        raise TypeError(f"{name} must be a CTRNNSpec, got {type(spec).__name__}")
    if spec.form not in forms:
        raise ValueError(f"{name}: this computation is written for form {forms}, got an "
                         f"{spec.form}-form network (form={spec.form!r}, e.g. imported from a "
                         "toolkit that filters the state before f); simulate, RateCTRNN and "
                         "TorchCTRNN run it")
    return spec
