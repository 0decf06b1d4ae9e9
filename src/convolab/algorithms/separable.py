"""Separable (low-rank) correlation: a rank-``r`` kernel as ``r`` sets of 1-D passes.

A 2-D kernel whose matrix has rank ``r`` is a sum of ``r`` outer products,
``w = sum_t u_t v_t^T`` (the singular value decomposition gives them), and a
correlation with one outer product is a 1-D correlation with ``v_t`` along
one axis followed by one with ``u_t`` along the other.  Per output that is
``r (k0 + k1)`` multiply-adds instead of ``k0 k1``: a Gaussian (rank 1) of
61 x 61 taps costs 122 instead of 3721.  The same holds in ``N`` dimensions
for kernels that are sums of outer products of ``N`` vectors.

How the rank is found (:func:`kernel_rank`): the SVD of the kernel (for
``N >= 3`` dimensions, successive SVDs of unfoldings: axis 0 against the
rest, then each remaining factor the same way).  The terms kept are the
fewest whose discarded part has a Frobenius norm of at most
``rtol * ||w||``, with ``rtol`` 16 machine epsilons of the compute dtype
(:func:`default_rtol`: 1.9e-6 for float32, 3.6e-15 for float64).  Each
output then differs from the dense sum by at most ``rtol`` times
``||window||_2 ||w||_F`` (Cauchy-Schwarz), below the rounding error bound of
the dense sum itself: exact within the dtype's tolerance, not an
approximation chosen by the user.

Separability is a property of the kernel's *values*, which a
:class:`~convolab.problem.ConvProblem` (shapes only) does not carry.  The
entry points call :func:`analyze_kernel` on the kernel and store the rank in
the problem's ``kernel_rank`` field (0: unknown); :meth:`Separable.supports`
reads it.  :meth:`Separable.run` decomposes the actual kernel again (it is
kernel-sized work, usually a cache hit), so a plan reused with another
kernel stays correct: if that kernel has no cheap low-rank form, ``run``
hands it to the direct method.

Each 1-D pass is a product with a banded Toeplitz matrix, done block by
block as BLAS matrix products on strided views of the input (no copies of
the windows): a block of ``B`` outputs along the axis reads
``L = (B - 1) s + (k - 1) d + 1`` inputs (stride ``s``, dilation ``d``), so
the pass costs ``L`` multiply-adds per output instead of the ``k`` of a
sliding window, but runs at matrix-product speed (on 1024 x 1024 images
about 10 times a compiled sliding window's per useful multiply-add).  Stride
and dilation are rows and spacing of the Toeplitz block, so they cost nothing
extra in code.  The products are kept small enough that BLAS runs each on
the calling thread (:data:`PRODUCT_MACS`), and independent products run on
Python threads, one per core (:func:`._parallel.run_tasks`): on a busy
machine, products that BLAS splits over its own threads made passes up to
100 times slower.

Decompositions are cached by kernel value (:func:`cached_kernel_rank`), so
the SVD made when the problem is described serves ``run`` too, and filtering
many images with one kernel decomposes it once.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import _calibration
from ..problem import ConvProblem
from ._base import Cost, zero_extend
from ._parallel import run_tasks

#: compute dtypes the algorithm runs (BLAS types); integers, bools and
#: extended precision are refused (see :meth:`Separable.supports`)
BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64),
               np.dtype(np.complex64), np.dtype(np.complex128))

#: kernels larger than this many taps, or analyses needing more than
#: ANALYSIS_FLOPS, are not analysed: the SVD would cost more than it can save,
#: and FFT methods win for such kernels anyway (on a 1024 x 1024 image the
#: FFT catches up with rank-1 passes at about 150 taps per axis)
ANALYSIS_MAX_TAPS = 128 * 128
ANALYSIS_FLOPS = 2e8


def _constant(name: str) -> float:
    return _calibration.constants()[name]


# ---------------------------------------------------------------------------
# the rank of a kernel


def default_rtol(dtype: Any) -> float:
    """The relative tolerance of the low-rank form for results of ``dtype``:
    16 machine epsilons (float32/complex64: 1.9e-6, float64/complex128: 3.6e-15)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc" or dtype.itemsize > (16 if dtype.kind == "c" else 8):
        dtype = np.dtype(np.float64)
    return 16.0 * float(np.finfo(dtype).eps)


