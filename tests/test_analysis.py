"""Fixed points, stationary statistics vs mean field, operating points, compensation, single unit."""

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import CTRNNSpec, Noise
from brian_noisy_rnn.analysis import (
    compensate,
    fixed_points,
    mean_field_fixed_point,
    noisy_activation,
    operating_point_stats,
    preactivations,
    single_neuron_shift,
    single_neuron_spec,
    stationary_stats,
)
from brian_noisy_rnn.core.examples import example_spec
from brian_noisy_rnn.backends.simulation import simulate

# Tolerance of a simulated mean against an exact prediction: max over N units of
# |simulated - predicted| / sem below 4.5 (for N <= 16 independent-ish z-scores the
# chance of exceeding it is < 1e-4; seeds are fixed, so the tests are deterministic).
Z = 4.5


def _isolated(sigma=0.8, placement="pre"):
    """Four uncoupled relu units (w_rec = 0) at different operating points around the kink."""
    n = 4
    return CTRNNSpec(w_in=np.ones((n, 1)), w_rec=np.zeros((n, n)), b=np.array([-1.0, -0.3, 0.2, 1.0]),
                     w_out=np.ones((1, n)) / n, b_out=np.zeros(1), tau=100 * ms, dt=20 * ms,
                     activation="relu", noise=Noise(placement, sigma))


# --- fixed points -------------------------------------------------------------------------
def test_fixed_points_of_a_bistable_unit():
    # h = tanh(2h): unstable 0, stable +-0.9575; Jacobian (-1 + 2 f'(a)) / tau
    spec = CTRNNSpec([[0.0]], [[2.0]], [0.0], [[1.0]], [0.0], tau=100 * ms, dt=20 * ms,
                     activation="tanh")
    fps = fixed_points(spec, [0.0], n_random=12, seed=1)
    hs = sorted(float(fp.h[0]) for fp in fps)
    assert len(fps) == 3
    root = 0.957504009
    np.testing.assert_allclose(hs, [-root, 0.0, root], atol=1e-8)
    for fp in fps:
        lam = (-1 + 2 * (1 - np.tanh(2 * fp.h[0]) ** 2)) / 0.1
        np.testing.assert_allclose(fp.eigenvalues.real, [lam], rtol=1e-10)
        assert fp.stable == (abs(fp.h[0]) > 0.5)
        assert fp.residual < 1e-10
    assert fps[0].stable and fps[1].stable and not fps[2].stable  # stable ones listed first


def test_fixed_points_of_a_random_network(make_spec):
    spec = make_spec(8, 3, 2, activation="softplus", seed=3)
    u = np.array([0.5, -0.2, 1.0])
    fps = fixed_points(spec, u, n_random=6)
    assert fps and fps[0].stable
    h = fps[0].h
    # a long deterministic run from h0 ends there
    res = simulate(spec, np.broadcast_to(u, (600, 1, 3)), backend="numpy", noise=Noise("none"))
    np.testing.assert_allclose(res.states[-1, 0], h, atol=1e-8)
    # eigenvalues equal those of a finite-difference Jacobian of the flow
    c = spec.w_in @ u + spec.b
    from brian_noisy_rnn import get_activation

    f = get_activation("softplus").numpy
    F = lambda x: (-x + f(spec.w_rec @ x + c)) / spec.tau_seconds  # noqa: E731
    J = np.stack([(F(h + 1e-6 * e) - F(h - 1e-6 * e)) / 2e-6 for e in np.eye(8)], axis=1)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(J)),
                               np.sort_complex(fps[0].eigenvalues), atol=1e-5)


def test_fixed_points_bad_input(make_spec):
    spec = make_spec(4, 2, 1)
    with pytest.raises(ValueError, match="u must have shape"):
        fixed_points(spec, [1.0])
    with pytest.raises(TypeError, match="spec"):
        fixed_points("net.npz", [1.0, 2.0])
    with pytest.raises(ValueError, match="n_random"):
        fixed_points(spec, [1.0, 2.0], n_random=-1)


