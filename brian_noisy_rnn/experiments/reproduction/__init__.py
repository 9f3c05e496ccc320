"""``brian-noisy-rnn reproduce``: every claim of Eckstein & Srinivasan (2026) the package can
test, measured by one resumable command.

- :mod:`.protocol` -- the settings and grids (:class:`Protocol`);
- :mod:`.analyses` -- C4 (mechanism), C5 (other noise processes), the compensated network;
- :mod:`.verdicts` -- the verdict rules, plain functions of the numbers;
- :mod:`.report` -- rows, verdicts, Markdown and figures;
- :func:`run_reproduction` -- runs it all into a folder and writes ``report.md``.
"""

from .protocol import FAMILIES, Protocol
from .report import compute_verdicts, render_report
from .run import ReproductionResult, run_reproduction

__all__ = ["FAMILIES", "Protocol", "ReproductionResult", "compute_verdicts", "render_report",
           "run_reproduction"]
