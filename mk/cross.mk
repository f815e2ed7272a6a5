# Checks on other CPUs and compilers; kept out of `make test` (they take a while). Included by the Makefile.
#   make cross-aarch64   build for 64-bit ARM (cmake/toolchain-aarch64.cmake), then run the unit tests and the
#                        Debian conformance suite under qemu-user with the known-failures gate
#   make clang-check     clang build that must be free of -Wall -Wextra warnings (-Werror), then unit tests
#                        and the same conformance gate
# x86 builds also honour OXRT_ISA=portable|avx2|avx512 at run time, to test the portable GEMM kernel.
CROSS_BUILD ?= build-aarch64
CLANG_BUILD ?= build-clang
AARCH64_SYSROOT ?= /usr/aarch64-linux-gnu
QEMU_AARCH64 ?= qemu-aarch64 -L $(AARCH64_SYSROOT)
CONFORMANCE_OLD := $(SUITE_OLD)/node $(SUITE_OLD)/simple $(SUITE_OLD)/pytorch-converted $(SUITE_OLD)/pytorch-operator

.PHONY: cross-aarch64 cross-aarch64-build deps-cross clang-check deps-clang clean-cross

deps-cross:
	@if ! dpkg -s cmake gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libonnx-testdata >/dev/null 2>&1; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq cmake gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
	    qemu-user libonnx-testdata >/dev/null; \
	fi

cross-aarch64-build: deps-cross
	cmake --no-warn-unused-cli -S . -B $(CROSS_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake >/dev/null
	cmake --build $(CROSS_BUILD) -j$(JOBS)

# Emulation is ~10-30x slower than native: the suite takes minutes, and a test still times out after 120 s.
cross-aarch64: cross-aarch64-build
	$(QEMU_AARCH64) ./$(CROSS_BUILD)/oxrt_unit_tests
	$(QEMU_AARCH64) ./$(CROSS_BUILD)/oxrt test --expect-failures tests/conformance/known_failures.txt $(CONFORMANCE_OLD)

deps-clang:
	@if ! dpkg -s cmake clang libonnx-testdata >/dev/null 2>&1; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq cmake clang libonnx-testdata >/dev/null; \
	fi

clang-check: deps-clang
	cmake -S . -B $(CLANG_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-Werror >/dev/null
	cmake --build $(CLANG_BUILD) -j$(JOBS)
	./$(CLANG_BUILD)/oxrt_unit_tests
	./$(CLANG_BUILD)/oxrt test --expect-failures tests/conformance/known_failures.txt $(CONFORMANCE_OLD)

clean-cross:
	rm -rf $(CROSS_BUILD) $(CLANG_BUILD)
