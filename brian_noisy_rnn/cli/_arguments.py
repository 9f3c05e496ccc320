"""Flags shared by several subcommands: one spelling per concept, and the noise flags.

Names used by every subcommand that has the concept:

=====================  ==================================================================
``--seed``             a seed value (int); counts of seeds are ``--n-seeds``
``--n-trials``         trials (evaluation or simulation batch); ``--n-steps`` time steps
``--n-eval-trials``    test trials of an evaluation made beside the command's own work
                       (``train``'s final evaluation, ``analyze``'s loss evaluations)
``--steps``            optimisation (training) steps, ``TrainConfig.steps``
``--num-threads``      torch threads (``num_threads=``)
``--no-figures``       skip the figures
``--max-relative-sigma``  the largest test sigma in units of the training sigma
``--backend``          one simulation backend; ``--backends`` a comma-separated list
``--placement``        one noise placement; ``--placements`` a comma-separated list
``--sigma``            one noise sigma; ``--sigmas`` a comma-separated list of test sigmas
``--target``           Brian2 code-generation target
``--dt-ms``            the time step in ms (as ``--tau-ms``, ``--tau-noise-ms``)
``--out``              where the results go (a file or a folder, as the subcommand says)
``--json``             print the result as JSON (a flag; files are named by other flags)
``--workers``          local worker processes; ``--max-ensemble`` networks trained together
=====================  ==================================================================

Settings of training and evaluation are declared once, in :class:`~brian_noisy_rnn.bridges.TrainConfig`
and :class:`~brian_noisy_rnn.evaluation.settings.EvalConfig`: :func:`add_setting_argument`
derives a flag's name (the field name with dashes), parser, default and help from the field.

Older spellings stay as hidden aliases for one release (:func:`add_deprecated_alias`).
"""

import argparse
import sys

from . import _types


