"""Experiments: grids of trained networks and their test-noise sweeps, run anywhere, resumable.

- :func:`load_grid` / :func:`grid_from_dict` read and validate a TOML grid
  (:mod:`.config` documents the format);
- :func:`run_grid` trains and sweeps every unfinished cell in local worker processes or on a
  Dask cluster and records each finished cell in an SQLite database (:class:`ResultStore`);
- :func:`summarize` / :func:`format_table` give the headline table of recorded curves.
"""

from .config import Cell, Grid, GridError, grid_from_dict, load_grid
from .runner import RunReport, default_spec_dir, default_workers, run_cell, run_grid
from .store import ResultStore
from .summary import format_table, summarize

__all__ = [
    "Cell",
    "Grid",
    "GridError",
    "ResultStore",
    "RunReport",
    "default_spec_dir",
    "default_workers",
    "format_table",
    "grid_from_dict",
    "load_grid",
    "run_cell",
    "run_grid",
    "summarize",
]
