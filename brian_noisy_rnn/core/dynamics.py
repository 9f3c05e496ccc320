"""The CTRNN step, written once for numpy arrays and torch tensors alike.

The numpy reference backend and :class:`~brian_noisy_rnn.bridges.TorchCTRNN` both call
:func:`rollout`; only the array library differs (passed as a small ``ops`` namespace).
The Brian2 implementation writes the same equations as Brian2 model strings
(:mod:`brian_noisy_rnn.backends.brian2.rate_network`).
"""

import functools
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .activations import get_activation
from .noise_processes import get_noise_process


@dataclass(frozen=True)
class StepRule:
    """The numbers one step needs, derived from a spec and a noise model.

    Attributes
    ----------
    gamma : float
        dt / tau (dimensionless).
    placement : str
        Where the noise enters, as in :class:`~brian_noisy_rnn.Noise`.
    process : str
        Which process generates it, as in :class:`~brian_noisy_rnn.Noise`.
    sigma : float64 array (N,)
        Per-step noise amplitude ``s`` of each hidden unit (the noise's sigma in its scale,
        :func:`~brian_noisy_rnn.core.noise.per_step_sigma`).
    rho : float
        The process's per-step memory (:meth:`NoiseProcess.decay
        <brian_noisy_rnn.core.noise_processes.NoiseProcess.decay>`: OU
        ``exp(-dt / tau_noise)``, 0 for memoryless processes).
    active : bool
        Whether any random numbers are needed.
    """

    gamma: float
    placement: str
    process: str
    sigma: np.ndarray
    rho: float
    active: bool

    @property
    def noise_process(self):
        """The registered :class:`~.noise_processes.NoiseProcess` of :attr:`process`."""
        return get_noise_process(self.process)

    @classmethod
    def from_spec(cls, spec, noise=None):
        """Build the rule for ``spec`` with ``noise`` (default: ``spec.noise``), both checked.

        Parameters
        ----------
        spec : CTRNNSpec
            Gives dt, tau and N.
        noise : Noise or None
            The noise model; None for ``spec.noise``.

        Returns
        -------
        StepRule
        """
        noise = spec.noise if noise is None else noise
        return cls.from_settings(spec.dt_seconds, spec.tau_seconds, spec.n_hidden, noise)

    @classmethod
    def from_settings(cls, dt_seconds, tau_seconds, n_hidden, noise):
        """Build the rule from dt and tau in seconds, N and a :class:`Noise`.

        Parameters
        ----------
        dt_seconds : float
            Time step in seconds.
        tau_seconds : float
            Time constant in seconds.
        n_hidden : int
            Number of hidden units N.
        noise : Noise
            The noise model.

        Returns
        -------
        StepRule
        """
        rho = noise.noise_process.decay(dt_seconds, noise)
        gamma = dt_seconds / tau_seconds
        return cls(gamma, noise.placement, noise.process,
                   noise.per_step_sigma_vector(n_hidden, gamma), rho, noise.is_active)


NUMPY_OPS = SimpleNamespace(relu=lambda x: np.maximum(x, 0.0), sqrt=np.sqrt, stack=np.stack,
                            module=np)


def torch_ops():
    """The ``ops`` namespace for torch tensors.

    Returns
    -------
    types.SimpleNamespace
        ``relu``, ``sqrt``, ``stack`` and ``module`` (torch), like :data:`NUMPY_OPS`.
    """
    import torch

    return SimpleNamespace(relu=torch.relu, sqrt=torch.sqrt, stack=torch.stack, module=torch)


def next_noise_sample(prev, xi_t, sigma, rule, first):
    """The additive noise sample of this step (shape (B, N)): the process's recurrence.

    :meth:`NoiseProcess.sample <brian_noisy_rnn.core.noise_processes.NoiseProcess.sample>`:
    white/poisson: ``sigma * xi_t``; OU: ``sigma * xi_0`` at the first step (stationary
    start), then ``rho * prev + sigma * sqrt(1 - rho**2) * xi_t`` (exact discretisation).

    Parameters
    ----------
    prev : array (B, N) or None
        The previous step's sample (unused at the first step and for white/poisson).
    xi_t : array (B, N)
        This step's standard normal draws.
    sigma : array (N,)
        Noise amplitude per hidden unit (numpy array or torch tensor, like ``xi_t``).
    rule : StepRule
        Gives the process and ``rho``.
    first : bool
        Whether this is the first step.

    Returns
    -------
    array (B, N)
        The noise sample ``n`` passed to :func:`step`.
    """
    return rule.noise_process.sample(prev, xi_t, sigma, rule, first)


