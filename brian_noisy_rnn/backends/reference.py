"""The numpy reference backend: :func:`~brian_noisy_rnn.core.dynamics.rollout` on numpy arrays."""

from ..core.dynamics import NUMPY_OPS, StepRule, rollout, standard_normal

__all__ = ["run_numpy"]


def run_numpy(spec, inputs, noise, seed):
    """Backend function of ``simulate(..., backend="numpy")``: outputs (T, B, n_out), states (T, B, N)."""
    rule = StepRule.from_spec(spec, noise)
    T, B, _ = inputs.shape
    xi = standard_normal(seed, T, B, spec.n_hidden) if rule.active else None
    params = {k: getattr(spec, k) for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0")}
    return rollout(params, inputs, rule, spec.activation, NUMPY_OPS, xi=xi)
