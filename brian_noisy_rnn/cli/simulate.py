"""``brian-noisy-rnn simulate``: run a spec (or the built-in example) on several backends."""

import time

import numpy as np

from . import _types
from ._arguments import add_deprecated_alias, add_noise_arguments, noise_from_args


def add_parser(sub):
    """Register the ``simulate`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "simulate",
        help="run a network on numpy/torch/brian2 and compare the backends",
        description="Simulate a saved network (or the built-in example network) on several "
                    "backends with the same seed and report how closely they agree.")
    p.add_argument("spec", nargs="?", help="a spec .npz file (default: built-in example network)")
    p.add_argument("--backends", default="numpy,torch,brian2",
                   help="comma-separated backends (default: %(default)s)")
    p.add_argument("--target", default=None,
                   help="Brian2 code-generation target: numpy (default), cython or cpp_standalone")
    p.add_argument("--n-steps", type=_types.int1, default=100, help="time steps T (default: %(default)s)")
    p.add_argument("--n-trials", type=_types.int1, default=4, help="trials B (default: %(default)s)")
    add_noise_arguments(p, None)
    p.add_argument("--seed", type=_types.seed, default=0, help="noise seed (default: %(default)s)")
    p.add_argument("--out", default=None, help="write outputs/states of the first backend to this .npz")
    add_deprecated_alias(p, "--steps", "--n-steps", type=_types.int1)
    add_deprecated_alias(p, "--trials", "--n-trials", type=_types.int1)
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
    from ..core.examples import example_spec, step_input
    from ..backends.simulation import check_backend, check_backend_options, check_memory, simulate
    from ..core.spec import CTRNNSpec

    from ..core.atomic import atomic_write, check_writable

    backends = [b.strip() for b in args.backends.split(",")]
    if not all(backends):
        raise ValueError(f"--backends must be a comma-separated list of backend names, "
                         f"got {args.backends!r}")
    for b in backends:
        try:
            check_backend(b)
        except ValueError as err:
            raise ValueError(f"--backends: {err}") from None
    if args.target is not None and not any(b.startswith("brian2") for b in backends):
        raise ValueError(f"--target is only used with brian2 backends, not with {backends}")
    target = args.target or "numpy"
    for b in backends:  # before any backend runs
        if b.startswith("brian2"):
            check_backend_options(b, {"target": target}, name="--target")
    if args.out:
        check_writable(args.out, "--out")
    spec = CTRNNSpec.load(args.spec) if args.spec else example_spec()
    noise = noise_from_args(args, base=spec.noise)
    check_memory(spec, (args.n_steps, args.n_trials, spec.n_in), noise, name="--n-steps x --n-trials")
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
        options = {"target": target} if b.startswith("brian2") else {}
        t0 = time.perf_counter()
        res = simulate(spec, inputs, backend=b, noise=noise, seed=args.seed, **options)
        elapsed = time.perf_counter() - t0
        if reference is None:
            reference = res
            if args.out:
                with atomic_write(args.out, suffix=".npz", name="--out") as f:
                    np.savez(f, outputs=res.outputs, states=res.states, inputs=inputs)
        diff = float(np.max(np.abs(res.outputs - reference.outputs)))
        label = f"{b}[{target}]" if b.startswith("brian2") else b
        print(f"{label:<16}{elapsed:>10.3f}{res.outputs[-1].mean():>12.5f}{diff:>22.3e}")
    return 0
