"""Noise processes as registered objects: everything one process means, in one class.

A :class:`NoiseProcess` holds the process's sample recurrence (numpy and torch alike), its
Brian2 equation fragment, what the stationary analysis needs to know about it, its label and
the placements it allows. :class:`~brian_noisy_rnn.Noise` accepts any registered process
(``Noise("post", 0.5, process=name)``); the step (:mod:`.dynamics`), the Brian2 equations
(:mod:`brian_noisy_rnn.backends.brian2.equations`), the stationary statistics
(:mod:`brian_noisy_rnn.analysis.stationary`), the CLI choices and the reports read it from
:data:`NOISE_PROCESSES`. ``docs/add_a_noise_process.md`` adds one end to end.

Built in: ``"white"`` (:class:`WhiteNoise`), ``"ou"`` (:class:`OUNoise`) and ``"poisson"``
(:class:`PoissonNoise`).

The placements (where a sample enters the step) are fixed, with these labels:
:data:`PLACEMENT_LABELS`.
"""

from __future__ import annotations

import numpy as np

from .registry import Registry
from .validation import check_choice

__all__ = ["NOISE_PROCESSES", "NoiseProcess", "OUNoise", "PLACEMENT_LABELS", "PoissonNoise",
           "WhiteNoise", "get_noise_process", "placement_label", "register_noise_process",
           "unregister_noise_process"]

#: where noise enters the step -> how reports and figures name it
PLACEMENT_LABELS = {
    "none": "no noise",
    "pre": "inside f",
    "post": "outside f",
    "state": "on the state",
}


def placement_label(placement):
    """How reports name ``placement`` (e.g. ``"inside f"`` for ``"pre"``); unknown ones as given.

    Parameters
    ----------
    placement : str
        A placement ("none", "pre", "post", "state").

    Returns
    -------
    str
    """
    return PLACEMENT_LABELS.get(placement, placement)


