"""Closed-loop maze navigation (issue 14, item 2): goal-reached rate against test sigma.
=====================================================================================

Trains 64-unit relu CTRNNs teacher-forced on MazeNavigation-v0 (tau 100 ms, dt 20 ms,
sigma_train 1, noise inside "pre" and outside "post" f, one ensemble per seed) and evaluates
them (numpy backend)

- closed loop on MazeNavigationClosedLoop-v0 (the network's own moves decide where it is
  next): the goal-reached rate and the periods spent at the goal, per test sigma
  (:func:`brian_noisy_rnn.evaluation.closed_loop.closed_loop_noise_preference`);
- teacher-forced on MazeNavigation-v0: accuracy and the trained loss (cross-entropy) per test
  sigma (:func:`brian_noisy_rnn.noise_preference`).

Writes ``<out>/maze.json``; trained networks are cached in ``<out>/nets`` (re-running skips
training).

Measured (seed 0, 800 steps, 500 trials; 33-38 CPU s to train each pair, about 90 CPU s
per run in all)::

    sigma_train 1, test sigma:   0       0.5     1       1.5     2
    noise in,  goal reached     0.976   0.970   0.878   0.558   0.292
    noise in,  TF accuracy      0.9987  0.9984  0.9948  0.9804  0.9522
    noise in,  TF loss          0.0195  0.0203  0.0265  0.0549  0.1427
    noise out, goal reached     0.852   0.828   0.704   0.548   0.460
    noise out, TF loss          0.0295  0.0348  0.0536  0.0926  0.1604

(goal: goal-reached rate in closed loop; TF: teacher-forced on MazeNavigation-v0.) At
sigma_train 1 both placements are best at sigma 0 in every measure; closed loop turns the
0.5% step errors of the noise-in network at sigma 1 into 12% failed trials. With
``--sigma 3`` the noise-in network's teacher-forced loss prefers sigma 2.25 (0.066 against
0.140 at 0; accuracy 0.984 against 0.955) and the periods spent at the goal peak at sigma
1.5 (10.44 against 10.14 at 0), but the goal-reached rate is still best at 0 (0.948, 0.896 at
1.5, 0.588 at 3); noise out: best at 0 in every measure (goal 0.706 at 0, 0.440 at 3).

Usage::

    python examples/maze_closed_loop_study.py --out maze_out             # 1 seed, 800 steps
    python examples/maze_closed_loop_study.py --out /tmp/q --quick        # 300 steps, 100 trials
"""

import argparse
import json
import os
import time

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="maze_closed_loop_out", help="output folder")
    p.add_argument("--n-seeds", type=int, default=1)
    p.add_argument("--sigma", type=float, default=1.0, help="training sigma")
    p.add_argument("--n-steps", type=int, default=800, help="training steps")
    p.add_argument("--n-trials", type=int, default=500, help="test trials per sigma")
    p.add_argument("--quick", action="store_true", help="300 steps, 100 trials")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from brian2 import ms

    from brian_noisy_rnn import CTRNNSpec, Noise, noise_preference
    from brian_noisy_rnn.bridges import train_ensemble
    from brian_noisy_rnn.core.atomic import atomic_write
    from brian_noisy_rnn.evaluation.closed_loop import closed_loop_noise_preference

    if args.quick:
        args.n_steps, args.n_trials = 300, 100
    nets = os.path.join(args.out, "nets")
    os.makedirs(nets, exist_ok=True)
    sigmas = np.array([0.25, 0.5, 0.75, 1.5, 2.0]) * args.sigma
    rows, cpu0 = [], time.process_time()
    for seed in range(args.n_seeds):
        paths = {p: os.path.join(nets, f"maze_{p}_s{args.sigma:g}_n{args.n_steps}_seed{seed}.npz")
                 for p in ("pre", "post")}
        if all(os.path.exists(v) for v in paths.values()):
            specs = {p: CTRNNSpec.load(v) for p, v in paths.items()}
        else:
            t0 = time.process_time()
            res = train_ensemble("MazeNavigation-v0", n_hidden=64, tau=100 * ms,
                                 steps=args.n_steps, batch_size=64, lr=1e-2, seed=seed,
                                 members=[{"noise": Noise("pre", args.sigma)},
                                          {"noise": Noise("post", args.sigma)}],
                                 progress=False)
            print(f"seed {seed}: trained 2 networks in {time.process_time() - t0:.0f} CPU s")
            specs = dict(zip(("pre", "post"), res.specs))
            for p, spec in specs.items():
                spec.save(paths[p])
        for placement, spec in specs.items():
            closed = closed_loop_noise_preference(spec, "MazeNavigationClosedLoop-v0", sigmas,
                                                  backend="numpy", n_trials=args.n_trials,
                                                  seed=100 + seed)
            forced = noise_preference(spec, "MazeNavigation-v0", sigmas, backend="numpy",
                                      n_trials=args.n_trials, seed=100 + seed,
                                      metric="cross_entropy")
            d, e = closed.difference(0.0, args.sigma)
            row = {"seed": seed, "placement": placement, "sigmas": closed.sigmas.tolist(),
                   "goal_reached": closed.mean.tolist(), "goal_reached_sem": closed.sem.tolist(),
                   "periods_at_goal": closed.other_metrics["periods_at_goal"][0].tolist(),
                   "zero_minus_train": d, "zero_minus_train_sem": e,
                   "cross_entropy": forced.mean.tolist(), "cross_entropy_sem": forced.sem.tolist(),
                   "accuracy": forced.other_metrics["accuracy"][0].tolist(),
                   "preferred_sigma_goal": closed.preferred_sigma,
                   "preferred_sigma_loss": forced.preferred_sigma}
            rows.append(row)
            print(f"seed {seed} {placement:>4}  sigma: " + " ".join(f"{s:6.2f}" for s in closed.sigmas))
            print("   goal reached:   " + " ".join(f"{m:6.3f}" for m in closed.mean))
            print("   periods@goal:   " + " ".join(f"{m:6.2f}" for m in row["periods_at_goal"]))
            print("   teacher-forced accuracy: " + " ".join(f"{m:6.4f}" for m in row["accuracy"]))
            print("   teacher-forced loss:     " + " ".join(f"{m:6.4f}" for m in row["cross_entropy"]))
            print(f"   goal(0) - goal({args.sigma:g}) = {d:+.3f} +- {e:.3f} (paired)", flush=True)
    out = {"settings": vars(args), "rows": rows, "cpu_s": time.process_time() - cpu0}
    with atomic_write(os.path.join(args.out, "maze.json"), suffix=".json") as f:
        f.write(json.dumps(out, indent=1).encode())
    print(f"CPU {out['cpu_s']:.0f} s; wrote {os.path.join(args.out, 'maze.json')}")
    return out


if __name__ == "__main__":
    main()
