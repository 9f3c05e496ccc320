"""Evaluation: a trained network's task metrics on any backend, and its noise-preference curve.

- :func:`evaluate` / :func:`evaluate_per_trial` (:mod:`.scoring`) -- metrics over seeded
  trials, with common random numbers across backends and noise levels;
- :func:`noise_preference` (:mod:`.curves`) -- the metric as a function of test-noise sigma,
  a :class:`NoisePreferenceCurve` with the preferred sigma and paired differences.
"""

from .curves import NoisePreferenceCurve, noise_preference, sigma_grid, swept_noise
from .scoring import EvaluationResult, check_spec_for_task, evaluate, evaluate_per_trial, noise_seed

__all__ = ["EvaluationResult", "NoisePreferenceCurve", "check_spec_for_task", "evaluate",
           "evaluate_per_trial", "noise_preference", "noise_seed", "sigma_grid", "swept_noise"]
