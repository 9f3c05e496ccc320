"""A noise process defined here, outside the package, works end to end once registered
(docs/add_a_noise_process.md): Noise accepts it where it allows itself, numpy, torch and
Brian2 run it on the shared standard normal stream, a noise-preference sweep keeps it, the
stationary analysis uses its step variance, the CLI offers it, and training refuses it.

The toy process is Rademacher noise outside f: ``n = sigma * sign(xi)`` (variance sigma**2,
independent steps), so its step is checked against the step written out by hand, and its
linear-noise covariance must equal white noise's of the same sigma. A second toy, AR(1)
noise inside f with a Brian2 constant of its own, carries its sample from step to step: the
training ensemble, Brian2 (also a compiled project's run arguments) and ``TorchCTRNN.step``
must read that from the process, not from its name.
"""

import numpy as np
import pytest
import torch
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


class StackedSignNoise(SignNoise):
    """The Rademacher toy, trainable: the ensemble precomputes its samples."""

    name = "toy_sign_stacked"
    stacked = True
    memoryless = True  # its sample ignores the previous step's


class ARNoise(NoiseProcess):
    """AR(1) noise inside f: ``n_0 = sigma xi_0``, ``n_t = c n_(t-1) + sigma xi_t``, c = 0.5."""

    name = "toy_ar"
    label = "AR(1)"
    placements = ("pre",)
    independent_steps = False
    stacked = True
    brian2_variables = "eta : 1\ntoy_c : 1 (constant, shared)\n"
    brian2_update = "eta = toy_c*eta + sigma*randn()\n"

    def decay(self, dt_seconds, noise):
        return 0.5

    def sample(self, prev, xi_t, sigma, rule, first):
        return sigma * xi_t if first else rule.rho * prev + sigma * xi_t

    def brian2_sample(self, fa):
        return "eta"

    def brian2_constants(self, rule):
        return {"toy_c": rule.rho}

    def brian2_reset(self, group):
        group.eta = 0.0


@pytest.fixture
def toys():
    processes = [register_noise_process(StackedSignNoise()), register_noise_process(ARNoise())]
    yield processes
    for process in processes:
        unregister_noise_process(process.name)


def _stacked_states(spec, noise, u, xi):
    """States of a one-member StackedCTRNN and of TorchCTRNN on the same draws (float64)."""
    from brian_noisy_rnn.backends import StackedCTRNN, TorchCTRNN

    single = TorchCTRNN.from_spec(spec.replace(noise=noise), dtype=torch.float64)
    stacked = StackedCTRNN.from_modules([single])
    u_t, xi_t = torch.as_tensor(u), torch.as_tensor(xi)
    terms = stacked.noise_terms([xi_t], u.shape[0], u.shape[1])
    with torch.no_grad():
        _, states = stacked(u_t.unsqueeze(1), terms)
        _, ref = single(u_t, xi=xi_t)
    return states[:, 0].numpy(), ref.numpy()


def test_the_ensemble_computes_each_process_own_samples(toys, spec):
    """A memoryless process (Rademacher) and one with memory (AR(1)) in the stacked rollout
    equal TorchCTRNN on the same draws: the ensemble computes the samples through the
    process, not as sigma * xi for every process but OU."""
    u = np.random.RandomState(1).randn(12, 3, 1)
    xi = standard_normal(4, 12, 3, spec.n_hidden)
    for noise in (Noise("post", 0.4, process="toy_sign_stacked"),
                  Noise("pre", 0.4, process="toy_ar")):
        states, ref = _stacked_states(spec, noise, u, xi)
        np.testing.assert_allclose(states, ref, rtol=0, atol=1e-12, err_msg=noise.process)
        white, _ = _stacked_states(spec, Noise(noise.placement, 0.4), u, xi)
        assert np.max(np.abs(white - states)) > 1e-3, noise.process  # the process mattered


def test_brian2_takes_the_process_constants(toys, spec):
    """Brian2 sets the AR toy's constant (``brian2_constants``) when built and when its noise
    is assigned (then restarting the process), and a compiled project gets it as a run
    argument (``parameter_values``); each run equals numpy's on the same stream."""
    import brian2 as b2

    from brian_noisy_rnn import RateCTRNN
    from brian_noisy_rnn.backends.brian2.rate_network import parameter_values

    u = np.random.RandomState(1).randn(10, 2, 1)
    noise = Noise("pre", 0.4, process="toy_ar")
    ref = simulate(spec, u, backend="numpy", noise=noise, seed=3)
    res = simulate(spec, u, backend="brian2", noise=noise, seed=3)
    np.testing.assert_allclose(res.states, ref.states, rtol=0, atol=1e-12)
    assert parameter_values(spec, noise, 2)["hidden.toy_c"] == 0.5
    b2.start_scope()
    net = RateCTRNN(spec, 2, noise=noise.with_sigma(0.2))
    net.hidden.toy_c, net.hidden.eta = 0.0, 1.0  # both set again by the assignment
    net.noise = noise
    net.set_inputs(u)
    mon = b2.StateMonitor(net.hidden, "h", record=True, when="end")
    b2.seed(3)
    b2.Network(net, mon).run(10 * spec.dt)
    np.testing.assert_allclose(net.trial_view(mon, "h"), ref.states, rtol=0, atol=1e-12)


def test_torch_step_refuses_a_process_with_memory(toys, spec):
    from brian_noisy_rnn.backends import TorchCTRNN

    model = TorchCTRNN.from_spec(spec.replace(noise=Noise("pre", 0.4, process="toy_ar")))
    with pytest.raises(ValueError, match="memoryless.*'toy_ar'"):
        model.step(None, torch.zeros(2, 1))
    model.step(None, torch.zeros(2, 1), noise=Noise("post", 0.4, process="toy_sign_stacked"))
