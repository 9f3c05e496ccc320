"""``brian-noisy-rnn noise-preference``: sweep a saved network's test noise on a task.

Evaluates the network at every test sigma with the same trials and noise draws
(:func:`brian_noisy_rnn.noise_preference`; on brian2-spiking, ``--noise-as membrane
--neurons-per-unit M`` sweeps each spiking neuron's membrane noise), prints the headline
(the preferred sigma, the metric at 0 and at the training sigma, and their paired
difference) and the curve, and writes the curve (JSON from ``NoisePreferenceCurve.to_dict``
or CSV rows) and its figure.
"""

import argparse
import csv
import io
import os

import numpy as np

from ..core.noise import PLACEMENTS
from . import _types
from ._json import json_dumps
from ..evaluation.settings import EvalConfig
from ._arguments import (add_deprecated_alias, add_setting_argument, add_task_kwargs_argument,
                         csv_list, target_options, task_from_args)

#: file names written into ``--out DIR``
OUT_FILES = {"json": "noise_preference.json", "csv": "noise_preference.csv",
             "figure": "noise_preference.png"}


def _sigmas(text):
    try:
        return tuple(_types.nonneg_float(s) for s in csv_list(text))
    except argparse.ArgumentTypeError as err:
        raise ValueError(f"--sigmas must be comma-separated numbers >= 0 ({err}), "
                         f"got {text!r}") from None


