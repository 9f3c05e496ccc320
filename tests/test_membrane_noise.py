"""Membrane noise of the spiking realization: arguments, sigma_m = 0 reproduces the realization
without it bit for bit, the population limit E[f(a + sigma_m xi)], Brian2 targets, and
``noise_preference`` over sigma_m."""

import hashlib
import importlib.util
import sys
from pathlib import Path

import brian2
import numpy as np
import pytest
from brian2 import Hz, Network, SpikeMonitor, StateMonitor, mV, ms
from numpy.polynomial.hermite_e import hermegauss

from brian_noisy_rnn import simulate  # isort: skip
from brian_noisy_rnn import CTRNNSpec, Noise, SpikingRealization
from brian_noisy_rnn.backends.spiking import membrane_options, run_spiking
from brian_noisy_rnn.core.activations import get_activation
from brian_noisy_rnn.core.noise_averages import noisy_activation

from conftest import random_spec

Z = 4.5  # tolerance in standard errors (two-sided false failure < 1e-5 per comparison)
RATE_MAX, DT, SUBSTEPS = 50.0, 0.01, 5  # Hz, s: spike probability 0.1 f per fine step
A_VALUES = np.array([-1.0, -0.3, 0.0, 0.5, 1.0])


@pytest.fixture(autouse=True)
def numpy_target():
    old = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = "numpy"
    yield
    brian2.prefs.codegen.target = old


# --- arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(membrane_sigma=-0.1), ValueError, "membrane_sigma"),
    (dict(membrane_sigma=float("nan")), ValueError, "membrane_sigma"),
    (dict(membrane_sigma=True), TypeError, "membrane_sigma"),
    (dict(membrane_sigma="0.5"), TypeError, "membrane_sigma"),
    (dict(membrane_sigma=[0.1, 0.2]), ValueError, "membrane_sigma"),  # a shape error
    (dict(membrane_sigma=0.5 * mV), brian2.DimensionMismatchError, "membrane_sigma"),
    (dict(membrane_process="pink"), ValueError, "membrane_process"),
    (dict(membrane_process="ou", membrane_tau=5), TypeError, "membrane_tau"),
    (dict(membrane_process="ou", membrane_tau=-1 * ms), ValueError, "membrane_tau"),
    (dict(membrane_process="white", membrane_tau=5 * ms), ValueError, "membrane_tau"),
])
def test_bad_membrane_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        SpikingRealization(random_spec(3, 1, 1), 2, 50 * Hz, **kwargs)


def test_membrane_attributes():
    obj = SpikingRealization(random_spec(3, 1, 1), 2, 50 * Hz, membrane_sigma=0.5,
                             membrane_process="ou")
    assert obj.has_membrane_noise and obj.membrane_sigma == 0.5
    assert float(obj.membrane_tau / ms) == pytest.approx(10.0)  # the default correlation time
    assert "membrane_sigma=0.5" in repr(obj)
    off = SpikingRealization(random_spec(3, 1, 1), 2, 50 * Hz, membrane_sigma=0)
    assert not off.has_membrane_noise and off.membrane_tau is None
    assert "eta" not in off.neurons.variables  # nothing built at sigma_m = 0


def test_membrane_options_and_run_spiking_arguments():
    assert membrane_options(Noise("pre", 0.7)) == dict(
        membrane_sigma=0.7, membrane_process="white", membrane_tau=None)
    opts = membrane_options(Noise("pre", 0.7, process="ou", tau_noise=20 * ms))
    assert opts["membrane_process"] == "ou" and float(opts["membrane_tau"] / ms) == 20.0
    assert membrane_options(Noise("none"))["membrane_sigma"] == 0.0
    with pytest.raises(ValueError, match="placement 'pre'"):
        membrane_options(Noise("post", 0.5))
    with pytest.raises(ValueError, match="scalar"):
        membrane_options(Noise("pre", [0.1, 0.2, 0.3]))
    spec = random_spec(3, 1, 1)
    u = np.zeros((2, 1, 1))
    with pytest.raises(ValueError, match="noise_as"):
        run_spiking(spec, u, Noise("pre", 0.5), 0, neurons_per_unit=2, noise_as="inside")
    with pytest.raises(ValueError, match="neurons_per_unit"):
        run_spiking(spec, u, Noise("pre", 0.5), 0, noise_as="membrane")


