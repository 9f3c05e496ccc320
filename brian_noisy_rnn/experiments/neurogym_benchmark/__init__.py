"""The NeuroGym benchmark: does noise placement change what a trained network prefers, task by task?

One protocol over every supervised NeuroGym task (``brian-noisy-rnn benchmark neurogym``):

1. **Tasks.** Every id of NeuroGym's own registry (``neurogym.envs.registration.all_envs(
   collections=True)``), minus those in :data:`EXCLUDED` / :data:`EXCLUDED_COLLECTIONS`
   (each with its reason) and minus any task whose trial batch or metrics fail at the chosen
   time step (the reason is the error; see :func:`select_tasks`).
2. **Time step.** ``dt = min(20 ms, the task's own default dt)``: 20 ms, the package's
   convention with ``tau = 100 ms`` (NeuroGym's own default of 100 ms would equal tau), except
   for tasks defined on a finer grid (PulseDecisionMaking's 10 ms pulses vanish at 20 ms).
3. **Networks.** For each task, networks with white noise inside the activation (``pre``)
   and outside it (``post``) at one training sigma (:data:`SIGMA_TRAIN`, 1.0: the size of the
   largest NeuroGym inputs, which are O(1), see ``docs/benchmarks/neurogym.md``), relu, one
   network per seed (at least 3 in the full protocol), trained with the task's own loss
   (masked cross-entropy, or MSE for continuous actions). The networks of a task are trained
   together as ensembles by :func:`~.runner.run_grid` (one :class:`~.config.Grid` per time
   step, built with :func:`~.config.grid_from_dict`), so the SQLite store, resume,
   ``--workers``, Dask and progress bars are the experiment runner's.
4. **Sweep.** Each network's test noise (its training placement) at
   :data:`RELATIVE_SIGMAS` times sigma_train on the same trials and noise draws (common
   random numbers), recording every metric of the task, NeuroGym's ``performance``
   included, and the paired differences ``metric(sigma) - metric(0)``.
5. **Report** (:func:`benchmark_rows`, from the store only): per task and placement the
   performance reached (at the training sigma), the chance level (:func:`chance_level`),
   whether the task was learned (:func:`is_learned`), the preferred test sigma on the trained
   loss and on performance, and the paired difference metric(sigma_train) - metric(0) with
   its standard error.

Modules: :mod:`.protocol` (settings, task selection, grids), :mod:`.chance` (chance levels
and the learned rule), :mod:`.report` (rows, table, headline, CSV, heatmap from the store),
:mod:`.run` (:func:`run_benchmark`).
"""

from .chance import LEARNED_FRACTION, SCORER_MARGIN, chance_level, is_learned, scorer_check
from .protocol import (EXCLUDED, EXCLUDED_COLLECTIONS, FULL, LOSSES, MAX_DT_MS, QUICK,
                       RELATIVE_SIGMAS, SIGMA_TRAIN, SIGMA_TRAINS, TEST_SIGMAS, YANG19_TASK,
                       BenchmarkSettings, StageGrid, benchmark_grids, network_id,
                       neurogym_task_ids, select_tasks, task_dt_ms, task_kind)
from .report import (CSV_COLUMNS, DIAGNOSTIC, TIE_SE, benchmark_rows, criterion_score,
                     decision_loss_name, failed_networks, format_benchmark_table, format_headline,
                     format_loss_comparison, format_missed, format_preferred_set, headline,
                     missed_for_stage2, passes, plot_benchmark_heatmap, preference_verdict,
                     rows_to_csv, select_networks, trained_loss)
from .run import BenchmarkResult, run_benchmark
from .yang19 import format_yang19_table, score_yang19, yang19_batch

__all__ = ["BenchmarkResult", "BenchmarkSettings", "CSV_COLUMNS", "DIAGNOSTIC", "EXCLUDED",
           "EXCLUDED_COLLECTIONS", "FULL", "LEARNED_FRACTION", "LOSSES", "MAX_DT_MS", "QUICK",
           "RELATIVE_SIGMAS", "SCORER_MARGIN", "SIGMA_TRAIN", "SIGMA_TRAINS", "StageGrid",
           "TEST_SIGMAS", "TIE_SE", "YANG19_TASK", "benchmark_grids", "benchmark_rows",
           "chance_level", "criterion_score", "decision_loss_name", "failed_networks",
           "format_benchmark_table",
           "format_headline", "format_loss_comparison", "format_missed", "format_preferred_set",
           "format_yang19_table",
           "headline", "is_learned", "missed_for_stage2", "network_id", "neurogym_task_ids",
           "passes", "plot_benchmark_heatmap", "preference_verdict", "rows_to_csv",
           "run_benchmark", "score_yang19", "scorer_check", "select_networks", "select_tasks",
           "task_dt_ms", "task_kind", "trained_loss", "yang19_batch"]
