"""``brian-noisy-rnn results``: summarise or export an experiment's results database."""


def add_parser(sub):
    """Register the ``results`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "results",
        help="summarise a results database; export a tidy CSV or a figure",
        description="Print the noise-preference headline table of a results database, and "
                    "optionally export one row per (cell, test sigma) as CSV or plot the curves.")
    p.add_argument("results", help="SQLite results database written by `experiment` or `demo`")
    p.add_argument("--csv", default=None, help="write the tidy table to this CSV file")
    p.add_argument("--figure", default=None, help="write the noise-preference curves to this image")
    p.add_argument("--grid-name", default=None, help="only cells of this grid name")
    p.add_argument("--task", default=None, help="only cells of this task")
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
    from ..core.atomic import check_distinct, check_writable
    from ..experiments import ResultStore, format_table, summarize

    for flag, path in (("--csv", args.csv), ("--figure", args.figure)):
        if path:
            check_writable(path, flag)
    check_distinct({"results": args.results, "--csv": args.csv, "--figure": args.figure})
    with ResultStore(args.results, readonly=True) as store:
        cells = store.cells()
        keys = [c["cell_key"] for c in cells
                if (args.grid_name is None or c["grid_name"] == args.grid_name)
                and (args.task is None or c["task"] == args.task)]
        if not keys:
            print(f"no finished cells in {args.results}"
                  + (" matching the filters" if cells else ""))
            return 0
        curves = store.curves(keys)
        print(format_table(summarize(curves)))
        if args.csv:
            n = store.export_csv(args.csv, keys, name="--csv")
            print(f"wrote {n} rows to {args.csv}")
    if args.figure:
        from ..plotting import plot_noise_preference_panels, save_figure

        save_figure(plot_noise_preference_panels(curves), args.figure, name="--figure", close=True)
        print(f"wrote {args.figure}")
    return 0