# --- sigma_m = 0 is the realization without membrane noise ---------------------------------------
# sha256 digests (first 16 hex digits) of the spikes and final h of the two runs below, computed
# with the code before membrane noise existed (commit b409372)
_DIGESTS_BEFORE = {"poisson": (126, "ac177ed2d5ea476e"), "lif": (1082, "8b72b5989f7ec111")}


def _spike_digest(model, **membrane):
    spec = random_spec(6, 2, 2, activation="relu", seed=3)
    if model == "lif":  # positive drives (b409372's LIF neurons turned NaN at rate 0)
        spec = spec.replace(b=np.full(6, 2.0), w_rec=np.abs(spec.w_rec), w_in=np.abs(spec.w_in))
    u = np.random.default_rng(0).normal(size=(8, 2, 2)) + 1.0
    brian2.seed(11)
    obj = SpikingRealization(spec, 4, 50 * Hz, n_trials=2, substeps=5, neuron_model=model,
                             name="digest*", **membrane)
    obj.set_inputs(u)
    mon = SpikeMonitor(obj.neurons)
    Network(obj, mon).run(8 * spec.dt)
    i, t = np.asarray(mon.i[:]), np.asarray(mon.t_[:])
    data = i.astype(np.int64).tobytes() + t.tobytes() + np.asarray(obj.units.h[:]).tobytes()
    return len(i), hashlib.sha256(data).hexdigest()[:16]


@pytest.mark.parametrize("model", ["poisson", "lif"])
def test_sigma_zero_reproduces_the_realization_bit_for_bit(model):
    """membrane_sigma = 0 (with either process) gives the very spikes and states of the
    realization as it was before membrane noise existed (same seed)."""
    assert _spike_digest(model) == _DIGESTS_BEFORE[model]
    assert _spike_digest(model, membrane_sigma=0.0, membrane_process="ou") == \
        _DIGESTS_BEFORE[model]
    assert _spike_digest(model, membrane_sigma=0.3) != _DIGESTS_BEFORE[model]


def test_lif_neurons_recover_after_rate_zero():
    """A LIF neuron whose unit had f(a) = 0 fires again when the drive returns (before the
    period cap its v became NaN at rate 0 and stayed NaN)."""
    spec = CTRNNSpec(np.ones((1, 1)), np.zeros((1, 1)), np.zeros(1), np.ones((1, 1)),
                     np.zeros(1), tau=100 * ms, dt=10 * ms, activation="relu", h0=np.zeros(1))
    u = np.concatenate([np.full((5, 1, 1), -1.0), np.full((10, 1, 1), 1.0)])
    brian2.seed(0)
    obj = SpikingRealization(spec, 10, 50 * Hz, substeps=5, neuron_model="lif")
    obj.set_inputs(u)
    mon = SpikeMonitor(obj.neurons)
    Network(obj, mon).run(15 * spec.dt)
    assert np.all(np.isfinite(obj.neurons.v[:]))
    t = np.asarray(mon.t_[:])
    assert np.sum(t < 0.05) == 0 and np.sum(t >= 0.05) >= 40  # 10 neurons x 0.1 s x 50 Hz


