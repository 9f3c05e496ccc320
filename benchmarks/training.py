"""Training throughput of ``bridges.train``: time per step, trial generation vs optimisation.

For each task (noise-free, default sizes below) it prints, side by side:

* "batch ms": generating one batch of fresh trials (``tasks.batch``), the data cost of a step;
* "step ms (fresh)": one full training step with fresh trials every step (the default);
* "step ms (pool)": the same with ``trial_pool=4096`` (batches sampled from a fixed pool;
  generating the pool once is not included);
* "data share": batch ms / step ms (fresh), the fraction of a step spent making trials;
* "fresh/pool": how much a trial pool speeds training up.

A third table trains 6 and 12 FunctionApproximation networks (3 or 6 seeds x noise inside /
outside f, sigma 1, 32 relu units, batch 64) one by one with ``train`` and together with
``train_ensemble``, and compares the single-network step with a minimal hand-written PyTorch
CTRNN loop of the same size (same trials, noise, Adam and clipping; "plain" indexes
``drive[t]`` as a typical hand-written loop does, "unbind" avoids the per-step zero gradient
that indexing costs in backward). Times are wall clock and CPU time of this process (the
latter is less disturbed by other jobs on a shared machine).

A second table compares torch intra-op threads (1 vs 2) on the reference configuration
(FunctionApproximation, 32 relu units, batch 64, noise inside f, sigma 1) and extrapolates
the time per network of 1500 steps (docs/design.md: about 8 s on one core).

Measured (2026-11-28, torch 2.13 CPU, 2 cores shared with other jobs, load average 5-7, so
CPU times are above those of an idle machine). This code against the previous one
(per-(t, s) block linear maps, autograd for them, a four-operation backward per step), each
``time_one_by_one`` / ``time_ensemble`` call in its own process, alternating, best of 3:

===================================  ===========  =============
CPU ms per step                      this code    previous code
===================================  ===========  =============
6 networks one by one                35.6         36.0
6 networks as one ensemble           12.4         15.1
  speed-up                           2.9          2.4
12 networks one by one               68.3         68.6
12 networks as one ensemble          21.5         25.3
  speed-up                           3.2          2.7
one more member (12 vs 6)            1.5          1.7
bound: one network / one more        3.9          3.5
===================================  ===========  =============

A second series at load 3-4: 6 networks 33.4 / 12.6 ms (2.6x; previous code 30.1 / 16.8 ms,
1.8x), 12 networks 63.4 / 20.7 ms (3.1x; previous 63.7 / 26.4 ms, 2.4x), one more member
1.35 ms (previous 1.6). Full runs of ``--ensemble`` at load 8-10 gave 2.2-2.6x at 6 and
3.6-3.8x at 12 networks, and ``train`` / minimal loop 0.78-0.93. The goal of 4x at 6 networks is out of reach at this
size: S networks cost about ``t1 + (S - 1) m`` (t1 one network's step, m what one more
member costs), so 4x at S = 6 needs ``m <= t1 / 10``, about 0.6 ms, and even an infinite
ensemble stays below ``t1 / m``. A member's own trials and noise draws (made once per seed,
exactly as alone: about 0.3 ms per member here, two members per seed) and its 17 MFlop of
products per step (about 0.3 ms) already use that up; the rest of m is its share of the
passes over the (T, S, B, N) tensors (noise, buffers, the derivative of f, gradients). See
the README, "Training", for the profile by phase.

A fourth table (``--overhead``, issue 22) gives per size (N = 32, 64, 128, 256;
FunctionApproximation T = 40, batch 64, noise inside f) the training step's CPU time, the
time of the step's matrix products alone issued one by one (``time_products``), and their
ratio.

Usage::

    python benchmarks/training.py --overhead # step vs products-only per N
    python benchmarks/training.py            # all tasks, 100 timed steps each
    python benchmarks/training.py --quick    # 20 steps, two tasks
    python benchmarks/training.py --ensemble # only the ensemble / minimal-loop table
"""

import argparse
import time


