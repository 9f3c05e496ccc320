"""Does a network trained with white noise inside f prefer biological noise at test time?
======================================================================================

Trains the reference network of docs/design.md (FunctionApproximation-v0, 32 relu units, gamma = 0.2,
white noise inside f with sigma = 1, 1500 Adam steps) with ``bridges.train``, then measures
its test loss (MSE) against the test-noise level for

* white noise inside f (the training noise),
* Ornstein-Uhlenbeck noise inside f (tau_noise = 20 ms = dt and 100 ms),
* continuous-time state noise,
* multiplicative post-activation Poisson noise (the rate-model twin of spiking), and
* the spiking realization in Brian2 (Poisson neurons, rate_max = 25 Hz): the noise level is
  set by the number of neurons per unit, reported as the effective sigma
  (``SpikingRealization.effective_sigma``),

and the convergence of the spiking realization to the rate network for 10, 100 and 1000
neurons per unit. All sweeps of the rate backends use the same trials and noise draws at
every sigma (``evaluate``'s common random numbers).

Usage::

    python examples/spiking_noise_preference.py [--out DIR] [--target cython] [--quick]

Results are cached in ``--out`` (trained spec, one JSON file per curve), so an interrupted
run continues where it stopped. ``--quick`` is a smoke test (tiny training, few trials).
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from brian2 import Hz, ms

from brian_noisy_rnn import CTRNNSpec, Noise
from brian_noisy_rnn.bridges import train
from brian_noisy_rnn.evaluation import evaluate_per_trial
from brian_noisy_rnn.backends.spiking import effective_sigma
from brian_noisy_rnn.tasks import make

TASK = "FunctionApproximation-v0"
RATE_MAX = 25 * Hz  # low enough that 1 neuron per unit is noisier than the training noise


def trained_spec(out, quick):
    """Train once (resumable through the checkpoint) and cache the spec."""
    path = os.path.join(out, "pre_white_sigma1.npz")
    if os.path.exists(path):
        return CTRNNSpec.load(path)
    res = train(TASK, n_hidden=32, noise=Noise("pre", 1.0), activation="relu", tau=100 * ms,
                steps=30 if quick else 1500, batch_size=64, lr=0.01, seed=0,
                checkpoint=os.path.join(out, "pre_white_sigma1.ckpt"), progress=True)
    res.spec.save(path)
    return res.spec


def curve(spec, env, name, points, out, n_trials, seed, **options):
    """Test MSE at each point; points = [(x, Noise, options)]; cached in out/<name>.json."""
    path = os.path.join(out, f"curve_{name}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    rows = []
    for x, noise, opts in points:
        opts = dict(opts)
        backend, trials = opts.pop("backend", "torch"), opts.pop("n_trials", n_trials)
        t0 = time.time()
        res = evaluate_per_trial(spec, env, backend=backend, noise=noise, n_trials=trials,
                                 seed=seed, **opts, **options)
        info = {k: (float(v / Hz) if k == "rate_max" else v) for k, v in opts.items()}
        rows.append({"x": x, "mse": res.mean("mse"), "sem": res.sem("mse"), "backend": backend,
                     "n_trials": res.n_trials, "seconds": time.time() - t0, **info,
                     "per_trial_mse": res.per_trial["mse"].tolist()})
        print(f"  {name:>14s}  x={x:6.3f}  mse={rows[-1]['mse']:.4f} +- {rows[-1]['sem']:.4f}"
              f"  ({rows[-1]['seconds']:.1f} s)", flush=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(tmp, path)
    return rows


def convergence(spec, env, out, n_trials, seed, target, rate_max=100 * Hz):
    """RMS output difference between spiking (M neurons per unit) and the rate network."""
    path = os.path.join(out, "convergence.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    from brian_noisy_rnn import simulate
    from brian_noisy_rnn.tasks import batch

    b = batch(env, n_trials, seed=seed)
    rate = simulate(spec, b.inputs, backend="numpy", noise=Noise("none")).outputs
    scale = float(np.sqrt(np.mean(rate ** 2)))
    rows = []
    for m in (10, 100, 1000):
        t0 = time.time()
        res = simulate(spec, b.inputs, backend="brian2-spiking", seed=seed, neurons_per_unit=m,
                       rate_max=rate_max, target=target)
        err = float(np.sqrt(np.mean((res.outputs - rate) ** 2)))
        s_eff = effective_sigma(dt=spec.dt, tau=spec.tau, neurons_per_unit=m, rate_max=rate_max)
        rows.append({"neurons_per_unit": m, "rms_error": err, "relative": err / scale,
                     "sigma_eff": s_eff, "seconds": time.time() - t0})
        print(f"  M={m:5d}: rms output error {err:.4f} ({err / scale:.2%} of rms output), "
              f"sigma_eff {s_eff:.3f}  ({rows[-1]['seconds']:.1f} s)", flush=True)
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="spiking_noise_preference_results")
    p.add_argument("--target", default="cython", choices=["numpy", "cython"])
    p.add_argument("--quick", action="store_true", help="smoke test: tiny training and sweeps")
    p.add_argument("--trials", type=int, default=1000, help="trials per rate-network point")
    args = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    n = 40 if args.quick else args.trials
    n_spk = 20 if args.quick else 400  # spiking trials (fewer for large M, see below)
    seed = 1234

    spec = trained_spec(args.out, args.quick)
    env = make(TASK, dt=spec.dt_seconds * 1000)
    pre = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
    families = {
        "white-pre": [(s, Noise("pre", s), {}) for s in pre],
        "ou-pre-20ms": [(s, Noise("pre", s, process="ou", tau_noise=20 * ms), {}) for s in pre],
        "ou-pre-100ms": [(s, Noise("pre", s, process="ou", tau_noise=100 * ms), {})
                         for s in pre],
        "state": [(s, Noise("state", s), {}) for s in (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)],
        "poisson-post": [(s, Noise("post", s, process="poisson"), {})
                         for s in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)],
    }
    ms_list = (1, 2, 4, 8, 64) if args.quick else (1, 2, 3, 4, 6, 8, 16, 64, 256, 1000)
    spiking = [(0.0, Noise("none"), {"backend": "numpy", "n_trials": n_spk})]
    for m in ms_list:
        s_eff = effective_sigma(dt=spec.dt, tau=spec.tau, neurons_per_unit=m, rate_max=RATE_MAX)
        # the trials of a smaller batch are the first trials of a larger one (same seed), so
        # every point is compared with sigma = 0 on the same trials (paired differences)
        trials = n_spk if m <= 16 else max(20, n_spk // (4 if m <= 256 else 8))
        spiking.append((s_eff, None, {"backend": "brian2-spiking", "neurons_per_unit": m,
                                      "rate_max": RATE_MAX, "target": args.target,
                                      "n_trials": trials}))
    families["spiking"] = spiking

    results = {}
    for name, points in families.items():
        print(f"{name}:", flush=True)
        results[name] = curve(spec, env, name, points, args.out, n, seed)
    print("convergence of the spiking realization (rate_max = 100 Hz):")
    conv = convergence(spec, env, args.out, 20 if args.quick else 50, seed, args.target)

    print("\nMSE change against sigma = 0 on the same trials (paired mean +- SE):")
    print("| test noise | sigma: MSE - MSE(0) ... | best sigma | MSE at 0 | MSE at best |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        zero = np.array(rows[0]["per_trial_mse"])
        cells = []
        for r in rows[1:]:
            d = np.array(r["per_trial_mse"]) - zero[: r["n_trials"]]
            cells.append(f"{r['x']:.3g}: {d.mean():+.4f}+-{d.std(ddof=1) / np.sqrt(d.size):.4f}")
        i = int(np.argmin([r["mse"] - np.mean(zero[: r["n_trials"]]) for r in rows]))
        print(f"| {name} | {'; '.join(cells)} | {rows[i]['x']:.3g} | {rows[0]['mse']:.4f} | "
              f"{rows[i]['mse']:.4f} |")
    print("\n| neurons per unit | sigma_eff | rms output error | relative |")
    print("|---|---|---|---|")
    for r in conv:
        print(f"| {r['neurons_per_unit']} | {r['sigma_eff']:.3f} | {r['rms_error']:.4f} | "
              f"{r['relative']:.2%} |")


if __name__ == "__main__":
    main()
