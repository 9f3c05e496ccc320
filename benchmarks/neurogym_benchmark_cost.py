"""CPU cost of the NeuroGym benchmark's training, measured per ensemble step, and the full
run's CPU time estimated from it.

The benchmark trains the networks of one task, loss and network size together as one
ensemble (``train_ensemble`` through ``run_grid``): 2 placements x len(sigma_trains) x
len(seeds) members (12 in the full protocol). For a few tasks this script trains such an
ensemble for a handful of steps, one torch thread, and reports

* "pool s": CPU seconds until the first step is done (building the fixed trial pool and
  the ensemble; paid once per ensemble);
* "ms/step": CPU milliseconds per ensemble step after that (CPU time read after every step
  through ``train_ensemble``'s callback);
* "sweep s": CPU seconds of one network's test-noise sweep (every test sigma x the
  protocol's test trials, NeuroGym's performance replayed for each);

then estimates the full protocol's CPU time: sum over tasks and losses of
pool + (steps + f * cap_steps) * ms/step + (1 + f) * members * sweep, for f the fraction of networks that miss the
criterion in stage 1 (a second-stage ensemble holds only those; the estimate charges it a
full ensemble's step cost scaled by f, which overstates small ensembles' per-member
speed-up only a little). Tasks not measured are charged the mean ms/step of those measured
at their trial length (ms/step grows about linearly with trial length T).

The machine is shared: CPU time (not wall time) is reported, with the load average.

Usage::

    python benchmarks/neurogym_benchmark_cost.py            # 4 tasks, 12 members
    python benchmarks/neurogym_benchmark_cost.py --quick    # 2 tasks, fewer steps
"""

import argparse
import os
import time

import torch
from brian2 import ms as brian2_ms

from brian_noisy_rnn import Noise, noise_preference, tasks
from brian_noisy_rnn.bridges import train_ensemble
from brian_noisy_rnn.experiments import neurogym_benchmark as nb

MEASURED = ("PerceptualDecisionMaking-v0", "DelayMatchSample-v0", "ReadySetGo-v0",
            nb.YANG19_TASK)


def _cpu():
    t = os.times()
    return t.user + t.system


def ensemble_cost(task, dt, settings, steps):
    """(CPU seconds until the first step is done, CPU ms per later step) of one task's
    ensemble (one training of 1 + ``steps`` steps, CPU time read after each step), and the
    CPU seconds of one network's test sweep (the protocol's sigmas and trials)."""
    env = tasks.make(task, dt=dt)
    members = [dict(seed=s, noise=Noise(p, sigma)) for p in settings.placements
               for sigma in settings.sigma_trains for s in settings.seeds]
    stamps = []
    t0 = _cpu()
    result = train_ensemble(env, members=members, steps=1 + steps, batch_size=settings.batch_size,
                   lr=settings.lr, progress=False, n_hidden=settings.units(task),
                   trial_pool=settings.trial_pool, tau=settings.tau_ms * brian2_ms,
                   callback=lambda step, losses: stamps.append(_cpu()))
    t1 = _cpu()
    noise_preference(result.specs[0], env, list(settings.test_sigmas), backend="torch",
                     n_trials=settings.n_trials, seed=settings.eval_seed)
    sweep = _cpu() - t1
    return stamps[0] - t0, 1000.0 * (stamps[-1] - stamps[0]) / steps, sweep


def mean_trial_steps(task, dt):
    b = tasks.batch(tasks.make(task, dt=dt), 64, seed=0)
    return float(b.lengths.mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=20, help="steps of the slope")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    settings = nb.FULL
    measured = MEASURED[:2] if args.quick else MEASURED
    steps = 5 if args.quick else args.steps
    included, _ = nb.select_tasks()
    included[nb.YANG19_TASK] = 20.0
    print(f"load average at start: {os.getloadavg()}")
    lengths = {t: mean_trial_steps(t, dt) for t, dt in included.items()}
    costs = {}
    members = len(settings.placements) * len(settings.sigma_trains) * len(settings.seeds)
    print("| task | mean trial steps | pool s | ms/step (ensemble of "
          f"{members}) | ms/step per trial step | sweep s |")
    print("|---|---|---|---|---|---|")
    for task in measured:
        pool, ms, sweep = ensemble_cost(task, included[task], settings, steps)
        costs[task] = (pool, ms, sweep)
        print(f"| {task} | {lengths[task]:.0f} | {pool:.1f} | {ms:.0f} | "
              f"{ms / lengths[task]:.2f} | {sweep:.1f} |", flush=True)
    per_len = sum(ms / lengths[t] for t, (_, ms, _) in costs.items()) / len(costs)
    sweep_len = sum(sw / lengths[t] for t, (_, _, sw) in costs.items()) / len(costs)
    pool_mean = sum(p for p, _, _ in costs.values()) / len(costs)
    kinds = {t: nb.task_kind(t, dt) for t, dt in included.items()}
    print(f"\nload average at end: {os.getloadavg()}")
    for f in (0.0, 0.5, 1.0):
        total = 0.0
        for task in included:
            n_losses = len(settings.losses) if kinds[task] == "classification" else 1
            pool, ms, sweep = costs.get(task, (pool_mean, per_len * lengths[task],
                                               sweep_len * lengths[task]))
            total += n_losses * (pool * (1 + f) + (settings.steps + f * settings.cap_steps)
                                 * ms / 1000.0 + (1 + f) * members * sweep)
        print(f"estimated training CPU time of the full protocol, {f:.0%} of networks in "
              f"stage 2: {total / 3600:.2f} CPU-hours")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t0:.0f} s wall)")