class NoiseProcess:
    """The random process that generates a noise sample: subclass it and register an instance.

    One step's additive sample ``n`` (shape (B, N)) comes from the standard normal draws
    ``xi`` (one per neuron and step, the stream every backend shares) through
    :meth:`sample`; the placement then adds it inside f (``f(a + n)``), outside f
    (``f(a) + outside(n, f(a))``) or to the state (``n``, the per-step amplitude).

    Attributes
    ----------
    name : str
        The name ``Noise(..., process=name)`` takes; a Python identifier (it also names
        Brian2 objects).
    label : str
        How reports and figures name it.
    placements : tuple of str
        The placements (of "pre", "post", "state") it may be used with.
    needs_tau_noise : bool
        Whether ``Noise.tau_noise`` (a correlation time >= dt) is required (and allowed).
    rate_scaled : bool
        Outside f, the sample is multiplied by ``sqrt(max(f(a), 0))`` (Poisson-like
        variability): in the step, the Brian2 equations and the stationary variance.
    independent_steps : bool
        Samples of different steps are independent and add linearly (the linear-noise
        covariance and the Gaussian closure of the stationary analysis apply).
    gaussian : bool
        Each sample is N(0, sigma**2) (the mean field inside f averages f over it).
    stacked : bool
        The training ensemble (``StackedCTRNN``) can precompute its samples (through
        :meth:`sample`); False refuses training with it.
    memoryless : bool
        A step's sample depends on no earlier step: :meth:`sample` ignores ``prev`` and
        ``first`` and works elementwise, so it can take every step's draws (T, B, N) at once
        and ``TorchCTRNN.step`` can run the process. By default True exactly when
        :meth:`sample` is not overridden (``sigma * xi_t``); a subclass that overrides it
        with a memoryless sample may declare ``memoryless = True``.
    brian2_variables : str
        Model-string lines of the hidden group's noise variables (may use ``randn()``).
    brian2_update : str or None
        Code run on the hidden group before each state update (``run_regularly`` in slot
        ``before_groups``), or None.
    """

    name = ""
    label = ""
    placements = ("pre", "post")
    needs_tau_noise = False
    rate_scaled = False
    independent_steps = True
    gaussian = True
    stacked = False
    brian2_variables = "eta = randn() : 1 (constant over dt)\n"
    brian2_update = None

    @property
    def memoryless(self):
        """Whether a step's sample depends on no earlier step (see the class docstring)."""
        return type(self).sample is NoiseProcess.sample

    # --- the sample recurrence (numpy and torch alike) --------------------------------
    def decay(self, dt_seconds, noise):
        """Per-step memory of the process, stored as ``StepRule.rho`` (0: none).

        Parameters
        ----------
        dt_seconds : float
            The time step in seconds.
        noise : Noise
            The noise model (e.g. its ``tau_noise_seconds``).

        Returns
        -------
        float
        """
        return 0.0

    def sample(self, prev, xi_t, sigma, rule, first):
        """The additive sample of this step (default: ``sigma * xi_t``).

        Parameters
        ----------
        prev : array (B, N) or None
            The previous step's sample (None at the first step).
        xi_t : array (B, N)
            This step's standard normal draws (numpy array or torch tensor).
        sigma : array (N,)
            Noise amplitude per hidden unit (same library as ``xi_t``).
        rule : StepRule
            Gives ``gamma`` and ``rho`` (:meth:`decay`).
        first : bool
            Whether this is the first step.

        Returns
        -------
        array (B, N)
        """
        return sigma * xi_t

    def outside(self, n, fa, ops):
        """The term added to ``f(a)`` outside f (``n``, times ``sqrt(max(fa, 0))`` if rate-scaled).

        Parameters
        ----------
        n : array (B, N)
            The sample (:meth:`sample`).
        fa : array (B, N)
            ``f(a)``.
        ops : types.SimpleNamespace
            ``relu`` and ``sqrt`` of the array library (:data:`~.dynamics.NUMPY_OPS`).

        Returns
        -------
        array (B, N)
        """
        return n * ops.sqrt(ops.relu(fa)) if self.rate_scaled else n

    def check_compatible(self, noise, dt_seconds):
        """Raise ValueError if ``noise`` cannot run at step ``dt_seconds`` (default: it can).

        Parameters
        ----------
        noise : Noise
            A noise model of this process.
        dt_seconds : float
            The network's time step in seconds.
        """

    # --- Brian2 -----------------------------------------------------------------------
    def brian2_sample(self, fa):
        """The Brian2 expression of the sample (uses ``sigma`` and :attr:`brian2_variables`).

        Parameters
        ----------
        fa : str
            The name of ``f(a)`` in the model (for rate-scaled noise outside f).

        Returns
        -------
        str
        """
        if self.rate_scaled:
            return f"sigma*sqrt(clip({fa}, 0, inf))*eta"
        return "sigma*eta"

    def brian2_constants(self, rule):
        """The shared constants of this process on the hidden group (default: none).

        ``RateCTRNN`` sets them when it is built or its noise changes (:meth:`brian2_setup`),
        and a compiled standalone project takes them as run arguments, so they must be
        declared ``(constant, shared)`` in :attr:`brian2_variables`.

        Parameters
        ----------
        rule : StepRule
            The run's step rule (``rho`` from :meth:`decay`).

        Returns
        -------
        dict of str to float
            Variable name -> value.
        """
        return {}

    def brian2_setup(self, group, rule):
        """Set this process's constants (:meth:`brian2_constants`) on the hidden group.

        Parameters
        ----------
        group : brian2.NeuronGroup
            The hidden group (B*N neurons).
        rule : StepRule
            The run's step rule (``rho`` from :meth:`decay`).
        """
        for name, value in self.brian2_constants(rule).items():
            setattr(group, name, value)

    def brian2_reset(self, group):
        """Restart the process on the hidden group (default: nothing to restart).

        Parameters
        ----------
        group : brian2.NeuronGroup
            The hidden group.
        """

    # --- stationary statistics ----------------------------------------------------------
    def step_variance(self, sigma, mean_f):
        """Variance of one step's noise term outside f (placement "post"; needs independent steps).

        Parameters
        ----------
        sigma : float64 array (N,)
            Noise amplitude per unit.
        mean_f : float64 array (N,)
            The mean of ``f(a)`` per unit.

        Returns
        -------
        float64 array (N,)
            ``sigma**2`` (times ``max(mean_f, 0)`` if rate-scaled).
        """
        var = np.asarray(sigma, dtype=float) ** 2
        return var * np.maximum(mean_f, 0.0) if self.rate_scaled else var

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


class WhiteNoise(NoiseProcess):
    """``"white"``: a fresh ``sigma * xi`` every step (the paper's convention)."""

    name = "white"
    label = "white"
    placements = ("pre", "post", "state")
    stacked = True


