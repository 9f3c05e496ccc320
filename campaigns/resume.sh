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
PYTHONPATH="$WT" MPLBACKEND=Agg setsid nohup nice -n 15 brian-noisy-rnn reproduce \
    --out "$ROOT/campaigns/reproduction" --workers 2 --no-progress \
    >> "$ROOT/campaigns/reproduction.log" 2>&1 < /dev/null &
echo "started (pid $!); log: $ROOT/campaigns/reproduction.log"
