"""Helpers for convolab's tests: independent oracles, random problems, comparisons.

Nothing here calls convolab: the oracles are written from the definitions
(numpy.pad for the boundary extension and an explicit loop over output
positions for the sums), so that a test comparing convolab against them
compares two independent computations.

Definitions used by the oracle (per convolved axis, ``n = len(in1)``,
``k = len(in2)``):

* the *full* output has ``n + k - 1`` samples; sample ``i`` of a convolution is
  ``sum_j ext(in1)[i - j] * in2[j]``, of a correlation
  ``sum_l ext(in1)[i + l - (k - 1)] * conj(in2[l])``, where ``ext`` is in1
  extended by the boundary rule (numpy.pad with widths ``(k-1, k-1)``);
* ``same`` is ``full[start:start + n]`` with ``start = (k - 1) // 2``
  (scipy.signal.convolve / correlate / convolve2d) or ``k // 2``
  (scipy.signal.correlate2d, scipy issue #1968);
* ``valid`` is ``full[min(n, k) - 1 : max(n, k)]`` computed with zero
  extension (when in2 is the larger input this is scipy's swap of inputs);
* the output dtype is ``numpy.result_type(in1, in2)``; integers wrap modulo
  ``2**bits`` (the sums are done in int64, whose wrap-around is modular and so
  agrees with the exact result modulo any narrower width); bool gives
  ``sum != 0``.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import types

import numpy as np
import scipy.signal as _scipy_signal

#: scipy.signal's own functions, captured when the tests start (conftest imports
#: this module first), so that a plugin replacing scipy.signal's functions by
#: convolab's (tests/scipy_parity/convolab_patch.py) cannot turn a comparison
#: with scipy into a comparison of convolab with itself.
scipy_signal = types.SimpleNamespace(**{
    name: getattr(_scipy_signal, name)
    for name in ("convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d",
                 "correlate2d", "choose_conv_method", "correlation_lags")})
for _f in vars(scipy_signal).values():
    assert _f.__module__.startswith("scipy."), f"scipy.signal.{_f.__name__} is {_f.__module__}'s"

# ---------------------------------------------------------------------------
# dtype tolerance table (scipy's test tolerances)

#: (rtol, atol) per dtype; integer and bool results are compared exactly.
TOLERANCES: dict[np.dtype, tuple[float, float]] = {
    np.dtype(np.float16): (1e-3, 1e-3),
    np.dtype(np.float32): (1e-4, 1e-6),
    np.dtype(np.complex64): (1e-4, 1e-6),
    np.dtype(np.float64): (1e-5, 1e-8),
    np.dtype(np.complex128): (1e-5, 1e-8),
    np.dtype(np.longdouble): (1e-5, 1e-8),
    np.dtype(np.clongdouble): (1e-5, 1e-8),
}

NUMPY_PAD_MODE = {"fill": "constant", "wrap": "wrap", "symm": "symmetric",
                  "reflect": "reflect", "nearest": "edge"}

BOUNDARIES = ("fill", "wrap", "symm", "reflect", "nearest")
MODES = ("full", "same", "valid")
METHODS = ("direct", "im2col", "fft", "oa", "os")

ALL_DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64", "uint64", "float16",
              "float32", "float64", "longdouble", "complex64", "complex128")


def tolerance(dtype: Any) -> tuple[float, float]:
    """(rtol, atol) for results of ``dtype``; (0, 0) for exact dtypes."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return 0.0, 0.0
    return TOLERANCES[dtype]


