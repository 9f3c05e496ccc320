"""The spiking realization: argument checks, convergence to the rate network, effective noise."""

import brian2
import numpy as np
import pytest
from brian2 import Hz, Network, StateMonitor, mV, ms, second

# simulate first: importing the spiking module imports the submodule brian_noisy_rnn.simulate,
# which would otherwise shadow the lazily exported function of the same name
from brian_noisy_rnn import simulate  # isort: skip
from brian_noisy_rnn import CTRNNSpec, Noise, SpikingRealization
from brian_noisy_rnn.backends.spiking import resolve_population, run_spiking
from brian_noisy_rnn.backends.spiking import (effective_sigma, measure_effective_sigma,
                                           population_for_sigma)

Z = 4.5  # tolerance in standard errors (false failure < 1e-5 per comparison)
FAST = dict(rate_max=50 * Hz, substeps=5)  # spike probability <= 0.05 per fine step at f = 1


@pytest.fixture(autouse=True)
def numpy_target():
    """Objects built outside run_spiking use the global target: numpy (no cython checks)."""
    old = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = "numpy"
    yield
    brian2.prefs.codegen.target = old


@pytest.fixture
def relu_spec(make_spec):
    return make_spec(6, 2, 2, activation="relu", seed=3)  # tau 100 ms, dt 10 ms


# --- argument validation -------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(neurons_per_unit=0), ValueError, "neurons_per_unit"),
    (dict(neurons_per_unit=2.5), ValueError, "neurons_per_unit"),
    (dict(neurons_per_unit=True), ValueError, "neurons_per_unit"),
    (dict(neurons_per_unit="10"), ValueError, "neurons_per_unit"),
    (dict(rate_max=100), TypeError, "rate_max"),
    (dict(rate_max=100 * ms), TypeError, "rate_max"),
    (dict(rate_max=0 * Hz), ValueError, "rate_max"),
    (dict(rate_max=-5 * Hz), ValueError, "rate_max"),
    (dict(rate_max=np.array([1.0, 2.0]) * Hz), ValueError, "rate_max"),
    (dict(tau_syn=5), TypeError, "tau_syn"),
    (dict(tau_syn=5 * mV), TypeError, "tau_syn"),
    (dict(tau_syn=-1 * ms), ValueError, "tau_syn"),
    (dict(n_trials=0), ValueError, "n_trials"),
    (dict(neuron_model="izhikevich"), ValueError, "neuron_model"),
    (dict(substeps=0), ValueError, "substeps"),
    (dict(neuron_model="lif", tau_m=10), TypeError, "tau_m"),
    (dict(neuron_model="lif", t_ref=-1 * ms), ValueError, "t_ref"),
    (dict(name=""), TypeError, "name"),
])
def test_bad_arguments(relu_spec, kwargs, exc, word):
    args = dict(neurons_per_unit=10, rate_max=50 * Hz)
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        SpikingRealization(relu_spec, **args)


def test_activation_must_be_nonnegative(make_spec):
    for act in ("relu", "softplus", "sigmoid", "retanh"):
        SpikingRealization(make_spec(3, 1, 1, activation=act), 2, 50 * Hz)
    with pytest.raises(ValueError, match="non-negative activation.*tanh"):
        SpikingRealization(make_spec(3, 1, 1, activation="tanh"), 2, 50 * Hz)
    with pytest.raises(TypeError, match="spec"):
        SpikingRealization("not a spec", 2, 50 * Hz)


