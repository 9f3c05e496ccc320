"""An ordinary Brian2 script with a rate CTRNN inside it, driving a spiking population.
====================================================================================

The CTRNN (a saved :class:`~brian_noisy_rnn.CTRNNSpec`, or a small built-in example) is a
:class:`~brian_noisy_rnn.RateCTRNN`: real Brian2 groups on their own clock (the spec's
``dt``) that sit in the same ``Network`` as a population of leaky integrate-and-fire
neurons running at Brian2's default 0.1 ms. The LIF neurons read the network's output
``z`` through ``linked_var`` and receive it as an input current, so their firing rate
follows ``z``.

Usage::

    python examples/brian2_script_with_rnn.py [SPEC.npz] [OUTPUT.png]

Without SPEC the example network of :func:`brian_noisy_rnn.core.examples.example_spec`
is used; the figure goes to OUTPUT (default ``./output/brian2_script_with_rnn.png``).
The environment variable ``BRIAN_NOISY_RNN_EXAMPLE_DURATION`` (seconds, default 4) sets the
simulated time.
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from brian2 import (Network, NeuronGroup, PopulationRateMonitor, SpikeMonitor,  # noqa: E402
                    StateMonitor, defaultclock, linked_var, mV, ms, second, seed)

from brian_noisy_rnn import CTRNNSpec, Noise, RateCTRNN  # noqa: E402
from brian_noisy_rnn import simulate  # noqa: E402


def load_spec(path=None):
    """The spec saved at ``path``, or the built-in example network (1 input, 1 output)."""
    if path is not None:
        return CTRNNSpec.load(path)
    from brian_noisy_rnn.core import example_spec

    return example_spec()


def main(spec_path=None, output=None, *, duration=None, spec=None, n_lif=200, drive_gain=10 * mV,
         z_offset=None, random_seed=1):
    """Run the CTRNN and the LIF population together and save a figure.

    Parameters
    ----------
    spec_path : str or None, a spec file (None: the example network) -- ignored if ``spec``
    output : str or None, PNG path (default ./output/brian2_script_with_rnn.png)
    duration : Brian2 time or None (default: $BRIAN_NOISY_RNN_EXAMPLE_DURATION s, else 4 s)
    spec : CTRNNSpec or None, used instead of loading one
    n_lif : int, number of LIF neurons
    drive_gain : Brian2 voltage, input current per unit of z (``R*I`` in mV)
    z_offset : float or None, the z value at which the drive is ``I_base`` alone; None: the
        mean of z in a quick noise-free preview with ``simulate(..., backend="numpy")``
    random_seed : int, for ``brian2.seed``

    Returns
    -------
    dict with ``t`` (s, one value per CTRNN step), ``z`` (first output, per step),
    ``rate`` (Hz, LIF population rate averaged over each CTRNN step), ``z_offset`` and
    ``output`` (path).
    """
    spec = load_spec(spec_path) if spec is None else spec
    if spec.n_out < 1 or spec.n_in < 1:
        raise ValueError("spec: the example needs a network with >= 1 input and >= 1 output")
    if duration is None:
        duration = float(os.environ.get("BRIAN_NOISY_RNN_EXAMPLE_DURATION", 4)) * second
    output = output or os.path.join("output", "brian2_script_with_rnn.png")
    n_steps = int(round(float(duration / spec.dt)))

    # input: a slow sinusoid plus steps, one trial, on the network's own time grid
    t_steps = np.arange(n_steps) * float(spec.dt / second)
    u = np.sin(2 * np.pi * 0.5 * t_steps) + np.where((t_steps % 2.0) < 1.0, 0.5, -0.5)
    inputs = np.repeat(u[:, None, None], spec.n_in, axis=2)

    if z_offset is None:  # centre the drive on the output's typical value
        preview = simulate(spec, inputs, backend="numpy", noise=Noise("none"))
        z_offset = float(preview.outputs[:, 0, 0].mean())

    defaultclock.dt = 0.1 * ms
    seed(random_seed)
    rnn = RateCTRNN(spec, n_trials=1)  # runs on spec.dt, noise = spec.noise
    rnn.set_inputs(inputs)

    # leaky integrate-and-fire neurons driven by the CTRNN's readout z (no synapses needed)
    tau_m, v_rest, v_th, v_reset = 20 * ms, -70 * mV, -50 * mV, -65 * mV
    lif = NeuronGroup(
        n_lif,
        """dv/dt = (v_rest - v + I_base + drive_gain*(z_rnn - z_offset))/tau_m
                  + 3*mV*sqrt(2/tau_m)*xi : volt
           I_base : volt (constant)
           z_rnn : 1 (linked)""",
        threshold="v > v_th", reset="v = v_reset", refractory=2 * ms, method="euler")
    lif.z_rnn = linked_var(rnn.readout, "z", index=np.zeros(n_lif, dtype=int))
    lif.v = v_rest
    lif.I_base = np.linspace(18, 24, n_lif) * mV  # heterogeneous excitability

    z_mon = StateMonitor(rnn.readout, "z", record=0, when="end")
    spikes = SpikeMonitor(lif)
    rate = PopulationRateMonitor(lif)
    net = Network(rnn, lif, z_mon, spikes, rate)
    net.run(n_steps * spec.dt)

    # LIF population rate averaged over each CTRNN step (to compare with z step by step)
    per_step = int(round(float(spec.dt / defaultclock.dt)))
    rate_hz = np.asarray(rate.rate / (1 / second))[: n_steps * per_step]
    rate_steps = rate_hz.reshape(n_steps, per_step).mean(axis=1)
    z = np.asarray(z_mon.z[0])

    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    axes[0].plot(t_steps, z)
    axes[0].set_ylabel("CTRNN output z")
    axes[1].plot(spikes.t / second, spikes.i, ",k")
    axes[1].set_ylabel("LIF neuron")
    axes[2].plot(t_steps, rate_steps)
    axes[2].set_ylabel("population rate (Hz)")
    axes[2].set_xlabel("time (s)")
    fig.suptitle(f"RateCTRNN (N={spec.n_hidden}, dt={spec.dt}) driving {n_lif} LIF neurons")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return {"t": t_steps, "z": z, "rate": rate_steps, "z_offset": z_offset, "output": output}


if __name__ == "__main__":
    args = sys.argv[1:]
    result = main(args[0] if len(args) > 0 else None, args[1] if len(args) > 1 else None)
    print(f"saved {result['output']}; corr(z, LIF rate) = "
          f"{np.corrcoef(result['z'], result['rate'])[0, 1]:.2f}")
