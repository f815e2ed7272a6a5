"""Build the oxrt Python package: CMake builds liboxrt.a (position independent),
then the extension python/oxrt/_oxrt.c is linked against it, so the installed
module is self-contained (no shared liboxrt to install).

    pip install .                 # from the repository root
    pip wheel . -w dist/          # a wheel

Environment: OXRT_PREBUILT_STATIC_LIB (link this liboxrt.a instead of building one), OXRT_CMAKE (cmake program), OXRT_BUILD_JOBS (parallel jobs),
OXRT_CMAKE_ARGS (extra arguments for the CMake configure step), OXRT_PY_BUILD_BASE (setuptools' build folder, default
build-py: a second build of another flavour, as the test command's ASan one, needs its own, or setuptools would
reuse the first one's module).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(ROOT, "include", "oxrt.h"), encoding="utf-8") as f:
        m = re.search(r'#define\s+OXRT_VERSION\s+"([^"]+)"', f.read())
    return m.group(1) if m else "0.0.0"


class CMakeBuildExt(build_ext):
    """build_ext that first builds the static C library with CMake."""

    def run(self):
        lib = self.build_static_library()
        for ext in self.extensions:
            ext.extra_objects = [lib]
            ext.depends = list(ext.depends) + [lib]
        super().run()

    def build_static_library(self):
        prebuilt = os.environ.get("OXRT_PREBUILT_STATIC_LIB")
        if prebuilt:  # a liboxrt.a from the repository's own CMake build (PIC), as `make test` uses
            if not os.path.exists(prebuilt):
                sys.exit(f"oxrt: OXRT_PREBUILT_STATIC_LIB={prebuilt} does not exist")
            return prebuilt
        cmake = os.environ.get("OXRT_CMAKE") or shutil.which("cmake")
        if not cmake:
            sys.exit("oxrt: building the Python package needs CMake >= 3.16 (apt-get install cmake)")
        build_dir = os.path.join(os.path.abspath(self.build_temp), "liboxrt")
        os.makedirs(build_dir, exist_ok=True)
        configure = [
            cmake, "-S", ROOT, "-B", build_dir,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_POSITION_INDEPENDENT_CODE=ON",
            "-DOXRT_BUILD_TOOLS=OFF",
            "-DOXRT_BUILD_TESTS=OFF",
        ] + shlex.split(os.environ.get("OXRT_CMAKE_ARGS", ""))
        jobs = os.environ.get("OXRT_BUILD_JOBS") or str(os.cpu_count() or 2)
        subprocess.check_call(configure)
        subprocess.check_call([cmake, "--build", build_dir, "--target", "oxrt_static", "-j", jobs])
        lib = os.path.join(build_dir, "liboxrt.a")
        if not os.path.exists(lib):
            sys.exit(f"oxrt: CMake did not produce {lib}")
        return lib


extension = Extension(
    "oxrt._oxrt",
    sources=["python/oxrt/_oxrt.c"],
    include_dirs=[os.path.join("include")],
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra"],
    # Keep liboxrt's symbols private to the module; link its dependencies.
    extra_link_args=["-Wl,--exclude-libs,ALL", "-pthread"],
    libraries=["m"],
    depends=["include/oxrt.h"],
)

setup(
    version=read_version(),
    ext_modules=[extension],
    cmdclass={"build_ext": CMakeBuildExt},
    # Not "build/": that folder is the C build of the repository.
    options={"build": {"build_base": os.environ.get("OXRT_PY_BUILD_BASE") or "build-py"}},
    zip_safe=False,
)
