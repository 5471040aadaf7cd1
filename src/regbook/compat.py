"""Compatibility shims so that MXNet 1.9.1 imports on Python 3.12 with NumPy 1.26.

MXNet 1.9.1 was released for NumPy < 1.24. Two things break on newer stacks:

* NumPy 1.24 removed the alias ``numpy.bool`` that MXNet still uses; we restore it.
* Python 3.12 removed ``distutils``, which MXNet imports; an installed ``setuptools`` provides it.

Import this module before ``import mxnet`` (``import regbook`` does it for you).
"""

import sys

import numpy

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
import os as _os  # noqa: E402

_os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
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
