"""``brian-noisy-rnn tasks``: list the task ids ``train`` and ``evaluate`` accept."""

import json


def add_parser(sub):
    """Register the ``tasks`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "tasks",
        help="list the available tasks (ours, then NeuroGym's)",
        description="List the task ids accepted by --task: this package's tasks first, then "
                    "every registered NeuroGym task.")
    p.add_argument("--ours", action="store_true", help="only this package's tasks")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args):
    """Print the task ids.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of the subcommand.

    Returns
    -------
    int
        The process exit code.
    """
    from ..tasks import TASKS, list_tasks

    ids = sorted(TASKS) if args.ours else list_tasks()
    if args.json:
        print(json.dumps(ids))
        return 0
    print("brian-noisy-rnn tasks:")
    for task_id in sorted(TASKS):
        doc = (TASKS[task_id].__doc__ or "").strip().splitlines()
        print(f"  {task_id:<28} {doc[0] if doc else ''}")
    if not args.ours:
        others = [i for i in ids if i not in TASKS]
        print(f"NeuroGym tasks ({len(others)}):")
        for task_id in others:
            print(f"  {task_id}")
    return 0
