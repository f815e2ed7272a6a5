#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (cmake -DOXRT_FUZZ=ON, clang).
#   tests/fuzz/run_fuzz.sh FUZZ_BUILD_DIR SECONDS_PER_TARGET WORK_DIR [SEED_SAMPLE]
# For each target: first every file of tests/fuzz/regressions/<target> (the findings, fixed: each must pass),
# then SECONDS_PER_TARGET of fuzzing from WORK_DIR/corpus/<target> (kept between runs) and the seeds.
# Crashes, leaks, UB and timeouts are saved as WORK_DIR/crash-* and counted as failures.
# Prints one line per target with its executions, and a final "N passed, M failed".
# FUZZ_TARGETS picks targets (default: model proto npy text); FUZZ_SEED fixes libFuzzer's random seed, so a
# short smoke explores the same inputs on every run (the test command sets it; long runs leave it random).
set -u
build=${1:?usage: run_fuzz.sh FUZZ_BUILD_DIR SECONDS WORK_DIR [SEED_SAMPLE]}
secs=${2:-60}
work=${3:-/tmp/oxrt-fuzz}
sample=${4:-0}
here=$(cd "$(dirname "$0")" && pwd)
pass=0
fail=0
mkdir -p "$work"
[ -d "$work/seeds/model" ] || bash "$here/seed_corpus.sh" "$work/seeds" "$sample" >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in ${FUZZ_TARGETS:-model proto npy text}; do
  bin="$build/tests/fuzz/fuzz_$t"
  [ -x "$bin" ] || continue
  seeds="$work/seeds/$t"
  [ -d "$seeds" ] || seeds=
  mkdir -p "$work/corpus/$t"
  reg="$here/regressions/$t"
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    if "$bin" -runs=0 "$reg"/* >"$work/$t.regressions.log" 2>&1 && ! grep -q "ERROR:" "$work/$t.regressions.log"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL fuzz_$t regressions:"
      grep -E "ERROR|SUMMARY|#[0-9]+ 0x" "$work/$t.regressions.log" | head -20
    fi
  fi
  log="$work/$t.log"
  extra=()
  [ -n "${FUZZ_SEED:-}" ] && extra+=(-seed="$FUZZ_SEED")
  [ "$t" = model ] && extra+=(-max_len=16384 -timeout=20)
  [ "$t" = npy ] && extra+=(-max_len=4096 -timeout=10)
  [ "$t" = proto ] && extra+=(-max_len=8192 -timeout=10)
  [ "$t" = text ] && extra+=(-max_len=16384 -timeout=10)
  "$bin" -max_total_time="$secs" -rss_limit_mb=2560 -malloc_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$work/crash-$t-" "${extra[@]}" "$work/corpus/$t" ${seeds:+"$seeds"} >"$log" 2>&1
  rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1))
    echo "fuzz_$t: ${execs:-?} executions in ${secs}s, no finding"
  elif [ $rc -eq 72 ] && grep -q "libFuzzer: run interrupted" "$log"; then
    # libFuzzer's exit code for SIGINT (a long run stopped by hand): neither a finding nor a full run
    echo "fuzz_$t: ${execs:-?} executions, interrupted before ${secs}s, no finding"
  else
    fail=$((fail + 1))
    echo "FAIL fuzz_$t: finding after ${execs:-?} executions (exit $rc); artifact in $work:"
    grep -E "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$log" | head -24
  fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