def test_run_spiking_bad_arguments(relu_spec):
    u = np.zeros((4, 2, 2))
    with pytest.raises(ValueError, match="target"):
        run_spiking(relu_spec, u, None, 0, neurons_per_unit=2, target="cpp_standalone")
    with pytest.raises(ValueError, match="inputs"):
        run_spiking(relu_spec, np.zeros((4, 2, 3)), None, 0, neurons_per_unit=2)
    with pytest.raises(ValueError, match="scalar"):  # sigma -> neurons needs one sigma
        run_spiking(relu_spec, u, Noise("post", np.linspace(0.1, 0.5, 6)), 0)
    with pytest.raises(ValueError, match="rate_max_hz"):
        run_spiking(relu_spec, u, None, 0, neurons_per_unit=2, rate_max_hz=-1.0)
    with pytest.raises(ValueError, match="both"):
        run_spiking(relu_spec, u, None, 0, neurons_per_unit=2, tau_syn=1 * ms, tau_syn_ms=1.0)


# --- the run ---------------------------------------------------------------------------------
def test_shapes_seed_and_readout(relu_spec):
    u = np.random.default_rng(0).normal(size=(12, 3, 2))
    a = simulate(relu_spec, u, backend="brian2-spiking", seed=4, neurons_per_unit=5, **FAST)
    b = simulate(relu_spec, u, backend="brian2-spiking", seed=4, neurons_per_unit=5, **FAST)
    c = simulate(relu_spec, u, backend="brian2-spiking", seed=5, neurons_per_unit=5, **FAST)
    assert a.outputs.shape == (12, 3, 2) and a.states.shape == (12, 3, 6)
    np.testing.assert_array_equal(a.states, b.states)
    assert np.max(np.abs(a.states - c.states)) > 1e-3
    np.testing.assert_allclose(a.outputs, a.states @ relu_spec.w_out.T + relu_spec.b_out,
                               atol=1e-12)


def test_converges_to_the_rate_network(relu_spec):
    """The output error shrinks like 1/sqrt(M): from M = 10 to M = 1000 by about 10 (at least
    4 is required; the errors of single runs scatter by about 20 %)."""
    u = np.random.default_rng(1).normal(size=(30, 4, 2))
    rate = simulate(relu_spec, u, backend="numpy").outputs
    err = {}
    for m in (10, 100, 1000):
        out = simulate(relu_spec, u, backend="brian2-spiking", seed=2, neurons_per_unit=m,
                       **FAST).outputs
        err[m] = np.sqrt(np.mean((out - rate) ** 2))
    assert err[10] > err[100] > err[1000]
    assert err[10] / err[1000] > 4, err
    assert err[1000] < 0.05 * np.sqrt(np.mean(rate ** 2)), err


def test_sigma_zero_is_the_rate_network(relu_spec):
    """Without noise (the infinite-population limit) the backend runs the rate network."""
    u = np.random.default_rng(2).normal(size=(10, 2, 2))
    ref = simulate(relu_spec, u, backend="numpy")
    res = simulate(relu_spec, u, backend="brian2-spiking", noise=Noise("none"), seed=0)
    np.testing.assert_allclose(res.outputs, ref.outputs, atol=1e-12)


def test_user_network_and_readout(relu_spec):
    """A SpikingRealization runs in a user's Network; its readout group holds w_out h + b_out."""
    obj = SpikingRealization(relu_spec, 4, 50 * Hz, n_trials=2, substeps=5)
    obj.set_inputs(np.ones((6, 2, 2)))
    mon_h = StateMonitor(obj.units, "h", record=True, dt=relu_spec.dt, when="end")
    mon_z = StateMonitor(obj.readout, "z", record=True, dt=relu_spec.dt, when="end")
    net = Network(obj, mon_h, mon_z)
    net.run(6 * relu_spec.dt)
    h = mon_h.h[:].T.reshape(6, 2, 6)
    z = mon_z.z[:].T.reshape(6, 2, 2)
    np.testing.assert_allclose(z, h @ relu_spec.w_out.T + relu_spec.b_out, atol=1e-12)
    assert np.all(obj.units.phase[:] == 0)  # whole steps: the step phase is back to 0
    assert 0 < obj.check_saturation() < 1  # rates stayed below 1/dt_fine (no warning)


