"""Winograd's minimal filtering: 3x3 convolution layers with fewer multiplications.

Lavin & Gray (2015), "Fast Algorithms for Convolutional Neural Networks".
``F(m x m, 3 x 3)`` computes an ``m x m`` tile of outputs of a 3x3
cross-correlation from an ``(m+2) x (m+2)`` tile of input with ``(m+2)^2``
multiplications instead of ``9 m^2``::

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise)

``g`` is a 3x3 kernel, ``d`` an input tile, ``U = G g G^T`` the transformed
kernel and ``V = B^T d B`` the transformed tile.  Summed over input channels
the elementwise product becomes, for each of the ``(m+2)^2`` transform
coordinates, one matrix product per group::

    M[a, b] (Cout x tiles) = U[a, b] (Cout x Cin) @ V[a, b] (Cin x tiles)

which is where the speed comes from: a batch of GEMMs with ``(m+2)^2 / (9 m^2)``
of the direct method's multiply-adds (``16/36`` for ``F(2,3)``, ``36/144``
for ``F(4,3)``), plus the cheap linear transforms of the input (``B``) and of
the output (``A``).

Two variants: ``F(2x2, 3x3)`` (``m = 2``, exact-looking transforms with
entries 0 and +-1) and ``F(4x4, 3x3)`` (``m = 4``, four times fewer
multiplications than direct, but the transforms have entries up to 8 and
1/24, so float32 rounding errors grow by about an order of magnitude; see
docs/winograd.md for the measured numbers).  ``Winograd(tile=None)`` picks the
variant with the smaller estimated cost (``F(4,3)`` except for small images);
:func:`run_variant` forces one.

Only 2-D problems with 3x3 kernels, stride 1 and dilation 1, in float32 or
float64 (float16 computes in float32).  The input and output transforms run in
compiled loops (numba, compiled on first use and cached on disk) when numba is
available, in numpy otherwise (on one thread: see :func:`_compiled`); the
kernel transform is computed in float64 and rounded once to the compute dtype.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import threading
from typing import Callable

import numpy as np

from .. import _calibration
from ..problem import ConvProblem
from ._base import Cost, zero_extend

# ---------------------------------------------------------------------------
# transform matrices (Lavin & Gray 2015, section 4.1-4.2), for correlation:
# y[i] = sum_k d[i + k] g[k]  equals  A^T [(G g) * (B^T d)]

#: F(2, 3)
BT2 = np.array([[1, 0, -1, 0],
                [0, 1, 1, 0],
                [0, -1, 1, 0],
                [0, 1, 0, -1]], dtype=np.float64)
G2 = np.array([[1, 0, 0],
               [1 / 2, 1 / 2, 1 / 2],
               [1 / 2, -1 / 2, 1 / 2],
               [0, 0, 1]], dtype=np.float64)
AT2 = np.array([[1, 1, 1, 0],
                [0, 1, -1, -1]], dtype=np.float64)

#: F(4, 3)
BT4 = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], dtype=np.float64)
G4 = np.array([[1 / 4, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6],
               [0, 0, 1]], dtype=np.float64)
AT4 = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], dtype=np.float64)

#: output tile size m -> (B^T, G, A^T)
MATRICES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
    2: (BT2, G2, AT2),
    4: (BT4, G4, AT4),
}
VARIANTS = tuple(MATRICES)


#: the numpy transforms (no numba) take about this many times as long
#: (measured: the whole call 0.9 to 1.7 times the compiled one)
_NUMPY_FALLBACK_FACTOR = 1.8


def _constant(c: dict, name: str) -> float:
    return c[name]


# ---------------------------------------------------------------------------
# the three transforms

#: kernels transformed per float64 block in :func:`kernel_transform`: small
#: enough that each product stays in the cache and on the calling thread
#: (OpenBLAS splits larger products over its threads, which costs more than
#: it gains for a product this thin)
_KERNEL_BLOCK = 1024


def kernel_transform(w: np.ndarray, m: int, dtype: np.dtype) -> np.ndarray:
    """``U[a, b, g, o, c] = (G w[g, o, c] G^T)[a, b]`` computed in float64 and
    rounded once to ``dtype``.  ``w`` is ``(G, Cout, Cin, 3, 3)``.

    All kernels at once as one matrix product: with the kernels as the
    columns of ``W (9, K)``, ``U (alpha^2, K) = (G kron G) @ W``, which is
    already the layout the GEMMs want.  Done in blocks of kernels so that the
    float64 intermediate stays small.
    """
    gm = MATRICES[m][1]
    alpha = m + 2
    kron = np.kron(gm, gm)                                   # (alpha^2, 9)
    g, o, c = w.shape[:3]
    k = g * o * c
    flat = np.asarray(w).reshape(k, 9)
    u = np.empty((alpha * alpha, k), dtype=dtype)
    for start in range(0, k, _KERNEL_BLOCK):
        stop = min(k, start + _KERNEL_BLOCK)
        block = flat[start:stop].astype(np.float64, copy=False)
        if dtype == np.float64:
            np.matmul(kron, block.T, out=u[:, start:stop])
        else:
            u[:, start:stop] = kron @ block.T
    return u.reshape(alpha, alpha, g, o, c)


def _input_transform_numpy(xq: np.ndarray, m: int, th: int, tw: int) -> np.ndarray:
    """``V[a, b, g, c, n, i, j] = (B^T d B)[a, b]`` for the tile ``d`` at
    ``(i m, j m)`` of plane ``xq[n, g, c]``, with numpy (two tensordots)."""
    from numpy.lib.stride_tricks import sliding_window_view

    bt = MATRICES[m][0].astype(xq.dtype)
    alpha = m + 2
    n, g, c, hq, wq = xq.shape
    # along H: windows (N, G, C, th, Wq, alpha) -> (alpha, N, G, C, th, Wq)
    win = sliding_window_view(xq, alpha, axis=3)[:, :, :, ::m]
    t1 = np.tensordot(bt, win, axes=([1], [5]))
    # along W: windows (alpha, N, G, C, th, tw, alpha) -> (alpha_b, alpha_a, N, G, C, th, tw)
    win = sliding_window_view(t1, alpha, axis=5)[..., ::m, :]
    t2 = np.tensordot(bt, win, axes=([1], [6]))
    return np.ascontiguousarray(t2.transpose(1, 0, 3, 4, 2, 5, 6))


def _output_transform_numpy(mm: np.ndarray, m: int, out_hw: tuple[int, int]) -> np.ndarray:
    """``out[n, g, o]`` assembled from the tiles ``A^T M A`` of
    ``mm (alpha, alpha, G, O, N, th, tw)``, cropped to ``out_hw``."""
    at = MATRICES[m][2].astype(mm.dtype)
    alpha, _, g, o, n, th, tw = mm.shape
    rest = g * o * n * th * tw
    z = at @ mm.reshape(alpha, alpha * rest)                           # (m, alpha_b * rest)
    y = np.matmul(at, z.reshape(m, alpha, rest))                       # (m_r, m_s, rest)
    y = y.reshape(m, m, g, o, n, th, tw).transpose(4, 2, 3, 5, 0, 6, 1)  # (N, G, O, th, r, tw, s)
    y = y.reshape(n, g, o, th * m, tw * m)
    return np.ascontiguousarray(y[..., :out_hw[0], :out_hw[1]])


# compiled loops ------------------------------------------------------------

_COMPILED: dict[str, Callable] = {}
_comb: Callable | None = None     # set by _compiled()


def numba_available() -> bool:
    """True when numba can be imported and ``CONVOLAB_DISABLE_NUMBA`` is unset."""
    from ._compiled import available
    return available()


def _compiled() -> dict[str, Callable]:
    """The two transform loops, compiled on first use (numba, cached on disk).

    Both work on a *chunk* of tile rows ``R = n * th + i`` in ``[r0, r1)``,
    one (group, channel) plane at a time: the plane's tiles in the chunk are
    gathered once, then every arithmetic step is one contiguous multiply-add
    over the chunk's tiles (long enough to vectorize also for small images).
    The matrices are passed sparse: row ``u`` has ``cnt[u]`` nonzero entries
    ``coef[u, t]`` in columns ``idx[u, t]``.  Arrays are passed flat (1-D,
    contiguous) with offsets computed here, so every inner loop runs over
    unit-stride data.

    ``F(2,3)`` has its own pair of loops: its transforms have two nonzero
    entries of +-1 per row, so they are applied straight to the input rows
    (each row split once into its even and odd columns) and to the rows of
    ``M``, without the gathered copy of the tiles; 1.3 to 1.5 times faster.

    The input transforms read the unpadded input and supply the zero padding
    themselves (``lo0``, ``lo1``: zeros before the first row and column), so
    no padded copy of the input is made.  Their scratch rows ``work`` come
    from the caller, allocated once per call.

    The loops run on one thread: they sit between multithreaded BLAS calls,
    whose idle threads keep spinning for a while after each call.  Parallel
    transforms competing with them were measured no faster on 2 cores (with
    numba's OpenMP threads, up to 100 times slower when both spin).
    """
    if _COMPILED:
        return _COMPILED
    import numba

    global _comb
    jit = numba.njit(cache=True, nogil=True)

    # a module global, not a closure variable: a closure over a dispatcher
    # would make numba's disk cache miss in every new process
    @numba.njit(cache=True, nogil=True)
    def _comb(dst, dbase, src, offs, coefs, cnt, length):
        # dst[dbase + x] = sum_t coefs[t] * src[offs[t] + x]  (1 <= cnt <= 6);
        # sliced views keep every index a plain loop counter, so the loops vectorize
        d = dst[dbase:dbase + length]
        s0 = src[offs[0]:offs[0] + length]
        c0 = coefs[0]
        if cnt == 1:
            for x in range(length):
                d[x] = c0 * s0[x]
            return
        s1 = src[offs[1]:offs[1] + length]
        c1 = coefs[1]
        if cnt == 2:
            for x in range(length):
                d[x] = c0 * s0[x] + c1 * s1[x]
            return
        s2 = src[offs[2]:offs[2] + length]
        c2 = coefs[2]
        if cnt == 3:
            for x in range(length):
                d[x] = c0 * s0[x] + c1 * s1[x] + c2 * s2[x]
            return
        s3 = src[offs[3]:offs[3] + length]
        c3 = coefs[3]
        if cnt == 4:
            for x in range(length):
                d[x] = (c0 * s0[x] + c1 * s1[x]) + (c2 * s2[x] + c3 * s3[x])
            return
        s4 = src[offs[4]:offs[4] + length]
        c4 = coefs[4]
        if cnt == 5:
            for x in range(length):
                d[x] = (c0 * s0[x] + c1 * s1[x]) + (c2 * s2[x] + c3 * s3[x]) + c4 * s4[x]
            return
        s5 = src[offs[5]:offs[5] + length]
        c5 = coefs[5]
        for x in range(length):
            d[x] = ((c0 * s0[x] + c1 * s1[x]) + (c2 * s2[x] + c3 * s3[x])
                    + (c4 * s4[x] + c5 * s5[x]))

    def input_transform(x, lo0, lo1, bcnt, bidx, bcoef, m, th, tw, r0, r1, v, work):
        # tile rows [r0, r1) of x (N, G, C, H, W) zero-extended by (lo0, lo1) before
        # its first row and column -> v flat (alpha, alpha, G, C, (r1-r0)*tw)
        _, g_, c_, h_, w_ = x.shape
        alpha = bcnt.shape[0]
        size = (r1 - r0) * tw
        planes = g_ * c_
        wq = tw * m + 2
        ncols = min(w_, wq - lo1)           # input columns the tiles reach
        e = work[:alpha * alpha * size]                          # e[k, l, tile]
        t = work[alpha * alpha * size:2 * alpha * alpha * size]  # t[s, k, tile]
        row = work[2 * alpha * alpha * size:2 * alpha * alpha * size + wq]
        offs = np.empty(alpha, dtype=np.int64)
        row[:] = 0
        for p in range(planes):
            g = p // c_
            c = p % c_
            # the tiles: e[k, l, (R, j)] = xpad[n, g, c, i m + k, j m + l]
            for rr in range(r0, r1):
                n = rr // th
                i = rr % th
                base = (rr - r0) * tw
                for k in range(alpha):
                    y = i * m + k - lo0
                    if y < 0 or y >= h_:
                        for l in range(alpha):
                            at = (k * alpha + l) * size + base
                            e[at:at + tw] = 0
                        continue
                    src = x[n, g, c, y]
                    for q in range(ncols):
                        row[lo1 + q] = src[q]
                    for l in range(alpha):
                        at = (k * alpha + l) * size + base
                        dst = e[at:at + tw]
                        sl = row[l::m]
                        for j in range(tw):
                            dst[j] = sl[j]
            # along W: t[s, k] = sum_l bt[s, l] e[k, l]
            for s in range(alpha):
                for k in range(alpha):
                    for q in range(bcnt[s]):
                        offs[q] = (k * alpha + bidx[s, q]) * size
                    _comb(t, (s * alpha + k) * size, e, offs, bcoef[s], bcnt[s], size)
            # along H: v[u, s] = sum_k bt[u, k] t[s, k]
            for u in range(alpha):
                for s in range(alpha):
                    for q in range(bcnt[u]):
                        offs[q] = (s * alpha + bidx[u, q]) * size
                    dbase = (((u * alpha + s) * g_ + g) * c_ + c) * size
                    _comb(v, dbase, t, offs, bcoef[u], bcnt[u], size)

    def output_transform(mm, acnt, aidx, acoef, m, th, tw, r0, r1, out, work):
        # mm flat (alpha, alpha, G, O, (r1-r0)*tw) -> tile rows [r0, r1) of out (N, G, O, Ho, Wo)
        _, g_, o_, ho, wo = out.shape
        alpha = aidx.shape[1]
        size = (r1 - r0) * tw
        full = wo // m
        rest = wo - full * m
        planes = g_ * o_
        z = work[:m * alpha * size]                              # z[s, u, tile]
        y = work[m * alpha * size:m * alpha * size + m * m * size]   # y[q, s, tile]
        offs = np.empty(alpha, dtype=np.int64)
        for p in range(planes):
            g = p // o_
            o = p % o_
            # along W: z[s, u] = sum_b at[s, b] mm[u, b]
            for s in range(m):
                for u in range(alpha):
                    for q in range(acnt[s]):
                        offs[q] = (((u * alpha + aidx[s, q]) * g_ + g) * o_ + o) * size
                    _comb(z, (s * alpha + u) * size, mm, offs, acoef[s], acnt[s], size)
            # along H: y[q, s] = sum_u at[q, u] z[s, u]
            for q in range(m):
                for s in range(m):
                    for tt in range(acnt[q]):
                        offs[tt] = (s * alpha + aidx[q, tt]) * size
                    _comb(y, (q * m + s) * size, z, offs, acoef[q], acnt[q], size)
            # interleave the m x m phases into the output rows, cropped
            for rr in range(r0, r1):
                n = rr // th
                i = rr % th
                base = (rr - r0) * tw
                for q in range(m):
                    orow = i * m + q
                    if orow >= ho:
                        break
                    dst = out[n, g, o, orow]
                    yq = y[q * m * size:(q + 1) * m * size]
                    for j in range(full):
                        seg = dst[j * m:j * m + m]
                        for s in range(m):
                            seg[s] = yq[s * size + base + j]
                    for s in range(rest):
                        dst[full * m + s] = yq[s * size + base + full]

    def input_f2(x, lo0, lo1, th, tw, r0, r1, v, work):
        # F(2,3) specialised: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] applied
        # straight to the input rows (no gathered copy of the tiles): tile rows
        # [r0, r1) of x (N, G, C, H, W) zero-extended by (lo0, lo1) -> v flat
        # (4, 4, G, C, (r1-r0)*tw)
        _, g_, c_, h_, w_ = x.shape
        size = (r1 - r0) * tw
        ev = work[:tw + 1]                       # even and odd columns of one
        od = work[tw + 1:2 * tw + 2]             # zero-extended input row
        t = work[2 * tw + 2:2 * tw + 2 + 16 * tw]     # t[k, s, j]: rows along W
        for p in range(g_ * c_):
            g = p // c_
            c = p % c_
            for rr in range(r0, r1):
                n = rr // th
                i = rr % th
                base = (rr - r0) * tw
                for k in range(4):
                    y = 2 * i + k - lo0
                    t0 = t[(4 * k) * tw:(4 * k + 1) * tw]
                    t1 = t[(4 * k + 1) * tw:(4 * k + 2) * tw]
                    t2 = t[(4 * k + 2) * tw:(4 * k + 3) * tw]
                    t3 = t[(4 * k + 3) * tw:(4 * k + 4) * tw]
                    if y < 0 or y >= h_:
                        t[4 * k * tw:(4 * k + 4) * tw] = 0
                        continue
                    src = x[n, g, c, y]
                    for j in range(tw + 1):
                        q = 2 * j - lo1
                        ev[j] = src[q] if 0 <= q < w_ else 0
                        od[j] = src[q + 1] if 0 <= q + 1 < w_ else 0
                    for j in range(tw):
                        t0[j] = ev[j] - ev[j + 1]
                        t1[j] = od[j] + ev[j + 1]
                        t2[j] = ev[j + 1] - od[j]
                        t3[j] = od[j] - od[j + 1]
                for s in range(4):
                    a0 = t[s * tw:(s + 1) * tw]
                    a1 = t[(4 + s) * tw:(5 + s) * tw]
                    a2 = t[(8 + s) * tw:(9 + s) * tw]
                    a3 = t[(12 + s) * tw:(13 + s) * tw]
                    d0 = v[((s * g_ + g) * c_ + c) * size + base:][:tw]
                    d1 = v[(((4 + s) * g_ + g) * c_ + c) * size + base:][:tw]
                    d2 = v[(((8 + s) * g_ + g) * c_ + c) * size + base:][:tw]
                    d3 = v[(((12 + s) * g_ + g) * c_ + c) * size + base:][:tw]
                    for j in range(tw):
                        d0[j] = a0[j] - a2[j]
                        d1[j] = a1[j] + a2[j]
                        d2[j] = a2[j] - a1[j]
                        d3[j] = a1[j] - a3[j]

    def output_f2(mm, th, tw, r0, r1, out, work):
        # F(2,3) specialised: A^T = [1 1 1 0; 0 1 -1 -1] on both sides of each
        # tile of mm flat (4, 4, G, O, (r1-r0)*tw), written into tile rows
        # [r0, r1) of out (N, G, O, Ho, Wo), cropped
        _, g_, o_, ho, wo = out.shape
        size = (r1 - r0) * tw
        z = work[:8 * tw]                        # z[q, s, j]: A^T along H
        for p in range(g_ * o_):
            g = p // o_
            o = p % o_
            for rr in range(r0, r1):
                n = rr // th
                i = rr % th
                base = (rr - r0) * tw
                for s in range(4):
                    m0 = mm[((s * g_ + g) * o_ + o) * size + base:][:tw]
                    m1 = mm[(((4 + s) * g_ + g) * o_ + o) * size + base:][:tw]
                    m2 = mm[(((8 + s) * g_ + g) * o_ + o) * size + base:][:tw]
                    m3 = mm[(((12 + s) * g_ + g) * o_ + o) * size + base:][:tw]
                    z0 = z[s * tw:(s + 1) * tw]
                    z1 = z[(4 + s) * tw:(5 + s) * tw]
                    for j in range(tw):
                        z0[j] = m0[j] + m1[j] + m2[j]
                        z1[j] = m1[j] - m2[j] - m3[j]
                for q in range(2):
                    row = 2 * i + q
                    if row >= ho:
                        break
                    dst = out[n, g, o, row]
                    a0 = z[(4 * q) * tw:(4 * q + 1) * tw]
                    a1 = z[(4 * q + 1) * tw:(4 * q + 2) * tw]
                    a2 = z[(4 * q + 2) * tw:(4 * q + 3) * tw]
                    a3 = z[(4 * q + 3) * tw:(4 * q + 4) * tw]
                    full = wo // 2
                    for j in range(full):
                        dst[2 * j] = a0[j] + a1[j] + a2[j]
                        dst[2 * j + 1] = a1[j] - a2[j] - a3[j]
                    if wo > 2 * full:
                        dst[2 * full] = a0[full] + a1[full] + a2[full]

    _COMPILED["input"] = jit(input_transform)
    _COMPILED["output"] = jit(output_transform)
    _COMPILED["input2"] = jit(input_f2)
    _COMPILED["output2"] = jit(output_f2)
    return _COMPILED


@functools.lru_cache(maxsize=None)
def _sparse(m: int, which: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matrix ``MATRICES[m][which]`` as (count, columns, coefficients) of each row's nonzeros."""
    mat = MATRICES[m][which]
    rows, cols = mat.shape
    cnt = np.zeros(rows, dtype=np.int64)
    idx = np.zeros((rows, cols), dtype=np.int64)
    coef = np.zeros((rows, cols), dtype=dtype)
    for u in range(rows):
        nz = np.flatnonzero(mat[u])
        cnt[u] = len(nz)
        idx[u, :len(nz)] = nz
        coef[u, :len(nz)] = mat[u, nz]
    return cnt, idx, coef


#: bytes of transformed input and output (V and M) per chunk of tile rows.
#: Chunks only bound the temporaries of very large problems: measured, one
#: chunk is fastest (the GEMMs are longest), smaller chunks gain nothing.
CHUNK_BYTES = 16 * 2**20
#: at least this many tiles per chunk, so that each GEMM stays efficient
MIN_CHUNK_TILES = 256


def chunk_rows(problem: ConvProblem, m: int) -> int:
    """Tile rows per chunk of the compiled pipeline (chunks of equal size)."""
    alpha = m + 2
    th, tw = tiles(problem, m)
    total = problem.batch * th
    per_tile = alpha * alpha * problem.groups * (problem.in_channels + problem.out_channels) * problem.itemsize
    rows = max(1, -(-max(MIN_CHUNK_TILES, CHUNK_BYTES // max(per_tile, 1)) // tw))
    if rows >= total:
        return total
    chunks = -(-total // rows)
    return -(-total // chunks)


def _run_compiled(problem: ConvProblem, x: np.ndarray, u: np.ndarray, m: int) -> np.ndarray:
    """The compiled pipeline, chunk by chunk: input transform, GEMMs, output
    transform.  ``x`` is the unpadded input; the input transform adds the zeros."""
    kernels = _compiled()
    dtype = x.dtype
    alpha = m + 2
    n, g, c = x.shape[:3]
    o = problem.out_channels
    th, tw = tiles(problem, m)
    total = n * th
    rows = chunk_rows(problem, m)
    bt = _sparse(m, 0, dtype)
    at = _sparse(m, 2, dtype)
    (lo0, _), (lo1, _) = problem.pad
    out = np.empty(problem.out_shape, dtype=dtype)
    size = rows * tw
    vbuf = _reused("v", alpha * alpha * g * c * size, dtype)
    mbuf = _reused("m", alpha * alpha * g * o * size, dtype)
    # F(2,3)'s rows along W and one split input row; the general loops' two
    # tile arrays and one padded row (the output transforms need less)
    work = np.empty(18 * tw + 2 if m == 2 else 2 * alpha * alpha * size + tw * m + 2, dtype=dtype)
    x = np.ascontiguousarray(x)
    for r0 in range(0, total, rows):
        r1 = min(total, r0 + rows)
        size = (r1 - r0) * tw
        v = vbuf[:alpha * alpha * g * c * size]
        mm = mbuf[:alpha * alpha * g * o * size]
        if m == 2:
            kernels["input2"](x, lo0, lo1, th, tw, r0, r1, v, work)
        else:
            kernels["input"](x, lo0, lo1, *bt, m, th, tw, r0, r1, v, work)
        v3 = v.reshape(alpha * alpha * g, c, size)
        m3 = mm.reshape(alpha * alpha * g, o, size)
        if c == 1 and o == 1:
            np.multiply(u, v3, out=m3)          # one channel: an elementwise product
        else:
            np.matmul(u, v3, out=m3)            # (alpha^2 G) GEMMs (Cout x Cin) @ (Cin x tiles)
        if m == 2:
            kernels["output2"](mm, th, tw, r0, r1, out, work)
        else:
            kernels["output"](mm, *at, m, th, tw, r0, r1, out, work)
    return out


#: per-thread buffers for V and M, kept between calls
_BUFFERS = threading.local()


def _reused(name: str, size: int, dtype: np.dtype) -> np.ndarray:
    """A 1-D buffer of ``size`` elements kept for the next call (per thread).

    V and M of a chunk are up to :data:`CHUNK_BYTES` each; fresh memory of
    that size costs page faults on every call (measured: 8 ms of a 23 ms
    call for 8 x 64 -> 64 channels at 56x56), so the largest buffer seen is
    kept, one per name and thread.
    """
    held = getattr(_BUFFERS, name, None)
    if held is None or held.dtype != dtype or held.size < size:
        held = np.empty(size, dtype=dtype)
        setattr(_BUFFERS, name, held)
    return held[:size]


def tiles(problem: ConvProblem, m: int) -> tuple[int, int]:
    """Number of output tiles ``(th, tw)`` along H and W."""
    ho, wo = problem.spatial_out
    return -(-ho // m), -(-wo // m)


def run_variant(problem: ConvProblem, x: np.ndarray, w: np.ndarray, m: int, *,
                compiled: bool | None = None) -> np.ndarray:
    """``F(m x m, 3 x 3)`` on core-layout operands (``m`` = 2 or 4).

    ``x (N, G, Cin, H, W)`` is zero-extended by ``problem.pad`` (and further,
    at the end, to a whole number of tiles); ``w (G, Cout, Cin, 3, 3)``.
    Returns the cross-correlation ``(N, G, Cout, *problem.spatial_out)`` in
    ``problem.compute_dtype``.  ``compiled``: use the numba loops for the
    input and output transforms (default: when numba is available).
    """
    if m not in MATRICES:
        raise ValueError(f"winograd: variant m={m!r} is not one of {list(VARIANTS)}")
    reason = algorithm.supports(problem)
    if reason is not None:
        raise ValueError(reason)
    if compiled is None:
        compiled = numba_available()
    dtype = np.dtype(problem.compute_dtype)
    x = np.asarray(x, dtype=dtype)
    ho, wo = problem.spatial_out
    n, g, c = problem.x_shape[:3]
    o = problem.out_channels
    if ho == 0 or wo == 0 or n == 0:
        return np.zeros(problem.out_shape, dtype=dtype)
    th, tw = tiles(problem, m)
    alpha = m + 2
    # zero-extend by the problem's pad, and at the end up to whole tiles
    (lo0, hi0), (lo1, hi1) = problem.pad
    extra0 = th * m + 2 - problem.padded_in[0]
    extra1 = tw * m + 2 - problem.padded_in[1]
    tiled = dataclasses.replace(problem, pad=((lo0, hi0 + extra0), (lo1, hi1 + extra1)))
    u = kernel_transform(w, m, dtype).reshape(alpha * alpha * g, o, c)
    if compiled:
        return _run_compiled(problem, x, u, m)
    xq = zero_extend(tiled, x)
    v = _input_transform_numpy(xq, m, th, tw).reshape(alpha * alpha * g, c, n * th * tw)
    mm = u * v if c == 1 and o == 1 else np.matmul(u, v)
    return _output_transform_numpy(mm.reshape(alpha, alpha, g, o, n, th, tw), m, (ho, wo))


def _elements(problem: ConvProblem, m: int) -> tuple[int, int, int]:
    """(elements of V, elements of M, multiply-adds of the GEMMs) for ``F(m, 3)``."""
    alpha = m + 2
    th, tw = tiles(problem, m)
    t = problem.batch * th * tw
    g, c, o = problem.groups, problem.in_channels, problem.out_channels
    return alpha * alpha * g * c * t, alpha * alpha * g * o * t, alpha * alpha * g * t * c * o


def variant_seconds(problem: ConvProblem, m: int) -> float:
    """Estimated seconds of ``F(m, 3)`` on ``problem``: the transforms (per
    element of V and M), the kernel transform (per element of U), the GEMMs
    (per multiply-add, one BLAS call per transform coordinate and group) and
    a fixed overhead."""
    c = _calibration.constants()
    v, mm, macs = _elements(problem, m)
    alpha = m + 2
    g, ci, co = problem.groups, problem.in_channels, problem.out_channels
    # per float32 element and multiply-add; float64 moves twice the bytes
    width = problem.itemsize / 4
    per_element = _constant(c, "winograd_f2_per_element" if m == 2 else "winograd_f4_per_element")
    if not numba_available():
        per_element = _constant(c, "winograd_per_element") * _NUMPY_FALLBACK_FACTOR
    calls = 0 if ci == 1 and co == 1 else alpha * alpha * g
    return ((v + mm) * per_element * width
            + alpha * alpha * g * co * ci * _constant(c, "winograd_kernel_per_element")
            + macs * _constant(c, "winograd_gemm_per_mac") * width
            + calls * c.get("numpy_call_overhead", 4e-6)
            + _constant(c, "winograd_overhead"))


#: relative error allowed for single-precision results (max|err| / max|output|)
SINGLE_PRECISION_TARGET = 1e-6


def choose_variant(problem: ConvProblem) -> int:
    """The tile size with the smaller estimated cost among the accurate ones.

    ``F(4,3)``'s transforms lose about 20x more precision than ``F(2,3)``'s:
    in float32 that is ~1e-5 of max|output|, above the 1e-6 single-precision
    target, so float32 problems use ``F(2,3)`` (~6e-7) unless a variant is
    forced.  float64 problems take the cheaper of the two (``F(4,3)`` unless
    the image is so small that whole 4x4 tiles waste more than they save).
    """
    if problem.compute_dtype.itemsize < 8:
        return 2
    return min(VARIANTS, key=lambda m: (variant_seconds(problem, m), -m))


# ---------------------------------------------------------------------------
# the algorithm object

class Winograd:
    """Winograd ``F(m x m, 3 x 3)``; ``tile`` = 2 or 4 forces the variant,
    ``None`` (the default) chooses by estimated cost."""

    name = "winograd"
    exact_nonfinite = False   # a NaN spreads over a transformed tile; the engine repairs

    def __init__(self, tile: int | None = None):
        if tile is not None and tile not in MATRICES:
            raise ValueError(f"winograd: tile={tile!r} is not one of {list(VARIANTS)} or None")
        self.tile = tile

    def supports(self, problem: ConvProblem) -> str | None:
        if problem.ndim != 2:
            return f"winograd: only 2-D problems (got {problem.ndim}-D)"
        dtype = problem.compute_dtype
        if dtype.kind in "biu":
            return (f"winograd: integer inputs ({problem.out_dtype}) are not supported: the "
                    f"transforms round, so the result would not be exact")
        if dtype.kind == "c":
            return f"winograd: complex inputs ({problem.out_dtype}) are not supported"
        if dtype not in (np.float32, np.float64):
            return f"winograd: only float16, float32 and float64 inputs (got {problem.out_dtype})"
        k = problem.kernel_spatial
        s, d = problem.strides, problem.dilations
        if k != (3, 3) or s != (1, 1) or d != (1, 1):
            got = []
            if k != (3, 3):
                got.append("x".join(map(str, k)))
            if s != (1, 1):
                got.append(f"stride {_pair(s)}")
            if d != (1, 1):
                got.append(f"dilation {_pair(d)}")
            return ("winograd: only 3x3 kernels with stride 1 and dilation 1 "
                    f"(got {', '.join(got)})")
        return None

    def variant(self, problem: ConvProblem) -> int:
        """The tile size ``m`` this object runs ``problem`` with."""
        return self.tile if self.tile is not None else choose_variant(problem)

    def cost(self, problem: ConvProblem) -> Cost:
        m = self.variant(problem)
        v, mm, macs = _elements(problem, m)
        alpha = m + 2
        kernel = alpha * alpha * problem.groups * problem.out_channels * problem.in_channels
        th, tw = tiles(problem, m)
        if numba_available():
            # V and M of one chunk of tile rows (kept between calls), and the
            # loops' scratch; the input is read unpadded
            share = chunk_rows(problem, m) / (problem.batch * th)
            work = 18 * tw if m == 2 else 2 * alpha * alpha * chunk_rows(problem, m) * tw
            temporaries = int(((v + mm) * share + work + kernel) * problem.itemsize)
        else:
            # numpy's windows, products and transposes, and the padded input
            padded = math.prod(problem.x_shape[:3]) * (th * m + 2) * (tw * m + 2)
            temporaries = int((3 * (v + mm) + kernel + padded) * problem.itemsize)
        return Cost(variant_seconds(problem, m), bytes=temporaries,
                    detail=(f"F({m}x{m},3x3): {alpha * alpha} GEMMs per group, "
                            f"{macs:.3g} multiply-adds ({macs / max(problem.macs, 1):.2f} of direct)"))

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return run_variant(problem, x, w, self.variant(problem))


def _pair(values: tuple[int, ...]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


algorithm = Winograd()
