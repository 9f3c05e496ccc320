"""Importer for PsychRNN's ``Basic`` RNN (Ehrlich et al. 2021, eNeuro 8(1); murraylab/PsychRNN).

``psychrnn/backend/models/basic.py`` (``Basic.recurrent_timestep`` and ``output_timestep``)::

    state  = (1 - alpha) state + alpha (f(state) W_rec^T + u W_in^T + b_rec)
             + sqrt(2 alpha rec_noise^2) xi                                  alpha = dt / tau
    output = f(state) W_out^T + b_out

with f = relu (``Basic``) or sigmoid (``BasicSigmoid``), starting from ``init_state``.
``RNN.save(path)`` writes ``np.savez`` of ``get_weights()``: the *effective* ``W_in``,
``W_rec``, ``W_out`` (connectivity masks and Dale's law already applied), ``b_rec``,
``b_out``, ``init_state`` (1, N) and the masks; ``dt``, ``tau``, ``rec_noise`` and the
transfer function are not saved. PsychRNN needs TensorFlow (1.13-2.x), which is not
installed here: the parity reference :func:`run_psychrnn` is a line-for-line transcription.

As a :class:`CTRNNSpec`: form "x", ``Noise("state", rec_noise, scale="sqrt(2*alpha)")``.
"""

from __future__ import annotations

import numpy as np

from ..core.activations import get_activation
from ..core.noise import Noise
from ..core.spec import CTRNNSpec
from ..core.units import from_seconds, to_seconds
from .files import array_from, import_record, load_npz_file, required

__all__ = ["from_psychrnn", "run_psychrnn"]


def _arrays(path):
    data = load_npz_file(path)
    where = f"PsychRNN file {str(path)!r}"
    w_rec = array_from(data, "W_rec", (None, None), where)
    n = w_rec.shape[0]
    a = dict(w_rec=array_from(data, "W_rec", (n, n), where),
             w_in=array_from(data, "W_in", (n, None), where),
             w_out=array_from(data, "W_out", (None, n), where),
             b_rec=array_from(data, "b_rec", (n,), where), path=path)
    a["b_out"] = array_from(data, "b_out", (a["w_out"].shape[0],), where)
    two_d = "init_state" in data and np.ndim(data["init_state"]) == 2
    init = array_from(data, "init_state", (1, n) if two_d else (n,), where)
    a["x0"] = init.reshape(n)
    return a


def _times(dt, tau):
    dt_s = to_seconds(required(dt, "dt", "PsychRNN", "the task's dt, e.g. dt=10*ms"), "dt")
    tau_s = to_seconds(required(tau, "tau", "PsychRNN", "the task's tau, e.g. tau=100*ms"), "tau")
    return dt_s, tau_s


def from_psychrnn(path, *, dt, tau, sigma, activation) -> CTRNNSpec:
    """A PsychRNN ``Basic`` network saved with ``model.save(path)`` as a :class:`CTRNNSpec`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.
    dt, tau : Brian2 time
        The task's ``dt`` and ``tau`` (required: not saved).
    sigma : float
        The model's ``rec_noise`` (required: not saved; 0 for none).
    activation : str
        The transfer function (required: not saved): "relu" for ``Basic``, "sigmoid" for
        ``BasicSigmoid``, or the registry name of the one you passed.

    Returns
    -------
    CTRNNSpec
        form "x", ``h0 = init_state``, ``Noise("state", sigma, scale="sqrt(2*alpha)")``.
    """
    dt_s, tau_s = _times(dt, tau)
    sigma = required(sigma, "sigma", "PsychRNN", "the model's rec_noise; 0 for none")
    activation = required(activation, "activation", "PsychRNN",
                          "the transfer function: 'relu' for Basic, 'sigmoid' for BasicSigmoid")
    get_activation(activation)
    a = _arrays(path)
    meta = import_record(
        "psychrnn", a["path"],
        conventions={"form": "x", "update": "x = (1 - alpha) x + alpha (W_rec f(x) + W_in u + "
                     "b_rec) + sqrt(2 alpha) rec_noise xi",
                     "noise": "on the state, sqrt(2*alpha) rec_noise per step",
                     "readout": "W_out f(x) + b_out",
                     "layout": "W_in (N, n_in), W_rec (N, N), W_out (n_out, N): effective "
                     "weights (masks and Dale's law applied by get_weights)"},
        given={"dt_s": dt_s, "tau_s": tau_s, "sigma": float(sigma), "activation": activation},
        from_file={"n_hidden": int(a["w_rec"].shape[0])},
        notes=["PsychRNN computes in float32; the spec holds the saved weights as float64"])
    return CTRNNSpec(a["w_in"], a["w_rec"], a["b_rec"], a["w_out"], a["b_out"],
                     tau=from_seconds(tau_s), dt=from_seconds(dt_s), activation=activation,
                     noise=Noise("state", sigma, scale="sqrt(2*alpha)"), h0=a["x0"],
                     metadata=meta, form="x")


def run_psychrnn(path, inputs, *, dt, tau, sigma, activation, xi=None):
    """PsychRNN's ``Basic.forward_pass`` transcribed line for line (numpy, float64).

    Parameters
    ----------
    path, dt, tau, sigma, activation : as in :func:`from_psychrnn`
        The file and the values it does not hold.
    inputs : float array (T, B, n_in)
        Time-major inputs (PsychRNN's ``x`` is (B, T, n_in): transposed here).
    xi : float array (T, B, N) or None
        The standard normal draws of ``tf.random_normal`` (None: no noise).

    Returns
    -------
    outputs : float64 array (T, B, n_out)
    states : float64 array (T, B, N)
    """
    dt_s, tau_s = _times(dt, tau)
    a = _arrays(path)
    alpha = dt_s / tau_s
    f = get_activation(activation).numpy
    inputs = np.asarray(inputs, dtype=np.float64)
    state = np.tile(a["x0"], (inputs.shape[1], 1))
    rnn_outputs, rnn_states = [], []
    for t, rnn_in in enumerate(inputs):
        new_state = ((1 - alpha) * state) \
            + alpha * (f(state) @ a["w_rec"].T + rnn_in @ a["w_in"].T + a["b_rec"])
        if xi is not None:
            new_state = new_state + np.sqrt(2.0 * alpha * sigma * sigma) * xi[t]
        state = new_state
        rnn_outputs.append(f(state) @ a["w_out"].T + a["b_out"])
        rnn_states.append(state)
    return np.stack(rnn_outputs), np.stack(rnn_states)
