"""``brian-noisy-rnn demo``: the paper's noise-preference headline, measured in a few minutes."""

import os
import time

from . import _types
from ..bridges.training_config import TrainConfig
from ..evaluation.settings import EvalConfig
from ._arguments import (add_deprecated_alias, add_max_ensemble_argument, add_setting_argument,
                         csv_list as _csv)


def add_parser(sub):
    """Register the ``demo`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "demo",
        help="train noise-in / noise-out networks and measure their noise preference",
        description="Train CTRNNs with noise inside the activation (pre) and outside it (post) "
                    "on a task, sweep the test noise from 0 to twice the training noise in "
                    "PyTorch and in Brian2, print the headline table and write figures. "
                    "Rerunning into the same --out folder resumes.")
    p.add_argument("--task", default="FunctionApproximation-v0",
                   help="task id (default: %(default)s; see `brian-noisy-rnn tasks`)")
    p.add_argument("--out", default="brian-noisy-rnn-demo",
                   help="output folder (default: %(default)s)")
    p.add_argument("--n-seeds", type=_types.int1, default=3,
                   help="networks (seeds 0, 1, ...) per placement (default: 3)")
    p.add_argument("--placements", type=_csv, default=("pre", "post"),
                   help="comma-separated training placements (default: pre,post)")
    p.add_argument("--backends", type=_csv, default=("torch", "brian2"),
                   help="comma-separated sweep backends (default: torch,brian2)")
    p.add_argument("--sigma-train", type=_types.pos_float, default=None,
                   help="training noise sigma (default: the task's preset, 1.0)")
    add_setting_argument(p, TrainConfig, "steps", default=None,
                         default_note="the task's preset; 600 for FunctionApproximation")
    for name in ("n_hidden", "lr", "batch_size"):
        add_setting_argument(p, TrainConfig, name, default=None, default_note="preset")
    add_setting_argument(p, EvalConfig, "n_trials", default=None,
                         default_note="preset; 1000 for FunctionApproximation")
    p.add_argument("--brian2-n-trials", type=_types.int1, default=None,
                   help="test trials per sigma of the Brian2 sweeps (default: --n-trials)")
    add_setting_argument(p, EvalConfig, "target", default="numpy")
    add_setting_argument(p, EvalConfig, "n_sigmas")
    add_setting_argument(p, EvalConfig, "max_relative_sigma")
    p.add_argument("--dt-ms", type=_types.pos_ms, default=20.0,
                   help="time step in ms, or with a unit (e.g. 20ms; default: 20)")
    p.add_argument("--workers", type=_types.int1, default=None,
                   help="local worker processes (1 = this process, faster on a busy machine; "
                        "default: one per CPU)")
    add_max_ensemble_argument(p)
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_deprecated_alias(p, "--seeds", "--n-seeds", type=_types.int1)
    add_deprecated_alias(p, "--trials", "--n-trials", type=_types.int1)
    add_deprecated_alias(p, "--brian2-trials", "--brian2-n-trials", type=_types.int1)
    add_deprecated_alias(p, "--dt", "--dt-ms", type=_types.pos_ms)
    add_deprecated_alias(p, "--max-sigma", "--max-relative-sigma", type=_types.pos_float)
    p.set_defaults(func=run)


def run(args):
    """Run the subcommand.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of the subcommand.

    Returns
    -------
    int
        The process exit code.
    """
    from ..experiments.demo import demo_grid, run_demo

    t0 = time.perf_counter()
    if args.n_seeds < 1:
        raise ValueError(f"--n-seeds must be >= 1, got {args.n_seeds}")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    grid = demo_grid(args.task, seeds=args.n_seeds, placements=args.placements,
                     backends=args.backends, sigma_train=args.sigma_train, steps=args.steps,
                     n_hidden=args.n_hidden, lr=args.lr, batch_size=args.batch_size,
                     n_trials=args.n_trials, brian2_n_trials=args.brian2_n_trials, target=args.target,
                     max_relative_sigma=args.max_relative_sigma, n_sigmas=args.n_sigmas, dt_ms=args.dt_ms)
    st = grid.train_sigmas[0]
    print(f"demo: {grid.tasks[0]}, networks trained with noise {'/'.join(grid.placements)} "
          f"the activation at sigma = {st:g}, seeds {list(grid.seeds)}, "
          f"{grid.training['steps']} training steps each;")
    print(f"      test noise swept over {len(grid.relative_sigmas)} sigmas from 0 to "
          f"{max(grid.relative_sigmas) * st:g} on {', '.join(grid.backends)}; "
          f"results in {os.path.abspath(args.out)}")
    result = run_demo(args.out, grid, workers=args.workers, progress=not args.no_progress,
                      figures=not args.no_figures, max_ensemble=args.max_ensemble)
    for name in ("curves_png", "traces_png", "csv", "results"):
        if name in result.files:
            print(f"wrote {result.files[name]}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    return 0 if not result.report.failed else 1
