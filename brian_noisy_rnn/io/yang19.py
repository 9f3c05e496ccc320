"""Importer for Yang et al. 2019's multitask networks (Nat. Neurosci. 22:297; gyyang/multitask).

``network.py`` (``LeakyRNNCell.call``, ``Model._build_fused``), ``rnn_type = "LeakyRNN"``::

    gate = [u, h] @ kernel + bias + N(0, (sqrt(2 / alpha) sigma_rec)^2)   kernel: (n_input + N, N)
    h    = (1 - alpha) h + alpha f(gate)                                  alpha = dt / tau
    y    = sigmoid(h @ w_out + b_out)     (loss_type "lsq"; softmax for cross-entropy)

A trained model is a folder with ``hp.json`` (``dt``, ``tau``, ``sigma_rec``, ``activation``,
``n_input``, ``n_rnn``, ``n_output``, ...) and a TensorFlow 1 checkpoint ``model.ckpt.*``
with the variables ``rnn/leaky_rnn_cell/kernel``, ``rnn/leaky_rnn_cell/bias``,
``output/weights`` and ``output/biases``.

Why the checkpoint is not read here: a TF checkpoint is a ``.index`` file (a LevelDB-format
table of ``BundleEntryProto`` protocol buffers giving each tensor's dtype, shape, shard and
byte offset) plus ``.data-*`` shards. Reading it needs TensorFlow or a re-implementation of
that table and protobuf format, which could not be checked against a real checkpoint here
(TensorFlow 1 does not install on Python 3.11, and no TensorFlow is installed). TensorFlow 2
reads TF1 checkpoints, so the variables are one call away wherever TensorFlow runs::

    reader = tf.train.load_checkpoint("model_dir/model.ckpt")
    variables = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
    np.savez("yang19_variables.npz", **variables)

:func:`from_yang19` takes ``hp.json`` and those variables (a dict or that ``.npz``). The
spec's outputs are the readout *before* the sigmoid (or softmax): a CTRNNSpec's readout is
affine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from numbers import Real

import numpy as np

from ..core.activations import get_activation
from ..core.noise import Noise
from ..core.spec import CTRNNSpec
from ..core.units import from_seconds
from .files import array_from, check_source_file, import_record, load_npz_file

__all__ = ["VARIABLES", "from_yang19", "run_yang19"]

#: checkpoint variable names of a fused-input LeakyRNN model
VARIABLES = {"kernel": "rnn/leaky_rnn_cell/kernel", "bias": "rnn/leaky_rnn_cell/bias",
             "w_out": "output/weights", "b_out": "output/biases"}
ACTIVATIONS = ("softplus", "relu", "tanh", "retanh")


def _hp(hp):
    path = None
    if not isinstance(hp, Mapping):
        path = check_source_file(hp, "hp")
        try:
            with open(path, encoding="utf-8") as f:
                hp = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"hp: {path!r} is not a readable JSON file ({err})") from None
        if not isinstance(hp, dict):
            raise ValueError(f"hp: {path!r} must hold a JSON object, got {type(hp).__name__}")
    where = "Yang19 hp" if path is None else f"Yang19 hp file {path!r}"
    out = {}
    for key in ("dt", "tau", "sigma_rec", "n_input", "n_rnn", "n_output"):
        if key not in hp:
            raise ValueError(f"{where} lacks the key {key!r}")
        v = hp[key]
        if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{where}: {key!r} must be a number >= 0, got {v!r}")
        out[key] = v
    for key in ("dt", "tau"):
        if out[key] <= 0:
            raise ValueError(f"{where}: {key!r} must be > 0, got {out[key]!r}")
    if hp.get("rnn_type", "LeakyRNN") != "LeakyRNN" or hp.get("use_separate_input", False):
        raise ValueError(f"{where}: rnn_type={hp.get('rnn_type')!r}, use_separate_input="
                         f"{hp.get('use_separate_input', False)!r}; only the fused LeakyRNN is a "
                         "CTRNN")
    out["activation"] = hp.get("activation", "softplus")
    if out["activation"] not in ACTIVATIONS:
        raise ValueError(f"{where}: 'activation' must be one of {ACTIVATIONS}, got "
                         f"{out['activation']!r}")
    out["loss_type"] = hp.get("loss_type", "lsq")
    out["sigma_x"] = hp.get("sigma_x", 0.0)
    return out, path


def _arrays(hp, variables):
    h, hp_path = _hp(hp)
    var_path = None
    if not isinstance(variables, Mapping):
        var_path = os.fspath(variables)
        variables = load_npz_file(variables)
    where = "Yang19 variables" if var_path is None else f"Yang19 variables file {var_path!r}"
    n_in, n, n_out = int(h["n_input"]), int(h["n_rnn"]), int(h["n_output"])
    kernel = array_from(variables, VARIABLES["kernel"], (n_in + n, n), where)
    return dict(hp=h, hp_path=hp_path, var_path=var_path, kernel=kernel,
                w_in=kernel[:n_in].T.copy(), w_rec=kernel[n_in:].T.copy(),
                b=array_from(variables, VARIABLES["bias"], (n,), where),
                w_out=array_from(variables, VARIABLES["w_out"], (n, n_out), where).T.copy(),
                b_out=array_from(variables, VARIABLES["b_out"], (n_out,), where))


def from_yang19(hp, variables, *, time_unit_ms=1.0) -> CTRNNSpec:
    """A Yang et al. 2019 LeakyRNN (``hp.json`` + checkpoint variables) as a :class:`CTRNNSpec`.

    Parameters
    ----------
    hp : str, os.PathLike or dict
        ``hp.json`` of the model folder, or its contents.
    variables : str, os.PathLike or mapping of str to array
        The checkpoint's variables (:data:`VARIABLES`), as a dict or an ``.npz`` file (see the
        module docstring for the three lines of TensorFlow that write it).
    time_unit_ms : float
        Milliseconds per unit of ``hp["dt"]`` and ``hp["tau"]`` (1: ms, Yang et al.'s unit).

    Returns
    -------
    CTRNNSpec
        h-form, ``Noise("pre", sigma_rec, scale="sqrt(2/alpha)")``, ``w_in``/``w_rec`` split
        from the fused kernel ([pre, post] transposed to (post, pre)), ``h0 = 0``.
    """
    a = _arrays(hp, variables)
    h = a["hp"]
    unit_s = float(time_unit_ms) * 1e-3
    get_activation(h["activation"])
    meta = import_record(
        "yang19", a["hp_path"],
        conventions={"form": "h", "update": "h = (1 - alpha) h + alpha f([u, h] kernel + bias + "
                     "noise)", "noise": "inside f, sqrt(2/alpha) sigma_rec per step",
                     "readout": f"h w_out + b_out before the {'sigmoid' if h['loss_type'] == 'lsq' else 'softmax'}",
                     "layout": "kernel (n_input + N, N) [pre, post]: w_in = kernel[:n_input].T, "
                     "w_rec = kernel[n_input:].T"},
        given={}, from_file={k: h[k] for k in ("dt", "tau", "sigma_rec", "activation",
                                                "loss_type", "sigma_x")},
        notes=["outputs are the readout before the sigmoid/softmax of the source",
               f"input noise sigma_x = {h['sigma_x']} is added to the task inputs by the "
               "source's task generator, not by the network: not part of the spec"]
        + ([f"variables read from {os.path.abspath(a['var_path'])!r}"] if a["var_path"] else []))
    return CTRNNSpec(a["w_in"], a["w_rec"], a["b"], a["w_out"], a["b_out"],
                     tau=from_seconds(h["tau"] * unit_s), dt=from_seconds(h["dt"] * unit_s),
                     activation=h["activation"],
                     noise=Noise("pre", float(h["sigma_rec"]), scale="sqrt(2/alpha)"),
                     metadata=meta)


def run_yang19(hp, variables, inputs, *, xi=None):
    """``LeakyRNNCell.call`` and the output layer of Yang et al. transcribed (numpy, float64).

    Parameters
    ----------
    hp, variables : as in :func:`from_yang19`
        ``hp.json`` and the checkpoint's variables.
    inputs : float array (T, B, n_input)
        Time-major inputs (the source's layout).
    xi : float array (T, B, N) or None
        Standard normal draws of the recurrent noise (None: none).

    Returns
    -------
    outputs : float64 array (T, B, n_output)
        ``h @ w_out + b_out`` (before the sigmoid/softmax).
    states : float64 array (T, B, N)
    """
    a = _arrays(hp, variables)
    h = a["hp"]
    alpha = h["dt"] / h["tau"]
    sigma = np.sqrt(2 / alpha) * h["sigma_rec"]
    f = get_activation(h["activation"]).numpy
    kernel = a["kernel"]  # the file's fused (n_input + N, N) kernel, as the cell uses it
    inputs = np.asarray(inputs, dtype=np.float64)
    state = np.zeros((inputs.shape[1], a["w_rec"].shape[0]))
    states = []
    for t in range(inputs.shape[0]):
        gate_inputs = np.concatenate([inputs[t], state], axis=1) @ kernel + a["b"]
        if xi is not None:
            gate_inputs = gate_inputs + sigma * xi[t]
        output = f(gate_inputs)
        state = (1 - alpha) * state + alpha * output
        states.append(state)
    states = np.stack(states)
    return states @ a["w_out"].T + a["b_out"], states
