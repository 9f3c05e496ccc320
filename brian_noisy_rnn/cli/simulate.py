"""``brian-noisy-rnn simulate``: run a spec (or the built-in example) on several backends."""

import time

import numpy as np

from ._units import dimensionless


def add_parser(sub):
    """Register the ``simulate`` subcommand."""
    p = sub.add_parser(
        "simulate",
        help="run a network on numpy/torch/brian2 and compare the backends",
        description="Simulate a saved network (or the built-in example network) on several "
                    "backends with the same seed and report how closely they agree.")
    p.add_argument("spec", nargs="?", help="a spec .npz file (default: built-in example network)")
    p.add_argument("--backends", default="numpy,torch,brian2",
                   help="comma-separated backends (default: %(default)s)")
    p.add_argument("--target", default="numpy",
                   help="Brian2 code-generation target: numpy, cython or cpp_standalone")
    p.add_argument("--steps", type=int, default=100, help="time steps T (default: %(default)s)")
    p.add_argument("--trials", type=int, default=4, help="trials B (default: %(default)s)")
    p.add_argument("--placement", default=None, help="test noise placement (default: the spec's)")
    p.add_argument("--sigma", type=dimensionless, default=None, help="test noise sigma (default: the spec's)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default: %(default)s)")
    p.add_argument("--out", default=None, help="write outputs/states of the first backend to this .npz")
    p.set_defaults(func=run)


def run(args):
    """Run the subcommand; returns the exit code."""
    from ..core.examples import example_spec, step_input
    from ..core.noise import Noise
    from ..backends.simulation import check_backend, simulate
    from ..core.spec import CTRNNSpec

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        check_backend(b)
    if args.steps < 1 or args.trials < 1:
        raise ValueError("--steps and --trials must be >= 1")
    spec = CTRNNSpec.load(args.spec) if args.spec else example_spec()
    noise = spec.noise
    if args.placement is not None or args.sigma is not None:
        placement = args.placement or noise.placement
        sigma = noise.sigma_array if args.sigma is None else args.sigma
        noise = Noise(placement, sigma) if placement != noise.placement else noise.with_sigma(sigma)
    rng = np.random.default_rng(args.seed)
    if spec.n_in == 1:
        inputs = step_input(args.steps, args.trials)
    else:
        inputs = rng.uniform(-1, 1, size=(args.steps, args.trials, spec.n_in))
    print(f"network: {spec!r}")
    print(f"test noise: {noise!r}; inputs: T={args.steps}, B={args.trials}; seed={args.seed}")
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
