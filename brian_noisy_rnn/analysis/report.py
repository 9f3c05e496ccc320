"""Per-network report: does the predicted noise-induced output shift explain the loss change?

For each trial of a task batch, the input at its first scored step is taken as the
constant input ``u`` of a fixed-point analysis, and the mean-field output shift
``delta(u) = w_out (h_mf - h_det)`` is predicted (:func:`mean_field_fixed_point`). The
network is then simulated without noise (outputs ``z_0``) and with noise, ``n_repeats``
noise draws per trial (mean output ``m``). The prediction is that removing the noise moves
the mean output by ``-delta``: ``z_0 ~= m - delta``. The report compares

- the measured shift ``mean over scored steps of (m - z_0)`` with ``delta`` per trial;
- the measured loss change ``L(z_0) - L(noisy)`` with the predicted one
  ``L(m - delta) - L(noisy)`` (task loss: mse or cross-entropy).

The fixed-point shift is the asymptotic one; a trial that is scored before it has settled
sees part of it. The *dynamic* prediction uses the mean-field trajectory instead: the
noise-free run of ``compensate(spec)`` (f replaced by its noise average) minus ``z_0``,
step by step (noise inside f with one sigma for all units; otherwise it is 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..backends.random_state import keeps_random_state
from ..core.noise import Noise
from ..core.spec import check_spec
from ..core.validation import check_int
from ._common import resolve_noise
from .fixed_point_solver import NoFixedPointError
from .stationary import mean_field_fixed_point

if TYPE_CHECKING:
    from ..core.spec import CTRNNSpec
    from ..tasks import TaskBatch


@dataclass
class NetworkShiftReport:
    """See :func:`network_shift_report`.

    Attributes
    ----------
    loss_name : str
        The task loss, "mse" or "cross_entropy".
    loss_det : float
        Task loss without noise.
    loss_noisy : float
        Task loss with ``noise``.
    loss_mean : float
        Loss of the noise-averaged mean output ``m`` (bias only, no variance).
    loss_det_predicted : float
        Loss of ``m - delta`` (the predicted noise-free output).
    delta_measured : float
        ``loss_det - loss_noisy``.
    delta_predicted : float
        ``loss_det_predicted - loss_noisy``.
    delta_predicted_dynamic : float
        The same with the mean-field trajectory's shift.
    u : float array (K, n_in)
        The constant inputs analysed.
    predicted_shift : float array (K, n_out)
        ``delta = z_mf - z_det`` at the fixed points.
    measured_shift : float array (K, n_out)
        Mean over scored steps of ``m - z_0``.
    measured_shift_sem : float array (K, n_out)
        Its standard error over the repeats.
    shift_r2 : float
        1 - SS(measured - predicted) / SS(measured - mean).
    shift_r2_dynamic : float
        R^2 of the measured per-trial shift against the trajectory's.
    closure_correction : float
        Max abs(Gaussian-closure correction) of the state (tolerance of the mean field),
        over the K inputs.
    noise : Noise
        The noise whose removal is analysed.
    n_repeats : int
        Noise draws per trial.
    """

    loss_name: str
    loss_det: float
    loss_noisy: float
    loss_mean: float
    loss_det_predicted: float
    delta_measured: float
    delta_predicted: float
    delta_predicted_dynamic: float
    u: np.ndarray = field(repr=False)
    predicted_shift: np.ndarray = field(repr=False)
    measured_shift: np.ndarray = field(repr=False)
    measured_shift_sem: np.ndarray = field(repr=False)
    shift_r2: float = float("nan")
    shift_r2_dynamic: float = float("nan")
    closure_correction: float = float("nan")
    noise: object = None
    n_repeats: int = 0

    def summary(self):
        """A few aligned text lines.

        Returns
        -------
        str
            The losses, loss changes, output shifts and mean-field tolerance.
        """
        n = self.loss_name
        return "\n".join([
            f"noise                       {self.noise!r}",
            f"{n} without noise           {self.loss_det:.5g}",
            f"{n} with noise              {self.loss_noisy:.5g}",
            f"{n} of the noisy mean       {self.loss_mean:.5g}",
            f"{n} predicted without noise {self.loss_det_predicted:.5g}",
            f"loss change measured         {self.delta_measured:+.5g}",
            f"loss change predicted        {self.delta_predicted:+.5g} (fixed points), "
            f"{self.delta_predicted_dynamic:+.5g} (mean-field trajectory)",
            f"output shift: rms predicted {np.sqrt(np.mean(self.predicted_shift ** 2)):.4g}, "
            f"rms measured {np.sqrt(np.mean(self.measured_shift ** 2)):.4g}, R^2 {self.shift_r2:.3f} "
            f"(trajectory: {self.shift_r2_dynamic:.3f})",
            f"mean-field tolerance (max |closure correction| of h): {self.closure_correction:.3g}",
        ])

    def shift_table(self, max_rows=12):
        """Text table: u, predicted and measured output shift (first output), sorted by u.

        Parameters
        ----------
        max_rows : int
            At most this many rows (evenly spaced in the sorted order).

        Returns
        -------
        str
            The table, one line per row plus a header.
        """
        order = np.argsort(self.u[:, 0], kind="stable")
        if len(order) > max_rows:
            order = order[np.linspace(0, len(order) - 1, max_rows).round().astype(int)]
        rows = [f"{'u[0]':>9} {'predicted':>10} {'measured':>10} {'+-sem':>8}"]
        for i in order:
            rows.append(f"{self.u[i, 0]:9.4f} {self.predicted_shift[i, 0]:10.4f} "
                        f"{self.measured_shift[i, 0]:10.4f} {self.measured_shift_sem[i, 0]:8.4f}")
        return "\n".join(rows)

    def plot(self, path=None):
        """Measured vs predicted output shift (and vs u[0]).

        Parameters
        ----------
        path : str or None
            Also save the figure there (png/pdf/svg by extension).

        Returns
        -------
        matplotlib.figure.Figure
            The figure.
        """
        from ..plotting import new_figure

        fig = new_figure((9, 3.6))
        ax1, ax2 = fig.subplots(1, 2)
        p, m = self.predicted_shift[:, 0], self.measured_shift[:, 0]
        ax1.errorbar(p, m, yerr=2 * self.measured_shift_sem[:, 0], fmt="o", ms=3)
        lim = [min(p.min(), m.min()), max(p.max(), m.max())]
        ax1.plot(lim, lim, "k--", lw=1)
        ax1.set_xlabel("predicted output shift (mean field)")
        ax1.set_ylabel("measured: noisy mean - noise-free output")
        ax1.set_title(f"R^2 = {self.shift_r2:.3f}")
        order = np.argsort(self.u[:, 0])
        ax2.plot(self.u[order, 0], p[order], "-", label="predicted")
        ax2.plot(self.u[order, 0], m[order], "o", ms=3, label="measured")
        ax2.set_xlabel("input u[0]")
        ax2.set_ylabel("output shift")
        ax2.legend(fontsize=8)
        if path is not None:
            from ..plotting import save_figure

            save_figure(fig, path)
        return fig

    def as_dict(self):
        """JSON-friendly scalars.

        Returns
        -------
        dict
            The scalar fields (losses, loss changes, R^2, closure correction, n_repeats).
        """
        return {k: getattr(self, k) for k in (
            "loss_name", "loss_det", "loss_noisy", "loss_mean", "loss_det_predicted",
            "delta_measured", "delta_predicted", "delta_predicted_dynamic", "shift_r2",
            "shift_r2_dynamic", "closure_correction", "n_repeats")}


def repeat_batch(batch, n_repeats):
    """The TaskBatch with every trial repeated ``n_repeats`` times (trial-major).

    Parameters
    ----------
    batch : TaskBatch
        The batch (B trials).
    n_repeats : int
        Copies of each trial.

    Returns
    -------
    TaskBatch
        The batch of B * n_repeats trials.
    """
    rep = lambda x: np.repeat(x, n_repeats, axis=1)  # noqa: E731
    return replace(batch, inputs=rep(batch.inputs), targets=rep(batch.targets),
                   mask=rep(batch.mask), decision_mask=rep(batch.decision_mask),
                   lengths=np.repeat(batch.lengths, n_repeats),
                   trials=tuple(t for t in batch.trials for _ in range(n_repeats)))


def trial_inputs(batch):
    """(B, n_in): each trial's input at its first scored (loss-mask) step.

    Parameters
    ----------
    batch : TaskBatch
        The batch (B trials, each with a scored step).

    Returns
    -------
    numpy.ndarray, shape (B, n_in)
        The inputs.
    """
    first = np.argmax(batch.mask, axis=0)
    if not np.all(batch.mask.any(axis=0)):
        raise ValueError("batch has trials without scored steps")
    return batch.inputs[first, np.arange(batch.n_trials)]


@keeps_random_state
def network_shift_report(spec: CTRNNSpec, batch: TaskBatch, *, noise: Noise | None = None,
                         n_repeats: int = 32, backend: str = "numpy", seed: int | None = 0,
                         **options) -> NetworkShiftReport:
    """Compare the predicted and measured effect of removing the noise from ``spec``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network (n_in/n_out fitting the batch).
    batch : TaskBatch
        The task batch (:class:`~brian_noisy_rnn.tasks.TaskBatch`, K trials; keep K a few
        hundred).
    noise : Noise or None
        The noise whose removal is analysed (default ``spec.noise``, the training noise;
        must be active).
    n_repeats : int >= 2
        Noise draws per trial for the noisy mean output.
    backend : str
        A :func:`brian_noisy_rnn.simulate` backend ("numpy", "torch", "brian2", ...).
    seed : int or None
        The noise seed, as for :func:`brian_noisy_rnn.simulate`.
    **options : dict
        Passed to the backend, as for :func:`brian_noisy_rnn.simulate`.

    Returns
    -------
    NetworkShiftReport
        The comparison. If the network does not settle to a fixed point for some trial's
        input (e.g. an integrator, as on PathIntegration2D-v0, whose state keeps moving under
        a constant velocity), the fixed-point predictions (``predicted_shift``,
        ``loss_det_predicted``, ``delta_predicted``, ``shift_r2``) are NaN; the mean-field
        trajectory's prediction and the measured quantities are still computed.
    """
    from ..tasks import metrics as metrics_module
    from ..backends.simulation import simulate

    check_spec(spec)
    noise = resolve_noise(spec, noise)
    if not noise.is_active:
        raise ValueError("noise must be active (sigma > 0, placement not 'none')")
    check_int(n_repeats, "n_repeats", 2)
    if batch.n_in != spec.n_in or batch.n_out != spec.n_out:
        raise ValueError(f"batch (n_in={batch.n_in}, n_out={batch.n_out}) does not fit spec "
                         f"(n_in={spec.n_in}, n_out={spec.n_out})")
    loss_name = metrics_module.loss_and_metric_names(batch.kind)[0]
    u = trial_inputs(batch)
    try:
        shifts = [mean_field_fixed_point(spec, ui, noise) for ui in u]
    except NoFixedPointError:  # e.g. an integrator (path integration): no fixed point for
        shifts = []            # a constant input; only the trajectory prediction applies
    delta = (np.array([s.output_shift for s in shifts]) if shifts
             else np.full((batch.n_trials, spec.n_out), np.nan))  # (K, n_out)
    corr = [np.max(np.abs(s.closure_correction)) for s in shifts if s.closure_correction is not None]
    K, R = batch.n_trials, int(n_repeats)
    z0 = simulate(spec, batch.inputs, backend=backend, noise=Noise("none"), **options).outputs
    big = repeat_batch(batch, R)
    zn = simulate(spec, big.inputs, backend=backend, noise=noise, seed=seed, **options).outputs
    zr = zn.reshape(zn.shape[0], K, R, -1)
    m = zr.mean(axis=2)
    mask = batch.mask
    diff = zr - z0[:, :, None, :]  # (T, K, R, n_out)
    per_rep = np.where(mask[:, :, None, None], diff, 0.0).sum(0) / mask.sum(0)[:, None, None]
    measured = per_rep.mean(axis=1)  # (K, n_out)
    sem = per_rep.std(axis=1, ddof=1) / np.sqrt(R)
    loss = lambda z, b: metrics_module.task_metrics(z, b)[loss_name]  # noqa: E731
    l0, ln, lm = loss(z0, batch), loss(zn, big), loss(m, batch)
    lp = loss(m - delta[None], batch)
    dyn = np.zeros_like(z0)  # mean-field trajectory minus noise-free trajectory
    if noise.placement == "pre" and np.all(noise.sigma_array == noise.sigma_array.flat[0]):
        from .compensation import compensate

        comp = compensate(spec.replace(noise=noise))
        dyn = simulate(comp, batch.inputs, backend=backend, **options).outputs - z0
    dyn_trial = np.where(mask[..., None], dyn, 0.0).sum(0) / mask.sum(0)[:, None]
    lpd = loss(m - dyn, batch)
    r2 = lambda pred: _r2(measured, pred)  # noqa: E731
    return NetworkShiftReport(
        loss_name=loss_name, loss_det=l0, loss_noisy=ln, loss_mean=lm, loss_det_predicted=lp,
        delta_measured=l0 - ln, delta_predicted=lp - ln, delta_predicted_dynamic=lpd - ln,
        u=u, predicted_shift=delta,
        measured_shift=measured, measured_shift_sem=sem,
        shift_r2=r2(delta), shift_r2_dynamic=r2(dyn_trial),
        closure_correction=float(max(corr)) if corr else float("nan"), noise=noise,
        n_repeats=R)


def _r2(measured, predicted):
    """1 - SS(measured - predicted) / SS(measured - mean(measured)) (nan if no spread)."""
    tot = np.sum((measured - measured.mean(axis=0)) ** 2)
    return float(1 - np.sum((measured - predicted) ** 2) / tot) if tot > 0 else float("nan")
