"""A backend defined here, outside the package, works through simulate, evaluate,
noise_preference and closed_loop once registered (docs/add_a_backend.md).

The toy backend writes the CTRNN step itself with a plain loop over time (noise inside or
outside f, white only) and draws the standard normal stream every backend draws for a seed,
so it must agree with the numpy reference to float precision, noise on; a step-by-step form
gives it closed loop too. Nothing in the package names it.
"""

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise, evaluate, noise_preference, simulate, tasks
from brian_noisy_rnn.backends import (BACKENDS, Backend, get_backend, register_backend,
                                      unregister_backend)
from brian_noisy_rnn.backends.simulation import check_backend_options
from brian_noisy_rnn.core.dynamics import standard_normal
from brian_noisy_rnn.evaluation import closed_loop


def _relu(x):
    return np.maximum(x, 0.0)


class LoopBackend(Backend):
    """The CTRNN step written out (relu, white noise inside or outside f)."""

    name = "toy-loop"

    def supports(self, noise):
        return noise.placement in ("none", "pre", "post") and noise.process == "white"

    def run(self, spec, inputs, noise, seed, *, scale=1.0):
        T, B, _ = inputs.shape
        g = spec.gamma
        sigma = noise.sigma_vector(spec.n_hidden) if noise.is_active else 0.0
        xi = standard_normal(seed, T, B, spec.n_hidden) if noise.is_active else None
        h = np.tile(spec.h0, (B, 1))
        states = np.empty((T, B, spec.n_hidden))
        for t in range(T):
            a = h @ spec.w_rec.T + inputs[t] @ spec.w_in.T + spec.b
            n = sigma * xi[t] if noise.is_active else 0.0
            fa = _relu(a + n) if noise.placement == "pre" else _relu(a) + n
            h = (1 - g) * h + g * fa
            states[t] = h
        return scale * (states @ spec.w_out.T + spec.b_out), states

    def check_options(self, options, name="options"):
        super().check_options(options, name)
        if options.get("scale", 1.0) <= 0:
            raise ValueError(f"{name}.scale must be > 0, got {options['scale']!r}")
        return options

    def stepper(self, spec, noise, n_trials, seed):
        rng = np.random.RandomState(seed)
        sigma = noise.sigma_vector(spec.n_hidden) if noise.is_active else 0.0
        state = {"h": np.tile(spec.h0, (n_trials, 1))}

        def step(observations):
            a = state["h"] @ spec.w_rec.T + observations @ spec.w_in.T + spec.b
            n = sigma * rng.randn(n_trials * spec.n_hidden).reshape(n_trials, -1) \
                if noise.is_active else 0.0
            fa = _relu(a + n) if noise.placement == "pre" else _relu(a) + n
            state["h"] = (1 - spec.gamma) * state["h"] + spec.gamma * fa
            return state["h"] @ spec.w_out.T + spec.b_out

        return step


@pytest.fixture
def toy():
    backend = register_backend(LoopBackend())
    yield backend
    unregister_backend(backend.name)


@pytest.fixture
def spec(make_spec):
    return make_spec(6, n_in=1, n_out=1, dt=20 * ms, noise=Noise("pre", sigma=0.5), seed=3)


def test_registered_backend_is_listed_and_found_by_name(toy):
    assert "toy-loop" in BACKENDS and BACKENDS["toy-loop"] is toy
    assert get_backend("toy-loop") is toy and toy.steps
    assert toy.option_names() == ["scale"]
    with pytest.raises(ValueError, match="already registered"):
        register_backend(LoopBackend())


def test_unregistered_backend_is_refused_by_name(spec):
    with pytest.raises(ValueError, match="backend"):
        simulate(spec, np.zeros((3, 2, 1)), backend="toy-loop")


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_simulate_agrees_with_numpy_with_noise_on(toy, spec, placement):
    u = np.random.RandomState(0).randn(15, 4, 1)
    noise = Noise(placement, sigma=0.7)
    a = simulate(spec, u, backend="toy-loop", noise=noise, seed=11)
    b = simulate(spec, u, backend="numpy", noise=noise, seed=11)
    assert a.backend == "toy-loop"
    np.testing.assert_allclose(a.states, b.states, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.outputs, b.outputs, rtol=0, atol=1e-12)
    scaled = simulate(spec, u, backend="toy-loop", noise=noise, seed=11, scale=2.0)
    np.testing.assert_allclose(scaled.outputs, 2 * b.outputs, rtol=0, atol=1e-12)


def test_options_and_noise_are_checked_through_the_backend(toy, spec):
    with pytest.raises(ValueError, match="options.colour: unknown option of backend 'toy-loop'"):
        check_backend_options("toy-loop", {"colour": 1})
    with pytest.raises(ValueError, match="options.scale must be > 0"):
        check_backend_options("toy-loop", {"scale": -1.0})
    with pytest.raises(ValueError, match="backend 'toy-loop' cannot run noise"):
        simulate(spec, np.zeros((3, 2, 1)), backend="toy-loop", noise=Noise("state", 0.1))


def test_evaluate_and_noise_preference_equal_numpy(toy, spec):
    env = tasks.make("FunctionApproximation-v0", dt=20)
    m_toy = evaluate(spec, env, backend="toy-loop", n_trials=20, seed=4)
    m_np = evaluate(spec, env, backend="numpy", n_trials=20, seed=4)
    assert m_toy["mse"] == pytest.approx(m_np["mse"], rel=1e-10)
    a = noise_preference(spec, env, [1.0], backend="toy-loop", n_trials=20, seed=4)
    b = noise_preference(spec, env, [1.0], backend="numpy", n_trials=20, seed=4)
    assert a.backend == "toy-loop"
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10)
    with pytest.raises(ValueError, match="cannot run noise"):  # before anything runs
        noise_preference(spec, env, [1.0], backend="toy-loop", placement="state", n_trials=2,
                         seed=0)


def test_closed_loop_uses_the_stepper(toy, make_spec):
    env = tasks.make("PerceptualDecisionMaking-v0", dt=20)
    probe = tasks.batch(env, 1, seed=0)
    spec = make_spec(5, n_in=probe.inputs.shape[2], n_out=3, dt=20 * ms,
                     noise=Noise("post", sigma=0.3), seed=1)
    a = closed_loop(spec, env, backend="toy-loop", n_trials=6, seed=2)
    b = closed_loop(spec, env, backend="numpy", n_trials=6, seed=2)
    assert a.backend == "toy-loop"
    np.testing.assert_allclose(a.outputs, b.outputs, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.performance, b.performance)


def test_a_backend_without_stepper_refuses_closed_loop(make_spec):
    class RunOnly(Backend):
        name = "toy-run-only"

        def run(self, spec, inputs, noise, seed):
            return get_backend("numpy").run(spec, inputs, noise, seed)

    register_backend(RunOnly())
    try:
        spec = make_spec(4, n_in=3, n_out=3, dt=20 * ms)
        with pytest.raises(ValueError, match="cannot run closed loop"):
            closed_loop(spec, "PerceptualDecisionMaking-v0", backend="toy-run-only",
                        n_trials=2, seed=0)
    finally:
        unregister_backend("toy-run-only")