class _DeprecatedAlias(argparse.Action):
    """Store the value under the new flag's ``dest`` and warn on stderr."""

    def __init__(self, option_strings, dest, replacement, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.replacement = replacement

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: {option_string} is deprecated and will be removed in "
              f"the next release; use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, True if self.nargs == 0 else values)  # a switch: True


def add_deprecated_alias(parser, old, new, **kwargs):
    """Accept ``old`` as a hidden, deprecated spelling of the flag ``new``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser, on which ``new`` is already defined.
    old : str
        The old flag, e.g. ``"--dt"``; not listed in ``--help``.
    new : str
        The current flag, e.g. ``"--dt-ms"``; the value is stored under its ``dest``.
    **kwargs : keyword arguments
        ``type`` and other ``add_argument`` options of the value (as for ``new``).
    """
    parser.add_argument(old, dest=new.lstrip("-").replace("-", "_"), action=_DeprecatedAlias,
                        replacement=new, help=argparse.SUPPRESS, default=argparse.SUPPRESS,
                        **kwargs)


_UNSET = object()


def add_setting_argument(parser, config, name, *, default=_UNSET, flag=None, help=None,
                         default_note=None, type=None):
    """Add the flag of the setting ``config.name``, derived from its declaration.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; the value is stored under the flag's dest.
    config : dataclass type
        A settings class whose field ``name`` is declared with
        :func:`~brian_noisy_rnn.core.settings.setting` (``TrainConfig``, ``EvalConfig``).
    name : str
        The field name; the flag is the declared one (``--`` + name with dashes).
    default : object
        The command line's default where it differs from the field's (e.g. a preset's None).
    flag : str or None
        Only where one command holds two values of the setting (e.g. ``--n-eval-trials``
        beside ``--n-trials``); None: the declared flag.
    help : str or None
        Replaces the declared help text (None: the declared one).
    default_note : str or None
        What ``(default: ...)`` says; None: the default value.
    type : callable or None
        Replaces the declared parser (e.g. to accept 0 meaning "skip"); None: the declared one.
    """
    from ..core.settings import setting_info

    info = setting_info(config, name)
    default = info.default if default is _UNSET else default
    text = help or info.help
    if default_note is not None:
        text += f" (default: {default_note})"
    elif default is not None:
        text += " (default: %(default)s)"
    if type is None and info.kind != "str":
        type = getattr(_types, info.kind)
    kwargs = {} if type is None else {"type": type}
    parser.add_argument(flag or info.flag, default=default, help=text, **kwargs)


def csv_list(text):
    """A comma-separated flag value as a tuple of non-empty, stripped strings.

    Parameters
    ----------
    text : str
        E.g. ``"torch, brian2"``.

    Returns
    -------
    tuple of str
        The items, in order.
    """
    return tuple(s.strip() for s in text.split(",") if s.strip())


def add_max_ensemble_argument(p):
    """Add ``--max-ensemble`` (``run_grid(..., max_ensemble=)``) to ``p``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The subcommand's parser; the value is stored as ``max_ensemble`` (int or None).
    """
    p.add_argument("--max-ensemble", type=_types.int1, default=None, metavar="N",
                   help="most networks trained together as one ensemble (stacked weights, "
                        "batched products; a member equals the network trained alone). "
                        "Default: as many as a 1 GiB memory budget allows, at least one "
                        "ensemble per worker; 1 = one network at a time")


def add_noise_arguments(p, default_placement):
    """Add ``--placement``, ``--sigma``, ``--process`` and ``--tau-noise-ms`` to ``p``.

    Shared by ``train`` (training noise), ``evaluate`` and ``simulate`` (test noise); read
    them with :func:`noise_from_args`.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The subcommand's parser.
    default_placement : str or None
        The default of ``--placement`` (None: the network's own, see :func:`noise_from_args`).
    """
    from ..core.noise import PLACEMENTS
    from ..core.noise_processes import NOISE_PROCESSES, placement_label

    p.add_argument("--placement", default=default_placement, choices=PLACEMENTS,
                   help="where the noise enters: "
                        + ", ".join(f"{placement_label(q)} ({q})" for q in PLACEMENTS)
                        + (" (default: the network's own)" if default_placement is None
                           else " (default: %(default)s)"))
    p.add_argument("--sigma", type=_types.nonneg_float, default=None,
                   help="noise amplitude sigma >= 0 (dimensionless, per step); required with "
                        "a placement other than the network's own")
    p.add_argument("--process", default=None, choices=tuple(NOISE_PROCESSES),
                   help="noise process (default: white)")
    p.add_argument("--tau-noise-ms", type=_types.pos_ms, default=None,
                   help="correlation time of OU noise in ms (required with --process ou)")


def noise_from_args(args, base=None):
    """The :class:`~brian_noisy_rnn.Noise` that the noise flags describe.

    Unset flags fall back to ``base`` (the network's own noise) when the placement is the
    base's, else to the defaults (white noise); with the base's placement, ``--sigma`` is
    read in the base's scale (:data:`brian_noisy_rnn.core.noise.SCALES`).

    Parameters
    ----------
    args : argparse.Namespace
        With ``placement``, ``sigma`` and optionally ``process``, ``tau_noise_ms``.
    base : Noise or None
        The network's own noise (``evaluate``, ``simulate``); None for ``train``.

    Returns
    -------
    Noise

    Raises
    ------
    ValueError
        Naming the flag: ``--sigma`` other than 0, ``--process`` or ``--tau-noise-ms`` with
        placement ``none``, ``--tau-noise-ms`` without OU noise (they would do nothing), or
        a placement other than ``none`` and other than the base's without ``--sigma`` (the
        noise would silently be zero).
    """
    from brian2 import ms

    from ..core.noise import Noise
    from ..core.noise_processes import get_noise_process

    placement = args.placement or (base.placement if base is not None else "none")
    same = base is not None and placement == base.placement
    process_flag = getattr(args, "process", None)
    tau_flag = getattr(args, "tau_noise_ms", None)
    if placement == "none":
        if args.sigma is not None and args.sigma != 0:
            raise ValueError(f"--sigma {args.sigma} needs a noise placement: pass --placement "
                             "pre, post or state")
        if process_flag is not None:
            raise ValueError(f"--process {process_flag} needs a noise placement: pass "
                             "--placement pre, post or state")
        if tau_flag is not None:
            raise ValueError("--tau-noise-ms needs a noise placement and --process ou")
        return Noise("none")
    if args.sigma is None and not same:
        own = "" if base is None else f" (the network's own noise is {base.placement!r})"
        raise ValueError(f"--placement {placement} needs --sigma, the noise amplitude{own}; "
                         "without it the noise would be zero")
    sigma = args.sigma if args.sigma is not None else base.sigma_array
    process = process_flag or (base.process if same else "white")
    if tau_flag is not None:
        if not get_noise_process(process).needs_tau_noise:
            raise ValueError(f"--tau-noise-ms is only used with --process ou, not with process "
                             f"{process!r}")
        tau_noise = tau_flag * ms
    else:
        tau_noise = base.tau_noise if same and process == base.process else None
    # --sigma is read in the network's own convention (e.g. an imported network's scale)
    return Noise(placement, sigma, process=process, tau_noise=tau_noise,
                 scale=base.scale if same else None)


def add_task_kwargs_argument(parser):
    """Add ``--task-kwargs JSON``: keywords of the task's constructor.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser (it also has ``--task``).
    """
    parser.add_argument(
        "--task-kwargs", default=None, metavar="JSON",
        help="keywords of the task's constructor as a JSON object, e.g. "
             "'{\"sigma\": 0.5, \"timing\": {\"stimulus\": 500}}' (dt comes from --dt-ms or "
             "the network; a network remembers the keywords it was trained with)")


def task_kwargs_from_args(args):
    """The ``--task-kwargs`` JSON object as a dict ({} if not given).

    Parameters
    ----------
    args : argparse.Namespace
        With ``task_kwargs`` (str or None).

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        Naming ``--task-kwargs`` for text that is not a JSON object, or one that sets dt.
    """
    import json

    text = getattr(args, "task_kwargs", None)
    if text is None:
        return {}
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--task-kwargs must be a JSON object such as '{{\"sigma\": 0.5}}' "
                         f"({err}), got {text!r}") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--task-kwargs must be a JSON object (keyword: value), got {text!r}")
    if "dt" in kwargs:
        raise ValueError("--task-kwargs must not set dt: it is --dt-ms when training, and the "
                         "network's dt when evaluating")
    return kwargs


