"""Compatibility shims so that MXNet 1.9.1 imports on Python 3.12 with NumPy 1.26.

MXNet 1.9.1 was released for NumPy < 1.24. Two things break on newer stacks:

* NumPy 1.24 removed the alias ``numpy.bool`` that MXNet still uses; we restore it.
* Python 3.12 removed ``distutils``, which MXNet imports; an installed ``setuptools`` provides it.

Import this module before ``import mxnet`` (``import regbook`` does it for you).
"""

import os as _os
import platform as _platform
import sys


def _cpu_flags() -> set[str]:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_coretype() -> str | None:
    """The OpenBLAS kernel family to request, or None to leave OpenBLAS's own choice alone.

    The OpenBLAS builds inside the MXNet 1.9.1 and NumPy wheels do not recognise recent Xeon models (such as
    the CI machine's) and fall back to generic SSE kernels: matrix products run 3-5 times slower than the CPU
    allows (measured by benchmarks/epoch_speed.py). On an x86-64 CPU with AVX2 and FMA we ask for the Haswell
    kernels, which every such CPU runs; elsewhere (ARM, older x86) nothing changes.
    """
    if _platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    return "Haswell" if {"avx2", "fma"} <= _cpu_flags() else None


# OpenBLAS reads OPENBLAS_CORETYPE when the library is loaded (by NumPy and again by MXNet), so this runs
# before either is imported. A value the reader set wins.
if "OPENBLAS_CORETYPE" not in _os.environ and (_coretype := openblas_coretype()):
    _os.environ["OPENBLAS_CORETYPE"] = _coretype

import numpy  # noqa: E402

if "bool" not in vars(numpy):  # (hasattr would trigger NumPy 1.26's FutureWarning)
    numpy.bool = bool  # type: ignore[attr-defined]

if sys.version_info >= (3, 12):
    try:
        import setuptools  # noqa: F401  (installs the distutils shim MXNet needs)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "MXNet 1.9.1 imports distutils, which Python 3.12 removed. "
            "Install setuptools (pip install setuptools) and try again."
        ) from exc

# MXNet's default threaded engine schedules every small operator on worker threads; on a 2-core laptop
# that scheduling costs more than it saves for the book's small networks (measured by
# benchmarks/epoch_speed.py). The synchronous engine is faster here and makes runs more reproducible.
# An explicit MXNET_ENGINE_TYPE set by the reader wins.
_os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
# Gluon's optimizers update up to four parameters per kernel call by default (multi_sgd_update); on this CPU one
# parameter per call takes 0.24 s per epoch of the dropout chapter's MLP instead of 0.39 s
# (benchmarks/epoch_speed.py --profile), with bit-identical results (tests/test_compat.py).
_os.environ.setdefault("MXNET_OPTIMIZER_AGGREGATION_SIZE", "1")
# Idle OpenMP threads spin by default; when other programs share the cores (or CI runs two jobs) a tiny step can
# take 100 times longer. Passive waiting costs nothing measurable when the machine is idle.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _import_mxnet_quietly() -> None:
    """Import MXNet with its C++ start-up notice ("MXNet start using engine ...") kept off stderr.

    The notice is printed at file-descriptor level, so notebooks would show it at random places and nbval
    would compare it. Only the C++ stream of the import is silenced; Python errors propagate as usual.
    """
    if "mxnet" in sys.modules:
        return
    try:
        saved = _os.dup(2)
    except OSError:  # pragma: no cover - no stderr descriptor
        import mxnet  # noqa: F401

        return
    devnull = _os.open(_os.devnull, _os.O_WRONLY)
    try:
        sys.stderr.flush()
        _os.dup2(devnull, 2)
        import mxnet

        mxnet.nd.waitall()  # creates the engine, which is when the notice is printed
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(devnull)


_import_mxnet_quietly()
