"""Importer for spikeRNN's rate model (Kim, Li & Sejnowski 2019, PNAS 116(45); rkim35/spikeRNN).

``rate/model.py`` (``construct_tf`` for training, ``eval_tf`` for a saved ``.mat`` file)::

    ww     = (w @ m) * som_m                           (Dale's law and SOM masks)
    x[t]   = (1 - DeltaT/taus) x[t-1] + (DeltaT/taus) (ww r[t-1] + w_in u[:, t-1])
             + randn(N) / 10
    r[t]   = sigmoid(x[t])
    o[t-1] = w_out r[t] + b_out                        (t = 1 .. T-1)

with ``x[0] ~ N(0, 0.01^2)``. ``rate/main.py`` saves with ``scipy.io.savemat`` the trained
``w``, ``m``, ``som_m``, ``w_in``, ``w_out``, ``b_out``, ``taus`` (ms), ``taus_gaus``,
``activation`` and more; ``DeltaT`` is not saved. With two ``taus`` [min, max] every unit
has its own time constant ``sigmoid(taus_gaus) (max - min) + min``: a :class:`CTRNNSpec`
has one tau, so such a file is refused (see :func:`from_spikernn`).

As a :class:`CTRNNSpec`: form "x", sigmoid, ``Noise("state", 0.1, scale="per_step")``,
``h0 = 0``. ``o[k]`` of the source is ``outputs[k]`` here for k < T-1 (the source never
consumes its last input column).
"""

from __future__ import annotations

import numpy as np

from ..core.activations import get_activation
from ..core.noise import Noise
from ..core.spec import CTRNNSpec
from ..core.units import from_seconds, to_seconds
from .files import array_from, import_record, load_mat_file, required

__all__ = ["from_spikernn", "run_spikernn"]

#: the fixed state noise of spikeRNN's rate model: randn / 10 per step
SPIKERNN_SIGMA = 0.1


def _activation_name(data, where):
    if "activation" not in data:
        return None
    value = np.asarray(data["activation"])
    if value.dtype.kind not in "US":
        raise ValueError(f"{where}: 'activation' must be a string, got dtype {value.dtype}")
    return "".join(str(v) for v in value.ravel()).strip()


def _arrays(path):
    data = load_mat_file(path)
    where = f"spikeRNN file {str(path)!r}"
    w = array_from(data, "w", (None, None), where)
    n = w.shape[0]
    a = dict(w=array_from(data, "w", (n, n), where), m=array_from(data, "m", (n, n), where),
             som_m=array_from(data, "som_m", (n, n), where),
             w_in=array_from(data, "w_in", (n, None), where),
             w_out=array_from(data, "w_out", (None, n), where), path=path)
    b_out = array_from(data, "b_out", (None, None), where).ravel()
    if b_out.shape[0] not in (1, a["w_out"].shape[0]):
        raise ValueError(f"{where}: 'b_out' must hold 1 or n_out={a['w_out'].shape[0]} values, "
                         f"got {b_out.shape[0]}")
    a["b_out"] = np.broadcast_to(b_out, (a["w_out"].shape[0],)).copy()
    taus = array_from(data, "taus", (None, None), where).ravel()
    if taus.size == 0 or taus.size > 2 or np.any(taus <= 0):
        raise ValueError(f"{where}: 'taus' must hold one or two time constants > 0 (ms), "
                         f"got {taus.tolist()}")
    if taus.size == 2 and taus[0] != taus[1]:
        raise ValueError(
            f"{where}: 'taus' = {taus.tolist()} gives every unit its own time constant "
            "(sigmoid(taus_gaus) (max - min) + min, trained); a CTRNNSpec has one tau for all "
            "units, so this network cannot be imported (only single-tau models, taus = [tau])")
    a["tau_ms"] = float(taus[0])
    activation = _activation_name(data, where)
    if activation not in (None, "sigmoid"):
        raise ValueError(f"{where}: 'activation' = {activation!r}; spikeRNN's eval_tf and its "
                         "spiking conversion use the sigmoid, and this importer reads sigmoid "
                         "models only")
    a["ww"] = (a["w"] @ a["m"]) * a["som_m"]
    return a


