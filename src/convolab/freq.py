"""Frequency-domain filtering and the convolution theorem.

A discrete Fourier transform writes an image as a sum of waves.  Each
coefficient ``X[f]`` is the amount of the wave with frequency ``f``, counted in
**cycles per sample** (cycles per pixel): ``0`` is the mean (DC), ``±0.5`` the
fastest wave a grid can hold (Nyquist).  :func:`frequency_grid` gives those
frequencies for every axis, in ``scipy.fft.fftfreq`` order or centred
(``fftshift``), and the radial frequency ``sqrt(f0² + f1² + ...)``.

This module answers the frequency questions of the seed documents (seeds 000
and 002):

* **Convolution in space is a pointwise product in frequency.**  For arrays
  of the same size the product of the transforms is the *circular*
  convolution: the kernel wraps around the edges.  :func:`circular_convolve`
  computes it directly (``convolab.convolve`` with ``boundary='wrap'``), and
  :func:`convolution_theorem` puts both sides next to each other with their
  difference.
* **Circular versus linear convolution.**  Zero-padding both arrays to
  ``len(x) + len(k) - 1`` leaves room for the whole linear result, so nothing
  wraps: :func:`linear_from_circular` shows the padded circular convolution
  equal to ``convolab.convolve(x, k, mode='full')`` and the unpadded one
  equal to that linear result folded onto the period (time aliasing).
* **A low-pass filter is a circle of ones on the centred spectrum**, with
  zeros outside: :func:`circular_mask` draws it in pixels,
  :func:`lowpass_mask`, :func:`highpass_mask` and :func:`bandpass_mask` give
  ideal, Gaussian and Butterworth masks in cycles per sample, and
  :func:`filter_frequency` multiplies a transform by a mask and transforms
  back.  :func:`butterworth` is ``skimage.filters.butterworth`` with the same
  parameters and results.
* **The JPEG analogy**: keep some frequencies, drop the rest, transform back.
  :func:`compress` keeps the largest coefficients (or a low-frequency disc)
  and reports how much was kept and how much was lost.

Masks are in the unshifted layout of ``scipy.fft.fftn`` (DC at index 0) by
default; ``centered=True`` gives the layout of ``fftshift`` (DC in the
middle), which is the one to look at.  Transforms are ``scipy.fft``'s.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np
import scipy.fft as sfft

from .errors import ConvolabError, not_one_of
from .signal import convolve

__all__ = [
    "FrequencyGrid", "Spectrum", "Compressed", "TheoremCheck", "LinearFromCircular",
    "frequency_grid", "spectrum",
    "lowpass_mask", "highpass_mask", "bandpass_mask", "circular_mask",
    "filter_frequency", "butterworth", "compress",
    "circular_convolve", "convolution_theorem", "linear_from_circular",
]

KINDS = ("ideal", "gaussian", "butterworth")
COMPRESS_MODES = ("largest", "lowpass")


# ---------------------------------------------------------------------------
# results


class FrequencyGrid(NamedTuple):
    """The frequencies of a DFT grid, in cycles per sample.

    ``frequencies[i]`` is the 1-D array of frequencies along axis ``i``
    (``scipy.fft.fftfreq(n)``, shifted with ``fftshift`` when ``centered``).
    """

    frequencies: tuple
    centered: bool

    @property
    def shape(self) -> tuple:
        """The grid's shape."""
        return tuple(len(f) for f in self.frequencies)

    @property
    def radius(self) -> np.ndarray:
        """Radial frequency ``sqrt(f0² + f1² + ...)`` at every grid point, in
        cycles per sample: 0 at DC, 0.5 at the Nyquist frequency of one axis,
        at most ``0.5 * sqrt(ndim)`` in a corner."""
        return np.sqrt(_radius2(self.frequencies))


class Spectrum(NamedTuple):
    """Magnitude and phase of a transform, with the frequencies of its axes."""

    magnitude: np.ndarray    #: ``|X|``, or ``log1p(|X|)`` when ``log=True``
    phase: np.ndarray        #: ``angle(X)`` in radians, in ``(-pi, pi]``
    frequencies: tuple       #: per spatial axis, cycles per sample
    centered: bool


class Compressed(NamedTuple):
    """What :func:`compress` kept and what it cost."""

    reconstruction: np.ndarray   #: the image rebuilt from the kept coefficients
    kept_fraction: float         #: kept coefficients / all coefficients
    relative_rms: float          #: ``||x - rec|| / ||x||``
    psnr: float                  #: ``10 log10(data_range² / mse)`` in dB (inf when exact)
    mask: np.ndarray             #: the kept coefficients (bool, unshifted layout)


class TheoremCheck(NamedTuple):
    """Both sides of the convolution theorem."""

    frequency_side: np.ndarray   #: ``ifftn(fftn(x) * fftn(k))``
    direct_side: np.ndarray      #: the wrap-around sum, computed directly
    max_abs_difference: float


