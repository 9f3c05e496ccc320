"""The numpy reference backend: :func:`~brian_noisy_rnn.core.dynamics.rollout` on numpy arrays."""

from ..core.dynamics import NUMPY_OPS, StepRule, rollout, standard_normal
from .backend import Backend, register_backend
from .stepper import ArrayStepper

__all__ = ["NumpyBackend", "run_numpy"]


def run_numpy(spec, inputs, noise, seed):
    """Backend function of ``simulate(..., backend="numpy")``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    inputs : float64 array (T, B, n_in)
        Checked inputs.
    noise : Noise
        The run's noise.
    seed : int or None
        Seed of the standard normal draws (:func:`~brian_noisy_rnn.core.dynamics.standard_normal`).

    Returns
    -------
    outputs : float64 array (T, B, n_out)
        ``w_out h_t + b_out`` after each step.
    states : float64 array (T, B, N)
        Hidden state h after each step.
    """
    rule = StepRule.from_spec(spec, noise)
    T, B, _ = inputs.shape
    xi = standard_normal(seed, T, B, spec.n_hidden) if rule.active else None
    params = {k: getattr(spec, k) for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0")}
    return rollout(params, inputs, rule, spec.activation, NUMPY_OPS, xi=xi, form=spec.form)


class NumpyBackend(Backend):
    """``backend="numpy"``: :func:`run_numpy`; closed loop with :class:`ArrayStepper`."""

    name = "numpy"

    run = staticmethod(run_numpy)

    def stepper(self, spec, noise, n_trials, seed):
        return ArrayStepper(spec, noise, n_trials, seed, "numpy")


register_backend(NumpyBackend())
