"""Tasks as NeuroGym ``TrialEnv`` classes, and padded, masked batches of whole trials.

- :func:`make` creates this package's tasks and any NeuroGym task by id, with ``dt`` in ms
  or as a Brian2 quantity; :func:`list_tasks` lists the ids (ours first).
- :func:`make` without ``dt`` uses the task's own default time step, like ``neurogym.make``.
- :func:`batch` turns ``n_trials`` seeded trials into a time-major :class:`TaskBatch`
  (inputs (T, B, n_in), targets, masks (T, B)); metrics are in :mod:`brian_noisy_rnn.tasks.metrics`,
  NeuroGym's own ``performance`` in :mod:`brian_noisy_rnn.tasks.performance`. Step-level
  NeuroGym wrappers are refused there (:mod:`brian_noisy_rnn.tasks.wrappers`) and played
  step by step by :class:`SteppedTrials` (:mod:`brian_noisy_rnn.tasks.stepping`).

Our tasks (ids): ``FunctionApproximation-v0``, ``SingleNeuronRegulator-v0``,
``MazeNavigation-v0`` (and ``MazeNavigationClosedLoop-v0``, the same trials played in
closed loop), ``PathIntegration2D-v0``, ``Yang19Multitask-v0``. Each class has
``task_kind`` ("regression" or "classification") and a docstring giving inputs, targets,
timing and metric.
"""

try:
    import neurogym  # noqa: F401  (NeuroGym imports torch as well)
except ModuleNotFoundError as exc:
    if exc.name != "neurogym":  # e.g. torch, which neurogym imports
        raise
    raise ImportError(
        "brian_noisy_rnn.tasks needs NeuroGym, which is not installed (the Brian2 side -- "
        "spec, simulate, RateCTRNN, SpikingRealization, the torch bridge -- works without it). "
        "With Brian2 <= 2.10: pip install 'brian-noisy-rnn[tasks]'. With Brian2 >= 2.11 "
        "(numpy >= 2.3, which every neurogym 2.x's numpy==2.2.* pin excludes): "
        "pip install --no-deps neurogym==2.3.1 gymnasium==0.29.1 && pip install "
        "pydantic-settings loguru tomlkit natsort cloudpickle farama-notifications"
    ) from exc


from ._base import TASK_KINDS, TaskEnv, as_dt_ms, core_of
from . import metrics, performance, wrappers
from .batching import TaskBatch, TorchBatch, batch
from .construction import construction_differences, make_from_construction, task_construction
from .function_approximation import FunctionApproximation
from .maze_navigation import ClosedLoopMazeNavigation, MazeNavigation, generate_maze
from .multitask import YANG19_TASKS, Yang19Multitask
from .path_integration import PathIntegration2D
from .registry import TASKS, as_task, list_tasks, make, sample_task, task_name
from .single_neuron_regulator import SingleNeuronRegulator
from .stepping import SteppedTrials, copy_env

__all__ = [
    "TASKS",
    "TASK_KINDS",
    "YANG19_TASKS",
    "ClosedLoopMazeNavigation",
    "FunctionApproximation",
    "MazeNavigation",
    "PathIntegration2D",
    "SingleNeuronRegulator",
    "SteppedTrials",
    "TaskBatch",
    "TaskEnv",
    "TorchBatch",
    "Yang19Multitask",
    "as_dt_ms",
    "as_task",
    "core_of",
    "batch",
    "construction_differences",
    "copy_env",
    "generate_maze",
    "list_tasks",
    "metrics",
    "performance",
    "wrappers",
    "make",
    "make_from_construction",
    "sample_task",
    "task_construction",
    "task_name",
]