def time_training(task, n_hidden, steps, trial_pool=None, num_threads=1, noise=None,
                  clocks=False):
    """Seconds per training step, set-up excluded (after a 5-step warm-up run).

    ``clocks=True``: (wall, cpu) seconds per step instead.
    """
    from brian_noisy_rnn import Noise, tasks
    from brian_noisy_rnn.bridges import train

    env = tasks.make(task, dt=20)  # NeuroGym tasks default to their own dt (100 ms)
    kw = dict(n_hidden=n_hidden, noise=noise or Noise("none"), seed=0, progress=False,
              batch_size=64, trial_pool=trial_pool, num_threads=num_threads, log_every=10 ** 6)
    train(env, steps=5, **kw)  # warm-up (imports, first-call overheads)
    stamps = []
    train(env, steps=steps + 1, callback=lambda step, loss: stamps.append(_clocks()), **kw)
    per_step = _per_step(stamps, steps)  # excludes set-up (e.g. generating the pool)
    return per_step if clocks else per_step[0]


def _clocks():
    return time.perf_counter(), time.process_time()


def _per_step(stamps, steps):
    """(wall, cpu) seconds per step from per-step (wall, cpu) stamps."""
    return tuple((stamps[-1][i] - stamps[0][i]) / steps for i in (0, 1))


