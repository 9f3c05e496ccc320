"""The two network forms: h-form (the rate is filtered) and x-form (the state before f is).

The mapping test checks the derivation of docs/importing.md: an x-form network is an h-form
network y driven by the *low-pass filtered* input drive v, x = w_rec y + v, read out through
f; so with time-varying inputs no h-form CTRNNSpec on the same inputs equals it.
"""

import numpy as np
import pytest
from brian2 import Network, StateMonitor, ms

from brian_noisy_rnn import CTRNNSpec, Noise, RateCTRNN, simulate
from brian_noisy_rnn.analysis import compensate
from brian_noisy_rnn.backends.torch_backend import TorchCTRNN

N, I, O = 5, 2, 2


def _x_spec(noise=None, activation="tanh"):
    rng = np.random.RandomState(0)
    return CTRNNSpec(rng.randn(N, I), rng.randn(N, N) / np.sqrt(N), rng.randn(N) * 0.1,
                     rng.randn(O, N), rng.randn(O), tau=100 * ms, dt=10 * ms,
                     activation=activation, noise=noise, h0=rng.randn(N) * 0.2, form="x")


def test_x_form_is_an_h_form_network_of_filtered_inputs():
    spec = _x_spec()
    g = spec.gamma
    u = np.random.RandomState(1).randn(40, 3, I)
    x = simulate(spec, u, backend="numpy").states
    # y' = (1 - g) y + g f(x), v' = (1 - g) v + g (w_in u + b), x = w_rec y + v
    y = np.zeros((3, N))
    v = np.tile(spec.h0, (3, 1))
    for t in range(40):
        xt = y @ spec.w_rec.T + v
        y = (1 - g) * y + g * np.tanh(xt)
        v = (1 - g) * v + g * (u[t] @ spec.w_in.T + spec.b)
        assert np.max(np.abs(y @ spec.w_rec.T + v - x[t])) < 1e-12
    # the same weights as an h-form network are another network
    h_spec = spec.replace(form="h", h0=np.tanh(spec.h0))
    assert np.max(np.abs(simulate(h_spec, u, backend="numpy").outputs
                         - simulate(spec, u, backend="numpy").outputs)) > 1e-2


def test_rate_ctrnn_x_form_with_synapses_and_readout_group():
    """A user's Brian2 network: RateCTRNN with per-trial Synapses and its readout group."""
    spec = _x_spec(Noise("state", 0.2))
    u = np.random.RandomState(2).randn(15, 2, I)
    ref = simulate(spec, u, backend="numpy", noise=Noise("none"))
    for recurrence in ("synapses", "dense"):
        rnn = RateCTRNN(spec, 2, Noise("none"), recurrence=recurrence)
        rnn.set_inputs(u)
        mon = StateMonitor(rnn.readout, "z", record=True, when="end")
        Network(rnn, mon).run(15 * spec.dt)
        assert np.max(np.abs(rnn.trial_view(mon, "z") - ref.outputs)) < 1e-12, recurrence


def test_torch_and_file_keep_the_form(tmp_path):
    spec = _x_spec(Noise("state", 0.1, scale="alpha"))
    spec.save(tmp_path / "x.npz")
    loaded = CTRNNSpec.load(tmp_path / "x.npz")
    assert loaded == spec and loaded.form == "x"
    assert TorchCTRNN.from_spec(spec).to_spec() == spec.replace(metadata={})
    with pytest.raises(ValueError, match="form"):
        spec.replace(form="y")


def test_h_form_only_computations_refuse_x_form():
    spec = _x_spec()
    with pytest.raises(ValueError, match="written for form"):
        compensate(spec, sigma=0.1)
    with pytest.raises(ValueError, match="written for form"):
        simulate(spec, np.zeros((3, 1, I)), backend="brian2-spiking")


@pytest.mark.slow
def test_x_form_under_cpp_standalone():
    """The standalone path (recurrence 'auto' is per-trial Synapses for x-form; the dense C++
    kernel reads h, not f(h), and is refused), with state noise and the same seed."""
    spec = _x_spec(Noise("state", 0.2))
    u = np.random.RandomState(3).randn(10, 2, I)
    ref = simulate(spec, u, backend="numpy", seed=1)
    res = simulate(spec, u, backend="brian2", target="cpp_standalone", seed=1)
    assert np.max(np.abs(res.outputs - ref.outputs)) < 1e-12
