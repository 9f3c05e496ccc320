#!/usr/bin/env bash
# Install brian-noisy-rnn and its dependencies into the active Python environment (or into
# $PYTHON's); $EXTRAS names the optional parts (default: test,docs). Never downgrades an
# installed Brian2.
#  - torch: on Python 3.11 the local CPU build 2.13.0 (a plain `torch` requirement would pull
#    the multi-GB CUDA build); on 3.12+ no CPU wheel is within reach, so the build from PyPI
#    (about 0.9 GB downloaded, 5.4 GB installed; it runs on the CPU).
#  - the task layer (NeuroGym): every neurogym 2.x pins numpy==2.2.*, which Brian2 >= 2.11
#    (numpy >= 2.3) excludes. Where Brian2 >= 2.11 is installed, NeuroGym's code is installed
#    without its pins (it works with numpy 2.3+); elsewhere the `tasks` extra resolves normally.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-test,docs}"
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    if "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        "${PIP[@]}" "torch==2.13.0"
    else
        "${PIP[@]}" "torch>=2.1,<3"
    fi
fi
"${PIP[@]}" -e ".[$EXTRAS]"                   # the Brian2 side: the newest Brian2 this Python allows
if "$PY" - <<'PYEOF'
import re, sys
from importlib.metadata import version
sys.exit(0 if tuple(int(n) for n in re.findall(r"\d+", version("brian2"))[:2]) >= (2, 11) else 1)
PYEOF
then
    "${PIP[@]}" --no-deps "neurogym==2.3.1" "gymnasium==0.29.1"
    "${PIP[@]}" pydantic-settings loguru tomlkit natsort cloudpickle farama-notifications
else
    "${PIP[@]}" -e ".[tasks,$EXTRAS]"
fi
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
