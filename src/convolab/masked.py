"""NaN-aware convolution: ``nan_policy='omit'``, normalized convolution.

A convolution with missing samples (NaN, or entries flagged by ``mask=``)
has two bad options: let the gap spread (``nan_policy='propagate'``: NaN over
every output whose window holds a missing sample) or pretend the gap holds
zeros (a dark hole in the smoothed image).  Normalized convolution does
neither: each output is the *kernel-weighted average of the valid samples in
its window*::

    out = conv(x * m, k) / conv(m, k)            m = 1 where x is valid, else 0

so a missing sample is replaced by what its neighbours say, with the kernel
as the interpolation weights.  This is astropy's
``astropy.convolution.convolve(..., nan_treatment='interpolate')`` (the
default there), and convolab's ``nan_policy='omit'`` on every function of the
signal family (:func:`convolab.convolve`, :func:`~convolab.correlate`,
:func:`~convolab.fftconvolve`, :func:`~convolab.oaconvolve`,
:func:`~convolab.convolve2d`, :func:`~convolab.correlate2d`).

Seed 002 reads a kernel normalized to sum 1 as a probability density: each
pixel takes one of its neighbours at random with the kernel's probabilities,
and the convolution is the average over many draws.  With missing
neighbours, normalized convolution is that average *given that the drawn
neighbour is valid*: the kernel's probabilities renormalized over the valid
samples of the window.

How it is computed
------------------
As ordinary convolutions through convolab's planner, so every algorithm
(``method='direct'``, ``'fft'``, ``'oa'``, ``'im2col'``, ...) computes it and
the results agree to rounding:

* the numerator on the data with missing samples set to 0;
* the denominator on the validity mask ``m`` (1.0 valid, 0.0 missing).

The boundary applies to both: ``wrap``, ``symm``, ``reflect`` and ``nearest``
extend the data and the mask the same way; ``boundary='fill'`` adds samples
of value ``fillvalue`` that count as *valid*, unless ``fillvalue`` is NaN,
which makes everything beyond the edge missing (astropy's convention).

Where no valid sample meets a nonzero kernel tap, the weight is zero and the
output is NaN, whatever the algorithm: an FFT leaves round-off of about
``1e-17`` in the denominator there, which would turn into arbitrary values.
The support is therefore computed exactly, by a third convolution of the
mask with the kernel's nonzero pattern ``(k != 0)``: its values are integer
counts, so rounding cannot move them across the threshold 0.5.  (When
nothing is missing, a single convolution is run.)

``normalize_kernel`` (default ``True``, as in astropy): with ``True`` the
result is the weighted average above.  With ``False`` it is multiplied by the
kernel's sum, ``out = conv(x*m, k) / conv(m, k) * sum(k)``, so that with
nothing missing the result is the plain convolution.

Differences from astropy, on purpose
------------------------------------
* Any number of dimensions, even kernels, ``full``/``same``/``valid`` output
  sizes, ``axes=``, complex data and every boundary of :mod:`convolab.boundary`
  (astropy: 1-3-D, odd kernels, ``same`` only).
* A zero-weight output is NaN; astropy's ``convolve`` returns the input value
  there (NaN when that sample is missing, the usual case) and ``convolve_fft``
  returns 0.
* Kernels are refused only when their sum is zero relative to their size
  (``|sum k| <= rtol * sum|k|``); astropy also refuses any kernel whose sum is
  below 0.01, including negative sums.
* ``+-inf`` is a value, not a missing sample, as in astropy's ``convolve``
  (``convolve_fft`` treats it as missing): it spreads over its footprint as
  with ``nan_policy='propagate'``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .boundary import normalize_boundary
from .errors import ConvolabError
from .problem import normalize_axes

__all__ = ["normalized_convolve", "replace_nans"]

#: a kernel whose sum is within this fraction of sum(|k|) of zero cannot be
#: normalized (at least 100 rounding errors of the dtype)
_ZERO_SUM_RTOL = 1e-8


# ---------------------------------------------------------------------------
# public functions


def normalized_convolve(in1: Any, in2: Any, mode: str = "same", *, mask: Any = None,
                        boundary: str = "fill", fillvalue: Any = 0,
                        normalize_kernel: bool = True, preserve_nan: bool = False,
                        method: str = "auto", axes: Any = None,
                        workers: Any = None) -> np.ndarray:
    """Convolve, averaging over the valid samples only (normalized convolution).

    ``convolab.convolve(in1, in2, mode, nan_policy='omit', ...)`` with
    astropy's defaults: ``same`` output, ``fill`` boundary with 0.  Missing
    samples of ``in1`` (NaN, and True entries of ``mask``) are left out of
    each output's weighted sum and the weights are renormalized::

        out = convolve(in1 * m, in2) / convolve(m, in2)      (m: 1 valid, 0 missing)

    Parameters
    ----------
    in1 : array_like
        The data, N-D, with NaN for missing samples.  A
        :class:`numpy.ma.MaskedArray`'s mask counts as missing too.
    in2 : array_like
        The kernel, same number of dimensions; finite, with a sum that is not
        zero.
    mode : {'same', 'full', 'valid'}, optional
        Output size, as in :func:`convolab.convolve` (default ``'same'``).
    mask : array_like of bool, optional, keyword-only
        True where ``in1`` is missing (numpy's and astropy's convention);
        broadcast to ``in1``'s shape.  Nonzero numbers count as True.
    boundary : str, optional, keyword-only
        Extension beyond the edges (see :mod:`convolab.boundary`); the
        extension of a missing sample is missing.
    fillvalue : scalar, optional, keyword-only
        The value beyond the edges for ``boundary='fill'``; those samples are
        valid, unless ``fillvalue`` is NaN, which makes them missing.
    normalize_kernel : bool, optional, keyword-only
        True (default): the weighted average.  False: multiplied by
        ``in2.sum()``, so that nothing missing gives the plain convolution.
    preserve_nan : bool, optional, keyword-only
        Put NaN back at the missing samples (``mode='same'`` only).
    method, axes, workers : optional, keyword-only
        As in :func:`convolab.convolve`; ``method`` applies to every
        convolution the result needs.

    Returns
    -------
    ndarray
        Floating point: ``result_type(in1, in2)``, with integers and bool
        giving float64 and float16 float32.  NaN where no valid sample meets
        a nonzero tap of the kernel.

    Examples
    --------
    astropy's documented example, a 3-sample box over one NaN:

    >>> import numpy as np
    >>> from convolab.masked import normalized_convolve
    >>> normalized_convolve([1, np.nan, 3, 4, 5], [1, 1, 1])
    array([0.5, 2. , 3.5, 4. , 3. ])

    The same with ``mask=`` instead of NaN, with the edges left out too
    (``fillvalue=nan``):

    >>> normalized_convolve([1., 0, 3, 4, 5], [1, 1, 1], mask=[0, 1, 0, 0, 0],
    ...                     fillvalue=np.nan)
    array([1. , 2. , 3.5, 4. , 4.5])
    """
    from .signal import convolve    # signal imports this module
    return convolve(in1, in2, mode, method, axes=axes, boundary=boundary, fillvalue=fillvalue,
                    nan_policy="omit", mask=mask, normalize_kernel=normalize_kernel,
                    preserve_nan=preserve_nan, workers=workers)


def replace_nans(in1: Any, in2: Any, *, mask: Any = None, boundary: str = "fill",
                 fillvalue: Any = 0, method: str = "auto", axes: Any = None,
                 workers: Any = None) -> np.ndarray:
    """Fill the missing samples of ``in1`` by normalized convolution; keep the others.

    astropy's ``interpolate_replace_nans``: each missing sample (NaN, or True
    in ``mask``) becomes the ``in2``-weighted average of the valid samples
    around it (see :func:`normalized_convolve`); valid samples are returned
    unchanged.  A gap wider than the kernel keeps NaN in its middle.

    Parameters are those of :func:`normalized_convolve` (the output has
    ``in1``'s shape).

    Returns
    -------
    ndarray
        Same shape as ``in1``; floating point as in :func:`normalized_convolve`.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.masked import replace_nans
    >>> replace_nans([1, np.nan, 3, np.nan, np.nan, np.nan, 7], [1, 1, 1])
    array([ 1.,  2.,  3.,  3., nan,  7.,  7.])
    """
    x = np.asarray(in1)
    smoothed = normalized_convolve(in1, in2, "same", mask=mask, boundary=boundary,
                                   fillvalue=fillvalue, method=method, axes=axes,
                                   workers=workers)
    missing = np.broadcast_to(_missing(in1, x, mask), smoothed.shape)
    return np.where(missing, smoothed, np.broadcast_to(x, smoothed.shape).astype(smoothed.dtype))


# ---------------------------------------------------------------------------
# what convolab.signal calls


def check_extras(nan_policy: Any, mask: Any, normalize_kernel: Any, preserve_nan: Any
                 ) -> dict[str, Any]:
    """Check the keywords that belong to ``nan_policy='omit'``.

    ``None`` means "not given".  Given with another ``nan_policy`` they are an
    error naming the argument; for ``'omit'`` returns them with their
    defaults (``normalize_kernel=True``, ``preserve_nan=False``).
    """
    given = {"mask": mask, "normalize_kernel": normalize_kernel, "preserve_nan": preserve_nan}
    if nan_policy != "omit":
        for name, value in given.items():
            if value is not None:
                shown = "an array" if name == "mask" else repr(value)
                raise ConvolabError(
                    f"{name}={shown} needs nan_policy='omit' (normalized convolution), but "
                    f"nan_policy={nan_policy!r}; with 'propagate' or 'raise' leave {name} unset")
        return {}
    for name in ("normalize_kernel", "preserve_nan"):
        value = given[name]
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise ConvolabError(f"{name}={value!r} must be True or False")
    return {"mask": mask,
            "normalize_kernel": True if normalize_kernel is None else bool(normalize_kernel),
            "preserve_nan": False if preserve_nan is None else bool(preserve_nan)}


#: ``conv(a, b, fillvalue)``: the caller's convolution (same function, mode,
#: axes, boundary, method, workers) with ``nan_policy='propagate'``
Conv = Callable[[np.ndarray, np.ndarray, Any], np.ndarray]


def run_omit(conv: Conv, in1: Any, in2: Any, *, mode: str, flip: bool, axes: Any,
             boundary: Any, fillvalue: Any, mask: Any, normalize_kernel: bool,
             preserve_nan: bool, broadcast_length_one: bool = False) -> np.ndarray:
    """Normalized convolution through ``conv`` (see the module docstring).

    ``flip`` is False for a correlation (the kernel's sum is conjugated, as
    the kernel is); ``broadcast_length_one`` is fftconvolve's 'valid'-mode
    rule that an axis where in1 has length 1 is broadcast, not convolved.
    """
    x, k = np.asarray(in1), np.asarray(in2)
    for name, arr in (("in1", x), ("in2", k)):
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"{name} has dtype {arr.dtype!r}, which convolab cannot convolve; "
                            "allowed: bool, integer, float and complex arrays")
    if k.dtype.kind in "fc" and not np.isfinite(k).all():
        raise ConvolabError("nan_policy='omit' leaves out missing samples of in1; in2 (the "
                            "kernel) must be finite, but it holds NaN or infinity")
    if preserve_nan and mode != "same" and x.ndim:
        raise ConvolabError(f"preserve_nan=True needs mode='same' (got mode={mode!r}): only "
                            "there does each output sit on the input sample it replaces")
    missing = _missing(in1, x, mask)
    out_dtype = omit_dtype(x.dtype, k.dtype)
    real = np.dtype(out_dtype.char.lower()) if out_dtype.kind == "c" else out_dtype
    k = k.astype(out_dtype if k.dtype.kind == "c" else real, copy=False)
    fill_missing = _is_nan(fillvalue)
    x0 = np.where(missing, 0, x).astype(out_dtype if x.dtype.kind == "c" else real, copy=False)
    # the numerator; this call also checks mode, axes, boundary and fillvalue
    num = conv(x0, k, 0 if fill_missing else fillvalue)
    if x.ndim == 0:     # two scalars: x * k / k, or NaN
        return _scalar(x0, k, missing, normalize_kernel, out_dtype)
    if num.size == 0 or x.size == 0 or k.size == 0:
        return num
    ksum = _kernel_sum(x, k, mode=mode, flip=flip, axes=axes,
                       broadcast_length_one=broadcast_length_one)
    fill_missing = fill_missing and normalize_boundary(boundary) == "fill"
    swapped = mode == "valid" and any(n < m for n, m in zip(x.shape, k.shape))
    if not (missing.any() or fill_missing or swapped):
        # nothing missing: every weight is the kernel's sum
        out = num / ksum if normalize_kernel else num
        return out.astype(out_dtype, copy=False)
    valid = (~missing).astype(real)
    mask_fill = 0 if fill_missing else 1
    den = conv(valid, k, mask_fill)
    # exact support: integer counts of valid samples under nonzero taps
    count = conv(valid, (k != 0).astype(real), mask_fill)
    zero = (count.real < 0.5) | (den == 0)
    out = num / np.where(zero, 1, den)
    if not normalize_kernel:
        out = out * ksum
    out[zero] = np.nan
    if preserve_nan:
        out[np.broadcast_to(missing, out.shape)] = np.nan
    return out.astype(out_dtype, copy=False)


def omit_dtype(dtype1: np.dtype, dtype2: np.dtype) -> np.dtype:
    """The result dtype of ``nan_policy='omit'``: always floating.

    ``result_type(in1, in2)``, with integers and bool giving float64 and
    float16 float32 (a ratio of sums needs a fraction; fftconvolve's rule).

    >>> omit_dtype(np.dtype('int16'), np.dtype('int64'))
    dtype('float64')
    >>> omit_dtype(np.dtype('float32'), np.dtype('bool'))
    dtype('float32')
    """
    dtype = np.result_type(dtype1, dtype2)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


# ---------------------------------------------------------------------------
# helpers


def _scalar(x0: np.ndarray, k: np.ndarray, missing: np.ndarray, normalize_kernel: bool,
            out_dtype: np.dtype) -> Any:
    """0-d inputs: the one sample, or its product with the kernel (as scipy
    returns for two scalars), NaN when it is missing or the kernel is 0."""
    if missing or k == 0:
        return out_dtype.type(np.nan)
    return (x0 if normalize_kernel else x0 * k).astype(out_dtype)[()]


def _missing(raw: Any, x: np.ndarray, mask: Any) -> np.ndarray:
    """Boolean array of in1's shape: NaN, masked-array mask, or ``mask`` True."""
    missing = np.isnan(x) if x.dtype.kind in "fc" else np.zeros(x.shape, dtype=bool)
    if np.ma.isMaskedArray(raw):
        missing = missing | np.ma.getmaskarray(raw)
    if mask is None:
        return missing
    m = np.asarray(mask)
    if m.dtype.kind not in "biuf":
        raise ConvolabError(f"mask has dtype {m.dtype!r}; allowed: a bool array (True = "
                            "missing) or numbers (nonzero = missing)")
    try:
        m = np.broadcast_to(m != 0, x.shape)
    except ValueError:
        raise ConvolabError(f"mask of shape {m.shape} does not broadcast to in1's shape "
                            f"{x.shape}") from None
    return missing | m


def _is_nan(value: Any) -> bool:
    """True for a scalar NaN (real or complex); False for anything else,
    which the convolution itself then checks."""
    try:
        arr = np.asarray(value)
        return arr.size == 1 and arr.dtype.kind in "fc" and bool(np.isnan(arr).all())
    except TypeError:
        return False


def _kernel_sum(x: np.ndarray, k: np.ndarray, *, mode: str, flip: bool, axes: Any,
                broadcast_length_one: bool) -> np.ndarray:
    """The kernel's sum over the convolved axes, per batch slice (keepdims),
    conjugated for a correlation; refuses a sum of zero."""
    if k.ndim == 0:
        conv_axes: tuple[int, ...] = ()
    else:
        conv_axes = normalize_axes(axes, k.ndim)
        if broadcast_length_one:
            # fftconvolve broadcasts an axis where in1 has length 1 instead of convolving it
            conv_axes = tuple(a for a in conv_axes if x.shape[a] != 1)
    total = k.sum(axis=conv_axes, keepdims=True)
    size = np.abs(k).sum(axis=conv_axes, keepdims=True)
    eps = np.finfo(k.dtype).eps if k.dtype.kind in "fc" else 0.0
    tol = max(_ZERO_SUM_RTOL, 100 * eps) * size
    if np.any(np.abs(total) <= tol):
        worst = total.flat[int(np.argmin(np.abs(total) / np.where(size > 0, size, 1)))]
        raise ConvolabError(
            f"nan_policy='omit' divides by the kernel's weight over the valid samples, but in2 "
            f"sums to {complex(worst) if np.iscomplexobj(worst) else float(worst):.3g} "
            f"(zero relative to sum|in2| = {float(size.max()):.3g}) and cannot be normalized; "
            "use nan_policy='propagate' for zero-sum kernels (derivatives, Laplacians)")
    return np.conj(total) if not flip else total
