"""Named kernels: Gaussian, box, Sobel, Scharr, Laplacian, LoG, DoG, Gabor, ...

A kernel is a small array of weights.  The filters that image processing
uses every day are a handful of named kernels, and each library writes them
down slightly differently (radius, normalisation, sign, orientation).  This
module gives them once, each checked against the library users know it
from, so that ``convolab.correlate(image, sobel(axis=0), mode='same',
boundary='reflect')`` is the same number as ``cv2.Sobel`` or
``scipy.ndimage.sobel``.  It also holds the seed's 5x5 Gaussian
``[1 4 7 4 1; ...]/273`` (seed 000: smoothing a face).

Orientation
-----------
Every kernel here is written as the weights a **cross-correlation** applies:
``out[n] = sum_m x[n + m] * w[m]`` with ``m`` centred on the kernel.  That is
what ``cv2.filter2D`` and ``scipy.ndimage.correlate`` do, and what
:func:`convolab.correlate` does.  :func:`convolab.convolve` reverses the
kernel first, so a symmetric kernel (Gaussian, box, Laplacian) gives the same
result either way, while an antisymmetric one (Sobel, Prewitt, Scharr, odd
Gaussian derivatives) changes sign:

>>> import numpy as np, convolab
>>> ramp = np.tile(np.arange(5.0), (5, 1))          # increases along axis 1
>>> convolab.correlate(ramp, sobel(axis=1), mode='same', boundary='nearest')[2, 2].item()
8.0
>>> convolab.convolve(ramp, sobel(axis=1), mode='same', boundary='nearest')[2, 2].item()
-8.0

Axes follow numpy: ``axis=-1`` (the default) is the last axis, the image's
x (columns); ``axis=0`` is y (rows).  Derivative kernels are positive where
the intensity increases along ``axis`` (the sign of ``ndimage.sobel`` and
``cv2.Sobel``).

Three entry points serve the command line: :func:`get_kernel` builds a kernel
by name (with aliases such as ``'log'`` and ``'laplacian-of-gaussian'``),
:func:`parse_kernel_spec` reads ``NAME[:key=value,...]``, and
:func:`available_kernels` lists every name with its parameters, defaults and a
one-line description.
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .errors import ConvolabError, format_bytes, not_one_of

__all__ = [
    "gaussian", "gaussian_273", "box", "sharpen", "emboss", "sobel", "scharr", "prewitt",
    "laplacian", "laplacian_of_gaussian", "difference_of_gaussians", "motion_blur", "gabor",
    "get_kernel", "parse_kernel_spec", "available_kernels", "KernelInfo", "REQUIRED",
    "MAX_TAPS",
]

#: The largest kernel (number of taps) a function here builds: 2**26 taps,
#: 512 MiB of float64.  A bigger request is almost always a typo
#: (``sigma=1000`` in 3-D), so it raises instead of allocating.
MAX_TAPS = 2 ** 26


# ---------------------------------------------------------------------------
# argument checking: each helper names the argument, its value and what is allowed


def _real(value: Any, name: str, *, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real number (not a bool), optionally ``>= minimum`` (``> minimum`` if strict)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (minimum is None or value > minimum
                                       or (not strict and value == minimum))
    if not ok:
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
        raise ConvolabError(f"{name}={value!r} is not allowed; allowed: a finite number{bound}")
    return value


def _int(value: Any, name: str, *, minimum: int | None = None,
         maximum: int | None = None) -> int:
    """An integer (not a bool) in ``[minimum, maximum]``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = int(value)
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        lo = "" if minimum is None else f" >= {minimum}"
        hi = "" if maximum is None else f" and <= {maximum}"
        raise ConvolabError(f"{name}={value!r} is not allowed; allowed: an integer{lo}{hi}")
    return value


