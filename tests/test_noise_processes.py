"""Every noise process and placement has the same statistics in PyTorch and Brian2.

The checks use isolated units (``w_rec = 0``, no input), where the stationary statistics are
known exactly:

* the step is linear in ``h``: ``h' = a h + g F``, ``a = 1 - g``, so with the bias ``b`` far
  above the noise (relu in its linear regime) ``[h, eta]`` is a linear Gaussian process whose
  stationary covariance and autocovariance follow from a discrete Lyapunov equation
  (:func:`linear_theory`);
* in the nonlinear regime (``b`` near the kink) the mean is still exact: ``E h = E f(b + eta)``
  inside f (eta is stationary N(0, sigma^2) for white and OU noise), ``f(b)`` otherwise.

Statistics are estimated per unit (every unit of every trial is an independent chain) and
compared with the theory within 4.5 standard errors of the spread over chains (a false
failure has probability < 1e-5 per comparison); PyTorch and Brian2 use different seeds, so
their agreement is one in distribution, not the bit-for-bit agreement of a shared stream.
"""

import numpy as np
import pytest
import torch
from brian2 import ms
from scipy.linalg import solve_discrete_lyapunov
from scipy.optimize import minimize_scalar

from brian_noisy_rnn import CTRNNSpec, Noise, get_activation, simulate

Z = 4.5  # tolerance in standard errors
TAU, DT, TAU_NOISE = 100 * ms, 10 * ms, 50 * ms

