#!/usr/bin/env bash
# run.sh - builds against the INSTALLED library (cmake --install into a temporary prefix): a C program (pkg-config,
# shared and static), the C++ wrapper's tests and example, a CMake find_package project; checks RPATH, that only
# oxrt_ symbols are exported (both libraries), OXRT_API's Windows switch and the ABI against the release recorded in
# tests/abi (layout.c, abidiff with oxrt-api.abi and oxrt.abi). Ends "N passed, M failed".
# Usage: tests/consumer/run.sh BUILD_DIR
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; [ -f "$tmp/log" ] && tail -n 20 "$tmp/log"; failed=$((failed + 1)); }
check() { # name, command...
  local name=$1
  shift
  if "$@" >"$tmp/log" 2>&1; then ok "$name"; else bad "$name"; fi
}

if ! cmake --install "$ROOT/$BUILD" --prefix "$prefix" >"$tmp/log" 2>&1; then
  bad "cmake --install"
  echo "$passed passed, $failed failed"
  exit 1
fi
ok "cmake --install into a temporary prefix"
lib=$prefix/lib
[ -d "$lib" ] || lib=$(dirname "$(find "$prefix" -name liboxrt.a | head -n 1)")
export PKG_CONFIG_PATH=$lib/pkgconfig
model=$ROOT/examples/digits/model.onnx
CC=${CC:-cc}
CXX=${CXX:-c++}
WARN="-Wall -Wextra -pedantic -Werror"

# C, shared library through pkg-config; the RPATH flag only because the prefix is not a system folder
check "C program, pkg-config, shared" $CC -std=c11 $WARN "$ROOT/tests/consumer/c_consumer.c" -o "$tmp/c_shared" \
  $(pkg-config --cflags --libs oxrt) -Wl,-rpath,"$lib"
check "C program (shared) runs" "$tmp/c_shared" "$model"
check "C program links liboxrt.so" sh -c "readelf -d '$tmp/c_shared' | grep -q 'NEEDED.*liboxrt.so'"
# C, static library through pkg-config --static (and oxrt-static.pc, which names liboxrt.a itself)
check "C program, pkg-config --static, static" $CC -std=c11 $WARN "$ROOT/tests/consumer/c_consumer.c" \
  -o "$tmp/c_static" $(pkg-config --static --cflags --libs oxrt)
check "C program, oxrt-static.pc" $CC -std=c11 $WARN "$ROOT/tests/consumer/c_consumer.c" \
  -o "$tmp/c_static2" $(pkg-config --cflags --libs oxrt-static)
check "C program (oxrt-static.pc) runs" "$tmp/c_static2" "$model"
check "C program (static) runs" "$tmp/c_static" "$model"
check "static C program needs no liboxrt.so" sh -c "readelf -d '$tmp/c_static' >'$tmp/dyn' && ! grep -q liboxrt '$tmp/dyn'"
# C++ wrapper: tests and the example
check "C++ tests build (-std=c++17 $WARN)" $CXX -std=c++17 $WARN "$ROOT/tests/cpp/test_hpp.cpp" -o "$tmp/cpp_test" \
  $(pkg-config --cflags --libs oxrt) -Wl,-rpath,"$lib" -pthread
check "C++ tests pass" "$tmp/cpp_test" "$ROOT"
check "C++ example builds" $CXX -std=c++17 $WARN "$ROOT/examples/cpp/classify.cpp" -o "$tmp/cpp_example" \
  $(pkg-config --static --cflags --libs oxrt-static)
check "C++ example runs" sh -c "'$tmp/cpp_example' '$model' | grep -q '^logits: tensor(float)'"
# CMake package
check "find_package(oxrt) project configures" cmake -S "$ROOT/tests/consumer" -B "$tmp/consumer" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
check "find_package(oxrt) project builds" cmake --build "$tmp/consumer" -j2
check "CMake consumer (oxrt::oxrt) runs" "$tmp/consumer/consumer_shared" "$model"
check "CMake consumer (oxrt::oxrt_static) runs" "$tmp/consumer/consumer_static" "$model"
check "CMake consumer (C++) runs" "$tmp/consumer/consumer_cpp" "$ROOT"
# RPATH of the installed command
check "installed oxrt has RUNPATH \$ORIGIN/../lib" sh -c "readelf -d '$prefix/bin/oxrt' | grep -q 'ORIGIN/../lib'"
# exported symbols: only oxrt_ names, from both libraries, and every OXRT_API function of the header is there
nm -D --defined-only "$lib/liboxrt.so" | awk '{print $3}' | sort -u >"$tmp/so.syms"
nm -g --defined-only "$lib/liboxrt.a" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/a.syms"
check "liboxrt.so exports only oxrt_ symbols" sh -c "! grep -v '^oxrt_' '$tmp/so.syms'"
check "liboxrt.a exports only oxrt_ symbols" sh -c "! grep -v '^oxrt_' '$tmp/a.syms'"
check "both libraries export the same symbols" cmp "$tmp/so.syms" "$tmp/a.syms"
grep -ohE 'OXRT_API [^(]*\boxrt_[a-z0-9_]+\(' "$prefix/include/oxrt.h" | grep -oE 'oxrt_[a-z0-9_]+\($' | tr -d '(' |
  sort -u >"$tmp/h.syms"
