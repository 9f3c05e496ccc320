"""The caller's random state is the caller's: every public helper leaves numpy's global
generator and Brian2's (numpy and cython targets) as it found them, also when it raises,
while RateCTRNN used directly draws from Brian2's generator as any Brian2 group does."""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, StateMonitor, defaultclock, ms, prefs, seed

from brian_noisy_rnn import Noise, RateCTRNN, evaluate, noise_preference, simulate, tasks
from brian_noisy_rnn.analysis import single_neuron_shift, single_neuron_spec, stationary_stats
from brian_noisy_rnn.backends.random_state import caller_random_state


def _user_draws(target, n_steps=3):
    """What a user's own noisy group draws: ``randn()`` into 3 neurons for ``n_steps`` steps."""
    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        g = NeuronGroup(3, "x : 1")
        g.run_regularly("x = randn()", dt=defaultclock.dt)
        mon = StateMonitor(g, "x", record=True)
        Network(g, mon).run(n_steps * defaultclock.dt, namespace={})
        return mon.x[:].copy()
    finally:
        prefs.codegen.target = old


@pytest.fixture(scope="module")
def relu_spec():
    from conftest import random_spec

    return random_spec(4, 1, 1, noise=Noise("pre", 0.5), dt=20 * ms)


@pytest.fixture(scope="module")
def env():
    return tasks.make("FunctionApproximation-v0", dt=20)


U = np.ones((6, 2, 1))

HELPERS = {
    "simulate numpy": lambda s, e, t: simulate(s, U, backend="numpy", seed=3),
    "simulate torch": lambda s, e, t: simulate(s, U, backend="torch", seed=3),
    "simulate brian2": lambda s, e, t: simulate(s, U, backend="brian2", seed=3, target=t),
    "simulate brian2 seed None": lambda s, e, t: simulate(s, U, backend="brian2", target=t),
    "simulate brian2-spiking": lambda s, e, t: simulate(
        s, U, backend="brian2-spiking", seed=3, target=t, neurons_per_unit=3),
    "evaluate brian2": lambda s, e, t: evaluate(s, e, backend="brian2", n_trials=3, seed=1,
                                                target=t),
    "noise_preference brian2": lambda s, e, t: noise_preference(
        s, e, [0.5], backend="brian2", n_trials=3, seed=1, target=t),
    "stationary_stats brian2": lambda s, e, t: stationary_stats(
        s, [0.5], backend="brian2", n_trials=2, n_steps=8, burn_in=2, seed=2, target=t),
    "single_neuron_shift brian2": lambda s, e, t: single_neuron_shift(
        single_neuron_spec(), [0.5], [0.5], backend="brian2", n_trials=2, n_steps=60, target=t),
}


def _same(a, b):
    """Two ``np.random.get_state()`` tuples are equal (key array, position, cached gaussian)."""
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


_UNDISTURBED = {}


def _undisturbed(target):
    """The user's second batch of draws after ``seed(5)``, with nothing run in between."""
    if target not in _UNDISTURBED:
        seed(5)
        _user_draws(target)
        _UNDISTURBED[target] = _user_draws(target)
    return _UNDISTURBED[target]


def _check_left_as_found(call, target):
    """Seed 5, draw a few numbers (so that cython's buffer is half read), run ``call``; the
    numpy state must be unchanged and the user's next draws those of an undisturbed run."""
    expected = _undisturbed(target)
    seed(5)
    _user_draws(target)
    before = np.random.get_state()
    call()
    after = np.random.get_state()
    assert _same(before, after)
    np.testing.assert_array_equal(_user_draws(target), expected)


# numpy and torch never touch a global generator: one Brian2 target is enough there
CASES = [(h, t) for h in sorted(HELPERS) for t in ("numpy", "cython")
         if t == "numpy" or "brian2" in h]


@pytest.mark.parametrize("helper, target", CASES)
def test_helper_leaves_numpy_and_brian2_random_state_as_found(helper, target, relu_spec, env):
    _check_left_as_found(lambda: HELPERS[helper](relu_spec, env, target), target)


def test_seed_5_alone_is_reproduced_after_a_helper(relu_spec):
    seed(5)
    alone = _user_draws("numpy")
    seed(5)
    simulate(relu_spec, U, backend="brian2", seed=11)
    np.testing.assert_array_equal(_user_draws("numpy"), alone)


@pytest.mark.parametrize("target", ["numpy", "cython"])
def test_state_restored_when_the_helper_raises_mid_way(relu_spec, target, monkeypatch):
    from brian_noisy_rnn.backends.brian2 import run as run_module

    def failing_record(*args, **kwargs):
        np.random.randn(7)  # draws happened before the failure
        raise RuntimeError("interrupted mid-run")

    monkeypatch.setattr(run_module, "_NoCollection", failing_record)

    def call():
        with pytest.raises(RuntimeError, match="interrupted"):
            simulate(relu_spec, U, backend="brian2", seed=3, target=target)

    _check_left_as_found(call, target)


def test_experiment_cell_leaves_random_state_as_found(relu_spec):
    from brian_noisy_rnn.experiments.runner import run_cell

    config = {"task": "FunctionApproximation-v0", "task_kwargs": {}, "network": {
        "dt_ms": 20.0, "tau_ms": 100.0}, "backend": "brian2", "backend_options": {},
        "test_sigmas": [0.5], "n_trials": 3, "eval_seed": 1}
    _check_left_as_found(lambda: run_cell(config, spec=relu_spec), "numpy")


def test_parity_with_noise_kept_inside_the_restored_block(relu_spec):
    a = simulate(relu_spec, U, backend="numpy", seed=9)
    b = simulate(relu_spec, U, backend="brian2", seed=9)
    np.testing.assert_allclose(b.outputs, a.outputs, rtol=0, atol=1e-12)


def test_rate_ctrnn_used_directly_draws_from_brian2s_generator(relu_spec):
    """A RateCTRNN in the user's own network is an ordinary Brian2 object: seeding Brian2
    reproduces it, and it advances Brian2's (numpy's) generator."""
    def run_once():
        rnn = RateCTRNN(relu_spec, 2)
        rnn.set_inputs(U)
        mon = StateMonitor(rnn.hidden, "h", record=True)
        Network(rnn, mon).run(6 * relu_spec.dt, namespace={})
        return mon.h[:].copy()

    seed(4)
    before = np.random.get_state()
    first = run_once()
    assert not _same(np.random.get_state(), before)
    seed(4)
    np.testing.assert_array_equal(run_once(), first)


def test_nested_blocks_each_restore_their_own_state():
    outer = np.random.get_state()
    with caller_random_state():
        np.random.rand(2)
        inner = np.random.get_state()
        with caller_random_state():
            np.random.rand(3)
        assert _same(np.random.get_state(), inner)
        assert not _same(inner, outer)
    assert _same(np.random.get_state(), outer)
