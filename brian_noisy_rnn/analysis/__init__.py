"""Why noise preference happens, measured in your own network.

Near an activation's nonlinearity ``E[f(a + sigma xi)] != f(a)``: noise inside f shifts
the network's fixed points (the means of its stationary distributions), training absorbs
the shift, and removing the noise then biases the output. This package makes that visible
and offers a remedy:

- :func:`noisy_activation` -- ``E[f(a + sigma xi)]`` (and its derivative) for any activation.
- :func:`fixed_points` -- deterministic (or mean-field) fixed points for a constant input,
  with Jacobian eigenvalues and stability.
- :func:`stationary_stats` -- mean/covariance of the stationary distribution by simulation
  (numpy, torch or Brian2); :func:`mean_field_fixed_point` -- its prediction and the
  noise-induced state/output shift (:class:`MeanFieldShift`).
- :func:`operating_point_stats` -- how close the pre-activations sit to the nonlinearity.
- :func:`compensate` -- a noise-free network reproducing the noisy mean behaviour (f
  replaced by the registered noise-averaged activation ``"relu~0.5"``, which runs on every
  backend); :func:`ensure_activation` creates such activations from their names.
- :func:`single_neuron_shift` -- the one-unit shift, analytic against simulated, with a plot.
- :mod:`.spike_statistics` -- Fano factors, ISI CVs, population counts (T, B, N, M) and the
  free membrane-potential std of a spiking realization; :func:`calibrate_membrane_noise`
  maps membrane-noise sigma to those numbers and back.

Submodules are imported on first use. The noise averages themselves live in
:mod:`brian_noisy_rnn.core.noise_averages` (the backends need them); they are re-exported here.
"""

from .._lazy import lazy_attributes

_LAZY = {
    "noisy_activation": "..core.noise_averages",
    "noise_variance": "..core.noise_averages",
    "noise_averaged_activation": "..core.noise_averages",
    "ensure_activation": "..core.noise_averages",
    "parse_averaged_name": "..core.noise_averages",
    "averaged_name": "..core.noise_averages",
    "NoiseAveragedActivation": "..core.noise_averages",
    "FixedPoint": ".fixed_point_solver",
    "fixed_points": ".fixed_point_solver",
    "reached_fixed_point": ".fixed_point_solver",
    "StationaryStats": ".stationary",
    "stationary_stats": ".stationary",
    "MeanFieldShift": ".stationary",
    "mean_field_fixed_point": ".stationary",
    "mean_field_shifts": ".stationary",
    "lna_covariance": ".stationary",
    "OperatingPointStats": ".operating_point",
    "operating_point_stats": ".operating_point",
    "preactivations": ".operating_point",
    "compensate": ".compensation",
    "SingleNeuronShift": ".single_neuron",
    "single_neuron_shift": ".single_neuron",
    "single_neuron_spec": ".single_neuron",
    "fano_factor": ".spike_statistics",
    "isi_cv": ".spike_statistics",
    "population_counts": ".spike_statistics",
    "free_membrane_std": ".spike_statistics",
    "MembraneNoiseCalibration": ".membrane_calibration",
    "calibrate_membrane_noise": ".membrane_calibration",
    "NetworkShiftReport": ".report",
    "network_shift_report": ".report",
    "NoiseDependence": ".loss_split",
    "noise_dependence": ".loss_split",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
