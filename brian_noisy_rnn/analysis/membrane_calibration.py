"""Membrane noise sigma in the units biologists use: ISI CV, Fano factor, membrane std in mV.

The spiking realization's membrane noise (``SpikingRealization(..., membrane_sigma=s)``,
``noise_preference(..., backend="brian2-spiking", noise_as="membrane")``) has its size in
the units of the network's drive ``a``. :func:`calibrate_membrane_noise` measures, by
simulation of isolated units at a chosen activity, what each sigma produces:

- the ISI coefficient of variation of single neurons (:func:`~.spike_statistics.isi_cv`);
- the Fano factor of single-neuron spike counts in windows of ``fano_window`` (and of the
  population count of each unit, :func:`~.spike_statistics.fano_factor`);
- for LIF neurons, the standard deviation of the free membrane potential in mV
  (:func:`~.spike_statistics.free_membrane_std`, reset-to-threshold = ``v_scale_mv``);
- the mean firing rate (noise inside f raises it where f is convex, e.g. relu near 0).

The returned :class:`MembraneNoiseCalibration` inverts the measured curves: ``sigma_for(cv=1)``
or ``sigmas_for(membrane_std_mv=[2, 4, 6])`` give the sigmas to sweep for "cortical" noise,
by linear interpolation between the measured points of a monotone curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backends.random_state import keeps_random_state
from ..core.validation import as_dimensionless, check_choice, check_int
from .spike_statistics import fano_factor, free_membrane_std, isi_cv

__all__ = ["CALIBRATED_QUANTITIES", "MembraneNoiseCalibration", "calibrate_membrane_noise"]

#: the quantities a calibration can be inverted on
CALIBRATED_QUANTITIES = ("cv", "fano", "population_fano", "membrane_std_mv", "rate_hz")


@dataclass(frozen=True, eq=False)
class MembraneNoiseCalibration:
    """Measured spike statistics per membrane-noise sigma (from :func:`calibrate_membrane_noise`).

    Attributes
    ----------
    sigmas : float64 array (S,)
        Membrane noise sigmas (units of the drive ``a``), increasing.
    cv : float64 array (S,)
        Mean ISI CV of single neurons.
    fano : float64 array (S,)
        Mean Fano factor of single-neuron counts in windows of ``fano_window_ms``.
    population_fano : float64 array (S,)
        Mean Fano factor of each unit's population count (its M neurons together).
    membrane_std_mv : float64 array (S,)
        Standard deviation of the free membrane potential in mV (LIF; NaN for Poisson).
    rate_hz : float64 array (S,)
        Mean firing rate per neuron in Hz.
    neuron_model : str
        "poisson" or "lif".
    settings : dict
        The simulation settings (activity, dt_ms, tau_ms, rate_max_hz, neurons_per_unit,
        n_units, n_steps, fano_window_ms, tau_m_ms, v_scale_mv, seed).
    """

    sigmas: np.ndarray
    cv: np.ndarray
    fano: np.ndarray
    population_fano: np.ndarray
    membrane_std_mv: np.ndarray
    rate_hz: np.ndarray
    neuron_model: str
    settings: dict

    def sigma_for(self, **target):
        """The sigma at which one measured quantity takes a value (linear interpolation).

        Parameters
        ----------
        **target : one keyword
            One of :data:`CALIBRATED_QUANTITIES` with its value, e.g. ``cv=1.0`` or
            ``membrane_std_mv=4``.

        Returns
        -------
        float
            The membrane sigma.

        Raises
        ------
        ValueError
            If the keyword is not one quantity, the measured curve is not strictly monotone
            in sigma (then it does not determine sigma), or the value lies outside the
            measured range (calibrate over a wider range of sigmas).
        """
        return float(self.sigmas_for(**target)[0])

    def sigmas_for(self, **target):
        """The sigmas at which one measured quantity takes several values.

        Parameters
        ----------
        **target : one keyword
            One of :data:`CALIBRATED_QUANTITIES` with a value or a sequence of values, e.g.
            ``cv=[0.5, 0.8, 1.0]``: a sweep expressed in that quantity, to pass to
            ``noise_preference(..., noise_as="membrane")``.

        Returns
        -------
        float64 array (K,)
            One sigma per value.
        """
        if len(target) != 1 or next(iter(target)) not in CALIBRATED_QUANTITIES:
            raise ValueError(f"give exactly one of {list(CALIBRATED_QUANTITIES)} as a keyword, "
                             f"got {sorted(target)}")
        name, values = next(iter(target.items()))
        values = np.atleast_1d(np.asarray(values, dtype=np.float64))
        curve = np.asarray(getattr(self, name), dtype=np.float64)
        if not np.all(np.isfinite(curve)):
            raise ValueError(f"{name} was not measured at every sigma ({curve.tolist()}); "
                             f"it is defined for LIF neurons only" if name == "membrane_std_mv"
                             else f"{name} is NaN at some sigma: {curve.tolist()}")
        step = np.diff(curve)
        if not (np.all(step > 0) or np.all(step < 0)):
            raise ValueError(f"{name} is not strictly monotone in sigma over the calibration "
                             f"({np.round(curve, 4).tolist()} at sigmas {self.sigmas.tolist()}): "
                             "it does not determine sigma; use more trials or other sigmas")
        low, high = float(curve.min()), float(curve.max())
        outside = values[(values < low) | (values > high)]
        if outside.size:
            raise ValueError(f"{name} = {outside.tolist()} is outside the calibrated range "
                             f"[{low:.4g}, {high:.4g}]; calibrate over other sigmas")
        order = np.argsort(curve)
        return np.interp(values, curve[order], self.sigmas[order])

    def rows(self):
        """One dict per sigma: ``sigma`` and every measured quantity (NaN as None).

        Returns
        -------
        list of dict
        """
        out = []
        for k, s in enumerate(self.sigmas):
            row = {"sigma": float(s)}
            for name in CALIBRATED_QUANTITIES:
                v = float(getattr(self, name)[k])
                row[name] = v if math.isfinite(v) else None
            out.append(row)
        return out


def _isolated_units(n_units, activity, dt, tau):
    from ..core.spec import CTRNNSpec

    n = n_units
    return CTRNNSpec(np.zeros((n, 1)), np.zeros((n, n)), np.full(n, activity),
                     np.zeros((1, n)), np.zeros(1), tau=tau, dt=dt, activation="relu",
                     h0=np.full(n, activity))


@keeps_random_state
def calibrate_membrane_noise(sigmas, *, neuron_model="lif", activity=0.5, dt=None, tau=None,
                             rate_max=None, neurons_per_unit=20, n_units=10, n_steps=300,
                             burn_in=20, fano_window=None, tau_m=None, v_scale_mv=20.0,
                             membrane_process="white", seed=0, target="numpy"):
    """Measure ISI CV, Fano factors, membrane std (mV) and rate per membrane-noise sigma.

    Simulates ``n_units`` isolated units (no recurrence, relu, drive ``a = activity``) as a
    :class:`~brian_noisy_rnn.SpikingRealization` with ``neurons_per_unit`` neurons each, at
    every sigma with the same seed.

    Parameters
    ----------
    sigmas : sequence of float
        Membrane noise sigmas >= 0 (dimensionless, units of the drive), at least 2.
    neuron_model : {"lif", "poisson"}
        The realization's neurons.
    activity : float
        > 0, f(a) without noise (the rate is ``rate_max * activity`` at sigma 0).
    dt, tau : Brian2 times or None
        The rate network's step and time constant (None: 10 ms and 100 ms). White membrane
        noise is redrawn every ``dt``, so the statistics depend on ``dt`` (as noise inside f
        does in the rate network).
    rate_max : Brian2 frequency or None
        Rate at f(a) = 1 (None: 50 Hz).
    neurons_per_unit : int
        M >= 1.
    n_units : int
        Independent units simulated (their statistics are averaged).
    n_steps : int
        Network steps simulated per sigma.
    burn_in : int
        Steps left out of every statistic (>= 0).
    fano_window : Brian2 time or None
        Counting window of the Fano factors, a multiple of ``dt`` (None: 100 ms).
    tau_m : Brian2 time or None
        LIF membrane time constant (None: 10 ms).
    v_scale_mv : float
        Millivolts from reset to threshold of the (dimensionless) LIF neurons.
    membrane_process : {"white", "ou"}
        As :class:`~brian_noisy_rnn.SpikingRealization`.
    seed : int
        Brian2 seed of every run.
    target : {"numpy", "cython"}
        Brian2 code-generation target.

    Returns
    -------
    MembraneNoiseCalibration

    Notes
    -----
    numpy's and Brian2's random state are left as found. Run time grows with
    ``len(sigmas) * n_steps * substeps * n_units * neurons_per_unit``; the defaults take a
    few seconds per sigma on the numpy target.
    """
    import brian2
    from brian2 import Hz, ms, second

    from ..backends.brian2.base import codegen_target, is_standalone_device
    from ..backends.spiking import SpikingRealization

    sig = as_dimensionless(sigmas, "sigmas")
    if sig.ndim != 1 or sig.size < 2 or not np.all(np.isfinite(sig)) or np.any(sig < 0) \
            or np.any(np.diff(sig) <= 0):
        raise ValueError(f"sigmas must be at least 2 increasing finite values >= 0, got {sigmas!r}")
    check_choice(neuron_model, "neuron_model", ("lif", "poisson"))
    activity = float(as_dimensionless(activity, "activity"))
    if not (math.isfinite(activity) and activity > 0):
        raise ValueError(f"activity must be a finite number > 0, got {activity!r}")
    dt = 10 * ms if dt is None else dt
    tau = 100 * ms if tau is None else tau
    rate_max = 50 * Hz if rate_max is None else rate_max
    tau_m = 10 * ms if tau_m is None else tau_m
    fano_window = 100 * ms if fano_window is None else fano_window
    window = int(round(float(fano_window / dt)))
    if window < 1 or abs(window * float(dt / second) - float(fano_window / second)) > 1e-9:
        raise ValueError(f"fano_window must be a positive multiple of dt ({dt}), got {fano_window}")
    check_int(neurons_per_unit, "neurons_per_unit")
    n_units = check_int(n_units, "n_units")
    n_steps = check_int(n_steps, "n_steps", 2)
    burn_in = check_int(burn_in, "burn_in", 0)
    if (n_steps - burn_in) // window < 2:
        raise ValueError(f"n_steps - burn_in ({n_steps - burn_in}) must hold at least 2 Fano "
                         f"windows of {window} steps")
    if not (isinstance(v_scale_mv, (int, float)) and v_scale_mv > 0):
        raise ValueError(f"v_scale_mv must be a number > 0, got {v_scale_mv!r}")
    if is_standalone_device():
        raise RuntimeError("calibrate_membrane_noise needs Brian2's runtime device")
    spec = _isolated_units(n_units, activity, dt, tau)
    dt_s, t0 = spec.dt_seconds, burn_in * spec.dt_seconds
    lif = neuron_model == "lif"
    rows = []
    with codegen_target(target):
        for s in sig:
            brian2.seed(seed)
            kw = dict(membrane_sigma=float(s), membrane_process=membrane_process,
                      neuron_model=neuron_model, name="calibration*")
            if lif:
                kw.update(tau_m=tau_m)
            obj = SpikingRealization(spec, neurons_per_unit, rate_max, **kw)
            obj.set_inputs(np.zeros((1, 1, 1)))
            spikes = brian2.SpikeMonitor(obj.neurons, name="calibration_spikes*")
            objects = [obj, spikes]
            if lif:
                current = brian2.StateMonitor(obj.neurons, "I_drive", record=True,
                                              name="calibration_current*")
                objects.append(current)
            brian2.Network(*objects).run(n_steps * spec.dt, namespace={})
            counts = obj.trial_view(spikes)[burn_in:, 0]  # (T', N, M)
            cv = isi_cv(spikes, start=t0 * second)
            rows.append((
                float(np.nanmean(cv)),
                float(np.nanmean(fano_factor(counts, window))),
                float(np.nanmean(fano_factor(counts.sum(axis=2), window))),
                free_membrane_std(np.asarray(current.I_drive[:]).T, dt_s / obj.substeps,
                                  float(tau_m / second), v_scale_mv,
                                  burn_in=burn_in * obj.substeps) if lif else math.nan,
                float(counts.mean() / dt_s),
            ))
    cols = np.array(rows, dtype=np.float64).T
    settings = {"activity": activity, "dt_ms": dt_s * 1e3, "tau_ms": spec.tau_seconds * 1e3,
                "rate_max_hz": float(rate_max / Hz), "neurons_per_unit": int(neurons_per_unit),
                "n_units": n_units, "n_steps": n_steps, "burn_in": burn_in,
                "fano_window_ms": window * dt_s * 1e3, "tau_m_ms": float(tau_m / ms),
                "v_scale_mv": float(v_scale_mv), "membrane_process": membrane_process,
                "seed": int(seed)}
    return MembraneNoiseCalibration(sig.astype(np.float64), *cols, neuron_model=neuron_model,
                                    settings=settings)
