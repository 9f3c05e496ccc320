"""Noise-preference curves: a trained network's task metric as a function of test-noise sigma.

:func:`noise_preference` runs one fixed batch of trials at every test sigma with the same
noise seed (common random numbers: every sigma sees the same trials *and* the same standard
normal draws ``xi``, scaled by sigma), so differences between points of a curve are
differences of the network's behaviour, not of trial sampling. Because numpy, torch and
Brian2 draw the same ``xi`` stream for a seed, a curve computed on one backend with ``n``
trials equals the curve on another backend with the same ``n`` trials to float precision.

The paper's headline (Eckstein & Srinivasan, arXiv 2601.04539): a network trained with noise
*inside* the activation (``placement="pre"``) has its best metric at a test sigma near the
training sigma and a clearly worse one at sigma = 0; trained with noise *outside*
(``"post"``) it is best at or near sigma = 0.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import tasks as tasks_module
from ..backends.random_state import keeps_random_state
from ..backends.backend import get_backend
from ..backends.simulation import NonFiniteResultWarning
from ..core.noise import PLACEMENTS, Noise, as_noise
from ..core.validation import as_dimensionless, check_int
from ..tasks import metrics
from .scoring import check_spec_for_task, evaluate_batch, finite_mean_sem, task_env

if TYPE_CHECKING:
    import gymnasium as gym

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..core.spec import CTRNNSpec

__all__ = ["NoisePreferenceCurve", "noise_preference", "sigma_grid", "swept_noise", "sweep_noises"]

#: relative tolerance under which two test sigmas count as the same point
_SIGMA_RTOL = 1e-9

#: Where :meth:`NoisePreferenceCurve.plot` draws with (kept for compatibility: ``plot`` now
#: imports :func:`~brian_noisy_rnn.evaluation.curve_figures.plot_noise_preference` directly,
#: which :mod:`brian_noisy_rnn.plotting` re-exports).
CURVE_PLOTTER = "brian_noisy_rnn.evaluation.curve_figures:plot_noise_preference"


def _nan_to_none(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _list(a):
    return [_nan_to_none(float(v)) for v in np.asarray(a, dtype=float)]


def _array(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@dataclass(eq=False)
class NoisePreferenceCurve:
    """A task metric (mean and standard error over trials) per test-noise sigma.

    Attributes
    ----------
    sigmas : float64 array (S,)
        Test sigmas, sorted increasing, dimensionless; contains 0 and ``sigma_train``.
    metric : str
        The curve's metric: the primary one (``metrics.primary_metric(kind)``: "mse" or
        "accuracy") unless ``noise_preference(..., metric=...)`` chose another.
    higher_is_better : bool
        Whether a larger value of the metric is better.
    mean : float64 array (S,)
        Mean of the per-trial metric over trials at each sigma.
    sem : float64 array (S,)
        Its standard error over trials (std with ddof=1 / sqrt(n)).
    n_trials : int
        Trials per sigma (the same trials at every sigma).
    placement : str
        Where the test noise enters ("pre", "post", "state").
    process : str
        Noise process ("white", "ou", "poisson").
    sigma_train : float
        The network's training sigma (mean over neurons if per neuron).
    train_placement : str
        The network's training placement.
    backend : str
        Simulation backend ("numpy", "torch", "brian2", ...).
    seed : int
        Evaluation seed (trials and noise draws, the same at every sigma).
    task : str
        The task's id (e.g. "FunctionApproximation-v0").
    other_metrics : dict of str to (float64 array (S,), float64 array (S,))
        Every other metric of the task: name -> (mean, sem).
    paired_vs_zero : dict of str to (float64 array (S,), float64 array (S,))
        Every metric of the task (the curve's own included): name -> mean and standard
        error over trials of the paired difference metric(sigma) - metric(0) at each test
        sigma (same trials and noise draws; kept by :meth:`to_dict`, so curves read from a
        results database still have paired standard errors). Empty for curves stored
        before it existed.
    trial_values : float64 array (S, B) or None
        The per-trial primary metric (for paired comparisons between sigmas; not part of
        :meth:`to_dict`).
    spec_hash : str
        ``spec.content_hash()`` of the evaluated network.
    cell : dict or None
        The database row of the cell when the curve was read from a results database
        (:meth:`brian_noisy_rnn.experiments.ResultStore.curves`); not in :meth:`to_dict`.
    """

    sigmas: np.ndarray
    metric: str
    higher_is_better: bool
    mean: np.ndarray
    sem: np.ndarray
    n_trials: int
    placement: str
    process: str
    sigma_train: float
    train_placement: str
    backend: str
    seed: int
    task: str = ""
    other_metrics: dict = field(default_factory=dict)
    trial_values: np.ndarray | None = None
    paired_vs_zero: dict = field(default_factory=dict)
    spec_hash: str = ""
    cell: dict | None = field(default=None, repr=False)

    # --- derived quantities -------------------------------------------------------------
    def index_of(self, sigma):
        """Index of test sigma ``sigma`` in :attr:`sigmas` (ValueError if it was not tested).

        Parameters
        ----------
        sigma : float
            A tested sigma (matched with relative tolerance 1e-9).

        Returns
        -------
        int
        """
        hits = np.flatnonzero(np.isclose(self.sigmas, float(sigma), rtol=_SIGMA_RTOL, atol=1e-12))
        if hits.size == 0:
            raise ValueError(f"sigma={sigma!r} is not one of the tested sigmas {self.sigmas.tolist()}")
        return int(hits[0])

    @property
    def preferred_index(self):
        """Index of the best finite mean metric (the smallest sigma among exact ties); None
        if no point of the curve is finite."""
        finite = np.isfinite(self.mean)
        if not finite.any():
            return None
        values = np.where(finite, self.mean, -np.inf if self.higher_is_better else np.inf)
        return int(np.argmax(values) if self.higher_is_better else np.argmin(values))

    def preferred_set(self, n_se: float = 1.0) -> tuple:
        """The test sigmas whose mean is within ``n_se`` standard errors of the best mean.

        The one-standard-error rule: a sigma is as good as the best if its mean differs from
        the best mean by at most ``n_se`` times the best point's standard error over trials.
        Ties (e.g. accuracies of 1.0 at several sigmas) therefore show as a set, never as
        the smallest of them. The SE is the unpaired one of each point; the curves use common
        random numbers, so this overstates the noise of differences and leans towards ties.

        Parameters
        ----------
        n_se : float >= 0
            Width of the band in standard errors.

        Returns
        -------
        tuple of float
            Increasing sigmas; empty if no point is finite.
        """
        best = self.preferred_index
        if best is None:
            return ()
        band = n_se * (self.sem[best] if np.isfinite(self.sem[best]) else 0.0)
        gap = np.abs(self.mean - self.mean[best])
        return tuple(float(s) for s, g in zip(self.sigmas, gap) if np.isfinite(g) and g <= band)

    @property
    def nonfinite_sigmas(self):
        """The test sigmas whose mean metric is NaN or inf (list of float)."""
        return [float(s) for s, m in zip(self.sigmas, self.mean) if not np.isfinite(m)]

    @property
    def preferred_sigma(self):
        """The test sigma with the best mean metric (float); NaN if no point is finite."""
        best = self.preferred_index
        return float("nan") if best is None else float(self.sigmas[best])

    @property
    def preferred_ratio(self):
        """preferred sigma / training sigma (NaN if the training sigma is 0)."""
        return self.preferred_sigma / self.sigma_train if self.sigma_train > 0 else float("nan")

    @property
    def metric_at_zero(self):
        """Mean metric at sigma = 0 (no test noise)."""
        return float(self.mean[self.index_of(0.0)])

    @property
    def metric_at_train(self):
        """Mean metric at the training sigma."""
        return float(self.mean[self.index_of(self.sigma_train)])

    @property
    def sem_at_zero(self):
        """Standard error of :attr:`metric_at_zero`."""
        return float(self.sem[self.index_of(0.0)])

    @property
    def sem_at_train(self):
        """Standard error of :attr:`metric_at_train`."""
        return float(self.sem[self.index_of(self.sigma_train)])

    def difference(self, sigma_a, sigma_b):
        """Paired difference ``metric(sigma_a) - metric(sigma_b)`` over the same trials.

        Needs :attr:`trial_values` (curves restored by :meth:`from_dict` do not have it:
        ValueError).

        Parameters
        ----------
        sigma_a : float
            A tested sigma.
        sigma_b : float
            Another tested sigma.

        Returns
        -------
        mean : float
            The mean over trials of the per-trial difference (NaN without finite values).
        sem : float
            Its standard error (common random numbers make this much smaller than the two
            curves' own standard errors); NaN with fewer than 2 finite differences.
        """
        if self.trial_values is None:
            raise ValueError("difference needs per-trial values; this curve has none "
                             "(restored from a dict)")
        return finite_mean_sem(self.trial_values[self.index_of(sigma_a)]
                               - self.trial_values[self.index_of(sigma_b)])

    def with_metric(self, name):
        """The same curve read on another of the task's metrics.

        Parameters
        ----------
        name : str
            The curve's metric or one of :attr:`other_metrics` (e.g. ``"cross_entropy"``,
            ``"performance"``).

        Returns
        -------
        NoisePreferenceCurve
            A new curve whose metric, ``higher_is_better``, mean and standard error are those
            of ``name`` (the present metric moves to ``other_metrics``), so its
            :attr:`preferred_sigma`, :attr:`metric_at_zero` etc. are of ``name``;
            ``trial_values`` is kept only when ``name`` is the curve's own metric.
            ``self`` if ``name`` is already the curve's metric.

        Raises
        ------
        ValueError
            If the curve has no metric ``name`` (the message lists those it has).
        """
        if name == self.metric:
            return self
        if name not in self.other_metrics:
            raise ValueError(f"name must be one of this curve's metrics "
                             f"{sorted([self.metric, *self.other_metrics])}, got {name!r}")
        others = {k: v for k, v in self.other_metrics.items() if k != name}
        others[self.metric] = (self.mean, self.sem)
        mean, sem = self.other_metrics[name]
        return dataclasses.replace(self, metric=name,
                                   higher_is_better=metrics.higher_is_better(name), mean=mean,
                                   sem=sem, other_metrics=others, trial_values=None)

    def summary(self):
        """The headline numbers as a flat dict (JSON-compatible).

        With per-trial values it includes ``zero_minus_train`` and ``zero_minus_train_sem``,
        the paired difference metric(0) - metric(sigma_train) (see :meth:`difference`).

        Returns
        -------
        dict of str to str, bool, float, int or None
            ``metric``, ``higher_is_better``, ``placement``, ``train_placement``,
            ``sigma_train``, ``backend``, ``preferred_sigma``, ``preferred_ratio``,
            ``metric_at_zero``, ``sem_at_zero``, ``metric_at_train``, ``sem_at_train``,
            ``n_trials`` (NaN becomes None).
        """
        out = {
            "metric": self.metric,
            "higher_is_better": bool(self.higher_is_better),
            "placement": self.placement,
            "train_placement": self.train_placement,
            "sigma_train": float(self.sigma_train),
            "backend": self.backend,
            "preferred_sigma": _nan_to_none(self.preferred_sigma),
            "preferred_ratio": _nan_to_none(self.preferred_ratio),
            "metric_at_zero": _nan_to_none(self.metric_at_zero),
            "sem_at_zero": _nan_to_none(self.sem_at_zero),
            "metric_at_train": _nan_to_none(self.metric_at_train),
            "sem_at_train": _nan_to_none(self.sem_at_train),
            "n_trials": int(self.n_trials),
        }
        if self.trial_values is not None:
            d, e = self.difference(0.0, self.sigma_train)
            out["zero_minus_train"] = _nan_to_none(d)
            out["zero_minus_train_sem"] = _nan_to_none(e)
        return out

    # --- figure ---------------------------------------------------------------------------
    def plot(self, ax: Axes | None = None, **kwargs) -> Figure:
        """Draw this curve: mean metric per test sigma with standard-error bars.

        A thin front for :func:`brian_noisy_rnn.plotting.plot_noise_preference`; to overlay several curves pass them all to that
        function, or pass the same ``ax`` to each curve's ``plot``.

        Parameters
        ----------
        ax : matplotlib Axes or None
            The Axes to draw on; None: a new pyplot-managed Figure (shown by ``plt.show()``).
        **kwargs : keyword arguments
            Passed on: ``relative`` (bool, x in units of the training sigma), ``log_y``
            (bool or "auto"), ``title`` (str), ``legend`` (bool).

        Returns
        -------
        matplotlib.figure.Figure
            The Figure drawn into; save it with :func:`brian_noisy_rnn.plotting.save_figure`.
        """
        from .curve_figures import plot_noise_preference  # matplotlib on first use only

        return plot_noise_preference(self, ax=ax, **kwargs)

    # --- (de)serialisation ---------------------------------------------------------------
    def rows(self):
        """A tidy table: one dict per test sigma.

        Returns
        -------
        list of dict
            One per test sigma, with keys ``sigma``, ``relative_sigma`` (sigma /
            sigma_train, None if sigma_train = 0), ``metric``, ``mean``, ``sem``,
            ``n_trials``, ``is_preferred``, and ``<name>_mean`` / ``<name>_sem`` for every
            other metric. NaN becomes None.
        """
        out = []
        best = self.preferred_index
        for i, s in enumerate(self.sigmas):
            row = {
                "sigma": float(s),
                "relative_sigma": float(s / self.sigma_train) if self.sigma_train > 0 else None,
                "metric": self.metric,
                "mean": _nan_to_none(float(self.mean[i])),
                "sem": _nan_to_none(float(self.sem[i])),
                "n_trials": int(self.n_trials),
                "is_preferred": i == best,
            }
            for name, (m, e) in sorted(self.other_metrics.items()):
                row[f"{name}_mean"] = _nan_to_none(float(m[i]))
                row[f"{name}_sem"] = _nan_to_none(float(e[i]))
            out.append(row)
        return out

    def to_dict(self):
        """A JSON-compatible dict (inverse: :meth:`from_dict`; per-trial values are dropped).

        Returns
        -------
        dict
            The attributes except ``trial_values`` and ``cell``; arrays as lists, NaN as None.
        """
        return {
            "sigmas": _list(self.sigmas),
            "metric": self.metric,
            "higher_is_better": bool(self.higher_is_better),
            "mean": _list(self.mean),
            "sem": _list(self.sem),
            "n_trials": int(self.n_trials),
            "placement": self.placement,
            "process": self.process,
            "sigma_train": float(self.sigma_train),
            "train_placement": self.train_placement,
            "backend": self.backend,
            "seed": int(self.seed),
            "task": self.task,
            "other_metrics": {k: [_list(m), _list(e)] for k, (m, e) in self.other_metrics.items()},
            "paired_vs_zero": {k: [_list(m), _list(e)] for k, (m, e) in self.paired_vs_zero.items()},
            "spec_hash": self.spec_hash,
        }

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As written by :meth:`to_dict` (TypeError if not a dict, ValueError if a field
            is missing; ``task``, ``other_metrics``, ``paired_vs_zero`` and ``spec_hash`` are
            optional).

        Returns
        -------
        NoisePreferenceCurve
            Without ``trial_values``.
        """
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict from NoisePreferenceCurve.to_dict, got {type(d).__name__}")
        try:
            return cls(
                sigmas=_array(d["sigmas"]), metric=d["metric"],
                higher_is_better=bool(d["higher_is_better"]), mean=_array(d["mean"]),
                sem=_array(d["sem"]), n_trials=int(d["n_trials"]), placement=d["placement"],
                process=d["process"], sigma_train=float(d["sigma_train"]),
                train_placement=d["train_placement"], backend=d["backend"], seed=int(d["seed"]),
                task=d.get("task", ""),
                other_metrics={k: (_array(m), _array(e)) for k, (m, e) in d.get("other_metrics", {}).items()},
                paired_vs_zero={k: (_array(m), _array(e))
                                for k, (m, e) in d.get("paired_vs_zero", {}).items()},
                spec_hash=d.get("spec_hash", ""),
            )
        except KeyError as err:
            raise ValueError(f"d lacks the curve field {err}") from err

    def __repr__(self):
        return (f"NoisePreferenceCurve({self.task or 'task'}, {self.placement}, backend={self.backend!r}, "
                f"sigma_train={self.sigma_train:g}, preferred_sigma={self.preferred_sigma:g}, "
                f"{self.metric}(0)={self.metric_at_zero:.4g}, "
                f"{self.metric}(train)={self.metric_at_train:.4g}, n_trials={self.n_trials})")


def sigma_grid(sigmas: np.ndarray, sigma_train: float = 0.0) -> np.ndarray:
    """The sorted test sigmas a curve evaluates: ``sigmas`` plus 0 and ``sigma_train``.

    Parameters
    ----------
    sigmas : sequence of float
        At least one, each >= 0. Dimensionless: plain numbers or a dimensionless Brian2
        quantity (``[0, 1]*ms`` raises Brian2's ``DimensionMismatchError``; booleans and
        complex numbers a TypeError).
    sigma_train : float
        The training sigma, >= 0, dimensionless.

    Returns
    -------
    float64 array (S,)
        Sorted, without near-duplicates (relative tolerance 1e-9).

    Examples
    --------
    >>> sigma_grid([0.5, 2.0, 0.5], sigma_train=1.0)
    array([0. , 0.5, 1. , 2. ])
    """
    arr = as_dimensionless(sigmas, "sigmas")
    sigma_train = as_dimensionless(sigma_train, "sigma_train")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"sigmas must be a non-empty 1-D sequence of floats, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"sigmas must be finite and >= 0, got {arr.tolist()}")
    values = sorted({0.0, float(sigma_train), *arr.tolist()})
    out = []
    for v in values:
        if not out or not np.isclose(v, out[-1], rtol=_SIGMA_RTOL, atol=1e-12):
            out.append(v)
    return np.array(out, dtype=float)


def swept_noise(spec, placement, sigma, template=None):
    """The test noise of a noise-preference sweep at ``sigma``.

    Parameters
    ----------
    spec : CTRNNSpec
        The trained network (its ``noise`` is the training noise).
    placement : {"pre", "post", "state"}
        Where the test noise enters.
    sigma : float
        Test sigma (dimensionless, >= 0).
    template : Noise or None
        If given, this noise model with ``sigma``.

    Returns
    -------
    Noise
        ``template`` with that sigma if given; else the training process if the placement
        is the training one, white noise at another placement.
    """
    if template is not None:
        return template.with_sigma(float(sigma))
    if placement == spec.noise.placement:
        return spec.noise.with_sigma(float(sigma))
    return Noise(placement, float(sigma))


def sweep_noises(spec, sigmas, placement=None, noise=None):
    """The test placement, sigmas and noise models of a noise-preference sweep (checked).

    Shared by :func:`noise_preference` and
    :func:`~brian_noisy_rnn.evaluation.closed_loop.closed_loop_noise_preference`.

    Parameters
    ----------
    spec : CTRNNSpec
        The trained network (its ``noise`` gives the training placement and sigma).
    sigmas : sequence of float
        Test sigmas (>= 0); 0 and the training sigma are added (:func:`sigma_grid`).
    placement : {"pre", "post", "state"} or None
        Where the test noise enters; None: the training placement.
    noise : Noise or None
        A test-noise template (excludes ``placement``), see :func:`noise_preference`.

    Returns
    -------
    placement : str
        The test placement.
    grid : float64 array (S,)
        The sorted test sigmas.
    noises : list of Noise
        The test noise at each sigma (:func:`swept_noise`), checked against the spec.

    Raises
    ------
    ValueError
        For a missing or invalid placement, or both ``placement`` and ``noise``.
    """
    train_placement = spec.noise.placement
    if noise is not None:
        as_noise(noise)
        if placement is not None:
            raise ValueError("pass either placement or noise (a test-noise template), not both")
        if noise.placement == "none":
            raise ValueError("noise must be a template with placement 'pre', 'post' or 'state'")
        placement = noise.placement
    if placement is None:
        if train_placement == "none":
            raise ValueError("placement is required: the spec was trained without noise "
                             "(spec.noise.placement == 'none'); pass placement='pre' or 'post'")
        placement = train_placement
    if placement == "none" or placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {[p for p in PLACEMENTS if p != 'none']} "
                         f"or None, got {placement!r}")
    grid = sigma_grid(sigmas, spec.noise.scalar_sigma())
    noises = [swept_noise(spec, placement, s, noise) for s in grid]
    for nz in noises:
        spec.check_noise(nz)  # remembered by the spec: simulate does not check it again
    return placement, grid, noises


