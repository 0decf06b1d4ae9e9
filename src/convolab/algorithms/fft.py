"""FFT convolution: the convolution theorem.

Convolution in space is a pointwise product in frequency.  Transform the input
and the reversed kernel (zero-padded so that the *circular* convolution the
DFT computes equals the *linear* one on the outputs we keep), multiply, and
transform back.  Real inputs use ``rfftn`` (half the work); transform lengths
are fast sizes from :func:`scipy.fft.next_fast_len`; ``scipy.fft.set_backend``
is honoured for the forward transforms (the inverse real transform calls
scipy's pocketfft directly, :func:`inverse_real`).  Cost ``O(P log P)`` for ``P`` padded points, against
``O(P k)`` for the direct sum: the reason it wins for large kernels (seed 000).

Only as much padding as the kept outputs need is used: a ``valid`` output
needs transforms no longer than the input, because the wrapped-around terms
land only on the outputs that ``valid`` discards.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import _calibration
from ..problem import ConvProblem
from ._base import (Cost, fft_len, fft_seconds, fft_workers, kernel_spectrum, no_kernel_cache,
                    thread_count)


def dilate_kernel(w: np.ndarray, dilation: tuple[int, ...]) -> np.ndarray:
    """Insert ``d - 1`` zeros between kernel taps on each spatial axis."""
    if all(d == 1 for d in dilation):
        return w
    nd = len(dilation)
    k = w.shape[-nd:]
    shape = w.shape[:-nd] + tuple((m - 1) * d + 1 for m, d in zip(k, dilation))
    out = np.zeros(shape, dtype=w.dtype)
    out[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)] = w
    return out


def kept_range(problem: ConvProblem, axis: int) -> tuple[int, int, int]:
    """For spatial ``axis``: (first, last, full_len) indices of the full linear
    correlation that the output reads (before clipping to the full range)."""
    n = problem.spatial_in[axis]
    kd = problem.dilated_kernel[axis]
    lo = problem.pad[axis][0]
    s = problem.strides[axis]
    o = problem.spatial_out[axis]
    first = kd - 1 - lo
    last = first + (o - 1) * s
    return first, last, n + kd - 1


def transform_shape(problem: ConvProblem, real: bool) -> tuple[int, ...]:
    """Smallest fast transform lengths free of wrap-around on the kept outputs."""
    shape = []
    for axis in range(problem.ndim):
        first, last, full = kept_range(problem, axis)
        first, last = max(first, 0), min(last, full - 1)
        needed = max(full - first, last + 1, problem.spatial_in[axis], problem.dilated_kernel[axis], 1)
        shape.append(fft_len(needed, real))
    return tuple(shape)


def crop_full(problem: ConvProblem, full: np.ndarray) -> np.ndarray:
    """Pick the output samples (with stride) from the full linear correlation
    ``full`` (whose trailing axes may be longer than the full length)."""
    lengths, pads, slices = _crop(problem)
    full = full[(Ellipsis,) + lengths]
    if any(p != (0, 0) for p in pads):
        full = np.pad(full, [(0, 0)] * (full.ndim - problem.ndim) + list(pads))
    return full[(Ellipsis,) + slices]


@functools.lru_cache(maxsize=256)
def _crop(problem: ConvProblem) -> tuple[tuple[slice, ...], tuple[tuple[int, int], ...],
                                         tuple[slice, ...]]:
    """What :func:`crop_full` does on each axis: the full length kept, the
    zeros added where the output reads beyond it, and the output's slice."""
    lengths, pads, slices = [], [], []
    for axis in range(problem.ndim):
        first, last, length = kept_range(problem, axis)
        lengths.append(slice(0, length))
        o = problem.spatial_out[axis]
        if o == 0:
            pads.append((0, 0))
            slices.append(slice(0, 0))
            continue
        before = max(0, -first)
        after = max(0, last - (length - 1))
        pads.append((before, after))
        slices.append(slice(first + before, first + before + (o - 1) * problem.strides[axis] + 1,
                            problem.strides[axis]))
    return tuple(lengths), tuple(pads), tuple(slices)


