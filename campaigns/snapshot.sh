#!/usr/bin/env bash
# Stop a campaign (as Ctrl-C does: finished results are kept), fold the database's write-ahead
# log into it and stage its folder for a commit (the folder is git-ignored otherwise):
#   bash campaigns/snapshot.sh [reproduction|neurogym]   # then: git commit -m "..."
# Resume it afterwards with campaigns/resume.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source campaigns/_common.sh
NAME=$(campaign_name "${1:-}")
PATTERN=$(campaign_pattern "$ROOT" "$NAME")
if pgrep -f "$PATTERN" > /dev/null; then
    pkill -INT -f "$PATTERN"
    for _ in $(seq 1 120); do pgrep -f "$PATTERN" > /dev/null || break; sleep 1; done
    if pgrep -f "$PATTERN" > /dev/null; then
        echo "snapshot.sh: the $NAME campaign did not stop within 120 s" >&2; exit 1
    fi
fi
python3 - "campaigns/$NAME/results.sqlite" <<'PY'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
if busy:
    sys.exit(f"snapshot.sh: {sys.argv[1]} is still in use")
PY
git add -f -A "campaigns/$NAME"
git status --short "campaigns/$NAME" | tail -3
echo "staged campaigns/$NAME; last log lines:"; tail -3 "campaigns/$NAME.log"
