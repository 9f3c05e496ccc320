"""``brian-noisy-rnn train``: train a network on a task and save it as a spec file."""

import json
import os

from ._units import dimensionless, milliseconds


def add_noise_arguments(p, default_placement):
    """The noise flags shared by ``train`` (training noise) and ``evaluate`` (test noise)."""
    p.add_argument("--placement", default=default_placement,
                   choices=("none", "pre", "post", "state"),
                   help="where the noise enters: inside f (pre), outside f (post), on the state "
                        "(state) or nowhere (none)"
                        + ("" if default_placement is None else " (default: %(default)s)"))
    p.add_argument("--sigma", type=dimensionless, default=None,
                   help="noise amplitude sigma >= 0 (dimensionless, per step)")
    p.add_argument("--process", default=None, choices=("white", "ou", "poisson"),
                   help="noise process (default: white)")
    p.add_argument("--tau-noise-ms", type=milliseconds, default=None,
                   help="correlation time of OU noise in ms, or with a unit (e.g. 50ms; required "
                        "with --process ou)")


def noise_from_args(args, base=None):
    """The :class:`Noise` the flags describe; unset flags fall back to ``base`` (a Noise) or defaults.

    Raises ValueError naming the flag for sigma > 0 without a noise placement.
    """
    from brian2 import ms

    from ..core.noise import Noise

    placement = args.placement or (base.placement if base is not None else "none")
    same = base is not None and placement == base.placement
    sigma = args.sigma if args.sigma is not None else (base.sigma_array if same else 0.0)
    process = args.process or (base.process if same else "white")
    if args.tau_noise_ms is not None:
        tau_noise = args.tau_noise_ms * ms
    else:
        tau_noise = base.tau_noise if same and process == base.process else None
    if placement == "none" and args.sigma is not None and args.sigma != 0:
        raise ValueError(f"--sigma {args.sigma} needs a noise placement: pass --placement "
                         "pre, post or state")
    if placement == "none":
        return Noise("none")
    return Noise(placement, sigma, process=process, tau_noise=tau_noise)


def add_parser(sub):
    """Register the ``train`` subcommand."""
    p = sub.add_parser(
        "train",
        help="train a CTRNN on a task (PyTorch) and save it as a spec file",
        description="Train a noisy CTRNN with Adam/BPTT on a task and write the network as a "
                    "spec .npz file. Progress is checkpointed: after Ctrl-C or a crash, the same "
                    "command resumes where training stopped.")
    p.add_argument("--task", required=True, help="task id (see: brian-noisy-rnn tasks)")
    add_noise_arguments(p, "none")
    p.add_argument("--activation", default="relu", help="activation function (default: %(default)s)")
    p.add_argument("--n-hidden", type=int, default=32, help="hidden units (default: %(default)s)")
    p.add_argument("--tau-ms", type=milliseconds, default=100.0, help="time constant in ms, or with a unit (e.g. 0.1second; default: %(default)s)")
    p.add_argument("--dt-ms", type=milliseconds, default=20.0, help="time step in ms, or with a unit (e.g. 20ms; default: %(default)s)")
    p.add_argument("--steps", type=int, default=2000, help="optimisation steps (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="trials per step (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, trials and noise (default: %(default)s)")
    p.add_argument("--grad-clip", type=float, default=1.0, help="gradient norm limit; 0 disables (default: %(default)s)")
    p.add_argument("--bias-init", type=float, default=0.0,
                   help="initial hidden bias (e.g. 0.5 for a single relu unit; default: %(default)s)")
    p.add_argument("--trial-pool", type=int, default=None,
                   help="sample batches from a fixed pool of this many trials (fast for slow task generators)")
    p.add_argument("--log-every", type=int, default=50, help="steps between log entries (default: %(default)s)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints (default: %(default)s)")
    p.add_argument("--out", required=True, help="spec file to write (.npz)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (default: OUT with suffix .ckpt.pt); resumed if it exists")
    p.add_argument("--no-checkpoint", action="store_true", help="do not write a checkpoint")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads while training (default: %(default)s, fastest for small networks)")
    p.add_argument("--eval-trials", type=int, default=500,
                   help="fresh trials for the final evaluation; 0 skips it (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.set_defaults(func=run)


def run(args):
    """Train, save the spec, print the final metrics; returns the exit code."""
    from brian2 import ms

    from ..tasks import make

    if os.path.isdir(args.out):
        raise ValueError(f"--out {args.out!r} is a directory; give a file name such as net.npz")
    if args.eval_trials < 0:
        raise ValueError(f"--eval-trials must be >= 0, got {args.eval_trials}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    noise = noise_from_args(args)
    env = make(args.task, dt=args.dt_ms)
    checkpoint = None
    if not args.no_checkpoint:
        checkpoint = args.checkpoint or os.path.splitext(args.out)[0] + ".ckpt.pt"
    from ..bridges.training import train

    result = train(env, n_hidden=args.n_hidden, noise=noise, activation=args.activation,
                   tau=args.tau_ms * ms, steps=args.steps, batch_size=args.batch_size,
                   lr=args.lr, seed=args.seed, checkpoint=checkpoint,
                   grad_clip=args.grad_clip if args.grad_clip > 0 else None,
                   bias_init=args.bias_init, trial_pool=args.trial_pool,
                   log_every=args.log_every, checkpoint_every=args.checkpoint_every,
                   progress=not args.no_progress, num_threads=args.threads)
    path = result.spec.save(args.out)
    report = {"out": path, "checkpoint": checkpoint, "task": args.task, "steps": result.steps,
              "train_seconds": round(result.elapsed, 2), "noise": noise.to_dict(),
              "final_training_batch": result.history.final()}
    if args.eval_trials:
        from ..evaluation.scoring import evaluate

        report["evaluation"] = evaluate(result.spec, env, backend="torch",
                                        n_trials=args.eval_trials, seed=args.seed)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"trained {result.spec!r}")
    print(f"  {result.steps} steps in {result.elapsed:.1f} s; spec written to {path}"
          + (f"; checkpoint {checkpoint}" if checkpoint else ""))
    final = result.history.final()
    print("  last training batch: " + ", ".join(
        f"{k}={v:.4g}" for k, v in final.items() if k not in ("step", "elapsed_s")))
    if "evaluation" in report:
        print(f"  {args.eval_trials} fresh trials (torch, training noise): " + ", ".join(
            f"{k}={v:.4g}" for k, v in report["evaluation"].items()))
    return 0
