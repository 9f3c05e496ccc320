"""A closed loop in plain Brian2: spikes -> rate CTRNN -> spikes -> back to the first population.
==============================================================================================

* ``sensor``: Poisson neurons firing at a slowly modulated rate plus a feedback term;
* ``sensor_rate``: their population rate, smoothed by an exponential synapse (a state
  variable ``r``, in units of ``rate_scale``) -- this drives the network's input;
* ``rnn``: a :class:`~brian_noisy_rnn.RateCTRNN` with ``input_source="external"``, its
  input ``u`` linked to ``sensor_rate.r`` (``rnn.inputs.u = linked_var(sensor_rate, "r")``);
* ``motor``: leaky integrate-and-fire neurons driven by the network's readout ``z``
  (``linked_var(rnn.readout, "z")``); their smoothed rate ``motor_rate.m`` feeds back
  into the sensor's firing rate, which closes the loop.

The network runs on its own clock (the spec's ``dt``, 20 ms for the example network), the
neurons on Brian2's default clock. At each network step the input group reads ``r`` as it
is at that moment (slot ``groups``, order -2): ``r`` is integrated in slot ``groups`` with
order 0, so the value read is the one after the previous fine step (0.5 ms earlier).

Usage::

    python examples/closed_loop_brian2.py [OUTPUT.png]

(about 5 s; the figure goes to OUTPUT, default ``./output/closed_loop_brian2.png``).
"""

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from brian2 import (Hz, Network, NeuronGroup, StateMonitor, Synapses, defaultclock,  # noqa: E402
                    linked_var, mV, ms, prefs, second, seed)

from brian_noisy_rnn import Noise, RateCTRNN  # noqa: E402
from brian_noisy_rnn.core import example_spec  # noqa: E402


def main(output=None, *, spec=None, duration=2 * second, n_sensor=200, n_motor=100,
         feedback=0.5, random_seed=1, target="numpy"):
    """Run the loop and save a figure.

    Parameters
    ----------
    output : str or None
        PNG path (default ``./output/closed_loop_brian2.png``); ``""`` saves nothing.
    spec : CTRNNSpec or None
        A network with one input and at least one output (None: the example network,
        run without noise).
    duration : Brian2 time
        Simulated time (a multiple of ``spec.dt``).
    n_sensor, n_motor : int
        Sizes of the Poisson and LIF populations.
    feedback : float
        Sensor rate added per unit of smoothed motor rate (in units of ``rate_scale``).
    random_seed : int
        For ``brian2.seed``.
    target : str
        Brian2 code-generation target.

    Returns
    -------
    dict
        ``t`` (s, per network step, shape (T,)), ``u`` (the input read by the network at
        each step, shape (T,)), ``h`` (hidden states, (T, 1, N), from
        :meth:`RateCTRNN.trial_view`), ``z`` (first output, (T,)), ``motor`` (smoothed
        motor rate at each step, (T,)), ``spec`` and ``output``.
    """
    spec = example_spec().replace(noise=Noise("none")) if spec is None else spec
    if spec.n_in != 1 or spec.n_out < 1:
        raise ValueError(f"spec must have 1 input and >= 1 output, got n_in={spec.n_in}, "
                         f"n_out={spec.n_out}")
    n_steps = int(round(float(duration / spec.dt)))
    if n_steps < 1 or abs(n_steps * spec.dt - duration) > 1e-9 * second:
        raise ValueError(f"duration must be a positive multiple of spec.dt={spec.dt}, "
                         f"got {duration}")
    output = os.path.join("output", "closed_loop_brian2.png") if output is None else output
    prefs.codegen.target = target
    defaultclock.dt = 0.5 * ms
    seed(random_seed)
    rate_scale, tau_r = 20 * Hz, 50 * ms

    sensor = NeuronGroup(n_sensor, """rate = rate_scale*clip(1 + 0.8*sin(2*pi*0.5*Hz*t)
                                                         + feedback*(m_fb - 1), 0, inf) : Hz
                                      m_fb : 1 (linked)""",
                         threshold="rand() < rate*dt", name="sensor",
                         namespace=dict(rate_scale=rate_scale, feedback=feedback))
    sensor_rate = NeuronGroup(1, "dr/dt = -r/tau_r : 1", method="exact", name="sensor_rate",
                              namespace=dict(tau_r=tau_r))
    to_rate = Synapses(sensor, sensor_rate, on_pre="r_post += c", name="sensor_to_rate",
                       namespace=dict(c=1 / float(n_sensor * rate_scale * tau_r)))
    to_rate.connect()

    rnn = RateCTRNN(spec, n_trials=1, input_source="external", name="loop_rnn")
    rnn.inputs.u = linked_var(sensor_rate, "r")  # input 0 of trial 0 <- r of neuron 0

    motor = NeuronGroup(n_motor, """dv/dt = (-v + I_base + 8*mV*z_rnn)/(20*ms) : volt
                                    I_base : volt (constant)
                                    z_rnn : 1 (linked)""",
                        threshold="v > 20*mV", reset="v = 0*mV", refractory=2 * ms,
                        method="exact", name="motor", namespace={})
    motor.z_rnn = linked_var(rnn.readout, "z", index=np.zeros(n_motor, dtype=int))
    motor.I_base = np.linspace(15, 25, n_motor) * mV
    motor_rate = NeuronGroup(1, "dm/dt = -m/tau_r : 1", method="exact", name="motor_rate",
                             namespace=dict(tau_r=tau_r))
    to_motor_rate = Synapses(motor, motor_rate, on_pre="m_post += c", name="motor_to_rate",
                             namespace=dict(c=1 / float(n_motor * rate_scale * tau_r)))
    to_motor_rate.connect()
    sensor.m_fb = linked_var(motor_rate, "m", index=np.zeros(n_sensor, dtype=int))

    u_mon = StateMonitor(rnn.inputs, "u_step", record=True, when="end")
    h_mon = StateMonitor(rnn.hidden, "h", record=True, when="end")
    z_mon = StateMonitor(rnn.readout, "z", record=True, when="end")
    m_mon = StateMonitor(motor_rate, "m", record=0, dt=spec.dt, when="end")
    net = Network(sensor, sensor_rate, to_rate, rnn, motor, motor_rate, to_motor_rate,
                  u_mon, h_mon, z_mon, m_mon)
    net.run(n_steps * spec.dt, namespace={})

    t = np.arange(n_steps) * float(spec.dt / second)
    result = {"t": t, "u": rnn.trial_view(u_mon, "u_step")[:, 0, 0],
              "h": rnn.trial_view(h_mon, "h"), "z": rnn.trial_view(z_mon, "z")[:, 0, 0],
              "motor": np.asarray(m_mon.m[0]), "spec": spec, "output": output}
    if output:
        _plot(result, output)
    return result


def _plot(result, output):
    fig, axes = plt.subplots(3, 1, figsize=(7, 6), sharex=True)
    axes[0].plot(result["t"], result["u"])
    axes[0].set_ylabel("sensor rate\n(network input)")
    axes[1].plot(result["t"], result["z"])
    axes[1].set_ylabel("network output z")
    axes[2].plot(result["t"], result["motor"])
    axes[2].set_ylabel("motor rate\n(fed back)")
    axes[2].set_xlabel("time (s)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    res = main(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"saved {res['output']}; input range {res['u'].min():.2f}..{res['u'].max():.2f}, "
          f"output range {res['z'].min():.2f}..{res['z'].max():.2f}")
