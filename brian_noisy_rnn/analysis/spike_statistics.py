"""The spike statistics experimentalists report: Fano factors, ISI CVs, population counts.

A :class:`~brian_noisy_rnn.SpikingRealization` replaces each rate unit by a population of
spiking neurons; these functions measure its variability in the terms of the literature,
so a noise level can be compared with recordings (cortical neurons: ISI CV about 1 and Fano
factors about 1, e.g. Softky & Koch 1993, Shadlen & Newsome 1998):

- :func:`population_counts` -- spike counts per network step as (T, B, N, M) (also
  ``realization.trial_view(spike_monitor)``);
- :func:`fano_factor` -- variance over mean of each neuron's spike count in windows;
- :func:`isi_cv` -- coefficient of variation of each neuron's inter-spike intervals;
- :func:`free_membrane_std` -- the standard deviation of a LIF neuron's free (subthreshold,
  no reset) membrane potential given its input current, in mV on a chosen scale.

How the model's sigma maps onto these numbers: :mod:`.membrane_calibration`.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.validation import check_int

__all__ = ["fano_factor", "free_membrane_std", "isi_cv", "population_counts"]


def population_counts(realization, monitor):
    """Spike counts per network step of a realization's neurons, as (T, B, N, M).

    Parameters
    ----------
    realization : SpikingRealization
        The network (after running whole network steps).
    monitor : brian2.SpikeMonitor
        Records ``realization.neurons`` (all neurons).

    Returns
    -------
    float64 array (T, B, N, M)
        ``[t, b, i, m]``: spikes of neuron m of unit i's population in trial b during network
        step t (``[t dt, (t+1) dt)``). Same as ``realization.trial_view(monitor)``.
    """
    if getattr(monitor, "source", None) is not getattr(realization, "neurons", None):
        raise ValueError("monitor must be a SpikeMonitor of realization.neurons")
    return realization.trial_view(monitor)


def fano_factor(counts, window=1):
    """The Fano factor (count variance / count mean) of each neuron over time windows.

    Counts of ``window`` consecutive steps are summed into non-overlapping windows (a
    remainder at the end is dropped); the variance (ddof = 1) and the mean are taken over
    the windows, separately for every neuron. Use stationary stretches (drop the transient).

    Parameters
    ----------
    counts : float array (T, ...)
        Spike counts per step, time first (e.g. :func:`population_counts`).
    window : int
        Steps per counting window, >= 1 (e.g. 5 steps of 20 ms: 100 ms windows).

    Returns
    -------
    float64 array (...)
        One Fano factor per neuron; NaN for neurons without spikes (mean 0). Poisson spike
        trains give 1, regular firing less, rate fluctuations more.

    Raises
    ------
    ValueError
        If fewer than 2 whole windows fit in T.
    """
    counts = np.asarray(counts, dtype=np.float64)
    window = check_int(window, "window")
    n = counts.shape[0] // window
    if counts.ndim < 1 or n < 2:
        raise ValueError(f"counts must hold at least 2 windows of {window} steps along axis 0, "
                         f"got shape {counts.shape}")
    summed = counts[: n * window].reshape(n, window, *counts.shape[1:]).sum(axis=1)
    mean = summed.mean(axis=0)
    var = summed.var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, var / np.where(mean > 0, mean, 1.0), np.nan)


def isi_cv(monitor, min_spikes=3, start=None):
    """The coefficient of variation of each neuron's inter-spike intervals.

    Parameters
    ----------
    monitor : brian2.SpikeMonitor
        Its recorded spikes.
    min_spikes : int
        Neurons with fewer spikes get NaN (>= 3: at least two intervals).
    start : Brian2 time or None
        Spikes before it are left out (e.g. the transient); None: all.

    Returns
    -------
    float64 array (n_neurons,)
        std / mean of the intervals (ddof = 0) of every neuron of the monitored group:
        1 for a Poisson process, 0 for clock-like firing.
    """
    import brian2

    if not isinstance(monitor, brian2.SpikeMonitor):
        raise TypeError(f"monitor must be a brian2.SpikeMonitor, got {monitor!r}")
    min_spikes = check_int(min_spikes, "min_spikes", 3)
    t = np.asarray(monitor.variables["t"].get_value(), dtype=np.float64)
    i = np.asarray(monitor.variables["i"].get_value(), dtype=np.int64)
    if start is not None:
        late = t >= float(start / brian2.second)
        t, i = t[late], i[late]
    out = np.full(len(monitor.source), np.nan)
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    bounds = np.flatnonzero(np.diff(i)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(i)]):
        if stop - start >= min_spikes:
            isi = np.diff(t[start:stop])
            out[i[start]] = isi.std() / isi.mean() if isi.mean() > 0 else np.nan
    return out


def free_membrane_std(current, dt, tau_m, v_scale_mv=20.0, burn_in=None):
    """The standard deviation of a free LIF membrane potential driven by ``current``, in mV.

    The free membrane potential (no threshold, no reset) obeys ``tau_m dv/dt = I - v``,
    integrated exactly for a current held over each step; its stationary fluctuation is
    the subthreshold membrane-potential fluctuation that intracellular recordings report.
    The realization's LIF neurons are dimensionless (reset 0, threshold 1): ``v_scale_mv``
    is the reset-to-threshold distance in mV that gives them a physical scale.

    Parameters
    ----------
    current : float array (T, n)
        Input current of n neurons per time step (dimensionless, threshold units), e.g. a
        StateMonitor's ``I_drive`` of a LIF realization's neurons.
    dt : float
        Step of ``current``, in seconds.
    tau_m : float
        Membrane time constant, in seconds.
    v_scale_mv : float
        Millivolts per threshold unit (default 20 mV: a reset at -70 mV, threshold -50 mV).
    burn_in : int or None
        Steps discarded (None: 5 tau_m).

    Returns
    -------
    float
        The standard deviation over time of v, averaged (as a variance) over the neurons,
        in mV.
    """
    current = np.asarray(current, dtype=np.float64)
    if current.ndim != 2:
        raise ValueError(f"current must have shape (T, n), got {current.shape}")
    if not (dt > 0 and tau_m > 0 and v_scale_mv > 0):
        raise ValueError(f"dt, tau_m and v_scale_mv must be > 0, got {dt}, {tau_m}, {v_scale_mv}")
    if burn_in is None:
        burn_in = int(math.ceil(5 * tau_m / dt))
    if burn_in >= current.shape[0] - 2:
        raise ValueError(f"current has {current.shape[0]} steps, not enough after a burn-in "
                         f"of {burn_in}")
    decay = math.exp(-dt / tau_m)
    v = np.empty_like(current)
    v_now = current[0].copy()  # start at the first step's steady state
    for k in range(current.shape[0]):
        v_now = decay * v_now + (1.0 - decay) * current[k]
        v[k] = v_now
    var = v[burn_in:].var(axis=0).mean()
    return float(math.sqrt(var) * v_scale_mv)
