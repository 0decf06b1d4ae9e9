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
``||window||_2 ||w||_F``, the size of the rounding error of the dense sum
itself: exact within the dtype's tolerance, not an approximation chosen by
the user.

Separability is a property of the kernel's *values*, which a
:class:`~convolab.problem.ConvProblem` (shapes only) does not carry.  The
entry points call :func:`analyze_kernel` on the kernel and store the rank in
the problem's ``kernel_rank`` field (0: unknown); :meth:`Separable.supports`
reads it.  :meth:`Separable.run` decomposes the actual kernel again (it is
kernel-sized work), so a plan reused with another kernel stays correct: if
that kernel has no cheap low-rank form, ``run`` hands it to the direct
method.

Each 1-D pass is a product with a banded Toeplitz matrix, done block by
block as BLAS matrix products on strided views of the input (no copies of
the windows): a block of ``B`` outputs along the axis reads
``L = (B - 1) s + (k - 1) d + 1`` inputs (stride ``s``, dilation ``d``), so
the pass costs ``L / B`` multiply-adds per output and tap-row instead of the
``k`` of a sliding window, but runs at matrix-product speed (several times a
compiled sliding window's, on both cores).  Stride and dilation are rows and
spacing of the Toeplitz block, so they cost nothing extra in code.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import _calibration
from ..problem import ConvProblem
from ._base import Cost, zero_extend

#: compute dtypes the algorithm runs (BLAS types); integers, bools and
#: extended precision are refused (see :meth:`Separable.supports`)
BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64),
               np.dtype(np.complex64), np.dtype(np.complex128))

#: defaults for the cost-model constants this module adds (measured on the
#: 2-core machine of :mod:`convolab._calibration`; used until the calibration
#: table has them)
CALIBRATION: dict[str, float] = {
    # banded Toeplitz block product (BLAS, 2 threads), float64: seconds per multiply-add
    "toeplitz_per_mac": 0.04e-9,
    # one singular value decomposition of a small kernel: fixed cost
    "svd_overhead": 30e-6,
}

#: kernels larger than this many taps, or analyses needing more than
#: ANALYSIS_FLOPS, are not analysed (the SVD would cost more than it can save;
#: FFT methods win for such kernels anyway)
ANALYSIS_MAX_TAPS = 128 * 128
ANALYSIS_FLOPS = 2e8


def _constant(name: str) -> float:
    return _calibration.constants().get(name, CALIBRATION[name])


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
    norm = float(np.linalg.norm(wide))
    if norm == 0.0:
        return 0, []
    if wide.ndim == 1:
        return 1, [(wide,)]
    terms = _decompose(wide, rtol * norm)
    return len(terms), terms


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
    convolved ``axes``; no broadcasting needed, each kernel is analysed once).
    The rank is found as :meth:`Separable.run` finds it (same dtype, same
    tolerance), so ``supports`` and ``run`` agree.  It is left unknown
    (``rank=0``, with a ``reason``) where the separable algorithm cannot run
    or cannot help: integer, boolean or extended-precision dtypes, non-finite
    values, kernels that no low-rank form makes cheaper (``2x2``, ``1xk``),
    and kernels too large to analyse cheaply.  The flip and conjugation of a
    convolution or complex correlation do not change the rank.
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

    def unknown(reason: str) -> KernelStructure:
        return KernelStructure(rank=0, rtol=rtol, kernels=0, reason=reason)

    if dtype not in BLAS_DTYPES:
        return unknown(f"not analysed for {dtype} results")
    if a.size == 0:
        return unknown("empty kernel")
    if len(shape) == 1:
        return KernelStructure(rank=1, rtol=rtol, kernels=count)
    if useful_rank(shape) < 1:
        return unknown(f"no low-rank form of a {'x'.join(map(str, shape))} kernel saves work")
    taps = math.prod(shape)
    flops = count * taps * min(shape) * 10
    if taps > ANALYSIS_MAX_TAPS or flops > ANALYSIS_FLOPS:
        return unknown(f"{count} kernel(s) of {'x'.join(map(str, shape))} taps are too large "
                       f"to analyse cheaply")
    kernels = np.moveaxis(a, others + spatial, tuple(range(a.ndim))).reshape((count,) + shape)
    kernels = kernels.astype(dtype, copy=False)      # the values run() will see
    wide = kernels.astype(np.complex128 if dtype.kind == "c" else np.float64)
    if not np.isfinite(wide).all():
        return unknown("the kernel has non-finite values")
    if len(shape) == 2:
        # singular values only, all kernels in one batched call
        s = np.linalg.svd(wide, compute_uv=False)                 # (count, min(K))
        norms = np.sqrt((s ** 2).sum(axis=1))
        tails = np.sqrt(np.cumsum((s ** 2)[:, ::-1], axis=1)[:, ::-1])
        ranks = (tails > (rtol * norms)[:, None]).sum(axis=1)
        rank = int(ranks.max())
    else:
        rank = max(kernel_rank(k, rtol)[0] for k in wide)
    return KernelStructure(rank=max(rank, 1), rtol=rtol, kernels=count)


