"""numpy reference and PyTorch agree; the reference implements the documented equations."""

import numpy as np
import pytest
import torch
from brian2 import ms

from brian_noisy_rnn import Noise, get_activation, simulate
from brian_noisy_rnn.bridges import TorchCTRNN
from brian_noisy_rnn.core.dynamics import standard_normal

ACTS = ["relu", "softplus", "tanh", "sigmoid", "retanh"]
NOISES = [Noise("none"), Noise("pre", 0.5), Noise("post", 0.3), Noise("post", 0.3, process="poisson"),
          Noise("pre", 0.4, process="ou", tau_noise=50 * ms), Noise("post", 0.4, process="ou", tau_noise=30 * ms),
          Noise("state", 0.3), Noise("pre", np.linspace(0, 1, 6))]


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("size", [(1, 1, 1), (6, 3, 2), (40, 5, 3)])
def test_torch_matches_numpy_without_noise(make_spec, activation, size):
    n, n_in, n_out = size
    spec = make_spec(n, n_in, n_out, activation=activation, seed=n)
    rng = np.random.default_rng(1)
    for inputs in (rng.normal(size=(30, 4, n_in)), np.zeros((5, 1, n_in)), np.ones((12, 2, n_in)) * 3):
        a = simulate(spec, inputs, backend="numpy")
        b = simulate(spec, inputs, backend="torch")
        assert a.outputs.shape == (inputs.shape[0], inputs.shape[1], n_out)
        assert a.states.shape == (inputs.shape[0], inputs.shape[1], n)
        assert np.max(np.abs(a.outputs - b.outputs)) <= 1e-9
        assert np.max(np.abs(a.states - b.states)) <= 1e-9


@pytest.mark.parametrize("noise", NOISES, ids=repr)
def test_torch_matches_numpy_with_noise_same_seed(make_spec, noise):
    spec = make_spec(6, 2, 1, activation="softplus", noise=noise)
    inputs = np.random.default_rng(2).normal(size=(25, 3, 2))
    a = simulate(spec, inputs, backend="numpy", seed=11)
    b = simulate(spec, inputs, backend="torch", seed=11)
    np.testing.assert_allclose(a.states, b.states, atol=1e-12, rtol=0)
    c = simulate(spec, inputs, backend="numpy", seed=11)
    np.testing.assert_array_equal(a.states, c.states)  # same seed: identical
    if noise.is_active:
        d = simulate(spec, inputs, backend="numpy", seed=12)
        assert np.max(np.abs(a.states - d.states)) > 1e-3  # other seed: other noise


def _hand_step(spec, h, u, xi, noise, eta_prev=None):
    """The docs/design.md equations written out for one step, independently of dynamics.py."""
    f = get_activation(spec.activation).numpy
    g = spec.gamma
    a = spec.w_rec @ h + spec.w_in @ u + spec.b
    s = noise.sigma_vector(spec.n_hidden)
    if noise.placement == "none":
        return (1 - g) * h + g * f(a), None
    if noise.process == "ou":
        rho = np.exp(-spec.dt_seconds / noise.tau_noise_seconds)
        eta = s * xi if eta_prev is None else rho * eta_prev + s * np.sqrt(1 - rho ** 2) * xi
        inner = f(a + eta) if noise.placement == "pre" else f(a) + eta
        return (1 - g) * h + g * inner, eta
    if noise.placement == "pre":
        return (1 - g) * h + g * f(a + s * xi), None
    if noise.placement == "post" and noise.process == "poisson":
        return (1 - g) * h + g * (f(a) + s * np.sqrt(np.maximum(f(a), 0)) * xi), None
    if noise.placement == "post":
        return (1 - g) * h + g * (f(a) + s * xi), None
    return (1 - g) * h + g * f(a) + s * np.sqrt(2 * g) * xi, None


@pytest.mark.parametrize("noise", NOISES, ids=repr)
def test_reference_follows_the_written_equations(make_spec, noise):
    spec = make_spec(6, 2, 2, activation="relu", noise=noise)
    inputs = np.random.default_rng(3).normal(size=(15, 2, 2))
    res = simulate(spec, inputs, backend="numpy", seed=5)
    xi = standard_normal(5, 15, 2, 6)
    for b in range(2):
        h, eta = spec.h0.copy(), None
        for t in range(15):
            h, eta = _hand_step(spec, h, inputs[t, b], xi[t, b], noise, eta)
            np.testing.assert_allclose(res.states[t, b], h, atol=1e-13)
            np.testing.assert_allclose(res.outputs[t, b], spec.w_out @ h + spec.b_out, atol=1e-12)