def from_spikernn(path, *, dt) -> CTRNNSpec:
    """A spikeRNN rate model (``.mat`` written by ``rate/main.py``) as a :class:`CTRNNSpec`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.mat`` file.
    dt : Brian2 time
        The training's ``DeltaT`` (required: not saved), e.g. ``dt=1*ms``; ``taus`` is read
        in ms (spikeRNN's unit).

    Returns
    -------
    CTRNNSpec
        form "x", sigmoid, ``w_rec = (w @ m) * som_m``, ``Noise("state", 0.1,
        scale="per_step")`` (the source's fixed ``randn/10``), ``h0 = 0``.
    """
    dt_s = to_seconds(required(dt, "dt", "spikeRNN", "the training's DeltaT, e.g. dt=1*ms"),
                      "dt")
    a = _arrays(path)
    meta = import_record(
        "spikernn", a["path"],
        conventions={"form": "x", "update": "x = (1 - DeltaT/tau) x + (DeltaT/tau) (ww r + w_in u)"
                     " + randn/10; r = sigmoid(x)", "noise": "on the state, 0.1 per step (fixed)",
                     "readout": "w_out r + b_out", "recurrence": "ww = (w @ m) * som_m",
                     "time": "o[k] of the source = outputs[k] for k < T - 1"},
        given={"dt_s": dt_s}, from_file={"tau_ms": a["tau_ms"]},
        notes=["the source starts each trial at x0 ~ N(0, 0.01^2); the spec starts at h0 = 0",
               "spikeRNN computes in float32; the spec holds the saved weights as float64"])
    return CTRNNSpec(a["w_in"], a["ww"], np.zeros(a["ww"].shape[0]), a["w_out"], a["b_out"],
                     tau=from_seconds(a["tau_ms"] * 1e-3), dt=from_seconds(dt_s),
                     activation="sigmoid", noise=Noise("state", SPIKERNN_SIGMA, scale="per_step"),
                     metadata=meta, form="x")


def run_spikernn(path, inputs, *, dt, xi=None, x0=None):
    """spikeRNN's ``eval_tf`` loop transcribed line for line (numpy, float64), batched.

    Parameters
    ----------
    path, dt : as in :func:`from_spikernn`
        The file and the training's DeltaT.
    inputs : float array (T, B, n_in)
        ``inputs[t, b]`` is column t of trial b's ``u`` (n_in x T in the source).
    xi : float array (T, B, N) or None
        Standard normal draws of the state noise (``np.random.randn(N, 1)``); None: none.
    x0 : float array (B, N) or None
        Initial state (the source draws ``randn/100``); None: zeros.

    Returns
    -------
    outputs : float64 array (T, B, n_out)
        ``outputs[t]`` = the source's ``o`` after consuming input column t.
    states : float64 array (T, B, N)
        x after each step.
    """
    dt_ms = to_seconds(dt, "dt") * 1e3
    a = _arrays(path)
    inputs = np.asarray(inputs, dtype=np.float64)
    T, B = inputs.shape[0], inputs.shape[1]
    sigmoid = get_activation("sigmoid").numpy
    # the recurrent weights as eval_tf forms them from the file's w, m and som_m
    ww = np.matmul(a["w"], a["m"])
    ww = np.multiply(ww, a["som_m"])
    x = np.zeros((B, ww.shape[0])) if x0 is None else np.array(x0, dtype=float)
    r = sigmoid(x)
    xs, os_ = [], []
    for t in range(1, T + 1):
        next_x = (1 - dt_ms / a["tau_ms"]) * x \
            + (dt_ms / a["tau_ms"]) * (r @ ww.T + inputs[t - 1] @ a["w_in"].T)
        if xi is not None:
            next_x = next_x + xi[t - 1] / 10
        x = next_x
        r = sigmoid(x)
        xs.append(x)
        os_.append(r @ a["w_out"].T + a["b_out"])
    return np.stack(os_), np.stack(xs)