# ---------------------------------------------------------------------------
# one 1-D pass: banded Toeplitz blocks as matrix products


def block_size(k: int, stride: int, dilation: int, n_out: int) -> int:
    """Outputs per Toeplitz block along one axis: enough rows for an efficient
    matrix product, few enough that the band's zeros stay a small share."""
    return max(1, min(n_out, 32))


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


#: the last-axis pass multiplies block by block when this many rows share a block
_ROWS_PER_BLOCK_PRODUCT = 64


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
    y3 = y.reshape(pre, length, post)
    rows = block_size(k, stride, dilation, n_out)
    blocks = n_out // rows
    t = toeplitz_block(f, rows, stride, dilation)
    width = t.shape[1]
    it = y.itemsize
    out = np.empty((pre, n_out, post), dtype=y.dtype)
    if post > 1:
        # windows of the middle axis: (pre, blocks, width, post), each a BLAS matrix
        view = as_strided(y3, (pre, blocks, width, post),
                          (length * post * it, rows * stride * post * it, post * it, it),
                          writeable=False)
        np.matmul(t, view, out=out[:, :blocks * rows].reshape(pre, blocks, rows, post))
    else:
        y2 = y3.reshape(pre, length)
        res = out.reshape(pre, n_out)
        if pre >= _ROWS_PER_BLOCK_PRODUCT:
            # one product per block: (pre, width) rows of the input times T^T
            view = as_strided(y2, (blocks, pre, width), (rows * stride * it, length * it, it),
                              writeable=False)
            prod = np.matmul(view, t.T)                                   # (blocks, pre, rows)
            res[:, :blocks * rows].reshape(pre, blocks, rows)[...] = prod.transpose(1, 0, 2)
        else:
            # few rows: copy the windows once, then a single product
            view = as_strided(y2, (pre, blocks, width), (length * it, rows * stride * it, it),
                              writeable=False)
            windows = np.ascontiguousarray(view).reshape(pre * blocks, width)
            res[:, :blocks * rows] = (windows @ t.T).reshape(pre, blocks * rows)
    rest = n_out - blocks * rows
    if rest:
        start = blocks * rows * stride
        span = (rest - 1) * stride + (k - 1) * dilation + 1
        tr = t[:rest, :span]
        if post > 1:
            np.matmul(tr, y3[:, start:start + span, :], out=out[:, blocks * rows:, :])
        else:
            out.reshape(pre, n_out)[:, blocks * rows:] = y3[:, start:start + span, 0] @ tr.T
    return out.reshape(out_shape)


