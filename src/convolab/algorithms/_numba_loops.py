"""The compiled loops of :mod:`._compiled`, defined at module level.

This module imports numba, so only :mod:`._compiled` imports it, on first
use.  Every function is defined at module level (no closures), which lets
numba's disk cache (``cache=True``) find them again in a new process: a
later process loads the machine code in milliseconds instead of compiling
for seconds.

How the loops are fast.  The kernel's taps are taken in flat order, eight at
a time, whatever their rows: for each output row, one pass over the row adds
the products of eight taps, each reading its own shifted view of an input
row.  A pass loads nine arrays and stores one for eight multiply-adds, the
innermost loop has no index arithmetic (views are sliced once per pass), so
the compiler vectorizes it to the full SIMD width, and ``contract`` lets it
fuse each multiply and add into one FMA instruction (one rounding instead of
two; no other IEEE rule is relaxed, so ``nan * 0`` is still NaN).  A 3x3
kernel is then two passes per row instead of three, a 7x7 kernel seven
instead of fourteen.  The first pass writes the row, so no zero-fill pass.

In 2-D, two output rows ``d0`` apart share all but one kernel row's worth of
input rows: input row ``r`` meets the upper output row with kernel row ``u``
and the lower one with ``u - 1``.  A paired pass loads each of eight inputs
once for two multiply-adds: a 5x5 kernel then loads 38 array elements per
two outputs instead of 56, an 11x11 kernel 170 instead of 272 (1024^2
float32, 'valid', on 2 cores: 105 -> 115 and 104 -> 129 GFLOP/s).  A task
is a band of 16 output rows; the columns whose windows leave the image at a
row end are computed from a small zero-extended copy of the band's edge.

Register tiles go further: a pass stores its output row and loads it again
for the next pass, while a tile keeps sixteen SIMD vectors of sums in
registers through the whole kernel (written with the explicit vectors of
:mod:`._simd`, since numba never keeps a sum in a register across an outer
loop).  In 2-D a tile is four output rows by four vectors of columns, each
input vector loaded once for up to four rows (:func:`_tile_rows`); dense
layers take four output channels by four vectors (:func:`_tile_4x4`) or, on
AVX-512 machines, four vectors of output channels by six positions
(:func:`_tile_channels`).  Real floats only: complex and integer data keep
the passes.

On AVX-512 machines the loops ask for 512-bit vectors (:func:`_wide_vectors`):
LLVM's default there is 256-bit, which left half of each vector unit idle.

Each loop exists twice: ``correlate_*`` runs its tasks on numba's threads
(``prange``), ``correlate_*_serial`` on the calling thread, for problems too
small to pay for waking the thread pool; both call the same task.
"""

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic, overload

from ._compiled import CHANNEL_TILE_POSITIONS
from ._simd import lanes, vadd, vbroadcast, vfma, vload, vsplat, vstore, vtranspose, vzero

#: only fused multiply-add; NaN, infinities and signed zeros keep IEEE rules
_MATH = {"contract"}


@intrinsic
def _wide_vectors(typingctx):
    """Mark the function that calls this as preferring 512-bit vectors.

    LLVM vectorizes with 256-bit registers on CPUs whose 512-bit units it
    deems not worth their clock cost; numba offers no per-function switch, so
    the calling function gets the attribute clang's ``-mprefer-vector-width=512``
    sets (AVX-512 machines only use it; others ignore it).  The passes then run
    8-20% faster (measured: 1024^2 float32 11x11, 132 -> 160 GFLOP/s on 2
    cores).  If the attribute cannot be set, the loops compile as before."""
    def codegen(context, builder, signature, args):
        try:
            # llvmlite accepts only a fixed list of attribute names; the set
            # itself prints any string into the IR
            set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        except Exception:           # pragma: no cover - another llvmlite
            pass
        return context.get_dummy_value()
    return types.none(), codegen


def _tile_width(x):
    """Positions a register tile computes along a row: four SIMD vectors of
    ``x``'s dtype, 0 for dtypes without vectors (complex, integer), which
    then take the passes below."""


@overload(_tile_width, inline="always")
def _tile_width_typed(x):
    if x.dtype in (types.float32, types.float64):
        return lambda x: 4 * lanes(x)
    return lambda x: 0


@numba.njit(inline="always", fastmath=_MATH)
def _pass8(row, first, x0, x1, x2, x3, x4, x5, x6, x7, c0, c1, c2, c3, c4, c5, c6, c7):
    if first:
        for j in range(row.shape[0]):
            row[j] = (c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j]
                      + c4 * x4[j] + c5 * x5[j] + c6 * x6[j] + c7 * x7[j])
    else:
        for j in range(row.shape[0]):
            row[j] += (c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j]
                       + c4 * x4[j] + c5 * x5[j] + c6 * x6[j] + c7 * x7[j])


@numba.njit(inline="always", fastmath=_MATH)
def _pass4(row, first, x0, x1, x2, x3, c0, c1, c2, c3):
    if first:
        for j in range(row.shape[0]):
            row[j] = c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j]
    else:
        for j in range(row.shape[0]):
            row[j] += c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j]


@numba.njit(inline="always", fastmath=_MATH)
def _pass1(row, first, x0, c0):
    if first:
        for j in range(row.shape[0]):
            row[j] = c0 * x0[j]
    else:
        for j in range(row.shape[0]):
            row[j] += c0 * x0[j]


@numba.njit(inline="always", fastmath=_MATH)
def _pair8(r0, r1, x0, x1, x2, x3, x4, x5, x6, x7,
           a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7):
    """Eight inputs added to two rows with two sets of weights: each input
    loaded once for two multiply-adds."""
    for j in range(r0.shape[0]):
        v0, v1, v2, v3 = x0[j], x1[j], x2[j], x3[j]
        v4, v5, v6, v7 = x4[j], x5[j], x6[j], x7[j]
        r0[j] += (a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
                  + a4 * v4 + a5 * v5 + a6 * v6 + a7 * v7)
        r1[j] += (b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3
                  + b4 * v4 + b5 * v5 + b6 * v6 + b7 * v7)


@numba.njit(inline="always", fastmath=_MATH)
def _pair4(r0, r1, x0, x1, x2, x3, a0, a1, a2, a3, b0, b1, b2, b3):
    for j in range(r0.shape[0]):
        v0, v1, v2, v3 = x0[j], x1[j], x2[j], x3[j]
        r0[j] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
        r1[j] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3


@numba.njit(inline="always", fastmath=_MATH)
def _pair1(r0, r1, x0, a0, b0):
    for j in range(r0.shape[0]):
        v0 = x0[j]
        r0[j] += a0 * v0
        r1[j] += b0 * v0


