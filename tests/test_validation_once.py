"""Validate once at the public boundary, then pass validated objects inward: one
``noise_preference`` sweep checks the spec and each test noise once, not again in every
layer it passes (evaluation -> simulate -> backend)."""

import collections
import sys

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise
from brian_noisy_rnn.evaluation.curves import noise_preference

FA = "FunctionApproximation-v0"
WATCH = {"check_spec", "check_form_noise", "check_compatible"}


def _count_validations(fn):
    """Calls of core/spec.py's and core/noise.py's checks while ``fn()`` runs."""
    counts = collections.Counter()

    def profile(frame, event, arg):
        code = frame.f_code
        if event == "call" and code.co_name in WATCH and (
                code.co_filename.endswith(("core/spec.py", "core/noise.py"))):
            counts[code.co_name] += 1

    sys.setprofile(profile)
    try:
        result = fn()
    finally:
        sys.setprofile(None)
    return counts, result


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_sweep_checks_spec_and_each_noise_once(make_spec, backend):
    """3 test sigmas: each noise is checked once (3, was 3 per layer: 9 on torch) and the spec
    at the boundary plus once per simulate call (5, was 14 on torch)."""
    spec = make_spec(4, n_in=1, n_out=1, dt=20 * ms, noise=Noise("pre", sigma=0.5), seed=1)
    counts, curve = _count_validations(lambda: noise_preference(
        spec, FA, [0.0, 1.0], backend=backend, n_trials=8, seed=3))
    n = len(curve.sigmas)
    assert n == 3
    assert counts["check_form_noise"] == n and counts["check_compatible"] == n
    assert counts["check_spec"] <= 2 + n


def test_a_remembered_noise_is_still_checked_against_another_spec(make_spec):
    """The memo is per spec: a noise that fits one network is checked again for another."""
    small = make_spec(2, n_in=1, n_out=1, dt=20 * ms, seed=1)
    large = make_spec(3, n_in=1, n_out=1, dt=20 * ms, seed=1)
    noise = Noise("pre", sigma=np.array([0.1, 0.2]))
    assert small.check_noise(noise) is noise
    with pytest.raises(ValueError, match="sigma"):
        large.check_noise(noise)
    assert small.check_noise(noise) is noise  # remembered