def kernel_rank(w: Any, rtol: float | None = None) -> tuple[int, list[tuple[np.ndarray, ...]]]:
    """The low-rank form of a kernel: ``(terms, factors)``.

    ``factors`` is a list of ``terms`` tuples of 1-D arrays, one per axis of
    ``w``, such that ``w ~= sum_t outer(*factors[t])`` with a Frobenius error
    of at most ``rtol * ||w||`` (``rtol`` defaults to :func:`default_rtol` of
    ``w``'s dtype).  For a 2-D kernel ``terms`` is its numerical rank (the
    SVD: :func:`numpy.linalg.matrix_rank`'s answer for exactly low-rank
    matrices); for ``N >= 3`` dimensions it is the number of terms of
    successive SVDs of unfoldings (1 exactly when ``w`` is an outer product
    of ``N`` vectors; in general an upper bound of the tensor rank).  A 1-D
    kernel is one term; an all-zero kernel has none.  The factors are float64
    (complex128 for complex kernels).  Raises ``ValueError`` for non-finite
    values.
    """
    a = np.asarray(w)
    if a.ndim == 0:
        raise ValueError("kernel_rank: the kernel must have at least one axis")
    if rtol is None:
        rtol = default_rtol(a.dtype)
    wide = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    if not np.isfinite(wide).all():
        raise ValueError("kernel_rank: the kernel has non-finite values")
    if wide.ndim == 1:
        return (1, [(wide,)]) if wide.any() else (0, [])
    if wide.ndim == 2:
        u, s, vh = np.linalg.svd(wide, full_matrices=False)
        r = int(_ranks_2d(s[np.newaxis], rtol)[0])
        root = np.sqrt(s[:r])
        return r, [(u[:, t] * root[t], vh[t] * root[t]) for t in range(r)]
    norm = float(np.linalg.norm(wide))
    if norm == 0.0:
        return 0, []
    terms = _decompose(wide, rtol * norm)
    return len(terms), terms


#: recent decompositions: (dtype, shape, rtol, bytes) -> (terms, factors).
#: A kernel is decomposed when the problem is described (analyze_kernel) and
#: again in run(); filtering many images with one kernel needs one SVD.
_TERMS_CACHE: dict[tuple, tuple[int, list[tuple[np.ndarray, ...]]]] = {}
_TERMS_CACHE_SIZE = 32
_TERMS_CACHE_TAPS = 128 * 128


def cached_kernel_rank(w: np.ndarray, rtol: float) -> tuple[int, list[tuple[np.ndarray, ...]]]:
    """:func:`kernel_rank` with a small cache of recent kernels (by value).
    The factors returned are shared: read them, do not modify them."""
    a = np.ascontiguousarray(w)
    if a.size > _TERMS_CACHE_TAPS:
        return kernel_rank(a, rtol)
    def key_of(b: np.ndarray) -> tuple:
        return (b.dtype.str, b.shape, rtol, np.ascontiguousarray(b).tobytes())

    key = key_of(a)
    hit = _TERMS_CACHE.pop(key, None)
    if hit is None:
        # the engine reverses a convolution's kernel and conjugates a complex
        # correlation's: the same decomposition with reversed or conjugated factors
        flipped = a[(slice(None, None, -1),) * a.ndim]
        variants = [(flipped, True, False)]
        if a.dtype.kind == "c":
            variants += [(np.conj(a), False, True), (np.conj(flipped), True, True)]
        for b, flip, conj in variants:
            seen = _TERMS_CACHE.get(key_of(b))
            if seen is not None:
                hit = (seen[0], [tuple(_frozen(np.conj(f) if conj else f, flip) for f in term)
                                 for term in seen[1]])
                break
        else:
            rank, terms = kernel_rank(a, rtol)
            hit = (rank, [tuple(_frozen(f, False) for f in term) for term in terms])
        while len(_TERMS_CACHE) >= _TERMS_CACHE_SIZE:
            _TERMS_CACHE.pop(next(iter(_TERMS_CACHE)))
    _TERMS_CACHE[key] = hit               # most recent last
    return hit


def _frozen(f: np.ndarray, reverse: bool) -> np.ndarray:
    f = np.ascontiguousarray(f[::-1]) if reverse else f
    f.flags.writeable = False
    return f


