import numpy as np
import pytest
import torch

from brian_noisy_rnn import ACTIVATIONS, get_activation

NAMES = sorted(ACTIVATIONS)
X = np.linspace(-30, 30, 2001)


def test_registry_has_the_five():
    assert set(NAMES) >= {"relu", "softplus", "tanh", "sigmoid", "retanh"}
    with pytest.raises(ValueError, match="activation"):
        get_activation("gelu")


@pytest.mark.parametrize("name", NAMES)
def test_numpy_torch_agree(name):
    act = get_activation(name)
    t = act.torch(torch.tensor(X, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(t, act.numpy(X), atol=1e-14, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_brian2_expression_agrees(name):
    from brian2 import NeuronGroup, Network, defaultclock, ms, prefs

    prefs.codegen.target = "numpy"
    act = get_activation(name)
    g = NeuronGroup(len(X), f"x : 1\ny = {act.brian2('x')} : 1")
    g.x = X
    np.testing.assert_allclose(np.asarray(g.y), act.numpy(X), atol=1e-14, rtol=0)


def test_reference_values():
    relu, tanh_ = get_activation("relu").numpy, get_activation("retanh").numpy
    assert relu(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]
    assert tanh_(np.array([-1.0, 1.0])).tolist() == [0.0, np.tanh(1.0)]
    np.testing.assert_allclose(get_activation("softplus").numpy(np.array([0.0])), np.log(2))
    np.testing.assert_allclose(get_activation("sigmoid").numpy(np.array([1.0])), 1 / (1 + np.exp(-1)))


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_difference(name):
    act = get_activation(name)
    x = np.array([-2.0, -0.3, 0.4, 1.7])
    fd = (act.numpy(x + 1e-6) - act.numpy(x - 1e-6)) / 2e-6
    np.testing.assert_allclose(act.derivative(x), fd, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_noise_average_matches_monte_carlo(name):
    """E[f(a + sigma xi)] against 4e6 Monte Carlo samples: tolerance 5 standard errors."""
    act = get_activation(name)
    rng = np.random.default_rng(1)
    xi = rng.standard_normal(4_000_000)
    for a in (-1.5, 0.0, 0.7):
        for sigma in (0.3, 1.0):
            samples = act.numpy(a + sigma * xi)
            se = samples.std() / np.sqrt(xi.size)
            assert abs(act.noise_average(a, sigma) - samples.mean()) < 5 * se + 1e-12
            d_samples = act.derivative(a + sigma * xi)
            d_se = d_samples.std() / np.sqrt(xi.size)
            _, d = act.noise_average_and_derivative(a, sigma)
            assert abs(d - d_samples.mean()) < 5 * d_se + 1e-12


def test_noise_average_quadrature_against_closed_form_relu():
    """The quadrature path (used for non-relu activations) reproduces relu's closed form."""
    from brian_noisy_rnn.core.activations import split_quadrature

    relu = get_activation("relu")
    a = np.linspace(-4, 4, 81)
    s = np.full_like(a, 0.8)
    m_q, d_q = split_quadrature((relu.numpy, relu.derivative), a, s, 0.0)
    m_c, d_c = relu.noise_average_and_derivative(a, s)
    np.testing.assert_allclose(m_q, m_c, atol=1e-12)
    np.testing.assert_allclose(d_q, d_c, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_noise_average_at_zero_sigma_is_f(name):
    act = get_activation(name)
    a = np.linspace(-3, 3, 7)
    np.testing.assert_array_equal(act.noise_average(a, 0.0), act.numpy(a))
    with pytest.raises(ValueError, match="sigma"):
        act.noise_average(a, -1.0)
