"""Why PathIntegration2D-v0 shows no noise preference (issue 14, item 3) -- the numbers.
=====================================================================================

Trains 64-unit relu CTRNNs on PathIntegration2D-v0 (tau 100 ms, dt 20 ms, Adam lr 1e-2,
batch 64) with noise inside ("pre") and outside ("post") f at sigma_train 1 (two seeds, one
ensemble per seed), continues seed 0 to twice the budget, and, for contrast, one 32-unit
FunctionApproximation-v0 network (the task where the preference is large). For every
network it reports

1. the noise-preference curve (MSE against test sigma, common random numbers) and the paired
   difference MSE(0) - MSE(sigma_train);
2. the bias/variance split at sigma_train (:func:`brian_noisy_rnn.analysis.network_shift_report`
   with repeated noise draws): MSE of the noise-averaged mean output (bias only) against the
   full noisy MSE (bias + variance), and the predicted loss increase at sigma 0 from the
   compensated (mean-field) network against the measured one;
3. the operating point (:func:`brian_noisy_rnn.analysis.operating_point_stats`): fraction of
   pre-activations within 1 and 2 sigma of the relu kink, the mean local shift
   ``|E f(a + sigma xi) - f(a)|``, and the noise relative to the drive (sigma / std of the
   noise-free pre-activation a over steps and trials, median over units);
4. along the trial: the output variance the noise causes at sigma_train and the squared
   shift of the mean output when the noise is removed (an integrator accumulates both:
   variance ~ t, a drift ~ t**2).

Results go to ``<out>/path_integration.json``; trained networks are cached in ``<out>/nets``.

Usage::

    python examples/path_integration_study.py --out pi_out           # ~6 CPU-min on 2 cores
    python examples/path_integration_study.py --out /tmp/q --quick    # 1 seed, 400 steps
"""

import argparse
import json
import os
import time

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="path_integration_study_out", help="output folder")
    p.add_argument("--n-seeds", type=int, default=2)
    p.add_argument("--sigma", type=float, default=1.0, help="training sigma")
    p.add_argument("--n-steps", type=int, default=1500, help="training steps")
    p.add_argument("--n-trials", type=int, default=500, help="test trials per sigma")
    p.add_argument("--quick", action="store_true", help="1 seed, 400 steps, 200 trials")
    return p.parse_args(argv)


def _train(task, n_hidden, steps, seed, sigma, nets, tag, checkpoint=True):
    """The (pre, post) pair of ``task`` trained together (cached; resumable from a checkpoint)."""
    from brian2 import ms

    from brian_noisy_rnn import CTRNNSpec, Noise
    from brian_noisy_rnn.bridges import train_ensemble

    paths = [os.path.join(nets, f"{tag}_{p}_s{sigma:g}_n{steps}_seed{seed}.npz")
             for p in ("pre", "post")]
    if all(os.path.exists(p) for p in paths):
        return [CTRNNSpec.load(p) for p in paths], 0.0
    t0 = time.process_time()
    ckpt = os.path.join(nets, f"{tag}_s{sigma:g}_seed{seed}.ckpt") if checkpoint else None
    res = train_ensemble(task, n_hidden=n_hidden, tau=100 * ms, steps=steps, batch_size=64,
                         lr=1e-2, seed=seed, checkpoint=ckpt, progress=False,
                         members=[{"noise": Noise("pre", sigma)}, {"noise": Noise("post", sigma)}])
    for spec, path in zip(res.specs, paths):
        spec.save(path)
    return res.specs, time.process_time() - t0


def _analyse(spec, task, sigmas, n_trials, seed):
    from brian_noisy_rnn import Noise, noise_preference, simulate, tasks
    from brian_noisy_rnn.analysis import network_shift_report, operating_point_stats, preactivations

    sigma = spec.noise.scalar_sigma()
    curve = noise_preference(spec, task, sigmas, backend="numpy", n_trials=n_trials, seed=seed)
    d, e = curve.difference(0.0, sigma)
    env = tasks.make(task, dt=20)
    small = tasks.batch(env, 200, seed=seed + 1)
    rep = network_shift_report(spec, small, n_repeats=16, seed=seed + 2)
    op = operating_point_stats(spec, small.inputs, small.mask, seed=seed + 3)
    a0 = preactivations(spec, small.inputs, noise=Noise("none"))[small.mask]  # (M, N)
    drive_std = a0.std(axis=0)
    active = drive_std > 1e-9
    # output variance along the trial at sigma_train: 16 noise draws of 50 trials
    few = tasks.batch(env, 50, seed=seed + 4)
    from brian_noisy_rnn.analysis.report import repeat_batch

    big = repeat_batch(few, 16)
    z = simulate(spec, big.inputs, backend="numpy", seed=seed + 5).outputs
    z = z.reshape(z.shape[0], 50, 16, -1)
    var_t = z.var(axis=2, ddof=1).mean(axis=(1, 2))  # (T,) output variance from the noise
    z0 = simulate(spec, few.inputs, backend="numpy", noise=Noise("none")).outputs
    shift_t = ((z.mean(axis=2) - z0) ** 2).mean(axis=(1, 2))  # (T,) squared mean shift
    T = len(var_t)
    quarters = [int(q * (T - 1)) for q in (0.1, 0.25, 0.5, 1.0)]
    return {
        "placement": spec.noise.placement, "sigma_train": sigma,
        "sigmas": curve.sigmas.tolist(), "mse": curve.mean.tolist(), "mse_sem": curve.sem.tolist(),
        "preferred_sigma": curve.preferred_sigma, "zero_minus_train": d, "zero_minus_train_sem": e,
        "target_variance": float(np.var(small.targets[small.mask])),
        "loss_det": rep.loss_det, "loss_noisy": rep.loss_noisy, "loss_mean": rep.loss_mean,
        "variance_part": rep.loss_noisy - rep.loss_mean,
        "bias_increase_at_0": rep.loss_det - rep.loss_mean,
        "delta_measured": rep.delta_measured, "delta_predicted_dynamic": rep.delta_predicted_dynamic,
        "within_1_sigma": op.fraction_within[1.0], "within_2_sigma": op.fraction_within[2.0],
        "fraction_active": op.fraction_active, "local_shift": op.local_shift,
        "silent_units": int(np.sum(np.all(a0 < 0, axis=0))),
        "sigma_over_drive_std_median": float(np.median(sigma / drive_std[active]))
        if active.any() else float("nan"),
        "steps_at": quarters,
        "output_variance_at": [float(var_t[i]) for i in quarters],
        "squared_shift_at": [float(shift_t[i]) for i in quarters],
        "rms_output_shift": float(np.sqrt(np.mean(rep.measured_shift ** 2))),
        "target_std": float(np.std(small.targets[small.mask])),
    }