def test_readout_follows_the_current_state_like_rate_ctrnn(relu_spec):
    """``readout.z`` = w_out h + b_out with the *current* h, as in RateCTRNN: after running k
    network steps it is the output of h_k (no step of lag), and at every fine step (slot
    "end", where the step updates h) a user's monitor sees z of the h it sees."""
    obj = SpikingRealization(relu_spec, 4, 50 * Hz, n_trials=2, substeps=5)
    obj.set_inputs(np.random.default_rng(3).normal(size=(9, 2, 2)) + 1)
    mon_h = StateMonitor(obj.units, "h", record=True, when="end")
    mon_z = StateMonitor(obj.readout, "z", record=True, when="end")
    net = Network(obj, mon_h, mon_z)
    w_out, b_out = relu_spec.w_out, relu_spec.b_out
    previous = None
    for k in (1, 3, 5):  # runs of whole steps, continued
        net.run(k * relu_spec.dt)
        h = obj.units.h[:].reshape(2, 6)
        np.testing.assert_allclose(obj.readout.z[:].reshape(2, 2), h @ w_out.T + b_out,
                                   atol=1e-12)
        assert previous is None or np.max(np.abs(h - previous)) > 1e-6  # h did move
        previous = h.copy()
    h_fine = mon_h.h[:].T.reshape(-1, 2, 6)
    z_fine = mon_z.z[:].T.reshape(-1, 2, 2)
    assert len(h_fine) == 9 * 5
    np.testing.assert_allclose(z_fine, h_fine @ w_out.T + b_out, atol=1e-12)


def test_saturation_warns(relu_spec):
    with pytest.warns(RuntimeWarning, match="spike probability"):
        run_spiking(relu_spec.replace(b=np.full(6, 3.0)), np.zeros((3, 1, 2)), None, 0,
                    neurons_per_unit=2, rate_max=200 * Hz, substeps=1)


# --- effective noise -------------------------------------------------------------------------
@pytest.mark.parametrize("tau_syn", [None, 30 * ms])
def test_effective_sigma_matches_simulation(tau_syn):
    """The measured noise of isolated Poisson populations equals effective_sigma (with the
    Bernoulli correction at the units' activity), and so does the variance of the rate
    network with the equivalent Noise("post", sigma_eff, process="poisson")."""
    kw = dict(dt=10 * ms, tau=100 * ms, neurons_per_unit=5, rate_max=40 * Hz, tau_syn=tau_syn,
              substeps=4)
    theory = effective_sigma(activity=1.0, **kw)
    sigma, se, mean = measure_effective_sigma(activity=1.0, n_units=100, n_steps=300, seed=1,
                                              **kw)
    assert abs(mean - 1.0) < 0.02
    assert abs(sigma - theory) <= Z * se, (sigma, se, theory)
    assert se < 0.03 * theory  # precise enough to tell M = 5 from M = 4 (sigma 12 % apart)
    # the rate network with the equivalent noise has the same stationary variance
    n = 100
    spec = CTRNNSpec(np.zeros((n, 1)), np.zeros((n, n)), np.ones(n), np.zeros((1, n)),
                     np.zeros(1), tau=100 * ms, dt=10 * ms, activation="relu", h0=np.ones(n))
    res = simulate(spec, np.zeros((300, 1, 1)), backend="numpy", seed=2,
                   noise=Noise("post", theory, process="poisson"))
    h = res.states[50:, 0]
    var_rate = ((h - 1.0) ** 2).mean(0)
    g = spec.gamma
    sigma_rate = np.sqrt(var_rate.mean() * (2 - g) / g)
    se_rate = 0.5 * sigma_rate * var_rate.std(ddof=1) / np.sqrt(n) / var_rate.mean()
    assert abs(sigma_rate - sigma) <= Z * np.hypot(se, se_rate)


