"""``StackedCTRNN``: S CTRNNs of one shape as one module, weights stacked on a leading axis.

Training many small networks one by one is dominated by per-operation overhead; stacked,
one batched product (``torch.baddbmm``) advances all S networks a time step. Each member
keeps its own noise (placement, process, sigma), so one ensemble can hold networks trained
with noise inside and outside the activation.

The step is the one of :mod:`brian_noisy_rnn.core.dynamics` (``TorchCTRNN`` and the numpy
reference run it), rearranged so that the noise is computed before the time loop and one
batched product per step gives the pre-activation and the readout::

    a_t = h_t W_rec^T + u_t W_in^T + b + n_pre_t      # n_pre: noise inside f (white or OU)
    r_t = f(a_t) + n_add_t + n_mul_t sqrt(max(f(a_t), 0))
    h_{t+1} = h_t + gamma (r_t - h_t)                 # = (1 - gamma) h_t + gamma r_t
    z_t = h_{t+1} W_out^T + b_out

``n_add`` holds noise outside f (white, OU) and state noise (scaled by 1/gamma),
``n_mul`` Poisson noise; a member without a kind of noise has zeros there. The arithmetic
differs from :func:`~brian_noisy_rnn.core.dynamics.rollout` only in rounding order (tests: equal
to about 1e-15 in float64). The rollout has a hand-written backward pass (:class:`_Rollout`):
autograd's per-operation bookkeeping was most of a training step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..core.activations import get_activation
from ..core.dynamics import StepRule, next_noise_sample
from ..core.spec import CTRNNSpec, check_spec
from .torch_backend import TorchCTRNN

if TYPE_CHECKING:
    from ..core.noise import Noise

__all__ = ["PARAMS", "StackedCTRNN", "sum_over_time"]

#: the names of the stacked parameters, in order
PARAMS = ("w_in", "w_rec", "b", "w_out", "b_out")


class StackedCTRNN(nn.Module):
    """S CTRNNs sharing n_in, n_hidden, n_out, activation, tau and dt; weights stacked (S, ...).

    Build it from modules (:meth:`from_modules`) or specs (:meth:`from_specs`); take a member
    out with :meth:`member` (a :class:`TorchCTRNN`) or :meth:`member_spec` (a ``CTRNNSpec``).

    Parameters
    ----------
    modules : iterable of TorchCTRNN
        The networks to stack (their weights are copied), at least one; all must have the
        same n_in, n_hidden, n_out, activation, tau and dt.

    Attributes
    ----------
    w_in : torch.nn.Parameter (S, N, n_in)
        Input weights of the members.
    w_rec : torch.nn.Parameter (S, N, N)
        Recurrent weights of the members.
    b : torch.nn.Parameter (S, N)
        Hidden biases of the members.
    w_out : torch.nn.Parameter (S, n_out, N)
        Readout weights of the members.
    b_out : torch.nn.Parameter (S, n_out)
        Readout biases of the members.
    h0 : torch.Tensor (S, N)
        Initial states of the members (a buffer, not trained).
    noises : list of Noise
        The members' training noise, one per member.
    n_in, n_hidden, n_out : int
        Sizes shared by all members (N = n_hidden).
    activation : str
        Name of the shared activation function.
    tau_seconds, dt_seconds : float
        Shared time constant and time step, in seconds.

    Raises
    ------
    ValueError
        If ``modules`` is empty or the networks differ in shape, activation, tau or dt.
    """

    def __init__(self, modules: Iterable[TorchCTRNN]) -> None:
        super().__init__()
        modules = list(modules)
        if not modules:
            raise ValueError("an ensemble needs at least one network, got none")
        first = modules[0]
        shape = (first.n_in, first.n_hidden, first.n_out, first.activation,
                 first.tau_seconds, first.dt_seconds)
        for i, m in enumerate(modules):
            other = (m.n_in, m.n_hidden, m.n_out, m.activation, m.tau_seconds, m.dt_seconds)
            if other != shape:
                raise ValueError(f"network {i} has (n_in, n_hidden, n_out, activation, tau_s, "
                                 f"dt_s) = {other}, network 0 has {shape}; an ensemble needs one shape")
        self.n_in, self.n_hidden, self.n_out, self.activation, self.tau_seconds, \
            self.dt_seconds = shape
        self.noises = [m.noise for m in modules]
        for k in PARAMS:
            self.register_parameter(k, nn.Parameter(
                torch.stack([getattr(m, k).detach() for m in modules]).clone()))
        self.register_buffer("h0", torch.stack([m.h0 for m in modules]).clone())

    @classmethod
    def from_modules(cls, modules: Iterable[TorchCTRNN]) -> StackedCTRNN:
        """Stack :class:`TorchCTRNN` modules (copies of their weights).

        Parameters
        ----------
        modules : iterable of TorchCTRNN
            The networks, all of one shape, activation, tau and dt.

        Returns
        -------
        StackedCTRNN
            In the modules' dtype, S = the number of modules.
        """
        return cls(modules)

    @classmethod
    def from_specs(cls, specs: Iterable[CTRNNSpec],
                   dtype: torch.dtype = torch.float64) -> StackedCTRNN:
        """Stack ``CTRNNSpec`` s (float64 by default: bit-exact round trip with ``member_spec``).

        The specs are checked and their weights copied; see :meth:`member_spec`.

        Parameters
        ----------
        specs : iterable of CTRNNSpec
            The networks, all of one shape, activation, tau and dt.
        dtype : torch.dtype
            Floating dtype of the stacked parameters.

        Returns
        -------
        StackedCTRNN
            S = the number of specs; member i holds ``specs[i]``'s weights and noise.
        """
        return cls([TorchCTRNN.from_spec(check_spec(s, f"specs[{i}]"), dtype=dtype)
                    for i, s in enumerate(specs)])

    @property
    def n_members(self) -> int:
        """S, the number of stacked networks."""
        return self.w_rec.shape[0]

    def __len__(self):
        return self.n_members

    @property
    def gamma(self) -> float:
        """dt / tau (shared by all members), dimensionless."""
        return self.dt_seconds / self.tau_seconds

    def member(self, i: int) -> TorchCTRNN:
        """Network ``i`` as a :class:`TorchCTRNN` (copies of its weights, same dtype).

        Parameters
        ----------
        i : int
            Member index in [-S, S) (negative: counted from the end).

        Returns
        -------
        TorchCTRNN
            On the CPU, with the member's training noise.

        Raises
        ------
        IndexError
            If ``i`` is not an int in that range.
        """
        from ..core.units import from_seconds

        i = self._index(i)
        m = TorchCTRNN(self.n_in, self.n_hidden, self.n_out, tau=from_seconds(self.tau_seconds),
                       dt=from_seconds(self.dt_seconds), activation=self.activation,
                       noise=self.noises[i], seed=0, dtype=self.w_rec.dtype)
        with torch.no_grad():
            for k in (*PARAMS, "h0"):
                getattr(m, k).copy_(getattr(self, k)[i].cpu())
        return m

    def member_spec(self, i: int, noise: Noise | None = None,
                    metadata: dict | None = None) -> CTRNNSpec:
        """Network ``i`` as a :class:`~brian_noisy_rnn.CTRNNSpec` (float64 copies).

        Parameters
        ----------
        i : int
            Member index in [-S, S).
        noise : Noise or None
            The spec's noise; None: the member's training noise.
        metadata : dict or None
            JSON-serialisable metadata of the spec.

        Returns
        -------
        CTRNNSpec
            The member's weights, shared tau, dt and activation.
        """
        return self.member(i).to_spec(noise=noise, metadata=metadata)

    def _index(self, i):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) \
                or not -self.n_members <= i < self.n_members:
            raise IndexError(f"member index must be an int in [0, {self.n_members}), got {i!r}")
        return int(i) % self.n_members

    # --- the stacked rollout ----------------------------------------------------------
    def noise_terms(self, xis: Sequence[torch.Tensor | None], n_steps: int, n_trials: int
                    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """The precomputed noise tensors of one rollout.

        Parameters
        ----------
        xis : list of S tensors (T_s, B, N) or None
            Standard normal draws of each member (None for a member without noise);
            T_s <= T, missing steps count as zero noise.
        n_steps : int
            T, the number of time steps of the rollout.
        n_trials : int
            B, the number of trials per member.

        Returns
        -------
        n_pre, n_add, n_mul : torch.Tensor (T, S, B, N) or None
            Noise inside f; noise outside f and state noise; Poisson noise (multiplied by
            ``sqrt(max(f(a), 0))``). None where no member has that kind of noise.
        """
        S, N = self.n_members, self.n_hidden
        ref = self.w_rec
        terms = {"pre": None, "add": None, "mul": None}
        for s, ((key, rule, scale), xi) in enumerate(zip(self._noise_rules(), xis)):
            if rule is None:
                continue
            sigma = torch.as_tensor(rule.sigma, dtype=ref.dtype, device=ref.device)
            xi = xi.to(device=ref.device, dtype=ref.dtype)
            if terms[key] is None:
                terms[key] = torch.zeros((n_steps, S, n_trials, N), dtype=ref.dtype,
                                         device=ref.device)
            out = terms[key][: xi.shape[0], s]
            if rule.noise_process.memoryless:  # every step's sample in one call
                out.copy_(next_noise_sample(None, xi, sigma, rule, first=True))
            else:  # the process's recurrence, step by step
                n = None
                for t in range(xi.shape[0]):
                    n = next_noise_sample(n, xi[t], sigma, rule, first=(t == 0))
                    out[t] = n
            if scale is not None:
                out.mul_(scale)
        return terms["pre"], terms["add"], terms["mul"]

    def _noise_rules(self):
        """Per member: (kind of term, StepRule or None when inactive, state-noise scale or None)."""
        key = (tuple(self.noises), self.n_hidden, self.dt_seconds, self.tau_seconds)
        cached = getattr(self, "_rules_cache", None)
        if cached is None or cached[0] != key:
            g, rules = self.gamma, []
            for noise in self.noises:
                rule = StepRule.from_settings(self.dt_seconds, self.tau_seconds,
                                              self.n_hidden, noise)
                if not rule.active:
                    rules.append((None, None, None))
                    continue
                process = noise.noise_process
                if not process.stacked:
                    raise ValueError(f"noise process {process.name!r} has no stacked form "
                                     "(NoiseProcess.stacked): it cannot be trained here")
                kind = "pre" if rule.placement == "pre" else \
                    ("mul" if process.rate_scaled else "add")
                # the forward multiplies n_add by gamma; state noise enters unfiltered
                scale = 1.0 / g if rule.placement == "state" else None
                rules.append((kind, rule, scale))
            cached = (key, rules)
            self._rules_cache = cached
        return cached[1]

    def forward(self, inputs: torch.Tensor,
                noise_terms: tuple[torch.Tensor | None, torch.Tensor | None,
                                   torch.Tensor | None] = (None, None, None)
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run all members on their inputs.

        Parameters
        ----------
        inputs : torch.Tensor (T, S, B, n_in)
            Member s's trials in ``inputs[:, s]``, in the parameters' dtype and device.
        noise_terms : tuple (n_pre, n_add, n_mul)
            From :meth:`noise_terms`; a None entry: no noise of that kind.

        Returns
        -------
        outputs : torch.Tensor (T, S, B, n_out)
            Readout, as in :meth:`TorchCTRNN.forward`.
        states : torch.Tensor (T, S, B, N)
            Hidden states after each step.
        """
        n_pre, n_add, n_mul = noise_terms
        S = self.n_members
        h0 = self.h0.unsqueeze(1).expand(S, inputs.shape[2], self.n_hidden)
        if n_mul is None:
            return _Rollout.apply(inputs, self.w_in, self.b, self.w_rec, self.w_out, self.b_out,
                                  h0, n_pre, n_add, self.gamma, self.activation)
        # Poisson noise: sqrt(max(f(a), 0)) has no finite derivative at 0; autograd, one
        # member at a time on tensors of its own (a member rounds as when trained alone)
        f = get_activation(self.activation).torch
        members = []
        for s in range(S):
            own = lambda x: None if x is None else x[:, s:s + 1].contiguous()  # noqa: E731
            drive = _per_member_linear(own(inputs), self.w_in[s:s + 1], self.b[s:s + 1])
            if n_pre is not None:
                drive = drive + own(n_pre)
            states = _autograd_recurrence(drive, own(n_add), own(n_mul),
                                          self.w_rec[s:s + 1], h0[s:s + 1], self.gamma, f)
            members.append((_per_member_linear(states, self.w_out[s:s + 1],
                                               self.b_out[s:s + 1]), states))
        return (torch.cat([m[0] for m in members], dim=1),
                torch.cat([m[1] for m in members], dim=1))


