"""Per-step and fixed cost, and peak memory, of ``simulate`` on every backend and path.

For each size N (hidden units; B trials, relu, noise inside f, one thread everywhere)
every path runs in its own subprocess, at T = 500 and at T = 2500 steps:

* "per step" is the slope of the call time between the two T (ms per step), so that code
  generation, compilation and start-up are separated from the simulation itself;
* "fixed" is the rest of a call: time(T=500) - 500 * slope (s per call);
* "first" is the first call at T=500 in a fresh process (cold cython cache, empty standalone
  build cache: the uncached cost, a build); the times above are the best of the later calls
  ("cached": cython cache warm; standalone ``simulate`` finds the project of this structure
  in the build cache and only starts the binary with the new weights, inputs and seed;
  ``StandaloneSimulator`` reruns its binary);
* "x torch" are the ratios of per-step and fixed cost to torch's at the same N;
* "peak MB" (at T=500) is the growth of the worker's peak RSS during the cached calls over
  its RSS before them (Linux VmHWM, reset after the first call), which includes the returned
  states (T*B*N*8 bytes: 131 MB at N=512, B=64); "binary MB" is the peak RSS of the
  standalone binary (the child process running the simulation, measured with
  /usr/bin/time); "total MB" is their sum.

Usage::

    python benchmarks/simulate.py                    # N=128 and 512, B=64
    python benchmarks/simulate.py --sizes 128 --no-standalone
    python benchmarks/simulate.py --quick            # smoke test (N=16, B=4, T=20/60)
"""

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# (label, backend, options, sizes it runs at by default: None = all)
VARIANTS = [
    ("numpy reference", "numpy", {}, None),
    ("torch (float64)", "torch", {}, None),
    ("brian2 numpy, dense", "brian2", {"target": "numpy", "recurrence": "dense"}, (128,)),
    ("brian2 cython, dense", "brian2", {"target": "cython", "recurrence": "dense"}, None),
    ("brian2 cython, synapses", "brian2", {"target": "cython", "recurrence": "synapses"},
     (128,)),
    ("standalone dense, simulate", "brian2", {"target": "cpp_standalone",
                                              "recurrence": "dense"}, None),
    ("standalone dense, rerun", "session", {"recurrence": "dense"}, None),
    ("standalone synapses, simulate", "brian2", {"target": "cpp_standalone",
                                                 "recurrence": "synapses"}, (128,)),
]


def _status_mb(field):
    """A memory field of /proc/self/status (e.g. VmRSS, VmHWM) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak_rss():
    """Reset this process's peak RSS (Linux: VmHWM)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _make_spec(n):
    import numpy as np
    from brian2 import ms

    from brian_noisy_rnn import CTRNNSpec, Noise

    rng = np.random.default_rng(0)
    return CTRNNSpec(rng.normal(size=(n, 3)), rng.normal(size=(n, n)) * 0.9 / np.sqrt(n),
                     rng.normal(size=n) * 0.1, rng.normal(size=(2, n)) / np.sqrt(n),
                     np.zeros(2), tau=100 * ms, dt=20 * ms, activation="relu",
                     noise=Noise("pre", 0.5))


def _caller(args, options, tmp, steps):
    """A function ``call(inputs, seed)`` for this path, and a ``close()``."""
    from brian_noisy_rnn import simulate

    spec = _make_spec(args.n)
    if args.backend == "session":
        from brian_noisy_rnn.backends.brian2 import StandaloneSimulator

        sim = StandaloneSimulator(spec, steps, args.batch, **options)
        return (lambda u, seed: sim.run(u, seed=seed)), sim.close
    return (lambda u, seed: simulate(spec, u, backend=args.backend, seed=seed, **options)), \
        (lambda: None)


def _worker(args):
    """Run one path at one size (both T); print a JSON line with timings and memory."""
    import numpy as np

    if args.backend == "torch":
        import torch

        torch.set_num_threads(1)
    options = json.loads(args.options)
    tmp = tempfile.mkdtemp(prefix="bench_brian2_")
    os.environ["BRIAN_NOISY_RNN_BUILD_CACHE"] = os.path.join(tmp, "build_cache")  # empty
    binary_log = os.path.join(tmp, "binary_maxrss.txt")
    if options.get("target") == "cython":
        import brian2

        brian2.prefs.codegen.runtime.cython.cache_dir = os.path.join(tmp, "cython")
    if options.get("target") == "cpp_standalone" or args.backend == "session":
        import brian2

        brian2.prefs.devices.cpp_standalone.run_cmd_unix = [
            "/usr/bin/time", "-a", "-o", binary_log, "-f", "%M", "./main"]
    rng = np.random.default_rng(0)
    out = {"times": {}, "peak_mb": None}
    for steps in args.steps:
        call, close = _caller(args, options, tmp, steps)
        times = []
        for k in range(args.repeats):
            inputs = rng.normal(size=(steps, args.batch, 3))
            if k == 1 and steps == args.steps[0]:  # memory of the cached calls
                gc.collect()
                _reset_peak_rss()
                if os.path.exists(binary_log):
                    os.remove(binary_log)
                rss0 = _status_mb("VmRSS")
            t0 = time.perf_counter()
            result = call(inputs, k + 1)
            times.append(time.perf_counter() - t0)
            del result
            if k == args.repeats - 1 and steps == args.steps[0]:
                out["peak_mb"] = _status_mb("VmHWM") - rss0
                if os.path.exists(binary_log):
                    with open(binary_log) as f:
                        out["binary_mb"] = max(int(x) for x in f.read().split()) / 1024
        close()
        out["times"][str(steps)] = times
    print(json.dumps(out))
    shutil.rmtree(tmp, ignore_errors=True)


