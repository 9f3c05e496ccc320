#!/usr/bin/env bash
# Install brian-noisy-rnn and its dependencies into the active Python environment.
# torch is installed first as the CPU build 2.13.0 when it is missing (a plain `torch`
# requirement would otherwise pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[test,docs]"
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