# -- 2-D: x (B, H, W), w (G, KH, KW); tap t = (u, v) in row-major order -------
#
# Output (i, j) reads x[i - top + u d0, j - left + v d1]; samples outside x are
# zeros, supplied by the loop itself (no zero-extended copy of the image).

#: two output rows share their input rows when they have at least this many
#: taps in common (a 3x3 kernel has 6: its one-row passes at the first and
#: last kernel rows then cost more than sharing saves; measured)
PAIR_MIN_SHARED = 8

#: output rows per task of :func:`correlate_2d` (rounded to whole pairs)
BAND_ROWS = 16


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_2d(x, w, d0, d1, top, left, out):
    """``x (B, H, W)`` zero-extended by ``top`` rows and ``left`` columns (and
    zeros beyond its end) with ``w (G, KH, KW)`` into ``out (B, Ho, Wo)``:
    one task per band of output rows."""
    bands = _bands_2d(out.shape[1], d0)
    for task in numba.prange(out.shape[0] * bands):
        _band_2d(x, w, d0, d1, top, left, out, task // bands, task % bands)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_2d_serial(x, w, d0, d1, top, left, out):
    """:func:`correlate_2d` on the calling thread."""
    bands = _bands_2d(out.shape[1], d0)
    for task in range(out.shape[0] * bands):
        _band_2d(x, w, d0, d1, top, left, out, task // bands, task % bands)


@numba.njit(inline="always")
def _band_height(d0):
    """Rows per band: whole blocks of ``2 d0`` rows (row ``i`` pairs with ``i + d0``)."""
    return max(1, BAND_ROWS // (2 * d0)) * 2 * d0


@numba.njit(inline="always")
def _bands_2d(h_out, d0):
    height = _band_height(d0)
    return (h_out + height - 1) // height


@numba.njit(inline="always")
def _tap_rows(i, top, d0, kh, height):
    """The kernel rows ``ulo <= u < uhi`` whose input row for output row ``i``
    lies inside the image."""
    ulo = 0 if i >= top else (top - i + d0 - 1) // d0
    last = height - 1 - i + top
    uhi = 0 if last < 0 else min(kh, last // d0 + 1)
    return ulo, max(ulo, uhi)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _band_2d(x, w, d0, d1, top, left, out, b, band):
    """Output rows ``r0:r1`` of image ``b``: the columns whose windows lie
    inside the rows of ``x`` by passes over ``x`` itself (two rows at a time
    where every kernel row is inside the image), the few columns at each end
    through a small zero-extended copy of the band's edge."""
    kh, kw = w.shape[1], w.shape[2]
    h_out, w_out = out.shape[1], out.shape[2]
    height = _band_height(d0)
    r0 = band * height
    r1 = min(h_out, r0 + height)
    cl = min(left, w_out)
    cr = max(cl, min(w_out, left + x.shape[2] - (kw - 1) * d1))
    pairs = (kh - 1) * kw >= PAIR_MIN_SHARED
    tile = _tile_width(x)
    if tile > 0 and cr - cl >= tile and d0 == 1:
        _real_tiles_2d(x, w, d1, top, left, out, b, r0, r1, cl, cr)
    elif cr > cl:
        for block in range(r0, r1, 2 * d0):
            for i in range(block, min(block + d0, r1)):
                i2 = i + d0
                if pairs and i2 < r1:
                    lo, hi = _tap_rows(i, top, d0, kh, x.shape[1])
                    lo2, hi2 = _tap_rows(i2, top, d0, kh, x.shape[1])
                    if lo == 0 and hi == kh and lo2 == 0 and hi2 == kh:
                        _pair_2d(x, w, d0, d1, top, left, out, b, i, cl, cr)
                        continue
                _row_2d(x, w, d0, d1, top, left, out, b, i, cl, cr)
                if i2 < r1:
                    _row_2d(x, w, d0, d1, top, left, out, b, i2, cl, cr)
    if cl > 0:
        _edge_2d(x, w, d0, d1, top, left, out, b, r0, r1, 0, cl)
    if cr < w_out:
        _edge_2d(x, w, d0, d1, top, left, out, b, r0, r1, cr, w_out)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _tiles_2d(x, w, d1, top, left, out, b, r0, r1, cl, cr):
    """Columns ``cl:cr`` of output rows ``r0:r1`` (kernel rows one input row
    apart): blocks of four rows whose kernel rows all lie inside the image
    by register tiles (:func:`_tile_rows`) over whole tiles of columns, the
    rest by passes (:func:`_row_2d`)."""
    kh, kw = w.shape[1], w.shape[2]
    tile = _tile_width(x)
    end = cl + (cr - cl) // tile * tile
    xb = x[b]
    ob = out[b]
    wr = w[b % w.shape[0]].reshape(kh * kw)
    width, w_out = x.shape[2], out.shape[2]
    i = r0
    while i + 4 <= r1:
        lo, hi = _tap_rows(i, top, 1, kh, x.shape[1])
        lo3, hi3 = _tap_rows(i + 3, top, 1, kh, x.shape[1])
        if lo == 0 and hi == kh and lo3 == 0 and hi3 == kh:
            for c in range(cl, end, tile):
                _tile_rows(xb, (i - top) * width + c - left, width, wr, kw, d1, ob,
                           i * w_out + c, w_out)
            if end < cr:
                for r in range(i, i + 4):
                    _row_2d(x, w, 1, d1, top, left, out, b, r, end, cr)
        else:
            for r in range(i, i + 4):
                _row_2d(x, w, 1, d1, top, left, out, b, r, cl, cr)
        i += 4
    for r in range(i, r1):
        _row_2d(x, w, 1, d1, top, left, out, b, r, cl, cr)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _row_2d(x, w, d0, d1, top, left, out, b, i, cl, cr):
    """Columns ``cl:cr`` of output row ``i`` by passes over the kernel rows
    that meet the image."""
    _wide_vectors()
    kh, kw = w.shape[1], w.shape[2]
    wg = w[b % w.shape[0]]
    zero = x.dtype.type(0)
    row = out[b, i, cl:cr]
    lo, hi = _tap_rows(i, top, d0, kh, x.shape[1])
    # the taps on rows outside the image multiply zeros: 0 with finite
    # weights, NaN where a weight is infinite or NaN (as in the direct sum)
    rest = zero
    for u in range(kh):
        if u < lo or u >= hi:
            for v in range(kw):
                rest += zero * wg[u, v]
    if lo < hi:
        _taps_2d(row, x[b], wg, i - top, cl - left, d0, d1, lo * kw, hi * kw, kw)
        if rest != zero:
            for j in range(row.shape[0]):
                row[j] += rest
    else:
        for j in range(row.shape[0]):
            row[j] = rest


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _edge_2d(x, w, d0, d1, top, left, out, b, r0, r1, c0, c1):
    """Columns ``c0:c1`` of output rows ``r0:r1``, whose windows leave the
    image at a row end: the input they read is copied, zero-extended, into a
    small buffer, which is correlated flattened (:func:`_passes_at`)."""
    _wide_vectors()
    kh, kw = w.shape[1], w.shape[2]
    hb = r1 - r0 + (kh - 1) * d0
    wb = c1 - c0 + (kw - 1) * d1
    buffer = np.zeros(hb * wb, dtype=x.dtype)
    for r in range(hb):
        xi = r0 - top + r
        if 0 <= xi < x.shape[1]:
            for c in range(wb):
                xj = c0 - left + c
                if 0 <= xj < x.shape[2]:
                    buffer[r * wb + c] = x[b, xi, xj]
    offsets = np.empty(kh * kw, dtype=np.int64)
    for u in range(kh):
        for v in range(kw):
            offsets[u * kw + v] = u * d0 * wb + v * d1
    length = (r1 - r0 - 1) * wb + c1 - c0
    flat = np.empty(length, dtype=x.dtype)
    _passes_at(flat, buffer, w[b % w.shape[0]].reshape(kh * kw), offsets, 0, length)
    for r in range(r1 - r0):
        _copy(out[b, r0 + r, c0:c1], flat[r * wb:r * wb + c1 - c0])


@numba.njit(inline="always")
def _view2(xb, base, s0, t, kw, d0, d1, n):
    """Tap ``t``'s input for an output row whose tap-0 input row is ``base``."""
    u = t // kw
    s = s0 + (t - u * kw) * d1
    return xb[base + u * d0, s:s + n]


@numba.njit(inline="always")
def _coef2(wg, t, kw):
    u = t // kw
    return wg[u, t - u * kw]


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _taps_2d(row, xb, wg, base, s0, d0, d1, t0, t1, kw):
    """``row = sum of taps t0 <= t < t1``, eight per pass (the first pass writes)."""
    _wide_vectors()
    n = row.shape[0]
    t = t0
    first = True
    while t + 8 <= t1:
        _pass8(row, first,
               _view2(xb, base, s0, t, kw, d0, d1, n),
               _view2(xb, base, s0, t + 1, kw, d0, d1, n),
               _view2(xb, base, s0, t + 2, kw, d0, d1, n),
               _view2(xb, base, s0, t + 3, kw, d0, d1, n),
               _view2(xb, base, s0, t + 4, kw, d0, d1, n),
               _view2(xb, base, s0, t + 5, kw, d0, d1, n),
               _view2(xb, base, s0, t + 6, kw, d0, d1, n),
               _view2(xb, base, s0, t + 7, kw, d0, d1, n),
               _coef2(wg, t, kw), _coef2(wg, t + 1, kw), _coef2(wg, t + 2, kw),
               _coef2(wg, t + 3, kw), _coef2(wg, t + 4, kw), _coef2(wg, t + 5, kw),
               _coef2(wg, t + 6, kw), _coef2(wg, t + 7, kw))
        first = False
        t += 8
    if t + 4 <= t1:
        _pass4(row, first,
               _view2(xb, base, s0, t, kw, d0, d1, n),
               _view2(xb, base, s0, t + 1, kw, d0, d1, n),
               _view2(xb, base, s0, t + 2, kw, d0, d1, n),
               _view2(xb, base, s0, t + 3, kw, d0, d1, n),
               _coef2(wg, t, kw), _coef2(wg, t + 1, kw), _coef2(wg, t + 2, kw),
               _coef2(wg, t + 3, kw))
        first = False
        t += 4
    while t < t1:
        _pass1(row, first, _view2(xb, base, s0, t, kw, d0, d1, n), _coef2(wg, t, kw))
        first = False
        t += 1


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _pair_2d(x, w, d0, d1, top, left, out, b, i, cl, cr):
    """Columns ``cl:cr`` of output rows ``i`` and ``i + d0``, both with every
    kernel row inside the image.  Input row ``i - top + u d0`` meets the first
    with kernel row ``u`` and the second with row ``u - 1``: the shared rows
    are read once for both (``_pair8``), and the first and last kernel rows by
    one-row passes."""
    _wide_vectors()
    kh, kw = w.shape[1], w.shape[2]
    xb = x[b]
    wg = w[b % w.shape[0]]
    base = i - top
    s0 = cl - left
    n = cr - cl
    row0 = out[b, i, cl:cr]
    row1 = out[b, i + d0, cl:cr]
    _taps_2d(row0, xb, wg, base, s0, d0, d1, 0, kw, kw)
    _taps_2d(row1, xb, wg, base + d0, s0, d0, d1, (kh - 1) * kw, kh * kw, kw)
    # shared tap p: kernel row u = 1 + p // kw of row0 (u - 1 of row1), column p % kw
    shared = (kh - 1) * kw
    p = 0
    while p + 8 <= shared:
        _pair8(row0, row1,
               _view2(xb, base + d0, s0, p, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 1, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 2, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 3, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 4, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 5, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 6, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 7, kw, d0, d1, n),
               _coef2(wg, p + kw, kw), _coef2(wg, p + 1 + kw, kw), _coef2(wg, p + 2 + kw, kw),
               _coef2(wg, p + 3 + kw, kw), _coef2(wg, p + 4 + kw, kw),
               _coef2(wg, p + 5 + kw, kw), _coef2(wg, p + 6 + kw, kw),
               _coef2(wg, p + 7 + kw, kw),
               _coef2(wg, p, kw), _coef2(wg, p + 1, kw), _coef2(wg, p + 2, kw),
               _coef2(wg, p + 3, kw), _coef2(wg, p + 4, kw), _coef2(wg, p + 5, kw),
               _coef2(wg, p + 6, kw), _coef2(wg, p + 7, kw))
        p += 8
    if p + 4 <= shared:
        _pair4(row0, row1,
               _view2(xb, base + d0, s0, p, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 1, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 2, kw, d0, d1, n),
               _view2(xb, base + d0, s0, p + 3, kw, d0, d1, n),
               _coef2(wg, p + kw, kw), _coef2(wg, p + 1 + kw, kw), _coef2(wg, p + 2 + kw, kw),
               _coef2(wg, p + 3 + kw, kw),
               _coef2(wg, p, kw), _coef2(wg, p + 1, kw), _coef2(wg, p + 2, kw),
               _coef2(wg, p + 3, kw))
        p += 4
    while p < shared:
        _pair1(row0, row1, _view2(xb, base + d0, s0, p, kw, d0, d1, n),
               _coef2(wg, p + kw, kw), _coef2(wg, p, kw))
        p += 1


# -- 3-D: x (B, A, H, W), w (G, KA, KH, KW); tap t = (a, u, v) ---------------

@numba.njit(inline="always")
def _view3(xb, a, i, t, kh, kw, d0, d1, d2, n):
    q = t // kw
    v = t - q * kw
    p = q // kh
    u = q - p * kh
    s = v * d2
    return xb[a + p * d0, i + u * d1, s:s + n]


@numba.njit(inline="always")
def _coef3(wg, t, kh, kw):
    q = t // kw
    p = q // kh
    return wg[p, q - p * kh, t - q * kw]


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_3d(x, w, d0, d1, d2, out):
    """``x (B, A, H, W)`` with ``w (G, KA, KH, KW)``: one task per output row."""
    for task in numba.prange(out.shape[0] * out.shape[1] * out.shape[2]):
        _row_3d(x, w, d0, d1, d2, out, task)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_3d_serial(x, w, d0, d1, d2, out):
    """:func:`correlate_3d` on the calling thread."""
    for task in range(out.shape[0] * out.shape[1] * out.shape[2]):
        _row_3d(x, w, d0, d1, d2, out, task)


@numba.njit(inline="always", fastmath=_MATH)
def _row_3d(x, w, d0, d1, d2, out, task):
    _wide_vectors()
    batch, a_out, h_out, n = out.shape
    groups, ka, kh, kw = w.shape
    taps = ka * kh * kw
    b = task // (a_out * h_out)
    rest = task - b * (a_out * h_out)
    a = rest // h_out
    i = rest - a * h_out
    row = out[b, a, i]
    xb = x[b]
    wg = w[b % groups]
    t = 0
    first = True
    while t + 8 <= taps:
        _pass8(row, first,
               _view3(xb, a, i, t, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 1, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 2, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 3, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 4, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 5, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 6, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 7, kh, kw, d0, d1, d2, n),
               _coef3(wg, t, kh, kw), _coef3(wg, t + 1, kh, kw), _coef3(wg, t + 2, kh, kw),
               _coef3(wg, t + 3, kh, kw), _coef3(wg, t + 4, kh, kw),
               _coef3(wg, t + 5, kh, kw), _coef3(wg, t + 6, kh, kw),
               _coef3(wg, t + 7, kh, kw))
        first = False
        t += 8
    if t + 4 <= taps:
        _pass4(row, first,
               _view3(xb, a, i, t, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 1, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 2, kh, kw, d0, d1, d2, n),
               _view3(xb, a, i, t + 3, kh, kw, d0, d1, d2, n),
               _coef3(wg, t, kh, kw), _coef3(wg, t + 1, kh, kw), _coef3(wg, t + 2, kh, kw),
               _coef3(wg, t + 3, kh, kw))
        first = False
        t += 4
    while t < taps:
        _pass1(row, first, _view3(xb, a, i, t, kh, kw, d0, d1, d2, n), _coef3(wg, t, kh, kw))
        first = False
        t += 1


# -- taps at arbitrary offsets of a row: 1-D, and 2-D images with short rows --

#: output samples per task of :func:`correlate_offsets`
OFFSET_CHUNK = 4096


@numba.njit(inline="always")
def _view_at(xr, offset, start, n):
    s = start + offset
    return xr[s:s + n]


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_offsets(x, w, offsets, length, out):
    """``out[b, j] = sum_t w[b % G, t] * x[b, j + offsets[t]]`` for ``j < length``;
    the rows are cut into chunks for the threads.

    1-D rows use it with ``offsets = t * dilation``.  A 2-D image of padded
    width ``Wp``, flattened, is one long row whose tap ``(u, v)`` sits at offset ``u*d0*Wp + v*d1``: the passes then run over
    the whole image at once instead of over rows too short to fill the SIMD
    lanes (the outputs that wrap across a row end are computed and dropped)."""
    chunks = (length + OFFSET_CHUNK - 1) // OFFSET_CHUNK
    for task in numba.prange(out.shape[0] * chunks):
        _chunk_offsets(x, w, offsets, length, out, task)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_offsets_serial(x, w, offsets, length, out):
    """:func:`correlate_offsets` on the calling thread."""
    chunks = (length + OFFSET_CHUNK - 1) // OFFSET_CHUNK
    for task in range(out.shape[0] * chunks):
        _chunk_offsets(x, w, offsets, length, out, task)


@numba.njit(inline="always", fastmath=_MATH)
def _chunk_offsets(x, w, offsets, length, out, task):
    _wide_vectors()
    chunks = (length + OFFSET_CHUNK - 1) // OFFSET_CHUNK
    b = task // chunks
    start = (task % chunks) * OFFSET_CHUNK
    n = min(OFFSET_CHUNK, length - start)
    _passes_at(out[b, start:start + n], x[b], w[b % w.shape[0]], offsets, start, n)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_planes(x, w, offsets, top, left, hp, wp, out, tasks, kw, d1, tiled):
    """Images ``x (B, H, W)`` with short rows, ``w (G, T)`` with taps at
    ``offsets`` of a flattened ``hp x wp`` image: each image is zero-extended
    into a small buffer (``x`` at row ``top``, column ``left``), correlated
    flattened, and its rows cropped into ``out (B, Ho, Wo)``; each of
    ``tasks`` tasks (one per thread) takes a run of images.  ``tiled``
    (kernel rows one input row apart, kernels ``kw`` wide with column
    dilation ``d1``): register tiles of four output rows
    (:func:`_tile_rows`) instead of passes over the flattened image.

    The buffers stay in the core's cache, so the batch is read once and the
    output written once (a padded copy of the batch and a flattened output
    would stream it through memory three more times)."""
    for task in numba.prange(tasks):
        _planes(x, w, offsets, top, left, hp, wp, out,
                x.shape[0] * task // tasks, x.shape[0] * (task + 1) // tasks, kw, d1, tiled)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_planes_serial(x, w, offsets, top, left, hp, wp, out, tasks, kw, d1, tiled):
    """:func:`correlate_planes` on the calling thread."""
    _planes(x, w, offsets, top, left, hp, wp, out, 0, x.shape[0], kw, d1, tiled)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_plane(x, w, offsets, top, left, hp, wp, h_out, w_out, kw, d1, tiled):
    """:func:`correlate_planes_serial` of one image ``x (1, H, W)``, into a new
    ``(h_out, w_out)`` output: a whole small convolution in one call."""
    out = np.empty((1, h_out, w_out), dtype=x.dtype)
    _planes(x, w, offsets, top, left, hp, wp, out, 0, 1, kw, d1, tiled)
    return out[0]


@numba.njit(inline="always", fastmath=_MATH)
def _planes(x, w, offsets, top, left, hp, wp, out, first_image, stop_image, kw, d1, tiled):
    _wide_vectors()
    height, width = x.shape[1], x.shape[2]
    h_out, w_out = out.shape[1], out.shape[2]
    length = (h_out - 1) * wp + w_out
    # the part of the image inside the padded frame (valid mode may crop nothing)
    rows = min(height, hp - top)
    cols = min(width, wp - left)
    tile = _tile_width(x)
    # tiles read up to three rows and a tile past the frame (zeros; their
    # sums land in dropped rows and columns) and write whole tiles
    slack = 3 * wp + tile if tiled else 0
    pitch = (w_out + tile - 1) // tile * tile if tiled else wp
    padded = np.empty(hp * wp + slack, dtype=x.dtype)
    _zero_border(padded[:hp * wp], top, left, rows, cols, hp, wp)   # once: images only overwrite the inside
    padded[hp * wp:] = 0
    flat = np.empty(((h_out + 3) // 4 * 4 if tiled else h_out) * pitch, dtype=x.dtype)
    for b in range(first_image, stop_image):
        for i in range(rows):
            base = (top + i) * wp + left
            _copy(padded[base:base + cols], x[b, i, :cols])
        wr = w[b % w.shape[0]]
        if tiled:
            for i in range(0, h_out, 4):
                for c in range(0, w_out, tile):
                    _real_tile_rows(padded, i * wp + c, wp, wr, kw, d1, flat, i * pitch + c,
                                    pitch)
        else:
            for start in range(0, length, OFFSET_CHUNK):
                n = min(OFFSET_CHUNK, length - start)
                _passes_at(flat[start:start + n], padded, wr, offsets, start, n)
        for i in range(h_out):
            _copy(out[b, i], flat[i * pitch:i * pitch + w_out])


@numba.njit(inline="always")
def _load4(src, p):
    """The four vectors ``src.flat[p:p + 4L]``."""
    n = lanes(src)
    return vload(src, p), vload(src, p + n), vload(src, p + 2 * n), vload(src, p + 3 * n)


@numba.njit(inline="always", fastmath=_MATH)
def _tile_rows(src, base, pitch, wr, kw, d1, dst, dbase, dpitch):
    """Four output rows at ``4L`` columns (``L`` lanes a vector), kept in
    sixteen vectors of sums in registers through the whole kernel:
    ``dst[dbase + r dpitch + j] = sum_{u,v} wr[u kw + v] src[base + (r + u)
    pitch + v d1 + j]`` for ``r < 4``, ``j < 4L``.  Input row ``s`` meets
    output row ``r`` with kernel row ``s - r``: each input vector is loaded
    once for up to four rows' multiply-adds."""
    n = lanes(src)
    kh = wr.shape[0] // kw
    a0 = vzero(src)
    a1, a2, a3, b0, b1, b2, b3 = a0, a0, a0, a0, a0, a0, a0
    c0, c1, c2, c3, e0, e1, e2, e3 = a0, a0, a0, a0, a0, a0, a0, a0
    for s in range(kh + 3):
        row = base + s * pitch
        if 3 <= s < kh:
            # every row meets this input row: the loop's main part, unbranched
            for v in range(kw):
                p = row + v * d1
                x0, x1, x2, x3 = _load4(src, p)
                k = vsplat(src, wr[s * kw + v])
                a0, a1, a2, a3 = vfma(k, x0, a0), vfma(k, x1, a1), vfma(k, x2, a2), vfma(k, x3, a3)
                k = vsplat(src, wr[(s - 1) * kw + v])
                b0, b1, b2, b3 = vfma(k, x0, b0), vfma(k, x1, b1), vfma(k, x2, b2), vfma(k, x3, b3)
                k = vsplat(src, wr[(s - 2) * kw + v])
                c0, c1, c2, c3 = vfma(k, x0, c0), vfma(k, x1, c1), vfma(k, x2, c2), vfma(k, x3, c3)
                k = vsplat(src, wr[(s - 3) * kw + v])
                e0, e1, e2, e3 = vfma(k, x0, e0), vfma(k, x1, e1), vfma(k, x2, e2), vfma(k, x3, e3)
            continue
        for v in range(kw):
            p = row + v * d1
            x0, x1, x2, x3 = _load4(src, p)
            if s < kh:
                k = vsplat(src, wr[s * kw + v])
                a0, a1, a2, a3 = vfma(k, x0, a0), vfma(k, x1, a1), vfma(k, x2, a2), vfma(k, x3, a3)
            if 1 <= s <= kh:
                k = vsplat(src, wr[(s - 1) * kw + v])
                b0, b1, b2, b3 = vfma(k, x0, b0), vfma(k, x1, b1), vfma(k, x2, b2), vfma(k, x3, b3)
            if 2 <= s <= kh + 1:
                k = vsplat(src, wr[(s - 2) * kw + v])
                c0, c1, c2, c3 = vfma(k, x0, c0), vfma(k, x1, c1), vfma(k, x2, c2), vfma(k, x3, c3)
            if s >= 3:
                k = vsplat(src, wr[(s - 3) * kw + v])
                e0, e1, e2, e3 = vfma(k, x0, e0), vfma(k, x1, e1), vfma(k, x2, e2), vfma(k, x3, e3)
    _keep4(dst, dbase, a0, a1, a2, a3, True)
    _keep4(dst, dbase + dpitch, b0, b1, b2, b3, True)
    _keep4(dst, dbase + 2 * dpitch, c0, c1, c2, c3, True)
    _keep4(dst, dbase + 3 * dpitch, e0, e1, e2, e3, True)


# The tile loops compile for real floats only.  The loops that call them
# also run complex and integer data, where the calls are never reached
# (_tile_width is 0) but must still compile: these stand-ins are the tile
# loop for real floats and nothing for other dtypes.

def _real_tiles_2d(x, w, d1, top, left, out, b, r0, r1, cl, cr):
    """:func:`_tiles_2d` for real floats, nothing for other dtypes."""


@overload(_real_tiles_2d, inline="always")
def _real_tiles_2d_typed(x, w, d1, top, left, out, b, r0, r1, cl, cr):
    if x.dtype in (types.float32, types.float64):
        return (lambda x, w, d1, top, left, out, b, r0, r1, cl, cr:
                _tiles_2d(x, w, d1, top, left, out, b, r0, r1, cl, cr))
    return lambda x, w, d1, top, left, out, b, r0, r1, cl, cr: None


def _real_tile_rows(src, base, pitch, wr, kw, d1, dst, dbase, dpitch):
    """:func:`_tile_rows` for real floats, nothing for other dtypes."""


@overload(_real_tile_rows, inline="always")
def _real_tile_rows_typed(src, base, pitch, wr, kw, d1, dst, dbase, dpitch):
    if src.dtype in (types.float32, types.float64):
        return (lambda src, base, pitch, wr, kw, d1, dst, dbase, dpitch:
                _tile_rows(src, base, pitch, wr, kw, d1, dst, dbase, dpitch))
    return lambda src, base, pitch, wr, kw, d1, dst, dbase, dpitch: None


@numba.njit(inline="always")
def _copy(dst, src):
    """``dst[:] = src`` as a plain loop over two views: vectorized (numba's slice
    assignment checks for overlap and ran three times slower on small rows)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@numba.njit(inline="always")
def _zero_border(padded, top, left, rows, cols, hp, wp):
    """Zero what lies outside the ``rows x cols`` block at ``(top, left)`` of a
    flattened ``hp x wp`` image."""
    zero = padded.dtype.type(0)
    padded[:top * wp] = zero
    for i in range(top, top + rows):
        padded[i * wp:i * wp + left] = zero
        padded[i * wp + left + cols:(i + 1) * wp] = zero
    padded[(top + rows) * wp:] = zero


@numba.njit(inline="always", fastmath=_MATH)
def _passes_at(row, xr, wr, offsets, start, n):
    """``row[j] = sum_t wr[t] * xr[start + j + offsets[t]]``, eight taps per pass."""
    taps = wr.shape[0]
    t = 0
    first = True
    while t + 8 <= taps:
        _pass8(row, first,
               _view_at(xr, offsets[t], start, n), _view_at(xr, offsets[t + 1], start, n),
               _view_at(xr, offsets[t + 2], start, n), _view_at(xr, offsets[t + 3], start, n),
               _view_at(xr, offsets[t + 4], start, n), _view_at(xr, offsets[t + 5], start, n),
               _view_at(xr, offsets[t + 6], start, n), _view_at(xr, offsets[t + 7], start, n),
               wr[t], wr[t + 1], wr[t + 2], wr[t + 3],
               wr[t + 4], wr[t + 5], wr[t + 6], wr[t + 7])
        first = False
        t += 8
    if t + 4 <= taps:
        _pass4(row, first,
               _view_at(xr, offsets[t], start, n), _view_at(xr, offsets[t + 1], start, n),
               _view_at(xr, offsets[t + 2], start, n), _view_at(xr, offsets[t + 3], start, n),
               wr[t], wr[t + 1], wr[t + 2], wr[t + 3])
        first = False
        t += 4
    while t < taps:
        _pass1(row, first, _view_at(xr, offsets[t], start, n), wr[t])
        first = False
        t += 1


# -- dense 2-D layers: x (N, G*C, H, W), w (G, T, O4); any stride, dilation --
#
# A task is a band of output rows of one image and one group.  The input the
# band reads is first copied into a small buffer, split by stride phase:
# plane (c, py, px) holds x[c, s0 (y0 + r) + py - top, s1 j + px - left] at
# (r, j), zeros outside the image.  Tap (c, u, v) then reads plane
# (c, (u d0) % s0, (v d1) % s1) from row (u d0) // s0 and column (v d1) // s1:
# for every output row of the band the same contiguous stretch, one buffer
# row apart, so the band's outputs are one flattened run of positions (the
# few columns past the output's end are computed and dropped).  A register
# tile (_tile_4x4) sums every tap into four output channels at 4 vectors of
# positions, its sixteen vectors of sums in registers throughout: per tap,
# four loads for sixteen multiply-adds, and no im2col matrix is ever written.


#: the most taps a register tile sums before it adds its sums to memory:
#: float32 sums of a thousand taps in one register drifted past 1e-6 of the
#: output's magnitude (a 3x3 128-channel layer has 1152 taps: 1.6e-6), in
#: chunks of at most 64 they stay near 2e-7, as in a blocked matrix product
DENSE_TAP_CHUNK = 64


@numba.njit(inline="always", fastmath=_MATH)
def _tile_4x4(buffer, offsets, wt, o, j, sums, t0, t1):
    """``sums[q, j:j + 4L] (+)= sum_t wt[t, o + q] * buffer[offsets[t] + j:...]``
    over the taps ``t0 <= t < t1``, for the four channels ``q`` (``L`` lanes
    a vector); the first chunk (``t0 == 0``) writes, later ones add."""
    n = lanes(buffer)
    a0 = vzero(buffer)
    a1, a2, a3, b0, b1, b2, b3 = a0, a0, a0, a0, a0, a0, a0
    c0, c1, c2, c3, e0, e1, e2, e3 = a0, a0, a0, a0, a0, a0, a0, a0
    for t in range(t0, t1):
        p = offsets[t] + j
        x0, x1, x2, x3 = _load4(buffer, p)
        k = vsplat(buffer, wt[t, o])
        a0, a1, a2, a3 = vfma(k, x0, a0), vfma(k, x1, a1), vfma(k, x2, a2), vfma(k, x3, a3)
        k = vsplat(buffer, wt[t, o + 1])
        b0, b1, b2, b3 = vfma(k, x0, b0), vfma(k, x1, b1), vfma(k, x2, b2), vfma(k, x3, b3)
        k = vsplat(buffer, wt[t, o + 2])
        c0, c1, c2, c3 = vfma(k, x0, c0), vfma(k, x1, c1), vfma(k, x2, c2), vfma(k, x3, c3)
        k = vsplat(buffer, wt[t, o + 3])
        e0, e1, e2, e3 = vfma(k, x0, e0), vfma(k, x1, e1), vfma(k, x2, e2), vfma(k, x3, e3)
    s = sums.shape[1]
    first = t0 == 0
    _keep4(sums, j, a0, a1, a2, a3, first)
    _keep4(sums, s + j, b0, b1, b2, b3, first)
    _keep4(sums, 2 * s + j, c0, c1, c2, c3, first)
    _keep4(sums, 3 * s + j, e0, e1, e2, e3, first)


@numba.njit(inline="always")
def _keep4(sums, i, v0, v1, v2, v3, first):
    """Four vectors written to (``first``) or added to ``sums.flat[i:i + 4L]``."""
    n = lanes(sums)
    if first:
        vstore(sums, i, v0)
        vstore(sums, i + n, v1)
        vstore(sums, i + 2 * n, v2)
        vstore(sums, i + 3 * n, v3)
    else:
        vstore(sums, i, vadd(vload(sums, i), v0))
        vstore(sums, i + n, vadd(vload(sums, i + n), v1))
        vstore(sums, i + 2 * n, vadd(vload(sums, i + 2 * n), v2))
        vstore(sums, i + 3 * n, vadd(vload(sums, i + 3 * n), v3))


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_dense(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out):
    """``x (N, G*C, H, W)`` zero-extended by ``top`` rows and ``left``
    columns (and zeros past its end) with ``w (G, T, O4)`` (tap-major, the
    ``O`` output channels zero-extended to a multiple of four), whose tap
    ``t`` reads the band's buffer at ``offsets[t]``, into ``out (N, G*O,
    Ho, Wo)`` with strides ``s0, s1``; ``band_rows x width`` is one plane of
    the buffer.  One task per band of ``rows`` output rows of one image and
    group."""
    bands = (out.shape[2] + rows - 1) // rows
    groups = w.shape[0]
    for task in numba.prange(out.shape[0] * groups * bands):
        _band_dense(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out, task, bands)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_dense_serial(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out):
    """:func:`correlate_dense` on the calling thread."""
    bands = (out.shape[2] + rows - 1) // rows
    groups = w.shape[0]
    for task in range(out.shape[0] * groups * bands):
        _band_dense(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out, task, bands)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _band_dense(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out, task, bands):
    groups = w.shape[0]
    channels = x.shape[1] // groups
    o_count = out.shape[1] // groups
    w_out = out.shape[3]
    n = task // (groups * bands)
    g = (task // bands) % groups
    y0 = (task % bands) * rows
    y1 = min(out.shape[2], y0 + rows)
    tile = _tile_width(x)
    length = (y1 - y0 - 1) * width + w_out
    span = (length + tile - 1) // tile * tile
    # the last tile reads up to span - length samples past the band's input:
    # zeros, whose sums land in dropped positions
    size = channels * s0 * s1 * band_rows * width
    buffer = np.empty(size + tile, dtype=x.dtype)
    _fill_phases(buffer, x, n, g * channels, channels, s0, s1, s0 * y0 - top, left,
                 band_rows, width)
    buffer[size:] = 0
    wg = w[g]
    sums = np.empty((wg.shape[1], span), dtype=x.dtype)
    taps = offsets.shape[0]
    chunks = (taps + DENSE_TAP_CHUNK - 1) // DENSE_TAP_CHUNK    # of equal length
    for j in range(0, span, tile):
        for o in range(0, o_count, 4):
            for i in range(chunks):
                _tile_4x4(buffer, offsets, wg, o, j, sums[o:o + 4], taps * i // chunks,
                          taps * (i + 1) // chunks)
    for q in range(o_count):
        for r in range(y1 - y0):
            _copy(out[n, g * o_count + q, y0 + r], sums[q, r * width:r * width + w_out])


@numba.njit(inline="always")
def _fill_phases(buffer, x, n, c0, channels, s0, s1, row0, left, band_rows, width):
    """The band's input split by stride phase into ``buffer``: plane
    ``(c, py, px)``, row ``r``, column ``j`` holds input row
    ``row0 + s0 r + py`` and column ``s1 j + px - left`` of channel ``c0 + c``
    of image ``n``; zeros outside the image."""
    height, w_in = x.shape[2], x.shape[3]
    zero = x.dtype.type(0)
    plane = band_rows * width
    for c in range(channels):
        for py in range(s0):
            for px in range(s1):
                base = ((c * s0 + py) * s1 + px) * plane
                # the columns j with 0 <= s1 j + px - left < w_in
                lo = min(width, max(0, (left - px + s1 - 1) // s1))
                hi = max(lo, min(width, (w_in - 1 - px + left) // s1 + 1))
                for r in range(band_rows):
                    dst = buffer[base + r * width:base + (r + 1) * width]
                    xi = row0 + s0 * r + py
                    if xi < 0 or xi >= height:
                        for j in range(width):
                            dst[j] = zero
                        continue
                    src = x[n, c0 + c, xi]
                    for j in range(lo):
                        dst[j] = zero
                    for j in range(lo, hi):
                        dst[j] = src[s1 * j + px - left]
                    for j in range(hi, width):
                        dst[j] = zero


# -- dense 2-D layers with the output channels in the vector lanes --
#
# The same bands and stride phases as above, but the buffer holds each
# position's channels together: plane (py, px), position (r, j), channel c
# at ((py s1 + px) plane + r width + j) C + c.  A register tile
# (_tile_channels) takes four vectors of output channels (4L channels) at six
# consecutive positions: per tap, four aligned loads of weights and six
# single values broadcast from the buffer for twenty-four multiply-adds.  No
# load straddles two cache lines, which the position tiles' shifted loads do
# for most taps.  Only on machines with 32 vector registers (AVX-512): the 24
# sums, 4 weights and a broadcast value all stay in registers.

@numba.njit(inline="always", fastmath=_MATH)
def _fma4(s, k0, k1, k2, k3, a0, a1, a2, a3):
    return vfma(k0, s, a0), vfma(k1, s, a1), vfma(k2, s, a2), vfma(k3, s, a3)


@numba.njit(inline="always", fastmath=_MATH)
def _tile_channels(buffer, offsets, wt, o, p, step, sums, t0, t1):
    """``sums[p + i, o:o + 4L] (+)= sum_t buffer[offsets[t] + (p + i) step]
    * wt[t, o:o + 4L]`` over the taps ``t0 <= t < t1``, for the six positions
    ``i``; the first chunk (``t0 == 0``) writes, later ones add."""
    pitch = wt.shape[1]
    a0 = vzero(buffer)
    a1, a2, a3, b0, b1, b2, b3 = a0, a0, a0, a0, a0, a0, a0
    c0, c1, c2, c3, d0, d1, d2, d3 = a0, a0, a0, a0, a0, a0, a0, a0
    e0, e1, e2, e3, f0, f1, f2, f3 = a0, a0, a0, a0, a0, a0, a0, a0
    for t in range(t0, t1):
        at = t * pitch + o
        k0, k1, k2, k3 = _load4(wt, at)
        q = offsets[np.uint64(t)] + p * step     # unsigned: no check for negative t
        a0, a1, a2, a3 = _fma4(vbroadcast(buffer, q), k0, k1, k2, k3, a0, a1, a2, a3)
        q += step
        b0, b1, b2, b3 = _fma4(vbroadcast(buffer, q), k0, k1, k2, k3, b0, b1, b2, b3)
        q += step
        c0, c1, c2, c3 = _fma4(vbroadcast(buffer, q), k0, k1, k2, k3, c0, c1, c2, c3)
        q += step
        d0, d1, d2, d3 = _fma4(vbroadcast(buffer, q), k0, k1, k2, k3, d0, d1, d2, d3)
        q += step
        e0, e1, e2, e3 = _fma4(vbroadcast(buffer, q), k0, k1, k2, k3, e0, e1, e2, e3)
        q += step
        f0, f1, f2, f3 = _fma4(vbroadcast(buffer, q), k0, k1, k2, k3, f0, f1, f2, f3)
    s = sums.shape[1]
    first = t0 == 0
    i = p * s + o
    _keep4(sums, i, a0, a1, a2, a3, first)
    _keep4(sums, i + s, b0, b1, b2, b3, first)
    _keep4(sums, i + 2 * s, c0, c1, c2, c3, first)
    _keep4(sums, i + 3 * s, d0, d1, d2, d3, first)
    _keep4(sums, i + 4 * s, e0, e1, e2, e3, first)
    _keep4(sums, i + 5 * s, f0, f1, f2, f3, first)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_dense_channels(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out,
                             workers):
    """:func:`correlate_dense` with channel tiles: ``w (G, T, OP)`` is
    tap-major with taps ordered ``(u, v, c)`` and the output channels
    zero-extended to a multiple of four vectors; tap ``t`` reads the
    channels-last band buffer at ``offsets[t]``.  Each of ``workers`` tasks
    takes every ``workers``-th band and keeps one buffer for all of them."""
    for worker in numba.prange(workers):
        _bands_channels(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out,
                        worker, workers)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_dense_channels_serial(x, w, offsets, s0, s1, top, left, rows, band_rows, width,
                                    out, workers):
    """:func:`correlate_dense_channels` on the calling thread (``workers``,
    kept for the same signature, is ignored: this thread takes every band)."""
    _bands_channels(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out, 0, 1)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def _bands_channels(x, w, offsets, s0, s1, top, left, rows, band_rows, width, out, first,
                    step):
    """Bands ``first, first + step, ...`` of :func:`correlate_dense_channels`."""
    _wide_vectors()
    groups = w.shape[0]
    channels = x.shape[1] // groups
    o_count = out.shape[1] // groups
    h_out, w_out = out.shape[2], out.shape[3]
    bands = (h_out + rows - 1) // rows
    six = CHANNEL_TILE_POSITIONS
    size = s0 * s1 * band_rows * width * channels
    # the last tile reads up to five positions past the band's input: zeros,
    # whose sums land in dropped positions
    buffer = np.empty(size + six * channels, dtype=x.dtype)
    buffer[size:] = 0
    o_pad = w.shape[2]
    span = ((rows - 1) * width + w_out + six - 1) // six * six
    sums = np.empty((span, o_pad), dtype=x.dtype)
    block = 4 * lanes(buffer)
    taps = offsets.shape[0]
    chunks = (taps + DENSE_TAP_CHUNK - 1) // DENSE_TAP_CHUNK    # of equal length
    for task in range(first, out.shape[0] * groups * bands, step):
        n = task // (groups * bands)
        g = (task // bands) % groups
        y0 = (task % bands) * rows
        y1 = min(h_out, y0 + rows)
        length = (y1 - y0 - 1) * width + w_out
        _fill_channels_last(buffer, x, n, g * channels, channels, s0, s1, s0 * y0 - top, left,
                            band_rows, width)
        wg = w[g]
        for i in range(chunks):
            t0, t1 = taps * i // chunks, taps * (i + 1) // chunks
            for p in range(0, length, six):
                for o in range(0, o_pad, block):
                    _tile_channels(buffer, offsets, wg, o, p, channels, sums, t0, t1)
        _sums_to_out(sums, out, n, g * o_count, o_count, y0, y1 - y0, width)


@numba.njit(inline="always")
def _sums_to_out(sums, out, n, ch0, o_count, y0, rows, width):
    """``out[n, ch0 + q, y0 + r, j] = sums[r width + j, q]``: blocks of
    ``L x L`` transposed in registers, where whole blocks fit (a row's last
    block overlaps the one before it), value by value elsewhere."""
    size = lanes(sums)
    h_out, w_out = out.shape[2], out.shape[3]
    pitch = sums.shape[1]
    whole = o_count // size * size if w_out >= size else 0
    for r in range(rows):
        base = r * width
        for q0 in range(0, whole, size):
            at = ((n * out.shape[1] + ch0 + q0) * h_out + y0 + r) * w_out
            for j0 in range(0, w_out, size):
                j = min(j0, w_out - size)
                vtranspose(sums, (base + j) * pitch + q0, pitch, out, at + j, h_out * w_out)
        for q in range(whole, o_count):
            row = out[n, ch0 + q, y0 + r]
            for j in range(w_out):
                row[j] = sums[base + j, q]


@numba.njit(inline="always")
def _fill_channels_last(buffer, x, n, c0, channels, s0, s1, row0, left, band_rows, width):
    """:func:`_fill_phases` with each position's channels together: plane
    ``(py, px)``, row ``r``, column ``j``, channel ``c`` at ``((py s1 + px)
    band_rows width + r width + j) channels + c``."""
    height, w_in = x.shape[2], x.shape[3]
    zero = x.dtype.type(0)
    plane = band_rows * width
    size = lanes(buffer)
    for py in range(s0):
        for px in range(s1):
            lo = min(width, max(0, (left - px + s1 - 1) // s1))
            hi = max(lo, min(width, (w_in - 1 - px + left) // s1 + 1))
            for r in range(band_rows):
                base = ((py * s1 + px) * plane + r * width) * channels
                dst = buffer[base:base + width * channels]
                xi = row0 + s0 * r + py
                if xi < 0 or xi >= height:
                    for j in range(width * channels):
                        dst[j] = zero
                    continue
                for j in range(lo * channels):
                    dst[j] = zero
                for j in range(hi * channels, width * channels):
                    dst[j] = zero
                whole = 0
                if s1 == 1 and hi - lo >= size:
                    # blocks of L channels x L columns transposed in registers
                    whole = channels // size * size
                    at = ((n * x.shape[1] + c0) * height + xi) * w_in - left
                    for c in range(0, whole, size):
                        for j0 in range(lo, hi, size):
                            j = min(j0, hi - size)
                            vtranspose(x, at + c * height * w_in + j, height * w_in, buffer,
                                       base + j * channels + c, channels)
                for c in range(whole, channels):
                    src = x[n, c0 + c, xi]
                    for j in range(lo, hi):
                        dst[j * channels + c] = src[s1 * j + px - left]
