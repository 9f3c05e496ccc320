#!/usr/bin/env bash
# Rebuild the reproduction's report from its committed store with this checkout's code and
# publish it as the documentation page: docs/reproduction.md (figure links rewritten) with its
# figures and CSVs in docs/reproduction/.
#   bash campaigns/publish.sh        # then review `git diff docs/` and commit
# (The NeuroGym benchmark's page, docs/benchmarks/neurogym.md, wraps its run's table.md and
# is edited by hand: `benchmark neurogym --out campaigns/neurogym --report-only` rebuilds it.)
set -euo pipefail
cd "$(dirname "$0")/.."
source campaigns/_common.sh
STORE=campaigns/reproduction
[ -f "$STORE/results.sqlite" ] || { echo "publish.sh: no store at $STORE" >&2; exit 1; }
MPLBACKEND=Agg brian-noisy-rnn reproduce --out "$STORE" --report-only --no-progress
mkdir -p docs/reproduction
cp "$STORE"/*.png "$STORE"/*.csv docs/reproduction/
# the report links its figures and CSVs by bare file name: point them into docs/reproduction/
sed -E 's#\]\(([A-Za-z0-9_.-]+\.(png|csv))\)#](reproduction/\1)#g' "$STORE/report.md" > docs/reproduction.md
echo "published $STORE/report.md as docs/reproduction.md ($(ls "$STORE"/*.png | wc -l) figures)"
