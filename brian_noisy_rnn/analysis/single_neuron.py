"""The noisy-fixed-point shift of one unit (SingleNeuronRegulator-v0): analytic vs simulated.

One unit with self-coupling ``w`` under the constant input ``c`` has the operating point
``a0 = w_in c + b`` and the step ``h' = (1 - gamma) h + gamma f(w h + a0 + sigma xi)``
(noise inside f). Its stationary mean is predicted by the mean field
``h = E[f(w h + a0 + sigma xi)]``; for ``w = 0`` this is exact: ``E[h] = g_sigma(a0)``,
and for relu the shift is ``sigma psi(a0 / sigma)``, ``psi(z) = z Phi(z) + phi(z) - max(z, 0)``
(a universal curve: the shift is largest, 0.40 sigma, at the kink). With noise outside f
and ``w = 0`` the mean is unshifted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..backends.random_state import keeps_random_state
from ..core.noise import Noise
from ..core.spec import CTRNNSpec
from ..core.spec import check_spec
from ..core.validation import as_dimensionless
from .stationary import mean_field_fixed_point, stationary_stats

if TYPE_CHECKING:
    from brian2 import Quantity


def single_neuron_spec(*, w_in: float = 1.0, w_rec: float = 0.0, b: float = 0.0,
                       w_out: float = 1.0, b_out: float = 0.0, tau: Quantity | None = None,
                       dt: Quantity | None = None, activation: str = "relu",
                       noise: Noise | None = None) -> CTRNNSpec:
    """A one-unit network (the exact solution of SingleNeuronRegulator-v0 by default).

    Parameters
    ----------
    w_in : float
        Input weight.
    w_rec : float
        Self-coupling.
    b : float
        Bias.
    w_out : float
        Output weight.
    b_out : float
        Output bias.
    tau : Brian2 time quantity or None
        Time constant (default 100 ms).
    dt : Brian2 time quantity or None
        Time step (default 20 ms).
    activation : str
        Name of a registered activation.
    noise : Noise or None
        The network's noise (default ``Noise("pre", 1.0)``).

    Returns
    -------
    CTRNNSpec
        The spec, with n_in = n_hidden = n_out = 1.
    """
    from brian2 import ms

    return CTRNNSpec([[w_in]], [[w_rec]], [b], [[w_out]], [b_out],
                     tau=100 * ms if tau is None else tau, dt=20 * ms if dt is None else dt,
                     activation=activation, noise=Noise("pre", 1.0) if noise is None else noise,
                     metadata={"name": "single_neuron_spec"})


@dataclass
class SingleNeuronShift:
    """Fixed-point shift of a single unit over commands and noise levels.

    Attributes
    ----------
    commands : float array (K,)
        Constant inputs c.
    operating_points : float array (K,)
        ``w_in c + b``.
    sigmas : float array (S,)
        Noise levels.
    placement : str
        Noise placement, "pre" or "post".
    h_det : float array (K,)
        Deterministic fixed points.
    predicted : float array (K, S)
        Mean-field shift ``h_mf - h_det`` (exact for w_rec = 0).
    simulated : float array (K, S)
        Simulated stationary mean minus ``h_det`` (nan where not simulated, e.g. at
        sigma = 0 where it is exactly 0).
    simulated_sem : float array (K, S)
        Its standard error.
    backend : str or None
        The simulation backend (None if not simulated).
    w_rec : float
        The unit's self-coupling.
    """

    commands: np.ndarray
    operating_points: np.ndarray
    sigmas: np.ndarray
    placement: str
    h_det: np.ndarray
    predicted: np.ndarray
    simulated: np.ndarray
    simulated_sem: np.ndarray
    backend: object = None
    w_rec: float = field(default=0.0)

    def max_z_score(self):
        """max abs(simulated - predicted) / sem over the simulated entries (nan if none).

        Returns
        -------
        float
            The largest z-score.
        """
        ok = np.isfinite(self.simulated)
        if not ok.any():
            return float("nan")
        return float(np.max(np.abs(self.simulated - self.predicted)[ok] / self.simulated_sem[ok]))

    def plot(self, path=None):
        """Two panels: shift vs sigma per command; shift/sigma vs a0/sigma (universal for relu).

        Parameters
        ----------
        path : str or None
            Also save the figure there (png/pdf/svg by extension).

        Returns
        -------
        matplotlib.figure.Figure
            Made with :func:`brian_noisy_rnn.plotting.new_figure` (shown by ``plt.show()``).
        """
        from ..plotting import new_figure

        fig = new_figure((9, 3.6))
        ax1, ax2 = fig.subplots(1, 2)
        sims = np.isfinite(self.simulated)
        for k, c in enumerate(self.commands):
            line, = ax1.plot(self.sigmas, self.predicted[k], "-", label=f"c = {c:.2g}")
            if sims[k].any():
                ax1.errorbar(self.sigmas[sims[k]], self.simulated[k][sims[k]],
                             yerr=2 * self.simulated_sem[k][sims[k]], fmt="o", ms=3,
                             color=line.get_color())
        ax1.set_xlabel("noise sigma")
        ax1.set_ylabel("E[h] - h(sigma=0)")
        ax1.set_title(f"fixed-point shift ({self.placement} noise)")
        ax1.legend(fontsize=7)
        pos = self.sigmas > 0
        for j in np.flatnonzero(pos):
            s = self.sigmas[j]
            ax2.plot(self.operating_points / s, self.predicted[:, j] / s, "-", lw=1,
                     label=f"sigma = {s:.2g}")
            if sims[:, j].any():
                ax2.errorbar(self.operating_points[sims[:, j]] / s,
                             self.simulated[sims[:, j], j] / s,
                             yerr=2 * self.simulated_sem[sims[:, j], j] / s, fmt="o", ms=3,
                             color=ax2.lines[-1].get_color())
        ax2.set_xlabel("operating point a0 / sigma")
        ax2.set_ylabel("shift / sigma")
        ax2.set_title("shift vs distance to the nonlinearity")
        ax2.legend(fontsize=7)
        if path is not None:
            from ..plotting import save_figure

            save_figure(fig, path)
        return fig


@keeps_random_state
def single_neuron_shift(spec: CTRNNSpec, commands: np.ndarray, sigmas: np.ndarray, *,
                        placement: str | None = None, simulate: bool = True,
                        backend: str = "numpy", n_trials: int = 100, n_steps: int | None = None,
                        seed: int | None = 0, **options) -> SingleNeuronShift:
    """Predicted and simulated fixed-point shift of a one-unit network.

    Parameters
    ----------
    spec : CTRNNSpec
        A network with n_hidden = 1 and n_in = 1 (e.g. :func:`single_neuron_spec` or a
        network trained on SingleNeuronRegulator-v0 with one unit).
    commands : float array (K,)
        Constant inputs c.
    sigmas : float array (S,)
        Noise levels >= 0.
    placement : {"pre", "post"} or None
        Noise placement (default: the spec's own placement, "pre" if it has none).
    simulate : bool
        Also estimate the stationary mean by simulation.
    backend : str
        Simulation backend, as for :func:`stationary_stats`.
    n_trials : int >= 2
        Independent trials per (command, sigma), as for :func:`stationary_stats`.
    n_steps : int or None
        Total steps per trial, as for :func:`stationary_stats`.
    seed : int or None
        Base noise seed (entry (k, j) uses ``seed + k * S + j``).
    **options : dict
        Passed to the backend, as for :func:`stationary_stats`.

    Returns
    -------
    SingleNeuronShift
        Predicted and (if ``simulate``) simulated shifts.
    """
    check_spec(spec)
    if spec.n_hidden != 1 or spec.n_in != 1:
        raise ValueError(f"spec must have one hidden unit and one input, got n_hidden="
                         f"{spec.n_hidden}, n_in={spec.n_in}")
    commands = np.atleast_1d(as_dimensionless(commands, "commands"))
    sigmas = np.atleast_1d(as_dimensionless(sigmas, "sigmas"))
    if commands.ndim != 1 or commands.size < 1 or not np.all(np.isfinite(commands)):
        raise ValueError("commands must be a non-empty 1-D array of finite floats")
    if sigmas.ndim != 1 or sigmas.size < 1 or not np.all(np.isfinite(sigmas)) or np.any(sigmas < 0):
        raise ValueError("sigmas must be a non-empty 1-D array of floats >= 0")
    if placement is None:
        placement = spec.noise.placement if spec.noise.placement in ("pre", "post") else "pre"
    if placement not in ("pre", "post"):
        raise ValueError(f"placement must be 'pre' or 'post', got {placement!r}")
    K, S = commands.size, sigmas.size
    pred = np.zeros((K, S))
    sim = np.full((K, S), np.nan)
    sem = np.full((K, S), np.nan)
    h_det = np.zeros(K)
    for k, c in enumerate(commands):
        for j, s in enumerate(sigmas):
            noise = Noise(placement, float(s))
            mf = mean_field_fixed_point(spec, [c], noise)
            h_det[k] = mf.h_det[0]
            pred[k, j] = mf.state_shift[0]
            if simulate and s > 0:
                st = stationary_stats(spec, [c], noise, backend=backend, n_trials=n_trials,
                                      n_steps=n_steps, seed=None if seed is None else seed + k * S + j,
                                      **options)
                sim[k, j] = st.mean[0] - mf.h_det[0]
                sem[k, j] = st.sem[0]
    a0 = spec.w_in[0, 0] * commands + spec.b[0]
    return SingleNeuronShift(commands, a0, sigmas, placement, h_det, pred, sim, sem,
                             backend if simulate else None, float(spec.w_rec[0, 0]))
