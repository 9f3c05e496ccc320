#!/usr/bin/env bash
# Resume a long campaign where it stopped:
#   reproduction  issue 19's onset study inside `reproduce` (store: campaigns/reproduction/)
#   neurogym      issue 21's `benchmark neurogym` at full strength (store: campaigns/neurogym/)
# Each runs niced in the background from its own git worktree at a fixed commit (default:
# HEAD), so edits to the checkout cannot change a run in flight; a snapshot of its store is
# committed between sessions (git add -f), its log is campaigns/<name>.log.
#   bash campaigns/resume.sh [COMMIT] [reproduction|neurogym] [OPTION...]   # then: tail -f campaigns/<name>.log
# (OPTIONs go to the command, e.g. `--workers 1` or `--cap-steps 1000`; default --workers 2)
# Stop one with: pkill -INT -f 'brian-noisy-rnn .* --out .*campaigns/<name>' (it resumes later).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
COMMIT=$(git rev-parse "${1:-HEAD}")
source campaigns/_common.sh
NAME=$(campaign_name "${2:-}")
OPTIONS=("${@:3}")
[[ " ${OPTIONS[*]} " == *" --workers "* ]] || OPTIONS+=(--workers 2)
case "$NAME" in reproduction) COMMAND=(reproduce) ;; neurogym) COMMAND=(benchmark neurogym) ;; esac
if pgrep -f "$(campaign_pattern "$ROOT" "$NAME")" > /dev/null; then
    echo "resume.sh: the $NAME campaign is already running" >&2; exit 1
fi
WT="${BNR_CAMPAIGN_WORKTREE:-$ROOT/../campaign-wt}"
[ "$NAME" = reproduction ] || WT="$WT-$NAME"
if [ -d "$WT" ]; then git -C "$WT" checkout -q --detach "$COMMIT"; else git worktree add -q --detach "$WT" "$COMMIT"; fi
mkdir -p "campaigns/$NAME"
echo "campaign from commit $COMMIT in $WT (options: ${OPTIONS[*]})" >> "campaigns/$NAME.log"
cd "$WT"
# A background job starts with Ctrl-C (SIGINT) ignored, and Brian2's import wraps an ignored
# handler into one that raises TypeError when called: reset SIGINT to its default before exec,
# so `pkill -INT` stops the run as Ctrl-C does ("interrupted; finished results are kept").
PYTHONPATH="$WT" MPLBACKEND=Agg setsid nohup python3 -c \
    'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    nice -n 15 brian-noisy-rnn "${COMMAND[@]}" \
    --out "$ROOT/campaigns/$NAME" "${OPTIONS[@]}" --no-progress \
    >> "$ROOT/campaigns/$NAME.log" 2>&1 < /dev/null &
echo "started (pid $!); log: $ROOT/campaigns/$NAME.log"
