"""``evaluate``: a trained network's task metrics, simulated on any backend.

The trials come from ``tasks.batch(env, n_trials, seed=seed)``; the test noise is drawn from
a seed derived from ``seed`` (:func:`noise_seed`), so the trial stream and the noise stream
are independent, and calls that differ only in ``noise`` (or ``backend``) see the same trials
and the same standard normal draws (common random numbers: differences between noise levels
are not blurred by trial sampling).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..backends.random_state import keeps_random_state
from ..tasks import metrics as metrics_module
from .. import tasks as tasks_module
from ..core.noise import Noise
from ..backends.simulation import check_backend, simulate
from ..core.validation import check_seed
from ..core.spec import CTRNNSpec, check_spec
from ..core.validation import check_int
from .settings import EvalConfig

if TYPE_CHECKING:
    import gymnasium as gym

_EVAL = EvalConfig()  # the declared defaults of the evaluation settings

__all__ = ["EvaluationResult", "TaskMismatchWarning", "check_spec_for_task", "evaluate",
           "evaluate_batch", "evaluate_per_trial", "finite_mean_sem", "noise_seed", "task_env", "trained_task"]


def noise_seed(seed):
    """The seed of the test-noise draws for evaluation seed ``seed`` (passed to ``simulate``).

    Parameters
    ----------
    seed : int
        The evaluation seed (which also seeds the trials).

    Returns
    -------
    int
        A seed in [0, 2**32) derived from ``seed`` by ``numpy.random.SeedSequence``.
    """
    return int(np.random.SeedSequence([int(seed), 0x6E6F6973]).generate_state(1)[0])


def finite_mean_sem(values):
    """Mean and standard error over trials of the finite entries of ``values``.

    Parameters
    ----------
    values : float array (B,)
        One value per trial; NaN or inf (a trial without a value) are left out.

    Returns
    -------
    mean : float
        NaN if no entry is finite.
    sem : float
        ``std(ddof=1) / sqrt(n)`` over the n finite entries; NaN for n < 2.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    mean = float(v.mean()) if v.size else float("nan")
    sem = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan")
    return mean, sem


@dataclass
class EvaluationResult:
    """Metrics of one evaluation, pooled and per trial.

    Attributes
    ----------
    metrics : dict of str to float
        :func:`brian_noisy_rnn.tasks.metrics.task_metrics` (pooled over all scored steps of
        all trials).
    per_trial : dict of str to float64 array (n_trials,)
        Each trial's value (:func:`brian_noisy_rnn.tasks.metrics.per_trial_metrics`; NaN for
        a trial without scored steps).
    n_trials : int
        Number of trials B.
    backend : str
        The simulation backend.
    noise : Noise
        The test noise.
    seed : int
        The evaluation seed (trials); the noise used ``noise_seed(seed)``.
    outputs : float64 array (T, B, n_out) or None
        The network outputs, kept when ``keep_outputs=True``.
    batch : TaskBatch or None
        The :class:`~brian_noisy_rnn.tasks.TaskBatch`, kept when ``keep_outputs=True``.
    """

    metrics: dict
    per_trial: dict
    n_trials: int
    backend: str
    noise: Noise
    seed: int
    outputs: np.ndarray | None = None
    batch: object = None

    def mean(self, name):
        """Mean of a per-trial metric over trials with a value (NaN if none has one).

        Parameters
        ----------
        name : str
            A key of :attr:`per_trial`, e.g. ``"mse"``.

        Returns
        -------
        float
        """
        return finite_mean_sem(self.per_trial[name])[0]

    def sem(self, name):
        """Standard error of the mean of a per-trial metric over trials (ddof=1, NaN-aware).

        Parameters
        ----------
        name : str
            A key of :attr:`per_trial`, e.g. ``"mse"``.

        Returns
        -------
        float
            NaN with fewer than 2 trials with a value.
        """
        return finite_mean_sem(self.per_trial[name])[1]

    @property
    def sems(self):
        """Standard error over trials of every metric.

        Returns
        -------
        dict of str to float
            The keys of :attr:`metrics`; each value is :meth:`sem` of that metric's per-trial
            values (NaN for a metric without per-trial values or with fewer than 2 trials).
        """
        return {k: self.sem(k) if k in self.per_trial else float("nan") for k in self.metrics}


