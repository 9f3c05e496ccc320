"""A dense recurrence ``I_rec = W h`` under ``cpp_standalone``, the weights stored once.

Used by :class:`~brian_noisy_rnn.RateCTRNN` with ``recurrence="dense"`` on a standalone
device (on the runtime device the dense product is a NumPy ``NetworkOperation`` instead).
The hidden group has B*N neurons, neuron ``b*N + i`` = unit ``i`` of trial ``b``. A Brian2
``Function`` ``f(i)`` with a C++ implementation returns ``sum_k W[i % N, k] h[(i // N)*N + k]``;
a ``run_regularly`` operation ``I_rec = f(i)`` in slot ``before_groups`` writes it before the
state update (so the product uses h of the step's start, as the reference does).

How the C++ code gets at ``h`` and ``W``: ``h`` is the group's array
``brian::_array_<group>_h`` (declared in the generated ``objects.h``); ``W`` is the
``values`` of a TimedArray ``<group>_w_rec`` of shape (1, N*N) that the function lists as a
dependency (Brian2 then names it ``_namespace<name>_values`` in the generated code), so the
weights exist once in the project, and ``device.run(run_args={w_timed_array: W})`` could
swap them without a rebuild.

Two kernels:

* ``"cached"`` (single thread): the call for neuron 0 computes the whole (B, N) x (N, N)
  product into a buffer (register-blocked outer products, 4 trials x 32 outputs per pass
  over W^T), every call returns ``buffer[i]``. It relies on the loop visiting neuron 0 first
  in one thread.
* ``"row"`` (used when ``prefs.devices.cpp_standalone.openmp_threads > 1``): every call does
  its own N-long dot product; thread-safe.

Adapted from the prototype in /work/scratch/standalone (dense_standalone.py): checked equal
to the NumPy reference to ~1e-16.
"""

import numpy as np

import brian2
from brian2 import Function, TimedArray

__all__ = ["DenseRecurrence", "KERNELS", "default_kernel"]

KERNELS = ("cached", "row")

# --- C++ kernels ----------------------------------------------------------------------
_CPP_CACHED = r"""
// %FUNC%: I_rec for all B*N neurons at once, W^T stored k-major (_Wt[k*N + j] = W[j, k])
template<int _JB>
static inline void %FUNC%_block(const double* const __restrict _h,
                                const double* const __restrict _Wt,
                                double* const __restrict _out, const int _b, const int _j0)
{
    // 4 trials x _JB outputs kept in registers; one pass over k (outer products)
    double _acc[4][_JB];
    for (int _r = 0; _r < 4; _r++)
        for (int _j = 0; _j < _JB; _j++)
            _acc[_r][_j] = 0.0;
    for (int _k = 0; _k < %N%; _k++)
    {
        const double* const __restrict _w = _Wt + _k * %N% + _j0;
        const double _x0 = _h[(_b + 0) * %N% + _k], _x1 = _h[(_b + 1) * %N% + _k];
        const double _x2 = _h[(_b + 2) * %N% + _k], _x3 = _h[(_b + 3) * %N% + _k];
        for (int _j = 0; _j < _JB; _j++)
        {
            const double _wj = _w[_j];
            _acc[0][_j] += _x0 * _wj; _acc[1][_j] += _x1 * _wj;
            _acc[2][_j] += _x2 * _wj; _acc[3][_j] += _x3 * _wj;
        }
    }
    for (int _r = 0; _r < 4; _r++)
        for (int _j = 0; _j < _JB; _j++)
            _out[(_b + _r) * %N% + _j0 + _j] = _acc[_r][_j];
}

static inline double %FUNC%(const int _i)
{
    // whole (B, N) x (N, N) product once per step (at neuron 0), then a lookup
    double* const __restrict _out = _namespace%BUF%;
    if (_i == 0)
    {
        const double* const __restrict _h = brian::%HARRAY%;
        const double* const __restrict _Wt = _namespace%WKEY%;
        int _b = 0;
        for (; _b + 4 <= %B%; _b += 4)
        {
            int _j0 = 0;
            for (; _j0 + 32 <= %N%; _j0 += 32)
                %FUNC%_block<32>(_h, _Wt, _out, _b, _j0);
            %TAIL%
        }
        for (; _b < %B%; _b++)  // leftover trials, one at a time
        {
            double* const __restrict _o = _out + _b * %N%;
            for (int _j = 0; _j < %N%; _j++)
                _o[_j] = 0.0;
            for (int _k = 0; _k < %N%; _k++)
            {
                const double _x = _h[_b * %N% + _k];
                const double* const __restrict _w = _Wt + _k * %N%;
                for (int _j = 0; _j < %N%; _j++)
                    _o[_j] += _x * _w[_j];
            }
        }
    }
    return _out[_i];
}
"""

_CPP_ROW = r"""
static inline double %FUNC%(const int _i)
{
    // row i % N of W times trial i // N's h (thread-safe: no shared state)
    const double* const __restrict _w = _namespace%WKEY% + (_i %% %N%) * %N%;
    const double* const __restrict _h = brian::%HARRAY% + (_i / %N%) * %N%;
    double _s = 0;
    for (int _k = 0; _k < %N%; _k++)
        _s += _w[_k] * _h[_k];
    return _s;
}
""".replace("%%", "%")


