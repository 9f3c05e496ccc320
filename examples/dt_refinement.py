"""dt refinement: which noise models have a continuous-time limit?
===============================================================

Simulates one recurrent network (``example_spec``: 32 relu units, tau = 100 ms, constant
input) at dt = 20, 10, 5 and 2.5 ms -- the same weights, so the same continuous-time
system -- with each noise model, in PyTorch and in Brian2, and prints the stationary
statistics: the mean state (averaged over units), its shift against the noise-free fixed
point, and the state's standard deviation (averaged over units).

Expected (docs/noise_models.md): OU noise inside f and state noise converge as dt shrinks;
per-step white noise (inside or outside f, and the Poisson-like noise) loses its
fluctuations (std ~ sqrt(dt)) while, inside f, its mean shift E f(a + sigma xi) - f(a) stays.

Usage::

    python examples/dt_refinement.py [--backends torch brian2] [--trials 64]
"""

import argparse

import numpy as np
import torch
from brian2 import ms

from brian_noisy_rnn import Noise
from brian_noisy_rnn.analysis.stationary import stationary_stats
from brian_noisy_rnn.core import example_spec

NOISES = {
    "white-pre": Noise("pre", 0.5),
    "ou-pre (50 ms)": Noise("pre", 0.5, process="ou", tau_noise=50 * ms),
    "state": Noise("state", 0.1),
    "white-post": Noise("post", 0.5),
    "poisson-post": Noise("post", 0.5, process="poisson"),
}
DTS_MS = (20.0, 10.0, 5.0, 2.5)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", nargs="+", default=["torch", "brian2"])
    p.add_argument("--trials", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(1)
    base = example_spec(32, noise=Noise("none"), seed=0)
    u = np.array([0.5])
    print("| noise | dt (ms) | backend | mean h | shift vs sigma=0 | std h |")
    print("|---|---|---|---|---|---|")
    for name, noise in NOISES.items():
        for dt in DTS_MS:
            spec = base.replace(dt=dt * ms)
            clean = stationary_stats(spec, u, Noise("none"), backend="numpy", n_trials=2)
            for backend in args.backends:
                st = stationary_stats(spec, u, noise, backend=backend, n_trials=args.trials,
                                      seed=1)
                std = float(np.mean(np.sqrt(np.diag(st.cov))))
                shift = float(np.mean(st.mean - clean.mean))
                print(f"| {name} | {dt:g} | {backend} | {np.mean(st.mean):.4f} | "
                      f"{shift:+.4f} | {std:.4f} |", flush=True)


if __name__ == "__main__":
    main()