class LinearFromCircular(NamedTuple):
    """Circular convolution made linear by zero padding."""

    circular: np.ndarray         #: circular convolution of the zero-padded arrays
    linear: np.ndarray           #: ``convolab.convolve(x, k, mode='full')``
    wrapped: np.ndarray          #: circular convolution without padding (period ``x.shape``)
    padded_shape: tuple          #: ``x.shape + k.shape - 1``
    max_abs_difference: float    #: between ``circular`` and ``linear``


# ---------------------------------------------------------------------------
# argument checks (every message names the argument, its value and what is allowed)


def _shape(shape: Any, name: str = "shape") -> tuple:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ConvolabError(f"{name}={shape!r} is not allowed: give a tuple of "
                            "positive integers") from None
    ok = len(dims) >= 1 and all(isinstance(d, (int, np.integer))
                                and not isinstance(d, (bool, np.bool_)) and d >= 1 for d in dims)
    if not ok:
        raise ConvolabError(f"{name}={shape!r} is not allowed: give a tuple of "
                            "positive integers (at least one axis)")
    return tuple(int(d) for d in dims)


def _positive(value: Any, name: str, upper: float | None = None, upper_text: str = "") -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if isinstance(value, (bool, np.bool_)) or not math.isfinite(v) or v <= 0 or (
            upper is not None and v > upper):
        allowed = f"0 < {name} <= {upper_text or upper}" if upper is not None else f"{name} > 0"
        raise ConvolabError(f"{name}={value!r} is not allowed: need {allowed}")
    return v


def _cutoff(value: Any, name: str, ndim: int) -> float:
    # the farthest point of the grid, a corner, is at 0.5*sqrt(ndim) cycles/sample
    top = 0.5 * math.sqrt(ndim)
    return _positive(value, name, top, f"0.5*sqrt(ndim) = {top:.4g}")


def _kind(kind: Any) -> str:
    if kind not in KINDS:
        raise not_one_of("kind", kind, KINDS)
    return kind


