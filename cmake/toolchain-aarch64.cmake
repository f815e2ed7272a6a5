# Cross-compile oxrt for 64-bit ARM Linux (aarch64) with Debian's cross toolchain:
#   apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# The binaries run under user-mode emulation: qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/oxrt ...
# (CROSS_PREFIX / CROSS_SYSROOT override the tool prefix and the target root.)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT DEFINED CROSS_PREFIX)
  set(CROSS_PREFIX aarch64-linux-gnu-)
endif()
if(NOT DEFINED CROSS_SYSROOT)
  set(CROSS_SYSROOT /usr/aarch64-linux-gnu)
endif()
set(CMAKE_C_COMPILER ${CROSS_PREFIX}gcc)
set(CMAKE_AR ${CROSS_PREFIX}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${CROSS_PREFIX}ranlib CACHE FILEPATH "")
set(CMAKE_STRIP ${CROSS_PREFIX}strip CACHE FILEPATH "")

# Libraries and headers come from the target root only; programs from the host.
set(CMAKE_FIND_ROOT_PATH ${CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# try_run and test commands go through the emulator.
find_program(OXRT_QEMU_AARCH64 qemu-aarch64)
if(OXRT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${OXRT_QEMU_AARCH64};-L;${CROSS_SYSROOT})
endif()
