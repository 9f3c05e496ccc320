"""Importers (brian_noisy_rnn.io): every source's network, made with the real library where it
installs (torch.nn.RNN, nn4n) or written by the test in the source's own file format, imported
and matched against the source's forward pass on numpy, torch and Brian2.

Tolerances: 1e-10 wherever both sides compute in float64 (measured: below 2e-15); 1e-5 against
the real libraries' float32 forward passes (float32 rounding, 6e-8 relative per operation,
accumulated over 20 steps of O(1) values).
"""

import json
import pickle

import numpy as np
import pytest
import scipy.io
import torch
from brian2 import ms

from brian_noisy_rnn import CTRNNSpec, Noise, simulate
from brian_noisy_rnn.cli import main
from brian_noisy_rnn.io import (from_ngym_usage, from_nn4n, from_psychrnn, from_spikernn,
                                from_torch_rnn, from_yang19, import_network, measure_parity,
                                parity_inputs, save_torch_checkpoint)
from brian_noisy_rnn.backends.torch_backend import TorchCTRNN

N, I, O = 6, 3, 2
T, B = 20, 3


def _check_parity(spec, reference, with_noise=True):
    report = measure_parity(spec, reference, parity_inputs(spec, T, B), with_noise=with_noise)
    assert set(report.noise_free) == {"numpy", "torch", "brian2"}
    if with_noise and spec.noise.is_active:
        assert set(report.same_draws) == {"numpy", "torch", "brian2"}
    assert report.worst() < 1e-10, report.lines()
    return report


# --- torch.nn.RNN ----------------------------------------------------------------------------
def test_torch_rnn_made_with_torch(tmp_path):
    torch.manual_seed(0)
    rnn = torch.nn.RNN(I, N, nonlinearity="tanh")
    torch.save(rnn.state_dict(), tmp_path / "rnn.pt")
    spec, reference = import_network("torch_rnn", tmp_path / "rnn.pt", dt=10 * ms,
                                     nonlinearity="tanh")
    assert spec.gamma == 1.0 and spec.form == "h" and spec.activation == "tanh"
    assert spec.metadata["imported"]["given_by_caller"]["dt_s"] == 0.01
    _check_parity(spec, reference)
    # the module as trained (float32): the same numbers up to float32 rounding
    u = parity_inputs(spec, T, B)
    with torch.no_grad():
        h, _ = rnn(torch.as_tensor(u, dtype=torch.float32))
    assert np.max(np.abs(simulate(spec, u, backend="numpy").states - h.numpy())) < 1e-5
    # a module carries its nonlinearity; a state dict does not
    assert from_torch_rnn(rnn, dt=10 * ms) == spec.replace(
        metadata=from_torch_rnn(rnn, dt=10 * ms).metadata)
    with pytest.raises(ValueError, match="nonlinearity is required"):
        from_torch_rnn(tmp_path / "rnn.pt", dt=10 * ms)
    with pytest.raises(ValueError, match="dt is required"):
        from_torch_rnn(rnn, dt=None)


def test_torch_rnn_refuses_stacked_and_bidirectional():
    with pytest.raises(ValueError, match="num_layers"):
        from_torch_rnn(torch.nn.RNN(I, N, num_layers=2), dt=10 * ms)
    with pytest.raises(ValueError, match="bidirectional"):
        from_torch_rnn(torch.nn.RNN(I, N, bidirectional=True).state_dict(), dt=10 * ms,
                       nonlinearity="tanh")


# --- NeuroGym's CTRNN -------------------------------------------------------------------------
class _NgymCTRNN(torch.nn.Module):
    """The CTRNN and RNNNet of NeuroGym's supervised-learning examples (as published there;
    noise added as in Yang19's variant: sqrt(2/alpha) sigma_rec inside relu)."""

    def __init__(self, input_size, hidden_size, output_size, dt, sigma_rec=0.0):
        super().__init__()
        self.tau = 100
        self.alpha = dt / self.tau
        self.sigma = np.sqrt(2 / self.alpha) * sigma_rec
        self.input2h = torch.nn.Linear(input_size, hidden_size)
        self.h2h = torch.nn.Linear(hidden_size, hidden_size)
        self.fc = torch.nn.Linear(hidden_size, output_size)

    def forward(self, x, xi=None):
        hidden = torch.zeros(x.shape[1], self.h2h.weight.shape[0], dtype=x.dtype)
        out = []
        for i in range(x.shape[0]):
            pre = self.input2h(x[i]) + self.h2h(hidden)
            if xi is not None:
                pre = pre + self.sigma * xi[i]
            h_new = torch.relu(pre)
            hidden = hidden * (1 - self.alpha) + h_new * self.alpha
            out.append(hidden)
        out = torch.stack(out)
        return self.fc(out), out