def check_spec_for_task(spec, env, name="spec"):
    """Raise ValueError naming ``name`` if ``spec``'s input/output sizes do not fit ``env``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network; its n_in, n_out and dt must fit the task.
    env : TrialEnv
        A NeuroGym ``TrialEnv`` (or wrapper).
    name : str
        The argument's name in error messages.

    Returns
    -------
    TaskBatch
        A small probe :class:`~brian_noisy_rnn.tasks.TaskBatch` (4 trials) of ``env``.
    """
    return _check_fit(check_spec(spec, name), env, name)


def _check_fit(spec, env, name):
    """:func:`check_spec_for_task` for a spec already checked."""
    probe = tasks_module.batch(env, 4, seed=0)
    if spec.n_in != probe.n_in:
        raise ValueError(f"{name} has n_in={spec.n_in} inputs but the task has {probe.n_in} "
                         "observation channels")
    if spec.n_out != probe.n_out:
        what = "classes" if probe.kind == "classification" else "outputs"
        raise ValueError(f"{name} has n_out={spec.n_out} outputs but the task has "
                         f"{probe.n_out} {what}")
    if abs(spec.dt_seconds * 1000.0 - float(env.unwrapped.dt)) > 1e-9 * max(1.0, spec.dt_seconds):
        raise ValueError(f"{name} has dt={spec.dt} but the task runs at dt={env.unwrapped.dt} ms; "
                         f"make the task with dt={spec.dt_seconds * 1000:g}")
    return probe


class TaskMismatchWarning(UserWarning):
    """A network is evaluated on its training task's id built another way (other keywords or
    wrappers) than it was trained on; the message names the differences."""


def trained_task(spec):
    """How the task ``spec`` was trained on was built, from its training metadata.

    Parameters
    ----------
    spec : CTRNNSpec
        A network (e.g. from :func:`~brian_noisy_rnn.bridges.train`).

    Returns
    -------
    dict or None
        ``spec.metadata["training"]["task_construction"]`` (see
        :func:`brian_noisy_rnn.tasks.task_construction`); for networks saved before it was
        recorded, the task id with its default keywords; None if no task is recorded.
    """
    training = spec.metadata.get("training", {}) if isinstance(spec.metadata, dict) else {}
    stored = training.get("task_construction")
    if isinstance(stored, dict) and isinstance(stored.get("id"), str):
        return stored
    task = training.get("task")
    if isinstance(task, str) and task:
        return {"id": task, "kwargs": {}, "wrappers": [], "unrecorded": []}
    return None


def task_env(spec, env=None, name="env"):
    """The task ``env`` names, made with ``spec``'s time step, or ``env`` itself.

    The one way every function that takes a task (:func:`evaluate`,
    :func:`evaluate_per_trial`, :func:`~brian_noisy_rnn.noise_preference`,
    :func:`~brian_noisy_rnn.plotting.plot_trial_traces`) accepts it.

    Parameters
    ----------
    spec : CTRNNSpec
        The network; a task id is made with its ``dt`` (in ms, NeuroGym's unit).
    env : str, dict, TrialEnv or None
        A task id (see :func:`brian_noisy_rnn.tasks.list_tasks`): the id of the task the
        network was trained on is built as it was trained (keywords and wrappers recorded
        in its metadata, :func:`trained_task`), another id with its default keywords. A
        dict from :func:`brian_noisy_rnn.tasks.task_construction` is built as it says. A
        NeuroGym ``TrialEnv`` (or wrapper) is returned unchanged; if it is the training
        task's id built another way, a :class:`TaskMismatchWarning` names the differences.
        None: the task the network was trained on.
    name : str
        The argument's name in error messages.

    Returns
    -------
    TrialEnv
        Not yet checked against the spec (see :func:`check_spec_for_task`).

    Raises
    ------
    TypeError
        If ``env`` is neither a task id nor a (wrapped) NeuroGym TrialEnv.
    ValueError
        If the task id is unknown, or ``env`` is None and the network records no task.

    Warns
    -----
    TaskMismatchWarning
        For a task of the training id built otherwise, or when the training task is asked
        for but part of its construction could not be recorded (e.g. a function as a
        keyword): the default construction of its id is used then, and the message says so.
    """
    return _task_env(check_spec(spec), env, name)


