"""Side-by-side timing and memory of ``simulate`` on every backend (numpy, torch, Brian2).

For each size (B trials x N hidden units, T steps, noise inside f), every implementation
runs in its own subprocess with one thread (OMP/BLAS/torch), twice:

* "first": the first call in a fresh process; for Brian2's cython target with an empty
  cython cache (a cold compile), for cpp_standalone in a new build folder (full build);
* "cached": the best of the following calls (cython cache warm; standalone rebuilt in the
  same folder, so ``make`` recompiles nothing).

"x torch" is cached time / torch's cached time; "peak MB" is the growth of the process's
peak RSS during the cached calls over its RSS before them (Linux VmHWM, reset after the
first call; elsewhere ru_maxrss over all calls). It includes the returned states
(T*B*N*8 bytes: 131 MB at N=512, 262 MB at N=1024). For cpp_standalone the simulation
runs in a child process, whose peak -- or the compiler's if larger -- is "child MB".

Usage::

    python benchmarks/simulate.py                 # B=64, T=500, N=128 and 512, + N=1024 memory
    python benchmarks/simulate.py --sizes 128 --no-standalone
    python benchmarks/simulate.py --quick         # smoke test (small sizes)
"""

import argparse
import gc
import json
import os
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
    ("brian2 cython, synapses", "brian2", {"target": "cython", "recurrence": "synapses"}, (128,)),
    ("brian2 cpp_standalone, synapses", "brian2", {"target": "cpp_standalone"}, (128, 512)),
]
MEMORY_ONLY = ("numpy reference", "torch (float64)", "brian2 cython, dense")


def _status_mb(field):
    """A memory field of /proc/self/status (e.g. VmRSS, VmHWM) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak_rss():
    """Reset this process's peak RSS (Linux: VmHWM); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _status_mb("VmHWM")
        return True
    except (OSError, KeyError):
        return False


def _worker(args):
    """Run one implementation at one size; print a JSON line with timings and memory."""
    import resource

    import numpy as np
    from brian2 import ms

    from brian_noisy_rnn import CTRNNSpec, Noise
    from brian_noisy_rnn import simulate

    if args.backend == "torch":
        import torch

        torch.set_num_threads(1)
    options = json.loads(args.options)
    rng = np.random.default_rng(0)
    n, n_in, n_out = args.n, 3, 2
    spec = CTRNNSpec(rng.normal(size=(n, n_in)), rng.normal(size=(n, n)) * 0.9 / np.sqrt(n),
                     rng.normal(size=n) * 0.1, rng.normal(size=(n_out, n)) / np.sqrt(n),
                     np.zeros(n_out), tau=100 * ms, dt=20 * ms, activation="relu",
                     noise=Noise("pre", 0.5))
    inputs = rng.normal(size=(args.steps, args.batch, n_in))
    tmp = tempfile.mkdtemp(prefix="bench_brian2_")
    if options.get("target") == "cython":
        import brian2

        brian2.prefs.codegen.runtime.cython.cache_dir = os.path.join(tmp, "cython")
    if options.get("target") == "cpp_standalone":
        options["directory"] = os.path.join(tmp, "standalone")
    times = []
    for k in range(args.repeats):
        if k == 1:  # measure the memory of the cached calls (not of compiling)
            gc.collect()
            can_reset = _reset_peak_rss()
            rss0 = _status_mb("VmRSS") if can_reset else \
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        result = simulate(spec, inputs, backend=args.backend, seed=1, **options)
        times.append(time.perf_counter() - t0)
        del result
    rss1 = _status_mb("VmHWM") if can_reset else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    standalone = options.get("target") == "cpp_standalone"
    print(json.dumps({"times": times, "peak_mb": rss1 - rss0,
                      "child_mb": child / 1024 if standalone else None}))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


def _run_variant(backend, options, n, batch, steps, repeats, timeout):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--backend", backend,
           "--options", json.dumps(options), "--n", str(n), "--batch", str(batch),
           "--steps", str(steps), "--repeats", str(repeats)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:60]}
    return json.loads(lines[-1])


def _fmt(x, spec="{:.2f}"):
    return "-" if x is None else spec.format(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="128,512", help="comma-separated N (hidden units)")
    p.add_argument("--memory-size", type=int, default=1024,
                   help="extra N run only by numpy, torch and brian2 cython dense (0: skip)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3, help="calls per process (1 first + cached)")
    p.add_argument("--no-standalone", action="store_true", help="skip cpp_standalone")
    p.add_argument("--all", action="store_true", help="run every variant at every size")
    p.add_argument("--quick", action="store_true", help="smoke test: N=16, B=4, T=20")
    p.add_argument("--timeout", type=float, default=900.0, help="per variant, seconds")
    # worker mode (internal)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args)
    if args.repeats < 2:
        p.error("--repeats must be >= 2 (a first and at least one cached call)")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if args.quick:
        sizes, args.batch, args.steps, args.memory_size = [16], 4, 20, 0
    plan = [(n, v) for n in sizes for v in VARIANTS if args.all or args.quick or v[3] is None
            or n in v[3]]
    if args.memory_size:
        plan += [(args.memory_size, v) for v in VARIANTS if v[0] in MEMORY_ONLY]
    if args.no_standalone:
        plan = [(n, v) for n, v in plan if v[2].get("target") != "cpp_standalone"]

    print(f"simulate(): B={args.batch}, T={args.steps}, relu, noise pre sigma=0.5, one thread; "
          f"first = cold (compile), cached = best of {args.repeats - 1} later calls")
    header = (f"{'N':>5}  {'implementation':<32} {'first s':>8} {'cached s':>9} "
              f"{'x torch':>8} {'peak MB':>8} {'child MB':>9}")
    print(header)
    print("-" * len(header))
    torch_time = {}
    rows = []
    for n, (label, backend, options, _) in plan:
        res = _run_variant(backend, options, n, args.batch, args.steps, args.repeats,
                           args.timeout)
        if "error" in res:
            print(f"{n:>5}  {label:<32} failed: {res['error']}", flush=True)
            continue
        first, cached = res["times"][0], min(res["times"][1:])
        if backend == "torch":
            torch_time[n] = cached
        ratio = cached / torch_time[n] if n in torch_time else None
        rows.append((n, label, first, cached, ratio, res["peak_mb"], res["child_mb"]))
        print(f"{n:>5}  {label:<32} {_fmt(first):>8} {_fmt(cached):>9} "
              f"{_fmt(ratio, '{:.2f}x'):>8} {_fmt(res['peak_mb'], '{:.0f}'):>8} "
              f"{_fmt(res['child_mb'], '{:.0f}'):>9}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