def test_effective_noise_api(relu_spec):
    obj = SpikingRealization(relu_spec, 8, 50 * Hz, tau_syn=5 * ms, substeps=5)
    want = effective_sigma(dt=relu_spec.dt, tau=relu_spec.tau, neurons_per_unit=8,
                           rate_max=50 * Hz, tau_syn=5 * ms, substeps=5, activity=0.5)
    assert obj.effective_sigma(0.5) == pytest.approx(want, rel=1e-12)
    nz = obj.effective_noise()
    assert nz.placement == "post" and nz.process == "poisson"
    # more neurons or a higher rate: less noise (1/sqrt(M rate)); the synapse smooths it
    base = dict(dt=10 * ms, tau=100 * ms, rate_max=50 * Hz)
    s1 = effective_sigma(neurons_per_unit=10, **base)
    assert effective_sigma(neurons_per_unit=40, **base) == pytest.approx(s1 / 2)
    assert s1 == pytest.approx(1 / np.sqrt(10 * 50 * 0.01))
    assert effective_sigma(neurons_per_unit=10, tau_syn=20 * ms, **base) < s1
    assert effective_sigma(neurons_per_unit=10, tau_syn=1e-6 * ms, **base) == \
        pytest.approx(s1, rel=1e-6)


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.5])
def test_population_for_sigma(relu_spec, sigma):
    m, rate = population_for_sigma(sigma, dt=relu_spec.dt, tau=relu_spec.tau, rate_max=50 * Hz)
    assert isinstance(m, int) and m >= 1
    assert effective_sigma(dt=relu_spec.dt, tau=relu_spec.tau, neurons_per_unit=m,
                           rate_max=rate) == pytest.approx(sigma, rel=1e-12)
    got = resolve_population(relu_spec, Noise("pre", sigma), None, 50 * Hz, None)
    assert got[0] == m and float(got[1] / Hz) == pytest.approx(float(rate / Hz))
    with pytest.raises(ValueError, match="sigma"):
        population_for_sigma(-1.0, dt=relu_spec.dt, tau=relu_spec.tau)


def test_lif_rates_and_subpoisson_noise():
    """LIF populations fire at the target rate (within the 1-fine-step timing error) and are
    far less variable than Poisson populations."""
    kw = dict(dt=10 * ms, tau=100 * ms, neurons_per_unit=5, rate_max=40 * Hz, substeps=10)
    sigma, se, mean = measure_effective_sigma(activity=0.7, n_units=60, n_steps=200, seed=3,
                                              neuron_model="lif", **kw)
    assert abs(mean - 0.7) < 0.035
    assert sigma + Z * se < 0.6 * effective_sigma(activity=0.7, **kw)


@pytest.mark.slow
def test_cython_target_equals_numpy(relu_spec):
    u = np.random.default_rng(5).normal(size=(8, 2, 2))
    a = simulate(relu_spec, u, backend="brian2-spiking", seed=7, neurons_per_unit=5,
                 target="numpy", **FAST)
    b = simulate(relu_spec, u, backend="brian2-spiking", seed=7, neurons_per_unit=5,
                 target="cython", **FAST)
    np.testing.assert_allclose(a.states, b.states, atol=1e-12)


def test_usable_in_evaluate_and_noise_preference():
    """evaluate and noise_preference run on backend "brian2-spiking", with explicit neurons per
    unit or with M derived from the test sigma (sigma = 0: the rate network itself)."""
    from brian_noisy_rnn.evaluation.scoring import evaluate
    from brian_noisy_rnn.evaluation.curves import noise_preference
    from brian_noisy_rnn.core.examples import example_spec
    from brian_noisy_rnn.tasks import make

    spec = example_spec(8, noise=Noise("pre", 1.0))
    env = make("FunctionApproximation-v0", dt=20)
    m = evaluate(spec, env, backend="brian2-spiking", n_trials=4, seed=0, neurons_per_unit=3,
                 rate_max=50 * Hz)
    assert np.isfinite(m["mse"])
    m0 = evaluate(spec, env, backend="brian2-spiking", noise=Noise("pre", 0.0), n_trials=4,
                  seed=0)
    r0 = evaluate(spec, env, backend="numpy", noise=Noise("none"), n_trials=4, seed=0)
    assert m0["mse"] == pytest.approx(r0["mse"], rel=1e-9)
    curve = noise_preference(spec, env, [0.0, 0.5], backend="brian2-spiking", n_trials=4,
                             seed=0, rate_max_hz=25.0)
    assert curve.backend == "brian2-spiking" and np.all(np.isfinite(curve.mean))
    # sigma = 0 (a sweep always contains the training sigma 1 too) is the noise-free rate network
    assert curve.mean[0] == pytest.approx(r0["mse"], rel=1e-9)