def assert_close_dtype(actual: Any, expected: Any, dtype: Any = None, *, scale: float = 1.0,
                       check_dtype: bool = True, err_msg: str = "") -> None:
    """Compare ``actual`` with ``expected`` using the tolerance of ``dtype``.

    Integer and bool results must be equal.  For floating results ``atol`` is
    multiplied by ``max(1, scale)``, where ``scale`` bounds the magnitude of
    the sums (``max|in1| * max|in2| * taps``): rounding errors of a sum, and of
    an FFT, are relative to the size of the terms, not of the (possibly
    cancelling) result.  NaN must appear at the same places; infinities must
    match exactly.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = np.dtype(dtype if dtype is not None else expected.dtype)
    assert actual.shape == expected.shape, (
        f"shape {actual.shape} != expected {expected.shape}. {err_msg}")
    if check_dtype:
        assert actual.dtype == dtype, f"dtype {actual.dtype} != expected {dtype}. {err_msg}"
    rtol, atol = tolerance(dtype)
    if dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=err_msg)
        return
    np.testing.assert_allclose(actual.astype(np.result_type(actual.dtype, np.float64)),
                               expected.astype(np.result_type(expected.dtype, np.float64)),
                               rtol=rtol, atol=atol * max(1.0, float(scale)),
                               equal_nan=True, err_msg=err_msg)


def magnitude(in1: Any, in2: Any, fillvalue: Any = 0, axes: Any = None) -> float:
    """A bound on ``|sum|`` of one output: ``max|in1| * max|in2| * taps``."""
    a, b = np.asarray(in1), np.asarray(in2)
    if a.size == 0 or b.size == 0:
        return 0.0
    amax = max(float(np.max(np.abs(a.astype(np.complex128)))), abs(complex(fillvalue)))
    bmax = float(np.max(np.abs(b.astype(np.complex128))))
    axes_ = range(b.ndim) if axes is None else [x % b.ndim for x in np.atleast_1d(axes)]
    taps = int(np.prod([max(a.shape[x], b.shape[x]) for x in axes_]))
    return amax * bmax * taps


# ---------------------------------------------------------------------------
# random inputs

_INT_RANGES = {
    "bool": (0, 2), "int8": (-8, 9), "uint8": (0, 17), "int16": (-60, 61),
    "int32": (-1000, 1001), "int64": (-1000, 1001), "uint64": (0, 20),
}


def random_array(rng: np.random.Generator, shape: Sequence[int], dtype: Any,
                 low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Random values that suit ``dtype``: small integers, uniform floats,
    complex with random real and imaginary parts."""
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo, hi = _INT_RANGES[dtype.name]
        return rng.integers(lo, hi, size=shape).astype(dtype)
    if dtype.kind == "c":
        real = rng.uniform(low, high, size=shape)
        imag = rng.uniform(low, high, size=shape)
        return (real + 1j * imag).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


# ---------------------------------------------------------------------------
# the independent oracle


def _accumulator(dtype: np.dtype) -> np.dtype:
    if dtype.kind in "biu":
        return np.dtype(np.int64)
    if dtype in (np.longdouble, np.clongdouble) and np.dtype(np.longdouble).itemsize > 8:
        return np.dtype(np.clongdouble if dtype.kind == "c" else np.longdouble)
    return np.dtype(np.complex128 if dtype.kind == "c" else np.float64)


