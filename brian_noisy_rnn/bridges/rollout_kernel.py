"""The compiled time loops of the training rollout (``rollout_kernel.cpp``), or None.

The rollout's forward and backward loops (:class:`~brian_noisy_rnn.bridges.ensemble.StackedCTRNN`,
used by ``train`` and ``train_ensemble``) issue about ten small tensor operations per time
step; from Python each costs several microseconds of interpreter and argument handling, more
than its arithmetic at the sizes trained here. ``rollout_kernel.cpp`` issues the very same
ATen operations, in the same order and into the same buffers, from C++: the results are
bit-identical to the Python loop, which stays as the fallback.

The C++ file is compiled on first use with :func:`torch.utils.cpp_extension.load` (a C++
compiler and ninja are needed; about 20 s once) into torch's extension cache
(``TORCH_EXTENSIONS_DIR``, default ``~/.cache/torch_extensions``), keyed by the source, the
compiler flags and the torch version; torch locks the folder while it builds, so concurrent
processes wait for one build. If anything fails (no compiler, no ninja, a compiler error) a
warning says so once and training runs the Python loop: same numbers, slower. Set the
environment variable ``BRIAN_NOISY_RNN_ROLLOUT_KERNEL=0`` to never compile or use it.
"""

import os
import re
import threading
import warnings

__all__ = ["ACTIVATION_CODES", "ENV_VARIABLE", "rollout_kernel"]

#: environment variable: "0" disables the compiled loops (the Python loop runs)
ENV_VARIABLE = "BRIAN_NOISY_RNN_ROLLOUT_KERNEL"

#: activation name -> its code in rollout_kernel.cpp (other activations: the Python loop)
ACTIVATION_CODES = {"relu": 0, "softplus": 1, "tanh": 2, "sigmoid": 3, "retanh": 4}

_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rollout_kernel.cpp")
_lock = threading.Lock()
_state = {}  # "ops": the loaded operator namespace or None (after the first attempt)


def rollout_kernel():
    """The compiled rollout loops, compiling them on the first call; None if unavailable.

    Returns
    -------
    object or None
        ``torch.ops.brian_noisy_rnn_rollout`` (operators ``forward`` and ``backward``, see
        ``rollout_kernel.cpp``), or None when disabled by ``BRIAN_NOISY_RNN_ROLLOUT_KERNEL=0``
        or when compiling or loading failed (then a RuntimeWarning was issued once).
    """
    if os.environ.get(ENV_VARIABLE, "1").strip() == "0":
        return None
    with _lock:
        if "ops" not in _state:
            _state["ops"] = _load()
        return _state["ops"]


def _load():
    import torch

    try:
        from torch.utils import cpp_extension

        version = re.sub(r"[^0-9A-Za-z]+", "_", torch.__version__)
        cpp_extension.load(name=f"brian_noisy_rnn_rollout_torch{version}", sources=[_SOURCE],
                           extra_cflags=["-O2"], is_python_module=False, verbose=False)
        return torch.ops.brian_noisy_rnn_rollout
    except Exception as exc:  # no compiler, no ninja, a compiler error: the Python loop runs
        lines = str(exc).strip().splitlines() or [""]
        cause = next((ln for ln in lines if "error:" in ln), lines[-1]).strip()  # compiler's
        warnings.warn(f"the compiled training loop is not available ({type(exc).__name__}: "
                      f"{cause}); training runs the Python loop (same "
                      f"results, slower). Set {ENV_VARIABLE}=0 to skip the attempt.",
                      RuntimeWarning, stacklevel=3)
        return None