def _per_axis(value: Any, name: str, ndim: int, check: Callable[[Any, str], Any]) -> tuple:
    """A scalar (the same on every axis) or a sequence of ``ndim`` values."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return (check(value, name),) * ndim
    items = list(value.ravel()) if isinstance(value, np.ndarray) else list(value)
    if len(items) == 1:
        items = items * ndim
    if len(items) != ndim:
        raise ConvolabError(f"{name}={value!r} has {len(items)} values; allowed: one value, "
                            f"or one per axis ({ndim} for ndim={ndim})")
    return tuple(check(v, f"{name}[{i}]") for i, v in enumerate(items))


def _ndim(ndim: Any) -> int:
    return _int(ndim, "ndim", minimum=1, maximum=32)


def _axis(axis: Any, ndim: int) -> int:
    ax = _int(axis, "axis", minimum=-ndim, maximum=ndim - 1)
    return ax % ndim


def _check_taps(shape: Sequence[int], what: str) -> None:
    """Refuse a kernel larger than :data:`MAX_TAPS` before allocating it."""
    taps = math.prod(shape)
    if taps > MAX_TAPS:
        raise ConvolabError(
            f"{what} would have shape {tuple(shape)} = {taps} taps "
            f"({format_bytes(8 * taps)} of float64); allowed: at most {MAX_TAPS} taps "
            f"({format_bytes(8 * MAX_TAPS)}): choose smaller parameters")


def _outer(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """The N-D outer product ``v0[:, None, ...] * v1[None, :, ...] * ...``."""
    out = np.ones((), dtype=np.result_type(*vectors))
    for v in vectors:
        out = np.multiply.outer(out, v)
    return np.ascontiguousarray(out)


# ---------------------------------------------------------------------------
# Gaussians


def _gaussian_radius(sigma: float, truncate: float) -> int:
    # scipy.ndimage's rule, shared by astropy and OpenCV for float input; capped so that an
    # absurd sigma reaches the size check instead of overflowing
    return int(min(truncate * sigma + 0.5, MAX_TAPS))


def _gaussian_1d(sigma: float, order: int, radius: int) -> np.ndarray:
    """Correlation weights of the 1-D Gaussian (derivative) of ``gaussian_filter1d``.

    ``phi`` is the sampled Gaussian normalised to sum 1 (the normalisation is
    done before differentiating, as ndimage does).  The derivative of order
    ``k`` is ``q_k(x) * phi(x)`` with ``q_0 = 1`` and
    ``q_{k+1} = q_k' - x q_k / sigma^2``.  ndimage convolves with that
    kernel; as correlation weights it is reversed, which flips the sign of
    odd orders.
    """
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    if sigma == 0:
        return np.ones(1)          # radius is 0: the identity
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    phi /= phi.sum()
    if order == 0:
        return phi
    q = np.zeros(order + 1)        # polynomial coefficients of q_k, lowest degree first
    q[0] = 1.0
    for _ in range(order):
        dq = np.zeros_like(q)
        dq[:-1] = q[1:] * np.arange(1, order + 1)   # q'
        dq[1:] -= q[:-1] / (sigma * sigma)          # - x q / sigma^2
        q = dq
    kernel = np.polynomial.polynomial.polyval(x, q) * phi
    return kernel[::-1].copy()


def gaussian(sigma: Any, *, ndim: int = 2, truncate: float = 4.0, order: Any = 0) -> np.ndarray:
    """A sampled Gaussian (or Gaussian derivative), normalised to sum 1.

    The kernel of ``scipy.ndimage.gaussian_filter``: on each axis the samples
    ``exp(-x^2 / (2 sigma^2))`` for ``|x| <= int(truncate * sigma + 0.5)``,
    divided by their sum, and the N-D kernel is the outer product of the
    axes' kernels.  Correlating with it (any boundary, fill value 0) equals
    ``gaussian_filter(x, sigma, order, mode=..., truncate=truncate)``.

    Parameters
    ----------
    sigma : float or sequence of float
        Standard deviation in samples, ``>= 0``; one per axis or one for all.
        ``sigma = 0`` gives a single tap (no smoothing on that axis).
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).
    truncate : float, optional, keyword-only
        Radius in standard deviations (default 4.0): the kernel has
        ``2 * int(truncate * sigma + 0.5) + 1`` taps per axis.
    order : int or sequence of int, optional, keyword-only
        Derivative order per axis (default 0), as in ``gaussian_filter``.
        Derivatives are correlation weights: ``order=1`` is positive where
        the intensity increases.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(2r_0 + 1, ..., 2r_{ndim-1} + 1)``.

    See Also
    --------
    gaussian_273 : the 5x5 integer approximation of seed 000.

    Examples
    --------
    >>> g = gaussian(1.0, ndim=1)
    >>> g.shape, round(float(g.sum()), 12)
    ((9,), 1.0)
    >>> gaussian([1.0, 0.5]).shape            # radius 4 on axis 0, 2 on axis 1
    (9, 5)
    >>> np.round(gaussian(1.0, ndim=1, truncate=1.0, order=1), 3)
    array([-0.274,  0.   ,  0.274])
    """
    ndim = _ndim(ndim)
    sigmas = _per_axis(sigma, "sigma", ndim, lambda v, n: _real(v, n, minimum=0.0))
    truncate = _real(truncate, "truncate", minimum=0.0)
    orders = _per_axis(order, "order", ndim, lambda v, n: _int(v, n, minimum=0, maximum=16))
    for i, (s, o) in enumerate(zip(sigmas, orders)):
        if s == 0 and o > 0:
            raise ConvolabError(f"order={order!r} asks for a derivative on axis {i} where "
                                f"sigma is 0; allowed: order 0 where sigma=0")
    radii = [_gaussian_radius(s, truncate) for s in sigmas]
    _check_taps([2 * r + 1 for r in radii], f"gaussian(sigma={sigma!r}, ndim={ndim})")
    return _outer([_gaussian_1d(s, o, r) for s, o, r in zip(sigmas, orders, radii)])


def gaussian_273() -> np.ndarray:
    """The 5x5 Gaussian of seed 000: ``[1 4 7 4 1; 4 16 26 16 4; 7 26 41 26 7; ...] / 273``.

    The integer weights approximate a sampled Gaussian of ``sigma = 1``
    (see ``docs/kernels.md`` for the difference); they sum to 273, so the
    kernel sums to 1.

    Returns
    -------
    numpy.ndarray
        float64 array of shape (5, 5).

    Examples
    --------
    >>> k = gaussian_273()
    >>> (k * 273).astype(int)[2]
    array([ 7, 26, 41, 26,  7])
    >>> round(float(k.sum()), 12)
    1.0
    """
    row = np.array([1, 4, 7, 4, 1])
    weights = np.outer(row, row)            # 1 4 7 4 1 squared, except the five inner taps
    weights[1:4, 1:4] = [[16, 26, 16], [26, 41, 26], [16, 26, 16]]
    return weights / 273.0


def box(size: Any, *, ndim: int = 2) -> np.ndarray:
    """A box (mean, uniform) kernel: ``size`` taps per axis, all equal, summing to 1.

    Correlating with it equals ``scipy.ndimage.uniform_filter(x, size)``; for
    even sizes too, since convolab's ``same`` centring puts the extra tap on
    the same side as ndimage.

    Parameters
    ----------
    size : int or sequence of int
        Taps per axis, ``>= 1``.
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(size,) * ndim``.

    Examples
    --------
    >>> box(3, ndim=1)
    array([0.33333333, 0.33333333, 0.33333333])
    >>> box([1, 4]).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    ndim = _ndim(ndim)
    sizes = _per_axis(size, "size", ndim, lambda v, n: _int(v, n, minimum=1))
    _check_taps(sizes, f"box(size={size!r}, ndim={ndim})")
    return np.full(sizes, 1.0 / math.prod(sizes))


