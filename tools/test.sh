#!/usr/bin/env bash
# The project's test command (`make test`): notebooks clean and exported, README in step with
# nbs/index.ipynb, no notebook saved with an error output (tools/check_outputs.py), every notebook's
# tests pass. Ends with a line `N passed, N failed` (notebooks).
# Usage: tools/test.sh [FLAGS]   e.g. `tools/test.sh slow` also runs the cells marked `#| slow`.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
flags="${1:-}"
problems=0

fingerprint() { sha1sum nbs/*.ipynb stac_nb/*.py README.md 2>/dev/null; }

echo "== notebooks are clean and the library is in sync with them"
before=$(fingerprint)
$BIN/nbdev_clean && $BIN/nbdev_export
after=$(fingerprint)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_clean / nbdev_export changed these files (run them and commit):"
  diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "  " $3}'
  problems=$((problems+1))
fi

echo "== README.md is in step with nbs/index.ipynb"
$BIN/python tools/readme.py --check || problems=$((problems+1))

echo "== no notebook is saved with an error in its outputs"
$BIN/python tools/check_outputs.py || problems=$((problems+1))

echo "== notebook tests${flags:+ (flags: $flags)}"
log=$(mktemp)
start=$SECONDS
$BIN/nbdev_test --n_workers 1 --do_print --timing --flags "$flags" 2>&1 | tee "$log"
total=$(grep -c '^Starting ' "$log")
failed=$(sed -n '/^nbdev Tests Failed On The Following Notebooks:/,$p' "$log" | grep -c $'^\t')
rm -f "$log"
echo "notebook tests took $((SECONDS-start)) s"
if [ "$problems" -gt 0 ]; then echo "$problems check(s) outside the notebooks failed"; fi
echo "$((total-failed)) passed, $((failed+problems)) failed"
[ "$failed" -eq 0 ] && [ "$problems" -eq 0 ]