def test_ngym_usage_state_dict_of_the_example_class(tmp_path):
    torch.manual_seed(1)
    net = _NgymCTRNN(I, N, O, dt=20, sigma_rec=0.1).double()
    state = {f"rnn.{k}" if not k.startswith("fc") else k: v for k, v in net.state_dict().items()}
    torch.save(state, tmp_path / "net.pt")
    spec, reference = import_network("ngym_usage", tmp_path / "net.pt", dt=20 * ms, sigma=0.1)
    assert spec.noise == Noise("pre", 0.1, scale="sqrt(2/alpha)")
    _check_parity(spec, reference)
    # the class itself, fed the same draws as simulate
    from brian_noisy_rnn.core.dynamics import standard_normal

    u = parity_inputs(spec, T, B)
    xi = standard_normal(5, T, B, N)
    with torch.no_grad():
        z, h = net(torch.as_tensor(u), torch.as_tensor(xi))
    res = simulate(spec, u, backend="brian2", seed=5)
    assert np.max(np.abs(res.outputs - z.numpy())) < 1e-10
    with pytest.raises(ValueError, match="sigma is required"):
        from_ngym_usage(tmp_path / "net.pt", dt=20 * ms, sigma=None)


# --- nn4n -------------------------------------------------------------------------------------
def _nn4n_model(**extra):
    pytest.importorskip("nn4n")  # the real library (pip install nn4n)
    from nn4n.model import CTRNN

    torch.manual_seed(2)
    model = CTRNN(dims=[I, N, O], tau=100, dt=10, activation="tanh", biases="uniform",
                  init_state="learn", **extra)
    with torch.no_grad():
        model.recurrent_layer.hidden_state.copy_(torch.randn(N) * 0.3)
    return model


def test_nn4n_made_with_nn4n(tmp_path):
    from brian_noisy_rnn.io.nn4n import run_nn4n_library

    model = _nn4n_model(preact_noise=0.2)
    model.save(str(tmp_path / "net.pth"))
    spec, reference = import_network("nn4n", tmp_path / "net.pth")
    assert spec.form == "x" and spec.noise == Noise("state", 0.2, scale="alpha")
    assert np.allclose(spec.h0, model.recurrent_layer.hidden_state.detach().numpy())
    _check_parity(spec, reference)
    u = parity_inputs(spec, T, B)
    z, rates = run_nn4n_library(tmp_path / "net.pth", u)  # nn4n itself, eval(), float32
    res = simulate(spec, u, backend="numpy", noise=Noise("none"))
    assert np.max(np.abs(res.outputs - z)) < 1e-5
    assert np.max(np.abs(np.tanh(res.states) - rates)) < 1e-5


def test_nn4n_noise_in_distribution():
    """nn4n's own noisy forward (train() mode, torch's generator) against simulate's.

    2000 trials: the standard error of a unit's mean at the last step is sd/sqrt(2000), of its
    sd about sd/sqrt(4000); the bounds are 5 standard errors of the difference of two
    independent estimates (false alarm probability < 1e-5 per unit). Without the scale
    "alpha" the noise would be 10x larger (alpha = 0.1) and the sds differ tenfold.
    """
    model = _nn4n_model(preact_noise=0.5)
    spec = from_nn4n(model)
    n_trials, n_steps = 2000, 30
    u = np.ones((n_steps, n_trials, I)) * 0.3
    model.train()
    torch.manual_seed(3)
    with torch.no_grad():
        _, (rates,) = model(torch.as_tensor(u, dtype=torch.float32))
    ours = np.tanh(simulate(spec, u, backend="numpy", seed=4).states[-1])
    theirs = rates[-1].double().numpy()
    sd = np.sqrt((ours.var(0) + theirs.var(0)) / 2)
    assert np.all(np.abs(ours.mean(0) - theirs.mean(0)) < 5 * sd * np.sqrt(2 / n_trials))
    assert np.all(np.abs(ours.std(0) - theirs.std(0)) < 5 * sd * np.sqrt(1 / n_trials))
    assert np.all(theirs.std(0) > 0.01)  # the noise is there to compare