def _chosen_metric(metric, probe):
    """The curve's metric: ``metric`` (checked against the task's metrics) or the primary one."""
    if metric is None:
        return metrics.primary_metric(probe.kind)
    names = sorted(metrics.per_trial_metrics(np.zeros(probe.output_shape), probe))
    if not isinstance(metric, str) or metric not in names:
        raise ValueError(f"metric must be one of this task's metrics {names} or None, got {metric!r}")
    return metrics.PrimaryMetric(metric, metrics.higher_is_better(metric))


@keeps_random_state
def noise_preference(spec: CTRNNSpec, env: str | gym.Env, sigmas: np.ndarray, *,
                     placement: str | None = None, backend: str, n_trials: int, seed: int,
                     noise: Noise | None = None, metric: str | None = None,
                     progress: bool = False, **options) -> NoisePreferenceCurve:
    """Measure a network's noise-preference curve: its task metric at each test-noise sigma.

    Parameters
    ----------
    spec : CTRNNSpec
        A trained network (its ``noise`` is the training noise, giving the training
        placement and sigma).
    env : str, dict, TrialEnv or None
        A task id (made with the network's ``dt``, as in :func:`~brian_noisy_rnn.evaluate`:
        the training task's id is built as it was trained) or a TrialEnv (e.g.
        ``brian_noisy_rnn.tasks.make(id, dt=...)``) whose ``dt`` is the network's ``dt``;
        None: the task the network was trained on.
    sigmas : sequence of float
        Test-noise amplitudes, >= 0 (dimensionless). 0 and the training sigma are always
        added (see :func:`sigma_grid`).
    placement : {"pre", "post", "state"} or None
        Where the test noise enters; None: the training placement (with
        ``noise_as="membrane"``: "pre", whatever the training placement). With the training
        placement the training noise process (e.g. OU with its ``tau_noise``) is kept;
        another placement uses white noise.
    backend : str
        The simulation backend (a name in :data:`~brian_noisy_rnn.backends.BACKENDS`), see
        :func:`~brian_noisy_rnn.simulate`.
    n_trials : int
        Trials per sigma, >= 1 (the same trials at every sigma).
    seed : int
        In [0, 2**32), the evaluation seed of :func:`~brian_noisy_rnn.evaluate`: it seeds
        the trial batch and (through ``evaluation.noise_seed``) the test noise; the same
        trials and noise draws are used at every sigma (common random numbers).
    noise : Noise or None
        A test-noise template whose sigma is replaced by each test sigma, to test with another
        process than the training one (e.g. train white, test ``Noise("pre", 0,
        process="ou", tau_noise=20*ms)``). Excludes ``placement``.
    metric : str or None
        The metric whose preferred sigma the curve reports; None: the task kind's primary
        metric ("accuracy" or "mse"). Any metric of the task: "cross_entropy" (the trained
        loss, which shows a preference where accuracy saturates), "accuracy",
        "performance" (NeuroGym's own, NeuroGym tasks), "mse", "nmse", "trial_accuracy" (mazes).
        The others are kept in ``other_metrics``.
    progress : bool
        Show a tqdm bar over sigmas.
    **options : keyword arguments
        Passed to :func:`~brian_noisy_rnn.simulate` (e.g. ``target="cython"`` for Brian2).
        On ``"brian2-spiking"``, ``noise_as="membrane"`` with ``neurons_per_unit=M`` sweeps
        each neuron's membrane noise sigma_m (noise inside its transfer, so the test
        placement is "pre"; see ``docs/biological_noise.md``); without it (``noise_as=
        "count"``) each test sigma is the spike-count noise and sets the population size,
        so ``neurons_per_unit`` must not be given (ValueError: the sweep would be flat).

    Returns
    -------
    NoisePreferenceCurve
        With the chosen metric's mean and standard error over trials per sigma, the
        preferred sigma, its ratio to the training sigma and the metric at 0 and at the
        training sigma.

    Raises
    ------
    TypeError, ValueError
        For invalid arguments, before anything is simulated (e.g. a ``placement`` that is
        missing while the spec was trained without noise, or an env whose dt differs from
        the network's).

    Notes
    -----
    numpy's global generator and Brian2's are left as found (also on error).
    """
    env = task_env(spec, env)  # checks spec (the public boundary: everything below trusts it)
    runner = get_backend(backend)
    backend = runner.name
    runner.check_options(options)
    runner.check_sweep(options)
    # the placement these options imply (e.g. "pre" for membrane noise), whatever the training
    forced = runner.test_placement(options)
    if forced is not None and placement is None and noise is None:
        placement = forced
    n_trials = check_int(n_trials, "n_trials", 1)
    seed = check_int(seed, "seed", 0, 2 ** 32)
    placement, grid, noises = sweep_noises(spec, sigmas, placement, noise)
    train_placement, sigma_train = spec.noise.placement, spec.noise.scalar_sigma()
    if forced is not None and placement != forced:
        raise ValueError(f"backend {backend!r} with options {options} sweeps noise at placement "
                         f"{forced!r}: placement must be {forced!r} or None, got {placement!r}")
    for nz in noises:
        runner.check_noise(nz)
    probe = check_spec_for_task(spec, env)  # n_in, n_out and dt must fit the task
    primary = _chosen_metric(metric, probe)

    per_sigma = []
    iterator = noises
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(noises, desc=f"noise sweep ({backend})", unit="sigma")
    trials = tasks_module.batch(env, n_trials, seed=seed)  # built once, used at every sigma
    for nz in iterator:
        # same seed at every sigma: the same trials and the same noise draws
        # everything was checked above, once: score the trials at this sigma
        res = evaluate_batch(spec, trials, backend=backend, noise=nz, seed=seed, **options)
        per_sigma.append(res)
    stats = {}
    for name in per_sigma[0].per_trial:
        ms = np.array([(r.mean(name), r.sem(name)) for r in per_sigma])
        stats[name] = (ms[:, 0], ms[:, 1])
    mean, sem = stats.pop(primary.name)
    zero = 0  # sigma_grid sorts and always contains 0
    paired = {}
    for name in per_sigma[0].per_trial:
        ms = np.array([finite_mean_sem(r.per_trial[name] - per_sigma[zero].per_trial[name])
                       for r in per_sigma])
        paired[name] = (ms[:, 0], ms[:, 1])
    curve = NoisePreferenceCurve(
        sigmas=grid, metric=primary.name, higher_is_better=primary.higher_is_better,
        mean=mean, sem=sem, n_trials=n_trials, placement=placement, process=noises[-1].process,
        sigma_train=sigma_train, train_placement=train_placement, backend=backend, seed=seed,
        task=tasks_module.task_name(env), other_metrics=stats,
        trial_values=np.stack([r.per_trial[primary.name] for r in per_sigma]),
        spec_hash=spec.content_hash(),
        paired_vs_zero=paired,
    )
    bad = curve.nonfinite_sigmas
    if bad:
        warnings.warn(f"noise_preference of {curve.task} on {backend}: {primary.name} is NaN or "
                      f"inf at test sigmas {bad}"
                      + ("; no preferred sigma" if len(bad) == len(grid) else ""),
                      NonFiniteResultWarning, stacklevel=2)
    return curve