def _row(name, r):
    s = r["sigmas"]
    i0, it = 0, s.index(r["sigma_train"])
    return (f"{name:<26} pref {r['preferred_sigma']:4.2f}  mse(0) {r['mse'][i0]:.5f}  "
            f"mse({r['sigma_train']:g}) {r['mse'][it]:.5f}  d {r['zero_minus_train']:+.5f}"
            f"+-{r['zero_minus_train_sem']:.5f} | bias-only {r['loss_mean']:.5f} var "
            f"{r['variance_part']:.5f} | pred dL {r['delta_predicted_dynamic']:+.5f} meas "
            f"{r['delta_measured']:+.5f} | <1sig {r['within_1_sigma']:.2f} shift "
            f"{r['local_shift']:.3f} sig/std(a) {r['sigma_over_drive_std_median']:.2f} "
            f"silent {r['silent_units']} active {r['fraction_active']:.2f}\n"
            f"{'':<26} along the trial (steps {r['steps_at']}): noise variance "
            + " ".join(f"{v:.5f}" for v in r["output_variance_at"]) + " | squared mean shift "
            + " ".join(f"{v:.5f}" for v in r["squared_shift_at"])
            + f" | rms shift {r['rms_output_shift']:.4f} (target std {r['target_std']:.3f})")


def main(argv=None):
    args = parse_args(argv)
    from brian_noisy_rnn.core.atomic import atomic_write

    if args.quick:
        args.n_seeds, args.n_steps, args.n_trials = 1, 400, 200
    nets = os.path.join(args.out, "nets")
    os.makedirs(nets, exist_ok=True)
    sigmas = np.array([0.25, 0.5, 0.75, 1.5, 2.0]) * args.sigma
    results, cpu0, train_cpu = {}, time.process_time(), 0.0
    for seed in range(args.n_seeds):
        specs, c = _train("PathIntegration2D-v0", 64, args.n_steps, seed, args.sigma, nets, "pi")
        train_cpu += c
        for spec in specs:
            key = f"PI {spec.noise.placement} seed {seed}"
            results[key] = _analyse(spec, "PathIntegration2D-v0", sigmas, args.n_trials, 10 + seed)
            print(_row(key, results[key]), flush=True)
    # training budget: seed 0 continued (resumed from its checkpoint) to twice the steps
    specs, c = _train("PathIntegration2D-v0", 64, 2 * args.n_steps, 0, args.sigma, nets, "pi")
    train_cpu += c
    for spec in specs:
        key = f"PI {spec.noise.placement} seed 0 x2 steps"
        results[key] = _analyse(spec, "PathIntegration2D-v0", sigmas, args.n_trials, 10)
        print(_row(key, results[key]), flush=True)
    # contrast: FunctionApproximation, where the preference is large
    specs, c = _train("FunctionApproximation-v0", 32, args.n_steps, 0, args.sigma, nets, "fa",
                      checkpoint=False)
    train_cpu += c
    for spec in specs:
        key = f"FA {spec.noise.placement} seed 0"
        results[key] = _analyse(spec, "FunctionApproximation-v0", sigmas, args.n_trials, 10)
        print(_row(key, results[key]), flush=True)
    out = {"settings": vars(args), "results": results, "train_cpu_s": train_cpu,
           "cpu_s": time.process_time() - cpu0}
    with atomic_write(os.path.join(args.out, "path_integration.json"), suffix=".json") as f:
        f.write(json.dumps(out, indent=1).encode())
    print(f"CPU {out['cpu_s']:.0f} s (training {train_cpu:.0f} s); wrote "
          f"{os.path.join(args.out, 'path_integration.json')}")
    return out


if __name__ == "__main__":
    main()
