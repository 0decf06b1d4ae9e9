"""The interface every algorithm implements, and helpers they share.

An algorithm is a small object with

``name``
    the string users pass as ``method=``;
``supports(problem) -> str | None``
    ``None`` when it can run the problem, otherwise the reason in words;
``cost(problem) -> Cost``
    estimated seconds and bytes of temporaries, so the planner can compare
    candidates and refuse one that would not fit in memory;
``exact_nonfinite``
    True when NaN and infinity in the input give exactly the direct method's
    result; otherwise the engine scans the input and repairs.  An algorithm
    exact only for some kernels may add ``exact_nonfinite_for(w) -> bool``,
    which spares that scan for them (im2col: real, finite, nonzero weights);
``run(problem, x, w) -> ndarray``
    the core only: the cross-correlation of ``x`` (zero-extended by
    ``problem.pad``) with ``w``, with stride and dilation, in the core layout
    of :mod:`convolab.problem`.  Boundary extension, kernel reversal,
    conjugation, NaN handling and the cast back are done by the engine.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from ..problem import ConvProblem


@dataclass(frozen=True)
class Cost:
    """An algorithm's estimate for one problem."""

    seconds: float     # estimated run time on this machine
    bytes: int         # temporaries beyond the inputs and the output
    detail: str = ""   # what dominates, in words ("3 transforms of 1024x1024")


class Algorithm(Protocol):
    name: str
    #: True when non-finite inputs give exactly the direct method's result
    #: (NaN over the kernel footprint).  Otherwise the engine repairs them.
    exact_nonfinite: bool

    def supports(self, problem: ConvProblem) -> str | None: ...

    def cost(self, problem: ConvProblem) -> Cost: ...

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray: ...


def zero_extend(problem: ConvProblem, x: np.ndarray) -> np.ndarray:
    """``x`` with ``problem.pad`` zeros added on its spatial axes."""
    if not any(lo or hi for lo, hi in problem.pad):
        return x
    # allocate and copy: the same as numpy.pad with zeros, without its overhead
    out = np.zeros(x.shape[:3] + problem.padded_in, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(problem.pad, x.shape[3:]))] = x
    return out


#: per-thread buffers of zero_extend_reused, by (shape, dtype)
_PADDED = threading.local()
#: buffers above this size are not kept (their page faults matter less)
_REUSE_BYTES = 64 << 20


def zero_extend_reused(problem: ConvProblem, x: np.ndarray) -> np.ndarray:
    """:func:`zero_extend` into a buffer kept for the next call of the same shape.

    A fresh zeroed array of a few hundred KiB comes from new memory pages,
    and touching them costs more than a small convolution: a 256x256 3x3
    direct convolution took 245 us with a fresh padded copy and 66 us with
    a reused one.  The zero border is written once; each call overwrites
    only the interior.  The buffer is only read by the caller (never
    returned), and each thread has its own.
    """
    if not any(lo or hi for lo, hi in problem.pad):
        return x
    shape = x.shape[:3] + problem.padded_in
    if math.prod(shape) * x.dtype.itemsize > _REUSE_BYTES:
        return zero_extend(problem, x)
    buffers = getattr(_PADDED, "buffers", None)
    if buffers is None:
        buffers = _PADDED.buffers = {}
    key = (shape, x.dtype.str, problem.pad)
    buf = buffers.pop(key, None)
    if buf is None:
        buf = np.zeros(shape, dtype=x.dtype)
        while len(buffers) >= 4:                    # keep the four most recent shapes
            buffers.pop(next(iter(buffers)))
    buffers[key] = buf
    buf[(Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(problem.pad, x.shape[3:]))] = x
    return buf


def window_slices(problem: ConvProblem, tap: tuple[int, ...]) -> tuple[slice, ...]:
    """Slices of the zero-extended input that tap ``tap`` of the kernel meets,
    one element per output position (stride and dilation applied)."""
    return tuple(slice(j * d, j * d + (o - 1) * s + 1, s)
                 for j, d, o, s in zip(tap, problem.dilations, problem.spatial_out, problem.strides))


