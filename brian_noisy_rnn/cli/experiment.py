"""``brian-noisy-rnn experiment``: run a TOML grid into an SQLite results database."""

from . import _types
from ._arguments import add_max_ensemble_argument


def add_parser(sub):
    """Register the ``experiment`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "experiment",
        help="run a grid of trainings and test-noise sweeps (resumable)",
        description="Train every cell's network of a TOML grid, sweep its test noise and record "
                    "each finished cell in an SQLite database. Rerunning skips finished cells. "
                    "See brian_noisy_rnn.experiments.config for the grid format.")
    p.add_argument("grid", help="grid TOML file")
    p.add_argument("--results", required=True, help="SQLite results database (created if missing)")
    p.add_argument("--workers", type=_types.int1, default=None,
                   help="local worker processes (default: all CPUs; 1 = run in this process)")
    p.add_argument("--scheduler", default=None,
                   help="address of a Dask scheduler (e.g. tcp://host:8786): run the cells on "
                        "that cluster instead of local processes")
    add_max_ensemble_argument(p)
    p.add_argument("--spec-dir", default=None,
                   help="folder for the trained networks (default: <results>_specs/)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the grid and list its cells without running anything")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
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
        The process exit code (0 all cells done, 1 some failed).
    """
    import os

    from ..experiments import ResultStore, format_table, load_grid, run_grid, summarize

    grid = load_grid(args.grid)  # validates every key before anything runs
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    cells = grid.cells()
    if args.dry_run:
        done = set()
        if os.path.isfile(args.results):
            with ResultStore(args.results, readonly=True) as store:
                done = store.finished_keys()
        for c in cells:
            print(f"{'done   ' if c.key in done else 'pending'}  {c.label}  {c.key[:12]}")
        print(f"{len(cells)} cells, {sum(c.key in done for c in cells)} finished")
        return 0
    report = run_grid(grid, args.results, workers=args.workers, scheduler=args.scheduler,
                      spec_dir=args.spec_dir, progress=not args.no_progress,
                      max_ensemble=args.max_ensemble)
    elsewhere = (f", {report.recorded_elsewhere} recorded by another run meanwhile"
                 if report.recorded_elsewhere else "")
    print(f"{len(report.recorded)} cells recorded, {report.skipped} already finished{elsewhere}, "
          f"{len(report.failed)} failed, {report.networks_trained} networks trained "
          f"({report.elapsed:.0f} s); results in {os.path.abspath(args.results)}")
    with ResultStore(args.results) as store:
        curves = store.curves([c.key for c in cells])
    if curves:
        print(format_table(summarize(curves)))
    return 0 if not report.failed else 1
