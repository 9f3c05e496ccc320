"""``brian-noisy-rnn evaluate``: task metrics of a saved network on a chosen backend."""

import time

import numpy as np

from ..evaluation.settings import EvalConfig
from ._arguments import (add_noise_arguments, add_setting_argument, add_task_kwargs_argument,
                         noise_from_args, target_options, task_from_args)
from ._json import json_dumps


def add_parser(sub):
    """Register the ``evaluate`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "evaluate",
        help="task metrics of a saved network on numpy/torch/brian2",
        description="Simulate a saved network on fresh trials of a task with a chosen backend "
                    "and test noise, and print the task's metrics (mean and standard error "
                    "over trials).")
    p.add_argument("spec", help="spec .npz file (e.g. written by brian-noisy-rnn train)")
    p.add_argument("--task", default=None,
                   help="task id (default: the task the network was trained on, rebuilt with "
                        "the keywords and wrappers it was trained with, from its metadata)")
    add_task_kwargs_argument(p)
    add_setting_argument(p, EvalConfig, "backend")
    add_setting_argument(p, EvalConfig, "target")
    add_noise_arguments(p, None)
    add_setting_argument(p, EvalConfig, "n_trials")
    add_setting_argument(p, EvalConfig, "seed")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args):
    """Evaluate and print the metrics.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of the subcommand.

    Returns
    -------
    int
        The process exit code.
    """
    from ..evaluation.scoring import evaluate_per_trial
    from ..backends.simulation import check_backend
    from ..core.spec import CTRNNSpec
    from ..tasks import task_name

    check_backend(args.backend)
    spec = CTRNNSpec.load(args.spec)
    env = task_from_args(args, spec, args.spec)
    task = env if isinstance(env, str) else task_name(env)
    noise = noise_from_args(args, base=spec.noise)
    options = target_options(args)
    t0 = time.perf_counter()
    res = evaluate_per_trial(spec, env, backend=args.backend, noise=noise,
                             n_trials=args.n_trials, seed=args.seed, **options)
    elapsed = time.perf_counter() - t0
    sem = res.sems
    if args.json:
        print(json_dumps({"spec": args.spec, "task": task, "backend": args.backend,
                          "noise": noise.to_dict(), "n_trials": res.n_trials, "seed": args.seed,
                          "metrics": res.metrics, "sem": sem, "seconds": elapsed}))
        return 0
    print(f"network: {spec!r}")
    print(f"task {task}; backend {args.backend}; test noise {noise!r}; "
          f"{res.n_trials} trials, seed {args.seed}; {elapsed:.2f} s")
    for k, v in res.metrics.items():
        print(f"  {k:<16}{v:>12.5g}  (s.e.m. over trials {sem[k]:.2g})")
    return 0
