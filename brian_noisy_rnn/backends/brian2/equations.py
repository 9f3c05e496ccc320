"""Brian2 model strings of the CTRNN step, one per noise placement and process.

With ``method="euler"`` and the network's own clock at ``spec.dt``, the hidden group's
update is exactly the discrete step of :mod:`brian_noisy_rnn.noise` (``gamma = dt/tau``)::

    dh/dt = (-h + F) / tau            ->   h' = (1 - gamma) h + gamma F

with ``a = I_rec + I_in + I_ext + bias`` and ``F`` the (noisy) activation term below. All
random numbers come from one ``randn()`` per hidden neuron per step (the only random draw
in the network), so after ``brian2.seed(s)`` the stream equals
:func:`brian_noisy_rnn.core.dynamics.standard_normal`.

=========  ========  ==========================================================================
placement  process   Brian2 formulation
=========  ========  ==========================================================================
none       --        ``F = f(a)``
pre        white     ``F = f(a + sigma*eta)``, ``eta = randn() : 1 (constant over dt)``
post       white     ``F = f(a) + sigma*eta``
pre/post   ou        ``eta`` a state variable advanced by a ``run_regularly`` operation before
                     the state update (exact discretisation, stationary start; see
                     :data:`OU_UPDATE`); ``F = f(a + eta)`` or ``f(a) + eta``
post       poisson   ``F = fa + sigma*sqrt(clip(fa, 0, inf))*eta``, ``fa = f(a)``
state      white     ``dh/dt = (-h + f(a))/tau + sigma*sqrt(2/tau)*xi`` (Brian2's own ``xi``;
                     Euler-Maruyama gives ``sigma*sqrt(2*gamma)*randn()`` per step; the group's
                     ``sigma`` is the per-step amplitude divided by ``sqrt(2*gamma)``)
=========  ========  ==========================================================================
"""

from ...core.activations import get_activation
from ...core.noise_processes import get_noise_process

#: Variables every hidden group has (besides the noise-specific ones).
HIDDEN_COMMON = """
a = I_rec + I_in + I_ext + bias : 1
I_rec : 1
I_in : 1
I_ext : 1
bias : 1 (constant)
tau : second (constant, shared)
"""

#: OU update, run before the state update; one randn() per neuron and step.
#: First step (ou_started == 0): eta = sigma*xi; later: eta = rho*eta + sigma*sqrt(1-rho^2)*xi.
OU_UPDATE = get_noise_process("ou").brian2_update


def hidden_equations(activation, noise, form="h"):
    """The hidden group's model string for ``activation`` (name) and ``noise`` (a :class:`Noise`).

    The noise process contributes its variables and sample expression
    (:class:`~brian_noisy_rnn.core.noise_processes.NoiseProcess`: ``brian2_variables``,
    ``brian2_sample``); the placement says where the sample enters.

    Form "x" (the state before f is filtered, placement "none" or "state"):
    ``dh/dt = (-h + a)/tau`` (+ ``sigma*sqrt(2/tau)*xi``), with the rate ``r = f(h)`` read
    by the recurrent and readout synapses.

    Parameters
    ----------
    activation : str
        The activation's name.
    noise : Noise
        The noise model.
    form : {"h", "x"}
        The network form.

    Returns
    -------
    str
        Brian2 equations. Besides ``h`` and the common variables, the group has ``sigma``
        (per neuron) when the noise is active, and the process's variables (``eta``; for
        OU also ``ou_started``, ``ou_rho``, ``ou_scale``); in
        form "x" also ``r``.
    """
    f = get_activation(activation).brian2
    if form == "x":
        eqs = HIDDEN_COMMON + f"r = {f('h')} : 1\n"
        if not noise.is_active:
            return "dh/dt = (-h + a)/tau : 1\n" + eqs
        return "dh/dt = (-h + a)/tau + sigma*sqrt(2/tau)*xi : 1\n" + eqs + "sigma : 1 (constant)\n"
    if not noise.is_active:
        return f"dh/dt = (-h + {f('a')})/tau : 1\n" + HIDDEN_COMMON
    eqs = HIDDEN_COMMON + "sigma : 1 (constant)\n"
    if noise.placement == "state":  # Brian2's own xi (white noise only)
        return f"dh/dt = (-h + {f('a')})/tau + sigma*sqrt(2/tau)*xi : 1\n" + eqs
    process = noise.noise_process
    eqs += process.brian2_variables
    if noise.placement == "pre":
        term = f(f"a + {process.brian2_sample('fa')}")
    else:
        eqs += f"fa = {f('a')} : 1\n"
        term = f"fa + {process.brian2_sample('fa')}"
    return f"dh/dt = (-h + {term})/tau : 1\n" + eqs


def input_equations(function_name):
    """The input group's model string: ``u`` read from a 2-D TimedArray called ``function_name``.

    ``u`` of neuron ``b*n_in + k`` is input ``k`` of trial ``b``; ``t_start`` is the time
    at which row 0 of the TimedArray applies.
    """
    return f"u = {function_name}(t - t_start, i) : 1\nt_start : second (constant, shared)\n"


#: The input group's model string with ``input_source="external"``: ``u`` linked to a user's
#: group; ``u_step`` the value read for the current step (:data:`EXTERNAL_INPUT_READ`). Synapses
#: cannot read a linked variable with its own ``index`` as ``u_pre``, so they read ``u_step``.
EXTERNAL_INPUT_EQUATIONS = "u : 1 (linked)\nu_step : 1\n"

#: Run in slot ``groups`` with order -2, just before the input sum (order -1) of each step.
EXTERNAL_INPUT_READ = "u_step = u"


#: The readout group's model string: z = w_out h + b_out (z_rec summed from the hidden group).
READOUT_EQUATIONS = """
z = z_rec + b_out : 1
z_rec : 1
b_out : 1 (constant)
"""