def spectrum_product(xf: np.ndarray, wf: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """``sum_c X[n,g,c,f] W[g,o,c,f]`` -> ``(N, G, O, f...)``; with one
    channel in and out and ``overwrite``, in ``xf``'s own memory."""
    if wf.shape[1] == 1 and wf.shape[2] == 1:
        w = wf.reshape((1, wf.shape[0], 1) + wf.shape[3:])
        if overwrite and xf.flags.writeable and np.can_cast(w.dtype, xf.dtype, "same_kind"):
            return np.multiply(xf, w, out=xf)
        return xf * w
    n, g, c = xf.shape[:3]
    o = wf.shape[1]
    f = xf.shape[3:]
    xm = xf.reshape(n, g, c, -1).transpose(1, 3, 0, 2)      # (G, F, N, C)
    wm = wf.reshape(g, o, c, -1).transpose(0, 3, 2, 1)      # (G, F, C, O)
    ym = np.matmul(xm, wm)                                  # (G, F, N, O)
    return ym.transpose(2, 0, 3, 1).reshape((n, g, o) + f)


_SINGLE = (np.dtype(np.float32), np.dtype(np.complex64))
_DOUBLE = {np.dtype(np.float32): np.dtype(np.float64), np.dtype(np.complex64): np.dtype(np.complex128)}

#: float32 transforms are kept when their error bound is below this fraction
#: of the largest output (the accuracy of a float32 direct sum)
SINGLE_TOLERANCE = 1e-6


def single_precision_error(problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> float:
    """A bound on the largest error of a float32 FFT correlation.

    Rounding in the transforms adds an error of about ``eps * sqrt(log2 P)``
    times the transform's magnitude, which has two parts: the fluctuation,
    ``rms(x) * ||w||_2``, and the mean, ``|mean(x)| * ||w||_1`` (the zero
    border a mean-offset image meets in 'same' or 'full').  Fitted on 567
    problems (Gaussian, box, random, derivative, Laplacian and one-tap
    kernels of 7..63 taps per side over 64..1024-pixel images, positive,
    zero-mean and offset by 100, every mode): the largest error never
    exceeded ``3.1 * fluctuation + 1.34 * mean``; the bound uses 4 and 1.5.
    """
    # single-precision sums (pairwise, and BLAS for the dot product) are
    # accurate enough for an estimate, and much faster than casting x
    flat = x.reshape(-1)
    mean = abs(complex(flat.sum())) / flat.size
    rms = math.sqrt(abs(complex(np.vdot(flat, flat))) / flat.size)
    return _error_bound(_transform_points(problem), mean, rms, *kernel_norms(problem, w))


def _transform_points(problem: ConvProblem) -> int:
    return max(2, math.prod(problem.padded_in) + math.prod(problem.dilated_kernel))


def kernel_norms(problem: ConvProblem, w: np.ndarray) -> tuple[float, float]:
    """The largest 2-norm and 1-norm of one output channel's kernel (all its
    input channels and taps), for :func:`single_precision_error`."""
    kernels = np.abs(w.astype(np.complex128 if problem.is_complex else np.float64))
    kernels = kernels.reshape(w.shape[0] * w.shape[1], -1)
    return math.sqrt(float(np.square(kernels).sum(axis=1).max())), float(kernels.sum(axis=1).max())


def _error_bound(points: int, mean: float, rms: float, l2: float, l1: float) -> float:
    eps = float(np.finfo(np.float32).eps)
    return eps * math.sqrt(math.log2(points)) * (4 * rms * l2 + 1.5 * mean * l1)


def single_precision_suffices(problem: ConvProblem, x: np.ndarray, w: np.ndarray,
                              out: np.ndarray) -> bool:
    """True when the float32 result ``out`` is within SINGLE_TOLERANCE of its
    largest value, by :func:`single_precision_error`."""
    if out.size == 0 or x.size == 0:
        return True
    return single_precision_error(problem, x, w) <= SINGLE_TOLERANCE * _largest(out)


def _largest(out: np.ndarray) -> float:
    return (float(np.abs(out).max()) if np.iscomplexobj(out)
            else max(float(out.max()), -float(out.min())))


class TransformAlgorithm:
    """What the FFT-based algorithms share: integers run exactly through
    :func:`exact_integer_run`, and their cost grows with the limbs it needs."""

    exact_nonfinite = False   # one NaN spreads over the whole transform; the engine repairs

    def supports(self, problem: ConvProblem) -> str | None:
        return None

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        if problem.compute_dtype.kind in "iu":
            return exact_integer_run(problem, x, w, self._run_float)
        out = self._run_float(problem, x, w)
        if problem.compute_dtype in _SINGLE and not single_precision_suffices(problem, x, w, out):
            # the float32 transforms may be too coarse for this output: redo in float64
            wide = _DOUBLE[problem.compute_dtype]
            out = self._run_float(problem, x.astype(wide), w.astype(wide)).astype(problem.compute_dtype)
        return out

    def _run_float(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _with_limbs(problem: ConvProblem, seconds: float, temporaries: int, detail: str) -> Cost:
        limbs = integer_limbs(problem)[1]
        if limbs > 1:
            seconds *= limbs * limbs
            detail += f", x{limbs * limbs} for exact {limbs}-limb integers"
        return Cost(seconds, bytes=int(temporaries), detail=detail)


class FFT(TransformAlgorithm):
    name = "fft"

    def cost(self, problem: ConvProblem) -> Cost:
        c = _calibration.constants()
        real = not problem.is_complex
        shape = transform_shape(problem, real)
        n, g, ci = problem.x_shape[:3]
        co = problem.out_channels
        points = math.prod(shape)
        half = points // 2 + 1 if real else points
        factor = 1.0 if real else 2.0
        transforms = n * g * ci + g * co * ci + n * g * co
        single = problem.compute_dtype in (np.float32, np.complex64)
        seconds = factor * fft_seconds(shape, transforms, c, calls=3, single=single)
        seconds += n * g * co * ci * half * c["spectrum_per_element"]
        spectra = (n * g * ci + g * co * ci + n * g * co) * half * 2 * problem.itemsize
        detail = f"{transforms} transforms of {'x'.join(map(str, shape)) or 'scalar'}"
        return self._with_limbs(problem, seconds, spectra, detail)

    def shortcut(self, problem: ConvProblem, w: np.ndarray):
        """For repeated calls (:mod:`convolab.repeated`): one real image, the
        kernel's spectrum, the transform lengths and the output's slices
        computed once; ``run(x)`` is then two transforms and a product.  It
        returns None (the caller takes the full path) when ``x`` holds NaN or
        an infinity, or when float32 transforms are too coarse for it."""
        if (problem.compute_dtype.kind != "f" or problem.x_shape[:3] != (1, 1, 1)
                or problem.w_shape[:3] != (1, 1, 1) or not np.isfinite(w).all()):
            return None
        _, pads, slices = _crop(problem)
        if any(p != (0, 0) for p in pads):
            return None
        nd = problem.ndim
        shape = transform_shape(problem, True)     # never shorter than the kernel
        forward, inverse = _real_transforms(shape, problem.spatial_in, problem.compute_dtype)
        kernel = np.flip(dilate_kernel(w, problem.dilations), axis=tuple(range(3, 3 + nd)))
        spectrum = forward(_pad_to(kernel.reshape(kernel.shape[3:]), shape))
        dtype = problem.compute_dtype
        single = dtype == np.float32
        points, (l2, l1) = _transform_points(problem), kernel_norms(problem, w)
        dc = (0,) * nd
        vdot, isfinite = np.vdot, math.isfinite

        def run(x: np.ndarray) -> np.ndarray | None:
            if x.dtype != dtype:
                return None
            xf = forward(x)
            # the zero-frequency term is the sum of x: finite exactly when x is
            # (or its sum overflows), else the engine repairs NaN and infinities
            total = float(xf[dc].real)
            if not isfinite(total):
                return None
            xf *= spectrum
            out = inverse(xf)[slices]
            if single and out.size:
                flat = x.reshape(-1)
                rms = math.sqrt(abs(float(vdot(flat, flat))) / flat.size)
                bound = _error_bound(points, abs(total) / flat.size, rms, l2, l1)
                if bound > SINGLE_TOLERANCE * _largest(out):
                    return None          # the full path redoes it in float64
            return out
        return run

    def _run_float(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        from scipy import fft as sp_fft

        real = not (np.iscomplexobj(x) or np.iscomplexobj(w))
        nd = problem.ndim
        axes = tuple(range(3, 3 + nd))
        shape = transform_shape(problem, real)
        # correlation = convolution with the reversed kernel
        wr = np.flip(dilate_kernel(w, problem.dilations), axis=axes)
        forward, inverse = (sp_fft.rfftn, sp_fft.irfftn) if real else (sp_fft.fftn, sp_fft.ifftn)
        workers = fft_workers(math.prod(x.shape[:3]) * math.prod(shape))
        xf = forward(x, shape, axes=axes, workers=workers)
        wf = kernel_spectrum(("fft", shape, real, wr.shape, wr.dtype.str),
                             lambda: forward(wr, shape, axes=axes, workers=workers))
        product = spectrum_product(xf, wf, overwrite=True)
        if real:
            full = inverse_real(product, shape, axes, workers)
        else:
            full = inverse(product, shape, axes=axes, workers=workers)
        return crop_full(problem, full)


# ---------------------------------------------------------------------------
# integers: exact through float64 transforms

#: float64 represents every integer below 2**53; one bit of margin for rounding
EXACT_BITS = 52


@functools.cache
def pocketfft_module():
    """scipy's pocketfft bindings, whose transforms write into a given array
    (``out``, which may be the input), or None for a scipy without them."""
    try:
        from scipy.fft._pocketfft import pypocketfft
    except ImportError:                                    # pragma: no cover - other scipy
        return None
    return pypocketfft


def inverse_real(spectrum: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...],
                 workers: int, out: np.ndarray | None = None) -> np.ndarray:
    """``scipy.fft.irfftn(spectrum, shape, axes=axes)``, overwriting ``spectrum``
    (into ``out`` when given).

    The complex transforms along all but the last axis run in place in the
    spectrum, then the real one along the last axis writes the result.
    scipy.fft's ``irfftn`` does the same through a complex array it
    allocates for every call, which took most of its time: 1024x1024
    float64 on 2 threads, 7.5 to 12 ms against 3.5 ms here (forward, for
    comparison, 2.5 ms).

    Examples
    --------
    >>> import numpy as np, scipy.fft
    >>> x = np.random.default_rng(0).standard_normal((6, 8))
    >>> y = inverse_real(scipy.fft.rfftn(x), x.shape, (0, 1), workers=1)
    >>> bool(np.allclose(y, x))
    True
    """
    pocketfft = pocketfft_module()
    leading = tuple(spectrum.shape[a] for a in axes[:-1])
    if (pocketfft is None or spectrum.dtype not in (np.complex64, np.complex128)
            or leading != tuple(shape[:-1]) or spectrum.shape[axes[-1]] != shape[-1] // 2 + 1):
        from scipy import fft as sp_fft
        result = sp_fft.irfftn(spectrum, shape, axes=axes, workers=workers)
        if out is None:
            return result
        out[...] = result
        return out
    workers = thread_count(workers)        # scipy.fft's negative counts, which pocketfft refuses
    # each pass scales by 1 / its own points (inorm 2): 1 / all points in all
    if len(axes) > 1:
        pocketfft.c2c(spectrum, axes[:-1], False, 2, spectrum, workers)
    return pocketfft.c2r(spectrum, axes[-1:], shape[-1], False, 2, out, workers)


#: transforms of at most this many points in repeated calls call scipy's
#: pocketfft directly: its dispatch layers cost more than such a transform (a
#: 96 x 96 float32 transform: 19 us, 26 us through scipy.fft; with cold caches
#: 37 and 74 us).  Larger ones go through scipy.fft and its backends.
DIRECT_POCKETFFT_POINTS = 1 << 16


def _real_transforms(shape: tuple[int, ...], spatial: tuple[int, ...], dtype: np.dtype):
    """The forward and inverse real transforms of ``shape`` on one thread,
    the forward one zero-padding an input of shape ``spatial``."""
    axes = tuple(range(len(shape)))
    pocketfft = None
    if math.prod(shape) <= DIRECT_POCKETFFT_POINTS:
        try:
            from scipy.fft._pocketfft import pypocketfft as pocketfft
        except ImportError:      # pragma: no cover - a scipy without it
            pocketfft = None
    if pocketfft is None:
        from scipy import fft as sp_fft
        workers = fft_workers(math.prod(shape))

        def forward(a: np.ndarray) -> np.ndarray:
            return sp_fft.rfftn(a, shape, axes=axes, workers=workers)

        def inverse(a: np.ndarray) -> np.ndarray:
            return sp_fft.irfftn(a, shape, axes=axes, workers=workers)
        return forward, inverse
    r2c, c2r, last = pocketfft.r2c, pocketfft.c2r, shape[-1]
    inside = tuple(slice(0, n) for n in spatial)

    def forward_direct(a: np.ndarray) -> np.ndarray:
        if a.shape != shape:
            padded = np.zeros(shape, dtype)
            padded[inside] = a
            a = padded
        return r2c(a, axes, True, 0, None, 1)           # unnormalized, as scipy.fft

    def inverse_direct(a: np.ndarray) -> np.ndarray:
        return c2r(a, axes, last, False, 2, None, 1)    # scaled by 1/n, as scipy.fft
    return forward_direct, inverse_direct


def _pad_to(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` zero-padded at the end of each axis to ``shape`` (no longer than it)."""
    padded = np.zeros(shape, a.dtype)
    padded[tuple(slice(0, n) for n in a.shape)] = a
    return padded


def integer_limbs(problem: ConvProblem) -> tuple[int, int]:
    """(bits per limb, number of limbs) that keep integer FFT sums exact.

    Sums bounded by ``2**52`` are exact in one float64 transform.  Larger
    integers are split into limbs of ``b`` bits, ``x = sum_i x_i 2**(b i)``,
    with ``b`` small enough that every limb-by-limb correlation stays below
    ``2**52``; the partial results are recombined in wrapping 64-bit integer
    arithmetic, which gives the direct method's bits exactly.
    """
    if problem.compute_dtype.kind not in "iu" or problem.value_bound < 2.0 ** EXACT_BITS:
        return 64, 1
    terms = max(1, problem.kernel_taps * problem.in_channels)
    bits = max(1, int((EXACT_BITS - 1 - math.log2(terms)) // 2))
    return bits, -(-64 // bits)


def _split(a: np.ndarray, bits: int, count: int) -> list[np.ndarray]:
    mask = np.array((1 << bits) - 1, dtype=a.dtype)
    parts = []
    for i in range(count):
        shifted = a >> np.array(bits * i, dtype=a.dtype)
        parts.append(shifted if i == count - 1 else shifted & mask)
    return parts


def exact_integer_run(problem: ConvProblem, x: np.ndarray, w: np.ndarray, float_run) -> np.ndarray:
    """Integer correlation through a floating-point ``float_run``, exactly."""
    bits, count = integer_limbs(problem)
    if count == 1:
        out = float_run(problem, x.astype(np.float64), w.astype(np.float64))
        return np.rint(out).astype(problem.compute_dtype)
    xs, ws = _split(x, bits, count), _split(w, bits, count)
    acc = np.zeros(problem.out_shape, dtype=np.uint64)
    with no_kernel_cache():      # each limb is a different kernel
        _accumulate_limbs(problem, xs, ws, bits, acc, float_run)
    return acc.view(problem.compute_dtype)


def _accumulate_limbs(problem: ConvProblem, xs: list, ws: list, bits: int, acc: np.ndarray,
                      float_run) -> None:
    for i, xi in enumerate(xs):
        if not xi.any():
            continue
        for j, wj in enumerate(ws):
            shift = bits * (i + j)
            if shift >= 64 or not wj.any():
                continue
            part = np.rint(float_run(problem, xi.astype(np.float64), wj.astype(np.float64)))
            acc += part.astype(np.int64).view(np.uint64) << np.uint64(shift)


algorithm = FFT()
