#!/usr/bin/env bash
# record_release.sh - records the ABI of a release as the baseline tests/consumer/run.sh checks later builds against:
# layout.c (compile-time checks), oxrt-api.abi (abidw of the header's stub library) and oxrt.abi (abidw of
# liboxrt.so: its exported symbols). Run it on the release's commit, after building.
# Usage: tests/abi/record_release.sh [BUILD_DIR]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$ROOT/tests/abi/gen_layout.py" "$ROOT/include/oxrt.h" >"$ROOT/tests/abi/layout.c"
python3 "$ROOT/tests/abi/api_stub.py" "$ROOT/include/oxrt.h" >"$tmp/oxrt_api_stub.c"
(cd "$tmp" && $CC -std=c11 -g -O0 -shared -fPIC -w -I"$ROOT/include" oxrt_api_stub.c -Wl,-soname,liboxrt.so.0.2 \
  -o liboxrt.so && abidw --no-corpus-path --no-show-locs --no-comp-dir-path liboxrt.so) >"$ROOT/tests/abi/oxrt-api.abi"
abidw --no-corpus-path --no-show-locs --no-comp-dir-path "$ROOT/$BUILD/liboxrt.so" >"$ROOT/tests/abi/oxrt.abi"
echo "recorded: tests/abi/layout.c, oxrt-api.abi, oxrt.abi"
