// The time loops of brian_noisy_rnn.bridges.ensemble._Rollout, issued from C++.
//
// Every line below is the ATen call the Python loop makes (same operator, same arguments,
// same output buffer), in the same order: the numbers are the same to the last bit whether
// this kernel or the Python loop runs (tests/test_ensemble.py checks it). What changes is
// the cost of issuing an operation: the Python interpreter, argument parsing and the
// creation of index views, several microseconds per operation and about 10 operations per
// time step, most of a training step at the sizes trained here.
//
// Only ATen is included (not torch/extension.h and pybind11): the operators are registered
// with TORCH_LIBRARY and called as torch.ops.brian_noisy_rnn_rollout.*, which keeps the
// first compilation short.

#include <ATen/ATen.h>
#include <torch/library.h>

namespace {

// the activations of brian_noisy_rnn.core.activations, written as their torch lambdas
enum Activation : int64_t { RELU = 0, SOFTPLUS = 1, TANH = 2, SIGMOID = 3, RETANH = 4 };

at::Tensor activation(const at::Tensor& x, int64_t kind) {
  switch (kind) {
    case RELU: return at::relu(x);
    case SOFTPLUS: return at::relu(x) + at::log1p(at::exp(-x.abs()));
    case TANH: return at::tanh(x);
    case SIGMOID: return 0.5 * (1.0 + at::tanh(0.5 * x));
    case RETANH: return at::relu(at::tanh(x));
  }
  TORCH_CHECK(false, "unknown activation code ", kind);
}

// a Python float as torch's argument parser passes it to a Tensor-Tensor operator
at::Tensor wrapped(double value) {
  at::Tensor t = at::scalar_tensor(value, at::kDouble);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

// z (T+1, S, B, K), p (T+1, S, B, M) with p[:T, ..., :N] holding the noise inside f (or
// zeros), w_t (S, K, M); writes p[t] += z[t] w_t and z[t+1, ..., :N] for every t.
void forward(at::Tensor z, at::Tensor p, at::Tensor w_t, c10::optional<at::Tensor> n_add,
             double gamma, int64_t kind, int64_t n_hidden) {
  const int64_t T = p.size(0) - 1;
  for (int64_t t = 0; t <= T; ++t) {
    at::Tensor p_t = p.select(0, t);
    p_t.baddbmm_(z.select(0, t), w_t);
    if (t == T) break;
    at::Tensor r = activation(p_t.narrow(-1, 0, n_hidden), kind);
    if (n_add.has_value()) r = r + n_add->select(0, t);
    at::Tensor next = z.select(0, t + 1).narrow(-1, 0, n_hidden);
    at::lerp_out(next, z.select(0, t).narrow(-1, 0, n_hidden), r, gamma);
  }
}

// The BPTT loop of _Rollout.backward from t = T-1 down to 0. grad_h holds dL/dh_T, spare is a
// buffer of its shape; returns the buffer that holds dL/dh_0 (if needed: else dL/dh_1).
at::Tensor backward(at::Tensor grad_h, at::Tensor spare, at::Tensor grad_p, at::Tensor slope,
                    at::Tensor z, at::Tensor w_h, at::Tensor grad_w,
                    c10::optional<at::Tensor> grad_add, c10::optional<at::Tensor> grad_states,
                    double gamma, bool need_h0) {
  const int64_t T = slope.size(0);
  const int64_t N = slope.size(-1);
  const at::Tensor g = wrapped(gamma);
  for (int64_t t = T - 1; t >= 0; --t) {
    at::Tensor grad_p_t = grad_p.select(0, t);
    at::Tensor grad_a = grad_p_t.narrow(-1, 0, N);
    at::mul_out(grad_a, grad_h, slope.select(0, t));
    if (grad_add.has_value()) {
      at::Tensor grad_add_t = grad_add->select(0, t);
      at::mul_out(grad_add_t, grad_h, g);
    }
    grad_w.baddbmm_(grad_p_t.transpose(1, 2), z.select(0, t));
    if (t > 0 || need_h0) {
      at::baddbmm_out(spare, grad_h, grad_p_t, w_h, 1.0 - gamma);
      std::swap(grad_h, spare);
      if (t > 0 && grad_states.has_value()) grad_h.add_(grad_states->select(0, t - 1));
    }
  }
  return grad_h;
}

}  // namespace

TORCH_LIBRARY(brian_noisy_rnn_rollout, m) {
  m.def("forward", &forward);
  m.def("backward", &backward);
}
