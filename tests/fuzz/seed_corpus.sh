#!/usr/bin/env bash
# Seeds the fuzz corpora from the conformance suites and the shipped examples.
#   tests/fuzz/seed_corpus.sh OUT_DIR [MAX_PER_TARGET]
# OUT_DIR/model: small model.onnx files; OUT_DIR/proto: input/output .pb files, each prefixed with the kind byte
# fuzz_proto reads (0 tensor, 1 sequence, 2 map, 3 optional); OUT_DIR/npy: .npy files of every dtype the reader
# knows; OUT_DIR/text: those models printed in ONNX's textual syntax (oxrt print, else onnx.printer). MAX_PER_TARGET (default: all) keeps a spread sample (every k-th file) for short runs.
set -u
out=${1:?usage: seed_corpus.sh OUT_DIR [MAX_PER_TARGET]}
max=${2:-0}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# The suites are often symbolic links (Debian's libonnx-testdata): each is named with a trailing slash so that find
# descends into it. shared/ lies next to the main checkout, so a git worktree elsewhere finds it through git.
common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)
suites=()
for d in /usr/include/onnx/backend/test/data "$root/../shared/onnx-tests" ${common:+"$(dirname "$common")/../shared/onnx-tests"}; do
  [ -d "$d" ] || continue
  r=$(realpath "$d")
  case " ${suites[*]-} " in *" $r/ "*) continue ;; esac
  suites+=("$r/")
done
mkdir -p "$out/model" "$out/proto" "$out/npy" "$out/text"

sample() { # keeps every k-th line so that at most $max remain
  if [ "$max" -gt 0 ]; then awk -v m="$max" '{a[NR] = $0} END {k = NR > m ? NR / m : 1; for (i = 1; i <= NR && n < m; i += k) {print a[int(i)]; n++}}'
  else cat; fi
}

n=0
while IFS= read -r f; do
  n=$((n + 1))
  cp "$f" "$out/model/seed_$n.onnx"
done < <( { [ ${#suites[@]} -gt 0 ] && find "${suites[@]}" -name model.onnx -size -16k; \
            find "$root/examples" -name '*.onnx' -size -64k; } 2>/dev/null | sort | sample)

n=0
while IFS= read -r f; do
  n=$((n + 1))
  case "$f" in
    *zipmap*|*_map*) kind='\x02' ;;
    *optional*) kind='\x03' ;;
    *seq*|*sequence*|*split_to_sequence*) kind='\x01' ;;
    *) kind='\x00' ;;
  esac
  { printf "$kind"; cat "$f"; } > "$out/proto/seed_$n"
done < <( { [ ${#suites[@]} -gt 0 ] && find "${suites[@]}" -name '*.pb' -size -8k; } 2>/dev/null | sort | sample)

find "$root/examples" -name '*.npy' -size -64k -exec cp {} "$out/npy/" \; 2>/dev/null
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3
"$py" - "$out/npy" <<'PY' 2>/dev/null || true
import sys, numpy as np
d = sys.argv[1]
for t in ["f4", "f8", "f2", "i8", "i4", "i2", "i1", "u1", "u2", "u4", "u8", "?", "c8", "c16"]:
    np.save(f"{d}/{t}.npy", (np.arange(6) % 3).astype(t).reshape(2, 3))
np.save(f"{d}/scalar.npy", np.float32(1.5))
np.save(f"{d}/empty.npy", np.zeros((0, 4), np.float32))
np.save(f"{d}/unicode.npy", np.array(["ab", "cde", "\u00e9\u4e2d"]))
PY
# text: the model seeds printed (a model the printer rejects is skipped)
printer=""
for b in "$root/build/oxrt" "$root/build-asan/oxrt"; do [ -x "$b" ] && printer=$b && break; done
for f in "$out"/model/seed_*.onnx; do
  [ -e "$f" ] || continue
  t="$out/text/$(basename "$f" .onnx).txt"
  if [ -n "$printer" ]; then
    "$printer" print "$f" >"$t" 2>/dev/null || rm -f "$t"
  else
    "$py" -c 'import sys, onnx, onnx.printer; print(onnx.printer.to_text(onnx.load(sys.argv[1])))' "$f" >"$t" \
      2>/dev/null || rm -f "$t"
  fi
done
for t in model proto npy text; do echo "$t: $(ls "$out/$t" | wc -l) seeds"; done
