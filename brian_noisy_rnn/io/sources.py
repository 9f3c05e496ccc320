"""One entry point for every source: :func:`import_network` returns the spec and the source's
own forward pass, so that a caller (the ``import`` command) can measure the parity.

Each source takes only the options its files lack; an option a source does not use is an
error naming it (e.g. ``tau`` for nn4n, whose file holds tau), never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from .nn4n import from_nn4n, run_nn4n
from .psychrnn import from_psychrnn, run_psychrnn
from .spikernn import from_spikernn, run_spikernn
from .torch_sources import from_ngym_usage, from_torch_rnn, run_ngym_usage, run_torch_rnn
from .yang19 import from_yang19, run_yang19

__all__ = ["SOURCES", "Source", "import_network"]


@dataclass(frozen=True)
class Source:
    """How one toolkit's file becomes a spec, and how its own forward pass runs.

    Attributes
    ----------
    importer : callable
        ``importer(file, **options)`` -> CTRNNSpec.
    reference : callable
        ``reference(file, inputs, xi=..., **options)`` -> (outputs, states).
    options : tuple of str
        The options it takes (beyond the file).
    noisy_reference : bool
        Whether ``reference`` takes noise draws ``xi``.
    description : str
        One line for ``--help``.
    """

    importer: object
    reference: object
    options: tuple
    noisy_reference: bool
    description: str


def _yang_import(hp, *, variables):
    return from_yang19(hp, variables)


def _yang_run(hp, inputs, *, variables, xi=None):
    return run_yang19(hp, variables, inputs, xi=xi)


def _torch_rnn_run(source, inputs, *, dt=None, nonlinearity=None, trust=False):
    return run_torch_rnn(source, inputs, nonlinearity=nonlinearity, trust=trust)


#: source name -> :class:`Source`
SOURCES = {
    "torch_rnn": Source(from_torch_rnn, _torch_rnn_run, ("dt", "nonlinearity", "trust"), False,
                        "torch.save'd state dict of a one-layer torch.nn.RNN"),
    "ngym_usage": Source(from_ngym_usage, run_ngym_usage, ("dt", "tau", "sigma", "trust"), True,
                         "state dict of NeuroGym's example CTRNN (rnn.input2h, rnn.h2h, fc)"),
    "nn4n": Source(from_nn4n, run_nn4n, ("trust",), True,
                   "nn4n CTRNN saved with model.save (model_state_dict + kwargs)"),
    "psychrnn": Source(from_psychrnn, run_psychrnn, ("dt", "tau", "sigma", "activation"), True,
                       "PsychRNN Basic weights saved with model.save (.npz)"),
    "spikernn": Source(from_spikernn, run_spikernn, ("dt",), True,
                       "spikeRNN rate model (.mat of rate/main.py)"),
    "yang19": Source(_yang_import, _yang_run, ("variables",), True,
                     "Yang et al. 2019 hp.json + checkpoint variables (.npz)"),
}


def import_network(source, path, **options):
    """Import ``path`` from ``source``; return the spec and the source's forward pass.

    Parameters
    ----------
    source : str
        One of :data:`SOURCES`.
    path : str or os.PathLike
        The source's file (for ``"yang19"``: ``hp.json``; the variables go in
        ``options["variables"]``).
    **options : keyword arguments
        The source's options (:attr:`Source.options`), e.g. ``dt=10*ms``; None values count
        as not given. An option the source does not take raises a ValueError naming it.

    Returns
    -------
    spec : CTRNNSpec
        The imported network.
    reference : callable
        ``reference(inputs, xi)`` -> ``(outputs, states)``: the source's own forward pass
        (``xi`` None or standard normal draws (T, B, N)), for
        :func:`~brian_noisy_rnn.io.parity.measure_parity`.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {sorted(SOURCES)}, got {source!r}")
    src = SOURCES[source]
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    unused = sorted(set(given) - set(src.options))
    if unused:
        raise ValueError(f"{', '.join(unused)}: not used by source {source!r} (its file holds "
                         f"that or the source has no such setting); it takes {list(src.options)}")
    kwargs = {k: options.get(k) for k in src.options}
    if "trust" in kwargs:
        kwargs["trust"] = bool(kwargs["trust"])
    spec = src.importer(path, **kwargs)

    def reference(inputs, xi):
        extra = {"xi": xi} if src.noisy_reference else {}
        return src.reference(path, inputs, **kwargs, **extra)

    return spec, reference
