"""``brian-noisy-rnn analyze NET.npz --task ID``: why does this network prefer its noise?

Prints first whether it should prefer its noise, from one run at that noise: its loss split
into the noise-induced shift of the mean output (what removing the noise costs) and the
fluctuation (what keeping it costs), ``analysis.noise_dependence``; then the predicted (mean-field) against the measured output shift caused by removing
the noise, the loss change it explains, where the pre-activations sit relative to the
nonlinearity, the fixed points for a typical input, and how much compensation
(f replaced by E[f(a + sigma xi)]) recovers at sigma = 0. With ``--out`` it writes
``shift.png``, ``operating_points.png`` (and ``single_neuron.png`` for one-unit networks)
and ``analysis.json`` there.
"""

import os
import sys

import numpy as np

from ..evaluation.settings import EvalConfig
from . import _types
from ._arguments import add_deprecated_alias, add_setting_argument
from ._json import json_dumps


def add_parser(subparsers):
    """Register the ``analyze`` subcommand.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``add_subparsers()`` object of the main parser.
    """
    p = subparsers.add_parser(
        "analyze", help="explain a network's noise preference (fixed-point shifts, compensation)",
        description=__doc__.split("\n\n")[1] if "\n\n" in __doc__ else __doc__)
    p.add_argument("spec", help="network file written by CTRNNSpec.save / `train`")
    p.add_argument("--task", required=True, help="task id, e.g. FunctionApproximation-v0")
    p.add_argument("--sigma", type=_types.pos_float, default=None,
                   help="noise level to analyse (default: the network's training sigma)")
    p.add_argument("--placement", choices=("pre", "post"), default=None,
                   help="noise placement (default: the network's own)")
    p.add_argument("--n-trials", type=_types.int1, default=100, help="task trials analysed")
    p.add_argument("--n-repeats", type=_types.int1, default=16, help="noise draws per trial")
    add_setting_argument(p, EvalConfig, "n_trials", flag="--n-eval-trials",
                         help="test trials per loss evaluation")
    add_deprecated_alias(p, "--n-eval", "--n-eval-trials", type=_types.int1)
    add_setting_argument(p, EvalConfig, "backend", default="numpy")
    add_setting_argument(p, EvalConfig, "seed")
    p.add_argument("--no-compensate", action="store_true", help="skip the compensation table")
    p.add_argument("--out", default=None, help="folder for plots and analysis.json")
    p.set_defaults(func=run)
    return p


def _noise(spec, sigma, placement):
    from ..core.noise import Noise

    own = spec.noise
    placement = placement or (own.placement if own.placement in ("pre", "post") else None)
    if placement is None:
        raise ValueError("--placement is required: the network has no pre/post noise of its own")
    if sigma is None:
        if own.placement != placement or not own.is_active:
            raise ValueError("--sigma is required: the network has no active noise of that placement")
        return own
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"--sigma must be a float > 0, got {sigma}")
    return Noise(placement, sigma)


