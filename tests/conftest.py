"""Shared fixtures: random specs of several sizes and activations."""

import sys

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import CTRNNSpec, Noise


def random_spec(n_hidden=8, n_in=3, n_out=2, *, activation="relu", noise=None, seed=0,
                tau=100 * ms, dt=10 * ms):
    """A random, stable CTRNNSpec for tests (weights scaled so the dynamics stay bounded)."""
    rng = np.random.default_rng(seed)
    return CTRNNSpec(
        w_in=rng.normal(size=(n_hidden, n_in)),
        w_rec=rng.normal(size=(n_hidden, n_hidden)) * 0.6 / np.sqrt(n_hidden),
        b=rng.normal(size=n_hidden) * 0.2,
        w_out=rng.normal(size=(n_out, n_hidden)),
        b_out=rng.normal(size=n_out),
        tau=tau, dt=dt, activation=activation,
        noise=Noise("none") if noise is None else noise,
        h0=rng.uniform(0, 0.5, size=n_hidden),
    )


@pytest.fixture
def make_spec():
    """Factory fixture: ``make_spec(n_hidden, n_in, n_out, activation=..., noise=..., seed=...)``."""
    return random_spec


@pytest.fixture(autouse=True, scope="session")
def _fast_defaults():
    """Tests run single-threaded torch (small rollouts are faster so, and a shared machine
    does not stall) and Brian2's numpy target unless a test asks for another target (the
    default "auto" compiles a Cython check first)."""
    import torch
    from brian2 import prefs

    torch.set_num_threads(1)
    prefs.codegen.target = "numpy"
    yield


@pytest.fixture(autouse=True, scope="session")
def _private_build_cache(tmp_path_factory):
    """Standalone builds of the tests go to a cache of their own, not the user's."""
    import os

    old = os.environ.get("BRIAN_NOISY_RNN_BUILD_CACHE")
    os.environ["BRIAN_NOISY_RNN_BUILD_CACHE"] = str(tmp_path_factory.mktemp("build_cache"))
    yield
    if old is None:
        os.environ.pop("BRIAN_NOISY_RNN_BUILD_CACHE", None)
    else:
        os.environ["BRIAN_NOISY_RNN_BUILD_CACHE"] = old


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures are pyplot-managed (``plotting.new_figure``): close what a test left open."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