check "every OXRT_API function is exported" sh -c "comm -23 '$tmp/h.syms' '$tmp/so.syms' | tee /dev/stderr | (! grep -q .)"
echo "exported: $(wc -l <"$tmp/so.syms") functions"
# OXRT_API's Windows side, seen through the preprocessor: dllexport building the DLL, dllimport using it, nothing
# with OXRT_STATIC
api_macro() { printf '#include <oxrt.h>\nOXRT_API_IS OXRT_API\n' | $CC -E -P -D_WIN32 "$@" -I"$prefix/include" - |
  grep '^OXRT_API_IS' | sed 's/^OXRT_API_IS *//'; }
check "OXRT_API: dllexport / dllimport / static switch" sh -c \
  "[ \"\$1\" = '__declspec(dllexport)' ] && [ \"\$2\" = '__declspec(dllimport)' ] && [ -z \"\$3\" ]" _ \
  "$(api_macro -DOXRT_BUILDING_LIBRARY)" "$(api_macro)" "$(api_macro -DOXRT_STATIC)"
# The ABI of the release recorded in tests/abi (docs/c_api.md): layout.c asserts every function signature, callback
# type, enum value and struct member (offset and type) at compile time; abidiff compares the installed header's
# ABI (tests/abi/api_stub.py: a stub library with debug information, as liboxrt.so has none) with oxrt-api.abi,
# and liboxrt.so's symbols with oxrt.abi. Additions pass, removals and changes fail.
check "ABI: tests/abi/layout.c compiles against the installed header" $CC -std=c11 $WARN "$ROOT/tests/abi/layout.c" \
  -I"$prefix/include" -o "$tmp/layout"
abi_stub() { # header folder, output library
  "${PY:-python3}" "$ROOT/tests/abi/api_stub.py" "$1/oxrt.h" >"$2.c" &&
    $CC -std=c11 -g -O0 -shared -fPIC -w -I"$1" "$2.c" -Wl,-soname,liboxrt.so.0.2 -o "$2"
}
abi_diff() { # baseline, library, report: true when compatible
  abidiff --no-added-syms --suppressions "$ROOT/tests/abi/appended_fields.suppr" "$1" "$2" >"$3" 2>&1
  local rc=$?
  [ $((rc & 13)) -eq 0 ] # error, ABI change, incompatible change
}
# the checks must fail on a changed header (self-tests): a parameter type (abidiff and layout.c), a field's type
# at the same offset (layout.c; the suppression of appended fields hides it from abidiff 2.2)
mkdir -p "$tmp/planted1" "$tmp/planted2"
sed 's/_threads(oxrt_session_options \*o, int threads)/_threads(oxrt_session_options *o, long threads)/' \
  "$prefix/include/oxrt.h" >"$tmp/planted1/oxrt.h"
sed 's/^  int64_t start_ns; /  int32_t start_ns; /' "$prefix/include/oxrt.h" >"$tmp/planted2/oxrt.h"
for n in 1 2; do
  check "layout.c fails on planted change $n (self-test)" sh -c "! cmp -s '$prefix/include/oxrt.h' \
    '$tmp/planted$n/oxrt.h' && ! $CC -std=c11 -I'$tmp/planted$n' '$ROOT/tests/abi/layout.c' -o '$tmp/lp' 2>/dev/null"
done
if command -v abidiff >/dev/null; then
  if abi_stub "$prefix/include" "$tmp/libapi.so" >"$tmp/log" 2>&1 &&
    abi_diff "$ROOT/tests/abi/oxrt-api.abi" "$tmp/libapi.so" "$tmp/abi.txt"; then
    ok "ABI: installed header compatible with tests/abi/oxrt-api.abi (abidiff)"
  else
    cat "$tmp/abi.txt" >>"$tmp/log" 2>/dev/null
    bad "ABI: installed header compatible with tests/abi/oxrt-api.abi (abidiff)"
  fi
  if abi_stub "$tmp/planted1" "$tmp/libplanted.so" >"$tmp/log" 2>&1 &&
    ! abi_diff "$ROOT/tests/abi/oxrt-api.abi" "$tmp/libplanted.so" "$tmp/abi_planted.txt" &&
    grep -q "set_intra_op_threads" "$tmp/abi_planted.txt"; then
    ok "abidiff fails on planted change 1 (self-test)"
  else
    bad "abidiff fails on planted change 1 (self-test)"
  fi
  if abi_diff "$ROOT/tests/abi/oxrt.abi" "$lib/liboxrt.so" "$tmp/abi.txt"; then
    ok "ABI: liboxrt.so exports every symbol of tests/abi/oxrt.abi (abidiff)"
  else
    cp "$tmp/abi.txt" "$tmp/log"
    bad "ABI: liboxrt.so exports every symbol of tests/abi/oxrt.abi (abidiff)"
  fi
else
  bad "abidiff missing (apt-get install abigail-tools; make deps-apt)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
