"""Builds the inowatch Python package for pip:

    pip install --no-build-isolation .

The C extension inowatch._inowatch compiles the module's sources
(python/src) together with the library's (src/lib); the pure-Python half is
python/inowatch. `make` builds the same thing with CMake into build/python.
Metadata is in pyproject.toml.
"""

import glob
import os
import sys

from setuptools import Extension, setup

if not sys.platform.startswith("linux"):
    sys.exit("inowatch needs Linux (inotify)")

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)  # setuptools wants source paths relative to this directory

extension = Extension(
    "inowatch._inowatch",
    sources=sorted(glob.glob("python/src/*.c")) + sorted(glob.glob("src/lib/*.c")),
    depends=sorted(glob.glob("include/*.h") + glob.glob("src/lib/*.h") + glob.glob("python/src/*.h")),
    include_dirs=["include", "src/lib", "python/src"],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra"],
    extra_link_args=["-Wl,--version-script=python/src/exports.map"],
)

setup(
    ext_modules=[extension],
    packages=["inowatch"],
    package_dir={"inowatch": "python/inowatch"},
    package_data={"inowatch": ["py.typed", "*.pyi"]},
    # Not build/: that is CMake's (make) build directory.
    options={"build": {"build_base": "build-setuptools"}, "egg_info": {"egg_base": "build-setuptools"}},
)
