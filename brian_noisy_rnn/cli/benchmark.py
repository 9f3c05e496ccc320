"""``brian-noisy-rnn benchmark TARGET``: documented benchmark protocols; ``neurogym`` is the first.

``brian-noisy-rnn benchmark neurogym`` trains noise-in and noise-out networks on every
supervised NeuroGym task and reports, task by task, which test noise each prefers
(:mod:`brian_noisy_rnn.experiments.neurogym_benchmark` holds the protocol).
"""

import dataclasses
import os
import time

from . import _types
from ..bridges.training_config import TrainConfig
from ..evaluation.settings import EvalConfig
from ._arguments import add_deprecated_alias, add_setting_argument, csv_list


def add_parser(sub):
    """Register the ``benchmark`` subcommand and its targets.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "benchmark",
        help="run a documented benchmark protocol (targets: neurogym)",
        description="Run a documented benchmark protocol into a folder (resumable: rerunning "
                    "skips finished cells).")
    targets = p.add_subparsers(dest="target_name", metavar="TARGET")
    ng = targets.add_parser(
        "neurogym",
        help="noise inside vs outside f on every supervised NeuroGym task",
        description="Train networks with noise inside the activation (pre) and outside it "
                    "(post) on every supervised NeuroGym task (and Yang19Multitask-v0), at "
                    "two training sigmas and, for choice tasks, two losses; networks that "
                    "miss the learning criterion are trained again for --cap-steps. Sweep "
                    "their test noise and report per task decision-step accuracy and loss "
                    "beside NeuroGym performance (flagged where its scorer disagrees with the "
                    "decision steps), the preferred test sigma as a set (ties shown as ties) "
                    "and the paired difference metric(sigma_train) - metric(0). Writes "
                    "results.sqlite, benchmark.csv, curves.csv, table.md and heatmaps into "
                    "--out. See brian_noisy_rnn.experiments.neurogym_benchmark for the "
                    "protocol.")
    ng.add_argument("--quick", action="store_true",
                    help="the quick variant: 3 tasks and Yang19, 1 seed, 100 training steps (200 "
                         "for networks that miss the criterion; a few minutes)")
    ng.add_argument("--out", default="brian-noisy-rnn-benchmark-neurogym",
                    help="output folder (default: %(default)s)")
    ng.add_argument("--tasks", type=csv_list, default=None,
                    help="comma-separated task ids (default: every included task; --quick: 3)")
    ng.add_argument("--n-seeds", type=_types.int1, default=None,
                    help="networks (seeds 0, 1, ...) per task and placement (default: 3; "
                         "--quick: 1)")
    add_setting_argument(ng, TrainConfig, "steps", default=None,
                         help="optimisation steps of the first stage",
                         default_note="the protocol's")
    ng.add_argument("--cap-steps", type=_types.int0, default=None,
                    help="training steps of the second stage, for networks that missed the "
                         "criterion (0: no second stage; default: the protocol's)")
    ng.add_argument("--no-yang19", action="store_true",
                    help="leave out the Yang19Multitask-v0 networks and their sub-task table")
    ng.add_argument("--yang19-from", default=None, metavar="PATH",
                    help="also score the Yang19Multitask-v0 networks of another results "
                         "database per sub-task (a results.sqlite, or a folder holding one, "
                         "e.g. the reproduction's --out; read only)")
    add_setting_argument(ng, EvalConfig, "n_trials", default=None, default_note="the protocol's")
    ng.add_argument("--workers", type=_types.int1, default=None,
                    help="local worker processes (default: all CPUs; 1 = this process)")
    ng.add_argument("--scheduler", default=None,
                    help="address of a Dask scheduler (e.g. tcp://host:8786) instead of local "
                         "processes")
    ng.add_argument("--list", action="store_true",
                    help="list the included tasks (with their dt) and the excluded ones with "
                         "the reason, and exit")
    ng.add_argument("--report-only", action="store_true",
                    help="write the report from what --out already holds, without training")
    ng.add_argument("--no-figures", action="store_true", help="skip heatmap.png")
    add_deprecated_alias(ng, "--no-figure", "--no-figures", nargs=0)
    ng.add_argument("--no-progress", action="store_true", help="no progress bar")
    ng.set_defaults(func=run)
    p.set_defaults(func=_no_target, parser=p)


def _no_target(args):
    args.parser.print_help()
    return 2


def settings_from_args(args):
    """The benchmark settings the flags describe.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of ``benchmark neurogym``.

    Returns
    -------
    brian_noisy_rnn.experiments.neurogym_benchmark.BenchmarkSettings
        :data:`~brian_noisy_rnn.experiments.neurogym_benchmark.QUICK` with ``--quick``, else
        :data:`~brian_noisy_rnn.experiments.neurogym_benchmark.FULL`, with the given flags
        replacing its values.
    """
    from ..experiments.neurogym_benchmark import FULL, QUICK

    settings = QUICK if args.quick else FULL
    changes = {}
    if args.tasks is not None:
        if not args.tasks:
            raise ValueError("--tasks must name at least one task")
        changes["tasks"] = tuple(args.tasks)
    if args.n_seeds is not None:
        changes["seeds"] = tuple(range(args.n_seeds))
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.cap_steps is not None:
        changes["cap_steps"] = args.cap_steps
    if args.no_yang19:
        changes["yang19"] = False
    if args.n_trials is not None:
        changes["n_trials"] = args.n_trials
    return dataclasses.replace(settings, **changes)


def run(args):
    """Run ``benchmark neurogym``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of the subcommand.

    Returns
    -------
    int
        The process exit code (0 every cell done, 1 some failed).
    """
    from ..experiments.neurogym_benchmark import run_benchmark, select_tasks

    t0 = time.perf_counter()
    settings = settings_from_args(args)
    if args.list:
        included, excluded = select_tasks(max_dt_ms=settings.max_dt_ms)
        for task, dt in included.items():
            print(f"included  {task}  dt {dt:g} ms")
        for task, reason in excluded.items():
            print(f"excluded  {task}: {reason}")
        print(f"{len(included)} included, {len(excluded)} excluded")
        return 0
    if args.report_only and not os.path.isfile(os.path.join(args.out, "results.sqlite")):
        raise FileNotFoundError(f"--report-only: no results.sqlite in --out {args.out!r}")
    if args.yang19_from is not None and not (
            os.path.isfile(args.yang19_from)
            or os.path.isfile(os.path.join(args.yang19_from, "results.sqlite"))):
        raise FileNotFoundError(f"--yang19-from: no results database at {args.yang19_from!r}")
    result = run_benchmark(args.out, settings, workers=args.workers, scheduler=args.scheduler,
                           progress=not args.no_progress, figures=not args.no_figures,
                           run=not args.report_only, yang19_from=args.yang19_from)
    for name in ("table", "csv", "curves_csv", "figure", "results"):
        if name in result.files:
            print(f"wrote {result.files[name]}")
    print(f"benchmark finished in {time.perf_counter() - t0:.0f} s")
    return 0 if not any(r.failed for r in result.reports) else 1