# --- mean field vs simulated stationary distribution ---------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_mean_field_is_exact_for_isolated_units(backend):
    spec = _isolated(0.8)
    mf = mean_field_fixed_point(spec, [0.1])
    a = np.array([-1.0, -0.3, 0.2, 1.0]) + 0.1
    np.testing.assert_allclose(mf.h_mf, noisy_activation("relu", a, 0.8), atol=1e-12)
    np.testing.assert_allclose(mf.h_det, np.maximum(a, 0), atol=1e-12)
    np.testing.assert_allclose(mf.output_shift, spec.w_out @ (mf.h_mf - mf.h_det), atol=1e-15)
    np.testing.assert_allclose(mf.closure_correction, 0, atol=1e-12)  # nothing propagates
    st = stationary_stats(spec, [0.1], backend=backend, n_trials=64, n_steps=400, seed=5)
    assert st.burn_in >= 50  # 10 tau at gamma = 0.2
    assert np.max(np.abs(st.mean - mf.h_mf) / st.sem) < Z
    # variance of an isolated unit: gamma Var f / (2 - gamma) (AR(1) with coefficient 1 - gamma)
    from brian_noisy_rnn.analysis import noise_variance

    var = 0.2 * noise_variance("relu", a, 0.8) / (2 - 0.2)
    np.testing.assert_allclose(np.diag(st.cov), var, rtol=0.15)
    np.testing.assert_allclose(np.diag(mf.cov), var, rtol=1e-10)


def test_mean_field_with_recurrence_within_its_justified_tolerance():
    """gamma = 0.2, 16 recurrent relu units, sigma = 1 inside f.

    The plain mean field neglects the fluctuation of w_rec h; its size is estimated by the
    Gaussian closure (closure_correction, ~gamma sigma^2 |w_rec|^2 / 2 through f''). So the
    simulated mean must lie within |closure_correction| + Z sem of h_mf, and the Gaussian
    closure must agree with the simulation to Z sem plus a quarter of that correction
    (what is left is higher order).
    """
    spec = example_spec(16, noise=Noise("pre", 1.0), seed=1)
    u = [0.5]
    mf = mean_field_fixed_point(spec, u)
    gc = mean_field_fixed_point(spec, u, closure="gaussian")
    assert np.max(np.abs(mf.state_shift)) > 0.2  # a large shift to explain
    st = stationary_stats(spec, u, n_trials=96, n_steps=600, seed=11)
    corr = np.abs(mf.closure_correction)
    assert np.all(np.abs(st.mean - mf.h_mf) <= corr + Z * st.sem)
    assert np.all(np.abs(st.mean - gc.h_mf) <= 0.25 * corr + Z * st.sem)
    # the linear-noise covariance predicts the simulated one
    np.testing.assert_allclose(np.diag(st.cov), np.diag(gc.cov), rtol=0.1)
    np.testing.assert_allclose(st.output_mean, gc.z_mf, atol=Z * st.output_sem[0] + 0.25 * np.abs(
        spec.w_out @ mf.closure_correction)[0])


def test_noise_outside_f_has_no_mean_field_shift_but_a_gaussian_closure_one():
    spec = example_spec(16, noise=Noise("post", 1.0), seed=1)
    mf = mean_field_fixed_point(spec, [0.5])
    np.testing.assert_array_equal(mf.h_mf, mf.h_det)
    np.testing.assert_array_equal(mf.output_shift, 0)
    gc = mean_field_fixed_point(spec, [0.5], closure="gaussian")
    st = stationary_stats(spec, [0.5], n_trials=96, n_steps=600, seed=12)
    # the recurrently propagated variance does shift the mean (second order); closure sees it
    assert np.max(np.abs(st.mean - mf.h_mf) / st.sem) > Z
    assert np.max(np.abs(st.mean - gc.h_mf) / st.sem) < Z + 1


