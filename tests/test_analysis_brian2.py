"""The mean-field prediction against stationary statistics simulated with the Brian2 backend."""

import numpy as np
import pytest

from brian_noisy_rnn import Noise
from brian_noisy_rnn.analysis import mean_field_fixed_point, stationary_stats
from brian_noisy_rnn.core.examples import example_spec


Z = 4.5  # as in test_analysis.py: max z-score over <= 8 units


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_brian2_stationary_mean_matches_mean_field(placement):
    """gamma = 0.2, 8 recurrent relu units, sigma = 1, Brian2 numpy target.

    Tolerances as in test_analysis.py: the plain mean field within |closure_correction| +
    Z sem, the Gaussian closure within a quarter of that + Z sem. Brian2 draws the same
    stream as the numpy reference for a seed, so the statistics also agree to 1e-10.
    """
    spec = example_spec(8, noise=Noise(placement, 1.0), seed=2)
    u = [0.5]
    st = stationary_stats(spec, u, backend="brian2", n_trials=48, n_steps=300, seed=7)
    mf = mean_field_fixed_point(spec, u)
    gc = mean_field_fixed_point(spec, u, closure="gaussian")
    corr = np.abs(mf.closure_correction)
    assert np.all(np.abs(st.mean - mf.h_mf) <= corr + Z * st.sem)
    assert np.all(np.abs(st.mean - gc.h_mf) <= 0.25 * corr + Z * st.sem)
    ref = stationary_stats(spec, u, backend="numpy", n_trials=48, n_steps=300, seed=7)
    np.testing.assert_allclose(st.mean, ref.mean, atol=1e-10)
    np.testing.assert_allclose(st.cov, ref.cov, atol=1e-10)
