"""The backend contract (:class:`Backend`) and the registry of backends (:data:`BACKENDS`).

A backend is one object that knows how to run a :class:`~brian_noisy_rnn.CTRNNSpec`: a
subclass of :class:`Backend` registered under its name with :func:`register_backend`, as
Brian2's devices are (``brian2.devices.device.Device``, ``all_devices``). Everything above
this layer (:func:`~brian_noisy_rnn.simulate`, ``evaluate``, ``noise_preference``,
``closed_loop``) looks a backend up by name and calls its methods; none of it names a
backend. ``docs/add_a_backend.md`` shows a new backend end to end.

The built-in backends register themselves when their module is first imported
(``"numpy"``: :mod:`.reference`, ``"torch"``: :mod:`.torch_backend`, ``"brian2"``:
:mod:`.brian2.run`, ``"brian2-spiking"``: :mod:`.spiking.run`); the registry imports that
module on first use of the name, so ``import brian_noisy_rnn`` loads neither PyTorch nor
Brian2.
"""

from __future__ import annotations

import inspect

from ..core.registry import Registry

__all__ = ["BACKENDS", "Backend", "get_backend", "register_backend", "unregister_backend"]


class Backend:
    """One way of running a CTRNN: subclass it, set :attr:`name`, implement :meth:`run`.

    The optional methods have defaults that say "not available" (:meth:`stepper`) or
    "anything goes" (:meth:`supports`, :meth:`test_placement`).

    Attributes
    ----------
    name : str
        The name users pass as ``backend=`` (e.g. ``"numpy"``).
    """

    name: str = ""

    #: keyword arguments of :meth:`run` that are not user options
    internal_options = ("report",)

    def run(self, spec, inputs, noise, seed, **options):
        """Simulate ``spec`` (required).

        Called by :func:`~brian_noisy_rnn.simulate` with checked arguments, after
        :meth:`supports` accepted ``noise``.

        Parameters
        ----------
        spec : CTRNNSpec
            The network (already checked).
        inputs : float64 array (T, B, n_in)
            The inputs, time-major (already checked).
        noise : Noise
            The run's noise, compatible with ``spec`` (dt, N).
        seed : int or None
            Seed of the noise; with the same seed the built-in backends draw the same
            standard normals (:func:`~brian_noisy_rnn.core.dynamics.standard_normal`).
        **options : keyword arguments
            This backend's keyword options (checked by :meth:`check_options`).

        Returns
        -------
        outputs : float array (T, B, n_out)
            ``w_out h_t + b_out`` after each step.
        states : float array (T, B, N)
            Hidden state h after each step.
        """
        raise NotImplementedError(f"backend {self.name!r} does not implement run")

    def option_names(self):
        """The user options :meth:`run` takes: its keyword-only parameters.

        Returns
        -------
        list of str
            Sorted names (without :attr:`internal_options`).
        """
        params = inspect.signature(self.run).parameters.items()
        return sorted(n for n, p in params
                      if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in self.internal_options)

    def check_options(self, options, name="options"):
        """Check keyword options without running anything; the default checks their names.

        Override to check values too (call ``super().check_options`` first).

        Parameters
        ----------
        options : dict
            Keyword options for :meth:`run`.
        name : str
            How the options are named in error messages (e.g. a grid key).

        Returns
        -------
        dict
            ``options`` itself.

        Raises
        ------
        ValueError
            Naming the unknown option (or the invalid value).
        """
        known = self.option_names()
        for key in options:
            if key not in known:
                raise ValueError(f"{name}.{key}: unknown option of backend {self.name!r}; "
                                 f"known: {known}")
        return options

    def supports(self, noise):
        """Whether this backend can run ``noise`` (default: every noise model).

        Parameters
        ----------
        noise : Noise
            A test-noise model.

        Returns
        -------
        bool
        """
        return True

    def check_noise(self, noise):
        """Raise ValueError naming the backend if :meth:`supports` refuses ``noise``.

        Parameters
        ----------
        noise : Noise
            A test-noise model.

        Returns
        -------
        Noise
            ``noise`` itself.
        """
        if not self.supports(noise):
            raise ValueError(f"backend {self.name!r} cannot run noise={noise!r}")
        return noise

    def test_placement(self, options):
        """The placement test noise must have with these options, or None if any (default).

        Parameters
        ----------
        options : dict
            Keyword options for :meth:`run`.

        Returns
        -------
        str or None
            E.g. ``"pre"`` for the spiking backend's membrane noise.
        """
        return None

    def check_sweep(self, options):
        """Raise ValueError if sweeping the test sigma with these options would change nothing.

        Called by ``noise_preference`` before anything runs (default: every sweep is fine).

        Parameters
        ----------
        options : dict
            Keyword options for :meth:`run`.
        """

    # --- closed loop (optional) -------------------------------------------------------
    def stepper(self, spec, noise, n_trials, seed, **options):
        """A network that advances one step per call, for closed-loop play (optional).

        Parameters
        ----------
        spec : CTRNNSpec
            The network (checked).
        noise : Noise
            The noise (checked against spec).
        n_trials : int
            B, trials played side by side.
        seed : int
            Seed of the noise draws (row t of ``standard_normal(seed, T, B, N)`` at step t).
        **options : keyword arguments
            Backend options.

        Returns
        -------
        callable
            ``step(observations float64 (B, n_in)) -> outputs float64 (B, n_out)``.
        """
        raise NotImplementedError(f"backend {self.name!r} cannot run step by step")

    def play(self, trials, spec, noise, seed, **options):
        """Play ``trials`` to their end, one network step per environment step.

        The default calls :meth:`stepper` and feeds it; a backend whose simulator owns the
        time loop (Brian2) overrides this instead.

        Parameters
        ----------
        trials : SteppedTrials
            The environments (``observations`` (B, n_in), ``advance(outputs)``, ``done``,
            ``max_steps``, ``envs``).
        spec : CTRNNSpec
            The network (checked).
        noise : Noise
            The noise (checked against spec).
        seed : int
            Seed of the noise draws, as for :meth:`stepper`.
        **options : keyword arguments
            Backend options.
        """
        step = self.stepper(spec, noise, len(trials.envs), seed, **options)
        while not trials.done:
            trials.advance(step(trials.observations))

    @property
    def steps(self):
        """True if the backend runs closed loop (overrides :meth:`stepper` or :meth:`play`)."""
        cls = type(self)
        return cls.stepper is not Backend.stepper or cls.play is not Backend.play

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


