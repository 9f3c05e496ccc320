"""``TorchCTRNN``: the CTRNN as a PyTorch ``nn.Module`` (same equations as the spec)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..core.activations import get_activation
from ..core.dynamics import StepRule, next_noise_sample, rollout, standard_normal, torch_ops
from ..core.dynamics import step as dynamics_step
from ..core.noise import Noise, as_noise
from ..core.spec import FORMS, CTRNNSpec, NetworkShape, check_form_noise, check_spec
from ..core.units import check_time_constants, from_seconds
from ..core.validation import check_choice, check_int
from .backend import Backend, register_backend
from .stepper import ArrayStepper

if TYPE_CHECKING:
    from brian2 import Quantity

_PARAMS = ("w_in", "w_rec", "b", "w_out", "b_out")


class TorchCTRNN(NetworkShape, nn.Module):
    """A continuous-time rate RNN with configurable noise placement, in PyTorch.

    Parameters
    ----------
    n_in : int
        Number of inputs, >= 1.
    n_hidden : int
        Number of hidden units N, >= 1.
    n_out : int
        Number of outputs, >= 1.
    tau : Brian2 time quantity
        Time constant (e.g. ``100*ms``); dt <= tau.
    dt : Brian2 time quantity
        Time step (e.g. ``20*ms``).
    activation : str
        A registered activation name ("relu", "softplus", "tanh", ...).
    noise : Noise or None
        The training noise (None: no noise).
    rec_gain : float
        Recurrent weights start as N(0, rec_gain**2 / n_hidden).
    seed : int or None
        Seeds the weight initialisation.
    dtype : torch.dtype
        Of the parameters (float32 by default).
    form : {"h", "x"}
        The network form (see :class:`~brian_noisy_rnn.CTRNNSpec`): "h" filters the rate
        (the default, as trained here), "x" the state before f (imported networks).

    Attributes
    ----------
    w_in : nn.Parameter (N, n_in)
        Input weights, initially U[-1/sqrt(n_in), 1/sqrt(n_in)].
    w_rec : nn.Parameter (N, N)
        Recurrent weights.
    b : nn.Parameter (N,)
        Hidden biases, initially 0.
    w_out : nn.Parameter (n_out, N)
        Readout weights, initially U[-1/sqrt(N), 1/sqrt(N)].
    b_out : nn.Parameter (n_out,)
        Readout biases, initially 0.
    h0 : tensor (N,)
        Initial state (a buffer; zeros unless copied from a spec).
    tau_seconds : float
        tau in seconds.
    dt_seconds : float
        dt in seconds.
    activation : str
        The activation's registry name.
    noise : Noise
        The training noise.
    form : str
        "h" or "x".
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, *, tau: Quantity, dt: Quantity,
                 activation: str = "relu", noise: Noise | None = None, rec_gain: float = 0.5,
                 seed: int | None = None, dtype: torch.dtype = torch.float32,
                 form: str = "h") -> None:
        super().__init__()
        self.form = check_choice(form, "form", FORMS)
        for name, v in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)):
            check_int(v, name)
        self.tau_seconds, self.dt_seconds = check_time_constants(tau, dt)
        self.activation = get_activation(activation).name
        # no noise fits every network: only a given noise is checked
        self.noise = Noise("none") if noise is None else self._check_noise(noise, int(n_hidden))
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None

        def uniform(shape, bound):
            return (torch.rand(shape, generator=gen, dtype=dtype) * 2 - 1) * bound

        self.w_in = nn.Parameter(uniform((n_hidden, n_in), 1.0 / np.sqrt(n_in)))
        self.w_rec = nn.Parameter(
            torch.randn((n_hidden, n_hidden), generator=gen, dtype=dtype) * rec_gain / np.sqrt(n_hidden))
        self.b = nn.Parameter(torch.zeros(n_hidden, dtype=dtype))
        self.w_out = nn.Parameter(uniform((n_out, n_hidden), 1.0 / np.sqrt(n_hidden)))
        self.b_out = nn.Parameter(torch.zeros(n_out, dtype=dtype))
        self.register_buffer("h0", torch.zeros(n_hidden, dtype=dtype))

    def forward(self, inputs: torch.Tensor | np.ndarray, h0: torch.Tensor | None = None, *,
                noise: Noise | None = None, xi: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        inputs : tensor or float array (T, B, n_in)
            Any floating dtype; cast to the module's dtype (e.g. float32 batches of
            ``neurogym.Dataset`` run on a float64 module from :meth:`from_spec`), on the
            parameters' device.
        h0 : tensor or float array (B, N) or (N,), or None
            Initial state (e.g. the last state of an earlier call, to continue a run);
            None: the module's ``h0`` in every trial.
        noise : Noise or None
            Overrides the module's noise (e.g. at test time); None: the module's.
        xi : tensor (T, B, N) or None
            Standard normal draws to use (for exact twins); None draws them.
        generator : torch.Generator or None
            For the draws when ``xi`` is None.

        Returns
        -------
        outputs : tensor (T, B, n_out)
            ``outputs[t] = w_out states[t] + b_out``.
        states : tensor (T, B, N)
            ``states[t]`` is h after consuming ``inputs[t]``.
        """
        inputs = self._as_input_tensor(inputs)
        if inputs.ndim != 3 or inputs.shape[2] != self.n_in:
            raise ValueError(f"inputs must have shape (T, B, n_in={self.n_in}), got {tuple(inputs.shape)}")
        noise = self.noise if noise is None else self._check_noise(noise, self.n_hidden)
        rule = StepRule.from_settings(self.dt_seconds, self.tau_seconds, self.n_hidden, noise)
        if rule.active and xi is None:
            xi = torch.randn((inputs.shape[0], inputs.shape[1], self.n_hidden),
                             generator=generator, dtype=inputs.dtype, device=inputs.device)
        params = {k: getattr(self, k) for k in (*_PARAMS, "h0")}
        if h0 is not None:
            h0 = self._as_state_tensor(h0, inputs.shape[1], "h0")
        return rollout(params, inputs, rule, self.activation, torch_ops(), xi=xi, h0=h0,
                       form=self.form)

    def step(self, h: torch.Tensor | None, u: torch.Tensor | np.ndarray,
             xi: torch.Tensor | None = None, *, noise: Noise | None = None,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the network, for a loop of one's own (e.g. stepping a gym env).

        ``h, z = net.step(h, u_t, xi_t)`` for t = 0, 1, ... from ``h = None`` gives
        ``states[t]`` and ``outputs[t]`` of :meth:`forward` with ``xi[t]``.

        Parameters
        ----------
        h : tensor (B, N) or None
            The state before the step; None: the module's ``h0`` in every trial.
        u : tensor or float array (B, n_in)
            This step's inputs (cast like :meth:`forward`'s).
        xi : tensor (B, N) or None
            This step's standard normal draws; None draws them (with ``generator``).
        noise : Noise or None
            Overrides the module's noise; None: the module's. Its process must be memoryless
            (``NoiseProcess.memoryless``, e.g. "white" or "poisson": an OU sample depends on
            the previous step's, so run OU noise with :meth:`forward`).
        generator : torch.Generator or None
            For the draws when ``xi`` is None.

        Returns
        -------
        h : tensor (B, N)
            The state after the step.
        z : tensor (B, n_out)
            The output ``w_out h + b_out`` of that state.
        """
        if self.form != "h":
            raise ValueError(f"step runs the h-form step; this network has form={self.form!r}: "
                             "use forward(inputs, h0=...)")
        u = self._as_input_tensor(u)
        if u.ndim != 2 or u.shape[1] != self.n_in:
            raise ValueError(f"u must have shape (B, n_in={self.n_in}), got {tuple(u.shape)}")
        h = self._as_state_tensor(self.h0 if h is None else h, u.shape[0], "h")
        noise = self.noise if noise is None else as_noise(noise)
        rule = StepRule.from_settings(self.dt_seconds, self.tau_seconds, self.n_hidden, noise)
        n = None
        if rule.active:
            if not rule.noise_process.memoryless:
                raise ValueError(f"noise: step needs a memoryless process (NoiseProcess."
                                 f"memoryless); process {rule.process!r} carries its sample "
                                 "from step to step, run it with forward(inputs, h0=...)")
            if xi is None:
                xi = torch.randn(h.shape, generator=generator, dtype=h.dtype, device=h.device)
            sigma = torch.as_tensor(rule.sigma, dtype=h.dtype, device=h.device)
            n = next_noise_sample(None, xi, sigma, rule, first=True)
        a = h @ self.w_rec.T + (u @ self.w_in.T + self.b)
        h = dynamics_step(h, a, n, rule, get_activation(self.activation).torch, torch_ops())
        return h, h @ self.w_out.T + self.b_out

    def _as_state_tensor(self, h, n_trials, name):
        """``h`` ((B, N) or (N,)) as a (B, N) tensor of the module's dtype and device."""
        h = torch.as_tensor(h if isinstance(h, torch.Tensor) else np.asarray(h))
        h = h.to(dtype=self.w_in.dtype, device=self.w_in.device)
        if h.shape not in ((self.n_hidden,), (n_trials, self.n_hidden)):
            raise ValueError(f"{name} must have shape (B={n_trials}, N={self.n_hidden}) or "
                             f"(N,), got {tuple(h.shape)}")
        return h.expand(n_trials, self.n_hidden)

    def _check_noise(self, noise, n_hidden):
        return check_form_noise(noise, self.form, self.dt_seconds, n_hidden)

    def _as_input_tensor(self, inputs):
        if not isinstance(inputs, torch.Tensor):
            inputs = torch.as_tensor(np.asarray(inputs))
        if not (inputs.is_floating_point() or inputs.dtype in (torch.int32, torch.int64, torch.bool)):
            raise TypeError(f"inputs must hold real numbers (float32 or float64), got {inputs.dtype}")
        return inputs.to(dtype=self.w_in.dtype, device=self.w_in.device)

    # --- spec conversion --------------------------------------------------------------
    def to_spec(self, noise: Noise | None = None, metadata: dict | None = None) -> CTRNNSpec:
        """The network as a :class:`CTRNNSpec` (float64 copies of the weights).

        Parameters
        ----------
        noise : Noise or None
            The spec's noise; None: the module's.
        metadata : dict or None
            JSON-serialisable metadata of the spec.

        Returns
        -------
        CTRNNSpec
        """
        arrays = {k: getattr(self, k).detach().cpu().double().numpy() for k in (*_PARAMS, "h0")}
        return CTRNNSpec(*(arrays[k] for k in _PARAMS), tau=from_seconds(self.tau_seconds),
                         dt=from_seconds(self.dt_seconds), activation=self.activation,
                         noise=self.noise if noise is None else noise, h0=arrays["h0"],
                         metadata=metadata, form=self.form)

    @classmethod
    def from_spec(cls, spec: CTRNNSpec, dtype: torch.dtype = torch.float64) -> TorchCTRNN:
        """A module holding ``spec``'s weights (float64 by default: bit-exact round trip).

        Parameters
        ----------
        spec : CTRNNSpec
            The network.
        dtype : torch.dtype
            Of the module's parameters.

        Returns
        -------
        TorchCTRNN
        """
        return _module_of_checked_spec(check_spec(spec, forms=FORMS), dtype)


