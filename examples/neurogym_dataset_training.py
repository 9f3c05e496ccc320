"""Train with your own ``neurogym.Dataset`` loop, then run the trained network in Brian2.
======================================================================================

The NeuroGym way of training (as in NeuroGym's own examples): ``neurogym.Dataset`` cuts
float32 windows (T, B, n_in) through a stream of concatenated trials, and a cross-entropy
loss over every step trains the network. Here the network is this package's
:class:`~brian_noisy_rnn.bridges.TorchCTRNN` (noise inside the relu), so the trained weights
become a :class:`~brian_noisy_rnn.CTRNNSpec` that Brian2 runs as a ``RateCTRNN``:

1. a few hundred Adam steps on ``PerceptualDecisionMaking-v0`` at the task's own dt
   (100 ms, ``tasks.make`` without ``dt`` as ``neurogym.make``; tau = 200 ms) with the
   user's own Dataset loop (float32 inputs go straight into the module);
2. ``model.to_spec()``; the same float32 Dataset window through a float64 module made from
   the spec, and through ``simulate(backend="brian2")`` -- with the same noise seed the two
   agree to float precision, noise on;
3. NeuroGym's own performance: from ``evaluate`` (whole trials, NeuroGym's ``step`` replayed
   on the network's choices) and from ``closed_loop`` (the Brian2 network acting step by step
   in the environments); with the same seed both give the same number.

Usage::

    python examples/neurogym_dataset_training.py [--steps 300] [--trials 200]

Measured (300 steps, about 10 s on one core; Dataset draws fresh trials each run): training
cross-entropy ~0.02, torch vs Brian2 agree to ~1e-14, NeuroGym performance 0.88-0.90 on 200
trials, equal on both paths.
"""

import argparse
import time

import neurogym as ngym
import numpy as np
import torch
from brian2 import ms

from brian_noisy_rnn import Noise, simulate, tasks
from brian_noisy_rnn.bridges import TorchCTRNN
from brian_noisy_rnn.evaluation import closed_loop, evaluate

TASK = "PerceptualDecisionMaking-v0"


def train_with_dataset(env, steps, seed=0):
    """The user's loop: Dataset windows, a TorchCTRNN, cross-entropy on every step."""
    torch.manual_seed(seed)
    # NeuroGym's Dataset seeds its copies of env from fresh entropy: the data differ per run
    dataset = ngym.Dataset(env, batch_size=16, seq_len=100)
    n_in, n_out = env.observation_space.shape[0], env.action_space.n
    model = TorchCTRNN(n_in, 64, n_out, tau=200 * ms, dt=env.dt * ms, noise=Noise("pre", 0.2),
                       seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    for step in range(steps):
        x, y = dataset()  # float32 (T, B, n_in), int (T, B)
        outputs, _ = model(torch.from_numpy(x))
        loss = loss_fn(outputs.reshape(-1, n_out), torch.from_numpy(y).long().reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # relu CTRNNs can blow up
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step:4d}  cross-entropy {loss.item():.3f}")
    return model, dataset


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--trials", type=int, default=200)
    args = p.parse_args()

    env = tasks.make(TASK)  # the task's own dt (100 ms), as neurogym.make
    start = time.time()
    print(f"training on {TASK} with neurogym.Dataset ({args.steps} steps)")
    model, dataset = train_with_dataset(env, args.steps)
    print(f"  {time.time() - start:.1f} s")

    spec = model.to_spec(metadata={"task": TASK})
    x, _ = dataset()  # a fresh float32 window
    with torch.no_grad():  # a float64 module takes float32 inputs too
        TorchCTRNN.from_spec(spec)(torch.from_numpy(x))
    torch_run = simulate(spec, x, backend="torch", seed=1)
    brian_run = simulate(spec, x, backend="brian2", seed=1)
    diff = np.abs(torch_run.outputs - brian_run.outputs).max()
    print(f"torch vs Brian2 on a Dataset window, noise on (same seed): max |diff| = {diff:.1e}")
    assert diff < 1e-9 * max(1.0, np.abs(torch_run.outputs).max()), "torch and Brian2 disagree"

    batch = evaluate(spec, env, backend="brian2", n_trials=args.trials, seed=0)
    loop = closed_loop(spec, env, backend="brian2", n_trials=args.trials, seed=0)
    print(f"NeuroGym performance, whole trials (Brian2): {batch['performance']:.3f} "
          f"(our decision-period accuracy {batch['accuracy']:.3f})")
    print(f"NeuroGym performance, closed loop (Brian2):  {loop.metrics['performance']:.3f}")
    assert batch["performance"] == loop.metrics["performance"]


if __name__ == "__main__":
    main()