def _cast(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "b":
        return out != 0
    with np.errstate(all="ignore"):
        return out.astype(dtype)


def oracle_full(x: np.ndarray, w: np.ndarray, *, flip: bool, boundary: str = "fill",
                fillvalue: Any = 0) -> np.ndarray:
    """Full convolution (``flip``) or correlation of two equal-ndim arrays, every
    axis convolved, in1 extended with numpy.pad; returned in the accumulator dtype."""
    acc = _accumulator(np.result_type(x, w))
    with np.errstate(all="ignore"):
        x = np.asarray(x).astype(acc)
        w = np.asarray(w).astype(acc)
    if flip:
        wk = w[(slice(None, None, -1),) * w.ndim]
    else:
        wk = np.conj(w)
    width = [(k - 1, k - 1) for k in w.shape]
    mode = NUMPY_PAD_MODE[boundary]
    if mode == "constant":
        xp = np.pad(x, width, mode="constant", constant_values=fillvalue)
    else:
        xp = np.pad(x, width, mode=mode)
    full_shape = tuple(n + k - 1 for n, k in zip(x.shape, w.shape))
    out = np.zeros(full_shape, dtype=acc)
    with np.errstate(all="ignore"):
        for pos in itertools.product(*(range(m) for m in full_shape)):
            window = xp[tuple(slice(p, p + k) for p, k in zip(pos, w.shape))]
            out[pos] = np.sum(window * wk)
    return out


def oracle_nd(x: np.ndarray, w: np.ndarray, mode: str, *, flip: bool, boundary: str = "fill",
              fillvalue: Any = 0, same_start: str = "scipy") -> np.ndarray:
    """scipy.signal's ``mode`` applied to :func:`oracle_full` (accumulator dtype)."""
    n, k = x.shape, w.shape
    if mode == "valid":
        full = oracle_full(x, w, flip=flip)     # valid never reads the extension
        return full[tuple(slice(min(a, b) - 1, max(a, b)) for a, b in zip(n, k))]
    full = oracle_full(x, w, flip=flip, boundary=boundary, fillvalue=fillvalue)
    if mode == "full":
        return full
    starts = [(b - 1) // 2 if same_start == "scipy" else b // 2 for b in k]
    return full[tuple(slice(s, s + a) for s, a in zip(starts, n))]


def oracle(in1: Any, in2: Any, mode: str = "full", *, flip: bool, axes: Any = None,
           boundary: str = "fill", fillvalue: Any = 0, same_start: str = "scipy",
           conj_swapped_valid: bool = False, out_dtype: Any = None) -> np.ndarray:
    """scipy.signal-style convolution (``flip=True``) or correlation of N-D
    arrays, with ``axes=`` (the other axes broadcast, numpy rules, and each
    broadcast slice is convolved with its own slice of in2).

    ``conj_swapped_valid`` reproduces scipy.signal.correlate2d, whose result
    is conjugated when mode='valid' swaps the inputs.
    """
    a, b = np.asarray(in1), np.asarray(in2)
    out_dtype = np.dtype(out_dtype) if out_dtype is not None else np.result_type(a, b)
    nd = a.ndim
    conv = list(range(nd)) if axes is None else sorted({int(x) % nd for x in np.atleast_1d(axes)})
    nb = nd - len(conv)
    last = list(range(nb, nd))
    x = np.moveaxis(a, conv, last)
    w = np.moveaxis(b, conv, last)
    batch = np.broadcast_shapes(x.shape[:nb], w.shape[:nb])
    x = np.broadcast_to(x, batch + x.shape[nb:])
    w = np.broadcast_to(w, batch + w.shape[nb:])
    pieces = [oracle_nd(x[idx], w[idx], mode, flip=flip, boundary=boundary, fillvalue=fillvalue,
                        same_start=same_start) for idx in np.ndindex(*batch)]
    out = np.stack(pieces).reshape(batch + pieces[0].shape)
    out = np.moveaxis(out, last, conv)
    if conj_swapped_valid and mode == "valid" and \
            any(a.shape[c] < b.shape[c] for c in conv):
        out = np.conj(out)
    return _cast(out, out_dtype)


def footprint(nonfinite: np.ndarray, kernel_shape: Sequence[int], mode: str, *,
              boundary: str = "fill", same_start: str = "scipy") -> np.ndarray:
    """Boolean mask of the outputs whose window holds a flagged input sample.

    ``nonfinite`` is a bool mask of in1; it is extended with the same
    boundary rule (a flagged sample copied into the extension still counts),
    and summed over each window with an all-ones kernel.
    """
    counts = oracle(nonfinite.astype(np.int64), np.ones(kernel_shape, np.int64), mode,
                    flip=True, boundary=boundary, fillvalue=0, same_start=same_start)
    return counts > 0


def valid_ok(s1: Sequence[int], s2: Sequence[int]) -> bool:
    """scipy's rule: one input at least as large as the other on every axis."""
    return all(a >= b for a, b in zip(s1, s2)) or all(b >= a for a, b in zip(s1, s2))


# ---------------------------------------------------------------------------
# CNN layers (tests/test_nn_*.py)

#: torch's padding modes, and the numpy.pad mode each one means
TORCH_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
TORCH_NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                   "circular": "wrap"}


def maybe_tuple(rng, values):
    """An int when every axis agrees and a coin says so, else the tuple:
    torch accepts both spellings, so the random layers use both."""
    if len(set(values)) == 1 and rng.random() < 0.5:
        return values[0]
    return tuple(values)
