"""A drop-in for ``scipy.signal``'s convolution functions, on every algorithm.

Same names, positional arguments, defaults, output dtypes, ``same`` centring,
``valid`` input swap and error phrases as scipy.signal.  Additions are
keyword-only and available on every function:

``axes=``
    the axes to convolve; the others broadcast (fftconvolve's rule).
``boundary=``, ``fillvalue=``
    edge extension for every function, N-D included (table in
    :mod:`convolab.boundary`); ``mode`` stays the output size.
``method=``
    ``'auto'`` (the planner), ``'direct'``, ``'im2col'``, ``'fft'``, ``'oa'``, ``'os'`` or
    ``'reference'``.
``nan_policy=``
    ``'propagate'`` (default): a NaN spreads over exactly the outputs whose
    window holds it, whatever the algorithm; ``'raise'``; ``'omit'``:
    normalized convolution (astropy's NaN interpolation), with the companions
    ``mask=``, ``normalize_kernel=`` and ``preserve_nan=``
    (:mod:`convolab.masked`).
``workers=``
    threads for the FFT methods (default every core; negative counts as in
    :mod:`scipy.fft`).

Differences from scipy.signal, on purpose:

* NaN and infinity give the direct method's result with every method
  (scipy's FFT path turns the whole output into NaN and warns).
* Integer results that wrap around when cast back to the input dtype give a
  :class:`~convolab.errors.ConvolabWarning` (scipy wraps silently).
* With ``axes=``, ``same`` keeps the broadcast size on the other axes
  (scipy #21876 crops them to ``in1``'s size).
* ``convolve2d``/``correlate2d`` refuse empty inputs with a clear error
  (scipy returns arrays of inconsistent shapes); the N-D functions return
  ``array([])`` as scipy does.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import numpy as np

from . import engine, masked, planner, repeated
from .chunked import is_dask_array
from .algorithms import FAMILY
from .errors import ConvolabError, format_bytes
from .problem import ConvProblem, as_int, check_mode, from_signal

__all__ = ["convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d", "correlate2d",
           "choose_conv_method", "correlation_lags", "plan"]


# ---------------------------------------------------------------------------
# the shared pipeline: describe -> plan -> run


def _describe(name: str, in1: np.ndarray, in2: np.ndarray, mode: str, *, flip: bool,
              out_dtype: np.dtype, axes: Any, boundary: Any, fillvalue: Any, nan_policy: Any,
              same_rule: str = "scipy", broadcast_length_one: bool = False) -> ConvProblem:
    label = (f"{name}(in1 {in1.shape} {_dtype_name(in1.dtype)}, in2 {in2.shape} "
             f"{_dtype_name(in2.dtype)}, mode={mode!r})")
    try:
        return from_signal(in1, in2, mode=mode, flip=flip, out_dtype=out_dtype, axes=axes,
                           boundary=boundary, fillvalue=fillvalue, nan_policy=nan_policy,
                           same_rule=same_rule, broadcast_length_one=broadcast_length_one,
                           label=label)
    except ConvolabError as err:
        raise ConvolabError(f"{err} [in {label}]") from None


@functools.lru_cache(maxsize=64)
def _dtype_name(dtype: np.dtype) -> str:
    return str(dtype)


def _run(problem: ConvProblem, in1: np.ndarray, in2: np.ndarray, method: str,
         workers: Any = None) -> np.ndarray:
    chosen = planner.plan(problem, method)
    return _execute(in1, in2, chosen, workers=workers)


def _execute(in1: np.ndarray, in2: np.ndarray, chosen: planner.Plan, *, workers: Any = None,
             kernel_cache: dict | None = None) -> np.ndarray:
    problem = chosen.problem
    x, w = problem.layout.to_core(in1, in2)
    out = engine.execute(problem, x, w, chosen.method, workers=_check_workers(workers),
                         kernel_cache=kernel_cache)
    return problem.layout.from_core(out)


def _check_workers(workers: Any) -> int | None:
    """``workers``: None (every core), a positive count, or negative as in
    scipy.fft (-1: every core, -2: all but one...)."""
    if workers is None:
        return None
    n = as_int(workers, "workers")
    if n == 0:
        raise ConvolabError("workers=0 is not allowed: use a positive count, or -1 for every core")
    return n


def _arrays(in1: Any, in2: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(in1), np.asarray(in2)
    for name, arr in (("in1", a), ("in2", b)):
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"{name} has dtype {arr.dtype!r}, which convolab cannot convolve; "
                            "allowed: bool, integer, float and complex arrays")
    return a, b


def _check_method(method: Any) -> str:
    from .algorithms import ALGORITHMS
    if not isinstance(method, str) or (method != "auto" and method not in ALGORITHMS):
        raise ConvolabError("Acceptable method flags are 'auto', 'direct', 'im2col', 'fft', "
                            f"'oa', 'os', 'separable', 'winograd' or 'reference' (got method={method!r})")
    return method


def _check_ndim(in1: np.ndarray, in2: np.ndarray) -> None:
    if in1.ndim != in2.ndim:
        raise ConvolabError("in1 and in2 should have the same dimensionality "
                            f"(in1 has {in1.ndim} dimensions {in1.shape}, in2 has {in2.ndim} {in2.shape})")


def _fft_dtype(in1: np.ndarray, in2: np.ndarray) -> np.dtype:
    """fftconvolve's output dtype: integers become float64, float16 float32
    (the rule nan_policy='omit' shares)."""
    return masked.omit_dtype(in1.dtype, in2.dtype)


#: "the caller did not make the call's key" (None is a key's value: no key)
_UNKEYED = object()


def _nd(name: str, in1: Any, in2: Any, mode: str, method: str, *, flip: bool, axes: Any,
        boundary: Any, fillvalue: Any, nan_policy: Any, fft_family: bool = False,
        workers: Any = None, omit: dict | None = None, call_key: Any = _UNKEYED) -> np.ndarray:
    """The N-D pipeline; ``call_key``: the call's key when the caller made it
    already (:func:`_repeat`), else _UNKEYED."""
    if omit:
        # fftconvolve's broadcast of length-1 axes would skip the extension, which
        # the mask's weights see; it changes output shapes in 'valid' mode only
        broadcast = fft_family and mode == "valid"

        def conv(a: np.ndarray, b: np.ndarray, fill: Any) -> np.ndarray:
            return _nd(name, a, b, mode, method, flip=flip, axes=axes, boundary=boundary,
                       fillvalue=fill, nan_policy="propagate", fft_family=broadcast,
                       workers=workers)
        return masked.run_omit(conv, in1, in2, mode=mode, flip=flip, axes=axes,
                               boundary=boundary, fillvalue=fillvalue,
                               broadcast_length_one=broadcast, **omit)
    key = call_key
    if key is _UNKEYED:
        key = _call_key((name, flip, fft_family), in1, in2, mode, method, axes, boundary, fillvalue,
                        nan_policy)
    if key is not None:
        call = repeated.recent(key)
        if call is not None:
            if not call.prepared:
                repeated.prepare(call, in2)
            # (a caller that made the key has tried the shortcut already)
            if call.shortcut is not None and workers is None and call_key is _UNKEYED:
                out = call.shortcut(in1)
                if out is not None:
                    return out
            return _execute(in1, in2, call.plan, workers=workers, kernel_cache=call.spectra)
    in1, in2 = _arrays(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * (np.conj(in2) if not flip else in2)
    _check_ndim(in1, in2)
    check_mode(mode)
    method = _check_method(method)
    if in1.size == 0 or in2.size == 0:
        return np.array([])
    out_dtype = _fft_dtype(in1, in2) if fft_family else np.result_type(in1, in2)
    problem = _describe(name, in1, in2, mode, flip=flip, out_dtype=out_dtype, axes=axes,
                        boundary=boundary, fillvalue=fillvalue, nan_policy=nan_policy,
                        broadcast_length_one=fft_family)
    if fft_family and problem.ndim == 0:
        # every axis broadcasts: scipy multiplies without a transform and keeps the dtype
        problem = _describe(name, in1, in2, mode, flip=flip, out_dtype=np.result_type(in1, in2),
                            axes=axes, boundary=boundary, fillvalue=fillvalue,
                            nan_policy=nan_policy, broadcast_length_one=True)
    chosen = planner.plan(problem, method)
    if key is not None and (problem.kernel_rank == 0 or key[-1] is not None):
        # the problem depends on shapes, dtypes and arguments, and on the
        # kernel's values only through its rank, which the key holds for
        # small kernels: later calls like this one reuse it
        repeated.remember(key, chosen)
    return _execute(in1, in2, chosen, workers=workers)


def _repeat(name: tuple, in1: Any, in2: Any, mode: Any, method: Any, axes: Any, boundary: Any,
            fillvalue: Any, nan_policy: Any, workers: Any, mask: Any, normalize_kernel: Any,
            preserve_nan: Any) -> tuple[np.ndarray | None, Any]:
    """A repeated call's shortcut, before any other work (the small calls
    it serves take a few microseconds): its output, or None to take the full
    path; and the call's key, which the full path reuses (_UNKEYED when
    workers= or an option of nan_policy='omit' is given: no shortcut then)."""
    if workers is not None or mask is not None or normalize_kernel is not None \
            or preserve_nan is not None:
        return None, _UNKEYED
    key = _call_key(name, in1, in2, mode, method, axes, boundary, fillvalue, nan_policy)
    call = repeated.recent(key) if key is not None else None
    if call is None or call.shortcut is None:
        return None, key
    return call.shortcut(in1), key


def _chunked(name: str, args: tuple, kwargs: dict, **extras: Any) -> Any:
    """Dask input: the chunked version of ``name`` (a lazy Dask array)."""
    given = [key for key, value in extras.items() if value is not None]
    if given:
        raise ConvolabError(f"{name}: {', '.join(f'{k}=' for k in given)} not supported for Dask "
                            "arrays; use nan_policy='omit' without them, or compute in memory")
    from . import chunked
    return chunked.forward(name, *args, **kwargs)


#: os.environ's own mapping, kept in step with it: reading the memory limit
#: from it directly takes a tenth of os.environ.get's microsecond, on every call
_ENVIRON_DATA = getattr(os.environ, "_data", None)
_MEMORY_LIMIT_KEY = os.environ.encodekey("CONVOLAB_MEMORY_LIMIT") if _ENVIRON_DATA is not None else None


def _memory_limit_setting() -> Any:
    """``CONVOLAB_MEMORY_LIMIT`` as set now (part of every call's key)."""
    if _ENVIRON_DATA is None:
        return os.environ.get("CONVOLAB_MEMORY_LIMIT")
    return _ENVIRON_DATA.get(_MEMORY_LIMIT_KEY)


def _call_key(name: tuple, in1: Any, in2: Any, mode: Any, method: Any, axes: Any, boundary: Any,
              fillvalue: Any, nan_policy: Any) -> tuple | None:
    """What decides a call's plan: shapes, dtypes and arguments, for float
    and complex arrays (integer problems carry a bound on the values), and a
    small kernel's values (its rank decides whether 1-D passes pay; the last
    item, None for kernels over 4096 taps).  None: no key."""
    if type(in1) is not np.ndarray or type(in2) is not np.ndarray:
        return None
    if in1.dtype.kind not in "fc" or in2.dtype.kind not in "fc":
        return None
    if type(axes) is list:
        axes = tuple(axes)
    kernel = in2.tobytes() if in2.size <= 4096 else None
    key = (name, mode, method, in1.shape, in1.dtype, in2.shape, in2.dtype, axes, boundary,
           fillvalue, nan_policy, _memory_limit_setting(), kernel)
    try:
        hash(key)
    except TypeError:
        return None
    return key


# ---------------------------------------------------------------------------
# N-D functions

_MODE_DOC = """mode : {'full', 'valid', 'same'}, optional
        Output size. ``full``: the full linear convolution (default).
        ``valid``: only outputs that do not depend on the extension; in2 may
        be the larger input, then the roles swap (as in scipy).  ``same``:
        the size of in1, centred on the full output: it starts at
        ``(len(in2) - 1) // 2`` of the full output on each axis."""


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto", *, axes: Any = None,
             boundary: str = "fill", fillvalue: Any = 0, nan_policy: str = "propagate",
             mask: Any = None, normalize_kernel: Any = None, preserve_nan: Any = None,
             workers: Any = None) -> np.ndarray:
    """Convolve two N-dimensional arrays (``scipy.signal.convolve``).

    ``out[n] = sum_k in1[k] * in2[n - k]``: the kernel is reversed as it
    slides.  That reversal is the only difference from :func:`correlate`, and
    it makes convolution commutative and associative.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs with the same number of dimensions.
    mode : {'full', 'valid', 'same'}, optional
        Output size. ``full``: the full linear convolution (default).
        ``valid``: only outputs that do not depend on the extension; in2 may be
        the larger input, then the roles swap (as in scipy).  ``same``: the
        size of in1, centred on the full output (it starts at
        ``(len(in2) - 1) // 2`` of the full output on each axis).
    method : str, optional
        ``'auto'`` lets the planner choose (see :func:`convolab.plan`);
        ``'direct'``, ``'im2col'``, ``'fft'``, ``'oa'``, ``'os'`` or ``'reference'`` force
        an algorithm.  An algorithm that cannot run the problem raises
        with its reason.
    axes : int or sequence of int, optional, keyword-only
        Axes to convolve (default all); other axes broadcast.
    boundary : str, optional, keyword-only
        Extension beyond the edges of in1: ``'fill'`` (default, with
        ``fillvalue``), ``'wrap'``, ``'symm'``, ``'reflect'``, ``'nearest'``;
        see :mod:`convolab.boundary`.
    fillvalue : scalar, optional, keyword-only
        Value for ``boundary='fill'``.
    nan_policy : {'propagate', 'raise', 'omit'}, optional, keyword-only
        ``'propagate'``: NaN reaches exactly the outputs whose window holds it,
        whatever the method.  ``'raise'``: raise if an input holds NaN.
        ``'omit'``: normalized convolution, astropy's NaN interpolation: each
        output is the kernel-weighted average of the valid samples of in1 in
        its window (see :mod:`convolab.masked`); the result is floating
        (integers give float64) and NaN where no valid sample meets a
        nonzero tap.
    mask : array_like of bool, optional, keyword-only
        ``nan_policy='omit'`` only: True where in1 is missing (as NaN is);
        broadcast to in1's shape.
    normalize_kernel : bool, optional, keyword-only
        ``nan_policy='omit'`` only: True (default) gives the weighted
        average; False multiplies it by the kernel's sum, so that with
        nothing missing the result is the plain convolution.
    preserve_nan : bool, optional, keyword-only
        ``nan_policy='omit'`` only: put NaN back at the missing samples of
        in1 (``mode='same'``; default False).
    workers : int, optional, keyword-only
        Threads for the FFT methods (default: every core).

    Returns
    -------
    ndarray
        dtype ``numpy.result_type(in1, in2)``, as scipy.  Integer inputs are
        summed in 64 bits; a :class:`~convolab.ConvolabWarning` says when the
        result wraps around in the input dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab import convolve
    >>> convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> convolve([1, 2, 3], [0, 1, 0.5], mode='same')
    array([1. , 2.5, 4. ])

    Boundaries in N-D, any width:

    >>> convolve(np.arange(5), [1, 1, 1], mode='same', boundary='wrap')
    array([5, 3, 6, 9, 7])

    NaN left out of the average (astropy's ``nan_treatment='interpolate'``):

    >>> convolve([1, np.nan, 3, 4, 5], [1, 1, 1], mode='same', nan_policy='omit')
    array([0.5, 2. , 3.5, 4. , 3. ])
    """
    out, key = _repeat(("convolve", True, False), in1, in2, mode, method, axes, boundary, fillvalue,
                       nan_policy, workers, mask, normalize_kernel, preserve_nan)
    if out is not None:
        return out
    if is_dask_array(in1) or is_dask_array(in2):
        return _chunked("convolve", (in1, in2, mode, method),
                        dict(axes=axes, boundary=boundary, fillvalue=fillvalue,
                             nan_policy=nan_policy, workers=workers),
                        mask=mask, normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
    return _nd("convolve", in1, in2, mode, method, flip=True, axes=axes, boundary=boundary,
               fillvalue=fillvalue, nan_policy=nan_policy, workers=workers,
               omit=masked.check_extras(nan_policy, mask, normalize_kernel, preserve_nan),
               call_key=key)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto", *, axes: Any = None,
              boundary: str = "fill", fillvalue: Any = 0, nan_policy: str = "propagate",
              mask: Any = None, normalize_kernel: Any = None, preserve_nan: Any = None,
              workers: Any = None) -> np.ndarray:
    """Cross-correlate two N-dimensional arrays (``scipy.signal.correlate``).

    ``out[k] = sum_l in1[l + k] * conj(in2[l])``: the kernel slides without
    being reversed, which is what a CNN layer computes.  Complex ``in2`` is
    conjugated, as in scipy.  Correlation is not commutative:
    ``correlate(a, b)`` is ``correlate(b, a)`` reversed and conjugated.

    Parameters are those of :func:`convolve`.

    Examples
    --------
    >>> from convolab import correlate, convolve
    >>> correlate([1, 2, 3], [0, 1, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    >>> convolve([1, 2, 3], [0.5, 1, 0])      # the same: in2 reversed
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    out, key = _repeat(("correlate", False, False), in1, in2, mode, method, axes, boundary, fillvalue,
                       nan_policy, workers, mask, normalize_kernel, preserve_nan)
    if out is not None:
        return out
    if is_dask_array(in1) or is_dask_array(in2):
        return _chunked("correlate", (in1, in2, mode, method),
                        dict(axes=axes, boundary=boundary, fillvalue=fillvalue,
                             nan_policy=nan_policy, workers=workers),
                        mask=mask, normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
    return _nd("correlate", in1, in2, mode, method, flip=False, axes=axes, boundary=boundary,
               fillvalue=fillvalue, nan_policy=nan_policy, workers=workers,
               omit=masked.check_extras(nan_policy, mask, normalize_kernel, preserve_nan),
               call_key=key)


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None, *,
                boundary: str = "fill", fillvalue: Any = 0,
                nan_policy: str = "propagate", mask: Any = None,
                normalize_kernel: Any = None, preserve_nan: Any = None,
                workers: Any = None) -> np.ndarray:
    """Convolve two N-dimensional arrays by FFT (``scipy.signal.fftconvolve``).

    Always the FFT algorithm (the convolution theorem); integers give
    float64, float16 gives float32, as in scipy.  Axes where either input
    has length 1 broadcast instead of being transformed (scipy's rule).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab import fftconvolve
    >>> np.round(fftconvolve([1, 2, 3], [1, 1]), 12)
    array([1., 3., 5., 3.])
    """
    out, key = _repeat(("fftconvolve", True, True), in1, in2, mode, "fft", axes, boundary, fillvalue,
                       nan_policy, workers, mask, normalize_kernel, preserve_nan)
    if out is not None:
        return out
    if is_dask_array(in1) or is_dask_array(in2):
        return _chunked("fftconvolve", (in1, in2, mode, axes),
                        dict(boundary=boundary, fillvalue=fillvalue, nan_policy=nan_policy,
                             workers=workers),
                        mask=mask, normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
    return _nd("fftconvolve", in1, in2, mode, "fft", flip=True, axes=axes, boundary=boundary,
               fillvalue=fillvalue, nan_policy=nan_policy, fft_family=True, workers=workers,
               omit=masked.check_extras(nan_policy, mask, normalize_kernel, preserve_nan),
               call_key=key)


def oaconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None, *,
               boundary: str = "fill", fillvalue: Any = 0,
               nan_policy: str = "propagate", mask: Any = None,
               normalize_kernel: Any = None, preserve_nan: Any = None,
               workers: Any = None) -> np.ndarray:
    """Convolve two N-dimensional arrays by overlap-add (``scipy.signal.oaconvolve``).

    The input is cut into blocks, each block convolved by FFT and the
    overlapping results added; best for a long input and a short kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab import oaconvolve
    >>> np.round(oaconvolve(np.arange(6.0), [1, 1], mode='valid'), 12)
    array([1., 3., 5., 7., 9.])
    """
    if is_dask_array(in1) or is_dask_array(in2):
        return _chunked("oaconvolve", (in1, in2, mode, axes),
                        dict(boundary=boundary, fillvalue=fillvalue, nan_policy=nan_policy,
                             workers=workers),
                        mask=mask, normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
    return _nd("oaconvolve", in1, in2, mode, "oa", flip=True, axes=axes, boundary=boundary,
               fillvalue=fillvalue, nan_policy=nan_policy, fft_family=True, workers=workers,
               omit=masked.check_extras(nan_policy, mask, normalize_kernel, preserve_nan))


# ---------------------------------------------------------------------------
# 2-D functions


def _two_d(name: str, in1: Any, in2: Any, mode: str, boundary: Any, fillvalue: Any, *,
           flip: bool, method: str, axes: Any, nan_policy: str, workers: Any = None,
           omit: dict | None = None) -> np.ndarray:
    if omit:
        def conv(a: np.ndarray, b: np.ndarray, fill: Any) -> np.ndarray:
            return _two_d(name, a, b, mode, boundary, fill, flip=flip, method=method, axes=axes,
                          nan_policy="propagate", workers=workers)
        return masked.run_omit(conv, in1, in2, mode=mode, flip=flip, axes=axes,
                               boundary=boundary, fillvalue=fillvalue, **omit)
    in1, in2 = _arrays(in1, in2)
    if axes is None:
        if not in1.ndim == in2.ndim == 2:
            raise ConvolabError(f"{name} inputs must both be 2-D arrays "
                                f"(got in1 {in1.shape}, in2 {in2.shape}); "
                                "pass axes=(i, j) to convolve two axes of N-D arrays")
    else:
        _check_ndim(in1, in2)
        if len(np.atleast_1d(axes)) != 2:
            raise ConvolabError(f"{name}: axes={axes!r} must name exactly two axes")
    if in1.size == 0 or in2.size == 0:
        raise ConvolabError(f"{name}: empty input (in1 {in1.shape}, in2 {in2.shape}); "
                            "both inputs need at least one element")
    check_mode(mode)
    method = _check_method(method)
    # correlate2d centres an even kernel one sample earlier than correlate in
    # 'same' mode (scipy #1968); convolve2d agrees with convolve.
    same_rule = "correlate2d" if not flip else "scipy"
    problem = _describe(name, in1, in2, mode, flip=flip, out_dtype=np.result_type(in1, in2),
                        axes=axes, boundary=boundary, fillvalue=fillvalue, nan_policy=nan_policy,
                        same_rule=same_rule)
    out = _run(problem, in1, in2, method, workers)
    if not flip and mode == "valid" and out.dtype.kind == "c" \
            and any(in1.shape[a] < in2.shape[a] for a in problem.layout.axes):
        # scipy's correlate2d swaps the inputs without conjugating back
        out = np.conj(out)
    return out


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0,
               *, method: str = "auto", axes: Any = None,
               nan_policy: str = "propagate", mask: Any = None,
               normalize_kernel: Any = None, preserve_nan: Any = None,
               workers: Any = None) -> np.ndarray:
    """Convolve two 2-D arrays (``scipy.signal.convolve2d``).

    Parameters are scipy's; ``boundary`` is ``'fill'``, ``'wrap'``, ``'symm'``
    (scipy's names, with their aliases) or convolab's ``'reflect'`` and
    ``'nearest'``.  Keyword-only: ``method``, ``nan_policy`` (with ``mask``,
    ``normalize_kernel`` and ``preserve_nan`` for ``'omit'``, as in
    :func:`convolve`) and ``axes`` (two axes of N-D arrays, the others
    broadcast).

    Examples
    --------
    Seed 001's worked example:

    >>> from convolab import convolve2d
    >>> A = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
    >>> B = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    >>> convolve2d(A, B, 'valid')
    array([[4, 3, 4],
           [2, 4, 3],
           [2, 3, 4]])
    """
    if is_dask_array(in1) or is_dask_array(in2):
        return _chunked("convolve2d", (in1, in2, mode, boundary, fillvalue),
                        dict(method=method, axes=axes, nan_policy=nan_policy,
                             workers=workers),
                        mask=mask, normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
    return _two_d("convolve2d", in1, in2, mode, boundary, fillvalue, flip=True,
                  method=method, axes=axes, nan_policy=nan_policy, workers=workers,
                  omit=masked.check_extras(nan_policy, mask, normalize_kernel, preserve_nan))


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0,
                *, method: str = "auto", axes: Any = None,
                nan_policy: str = "propagate", mask: Any = None,
                normalize_kernel: Any = None, preserve_nan: Any = None,
                workers: Any = None) -> np.ndarray:
    """Cross-correlate two 2-D arrays (``scipy.signal.correlate2d``).

    Note (scipy's own behaviour, kept for compatibility): in ``same`` mode an
    even-sized kernel is centred at ``(k - 1) // 2``, one sample earlier than
    :func:`correlate` centres it (scipy issue #1968).  In ``valid`` mode with
    a larger ``in2`` and complex data the result is conjugated relative to
    :func:`correlate`, as scipy's is.

    Examples
    --------
    >>> from convolab import correlate2d
    >>> correlate2d([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2], [3, 4]], 'same')
    array([[4, 3, 0],
           [2, 1, 0],
           [0, 0, 0]])
    """
    if is_dask_array(in1) or is_dask_array(in2):
        return _chunked("correlate2d", (in1, in2, mode, boundary, fillvalue),
                        dict(method=method, axes=axes, nan_policy=nan_policy,
                             workers=workers),
                        mask=mask, normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
    return _two_d("correlate2d", in1, in2, mode, boundary, fillvalue, flip=False,
                  method=method, axes=axes, nan_policy=nan_policy, workers=workers,
                  omit=masked.check_extras(nan_policy, mask, normalize_kernel, preserve_nan))


# ---------------------------------------------------------------------------
# planning


def plan(in1: Any, in2: Any, mode: str = "full", *, op: str = "convolve", method: str = "auto",
         axes: Any = None, boundary: str = "fill", fillvalue: Any = 0,
         nan_policy: str = "propagate", measure: bool = False) -> planner.Plan:
    """Plan a convolution (``op='convolve'``) or correlation without running it.

    ``in1`` and ``in2`` may be arrays or, to plan for shapes alone,
    ``numpy.empty`` arrays of the right shape and dtype.  The returned
    :class:`~convolab.planner.Plan` prints as an explanation and runs
    the computation when called with the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> import convolab
    >>> p = convolab.plan(np.zeros((512, 512)), np.zeros((31, 31)), mode='same')
    >>> p.method
    'os'
    >>> print(p)                                   # doctest: +ELLIPSIS
    convolab plan for convolve(in1 (512, 512) float64, in2 (31, 31) float64, mode='same')
    ...
      choice: os (least estimated time)
    >>> out = p(np.ones((512, 512)), np.ones((31, 31)) / 961)
    >>> float(out[256, 256])
    1.0
    """
    if op not in ("convolve", "correlate"):
        raise ConvolabError(f"op={op!r} is not one of ['convolve', 'correlate']")
    if nan_policy == "omit":
        raise ConvolabError("plan(nan_policy='omit'): normalized convolution runs several "
                            "convolutions (data and mask); plan the convolution with "
                            "nan_policy='propagate': 'omit' uses that plan for each of them")
    in1, in2 = _arrays(in1, in2)
    _check_ndim(in1, in2)
    if in1.ndim == 0 or in1.size == 0 or in2.size == 0:
        raise ConvolabError(f"plan: in1 {in1.shape} and in2 {in2.shape} must be non-empty arrays "
                            "with at least one dimension")
    check_mode(mode)
    method = _check_method(method)
    problem = _describe(op, in1, in2, mode, flip=op == "convolve",
                        out_dtype=np.result_type(in1, in2), axes=axes, boundary=boundary,
                        fillvalue=fillvalue, nan_policy=nan_policy)
    chosen = planner.plan(problem, method)
    chosen = dataclasses.replace(chosen, runner=_runner(in1.shape, in2.shape, in1.dtype, in2.dtype))
    if measure and not chosen.remembered:
        chosen = planner.measure(
            chosen, lambda name: _execute(in1, in2, dataclasses.replace(chosen, method=name)))
    return chosen


def _runner(shape1: tuple, shape2: tuple, dtype1: np.dtype, dtype2: np.dtype):
    """A function that runs a plan on new inputs of the planned shapes and dtypes."""
    def run(in1: Any, in2: Any, bound: planner.Plan, *, workers: Any = None,
            kernel_cache: dict | None = None) -> np.ndarray:
        a, b = _arrays(in1, in2)
        if (a.shape, b.shape, a.dtype, b.dtype) != (shape1, shape2, dtype1, dtype2):
            raise ConvolabError(
                f"this plan was made for in1 {shape1} {dtype1} and in2 {shape2} {dtype2}; "
                f"got in1 {a.shape} {a.dtype} and in2 {b.shape} {b.dtype}")
        return _execute(a, b, bound, workers=workers, kernel_cache=kernel_cache)
    return run


def choose_conv_method(in1: Any, in2: Any, mode: str = "full", measure: bool = False, *,
                       axes: Any = None, boundary: str = "fill", fillvalue: Any = 0,
                       detail: bool = False) -> Any:
    """Find the fastest convolution method (``scipy.signal.choose_conv_method``).

    Returns ``'direct'`` or ``'fft'`` (scipy's two families) or, with
    ``detail=True``, convolab's algorithm name (``'direct'``, ``'im2col'``,
    ``'fft'``, ``'oa'``, ``'os'``, ...).  With ``measure=True`` every viable algorithm is
    timed on the inputs and ``(method, times)`` is returned, ``times``
    mapping each algorithm (``'direct'``, ``'fft'``, ...) to its best time in
    seconds.

    Notes
    -----
    The choice without measuring comes from the planner's cost model; see
    :func:`convolab.plan` for the table of rules and ``print(plan)`` for the
    estimates behind one choice.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab import choose_conv_method
    >>> choose_conv_method(np.ones(10), np.ones(3))
    'direct'
    >>> rng = np.random.default_rng(0)
    >>> choose_conv_method(np.ones((512, 512)), rng.random((63, 63)), mode='same')
    'fft'
    >>> choose_conv_method(np.ones((512, 512)), np.ones((63, 63)), mode='same', detail=True)
    'separable'
    """
    in1, in2 = _arrays(in1, in2)
    _check_ndim(in1, in2)
    check_mode(mode)
    if in1.ndim == 0 or in1.size == 0 or in2.size == 0:
        return ("direct", {"direct": 0.0}) if measure else "direct"
    chosen = plan(in1, in2, mode, axes=axes, boundary=boundary, fillvalue=fillvalue)
    if measure:     # scipy's contract: time every method, even if measured before
        chosen = planner.measure(
            chosen, lambda m: _execute(in1, in2, dataclasses.replace(chosen, method=m)))
    name = chosen.method if detail else FAMILY[chosen.method]
    if not measure:
        return name
    times = {c.name: c.measured for c in chosen.candidates}
    return name, times


def correlation_lags(in1_len: Any, in2_len: Any, mode: str = "full") -> np.ndarray:
    """Lag indices for a 1-D cross-correlation (``scipy.signal.correlation_lags``).

    ``correlate(x, y, mode)[i]`` compares ``x[n + lags[i]]`` with ``y[n]``.

    Examples
    --------
    >>> from convolab import correlation_lags
    >>> correlation_lags(4, 3)
    array([-2, -1,  0,  1,  2,  3])
    >>> correlation_lags(4, 3, mode='valid')
    array([0, 1])
    """
    n1 = as_int(in1_len, "in1_len", minimum=0)
    n2 = as_int(in2_len, "in2_len", minimum=0)
    if mode == "full":
        start, stop = -n2 + 1, n1
    elif mode == "same":
        full_start = -n2 + 1
        mid = (n1 + n2 - 1 - n1) // 2
        start, stop = full_start + mid, full_start + mid + n1
    elif mode == "valid":
        bound = n1 - n2
        start, stop = (0, bound + 1) if bound >= 0 else (bound, 1)
    else:
        raise ConvolabError(f"Mode {mode} is invalid; allowed: 'full', 'same', 'valid'")
    need = (stop - start) * 8
    available = planner.available_memory()
    if need > available:
        raise ConvolabError(f"correlation_lags({n1}, {n2}, {mode!r}) would need {format_bytes(need)} "
                            f"but {format_bytes(available)} is available")
    return np.arange(start, stop)