def channel_sum(xs: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``sum_c xs[n, g, c, ...] * wt[g, o, c]`` -> ``(N, G, O, ...)``.

    With one channel in and out this is a broadcast product, the common case
    in the signal API.
    """
    if wt.shape[1] == 1 and wt.shape[2] == 1:
        return xs * wt.reshape((1, wt.shape[0], 1) + (1,) * (xs.ndim - 3))
    return np.einsum("ngc...,goc->ngo...", xs, wt)


def fft_len(n: int, real: bool) -> int:
    """The transform length >= ``n`` that the cost model says is fastest.

    Candidates are the lengths pocketfft transforms fast (2-3-5-smooth for
    real transforms, 2-3-5-7-11-smooth for complex ones) up to 25% above
    ``n``; each is scored ``length * (point + sum_p radix_p * power_p)``
    with the calibrated constants (``convolab calibrate`` fits them).  The
    smallest smooth length (:func:`scipy.fft.next_fast_len`) is usually the
    choice, but not when a slightly longer length has cheaper factors:
    e.g. 1152 = 2**7 * 3**2 rather than 1125 = 3**2 * 5**3.
    """
    from .. import _calibration
    c = _calibration.constants()
    weights = (c["fft_radix_point"], c["fft_radix_2"], c["fft_radix_3"], c["fft_radix_5"],
               c["fft_radix_7"], c["fft_radix_11"])
    return _fastest_len(int(n), bool(real), weights)


@functools.lru_cache(maxsize=4096)
def _fastest_len(n: int, real: bool, weights: tuple[float, ...]) -> int:
    from scipy import fft as sp_fft
    first = sp_fft.next_fast_len(n, real)
    if n <= 16:
        return first
    primes = (3, 5) if real else (3, 5, 7, 11)
    limit = max(first, (5 * n) // 4)

    def seconds(length: int) -> float:
        total, rest = weights[0], length
        for p, w in zip((2, 3, 5, 7, 11), weights[1:]):
            while rest % p == 0:
                rest //= p
                total += w
        return length * total

    best, best_seconds = first, seconds(first)
    # every odd smooth part m, times the smallest power of two reaching n
    odd = [1]
    for p in primes:
        odd = [m * p ** e for m in odd for e in range(40) if m * p ** e <= limit]
    for m in odd:
        length = m << max(0, math.ceil(math.log2(n / m)))
        while length // 2 >= n and length % 2 == 0:
            length //= 2
        if first < length <= limit:
            t = seconds(length)
            if t < best_seconds:
                best, best_seconds = length, t
    return best


def fft_seconds(shape: tuple[int, ...], count: int, constants: dict, *, calls: int = 1,
                single: bool = False) -> float:
    """Estimated time of ``count`` real transforms of ``shape`` made in ``calls``
    batched calls (``single``: float32 data, about 0.6 of float64's time)."""
    size = math.prod(shape)
    per_point = constants["fft_per_point_log"] * (0.6 if single else 1.0)
    return count * per_point * size * math.log2(max(size, 2)) + calls * constants["fft_overhead"]


# ---------------------------------------------------------------------------
# execution settings shared by the transform algorithms

#: threads for scipy.fft (None: every core)
_WORKERS: contextvars.ContextVar[int | None] = contextvars.ContextVar("workers", default=None)
#: spectra of a bound kernel, reused across calls (None: no reuse)
_KERNEL_CACHE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("kernel_cache", default=None)


class execution:
    """Set the FFT worker count and the kernel-spectrum cache for a run
    (a context manager; a plain class because it is entered on every call)."""

    __slots__ = ("workers", "kernel_cache", "tokens")

    def __init__(self, workers: int | None = None, kernel_cache: dict | None = None) -> None:
        self.workers, self.kernel_cache = workers, kernel_cache

    def __enter__(self) -> None:
        self.tokens = (_WORKERS.set(self.workers), _KERNEL_CACHE.set(self.kernel_cache))

    def __exit__(self, *exc: object) -> None:
        _WORKERS.reset(self.tokens[0])
        _KERNEL_CACHE.reset(self.tokens[1])


#: below this many transformed points per call, one thread is faster than
#: several (measured: a 288x288 transform took 1.9 ms on 2 threads, 1.0 ms on one)
PARALLEL_FFT_POINTS = 1 << 20


def current_workers() -> int | None:
    """The ``workers=`` of the run in force (None: not set)."""
    return _WORKERS.get()


def thread_count(workers: int) -> int:
    """A ``workers=`` value as a number of threads: a positive count as given,
    a negative one counted back from the number of cores as in scipy.fft
    (-1: every core, -2: all but one)."""
    return workers if workers > 0 else max(1, (os.cpu_count() or 1) + 1 + workers)


def fft_workers(points: int = PARALLEL_FFT_POINTS) -> int:
    """Threads for a transform call over ``points`` points: the ``workers=``
    in force, else one for small calls and every core for large ones."""
    workers = _WORKERS.get()
    if workers is not None:
        return workers
    return (os.cpu_count() or 1) if points >= PARALLEL_FFT_POINTS else 1


def kernel_spectrum(key: Any, compute: Callable[[], Any]) -> Any:
    """The kernel's transform, from the bound kernel's cache when there is one."""
    cache = _KERNEL_CACHE.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


@contextlib.contextmanager
def no_kernel_cache() -> Iterator[None]:
    """Disable spectrum reuse (for runs whose kernel changes between calls)."""
    token = _KERNEL_CACHE.set(None)
    try:
        yield
    finally:
        _KERNEL_CACHE.reset(token)
