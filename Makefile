# oxrt - the two commands of the README, and the pieces they are made of.
#   make demo   build, then run the shipped examples (predictions, accuracy, latency)
#   make test   install what the tests need (apt + pip), build, run every test
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SUITE_OLD := /usr/include/onnx/backend/test/data
SUITE_NEW := ../shared/onnx-tests

.PHONY: all build demo test deps deps-apt deps-py unit test-optnet conformance conformance-new pytest sanitize test-asan \
        bench bench-gemm bench-bf16 install clean examples

all: build

build:
	@command -v cmake >/dev/null || { echo "cmake is missing: run 'make deps' or apt-get install cmake build-essential"; exit 1; }
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	./$(BUILD)/oxrt_demo examples

# ---------------------------------------------------------------- dependencies
deps: deps-apt deps-py

deps-apt:
	@if ! dpkg -s cmake build-essential pkg-config libonnx-testdata python3-venv python3-dev python3-torch python3-torchvision graphviz \
	    clang libclang-rt-14-dev abigail-tools >/dev/null 2>&1; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq cmake build-essential pkg-config libonnx-testdata \
	    python3-venv python3-dev python3-torch python3-torchvision graphviz clang libclang-rt-14-dev abigail-tools >/dev/null; \
	fi

# Debian's python3 with its torch (needs numpy 1.x), plus pip's onnx, onnxruntime and friends.
$(VENV)/.deps-ok: tests/requirements.txt
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	touch $@

deps-py: deps-apt $(VENV)/.deps-ok

# ---------------------------------------------------------------------- tests
test: deps build
	@bash tests/run_all.sh $(BUILD) $(PY)

unit: build
	./$(BUILD)/oxrt_unit_tests

conformance: build
	./$(BUILD)/oxrt test $(SUITE_OLD)/node $(SUITE_OLD)/simple $(SUITE_OLD)/pytorch-converted $(SUITE_OLD)/pytorch-operator

conformance-new: build
	./$(BUILD)/oxrt test $(SUITE_NEW)

pytest: build deps-py
	OXRT_PREBUILT_STATIC_LIB=$(CURDIR)/$(BUILD)/liboxrt.a $(PY) -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps . && $(PY) -m pytest -q python/tests && $(PY) -m pytest -q tests/python

# AddressSanitizer + UndefinedBehaviorSanitizer build, and the conformance suite under it.
sanitize:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOXRT_SANITIZE=ON >/dev/null
	cmake --build build-asan -j$(JOBS)

test-asan: sanitize
	ASAN_OPTIONS=detect_leaks=1 ./build-asan/oxrt_unit_tests
	ASAN_OPTIONS=detect_leaks=1 ./build-asan/oxrt test --expect-failures tests/conformance/known_failures.txt \
	  $(SUITE_OLD)/node $(SUITE_OLD)/simple $(SUITE_OLD)/pytorch-converted $(SUITE_OLD)/pytorch-operator

examples: deps-py
	$(PY) examples/make_examples.py

# The optimizer's differential net, long run (the test command runs a bounded one): random graphs around every
# pass's pattern; optimized == unoptimized == ONNX Runtime, a failure names the pass. OPTNET_CASES, OPTNET_SEED.
OPTNET_CASES ?= 20000
OPTNET_SEED ?= 1
test-optnet: build deps-py
	OXRT_PREBUILT_STATIC_LIB=$(CURDIR)/$(BUILD)/liboxrt.a $(PY) -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps .
	$(PY) tests/python/optnet.py --oxrt $(BUILD)/oxrt --cases $(OPTNET_CASES) --seed $(OPTNET_SEED) --save optnet-failures

bench: build deps-py
	$(PY) -m pip install -q --disable-pip-version-check -r bench/requirements.txt
	OXRT_PREBUILT_STATIC_LIB=$(CURDIR)/$(BUILD)/liboxrt.a $(PY) -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps .
	$(PY) bench/run_bench.py --oxrt $(BUILD)/oxrt --precision
	$(PY) bench/bf16_bench.py
	$(PY) bench/call_overhead.py

# Load test of `oxrt serve` on loopback with and without dynamic batching on a CNN (bench/SERVE.md).
.PHONY: serve-load
serve-load: build deps-py
	OXRT_PREBUILT_STATIC_LIB=$(CURDIR)/$(BUILD)/liboxrt.a $(PY) -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps .
	$(PY) bench/models/generate.py --size small --out /tmp/oxrt-serve-load resnet18
	$(PY) bench/serve_load.py --onnx /tmp/oxrt-serve-load/resnet18.onnx --clients 16 --requests 25 --threads 1

# SGEMM against OpenBLAS in the same run (the benchmark alone links libopenblas: apt-get install libopenblas-dev).
# bf16 compute mode against OpenVINO's bf16 and both runtimes' float32 (bench/BF16.md).
bench-bf16: build deps-py
	$(PY) -m pip install -q --disable-pip-version-check -r bench/requirements.txt
	OXRT_PREBUILT_STATIC_LIB=$(CURDIR)/$(BUILD)/liboxrt.a $(PY) -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps .
	$(PY) bench/bf16_bench.py

# OpenBLAS is the bench's yardstick only (never linked into the library); OPENBLAS_LIBS overrides where it comes from.
OPENBLAS_LIBS ?= -lopenblas
bench-gemm: build
	@if [ "$(OPENBLAS_LIBS)" = "-lopenblas" ] && ! dpkg -s libopenblas-dev >/dev/null 2>&1; then \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libopenblas-dev >/dev/null; \
	fi
	$(CC) -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Isrc -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-pthread \
	  bench/gemm_bench.c $(BUILD)/liboxrt.a $(OPENBLAS_LIBS) -lpthread -lm -o $(BUILD)/gemm_bench
	./$(BUILD)/gemm_bench