def test_mean_field_bad_input():
    spec = _isolated()
    with pytest.raises(ValueError, match="closure"):
        mean_field_fixed_point(spec, [0.0], closure="exact")
    with pytest.raises(ValueError, match="white"):
        mean_field_fixed_point(spec, [0.0], Noise("pre", 0.5, process="ou", tau_noise=40 * ms),
                               closure="gaussian")
    with pytest.raises(TypeError, match="noise"):
        mean_field_fixed_point(spec, [0.0], noise=0.5)
    with pytest.raises(ValueError, match="n_trials"):
        stationary_stats(spec, [0.0], n_trials=1)
    with pytest.raises(ValueError, match="backend"):
        stationary_stats(spec, [0.0], backend="nest")


def test_ou_noise_inside_f_has_the_same_mean_field():
    spec = _isolated(0.6)
    ou = Noise("pre", 0.6, process="ou", tau_noise=40 * ms)
    np.testing.assert_allclose(mean_field_fixed_point(spec, [0.0], ou).h_mf,
                               mean_field_fixed_point(spec, [0.0]).h_mf, atol=1e-14)
    st = stationary_stats(spec, [0.0], ou, n_trials=64, n_steps=500, seed=2)
    assert np.max(np.abs(st.mean - mean_field_fixed_point(spec, [0.0]).h_mf) / st.sem) < Z


# --- operating points ------------------------------------------------------------------------
def test_operating_point_fractions_are_exact_for_feedforward_units():
    # w_rec = 0, h0 = 0, w_in = 1, b = 0: a_t = u_t exactly
    spec = CTRNNSpec(np.ones((3, 1)), np.zeros((3, 3)), np.zeros(3), np.ones((1, 3)), np.zeros(1),
                     tau=100 * ms, dt=20 * ms, activation="relu", noise=Noise("pre", 0.5))
    u = np.random.default_rng(0).uniform(-2, 2, size=(30, 8, 1))
    a = preactivations(spec, u, seed=1)
    np.testing.assert_allclose(a, np.repeat(u, 3, axis=2), atol=1e-15)
    mask = np.zeros((30, 8), bool)
    mask[10:] = True
    op = operating_point_stats(spec, u, mask, seed=1)
    sel = u[10:, :, 0]
    assert op.sigma == 0.5 and op.n_samples == sel.size * 3
    assert op.fraction_within[1.0] == pytest.approx(np.mean(np.abs(sel) < 0.5))
    assert op.fraction_within[2.0] == pytest.approx(np.mean(np.abs(sel) < 1.0))
    assert op.fraction_active == pytest.approx(np.mean(sel > 0))
    shift = noisy_activation("relu", sel, 0.5) - np.maximum(sel, 0)
    assert op.local_shift == pytest.approx(shift.mean())
    with pytest.raises(ValueError, match="mask"):
        operating_point_stats(spec, u, mask[:5])
    with pytest.raises(ValueError, match="sigma"):
        operating_point_stats(spec.replace(noise=Noise("none")), u)


# --- compensation ---------------------------------------------------------------------------
def test_compensated_network_reproduces_the_noisy_mean():
    spec = _isolated(0.8)
    comp = compensate(spec)
    assert comp.activation == "relu~0.8" and not comp.noise.is_active
    assert comp.metadata["compensation"]["original_hash"] == spec.content_hash()
    T, B = 300, 64
    u = np.full((T, B, 1), 0.1)
    det = simulate(comp, u[:, :1], backend="numpy").states[-1, 0]
    np.testing.assert_allclose(det, mean_field_fixed_point(spec, [0.1]).h_mf, atol=1e-10)
    noisy = simulate(spec, u, backend="numpy", seed=3).states[100:]
    sem = noisy.mean(axis=0).std(axis=0, ddof=1) / np.sqrt(B)
    assert np.max(np.abs(noisy.mean(axis=(0, 1)) - det) / sem) < Z


