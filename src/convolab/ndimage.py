"""A drop-in for ``scipy.ndimage``'s linear filters, run through convolab's planner.

scipy.ndimage filters an image "in place": the output always has the input's
shape, ``mode`` says what lies beyond the edge (it is the *boundary*, not the
output size as in scipy.signal), and ``origin`` slides the kernel's anchor.
It computes every filter with one direct loop, so a 63 x 63 kernel costs
63 x 63 multiply-adds per pixel.  This module keeps ndimage's names,
signatures, defaults, output dtypes and integer rules, and hands each
correlation to convolab's planner, which sends a large kernel through the FFT
(the convolution theorem of seed 000: O(N^2 log N) instead of O(n^2 N^2)).
The separable filters (Gaussian, uniform, Sobel, Prewitt, Laplace) run as
successive 1-D passes like ndimage's, each pass planned on its own.

Mode names.  ndimage's words mean other things in numpy and torch; each row
shows the three samples added on the left of ``1 2 3 4 5``::

    ndimage mode                 left pad | input     convolab boundary  numpy.pad
    ---------------------------  ---------+---------  -----------------  ---------
    'reflect' = 'grid-mirror'    3 2 1    | 1 2 3     'symm'             symmetric
    'mirror'                     4 3 2    | 1 2 3     'reflect'          reflect
    'nearest'                    1 1 1    | 1 2 3     'nearest'          edge
    'wrap' = 'grid-wrap'         3 4 5    | 1 2 3     'wrap'             wrap
    'constant' = 'grid-constant' c c c    | 1 2 3     'fill' (cval)      constant

The ``grid-*`` spellings differ from the plain ones only for interpolation; for
filters ndimage treats them as the plain modes, and so does this module.

Origin.  For a kernel of length ``k`` on an axis, correlation computes
``out[i] = sum_j w[j] * in[i + j - (k // 2 + origin)]``: origin 0 puts the
kernel's centre (index ``k // 2``, the right one of the two middle samples of
an even kernel) on the output sample, and a positive origin moves the kernel
towards smaller indices.  ``convolve`` reverses the kernel and the origin,
and, for an even kernel, moves it one sample more (ndimage's rule, so that
``convolve(x, w)`` equals ``correlate(x, w[::-1])`` with origin ``-origin - 1``
on that axis).  The valid origins are ``-(k // 2) <= origin <= (k - 1) // 2``.
Expressed as convolab's extension widths ``(lo, hi)`` of the input,
``lo = k // 2 + origin`` and ``hi = k - 1 - lo``: the filter is then the
'valid' correlation of the extended input, a :class:`~convolab.problem.ConvProblem`
that every algorithm can run.

Numbers, as in ndimage.  Sums are accumulated in double precision (complex
double for complex data), whatever the input dtype.  The output dtype is the
input's unless ``output`` names one (or is an array, written in place).  An
integer output truncates towards zero, as ndimage's C cast does, and the
intermediate results of multi-pass filters are stored in the output dtype, as
ndimage does, so integer results match it.  Differences, on purpose:

* before truncation, a result within rounding error of an integer counts as
  that integer, so integer outputs do not depend on the algorithm (an FFT
  gives ``4.999999999999999`` where the exact sum is 5);
* a result outside the range of an integer output wraps around modulo
  ``2**bits`` with a :class:`~convolab.errors.ConvolabWarning` (ndimage wraps
  silently, or saturates at the most negative value for results beyond the
  32-bit range);
* float16 input is filtered (ndimage raises); ``gaussian_filter1d`` with
  ``sigma=0`` returns the input (ndimage returns NaN) and a negative sigma is
  refused (``gaussian_filter`` silently skipped that axis);
* a NaN reaches exactly the outputs whose kernel window holds it, with every
  algorithm (ndimage's running-sum ``uniform_filter`` spreads it to the end
  of the line).

Errors that ndimage raises as ``RuntimeError`` (bad ``output``, mode or
sequence length) are raised here as an error that is both a
:class:`~convolab.errors.ConvolabError` and a ``RuntimeError``, so code
written for either keeps catching them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import operator
import warnings
from typing import Any, Iterable

import numpy as np

from . import engine, planner
from .algorithms import get_algorithm
from .errors import ConvolabError, ConvolabWarning, format_bytes, not_one_of, user_stacklevel
from .kernels import _gaussian_1d as gaussian_weights
from .problem import ConvProblem, from_signal

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d", "gaussian_filter",
           "gaussian_filter1d", "uniform_filter", "uniform_filter1d", "sobel", "prewitt",
           "laplace", "gaussian_laplace", "plan", "MODES"]

#: ndimage's mode names -> convolab's boundary names (see the module docstring)
MODES: dict[str, str] = {
    "reflect": "symm", "grid-mirror": "symm",
    "mirror": "reflect",
    "nearest": "nearest",
    "wrap": "wrap", "grid-wrap": "wrap",
    "constant": "fill", "grid-constant": "fill",
}


class _RuntimeConvolabError(ConvolabError, RuntimeError):
    """Raised where scipy.ndimage raises ``RuntimeError``; still a
    ConvolabError (and so a ValueError)."""


# ---------------------------------------------------------------------------
# argument normalizers (ndimage's rules, convolab's messages)


def _boundary(mode: Any) -> str:
    """ndimage's ``mode`` -> convolab's boundary name."""
    if isinstance(mode, str) and mode in MODES:
        return MODES[mode]
    raise _RuntimeConvolabError(
        f"boundary mode not supported: mode={mode!r} is not one of {list(MODES)}. "
        "In ndimage's words 'reflect' is 'c b a | a b c' and 'mirror' is 'd c b | a b c d'")


def _is_sequence(value: Any) -> bool:
    return not isinstance(value, str) and np.iterable(value)


def _normalize_sequence(value: Any, rank: int, name: str) -> list:
    """A scalar repeated ``rank`` times, or a sequence of exactly ``rank`` items."""
    if _is_sequence(value):
        items = list(value)
        if len(items) != rank:
            raise _RuntimeConvolabError(
                f"{name}={value!r}: sequence argument must have length equal to input rank "
                f"(one item per filtered axis: {rank})")
        return items
    return [value] * rank


def _check_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """``axes`` (None, an int or a sequence of ints) as non-negative axes, in the
    caller's order (ndimage pairs per-axis sequences with them in that order)."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        items = (operator.index(axes),)
    elif isinstance(axes, Iterable):
        items = tuple(operator.index(a) for a in axes)
    else:
        raise ConvolabError(f"axes={axes!r}: axes must be an integer, iterable of integers, "
                            "or None")
    for a in items:
        if not -ndim <= a < ndim:
            raise ConvolabError(f"specified axis: {a} is out of range (axes={axes!r}; the input "
                                f"has {ndim} dimensions, allowed {-ndim}..{ndim - 1})")
    items = tuple(a % ndim for a in items)
    if len(set(items)) != len(items):
        raise ConvolabError(f"axes must be unique (got axes={axes!r})")
    return items