def step(h, a, n, rule, f, ops):
    """One CTRNN step ``h -> h'`` given pre-activation ``a`` and noise sample ``n``.

    Parameters
    ----------
    h : array (B, N)
        The state before the step.
    a : array (B, N)
        The pre-activation ``w_rec h + w_in u + b``.
    n : array (B, N) or None
        The noise sample (:func:`next_noise_sample`); ignored when the rule is inactive.
    rule : StepRule
        gamma, placement, process and whether noise is active.
    f : callable
        The activation (numpy or torch callable).
    ops : types.SimpleNamespace
        :data:`NUMPY_OPS` or :func:`torch_ops`.

    Returns
    -------
    array (B, N)
        The state after the step.
    """
    g = rule.gamma
    if not rule.active:
        return (1.0 - g) * h + g * f(a)
    if rule.placement == "pre":
        return (1.0 - g) * h + g * f(a + n)
    fa = f(a)
    if rule.placement == "post":
        return (1.0 - g) * h + g * (fa + rule.noise_process.outside(n, fa, ops))
    if rule.placement == "state":
        return (1.0 - g) * h + g * fa + n
    raise AssertionError(f"unhandled placement {rule.placement!r}")


def _identity(v):
    return v


def rollout(params, inputs, rule, activation, ops, xi=None, h0=None, form="h"):
    """Run the network over time.

    Form "h" filters the rate, ``h' = step(h, w_rec h + w_in u + b)`` with f inside
    :func:`step`; form "x" filters the state before f,
    ``x' = (1 - gamma) x + gamma (w_rec f(x) + w_in u + b)`` (+ state noise), which is
    :func:`step` with the identity for f applied to ``a = w_rec f(x) + w_in u + b``, and
    reads out ``w_out f(x) + b_out``.

    Parameters
    ----------
    params : mapping of str to array
        ``w_in`` (N, n_in), ``w_rec`` (N, N), ``b`` (N,), ``w_out`` (n_out, N),
        ``b_out`` (n_out,), ``h0`` (N,) as numpy arrays or torch tensors (one library
        throughout).
    inputs : float array (T, B, n_in)
        The inputs, time-major (same library as ``params``).
    rule : StepRule
        The numbers one step needs.
    activation : str
        The activation's name.
    ops : types.SimpleNamespace
        :data:`NUMPY_OPS` or :func:`torch_ops`.
    xi : float array (T, B, N) or None
        Standard normal draws, required if ``rule.active``.
    h0 : float array (B, N) or (N,), or None
        Initial state overriding ``params["h0"]``.
    form : {"h", "x"}
        The network form (see :class:`~brian_noisy_rnn.CTRNNSpec`); "x" takes noise placement
        "none" or "state" only (checked by the spec).

    Returns
    -------
    outputs : float array (T, B, n_out)
        ``outputs[t] = w_out states[t] + b_out`` (``w_out f(states[t]) + b_out`` in form "x").
    states : float array (T, B, N)
        ``states[t]`` is h (x in form "x") after the step that consumed ``inputs[t]``.
    """
    act = get_activation(activation)
    f = act.torch if ops.module is not np else act.numpy
    rate = f if form == "x" else _identity  # what w_rec and w_out read
    f_step = _identity if form == "x" else f
    T = inputs.shape[0]
    h = params["h0"] if h0 is None else h0
    h = h + 0.0 * inputs[0, :, :1]  # broadcast to (B, N) in either library
    drive = inputs @ params["w_in"].T + params["b"]  # (T, B, N)
    w_rec_t = params["w_rec"].T
    sigma = rule.sigma
    if rule.active:
        if xi is None:
            raise ValueError("xi (standard normal draws of shape (T, B, N)) is required with noise")
        if ops.module is not np:
            sigma = ops.module.as_tensor(sigma, dtype=h.dtype, device=h.device)
    states = []
    n = None
    for t in range(T):
        a = rate(h) @ w_rec_t + drive[t]
        if rule.active:
            n = next_noise_sample(n, xi[t], sigma, rule, first=(t == 0))
        h = step(h, a, n, rule, f_step, ops)
        states.append(h)
    states = ops.stack(states)
    outputs = rate(states) @ params["w_out"].T + params["b_out"]
    return outputs, states


def standard_normal(seed, n_steps, n_trials, n_hidden):
    """The standard normal draws every backend uses for a seed: shape (T, B, N), float64.

    Equal, bit for bit, to what Brian2's ``randn()`` gives a NeuronGroup of B*N neurons
    (index ``b*N + i``) after ``brian2.seed(seed)``: ``RandomState(seed).randn(T, B*N)``.

    Parameters
    ----------
    seed : int or None
        Seed of ``numpy.random.RandomState``; None draws fresh entropy.
    n_steps : int
        Number of time steps T.
    n_trials : int
        Number of trials B.
    n_hidden : int
        Number of hidden units N.

    Returns
    -------
    float64 array (T, B, N)
        The draws.
    """
    if seed is None:
        return _draw(None, n_steps, n_trials, n_hidden)
    # a noise-preference sweep draws the same stream at every sigma (and for every network of
    # a grid): keep the last one instead of drawing it again (a copy: callers may modify it)
    return _last_draw(int(seed), n_steps, n_trials, n_hidden).copy()


def _draw(seed, n_steps, n_trials, n_hidden):
    rs = np.random.RandomState(seed)
    return rs.randn(n_steps, n_trials * n_hidden).reshape(n_steps, n_trials, n_hidden)


@functools.lru_cache(maxsize=1)
def _last_draw(seed, n_steps, n_trials, n_hidden):
    xi = _draw(seed, n_steps, n_trials, n_hidden)
    xi.flags.writeable = False
    return xi
