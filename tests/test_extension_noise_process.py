"""A noise process defined here, outside the package, works end to end once registered
(docs/add_a_noise_process.md): Noise accepts it where it allows itself, numpy, torch and
Brian2 run it on the shared standard normal stream, a noise-preference sweep keeps it, the
stationary analysis uses its step variance, the CLI offers it, and training refuses it.

The toy process is Rademacher noise outside f: ``n = sigma * sign(xi)`` (variance sigma**2,
independent steps), so its step is checked against the step written out by hand, and its
linear-noise covariance must equal white noise's of the same sigma.
"""

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise, noise_preference, simulate, tasks
from brian_noisy_rnn.analysis.stationary import mean_field_fixed_point
from brian_noisy_rnn.core import NOISE_PROCESSES, NoiseProcess, register_noise_process
from brian_noisy_rnn.core.dynamics import standard_normal
from brian_noisy_rnn.core.noise import PROCESSES, SUPPORTED
from brian_noisy_rnn.core.noise_processes import unregister_noise_process


class SignNoise(NoiseProcess):
    """Rademacher noise outside f: ``sigma * sign(xi)``."""

    name = "toy_sign"
    label = "Rademacher"
    placements = ("post",)
    gaussian = False

    def sample(self, prev, xi_t, sigma, rule, first):
        return sigma * (2.0 * (xi_t > 0) - 1.0)  # numpy arrays and torch tensors alike

    def brian2_sample(self, fa):
        return "sigma*sign(eta)"


@pytest.fixture
def toy():
    process = register_noise_process(SignNoise())
    yield process
    unregister_noise_process(process.name)


@pytest.fixture
def spec(make_spec):
    return make_spec(5, n_in=1, n_out=1, dt=20 * ms, noise=Noise("post", sigma=0.3), seed=2)


def test_noise_accepts_it_only_where_it_allows_itself(toy):
    assert "toy_sign" in NOISE_PROCESSES and "toy_sign" in PROCESSES
    assert "toy_sign" in SUPPORTED["post"] and "toy_sign" not in SUPPORTED["pre"]
    assert Noise("post", 0.5, process="toy_sign").noise_process is toy
    with pytest.raises(ValueError, match="process='toy_sign' is not supported with placement='pre'"):
        Noise("pre", 0.5, process="toy_sign")


def test_unregistered_process_is_refused_by_name():
    with pytest.raises(ValueError, match="process must be one of"):
        Noise("post", 0.5, process="toy_sign")


def test_numpy_step_is_the_written_out_step(toy, spec):
    """h' = (1 - g) h + g (relu(a) + sigma sign(xi)), xi the shared stream of the seed."""
    u = np.random.RandomState(1).randn(12, 3, 1)
    noise = Noise("post", 0.4, process="toy_sign")
    res = simulate(spec, u, backend="numpy", noise=noise, seed=7)
    xi = standard_normal(7, 12, 3, spec.n_hidden)
    h = np.tile(spec.h0, (3, 1))
    for t in range(12):
        a = h @ spec.w_rec.T + u[t] @ spec.w_in.T + spec.b
        h = (1 - spec.gamma) * h + spec.gamma * (np.maximum(a, 0) + 0.4 * np.sign(xi[t]))
        np.testing.assert_allclose(res.states[t], h, rtol=0, atol=1e-13)
    white = simulate(spec, u, backend="numpy", noise=Noise("post", 0.4), seed=7)
    assert np.max(np.abs(white.states - res.states)) > 1e-3  # the process made a difference


def test_torch_and_brian2_agree_with_numpy(toy, spec):
    u = np.random.RandomState(1).randn(10, 2, 1)
    noise = Noise("post", 0.4, process="toy_sign")
    ref = simulate(spec, u, backend="numpy", noise=noise, seed=3)
    for backend in ("torch", "brian2"):
        res = simulate(spec, u, backend=backend, noise=noise, seed=3)
        np.testing.assert_allclose(res.states, ref.states, rtol=0, atol=1e-12, err_msg=backend)


def test_a_sweep_keeps_the_process(toy, spec):
    env = tasks.make("FunctionApproximation-v0", dt=20)
    template = Noise("post", 0.3, process="toy_sign")
    curve = noise_preference(spec, env, [0.6], noise=template, backend="numpy", n_trials=20,
                             seed=1)
    assert curve.process == "toy_sign" and curve.sigmas.tolist() == [0.0, 0.3, 0.6]
    white = noise_preference(spec, env, [0.6], backend="numpy", n_trials=20, seed=1)
    assert curve.mean[0] == white.mean[0]  # sigma 0: no noise either way
    assert curve.mean[2] != white.mean[2]


def test_stationary_covariance_uses_its_step_variance(toy, make_spec):
    """Rademacher and white noise have the same per-step variance: same LNA covariance."""
    spec = make_spec(4, n_in=1, n_out=1, dt=20 * ms, seed=5)
    u = np.array([0.3])
    a = mean_field_fixed_point(spec, u, Noise("post", 0.2, process="toy_sign"))
    b = mean_field_fixed_point(spec, u, Noise("post", 0.2))
    assert a.cov is not None and np.all(np.diag(a.cov) > 0)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-12)


def test_the_cli_offers_it(toy):
    from brian_noisy_rnn.cli import build_parser
    from brian_noisy_rnn.cli._arguments import noise_from_args

    args = build_parser().parse_args(["simulate", "net.npz", "--placement", "post", "--sigma",
                                      "0.2", "--process", "toy_sign"])
    assert noise_from_args(args) == Noise("post", 0.2, process="toy_sign")


def test_training_refuses_a_process_without_stacked_form(toy, make_spec):
    from brian_noisy_rnn.bridges import StackedCTRNN

    spec = make_spec(4, n_in=1, n_out=1, dt=20 * ms, seed=0)
    model = StackedCTRNN.from_specs([spec.replace(noise=Noise("post", 0.2, process="toy_sign"))])
    with pytest.raises(ValueError, match="toy_sign.*no stacked form"):
        model.noise_terms([None], 3, 2)
