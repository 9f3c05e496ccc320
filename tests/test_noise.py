import numpy as np
import pytest
from brian2 import ms, mV

from brian_noisy_rnn import Noise


def test_valid_noise_models():
    assert Noise("pre", 0.5).is_active
    assert not Noise("pre", 0.0).is_active
    assert not Noise("none").is_active
    n = Noise("pre", 0.5, process="ou", tau_noise=20 * ms)
    assert n.tau_noise_seconds == pytest.approx(0.02)
    per_neuron = Noise("post", [0.1, 0.0, 0.3])
    assert per_neuron.sigma_vector(3).tolist() == [0.1, 0.0, 0.3]
    with pytest.raises(ValueError, match="sigma has 3 values"):
        per_neuron.sigma_vector(4)


@pytest.mark.parametrize("noise", [
    Noise("pre", 0.5), Noise("post", [0.1, 0.2]), Noise("pre", 0.3, process="ou", tau_noise=15 * ms),
    Noise("post", 0.2, process="poisson"), Noise("state", 0.4), Noise("none")])
def test_dict_round_trip(noise):
    assert Noise.from_dict(noise.to_dict()) == noise


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(placement="inside"), ValueError, "placement"),
    (dict(placement="pre", sigma=-0.1), ValueError, "sigma"),
    (dict(placement="pre", sigma=[0.1, -1]), ValueError, "sigma"),
    (dict(placement="pre", sigma=np.nan), ValueError, "sigma"),
    (dict(placement="pre", sigma="a lot"), TypeError, "sigma"),
    (dict(placement="pre", sigma=[[0.1]]), ValueError, "sigma"),
    (dict(placement="pre", process="pink"), ValueError, "process"),
    (dict(placement="pre", sigma=0.1, process="ou"), ValueError, "tau_noise"),
    (dict(placement="pre", sigma=0.1, process="ou", tau_noise=0 * ms), ValueError, "tau_noise"),
    (dict(placement="pre", sigma=0.1, process="ou", tau_noise=-5 * ms), ValueError, "tau_noise"),
    (dict(placement="pre", sigma=0.1, process="ou", tau_noise=5 * mV), TypeError, "tau_noise"),
    (dict(placement="pre", sigma=0.1, process="ou", tau_noise=5.0), TypeError, "tau_noise"),
    (dict(placement="pre", sigma=0.1, tau_noise=5 * ms), ValueError, "tau_noise"),
    (dict(placement="pre", sigma=0.1, process="poisson"), ValueError, "process"),
    (dict(placement="state", sigma=0.1, process="ou", tau_noise=5 * ms), ValueError, "process"),
])
def test_bad_noise(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        Noise(**kwargs)


def test_ou_tau_noise_below_dt_rejected():
    with pytest.raises(ValueError, match="tau_noise"):
        Noise("pre", 0.1, process="ou", tau_noise=5 * ms).check_compatible(0.01, 4)
