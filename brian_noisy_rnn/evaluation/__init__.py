"""Evaluation: a trained network's task metrics on any backend, and its noise-preference curve.

- :func:`evaluate` / :func:`evaluate_per_trial` (:mod:`.scoring`) -- metrics over seeded
  trials, with common random numbers across backends and noise levels;
- :func:`closed_loop` / :func:`play` (:mod:`.closed_loop`) -- NeuroGym's performance with the
  network acting step by step in the real, wrapped environments (numpy, torch, Brian2), and
  :func:`closed_loop_noise_preference`, its noise-preference curve (e.g. goal reached on
  ``MazeNavigationClosedLoop-v0``);
- :func:`noise_preference` (:mod:`.curves`) -- the metric as a function of test-noise sigma,
  a :class:`NoisePreferenceCurve` with the preferred sigma and paired differences;
- :func:`feedforward_noise_preference` (:mod:`.feedforward`) -- the same curve for a
  feedforward network (:class:`~brian_noisy_rnn.core.feedforward.FeedforwardSpec`);
- :class:`EvalConfig` (:mod:`.settings`) -- the evaluation settings (trials, seed, backend,
  sweep) declared once, from which the command line's flags derive.
"""

from .closed_loop import ClosedLoopResult, closed_loop, closed_loop_noise_preference, play
from .feedforward import feedforward_noise_preference
from .curves import NoisePreferenceCurve, noise_preference, sigma_grid, swept_noise
from .scoring import (EvaluationResult, check_spec_for_task, evaluate, evaluate_batch,
                      evaluate_per_trial, noise_seed)
from .settings import EvalConfig

__all__ = ["ClosedLoopResult", "EvalConfig", "EvaluationResult", "closed_loop", "closed_loop_noise_preference", "play", "NoisePreferenceCurve", "check_spec_for_task", "evaluate",
           "evaluate_batch", "evaluate_per_trial", "feedforward_noise_preference", "noise_preference", "noise_seed", "sigma_grid", "swept_noise"]
