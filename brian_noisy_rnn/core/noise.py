"""Noise models: where the noise enters the CTRNN step and which process generates it.

With ``gamma = dt / tau`` and ``xi ~ N(0, 1)`` drawn per neuron and per step, one step is

==============  =========  =======================================================================
placement       process    step ``h -> h'``
==============  =========  =======================================================================
``"none"``      --         ``(1 - gamma) h + gamma f(a)``
``"pre"``       white      ``(1 - gamma) h + gamma f(a + s xi)``                  (the paper's default)
``"post"``      white      ``(1 - gamma) h + gamma (f(a) + s xi)``
``"pre"``       ou         ``(1 - gamma) h + gamma f(a + eta)``, eta an Ornstein-Uhlenbeck process
``"post"``      ou         ``(1 - gamma) h + gamma (f(a) + eta)``
``"post"``      poisson    ``(1 - gamma) h + gamma (f(a) + s sqrt(max(f(a), 0)) xi)``
``"state"``     white      ``(1 - gamma) h + gamma f(a) + s xi``
==============  =========  =======================================================================

``s`` is the *per-step* amplitude of the noise where it enters (inside f, outside f, on the
state). How the ``sigma`` a user gives becomes ``s`` is the noise's
``scale`` (:data:`SCALES`, :func:`per_step_sigma`), so that networks imported from other
toolkits keep their source's convention:

=====================  ===========================  ===============================================
scale                  ``s``                        used by
=====================  ===========================  ===============================================
``"per_step"``         ``sigma``                    this package's "pre" and "post" (the paper's)
``"sqrt(2/alpha)"``    ``sqrt(2 / gamma) sigma``    NeuroGym's examples, Yang et al. 2019 (inside f)
``"sqrt(2*alpha)"``    ``sqrt(2 gamma) sigma``      this package's "state" noise; PsychRNN
``"alpha"``            ``gamma sigma``              nn4n's ``preact_noise`` (on the state)
=====================  ===========================  ===============================================

(``gamma = dt / tau``, called alpha by the toolkits.) The default scale is the placement's own:
``"sqrt(2*alpha)"`` for ``"state"`` (the Euler-Maruyama step above), ``"per_step"`` for the
others, so a noise built or loaded without a scale behaves as before.

The OU process has stationary standard deviation ``s`` and correlation time
``tau_noise`` and is advanced with its exact discretisation
``eta' = rho eta + s sqrt(1 - rho**2) xi``, ``rho = exp(-dt / tau_noise)``; it starts in
its stationary distribution (``eta_0 = s xi_0``). ``"state"`` noise with its default scale is the Euler-Maruyama
step of ``tau dh = (-h + f(a)) dt + sigma sqrt(2 tau) dW``: ``sigma`` is the stationary
standard deviation it gives a linear unit, independent of ``dt``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .noise_processes import NOISE_PROCESSES, get_noise_process
from .units import from_seconds, to_seconds
from .validation import as_dimensionless, check_choice

if TYPE_CHECKING:
    from brian2 import Quantity

PLACEMENTS = ("none", "pre", "post", "state")
#: how ``sigma`` becomes the per-step amplitude (see :func:`per_step_sigma`)
SCALES = ("per_step", "sqrt(2/alpha)", "sqrt(2*alpha)", "alpha")


def default_scale(placement):
    """The scale a :class:`Noise` at ``placement`` has when none is given.

    Parameters
    ----------
    placement : str
        One of :data:`PLACEMENTS`.

    Returns
    -------
    str
        ``"sqrt(2*alpha)"`` for ``"state"`` (its Euler-Maruyama definition), ``"per_step"``
        otherwise.
    """
    return "sqrt(2*alpha)" if placement == "state" else "per_step"


def per_step_sigma(sigma, scale, gamma):
    """The per-step noise amplitude ``s`` every backend uses, from ``sigma`` and its ``scale``.

    Parameters
    ----------
    sigma : float or float array (N,)
        The noise amplitude as given (dimensionless, >= 0).
    scale : str
        One of :data:`SCALES`.
    gamma : float
        ``dt / tau`` (the toolkits' alpha), in (0, 1].

    Returns
    -------
    float or float64 array (N,)
        ``sigma`` (``"per_step"``), ``sqrt(2/gamma) sigma``, ``sqrt(2 gamma) sigma`` or
        ``gamma sigma`` (``"alpha"``).

    Examples
    --------
    >>> round(per_step_sigma(0.1, "sqrt(2/alpha)", 0.02), 12)
    1.0
    """
    check_choice(scale, "scale", SCALES)
    if scale == "per_step":
        return sigma
    factor = {"sqrt(2/alpha)": np.sqrt(2.0 / gamma), "sqrt(2*alpha)": np.sqrt(2.0 * gamma),
              "alpha": gamma}[scale]
    return float(factor) * sigma


class _ProcessNames(Sequence):
    """Live tuple-like view of the registered process names (:data:`NOISE_PROCESSES`)."""

    def __getitem__(self, i):
        return tuple(NOISE_PROCESSES)[i]

    def __len__(self):
        return len(NOISE_PROCESSES)

    def __repr__(self):
        return repr(tuple(NOISE_PROCESSES))


class _Supported(Mapping):
    """Live view: placement -> the registered processes allowed there."""

    def __getitem__(self, placement):
        if placement not in PLACEMENTS:
            raise KeyError(placement)
        if placement == "none":
            return ("white",)
        return tuple(n for n, p in NOISE_PROCESSES.items() if placement in p.placements)

    def __iter__(self):
        return iter(PLACEMENTS)

    def __len__(self):
        return len(PLACEMENTS)

    def __repr__(self):
        return repr(dict(self))


#: the registered noise process names (a live view of :data:`NOISE_PROCESSES`)
PROCESSES = _ProcessNames()

#: which processes are defined at which placement (a live view of :data:`NOISE_PROCESSES`)
SUPPORTED = _Supported()


@dataclass(frozen=True, eq=False)
class Noise:
    """Where noise enters a CTRNN step and which random process generates it.

    Parameters
    ----------
    placement : {"none", "pre", "post", "state"}
        ``"pre"``: inside the activation, ``f(a + sigma*xi)``; ``"post"``: outside it,
        ``f(a) + sigma*xi``; ``"state"``: continuous-time additive noise on the state;
        ``"none"``: deterministic.
    sigma : float or float array (n_hidden,)
        Noise amplitude, dimensionless, >= 0: one value for all hidden neurons or one per
        neuron. Plain numbers or dimensionless Brian2 quantities; a quantity with dimensions
        (``0.5*mV``) raises Brian2's ``DimensionMismatchError``, booleans and complex
        numbers a TypeError.
    process : str
        A registered noise process (:data:`~.noise_processes.NOISE_PROCESSES`, allowed at
        this placement: :data:`SUPPORTED`). Built in: ``"white"``: drawn independently every step (the paper's convention: its variance
        does not scale with dt); ``"ou"``: Ornstein-Uhlenbeck noise with stationary std
        ``sigma`` and correlation time ``tau_noise``; ``"poisson"``: multiplicative,
        ``sigma*sqrt(max(f(a), 0))*xi`` (placement "post" only).
    tau_noise : Brian2 time quantity or None
        Correlation time of the OU process (e.g. ``20*ms``), >= dt; required for
        ``process="ou"`` (a process with ``needs_tau_noise``) only (None otherwise).
    scale : str or None
        How ``sigma`` becomes the per-step amplitude (:data:`SCALES`,
        :func:`per_step_sigma`): ``"per_step"``, ``"sqrt(2/alpha)"`` (NeuroGym's examples),
        ``"sqrt(2*alpha)"`` (PsychRNN) or ``"alpha"`` (nn4n); None: the placement's own
        (:func:`default_scale`).

    Examples
    --------
    >>> from brian2 import ms
    >>> Noise("pre", sigma=0.5)
    Noise('pre', sigma=0.5)
    >>> Noise("pre", sigma=0.5, process="ou", tau_noise=20*ms).tau_noise_seconds
    0.02
    >>> Noise("post", sigma=[0.1, 0.2]).sigma_vector(2)
    array([0.1, 0.2])
    """

    placement: str
    sigma: float | np.ndarray = 0.0
    process: str = "white"
    tau_noise: Quantity | None = None
    scale: str | None = None
    _sigma: np.ndarray = field(init=False, repr=False)
    _tau_noise_s: object = field(init=False, repr=False)

    def __post_init__(self):
        check_choice(self.placement, "placement", PLACEMENTS)
        check_choice(self.process, "process", PROCESSES)
        if self.scale is None:
            object.__setattr__(self, "scale", default_scale(self.placement))
        check_choice(self.scale, "scale", SCALES)
        if self.process not in SUPPORTED[self.placement]:
            raise ValueError(
                f"process={self.process!r} is not supported with placement="
                f"{self.placement!r}; supported processes there: {SUPPORTED[self.placement]}"
            )
        sigma = np.array(as_dimensionless(self.sigma, "sigma"))
        if sigma.ndim > 1 or sigma.shape == (0,):
            raise ValueError(f"sigma must be a scalar or shape (n_hidden,) with n_hidden >= 1, "
                             f"got shape {sigma.shape}")
        if not np.all(np.isfinite(sigma)):
            raise ValueError(f"sigma must be finite, got {self.sigma!r}")
        if np.any(sigma < 0):
            raise ValueError(f"sigma must be >= 0, got {self.sigma!r}")
        if self.placement == "none" and np.any(sigma != 0):
            raise ValueError(f"sigma={self.sigma!r} has no effect with placement='none'; give "
                             "placement 'pre', 'post' or 'state', or sigma=0")
        sigma.setflags(write=False)
        object.__setattr__(self, "_sigma", sigma)
        if get_noise_process(self.process).needs_tau_noise:
            if self.tau_noise is None:
                raise ValueError(f"tau_noise is required for process={self.process!r} (e.g. "
                                 "tau_noise=20*ms)")
            object.__setattr__(self, "_tau_noise_s", to_seconds(self.tau_noise, "tau_noise"))
        elif self.tau_noise is not None:
            raise ValueError(f"tau_noise is only used with process='ou', not {self.process!r}")
        else:
            object.__setattr__(self, "_tau_noise_s", None)

    # --- derived views ---------------------------------------------------------------
    @property
    def sigma_array(self):
        """sigma as a read-only float array: shape () for a scalar, (n_hidden,) per neuron."""
        return self._sigma

    @property
    def noise_process(self):
        """The registered :class:`~.noise_processes.NoiseProcess` of :attr:`process`."""
        return get_noise_process(self.process)

    @property
    def tau_noise_seconds(self):
        """tau_noise in seconds (float), or None if the process has none."""
        return self._tau_noise_s

    @property
    def is_active(self):
        """True if this noise draws random numbers (placement not "none" and sigma > 0 somewhere)."""
        return self.placement != "none" and bool(np.any(self._sigma > 0))

    @property
    def is_scalar(self):
        """True if sigma is one value for all neurons."""
        return self._sigma.ndim == 0

    def sigma_vector(self, n_hidden):
        """sigma broadcast to shape (n_hidden,) (float64); checks a per-neuron length.

        Parameters
        ----------
        n_hidden : int
            Number of hidden units; ValueError if a per-neuron sigma has another length.

        Returns
        -------
        float64 array (n_hidden,)
        """
        if self._sigma.ndim == 1 and self._sigma.shape[0] != n_hidden:
            raise ValueError(
                f"sigma has {self._sigma.shape[0]} values but the network has {n_hidden} "
                "hidden neurons"
            )
        return np.broadcast_to(self._sigma, (n_hidden,)).astype(float)

    def check_compatible(self, dt_seconds, n_hidden):
        """Raise ValueError if this noise cannot run at step ``dt_seconds`` with ``n_hidden`` units.

        Parameters
        ----------
        dt_seconds : float
            The network's time step in seconds (an OU ``tau_noise`` must be >= dt).
        n_hidden : int
            Number of hidden units (a per-neuron sigma must have this length).
        """
        self.sigma_vector(n_hidden)
        self.noise_process.check_compatible(self, dt_seconds)

    def with_sigma(self, sigma):
        """A copy of this noise model with another sigma (same placement and process).

        Parameters
        ----------
        sigma : float or float array (n_hidden,)
            The new noise amplitude, dimensionless, >= 0.

        Returns
        -------
        Noise
        """
        return Noise(self.placement, sigma, process=self.process, tau_noise=self.tau_noise,
                     scale=self.scale)

    def per_step_sigma_vector(self, n_hidden, gamma):
        """The per-step amplitude ``s`` (:func:`per_step_sigma`) of every hidden unit.

        Parameters
        ----------
        n_hidden : int
            Number of hidden units (as in :meth:`sigma_vector`).
        gamma : float
            ``dt / tau`` of the network.

        Returns
        -------
        float64 array (n_hidden,)
        """
        return np.asarray(per_step_sigma(self.sigma_vector(n_hidden), self.scale, gamma),
                          dtype=float)

    def scalar_sigma(self):
        """sigma as a float (the mean over neurons for per-neuron sigma)."""
        return float(np.mean(self._sigma))

    # --- (de)serialisation -------------------------------------------------------------
    def to_dict(self):
        """A JSON-compatible description (sigma as float or list, tau_noise in seconds).

        Returns
        -------
        dict
            Keys ``placement``, ``sigma``, ``process`` and ``tau_noise_s`` (seconds or None),
            and ``scale`` if it is not the placement's default (so that files and content
            hashes of noise without a scale are as before).
        """
        out = {
            "placement": self.placement,
            "sigma": self._sigma.tolist(),
            "process": self.process,
            "tau_noise_s": self._tau_noise_s,
        }
        if self.scale != default_scale(self.placement):
            out["scale"] = self.scale
        return out

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As written by :meth:`to_dict` (``sigma``, ``process``, ``tau_noise_s`` and
            ``scale`` may be missing); ValueError for unknown keys or a non-dict.

        Returns
        -------
        Noise
        """
        if not isinstance(d, dict):
            raise ValueError(f"noise description must be a dict, got {type(d).__name__}")
        unknown = set(d) - {"placement", "sigma", "process", "tau_noise_s", "scale"}
        if unknown:
            raise ValueError(f"unknown keys in noise description: {sorted(unknown)}")
        tau = d.get("tau_noise_s")
        return cls(
            d["placement"],
            d.get("sigma", 0.0),
            process=d.get("process", "white"),
            tau_noise=None if tau is None else from_seconds(tau),
            scale=d.get("scale"),
        )

    def __eq__(self, other):
        if not isinstance(other, Noise):
            return NotImplemented
        return (
            self.placement == other.placement
            and self.process == other.process
            and self.scale == other.scale
            and self._tau_noise_s == other._tau_noise_s
            and self._sigma.shape == other._sigma.shape
            and bool(np.all(self._sigma == other._sigma))
        )

    __hash__ = None

    def __repr__(self):
        s = self._sigma.tolist() if self._sigma.ndim == 0 else f"array(shape={self._sigma.shape})"
        extra = f", process={self.process!r}" if self.process != "white" else ""
        if self.tau_noise is not None:
            extra += f", tau_noise={self.tau_noise!r}"
        if self.scale != default_scale(self.placement):
            extra += f", scale={self.scale!r}"
        return f"Noise({self.placement!r}, sigma={s}{extra})"


def as_noise(noise, name="noise"):
    """Return ``noise`` if it is a :class:`Noise`; raise TypeError naming ``name`` otherwise.

    Parameters
    ----------
    noise : object
        The value to check.
    name : str
        Argument name used in the error message.

    Returns
    -------
    Noise
        ``noise`` itself.
    """
    if not isinstance(noise, Noise):
        raise TypeError(f"{name} must be a brian_noisy_rnn.Noise, got {type(noise).__name__}")
    return noise