def _task_env(spec, env, name):
    """:func:`task_env` for a spec already checked."""
    dt_ms = spec.dt_seconds * 1000.0
    stored = trained_task(spec)
    if env is None and stored is None:
        raise ValueError(f"{name} is required: the network does not record the task it "
                         "was trained on")
    if isinstance(env, dict):
        return tasks_module.make_from_construction(env, dt=dt_ms, name=name)
    if env is None or (isinstance(env, str) and stored is not None and env == stored["id"]):
        if not stored.get("unrecorded"):
            return tasks_module.make_from_construction(stored, dt=dt_ms, name=name)
        warnings.warn(f"{name}: the network was trained on {stored['id']}, but "
                      f"{'; '.join(stored['unrecorded'])} could not be recorded; using "
                      f"{stored['id']} with its default keywords (pass the task itself to "
                      "evaluate on the one trained on)", TaskMismatchWarning, stacklevel=3)
        env = stored["id"]
    env = tasks_module.as_task(env, dt=dt_ms, name=name)
    if stored is not None and not isinstance(env, str):
        given = tasks_module.task_construction(env)
        differences = [] if given["unrecorded"] else \
            tasks_module.construction_differences(given, stored)
        if differences:
            warnings.warn(f"{name} is {stored['id']} built otherwise than the network was "
                          f"trained on: {'; '.join(differences)} (pass {name}=None or the id "
                          "to use the training task)", TaskMismatchWarning, stacklevel=3)
    return env


def _resolve(spec, env, backend, noise, n_trials, seed):
    """The public boundary of an evaluation: every argument checked once (spec first)."""
    check_spec(spec)
    env = _task_env(spec, env, "env")
    _check_fit(spec, env, "spec")
    check_backend(backend)
    noise = spec.noise if noise is None else spec.check_noise(noise)
    n_trials = check_int(n_trials, "n_trials")
    if seed is None:
        raise ValueError("seed must be an int in [0, 2**32) (evaluation is reproducible), got None")
    seed = check_seed(seed)
    return env, noise, n_trials, seed


@keeps_random_state
def evaluate_per_trial(spec: CTRNNSpec, env: str | gym.Env, *, backend: str,
                       noise: Noise | None = None, n_trials: int = _EVAL.n_trials, seed: int = _EVAL.seed,
                       keep_outputs: bool = False, batch: object | None = None,
                       **options) -> EvaluationResult:
    """Like :func:`evaluate`, but return an :class:`EvaluationResult` with per-trial metrics.

    Use ``result.mean(name)`` and ``result.sem(name)`` for a mean and its standard error over
    trials.

    Parameters
    ----------
    spec : CTRNNSpec
        As in :func:`evaluate`.
    env : str, dict, TrialEnv or None
        As in :func:`evaluate`.
    backend : str
        As in :func:`evaluate`.
    noise : Noise or None
        As in :func:`evaluate`.
    n_trials : int
        As in :func:`evaluate`.
    seed : int
        As in :func:`evaluate`.
    keep_outputs : bool
        Also keep the outputs (T, B, n_out) and the batch in the result.
    batch : TaskBatch or None
        The trials ``tasks.batch(env, n_trials, seed=seed)`` if already built (e.g. reused
        across test-noise levels); None builds them. ValueError if it has another number of
        trials than ``n_trials``.
    **options : keyword arguments
        Passed to the backend, as in :func:`evaluate`.

    Returns
    -------
    EvaluationResult
        Pooled and per-trial metrics.
    """
    env, noise, n_trials, seed = _resolve(spec, env, backend, noise, n_trials, seed)
    if batch is None:
        batch = tasks_module.batch(env, n_trials, seed=seed)
    elif batch.n_trials != n_trials:
        raise ValueError(f"batch has {batch.n_trials} trials but n_trials={n_trials}")
    return evaluate_batch(spec, batch, backend=backend, noise=noise, seed=seed,
                          keep_outputs=keep_outputs, **options)