def _run_variant(backend, options, n, args):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--backend", backend,
           "--options", json.dumps(options), "--n", str(n), "--batch", str(args.batch),
           "--steps", ",".join(map(str, args.steps)), "--repeats", str(args.repeats)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:80]}
    return json.loads(lines[-1])


def _fmt(x, spec="{:.2f}"):
    return "-" if x is None else spec.format(x)


def _costs(res, steps):
    """(first s, per-step ms, fixed s) from a worker's times at the two T."""
    t_a, t_b = (min(res["times"][str(t)][1:]) for t in steps)
    slope = (t_b - t_a) / (steps[1] - steps[0])
    return res["times"][str(steps[0])][0], 1e3 * slope, t_a - steps[0] * slope


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="128,512", help="comma-separated N (hidden units)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", default="500,2500", help="the two T of the slope")
    p.add_argument("--repeats", type=int, default=2, help="calls per T (1 first + cached)")
    p.add_argument("--no-standalone", action="store_true", help="skip cpp_standalone")
    p.add_argument("--all", action="store_true", help="run every path at every size")
    p.add_argument("--quick", action="store_true", help="smoke test: N=16, B=4, T=20 and 60")
    p.add_argument("--timeout", type=float, default=1800.0, help="per path, seconds")
    p.add_argument("--only", help="comma-separated parts of path labels to run (e.g. "
                   "'torch,standalone dense')")
    p.add_argument("--json", help="also write the rows to this JSON file")
    # worker mode (internal)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        args.steps = [int(s) for s in str(args.steps).split(",")]
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes and --steps must be comma-separated integers")
    if args.worker:
        return _worker(args)
    if args.repeats < 2:
        p.error("--repeats must be >= 2 (a first and at least one cached call)")
    if len(args.steps) != 2 or not 0 < args.steps[0] < args.steps[1]:
        p.error(f"--steps must be two increasing positive integers, got {args.steps}")
    if args.quick:
        sizes, args.batch, args.steps = [16], 4, [20, 60]
    plan = [(n, v) for n in sizes for v in VARIANTS
            if args.all or args.quick or v[3] is None or n in v[3]]
    if args.only:
        parts = [x.strip() for x in args.only.split(",") if x.strip()]
        plan = [(n, v) for n, v in plan if any(x in v[0] for x in parts)]
    if args.no_standalone:
        plan = [(n, v) for n, v in plan
                if v[2].get("target") != "cpp_standalone" and v[1] != "session"]

    print(f"simulate(): B={args.batch}, T={args.steps[0]} and {args.steps[1]}, relu, noise "
          f"pre sigma=0.5, one thread; load average before: {os.getloadavg()}")
    header = (f"{'N':>5}  {'path':<30} {'first s':>8} {'ms/step':>8} {'x torch':>8} "
              f"{'fixed s':>8} {'x torch':>8} {'peak MB':>8} {'binary MB':>9} {'total MB':>9}")
    print(header)
    print("-" * len(header))
    torch_costs, rows = {}, []
    for n, (label, backend, options, _) in plan:
        res = _run_variant(backend, options, n, args)
        if "error" in res:
            print(f"{n:>5}  {label:<30} failed: {res['error']}", flush=True)
            continue
        first, per_step, fixed = _costs(res, args.steps)
        if backend == "torch":
            torch_costs[n] = (per_step, fixed)
        ref = torch_costs.get(n)
        r_step = per_step / ref[0] if ref else None
        r_fixed = fixed / ref[1] if ref and ref[1] > 0 else None
        binary = res.get("binary_mb")
        total = res["peak_mb"] + (binary or 0)
        rows.append(dict(n=n, path=label, first_s=first, ms_per_step=per_step,
                         step_x_torch=r_step, fixed_s=fixed, fixed_x_torch=r_fixed,
                         peak_mb=res["peak_mb"], binary_mb=binary, total_mb=total))
        print(f"{n:>5}  {label:<30} {first:>8.2f} {per_step:>8.3f} "
              f"{_fmt(r_step, '{:.2f}x'):>8} {fixed:>8.3f} {_fmt(r_fixed, '{:.1f}x'):>8} "
              f"{res['peak_mb']:>8.0f} {_fmt(binary, '{:.0f}'):>9} {total:>9.0f}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