# ------------------------------------------------------------- hardening (docs/hardening.md)
# libFuzzer targets with ASan+UBSan (clang): FUZZ_SECONDS per target, corpus kept in FUZZ_DIR.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_DIR ?= /tmp/oxrt-fuzz
.PHONY: fuzz fuzz-build test-tsan test-alloc test-hardening-asan test-asan-all test-asan-python
fuzz-build:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOXRT_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_model fuzz_proto fuzz_npy fuzz_text oxrt_hostile oxrt_alloc_fail

fuzz: fuzz-build
	bash tests/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_DIR)

# Hostile models and the thread test under the same clang ASan+UBSan build (also stages of the test command).
test-hardening-asan: fuzz-build
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target oxrt_threads
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ./$(FUZZ_BUILD)/tests/hardening/oxrt_hostile
	ASAN_OPTIONS=detect_leaks=1 ./$(FUZZ_BUILD)/tests/hardening/oxrt_threads examples/digits/model.onnx 3

# The C side of the test command under the clang ASan+UBSan build (stages *-asan of the test command).
test-asan-all: test-hardening-asan
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target oxrt oxrt_unit_tests
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1 ./$(FUZZ_BUILD)/oxrt_unit_tests
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1 ./$(FUZZ_BUILD)/oxrt test \
	  --expect-failures tests/conformance/known_failures.txt $(SUITE_OLD)/node $(SUITE_OLD)/simple \
	  $(SUITE_OLD)/pytorch-converted $(SUITE_OLD)/pytorch-operator
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1 ./$(FUZZ_BUILD)/oxrt test \
	  --expect-failures tests/conformance/known_failures_new.txt $(SUITE_NEW)
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1 ./$(FUZZ_BUILD)/oxrt test \
	  --opt-level 0 --expect-failures tests/conformance/known_failures.txt $(SUITE_OLD)/node $(SUITE_OLD)/simple \
	  $(SUITE_OLD)/pytorch-converted $(SUITE_OLD)/pytorch-operator
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target oxrt_alloc_fail oxrt_demo
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1 \
	  ./$(FUZZ_BUILD)/tests/hardening/oxrt_alloc_fail $(ALLOC_MODELS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 ./$(FUZZ_BUILD)/oxrt_demo examples

# The Python suite on the binding built with clang ASan+UBSan over the same library (stages pytest-*-asan of the
# test command), python run with the sanitizer runtime preloaded; detect_leaks=0: CPython leaks at exit by design.
# -fno-wrapv undoes python's -fwrapv, which would hide signed overflow from UBSan.
ASAN_PY := $(FUZZ_BUILD)/py-asan
test-asan-python: build deps-py fuzz-build
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target oxrt
	rm -rf $(ASAN_PY)
	CC=clang CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fno-wrapv" \
	  LDFLAGS="-fsanitize=address,undefined" OXRT_PY_BUILD_BASE=$(FUZZ_BUILD)/py \
	  OXRT_PREBUILT_STATIC_LIB=$(CURDIR)/$(FUZZ_BUILD)/liboxrt.a $(PY) -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps --target $(ASAN_PY) .
	for d in python/tests tests/python tests/serve; do \
	  LD_PRELOAD=$$(clang -print-file-name=libclang_rt.asan-$$(uname -m).so) ASAN_OPTIONS=detect_leaks=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONPATH=$(CURDIR)/$(ASAN_PY) OXRT_BIN=$(CURDIR)/$(FUZZ_BUILD)/oxrt \
	    OXRT_BUILD=$(CURDIR)/$(FUZZ_BUILD) OXRT_INSTALL_BUILD=$(CURDIR)/$(BUILD) $(PY) -m pytest -q -p no:cacheprovider $$d || exit 1; \
	done

# ThreadSanitizer: one session run from 8 threads, concurrent session creation, profiling on.
test-tsan:
	CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOXRT_TSAN=ON -DOXRT_BUILD_TOOLS=OFF >/dev/null
	cmake --build build-tsan -j$(JOBS) --target oxrt_threads
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ./build-tsan/tests/hardening/oxrt_threads examples/digits/model.onnx 4

# Allocation-failure injection: every allocation of open + run fails once, for each model (the test command runs
# it on the plain build and under ASan+UBSan, which also checks for leaks and bad accesses).
ALLOC_MODELS := examples/digits/model.onnx examples/iris/model.onnx $(SUITE_OLD)/node/test_lstm_defaults \
  $(SUITE_OLD)/node/test_gru_seq_length $(SUITE_OLD)/node/test_if_seq $(SUITE_OLD)/node/test_loop11 \
  $(SUITE_OLD)/node/test_convtranspose $(SUITE_OLD)/node/test_scan9_sum
test-alloc: build
	./$(BUILD)/tests/hardening/oxrt_alloc_fail $(ALLOC_MODELS)


install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD) build-tsan

-include mk/cross.mk

# Models over 2 GB with external data through run, dump/diff, graph and optimize --external-data (~7 GB of disk).
.PHONY: test-toolkit-big
test-toolkit-big: build deps-py
	OXRT_BUILD=$(CURDIR)/$(BUILD) $(PY) tests/python/toolkit_big_external.py