def _array(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biufc":
        raise ConvolabError(f"{name} has dtype {arr.dtype!r}; allowed: bool, integer, "
                            "float and complex arrays")
    if arr.ndim == 0 or arr.size == 0:
        raise ConvolabError(f"{name} has shape {arr.shape}; allowed: a non-empty array "
                            "with at least one axis")
    return arr


def _spatial_axes(ndim: int, channel_axis: Any) -> tuple[tuple, int | None]:
    """The transformed axes: all but the channel axis."""
    if channel_axis is None:
        return tuple(range(ndim)), None
    is_int = isinstance(channel_axis, (int, np.integer)) and not isinstance(channel_axis,
                                                                           (bool, np.bool_))
    if not is_int or not -ndim <= channel_axis < ndim or ndim < 2:
        raise ConvolabError(f"channel_axis={channel_axis!r} is not allowed for an image with "
                            f"{ndim} dimensions: need None or an integer in [{-ndim}, {ndim - 1}] "
                            "and at least one other axis")
    c = int(channel_axis) % ndim
    return tuple(a for a in range(ndim) if a != c), c


def _float_dtypes(dtype: np.dtype) -> tuple[np.dtype, np.dtype]:
    """(working dtype, real dtype): float32 stays float32, integers become float64."""
    if dtype.kind == "c":
        work = np.dtype(np.complex64) if dtype == np.complex64 else np.dtype(np.complex128)
    elif dtype in (np.float16, np.float32):
        work = np.dtype(np.float32)
    else:
        work = np.dtype(np.float64)
    return work, np.empty(0, work).real.dtype


# ---------------------------------------------------------------------------
# grids and spectra


def _axis_frequencies(n: int, centered: bool) -> np.ndarray:
    f = sfft.fftfreq(n)
    return sfft.fftshift(f) if centered else f


def _radius2(frequencies: Any) -> np.ndarray:
    """``f0² + f1² + ...`` broadcast over the grid."""
    grids = np.meshgrid(*frequencies, indexing="ij", sparse=True)
    total = functools.reduce(np.add, [g * g for g in grids])
    return np.broadcast_to(total, tuple(len(f) for f in frequencies)).copy()


def frequency_grid(shape: Any, *, centered: bool = True) -> FrequencyGrid:
    """The frequencies of each axis of a DFT of ``shape``, in cycles per sample.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the transformed array.
    centered : bool, optional
        ``True`` (default): ascending order, DC in the middle (the layout of
        ``scipy.fft.fftshift``, the one to plot).  ``False``: the order of
        ``scipy.fft.fftn``'s output (DC first).

    Returns
    -------
    FrequencyGrid
        ``frequencies`` (one 1-D array per axis) and ``centered``; the
        ``radius`` property is the radial frequency at every point.

    Examples
    --------
    >>> from convolab.freq import frequency_grid
    >>> g = frequency_grid((4, 5))
    >>> print(g.frequencies[0], g.frequencies[1])
    [-0.5  -0.25  0.    0.25] [-0.4 -0.2  0.   0.2  0.4]
    >>> print(g.radius.shape, g.radius[2, 2], round(float(g.radius.max()), 4))
    (4, 5) 0.0 0.6403
    >>> print(frequency_grid(4, centered=False).frequencies[0])
    [ 0.    0.25 -0.5  -0.25]
    """
    dims = _shape(shape)
    return FrequencyGrid(tuple(_axis_frequencies(n, bool(centered)) for n in dims), bool(centered))


def spectrum(image: Any, *, centered: bool = True, log: bool = True,
             channel_axis: Any = None) -> Spectrum:
    """Magnitude and phase of the N-D Fourier transform of ``image``.

    Parameters
    ----------
    image : array_like
        Real or complex, any number of dimensions.
    centered : bool, optional
        Shift DC to the middle (default), the usual way to show a spectrum.
    log : bool, optional
        Return ``log1p(|X|)`` (default) instead of ``|X|``: an image's
        spectrum spans many orders of magnitude and the logarithm makes the
        weak high frequencies visible.
    channel_axis : int, optional
        Axis of colour channels, transformed one channel at a time.

    Returns
    -------
    Spectrum
        ``magnitude``, ``phase`` (radians), ``frequencies`` (one array per
        spatial axis, cycles per sample, in the layout asked for) and
        ``centered``.  ``X`` itself is ``expm1(magnitude) * exp(1j * phase)``
        (or ``magnitude * exp(1j * phase)`` with ``log=False``).

    Examples
    --------
    A wave of 2 cycles over 8 samples sits at ±0.25 cycles per sample:

    >>> import numpy as np
    >>> from convolab.freq import spectrum
    >>> x = np.cos(2 * np.pi * 2 * np.arange(8) / 8)
    >>> s = spectrum(x, log=False)
    >>> print(s.frequencies[0])
    [-0.5   -0.375 -0.25  -0.125  0.     0.125  0.25   0.375]
    >>> print(np.round(s.magnitude, 6) + 0)
    [0. 0. 4. 0. 0. 0. 4. 0.]
    """
    x = _array(image, "image")
    axes, _ = _spatial_axes(x.ndim, channel_axis)
    X = sfft.fftn(x, axes=axes)
    if centered:
        X = sfft.fftshift(X, axes=axes)
    mag = np.abs(X)
    freqs = tuple(_axis_frequencies(x.shape[a], bool(centered)) for a in axes)
    return Spectrum(np.log1p(mag) if log else mag, np.angle(X), freqs, bool(centered))


# ---------------------------------------------------------------------------
# masks


def _gain(r2: np.ndarray, cutoff: float, kind: str, order: float, high: bool) -> np.ndarray:
    """Gain of a radial filter at squared radial frequency ``r2``.

    The high-pass forms are written so that they keep full precision near DC
    (``q/(1+q)`` rather than ``1 - 1/(1+q)``).
    """
    c2 = cutoff * cutoff
    if kind == "ideal":
        return (r2 > c2 if high else r2 <= c2).astype(np.float64)
    if kind == "gaussian":
        t = -r2 / (2.0 * c2)
        return -np.expm1(t) if high else np.exp(t)
    q = np.power(r2 / c2, order)                 # (r/c)^(2n)
    if high:
        with np.errstate(divide="ignore"):       # q = 0 at DC: 1/(1+inf) = 0
            return 1.0 / (1.0 + 1.0 / q)
    return 1.0 / (1.0 + q)


def _radial_mask(shape: Any, cutoff: Any, kind: Any, order: Any, centered: bool,
                 high: bool, name: str = "cutoff") -> np.ndarray:
    dims = _shape(shape)
    c = _cutoff(cutoff, name, len(dims))
    kind = _kind(kind)
    n = _positive(order, "order") if kind == "butterworth" else 2.0
    r2 = _radius2([_axis_frequencies(d, bool(centered)) for d in dims])
    return _gain(r2, c, kind, n, high)


def lowpass_mask(shape: Any, cutoff: Any, *, kind: str = "ideal", order: float = 2.0,
                 centered: bool = False) -> np.ndarray:
    """A radial low-pass mask: gain 1 at DC, falling off beyond ``cutoff``.

    With ``r`` the radial frequency and ``c`` the cutoff, both in cycles per
    sample:

    ============  ================================  ===================
    kind          gain ``H(r)``                     gain at ``r = c``
    ============  ================================  ===================
    ideal         ``1`` if ``r <= c`` else ``0``    1
    gaussian      ``exp(-r² / (2 c²))``             ``exp(-1/2)`` = 0.607
    butterworth   ``1 / (1 + (r / c)^(2 n))``       0.5
    ============  ================================  ===================

    The Gaussian's ``cutoff`` is its standard deviation in frequency; the
    Butterworth is the squared form of image-processing textbooks (and
    ``skimage.filters.butterworth``'s default), of order ``n = order``.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the transform the mask multiplies (any number of axes).
    cutoff : float
        In cycles per sample, ``0 < cutoff <= 0.5 * sqrt(ndim)`` (0.5 is the
        Nyquist frequency of one axis; a corner of the grid is at
        ``0.5 * sqrt(ndim)``).
    kind : {'ideal', 'gaussian', 'butterworth'}, optional
    order : float, optional
        Butterworth order ``n > 0`` (steeper for larger ``n``); ignored by
        the other kinds.
    centered : bool, optional
        ``False`` (default): the layout of ``scipy.fft.fftn`` (DC at index 0),
        ready for :func:`filter_frequency`.  ``True``: DC in the middle.

    Returns
    -------
    ndarray of float64, shape ``shape``

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.freq import lowpass_mask
    >>> print(lowpass_mask(8, 0.2))
    [1. 1. 0. 0. 0. 0. 0. 1.]
    >>> print(lowpass_mask((5, 5), 0.3, centered=True).astype(int))
    [[0 0 0 0 0]
     [0 1 1 1 0]
     [0 1 1 1 0]
     [0 1 1 1 0]
     [0 0 0 0 0]]
    >>> print(np.round(lowpass_mask(8, 0.25, kind='butterworth', order=2), 4))
    [1.     0.9412 0.5    0.1649 0.0588 0.1649 0.5    0.9412]
    """
    return _radial_mask(shape, cutoff, kind, order, centered, high=False)


def highpass_mask(shape: Any, cutoff: Any, *, kind: str = "ideal", order: float = 2.0,
                  centered: bool = False) -> np.ndarray:
    """A radial high-pass mask: ``1 - lowpass_mask(...)`` with the same arguments.

    Gain 0 at DC, so the filtered image has zero mean; what is left are the
    edges and fine texture.  Parameters are those of :func:`lowpass_mask`.

    Examples
    --------
    >>> from convolab.freq import highpass_mask
    >>> print(highpass_mask(8, 0.2))
    [0. 0. 1. 1. 1. 1. 1. 0.]
    """
    return _radial_mask(shape, cutoff, kind, order, centered, high=True)


def bandpass_mask(shape: Any, low: Any, high: Any, *, kind: str = "ideal", order: float = 2.0,
                  centered: bool = False) -> np.ndarray:
    """A radial band-pass mask: a high-pass at ``low`` times a low-pass at ``high``.

    The product is the two filters applied one after the other.  For
    ``kind='ideal'`` it keeps exactly ``low < r <= high``.

    Parameters
    ----------
    shape : int or tuple of int
    low, high : float
        Cutoffs in cycles per sample, ``0 < low < high <= 0.5 * sqrt(ndim)``.
    kind, order, centered
        As in :func:`lowpass_mask`.

    Examples
    --------
    >>> from convolab.freq import bandpass_mask
    >>> print(bandpass_mask(10, 0.15, 0.35))
    [0. 0. 1. 1. 0. 0. 0. 1. 1. 0.]
    """
    lo = _radial_mask(shape, low, kind, order, centered, high=True, name="low")
    if not float(low) < _cutoff(high, "high", lo.ndim):
        raise ConvolabError(f"low={low!r}, high={high!r} is not allowed: need low < high")
    return lo * _radial_mask(shape, high, kind, order, centered, high=False, name="high")


def circular_mask(shape: Any, radius: Any, *, center: Any = None,
                  invert: bool = False) -> np.ndarray:
    """A disc of ones on zeros (``invert=True``: of zeros on ones), in pixels.

    The seed's picture of a low-pass filter: on the *centred* spectrum (DC in
    the middle) keep a circle of low frequencies and set everything outside
    to zero.  Use it with ``filter_frequency(image, mask, centered=True)``.
    The radius is in samples of the spectrum; on an ``N × N`` image a radius
    of ``R`` pixels is a cutoff of ``R / N`` cycles per sample.

    Parameters
    ----------
    shape : int or tuple of int
        Any number of axes (a ball in 3-D).
    radius : float
        ``> 0``; points at distance ``<= radius`` from ``center`` are inside.
    center : sequence of float, optional
        Default ``n // 2`` on each axis, where ``scipy.fft.fftshift`` puts DC.
    invert : bool, optional
        ``True`` gives zeros inside and ones outside (a high-pass).

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> from convolab.freq import circular_mask
    >>> print(circular_mask((5, 7), 2).astype(int))
    [[0 0 0 1 0 0 0]
     [0 0 1 1 1 0 0]
     [0 1 1 1 1 1 0]
     [0 0 1 1 1 0 0]
     [0 0 0 1 0 0 0]]
    """
    dims = _shape(shape)
    r = _positive(radius, "radius")
    if center is None:
        ctr = tuple(d // 2 for d in dims)
    else:
        try:
            ctr = tuple(float(c) for c in center)
        except (TypeError, ValueError):
            ctr = ()
        if len(ctr) != len(dims) or not all(math.isfinite(c) for c in ctr):
            raise ConvolabError(f"center={center!r} is not allowed: need {len(dims)} finite "
                                f"numbers, one per axis of shape {dims}")
    d2 = _radius2([np.arange(d) - c for d, c in zip(dims, ctr)])
    inside = d2 <= r * r
    return (~inside if invert else inside).astype(np.float64)


# ---------------------------------------------------------------------------
# filtering


def _reversed_frequencies(m: np.ndarray, axes: tuple) -> np.ndarray:
    """``m`` at ``-f``: index ``i`` -> ``(-i) mod n`` on each axis (unshifted layout)."""
    return np.roll(np.flip(m, axis=axes), 1, axis=axes)


def _apply(x: np.ndarray, mask: np.ndarray, axes: tuple, shape: tuple, real: bool) -> np.ndarray:
    """``ifftn(mask * fftn(x))`` over ``axes``; ``mask`` is the half (rfftn)
    layout when ``real``, already broadcast against ``x``."""
    if real:
        return sfft.irfftn(mask * sfft.rfftn(x, axes=axes), s=shape, axes=axes)
    return sfft.ifftn(mask * sfft.fftn(x, axes=axes), s=shape, axes=axes)


def filter_frequency(image: Any, mask: Any, *, centered: bool = False,
                     channel_axis: Any = None) -> np.ndarray:
    """Filter in the frequency domain: ``ifftn(mask * fftn(image))``.

    By the convolution theorem this is the circular convolution of the image
    with ``ifftn(mask)``: every mask is a convolution kernel that wraps
    around the edges.

    Parameters
    ----------
    image : array_like
        Real or complex, any number of dimensions.
    mask : array_like
        The gain of every frequency, shaped like the image's spatial axes,
        real or complex.  Masks from :func:`lowpass_mask` and friends fit.
    centered : bool, optional
        ``True`` when ``mask`` is in the centred layout (DC in the middle,
        as from :func:`circular_mask` or ``centered=True``).
    channel_axis : int, optional
        Axis of colour channels; each channel is filtered with the same mask.

    Returns
    -------
    ndarray
        Real for real input: the real part of ``ifftn(mask * fftn(image))``,
        computed with ``rfftn`` from the Hermitian part of the mask
        ``(mask(f) + conj(mask(-f))) / 2`` (the two agree exactly; radial
        masks are their own Hermitian part).  Complex for complex input.
        float32 input stays float32, integers become float64.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.freq import filter_frequency, lowpass_mask
    >>> x = np.array([0., 0, 0, 4, 0, 0, 0, 0])
    >>> print(np.round(filter_frequency(x, np.ones(8)), 6) + 0)
    [0. 0. 0. 4. 0. 0. 0. 0.]
    >>> print(np.round(filter_frequency(x, lowpass_mask(8, 0.2)), 3))
    [-0.207  0.5    1.207  1.5    1.207  0.5   -0.207 -0.5  ]
    """
    x = _array(image, "image")
    axes, chan = _spatial_axes(x.ndim, channel_axis)
    shape = tuple(x.shape[a] for a in axes)
    m = np.asarray(mask)
    if m.dtype.kind not in "biufc":
        raise ConvolabError(f"mask has dtype {m.dtype!r}; allowed: bool, integer, float and "
                            "complex arrays")
    if m.shape != shape:
        raise ConvolabError(f"mask has shape {m.shape}; allowed: the shape of the image's "
                            f"spatial axes {shape} (image {x.shape}, "
                            f"channel_axis={channel_axis!r})")
    work, real_dtype = _float_dtypes(x.dtype)
    x = x.astype(work, copy=False)
    if centered:
        m = sfft.ifftshift(m)
    # the mask at the image's precision: a float64 mask leaves float32 data float32
    m = m.astype(np.result_type(real_dtype, np.complex64) if m.dtype.kind == "c" else real_dtype,
                 copy=False)
    real = x.dtype.kind != "c"
    maxes = tuple(range(m.ndim))
    if real:
        # the real part of the full result is the result with the Hermitian part of the mask
        if m.dtype.kind == "c":
            m = 0.5 * (m + np.conj(_reversed_frequencies(m, maxes)))
        else:
            m = 0.5 * (m + _reversed_frequencies(m, maxes))
        m = m[..., : shape[-1] // 2 + 1]
    if chan is not None:
        m = np.expand_dims(m, chan)
    return _apply(x, m, axes, shape, real)


def butterworth(image: Any, cutoff_frequency_ratio: float = 0.005, high_pass: bool = True,
                order: float = 2.0, channel_axis: Any = None, *,
                squared_butterworth: bool = True, npad: int = 0) -> np.ndarray:
    """``skimage.filters.butterworth``: same parameters, same results.

    The gain at radial frequency ``f`` (cycles per sample) is, for
    ``c = cutoff_frequency_ratio`` and ``n = order``::

        low-pass   H(f) = 1 / (1 + (f / c)^(2n))
        high-pass  H(f) = 1 - 1 / (1 + (f / c)^(2n))

    with ``squared_butterworth=True`` (the textbook image-processing form,
    gain 0.5 at ``f = c``), or their square roots with ``False`` (the
    classical Butterworth, gain ``1/sqrt(2)`` at ``f = c``).

    Parameters
    ----------
    image : array_like
        ``(M[, N[, ..., P]][, C])``, real or complex.
    cutoff_frequency_ratio : float, optional
        ``c`` as a fraction of the sampling frequency, ``0 < c <= 0.5``.
        (scikit-image also accepts 0, which divides by zero and gives NaN.)
    high_pass : bool, optional
        High-pass (default) or low-pass.
    order : float, optional
        ``n > 0``; larger is steeper.
    channel_axis : int, optional
        Axis of colour channels, each filtered alone.
    squared_butterworth : bool, optional, keyword-only
    npad : int, optional, keyword-only
        Extend each spatial edge by ``npad`` samples with edge replication
        (boundary ``'nearest'``) before filtering, and crop afterwards: this
        reduces the wrap-around of the circular convolution at the edges.

    Returns
    -------
    ndarray
        Real (float32 for float16/float32 input, else float64) for real
        input, complex for complex input; the shape of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.freq import butterworth
    >>> x = np.zeros((8, 8)); x[:, 4:] = 1
    >>> low = butterworth(x, 0.2, high_pass=False, order=3)
    >>> print(np.round(low[0], 3))
    [ 0.258 -0.067 -0.067  0.258  0.742  1.067  1.067  0.742]
    >>> high = butterworth(x, 0.2, high_pass=True, order=3)
    >>> bool(np.allclose(low + high, x))
    True
    """
    x = _array(image, "image")
    c = _positive(cutoff_frequency_ratio, "cutoff_frequency_ratio", 0.5)
    n = _positive(order, "order")
    if isinstance(npad, (bool, np.bool_)) or not isinstance(npad, (int, np.integer)) or npad < 0:
        raise ConvolabError(f"npad={npad!r} is not allowed: need an integer >= 0")
    axes, chan = _spatial_axes(x.ndim, channel_axis)
    work, real_dtype = _float_dtypes(x.dtype)
    x = x.astype(work, copy=False)
    if npad:
        width = [(0, 0) if a == chan else (int(npad), int(npad)) for a in range(x.ndim)]
        x = np.pad(x, width, mode="edge")       # convolab's boundary 'nearest'
    shape = tuple(x.shape[a] for a in axes)
    real = x.dtype.kind != "c"
    freqs = [sfft.fftfreq(d) for d in shape]
    if real:
        freqs[-1] = sfft.rfftfreq(shape[-1])   # rfftn keeps the non-negative half of the last axis
    gain = _gain(_radius2(freqs), c, "butterworth", n, high=bool(high_pass))
    if not squared_butterworth:
        gain = np.sqrt(gain)
    gain = gain.astype(real_dtype, copy=False)
    if chan is not None:
        gain = np.expand_dims(gain, chan)
    out = _apply(x, gain, axes, shape, real)
    if npad:
        crop = tuple(slice(None) if a == chan else slice(int(npad), x.shape[a] - int(npad))
                     for a in range(x.ndim))
        out = out[crop]
    return out


# ---------------------------------------------------------------------------
# the JPEG analogy


def compress(image: Any, keep: Any, *, mode: str = "largest", data_range: Any = None) -> Compressed:
    """Keep a fraction of the Fourier coefficients and transform back.

    The seed's JPEG analogy: transform, keep some frequencies, set the rest
    to zero, transform back.  By Parseval's theorem the squared error is the
    energy of the dropped coefficients, so keeping the largest ones gives the
    smallest error for a given count, and the error can only fall as
    ``keep`` grows.  (JPEG uses a cosine transform on 8 × 8 blocks and
    quantizes instead of dropping, but the idea is the same.)

    Parameters
    ----------
    image : array_like
        Real or complex, any number of dimensions (all are transformed).
    keep : float
        Fraction of coefficients to keep, ``0 < keep <= 1``; ``1`` rebuilds
        the image exactly (to rounding).
    mode : {'largest', 'lowpass'}, optional
        ``'largest'`` (default): the coefficients of largest magnitude.
        ``'lowpass'``: the lowest radial frequencies, a centred disc (the
        seed's circle), whatever the image.
    data_range : float, optional
        Peak value for the PSNR; default ``max - min`` of a real image,
        ``max |x|`` of a complex or constant one.

    Returns
    -------
    Compressed
        ``reconstruction`` (real for real input), ``kept_fraction`` (the
        fraction actually kept: ``round(keep * size)`` coefficients, plus
        the partners needed to keep a real image real, plus ties at the
        disc's edge in ``'lowpass'`` mode), ``relative_rms``, ``psnr`` (dB)
        and ``mask`` (the kept coefficients, unshifted layout).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.freq import compress
    >>> x = (np.arange(64).reshape(8, 8) * 7 % 11).astype(float)
    >>> for keep in (0.1, 0.25, 0.5):
    ...     c = compress(x, keep)
    ...     print(c.kept_fraction, round(c.relative_rms, 3), round(c.psnr, 1))
    0.109375 0.331 14.2
    0.265625 0.229 17.4
    0.546875 0.119 23.1
    >>> print(compress(x, 1.0).relative_rms < 1e-15)
    True

    Seven coefficients for ``keep=0.1``: ``round(6.4) = 6`` and the partner of
    the sixth, so that the reconstruction stays real.
    """
    x = _array(image, "image")
    k = _positive(keep, "keep", 1.0)
    if mode not in COMPRESS_MODES:
        raise not_one_of("mode", mode, COMPRESS_MODES)
    work, _ = _float_dtypes(x.dtype)
    x = x.astype(np.result_type(work, np.float64), copy=False)
    real = x.dtype.kind != "c"
    X = sfft.fftn(x)
    n_keep = min(x.size, max(1, int(round(k * x.size))))
    axes = tuple(range(x.ndim))
    if mode == "largest":
        mag = np.abs(X)
        if real:
            # X(-f) = conj(X(f)) for real x: rank both partners alike (a + b == b + a
            # exactly), so they sit next to each other in the order
            mag = mag + _reversed_frequencies(mag, axes)
        order = np.argsort(-mag, axis=None, kind="stable")
        kept = np.zeros(x.size, dtype=bool)
        kept[order[:n_keep]] = True
        kept = kept.reshape(x.shape)
        if real:
            # a kept coefficient without its partner would make the result complex
            kept |= _reversed_frequencies(kept, axes)
    else:
        r2 = _radius2([sfft.fftfreq(d) for d in x.shape])
        threshold = np.partition(r2, n_keep - 1, axis=None)[n_keep - 1]
        kept = r2 <= threshold               # the whole disc: ties at its edge stay in
    rec = sfft.ifftn(np.where(kept, X, 0))
    if real:
        rec = rec.real
    diff = x - rec
    mse = float(np.mean(np.abs(diff) ** 2))
    norm = float(np.sqrt(np.mean(np.abs(x) ** 2)))
    rel = math.sqrt(mse) / norm if norm > 0 else (0.0 if mse == 0 else math.inf)
    if data_range is None:
        peak = float(x.max() - x.min()) if real else 0.0
        if peak == 0:       # complex, or a constant image: the largest magnitude
            peak = float(np.abs(x).max())
    else:
        peak = _positive(data_range, "data_range")
    with np.errstate(divide="ignore"):      # an all-zero image with an error: -inf
        psnr = float(10 * np.log10(np.float64(peak) ** 2 / np.float64(mse))) if mse else math.inf
    return Compressed(rec, float(kept.sum()) / x.size, rel, psnr, kept)


# ---------------------------------------------------------------------------
# the convolution theorem


def _pair(x: Any, k: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _array(x, "x"), _array(k, "k")
    if a.ndim != b.ndim:
        raise ConvolabError(f"x and k should have the same number of dimensions "
                            f"(x has shape {a.shape}, k has shape {b.shape})")
    return a, b


def _periodize(k: np.ndarray, shape: tuple) -> np.ndarray:
    """Place ``k`` on a grid of ``shape`` starting at the origin: zero-pad the
    short axes, fold the long ones (``k[m]`` lands on ``m mod n``)."""
    for axis, n in enumerate(shape):
        length = k.shape[axis]
        reps = -(-length // n)
        widths = [(0, 0)] * k.ndim
        widths[axis] = (0, reps * n - length)
        k = np.pad(k, widths)
        k = k.reshape(k.shape[:axis] + (reps, n) + k.shape[axis + 1:]).sum(axis=axis)
    return k


def circular_convolve(x: Any, k: Any, *, method: str = "auto") -> np.ndarray:
    """Circular convolution: ``out[n] = sum_m k[m] x[(n - m) mod N]``, on every axis.

    The kernel slides off one edge and comes back on the other: the grid is
    a torus of shape ``x.shape``.  This is what a product of DFTs computes
    (:func:`convolution_theorem`).  It is computed here without any
    transform, as ``convolab.convolve(x, k, mode='same', boundary='wrap')``
    rolled by ``(len(k) - 1) // 2`` on each axis so that ``out[0]`` is the
    sum for ``n = 0``.

    Parameters
    ----------
    x : array_like
        The signal; its shape is the period.
    k : array_like
        The kernel, with as many dimensions as ``x``.  Usually the same size;
        a shorter kernel counts as zero-padded, a longer one wraps around
        (``k[m]`` acts at ``m mod N``).
    method : str, optional
        Passed to :func:`convolab.convolve` (``'auto'`` lets the planner
        choose).

    Returns
    -------
    ndarray
        Shape ``x.shape``, dtype ``numpy.result_type(x, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.freq import circular_convolve
    >>> circular_convolve(np.array([1, 2, 3, 4]), np.array([0, 1, 0, 0]))
    array([4, 1, 2, 3])
    >>> circular_convolve(np.array([1., 2, 3, 4]), np.array([1., 1, 0, 0]))
    array([5., 3., 5., 7.])
    """
    a, b = _pair(x, k)
    same = convolve(a, b, mode="same", boundary="wrap", method=method)
    shifts = tuple((m - 1) // 2 for m in b.shape)
    return np.roll(same, shifts, axis=tuple(range(a.ndim)))


def convolution_theorem(x: Any, k: Any) -> TheoremCheck:
    """Check ``ifftn(fftn(x) * fftn(k)) == circular_convolve(x, k)``.

    The seed's claim "convolution in space is a pointwise product in
    frequency", as a computation: the left side multiplies the transforms
    (``k`` placed on ``x``'s grid as :func:`circular_convolve` places it),
    the right side sums the wrap-around products directly
    (``method='direct'``, no transform).  Both in float64 (complex128 when
    either input is complex); the difference is rounding, about ``1e-15``
    times the size of the values.

    Parameters
    ----------
    x, k : array_like
        Same number of dimensions, any sizes (``x.shape`` is the period).

    Returns
    -------
    TheoremCheck
        ``frequency_side``, ``direct_side``, ``max_abs_difference``.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.freq import convolution_theorem
    >>> rng = np.random.default_rng(0)
    >>> t = convolution_theorem(rng.standard_normal((6, 5)), rng.standard_normal((6, 5)))
    >>> print(t.frequency_side.shape, t.max_abs_difference < 1e-12)
    (6, 5) True
    """
    a, b = _pair(x, k)
    dtype = np.result_type(a, b, np.float64)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    kp = _periodize(b, a.shape)
    if dtype.kind == "c":
        freq = sfft.ifftn(sfft.fftn(a) * sfft.fftn(kp))
    else:
        freq = sfft.irfftn(sfft.rfftn(a) * sfft.rfftn(kp), s=a.shape)
    direct = circular_convolve(a, b, method="direct")
    return TheoremCheck(freq, direct, float(np.max(np.abs(freq - direct))))


def linear_from_circular(x: Any, k: Any) -> LinearFromCircular:
    """Zero padding turns circular convolution into linear convolution.

    The linear (``full``) convolution of ``x`` and ``k`` has
    ``len(x) + len(k) - 1`` samples per axis.  A circular convolution of
    period ``N`` folds that result onto ``N`` samples: ``out[n]`` is the sum
    of ``full[n + j N]`` over ``j`` (the tail wraps around onto the start).
    Padding both arrays with zeros to at least ``len(x) + len(k) - 1`` leaves
    room for the whole result, so nothing wraps and the circular convolution
    (a product of DFTs) equals the linear one.  This is how FFT convolution
    (``convolab.fftconvolve``) works; it pads further, to a fast FFT length.

    Parameters
    ----------
    x, k : array_like
        Same number of dimensions.

    Returns
    -------
    LinearFromCircular
        ``circular`` (DFT product of the zero-padded arrays), ``linear``
        (``convolab.convolve(x, k, mode='full')``), ``wrapped`` (the circular
        convolution of period ``x.shape``, without padding),
        ``padded_shape`` and ``max_abs_difference`` between ``circular`` and
        ``linear``.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.freq import linear_from_circular
    >>> r = linear_from_circular(np.array([1., 2, 3]), np.array([1., 1]))
    >>> print(r.padded_shape, np.round(r.circular, 6), r.linear)
    (4,) [1. 3. 5. 3.] [1. 3. 5. 3.]
    >>> print(np.round(r.wrapped, 6))
    [4. 3. 5.]
    """
    a, b = _pair(x, k)
    padded = tuple(m + n - 1 for m, n in zip(a.shape, b.shape))
    dtype = np.result_type(a, b, np.float64)
    fa, fb = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    if dtype.kind == "c":
        circ = sfft.ifftn(sfft.fftn(fa, s=padded) * sfft.fftn(fb, s=padded))
    else:
        circ = sfft.irfftn(sfft.rfftn(fa, s=padded) * sfft.rfftn(fb, s=padded), s=padded)
    linear = convolve(a, b, mode="full")
    wrapped = circular_convolve(a, b)
    return LinearFromCircular(circ, linear, wrapped, padded, float(np.max(np.abs(circ - linear))))