def _axis(axis: Any, ndim: int) -> int:
    a = operator.index(axis)
    if not -ndim <= a < ndim:
        raise ConvolabError(f"axis={axis!r} is out of range for an input with {ndim} dimensions "
                            f"(allowed {-ndim}..{ndim - 1})")
    return a % ndim


def _origin(value: Any, name: str = "origin") -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}={value!r} must be an integer") from None


def _check_method(method: Any) -> str:
    if method != "auto":
        get_algorithm(method)      # unknown names raise with the list of methods
    return method


def _input(input: Any) -> np.ndarray:
    x = np.asarray(input)
    if x.dtype.kind not in "biufc":
        raise TypeError(f"input has dtype {x.dtype!r}, which cannot be filtered; "
                        "allowed: bool, integer, float and complex arrays")
    return x


def _check_cval(cval: Any, x: np.ndarray) -> None:
    if x.dtype.kind != "c" and np.iscomplexobj(cval):
        raise ConvolabError(f"cval={cval!r}: Cannot provide a complex-valued cval when the "
                            "input is real.")


# ---------------------------------------------------------------------------
# output: ndimage's ``output=`` (None, a dtype, or an array written in place)


def _output_target(output: Any, x: np.ndarray, complex_output: bool = False) -> Any:
    """ndimage's rules: an array (checked) or the dtype of a new array."""
    if output is None:
        if complex_output:
            return np.promote_types(x.dtype, np.complex64)
        return np.dtype(x.dtype.name)
    if isinstance(output, (type, np.dtype, str)):
        try:
            dtype = np.dtype(output)
        except TypeError:
            raise _RuntimeConvolabError(f"output={output!r} is not a dtype") from None
        if dtype.kind not in "biufc":
            raise _RuntimeConvolabError(f"output={output!r}: output must have numeric dtype")
        if complex_output and dtype.kind != "c":
            if isinstance(output, str):
                raise _RuntimeConvolabError(f"output={output!r}: output must have complex dtype "
                                            "(the input or the weights are complex)")
            warnings.warn("promoting specified output dtype to complex", UserWarning,
                          stacklevel=user_stacklevel())
            dtype = np.promote_types(dtype, np.complex64)
        return dtype
    out = np.asarray(output)
    if out.shape != x.shape:
        raise _RuntimeConvolabError(f"output shape not correct: output has shape {out.shape}, "
                                    f"the input {x.shape}")
    if out.dtype.kind not in "biufc":
        raise _RuntimeConvolabError(f"output has dtype {out.dtype}: output must have numeric dtype")
    if complex_output and out.dtype.kind != "c":
        raise _RuntimeConvolabError(f"output has dtype {out.dtype}: output must have complex "
                                    "dtype (the input or the weights are complex)")
    if not out.flags.writeable:
        raise ConvolabError("output is a read-only array; pass a writeable array or a dtype")
    return out


def _store(result: np.ndarray, target: Any, bound: float, label: str) -> np.ndarray:
    """Cast a double-precision result as ndimage's C code does and put it in
    ``target`` (an array, written in place and returned, or a dtype)."""
    dtype = target.dtype if isinstance(target, np.ndarray) else np.dtype(target)
    cast = _cast(result, dtype, bound, label)
    if isinstance(target, np.ndarray):
        target[...] = cast
        return target
    return cast


def _cast(result: np.ndarray, dtype: np.dtype, bound: float, label: str,
          warn: bool = True) -> np.ndarray:
    if result.dtype.kind == "c" and dtype.kind != "c":
        raise _RuntimeConvolabError(f"{label}: output must have complex dtype for a complex "
                                    f"result (got output dtype {dtype})")
    if dtype.kind in "fc" or result.dtype.kind in "biu":
        return result.astype(dtype, copy=False)     # numpy's cast, as ndimage's copies
    if dtype.kind == "b":
        # ndimage stores a bool as an unsigned byte: truncated, modulo 256, then nonzero
        return _cast(result, np.dtype(np.uint8), bound, label, warn=False) != 0
    # snap to the nearest integer what rounding error kept from it, so the result
    # does not depend on the algorithm; then truncate towards zero like C's cast
    tol = min(0.25, 256 * np.finfo(np.float64).eps * max(bound, 1.0))
    nearest = np.rint(result)
    t = np.where(np.abs(result - nearest) <= tol, nearest, np.trunc(result))
    info = np.iinfo(dtype)
    finite = np.isfinite(t)
    if finite.all() and (t.size == 0 or (t.min() >= info.min and t.max() <= info.max)):
        return t.astype(dtype)
    if t.size and warn:
        span = f"[{np.nanmin(t):.17g}, {np.nanmax(t):.17g}]" if finite.any() else "non-finite"
        warnings.warn(
            f"{label}: the result spans {span}, outside the range of {dtype} "
            f"[{info.min}, {info.max}]; it wraps around when stored as {dtype} (as in "
            f"scipy.ndimage). Pass output=np.float64 (or a wider integer dtype) to keep the values",
            ConvolabWarning, stacklevel=user_stacklevel())
    # wrap modulo 2**64 (exact in doubles: fmod is exact, and so are the shifts
    # by 2**64 into [-2**63, 2**63)), then modulo the narrower width by numpy's cast
    t = np.fmod(np.where(finite, t, 0.0), 2.0 ** 64)
    t = np.where(t >= 2.0 ** 63, t - 2.0 ** 64, t)
    t = np.where(t < -2.0 ** 63, t + 2.0 ** 64, t)
    wide = t.astype(np.int64)
    return wide.view(np.uint64) if dtype == np.uint64 else wide.astype(dtype)