def test_nn4n_hostile_files(tmp_path):
    model = _nn4n_model()
    # numpy arrays in the kwargs: pickled objects a weights-only load refuses
    ck = {"model_state_dict": model.state_dict(),
          "kwargs": {**model.kwargs_checkpoint, "ei_masks": [np.ones((I, N)), None, None]}}
    torch.save(ck, tmp_path / "pickled.pth")
    with pytest.raises(ValueError, match="trust=True"):
        from_nn4n(tmp_path / "pickled.pth")
    assert from_nn4n(tmp_path / "pickled.pth", trust=True).n_hidden == N
    # NaN weights, wrong shapes, missing keys: errors naming the key
    bad = dict(model.state_dict())
    bad["recurrent_layer.hidden_layer.weight"] = bad["recurrent_layer.hidden_layer.weight"].clone()
    bad["recurrent_layer.hidden_layer.weight"][0, 0] = float("nan")
    torch.save({"model_state_dict": bad, "kwargs": model.kwargs_checkpoint}, tmp_path / "nan.pth")
    with pytest.raises(ValueError, match="'recurrent_layer.hidden_layer.weight' contains NaN"):
        from_nn4n(tmp_path / "nan.pth")
    bad = dict(model.state_dict())
    bad["readout_layer.bias"] = torch.zeros(O + 1)
    torch.save({"model_state_dict": bad, "kwargs": model.kwargs_checkpoint}, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"'readout_layer.bias' must have shape \(2,\)"):
        from_nn4n(tmp_path / "shape.pth")
    bad = {k: v for k, v in model.state_dict().items() if k != "readout_layer.weight"}
    torch.save({"model_state_dict": bad, "kwargs": model.kwargs_checkpoint}, tmp_path / "key.pth")
    with pytest.raises(ValueError, match="lacks the key 'readout_layer.weight'"):
        from_nn4n(tmp_path / "key.pth")
    torch.save({"state": model.state_dict()}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="lacks the key 'model_state_dict'"):
        from_nn4n(tmp_path / "other.pth")
    (tmp_path / "text.pth").write_text("not a torch file")
    with pytest.raises(ValueError, match="not a readable PyTorch file"):
        from_nn4n(tmp_path / "text.pth")
    torch.save({"model_state_dict": model.state_dict(),
                "kwargs": {**model.kwargs_checkpoint, "postact_noise": 0.1}}, tmp_path / "post.pth")
    with pytest.raises(ValueError, match=r"kwargs\['postact_noise'\]"):
        from_nn4n(tmp_path / "post.pth")
    assert from_nn4n(tmp_path / "post.pth", noise=Noise("none")).noise == Noise("none")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickle_that_runs_code_is_never_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled')",))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"model_state_dict": {}, "kwargs": Boom()}, f)
    with pytest.raises(ValueError, match="trust=True"):
        from_nn4n(tmp_path / "evil.pth")


# --- PsychRNN ---------------------------------------------------------------------------------
def _psychrnn_file(path, rng, **overrides):
    arrays = dict(W_in=rng.randn(N, I), W_rec=rng.randn(N, N) / 3, W_out=rng.randn(O, N),
                  b_rec=rng.randn(N) * 0.1, b_out=rng.randn(O), init_state=rng.randn(1, N) * 0.1,
                  rec_connectivity=np.ones((N, N)), input_connectivity=np.ones((N, I)),
                  output_connectivity=np.ones((O, N)), Dale_rec=np.eye(N), Dale_out=np.eye(N),
                  dale_ratio=np.array(None, dtype=object))  # as get_weights() gives them
    arrays.update(overrides)
    np.savez(path, **arrays)
    return arrays


def test_psychrnn_file(tmp_path):
    arrays = _psychrnn_file(tmp_path / "w.npz", np.random.RandomState(3))
    opts = dict(dt=10 * ms, tau=100 * ms, sigma=0.1, activation="relu")
    spec, reference = import_network("psychrnn", tmp_path / "w.npz", **opts)
    assert spec.form == "x" and spec.noise == Noise("state", 0.1, scale="sqrt(2*alpha)")
    assert np.array_equal(spec.h0, arrays["init_state"][0])
    given = spec.metadata["imported"]["given_by_caller"]
    assert given == {"dt_s": 0.01, "tau_s": 0.1, "sigma": 0.1, "activation": "relu"}
    _check_parity(spec, reference)
    for missing in ("dt", "tau", "sigma", "activation"):
        with pytest.raises(ValueError, match=f"{missing} is required"):
            from_psychrnn(tmp_path / "w.npz", **{**opts, missing: None})


