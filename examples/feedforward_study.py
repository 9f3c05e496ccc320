"""Noise preference in feedforward networks (issue 14, claim C3), measured.
========================================================================

Trains one- and two-hidden-layer relu networks on FunctionApproximation-v0's target
(x ~ U[-1, 1] -> sin(pi x), no time) with noise inside ("pre") or outside ("post") every
hidden activation at sigma_train, for several seeds, and sweeps the test sigma with common
random numbers (:func:`brian_noisy_rnn.evaluation.feedforward_noise_preference`). Prints one
row per network: preferred sigma, MSE at 0 and at sigma_train (+- SE over samples) and their
paired difference; writes ``<out>/feedforward.json`` (and caches networks in ``<out>/nets``:
re-running skips finished training).

Usage::

    python examples/feedforward_study.py --out ff_out            # 3 seeds, 256 units (~3 CPU-min)
    python examples/feedforward_study.py --out /tmp/q --quick     # 1 seed, fewer steps
"""

import argparse
import json
import os
import time

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="feedforward_study_out", help="output folder")
    p.add_argument("--n-seeds", type=int, default=3)
    p.add_argument("--sigma", type=float, default=1.0, help="training sigma")
    p.add_argument("--width", type=int, default=256, help="units per hidden layer")
    p.add_argument("--n-steps", type=int, default=5000, help="training steps")
    p.add_argument("--n-trials", type=int, default=2000, help="test samples per sigma")
    p.add_argument("--quick", action="store_true", help="1 seed, 1500 steps, 1000 samples")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from brian_noisy_rnn import Noise
    from brian_noisy_rnn.bridges.feedforward import train_feedforward
    from brian_noisy_rnn.core.atomic import atomic_write
    from brian_noisy_rnn.core.feedforward import FeedforwardSpec
    from brian_noisy_rnn.evaluation.feedforward import feedforward_noise_preference

    if args.quick:
        args.n_seeds, args.n_steps, args.n_trials = 1, 1500, 1000
    nets = os.path.join(args.out, "nets")
    os.makedirs(nets, exist_ok=True)
    sigmas = np.array([0.25, 0.5, 0.75, 1.25, 1.5, 2.0]) * args.sigma
    rows, cpu0 = [], time.process_time()
    print(f"{'layers':>6} {'noise':>5} {'seed':>4} {'pref':>5} {'mse(0)':>16} "
          f"{'mse(train)':>16} {'paired diff':>18}")
    for layers in (1, 2):
        for placement in ("pre", "post"):
            for seed in range(args.n_seeds):
                name = f"L{layers}_{placement}_w{args.width}_s{args.sigma:g}_n{args.n_steps}_seed{seed}.npz"
                path = os.path.join(nets, name)
                if os.path.exists(path):
                    spec = FeedforwardSpec.load(path)
                else:
                    spec = train_feedforward(hidden_sizes=(args.width,) * layers,
                                             noise=Noise(placement, args.sigma), seed=seed,
                                             steps=args.n_steps, progress=False).spec
                    spec.save(path)
                curve = feedforward_noise_preference(spec, sigmas=sigmas, n_trials=args.n_trials,
                                                     seed=1000 + seed)
                d, e = curve.difference(0.0, args.sigma)
                row = {"layers": layers, "placement": placement, "seed": seed,
                       **curve.summary(), "curve": curve.to_dict()}
                rows.append(row)
                print(f"{layers:>6} {placement:>5} {seed:>4} {curve.preferred_sigma:>5.2f} "
                      f"{curve.metric_at_zero:>8.4f}+-{curve.sem_at_zero:.4f} "
                      f"{curve.metric_at_train:>8.4f}+-{curve.sem_at_train:.4f} "
                      f"{d:>+9.4f}+-{e:.4f}", flush=True)
    out = {"settings": vars(args), "rows": rows, "cpu_s": time.process_time() - cpu0}
    with atomic_write(os.path.join(args.out, "feedforward.json"), suffix=".json") as f:
        f.write(json.dumps(out, indent=1).encode())
    print(f"CPU {out['cpu_s']:.0f} s; wrote {os.path.join(args.out, 'feedforward.json')}")
    return out


if __name__ == "__main__":
    main()
