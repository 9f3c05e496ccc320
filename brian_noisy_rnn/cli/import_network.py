"""``brian-noisy-rnn import``: read another toolkit's trained RNN, check it against the source's
own forward pass on every backend, and save it as a spec file."""

from . import _types


def add_parser(sub):
    """Register the ``import`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    from ..io.sources import SOURCES

    sources = "; ".join(f"{k}: {v.description}" for k, v in SOURCES.items())
    p = sub.add_parser(
        "import",
        help="import a trained RNN from nn4n, PsychRNN, NeuroGym, torch.nn.RNN, spikeRNN, Yang19",
        description="Import a network trained with another toolkit, measure its parity with the "
                    "source's own forward pass on numpy, torch and Brian2 (with and without "
                    f"noise) and save it as a spec file. Sources: {sources}. Values the file "
                    "does not hold must be given (an error names them).")
    p.add_argument("source", choices=sorted(SOURCES), help="the toolkit that wrote FILE")
    p.add_argument("file", help="the trained network's file (yang19: hp.json)")
    p.add_argument("--out", required=True, help="the spec file to write (.npz)")
    p.add_argument("--dt-ms", type=_types.pos_ms, default=None,
                   help="time step (psychrnn, ngym_usage, spikernn, torch_rnn; not saved there)")
    p.add_argument("--tau-ms", type=_types.pos_ms, default=None,
                   help="time constant (psychrnn; ngym_usage: default the class's 100 ms)")
    p.add_argument("--sigma", type=_types.nonneg_float, default=None,
                   help="noise amplitude in the source's convention (psychrnn: rec_noise, "
                        "ngym_usage: sigma_rec; 0 for none)")
    p.add_argument("--activation", default=None,
                   help="transfer function (psychrnn: relu for Basic, sigmoid for BasicSigmoid)")
    p.add_argument("--nonlinearity", default=None, help="torch_rnn: tanh or relu")
    p.add_argument("--variables", default=None,
                   help="yang19: .npz of the checkpoint's variables (see brian_noisy_rnn.io.yang19)")
    p.add_argument("--trust", action="store_true",
                   help="unpickle arbitrary objects from a PyTorch file (only for files you trust)")
    p.add_argument("--n-steps", type=_types.int1, default=50,
                   help="time steps of the parity check (default: %(default)s)")
    p.add_argument("--n-trials", type=_types.int1, default=4,
                   help="trials of the parity check (default: %(default)s)")
    p.add_argument("--seed", type=_types.seed, default=0,
                   help="seed of the parity inputs and noise (default: %(default)s)")
    p.add_argument("--tolerance", type=_types.pos_float, default=1e-10,
                   help="largest difference accepted before the spec is saved "
                        "(default: %(default)s)")
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
        0 when the parity is within ``--tolerance`` and the spec is written; 1 otherwise
        (nothing written).
    """
    from brian2 import ms

    from ..core.atomic import check_writable
    from ..io.parity import measure_parity, parity_inputs
    from ..io.sources import import_network

    check_writable(args.out, "--out")
    options = {"dt": None if args.dt_ms is None else args.dt_ms * ms,
               "tau": None if args.tau_ms is None else args.tau_ms * ms,
               "sigma": args.sigma, "activation": args.activation,
               "nonlinearity": args.nonlinearity, "variables": args.variables,
               "trust": args.trust}
    flags = {"dt": "--dt-ms", "tau": "--tau-ms", "sigma": "--sigma", "activation": "--activation",
             "nonlinearity": "--nonlinearity", "variables": "--variables", "trust": "--trust"}
    try:
        spec, reference = import_network(args.source, args.file, **options)
    except ValueError as err:  # name the flags, not the Python arguments
        message = str(err)
        for name, flag in flags.items():
            if message.startswith(f"{name} is required") or message.startswith(f"{name}:") \
                    or message.startswith(f"{name},"):
                message = flag + message[len(name):]
        raise ValueError(message) from None
    print(f"imported: {spec!r}")
    record = spec.metadata["imported"]
    print(f"conventions: {record['conventions']}")
    if record["given_by_caller"]:
        print(f"given on the command line (not in the file): {record['given_by_caller']}")
    for note in record["notes"]:
        print(f"note: {note}")
    report = measure_parity(spec, reference, parity_inputs(spec, args.n_steps, args.n_trials,
                                                           args.seed), seed=args.seed)
    for line in report.lines():
        print(line)
    if not report.worst() <= args.tolerance:
        print(f"parity {report.worst():.2e} exceeds --tolerance {args.tolerance:g}: "
              f"{args.out} not written")
        return 1
    spec.save(args.out)
    print(f"wrote {args.out} (parity within {args.tolerance:g})")
    return 0