def sharpen() -> np.ndarray:
    """The 3x3 sharpening kernel ``[[0,-1,0],[-1,5,-1],[0,-1,0]]``.

    It is the identity minus the 4-neighbour :func:`laplacian`, so it adds
    the local contrast back onto the image; it sums to 1 (flat regions stay).

    Examples
    --------
    >>> sharpen().astype(int)
    array([[ 0, -1,  0],
           [-1,  5, -1],
           [ 0, -1,  0]])
    """
    return np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])


def emboss() -> np.ndarray:
    """The 3x3 emboss kernel ``[[-2,-1,0],[-1,1,1],[0,1,2]]``.

    A diagonal derivative (light from the lower right) plus the identity; it
    sums to 1, so flat regions keep their value and edges turn into relief.

    Examples
    --------
    >>> emboss().astype(int)
    array([[-2, -1,  0],
           [-1,  1,  1],
           [ 0,  1,  2]])
    """
    return np.array([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])


# ---------------------------------------------------------------------------
# derivative kernels: a central difference on one axis, smoothing on the others

_CENTRAL_DIFFERENCE = np.array([-1.0, 0.0, 1.0])


def _derivative(axis: Any, ndim: Any, smooth: Sequence[float]) -> np.ndarray:
    ndim = _ndim(ndim)
    axis = _axis(axis, ndim)
    vectors = [_CENTRAL_DIFFERENCE if i == axis else np.asarray(smooth, dtype=np.float64)
               for i in range(ndim)]
    _check_taps([3] * ndim, f"a derivative kernel with ndim={ndim}")
    return _outer(vectors)


def sobel(axis: int = -1, *, ndim: int = 2) -> np.ndarray:
    """The Sobel derivative kernel: ``[-1, 0, 1]`` along ``axis``, ``[1, 2, 1]`` on the others.

    The weights of ``scipy.ndimage.sobel(x, axis)`` in any dimension and of
    ``cv2.Sobel`` (``ksize=3``) in 2-D, unscaled as they are.  ``axis=-1``
    (x) in 2-D is ``cv2.Sobel(img, cv2.CV_64F, 1, 0)``.

    Parameters
    ----------
    axis : int, optional
        The derivative's axis (default -1, the last).
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(3,) * ndim``.

    Examples
    --------
    >>> sobel().astype(int)
    array([[-1,  0,  1],
           [-2,  0,  2],
           [-1,  0,  1]])
    >>> sobel(axis=0).astype(int)[0]
    array([-1, -2, -1])
    """
    return _derivative(axis, ndim, [1.0, 2.0, 1.0])


