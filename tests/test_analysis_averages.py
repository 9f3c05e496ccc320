"""Noise averages E[f(a + sigma xi)] and noise-averaged activations ("relu~0.5")."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from brian_noisy_rnn import ACTIVATIONS, CTRNNSpec, Noise, get_activation
from brian_noisy_rnn.analysis import (
    NoiseAveragedActivation,
    ensure_activation,
    noise_averaged_activation,
    noise_variance,
    noisy_activation,
    parse_averaged_name,
)

BASES = ["relu", "softplus", "tanh", "sigmoid", "retanh"]
A = np.linspace(-3, 3, 13)
N_MC = 200_000
# Monte Carlo tolerance: the max over 13 points x 3 sigmas of |MC - exact| / SE is below 5
# with probability > 0.99 (each |z| > 5 has probability 6e-7); the seed is fixed anyway.
Z_MAX = 5.0


def _mc(fn, a, sigma, seed):
    xi = np.random.default_rng(seed).standard_normal(N_MC)
    vals = fn(a[:, None] + sigma * xi[None, :])
    return vals.mean(axis=1), vals.std(axis=1, ddof=1) / np.sqrt(N_MC)


@pytest.mark.parametrize("name", BASES)
@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0])
def test_noise_average_matches_monte_carlo(name, sigma):
    act = get_activation(name)
    mean, deriv = noisy_activation(name, A, sigma, derivative=True)
    for exact, fn, seed in ((mean, act.numpy, 1), (deriv, act.derivative, 2)):
        mc, se = _mc(fn, A, sigma, seed)
        ok = se > 0
        assert np.max(np.abs(exact - mc)[ok] / se[ok]) < Z_MAX
        # where no sample left a constant region (relu far below the kink) the exact value is
        # a tail integral of probability < 1e-4 (else ~20 of the 2e5 samples would show it)
        assert np.all(np.abs(exact - mc)[~ok] < 1e-4)


def test_relu_closed_form_and_limits():
    from scipy.special import ndtr

    a, s = np.linspace(-4, 4, 81), 0.7
    z = a / s
    expected = a * ndtr(z) + s * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(noisy_activation("relu", a, s), expected, atol=1e-15)
    # sigma = 0 is f itself; the average is >= f (relu is convex) with max gap sigma*phi(0)
    np.testing.assert_array_equal(noisy_activation("relu", a, 0.0), np.maximum(a, 0))
    gap = noisy_activation("relu", a, s) - np.maximum(a, 0)
    assert gap.min() >= 0 and abs(gap.max() - s / np.sqrt(2 * np.pi)) < 1e-15


@pytest.mark.parametrize("name", BASES)
def test_derivative_is_the_derivative(name):
    a, s, h = np.linspace(-3, 3, 25), np.linspace(0.2, 2, 25), 1e-5
    _, d = noisy_activation(name, a, s, derivative=True)
    fd = (noisy_activation(name, a + h, s) - noisy_activation(name, a - h, s)) / (2 * h)
    np.testing.assert_allclose(d, fd, atol=1e-7)


def test_vectorised_shapes_and_errors():
    out = noisy_activation("tanh", np.zeros((4, 3)), np.array([0.0, 0.5, 1.0]))
    assert out.shape == (4, 3) and np.all(out == 0)  # tanh is odd: E tanh(sigma xi) = 0
    with pytest.raises(ValueError, match="sigma"):
        noisy_activation("relu", 1.0, -0.1)
    with pytest.raises(ValueError, match="broadcast"):
        noisy_activation("relu", np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="activation"):
        noisy_activation("gelu", 1.0, 0.1)
    with pytest.raises(ValueError, match="a contains"):
        noisy_activation("relu", [np.nan], 0.1)


@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_noise_variance_matches_monte_carlo(name):
    act = get_activation(name)
    xi = np.random.default_rng(3).standard_normal(N_MC)
    vals = act.numpy(A[:, None] + 0.8 * xi)
    var_mc = vals.var(axis=1, ddof=1)
    # SE of a sample variance ~ sqrt((m4 - var^2) / n)
    m4 = ((vals - vals.mean(axis=1, keepdims=True)) ** 4).mean(axis=1)
    se = np.sqrt(np.maximum(m4 - var_mc ** 2, 1e-300) / N_MC)
    assert np.max(np.abs(noise_variance(name, A, 0.8) - var_mc) / se) < Z_MAX


# --- noise-averaged activations --------------------------------------------------------------
@pytest.mark.parametrize("base", BASES)
def test_averaged_activation_forms_agree(base):
    act = noise_averaged_activation(base, 0.6)
    assert isinstance(act, NoiseAveragedActivation) and act.name == f"{base}~0.6"
    assert ACTIVATIONS[act.name] is act and get_activation(act.name) is act
    x = np.linspace(-6, 6, 241)
    ref, dref = noisy_activation(base, x, 0.6, derivative=True)
    np.testing.assert_allclose(act.numpy(x), ref, atol=1e-14)
    np.testing.assert_allclose(act.derivative(x), dref, atol=1e-14)
    t = torch.tensor(x, requires_grad=True)
    y = act.torch(t)
    np.testing.assert_allclose(y.detach().numpy(), ref, atol=1e-13)
    (g,) = torch.autograd.grad(y.sum(), t)
    np.testing.assert_allclose(g.numpy(), dref, atol=1e-10)


@pytest.mark.parametrize("base", ["relu", "tanh"])
def test_averaged_activation_noise_average_composes(base):
    # E[g_s(a + t xi)] = g_sqrt(s^2 + t^2)(a): the Gaussian convolution is exact
    act = noise_averaged_activation(base, 0.5)
    np.testing.assert_allclose(act.noise_average(A, 0.4), noisy_activation(base, A, np.hypot(0.5, 0.4)),
                               atol=1e-12)
    # Monte Carlo of the numpy form itself (few samples: tanh~0.5 is a 192-node quadrature)
    xi = np.random.default_rng(4).standard_normal(4000)
    vals = act.numpy(A[:, None] + 0.4 * xi)
    se = vals.std(axis=1, ddof=1) / np.sqrt(xi.size)
    assert np.max(np.abs(act.noise_average(A, 0.4) - vals.mean(axis=1)) / se) < Z_MAX


@pytest.mark.parametrize("base", ["relu", "tanh"])
def test_averaged_activation_in_brian2_numpy_target(base):
    from brian2 import NeuronGroup, prefs

    prefs.codegen.target = "numpy"
    act = noise_averaged_activation(base, 0.5)
    x = np.linspace(-5, 5, 101)
    g = NeuronGroup(len(x), f"x : 1\ny = {act.brian2('x')} : 1")
    g.x = x
    np.testing.assert_allclose(np.asarray(g.y), act.numpy(x), atol=1e-14)
    g._network = 0  # evaluated without a run: silence Brian2's "never included" warning


def test_names_parse_and_round_trip():
    assert parse_averaged_name("relu") is None
    assert parse_averaged_name("relu~0.25") == ("relu", 0.25)
    act = ensure_activation("relu~0.30000000000000004")
    assert act.sigma == 0.30000000000000004
    assert ensure_activation("relu~2.5e-1") is ensure_activation("relu~0.25")  # alias
    for bad in ("relu~", "relu~-1", "relu~0", "relu~nan", "gelu~0.5", "relu~0.5~0.5", "~0.5"):
        with pytest.raises(ValueError, match="activation|sigma"):
            ensure_activation(bad)
    with pytest.raises(ValueError, match="plain"):
        noise_averaged_activation("relu~0.25", 0.1)


def test_spec_with_averaged_activation_saves_and_loads(tmp_path):
    from brian2 import ms

    ensure_activation("relu~0.5")

    spec = CTRNNSpec(np.ones((2, 1)), np.zeros((2, 2)), np.zeros(2), np.ones((1, 2)), np.zeros(1),
                     tau=100 * ms, dt=20 * ms, activation="relu~0.5", noise=Noise("none"))
    path = spec.save(tmp_path / "net.npz")
    assert CTRNNSpec.load(path) == spec


def test_averaged_activation_loads_in_a_fresh_process(tmp_path):
    from brian2 import ms

    ensure_activation("relu~0.75")
    spec = CTRNNSpec(np.ones((1, 1)), np.zeros((1, 1)), np.zeros(1), np.ones((1, 1)), np.zeros(1),
                     tau=100 * ms, dt=20 * ms, activation="relu~0.75")
    path = spec.save(tmp_path / "net.npz")
    code = (f"from brian_noisy_rnn import CTRNNSpec; s = CTRNNSpec.load({str(path)!r}); "
            "print(s.activation)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "relu~0.75"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cython", "cpp_standalone"])
def test_relu_average_on_compiled_brian2_targets(target, tmp_path):
    """bnr_ndtr has Cython and C++ implementations: the compiled targets give the same numbers."""
    code = f"""
import numpy as np
import brian2
from brian_noisy_rnn.analysis import noise_averaged_activation
act = noise_averaged_activation("relu", 0.5)
x = np.linspace(-5, 5, 101)
if {target!r} == "cpp_standalone":
    brian2.set_device("cpp_standalone", directory={str(tmp_path / 'sa')!r})
else:
    brian2.prefs.codegen.target = {target!r}
g = brian2.NeuronGroup(len(x), "x : 1\\ny : 1")
g.x = x
g.run_regularly("y = " + act.brian2("x"))
brian2.run(brian2.defaultclock.dt)
print(np.max(np.abs(np.asarray(g.y) - act.numpy(x))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-14