#: The registered backends: a read-only mapping name -> :class:`Backend`; the built-ins are
#: imported on first access.
BACKENDS = Registry("backend", Backend, lazy={
    "numpy": "brian_noisy_rnn.backends.reference",
    "torch": "brian_noisy_rnn.backends.torch_backend",
    "brian2": "brian_noisy_rnn.backends.brian2.run",
    "brian2-spiking": "brian_noisy_rnn.backends.spiking.run",
})


def register_backend(backend, *, replace=False):
    """Make ``backend`` available to ``simulate`` and everything above it under its name.

    Parameters
    ----------
    backend : Backend
        An instance with a non-empty :attr:`~Backend.name`.
    replace : bool
        Allow replacing another backend of the same name.

    Returns
    -------
    Backend
        ``backend`` itself.

    Raises
    ------
    TypeError
        If ``backend`` is not a :class:`Backend`.
    ValueError
        If the name is empty or taken by another backend (and not ``replace``).
    """
    return BACKENDS.register(backend, replace=replace)


def unregister_backend(name):
    """Remove the backend registered as ``name`` (e.g. a test's); ValueError if there is none.

    Parameters
    ----------
    name : str
        The backend's name.
    """
    BACKENDS.unregister(name)


def get_backend(name):
    """The :class:`Backend` registered as ``name`` (importing a built-in one on first use).

    Parameters
    ----------
    name : str or Backend
        A registered name (a Backend is returned as it is).

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        Naming ``backend`` and the registered names.
    """
    return name if isinstance(name, Backend) else BACKENDS.lookup(name)