def test_psychrnn_hostile_files(tmp_path):
    rng = np.random.RandomState(4)
    opts = dict(dt=10 * ms, tau=100 * ms, sigma=0.0, activation="relu")
    _psychrnn_file(tmp_path / "a.npz", rng, W_rec=rng.randn(N, N + 1))
    with pytest.raises(ValueError, match=r"'W_rec' must have shape \(6, 6\)"):
        from_psychrnn(tmp_path / "a.npz", **opts)
    _psychrnn_file(tmp_path / "b.npz", rng, b_rec=np.full(N, np.inf))
    with pytest.raises(ValueError, match="'b_rec' contains NaN or inf"):
        from_psychrnn(tmp_path / "b.npz", **opts)
    _psychrnn_file(tmp_path / "c.npz", rng, W_in=np.array(["a"] * N))
    with pytest.raises(ValueError, match="'W_in' must hold real numbers"):
        from_psychrnn(tmp_path / "c.npz", **opts)
    np.savez(tmp_path / "d.npz", W_rec=np.eye(N))
    with pytest.raises(ValueError, match="lacks the key 'W_in'"):
        from_psychrnn(tmp_path / "d.npz", **opts)
    (tmp_path / "e.npz").write_bytes((tmp_path / "a.npz").read_bytes()[:100])
    with pytest.raises(ValueError, match="not a readable .npz"):
        from_psychrnn(tmp_path / "e.npz", **opts)
    with pytest.raises(FileNotFoundError, match="path"):
        from_psychrnn(tmp_path / "none.npz", **opts)


# --- spikeRNN ---------------------------------------------------------------------------------
def _spikernn_file(path, rng, **overrides):
    inh = rng.rand(N) < 0.3
    variables = dict(w=np.abs(rng.randn(N, N)) / 3, m=np.diag(np.where(inh, -1.0, 1.0)),
                     som_m=np.where(rng.rand(N, N) < 0.1, 0.0, 1.0), w_in=rng.randn(N, I),
                     w_out=rng.randn(1, N), b_out=np.array([[0.1]]), taus=np.array([[20.0]]),
                     taus_gaus=rng.randn(N, 1), activation="sigmoid", N=N,
                     exc=~inh[:, None], inh=inh[:, None], som_N=0)
    variables.update(overrides)
    scipy.io.savemat(path, variables)
    return variables


def test_spikernn_file(tmp_path):
    v = _spikernn_file(tmp_path / "net.mat", np.random.RandomState(5))
    spec, reference = import_network("spikernn", tmp_path / "net.mat", dt=1 * ms)
    assert spec.form == "x" and spec.activation == "sigmoid" and spec.tau_seconds == 0.02
    assert np.allclose(spec.w_rec, (v["w"] @ v["m"]) * v["som_m"])
    _check_parity(spec, reference)
    with pytest.raises(ValueError, match="dt is required"):
        from_spikernn(tmp_path / "net.mat", dt=None)


def test_spikernn_refuses_what_a_spec_cannot_hold(tmp_path):
    rng = np.random.RandomState(6)
    _spikernn_file(tmp_path / "taus.mat", rng, taus=np.array([[4.0, 20.0]]))
    with pytest.raises(ValueError, match=r"'taus' = \[4.0, 20.0\] gives every unit its own"):
        from_spikernn(tmp_path / "taus.mat", dt=1 * ms)
    _spikernn_file(tmp_path / "act.mat", rng, activation="softplus")
    with pytest.raises(ValueError, match="'activation' = 'softplus'"):
        from_spikernn(tmp_path / "act.mat", dt=1 * ms)


# --- Yang et al. 2019 -------------------------------------------------------------------------
def test_yang19_hp_and_variables(tmp_path):
    rng = np.random.RandomState(7)
    hp = {"dt": 20, "tau": 100, "sigma_rec": 0.05, "sigma_x": 0.01, "n_input": I, "n_rnn": N,
          "n_output": O, "activation": "softplus", "rnn_type": "LeakyRNN", "loss_type": "lsq"}
    (tmp_path / "hp.json").write_text(json.dumps(hp))
    kernel = rng.randn(I + N, N) / 3
    np.savez(tmp_path / "vars.npz", **{"rnn/leaky_rnn_cell/kernel": kernel,
                                       "rnn/leaky_rnn_cell/bias": rng.randn(N) * 0.1,
                                       "output/weights": rng.randn(N, O),
                                       "output/biases": rng.randn(O)})
    spec, reference = import_network("yang19", tmp_path / "hp.json",
                                     variables=str(tmp_path / "vars.npz"))
    assert np.array_equal(spec.w_in, kernel[:I].T) and np.array_equal(spec.w_rec, kernel[I:].T)
    assert spec.noise == Noise("pre", 0.05, scale="sqrt(2/alpha)")
    _check_parity(spec, reference)
    with pytest.raises(ValueError, match="lacks the key 'sigma_rec'"):
        from_yang19({k: v for k, v in hp.items() if k != "sigma_rec"}, tmp_path / "vars.npz")
    with pytest.raises(ValueError, match="rnn_type='LeakyGRU'"):
        from_yang19({**hp, "rnn_type": "LeakyGRU"}, tmp_path / "vars.npz")