# --- the population limit -----------------------------------------------------------------------
def population_counts(activation, neuron_model, sigma, M, *, K=4, T=100, process="white",
                      seed=1, target=None):
    """Spike counts of isolated units (w_rec = 0, zero input, bias = a): float array
    (T, len(A_VALUES), K) of counts per network step, a value and unit."""
    n = len(A_VALUES) * K
    spec = CTRNNSpec(np.zeros((n, 1)), np.zeros((n, n)), np.repeat(A_VALUES, K),
                     np.zeros((1, n)), np.zeros(1), tau=100 * ms, dt=DT * 1e3 * ms,
                     activation=activation, h0=np.zeros(n))
    old = brian2.prefs.codegen.target
    if target is not None:
        brian2.prefs.codegen.target = target
    try:
        brian2.seed(seed)
        obj = SpikingRealization(spec, M, RATE_MAX * Hz, substeps=SUBSTEPS,
                                 neuron_model=neuron_model, membrane_sigma=sigma,
                                 membrane_process=process, name="limit*")
        obj.set_inputs(np.zeros((T, 1, 1)))
        mon = SpikeMonitor(obj.neurons)
        Network(obj, mon).run(T * spec.dt)
    finally:
        brian2.prefs.codegen.target = old
    assert obj.check_saturation() < 1
    step = np.minimum((np.asarray(mon.t_[:]) / DT + 1e-6).astype(int), T - 1)
    counts = np.zeros((T, n))
    np.add.at(counts, (step, np.asarray(mon.i[:]) // M), 1.0)
    return counts.reshape(T, len(A_VALUES), K)


def noise_moments(activation, a, sigma, n=201):
    """E f and E f**2 of f(a + sigma xi), by Gauss-Hermite quadrature (201 nodes: the
    kink of relu costs accuracy ~1e-5, far below the tolerances that use it)."""
    x, w = hermegauss(n)
    w = w / w.sum()
    f = get_activation(activation).numpy(a[:, None] + sigma * x[None, :])
    return f @ w, (f ** 2) @ w


def limit_standard_error(activation, sigma, M, K, T, process="white", tau_noise=0.01):
    """Standard error of the measured mean activity (per a value) over K units x T steps.

    Per network step, the population activity y = count / (M rate_max dt) has, given the
    neurons' noise values eta_m, a Binomial count (substeps fine steps, probability
    p = rate_max f dt_fine each); so

        Var y = (1/M) [Var f(a + sigma xi) + (E f - rate_max dt_fine E f**2) / (rate_max dt)]

    (membrane-noise sampling over M neurons + spike counting). White noise: the K*T values
    are independent. OU: the counting part still is; the noise part of steps k apart is
    correlated by at most rho**k (rho = exp(-dt/tau_noise); for a Gaussian pair the
    correlation of any f(X), f(Y) is at most |corr(X, Y)|, Lancaster), which multiplies its
    variance by at most (1 + rho)/(1 - rho).
    """
    ef, ef2 = noise_moments(activation, A_VALUES, sigma)
    var_f = ef2 - ef ** 2
    counting = (ef - RATE_MAX * DT / SUBSTEPS * ef2) / (RATE_MAX * DT)
    inflation = 1.0
    if process == "ou":
        rho = np.exp(-DT / tau_noise)
        inflation = (1 + rho) / (1 - rho)
    return np.sqrt((var_f * inflation + counting) / (M * K * T)), var_f, counting


@pytest.mark.parametrize("activation, M, process", [
    ("relu", 1, "white"), ("relu", 10, "white"), ("relu", 100, "white"), ("relu", 30, "ou"),
    ("softplus", 10, "white"),
])
def test_poisson_population_mean_rate_is_the_noise_average(activation, M, process):
    """The mean activity of Poisson populations with membrane noise sigma_m = 1 is
    E[f(a + sigma_m xi)] (noisy_activation) for a in {-1, -0.3, 0, 0.5, 1}, within Z = 4.5
    standard errors of :func:`limit_standard_error` (counting over M neurons x K units x T
    steps plus the finite-M sampling of the membrane noise); without the noise the means
    would be f(a), many standard errors away (checked for a = 0 and M >= 10, where the shift is
    sigma/sqrt(2 pi) = 0.40 for relu and 0.11 for softplus). The standard error shrinks as
    1/sqrt(M): the population converges to the noise average."""
    K, T, sigma = 4, 100, 1.0
    counts = population_counts(activation, "poisson", sigma, M, K=K, T=T, process=process)
    mean = counts.mean(axis=(0, 2)) / (M * RATE_MAX * DT)
    want = noisy_activation(activation, A_VALUES, sigma)
    se, _, _ = limit_standard_error(activation, sigma, M, K, T, process)
    assert np.all(np.abs(mean - want) <= Z * se), (mean, want, se)
    f0 = get_activation(activation).numpy(np.array([0.0]))[0]
    if M >= 10:  # the test tells the noise average from f
        assert abs(want[2] - f0) > Z * se[2]


def test_population_activity_variance_is_independent_noise_over_neurons():
    """Per step, the population activity's variance across steps is Var y of
    :func:`limit_standard_error` (white noise, independent across neurons: the membrane-noise
    part shrinks as 1/M; noise shared by a population would not shrink) and consecutive steps
    are uncorrelated (white per network step). Tolerance: Z standard errors of a sample
    variance, sqrt((m4 - var**2)/n) estimated from the data."""
    K, T, M, sigma = 4, 150, 20, 1.0
    counts = population_counts("relu", "poisson", sigma, M, K=K, T=T, seed=3)
    y = counts / (M * RATE_MAX * DT)
    _, var_f, counting = limit_standard_error("relu", sigma, M, K, T)
    want = (var_f + counting) / M
    dev = y - y.mean(axis=(0, 2), keepdims=True)
    var = (dev ** 2).mean(axis=(0, 2))
    n = K * T
    se = np.sqrt(((dev ** 4).mean(axis=(0, 2)) - var ** 2) / n)
    ok = A_VALUES >= -0.3  # a = -1: almost no spikes, the variance estimate is too skewed
    assert np.all(np.abs(var - want)[ok] <= Z * se[ok]), (var, want, se)
    # shared noise would add (M - 1)/M Var f: many standard errors more
    assert np.all((var_f * (M - 1) / M)[ok] > 2 * Z * se[ok])
    lag1 = (dev[1:] * dev[:-1]).mean(axis=(0, 2)) / var
    assert np.all(np.abs(lag1[ok]) <= Z / np.sqrt(n)), lag1


def test_ou_membrane_noise_statistics():
    """OU membrane noise: stationary start with unit variance, correlation rho =
    exp(-dt_fine/tau) between fine steps, independent across neurons."""
    spec = random_spec(2, 1, 1)
    brian2.seed(2)
    obj = SpikingRealization(spec, 500, 50 * Hz, substeps=5, membrane_sigma=0.5,
                             membrane_process="ou", membrane_tau=4 * ms)
    eta0 = np.array(obj.neurons.eta[:])
    mon = StateMonitor(obj.neurons, "eta", record=True, when="end")
    obj.set_inputs(np.zeros((3, 1, 1)))
    Network(obj, mon).run(3 * spec.dt)
    eta = mon.eta[:]  # (1000 neurons, 15 fine steps)
    n = eta.shape[0]
    assert abs(eta0.var() - 1) < Z * np.sqrt(2 / n) and abs(eta0.mean()) < Z / np.sqrt(n)
    assert abs(eta[:, -1].var() - 1) < Z * np.sqrt(2 / n)
    rho = np.exp(-2 / 4)  # dt_fine = 2 ms
    r = np.mean(eta[:, 1:] * eta[:, :-1]) / np.mean(eta ** 2)
    assert abs(r - rho) < 0.05  # 14000 pairs, strongly correlated in time: se ~ 0.01
    c = np.corrcoef(eta[:500, -1], eta[500:, -1])[0, 1]
    assert abs(c) < Z / np.sqrt(500)


def test_lif_population_with_membrane_noise():
    """LIF populations: without membrane noise the calibration (the inverted f-I curve)
    gives rate_max f(a) within 5 % of the rate for a > 0 (timing error of one fine step),
    0 for a <= 0. With white membrane noise (sigma_m = 1) the mean rate exceeds
    rate_max E[f(a + sigma xi)]: a neuron whose noisy target is low keeps charging towards
    threshold and fires early when the next step's target is high (its v carries over steps,
    unlike a Poisson neuron's rate). Measured (M = 20, K = 4, 100 steps, seed 1): ratio to
    the noise average 2.13, 1.50, 1.37, 1.19, 1.07 for a = -1 .. 1; asserted: between 1 and
    2.6, decreasing in a. The deviation is LIF's own dynamics, not sampling: the relative
    standard error with Poisson counting (an upper bound for LIF's regular firing) is 6.3,
    3.5, 2.9, 2.1, 1.6 %; it does not shrink with M (docs/noise_models.md)."""
    M = 20
    clean = population_counts("relu", "lif", 0.0, M).mean(axis=(0, 2)) / (M * RATE_MAX * DT)
    f = np.maximum(A_VALUES, 0)
    assert np.all(np.abs(clean - f) <= 0.05 * np.maximum(f, 0.1)), clean
    noisy = population_counts("relu", "lif", 1.0, M).mean(axis=(0, 2)) / (M * RATE_MAX * DT)
    ratio = noisy / noisy_activation("relu", A_VALUES, 1.0)
    assert np.all((ratio > 1.0) & (ratio < 2.6)), ratio
    assert np.all(np.diff(ratio) < 0)  # the excess is largest where the rate is lowest


# --- targets ----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("process", ["white", "ou"])
def test_cython_agrees_with_numpy_in_distribution(process):
    """With membrane noise, numpy and cython draw rand() and randn() in another order
    (Brian2's cython target buffers each in blocks of 20000 from numpy's generator), so the
    spikes differ; the mean activities agree within Z standard errors of the difference."""
    M, K, T, sigma = 20, 4, 100, 1.0
    se, _, _ = limit_standard_error("relu", sigma, M, K, T, process)
    means = [population_counts("relu", "poisson", sigma, M, K=K, T=T, process=process,
                               target=t).mean(axis=(0, 2)) / (M * RATE_MAX * DT)
             for t in ("numpy", "cython")]
    assert np.all(np.abs(means[0] - means[1]) <= Z * np.sqrt(2) * se), means


@pytest.mark.slow
def test_cython_sigma_zero_equals_numpy():
    """Without membrane noise the cython target gives numpy's spikes exactly (one rand()
    stream), also through the new code path."""
    spec = random_spec(6, 2, 2, activation="relu", seed=3)
    u = np.random.default_rng(5).normal(size=(8, 2, 2))
    kw = dict(neurons_per_unit=5, rate_max=50 * Hz, substeps=5, noise_as="membrane")
    a = run_spiking(spec, u, Noise("pre", 0.0), 7, target="numpy", **kw)[1]
    b = run_spiking(spec, u, Noise("pre", 0.0), 7, target="cython", **kw)[1]
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["relu", "softplus"])
def test_limit_large_populations(activation):
    """M = 100 and 1000 (slow): the same check as the fast test, standard errors 3x and 10x
    smaller than at M = 10."""
    for M in (100, 1000):
        K, T = 2, 60
        counts = population_counts(activation, "poisson", 1.0, M, K=K, T=T, seed=5,
                                   target="cython")
        mean = counts.mean(axis=(0, 2)) / (M * RATE_MAX * DT)
        se, _, _ = limit_standard_error(activation, 1.0, M, K, T)
        want = noisy_activation(activation, A_VALUES, 1.0)
        assert np.all(np.abs(mean - want) <= Z * se), (M, mean, want, se)


# --- the backend and noise_preference -----------------------------------------------------------
def test_backend_membrane_noise_changes_the_run_and_sigma_zero_does_not():
    spec = random_spec(4, 2, 2, activation="relu", seed=1)
    u = np.random.default_rng(0).normal(size=(6, 2, 2))
    kw = dict(backend="brian2-spiking", seed=3, neurons_per_unit=4, rate_max=50 * Hz,
              substeps=5)
    plain = simulate(spec, u, noise=Noise("none"), **kw).states
    zero = simulate(spec, u, noise=Noise("pre", 0.0), noise_as="membrane", **kw).states
    noisy = simulate(spec, u, noise=Noise("pre", 0.8), noise_as="membrane", **kw).states
    np.testing.assert_array_equal(plain, zero)
    assert np.max(np.abs(noisy - plain)) > 1e-3


def test_noise_preference_over_membrane_sigma():
    """A noise-preference curve over sigma_m from the usual API: the swept ``Noise("pre")``
    template is each neuron's membrane noise (``noise_as="membrane"``, M fixed)."""
    from brian_noisy_rnn.core.examples import example_spec
    from brian_noisy_rnn.evaluation.curves import noise_preference
    from brian_noisy_rnn.tasks import make

    spec = example_spec(4, noise=Noise("pre", 1.0))
    env = make("FunctionApproximation-v0", dt=20)
    curve = noise_preference(spec, env, [0.0, 2.0], backend="brian2-spiking", n_trials=3,
                             seed=0, neurons_per_unit=3, rate_max_hz=25.0,
                             noise_as="membrane")
    assert curve.sigmas.tolist() == [0.0, 1.0, 2.0]
    assert curve.placement == "pre" and curve.backend == "brian2-spiking"
    assert np.all(np.isfinite(curve.mean))
    assert len(set(curve.mean.tolist())) == 3  # sigma_m changes the runs


def test_noise_preference_membrane_placement_follows_from_noise_as():
    """With ``noise_as="membrane"`` the test placement is "pre" also for a network trained
    with noise outside f; another placement is refused before anything runs."""
    from brian_noisy_rnn.core.examples import example_spec
    from brian_noisy_rnn.evaluation.curves import noise_preference

    spec = example_spec(4, noise=Noise("post", 1.0))
    kw = dict(backend="brian2-spiking", n_trials=2, seed=0, neurons_per_unit=2,
              rate_max_hz=25.0, noise_as="membrane")
    with pytest.raises(ValueError, match="placement must be 'pre'"):
        noise_preference(spec, "FunctionApproximation-v0", [0.0], placement="post", **kw)
    with pytest.raises(ValueError, match="neurons_per_unit is required"):
        noise_preference(spec, "FunctionApproximation-v0", [0.0], backend="brian2-spiking",
                         n_trials=2, seed=0, noise_as="membrane")
    curve = noise_preference(spec, "FunctionApproximation-v0", [0.0], **kw)
    assert curve.placement == "pre" and curve.train_placement == "post"
    assert curve.sigmas.tolist() == [0.0, 1.0] and curve.mean[0] != curve.mean[1]


# --- examples/membrane_noise_experiment.py on a tiny setting ------------------------------------
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "membrane_noise_experiment.py"


def _example():
    spec = importlib.util.spec_from_file_location("membrane_noise_experiment", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_membrane_noise_experiment_core(tmp_path, monkeypatch):
    """The example's measurement on a tiny setting: every curve of both placements, the
    compensated network of a noise-outside network equal to that network at sigma 0 (same
    trials), membrane noise swept inside f for both, a rerun that reads every curve from its
    cache, the paired differences of the summary, the table and the figure."""
    ex = _example()
    tiny = ex.Setting(seeds=(0,), steps=2, n_hidden=3, sigmas=(0.0, 2.0), populations={2: 3},
                      rate_trials=5)
    task = "SingleNeuronRegulator-v0"
    curves = ex.measure(str(tmp_path), task, tiny, "numpy", progress=False)
    assert set(curves) == {(p, 0, k) for p in ("pre", "post") for k in ("rate", "compensated", "M2")} | {
        ("post", 0, "rate_pre")}
    assert curves["post", 0, "rate_pre"].placement == "pre"
    np.testing.assert_allclose(curves["post", 0, "compensated"].trial_values[0],
                               curves["post", 0, "rate"].trial_values[0], rtol=1e-12)
    assert not np.allclose(curves["pre", 0, "compensated"].trial_values[0],
                           curves["pre", 0, "rate"].trial_values[0])
    for p in ("pre", "post"):
        c = curves[p, 0, "M2"]
        assert (c.placement, c.train_placement, c.n_trials) == ("pre", p, 3)
        assert c.sigmas.tolist() == [0.0, 1.0, 2.0] and c.trial_values.shape == (3, 3)

    monkeypatch.setattr(ex, "noise_preference", lambda *a, **k: pytest.fail("recomputed"))
    again = ex.measure(str(tmp_path), task, tiny, "numpy", progress=False)
    for key, c in curves.items():
        np.testing.assert_array_equal(again[key].trial_values, c.trial_values)

    summary = ex.summarize(curves, tiny.seeds)
    r, c = summary["pre", "M2"], curves["pre", 0, "M2"]
    assert r["best_sigma"] == c.preferred_sigma
    assert float(r["vs_zero"][0][0]) == pytest.approx(c.difference(r["best_sigma"], 0.0)[0])
    rate = curves["pre", 0, "rate"]
    best = c.trial_values[c.index_of(r["best_sigma"])]
    want = np.mean(best - rate.trial_values[rate.index_of(1.0)][:3])
    assert float(r["vs_rate_train"][0][0]) == pytest.approx(want)
    assert len(ex.table(task, summary)) == 4 + 2 * 3 + 1
    path = ex.figure(task, summary, str(tmp_path / "fig.png"))
    assert open(path, "rb").read(4) == b"\x89PNG"
