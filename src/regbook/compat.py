"""Compatibility shims so that MXNet 1.9.1 imports and trains on Python 3.11-3.13 with NumPy 1.23-2.x.

MXNet 1.9.1 was released for Python <= 3.10 and NumPy < 1.24. Its Python layer reads many NumPy names when it
is imported (``mxnet/numpy/utils.py``, ``mxnet/numpy/fallback.py``, ...), and newer stacks removed some of them:

* NumPy 1.24 removed the aliases of the builtins (``numpy.bool``, ``numpy.int``, ...); 1.20-1.23 still answer
  them with a ``DeprecationWarning``. NumPy 2.0 brings ``numpy.bool`` back as its own boolean type.
* NumPy 2.0 removed the constants ``PZERO NZERO NINF PINF NAN Inf Infinity NaN infty``, the types
  ``float_ complex_ unicode_ string_`` and the functions ``alltrue sometrue cumproduct product round_ msort
  asfarray`` (and 2.x later ``row_stack trapz in1d``); they are put back under their NumPy 2 names.
* The financial functions ``mirr npv pmt ppmt pv rate`` left NumPy in 1.20 (they live in numpy-financial);
  MXNet only reads them, so they come back as stubs that raise when called, as NumPy 1.20-1.23 answer.
* NumPy 2.0 changed the repr of its scalars (``np.int64(8)`` instead of ``8``, NEP 51). MXNet passes operator
  parameters to its C++ core as strings made with ``str()``, and the string of a tuple holds its items' reprs:
  a shape such as ``(32, np.int64(8))`` (Gluon's ``Orthogonal`` initializer computes one) is rejected with
  "Invalid Parameter format for shape". On NumPy 2 we ask NumPy for its 1.25 printing (``legacy="1.25"``),
  unless the reader chose a printing mode; numbers then print as they did on NumPy 1, as the book shows them.
* Python 3.12 removed ``distutils``, which MXNet imports; an installed ``setuptools`` provides it.

Only what the running NumPy and Python need is applied (:func:`numpy_shims` says what): a name NumPy still has
is never replaced, and a name it answers only with a deprecation warning is set to what that warning names, so
importing MXNet prints nothing. Import this module before ``import mxnet`` (``import regbook`` does it for you).
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

import builtins as _builtins  # noqa: E402
import warnings as _warnings  # noqa: E402

import numpy  # noqa: E402


def _removed_financial(name: str):
    def removed(*args, **kwargs):
        raise NotImplementedError(f"numpy.{name} was removed from NumPy in version 1.20; "
                                  f"use numpy_financial.{name} (pip install numpy-financial)")

    removed.__name__ = removed.__qualname__ = name
    return removed


def _in1d(ar1, ar2, assume_unique=False, invert=False, **kwargs):
    return numpy.isin(numpy.asarray(ar1).ravel(), ar2, assume_unique=assume_unique, invert=invert, **kwargs)


def _msort(a):
    return numpy.sort(a, axis=0)


def _asfarray(a, dtype=None):
    dtype = numpy.float64 if dtype is None or not numpy.issubdtype(dtype, numpy.inexact) else dtype
    return numpy.asarray(a, dtype=dtype)


def _replacements() -> dict[str, object]:
    """What each name MXNet 1.9.1 reads from NumPy stood for, in terms any NumPy 1.23-2.x has."""
    np_ = numpy
    trapezoid = getattr(np_, "trapezoid", None) or vars(np_).get("trapz")
    return {
        # the builtins' aliases (NumPy 1.24 removed them)
        "bool": _builtins.bool, "int": _builtins.int, "float": _builtins.float, "object": _builtins.object,
        "str": _builtins.str, "complex": _builtins.complex,
        # constants (NumPy 2.0)
        "PZERO": 0.0, "NZERO": -0.0, "NINF": -np_.inf, "PINF": np_.inf, "NAN": np_.nan, "Inf": np_.inf,
        "Infinity": np_.inf, "NaN": np_.nan, "infty": np_.inf,
        # types (NumPy 2.0)
        "float_": np_.float64, "complex_": np_.complex128, "unicode_": np_.str_, "string_": np_.bytes_,
        # functions (NumPy 2.0 and later 2.x)
        "alltrue": np_.all, "sometrue": np_.any, "cumproduct": np_.cumprod, "product": np_.prod,
        "round_": np_.round, "msort": _msort, "asfarray": _asfarray, "row_stack": np_.vstack,
        "trapz": trapezoid, "in1d": _in1d,
        # financial functions (NumPy 1.20; numpy-financial has them)
        **{name: _removed_financial(name) for name in ("mirr", "npv", "pmt", "ppmt", "pv", "rate")},
    }


def _answers_quietly(module, name: str) -> bool:
    """Whether ``module.name`` exists and reading it warns of nothing (NumPy answers removed names with an
    AttributeError, or during their deprecation with a warning, from its module ``__getattr__``)."""
    if name in vars(module):
        return True
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            getattr(module, name)
        except AttributeError:
            return False
    return not caught


def numpy_shims(module=numpy) -> dict[str, object]:
    """The names this NumPy lacks (or only answers with a warning) that MXNet 1.9.1 reads, with their values."""
    return {name: value for name, value in _replacements().items()
            if value is not None and not _answers_quietly(module, name)}


#: The names put back into this process's NumPy (on NumPy 1.23, only the deprecated ones, so MXNet imports quietly).
_shims = numpy_shims()
APPLIED_NUMPY_SHIMS: tuple[str, ...] = tuple(sorted(_shims))
for _name, _value in _shims.items():
    setattr(numpy, _name, _value)


def needs_legacy_scalar_repr(module=numpy) -> bool:
    """Whether MXNet would see NumPy 2 scalar reprs (``np.int64(8)``) in the parameters it is given: NumPy >= 2
    and the reader has not chosen a printing mode of their own."""
    major = int(module.__version__.split(".")[0])
    return major >= 2 and module.get_printoptions().get("legacy") is False


#: Whether this process's NumPy was set to print scalars as NumPy 1 did (NumPy 2 only).
LEGACY_SCALAR_REPR = needs_legacy_scalar_repr()
if LEGACY_SCALAR_REPR:
    numpy.set_printoptions(legacy="1.25")

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
# (benchmarks/epoch_speed.py --profile), with bit-identical results (tests/library/test_compat.py).
_os.environ.setdefault("MXNET_OPTIMIZER_AGGREGATION_SIZE", "1")
# Idle OpenMP threads spin by default; when other programs share the cores (or CI runs two jobs) a tiny step can
# take 100 times longer. Passive waiting costs nothing measurable when the machine is idle.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# MXNet logs a line to stderr each time it binds a graph with oneDNN's graph rewriting available (regbook.engine
# binds one per batch size); the rewriting itself, which fuses operators for prediction only, is left as it is.
_os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")


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
