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
  local name=$1 t0=$SECONDS
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
  echo "--- $name: $((SECONDS - t0)) s" # the CI time budget (~20 min on 2 cores) is watched stage by stage
  return $rc
}

# A lane: stages run in the background, on the second core, while the ones after lane_start run here. Its
# report is printed, and its counts added, by lane_wait. The ASan stages are mostly one thread each, and the
# fuzz smoke's time is fixed, so two lanes of them fill the CI's 2 cores.
lane_pid=
lane_start() { # function that runs stages
  (
    total_pass=0 total_fail=0 status=0 failed_stages=
    "$@"
    echo "$total_pass $total_fail $status$failed_stages" >"$log/lane.result"
  ) >"$log/lane.txt" 2>&1 &
  lane_pid=$!
  # an interrupted run stops the lane's stage too (the lane's own processes ignore SIGINT)
  trap 'if [ -n "$lane_pid" ]; then pkill -P "$lane_pid"; kill "$lane_pid"; fi 2>/dev/null; exit 130' INT TERM
}
lane_wait() {
  [ -n "$lane_pid" ] || return 0
  wait "$lane_pid"
  lane_pid=
  cat "$log/lane.txt"
  local p=0 f=1 s=1 fs=" lane"
  [ -s "$log/lane.result" ] && read -r p f s fs <"$log/lane.result"
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  [ "$s" -ne 0 ] && status=1
  [ -n "$fs" ] && failed_stages+=" $fs"
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

# Hardening (docs/hardening.md): hostile models and limits, concurrency, allocation failures (each allocation of
# opening and running these models fails in turn: Makefile's ALLOC_MODELS, `make test-alloc`), and a short
# libFuzzer smoke under ASan+UBSan.
stage hardening-hostile "./$BUILD/tests/hardening/oxrt_hostile"
stage hardening-threads "./$BUILD/tests/hardening/oxrt_threads" examples/digits/model.onnx 3
alloc_models=(examples/digits/model.onnx examples/iris/model.onnx "$SUITE_OLD/node/test_lstm_defaults"
  "$SUITE_OLD/node/test_gru_seq_length" "$SUITE_OLD/node/test_if_seq" "$SUITE_OLD/node/test_loop11"
  "$SUITE_OLD/node/test_convtranspose" "$SUITE_OLD/node/test_scan9_sum")
stage hardening-alloc "./$BUILD/tests/hardening/oxrt_alloc_fail" "${alloc_models[@]}"
# The test command again under a clang ASan+UBSan build (build-fuzz, the fuzz smoke's): the C stages (make
# test-asan-all: unit tests, both conformance suites, hostile models, threads) and the Python suite. A leak,
# an overflow or UB fails the stage. The fuzz smoke, the ASan unit tests and the hostile/thread tests run in a
# background lane beside the ASan conformance and Python stages, which keeps the test command within the CI
# budget of ~20 min on 2 cores (docs/hardening.md has the stage times).
asan_ok=0
if command -v clang >/dev/null && [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-aarch64.a 2>/dev/null)" ]; then
  asan_build() { # everything the ASan stages run, on all cores before the lane splits them
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOXRT_FUZZ=ON >/dev/null &&
      cmake --build build-fuzz -j"$(nproc)" --target fuzz_model fuzz_proto fuzz_npy fuzz_text oxrt_unit_tests oxrt \
        oxrt_demo oxrt_hostile oxrt_threads oxrt_alloc_fail >/dev/null
  }
  fuzz_smoke() {
    FUZZ_SEED=1 bash tests/fuzz/run_fuzz.sh build-fuzz 15 "$log/fuzz" 200
    local rc=$?
    # keep what a finding left behind (the log folder is removed at the end)
    [ $rc -ne 0 ] && mkdir -p "$BUILD/fuzz-artifacts" && cp "$log"/fuzz/crash-* "$BUILD/fuzz-artifacts/" 2>/dev/null &&
      echo "fuzz artifacts kept in $BUILD/fuzz-artifacts"
    return $rc
  }
  asan() { # command...
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$@"
  }
  asan_lane() { # ~4.3 min of CPU, beside the ASan conformance and the Python stages (~4.5 min)
    stage fuzz-smoke fuzz_smoke
    stage unit-asan asan ./build-fuzz/oxrt_unit_tests
    stage hardening-hostile-asan asan ./build-fuzz/tests/hardening/oxrt_hostile
    stage hardening-threads-asan asan ./build-fuzz/tests/hardening/oxrt_threads examples/digits/model.onnx 3
    # every failed allocation must also leave no leak (LeakSanitizer at exit) and no bad access
    stage hardening-alloc-asan asan ./build-fuzz/tests/hardening/oxrt_alloc_fail "${alloc_models[@]}"
    stage demo-asan asan ./build-fuzz/oxrt_demo examples
  }
  if stage build-asan asan_build; then
    asan_ok=1
    lane_start asan_lane
    echo "(fuzz-smoke, unit-asan, hardening-*-asan run in the background; their reports follow the Python stages)"
    stage conformance-opset17-asan asan ./build-fuzz/oxrt test --expect-failures \
      tests/conformance/known_failures.txt "$SUITE_OLD/node" "$SUITE_OLD/simple" "$SUITE_OLD/pytorch-converted" \
      "$SUITE_OLD/pytorch-operator"
    if [ -d "$SUITE_NEW" ]; then
      stage conformance-new-asan asan ./build-fuzz/oxrt test --expect-failures \
        tests/conformance/known_failures_new.txt "$SUITE_NEW"
    fi
    stage conformance-opset17-unoptimized-asan asan ./build-fuzz/oxrt test --opt-level 0 --expect-failures \
      tests/conformance/known_failures.txt "$SUITE_OLD/node" "$SUITE_OLD/simple" "$SUITE_OLD/pytorch-converted" \
      "$SUITE_OLD/pytorch-operator"
  fi
else
  echo "=== fuzz-smoke"
  echo "fuzz smoke and ASan stages skipped (neither passed nor failed): clang with libFuzzer not found;" \
    "apt-get install clang libclang-rt-14-dev (make deps-apt does)"
fi

# Python: the binding installed into the test venv as a user gets it (gcc, linking the library built above)
# runs the binding's tests. With the ASan build there, the binding is built again with clang ASan+UBSan over
# build-fuzz's library, into a folder of its own, and the whole Python suite (binding, project, server) runs
# once on it, the sanitizer runtime preloaded into python; else the suite runs on the plain build. The
# binding's tests and the project's tests run as separate sessions (each has its own conftest).
pyenv=()
pytest_stage() { # name, dir (pyenv: the environment the stage runs in)
  local t0=$SECONDS san=() reports=
  echo "=== $1"
  if [ ${#pyenv[@]} -gt 0 ]; then
    # Sanitizer reports go to files: pytest's capture would swallow one that ends the process, and a test
    # may accept a failing subprocess (oxrt, the server) without reading why it failed.
    mkdir -p "$log/san/$1"
    san=(ASAN_OPTIONS="detect_leaks=0:log_path=$log/san/$1/report")
  fi
  env ${pyenv[@]+"${pyenv[@]}"} ${san[@]+"${san[@]}"} "$PY" -m pytest -q -p no:cacheprovider "$2" 2>&1 |
    tee "$log/$1.out" | tail -n 25
  local rc=${PIPESTATUS[0]} last p f
  last=$(grep -E '[0-9]+ (passed|failed|errors?)' "$log/$1.out" | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$last" | awk '{s += $1} END {print s + 0}')
  [ ${#san[@]} -gt 0 ] && reports=$(grep -lE '==ERROR: |runtime error: ' "$log/san/$1"/report.* 2>/dev/null)
  if [ -n "$reports" ]; then # any process of the stage (python, oxrt, the server) that found an error fails it
    echo "--- sanitizer reports (first lines of each):"
    for r in $reports; do grep -E '==ERROR: |runtime error: |^ +#[0-4] |^SUMMARY: ' "$r" | head -n 8; done
    rc=1
    [ "${f:-0}" -eq 0 ] && f=$(wc -w <<<"$reports")
  elif [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then # ended before pytest's summary
    f=1
  fi
  for r in "$log/san/$1"/report.*; do # other sanitizer messages (warnings) are shown, not counted
    [ -e "$r" ] && ! grep -qE '==ERROR: |runtime error: ' "$r" && head -n 5 "$r"
  done
  total_pass=$((total_pass + ${p:-0}))
  total_fail=$((total_fail + ${f:-0}))
  if [ "$rc" -ne 0 ]; then status=1; failed_stages+=" $1"; echo "--- stage $1 FAILED (exit $rc)"; fi
  echo "--- $1: $((SECONDS - t0)) s"
}
python_asan() { # builds the ASan+UBSan binding into $asan_py and checks that python imports that one
  local rt
  rt=$(clang -print-file-name="libclang_rt.asan-$(uname -m).so")
  [ -f "$rt" ] || { echo "no ASan runtime $rt"; return 1; }
  # -fno-wrapv: python's CFLAGS have -fwrapv, which would hide signed overflow from UBSan
  CC=clang CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fno-wrapv" \
    LDFLAGS="-fsanitize=address,undefined" OXRT_PY_BUILD_BASE=build-fuzz/py \
    OXRT_PREBUILT_STATIC_LIB="$PWD/build-fuzz/liboxrt.a" "$PY" -m pip install -q --disable-pip-version-check \
    --no-build-isolation --no-deps --target "$asan_py" . || return 1
  # ASAN_OPTIONS (pytest_stage) detect_leaks=0: CPython and the libraries the tests import leave memory at
  # exit by design (the C stages check oxrt for leaks); UB is fatal (library and binding: -fno-sanitize-recover)
  # the oxrt command the tests run is build-fuzz's too (OXRT_BUILD; the install test still installs the plain build)
  pyenv=(LD_PRELOAD="$rt" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    PYTHONPATH="$asan_py${PYTHONPATH:+:$PYTHONPATH}" OXRT_BUILD="$PWD/build-fuzz" OXRT_INSTALL_BUILD="$PWD/$BUILD")
  env "${pyenv[@]}" ASAN_OPTIONS=detect_leaks=0 "$PY" -c "import ctypes, oxrt; ctypes.CDLL(None).__asan_init
assert oxrt.__file__.startswith('$asan_py/'), oxrt.__file__
print('python imports the ASan+UBSan binding:', oxrt.__file__)"
}
py_fail() { # stage name, log
  tail -n 30 "$2"
  echo "--- stage $1 FAILED"
  total_fail=$((total_fail + 1))
  status=1
  failed_stages+=" $1"
}
echo "=== python package"
plain_ok=0
if OXRT_PREBUILT_STATIC_LIB="$PWD/$BUILD/liboxrt.a" "$PY" -m pip install -q --disable-pip-version-check \
    --no-build-isolation --no-deps . >"$log/pip.out" 2>&1; then
  plain_ok=1
  pytest_stage pytest-binding python/tests
else
  py_fail python-package "$log/pip.out"
fi
sfx=
if [ $asan_ok = 1 ]; then
  echo "=== python package (ASan+UBSan)"
  asan_py="$log/oxrt-asan-py"
  if python_asan >"$log/pip-asan.out" 2>&1; then
    tail -n 1 "$log/pip-asan.out"
    sfx=-asan
    pytest_stage pytest-binding-asan python/tests
  else
    pyenv=()
    py_fail python-package-asan "$log/pip-asan.out"
  fi
fi
if [ $plain_ok = 1 ] || [ -n "$sfx" ]; then
  pytest_stage pytest-project$sfx tests/python
  # the Open Inference Protocol server (oxrt serve) on loopback, with real clients
  serve_bin="$PWD/$BUILD/oxrt"
  [ -n "$sfx" ] && serve_bin="$PWD/build-fuzz/oxrt"
  OXRT_BIN="$serve_bin" pytest_stage pytest-serve$sfx tests/serve
fi
lane_wait
rm -rf "$log"
# the stages that failed the run, repeated last so a truncated log still names them
[ -n "$failed_stages" ] && echo "stages that failed:$failed_stages"
echo "total: $total_pass passed, $total_fail failed"
exit $status
