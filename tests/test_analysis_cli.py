"""network_shift_report and the ``analyze`` command on the one-unit regulator task."""

import json

import numpy as np
import pytest

from brian_noisy_rnn import Noise, tasks
from brian_noisy_rnn.analysis import network_shift_report, single_neuron_spec
from brian_noisy_rnn.cli import main


@pytest.fixture(scope="module")
def regulator():
    return tasks.make("SingleNeuronRegulator-v0", dt=20)


def test_shift_report_predicts_the_measured_shift(regulator):
    # the exact solution of the task (w_in = 1, w_rec = 0) run with noise sigma = 1 inside relu
    spec = single_neuron_spec(noise=Noise("pre", 1.0))
    batch = tasks.batch(regulator, 30, seed=4)
    rep = network_shift_report(spec, batch, n_repeats=32, seed=1)
    c = batch.inputs[-1, :, 0]
    np.testing.assert_allclose(rep.u[:, 0], c)
    # w_rec = 0: the predicted shift is exact at the fixed point, sigma psi(c / sigma)
    from brian_noisy_rnn.analysis import noisy_activation

    np.testing.assert_allclose(rep.predicted_shift[:, 0], noisy_activation("relu", c, 1.0) - c,
                               atol=1e-12)
    # measured over the hold period (steps 20-39, after 4 tau the transient factor
    # (1 - gamma)^t <= 0.012 remains): within 2% + 4.5 sem of the prediction per trial
    err = np.abs(rep.measured_shift - rep.predicted_shift)
    assert np.all(err <= 0.02 * np.abs(rep.predicted_shift) + 0.012 + 4.5 * rep.measured_shift_sem)
    assert rep.shift_r2 > 0.8
    # the noise-free network is the task's solution; the noisy mean is biased upwards
    assert rep.loss_det < 1e-3 < rep.loss_mean < rep.loss_noisy
    assert rep.delta_measured < 0 and rep.delta_predicted < 0
    assert "loss change predicted" in rep.summary() and "predicted" in rep.shift_table()
    with pytest.raises(ValueError, match="noise must be active"):
        network_shift_report(spec, batch, noise=Noise("none"))
    with pytest.raises(ValueError, match="n_repeats"):
        network_shift_report(spec, batch, n_repeats=1)


def test_analyze_command(tmp_path, capsys):
    path = single_neuron_spec(noise=Noise("pre", 0.5)).save(tmp_path / "net.npz")
    out = tmp_path / "out"
    code = main(["analyze", str(path), "--task", "SingleNeuronRegulator-v0", "--n-trials", "12",
                 "--n-repeats", "8", "--n-eval", "40", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    for key in ("loss change measured", "within 1 sigma", "stable", "compensated (relu~0.5)"):
        assert key in text
    for name in ("shift.png", "operating_points.png", "single_neuron.png", "analysis.json"):
        assert (out / name).stat().st_size > 100
    data = json.loads((out / "analysis.json").read_text())
    assert data["noise"]["placement"] == "pre" and "compensation" in data


def test_analyze_command_errors(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.npz"), "--task", "SingleNeuronRegulator-v0"]) == 2
    assert "missing.npz" in capsys.readouterr().err
    quiet = single_neuron_spec(noise=Noise("none")).save(tmp_path / "quiet.npz")
    assert main(["analyze", str(quiet), "--task", "SingleNeuronRegulator-v0"]) == 2
    assert "--placement" in capsys.readouterr().err
    assert main(["analyze", str(quiet), "--task", "SingleNeuronRegulator-v0", "--placement", "pre"]) == 2
    assert "--sigma" in capsys.readouterr().err
    assert main(["analyze", str(quiet), "--task", "SingleNeuronRegulator-v0", "--placement", "pre",
                 "--sigma", "0.5", "--n-trials", "1"]) == 2
    assert "--n-trials" in capsys.readouterr().err
    assert main(["analyze", str(quiet), "--task", "SingleNeuronRegulator-v0", "--placement", "pre",
                 "--sigma", "-1"]) == 2
    assert "--sigma" in capsys.readouterr().err


def test_shift_report_of_an_integrator_keeps_the_trajectory_prediction(regulator):
    # w_rec = 1: h' = (1 - gamma) h + gamma relu(h + u) has no fixed point for u > 0 (it
    # integrates u, as path-integration networks do): the fixed-point predictions are NaN,
    # the mean-field trajectory's prediction and the measured losses remain
    spec = single_neuron_spec(w_rec=1.0, noise=Noise("pre", 1.0))
    batch = tasks.batch(regulator, 20, seed=4)
    assert np.any(batch.inputs[-1, :, 0] > 0)
    rep = network_shift_report(spec, batch, n_repeats=8, seed=1)
    assert np.all(np.isnan(rep.predicted_shift)) and np.isnan(rep.delta_predicted)
    assert np.isfinite(rep.delta_predicted_dynamic) and np.isfinite(rep.delta_measured)
    assert np.isfinite(rep.shift_r2_dynamic)
