"""Importer for nn4n's ``CTRNN`` (nn4n 1.x, https://github.com/NN4Neurosim/nn4n).

nn4n 1.1.1 (``nn4n/layer/recurrent_layer.py``, ``RecurrentLayer._recurrence``) filters the
membrane potential v, the state before f (an x-form network)::

    v = (1 - alpha) v + alpha (hidden_layer(fr) + input_layer(u))     alpha = dt / tau
    v = v + alpha * preact_noise * xi                                   (train() mode only)
    fr = f(v)  [+ postact_noise * xi']                                  (train() mode only)
    out = readout_layer(fr)

with ``hidden_layer(fr) = fr @ W_hid.T + b_hid`` and ``input_layer(u) = u @ W_in.T + b_in``,
starting from ``v_0`` = ``recurrent_layer.hidden_state`` (``init_state`` "learn" or
"keep") or zeros ("zero"), in float32. ``model.save(path)`` writes
``torch.save({"model_state_dict": ..., "kwargs": ...})``; the kwargs hold dims, dt, tau,
activation and the noise amplitudes (or nn4n's defaults apply: dt 10, tau 100, relu, no
noise).

As a :class:`CTRNNSpec`: form "x", ``b = b_in + b_hid``, ``preact_noise`` as
``Noise("state", preact_noise, scale="alpha")`` (``alpha sigma xi`` added to the state per
step). ``postact_noise`` enters f(v) where both the recurrence and the readout read it: no
noise placement reproduces it, so a file with ``postact_noise > 0`` needs the caller's
``noise=``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Real

import numpy as np
from brian2 import ms

from ..core.activations import get_activation
from ..core.noise import Noise, as_noise
from ..core.spec import CTRNNSpec
from ..core.units import from_seconds, to_seconds
from .files import array_from, import_record, load_torch_file

__all__ = ["from_nn4n", "run_nn4n", "run_nn4n_library"]

#: nn4n 1.1.1's defaults for kwargs a saved model may lack (``CTRNN._build_structures``)
NN4N_DEFAULTS = {"dt": 10, "tau": 100, "activation": "relu", "preact_noise": 0,
                 "postact_noise": 0, "init_state": "zero"}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "retanh")
_PREFIX = "recurrent_layer."


def _checkpoint(source, trust):
    """(state dict, kwargs, path or None) of an nn4n file or model."""
    if hasattr(source, "kwargs_checkpoint") and hasattr(source, "state_dict"):
        return source.state_dict(), dict(source.kwargs_checkpoint), None
    ck = load_torch_file(source, trust=trust)
    source = os.fspath(source)
    where = f"nn4n file {source!r}"
    if not isinstance(ck, Mapping):
        raise ValueError(f"{where} holds a {type(ck).__name__}, not nn4n's "
                         "{'model_state_dict', 'kwargs'} dict")
    for key in ("model_state_dict", "kwargs"):
        if key not in ck:
            raise ValueError(f"{where} lacks the key {key!r} (it holds {sorted(map(str, ck))}); "
                             "nn4n's model.save(path) writes both")
    if not isinstance(ck["kwargs"], Mapping):
        raise ValueError(f"{where}: 'kwargs' must be a dict, got {type(ck['kwargs']).__name__}")
    return ck["model_state_dict"], dict(ck["kwargs"]), source


def _settings(kwargs, where):
    """The kwargs nn4n's forward depends on, with nn4n's defaults, checked."""
    out = {k: kwargs.get(k, v) for k, v in NN4N_DEFAULTS.items()}
    for key in ("dt", "tau"):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v <= 0:
            raise ValueError(f"{where}: kwargs[{key!r}] must be a number > 0, got {v!r}")
    for key in ("preact_noise", "postact_noise"):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{where}: kwargs[{key!r}] must be a number >= 0, got {v!r}")
    if out["activation"] not in ACTIVATIONS:
        raise ValueError(f"{where}: kwargs['activation'] must be one of {ACTIVATIONS}, "
                         f"got {out['activation']!r}")
    if out["init_state"] not in ("zero", "keep", "learn"):
        raise ValueError(f"{where}: kwargs['init_state'] must be 'zero', 'keep' or 'learn', "
                         f"got {out['init_state']!r}")
    if out["dt"] > out["tau"]:
        raise ValueError(f"{where}: kwargs dt={out['dt']} > tau={out['tau']}")
    return out


def _arrays(source, trust):
    state, kwargs, path = _checkpoint(source, trust)
    where = f"nn4n {'model' if path is None else f'file {path!r}'}"
    s = _settings(kwargs, where)
    if not isinstance(state, Mapping):
        raise ValueError(f"{where}: 'model_state_dict' must be a dict, got {type(state).__name__}")
    w_hid = array_from(state, f"{_PREFIX}hidden_layer.weight", (None, None), where)
    n = w_hid.shape[0]
    dims = kwargs.get("dims")
    if dims is not None and (not isinstance(dims, (list, tuple)) or len(dims) != 3
                             or list(dims)[1] != n):
        raise ValueError(f"{where}: kwargs['dims'] = {dims!r} does not match the hidden "
                         f"weights' N = {n}")
    a = dict(
        w_in=array_from(state, f"{_PREFIX}input_layer.weight", (n, None), where),
        b_in=array_from(state, f"{_PREFIX}input_layer.bias", (n,), where),
        w_hid=array_from(state, f"{_PREFIX}hidden_layer.weight", (n, n), where),
        b_hid=array_from(state, f"{_PREFIX}hidden_layer.bias", (n,), where),
        w_out=array_from(state, "readout_layer.weight", (None, n), where),
        v0=array_from(state, f"{_PREFIX}hidden_state", (n,), where),
        settings=s, path=path, where=where, kwargs=kwargs)
    a["b_out"] = array_from(state, "readout_layer.bias", (a["w_out"].shape[0],), where)
    if s["init_state"] == "zero":
        a["v0"] = np.zeros(n)
    return a


def from_nn4n(source, *, trust=False, noise=None, time_unit=ms) -> CTRNNSpec:
    """An nn4n ``CTRNN`` (a file written by ``model.save`` or the model) as a :class:`CTRNNSpec`.

    Parameters
    ----------
    source : str, os.PathLike or nn4n.model.CTRNN
        The ``.pth`` file or the model.
    trust : bool
        False: the file is read with ``torch.load(weights_only=True)``, which reads nn4n's
        kwargs when they hold numbers, strings and lists, and refuses them (ValueError) when
        they hold numpy arrays or other pickled objects; True unpickles them (only for a
        file you trust).
    noise : Noise or None
        None: the file's own noise (``preact_noise``; a file with ``postact_noise > 0`` is
        refused, see the module docstring); otherwise this noise (placement "none" or
        "state"), recorded as given by the caller.
    time_unit : Brian2 time
        The unit of nn4n's dt and tau numbers (ms in nn4n's documentation and examples;
        only Brian2's clock depends on it, the dynamics depend on dt/tau alone).

    Returns
    -------
    CTRNNSpec
        form "x", ``h0 = v_0``, ``metadata["imported"]`` recording the kwargs used.
    """
    a = _arrays(source, trust)
    s = a["settings"]
    unit_s = to_seconds(time_unit, "time_unit")
    given = {}
    if noise is not None:
        noise = as_noise(noise)
        given["noise"] = noise.to_dict()
    elif s["postact_noise"] > 0:
        raise ValueError(
            f"{a['where']}: kwargs['postact_noise'] = {s['postact_noise']}: nn4n adds it to f(v), "
            "where the recurrence and the readout both read it, which no noise placement of "
            "this package reproduces; pass noise=Noise('none') (or Noise('state', ...)) to "
            "import the weights with a noise of your choice")
    else:
        noise = Noise("state", float(s["preact_noise"]), scale="alpha")
    meta = import_record(
        "nn4n", a["path"],
        conventions={"form": "x", "update": "v = (1 - alpha) v + alpha (W_hid f(v) + b_hid + "
                     "W_in u + b_in) + alpha preact_noise xi; fr = f(v)",
                     "noise": "preact_noise: alpha sigma xi on v (scale 'alpha'), in train() "
                     "mode only", "readout": "readout_layer(f(v))",
                     "initial state": f"init_state={s['init_state']!r}"},
        given=given,
        from_file={k: (v if isinstance(v, (int, float, str)) else repr(v))
                   for k, v in s.items()} | {"time_unit_s": unit_s},
        notes=["nn4n computes in float32; the spec holds the float32 weights as float64",
               "nn4n's noise acts in train() mode only: its eval() forward is noise-free "
               "(simulate(..., noise=Noise('none')))",
               "weights as saved: nn4n enforces its masks at the start of a training forward "
               "pass, not in eval()"])
    return CTRNNSpec(a["w_in"], a["w_hid"], a["b_in"] + a["b_hid"], a["w_out"], a["b_out"],
                     tau=from_seconds(s["tau"] * unit_s), dt=from_seconds(s["dt"] * unit_s),
                     activation=s["activation"], noise=noise, h0=a["v0"], metadata=meta,
                     form="x")


def run_nn4n(source, inputs, *, trust=False, xi=None):
    """nn4n 1.1.1's ``RecurrentLayer._recurrence`` transcribed line for line, in float64.

    Parameters
    ----------
    source, trust : as in :func:`from_nn4n`
        The file (or model) and whether to unpickle it.
    inputs : float array (T, B, n_in)
        Time-major inputs (nn4n's layout).
    xi : float array (T, B, N) or None
        Standard normal draws of the preact noise (nn4n's ``torch.randn``), None: eval mode.

    Returns
    -------
    outputs : float64 array (T, B, n_out)
    states : float64 array (T, B, N)
        v after each step.
    """
    a = _arrays(source, trust)
    s = a["settings"]
    alpha = s["dt"] / s["tau"]
    act = get_activation(s["activation"]).numpy
    inputs = np.asarray(inputs, dtype=np.float64)
    v_t = np.broadcast_to(a["v0"], (inputs.shape[1], a["v0"].shape[0]))
    fr_t = act(v_t)
    states, rates = [], []
    for i in range(inputs.shape[0]):
        v_in_u_t = inputs[i] @ a["w_in"].T + a["b_in"]
        v_hid_fr_t = fr_t @ a["w_hid"].T + a["b_hid"]
        v_t = (1 - alpha) * v_t + alpha * (v_hid_fr_t + v_in_u_t)
        if xi is not None and s["preact_noise"] > 0:
            v_t = v_t + alpha * (xi[i] * s["preact_noise"])
        fr_t = act(v_t)
        states.append(v_t)
        rates.append(fr_t)
    return np.stack(rates) @ a["w_out"].T + a["b_out"], np.stack(states)


def run_nn4n_library(source, inputs, *, trust=False):
    """nn4n's own forward pass (``eval()`` mode, float32): the installed library itself.

    Parameters
    ----------
    source, trust : as in :func:`from_nn4n`
        The file (or model) and whether to unpickle it.
    inputs : float array (T, B, n_in)
        Time-major inputs.

    Returns
    -------
    outputs : float64 array (T, B, n_out)
    rates : float64 array (T, B, N)
        ``f(v)`` after each step (what nn4n returns as hidden states).

    Raises
    ------
    ImportError
        If nn4n is not installed (``pip install nn4n``).
    """
    import torch
    from nn4n.model import CTRNN

    state, kwargs, _ = _checkpoint(source, trust)
    with torch.random.fork_rng():  # nn4n draws initial weights: keep the caller's stream
        model = CTRNN(**{**kwargs, "suppress_warnings": True})
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        out, (rates,) = model(torch.as_tensor(np.asarray(inputs), dtype=torch.float32))
    return out.double().numpy(), rates.double().numpy()