def _spiking_states(spec, inputs, source, **kwargs):
    """States (T, B, N) of a SpikingRealization fed ``inputs`` through ``set_inputs`` or a
    user's group (``input_source="external"``, updated at ``start`` of each network step)."""
    brian2.start_scope()
    T, B, n_in = inputs.shape
    brian2.seed(7)  # LIF neurons draw their initial v when built
    obj = SpikingRealization(spec, 4, 50 * Hz, n_trials=B, substeps=5, input_source=source,
                             **kwargs)
    objects = [obj]
    if source == "external":
        stim = brian2.TimedArray(inputs.reshape(T, -1), dt=spec.dt)
        driver = brian2.NeuronGroup(B * n_in, "r : 1", namespace={"stim": stim}, dt=spec.dt)
        driver.run_regularly("r = stim(t, i)", when="start")
        obj.inputs.u = brian2.linked_var(driver, "r")
        objects.append(driver)
    else:
        obj.set_inputs(inputs)
    mon = StateMonitor(obj.units, "h", record=True, dt=spec.dt, when="end")
    Network(*objects, mon).run(T * spec.dt)
    return obj, obj.trial_view(mon, "h")


@pytest.mark.parametrize("neuron_model", ["poisson", "lif"])
def test_external_inputs_equal_set_inputs(relu_spec, neuron_model):
    """``input_source="external"`` (issue 23): a user's group updated at the start of each
    network step drives the realization exactly as ``set_inputs`` does with the same seed
    (the driver draws no random numbers, so the spikes are the same: equal to 1e-12)."""
    inputs = np.random.default_rng(5).normal(size=(8, 2, 2)) + 1
    _, a = _spiking_states(relu_spec, inputs, "timed_array", neuron_model=neuron_model)
    obj, b = _spiking_states(relu_spec, inputs, "external", neuron_model=neuron_model)
    assert np.max(np.abs(a - b)) <= 1e-12 and np.max(np.abs(a)) > 0
    with pytest.raises(ValueError, match="set_inputs.*input_source='external'"):
        obj.set_inputs(inputs)
    with pytest.raises(ValueError, match="input_source"):
        SpikingRealization(relu_spec, 4, 50 * Hz, input_source="direct")


def test_membrane_sigma_can_change_on_a_noisy_realization(relu_spec):
    """``membrane_sigma`` assigned between runs reaches the neurons' ``sigma_m`` (it was a
    plain attribute the built neurons never read); a realization built without membrane
    noise refuses a positive value, naming the fix."""
    inputs = np.ones((6, 1, 2))
    obj, _ = _spiking_states(relu_spec, inputs, "timed_array", membrane_sigma=0.5)
    obj.membrane_sigma = 0.2
    assert obj.membrane_sigma == 0.2 and np.all(obj.neurons.sigma_m[:] == 0.2)
    quiet = SpikingRealization(relu_spec, 4, 50 * Hz, substeps=5)
    quiet.membrane_sigma = 0.0  # nothing to change
    with pytest.raises(ValueError, match="built without membrane noise"):
        quiet.membrane_sigma = 0.5
    assert quiet.membrane_sigma == 0.0
