"""Importers for PyTorch state dicts: ``torch.nn.RNN`` and NeuroGym's CTRNN examples.

``torch.nn.RNN`` (one layer, one direction) is the discrete-time RNN
``h' = f(W_ih u + b_ih + W_hh h + b_hh)``: this package's h-form step with ``gamma = 1``
(``tau = dt``). NeuroGym's CTRNN (``ngym_usage``; Molano-Mazon et al. 2022, "NeuroGym: An
open resource for developing and sharing neuroscience tasks", the ``CTRNN`` of its
supervised-learning examples) is

    pre = input2h(u) + h2h(h) [+ sqrt(2 / alpha) sigma_rec xi]
    h   = (1 - alpha) h + alpha relu(pre)          alpha = dt / tau, tau = 100 (ms) in the class
    out = fc(h)

with the state dict keys ``rnn.input2h.*``, ``rnn.h2h.*`` and ``fc.*``: the h-form step with
noise inside f, scale ``"sqrt(2/alpha)"``. (An older ``yang19/models.py`` of ngym_usage
writes ``h = relu((1 - alpha) h + alpha pre)``, f outside the filter: neither form, and a
state dict does not say which class wrote it; this importer reads the examples' class.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from ..core.noise import Noise
from ..core.spec import CTRNNSpec
from ..core.units import from_seconds, to_seconds
from ..core.validation import check_choice
from .files import array_from, import_record, load_torch_file, required

__all__ = ["from_ngym_usage", "from_torch_rnn", "run_ngym_usage", "run_torch_rnn"]

NONLINEARITIES = ("tanh", "relu")


def _state_dict(source, trust, what):
    """(state dict, path or None) of a file path, an ``nn.Module`` or a mapping."""
    if isinstance(source, Mapping):
        return source, None
    if hasattr(source, "state_dict") and callable(source.state_dict):
        return source.state_dict(), None
    state = load_torch_file(source, trust=trust)
    source = os.fspath(source)
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"path: {source!r} holds a {type(state).__name__}, not the state dict "
                         f"of {what}")
    return state, source


def _torch_rnn_arrays(source, nonlinearity, prefix, readout_prefix, trust):
    """The arrays of a torch.nn.RNN state dict, checked, and what was read."""
    module_nl = getattr(source, "nonlinearity", None) if hasattr(source, "state_dict") else None
    if hasattr(source, "state_dict") and getattr(source, "num_layers", 1) != 1:
        raise ValueError(f"source: an nn.RNN with num_layers={source.num_layers}; only one layer "
                         "is a CTRNN")
    state, path = _state_dict(source, trust, "a torch.nn.RNN")
    where = f"torch.nn.RNN state dict{'' if path is None else f' in {path!r}'}"
    for bad, why in ((f"{prefix}weight_ih_l1", "num_layers > 1"),
                     (f"{prefix}weight_ih_l0_reverse", "bidirectional=True"),
                     (f"{prefix}weight_hr_l0", "proj_size > 0")):
        if bad in state:
            raise ValueError(f"{where} holds {bad!r} ({why}): only a one-layer, one-direction "
                             "RNN without projection is a CTRNN")
    nl = nonlinearity if nonlinearity is not None else module_nl
    nl = required(nl, "nonlinearity", "torch.nn.RNN state dict",
                  "nn.RNN(nonlinearity=...) is a constructor argument: 'tanh' or 'relu'")
    check_choice(nl, "nonlinearity", NONLINEARITIES)
    w_hh = array_from(state, f"{prefix}weight_hh_l0", (None, None), where)
    n = w_hh.shape[0]
    array_from(state, f"{prefix}weight_hh_l0", (n, n), where)
    w_ih = array_from(state, f"{prefix}weight_ih_l0", (n, None), where)
    has_bias = [f"{prefix}bias_{k}_l0" in state for k in ("ih", "hh")]
    if any(has_bias) and not all(has_bias):
        missing = f"{prefix}bias_{'ih' if not has_bias[0] else 'hh'}_l0"
        raise ValueError(f"{where} lacks the key {missing!r} (it has the other bias)")
    b_ih = array_from(state, f"{prefix}bias_ih_l0", (n,), where) if all(has_bias) else np.zeros(n)
    b_hh = array_from(state, f"{prefix}bias_hh_l0", (n,), where) if all(has_bias) else np.zeros(n)
    if readout_prefix is None:
        w_out, b_out = np.eye(n), np.zeros(n)
    else:
        w_out = array_from(state, f"{readout_prefix}weight", (None, n), where)
        b_key = f"{readout_prefix}bias"
        b_out = array_from(state, b_key, (w_out.shape[0],), where) if b_key in state \
            else np.zeros(w_out.shape[0])
    return dict(w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, w_out=w_out, b_out=b_out,
                nonlinearity=nl, bias=all(has_bias), path=path)


def from_torch_rnn(source, *, dt, nonlinearity=None, prefix="", readout_prefix=None,
                   trust=False) -> CTRNNSpec:
    """A one-layer ``torch.nn.RNN`` (and an optional linear readout) as a :class:`CTRNNSpec`.

    Parameters
    ----------
    source : str, os.PathLike, torch.nn.Module or mapping
        A ``torch.save`` file of a state dict, a module whose ``state_dict()`` holds the RNN
        (an ``nn.RNN`` itself, or a model with the RNN under ``prefix``), or a state dict.
    dt : Brian2 time
        The duration of one step in Brian2 (required: the RNN has no time). ``tau = dt``
        (``gamma = 1``): ``h' = f(a)`` exactly.
    nonlinearity : {"tanh", "relu"} or None
        Required for a file or state dict (a constructor argument, not saved); read from an
        ``nn.RNN`` module.
    prefix : str
        Key prefix of the RNN's weights (e.g. ``"rnn."``).
    readout_prefix : str or None
        Key prefix of an ``nn.Linear`` readout (e.g. ``"fc."``); None: the outputs are the
        hidden state itself (``w_out = I``), as ``nn.RNN`` returns it.
    trust : bool
        Unpickle arbitrary objects from the file (see :func:`~brian_noisy_rnn.io.files.load_torch_file`).

    Returns
    -------
    CTRNNSpec
        h-form, no noise, ``h0 = 0`` (``nn.RNN``'s default); ``b = b_ih + b_hh``;
        ``metadata["imported"]`` records the source, its conventions and ``dt``.
    """
    dt_s = to_seconds(required(dt, "dt", "torch.nn.RNN", "the RNN has no time step: give "
                               "the duration of one step, e.g. dt=10*ms"), "dt")
    a = _torch_rnn_arrays(source, nonlinearity, prefix, readout_prefix, trust)
    meta = import_record(
        "torch_rnn", a["path"],
        conventions={"form": "h", "update": "h' = f(W_ih u + b_ih + W_hh h + b_hh) (alpha = 1: "
                     "tau = dt)", "noise": "none",
                     "readout": "identity (outputs = h)" if readout_prefix is None
                     else f"{readout_prefix}weight h + {readout_prefix}bias",
                     "layout": "weight_ih_l0 (N, n_in), weight_hh_l0 (N, N): w_in, w_rec as they are"},
        given={"dt_s": dt_s, "nonlinearity": a["nonlinearity"]},
        from_file={"bias": a["bias"], "n_hidden": int(a["w_hh"].shape[0])},
        notes=["h0 = 0 (nn.RNN's default when no initial state is passed)"])
    return CTRNNSpec(a["w_ih"], a["w_hh"], a["b_ih"] + a["b_hh"], a["w_out"], a["b_out"],
                     tau=from_seconds(dt_s), dt=from_seconds(dt_s), activation=a["nonlinearity"],
                     metadata=meta)


def run_torch_rnn(source, inputs, *, nonlinearity=None, prefix="", readout_prefix=None,
                  trust=False):
    """The source's own forward pass: a float64 ``torch.nn.RNN`` holding the file's weights.

    Parameters
    ----------
    source, nonlinearity, prefix, readout_prefix, trust : as in :func:`from_torch_rnn`
        The state dict and how to read it.
    inputs : float array (T, B, n_in)
        Time-major inputs (``nn.RNN``'s default layout).

    Returns
    -------
    outputs : float64 array (T, B, n_out)
    states : float64 array (T, B, N)
        ``nn.RNN``'s output (the hidden state after each step).
    """
    import torch

    a = _torch_rnn_arrays(source, nonlinearity, prefix, readout_prefix, trust)
    n, n_in = a["w_ih"].shape
    rnn = torch.nn.RNN(n_in, n, nonlinearity=a["nonlinearity"], bias=a["bias"],
                       dtype=torch.float64)
    params = {"weight_ih_l0": a["w_ih"], "weight_hh_l0": a["w_hh"]}
    if a["bias"]:
        params.update(bias_ih_l0=a["b_ih"], bias_hh_l0=a["b_hh"])
    rnn.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    with torch.no_grad():
        states, _ = rnn(torch.as_tensor(np.asarray(inputs, dtype=np.float64)))
    states = states.numpy()
    return states @ a["w_out"].T + a["b_out"], states


def _ngym_arrays(source, prefix, readout_prefix, trust):
    state, path = _state_dict(source, trust, "NeuroGym's CTRNN (RNNNet)")
    where = f"NeuroGym CTRNN state dict{'' if path is None else f' in {path!r}'}"
    w_hh = array_from(state, f"{prefix}h2h.weight", (None, None), where)
    n = w_hh.shape[0]
    return dict(
        w_in=array_from(state, f"{prefix}input2h.weight", (n, None), where),
        b_in=array_from(state, f"{prefix}input2h.bias", (n,), where),
        w_hh=array_from(state, f"{prefix}h2h.weight", (n, n), where),
        b_hh=array_from(state, f"{prefix}h2h.bias", (n,), where),
        w_out=array_from(state, f"{readout_prefix}weight", (None, n), where),
        b_out=array_from(state, f"{readout_prefix}bias", (None,), where), path=path)


def from_ngym_usage(source, *, dt, sigma, tau=None, prefix="rnn.", readout_prefix="fc.",
                    trust=False) -> CTRNNSpec:
    """NeuroGym's example CTRNN (``RNNNet``: ``rnn.input2h``, ``rnn.h2h``, ``fc``) as a spec.

    Parameters
    ----------
    source : str, os.PathLike, torch.nn.Module or mapping
        A ``torch.save`` file of the model's state dict, the model, or its state dict.
    dt : Brian2 time
        The ``dt`` the CTRNN was built with (required: a constructor argument, not saved).
    sigma : float
        Its ``sigma_rec`` (required, not saved; 0 for the noise-free class).
    tau : Brian2 time or None
        None: the class's ``self.tau = 100`` (ms).
    prefix, readout_prefix : str
        Key prefixes of the CTRNN and the readout.
    trust : bool
        Unpickle arbitrary objects from the file.

    Returns
    -------
    CTRNNSpec
        h-form, relu, ``Noise("pre", sigma, scale="sqrt(2/alpha)")``, ``b`` the sum of the
        two biases, ``h0 = 0``.
    """
    dt_s = to_seconds(required(dt, "dt", "NeuroGym CTRNN", "the CTRNN(dt=...) it was built "
                               "with, e.g. dt=20*ms"), "dt")
    sigma = required(sigma, "sigma", "NeuroGym CTRNN", "its sigma_rec; 0 without noise")
    tau_s = 0.1 if tau is None else to_seconds(tau, "tau")
    a = _ngym_arrays(source, prefix, readout_prefix, trust)
    given = {"dt_s": dt_s, "sigma": float(sigma)}
    if tau is not None:
        given["tau_s"] = tau_s
    meta = import_record(
        "ngym_usage", a["path"],
        conventions={"form": "h", "update": "h = (1 - alpha) h + alpha relu(input2h(u) + h2h(h) "
                     "+ noise)", "noise": "inside f, sqrt(2/alpha) sigma_rec per step",
                     "readout": "fc(h)", "tau": "100 ms in the class" if tau is None else "given"},
        given=given, from_file={"n_hidden": int(a["w_hh"].shape[0])},
        notes=["h0 = 0 (the class's init_hidden)"])
    return CTRNNSpec(a["w_in"], a["w_hh"], a["b_in"] + a["b_hh"], a["w_out"], a["b_out"],
                     tau=from_seconds(tau_s), dt=from_seconds(dt_s), activation="relu",
                     noise=Noise("pre", sigma, scale="sqrt(2/alpha)"), metadata=meta)


def run_ngym_usage(source, inputs, *, dt, sigma, tau=None, prefix="rnn.", readout_prefix="fc.",
                   trust=False, xi=None):
    """NeuroGym's CTRNN forward pass, transcribed line for line (numpy, float64).

    Transcribes ``CTRNN.recurrence`` and ``RNNNet.forward`` of the examples (see the module
    docstring): ``pre = input2h(u) + h2h(h)``, plus ``sqrt(2/alpha) sigma xi`` with noise;
    ``h = (1 - alpha) h + alpha relu(pre)``; ``out = fc(h)``.

    Parameters
    ----------
    source, dt, sigma, tau, prefix, readout_prefix, trust : as in :func:`from_ngym_usage`
        The state dict and the values it does not hold.
    inputs : float array (T, B, n_in)
        Time-major inputs.
    xi : float array (T, B, N) or None
        The standard normal draws of the noise (None: no noise).

    Returns
    -------
    outputs : float64 array (T, B, n_out)
    states : float64 array (T, B, N)
    """
    a = _ngym_arrays(source, prefix, readout_prefix, trust)
    alpha = to_seconds(dt, "dt") / (0.1 if tau is None else to_seconds(tau, "tau"))
    inputs = np.asarray(inputs, dtype=np.float64)
    hidden = np.zeros((inputs.shape[1], a["w_hh"].shape[0]))
    states = []
    for i in range(inputs.shape[0]):
        pre_activation = inputs[i] @ a["w_in"].T + a["b_in"] + hidden @ a["w_hh"].T + a["b_hh"]
        if xi is not None:
            pre_activation = pre_activation + np.sqrt(2 / alpha) * sigma * xi[i]
        h_new = np.maximum(pre_activation, 0.0)
        hidden = hidden * (1 - alpha) + h_new * alpha
        states.append(hidden)
    states = np.stack(states)
    return states @ a["w_out"].T + a["b_out"], states