def _pass_cost(shape: tuple[int, ...], axis: int, k: int, stride: int, dilation: int,
               n_out: int) -> tuple[float, float, int]:
    """(multiply-adds, elements copied, product calls) of :func:`correlate_axis`."""
    pre, length, post = _pass_shape(shape, axis)
    if k == 1:
        return float(pre * n_out * post), 0.0, 1
    rows = block_size(k, stride, dilation, n_out)
    blocks, rest = divmod(n_out, rows)
    width = (rows - 1) * stride + (k - 1) * dilation + 1
    span = (rest - 1) * stride + (k - 1) * dilation + 1 if rest else 0
    macs = float(pre * post * (blocks * rows * width + rest * span))
    if post > 1:
        calls = pre * blocks + (pre if rest else 0)
        copied = 0.0
    elif pre >= _ROWS_PER_BLOCK_PRODUCT:
        calls = blocks + (1 if rest else 0)
        copied = float(pre * n_out)
    else:
        calls = 1 + (1 if rest else 0)
        copied = float(pre * blocks * width)
    return macs, copied, calls


def _axis_order(problem: ConvProblem) -> tuple[tuple[int, ...], float, float, int]:
    """The order of the passes with the least modelled cost:
    (order, multiply-adds, elements copied, calls) for one kernel term."""
    nd = problem.ndim
    best: tuple[tuple[int, ...], float, float, int] | None = None
    mac_s = _constant("toeplitz_per_mac")
    copy_s = _calibration.constants()["copy_per_element"]
    call_s = _calibration.constants()["call_overhead"]
    for order in itertools.permutations(range(nd)):
        shape = (problem.batch,) + problem.padded_in
        macs = copied = 0.0
        calls = 0
        for axis in order:
            m, c, n = _pass_cost(shape, axis + 1, problem.kernel_spatial[axis], problem.strides[axis],
                                 problem.dilations[axis], problem.spatial_out[axis])
            macs, copied, calls = macs + m, copied + c, calls + n
            shape = shape[:axis + 1] + (problem.spatial_out[axis],) + shape[axis + 2:]
        key = macs * mac_s + copied * copy_s + calls * call_s
        if best is None or key < best[1] * mac_s + best[2] * copy_s + best[3] * call_s:
            best = (order, macs, copied, calls)
    assert best is not None
    return best


# ---------------------------------------------------------------------------
# the algorithm


def _dtype_factor(dtype: np.dtype) -> float:
    """Matrix-product time relative to float64's."""
    return {np.dtype(np.float32): 0.5, np.dtype(np.complex64): 2.0,
            np.dtype(np.complex128): 4.0}.get(dtype, 1.0)


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
        _, macs, copied, calls = _axis_order(problem)
        c = _calibration.constants()
        pairs = problem.groups * problem.out_channels * problem.in_channels
        terms = pairs * rank
        seconds = (terms * (macs * _constant("toeplitz_per_mac") * _dtype_factor(problem.compute_dtype)
                            + copied * c["copy_per_element"] + calls * c["call_overhead"])
                   + pairs * _constant("svd_overhead")
                   + math.prod(problem.out_shape) * c["numpy_per_element"])
        padded = problem.batch * math.prod(problem.padded_in)
        temporaries = 2 * padded * problem.itemsize
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
        factors = [[[kernel_rank(w[gi, oi, ci], rtol)[1] for ci in range(c)] for oi in range(o)]
                   for gi in range(g)]
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
    out = np.zeros(problem.out_shape, dtype=dtype)
    order = _axis_order(problem)[0]
    for gi, per_g in enumerate(factors):
        for oi, per_o in enumerate(per_g):
            for ci, terms in enumerate(per_o):
                if not terms:
                    continue
                source = xp[:, gi, ci]                                    # (N, *P)
                for term in terms:
                    y = source
                    for axis in order:
                        y = correlate_axis(y, np.asarray(term[axis]).astype(dtype), axis + 1,
                                           problem.strides[axis], problem.dilations[axis],
                                           problem.spatial_out[axis])
                    out[:, gi, oi] += y
    return out


algorithm = Separable()
