"""The ``brian-noisy-rnn`` command line.

Each subcommand lives in its own module of this package and provides
``add_parser(subparsers)`` (registering itself, with ``set_defaults(func=run)``) and
``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .._threads import prefer_one_thread

# subcommand modules, in the order ``--help`` lists them (module noise_preference is the
# subcommand noise-preference)
SUBCOMMANDS = ("demo", "simulate", "tasks", "train", "evaluate", "noise_preference",
               "experiment", "results", "analyze", "benchmark", "reproduce", "import_network")


#: errors that describe bad input or a refused file: one line and exit code 2; any other
#: exception is a bug and keeps its traceback
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, PermissionError, IsADirectoryError,
               NotADirectoryError)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with every available subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The ``brian-noisy-rnn`` parser; subcommands whose module is not built into this
        version are left out.
    """
    parser = argparse.ArgumentParser(
        prog="brian-noisy-rnn",
        description="Noisy continuous-time rate RNNs: train in PyTorch, run in Brian2, "
                    "measure noise preference.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{name}":
                continue  # subcommand not built into this version
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code.

    Parameters
    ----------
    argv : list of str or None
        The command-line arguments after the program name; None: ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 for a usage or user error (printed to stderr), 130 when
        interrupted; otherwise what the subcommand returns.

    Notes
    -----
    When numpy and torch are not loaded yet (a command-line run), numpy's BLAS, MKL and
    OpenMP get one thread each unless ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or
    ``MKL_NUM_THREADS`` is set (:mod:`brian_noisy_rnn._threads`): the products here are small,
    and extra threads only compete with each other and with the worker processes.
    """
    prefer_one_thread()  # before parsing: parsing units loads numpy
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a flag argparse refused (code 2)
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; finished results are kept", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        print(f"brian-noisy-rnn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        if "pip install" not in str(err):  # a missing optional extra names its install command
            raise
        print(f"brian-noisy-rnn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