def test_compensated_network_runs_identically_on_numpy_torch_brian2():
    spec = example_spec(6, noise=Noise("pre", 0.5), seed=4)
    comp = compensate(spec)
    u = np.random.default_rng(1).uniform(-1, 1, size=(25, 2, 1))
    ref = simulate(comp, u, backend="numpy").outputs
    for backend in ("torch", "brian2"):
        np.testing.assert_allclose(simulate(comp, u, backend=backend).outputs, ref, atol=1e-12)


def test_compensation_options_and_errors(tmp_path):
    spec = example_spec(4, noise=Noise("pre", 0.5), seed=0)
    comp = compensate(spec, 0.25)
    assert comp.activation == "relu~0.25"
    assert CTRNNSpec.load(comp.save(tmp_path / "c.npz")) == comp
    # output-bias variant: b_out moves by the mean predicted output shift
    inputs = np.array([[-0.5], [0.0], [0.5]])
    ob = compensate(spec, method="output_bias", inputs=inputs)
    shifts = [mean_field_fixed_point(spec, x).output_shift for x in inputs]
    np.testing.assert_allclose(ob.b_out - spec.b_out, np.mean(shifts, axis=0), atol=1e-14)
    assert ob.activation == "relu"
    # per-neuron sigma works for output_bias only
    per = spec.replace(noise=Noise("pre", np.array([0.1, 0.2, 0.3, 0.4])))
    with pytest.raises(ValueError, match="output_bias"):
        compensate(per)
    compensate(per, method="output_bias", inputs=inputs)
    # noise outside f: mean field is f, weights unchanged
    post = compensate(spec.replace(noise=Noise("post", 0.5)))
    assert post.activation == "relu" and np.array_equal(post.b_out, spec.b_out)
    assert "note" in post.metadata["compensation"]
    with pytest.raises(ValueError, match="method"):
        compensate(spec, method="magic")
    with pytest.raises(ValueError, match="inputs"):
        compensate(spec, method="output_bias")
    with pytest.raises(ValueError, match="already"):
        compensate(comp.replace(noise=Noise("pre", 0.5)))
    with pytest.raises(ValueError, match="sigma must be given"):
        compensate(spec.replace(noise=Noise("none")))


# --- single unit -----------------------------------------------------------------------------
def test_single_neuron_shift_analytic_vs_simulated(tmp_path):
    spec = single_neuron_spec(noise=Noise("pre", 1.0))
    res = single_neuron_shift(spec, [0.1, 0.5, 1.0], [0.0, 0.5, 1.0], n_trials=48, n_steps=300,
                              seed=3)
    # relu closed form: shift = sigma psi(c / sigma), psi(z) = z Phi(z) + phi(z) - max(z, 0)
    c, s = np.meshgrid([0.1, 0.5, 1.0], [0.0, 0.5, 1.0], indexing="ij")
    expected = noisy_activation("relu", c, s) - np.maximum(c, 0)
    np.testing.assert_allclose(res.predicted, expected, atol=1e-10)
    assert np.isnan(res.simulated[:, 0]).all()  # sigma = 0 is not simulated
    assert res.max_z_score() < Z
    fig = res.plot(tmp_path / "sn.png")
    assert (tmp_path / "sn.png").stat().st_size > 1000 and len(fig.axes) == 2
    import matplotlib.pyplot as plt

    assert fig.number in plt.get_fignums()  # made by plotting.new_figure: plt.show() shows it
    post = single_neuron_shift(spec, [0.3], [1.0], placement="post", simulate=False)
    assert post.predicted[0, 0] == 0.0
    with pytest.raises(ValueError, match="one hidden unit"):
        single_neuron_shift(example_spec(2), [0.1], [0.5])
    with pytest.raises(ValueError, match="sigmas"):
        single_neuron_shift(spec, [0.1], [-0.5])