# --- the command line and the export ----------------------------------------------------------
def test_import_command_prints_parity_and_writes_the_spec(tmp_path, capsys):
    _psychrnn_file(tmp_path / "w.npz", np.random.RandomState(8))
    out = tmp_path / "net.npz"
    flags = ["--dt-ms", "10", "--tau-ms", "100", "--sigma", "0.1", "--activation", "relu",
             "--n-steps", "10", "--n-trials", "2"]
    assert main(["import", "psychrnn", str(tmp_path / "w.npz"), "--out", str(out)] + flags) == 0
    printed = capsys.readouterr().out
    assert "same noise draws  brian2" in printed and "wrote" in printed
    assert CTRNNSpec.load(out).metadata["imported"]["source"] == "psychrnn"
    # a missing value names its flag; a parity above --tolerance writes nothing
    assert main(["import", "psychrnn", str(tmp_path / "w.npz"), "--out", str(tmp_path / "x.npz"),
                 "--dt-ms", "10", "--sigma", "0", "--activation", "relu"]) == 2
    assert "--tau-ms is required" in capsys.readouterr().err
    assert main(["import", "psychrnn", str(tmp_path / "w.npz"), "--out", str(tmp_path / "y.npz"),
                 "--tolerance", "1e-300"] + flags) == 1
    assert not (tmp_path / "y.npz").exists()


def test_export_to_torch_and_fine_tune_round_trip(tmp_path):
    """A spec leaves as a weights-only state dict with its conventions, is fine-tuned by a
    plain PyTorch loop, and comes back: simulate then equals the tuned module."""
    _psychrnn_file(tmp_path / "w.npz", np.random.RandomState(9))
    spec = from_psychrnn(tmp_path / "w.npz", dt=10 * ms, tau=100 * ms, sigma=0.0,
                         activation="relu")
    save_torch_checkpoint(spec, tmp_path / "net.pt")
    ck = torch.load(tmp_path / "net.pt", weights_only=True)
    conv = ck["conventions"]
    assert conv["form"] == "x" and conv["activation"] == "relu"
    model = TorchCTRNN(I, N, O, tau=conv["tau_s"] * 1000 * ms, dt=conv["dt_s"] * 1000 * ms,
                       activation=conv["activation"], form=conv["form"], dtype=torch.float64)
    model.load_state_dict(ck["state_dict"])
    u = torch.as_tensor(parity_inputs(spec, T, B))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        z, _ = model(u)
        ((z - 1.0) ** 2).mean().backward()
        opt.step()
    tuned = model.to_spec()
    assert tuned.form == "x" and not np.array_equal(tuned.w_rec, spec.w_rec)
    with torch.no_grad():
        z, h = model(u)
    res = simulate(tuned, u.numpy(), backend="numpy")
    assert np.max(np.abs(res.outputs - z.numpy())) < 1e-10


@pytest.mark.slow
def test_example_import_and_run_in_brian2(tmp_path):
    """examples/import_and_run_in_brian2.py end to end (20 nn4n training steps): the import
    is exact, the user's LIF neurons fire, and the Brian2 noise sweep shows noise hurting the
    memory (task loss at preact_noise 0.6 above the noise-free one)."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("nn4n")
    path = Path(__file__).resolve().parents[1] / "examples" / "import_and_run_in_brian2.py"
    module_spec = importlib.util.spec_from_file_location("import_and_run_in_brian2", path)
    example = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(example)
    result = example.main(steps=20, out=str(tmp_path))
    assert result["parity"] < 1e-10
    assert len(result["spikes"]) > 0
    assert result["sweep"][0.6] > result["sweep"][0.0]
    assert (tmp_path / "imported.npz").exists()
