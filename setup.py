"""Declare emseq's Cython extensions; everything else lives in pyproject.toml.

Every ``emseq/**/_*.pyx`` is an extension module. One set of Cython directives applies to all
of them; ``EMSEQ_BOUNDSCHECK=1`` turns bounds/wraparound/initialisation checks back on for
debugging. Extensions that cimport numpy.random link numpy's static ``libnpyrandom`` (its C
distributions). Extensions that cimport pysam are compiled against pysam's headers and linked to its
bundled htslib without an rpath (see ../shared/MEASURED.md): ``emseq`` imports pysam before
importing such an extension so the already-loaded library satisfies the dependency.
``EMSEQ_ONLY=name1,name2`` builds only the modules whose dotted name contains one of the
given substrings (handy while developing one engine).
"""

import glob
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG_CHECKS = os.environ.get("EMSEQ_BOUNDSCHECK", "0") == "1"
COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG_CHECKS,
    "wraparound": DEBUG_CHECKS,
    "initializedcheck": DEBUG_CHECKS,
    "cdivision": True,
    "embedsignature": True,
}
if sys.platform == "darwin":
    OPENMP_COMPILE, OPENMP_LINK = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
else:
    OPENMP_COMPILE, OPENMP_LINK = ["-fopenmp"], ["-fopenmp"]
# -fno-math-errno lets gcc vectorise exp/log calls; no -ffast-math (NaN handling must stay exact).
EXTRA_COMPILE = ["-O3", "-fno-math-errno", *OPENMP_COMPILE]


def _pysam_build_options():
    import pysam

    pysam_dir = os.path.dirname(pysam.__file__)
    htslib = glob.glob(os.path.join(pysam_dir, "libchtslib*.so"))
    if not htslib:
        raise RuntimeError(f"pysam at {pysam_dir} has no bundled libchtslib*.so to link against")
    return {
        "include_dirs": list(pysam.get_include()),
        "define_macros": list(pysam.get_defines()),
        "library_dirs": [pysam_dir],
        "extra_link_args": ["-l:" + os.path.basename(htslib[0])],
    }


def _extensions():
    only = [s for s in os.environ.get("EMSEQ_ONLY", "").split(",") if s]
    extensions = []
    for source in sorted(glob.glob("emseq/**/_*.pyx", recursive=True)):
        name = source[:-4].replace(os.sep, ".")
        if only and not any(s in name for s in only):
            continue
        options = {"include_dirs": [numpy.get_include()], "define_macros": [], "library_dirs": [],
                   "extra_link_args": list(OPENMP_LINK)}
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        if "pysam" in text:
            for key, value in _pysam_build_options().items():
                options[key] = options[key] + value
        if "numpy.random" in text:  # numpy's C distributions: its static libnpyrandom
            options["library_dirs"].append(os.path.join(os.path.dirname(numpy.__file__),
                                                        "random", "lib"))
            options["libraries"] = ["npyrandom"]
        options["define_macros"].append(("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"))
        extensions.append(Extension(name, [source], extra_compile_args=list(EXTRA_COMPILE), **options))
    return extensions


setup(
    ext_modules=cythonize(
        _extensions(),
        compiler_directives=COMPILER_DIRECTIVES,
        nthreads=int(os.environ.get("EMSEQ_CYTHON_JOBS", "0")) or None,
    ),
)
