"""``brian-noisy-rnn simulate``: run a spec (or the built-in example) on several backends."""

import time

import numpy as np

from ._arguments import add_deprecated_alias, add_noise_arguments, csv_list, noise_from_args


def add_parser(sub):
    """Register the ``simulate`` subcommand."""
    p = sub.add_parser(
        "simulate",
        help="run a network on numpy/torch/brian2 and compare the backends",
        description="Simulate a saved network (or the built-in example network) on several "
                    "backends with the same seed and report how closely they agree.")
    p.add_argument("spec", nargs="?", help="a spec .npz file (default: built-in example network)")
    p.add_argument("--backends", type=csv_list, default=("numpy", "torch", "brian2"),
                   help="comma-separated backends (default: numpy,torch,brian2)")
    p.add_argument("--target", default="numpy",
                   help="Brian2 code-generation target: numpy, cython or cpp_standalone")
    p.add_argument("--n-steps", type=int, default=100, help="time steps T (default: %(default)s)")
    p.add_argument("--n-trials", type=int, default=4, help="trials B (default: %(default)s)")
    add_noise_arguments(p, None)
    p.add_argument("--seed", type=int, default=0, help="noise seed (default: %(default)s)")
    p.add_argument("--out", default=None, help="write outputs/states of the first backend to this .npz")
    add_deprecated_alias(p, "--steps", "--n-steps", type=int)
    add_deprecated_alias(p, "--trials", "--n-trials", type=int)
    p.set_defaults(func=run)


def run(args):
    """Run the subcommand; returns the exit code."""
    from ..core.examples import example_spec, step_input
    from ..backends.simulation import check_backend, simulate
    from ..core.spec import CTRNNSpec

    backends = list(args.backends)
    if not backends:
        raise ValueError("--backends must name at least one backend")
    for b in backends:
        check_backend(b)
    if args.n_steps < 1 or args.n_trials < 1:
        raise ValueError("--n-steps and --n-trials must be >= 1")
    spec = CTRNNSpec.load(args.spec) if args.spec else example_spec()
    noise = noise_from_args(args, base=spec.noise)
    rng = np.random.default_rng(args.seed)
    if spec.n_in == 1:
        inputs = step_input(args.n_steps, args.n_trials)
    else:
        inputs = rng.uniform(-1, 1, size=(args.n_steps, args.n_trials, spec.n_in))
    print(f"network: {spec!r}")
    print(f"test noise: {noise!r}; inputs: T={args.n_steps}, B={args.n_trials}; seed={args.seed}")
    print(f"{'backend':<16}{'time [s]':>10}{'mean z(T)':>12}{'max|dz| vs ' + backends[0]:>22}")
    reference = None
    for b in backends:
        options = {"target": args.target} if b.startswith("brian2") else {}
        t0 = time.perf_counter()
        res = simulate(spec, inputs, backend=b, noise=noise, seed=args.seed, **options)
        elapsed = time.perf_counter() - t0
        if reference is None:
            reference = res
            if args.out:
                np.savez(args.out, outputs=res.outputs, states=res.states, inputs=inputs)
        diff = float(np.max(np.abs(res.outputs - reference.outputs)))
        label = f"{b}[{args.target}]" if b.startswith("brian2") else b
        print(f"{label:<16}{elapsed:>10.3f}{res.outputs[-1].mean():>12.5f}{diff:>22.3e}")
    return 0
