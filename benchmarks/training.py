"""Training throughput of ``bridges.train``: time per step, trial generation vs optimisation.

For each task (noise-free, default sizes below) it prints, side by side:

* "batch ms": generating one batch of fresh trials (``tasks.batch``), the data cost of a step;
* "step ms (fresh)": one full training step with fresh trials every step (the default);
* "step ms (pool)": the same with ``trial_pool=4096`` (batches sampled from a fixed pool;
  generating the pool once is not included);
* "data share": batch ms / step ms (fresh), the fraction of a step spent making trials;
* "fresh/pool": how much a trial pool speeds training up.

A second table compares torch intra-op threads (1 vs 2) on the reference configuration
(FunctionApproximation, 32 relu units, batch 64, noise inside f, sigma 1) and extrapolates
the time per network of 1500 steps (DESIGN.md: about 8 s on one core).

Usage::

    python benchmarks/training.py            # all tasks, 100 timed steps each
    python benchmarks/training.py --quick    # 20 steps, two tasks
"""

import argparse
import time


def time_training(task, n_hidden, steps, trial_pool=None, num_threads=1, noise=None):
    """Seconds per training step, set-up excluded (after a 5-step warm-up run)."""
    from brian_noisy_rnn import Noise, tasks
    from brian_noisy_rnn.bridges import train

    env = tasks.make(task)
    kw = dict(n_hidden=n_hidden, noise=noise or Noise("none"), seed=0, progress=False,
              batch_size=64, trial_pool=trial_pool, num_threads=num_threads, log_every=10 ** 6)
    train(env, steps=5, **kw)  # warm-up (imports, first-call overheads)
    stamps = []
    train(env, steps=steps + 1, callback=lambda step, loss: stamps.append(time.perf_counter()),
          **kw)
    return (stamps[-1] - stamps[0]) / steps  # excludes set-up (e.g. generating the pool)


def time_batch(task, repeats):
    """Seconds to generate one batch of 64 fresh trials."""
    from brian_noisy_rnn import tasks

    env = tasks.make(task)
    tasks.batch(env, 64, seed=0)
    t0 = time.perf_counter()
    for s in range(repeats):
        tasks.batch(env, 64, seed=s + 1)
    return (time.perf_counter() - t0) / repeats


TASKS = [
    ("FunctionApproximation-v0", 32),
    ("SingleNeuronRegulator-v0", 32),
    ("PathIntegration2D-v0", 64),
    ("MazeNavigation-v0", 64),
    ("PerceptualDecisionMaking-v0", 64),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per measurement")
    parser.add_argument("--quick", action="store_true", help="20 steps, two tasks")
    args = parser.parse_args()
    steps = 20 if args.quick else args.steps
    task_list = TASKS[:2] if args.quick else TASKS

    print(f"Training step time, batch 64, 1 torch thread, {steps} steps per measurement")
    print(f"{'task':<30}{'N':>5}{'batch ms':>10}{'step ms (fresh)':>17}{'step ms (pool)':>16}"
          f"{'data share':>12}{'fresh/pool':>12}")
    for task, n in task_list:
        b = time_batch(task, max(5, steps // 5)) * 1e3
        fresh = time_training(task, n, steps) * 1e3
        pool = time_training(task, n, steps, trial_pool=4096) * 1e3
        print(f"{task:<30}{n:>5}{b:>10.2f}{fresh:>17.2f}{pool:>16.2f}{b / fresh:>12.0%}"
              f"{fresh / pool:>12.2f}")

    from brian_noisy_rnn import Noise

    print("\nReference network (FunctionApproximation, 32 relu units, pre-noise sigma 1, batch 64)")
    print(f"{'torch threads':<16}{'step ms':>10}{'1500 steps s':>14}{'x 1 thread':>12}")
    base = None
    for threads in (1, 2):
        t = time_training("FunctionApproximation-v0", 32, steps, num_threads=threads,
                          noise=Noise("pre", 1.0)) * 1e3
        base = base or t
        print(f"{threads:<16}{t:>10.2f}{t * 1.5:>14.1f}{t / base:>12.2f}")


if __name__ == "__main__":
    main()