PROCESSES = {
    "pre-white": Noise("pre", 0.3),
    "post-white": Noise("post", 0.3),
    "pre-ou": Noise("pre", 0.3, process="ou", tau_noise=TAU_NOISE),
    "post-ou": Noise("post", 0.3, process="ou", tau_noise=TAU_NOISE),
    "post-poisson": Noise("post", 0.3, process="poisson"),
    "state-white": Noise("state", 0.3),
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """PyTorch's default threads oversubscribe the shared cores (50-200x slower rollouts)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def isolated_units(n, bias, *, tau=TAU, dt=DT, activation="relu"):
    """n unconnected units with bias ``bias`` started at h = f(bias) (1 input, weight 0)."""
    f = get_activation(activation).numpy
    return CTRNNSpec(np.zeros((n, 1)), np.zeros((n, n)), np.full(n, float(bias)),
                     np.full((1, n), 1.0 / n), np.zeros(1), tau=tau, dt=dt,
                     activation=activation, h0=np.full(n, float(f(bias))))


def run_chains(spec, noise, backend, seed, n_steps, n_trials, burn_in):
    """States after the burn-in as chains: array (T', C), C = n_trials * N independent chains."""
    res = simulate(spec, np.zeros((n_steps, n_trials, 1)), backend=backend, noise=noise,
                   seed=seed)
    return res.states[burn_in:].reshape(n_steps - burn_in, -1)


def linear_theory(noise, g, dt_s, f_value, lags=0):
    """Exact stationary variance and autocovariances of h for an isolated linear unit.

    Returns (var, autocov (lags+1,)). ``f_value`` is f(b) (the Poisson noise scales with it).
    """
    a, s = 1.0 - g, noise.scalar_sigma()
    if noise.process == "ou":
        rho = np.exp(-dt_s / noise.tau_noise_seconds)
        # state after step t: [h_{t+1}, eta_t]; h_{t+1} = a h_t + g (b + eta_t)
        A = np.array([[a, g * rho], [0.0, rho]])
        c = s * np.sqrt(1 - rho ** 2) * np.array([g, 1.0])
        Q = np.outer(c, c)
    else:
        A = np.array([[a]])
        per_step = {"pre": g * s, "post": g * s, "state": s * np.sqrt(2 * g)}[noise.placement]
        if noise.process == "poisson":
            per_step *= np.sqrt(f_value)
        Q = np.array([[per_step ** 2]])
    P = solve_discrete_lyapunov(A, Q)
    cov = [P[0, 0]]
    M = np.eye(len(A))
    for _ in range(lags):
        M = A @ M
        cov.append((M @ P)[0, 0])
    return P[0, 0], np.array(cov)


def chain_stats(h, mu, lags=()):
    """Per-chain estimates and their standard errors: mean, variance about ``mu``, autocov."""
    d = h - mu
    est = {"mean": h.mean(0), "var": (d ** 2).mean(0)}
    for lag in lags:
        est[f"cov{lag}"] = (d[:-lag] * d[lag:]).mean(0)
    return {k: (v.mean(), v.std(ddof=1) / np.sqrt(v.size)) for k, v in est.items()}


def assert_close(name, value, se, target, extra=0.0):
    assert abs(value - target) <= Z * se + extra, \
        f"{name}: {value:.5g} +- {se:.2g} differs from {target:.5g} by more than {Z} SE"


# --- linear regime: mean, variance, autocovariance --------------------------------------------
@pytest.mark.parametrize("key", list(PROCESSES))
def test_stationary_statistics_agree_across_backends_and_theory(key):
    noise = PROCESSES[key]
    bias = 2.0  # 6.7 sigma above the relu kink: f is linear along the whole trajectory
    spec = isolated_units(40, bias)
    lags = (1, 5, 15)
    var, cov = linear_theory(noise, spec.gamma, spec.dt_seconds, bias, max(lags))
    stats = {}
    for backend, seed in (("torch", 1), ("brian2", 2)):
        h = run_chains(spec, noise, backend, seed, n_steps=400, n_trials=10, burn_in=60)
        stats[backend] = st = chain_stats(h, bias, lags)
        assert_close(f"{backend} mean", *st["mean"], bias)
        assert_close(f"{backend} var", *st["var"], var)
        for lag in lags:
            assert_close(f"{backend} autocov lag {lag}", *st[f"cov{lag}"], cov[lag])
    # the two backends against each other (two-sample), with independent noise streams
    for k in stats["torch"]:
        (m1, s1), (m2, s2) = stats["torch"][k], stats["brian2"][k]
        assert abs(m1 - m2) <= Z * np.hypot(s1, s2), f"{key} {k}: torch {m1} vs brian2 {m2}"
        assert m1 != m2  # independent streams (not the same draws)


# --- nonlinear regime: the noise-induced mean shift --------------------------------------------
@pytest.mark.parametrize("key", list(PROCESSES))
def test_mean_near_the_kink(key):
    noise = PROCESSES[key].with_sigma(0.5)
    bias = 0.2
    spec = isolated_units(40, bias)
    act = get_activation("relu")
    inside = noise.placement == "pre"
    target = float(act.noise_average(bias, 0.5)) if inside else bias
    for backend, seed in (("torch", 3), ("brian2", 4)):
        h = run_chains(spec, noise, backend, seed, n_steps=300, n_trials=8, burn_in=60)
        st = chain_stats(h, target)
        assert_close(f"{key} {backend} mean", *st["mean"], target)
    if inside:  # the test can fail: the shift (0.12) is many standard errors
        assert target - bias > 20 * st["mean"][1]


# --- the OU correlation time ---------------------------------------------------------------------
def _fit_tau_noise(cov, noise, g, dt_s, f_value, bounds):
    """tau_noise (s) whose exact autocorrelation of h fits ``cov`` best (least squares)."""
    target = cov / cov[0]

    def err(t):
        trial = Noise(noise.placement, noise.sigma, process="ou", tau_noise=t * 1000 * ms)
        _, c = linear_theory(trial, g, dt_s, f_value, len(cov) - 1)
        return np.sum((c / c[0] - target) ** 2)

    return minimize_scalar(err, bounds=bounds, method="bounded", options={"xatol": 1e-5}).x


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_ou_correlation_time(placement):
    """tau_noise fitted from the states' autocorrelation agrees with the set value on both
    backends (a short tau makes h follow eta closely); its standard error comes from 8 groups
    of independent chains. White noise would give a fit at the lower bound (dt)."""
    tau_noise = 60 * ms
    noise = Noise(placement, 0.3, process="ou", tau_noise=tau_noise)
    spec = isolated_units(40, 2.0, tau=20 * ms, dt=5 * ms)
    lags = np.arange(1, 41)
    for backend, seed in (("torch", 5), ("brian2", 6)):
        h = run_chains(spec, noise, backend, seed, n_steps=500, n_trials=8, burn_in=40) - 2.0
        fits = []
        for part in np.array_split(h, 8, axis=1):
            cov = [np.mean(part ** 2)] + [np.mean(part[:-k] * part[k:]) for k in lags]
            fits.append(_fit_tau_noise(np.array(cov), noise, spec.gamma, spec.dt_seconds, 2.0,
                                       (0.005, 0.3)))
        est, se = np.mean(fits), np.std(fits, ddof=1) / np.sqrt(len(fits))
        assert se < 0.1 * 0.06, f"{backend}: fit too noisy to be a test (se {se})"
        assert abs(est - 0.06) <= Z * se, f"{backend}: tau_noise {est} +- {se} s"


# --- dt refinement -----------------------------------------------------------------------------
DT_REFINEMENT = {
    "pre-white": Noise("pre", 0.3),
    "pre-ou": Noise("pre", 0.3, process="ou", tau_noise=TAU_NOISE),
    "state-white": Noise("state", 0.3),
}


@pytest.mark.parametrize("key", list(DT_REFINEMENT))
def test_dt_refinement(key):
    """Halving dt (same tau, tau_noise, sigma) keeps the stationary variance of OU-inside and
    state noise (exactly: within the O(dt/tau) discretisation change of the theory, < 5 %) and
    halves that of per-step white noise inside f (its variance per unit time grows as 1/dt,
    the leaky integrator averages it down by dt/tau: no continuous-time limit)."""
    noise = DT_REFINEMENT[key]
    out = {}
    for dt_ms in (10, 5):
        dt = dt_ms * ms
        spec = isolated_units(40, 2.0, dt=dt)
        n = int(round(4.0 / spec.dt_seconds))  # same duration (4 s = 40 tau) at both dt
        var, _ = linear_theory(noise, spec.gamma, spec.dt_seconds, 2.0)
        h = run_chains(spec, noise, "brian2", 7, n_steps=n, n_trials=8, burn_in=n // 8)
        out[dt_ms] = (chain_stats(h, 2.0)["var"], var)
        assert_close(f"{key} var at dt={dt}", *out[dt_ms][0], var)
    (v1, s1), th1 = out[10]
    (v2, s2), th2 = out[5]
    ratio, ratio_se = v2 / v1, (v2 / v1) * np.hypot(s1 / v1, s2 / v2)
    assert abs(ratio - th2 / th1) <= Z * ratio_se
    if noise.process == "white" and noise.placement == "pre":
        assert abs(th2 / th1 - 0.5) < 0.03 and ratio < 0.6
    else:
        assert abs(th2 / th1 - 1) < 0.05 and abs(ratio - 1) < 0.05 + Z * ratio_se


def test_dt_refinement_inside_f_keeps_the_mean_shift():
    """Near the kink, the noise-induced mean shift E f(b + eta) - f(b) of both white and OU
    noise inside f does not depend on dt (eta's marginal is N(0, sigma^2) at any dt)."""
    act = get_activation("relu")
    target = float(act.noise_average(0.2, 0.5))
    for noise in (Noise("pre", 0.5), Noise("pre", 0.5, process="ou", tau_noise=TAU_NOISE)):
        for dt in (10 * ms, 5 * ms):
            spec = isolated_units(40, 0.2, dt=dt)
            n = int(round(3.0 / spec.dt_seconds))  # 3 s = 30 tau, the first 5 tau discarded
            h = run_chains(spec, noise, "torch", 8, n_steps=n, n_trials=8, burn_in=n // 6)
            assert_close(f"{noise} dt={dt} mean", *chain_stats(h, target)["mean"], target)


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "torch", "brian2", "brian2-spiking"])
def test_ou_slower_than_dt_rejected_by_every_backend(backend):
    spec = isolated_units(3, 1.0)  # dt = 10 ms
    with pytest.raises(ValueError, match="tau_noise"):
        simulate(spec, np.zeros((5, 1, 1)), backend=backend,
                 noise=Noise("pre", 0.1, process="ou", tau_noise=5 * ms))


@pytest.mark.parametrize("kwargs, exc", [
    (dict(placement="pre", sigma=0.1, process="ou"), ValueError),                      # no tau
    (dict(placement="pre", sigma=0.1, process="ou", tau_noise=0 * ms), ValueError),
    (dict(placement="post", sigma=0.1, process="ou", tau_noise=-1 * ms), ValueError),
    (dict(placement="pre", sigma=0.1, process="ou", tau_noise=20), TypeError),        # no unit
    (dict(placement="pre", sigma=0.1, process="poisson"), ValueError),                # inside f
    (dict(placement="state", sigma=0.1, process="ou", tau_noise=20 * ms), ValueError),
    (dict(placement="state", sigma=0.1, process="poisson"), ValueError),
    (dict(placement="post", sigma=0.1, process="white", tau_noise=20 * ms), ValueError),
])
def test_bad_process_combinations(kwargs, exc):
    with pytest.raises(exc, match="tau_noise|process"):
        Noise(**kwargs)


def test_train_rejects_ou_slower_than_dt_before_training():
    from brian_noisy_rnn.bridges import train

    with pytest.raises(ValueError, match="tau_noise"):
        train("FunctionApproximation-v0", n_hidden=4, seed=0, steps=1, progress=False,
              noise=Noise("pre", 0.1, process="ou", tau_noise=5 * ms))


# --- training with every process ---------------------------------------------------------------
@pytest.mark.parametrize("noise", [
    Noise("pre", 0.5), Noise("post", 0.5), Noise("state", 0.2),
    Noise("pre", 0.5, process="ou", tau_noise=50 * ms),
    Noise("post", 0.5, process="ou", tau_noise=50 * ms),
    Noise("post", 0.5, process="poisson")], ids=repr)
def test_train_with_every_process(noise):
    """A short bridges.train run works with each process; its spec keeps the noise and runs
    in Brian2."""
    from brian_noisy_rnn.bridges import train

    res = train("FunctionApproximation-v0", n_hidden=8, noise=noise, steps=40, batch_size=16,
                seed=0, progress=False, log_every=10, lr=0.02)
    loss = np.array(res.history.loss)
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    assert res.spec.noise == noise
    out = simulate(res.spec, np.zeros((5, 2, 1)), backend="brian2", seed=0)
    assert np.all(np.isfinite(out.outputs))