def task_from_args(args, spec, spec_path):
    """The task: ``--task`` (with ``--task-kwargs``), else the one the network was trained on.

    The training task is rebuilt as it was trained (its keywords and wrappers, recorded in
    the network's metadata); ``--task`` with the training task's id and no
    ``--task-kwargs`` is that task too. A task given with other keywords than the
    training task's warns (:class:`~brian_noisy_rnn.evaluation.scoring.TaskMismatchWarning`).

    Parameters
    ----------
    args : argparse.Namespace
        With ``task`` (str or None) and optionally ``task_kwargs`` (JSON text or None).
    spec : CTRNNSpec
        The loaded network.
    spec_path : str
        Its file, for the error message.

    Returns
    -------
    str or TrialEnv
        A task id, or the task built with ``--task-kwargs`` and the network's dt.

    Raises
    ------
    ValueError
        Naming ``--task`` when neither is known.
    """
    kwargs = task_kwargs_from_args(args)
    task = args.task or spec.metadata.get("training", {}).get("task")
    if not task:
        raise ValueError(f"--task is required: {spec_path!r} does not record the task it was "
                         "trained on")
    if kwargs:
        if not args.task:
            raise ValueError("--task-kwargs needs --task (without them the network's own "
                             "training task is used, keywords included)")
        from ..tasks import make

        return make(task, dt=spec.dt_seconds * 1000.0, **kwargs)
    return task


def target_options(args):
    """Simulation options from ``--target``: ``{"target": ...}`` for brian2 backends, else {}.

    Parameters
    ----------
    args : argparse.Namespace
        With ``backend`` (str) and ``target`` (str or None).

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        Naming ``--target`` when it is given for a backend that is not Brian2's.
    """
    if args.target is None:
        return {}
    if not args.backend.startswith("brian2"):
        raise ValueError(f"--target is only used with brian2 backends, not {args.backend!r}")
    return {"target": args.target}