def _ranks_2d(s: np.ndarray, rtol: float) -> np.ndarray:
    """Terms kept for each row of singular values ``s`` (descending): the
    fewest whose discarded tail has norm <= ``rtol`` times the whole norm."""
    power = s.astype(np.float64) ** 2
    tails = np.sqrt(np.cumsum(power[:, ::-1], axis=1)[:, ::-1])     # tails[:, i] = ||s[i:]||
    return (tails > rtol * tails[:, :1]).sum(axis=1)


def _kept(s: np.ndarray, budget: float) -> tuple[int, float]:
    """Fewest leading singular values whose discarded tail has norm <= budget,
    and that tail's norm."""
    tails = np.sqrt(np.cumsum((s.astype(np.float64) ** 2)[::-1])[::-1])   # tails[i] = ||s[i:]||
    tails = np.append(tails, 0.0)
    r = int(np.argmax(tails <= budget))
    return r, float(tails[r])


def _decompose(a: np.ndarray, budget: float) -> list[tuple[np.ndarray, ...]]:
    """Outer-product terms of ``a`` (ndim >= 2) within Frobenius error ``budget``."""
    k0 = a.shape[0]
    u, s, vh = np.linalg.svd(a.reshape(k0, -1), full_matrices=False)
    if a.ndim == 2:
        r, _ = _kept(s, budget)
        root = np.sqrt(s[:r])
        return [(u[:, t] * root[t], vh[t] * root[t]) for t in range(r)]
    # split the budget: the discarded tail and the sub-decompositions' errors
    # are orthogonal (u's columns are), so their squares add
    r, tail = _kept(s, budget / math.sqrt(2.0))
    rest = math.sqrt(max(budget * budget - tail * tail, 0.0) / max(r, 1))
    terms: list[tuple[np.ndarray, ...]] = []
    for t in range(r):
        sub = (vh[t] * s[t]).reshape(a.shape[1:])
        if sub.ndim == 1:
            terms.append((u[:, t], sub))
        else:
            terms.extend((u[:, t],) + term for term in _decompose(sub, rest))
    return terms


