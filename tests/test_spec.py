import json
import zipfile

import numpy as np
import pytest
import torch
from brian2 import ms, mV, second

from brian_noisy_rnn import CTRNNSpec, Noise
from brian_noisy_rnn.bridges import TorchCTRNN


def _args(n=4, n_in=2, n_out=3):
    rng = np.random.default_rng(0)
    return dict(w_in=rng.normal(size=(n, n_in)), w_rec=rng.normal(size=(n, n)), b=rng.normal(size=n),
                w_out=rng.normal(size=(n_out, n)), b_out=rng.normal(size=n_out),
                tau=100 * ms, dt=20 * ms, activation="relu")


def test_properties():
    s = CTRNNSpec(**_args())
    assert (s.n_in, s.n_hidden, s.n_out) == (2, 4, 3)
    assert s.gamma == pytest.approx(0.2)
    assert s.tau == 100 * ms and s.dt == 20 * ms
    assert s.noise == Noise("none")
    np.testing.assert_array_equal(s.h0, np.zeros(4))
    with pytest.raises(ValueError):
        s.w_rec[0, 0] = 1.0  # read-only


@pytest.mark.parametrize("change, exc, word", [
    (dict(w_in=np.zeros((5, 2))), ValueError, "w_in"),
    (dict(w_rec=np.zeros((4, 3))), ValueError, "w_rec"),
    (dict(b=np.zeros(3)), ValueError, "b "),
    (dict(w_out=np.zeros((3, 5))), ValueError, "w_out"),
    (dict(b_out=np.zeros(2)), ValueError, "b_out"),
    (dict(h0=np.zeros(5)), ValueError, "h0"),
    (dict(w_rec=np.full((4, 4), np.nan)), ValueError, "w_rec"),
    (dict(w_in=np.full((4, 2), np.inf)), ValueError, "w_in"),
    (dict(b=["a", "b", "c", "d"]), TypeError, "b "),
    (dict(dt=101 * ms), ValueError, "dt"),  # dt == tau is the discrete-time RNN (allowed)
    (dict(dt=200 * ms), ValueError, "dt"),
    (dict(tau=0.1), TypeError, "tau"),
    (dict(tau=10 * mV), TypeError, "tau"),
    (dict(dt=-1 * ms), ValueError, "dt"),
    (dict(activation="gelu"), ValueError, "activation"),
    (dict(noise="pre"), TypeError, "noise"),
    (dict(noise=Noise("pre", [0.1, 0.2])), ValueError, "sigma"),
    (dict(noise=Noise("pre", 0.1, process="ou", tau_noise=5 * ms)), ValueError, "tau_noise"),
    (dict(metadata={"x": object()}), TypeError, "metadata"),
])
def test_bad_construction(change, exc, word):
    args = _args()
    args.update(change)
    with pytest.raises(exc, match=word):
        CTRNNSpec(**args)


@pytest.mark.parametrize("noise", [Noise("none"), Noise("pre", 0.7), Noise("post", [0.1, 0.2, 0.3, 0.4]),
                                   Noise("pre", 0.3, process="ou", tau_noise=40 * ms)])
def test_save_load_round_trip_bit_exact(tmp_path, noise):
    s = CTRNNSpec(**_args(), noise=noise, h0=np.arange(4) / 7, metadata={"task": "x", "steps": 3})
    path = s.save(tmp_path / "net.npz")
    t = CTRNNSpec.load(path)
    assert t == s and t.content_hash() == s.content_hash()
    for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0"):
        assert getattr(t, k).tobytes() == getattr(s, k).tobytes()
    assert t.metadata == {"task": "x", "steps": 3}
    assert t.tau_seconds == s.tau_seconds and t.dt_seconds == s.dt_seconds


def test_content_hash_tracks_weights():
    s = CTRNNSpec(**_args())
    w = s.w_rec.copy()
    w[0, 0] += 1e-12
    assert s.replace(w_rec=w).content_hash() != s.content_hash()
    assert s.replace(metadata={"a": 1}).content_hash() == s.content_hash()


def test_torch_round_trip_bit_exact():
    s = CTRNNSpec(**_args(), noise=Noise("pre", 0.5), h0=np.linspace(0, 1, 4))
    model = TorchCTRNN.from_spec(s)
    assert model.w_rec.dtype == torch.float64
    assert model.to_spec() == s
    sd = model.state_dict()
    assert set(sd) == {"w_in", "w_rec", "b", "w_out", "b_out", "h0"}


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        CTRNNSpec.load(tmp_path / "missing.npz")
    s = CTRNNSpec(**_args())
    good = s.save(tmp_path / "good.npz")
    data = open(good, "rb").read()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="path"):
        CTRNNSpec.load(tmp_path / "trunc.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="path"):
        CTRNNSpec.load(tmp_path / "junk.npz")
    # a valid npz that is not a spec
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="path"):
        CTRNNSpec.load(tmp_path / "other.npz")
    # wrong version
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "v99.npz", **arrays)
    with pytest.raises(ValueError, match="version"):
        CTRNNSpec.load(tmp_path / "v99.npz")
    # a pickled object array is refused (no pickle is ever loaded)
    arrays["w_rec"] = np.array([object()], dtype=object)
    meta["version"] = 1
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "pickle.npz", **arrays)
    with pytest.raises(ValueError, match="path"):
        CTRNNSpec.load(tmp_path / "pickle.npz")
    # invalid contents are caught by the constructor's validation
    arrays["w_rec"] = np.full((4, 4), np.nan)
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(ValueError, match="w_rec"):
        CTRNNSpec.load(tmp_path / "nan.npz")


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    s = CTRNNSpec(**_args())
    path = s.save(tmp_path / "net.npz")
    before = open(path, "rb").read()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        s.replace(b=np.ones(4)).save(path)
    assert open(path, "rb").read() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]