def _bound(x: np.ndarray, w: np.ndarray, cval: Any, boundary: str) -> float:
    """An upper bound on ``|output|`` (sets the rounding tolerance of integer outputs)."""
    if x.size == 0:
        return 0.0
    top = float(np.max(np.abs(x)))
    if boundary == "fill":
        top = max(top, abs(complex(cval)))
    return top * float(np.sum(np.abs(w)))


# ---------------------------------------------------------------------------
# the pipeline: describe -> plan -> run


def _compute_dtype(x: np.ndarray, w: np.ndarray) -> np.dtype:
    """ndimage sums in double precision: complex128 for complex data, else float64."""
    return np.dtype(np.complex128 if "c" in (x.dtype.kind, w.dtype.kind) else np.float64)


def _describe(x: np.ndarray, w: np.ndarray, axes: tuple[int, ...], pads: dict[int, tuple[int, int]],
              boundary: str, cval: Any, flip: bool, label: str) -> ConvProblem:
    """The :class:`ConvProblem` of an ndimage filter: 'same' centring from
    :func:`~convolab.problem.from_signal`, then ndimage's origin as the
    extension widths ``pads[axis] = (lo, hi)``.

    ``w`` has ``x.ndim`` dimensions (size 1 on axes that are not filtered).
    """
    compute = _compute_dtype(x, w)
    fill = cval if boundary == "fill" else 0
    if compute.kind != "c":
        fill = float(np.real(fill))
    try:
        problem = from_signal(x, w, mode="same", flip=flip, out_dtype=compute, axes=axes,
                              boundary=boundary, fillvalue=fill, label=label)
    except ConvolabError as err:
        raise ConvolabError(f"{err} [in {label}]") from None
    return dataclasses.replace(problem, pad=tuple(pads[a] for a in problem.layout.axes))