def _member_blocks(like: torch.Tensor, lead: tuple, n_members: int, inner: Sequence[int]
                  ) -> torch.Tensor:
    """An uninitialised (*lead, S, *inner) tensor in which every member's block is 64-byte aligned.

    BLAS kernels (MKL's small-matrix paths, measured) round a product differently when its
    output block starts at another alignment, so a member whose blocks sat at odd offsets of a
    packed (S, ...) tensor got other numbers than the same network trained alone (where its
    block starts the allocation). Each (lead, s) block here starts on a 64-byte boundary, as an
    allocation of its own does; the padding is never read.

    Parameters
    ----------
    like : torch.Tensor
        Gives the dtype and device.
    lead : tuple of int
        Leading dimensions (e.g. ``(T + 1,)``), possibly empty.
    n_members : int
        S.
    inner : sequence of int
        The shape of one member's block, e.g. (B, N).

    Returns
    -------
    torch.Tensor (*lead, S, *inner)
        A view of a padded buffer; contiguous within each block.
    """
    inner = tuple(int(n) for n in inner)
    size = math.prod(inner)
    per_line = max(1, 64 // like.element_size())
    padded = -(-size // per_line) * per_line
    buffer = like.new_empty((*lead, n_members, padded))
    return buffer[..., :size].unflatten(-1, inner)


def _per_member_linear(x, weight, bias):
    """``x[t, s] @ weight[s].T + bias[s]`` for all (t, s): (T, S, B, k) -> (T, S, B, n).

    One ``baddbmm`` over the T*S (t, s) blocks, whatever S is: ``torch.matmul`` (or a
    weight with a zero batch stride) would fold S = 1 into one matrix product that rounds
    differently, and a member of an ensemble must round as the same network trained alone.
    The weights are copied T times (small); their gradients are summed over time by
    :class:`_RepeatOverTime`.
    """
    T, S, B, k = x.shape
    n = weight.shape[1]
    w = _RepeatOverTime.apply(weight.transpose(1, 2), T).view(T * S, k, n)
    b = _RepeatOverTime.apply(bias.unsqueeze(1), T).view(T * S, 1, n)
    return torch.baddbmm(b, x.reshape(T * S, B, k), w).view(T, S, B, n)


class _RepeatOverTime(torch.autograd.Function):
    """``x`` (S, ...) repeated T times, (T, S, ...) contiguous; the backward sums over time
    in a fixed pairwise order, elementwise, so that a member's gradient is rounded the same
    whatever S is (a reduction kernel picks its summation order by the tensor's shape)."""

    @staticmethod
    def forward(ctx, x, T):
        return x.unsqueeze(0).expand(T, *x.shape).contiguous()

    @staticmethod
    def backward(ctx, grad):
        return sum_over_time(grad), None


def sum_over_time(x: torch.Tensor) -> torch.Tensor:
    """``x.sum(0)`` in a fixed pairwise order made of elementwise additions: the rounding of
    each entry does not depend on the other dimensions (a reduction kernel's order does).

    Parameters
    ----------
    x : torch.Tensor (T, ...)
        Values to sum over the leading axis, T >= 1.

    Returns
    -------
    torch.Tensor (...)
        The sum over the leading axis.
    """
    while x.shape[0] > 1:
        half = x.shape[0] // 2
        head = x[:half] + x[half: 2 * half]
        x = torch.cat([head, x[2 * half:]]) if x.shape[0] % 2 else head
    return x[0]


def _autograd_recurrence(drive, n_add, n_mul, w_rec, h, g, f):
    """The recurrence step by step with autograd recording every operation (Poisson noise).

    Time-major tensors (T, S, B, N) in and out, as :class:`_Rollout`.
    """
    # unbind, not drive[t]: indexing would make autograd build a full-size zero
    # gradient per step (a third of the step time at N=32)
    drives = drive.unbind(0)
    adds = n_add.unbind(0) if n_add is not None else None
    muls = n_mul.unbind(0)
    w_rec_t = w_rec.transpose(1, 2)
    states = []
    for t in range(len(drives)):
        fa = f(torch.baddbmm(drives[t], h, w_rec_t))
        r = fa
        if adds is not None:
            r = r + adds[t]
        r = r + muls[t] * torch.sqrt(torch.relu(fa))
        h = torch.lerp(h, r, g)
        states.append(h)
    return torch.stack(states)


class _Rollout(torch.autograd.Function):
    """The whole rollout (input drive, recurrence, readout) with a hand-written BPTT.

    One batched product per time step gives both the next pre-activation and the readout of
    the current state. With ``Z_t = [h_t, u_t, 1]`` (S, B, K), K = N + n_in + 1, and the
    stacked weights ``W = [[w_rec, w_in, b], [w_out, 0, b_out]]`` (S, N + n_out, K)::

        P_t = Z_t W^T (+ [n_pre_t, 0])      # P_t[..., :N] = a_t,  P_t[..., N:] = z_{t-1}
        h_{t+1} = lerp(h_t, f(a_t) + n_add_t, gamma)

    The backward is three operations per step: ``da_t = gamma f'(a_t) dL/dh_{t+1}``, one
    product for ``dL/dh_t = (1 - gamma) dL/dh_{t+1} + [da_t, dL/dz_{t-1}] W[..., :N]`` and one
    accumulating ``dL/dW += [da_t, dL/dz_{t-1}]^T Z_t`` (all five weight gradients at once).
    Autograd would record and replay about ten nodes per step plus the two linear maps over
    all (t, s) blocks; at the sizes trained here that bookkeeping, not the arithmetic, was
    most of a step. The loops index nothing: their per-step views are made once (``unbind``),
    and an output the loss does not use (the states, in training) gets no zero gradient.

    Every product works on (S, ...) blocks of one time step, one block per member, each block
    starting on a 64-byte boundary (:func:`_member_blocks`: MKL rounds a product by where its
    output starts), and every other operation is elementwise, so a member's numbers are rounded
    the same whatever S is and whatever its neighbours' noise (tests: bit-identical to single
    training in float32 and float64 over 1000 steps with mixed placements, and with members
    padded to a longer trial).

    Inputs, time-major: inputs (T, S, B, n_in); w_in (S, N, n_in); b (S, N); w_rec (S, N, N);
    w_out (S, n_out, N); b_out (S, n_out); h0 (S, B, N); n_pre, n_add (T, S, B, N) or None;
    gamma (float); activation (name). Outputs: readout (T, S, B, n_out) and states
    (T, S, B, N), views of the rollout's buffers.
    """

    @staticmethod
    def forward(ctx, inputs, w_in, b, w_rec, w_out, b_out, h0, n_pre, n_add, gamma, activation):
        T, S, B, n_in = inputs.shape
        N, n_out = w_rec.shape[1], w_out.shape[1]
        K, M = N + n_in + 1, N + n_out
        f = get_activation(activation).torch
        weights = _member_blocks(w_rec, (), S, (M, K))
        weights.zero_()
        weights[:, :N, :N] = w_rec
        weights[:, :N, N:K - 1] = w_in
        weights[:, :N, K - 1] = b
        weights[:, N:, :N] = w_out
        weights[:, N:, K - 1] = b_out
        w_t = weights.transpose(1, 2)
        z = _member_blocks(w_rec, (T + 1,), S, (B, K))
        z[0, ..., :N] = h0
        z[:T, ..., N:K - 1] = inputs
        z[T, ..., N:K - 1] = 0.0
        z[..., K - 1] = 1.0
        # one product per step, the same whatever noise the other members have: it adds to
        # the noise inside f, or to zeros (exactly the product) for a member without it
        p = _member_blocks(w_rec, (T + 1,), S, (B, M))
        p.zero_()
        if n_pre is not None:
            p[:T, ..., :N] = n_pre
        # per-step views made once (unbind): indexing inside the loop cost more than the ops
        p_t, z_t, a_t, h_t = p.unbind(0), z.unbind(0), p[..., :N].unbind(0), z[..., :N].unbind(0)
        adds = n_add.unbind(0) if n_add is not None else None
        for t in range(T):
            p_t[t].baddbmm_(z_t[t], w_t)
            r = f(a_t[t])
            if adds is not None:
                r = r + adds[t]
            torch.lerp(h_t[t], r, gamma, out=h_t[t + 1])
        p_t[T].baddbmm_(z_t[T], w_t)
        ctx.save_for_backward(z, p, weights)
        ctx.set_materialize_grads(False)  # an unused output (the states, in training): None
        ctx.sizes, ctx.gamma, ctx.activation = (N, n_in, n_out), gamma, activation
        return p[1:, ..., N:], z[1:, ..., :N]

    @staticmethod
    def backward(ctx, grad_outputs, grad_states):
        z, p, weights = ctx.saved_tensors
        N, n_in, n_out = ctx.sizes
        T, S, B, K = z.shape
        T -= 1
        g = ctx.gamma
        needs = ctx.needs_input_grad
        f = get_activation(ctx.activation).torch
        with torch.enable_grad():  # gamma f'(a) at every step at once
            a = p[:T, ..., :N].detach().requires_grad_()
            (slope,) = torch.autograd.grad(f(a), a, torch.full_like(a, g))
        grad_p = _member_blocks(p, (T + 1,), S, (B, N + n_out))  # [da_t, dL/dz_{t-1}] per step
        grad_p[T, ..., :N] = 0.0
        grad_p[0, ..., N:] = 0.0
        if grad_outputs is None:
            grad_p[1:, ..., N:] = 0.0
        else:
            grad_p[1:, ..., N:] = grad_outputs
        w_h = weights[..., :N]
        grad_w = _member_blocks(weights, (), S, weights.shape[1:])
        grad_w.zero_()
        grad_add = torch.empty_like(slope) if needs[8] else None
        # dL/dh in two member-aligned buffers, written by turns (out=) and updated in place
        grad_h, spare = (_member_blocks(p, (), S, (B, N)) for _ in range(2))
        torch.bmm(grad_p[T], w_h, out=grad_h)  # dL/dh_T, from the last readout
        if grad_states is not None:
            grad_h.add_(grad_states[T - 1])
        grad_w.baddbmm_(grad_p[T].transpose(1, 2), z[T])
        gp_t, da_t, z_t = grad_p.unbind(0), grad_p[..., :N].unbind(0), z.unbind(0)
        gp_tt = grad_p.transpose(2, 3).unbind(0)
        slopes = slope.unbind(0)
        adds = grad_add.unbind(0) if grad_add is not None else None
        states = grad_states.unbind(0) if grad_states is not None else None
        for t in range(T - 1, -1, -1):  # grad_h = dL/dh_{t+1}
            torch.mul(grad_h, slopes[t], out=da_t[t])
            if adds is not None:
                torch.mul(grad_h, g, out=adds[t])
            grad_w.baddbmm_(gp_tt[t], z_t[t])
            if t > 0 or needs[6]:
                torch.baddbmm(grad_h, gp_t[t], w_h, beta=1.0 - g, out=spare)
                grad_h, spare = spare, grad_h
                if t > 0 and states is not None:
                    grad_h.add_(states[t - 1])
        grad_pre = grad_p[:T, ..., :N]
        grad_inputs = torch.matmul(grad_pre, weights[:, :N, N:K - 1]) if needs[0] else None
        return (grad_inputs, grad_w[:, :N, N:K - 1], grad_w[:, :N, K - 1], grad_w[:, :N, :N],
                grad_w[:, N:, :N], grad_w[:, N:, K - 1], grad_h if needs[6] else None,
                grad_pre if needs[7] else None, grad_add, None, None)