def _module_of_checked_spec(spec, dtype):
    """:meth:`TorchCTRNN.from_spec` for a spec already checked (a valid spec's noise fits it)."""
    model = TorchCTRNN(spec.n_in, spec.n_hidden, spec.n_out, tau=spec.tau, dt=spec.dt,
                       activation=spec.activation, seed=0, dtype=dtype, form=spec.form)
    model.noise = spec.noise  # checked when the spec was made
    with torch.no_grad():
        for k in (*_PARAMS, "h0"):
            getattr(model, k).copy_(torch.tensor(getattr(spec, k), dtype=dtype))
    return model


def run_torch(spec, inputs, noise, seed):
    """Backend function of ``simulate(..., backend="torch")``: float64, numpy's noise stream.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    inputs : float64 array (T, B, n_in)
        Checked inputs.
    noise : Noise
        The run's noise.
    seed : int or None
        Seed of the standard normal draws (:func:`~brian_noisy_rnn.core.dynamics.standard_normal`).

    Returns
    -------
    outputs : float64 array (T, B, n_out)
        ``w_out h_t + b_out`` after each step.
    states : float64 array (T, B, N)
        Hidden state h after each step.
    """
    # the backend contract: spec and noise were checked by simulate, so neither is re-checked
    model = _module_of_checked_spec(spec, torch.float64)
    model.noise = noise
    rule = StepRule.from_spec(spec, noise)
    x = torch.tensor(inputs, dtype=torch.float64)
    xi = None
    if rule.active:
        xi = torch.as_tensor(standard_normal(seed, inputs.shape[0], inputs.shape[1], spec.n_hidden))
    with torch.no_grad():
        outputs, states = model(x, xi=xi)
    return outputs.numpy(), states.numpy()


class TorchBackend(Backend):
    """``backend="torch"``: :func:`run_torch` (float64); closed loop with :class:`ArrayStepper`."""

    name = "torch"

    run = staticmethod(run_torch)

    def stepper(self, spec, noise, n_trials, seed):
        return ArrayStepper(spec, noise, n_trials, seed, "torch")


register_backend(TorchBackend())
