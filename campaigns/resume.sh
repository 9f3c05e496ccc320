#!/usr/bin/env bash
# Resume the long campaigns (issue 19's onset study inside `reproduce`) where they stopped.
# Runs niced in the background from its own git worktree at a fixed commit (default: HEAD),
# so edits to the checkout cannot change a run in flight; its results store is
# campaigns/reproduction/ (a snapshot is committed between sessions), the log campaigns/*.log.
#   bash campaigns/resume.sh [COMMIT]      # then: tail -f campaigns/reproduction.log
# Stop it with: pkill -INT -f 'reproduce --out .*campaigns/reproduction' (it resumes later).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
COMMIT=$(git rev-parse "${1:-HEAD}")
WT="${BNR_CAMPAIGN_WORKTREE:-$ROOT/../campaign-wt}"
if [ -d "$WT" ]; then git -C "$WT" checkout -q --detach "$COMMIT"; else git worktree add -q --detach "$WT" "$COMMIT"; fi
mkdir -p campaigns/reproduction
echo "campaign from commit $COMMIT in $WT" >> campaigns/reproduction.log
cd "$WT"
# A background job starts with Ctrl-C (SIGINT) ignored, and Brian2's import wraps an ignored
# handler into one that raises TypeError when called: reset SIGINT to its default before exec,
# so `pkill -INT` stops the run as Ctrl-C does ("interrupted; finished results are kept").
PYTHONPATH="$WT" MPLBACKEND=Agg setsid nohup python3 -c \
    'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    nice -n 15 brian-noisy-rnn reproduce \
    --out "$ROOT/campaigns/reproduction" --workers 2 --no-progress \
    >> "$ROOT/campaigns/reproduction.log" 2>&1 < /dev/null &
echo "started (pid $!); log: $ROOT/campaigns/reproduction.log"
