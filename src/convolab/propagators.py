"""Kernels as propagators: convolution read as diffusion, and read as chance.

A non-negative kernel that sums to 1 is a probability distribution over the
offsets of a neighbourhood.  Convolving an image with it moves every pixel's
"mass" to its neighbours with those probabilities, exactly as a drop of salt
spreads through water: the kernel is the *propagator* of a diffusion, and
applying it again and again spreads the information further, like heat.  This
module answers the fluid-mechanics and the probabilistic parts of seed 002
("Understanding Convolution in Deep Learning", part 4):

* :func:`normalize` turns any kernel into a probability density, by a
  numerically stable softmax (as the seed does for an edge detector) or by
  dividing by the L1 norm.
* :func:`diffuse` (and the lazy :func:`iter_diffuse`) apply the kernel
  ``steps`` times.  With ``boundary='wrap'`` nothing leaves the domain, so the
  total mass is conserved.
* :func:`heat_kernel` is the propagator of the heat equation
  ``du/dt = D * laplacian(u)`` after time ``t``: a Gaussian of
  ``sigma = sqrt(2 D t)``.  Heat kernels form a semigroup: diffusing for
  ``t1`` and then ``t2`` is diffusing for ``t1 + t2``.
* :func:`stochastic_convolve` is the seed's stochastic reading: every output
  pixel takes the value of *one* neighbour, drawn at random with the kernel's
  probabilities, and the mean over many draws is the convolution.  Its
  expectation is exactly ``convolve(image, kernel, mode='same',
  boundary=boundary)``; :func:`draw_variance` gives the variance of a single
  draw, and :func:`monte_carlo_error` measures how the error of the mean falls
  like ``1/sqrt(samples)``.

Orientation.  Convolution reverses the kernel:
``convolve(x, p, 'same')[i] = sum_j p[j] * x[i + c - j]`` with the
centre ``c = (k - 1) // 2`` on each axis (scipy.signal's ``same`` centring, so
an even kernel is centred on its upper middle sample).  Kernel entry ``j``
therefore sends the pixel at ``i + c - j`` to ``i``; the stochastic draws use
exactly these offsets, so the expectation matches for odd and even kernels
and every boundary.

All convolutions run through :func:`convolab.convolve`, so the planner picks
the algorithm; the Monte-Carlo draws are numpy indexing.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterator

import numpy as np

from .boundary import extend, normalize_boundary
from .errors import ConvolabError, format_bytes, not_one_of
from .kernels import _gaussian_1d as gaussian_weights

__all__ = ["normalize", "diffuse", "iter_diffuse", "heat_kernel", "stochastic_convolve",
           "draw_variance", "monte_carlo_error"]

# Draws are made in batches of about this many pixel values (a few MiB of
# temporaries), so memory does not grow with ``samples``.
_BATCH_ELEMENTS = 1 << 18

# diffuse(return_all=True) refuses to stack more than this; iter_diffuse streams.
_MAX_STACK_BYTES = 1 << 30

_NORMALIZATIONS = ("softmax", "l1")


# ---------------------------------------------------------------------------
# argument checks


def _real_array(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ConvolabError(f"{name} has dtype {arr.dtype}; allowed: bool, integer or real "
                            "floating-point values")
    if arr.size == 0:
        raise ConvolabError(f"{name} is empty (shape {arr.shape}); a kernel needs at least one "
                            "entry")
    return arr


def _numeric_array(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise ConvolabError(f"{name} has dtype {arr.dtype}; allowed: bool, integer, float or "
                            "complex values")
    return arr


def _count(value: Any, name: str, minimum: int) -> int:
    """An integer argument >= ``minimum``; a bool or a float is refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ConvolabError(f"{name}={value!r} must be an integer >= {minimum}")
    if value < minimum:
        raise ConvolabError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _real_number(value: Any, name: str, *, positive: bool = False) -> float:
    """A finite real number, >= 0 (or > 0 when ``positive``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConvolabError(f"{name}={value!r} must be a real number")
    x = float(value)
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        bound = "> 0" if positive else ">= 0"
        raise ConvolabError(f"{name}={value!r} must be a finite number {bound}")
    return x


def _generator(rng: Any) -> np.random.Generator:
    """``rng`` as a numpy Generator: None (fresh entropy), an int seed, a
    SeedSequence/BitGenerator, or a Generator (used as is, so it advances)."""
    if isinstance(rng, (bool, np.bool_)):
        raise ConvolabError(f"rng={rng!r} is not allowed; use None, an int seed or a "
                            "numpy.random.Generator")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise ConvolabError(f"rng={rng!r} is not allowed; use None, an int seed or a "
                            "numpy.random.Generator") from None


def _check_ndim(image: np.ndarray, kernel: np.ndarray) -> None:
    if image.ndim != kernel.ndim or image.ndim == 0:
        raise ConvolabError(f"image and kernel must have the same number of dimensions (at "
                            f"least 1): image has shape {image.shape}, kernel {kernel.shape}")


def _probabilities(kernel: Any) -> np.ndarray:
    """Check that ``kernel`` is a probability density and return it as float64."""
    k = _real_array(kernel, "kernel")
    kf = k.astype(np.float64) if k.dtype.kind in "biu" else k
    if np.isnan(kf).any():
        raise ConvolabError("kernel holds NaN; a propagator needs finite probabilities")
    if not np.isfinite(kf).all():
        raise ConvolabError("kernel holds an infinite value; a propagator needs finite "
                            "probabilities")
    if (kf < 0).any():
        raise ConvolabError(
            f"kernel has negative entries (min {float(kf.min()):.4g}), so it is not a "
            "probability density; turn it into one with "
            "convolab.propagators.normalize(kernel, how='softmax')")
    total = float(kf.sum(dtype=np.float64))
    tol = 1e-9 if kf.dtype.kind in "biu" else max(1e-9, 10 * float(np.finfo(kf.dtype).eps))
    if abs(total - 1.0) > tol:
        raise ConvolabError(
            f"kernel sums to {total!r}, not 1 (tolerance {tol:g}); scale it into a probability "
            "density with convolab.propagators.normalize(kernel, how='l1')")
    return np.asarray(kf, dtype=np.float64)


# ---------------------------------------------------------------------------
# normalization


def normalize(kernel: Any, how: str = "softmax", *, temperature: float = 1.0) -> np.ndarray:
    """Turn a kernel into a probability density (entries >= 0 that sum to 1).

    Parameters
    ----------
    kernel : array_like
        Real kernel of any shape.
    how : {'softmax', 'l1'}, optional
        ``'softmax'`` (default): ``exp(k / T) / sum(exp(k / T))``, computed
        after subtracting the maximum so that large entries (``1e4``) neither
        overflow nor lose the small ones; ``-inf`` entries get probability 0.
        ``'l1'``: ``k / sum(|k|)``; for a non-negative kernel this is the usual
        "divide by the sum" (astropy's ``normalize_kernel``), for a kernel with
        negative entries the result has unit L1 norm but is not a density.
    temperature : float, optional, keyword-only
        ``T > 0`` for the softmax: small ``T`` concentrates the mass on the
        largest entries, large ``T`` spreads it evenly.  Ignored by ``'l1'``.

    Returns
    -------
    ndarray
        Same shape as ``kernel``, float64 (extended precision is kept).

    Raises
    ------
    ConvolabError
        For an unknown ``how``, a non-real or empty kernel, NaN or ``+inf``
        entries, an all-``-inf`` kernel (softmax) or an all-zero kernel (l1).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.propagators import normalize
    >>> edge = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    >>> p = normalize(edge)                 # the seed's softmax of an edge detector
    >>> print(round(float(p.sum()), 12), round(float(p[1, 1]), 4))
    1.0 0.999
    >>> normalize([1e4, -1e4, 1e4])         # no overflow
    array([0.5, 0. , 0.5])
    >>> normalize([1, 2, 1], 'l1')
    array([0.25, 0.5 , 0.25])
    """
    if not isinstance(how, str) or how not in _NORMALIZATIONS:
        raise not_one_of("how", how, _NORMALIZATIONS)
    k = _real_array(kernel, "kernel")
    dtype = np.result_type(k.dtype, np.float64)
    k = k.astype(dtype)
    if np.isnan(k).any():
        raise ConvolabError("kernel holds NaN; normalize needs real, non-NaN entries")
    if how == "l1":
        if not np.isfinite(k).all():
            raise ConvolabError("kernel holds an infinite value; how='l1' needs finite entries")
        total = np.abs(k).sum()
        if total == 0:
            raise ConvolabError("kernel is all zeros, so how='l1' cannot normalize it (its L1 "
                                "norm is 0); use how='softmax' for a uniform density")
        return k / total
    t = _real_number(temperature, "temperature", positive=True)
    if np.isposinf(k).any():
        raise ConvolabError("kernel holds +inf; how='softmax' needs entries < +inf (-inf "
                            "gives probability 0)")
    z = k / dtype.type(t)
    top = z.max()
    if top == -np.inf:
        raise ConvolabError("kernel is -inf everywhere; how='softmax' has no mass to share")
    # exp(z - max) is at most 1, so it cannot overflow, and the largest
    # entry contributes exactly 1 to the sum, which therefore is >= 1.
    # Entries far below the maximum underflow to 0, which is their correct
    # probability in floating point: not an error.
    with np.errstate(under="ignore"):
        e = np.exp(z - top)
        return e / e.sum()


# ---------------------------------------------------------------------------
# diffusion


_DIFFUSE_MODES = ("same", "full")


def _check_diffusion(image: Any, kernel: Any, boundary: Any, mode: Any
                     ) -> tuple[np.ndarray, np.ndarray, str]:
    x = _numeric_array(image, "image")
    k = _numeric_array(kernel, "kernel")
    _check_ndim(x, k)
    if k.size == 0:
        raise ConvolabError(f"kernel is empty (shape {k.shape})")
    if not isinstance(mode, str) or mode not in _DIFFUSE_MODES:
        raise not_one_of("mode", mode, _DIFFUSE_MODES,
                         "'same' keeps the domain; 'full' grows it by the kernel size minus 1 "
                         "each step (free space, with boundary='fill')")
    b = normalize_boundary(boundary)
    if mode == "full" and b != "fill":
        raise ConvolabError(f"mode='full' with boundary={boundary!r}: a growing (free-space) "
                            "domain has nothing beyond its edge; use boundary='fill', or "
                            "mode='same' to keep the domain with that boundary")
    return x, k, b


def iter_diffuse(image: Any, kernel: Any, steps: int | None = None, *, boundary: str = "wrap",
                 mode: str = "same", method: str = "auto") -> Iterator[np.ndarray]:
    """Yield the image after 0, 1, 2, ... applications of ``kernel``.

    The lazy form of :func:`diffuse`: only the current step is held in memory.

    Parameters
    ----------
    image, kernel, boundary, mode, method
        As in :func:`diffuse`.
    steps : int or None, optional
        The last step to yield (``steps + 1`` arrays in all); None: no end.

    Yields
    ------
    ndarray
        Step 0 is ``image`` itself (as an array); step ``n`` is step ``n - 1``
        convolved with ``kernel``.

    Examples
    --------
    >>> from convolab.propagators import iter_diffuse
    >>> for u in iter_diffuse([0., 0., 4., 0., 0.], [0.25, 0.5, 0.25], 2):
    ...     print(u)
    [0. 0. 4. 0. 0.]
    [0. 1. 2. 1. 0.]
    [0.25 1.   1.5  1.   0.25]
    """
    from .signal import convolve
    x, k, b = _check_diffusion(image, kernel, boundary, mode)
    last = None if steps is None else _count(steps, "steps", 0)

    def generate() -> Iterator[np.ndarray]:
        u = x.copy()            # step 0 is a copy: the caller's array stays theirs
        n = 0
        yield u
        while last is None or n < last:
            u = convolve(u, k, mode=mode, method=method, boundary=b)
            n += 1
            yield u

    return generate()


def diffuse(image: Any, kernel: Any, steps: int, *, boundary: str = "wrap", mode: str = "same",
            method: str = "auto", return_all: bool = False) -> np.ndarray:
    """Apply a propagator ``steps`` times: discrete diffusion of ``image``.

    Each step is ``convolab.convolve(u, kernel, mode=mode, boundary=boundary,
    method=method)``.  With a non-negative kernel that sums to 1 (see
    :func:`normalize`) every step redistributes each pixel's mass over its
    neighbours; with ``boundary='wrap'`` (the default, a torus) none leaves the
    domain, so ``image.sum()`` is conserved to rounding.  ``'fill'`` lets mass
    flow out at the edges (an absorbing wall), ``'symm'``/``'reflect'``/
    ``'nearest'`` are the usual extensions (``'symm'`` with a symmetric kernel
    is an insulating wall).

    Parameters
    ----------
    image : array_like
        The initial state, any number of dimensions.
    kernel : array_like
        The propagator, same number of dimensions as ``image``.  It is used
        as given (not normalized).
    steps : int
        Number of applications, >= 0.
    boundary : str, optional, keyword-only
        ``'fill'`` (zeros), ``'wrap'`` (default), ``'symm'``, ``'reflect'`` or
        ``'nearest'``; see :mod:`convolab.boundary`.
    mode : {'same', 'full'}, optional, keyword-only
        ``'same'`` (default) keeps the domain.  ``'full'`` grows it by
        ``kernel.shape - 1`` each step, so nothing is ever cut off: free-space
        diffusion, exact and mass conserving; it needs ``boundary='fill'``.
    method : str, optional, keyword-only
        Algorithm for each convolution (default: the planner's choice).
    return_all : bool, optional, keyword-only
        False (default): return the last step.  True: return every step
        0..steps stacked on a new first axis (``mode='same'`` only, at most
        1 GiB; :func:`iter_diffuse` streams any number of steps).

    Returns
    -------
    ndarray
        dtype ``numpy.result_type(image, kernel)``.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.propagators import diffuse
    >>> x = np.zeros(7); x[3] = 1
    >>> u = diffuse(x, [0.25, 0.5, 0.25], 3)
    >>> np.round(u * 64).astype(int)        # binomial coefficients: a random walk
    array([ 1,  6, 15, 20, 15,  6,  1])
    >>> round(float(diffuse(np.arange(5.), [0.2, 0.8], 50).sum()), 9)   # 'wrap' conserves mass
    10.0
    >>> diffuse(x, [0.5, 0.5], 2, return_all=True).shape
    (3, 7)
    """
    steps = _count(steps, "steps", 0)
    if not isinstance(return_all, (bool, np.bool_)):
        raise ConvolabError(f"return_all={return_all!r} must be True or False")
    frames = iter_diffuse(image, kernel, steps, boundary=boundary, mode=mode, method=method)
    if not return_all:
        for u in frames:
            pass
        return u
    if mode != "same":
        raise ConvolabError(f"return_all=True needs mode='same' (with mode={mode!r} every step "
                            "has another shape); iterate over "
                            "convolab.propagators.iter_diffuse(...) instead")
    x = np.asarray(image)
    dtype = np.result_type(x, np.asarray(kernel))
    need = (steps + 1) * x.size * dtype.itemsize
    if need > _MAX_STACK_BYTES:
        raise ConvolabError(f"return_all=True with steps={steps} would stack {format_bytes(need)} "
                            f"(more than {format_bytes(_MAX_STACK_BYTES)}); iterate over "
                            "convolab.propagators.iter_diffuse(...) to hold one step at a time")
    out = np.empty((steps + 1,) + x.shape, dtype=dtype)
    for n, u in enumerate(frames):
        out[n] = u
    return out


# ---------------------------------------------------------------------------
# the heat kernel


def heat_kernel(t: float, diffusivity: float = 1.0, shape: Any = None, *, ndim: int | None = None,
                truncate: float = 4.0) -> np.ndarray:
    """The propagator of the heat equation after time ``t``, sampled on a grid.

    The solution of ``du/dt = D * laplacian(u)`` (unit grid spacing) is the
    initial state convolved with a Gaussian of standard deviation
    ``sigma = sqrt(2 * D * t)`` on every axis.  This returns that Gaussian
    sampled at the integer offsets and normalized to sum 1, so that applying
    it conserves mass.  Heat kernels form a semigroup: ``heat_kernel(t1)``
    convolved with ``heat_kernel(t2)`` is ``heat_kernel(t1 + t2)`` up to the
    truncation of the tails (about ``exp(-truncate**2 / 2)`` of the mass) and
    the sampling on the grid (the spectrum aliases at the Nyquist frequency
    by about ``exp(-pi**2 * sigma**2 / 2)``): measured 2.2e-4 of the peak for
    two kernels of ``sigma = 1``, 4e-5 for ``sigma = sqrt(2)`` and ``2``.
    Below ``sigma = 1`` the sampled Gaussian is a poor heat kernel (1.3e-3
    for ``sigma = 0.7``).

    Parameters
    ----------
    t : float
        Time, >= 0.  ``t = 0`` gives the identity (a single 1 at the centre).
    diffusivity : float, optional
        ``D >= 0`` (default 1).
    shape : int or tuple of int, optional
        Odd kernel size per axis (an int is used on every axis).  Default:
        radius ``int(truncate * sigma + 0.5)`` per axis, as
        :func:`scipy.ndimage.gaussian_filter`.
    ndim : int, optional, keyword-only
        Number of dimensions; default ``len(shape)`` for a tuple ``shape``,
        else 2.
    truncate : float, optional, keyword-only
        Radius in units of sigma for the default shape (default 4.0).

    Returns
    -------
    ndarray
        float64 kernel summing to 1, symmetric about its centre.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.propagators import heat_kernel
    >>> g = heat_kernel(0.5)                # sigma = 1: a 9 x 9 Gaussian
    >>> g.shape, round(float(g.sum()), 12)
    ((9, 9), 1.0)
    >>> heat_kernel(2.0, 0.25, ndim=1).round(3)   # sigma = 1 in 1-D
    array([0.   , 0.004, 0.054, 0.242, 0.399, 0.242, 0.054, 0.004, 0.   ])
    >>> heat_kernel(0, shape=3)
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 0.]])
    """
    t = _real_number(t, "t")
    d = _real_number(diffusivity, "diffusivity")
    trunc = _real_number(truncate, "truncate")
    if ndim is None:
        ndim = len(shape) if isinstance(shape, (tuple, list)) else 2
    ndim = _count(ndim, "ndim", 1)
    sigma = math.sqrt(2.0 * d * t)
    if shape is None:
        radius = int(trunc * sigma + 0.5)
        sizes = (2 * radius + 1,) * ndim
    else:
        if isinstance(shape, (tuple, list)):
            if len(shape) != ndim:
                raise ConvolabError(f"shape={shape!r} has {len(shape)} axes but ndim={ndim}")
            sizes = tuple(_count(s, "shape", 1) for s in shape)
        else:
            sizes = (_count(shape, "shape", 1),) * ndim
        if any(s % 2 == 0 for s in sizes):
            raise ConvolabError(f"shape={shape!r} must be odd on every axis, so that the kernel "
                                "has a centre sample")
    out = np.ones((), dtype=np.float64)
    for size in sizes:
        r = size // 2
        if sigma == 0:
            g = (np.arange(-r, r + 1) == 0).astype(np.float64)
        else:
            g = gaussian_weights(sigma, 0, r)      # the sampled Gaussian, sum 1
        # the N-D Gaussian is the outer product of 1-D ones, and the sum of
        # an outer product is the product of the sums, so it stays normalized
        out = np.multiply.outer(out, g)
    return out


# ---------------------------------------------------------------------------
# the stochastic reading


class _Sampler:
    """Draws neighbours of every pixel with the kernel's probabilities.

    The image is extended once by ``(k - 1 - c, c)`` samples per axis
    (``c = (k - 1) // 2``): exactly the samples ``convolve(..., mode='same')``
    reads.  Output pixel ``i`` then reads kernel entry ``j`` at extended
    position ``i + (k - 1 - j)`` (the flip of convolution), which in the flat
    extended array is ``base[i] + offset[j]``.
    """

    def __init__(self, image: np.ndarray, p: np.ndarray, boundary: str):
        self.shape = image.shape
        self.dtype = np.result_type(image.dtype, np.float64)
        x = image.astype(self.dtype, copy=False)
        k = p.shape
        pads = [(n - 1 - (n - 1) // 2, (n - 1) // 2) for n in k]
        ext = np.ascontiguousarray(extend(x, pads, boundary))
        self.ext = ext.ravel()
        # the draws are stored relative to this per-pixel shift (the pixel's
        # own value; 0 where that is not finite, so inf - inf never appears)
        flat_x = x.ravel()
        self.x = np.where(np.isfinite(flat_x), flat_x, 0).astype(self.dtype)
        strides = [int(np.prod(ext.shape[a + 1:], dtype=np.int64)) for a in range(ext.ndim)]
        base = np.zeros((), dtype=np.int64)
        for n, s in zip(image.shape, strides):
            base = np.add.outer(base, np.arange(n, dtype=np.int64) * s)
        self.base = base.ravel()
        # only entries with positive probability can be drawn
        flat = p.ravel()
        keep = np.flatnonzero(flat > 0)
        idx = np.unravel_index(keep, k)
        self.offset = sum((n - 1 - i) * s for n, i, s in zip(k, idx, strides)).astype(np.int64)
        cdf = np.cumsum(flat[keep])
        # cdf[-1] becomes exactly 1.0 and uniform draws are < 1, so the
        # search never runs past the last entry
        self.cdf = cdf / cdf[-1]

    def draw(self, samples: int, rng: np.random.Generator, second_moment: bool
             ) -> tuple[np.ndarray, np.ndarray | None]:
        """Sum over ``samples`` draws of (drawn value - own value), and of its
        squared modulus; the shift by the pixel's own value keeps the sums
        small so that neither the mean nor the variance loses digits."""
        size = self.x.size
        total = np.zeros(size, dtype=self.dtype)
        squares = np.zeros(size, dtype=np.float64) if second_moment else None
        batch = max(1, _BATCH_ELEMENTS // max(size, 1))
        done = 0
        while done < samples:
            b = min(batch, samples - done)
            u = rng.random((b, size))
            j = np.searchsorted(self.cdf, u, side="right")
            values = self.ext[self.base + self.offset[j]] - self.x
            total += values.sum(axis=0)
            if squares is not None:
                squares += (values.real ** 2 + values.imag ** 2).sum(axis=0) \
                    if np.iscomplexobj(values) else (values ** 2).sum(axis=0)
            done += b
        return total, squares

    def mean(self, samples: int, rng: np.random.Generator, return_error: bool):
        total, squares = self.draw(samples, rng, return_error)
        shift_mean = total / samples
        mean = (self.x + shift_mean).reshape(self.shape)
        if not return_error:
            return mean
        if samples < 2:
            error = np.full(self.shape, np.nan)
        else:
            # unbiased sample variance of one draw, then of the mean of n
            var = (squares - samples * np.abs(shift_mean) ** 2) / (samples - 1)
            error = np.sqrt(np.maximum(var, 0.0) / samples).reshape(self.shape)
        return mean, error


def _stochastic_setup(image: Any, kernel: Any, boundary: Any) -> tuple[np.ndarray, np.ndarray, str]:
    x = _numeric_array(image, "image")
    p = _probabilities(kernel)
    _check_ndim(x, p)
    return x, p, normalize_boundary(boundary)


def stochastic_convolve(image: Any, kernel: Any, samples: int, *, rng: Any = None,
                        boundary: str = "wrap", return_error: bool = False):
    """Monte-Carlo convolution: every pixel takes a random neighbour's value.

    For every output pixel and every draw, one kernel entry ``j`` is chosen
    with probability ``kernel[j]`` and the pixel takes the value of the
    neighbour that entry weights in a convolution (``image[i + c - j]``,
    extended by ``boundary``).  The result is the mean over ``samples`` draws,
    so its expectation is exactly ``convolab.convolve(image, kernel,
    mode='same', boundary=boundary)`` and its error falls like
    ``sqrt(draw_variance(...) / samples)``.

    Parameters
    ----------
    image : array_like
        Real or complex values, any number of dimensions.
    kernel : array_like
        A probability density with the same number of dimensions: entries
        >= 0, no NaN, summing to 1 within 1e-9 (1e-6 for float32).  Odd and
        even sizes are centred as in ``convolve(..., mode='same')``.
    samples : int
        Number of draws per pixel, >= 1.
    rng : None, int or numpy.random.Generator, optional, keyword-only
        Source of randomness; an int seed makes the result reproducible, a
        Generator is advanced.
    boundary : str, optional, keyword-only
        What lies beyond the edge: ``'fill'`` (zeros), ``'wrap'`` (default),
        ``'symm'``, ``'reflect'``, ``'nearest'``.
    return_error : bool, optional, keyword-only
        Also return the estimated standard error of the mean at every pixel
        (sample standard deviation of the draws over ``sqrt(samples)``; NaN
        when ``samples == 1``).

    Returns
    -------
    mean : ndarray
        Shape of ``image``; float64 (complex128 for complex images).
    error : ndarray
        Only with ``return_error=True``.

    Raises
    ------
    ConvolabError
        A kernel with negative entries (the message suggests
        ``normalize(kernel, how='softmax')``), NaN or infinite entries, or a
        non-negative kernel not summing to 1 (suggests ``how='l1'``).

    Notes
    -----
    Draws are made for the whole image at once by inverse-CDF sampling
    (``searchsorted`` on the kernel's cumulative probabilities), in batches of
    about 2**18 values, so memory does not grow with ``samples``.

    A NaN in ``image`` reaches only the pixels whose draws pick it (the
    exact convolution spreads it over the kernel's whole footprint).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab import convolve
    >>> from convolab.propagators import stochastic_convolve
    >>> x = np.arange(6.)
    >>> p = [0.25, 0.5, 0.25]
    >>> m = stochastic_convolve(x, p, 20000, rng=0)
    >>> exact = convolve(x, p, mode='same', boundary='wrap')
    >>> bool(np.abs(m - exact).max() < 0.1)
    True
    >>> stochastic_convolve(x, [0., 0., 1.], 1)     # a shift: every draw agrees
    array([5., 0., 1., 2., 3., 4.])
    """
    x, p, b = _stochastic_setup(image, kernel, boundary)
    samples = _count(samples, "samples", 1)
    if not isinstance(return_error, (bool, np.bool_)):
        raise ConvolabError(f"return_error={return_error!r} must be True or False")
    gen = _generator(rng)
    if x.size == 0:
        empty = np.zeros(x.shape, dtype=np.result_type(x.dtype, np.float64))
        return (empty, empty.real.copy()) if return_error else empty
    return _Sampler(x, p, b).mean(samples, gen, bool(return_error))


def draw_variance(image: Any, kernel: Any, *, boundary: str = "wrap") -> np.ndarray:
    """The variance of one stochastic draw at every pixel.

    A draw at pixel ``i`` takes the value ``x_j`` of neighbour ``j`` with
    probability ``p_j``; its variance ``sum_j p_j |x_j - mean_i|^2`` is
    ``E|x|^2 - |E x|^2``, and both expectations are convolutions::

        convolve(|x|**2, p, 'same') - |convolve(x, p, 'same')|**2

    The error of :func:`stochastic_convolve` with ``n`` samples is
    ``sqrt(draw_variance / n)`` per pixel, and its RMS over the image is
    ``sqrt(mean(draw_variance) / n)``.

    Parameters
    ----------
    image, kernel, boundary
        As in :func:`stochastic_convolve`.

    Returns
    -------
    ndarray
        float64, shape of ``image``, >= 0.  The image's mean is subtracted
        from the extended image first (the variance does not change), which
        keeps the difference of moments from cancelling a large offset.

    Examples
    --------
    >>> from convolab.propagators import draw_variance
    >>> draw_variance([0., 0., 2., 0., 0.], [0.5, 0., 0.5])
    array([0., 1., 0., 1., 0.])
    """
    from .signal import convolve
    x, p, b = _stochastic_setup(image, kernel, boundary)
    if x.size == 0:
        return np.zeros(x.shape)
    x = x.astype(np.result_type(x.dtype, np.float64))
    # Extend first, then subtract the image's mean from every sample (the
    # variance does not change) so that E|x|^2 - |E x|^2 does not cancel
    # the digits of a large offset; 'valid' then reads exactly the window
    # that 'same' with this boundary reads.
    pads = [(n - 1 - (n - 1) // 2, (n - 1) // 2) for n in p.shape]
    ext = extend(x, pads, b)
    ext = ext - x.mean()
    first = convolve(ext, p, mode="valid")
    second = convolve(np.abs(ext) ** 2, p, mode="valid")
    return np.maximum(second - np.abs(first) ** 2, 0.0)


def monte_carlo_error(image: Any, kernel: Any, samples_list: Any, *, rng: Any = None,
                      boundary: str = "wrap") -> np.ndarray:
    """RMS error of :func:`stochastic_convolve` against the exact convolution.

    For each sample count ``n`` in ``samples_list``, one independent
    Monte-Carlo estimate is drawn and compared with
    ``convolab.convolve(image, kernel, mode='same', boundary=boundary)``.
    The error falls like ``1/sqrt(n)``: it is close to
    ``sqrt(draw_variance(image, kernel).mean() / n)``, which a plot can show
    next to it.

    Parameters
    ----------
    image, kernel, rng, boundary
        As in :func:`stochastic_convolve`; one generator serves every count.
    samples_list : sequence of int
        Sample counts, each >= 1, in any order.

    Returns
    -------
    ndarray
        float64, one RMS error per entry of ``samples_list``.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.propagators import monte_carlo_error, draw_variance
    >>> x = np.random.default_rng(0).random((16, 16))
    >>> p = np.full((3, 3), 1 / 9)
    >>> err = monte_carlo_error(x, p, [10, 1000], rng=1)
    >>> bool(err[0] > 5 * err[1])          # 100 x the samples: about 10 x smaller
    True
    >>> predicted = np.sqrt(draw_variance(x, p).mean() / 1000)
    >>> bool(abs(err[1] / predicted - 1) < 0.2)
    True
    """
    from .signal import convolve
    x, p, b = _stochastic_setup(image, kernel, boundary)
    counts = np.asarray(samples_list, dtype=object).ravel() \
        if not isinstance(samples_list, numbers.Integral) else None
    if counts is None or counts.size == 0:
        raise ConvolabError(f"samples_list={samples_list!r} must be a non-empty sequence of "
                            "integers >= 1")
    counts = [_count(n, "samples_list entry", 1) for n in counts]
    gen = _generator(rng)
    if x.size == 0:
        return np.zeros(len(counts))
    exact = convolve(x.astype(np.result_type(x.dtype, np.float64)), p, mode="same", boundary=b)
    sampler = _Sampler(x, p, b)
    out = np.empty(len(counts))
    for i, n in enumerate(counts):
        diff = sampler.mean(n, gen, False) - exact
        out[i] = math.sqrt(float(np.mean(np.abs(diff) ** 2)))
    return out