def add_parser(sub):
    """Register the ``noise-preference`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = sub.add_parser(
        "noise-preference",
        help="sweep a saved network's test noise on a task; write the curve and its figure",
        description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("spec", nargs="?", default=None,
                   help="spec .npz file (e.g. written by `brian-noisy-rnn train`); "
                        "or pass it as --spec")
    p.add_argument("--spec", dest="spec_option", default=None, metavar="SPEC",
                   help="the spec file, as an option")
    p.add_argument("--task", default=None,
                   help="task id, made with the network's dt (default: the task the network "
                        "was trained on, rebuilt with the keywords and wrappers it was trained "
                        "with, from its metadata)")
    add_task_kwargs_argument(p)
    p.add_argument("--sigmas", default=None,
                   help="comma-separated test sigmas >= 0, e.g. 0,0.5,1; 0 and the training "
                        "sigma are always added (default: 9 sigmas from 0 to twice the "
                        "training sigma)")
    p.add_argument("--placement", choices=[q for q in PLACEMENTS if q != "none"], default=None,
                   help="where the test noise enters (default: the network's training "
                        "placement; required for a network trained without noise)")
    add_setting_argument(p, EvalConfig, "backend")
    add_setting_argument(p, EvalConfig, "target")
    p.add_argument("--noise-as", choices=("count", "membrane"), default=None,
                   help="brian2-spiking only: what the swept sigma is. count (default): the "
                        "spike-count noise (it sets the population size); membrane: each "
                        "neuron's membrane noise inside its transfer, in units of the drive "
                        "(needs --neurons-per-unit; the test placement is then pre)")
    p.add_argument("--neurons-per-unit", type=_types.int1, default=None,
                   help="brian2-spiking only: neurons per rate unit M (default: derived from "
                        "the count noise's sigma)")
    p.add_argument("--rate-max-hz", type=_types.pos_float, default=None,
                   help="brian2-spiking only: firing rate in Hz at f(a) = 1 (default: 100)")
    add_setting_argument(p, EvalConfig, "n_trials")
    add_setting_argument(p, EvalConfig, "seed")
    p.add_argument("--out", default=None,
                   help=f"folder for {', '.join(OUT_FILES.values())} (created if missing)")
    p.add_argument("--curve", default=None,
                   help="write the curve to this file: .json (NoisePreferenceCurve.to_dict) "
                        "or .csv (one row per test sigma)")
    p.add_argument("--figure", default=None,
                   help="write the figure to this image (.png, .pdf, .svg)")
    p.add_argument("--json", action="store_true",
                   help="print the summary, the curve and the written files as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_deprecated_alias(p, "--trials", "--n-trials", type=_types.int1)
    p.set_defaults(func=run)
    return p


def _curve_bytes(curve, fmt):
    if fmt == "json":
        return (json_dumps(curve.to_dict(), indent=1) + "\n").encode()
    rows = curve.rows()
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return text.getvalue().encode()


def _targets(args):
    """{"json"|"csv": path, "figure": path} from --out, --curve and --figure (checked early:
    writable, and no two to the same file)."""
    from ..core.atomic import check_distinct, check_writable, checked_output_files

    files, flags = {}, {}
    if args.out is not None:
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise ValueError(f"--out {args.out!r} is a file; give a folder")
        files = checked_output_files(args.out, OUT_FILES, "--out")
        flags = {k: f"--out {name}" for k, name in OUT_FILES.items()}
    if args.curve is not None:
        ext = os.path.splitext(args.curve)[1].lower()
        if ext not in (".json", ".csv"):
            raise ValueError(f"--curve must end in .json or .csv, got {args.curve!r}")
        files[ext[1:]], flags[ext[1:]] = args.curve, "--curve"
    if args.figure is not None:
        files["figure"], flags["figure"] = args.figure, "--figure"
    for key, path in files.items():
        if os.path.isdir(path):
            raise ValueError(f"the {key} output {path!r} is a directory; give a file name")
        check_writable(path, flags[key])
    check_distinct({flags[key]: path for key, path in files.items()})
    return files


def _write(curve, files):
    """Write the curve (json/csv) and the figure to ``files``; returns {kind: path} written."""
    from ..core.atomic import atomic_write

    written = {}
    for fmt in ("json", "csv"):
        if fmt in files:
            with atomic_write(files[fmt], prefix=".tmp-curve-", suffix="." + fmt) as f:
                f.write(_curve_bytes(curve, fmt))
            written[fmt] = files[fmt]
    if "figure" in files:
        from ..plotting import save_figure

        fig = curve.plot(title=f"{curve.task}: {curve.placement} test noise")
        written["figure"] = save_figure(fig, files["figure"], close=True)
    return written


def headline(curve):
    """The curve's headline as text lines.

    Parameters
    ----------
    curve : NoisePreferenceCurve
        The measured curve.

    Returns
    -------
    list of str
        The preferred sigma (and its ratio to the training sigma), the metric at sigma 0 and
        at the training sigma with standard errors, their paired difference, and one line
        per test sigma (mean +- standard error; ``*`` marks the best).
    """
    better = "higher" if curve.higher_is_better else "lower"
    st = curve.sigma_train
    lines = [f"{curve.task}: {curve.placement} test noise on {curve.backend}, "
             f"{curve.n_trials} trials per sigma, seed {curve.seed}; network trained with "
             f"{curve.train_placement} noise at sigma = {st:g}",
             f"preferred test sigma: {curve.preferred_sigma:g}"
             + (f" ({curve.preferred_ratio:.3g} x the training sigma)" if st > 0 else ""),
             f"{curve.metric} ({better} is better) at sigma 0: {curve.metric_at_zero:.5g} "
             f"+- {curve.sem_at_zero:.2g}; at the training sigma {st:g}: "
             f"{curve.metric_at_train:.5g} +- {curve.sem_at_train:.2g}"]
    if curve.trial_values is not None and st > 0:
        d, e = curve.difference(0.0, st)
        lines.append(f"paired difference {curve.metric}(0) - {curve.metric}({st:g}) = "
                     f"{d:.4g} +- {e:.2g} (same trials and draws)")
    lines.append(f"{'sigma':>8}  {curve.metric + ' mean':>14}  {'s.e.m.':>9}")
    for i, s in enumerate(curve.sigmas):
        mark = " *" if i == curve.preferred_index else ""
        lines.append(f"{s:>8.4g}  {curve.mean[i]:>14.6g}  {curve.sem[i]:>9.2g}{mark}")
    return lines


def spiking_options(args):
    """The ``brian2-spiking`` options of ``--noise-as``, ``--neurons-per-unit``, ``--rate-max-hz``.

    Parameters
    ----------
    args : argparse.Namespace
        With ``backend``, ``placement``, ``noise_as``, ``neurons_per_unit`` and
        ``rate_max_hz``.

    Returns
    -------
    dict
        ``noise_as``, ``neurons_per_unit`` and ``rate_max_hz`` as given (unset flags are left
        out).

    Raises
    ------
    ValueError
        Naming the flag: one of them with a backend other than brian2-spiking,
        ``--noise-as membrane`` without ``--neurons-per-unit`` or with a ``--placement``
        other than pre.
    """
    given = {k: getattr(args, k) for k in ("noise_as", "neurons_per_unit", "rate_max_hz")
             if getattr(args, k) is not None}
    if given and args.backend != "brian2-spiking":
        flag = "--" + next(iter(given)).replace("_", "-")
        raise ValueError(f"{flag} is only used with --backend brian2-spiking, not {args.backend!r}")
    if given.get("noise_as") == "membrane":
        if "neurons_per_unit" not in given:
            raise ValueError("--noise-as membrane needs --neurons-per-unit (the population size "
                             "is not derived from the membrane noise)")
        if args.placement not in (None, "pre"):
            raise ValueError(f"--noise-as membrane sweeps noise inside each neuron's f: "
                             f"--placement must be pre (or left out), got {args.placement}")
    return given


def run(args):
    """Sweep, print the headline, write the requested files.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of the subcommand.

    Returns
    -------
    int
        The process exit code.
    """
    from ..backends.simulation import check_backend
    from ..core.spec import CTRNNSpec
    from ..evaluation.curves import noise_preference

    if args.spec is not None and args.spec_option is not None:
        raise ValueError("give the spec file once: as SPEC or as --spec, not both")
    spec_path = args.spec if args.spec is not None else args.spec_option
    if spec_path is None:
        raise ValueError("a spec file is required: brian-noisy-rnn noise-preference NET.npz "
                         "(or --spec NET.npz)")
    check_backend(args.backend)
    if args.n_trials < 1:
        raise ValueError(f"--n-trials must be >= 1, got {args.n_trials}")
    options = {**target_options(args), **spiking_options(args)}
    if "neurons_per_unit" in options and options.get("noise_as") != "membrane":
        raise ValueError("--neurons-per-unit in a sweep needs --noise-as membrane (the swept "
                         "sigma is then each neuron's membrane noise); with --noise-as count "
                         "the swept sigma sets the population size, so leave "
                         "--neurons-per-unit out")
    files = _targets(args)
    spec = CTRNNSpec.load(spec_path)
    task = task_from_args(args, spec, spec_path)
    if args.placement is None and spec.noise.placement == "none" and args.noise_as != "membrane":
        raise ValueError("--placement is required: the network was trained without noise; "
                         "pass --placement pre, post or state")
    sigma_train = spec.noise.scalar_sigma()
    sigmas = None if args.sigmas is None else _sigmas(args.sigmas)
    if sigmas is None:
        if sigma_train == 0:
            raise ValueError("--sigmas is required: the network has no training sigma to "
                             "scale the default sweep")
        sigmas = tuple(np.linspace(0.0, 2.0 * sigma_train, 9))
    elif not sigmas:
        raise ValueError("--sigmas must list at least one sigma")

    curve = noise_preference(spec, task, sigmas, placement=args.placement,
                             backend=args.backend, n_trials=args.n_trials, seed=args.seed,
                             progress=not args.no_progress and not args.json, **options)
    written = _write(curve, files)
    if args.json:
        print(json_dumps({"spec": spec_path, "summary": curve.summary(),
                          "curve": curve.to_dict(), "files": written}))
        return 0
    print("\n".join(headline(curve)))
    for path in written.values():
        print(f"wrote {path}")
    return 0