def ensemble_members(n):
    """The reference networks: n // 2 seeds x noise inside / outside f."""
    return [(seed, placement) for seed in range(n // 2) for placement in ("pre", "post")]


def time_one_by_one(steps, n=6):
    """Summed (wall, cpu) per step of n reference networks trained one by one."""
    from brian_noisy_rnn import Noise
    from brian_noisy_rnn.bridges import train

    total = [0.0, 0.0]
    for seed, placement in ensemble_members(n):
        kw = dict(n_hidden=32, noise=Noise(placement, 1.0), seed=seed, batch_size=64,
                  progress=False, log_every=10 ** 6)
        train("FunctionApproximation-v0", steps=3, **kw)
        stamps = []
        train("FunctionApproximation-v0", steps=steps + 1,
              callback=lambda step, loss: stamps.append(_clocks()), **kw)
        for i, v in enumerate(_per_step(stamps, steps)):
            total[i] += v
    return tuple(total)


def time_ensemble(steps, n=6):
    """(wall, cpu) per step of n reference networks trained as one ensemble."""
    from brian_noisy_rnn import Noise
    from brian_noisy_rnn.bridges import train_ensemble

    members = [dict(seed=seed, noise=Noise(p, 1.0)) for seed, p in ensemble_members(n)]
    kw = dict(n_hidden=32, batch_size=64, progress=False, log_every=10 ** 6)
    train_ensemble("FunctionApproximation-v0", members=members, steps=3, **kw)
    stamps = []
    train_ensemble("FunctionApproximation-v0", members=members, steps=steps + 1,
                   callback=lambda step, losses: stamps.append(_clocks()), **kw)
    return _per_step(stamps, steps)


def time_minimal_loop(steps, unbind):
    """(wall, cpu) per step of a minimal hand-written CTRNN training loop (same data and noise)."""
    import math

    import torch

    from brian_noisy_rnn import tasks
    from brian_noisy_rnn.bridges.draws import BATCH, NOISE, derive_seed

    torch.set_num_threads(1)
    env = tasks.make("FunctionApproximation-v0")
    N, B, gamma, sigma, seed = 32, 64, env.dt / 100.0, 1.0, 0
    gen = torch.Generator().manual_seed(seed)
    w_in = torch.nn.Parameter(torch.rand(N, 1, generator=gen) * 2 - 1)
    w_rec = torch.nn.Parameter(torch.randn(N, N, generator=gen) * 0.5 / math.sqrt(N))
    b = torch.nn.Parameter(torch.zeros(N))
    w_out = torch.nn.Parameter((torch.rand(1, N, generator=gen) * 2 - 1) / math.sqrt(N))
    b_out = torch.nn.Parameter(torch.zeros(1))
    params = [w_in, w_rec, b, w_out, b_out]
    opt = torch.optim.Adam(params, lr=1e-2)

    def step(i):
        batch = tasks.batch(env, B, seed=derive_seed(seed, BATCH, i))
        x = torch.as_tensor(batch.inputs, dtype=torch.float32)
        y = torch.as_tensor(batch.targets, dtype=torch.float32)
        mask = torch.as_tensor(batch.mask)
        gen.manual_seed(derive_seed(seed, NOISE, i))
        xi = torch.randn((x.shape[0], B, N), generator=gen)
        drive = x @ w_in.T + b + sigma * xi
        if unbind:
            drive = drive.unbind(0)
        h, hs = torch.zeros(B, N), []
        for t in range(x.shape[0]):
            h = (1 - gamma) * h + gamma * torch.relu(h @ w_rec.T + drive[t])
            hs.append(h)
        out = torch.stack(hs) @ w_out.T + b_out
        loss = ((out - y) ** 2).mean(-1)[mask].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    for i in range(3):
        step(i)
    stamps = [_clocks()]
    for i in range(steps):
        step(i)
        stamps.append(_clocks())
    return _per_step(stamps, steps)


def ensemble_table(steps, sizes=(6, 12), repeats=3):
    """Print one by one vs ensemble (6 and 12 networks), the cost of one more member, and the
    single step vs the minimal loop.

    Both sides use one torch thread (``train`` and ``train_ensemble`` default to
    ``num_threads=1``), and the same trials and noise draws. Each time is the best of
    ``repeats`` interleaved measurements.
    """
    import os

    from brian_noisy_rnn import Noise

    print(f"\nFunctionApproximation networks (n/2 seeds x pre/post, sigma 1, N=32, batch 64), "
          f"{steps} steps per measurement, 1 torch thread; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'':<40}{'wall ms/step':>14}{'cpu ms/step':>13}   (best of {repeats} interleaved runs)")
    together_by_n = {}
    alone_by_n = {}
    for _ in range(repeats):  # interleaved, best of: robust to other jobs on a shared machine
        for n in sizes:
            for store, timer in ((alone_by_n, time_one_by_one), (together_by_n, time_ensemble)):
                t = timer(steps, n)
                store[n] = tuple(min(a, b) for a, b in zip(store.get(n, t), t))
    for n in sizes:
        alone, together = alone_by_n[n], together_by_n[n]
        print(f"{f'{n} networks one by one (sum)':<40}{alone[0] * 1e3:>14.2f}"
              f"{alone[1] * 1e3:>13.2f}")
        print(f"{f'{n} networks as one ensemble':<40}{together[0] * 1e3:>14.2f}"
              f"{together[1] * 1e3:>13.2f}")
        print(f"{'  speed-up (goal >= 4 at 6)':<40}{alone[0] / together[0]:>14.2f}"
              f"{alone[1] / together[1]:>13.2f}")
    if len(sizes) >= 2:
        # what one more member costs: the part of a step that stacking cannot share (its
        # trials and noise draws, its share of every product and elementwise pass)
        a, b = sizes[0], sizes[-1]
        marginal = [(together_by_n[b][i] - together_by_n[a][i]) / (b - a) for i in (0, 1)]
        single = [alone_by_n[a][i] / a for i in (0, 1)]
        print(f"{'  one more member costs':<40}{marginal[0] * 1e3:>14.2f}{marginal[1] * 1e3:>13.2f}")
        print(f"{'  one network alone (mean of the above)':<40}{single[0] * 1e3:>14.2f}"
              f"{single[1] * 1e3:>13.2f}")
        print(f"{'  bound: alone / one more member':<40}{single[0] / marginal[0]:>14.2f}"
              f"{single[1] / marginal[1]:>13.2f}")
    single = time_training("FunctionApproximation-v0", 32, steps, noise=Noise("pre", 1.0),
                           clocks=True)
    print(f"\n{'one network, pre sigma 1':<40}{'wall ms/step':>14}{'cpu ms/step':>13}")
    print(f"{'bridges.train':<40}{single[0] * 1e3:>14.2f}{single[1] * 1e3:>13.2f}")
    for unbind in (False, True):
        minimal = time_minimal_loop(steps, unbind)
        label = "minimal loop, " + ("unbind" if unbind else "plain")
        print(f"{label:<40}{minimal[0] * 1e3:>14.2f}{minimal[1] * 1e3:>13.2f}")
        print(f"{'  train / minimal (goal <= 1.2)':<40}{single[0] / minimal[0]:>14.2f}"
              f"{single[1] / minimal[1]:>13.2f}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def time_products(n_hidden, n_steps, batch_size=64, n_in=1, n_out=1, repeats=20):
    """(wall, cpu) seconds of the matrix products of one training step, issued one by one.

    The products ``_Rollout`` makes for one network (S = 1, float32) with T = ``n_steps``,
    each from Python into a preallocated output: forward, T + 1 products ``p_t += z_t W^T``
    (B x K times K x M, K = N + n_in + 1, M = N + n_out); backward, one ``dL/dh_T``
    product, T + 1 weight-gradient products (M x B times B x K) and T ``dL/dh_t`` products
    (B x M times M x N). The arithmetic floor of a step, with the least overhead Python
    allows; best of ``repeats``.
    """
    import torch

    N, T, B = n_hidden, n_steps, batch_size
    K, M = N + n_in + 1, N + n_out
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(T + 1, 1, B, K, generator=gen)
    p = torch.zeros(T + 1, 1, B, M)
    w = torch.randn(1, M, K, generator=gen) / K ** 0.5
    w_t, w_h = w.transpose(1, 2), w[..., :N]
    grad_p = torch.randn(T + 1, 1, B, M, generator=gen)
    grad_w = torch.zeros(1, M, K)
    grad_h, spare = torch.zeros(1, B, N), torch.zeros(1, B, N)
    best, threads = None, torch.get_num_threads()
    torch.set_num_threads(1)  # as train's default num_threads=1
    for _ in range(repeats):
        t0 = _clocks()
        for t in range(T + 1):
            p[t].baddbmm_(z[t], w_t)
        torch.bmm(grad_p[T], w_h, out=grad_h)
        grad_w.baddbmm_(grad_p[T].transpose(1, 2), z[T])
        for t in range(T - 1, -1, -1):
            grad_w.baddbmm_(grad_p[t].transpose(1, 2), z[t])
            torch.baddbmm(grad_h, grad_p[t], w_h, beta=0.8, out=spare)
            grad_h, spare = spare, grad_h
        t1 = _clocks()
        took = tuple(b - a for a, b in zip(t0, t1))
        best = took if best is None else tuple(min(a, b) for a, b in zip(best, took))
    torch.set_num_threads(threads)
    return best


def overhead_table(steps, sizes=(32, 64, 128, 256), repeats=3):
    """Print per size the step time, the products-only time and their ratio (issue 22).

    FunctionApproximation (T = 40 at dt = 20 ms), batch 64, noise inside f (sigma 1), float32,
    one torch thread. "step" is ``train``'s time per step; "products" is
    :func:`time_products` of the same shapes. Interleaved, best of ``repeats``; CPU time of
    this process (wall clock is disturbed more by other jobs on a shared machine).
    """
    import os

    from brian_noisy_rnn import Noise, tasks

    env_name = "FunctionApproximation-v0"
    T = tasks.batch(tasks.make(env_name, dt=20), 2, seed=0).n_steps
    print(f"\nStep vs products-only, {env_name} (T={T}), batch 64, pre sigma 1, float32, "
          f"1 torch thread, {steps} steps per measurement, best of {repeats} interleaved; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'N':>5}{'products ms':>13}{'step ms':>10}{'ratio':>8}   (cpu ms per step)")
    best = {}
    for _ in range(repeats):
        for n in sizes:
            t = time_training(env_name, n, steps, noise=Noise("pre", 1.0), clocks=True)[1]
            best[n, "step"] = min(best.get((n, "step"), t), t)
            t = time_products(n, T)[1]
            best[n, "products"] = min(best.get((n, "products"), t), t)
    for n in sizes:
        prod, step = (best[n, k] * 1e3 for k in ("products", "step"))
        print(f"{n:>5}{prod:>13.2f}{step:>10.2f}{step / prod:>8.2f}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def time_batch(task, repeats):
    """Seconds to generate one batch of 64 fresh trials."""
    from brian_noisy_rnn import tasks

    env = tasks.make(task, dt=20)
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
    parser.add_argument("--ensemble", action="store_true",
                        help="only the ensemble and minimal-loop table")
    parser.add_argument("--overhead", action="store_true",
                        help="only the step vs products-only table (N = 32, 64, 128, 256)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved repetitions of the ensemble table (best of)")
    args = parser.parse_args()
    steps = 20 if args.quick else args.steps
    if args.ensemble:
        ensemble_table(steps, repeats=args.repeats)
        return
    if args.overhead:
        overhead_table(steps, repeats=args.repeats)
        return
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

    overhead_table(steps, repeats=args.repeats)
    ensemble_table(steps, repeats=args.repeats)


if __name__ == "__main__":
    main()