def evaluate_batch(spec: CTRNNSpec, batch, *, backend: str, noise: Noise, seed: int,
                   keep_outputs: bool = False, **options) -> EvaluationResult:
    """Score ``spec`` on trials already built, with arguments already checked.

    The inner step of :func:`evaluate_per_trial`, for callers that checked the spec against
    the task, the noise against the spec, the backend and the seed once at their own public
    boundary (e.g. :func:`~brian_noisy_rnn.noise_preference`, once per test sigma).

    Parameters
    ----------
    spec : CTRNNSpec
        The network (fits the batch's task).
    batch : TaskBatch
        The trials (``tasks.batch(env, n_trials, seed=seed)``).
    backend : str
        A registered backend name.
    noise : Noise
        The test noise, checked against ``spec`` (``spec.check_noise``).
    seed : int
        The evaluation seed; the noise draws use :func:`noise_seed` of it.
    keep_outputs : bool
        Also keep the outputs (T, B, n_out) and the batch in the result.
    **options : keyword arguments
        Passed to the backend.

    Returns
    -------
    EvaluationResult
        Pooled and per-trial metrics of ``batch.n_trials`` trials.
    """
    result = simulate(spec, batch.inputs, backend=backend, noise=noise, seed=noise_seed(seed),
                      **options)
    return EvaluationResult(
        metrics=metrics_module.task_metrics(result.outputs, batch),
        per_trial=metrics_module.per_trial_metrics(result.outputs, batch),
        n_trials=batch.n_trials, backend=backend, noise=noise, seed=seed,
        outputs=result.outputs if keep_outputs else None, batch=batch if keep_outputs else None)


@keeps_random_state
def evaluate(spec: CTRNNSpec, env: str | gym.Env, *, backend: str, noise: Noise | None = None,
             n_trials: int = _EVAL.n_trials, seed: int = _EVAL.seed, return_sem: bool = False,
             **options) -> dict | tuple[dict, dict]:
    """Task metrics of ``spec`` on ``n_trials`` trials of ``env``, simulated with ``backend``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network; its n_in, n_out and dt must fit the task.
    env : str, dict, TrialEnv or None
        A task id (made with the spec's dt; the id the network was trained on is built as
        it was trained, keywords and wrappers included), a NeuroGym TrialEnv (e.g.
        ``tasks.make``; one built otherwise than the training task of the same id warns),
        a :func:`~brian_noisy_rnn.tasks.task_construction` dict, or None for the task the
        network was trained on (see :func:`task_env`).
    backend : str
        The simulation backend (a name in :data:`~brian_noisy_rnn.backends.BACKENDS`), see
        :func:`brian_noisy_rnn.simulate`.
    noise : Noise or None
        The test noise (None: ``spec.noise``, the training noise).
    n_trials : int
        Number of trials, >= 1.
    seed : int
        In [0, 2**32). Seeds the trials (``tasks.batch(env, n_trials, seed=seed)``) and, through
        :func:`noise_seed`, the noise draws. Same seed: same trials and same draws on every
        backend and at every sigma.
    return_sem : bool
        Also return each metric's standard error over trials (what ``brian-noisy-rnn
        evaluate`` prints); default False keeps the plain dict.
    **options : keyword arguments
        Passed to the backend (e.g. ``target="cython"`` for brian2).

    Returns
    -------
    metrics : dict of str to float
        :func:`brian_noisy_rnn.tasks.metrics.task_metrics`: classification ``accuracy``,
        ``cross_entropy`` (+ ``trial_accuracy`` for mazes); regression ``mse``, ``nmse``.
        Pooled over all scored steps of all trials.
    sem : dict of str to float
        Only with ``return_sem=True``, then returned as ``(metrics, sem)``: the standard
        error of the mean of each metric's per-trial values (std with ddof=1 / sqrt(trials);
        :attr:`EvaluationResult.sems`). For the full per-trial values use
        :func:`evaluate_per_trial`.

    Examples
    --------
    >>> metrics, sem = evaluate(spec, "FunctionApproximation-v0", backend="numpy",
    ...                         n_trials=200, return_sem=True)  # doctest: +SKIP
    >>> print(f"mse = {metrics['mse']:.3g} +- {sem['mse']:.2g}")  # doctest: +SKIP

    Raises
    ------
    ValueError
        If the spec does not fit the task (n_in, n_out, dt; the message names ``spec``), the
        backend is unknown, n_trials < 1 or the seed is invalid; before anything is simulated.

    Notes
    -----
    numpy's global generator and Brian2's are left as found (also on error).
    """
    if not isinstance(return_sem, bool):
        raise TypeError(f"return_sem must be True or False, got {return_sem!r}")
    result = evaluate_per_trial(spec, env, backend=backend, noise=noise, n_trials=n_trials,
                                seed=seed, **options)
    return (result.metrics, result.sems) if return_sem else result.metrics