def useful_rank(kernel: Sequence[int]) -> int:
    """The largest number of terms that still saves work on a kernel of shape
    ``kernel``: ``r`` with ``r * sum(kernel) < prod(kernel)`` (0: none does)."""
    if len(kernel) < 2:
        return 0
    return max(0, (math.prod(kernel) - 1) // max(1, sum(kernel)))


@dataclass(frozen=True)
class KernelStructure:
    """What :func:`analyze_kernel` found out about a problem's kernels."""

    rank: int            # most terms over all kernels; 0: unknown (see reason)
    rtol: float          # the tolerance the rank was found with
    kernels: int = 0     # how many kernels were analysed
    reason: str = ""     # why the rank is unknown (empty when known)


def analyze_kernel(w: Any, compute_dtype: Any, *,
                   spatial_axes: Sequence[int] | None = None) -> KernelStructure:
    """The low-rank structure of a problem's kernels, for ``ConvProblem.kernel_rank``.

    ``w`` is the kernel array in the core layout ``(G, Cout, Cin, *K)`` or,
    with ``spatial_axes``, any array whose ``spatial_axes`` are the kernel's
    axes and whose other axes index kernels (scipy.signal's ``in2`` with the
    convolved ``axes``, or torch's weight ``(Cout, Cin/groups, *K)``; no
    broadcasting needed, each kernel is analysed once).  The rank is found as
    :meth:`Separable.run` finds it (same dtype, same tolerance), so
    ``supports`` and ``run`` agree.  It is left unknown (``rank=0``, with a
    ``reason``) where the separable algorithm cannot run or cannot help:
    integer, boolean or extended-precision dtypes, non-finite values, kernels
    that no low-rank form makes cheaper (``2x2``, ``1xk``), kernels too large
    to analyse cheaply, and all-zero kernels (``numpy.zeros`` stands for "any
    kernel of this shape" when a plan is made for shapes alone).  The flip and
    conjugation of a convolution or complex correlation do not change the
    rank.  One kernel costs one SVD (about 20 us for small kernels), kept in
    a small cache that :meth:`Separable.run` reads.
    """
    dtype = np.dtype(compute_dtype)
    rtol = default_rtol(dtype)
    a = np.asarray(w)
    if spatial_axes is None:
        spatial = tuple(range(3, a.ndim))
    else:
        spatial = tuple(sorted(ax % a.ndim for ax in spatial_axes))
    others = tuple(ax for ax in range(a.ndim) if ax not in spatial)
    shape = tuple(a.shape[ax] for ax in spatial)
    count = math.prod(a.shape[ax] for ax in others)
    text = "x".join(map(str, shape))

    def unknown(reason: str) -> KernelStructure:
        return KernelStructure(rank=0, rtol=rtol, kernels=0, reason=reason)

    if dtype not in BLAS_DTYPES:
        return unknown(f"not analysed for {dtype} results")
    if a.size == 0:
        return unknown("empty kernel")
    if len(shape) == 1:
        return KernelStructure(rank=1, rtol=rtol, kernels=count)
    if useful_rank(shape) < 1:
        return unknown(f"no low-rank form of a {text} kernel saves work")
    taps = math.prod(shape)
    if taps > ANALYSIS_MAX_TAPS or count * taps * min(shape) * 10 > ANALYSIS_FLOPS:
        return unknown(f"{count} kernel(s) of {text} taps are too large to analyse cheaply")
    if others != tuple(range(len(others))):
        a = np.moveaxis(a, others, tuple(range(len(others))))
    # the values run() will see: cast to the compute dtype, then widened
    kernels = a.reshape((count,) + shape).astype(dtype, copy=False)
    wide = kernels.astype(np.complex128 if dtype.kind == "c" else np.float64, copy=False)
    if not np.isfinite(wide).all():
        return unknown("the kernel has non-finite values")
    if not wide.any():
        return unknown("all-zero kernel (a stand-in for any kernel of its shape)")
    if count == 1 or len(shape) > 2:
        # one kernel: decompose it now, run() finds it in the cache
        rank = max(cached_kernel_rank(k, rtol)[0] for k in kernels)
    else:
        # singular values only, all kernels in one batched call
        rank = int(_ranks_2d(np.linalg.svd(wide, compute_uv=False), rtol).max())
    return KernelStructure(rank=rank, rtol=rtol, kernels=count)


def problem_rank(problem: ConvProblem, w: Any, spatial_axes: Sequence[int] | None = None) -> int:
    """The value for ``problem.kernel_rank``: :func:`analyze_kernel`'s rank for
    the kernel ``w`` of ``problem`` (0 when unknown or not worth finding).

    ``w`` as :func:`analyze_kernel` takes it; with ``spatial_axes=None`` its
    last ``problem.ndim`` axes are the kernel's (core layout and torch's
    weight layout alike)."""
    a = np.asarray(w)
    if spatial_axes is None:
        spatial_axes = tuple(range(a.ndim - problem.ndim, a.ndim))
    return analyze_kernel(a, problem.compute_dtype, spatial_axes=spatial_axes).rank


# ---------------------------------------------------------------------------
# one 1-D pass: banded Toeplitz blocks as matrix products


#: most multiply-adds (M x N x K) in one BLAS product.  OpenBLAS runs a
#: product below 2 x 2**18 of them on the calling thread; above, it splits it
#: over its threads, which then meet after every product.  A pass makes many
#: products, and on a busy machine (more runnable threads than cores) each
#: meeting can wait a whole scheduler time slice (milliseconds): passes
#: measured 100x slower.  Products kept below this size never wait; the
#: cores are used by running independent products on Python threads instead
#: (numpy releases the GIL in matmul), which meet once per pass.
PRODUCT_MACS = 400_000


@dataclass(frozen=True)
class PassLayout:
    """How :func:`correlate_axis` splits one pass into BLAS products."""

    rows: int        # outputs per Toeplitz block along the axis
    width: int       # inputs a block reads: (rows - 1) * stride + (k - 1) * dilation + 1
    chunk: int       # columns (middle axis) or rows (last axis) per product
    blocks: int      # full blocks along the axis
    rest: int        # outputs in the final, partial block


def pass_layout(k: int, stride: int, dilation: int, n_out: int, pre: int, post: int) -> PassLayout:
    """Block and chunk sizes for a pass over ``(pre, length, post)`` data.

    Along a middle axis (``post > 1``) each product is ``T (rows x width)``
    times ``width x chunk`` columns of the input; along the last axis it is
    ``chunk x width`` rows of input windows times ``T^T``.  Small blocks
    waste few multiplications on the band's zeros (``width / rows``
    multiply-adds per output instead of ``k``); measured on 1024 x 1024
    images the fastest were 8 rows per block along a middle axis and 32
    along the last, with chunks sized to :data:`PRODUCT_MACS` and split
    evenly over the threads.
    """
    def width_of(rows: int) -> int:
        return (rows - 1) * stride + (k - 1) * dilation + 1

    if post > 1:
        total, rows, fits = post, 4, 16
        for candidate in MIDDLE_ROWS:
            rows = min(candidate, n_out)
            fits = PRODUCT_MACS // (rows * width_of(rows))
            if fits >= min(post, 128):
                break
    else:
        total, rows = pre, min(LAST_ROWS, n_out)
        fits = PRODUCT_MACS // (rows * width_of(rows))
    # split the columns (rows) into a multiple of the threads, each share at most `fits`
    workers = threads()
    tasks = workers * max(1, -(-total // (workers * max(fits, 8))))
    chunk = max(1, -(-total // tasks))
    blocks, rest = divmod(n_out, rows)
    return PassLayout(rows, width_of(rows), chunk, blocks, rest)


#: rows per Toeplitz block tried along a middle axis (the first whose products
#: fit 128 columns), and used along the last axis
MIDDLE_ROWS = (8, 4)
LAST_ROWS = 32


def toeplitz_block(f: np.ndarray, rows: int, stride: int, dilation: int) -> np.ndarray:
    """``T[i, i*stride + j*dilation] = f[j]``: ``rows`` outputs of a 1-D correlation."""
    k = len(f)
    width = (rows - 1) * stride + (k - 1) * dilation + 1
    t = np.zeros((rows, width), dtype=f.dtype)
    cols = np.arange(rows)[:, None] * stride + np.arange(k)[None, :] * dilation
    t[np.arange(rows)[:, None], cols] = f[None, :]
    return t


def _pass_shape(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def threads() -> int:
    """Python threads a pass runs its products on: the usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _run_all(tasks: list) -> None:
    """Run the zero-argument ``tasks`` on the cores; the first error is raised."""
    run_tasks(lambda task: task(), tasks, threads())


def correlate_axis(y: np.ndarray, f: np.ndarray, axis: int, stride: int = 1, dilation: int = 1,
                   n_out: int | None = None) -> np.ndarray:
    """``out[..., i, ...] = sum_j y[..., i*stride + j*dilation, ...] * f[j]`` along ``axis``
    (a valid 1-D cross-correlation, no conjugation), ``n_out`` outputs (default:
    all the valid ones).  ``f`` must have ``y``'s dtype."""
    k = len(f)
    axis = axis % y.ndim
    length = y.shape[axis]
    extent = (k - 1) * dilation + 1
    if n_out is None:
        n_out = (length - extent) // stride + 1 if length >= extent else 0
    out_shape = y.shape[:axis] + (n_out,) + y.shape[axis + 1:]
    if n_out == 0 or math.prod(out_shape) == 0:
        return np.zeros(out_shape, dtype=y.dtype)
    if k == 1:
        taken = y[(slice(None),) * axis + (slice(0, (n_out - 1) * stride + 1, stride),)]
        return np.multiply(taken, f[0], dtype=y.dtype)
    y = np.ascontiguousarray(y)
    pre, _, post = _pass_shape(y.shape, axis)
    lay = pass_layout(k, stride, dilation, n_out, pre, post)
    t = toeplitz_block(f, lay.rows, stride, dilation)
    rows, width, blocks = lay.rows, lay.width, lay.blocks
    start = blocks * rows * stride                            # where the partial block reads
    span = (lay.rest - 1) * stride + extent                   # and how far
    tail = t[:lay.rest, :span]
    it = y.itemsize
    out = np.empty((pre, n_out, post), dtype=y.dtype)
    tasks = []
    if post > 1:
        y3 = y.reshape(pre, length, post)
        # T (rows x width) times windows (width x chunk columns), batched over
        # (pre, blocks); the product writes straight into the output
        for c0 in range(0, post, lay.chunk):
            c = min(lay.chunk, post - c0)

            def middle(c0=c0, c=c):
                if blocks:
                    src = as_strided(y3[:, :, c0:], (pre, blocks, width, c),
                                     (length * post * it, rows * stride * post * it, post * it, it),
                                     writeable=False)
                    dst = as_strided(out[:, :, c0:], (pre, blocks, rows, c),
                                     (n_out * post * it, rows * post * it, post * it, it))
                    np.matmul(t, src, out=dst)
                if lay.rest:
                    np.matmul(tail, y3[:, start:start + span, c0:c0 + c],
                              out=out[:, blocks * rows:, c0:c0 + c])
            tasks.append(middle)
    else:
        y2 = y.reshape(pre, length)
        o2 = out.reshape(pre, n_out)
        tt, tailt = t.T, tail.T
        # windows (chunk rows x width) times T^T, batched over blocks
        for r0 in range(0, pre, lay.chunk):
            r = min(lay.chunk, pre - r0)

            def last(r0=r0, r=r):
                if blocks:
                    src = as_strided(y2[r0:], (blocks, r, width), (rows * stride * it, length * it, it),
                                     writeable=False)
                    dst = as_strided(o2[r0:], (blocks, r, rows), (rows * it, n_out * it, it))
                    np.matmul(src, tt, out=dst)
                if lay.rest:
                    np.matmul(y2[r0:r0 + r, start:start + span], tailt,
                              out=o2[r0:r0 + r, blocks * rows:])
            tasks.append(last)
    _run_all(tasks)
    return out.reshape(out_shape)


#: matrix-product time relative to float64's (float32 products here are
#: limited by memory and call overheads as much as by arithmetic)
_DTYPE_FACTOR = {np.dtype(np.float32): 1.0, np.dtype(np.float64): 1.0,
                 np.dtype(np.complex64): 2.0, np.dtype(np.complex128): 3.5}


def _pass_seconds(shape: tuple[int, ...], axis: int, k: int, stride: int, dilation: int,
                  n_out: int, dtype: np.dtype) -> tuple[float, float]:
    """(estimated seconds, multiply-adds) of one :func:`correlate_axis` call."""
    pre, length, post = _pass_shape(shape, axis)
    elements = pre * post * (length + n_out) * dtype.itemsize / 8
    per_element = _constant("toeplitz_per_element")
    if k == 1:
        return elements * per_element, float(pre * n_out * post)
    lay = pass_layout(k, stride, dilation, n_out, pre, post)
    span = (lay.rest - 1) * stride + (k - 1) * dilation + 1 if lay.rest else 0
    macs = float(pre * post * (lay.blocks * lay.rows * lay.width + lay.rest * span))
    per_block = lay.blocks + (1 if lay.rest else 0)
    if post > 1:
        products = -(-post // lay.chunk) * pre * per_block
        per_mac = _constant("toeplitz_per_mac")
    else:
        products = -(-pre // lay.chunk) * per_block
        per_mac = _constant("toeplitz_last_per_mac")
    seconds = (macs * per_mac * _DTYPE_FACTOR.get(dtype, 1.0) + elements * per_element
               + products * _constant("toeplitz_per_product"))
    return seconds, macs


def _axis_order(problem: ConvProblem) -> tuple[tuple[int, ...], float, float]:
    """The order of the passes with the least estimated time, for one kernel
    term: (order, seconds, multiply-adds)."""
    best: tuple[tuple[int, ...], float, float] | None = None
    for order in itertools.permutations(range(problem.ndim)):
        shape = (problem.batch,) + problem.padded_in
        seconds = macs = 0.0
        for axis in order:
            t, m = _pass_seconds(shape, axis + 1, problem.kernel_spatial[axis], problem.strides[axis],
                                 problem.dilations[axis], problem.spatial_out[axis],
                                 problem.compute_dtype)
            seconds, macs = seconds + t, macs + m
            shape = shape[:axis + 1] + (problem.spatial_out[axis],) + shape[axis + 2:]
        if best is None or seconds < best[1]:
            best = (order, seconds, macs)
    assert best is not None
    return best


# ---------------------------------------------------------------------------
# the algorithm


class Separable:
    name = "separable"
    exact_nonfinite = False   # a Toeplitz block's zeros meet NaN too; the engine repairs

    def supports(self, problem: ConvProblem) -> str | None:
        dtype = problem.compute_dtype
        if dtype.kind in "iub":
            return ("separable: integer and boolean problems stay on exact methods "
                    "(the SVD's factors of an integer kernel are not integers)")
        if dtype not in BLAS_DTYPES:
            return f"separable: extended precision ({dtype}) stays on direct, which keeps it"
        kernel = problem.kernel_spatial
        if problem.ndim < 2:
            return "separable: a 1-D kernel is one pass already; there is nothing to split"
        if useful_rank(kernel) < 1:
            return (f"separable: even a rank-1 {'x'.join(map(str, kernel))} kernel needs "
                    f"{sum(kernel)} taps in 1-D passes, no fewer than its {math.prod(kernel)} taps")
        rank = getattr(problem, "kernel_rank", 0)
        if not rank:
            return ("separable: the kernel's rank is unknown (it depends on the kernel's values; "
                    "the problem was described without them, or they were not analysed)")
        if rank > useful_rank(kernel):
            return (f"separable: the kernel has rank {rank}: {rank} x {sum(kernel)} taps in 1-D "
                    f"passes is no fewer than its {math.prod(kernel)} taps")
        return None

    def cost(self, problem: ConvProblem) -> Cost:
        rank = getattr(problem, "kernel_rank", 0) or max(1, useful_rank(problem.kernel_spatial))
        _, per_term, macs = _axis_order(problem)
        pairs = problem.groups * problem.out_channels * problem.in_channels
        terms = pairs * rank
        scale = problem.itemsize / 8
        padded = problem.batch * problem.groups * problem.in_channels * math.prod(problem.padded_in)
        outputs = math.prod(problem.out_shape)
        seconds = (terms * per_term
                   + pairs * (_constant("svd_overhead") + problem.kernel_taps
                              * min(problem.kernel_spatial) * _constant("svd_per_element"))
                   # the zero extension, and the sum of the terms into the output
                   + (padded + outputs * max(1, terms // max(1, problem.groups * problem.out_channels)))
                   * scale * _constant("toeplitz_per_element") * 2)
        temporaries = 2 * problem.batch * math.prod(problem.padded_in) * problem.itemsize
        kernel = "x".join(map(str, problem.kernel_spatial))
        detail = (f"rank {rank}: {terms} x {problem.ndim} 1-D passes instead of the "
                  f"{kernel} kernel, {terms * macs:.3g} multiply-adds in Toeplitz blocks")
        return Cost(seconds, bytes=temporaries, detail=detail)

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        from .direct import algorithm as direct

        dtype = problem.compute_dtype
        if dtype not in BLAS_DTYPES or problem.ndim < 1 or not np.isfinite(w).all():
            return direct.run(problem, x, w)
        rtol = default_rtol(dtype)
        g, o, c = problem.w_shape[:3]
        factors = [[[cached_kernel_rank(w[gi, oi, ci], rtol)[1] for ci in range(c)]
                    for oi in range(o)] for gi in range(g)]
        most = max(len(t) for per_g in factors for per_o in per_g for t in per_o)
        if problem.ndim >= 2 and most > useful_rank(problem.kernel_spatial):
            # this kernel has no cheap low-rank form (a plan reused with another kernel)
            return direct.run(problem, x, w)
        return correlate_terms(problem, zero_extend(problem, x), factors)


def correlate_terms(problem: ConvProblem, xp: np.ndarray,
                    factors: Sequence[Sequence[Sequence[Sequence[tuple[np.ndarray, ...]]]]]
                    ) -> np.ndarray:
    """The core correlation of the zero-extended ``xp`` with the kernels
    ``w[g, o, c] = sum_t outer(*factors[g][o][c][t])``, by 1-D passes."""
    dtype = problem.compute_dtype
    out = np.empty(problem.out_shape, dtype=dtype)
    order = _axis_order(problem)[0]
    for gi, per_g in enumerate(factors):
        for oi, per_o in enumerate(per_g):
            first = True
            for ci, terms in enumerate(per_o):
                source = xp[:, gi, ci]                                    # (N, *P)
                for term in terms:
                    y = source
                    for axis in order:
                        y = correlate_axis(y, np.asarray(term[axis]).astype(dtype), axis + 1,
                                           problem.strides[axis], problem.dilations[axis],
                                           problem.spatial_out[axis])
                    if first:
                        out[:, gi, oi] = y
                        first = False
                    else:
                        out[:, gi, oi] += y
            if first:                       # every kernel of this output is zero
                out[:, gi, oi] = 0
    return out


algorithm = Separable()
