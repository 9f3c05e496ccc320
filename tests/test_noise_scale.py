"""Noise scaling conventions as data: ``Noise(..., scale=)`` and ``per_step_sigma``."""

import numpy as np
import pytest
import torch
from brian2 import ms

from brian_noisy_rnn import CTRNNSpec, Noise, simulate
from brian_noisy_rnn.bridges.ensemble import StackedCTRNN
from brian_noisy_rnn.core.dynamics import standard_normal
from brian_noisy_rnn.core.examples import example_spec
from brian_noisy_rnn.core.noise import SCALES, per_step_sigma
from brian_noisy_rnn.core.spec_file import save_spec_file
from brian_noisy_rnn.backends.torch_backend import TorchCTRNN


def test_per_step_sigma_of_every_scale():
    g = 0.2
    assert per_step_sigma(0.3, "per_step", g) == 0.3
    assert per_step_sigma(0.3, "sqrt(2/alpha)", g) == pytest.approx(0.3 * np.sqrt(10.0))
    assert per_step_sigma(0.3, "sqrt(2*alpha)", g) == pytest.approx(0.3 * np.sqrt(0.4))
    assert per_step_sigma(0.3, "alpha", g) == pytest.approx(0.06)
    with pytest.raises(ValueError, match="scale"):
        per_step_sigma(0.3, "sqrt(alpha)", g)
    assert set(SCALES) == {"per_step", "sqrt(2/alpha)", "sqrt(2*alpha)", "alpha"}


def test_default_scale_is_the_placements_own_and_stays_out_of_old_dicts():
    assert Noise("pre", 0.5).scale == "per_step"
    assert Noise("state", 0.5).scale == "sqrt(2*alpha)"
    assert "scale" not in Noise("pre", 0.5).to_dict()
    assert "scale" not in Noise("state", 0.5).to_dict()
    old = {"placement": "pre", "sigma": 0.5, "process": "white", "tau_noise_s": None}
    assert Noise.from_dict(old) == Noise("pre", 0.5)
    n = Noise("pre", 0.5, scale="sqrt(2/alpha)")
    assert n.to_dict()["scale"] == "sqrt(2/alpha)"
    assert Noise.from_dict(n.to_dict()) == n
    assert n != Noise("pre", 0.5)
    assert n.with_sigma(0.1).scale == "sqrt(2/alpha)"
    assert "scale='sqrt(2/alpha)'" in repr(n)
    with pytest.raises(ValueError, match="scale"):
        Noise("pre", 0.5, scale="per-step")


def test_spec_file_keeps_the_scale_and_old_files_load_unchanged(tmp_path):
    spec = example_spec().replace(noise=Noise("pre", 0.1, scale="sqrt(2/alpha)"))
    spec.save(tmp_path / "s.npz")
    assert CTRNNSpec.load(tmp_path / "s.npz") == spec
    # a file written before the field existed: its noise header has no "scale"
    old = example_spec().replace(noise=Noise("state", 0.2))
    meta = old._meta()
    assert "scale" not in meta["noise"] and "form" not in meta
    arrays = {k: getattr(old, k) for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0")}
    arrays["sigma"] = old.noise.sigma_array
    save_spec_file(tmp_path / "old.npz", meta, arrays)
    loaded = CTRNNSpec.load(tmp_path / "old.npz")
    assert loaded == old and loaded.noise.scale == "sqrt(2*alpha)"
    assert loaded.content_hash() == old.content_hash()


@pytest.mark.parametrize("backend", ["numpy", "torch", "brian2"])
def test_every_backend_runs_the_scaled_sigma(backend):
    """A scaled noise equals the per-step noise of the scaled amplitude, with the same draws
    (float precision: the two differ only in where sigma is multiplied)."""
    spec = example_spec()
    g = spec.gamma
    u = np.random.RandomState(1).uniform(-1, 1, (20, 3, spec.n_in))
    for scaled, plain in ((Noise("pre", 0.1, scale="sqrt(2/alpha)"), Noise("pre", 0.1 * np.sqrt(2 / g))),
                          (Noise("post", 0.1, scale="alpha"), Noise("post", 0.1 * g)),
                          (Noise("state", 0.1), Noise("state", 0.1 * np.sqrt(2 * g), scale="per_step"))):
        a = simulate(spec, u, backend=backend, noise=scaled, seed=3).outputs
        b = simulate(spec, u, backend=backend, noise=plain, seed=3).outputs
        assert np.max(np.abs(a - b)) < 1e-12, scaled
        c = simulate(spec, u, backend=backend, noise=scaled.with_sigma(0.1 * 1.5), seed=3).outputs
        assert np.max(np.abs(a - c)) > 1e-3  # the sigma matters (the check can fail)


def test_ensemble_training_honours_the_scale():
    """StackedCTRNN's noise terms follow the scale: equal to TorchCTRNN with the same draws."""
    spec = example_spec()
    u = torch.as_tensor(np.random.RandomState(2).uniform(-1, 1, (15, 2, spec.n_in)))
    for noise in (Noise("pre", 0.2, scale="sqrt(2/alpha)"), Noise("state", 0.1, scale="per_step"),
                  Noise("post", 0.3, scale="alpha")):
        s = spec.replace(noise=noise)
        xi = torch.as_tensor(standard_normal(4, 15, 2, spec.n_hidden))
        z1, h1 = TorchCTRNN.from_spec(s)(u, xi=xi)
        stacked = StackedCTRNN.from_specs([s])
        z2, h2 = stacked(u[:, None], stacked.noise_terms([xi], 15, 2))
        assert torch.max(torch.abs(h2[:, 0] - h1)).item() < 1e-12, noise


def test_x_form_networks_take_state_noise_only():
    with pytest.raises(ValueError, match="x-form.*'pre'"):
        example_spec().replace(form="x")  # the example's own noise is inside f
    spec = example_spec().replace(form="x", noise=Noise("none"))
    with pytest.raises(ValueError, match="x-form.*'pre'"):
        spec.replace(noise=Noise("pre", 0.1))
    with pytest.raises(ValueError, match="noise: an x-form"):
        simulate(spec, np.zeros((3, 1, spec.n_in)), backend="numpy", noise=Noise("post", 0.1))
    assert spec.replace(noise=Noise("state", 0.1, scale="alpha")).noise.scale == "alpha"


def test_dt_equal_to_tau_is_the_discrete_rnn():
    spec = example_spec().replace(tau=20 * ms, dt=20 * ms, noise=Noise("none"))
    u = np.random.RandomState(0).uniform(-1, 1, (5, 2, spec.n_in))
    h = np.zeros((2, spec.n_hidden))
    for t in range(5):
        h = np.maximum(h @ spec.w_rec.T + u[t] @ spec.w_in.T + spec.b, 0)
    for backend in ("numpy", "brian2"):
        assert np.max(np.abs(simulate(spec, u, backend=backend).states[-1] - h)) < 1e-12
    with pytest.raises(ValueError, match="at most tau"):
        example_spec().replace(tau=20 * ms, dt=21 * ms)


def test_cli_sigma_is_read_in_the_networks_own_scale():
    import argparse

    from brian_noisy_rnn.cli._arguments import noise_from_args

    base = Noise("pre", 0.1, scale="sqrt(2/alpha)")
    args = argparse.Namespace(placement=None, sigma=0.2, process=None, tau_noise_ms=None)
    assert noise_from_args(args, base) == Noise("pre", 0.2, scale="sqrt(2/alpha)")
    args = argparse.Namespace(placement="post", sigma=0.2, process=None, tau_noise_ms=None)
    assert noise_from_args(args, base).scale == "per_step"  # another placement: its own default