def _execute(problem: ConvProblem, chosen: planner.Plan, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    xc, wc = problem.layout.to_core(x, w)
    out = engine.execute(problem, xc, wc, chosen.method)
    return problem.layout.from_core(out)


def _filter(x: np.ndarray, w: np.ndarray, axes: tuple[int, ...], pads: dict[int, tuple[int, int]],
            boundary: str, cval: Any, flip: bool, method: str, label: str) -> np.ndarray:
    """Run one (N-D or 1-D) filter; returns the double-precision result."""
    compute = _compute_dtype(x, w)
    if x.size == 0:
        return np.zeros(x.shape, dtype=compute)
    if x.ndim == 0:
        return (x * (w if flip else np.conj(w))).astype(compute)
    problem = _describe(x, w, axes, pads, boundary, cval, flip, label)
    chosen = planner.plan(problem, method)
    return _execute(problem, chosen, x, w)


def _pads(kernel: int, origin: int) -> tuple[int, int]:
    lo = kernel // 2 + origin
    return lo, kernel - 1 - lo


def _label(name: str, x: np.ndarray, extra: str = "") -> str:
    return f"ndimage.{name}(input {x.shape} {x.dtype}{extra})"


# ---------------------------------------------------------------------------
# 1-D correlation: the pass every separable filter is made of


def _weights_1d(weights: Any) -> np.ndarray:
    w = np.asarray(weights)
    if w.dtype.kind not in "biufc":
        raise TypeError(f"weights have dtype {w.dtype!r}; allowed: numbers")
    w = w.astype(np.complex128 if w.dtype.kind == "c" else np.float64)
    if w.ndim != 1 or w.shape[0] < 1:
        raise _RuntimeConvolabError(f"no filter weights given: weights must be a non-empty 1-D "
                                    f"sequence (got shape {w.shape})")
    return w


def _pass1d(x: np.ndarray, w: np.ndarray, axis: int, target: Any, mode: Any, cval: Any,
            origin: int, flip: bool, method: str, name: str, divide: float = 1.0) -> np.ndarray:
    """One 1-D pass along ``axis`` stored in ``target`` (ndimage's correlate1d
    and convolve1d; ``flip`` makes it a convolution).  ``divide`` scales the
    sum (the uniform filter divides the plain sum, as ndimage does)."""
    boundary = _boundary(mode)
    k = w.shape[0]
    if flip:
        # ndimage: reverse the kernel and the origin; an even kernel moves one more
        origin = -origin - (1 if k % 2 == 0 else 0)
    if not -(k // 2) <= origin <= (k - 1) // 2:
        raise ConvolabError(f"Invalid origin; origin must satisfy -(len(weights) // 2) <= origin "
                            f"<= (len(weights)-1) // 2 (got origin={origin} for {k} weights"
                            f"{', after reversal for convolution' if flip else ''})")
    shape = [1] * x.ndim
    shape[axis] = k
    wk = w.reshape(shape)
    label = _label(name, x, f", {k} weights along axis {axis}, mode={mode!r}")
    result = _filter(x, wk, (axis,), {axis: _pads(k, origin)}, boundary, cval, flip, method, label)
    if divide != 1.0:
        result /= divide
    dtype = target.dtype if isinstance(target, np.ndarray) else np.dtype(target)
    bound = _bound(x, w, cval, boundary) / divide if dtype.kind in "biu" else 0.0
    return _store(result, target, bound, label)


def _correlate1d(input: Any, weights: Any, axis: Any, output: Any, mode: Any, cval: Any,
                 origin: Any, method: str, flip: bool, name: str) -> np.ndarray:
    x = _input(input)
    w = _weights_1d(weights)
    _check_cval(cval, x)
    method = _check_method(method)
    complex_output = x.dtype.kind == "c" or w.dtype.kind == "c"
    target = _output_target(output, x, complex_output)
    if x.ndim == 0:
        raise ConvolabError(f"ndimage.{name}: the input is 0-dimensional; it needs an axis to filter")
    axis = _axis(axis, x.ndim)
    return _pass1d(x, w, axis, target, mode, cval, _origin(origin), flip, method, name)


def correlate1d(input: Any, weights: Any, axis: int = -1, output: Any = None,
                mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
                method: str = "auto") -> np.ndarray:
    """Correlate the lines of ``input`` along ``axis`` with ``weights`` (``scipy.ndimage.correlate1d``).

    ``out[i] = sum_j weights[j] * in[i + j - (len(weights) // 2 + origin)]``
    along the axis, the input extended beyond its edges by ``mode``.
    Complex weights are conjugated (as :func:`numpy.correlate` does).

    Parameters
    ----------
    input : array_like
        The array to filter (bool, integer, float or complex).
    weights : array_like
        1-D sequence of numbers.
    axis : int, optional
        The axis along which to filter (default: the last).
    output : array or dtype, optional
        The output dtype, or an array of the input's shape to write into
        (it may be the input itself).  Default: the input's dtype.
    mode : str, optional
        The extension beyond the edges: 'reflect' (default), 'mirror',
        'nearest', 'wrap', 'constant', or the aliases 'grid-mirror',
        'grid-wrap', 'grid-constant' (see the table in :mod:`convolab.ndimage`).
    cval : scalar, optional
        The value beyond the edges for ``mode='constant'``.
    origin : int, optional
        Moves the kernel's anchor: ``-(len(weights) // 2) <= origin <= (len(weights) - 1) // 2``.
    method : str, optional, keyword-only
        ``'auto'`` (the planner) or a convolab algorithm (``'direct'``, ``'fft'``...).

    Returns
    -------
    ndarray
        The correlation, with the input's shape.

    Examples
    --------
    >>> from convolab.ndimage import correlate1d
    >>> correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    >>> correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3], mode='constant')
    array([ 6, 26,  8, 12,  7, 28, 36,  9])
    """
    return _correlate1d(input, weights, axis, output, mode, cval, origin, method, False,
                        "correlate1d")


def convolve1d(input: Any, weights: Any, axis: int = -1, output: Any = None,
               mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
               method: str = "auto") -> np.ndarray:
    """Convolve the lines of ``input`` along ``axis`` with ``weights`` (``scipy.ndimage.convolve1d``).

    The correlation of :func:`correlate1d` with the weights reversed (and,
    as in ndimage, the origin negated and, for an even number of weights,
    moved by one).  Parameters are those of :func:`correlate1d`.

    Examples
    --------
    >>> from convolab.ndimage import convolve1d
    >>> convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    return _correlate1d(input, weights, axis, output, mode, cval, origin, method, True,
                        "convolve1d")


# ---------------------------------------------------------------------------
# N-D correlation


def _nd_weights(weights: Any) -> np.ndarray:
    w = np.asarray(weights)
    if w.dtype.kind not in "biufc":
        raise TypeError(f"weights have dtype {w.dtype!r}; allowed: numbers")
    return w.astype(np.complex128 if w.dtype.kind == "c" else np.float64)


def _nd_layout(x: np.ndarray, w: np.ndarray, axes: Any, origin: Any, flip: bool
               ) -> tuple[np.ndarray, dict[int, tuple[int, int]], tuple[int, ...]]:
    """ndimage's rules for an N-D kernel: the weights with one dimension per
    input axis, the extension ``(lo, hi)`` of every axis, and the axes that are
    convolved (those where the kernel has more than one tap)."""
    axes = _check_axes(axes, x.ndim)
    if len(axes) < x.ndim:
        if w.ndim != len(axes):
            raise _RuntimeConvolabError(f"weights.ndim ({w.ndim}) must match len(axes) ({len(axes)})")
        # the weights' dimensions go to the filtered axes in increasing order (ndimage's rule)
        w = np.expand_dims(w, tuple(a for a in range(x.ndim) if a not in axes))
    origins = [0] * x.ndim
    for o, a in zip(_normalize_sequence(origin, len(axes), "origin"), axes):
        origins[a] = _origin(o)
    wshape = [s for s in w.shape if s > 0]
    if len(wshape) != x.ndim:
        raise _RuntimeConvolabError(f"weights.ndim ({len(wshape)}) must match len(axes) ({len(axes)})")
    pads = {}
    for a in range(x.ndim):
        k, o = w.shape[a], origins[a]
        if flip:
            o = -o - (1 if k % 2 == 0 else 0)
        if not -(k // 2) <= o <= (k - 1) // 2:
            raise ConvolabError(
                "Invalid origin; origin must satisfy -(weights.shape[k] // 2) <= origin[k] <= "
                f"(weights.shape[k]-1) // 2 (got origin={origin!r}, weights {w.shape}"
                f"{', after reversal for convolution' if flip else ''})")
        pads[a] = _pads(k, o)
    # axes where the kernel has one tap are not convolved: they are batch axes
    conv_axes = tuple(a for a in range(x.ndim) if w.shape[a] != 1) or (max(x.ndim - 1, 0),)
    return w, pads, conv_axes


def _correlate_nd(input: Any, weights: Any, output: Any, mode: Any, cval: Any, origin: Any,
                  axes: Any, method: str, flip: bool, name: str) -> np.ndarray:
    x = _input(input)
    w = _nd_weights(weights)
    _check_cval(cval, x)
    method = _check_method(method)
    complex_output = x.dtype.kind == "c" or w.dtype.kind == "c"
    w, pads, conv_axes = _nd_layout(x, w, axes, origin, flip)
    if _is_sequence(mode):
        raise _RuntimeConvolabError(f"mode={mode!r}: A sequence of modes is not supported by "
                                    f"{name}; the separable filters take one mode per axis")
    boundary = _boundary(mode)
    target = _output_target(output, x, complex_output)
    label = _label(name, x, f", weights {w.shape}, mode={mode!r}")
    result = _filter(x, w, conv_axes, pads, boundary, cval, flip, method, label)
    dtype = target.dtype if isinstance(target, np.ndarray) else np.dtype(target)
    bound = _bound(x, w, cval, boundary) if dtype.kind in "biu" else 0.0
    return _store(result, target, bound, label)


def correlate(input: Any, weights: Any, output: Any = None, mode: str = "reflect",
              cval: float = 0.0, origin: Any = 0, *, axes: Any = None,
              method: str = "auto") -> np.ndarray:
    """Multidimensional correlation (``scipy.ndimage.correlate``).

    ``out[i] = sum_j weights[j] * in[i + j - (weights.shape // 2 + origin)]``
    (per axis), the input extended by ``mode``; the output has the input's
    shape.  Complex weights are conjugated.  The planner picks the algorithm:
    a large kernel goes through the FFT (see :func:`plan`).

    Parameters
    ----------
    input : array_like
        The array to filter.
    weights : array_like
        The kernel, with one dimension per filtered axis.
    output : array or dtype, optional
        The output dtype, or an array to write into (default: the input's dtype).
    mode : str, optional
        One extension for every axis (see the table in :mod:`convolab.ndimage`).
    cval : scalar, optional
        The value beyond the edges for ``mode='constant'``.
    origin : int or sequence of int, optional
        The anchor shift, per filtered axis.
    axes : int or tuple of int, optional, keyword-only
        The axes to filter (default all); the weights' dimensions go to them
        in increasing axis order, ``origin`` items in the order given.
    method : str, optional, keyword-only
        ``'auto'`` (the planner) or a convolab algorithm.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import correlate
    >>> a = np.arange(25).reshape(5, 5)
    >>> k = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    >>> correlate(a, k)
    array([[  6,  10,  15,  20,  24],
           [ 26,  30,  35,  40,  44],
           [ 51,  55,  60,  65,  69],
           [ 76,  80,  85,  90,  94],
           [ 96, 100, 105, 110, 114]])
    """
    return _correlate_nd(input, weights, output, mode, cval, origin, axes, method, False,
                         "correlate")


def convolve(input: Any, weights: Any, output: Any = None, mode: str = "reflect",
             cval: float = 0.0, origin: Any = 0, *, axes: Any = None,
             method: str = "auto") -> np.ndarray:
    """Multidimensional convolution (``scipy.ndimage.convolve``).

    :func:`correlate` with the kernel reversed on every axis (and, as in
    ndimage, the origin negated and moved one sample more on axes where the
    kernel has an even length).  Parameters are those of :func:`correlate`.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import convolve
    >>> a = np.array([[1, 2, 0, 0], [5, 3, 0, 4], [0, 0, 0, 7], [9, 3, 0, 0]])
    >>> k = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    >>> convolve(a, k, mode='constant', cval=0.0)
    array([[11, 10,  7,  4],
           [10,  3, 11, 11],
           [15, 12, 14,  7],
           [12,  3,  7,  0]])
    """
    return _correlate_nd(input, weights, output, mode, cval, origin, axes, method, True,
                         "convolve")


# ---------------------------------------------------------------------------
# Gaussian filters


def _gaussian_kernel1d(sigma: float, order: int, radius: int) -> np.ndarray:
    """The kernel a convolution with the Gaussian (derivative) applies, as
    ``scipy.ndimage._filters._gaussian_kernel1d`` returns it: the correlation
    weights of :mod:`convolab.kernels`, reversed."""
    if order < 0:
        raise ConvolabError(f"order={order!r}: order must be non-negative")
    return gaussian_weights(sigma, order, radius)[::-1].copy()


def _check_taps(taps: int, what: str) -> None:
    """Refuse a 1-D kernel whose mere construction would not fit in memory."""
    need = 4 * 8 * taps            # the kernel and a few temporaries of its size
    available = planner.available_memory()
    if need > available:
        raise ConvolabError(f"{what} makes a kernel of {taps} taps, which would need "
                            f"{format_bytes(need)} but {format_bytes(available)} is available")


def _gaussian_radius(sigma: float, truncate: Any, radius: Any) -> int:
    lw = int(truncate * sigma + 0.5) if radius is None else radius
    if not isinstance(lw, numbers.Integral) or lw < 0:
        raise ConvolabError(f"radius={lw!r}: Radius must be a nonnegative integer.")
    _check_taps(2 * int(lw) + 1, f"sigma={sigma!r}, truncate={truncate!r}, radius={radius!r}")
    return int(lw)


def _sigma(sigma: Any) -> float:
    s = float(sigma)
    if not (math.isfinite(s) and s >= 0):
        raise ConvolabError(f"sigma={sigma!r} must be a finite number >= 0")
    return s


def _gaussian1d_into(x: np.ndarray, sigma: float, axis: int, order: Any, target: Any, mode: Any,
                     cval: Any, truncate: Any, radius: Any, method: str, name: str) -> np.ndarray:
    order = operator.index(order)
    if order < 0:
        raise ConvolabError(f"order={order!r}: order must be non-negative")
    lw = _gaussian_radius(sigma, truncate, radius)
    if sigma == 0:
        if order:
            raise ConvolabError(f"sigma=0 with order={order}: the derivative of a Gaussian of "
                                "width 0 is not defined")
        _boundary(mode)
        return _store(x, target, 0.0, name)
    # the correlation weights of a convolution with the Gaussian (derivative)
    w = gaussian_weights(sigma, order, lw)
    return _pass1d(x, w, axis, target, mode, cval, 0, False, method, name)


def gaussian_filter1d(input: Any, sigma: float, axis: int = -1, order: int = 0,
                      output: Any = None, mode: str = "reflect", cval: float = 0.0,
                      truncate: float = 4.0, *, radius: Any = None,
                      method: str = "auto") -> np.ndarray:
    """1-D Gaussian filter (``scipy.ndimage.gaussian_filter1d``).

    Convolution along ``axis`` with the sampled Gaussian of standard deviation
    ``sigma`` (normalized to sum 1), or with its ``order``-th derivative.
    The kernel has ``2 * radius + 1`` taps, ``radius = int(truncate * sigma + 0.5)``
    unless ``radius`` is given.

    Parameters
    ----------
    input : array_like
        The array to filter.
    sigma : scalar
        Standard deviation of the Gaussian (0 returns the input).
    axis, output, mode, cval :
        As in :func:`correlate1d`.
    order : int, optional
        0: smoothing; n > 0: convolution with the n-th derivative of the Gaussian.
    truncate : float, optional
        Cut the kernel at this many standard deviations (default 4.0).
    radius : int, optional, keyword-only
        The kernel's radius; overrides ``truncate``.
    method : str, optional, keyword-only
        ``'auto'`` (the planner) or a convolab algorithm.

    Examples
    --------
    >>> from convolab.ndimage import gaussian_filter1d
    >>> gaussian_filter1d([1.0, 2.0, 3.0, 4.0, 5.0], 1).round(8)
    array([1.42704095, 2.06782203, 3.        , 3.93217797, 4.57295905])
    """
    x = _input(input)
    _check_cval(cval, x)
    method = _check_method(method)
    target = _output_target(output, x)
    if x.ndim == 0:
        raise ConvolabError("ndimage.gaussian_filter1d: the input is 0-dimensional; "
                            "it needs an axis to filter")
    return _gaussian1d_into(x, _sigma(sigma), _axis(axis, x.ndim), order, target, mode, cval,
                            truncate, radius, method, "gaussian_filter1d")


def gaussian_filter(input: Any, sigma: Any, order: Any = 0, output: Any = None,
                    mode: Any = "reflect", cval: float = 0.0, truncate: float = 4.0, *,
                    radius: Any = None, axes: Any = None, method: str = "auto") -> np.ndarray:
    """Multidimensional Gaussian filter (``scipy.ndimage.gaussian_filter``).

    One :func:`gaussian_filter1d` pass per axis, each stored in the output
    dtype before the next (as in ndimage: an integer output truncates between
    passes).  ``sigma``, ``order``, ``mode`` and ``radius`` may be sequences,
    one item per filtered axis; axes with ``sigma`` 0 are left as they are.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import gaussian_filter
    >>> a = np.arange(50, step=2).reshape((5, 5))
    >>> gaussian_filter(a, sigma=1)
    array([[ 4,  6,  8,  9, 11],
           [10, 12, 14, 15, 17],
           [20, 22, 24, 25, 27],
           [29, 31, 33, 34, 36],
           [35, 37, 39, 40, 42]])

    The Gaussian semigroup: sigma 3 then 4 is sigma 5 (up to the truncation):

    >>> x = np.zeros(201); x[100] = 1
    >>> twice = gaussian_filter(gaussian_filter(x, 3.0, truncate=8), 4.0, truncate=8)
    >>> bool(np.allclose(twice, gaussian_filter(x, 5.0, truncate=8), atol=1e-9))
    True
    """
    x = _input(input)
    _check_cval(cval, x)
    method = _check_method(method)
    target = _output_target(output, x)
    axes = _check_axes(axes, x.ndim)
    n = len(axes)
    orders = _normalize_sequence(order, n, "order")
    sigmas = [_sigma(s) for s in _normalize_sequence(sigma, n, "sigma")]
    modes = _normalize_sequence(mode, n, "mode")
    radii = _normalize_sequence(radius, n, "radius")
    for m in modes:
        _boundary(m)
    passes = [(a, s, o, m, r) for a, s, o, m, r in zip(axes, sigmas, orders, modes, radii)
              if s > 1e-15]
    if not passes:
        return _store(x, target, 0.0, "ndimage.gaussian_filter")
    current: Any = x
    for axis, s, o, m, r in passes:
        current = _gaussian1d_into(np.asarray(current), s, axis, o, target, m, cval, truncate, r,
                                   method, "gaussian_filter")
    return current


# ---------------------------------------------------------------------------
# uniform (box) filters


def _uniform1d_into(x: np.ndarray, size: int, axis: int, target: Any, mode: Any, cval: Any,
                    origin: Any, method: str, name: str) -> np.ndarray:
    if size < 1:
        raise _RuntimeConvolabError(f"size={size!r}: incorrect filter size (must be >= 1)")
    _check_taps(size, f"size={size!r}")
    origin = _origin(origin)
    if not 0 <= size // 2 + origin < size:
        raise ConvolabError(f"invalid origin: origin={origin} for size={size} "
                            f"(allowed {-(size // 2)}..{(size - 1) // 2})")
    # the plain sum divided by the size, as ndimage computes it (exact for integers)
    return _pass1d(x, np.ones(size), axis, target, mode, cval, origin, False, method, name,
                   divide=float(size))


def uniform_filter1d(input: Any, size: int, axis: int = -1, output: Any = None,
                     mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
                     method: str = "auto") -> np.ndarray:
    """1-D uniform (moving average) filter (``scipy.ndimage.uniform_filter1d``).

    The mean of ``size`` consecutive samples along ``axis``: the sum is taken
    first and divided by ``size`` (so integer averages truncate as ndimage's).

    Examples
    --------
    >>> from convolab.ndimage import uniform_filter1d
    >>> uniform_filter1d([2, 8, 0, 4, 1, 9, 9, 0], size=3)
    array([4, 3, 4, 1, 4, 6, 6, 3])
    """
    x = _input(input)
    _check_cval(cval, x)
    method = _check_method(method)
    target = _output_target(output, x, x.dtype.kind == "c")
    if x.ndim == 0:
        raise ConvolabError("ndimage.uniform_filter1d: the input is 0-dimensional; "
                            "it needs an axis to filter")
    return _uniform1d_into(x, operator.index(size), _axis(axis, x.ndim), target, mode, cval,
                           origin, method, "uniform_filter1d")


def uniform_filter(input: Any, size: Any = 3, output: Any = None, mode: Any = "reflect",
                   cval: float = 0.0, origin: Any = 0, *, axes: Any = None,
                   method: str = "auto") -> np.ndarray:
    """Multidimensional uniform filter (``scipy.ndimage.uniform_filter``).

    One :func:`uniform_filter1d` pass per axis with ``size > 1``, each stored
    in the output dtype before the next.  ``size``, ``origin`` and ``mode``
    may be sequences, one item per filtered axis.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import uniform_filter
    >>> uniform_filter(np.array([[4., 8, 12], [16, 20, 24]]), [2, 2])
    array([[ 4.,  6., 10.],
           [10., 12., 16.]])
    """
    x = _input(input)
    _check_cval(cval, x)
    method = _check_method(method)
    target = _output_target(output, x, x.dtype.kind == "c")
    axes = _check_axes(axes, x.ndim)
    n = len(axes)
    sizes = _normalize_sequence(size, n, "size")
    origins = _normalize_sequence(origin, n, "origin")
    modes = _normalize_sequence(mode, n, "mode")
    for m in modes:
        _boundary(m)
    passes = [(a, int(s), o, m) for a, s, o, m in zip(axes, sizes, origins, modes) if s > 1]
    if not passes:
        return _store(x, target, 0.0, "ndimage.uniform_filter")
    current: Any = x
    for axis, s, o, m in passes:
        current = _uniform1d_into(np.asarray(current), s, axis, target, m, cval, o, method,
                                  "uniform_filter")
    return current


# ---------------------------------------------------------------------------
# derivative filters


def _gradient(name: str, smooth: list[float], input: Any, axis: Any, output: Any, mode: Any,
              cval: Any, method: str) -> np.ndarray:
    """Sobel and Prewitt: the difference [-1, 0, 1] along ``axis``, then the
    smoothing kernel along every other axis, each pass stored in the output."""
    x = _input(input)
    _check_cval(cval, x)
    method = _check_method(method)
    if x.ndim == 0:
        raise ConvolabError(f"ndimage.{name}: the input is 0-dimensional; it needs an axis")
    axis = _axis(axis, x.ndim)
    target = _output_target(output, x)
    modes = _normalize_sequence(mode, x.ndim, "mode")
    for m in modes:
        _boundary(m)
    current = _pass1d(x, np.array([-1.0, 0.0, 1.0]), axis, target, modes[axis], cval, 0, False,
                      method, name)
    for other in range(x.ndim):
        if other != axis:
            current = _pass1d(np.asarray(current), np.array(smooth), other, target, modes[other],
                              cval, 0, False, method, name)
    return current


def sobel(input: Any, axis: int = -1, output: Any = None, mode: Any = "reflect",
          cval: float = 0.0, *, method: str = "auto") -> np.ndarray:
    """Sobel filter: the derivative along ``axis`` (``scipy.ndimage.sobel``).

    Correlation with ``[-1, 0, 1]`` along ``axis`` and with ``[1, 2, 1]``
    along every other axis, one pass each, stored in the output dtype (an
    unsigned output wraps the negative gradients, as in ndimage: pass
    ``output=np.int16`` or a float dtype to keep them).  ``mode`` may be one
    mode per axis.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import sobel
    >>> a = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]])
    >>> sobel(a, axis=1)
    array([[0, 4, 4, 0],
           [0, 4, 4, 0],
           [0, 4, 4, 0]])
    """
    return _gradient("sobel", [1.0, 2.0, 1.0], input, axis, output, mode, cval, method)


def prewitt(input: Any, axis: int = -1, output: Any = None, mode: Any = "reflect",
            cval: float = 0.0, *, method: str = "auto") -> np.ndarray:
    """Prewitt filter: the derivative along ``axis`` (``scipy.ndimage.prewitt``).

    As :func:`sobel` with the smoothing kernel ``[1, 1, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import prewitt
    >>> a = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]])
    >>> prewitt(a, axis=1)
    array([[0, 3, 3, 0],
           [0, 3, 3, 0],
           [0, 3, 3, 0]])
    """
    return _gradient("prewitt", [1.0, 1.0, 1.0], input, axis, output, mode, cval, method)


def _sum_of_second_derivatives(x: np.ndarray, target: Any, axes: tuple[int, ...], modes: list,
                               derivative2) -> np.ndarray:
    """ndimage's generic_laplace: the first axis' derivative in the output, each
    further axis' derivative computed in the output dtype and added to it."""
    out = derivative2(x, axes[0], target, modes[0])
    for axis, m in zip(axes[1:], modes[1:]):
        out += derivative2(x, axis, out.dtype, m)
    return out


def laplace(input: Any, output: Any = None, mode: Any = "reflect", cval: float = 0.0, *,
            axes: Any = None, method: str = "auto") -> np.ndarray:
    """Laplace filter from second differences (``scipy.ndimage.laplace``).

    The sum over the filtered axes of the correlation with ``[1, -2, 1]``
    along that axis; each term is stored in the output dtype, then added.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import laplace
    >>> a = np.zeros((5, 5)); a[2, 2] = 1
    >>> laplace(a, mode='constant')[1:4, 1:4]
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    x = _input(input)
    _check_cval(cval, x)
    method = _check_method(method)
    target = _output_target(output, x)
    axes = _check_axes(axes, x.ndim)
    if not axes:
        return _store(x, target, 0.0, "ndimage.laplace")
    modes = _normalize_sequence(mode, len(axes), "mode")
    for m in modes:
        _boundary(m)
    second = np.array([1.0, -2.0, 1.0])

    def derivative2(data, axis, into, m):
        return _pass1d(data, second, axis, into, m, cval, 0, False, method, "laplace")

    return _sum_of_second_derivatives(x, target, axes, modes, derivative2)


def gaussian_laplace(input: Any, sigma: Any, output: Any = None, mode: Any = "reflect",
                     cval: float = 0.0, *, axes: Any = None, method: str = "auto",
                     **kwargs: Any) -> np.ndarray:
    """Laplace filter with Gaussian second derivatives (``scipy.ndimage.gaussian_laplace``).

    The sum over the filtered axes of :func:`gaussian_filter` with order 2
    on that axis and 0 on the others (every filtered axis smoothed by its
    ``sigma``), each term stored in the output dtype.  Extra keywords
    (``truncate``, ``radius``) go to :func:`gaussian_filter`.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.ndimage import gaussian_laplace
    >>> a = np.zeros((9, 9)); a[4, 4] = 1
    >>> np.round(gaussian_laplace(a, sigma=1.0)[3:6, 3:6], 4) + 0.0
    array([[ 0.    , -0.0965,  0.    ],
           [-0.0965, -0.3183, -0.0965],
           [ 0.    , -0.0965,  0.    ]])
    """
    x = _input(input)
    _check_cval(cval, x)
    method = _check_method(method)
    target = _output_target(output, x)
    axes = _check_axes(axes, x.ndim)
    if not axes:
        return _store(x, target, 0.0, "ndimage.gaussian_laplace")
    sigmas = [0.0] * x.ndim
    for s, a in zip(_normalize_sequence(sigma, len(axes), "sigma"), axes):
        sigmas[a] = s
    modes = _normalize_sequence(mode, len(axes), "mode")
    for m in modes:
        _boundary(m)

    def derivative2(data, axis, into, m):
        order = [0] * data.ndim
        order[axis] = 2
        # one mode for every axis of this term, as ndimage does
        return gaussian_filter(data, sigmas, order, into, m, cval, method=method, **kwargs)

    return _sum_of_second_derivatives(x, target, axes, modes, derivative2)


# ---------------------------------------------------------------------------
# planning


def plan(input: Any, weights: Any, mode: str = "reflect", cval: float = 0.0, origin: Any = 0, *,
         axes: Any = None, op: str = "correlate", method: str = "auto") -> planner.Plan:
    """The plan :func:`correlate` (``op='correlate'``) or :func:`convolve` would run.

    Only the input's shape and dtype matter (``numpy.zeros`` will do); the
    weights' values do too, since a separable (low-rank) kernel can be run
    as 1-D passes.  ``print(plan)`` explains the choice; calling the plan
    with an input and weights of the planned shapes and dtypes runs it
    (returning :func:`correlate`'s or :func:`convolve`'s result).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab import ndimage
    >>> kernel = np.random.default_rng(0).random((63, 63))
    >>> p = ndimage.plan(np.zeros((512, 512)), kernel)
    >>> p.method
    'os'
    >>> ndimage.plan(np.zeros((512, 512)), kernel[:3, :3]).method in ('direct', 'winograd')
    True
    """
    if op not in ("correlate", "convolve"):
        raise not_one_of("op", op, ["correlate", "convolve"])
    flip = op == "convolve"
    x = _input(input)
    w = np.asarray(weights)
    if x.size == 0 or x.ndim == 0 or w.size == 0:
        raise ConvolabError(f"plan: input {x.shape} and weights {w.shape} must be non-empty "
                            "arrays with at least one dimension")
    _check_cval(cval, x)
    method = _check_method(method)
    w, pads, conv_axes = _nd_layout(x, _nd_weights(w), axes, origin, flip)
    label = _label(op, x, f", weights {w.shape}, mode={mode!r}")
    problem = _describe(x, w, conv_axes, pads, _boundary(mode), cval, flip, label)
    chosen = planner.plan(problem, method)
    shapes = (x.shape, x.dtype, np.asarray(weights).shape)
    function = convolve if flip else correlate

    def run(in1: Any, in2: Any, bound: planner.Plan, *, workers: Any = None) -> np.ndarray:
        a, b = np.asarray(in1), np.asarray(in2)
        if (a.shape, a.dtype, b.shape) != shapes:
            raise ConvolabError(f"this plan was made for input {shapes[0]} {shapes[1]} and "
                                f"weights {shapes[2]}; got {a.shape} {a.dtype} and {b.shape}")
        return function(a, b, None, mode, cval, origin, axes=axes, method=bound.method)

    return dataclasses.replace(chosen, runner=run)
