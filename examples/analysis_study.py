"""Why noise inside f makes trained networks prefer noise -- measured on trained networks.
=======================================================================================

Trains (or reloads) CTRNNs on FunctionApproximation-v0 (32 relu units, tau = 100 ms,
dt = 20 ms so gamma = 0.2, 1500 Adam steps of batch 64) with noise inside ("pre") and
outside ("post") the activation at sigma_train = 1, for several seeds, then reports:

1. the predicted output shift caused by removing the noise (mean field, per trial input)
   against the measured one, and the predicted against the measured loss change
   L(sigma = 0) - L(sigma_train); the correlation of the two over networks;
2. how close the pre-activations sit to the relu kink (fractions within 1 and 2 sigma)
   for noise-in and noise-out networks;
3. compensation: the loss at sigma = 0 of ``compensate(spec)`` (f replaced by
   E[f(a + sigma xi)]) and of the output-bias variant, against the original network at
   sigma = 0 and at sigma_train, and the fraction of the zero-noise gap it closes.

Usage::

    python examples/analysis_study.py --out study_out            # full study (~3-5 min)
    python examples/analysis_study.py --out /tmp/q --quick        # reduced (slow test)

Trained networks are cached in ``<out>/nets/*.npz`` (re-running skips training; an
interrupted run keeps every finished network), results go to ``<out>/results.json`` and
plots to ``<out>/*.png``.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="analysis_study_out", help="output folder")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sigma", type=float, default=1.0, help="training noise sigma")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n-hidden", type=int, default=32)
    p.add_argument("--n-test", type=int, default=2000, help="trials per loss evaluation")
    p.add_argument("--n-shift", type=int, default=200, help="trials for the shift report")
    p.add_argument("--n-repeats", type=int, default=32, help="noise draws per trial")
    p.add_argument("--backend", default="numpy")
    p.add_argument("--train-only", action="store_true", help="train/cache the networks and stop")
    p.add_argument("--quick", action="store_true",
                   help="reduced study: 2 seeds, 400 steps, fewer trials (for the slow test)")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.steps = args.seeds[:2], min(args.steps, 400)
        args.n_test, args.n_shift, args.n_repeats = 500, 60, 16
    return args


def trained_networks(args, env):
    """{(placement, seed): spec}, trained with brian_noisy_rnn.bridges.train or loaded."""
    from brian2 import ms

    from brian_noisy_rnn import CTRNNSpec, Noise
    from brian_noisy_rnn.bridges import train

    folder = os.path.join(args.out, "nets")
    os.makedirs(folder, exist_ok=True)
    nets = {}
    for seed in args.seeds:
        for placement in ("pre", "post"):
            path = os.path.join(folder, f"{placement}_sigma{args.sigma:g}_steps{args.steps}_s{seed}.npz")
            if os.path.exists(path):
                nets[placement, seed] = CTRNNSpec.load(path)
                continue
            t = time.time()
            res = train(env, n_hidden=args.n_hidden, noise=Noise(placement, args.sigma),
                        activation="relu", tau=100 * ms, steps=args.steps,
                        batch_size=args.batch_size, seed=seed, progress=False,
                        checkpoint=path[:-4] + ".ckpt")  # an interrupted run resumes
            res.spec.save(path)
            nets[placement, seed] = res.spec
            print(f"trained {placement} seed {seed} in {time.time() - t:.1f} s", flush=True)
    return nets


def main(argv=None):
    args = parse_args(argv)
    from brian_noisy_rnn import Noise, evaluate, tasks
    from brian_noisy_rnn.analysis import compensate, network_shift_report, operating_point_stats
    from brian_noisy_rnn.analysis.report import trial_inputs
    from brian_noisy_rnn.plotting import save_figure

    os.makedirs(args.out, exist_ok=True)
    env = tasks.make("FunctionApproximation-v0", dt=20)
    nets = trained_networks(args, env)
    if args.train_only:
        return None
    shift_batch = tasks.batch(env, args.n_shift, seed=12345)
    op_batch = tasks.batch(env, 200, seed=777)
    rows = []
    for (placement, seed), spec in sorted(nets.items()):
        sigma_noise = spec.noise

        def loss(s, noise=None):
            return evaluate(s, env, backend=args.backend, noise=noise, n_trials=args.n_test,
                            seed=2024)["mse"]

        row = {"placement": placement, "seed": seed,
               "loss_0": loss(spec, Noise("none")), "loss_sigma": loss(spec, sigma_noise)}
        rep = network_shift_report(spec, shift_batch, n_repeats=args.n_repeats,
                                   backend=args.backend, seed=seed)
        row.update({f"report_{k}": v for k, v in rep.as_dict().items()})
        save_figure(rep.plot(), os.path.join(args.out, f"shift_{placement}_s{seed}.png"),
                    close=True)
        for mask_name, mask in (("masked", op_batch.mask), ("all", None)):
            op = operating_point_stats(spec, op_batch.inputs, mask, sigma=args.sigma,
                                       backend=args.backend, seed=seed)
            row[f"within1_{mask_name}"] = op.fraction_within[1.0]
            row[f"within2_{mask_name}"] = op.fraction_within[2.0]
            row[f"local_shift_{mask_name}"] = op.local_shift
        if placement == "pre":
            row["loss_comp_activation"] = loss(compensate(spec))
            row["loss_comp_output_bias"] = loss(
                compensate(spec, method="output_bias", inputs=trial_inputs(shift_batch)))
        rows.append(row)
        print(f"{placement} s{seed}: L0 {row['loss_0']:.4f} Ls {row['loss_sigma']:.4f} "
              f"dL meas {rep.delta_measured:+.4f} pred {rep.delta_predicted:+.4f} "
              f"R2 {rep.shift_r2:.3f} within1 {row['within1_masked']:.3f}", flush=True)

    results = summarize(rows)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"args": vars(args), "rows": rows, "summary": results}, f, indent=1)
    print_tables(rows, results)
    return results


def summarize(rows):
    """Correlations, fractions per placement and the compensation gap closed."""
    meas = np.array([r["report_delta_measured"] for r in rows])
    pred = np.array([r["report_delta_predicted"] for r in rows])
    dyn = np.array([r["report_delta_predicted_dynamic"] for r in rows])
    pre = np.array([r["placement"] == "pre" for r in rows])
    out = {"corr_all": float(np.corrcoef(meas, pred)[0, 1]) if len(rows) > 2 else float("nan"),
           "corr_all_dynamic": float(np.corrcoef(meas, dyn)[0, 1]) if len(rows) > 2 else float("nan"),
           "corr_pre": float(np.corrcoef(meas[pre], pred[pre])[0, 1]) if pre.sum() > 2 else float("nan")}
    out["rel_err_fp_pre"] = float(np.mean(np.abs(pred - meas)[pre] / np.abs(meas[pre])))
    out["rel_err_traj_pre"] = float(np.mean(np.abs(dyn - meas)[pre] / np.abs(meas[pre])))
    for pl in ("pre", "post"):
        sel = [r for r in rows if r["placement"] == pl]
        for k in ("within1_masked", "within1_all"):
            out[f"{pl}_{k}_range"] = [float(min(r[k] for r in sel)), float(max(r[k] for r in sel))]
        for k in ("within1_masked", "within2_masked", "within1_all", "within2_all",
                  "local_shift_masked", "loss_0", "loss_sigma", "report_shift_r2",
                  "report_shift_r2_dynamic", "report_delta_measured", "report_delta_predicted",
                  "report_delta_predicted_dynamic"):
            out[f"{pl}_{k}"] = float(np.mean([r[k] for r in sel]))
    comp = [r for r in rows if "loss_comp_activation" in r]
    out["gap_closed_activation"] = [
        (r["loss_0"] - r["loss_comp_activation"]) / (r["loss_0"] - r["loss_sigma"]) for r in comp]
    out["gap_closed_output_bias"] = [
        (r["loss_0"] - r["loss_comp_output_bias"]) / (r["loss_0"] - r["loss_sigma"]) for r in comp]
    return out


def print_tables(rows, s):
    print("\n== loss change when the noise is removed: measured vs predicted (mse) ==")
    print("(pred fp: fixed-point shift; pred traj: mean-field trajectory; R2: per-trial shift)")
    print(f"{'net':>9} {'L(0)':>8} {'L(s)':>8} {'dL meas':>9} {'pred fp':>9} {'pred traj':>9} "
          f"{'R2 fp':>7} {'R2 traj':>7}")
    for r in rows:
        print(f"{r['placement']:>5} s{r['seed']:<2} {r['loss_0']:8.4f} {r['loss_sigma']:8.4f} "
              f"{r['report_delta_measured']:+9.4f} {r['report_delta_predicted']:+9.4f} "
              f"{r['report_delta_predicted_dynamic']:+9.4f} {r['report_shift_r2']:7.3f} "
              f"{r['report_shift_r2_dynamic']:7.3f}")
    print(f"correlation over networks (fixed points): all {s['corr_all']:.4f}, pre only "
          f"{s['corr_pre']:.4f}; (trajectory): all {s['corr_all_dynamic']:.4f}")
    print(f"mean relative error of the predicted loss change (noise-in networks): fixed points "
          f"{s['rel_err_fp_pre']:.3f}, trajectory {s['rel_err_traj_pre']:.3f}")
    print("\n== operating points (fraction of pre-activations within k sigma of the kink) ==")
    print(f"{'':>6} {'1s masked':>10} {'2s masked':>10} {'1s all':>8} {'2s all':>8} {'|shift|':>8}")
    for pl in ("pre", "post"):
        print(f"{pl:>6} {s[pl + '_within1_masked']:10.3f} {s[pl + '_within2_masked']:10.3f} "
              f"{s[pl + '_within1_all']:8.3f} {s[pl + '_within2_all']:8.3f} "
              f"{s[pl + '_local_shift_masked']:8.4f}   (1s masked range over seeds "
              f"{s[pl + '_within1_masked_range'][0]:.3f}-{s[pl + '_within1_masked_range'][1]:.3f})")
    print("\n== compensation (pre networks, mse at sigma = 0 unless noted) ==")
    print(f"{'seed':>5} {'orig(0)':>9} {'orig(s)':>9} {'comp f~s':>9} {'comp b_out':>10} {'gap closed':>10}")
    for r in rows:
        if "loss_comp_activation" in r:
            gap = (r["loss_0"] - r["loss_comp_activation"]) / (r["loss_0"] - r["loss_sigma"])
            print(f"{r['seed']:>5} {r['loss_0']:9.4f} {r['loss_sigma']:9.4f} "
                  f"{r['loss_comp_activation']:9.4f} {r['loss_comp_output_bias']:10.4f} {gap:10.2f}")


if __name__ == "__main__":
    main()
    sys.exit(0)
