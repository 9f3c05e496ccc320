"""Compensation: a deterministic network that behaves like the noisy network's mean.

A network trained with noise inside f has learned weights for the *noise-averaged*
activation ``g_s(a) = E[f(a + s xi)]``; run without noise it uses f and its resting
states move (the noise-induced shift, :mod:`.stationary`). :func:`compensate` returns a
:class:`CTRNNSpec` that, run without noise on any backend, reproduces the noisy mean
behaviour:

- ``method="activation"`` (default): f is replaced by the registered noise-averaged
  activation ``"<f>~<s>"`` (:mod:`.noise_averages`). Its mean-field dynamics equal the
  noisy network's to first order (exactly for isolated units); what remains is the
  second-order effect of the state's own fluctuations (``closure_correction``).
- ``method="output_bias"``: keep f, shift ``b_out`` by the mean over the given constant
  inputs of the predicted output shift ``w_out (h_mf - h_det)``. Cheaper and works with
  per-neuron sigma, but only removes the input-averaged bias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.noise import Noise, per_step_sigma
from ..core.spec import check_spec
from ..core.validation import check_choice
from ._common import check_input_set, check_sigma
from ..core.noise_averages import NoiseAveragedActivation, noise_averaged_activation

if TYPE_CHECKING:
    from ..core.spec import CTRNNSpec

METHODS = ("activation", "output_bias")


def compensate(spec: CTRNNSpec, sigma: float | np.ndarray | None = None, *,
               method: str = "activation", inputs: np.ndarray | None = None) -> CTRNNSpec:
    """A noise-free network reproducing the mean behaviour of ``spec`` at noise ``sigma``.

    Parameters
    ----------
    spec : CTRNNSpec
        The (trained) network; its ``noise`` gives the placement.
    sigma : float > 0, float array (N,) or None
        The noise level to reproduce, dimensionless (default: ``spec.noise``'s sigma, the
        training noise). ``method="activation"`` needs one value for all units.
    method : {"activation", "output_bias"}
        Replace f by its noise average, or shift ``b_out`` (see the module docstring).
    inputs : float array (K, n_in) or None
        Constant inputs to average the output shift over (``method="output_bias"`` only;
        e.g. the task's input values).

    Returns
    -------
    CTRNNSpec
        The compensated spec, with ``noise=Noise("none")`` and ``metadata["compensation"]``
        holding ``method``, ``sigma``, ``placement`` and ``original_hash``. Only noise
        inside f (placement "pre", white or OU) changes the mean field; for other
        placements the mean field of f is f, and the returned spec is ``spec`` without
        noise (recorded in the metadata).
    """
    check_spec(spec)
    check_choice(method, "method", METHODS)
    if isinstance(spec.noise, Noise) and spec.noise.placement == "none" and sigma is None:
        raise ValueError("sigma must be given: spec has no noise of its own")
    placement = spec.noise.placement if spec.noise.placement != "none" else "pre"
    if sigma is not None:
        sig = check_sigma(spec, sigma)
    elif spec.noise.placement == "pre":  # the per-step std inside f, in the noise's scale
        sig = np.asarray(per_step_sigma(spec.noise.sigma_array, spec.noise.scale, spec.gamma))
    else:
        sig = spec.noise.sigma_array
    meta = dict(spec.metadata)
    record = {"method": method, "placement": placement, "original_hash": spec.content_hash(),
              "sigma": sig.tolist()}
    quiet = Noise("none")
    if placement != "pre" or not np.any(sig > 0):
        record["note"] = "mean field of f is f for this placement: weights unchanged"
        meta["compensation"] = record
        return spec.replace(noise=quiet, metadata=meta)
    if method == "activation":
        if isinstance(_activation(spec), NoiseAveragedActivation):
            raise ValueError(f"spec already uses the noise-averaged activation {spec.activation!r}")
        if sig.ndim == 1 and not np.all(sig == sig[0]):
            raise ValueError("method='activation' needs one sigma for all units (a scalar); "
                             "use method='output_bias' for per-neuron sigma")
        s = float(sig if sig.ndim == 0 else sig[0])
        act = noise_averaged_activation(spec.activation, s)
        meta["compensation"] = record
        return spec.replace(activation=act.name, noise=quiet, metadata=meta)
    # output bias
    from .stationary import mean_field_fixed_point

    if inputs is None:
        raise ValueError("inputs (K, n_in) are required for method='output_bias'")
    inputs = check_input_set(spec, inputs)
    noise = Noise("pre", sig)
    shifts = [mean_field_fixed_point(spec, u, noise).output_shift for u in inputs]
    delta = np.mean(shifts, axis=0)
    record["output_bias_shift"] = delta.tolist()
    meta["compensation"] = record
    return spec.replace(b_out=spec.b_out + delta, noise=quiet, metadata=meta)


def _activation(spec):
    from ..core.activations import get_activation

    return get_activation(spec.activation)