def test_noise_override_and_sigma_zero_equals_none(make_spec):
    spec = make_spec(5, 1, 1, noise=Noise("pre", 0.8))
    u = np.ones((20, 2, 1))
    quiet = simulate(spec, u, backend="numpy", noise=Noise("pre", 0.0), seed=1)
    none = simulate(spec.replace(noise=Noise("none")), u, backend="numpy")
    np.testing.assert_array_equal(quiet.states, none.states)
    noisy = simulate(spec, u, backend="numpy", seed=1)
    assert noisy.noise == Noise("pre", 0.8) and quiet.noise == Noise("pre", 0.0)
    assert np.max(np.abs(noisy.states - quiet.states)) > 1e-2


@pytest.mark.parametrize("noise", [Noise("pre", 0.6), Noise("post", 0.6)], ids=repr)
def test_torch_training_noise_has_the_reference_statistics(make_spec, noise):
    """TorchCTRNN's own torch.randn draws give the same stationary mean/variance as the
    reference's stream (2000 trials; z-score of the difference of means below 4)."""
    spec = make_spec(4, 1, 1, noise=noise, seed=3)
    u = np.full((60, 2000, 1), 0.5)
    ref = simulate(spec, u, backend="numpy", seed=0).states[-1]
    model = TorchCTRNN.from_spec(spec)
    with torch.no_grad():
        _, states = model(torch.as_tensor(u), generator=torch.Generator().manual_seed(0))
    tor = states[-1].numpy()
    se = np.sqrt(ref.var(0) / 2000 + tor.var(0) / 2000)
    assert np.all(np.abs(ref.mean(0) - tor.mean(0)) / se < 4)
    # variances: relative standard error of a variance estimate ~ sqrt(2/(n-1)) (x sqrt 2 for a difference)
    assert np.all(np.abs(np.log(ref.var(0) / tor.var(0))) < 4 * np.sqrt(4 / 2000))


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(inputs=np.zeros((10, 2))), ValueError, "inputs"),
    (dict(inputs=np.zeros((10, 2, 3))), ValueError, "inputs"),
    (dict(inputs=np.zeros((0, 2, 1))), ValueError, "inputs"),
    (dict(inputs=np.full((10, 2, 1), np.nan)), ValueError, "inputs"),
    (dict(inputs="abc"), (TypeError, ValueError), "inputs"),
    (dict(backend="jax"), ValueError, "backend"),
    (dict(noise="pre"), TypeError, "noise"),
    (dict(noise=Noise("post", [0.1, 0.2])), ValueError, "sigma"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(spec="net.npz"), TypeError, "spec"),
])
def test_bad_input(make_spec, kwargs, exc, word):
    args = dict(spec=make_spec(4, 1, 1), inputs=np.zeros((10, 2, 1)), backend="numpy")
    args.update(kwargs)
    spec = args.pop("spec")
    inputs = args.pop("inputs")
    with pytest.raises(exc, match=word):
        simulate(spec, inputs, **args)


@pytest.mark.parametrize("noise", [Noise("none"), Noise("pre", 0.7), Noise("post", 0.4),
                                   Noise("post", 0.4, process="poisson"), Noise("state", 0.2)])
def test_torch_step_by_step_equals_forward(make_spec, noise):
    """``TorchCTRNN.step(h, u, xi)`` from ``h = None`` reproduces ``forward`` step by step
    (states and outputs, float64, to 1e-12: the same products in another grouping), and
    ``forward(inputs, h0=h_k)`` continues a run exactly where it stopped (issue 23: a user's
    own gym loop)."""
    spec = make_spec(5, 2, 3, noise=noise, seed=4)
    model = TorchCTRNN.from_spec(spec)
    T, B = 9, 3
    inputs = torch.as_tensor(np.random.default_rng(2).normal(size=(T, B, 2)))
    xi = torch.as_tensor(standard_normal(5, T, B, 5))
    with torch.no_grad():
        outputs, states = model(inputs, xi=xi)
        h = None
        for t in range(T):
            h, z = model.step(h, inputs[t], xi[t])
            torch.testing.assert_close(h, states[t], atol=1e-12, rtol=0)
            torch.testing.assert_close(z, outputs[t], atol=1e-12, rtol=0)
        _, tail = model(inputs[4:], states[3], xi=xi[4:])
    torch.testing.assert_close(tail, states[4:], atol=1e-12, rtol=0)


def test_torch_step_errors(make_spec):
    model = TorchCTRNN.from_spec(make_spec(4, 2, 1, noise=Noise("pre", 0.5, process="ou",
                                                                tau_noise=50 * ms)))
    with pytest.raises(ValueError, match="memoryless"):
        model.step(None, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="u must have shape"):
        model.step(None, torch.zeros(2, 3), noise=Noise("none"))
    with pytest.raises(ValueError, match="h must have shape"):
        model.step(torch.zeros(3, 4), torch.zeros(2, 2), noise=Noise("none"))
    with pytest.raises(ValueError, match="h0 must have shape"):
        model(torch.zeros(5, 2, 2), torch.zeros(4, 4), noise=Noise("none"))