def _fill(template, mapping):
    for key, value in mapping.items():
        template = template.replace(key, str(value))
    return template


def default_kernel():
    """``"row"`` if cpp_standalone runs with more than one OpenMP thread, else ``"cached"``."""
    threads = brian2.prefs.devices.cpp_standalone.openmp_threads
    return "row" if threads and threads > 1 else "cached"


class DenseRecurrence:
    """The Brian2 pieces of a dense ``I_rec = W h`` for a trial-batched hidden group.

    Parameters
    ----------
    w_rec : float array (N, N)
        The recurrent weights (``I_rec[b*N + i] = sum_k w_rec[i, k] h[b*N + k]``).
    group : NeuronGroup
        The hidden group, B*N neurons, with variables ``h`` and ``I_rec``.
    n_trials : int
        B.
    kernel : {"cached", "row"} or None
        The C++ kernel (see the module docstring); None: :func:`default_kernel`.
    function_name : str
        Name of the function in the abstract code.

    Attributes
    ----------
    function : brian2.Function
        ``f(i)``, with the C++ implementation (and a NumPy one for completeness).
    w_timed_array : brian2.TimedArray
        Holds W (row-major, or W^T for the cached kernel), shape (1, N*N).
    operation : CodeRunner or None
        The ``run_regularly`` operation after :meth:`attach`.
    """

    def __init__(self, w_rec, group, n_trials, *, kernel=None, function_name="bnr_dense_rec"):
        w = np.array(w_rec, dtype=np.float64, order="C", copy=True)
        if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 1:
            raise ValueError(f"w_rec must be a square (N, N) array, got shape {w.shape}")
        kernel = default_kernel() if kernel is None else kernel
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        N, B = w.shape[0], int(n_trials)
        if len(group) != B * N:
            raise ValueError(f"group {group.name!r} has {len(group)} neurons, expected "
                             f"n_trials*N = {B}*{N}")
        self.N, self.B, self.kernel, self.group, self.w = N, B, kernel, group, w
        self.function_name, self.operation = function_name, None
        self._buf = np.zeros(B * N)
        self.w_timed_array = TimedArray(self.layout(w), dt=1 * brian2.second,
                                        name=f"{group.name}_w_rec")
        weights_name = f"{self.w_timed_array.name}_values"
        buffer_name = f"{group.name}_dense_rec_buf"
        impl_name = f"{group.name}_dense_rec"

        def pyfunc(i):  # numpy target (not used by RateCTRNN, which has BLAS there)
            h = group.variables["h"].get_value().reshape(B, N)
            return (h @ w.T).reshape(-1)[np.asarray(i)]

        self.function = Function(pyfunc, arg_units=[1], return_unit=1, arg_types=["integer"],
                                 return_type="float", stateless=False)
        tail = N % 32
        cpp = _fill(_CPP_CACHED if kernel == "cached" else _CPP_ROW, {
            "%TAIL%": f"{impl_name}_block<{tail}>(_h, _Wt, _out, _b, _j0);" if tail else "",
            "%FUNC%": impl_name, "%BUF%": buffer_name, "%WKEY%": weights_name, "%B%": B,
            "%N%": N, "%HARRAY%": f"_array_{group.name}_h"})
        self.function.implementations.add_implementation(
            "cpp", cpp, namespace={buffer_name: self._buf} if kernel == "cached" else None,
            name=impl_name, dependencies={"_bnr_w_rec_values": self.w_timed_array})

    def attach(self, when="before_groups", order=1, name=None):
        """Add the ``run_regularly`` operation ``I_rec = f(i)`` to the group and return it.

        Parameters
        ----------
        when : str
            Scheduling slot (default ``before_groups``: before the state update).
        order : int
            Order within the slot (default 1: after an OU noise update at order 0).
        name : str or None
            Name of the operation (default ``<group>_dense_recurrence``).

        Returns
        -------
        CodeRunner
            The operation; it is in the group's ``contained_objects``.
        """
        if self.kernel == "cached" and default_kernel() == "row":
            raise ValueError("kernel='cached' is not OpenMP-safe: use kernel='row' with "
                             "prefs.devices.cpp_standalone.openmp_threads > 1")
        if self.group.namespace is None:
            self.group.namespace = {}
        self.group.namespace[self.function_name] = self.function
        self.operation = self.group.run_regularly(
            f"I_rec = {self.function_name}(i)", when=when, order=order,
            name=name or f"{self.group.name}_dense_recurrence")
        return self.operation

    def layout(self, w):
        """W as the C++ kernel reads it: the values of :attr:`w_timed_array` for weights ``w``.

        Parameters
        ----------
        w : float array (N, N)
            Recurrent weights.

        Returns
        -------
        float64 array (1, N*N)
            W row-major (kernel "row") or W^T row-major (kernel "cached").
        """
        w = w.T if self.kernel == "cached" else w
        return np.array(w, dtype=np.float64, order="C").reshape(1, -1)