def scharr(axis: int = -1, *, ndim: int = 2) -> np.ndarray:
    """The Scharr derivative kernel: ``[-1, 0, 1]`` along ``axis``, ``[3, 10, 3]`` on the others.

    The weights of ``cv2.Scharr`` in 2-D, unscaled; ``skimage.filters.scharr``
    (any dimension) is this kernel divided by ``16 ** (ndim - 1)``.

    Parameters
    ----------
    axis : int, optional
        The derivative's axis (default -1, the last).
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(3,) * ndim``.

    Examples
    --------
    >>> scharr().astype(int)
    array([[ -3,   0,   3],
           [-10,   0,  10],
           [ -3,   0,   3]])
    """
    return _derivative(axis, ndim, [3.0, 10.0, 3.0])


def prewitt(axis: int = -1, *, ndim: int = 2) -> np.ndarray:
    """The Prewitt derivative kernel: ``[-1, 0, 1]`` along ``axis``, ``[1, 1, 1]`` on the others.

    The weights of ``scipy.ndimage.prewitt(x, axis)`` in any dimension.

    Parameters
    ----------
    axis : int, optional
        The derivative's axis (default -1, the last).
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(3,) * ndim``.

    Examples
    --------
    >>> prewitt(axis=0).astype(int)
    array([[-1, -1, -1],
           [ 0,  0,  0],
           [ 1,  1,  1]])
    """
    return _derivative(axis, ndim, [1.0, 1.0, 1.0])


def laplacian(*, ndim: int = 2, diagonal: bool = False) -> np.ndarray:
    """The discrete Laplacian: ``[1, -2, 1]`` on each axis, summed.

    The weights of ``scipy.ndimage.laplace`` in any dimension, and of
    ``cv2.Laplacian(ksize=1)`` in 2-D: ``[[0,1,0],[1,-4,1],[0,1,0]]``.  With
    ``diagonal=True`` every one of the ``3**ndim - 1`` neighbours has weight 1
    and the centre ``-(3**ndim - 1)``: the 8-neighbour ``[[1,1,1],[1,-8,1],[1,1,1]]``
    in 2-D, which is more isotropic.

    Parameters
    ----------
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).
    diagonal : bool, optional, keyword-only
        Include the diagonal neighbours (default False).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(3,) * ndim`` that sums to 0.

    Examples
    --------
    >>> laplacian(ndim=1)
    array([ 1., -2.,  1.])
    >>> laplacian(diagonal=True).astype(int)
    array([[ 1,  1,  1],
           [ 1, -8,  1],
           [ 1,  1,  1]])
    """
    ndim = _ndim(ndim)
    if not isinstance(diagonal, (bool, np.bool_)):
        raise not_one_of("diagonal", diagonal, [False, True])
    _check_taps([3] * ndim, f"laplacian(ndim={ndim})")
    centre = (1,) * ndim
    if diagonal:
        kernel = np.ones((3,) * ndim)
        kernel[centre] = 1.0 - 3 ** ndim
        return kernel
    kernel = np.zeros((3,) * ndim)
    for axis in range(ndim):
        index = list(centre)
        for offset, weight in ((0, 1.0), (1, -2.0), (2, 1.0)):
            index[axis] = offset
            kernel[tuple(index)] += weight
    return kernel


def laplacian_of_gaussian(sigma: Any, *, ndim: int = 2, truncate: float = 4.0) -> np.ndarray:
    """The Laplacian of Gaussian (LoG): the sum over axes of second-derivative Gaussians.

    Built exactly as ``scipy.ndimage.gaussian_laplace`` computes it: for each
    axis the outer product of the second derivative of the sampled Gaussian
    on that axis and the Gaussian on the others (:func:`gaussian` with
    ``order=2`` on one axis), summed.  Correlating with it equals
    ``gaussian_laplace(x, sigma, mode=..., truncate=truncate)`` up to
    rounding, everywhere.  It is negative at the centre: blobs brighter than
    their surround give a negative response.

    Parameters
    ----------
    sigma : float or sequence of float
        Standard deviation per axis, ``> 0``.
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).
    truncate : float, optional, keyword-only
        Radius in standard deviations (default 4.0).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(2r + 1,) * ndim`` with ``r = int(truncate * sigma + 0.5)``.

    Examples
    --------
    >>> k = laplacian_of_gaussian(1.0)
    >>> k.shape, bool(k[4, 4] < 0)
    ((9, 9), True)
    >>> print(f"{k.sum():.1e}")   # ~0: truncation and sampling leave a small residue
    -1.4e-04
    """
    ndim = _ndim(ndim)
    sigmas = _per_axis(sigma, "sigma", ndim, lambda v, n: _real(v, n, minimum=0.0, strict=True))
    truncate = _real(truncate, "truncate", minimum=0.0)
    total = None
    for axis in range(ndim):
        order = [0] * ndim
        order[axis] = 2
        term = gaussian(list(sigmas), ndim=ndim, truncate=truncate, order=order)
        total = term if total is None else total + term
    return total