def run(args):
    """Run the analysis.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of the subcommand.

    Returns
    -------
    int
        The process exit code (0).
    """
    from .. import tasks
    from ..analysis import (
        compensate,
        fixed_points,
        network_shift_report,
        noise_dependence,
        operating_point_stats,
        single_neuron_shift,
    )
    from ..evaluation.scoring import check_spec_for_task, evaluate
    from ..core.noise import Noise
    from ..backends.simulation import check_backend
    from ..core.atomic import atomic_write, checked_output_files
    from ..core.spec import CTRNNSpec
    from ..plotting import save_figure

    for name in ("n_trials", "n_repeats", "n_eval_trials"):
        if getattr(args, name) < 2:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 2")
    check_backend(args.backend)
    spec = CTRNNSpec.load(args.spec)
    noise = _noise(spec, args.sigma, args.placement)
    env = tasks.make(args.task, dt=spec.dt_seconds * 1000.0)
    check_spec_for_task(spec, env)
    if args.out:  # checked before the long analysis, created only when writable
        checked_output_files(args.out, {name: name for name in (
            "analysis.json", "shift.png", "operating_points.png", "single_neuron.png")}, "--out")
        os.makedirs(args.out, exist_ok=True)
    batch = tasks.batch(env, args.n_trials, seed=args.seed)
    print(f"{args.spec}: {spec!r}")
    loss = (spec.metadata.get("training") or {}).get("loss") if isinstance(spec.metadata, dict) else None
    split = noise_dependence(spec, env, noise=noise, n_trials=args.n_trials,
                             n_repeats=args.n_repeats, seed=args.seed, loss=loss,
                             backend=args.backend)
    print(f"\n== does it prefer its noise? ({split.loss} at sigma = {split.sigma_train:g}, "
          f"{split.n_trials} trials x {split.n_repeats} draws) ==")
    print(f"shift of the mean output (cost of removing the noise): {split.shift:.4g} "
          f"+- {split.shift_sem:.2g}\n"
          f"fluctuation (cost of keeping it):                    {split.fluctuation:.4g} "
          f"+- {split.fluctuation_sem:.2g}\n"
          f"ratio {split.ratio:.3g}: {'prefers its noise' if split.predicts_preference else 'prefers no noise'}"
          f" (predicted); measured on these trials L(0) - L(sigma) = "
          f"{split.measured_difference:.4g} +- {split.difference_sem:.2g} "
          f"(= shift - fluctuation + cross, cross {split.cross:.3g})")
    rep = network_shift_report(spec, batch, noise=noise, n_repeats=args.n_repeats,
                               backend=args.backend, seed=args.seed)
    if not np.isfinite(rep.delta_predicted):
        print(f"{args.spec}: the network does not settle to a fixed point for every task input "
              f"(an integrator, or an unstable network): the fixed-point predictions are NaN; "
              f"the mean-field trajectory's prediction and the measurements stand",
              file=sys.stderr)
    print("\n== removing the noise: predicted vs measured ==")
    print(rep.summary())
    print("\noutput shift (noisy mean - noise-free output), per trial input:")
    print(rep.shift_table())
    out = {"spec": os.path.abspath(args.spec), "task": args.task, "noise": noise.to_dict(),
           "noise_dependence": split.to_dict(), "report": rep.as_dict()}

    sigma = noise.scalar_sigma()
    op = operating_point_stats(spec, batch.inputs, batch.mask, sigma=sigma, noise=noise,
                               backend=args.backend, seed=args.seed)
    print(f"\n== operating points (scored steps, in units of sigma = {sigma:g}) ==")
    if op.kink is None:
        print(f"smooth activation: mean local shift |E f - f| = {op.local_shift:.4g}")
    else:
        print("  ".join(f"within {k:g} sigma of the kink: {v:.3f}"
                        for k, v in op.fraction_within.items())
              + f"  active: {op.fraction_active:.3f}  mean local shift: {op.local_shift:.4g}")
    out["operating_points"] = op.as_dict()

    median = np.argsort(rep.u[:, 0])[len(rep.u) // 2]
    fps = fixed_points(spec, rep.u[median], n_random=8, seed=args.seed)
    print(f"\n== deterministic fixed points for u = {np.round(rep.u[median], 4).tolist()} ==")
    if not fps:
        print("none found")
    for fp in fps:
        print(f"{'stable  ' if fp.stable else 'unstable'} output {np.round(fp.output, 4).tolist()} "
              f"slowest Re(lambda) tau = {fp.eigenvalues[0].real * spec.tau_seconds:+.3f}")
    out["fixed_points"] = [{"stable": fp.stable, "output": fp.output.tolist()} for fp in fps]

    if not args.no_compensate and noise.placement == "pre":
        def loss(s, nz=None):
            m = evaluate(s, env, backend=args.backend, noise=nz, n_trials=args.n_eval_trials,
                         seed=args.seed)
            return m[rep.loss_name] if rep.loss_name in m else m[next(iter(m))]

        work = spec.replace(noise=noise)
        comp = compensate(work)
        table = {"original, sigma=0": loss(work, Noise("none")),
                 f"original, sigma={sigma:g}": loss(work, noise),
                 f"compensated ({comp.activation}), sigma=0": loss(comp)}
        print(f"\n== compensation ({rep.loss_name}, {args.n_eval_trials} trials) ==")
        for k, v in table.items():
            print(f"{k:<40} {v:.5g}")
        out["compensation"] = table

    if spec.n_hidden == 1 and spec.n_in == 1:
        c = np.unique(np.round(rep.u[:, 0], 6))
        c = c[np.linspace(0, len(c) - 1, min(5, len(c))).round().astype(int)]
        sn = single_neuron_shift(spec, c, np.linspace(0, 2 * sigma, 5), placement=noise.placement,
                                 backend=args.backend, n_trials=32, seed=args.seed)
        print(f"\nsingle unit: max |simulated - predicted| / sem = {sn.max_z_score():.2f}")
        if args.out:
            save_figure(sn.plot(), os.path.join(args.out, "single_neuron.png"), close=True)

    if args.out:
        save_figure(rep.plot(), os.path.join(args.out, "shift.png"), close=True)
        _plot_operating_points(op, os.path.join(args.out, "operating_points.png"))
        with atomic_write(os.path.join(args.out, "analysis.json"), suffix=".json",
                          name="--out") as f:
            f.write(json_dumps(out, indent=1).encode())
        print(f"\nwrote plots and analysis.json to {args.out}")
    return 0


def _plot_operating_points(op, path):
    from ..plotting import new_figure, save_figure

    fig = new_figure((5, 3.4))
    ax = fig.subplots()
    ax.hist(np.clip(op.distances, -6, 6), bins=60, color="0.4")
    for k in op.fraction_within:
        ax.axvspan(-k, k, color="C1", alpha=0.12)
    ax.set_xlabel("(a - kink) / sigma" if op.kink is not None else "a / sigma")
    ax.set_ylabel("count")
    ax.set_title("pre-activations relative to the nonlinearity")
    save_figure(fig, path, close=True)
