"""numpy's own BLAS matrix product, with leading dimensions and accumulation.

:func:`numpy.matmul` multiplies whole arrays into a fresh (or given) output;
it cannot add into an output.  The flattened im2col of :mod:`.im2col` needs
that: each kernel tap's matrix is the padded input read at an offset (rows
a plane apart, which BLAS reads in place), and the taps' products add into
one output.  BLAS's ``gemm`` does exactly this (``beta = 1``).

The routine is the one numpy itself calls, found by name in the BLAS
library numpy is linked against (numpy's wheels export it as
``scipy_cblas_sgemm64_`` and so on, with 64-bit integers).  Using SciPy's
BLAS instead would be simpler but slower in practice: its threads and
numpy's wait for work in a busy loop after each call, so alternating the
two libraries ran both at half speed (a 3x3 layer: 13.6 -> 26.8 ms).  When
numpy's BLAS does not export the routine (another build), :func:`routine`
returns None and the caller builds the matrix for :func:`numpy.matmul`.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

#: numpy dtype -> (routine letter, ctypes type of alpha and beta or None when
#: they are passed by address)
_TYPES = {
    np.dtype(np.float32): ("s", ctypes.c_float),
    np.dtype(np.float64): ("d", ctypes.c_double),
    np.dtype(np.complex64): ("c", None),
    np.dtype(np.complex128): ("z", None),
}

#: the names tried, in order; each takes 64-bit integer sizes
_NAMES = ("scipy_cblas_{}gemm64_", "cblas_{}gemm64_")

_ROW_MAJOR, _NO_TRANSPOSE = 101, 111


@functools.cache
def _library() -> ctypes.CDLL | None:
    try:
        from numpy._core import _multiarray_umath
        # symbols are looked up in numpy's module and the libraries it loaded
        return ctypes.CDLL(_multiarray_umath.__file__)
    except (ImportError, OSError, AttributeError):   # pragma: no cover - other numpy builds
        return None


@functools.cache
def routine(dtype: np.dtype) -> "Gemm | None":
    """numpy's BLAS ``gemm`` for ``dtype`` (float or complex), or None."""
    dtype = np.dtype(dtype)
    lib = _library()
    if dtype not in _TYPES or lib is None:
        return None
    letter, scalar = _TYPES[dtype]
    for name in _NAMES:
        try:
            function = getattr(lib, name.format(letter))
        except AttributeError:
            continue
        i64, p = ctypes.c_int64, ctypes.c_void_p
        value = scalar if scalar is not None else p
        function.restype = None
        function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64,
                             value, p, i64, p, i64, value, p, i64]
        return Gemm(function, dtype)
    return None


class Gemm:
    """``c (m x n) [+]= a (m x k) @ b (k x n)`` on row-major matrices given
    by the address of their first element and the distance between rows in
    elements (at least the row length; the rows of ``a`` and ``b`` may
    overlap).

    Examples
    --------
    >>> import numpy as np
    >>> gemm = routine(np.float64)
    >>> a, b, c = np.arange(6.0).reshape(2, 3), np.ones((3, 2)), np.zeros((2, 2))
    >>> if gemm is not None:                      # numpy's BLAS exports it
    ...     for accumulate in (False, True):
    ...         gemm(2, 2, 3, a.ctypes.data, 3, b.ctypes.data, 2, c.ctypes.data, 2, accumulate)
    ... else:
    ...     c[:] = 2 * a @ b
    >>> c
    array([[ 6.,  6.],
           [24., 24.]])
    """

    def __init__(self, function: ctypes._CFuncPtr, dtype: np.dtype):
        self._function = function
        if dtype.kind == "c":
            self._one = np.ones(1, dtype)
            self._zero = np.zeros(1, dtype)
            self._betas = (self._zero.ctypes.data, self._one.ctypes.data)
            self._alpha = self._one.ctypes.data
        else:
            self._betas, self._alpha = (0.0, 1.0), 1.0

    def __call__(self, m: int, n: int, k: int, a: int, lda: int, b: int, ldb: int,
                 c: int, ldc: int, accumulate: bool) -> None:
        self._function(_ROW_MAJOR, _NO_TRANSPOSE, _NO_TRANSPOSE, m, n, k, self._alpha,
                       a, lda, b, ldb, self._betas[accumulate], c, ldc)