def difference_of_gaussians(sigma_low: Any, sigma_high: Any = None, *, ndim: int = 2,
                            truncate: float = 4.0) -> np.ndarray:
    """Difference of Gaussians (DoG): ``gaussian(sigma_low) - gaussian(sigma_high)``, a band-pass.

    The kernel of ``skimage.filters.difference_of_gaussians``: the narrow
    Gaussian is zero-padded to the wide one's size and the wide one is
    subtracted.  Correlating with it (same boundary, fill value 0) equals
    skimage's result on a float image.

    Parameters
    ----------
    sigma_low : float or sequence of float
        Standard deviation of the narrow Gaussian, ``>= 0``.
    sigma_high : float or sequence of float, optional
        Standard deviation of the wide Gaussian, ``>= sigma_low`` on every
        axis; default ``1.6 * sigma_low`` (Marr and Hildreth's ratio, which
        approximates a LoG, as in skimage).
    ndim : int, optional, keyword-only
        Number of dimensions (default 2).
    truncate : float, optional, keyword-only
        Radius in standard deviations (default 4.0).

    Returns
    -------
    numpy.ndarray
        float64 array, the wide Gaussian's shape; it sums to 0.

    Examples
    --------
    >>> k = difference_of_gaussians(1.0)      # sigma_high = 1.6
    >>> k.shape, abs(round(float(k.sum()), 12))
    ((13, 13), 0.0)
    """
    ndim = _ndim(ndim)
    low = _per_axis(sigma_low, "sigma_low", ndim, lambda v, n: _real(v, n, minimum=0.0))
    if sigma_high is None:
        high = tuple(1.6 * s for s in low)
    else:
        high = _per_axis(sigma_high, "sigma_high", ndim, lambda v, n: _real(v, n, minimum=0.0))
        for i, (lo, hi) in enumerate(zip(low, high)):
            if hi < lo:
                raise ConvolabError(
                    f"sigma_high={sigma_high!r} is smaller than sigma_low={sigma_low!r} on "
                    f"axis {i}; allowed: sigma_high >= sigma_low on every axis")
    narrow = gaussian(list(low), ndim=ndim, truncate=truncate)
    wide = gaussian(list(high), ndim=ndim, truncate=truncate)
    pad = [((b - a) // 2, (b - a) // 2) for a, b in zip(narrow.shape, wide.shape)]
    return np.pad(narrow, pad) - wide


# ---------------------------------------------------------------------------
# motion blur and Gabor


def motion_blur(length: Any, angle: Any = 0.0) -> np.ndarray:
    """A straight line of ``length`` pixels at ``angle`` degrees, normalised to sum 1.

    The blur of a camera moving during the exposure.  The line is a segment
    of the given length centred on the kernel's central pixel; each pixel (a
    unit square) weighs the length of the segment inside it, so the line is
    anti-aliased.  The shape is the smallest *odd* one that holds the
    segment, so the blur does not shift the image under ``mode='same'``:
    for an odd ``length``, ``angle=0`` gives the ``(1, length)`` box row and
    ``angle=90`` the column; an even length reaches half-way into its end
    pixels (``motion_blur(4)`` is ``[1/2, 1, 1, 1, 1/2] / 4``).  Angles are
    counter-clockwise as an image is displayed (rows downward): ``angle=45``
    runs from the lower left to the upper right.  The kernel is
    point-symmetric (``k == k[::-1, ::-1]``), so correlation and convolution
    agree.

    Parameters
    ----------
    length : float
        Length of the line in pixels, ``>= 1``.
    angle : float, optional
        Direction in degrees (default 0, horizontal).

    Returns
    -------
    numpy.ndarray
        float64 2-D array.

    Examples
    --------
    >>> motion_blur(5).tolist()
    [[0.2, 0.2, 0.2, 0.2, 0.2]]
    >>> motion_blur(4).tolist()
    [[0.125, 0.25, 0.25, 0.25, 0.125]]
    >>> k = motion_blur(5, 45)
    >>> k.shape, round(float(k.sum()), 12), bool(np.allclose(k, k[::-1, ::-1]))
    ((5, 5), 1.0, True)
    """
    length = _real(length, "length", minimum=1.0)
    angle = _real(angle, "angle")
    theta = math.radians(angle % 360.0)
    dx, dy = math.cos(theta), -math.sin(theta)     # rows grow downward, so y flips
    # exact zeros for the axis-aligned directions, so the line stays in one row/column
    dx, dy = (0.0 if abs(dx) < 1e-12 else dx), (0.0 if abs(dy) < 1e-12 else dy)
    # the smallest odd shape whose squares hold the segment (half-extent e needs 2r+1 >= 2e)
    width = 2 * max(0, math.ceil(length * abs(dx) / 2 - 0.5 - 1e-9)) + 1
    height = 2 * max(0, math.ceil(length * abs(dy) / 2 - 0.5 - 1e-9)) + 1
    _check_taps((height, width), f"motion_blur(length={length!r})")
    # pixel squares [c - 1/2, c + 1/2] around centres symmetric about 0
    cy = (np.arange(height) - (height - 1) / 2.0)[:, None]
    cx = (np.arange(width) - (width - 1) / 2.0)[None, :]
    # clip the segment p(t) = t * (dx, dy), |t| <= length/2, to each square (Liang-Barsky)
    t_lo = np.full((height, width), -length / 2.0)
    t_hi = np.full((height, width), length / 2.0)
    for d, c in ((dx, cx), (dy, cy)):
        if d == 0.0:
            inside = np.abs(c) <= 0.5          # the line runs along this square's row/column
            t_hi = np.where(inside, t_hi, -np.inf)
            continue
        a, b = (c - 0.5) / d, (c + 0.5) / d
        t_lo = np.maximum(t_lo, np.minimum(a, b))
        t_hi = np.minimum(t_hi, np.maximum(a, b))
    weights = np.clip(t_hi - t_lo, 0.0, None)
    weights = 0.5 * (weights + weights[::-1, ::-1])   # exact point symmetry despite rounding
    return weights / weights.sum()


def gabor(frequency: Any, theta: Any = 0.0, *, bandwidth: Any = 1.0, sigma_x: Any = None,
          sigma_y: Any = None, n_stds: Any = 3, offset: Any = 0.0,
          return_complex: bool = False) -> np.ndarray:
    """A Gabor kernel: a Gaussian times a plane wave, as ``skimage.filters.gabor_kernel``.

    ``g(x, y) = exp(-(x'^2/sigma_x^2 + y'^2/sigma_y^2)/2) * exp(i (2 pi f x' + offset))
    / (2 pi sigma_x sigma_y)`` with ``x' = x cos(theta) + y sin(theta)``,
    ``y' = -x sin(theta) + y cos(theta)``; rows are ``y``, columns ``x``.
    Same parameters, defaults and array as skimage (its real part by default).
    ``skimage.filters.gabor`` *convolves* with this array, so to reproduce
    it use :func:`convolab.convolve`; the real part is symmetric (with
    ``offset=0``), so correlation gives the same real response.

    Parameters
    ----------
    frequency : float
        Spatial frequency of the wave, cycles per pixel, ``> 0``.
    theta : float, optional
        Orientation in radians (default 0: the wave runs along x).
    bandwidth : float, optional, keyword-only
        Bandwidth in octaves (default 1), used for ``sigma_x``/``sigma_y``
        left as None: ``sigma = sqrt(ln 2 / 2) / pi * (2**b + 1) / (2**b - 1) / frequency``.
    sigma_x, sigma_y : float, optional, keyword-only
        Standard deviations before rotation, ``> 0``.
    n_stds : float, optional, keyword-only
        Half-size of the kernel in standard deviations (default 3).
    offset : float, optional, keyword-only
        Phase offset in radians (default 0).
    return_complex : bool, optional, keyword-only
        Return the complex kernel (complex128) instead of its real part.

    Returns
    -------
    numpy.ndarray
        float64 (or complex128) 2-D array of odd size on each axis.

    Examples
    --------
    >>> k = gabor(0.25)
    >>> k.shape, k.dtype
    ((15, 15), dtype('float64'))
    >>> gabor(0.25, return_complex=True).dtype
    dtype('complex128')
    """
    frequency = _real(frequency, "frequency", minimum=0.0, strict=True)
    theta = _real(theta, "theta")
    bandwidth = _real(bandwidth, "bandwidth", minimum=0.0, strict=True)
    n_stds = _real(n_stds, "n_stds", minimum=0.0)
    offset = _real(offset, "offset")
    if not isinstance(return_complex, (bool, np.bool_)):
        raise not_one_of("return_complex", return_complex, [False, True])
    prefactor = (math.sqrt(math.log(2) / 2.0) / math.pi
                 * (2.0 ** bandwidth + 1) / (2.0 ** bandwidth - 1))
    sx = prefactor / frequency if sigma_x is None else _real(sigma_x, "sigma_x", minimum=0.0,
                                                             strict=True)
    sy = prefactor / frequency if sigma_y is None else _real(sigma_y, "sigma_y", minimum=0.0,
                                                             strict=True)
    ct, st = math.cos(theta), math.sin(theta)
    try:
        x0 = math.ceil(max(abs(n_stds * sx * ct), abs(n_stds * sy * st), 1))
        y0 = math.ceil(max(abs(n_stds * sy * ct), abs(n_stds * sx * st), 1))
    except OverflowError:
        x0 = y0 = MAX_TAPS
    _check_taps((2 * y0 + 1, 2 * x0 + 1),
                f"gabor(frequency={frequency!r}, sigma_x={sigma_x!r}, sigma_y={sigma_y!r})")
    y, x = np.meshgrid(np.arange(-y0, y0 + 1), np.arange(-x0, x0 + 1), indexing="ij",
                       sparse=True)
    rotx = x * ct + y * st
    roty = -x * st + y * ct
    g = np.exp(-0.5 * (rotx ** 2 / sx ** 2 + roty ** 2 / sy ** 2)
               + 1j * (2 * np.pi * frequency * rotx + offset))
    g *= 1 / (2 * np.pi * sx * sy)
    return g if return_complex else np.ascontiguousarray(g.real)


# ---------------------------------------------------------------------------
# the registry: names, aliases, parameters, descriptions


class _Required:
    """The default shown for a parameter that has none."""

    def __repr__(self) -> str:
        return "<required>"


#: Stands in :class:`KernelInfo` ``parameters`` for a parameter with no default.
REQUIRED = _Required()


@dataclass(frozen=True)
class KernelInfo:
    """What :func:`available_kernels` says about one named kernel.

    Attributes
    ----------
    name : str
        The canonical name (the function's name).
    parameters : dict
        Each parameter's default, :data:`REQUIRED` where there is none.
    description : str
        One line.
    aliases : tuple of str
        Other names :func:`get_kernel` accepts.
    """

    name: str
    parameters: dict
    description: str
    aliases: tuple

    @property
    def signature(self) -> str:
        """``name(param, param=default, ...)``, as the command line prints it."""
        parts = [p if d is REQUIRED else f"{p}={d!r}" for p, d in self.parameters.items()]
        return f"{self.name}({', '.join(parts)})"

    def __str__(self) -> str:
        also = f" (also: {', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.signature}: {self.description}{also}"


_REGISTRY: dict[str, tuple[Callable[..., np.ndarray], str, tuple[str, ...]]] = {
    "gaussian": (gaussian, "sampled Gaussian (or derivative), sums to 1, "
                 "radius int(truncate*sigma+0.5) as scipy.ndimage", ("gauss",)),
    "gaussian_273": (gaussian_273, "the 5x5 integer Gaussian [1 4 7 4 1; ...]/273 of seed 000",
                     ("gaussian273", "gauss-273")),
    "box": (box, "uniform (mean) filter, sums to 1",
            ("mean", "uniform", "average")),
    "sharpen": (sharpen, "3x3 sharpening: identity minus the 4-neighbour Laplacian", ()),
    "emboss": (emboss, "3x3 emboss: diagonal derivative plus identity", ()),
    "sobel": (sobel, "Sobel derivative along axis ([-1,0,1] x [1,2,1]), as ndimage/OpenCV", ()),
    "scharr": (scharr, "Scharr derivative along axis ([-1,0,1] x [3,10,3]), as OpenCV", ()),
    "prewitt": (prewitt, "Prewitt derivative along axis ([-1,0,1] x [1,1,1]), as ndimage", ()),
    "laplacian": (laplacian, "discrete Laplacian [1,-2,1] per axis (ndimage.laplace); "
                  "diagonal=True for all neighbours", ("laplace",)),
    "laplacian_of_gaussian": (laplacian_of_gaussian, "Laplacian of Gaussian, as "
                              "ndimage.gaussian_laplace", ("log",)),
    "difference_of_gaussians": (difference_of_gaussians, "band-pass gaussian(sigma_low) - "
                                "gaussian(sigma_high), as skimage", ("dog",)),
    "motion_blur": (motion_blur, "anti-aliased line of length pixels at angle degrees, "
                    "sums to 1", ("motion",)),
    "gabor": (gabor, "Gaussian times a plane wave, as skimage.filters.gabor_kernel "
              "(real part unless return_complex)", ()),
}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


_LOOKUP: dict[str, str] = {}
for _name, (_fn, _desc, _aliases) in _REGISTRY.items():
    for _alias in (_name,) + _aliases:
        _LOOKUP[_key(_alias)] = _name


def _parameters(fn: Callable[..., np.ndarray]) -> dict:
    return {p.name: (REQUIRED if p.default is inspect.Parameter.empty else p.default)
            for p in inspect.signature(fn).parameters.values()}


def available_kernels() -> dict[str, KernelInfo]:
    """Every named kernel: its parameters with defaults, a one-line description, aliases.

    Returns
    -------
    dict
        Canonical name -> :class:`KernelInfo`, in a fixed order.

    Examples
    --------
    >>> info = available_kernels()
    >>> print(info['gaussian'].signature)
    gaussian(sigma, ndim=2, truncate=4.0, order=0)
    >>> print(info['box'])
    box(size, ndim=2): uniform (mean) filter, sums to 1 (also: mean, uniform, average)
    >>> info['laplacian_of_gaussian'].aliases
    ('log',)
    """
    return {name: KernelInfo(name, _parameters(fn), desc, aliases)
            for name, (fn, desc, aliases) in _REGISTRY.items()}


def get_kernel(name: str, **params: Any) -> np.ndarray:
    """Build a named kernel: ``get_kernel('gaussian', sigma=2)`` is ``gaussian(2)``.

    Names are case-insensitive, ``-`` and ``_`` are the same, and aliases
    work (``'log'``, ``'laplacian-of-gaussian'``, ``'dog'``, ``'mean'``...);
    :func:`available_kernels` lists them.

    Parameters
    ----------
    name : str
        The kernel's name or alias.
    **params
        The kernel function's parameters, by keyword.

    Returns
    -------
    numpy.ndarray
        float64 (complex128 for ``gabor(..., return_complex=True)``).

    Raises
    ------
    ConvolabError
        For an unknown name (the message lists the known names), an unknown
        or missing parameter, or a value the kernel does not allow.

    Examples
    --------
    >>> get_kernel('laplacian-of-gaussian', sigma=1.0).shape
    (9, 9)
    >>> get_kernel('Sobel', axis=0).astype(int)[:, 0]
    array([-1,  0,  1])
    >>> get_kernel('sobel', size=3)
    Traceback (most recent call last):
    ...
    convolab.errors.ConvolabError: size=3 is not a parameter of 'sobel'; allowed: axis, ndim
    """
    if not isinstance(name, str) or _key(name) not in _LOOKUP:
        raise not_one_of("name", name, list(_REGISTRY),
                         hint="aliases: " + ", ".join(
                             f"{a}->{n}" for n, (_, _, al) in _REGISTRY.items() for a in al))
    canonical = _LOOKUP[_key(name)]
    fn = _REGISTRY[canonical][0]
    allowed = _parameters(fn)
    for key, value in params.items():
        if key not in allowed:
            raise ConvolabError(f"{key}={value!r} is not a parameter of {canonical!r}; "
                                f"allowed: {', '.join(allowed) or 'none'}")
    missing = [p for p, d in allowed.items() if d is REQUIRED and p not in params]
    if missing:
        raise ConvolabError(f"{canonical!r} needs {', '.join(missing)}; its parameters: "
                            f"{available_kernels()[canonical].signature}")
    return fn(**params)


# ---------------------------------------------------------------------------
# NAME[:key=value,...] from the command line


def _parse_value(text: str) -> Any:
    """``'2'`` -> 2, ``'2.5'`` -> 2.5, ``'true'`` -> True, ``'none'`` -> None,
    ``'[1,2]'`` -> (1, 2); anything else stays a string."""
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if len(text) >= 2 and text[0] + text[-1] in ("[]", "()"):
        inner = text[1:-1].strip()
        return tuple(_parse_value(t) for t in _split_top(inner)) if inner else ()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets: ``'sigma=[1,2],ndim=2'`` -> two items."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_kernel_spec(spec: str) -> np.ndarray:
    """Build a kernel from ``NAME[:key=value,...]``, the command line's ``--kernel``.

    Values are read as int, float, bool (``true``/``false``), ``none``, a
    per-axis list in brackets (``sigma=[1,2]``), or else a string.

    Parameters
    ----------
    spec : str
        For example ``'gaussian:sigma=2,ndim=2'`` or ``'sobel:axis=0'``.

    Returns
    -------
    numpy.ndarray
        The kernel, as :func:`get_kernel` returns it.

    Examples
    --------
    >>> parse_kernel_spec('gaussian:sigma=2,ndim=1').shape
    (17,)
    >>> parse_kernel_spec('box:size=[1,3]').tolist() == box([1, 3]).tolist()
    True
    >>> parse_kernel_spec('laplacian:diagonal=true')[1, 1].item()
    -8.0
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConvolabError(f"spec={spec!r} is not a kernel spec; allowed: 'NAME' or "
                            "'NAME:key=value,...', e.g. 'gaussian:sigma=2,ndim=2'")
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    if rest.strip():
        for item in _split_top(rest):
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq or not key.isidentifier():
                raise ConvolabError(f"spec={spec!r}: {item.strip()!r} is not key=value; "
                                    "allowed: 'NAME:key=value,...', e.g. 'sobel:axis=0'")
            if key in params:
                raise ConvolabError(f"spec={spec!r} gives {key!r} twice; allowed: each "
                                    "parameter once")
            params[key] = _parse_value(value)
    return get_kernel(name.strip(), **params)
