"""``brian-noisy-rnn reproduce``: every claim of the paper the package can test, with a report."""

import os
import shlex
import sys

from . import _types


def add_parser(sub):
    """Register the ``reproduce`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "reproduce",
        help="reproduce the paper's claims (C1-C5 and compensation) and write a report",
        description="Train and sweep the networks of every claim of Eckstein & Srinivasan "
                    "(2026) the package can test (five task families, training-noise levels, "
                    "feedforward networks, the mechanism, other noise processes, the "
                    "compensated network, Brian2 against PyTorch), and write report.md, its "
                    "figures and CSVs into --out. Rerunning into the same folder resumes.")
    p.add_argument("--quick", action="store_true",
                   help="reduced protocol (one seed, short training, fewer trials): the same "
                        "sections in a few minutes")
    p.add_argument("--out", default="brian-noisy-rnn-reproduction",
                   help="output folder (default: %(default)s)")
    p.add_argument("--workers", type=_types.int1, default=None,
                   help="local worker processes (default: all CPUs; 1 = this process)")
    p.add_argument("--scheduler", default=None,
                   help="address of a Dask scheduler (e.g. tcp://host:8786) for the grids")
    p.add_argument("--report-only", action="store_true",
                   help="only rebuild the report from what --out already holds (runs nothing; "
                        "missing parts show as 'not run')")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
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
        The process exit code (0 when everything ran, 1 when some cell or analysis failed).
    """
    from ..experiments.reproduction import run_reproduction

    if args.workers is not None and args.scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    command = "brian-noisy-rnn " + " ".join(shlex.quote(a) for a in sys.argv[1:]) \
        if sys.argv and sys.argv[0].endswith(("brian-noisy-rnn", "__main__.py")) else None
    result = run_reproduction(args.out, quick=args.quick, workers=args.workers,
                              scheduler=args.scheduler, progress=not args.no_progress,
                              command=command, compute=not args.report_only)
    print(f"wrote {result.files['report']}")
    counts = {}
    for (claim, column), v in result.verdicts.items():
        if claim in ("C1", "C2", "C3", "C4", "C5", "compensation"):
            counts[v.label] = counts.get(v.label, 0) + 1
    print("verdicts: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    print(f"run took {result.wall:.0f} s wall, {result.cpu:.0f} s CPU; results in "
          f"{os.path.dirname(result.files['report'])}")
    return 0 if not result.failed else 1
