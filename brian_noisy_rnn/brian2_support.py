"""Small Brian2 helpers shared by the rate network and its spiking realization."""

import numpy as np


def is_standalone_device():
    """True if Brian2's current device is a standalone device (e.g. cpp_standalone)."""
    from brian2.devices.device import RuntimeDevice, get_device

    return not isinstance(get_device(), RuntimeDevice)


def block_indices(n_pre, n_post, n_trials):
    """Pre/post indices (each shape (n_trials*n_post*n_pre,)) of all-to-all blocks within
    each of ``n_trials`` independent copies, in synapse order (trial, post, pre)."""
    b, post, pre = np.meshgrid(np.arange(n_trials), np.arange(n_post), np.arange(n_pre),
                               indexing="ij")
    return (b * n_pre + pre).ravel(), (b * n_post + post).ravel()
