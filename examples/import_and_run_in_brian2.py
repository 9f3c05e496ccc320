"""Bring your own network: train with nn4n, import, run in Brian2 beside your neurons, sweep noise.
================================================================================================

1. nn4n (``pip install nn4n``) trains a small CTRNN (its x-form: the membrane potential v is
   filtered, ``fr = tanh(v)``) with state noise ``preact_noise`` to hold the sign of a brief
   pulse (a one-bit memory), and saves it with ``model.save``.
2. :func:`brian_noisy_rnn.io.import_network` reads the file (weights-only, no pickle) and
   :func:`~brian_noisy_rnn.io.measure_parity` checks it against nn4n's own equations on
   numpy, torch and Brian2, with and without noise.
3. The imported spec runs as a :class:`~brian_noisy_rnn.RateCTRNN` in an ordinary Brian2
   ``Network`` whose leaky integrate-and-fire population reads the network's output through
   ``linked_var``: the population fires while the memory holds a positive sign.
4. The noise sweep: the same network in Brian2 at several ``preact_noise`` amplitudes (nn4n's
   convention, ``Noise("state", sigma, scale="alpha")``), scored on fresh trials.

Usage::

    python examples/import_and_run_in_brian2.py [--steps 150] [--out DIR]
"""

import argparse
import os
import tempfile
import time

import numpy as np
import torch
from brian2 import (Network, NeuronGroup, SpikeMonitor, StateMonitor, linked_var, mV, ms,
                    second)

from brian_noisy_rnn import Noise, RateCTRNN, simulate
from brian_noisy_rnn.io import import_network, measure_parity, parity_inputs

N_STEPS, PULSE = 40, (5, 10)  # trial length and pulse window, in steps of dt = 10 ms


def memory_trials(n_trials, rng):
    """Inputs (T, B, 1): a pulse of random sign; targets (T, B, 1): that sign after it."""
    sign = rng.choice([-1.0, 1.0], size=n_trials)
    u = np.zeros((N_STEPS, n_trials, 1))
    u[PULSE[0]:PULSE[1], :, 0] = sign
    target = np.zeros_like(u)
    target[PULSE[1]:, :, 0] = sign
    return u, target


def train_with_nn4n(path, steps, seed=0):
    """Train nn4n's CTRNN on the memory task and save it at ``path`` (nn4n's own format)."""
    from nn4n.model import CTRNN

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CTRNN(dims=[1, 16, 1], dt=10, tau=100, activation="tanh", preact_noise=0.1,
                  biases="zero", weights=["uniform", "normal", "uniform"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        u, target = memory_trials(16, rng)
        out, _ = model(torch.as_tensor(u, dtype=torch.float32))
        loss = ((out - torch.as_tensor(target, dtype=torch.float32)) ** 2)[PULSE[1]:].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save(path)
    return loss.item()


def run_with_lif_neurons(spec, u, n_lif=50):
    """One trial of ``spec`` as a RateCTRNN driving the user's LIF population (Brian2)."""
    rnn = RateCTRNN(spec, n_trials=1, noise=Noise("none"))
    rnn.set_inputs(u)
    lif = NeuronGroup(n_lif, """dv/dt = (-v + 12*mV + 8*mV*z_in)/(10*ms) : volt
                                z_in : 1 (linked)""",
                      threshold="v > 10*mV", reset="v = 0*mV", refractory=2 * ms,
                      method="euler", dt=0.5 * ms, name="user_lif")
    lif.z_in = linked_var(rnn.readout, "z", index=np.zeros(n_lif, dtype=int))
    spikes = SpikeMonitor(lif)
    z = StateMonitor(rnn.readout, "z", record=True, when="end")
    Network(rnn, lif, spikes, z).run(len(u) * spec.dt)
    return rnn.trial_view(z, "z")[:, 0, 0], np.asarray(spikes.t / second)


def main(steps=150, out=None, sigmas=(0.0, 0.1, 0.3, 0.6), n_eval=64):
    """Run the four parts; return a dict of what they measured."""
    out = out or tempfile.mkdtemp(prefix="import_example_")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "nn4n_memory.pth")
    t0 = time.perf_counter()
    loss = train_with_nn4n(path, steps)
    print(f"1. nn4n trained {steps} steps (last training loss {loss:.3f}) -> {path} "
          f"[{time.perf_counter() - t0:.1f} s]")
    t0 = time.perf_counter()

    spec, reference = import_network("nn4n", path)
    report = measure_parity(spec, reference, parity_inputs(spec, 30, 2))
    print(f"2. imported {spec!r}")
    print("\n".join("   " + line for line in report.lines()))
    spec.save(os.path.join(out, "imported.npz"))
    print(f"   [{time.perf_counter() - t0:.1f} s]")
    t0 = time.perf_counter()

    rng = np.random.default_rng(1)
    u, target = memory_trials(2, rng)
    u_pos = u[:, :1] if target[-1, 0, 0] > 0 else u[:, 1:]
    z, spike_times = run_with_lif_neurons(spec, u_pos)
    dt = float(spec.dt / second)
    late = np.mean(spike_times > PULSE[1] * dt) if len(spike_times) else 0.0
    print(f"3. Brian2: z at the end {z[-1]:+.2f} (target +1); the LIF population fired "
          f"{len(spike_times)} spikes, {late:.0%} of them after the pulse "
          f"[{time.perf_counter() - t0:.1f} s]")
    t0 = time.perf_counter()

    u, target = memory_trials(n_eval, rng)
    sweep = {}
    for sigma in sigmas:
        res = simulate(spec, u, backend="brian2", noise=spec.noise.with_sigma(sigma), seed=2)
        sweep[sigma] = float(np.mean((res.outputs - target)[PULSE[1]:] ** 2))
    print("4. noise sweep in Brian2 (preact_noise, nn4n's scale 'alpha'): task loss "
          + ", ".join(f"{s:g}: {v:.3f}" for s, v in sweep.items())
          + f" [{time.perf_counter() - t0:.1f} s]")
    return {"spec": spec, "parity": report.worst(), "z": z, "spikes": spike_times,
            "sweep": sweep, "train_loss": loss}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=150, help="nn4n training steps")
    parser.add_argument("--out", default=None, help="folder for the files (default: a temp dir)")
    args = parser.parse_args()
    main(args.steps, args.out)
