#!/usr/bin/env bash
# Runs every test stage and ends with one line "total: N passed, M failed".
# A stage fails the run when it has failures it does not expect; conformance
# tests listed in tests/conformance/known_failures*.txt stay counted as failed
# (docs/conformance.md says why) but do not fail the run.
set -u
BUILD=${1:-build}
PY=${2:-.venv/bin/python}
SUITE_OLD=/usr/include/onnx/backend/test/data
SUITE_NEW=../shared/onnx-tests
total_pass=0
total_fail=0
status=0
failed_stages=
log=$(mktemp -d)

count() { # adds the counts of the last "N passed, M failed" line of a file
  local line p f
  line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
  total_pass=$((total_pass + ${p:-0}))
  total_fail=$((total_fail + ${f:-0}))
}

stage() { # name, command...
  local name=$1
  shift
  echo "=== $name"
  "$@" >"$log/$name.out" 2>&1
  local rc=$?
  grep -E '^(FAIL|not ok|conformance gate|[0-9]+ passed)|error' "$log/$name.out" | tail -n 60
  count "$log/$name.out"
  if [ $rc -ne 0 ]; then
    echo "--- stage $name FAILED (exit $rc); last lines:"
    tail -n 30 "$log/$name.out"
    status=1
    failed_stages+=" $name"
  fi
}

stage unit "./$BUILD/oxrt_unit_tests"
stage layers "$PY" tests/tools/check_layers.py
stage conformance-opset17 "./$BUILD/oxrt" test --expect-failures tests/conformance/known_failures.txt \
  "$SUITE_OLD/node" "$SUITE_OLD/simple" "$SUITE_OLD/pytorch-converted" "$SUITE_OLD/pytorch-operator"
if [ -d "$SUITE_NEW" ]; then
  stage conformance-new "./$BUILD/oxrt" test --expect-failures tests/conformance/known_failures_new.txt "$SUITE_NEW"
fi
# The same suite with the optimizer off: with the run above, every pass runs on and off over it (a test that
# fails only with optimization on names the pass in its FAIL line).
stage conformance-opset17-unoptimized "./$BUILD/oxrt" test --opt-level 0 --expect-failures \
  tests/conformance/known_failures.txt "$SUITE_OLD/node" "$SUITE_OLD/simple" "$SUITE_OLD/pytorch-converted" \
  "$SUITE_OLD/pytorch-operator"
stage demo "./$BUILD/oxrt_demo" examples
# The installed library as a user gets it: C, C++ and CMake consumers, exported symbols, ABI (tests/consumer/run.sh).
stage install-consumers bash tests/consumer/run.sh "$BUILD"

# Hardening (docs/hardening.md): hostile models and limits, concurrency, allocation failures (every 7th
# allocation here; `make test-alloc` fails each one), and a short libFuzzer smoke under ASan+UBSan.
stage hardening-hostile "./$BUILD/tests/hardening/oxrt_hostile"
stage hardening-threads "./$BUILD/tests/hardening/oxrt_threads" examples/digits/model.onnx 3
stage hardening-alloc "./$BUILD/tests/hardening/oxrt_alloc_fail" --stride 7 examples/digits/model.onnx \
  examples/iris/model.onnx "$SUITE_OLD/node/test_lstm_defaults" "$SUITE_OLD/node/test_if_seq" \
  "$SUITE_OLD/node/test_loop11" "$SUITE_OLD/node/test_convtranspose"
if command -v clang >/dev/null && [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-aarch64.a 2>/dev/null)" ]; then
  fuzz_smoke() {
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOXRT_FUZZ=ON >/dev/null && cmake --build build-fuzz -j"$(nproc)" --target fuzz_model fuzz_proto fuzz_npy fuzz_text >/dev/null &&
      FUZZ_SEED=1 bash tests/fuzz/run_fuzz.sh build-fuzz 15 "$log/fuzz" 200
    local rc=$?
    # keep what a finding left behind (the log folder is removed at the end)
    [ $rc -ne 0 ] && mkdir -p "$BUILD/fuzz-artifacts" && cp "$log"/fuzz/crash-* "$BUILD/fuzz-artifacts/" 2>/dev/null &&
      echo "fuzz artifacts kept in $BUILD/fuzz-artifacts"
    return $rc
  }
  stage fuzz-smoke fuzz_smoke
  # The C side of the test command again under that clang ASan+UBSan build (make test-asan-all): unit tests,
  # both conformance suites, hostile models, threads. A leak, an overflow or UB fails the stage.
  asan() { # target, command...
    cmake --build build-fuzz -j"$(nproc)" --target "$1" >/dev/null &&
      ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "${@:2}"
  }
  stage unit-asan asan oxrt_unit_tests ./build-fuzz/oxrt_unit_tests
  stage conformance-opset17-asan asan oxrt ./build-fuzz/oxrt test --expect-failures \
    tests/conformance/known_failures.txt "$SUITE_OLD/node" "$SUITE_OLD/simple" "$SUITE_OLD/pytorch-converted" \
    "$SUITE_OLD/pytorch-operator"
  if [ -d "$SUITE_NEW" ]; then
    stage conformance-new-asan asan oxrt ./build-fuzz/oxrt test --expect-failures \
      tests/conformance/known_failures_new.txt "$SUITE_NEW"
  fi
  stage hardening-hostile-asan asan oxrt_hostile ./build-fuzz/tests/hardening/oxrt_hostile
  stage hardening-threads-asan asan oxrt_threads ./build-fuzz/tests/hardening/oxrt_threads examples/digits/model.onnx 3
else
  echo "=== fuzz-smoke"
  echo "fuzz smoke skipped (neither passed nor failed): clang with libFuzzer not found;" \
    "apt-get install clang libclang-rt-14-dev (make deps-apt does)"
fi

# Python: install the binding into the test venv (linking the library built above), then pytest.
# The binding's tests and the project's tests run as separate sessions (each has its own conftest).
pytest_stage() { # name, dir
  echo "=== $1"
  "$PY" -m pytest -q -p no:cacheprovider "$2" 2>&1 | tee "$log/$1.out" | tail -n 25
  local rc=${PIPESTATUS[0]} last p f
  last=$(grep -E '[0-9]+ (passed|failed|errors?)' "$log/$1.out" | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$last" | awk '{s += $1} END {print s + 0}')
  total_pass=$((total_pass + ${p:-0}))
  total_fail=$((total_fail + ${f:-0}))
  if [ "$rc" -ne 0 ]; then status=1; failed_stages+=" $1"; echo "--- stage $1 FAILED (exit $rc)"; fi
}
echo "=== python package"
if OXRT_PREBUILT_STATIC_LIB="$PWD/$BUILD/liboxrt.a" "$PY" -m pip install -q --disable-pip-version-check \
    --no-build-isolation --no-deps . >"$log/pip.out" 2>&1; then
  pytest_stage pytest-binding python/tests
  pytest_stage pytest-project tests/python
  # the Open Inference Protocol server (oxrt serve) on loopback, with real clients
  OXRT_BIN="$PWD/$BUILD/oxrt" pytest_stage pytest-serve tests/serve
else
  tail -n 30 "$log/pip.out"
  echo "--- stage python package FAILED: the Python package did not install"
  total_fail=$((total_fail + 1))
  status=1
  failed_stages+=" python-package"
fi
rm -rf "$log"
# the stages that failed the run, repeated last so a truncated log still names them
[ -n "$failed_stages" ] && echo "stages that failed:$failed_stages"
echo "total: $total_pass passed, $total_fail failed"
exit $status
