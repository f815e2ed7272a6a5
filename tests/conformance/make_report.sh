#!/usr/bin/env bash
# Writes docs/conformance.md from what the runner prints: per-suite pass counts, the known
# failures with their reasons (from the known_failures lists), and the operator table.
set -u
BIN=${1:-build/oxrt}
OLD=/usr/include/onnx/backend/test/data
NEW=../shared/onnx-tests
out=docs/conformance.md
mkdir -p docs
row() { # label, dirs...
  local label=$1
  shift
  local line
  line=$("$BIN" test "$@" 2>/dev/null | tail -n 1)
  echo "| $label | $line |"
}
{
  echo "# Conformance"
  echo
  echo "Counts as printed by \`oxrt test\` (\"N passed, M failed\"), regenerated with"
  echo "\`bash tests/conformance/make_report.sh\` on $(date -u +%Y-%m-%d)."
  echo
  echo "| suite | result |"
  echo "|---|---|"
  for s in node simple pytorch-converted pytorch-operator; do row "Debian libonnx-testdata (opset <= 17): $s" "$OLD/$s"; done
  row "**Debian suite, all 1072 tests**" "$OLD/node" "$OLD/simple" "$OLD/pytorch-converted" "$OLD/pytorch-operator"
  for s in node simple pytorch-converted pytorch-operator light-zoo; do row "shared/onnx-tests (opset <= 28): $s" "$NEW/$s"; done
  row "**shared/onnx-tests, all 1951 tests**" "$NEW"/*/test_*
  echo
  echo "## Tests that fail, and why"
  echo
  echo "\`make test\` fails on any failure not listed in \`tests/conformance/known_failures.txt\` (Debian suite) or"
  echo "\`tests/conformance/known_failures_new.txt\` (newer suite); listed ones still count as failed above."
  echo
  for f in tests/conformance/known_failures.txt tests/conformance/known_failures_new.txt; do
    echo "### $(basename "$f")"
    echo
    if grep -qv '^\s*\(#.*\)\?$' "$f"; then
      grep -v '^\s*\(#.*\)\?$' "$f" | sed -E 's/^([^ #]+)\s*#?\s*(.*)$/- `\1`: \2/'
    else
      echo "(none)"
    fi
    echo
  done
  echo "## Operators implemented"
  echo
  echo "Each operator lists the opset versions where an implementation starts; a model's node uses the newest"
  echo "one not above the model's opset for the domain."
  echo
  "$BIN" ops --markdown
} >"$out"
echo "wrote $out"
