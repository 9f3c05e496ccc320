"""``brian-noisy-rnn train``: train a network on a task and save it as a spec file."""

import os

from . import _types
from ..bridges.training_config import TrainConfig
from ..evaluation.settings import EvalConfig
from ._arguments import (add_deprecated_alias, add_noise_arguments, add_setting_argument,
                         add_task_kwargs_argument, noise_from_args, task_kwargs_from_args)
from ._json import json_dumps

__all__ = ["add_parser", "run"]


def add_parser(sub):
    """Register the ``train`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "train",
        help="train a CTRNN on a task (PyTorch) and save it as a spec file",
        description="Train a noisy CTRNN with Adam/BPTT on a task and write the network as a "
                    "spec .npz file. Progress is checkpointed: after Ctrl-C or a crash, the same "
                    "command resumes where training stopped.")
    p.add_argument("--task", required=True, help="task id (see: brian-noisy-rnn tasks)")
    add_task_kwargs_argument(p)
    add_noise_arguments(p, "none")
    train_flags = {"activation": {}, "n_hidden": {"default": 32},
                   "tau": {"default": 100.0}, "dt_ms": None,
                   "steps": {}, "batch_size": {}, "lr": {}, "seed": {"default": 0},
                   "grad_clip": {"help": "gradient norm limit; 0 disables"}, "bias_init": {},
                   "trial_pool": {}, "log_every": {}}
    for name, options in train_flags.items():
        if name == "dt_ms":  # the task's time step, not a training setting
            p.add_argument("--dt-ms", type=_types.pos_ms, default=20.0, help="time step in ms, or with a unit (e.g. 20ms; default: %(default)s)")
        else:
            add_setting_argument(p, TrainConfig, name, **options)
    p.add_argument("--checkpoint-every", type=_types.int1, default=100, help="steps between checkpoints (default: %(default)s)")
    p.add_argument("--out", required=True, help="spec file to write (.npz)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (default: OUT with suffix .ckpt.pt); resumed if it exists")
    p.add_argument("--no-checkpoint", action="store_true", help="do not write a checkpoint")
    p.add_argument("--num-threads", type=_types.int1, default=1,
                   help="torch threads while training (default: %(default)s, fastest for small networks)")
    add_setting_argument(p, EvalConfig, "n_trials", flag="--n-eval-trials", default=500,
                         type=_types.int0, help="fresh test trials of the final evaluation; 0 skips it")
    add_deprecated_alias(p, "--threads", "--num-threads", type=_types.int1)
    add_deprecated_alias(p, "--eval-trials", "--n-eval-trials", type=_types.int0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.set_defaults(func=run)


def run(args):
    """Train, save the spec, print the final metrics.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of the subcommand.

    Returns
    -------
    int
        The process exit code.
    """
    from brian2 import ms

    from ..tasks import make

    from ..core.atomic import check_distinct, check_writable

    # every output is checked before training starts, so no trained network is lost
    check_writable(args.out, "--out")
    if args.no_checkpoint and args.checkpoint is not None:
        raise ValueError("--checkpoint and --no-checkpoint contradict each other; give one")
    checkpoint = None
    if not args.no_checkpoint:
        checkpoint = args.checkpoint or os.path.splitext(args.out)[0] + ".ckpt.pt"
        check_writable(checkpoint, "--checkpoint")
        check_distinct({"--out": args.out, "--checkpoint": checkpoint})
    noise = noise_from_args(args)
    env = make(args.task, dt=args.dt_ms, **task_kwargs_from_args(args))
    from ..bridges.training import train

    try:
        result = train(env, n_hidden=args.n_hidden, noise=noise, activation=args.activation,
                       tau=args.tau_ms * ms, steps=args.steps, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, checkpoint=checkpoint,
                       grad_clip=args.grad_clip if args.grad_clip > 0 else None,
                       bias_init=args.bias_init, trial_pool=args.trial_pool,
                       log_every=args.log_every, checkpoint_every=args.checkpoint_every,
                       progress=not args.no_progress, num_threads=args.num_threads)
    except FloatingPointError as err:  # diverged: the message names --lr / --grad-clip
        raise ValueError(f"training diverged: {err}") from err
    path = result.spec.save(args.out)
    report = {"out": path, "checkpoint": checkpoint, "task": args.task, "steps": result.steps,
              "train_seconds": round(result.elapsed, 2), "noise": noise.to_dict(),
              "final_training_batch": result.history.final()}
    if args.n_eval_trials:
        from ..evaluation.scoring import evaluate

        report["evaluation"] = evaluate(result.spec, env, backend="torch",
                                        n_trials=args.n_eval_trials, seed=args.seed)
    if args.json:
        print(json_dumps(report))
        return 0
    print(f"trained {result.spec!r}")
    print(f"  {result.steps} steps in {result.elapsed:.1f} s; spec written to {path}"
          + (f"; checkpoint {checkpoint}" if checkpoint else ""))
    final = result.history.final()
    print("  last training batch: " + ", ".join(
        f"{k}={v:.4g}" for k, v in final.items() if k not in ("step", "elapsed_s")))
    if "evaluation" in report:
        print(f"  {args.n_eval_trials} fresh trials (torch, training noise): " + ", ".join(
            f"{k}={v:.4g}" for k, v in report["evaluation"].items()))
    return 0