class OUNoise(NoiseProcess):
    """``"ou"``: Ornstein-Uhlenbeck noise, stationary std ``sigma``, correlation ``tau_noise``.

    Exact discretisation ``eta' = rho eta + sigma sqrt(1 - rho**2) xi``, ``rho =
    exp(-dt / tau_noise)``, from the stationary start ``eta_0 = sigma xi_0``.
    """

    name = "ou"
    label = "Ornstein-Uhlenbeck"
    needs_tau_noise = True
    independent_steps = False
    stacked = True
    brian2_variables = ("eta : 1\nou_started : 1\n"
                        "ou_rho : 1 (constant, shared)\nou_scale : 1 (constant, shared)\n")
    #: first step (ou_started == 0): eta = sigma*xi; later: eta = rho*eta + sigma*sqrt(1-rho^2)*xi
    brian2_update = ("ou_xi = randn()\n"
                     "eta = ou_started*ou_rho*eta + sigma*(ou_started*ou_scale + (1 - ou_started))"
                     "*ou_xi\nou_started = 1\n")

    def decay(self, dt_seconds, noise):
        """``exp(-dt / tau_noise)``.

        Parameters
        ----------
        dt_seconds : float
            The time step in seconds.
        noise : Noise
            Gives ``tau_noise_seconds``.

        Returns
        -------
        float
        """
        return float(np.exp(-dt_seconds / noise.tau_noise_seconds))

    def sample(self, prev, xi_t, sigma, rule, first):
        """``sigma xi_0`` at the first step, then ``rho prev + sigma sqrt(1 - rho**2) xi_t``.

        Parameters
        ----------
        prev : array (B, N) or None
            The previous sample.
        xi_t : array (B, N)
            This step's standard normal draws.
        sigma : array (N,)
            Stationary std per unit.
        rule : StepRule
            Gives ``rho``.
        first : bool
            Whether this is the first step.

        Returns
        -------
        array (B, N)
        """
        if first:
            return sigma * xi_t
        return rule.rho * prev + (sigma * float(np.sqrt(1.0 - rule.rho ** 2))) * xi_t

    def check_compatible(self, noise, dt_seconds):
        """``tau_noise`` must be >= dt.

        Parameters
        ----------
        noise : Noise
            An OU noise model.
        dt_seconds : float
            The time step in seconds.
        """
        if noise.tau_noise_seconds < dt_seconds:
            from .units import from_seconds

            raise ValueError(f"tau_noise ({noise.tau_noise}) must be >= dt "
                             f"({from_seconds(dt_seconds)}) for process='ou'")

    def brian2_sample(self, fa):
        """``eta`` (a state variable advanced by :attr:`brian2_update`).

        Parameters
        ----------
        fa : str
            Unused.

        Returns
        -------
        str
        """
        return "eta"

    def brian2_constants(self, rule):
        """``ou_rho`` (``rho``) and ``ou_scale`` (``sqrt(1 - rho**2)``).

        Parameters
        ----------
        rule : StepRule
            Gives ``rho``.

        Returns
        -------
        dict of str to float
        """
        return {"ou_rho": rule.rho, "ou_scale": float(np.sqrt(1.0 - rule.rho ** 2))}

    def brian2_reset(self, group):
        """Back to the stationary start (``eta = 0``, ``ou_started = 0``).

        Parameters
        ----------
        group : brian2.NeuronGroup
            The hidden group.
        """
        group.eta = 0.0
        group.ou_started = 0.0


class PoissonNoise(NoiseProcess):
    """``"poisson"``: ``sigma sqrt(max(f(a), 0)) xi`` outside f (spike-count-like variability)."""

    name = "poisson"
    label = "Poisson"
    placements = ("post",)
    rate_scaled = True
    independent_steps = False  # its variance depends on the state: no linear-noise closure
    gaussian = False
    stacked = True


#: The registered noise processes: a read-only mapping name -> :class:`NoiseProcess`, in
#: registration order.
NOISE_PROCESSES = Registry("process", NoiseProcess)


def register_noise_process(process, *, replace=False):
    """Make ``process`` available as ``Noise(..., process=process.name)`` everywhere.

    Parameters
    ----------
    process : NoiseProcess
        An instance with a name that is a Python identifier and placements among "pre",
        "post", "state".
    replace : bool
        Allow replacing another process of the same name.

    Returns
    -------
    NoiseProcess
        ``process`` itself.

    Raises
    ------
    TypeError
        If ``process`` is not a :class:`NoiseProcess`.
    ValueError
        For an invalid name or placement, or a name taken (and not ``replace``).
    """
    name = getattr(process, "name", None)
    if isinstance(process, NoiseProcess) and not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"process.name must be a Python identifier, got {name!r}")
    placements = tuple(getattr(process, "placements", ()))
    if isinstance(process, NoiseProcess) and not placements:
        raise ValueError(f"process {name!r}: placements must name at least one placement")
    for p in placements:
        check_choice(p, f"process {name!r}: placements", ("pre", "post", "state"))
    return NOISE_PROCESSES.register(process, replace=replace)


def unregister_noise_process(name):
    """Remove the process registered as ``name`` (e.g. a test's); ValueError if there is none.

    Parameters
    ----------
    name : str
        The process's name.
    """
    NOISE_PROCESSES.unregister(name)


def get_noise_process(name):
    """The :class:`NoiseProcess` registered as ``name``.

    Parameters
    ----------
    name : str
        A registered name ("white", "ou", "poisson", ...).

    Returns
    -------
    NoiseProcess

    Raises
    ------
    ValueError
        Naming ``process`` and the registered names.
    """
    return NOISE_PROCESSES.lookup(name)


for _process in (WhiteNoise(), OUNoise(), PoissonNoise()):
    register_noise_process(_process)
del _process
