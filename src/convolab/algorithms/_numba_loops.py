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


Each loop exists twice: ``correlate_*`` runs its tasks on numba's threads
(``prange``), ``correlate_*_serial`` on the calling thread, for problems too
small to pay for waking the thread pool; both call the same inlined task.
"""

import numba
import numpy as np

#: only fused multiply-add; NaN, infinities and signed zeros keep IEEE rules
_MATH = {"contract"}


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


# -- 2-D: x (B, H, W), w (G, KH, KW); tap t = (u, v) in row-major order -------

@numba.njit(inline="always")
def _view2(xb, i, t, kw, d0, d1, n):
    u = t // kw
    s = (t - u * kw) * d1
    return xb[i + u * d0, s:s + n]


@numba.njit(inline="always")
def _coef2(wg, t, kw):
    u = t // kw
    return wg[u, t - u * kw]


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_2d(x, w, d0, d1, out, r0, c0, rows, cols):
    """``x (B, H, W)`` with ``w (G, KH, KW)`` into the block ``out[:, r0:r0 + rows,
    c0:c0 + cols]`` (output ``(r0 + i, c0 + j)`` reads ``x[i + u d0, j + v d1]``):
    one task per output row."""
    for task in numba.prange(out.shape[0] * rows):
        _row_2d(x, w, d0, d1, out, r0, c0, rows, cols, task)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_2d_serial(x, w, d0, d1, out, r0, c0, rows, cols):
    """:func:`correlate_2d` on the calling thread."""
    for task in range(out.shape[0] * rows):
        _row_2d(x, w, d0, d1, out, r0, c0, rows, cols, task)


@numba.njit(inline="always", fastmath=_MATH)
def _row_2d(x, w, d0, d1, out, r0, c0, rows, n, task):
    groups, kh, kw = w.shape
    taps = kh * kw
    b = task // rows
    i = task - b * rows
    row = out[b, r0 + i, c0:c0 + n]
    xb = x[b]
    wg = w[b % groups]
    t = 0
    first = True
    while t + 8 <= taps:
        _pass8(row, first,
               _view2(xb, i, t, kw, d0, d1, n), _view2(xb, i, t + 1, kw, d0, d1, n),
               _view2(xb, i, t + 2, kw, d0, d1, n), _view2(xb, i, t + 3, kw, d0, d1, n),
               _view2(xb, i, t + 4, kw, d0, d1, n), _view2(xb, i, t + 5, kw, d0, d1, n),
               _view2(xb, i, t + 6, kw, d0, d1, n), _view2(xb, i, t + 7, kw, d0, d1, n),
               _coef2(wg, t, kw), _coef2(wg, t + 1, kw), _coef2(wg, t + 2, kw),
               _coef2(wg, t + 3, kw), _coef2(wg, t + 4, kw), _coef2(wg, t + 5, kw),
               _coef2(wg, t + 6, kw), _coef2(wg, t + 7, kw))
        first = False
        t += 8
    if t + 4 <= taps:
        _pass4(row, first,
               _view2(xb, i, t, kw, d0, d1, n), _view2(xb, i, t + 1, kw, d0, d1, n),
               _view2(xb, i, t + 2, kw, d0, d1, n), _view2(xb, i, t + 3, kw, d0, d1, n),
               _coef2(wg, t, kw), _coef2(wg, t + 1, kw), _coef2(wg, t + 2, kw),
               _coef2(wg, t + 3, kw))
        first = False
        t += 4
    while t < taps:
        _pass1(row, first, _view2(xb, i, t, kw, d0, d1, n), _coef2(wg, t, kw))
        first = False
        t += 1


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def frame_2d(x, w, d0, d1, top, left, out, r0, r1, c0, c1, zero):
    """The outputs of ``out (B, Ho, Wo)`` outside the block ``r0:r1, c0:c1``
    (the interior computed by :func:`correlate_2d`), each a direct sum over
    ``x (B, H, W)`` zero-extended by ``top`` rows and ``left`` columns.

    Bounds-checked and on one thread: for the thin frame of a small kernel,
    where padded strips cost more in setting up than in work.  A sample
    outside ``x`` counts as ``zero`` times its tap, so ``0 * inf`` is NaN as
    in every direct method."""
    for b in range(out.shape[0]):
        for i in range(out.shape[1]):
            if r0 <= i < r1:
                for j in range(c0):
                    out[b, i, j] = _frame_point(x, w, d0, d1, top, left, b, i, j, zero)
                for j in range(c1, out.shape[2]):
                    out[b, i, j] = _frame_point(x, w, d0, d1, top, left, b, i, j, zero)
            else:
                for j in range(out.shape[2]):
                    out[b, i, j] = _frame_point(x, w, d0, d1, top, left, b, i, j, zero)


@numba.njit(inline="always", fastmath=_MATH)
def _frame_point(x, w, d0, d1, top, left, b, i, j, zero):
    wg = w[b % w.shape[0]]
    acc = zero
    for u in range(wg.shape[0]):
        xi = i - top + u * d0
        for v in range(wg.shape[1]):
            xj = j - left + v * d1
            if 0 <= xi < x.shape[1] and 0 <= xj < x.shape[2]:
                acc += x[b, xi, xj] * wg[u, v]
            else:
                acc += zero * wg[u, v]
    return acc


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
    chunks = (length + OFFSET_CHUNK - 1) // OFFSET_CHUNK
    b = task // chunks
    start = (task % chunks) * OFFSET_CHUNK
    n = min(OFFSET_CHUNK, length - start)
    _passes_at(out[b, start:start + n], x[b], w[b % w.shape[0]], offsets, start, n)


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=_MATH)
def correlate_planes(x, w, offsets, top, left, hp, wp, out, tasks):
    """Images ``x (B, H, W)`` with short rows, ``w (G, T)`` with taps at
    ``offsets`` of a flattened ``hp x wp`` image: each image is zero-extended
    into a small buffer (``x`` at row ``top``, column ``left``), correlated
    flattened, and its rows cropped into ``out (B, Ho, Wo)``; each of
    ``tasks`` tasks (one per thread) takes a run of images.

    The buffers stay in the core's cache, so the batch is read once and the
    output written once (a padded copy of the batch and a flattened output
    would stream it through memory three more times)."""
    for task in numba.prange(tasks):
        _planes(x, w, offsets, top, left, hp, wp, out,
                x.shape[0] * task // tasks, x.shape[0] * (task + 1) // tasks)


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_planes_serial(x, w, offsets, top, left, hp, wp, out, tasks):
    """:func:`correlate_planes` on the calling thread."""
    _planes(x, w, offsets, top, left, hp, wp, out, 0, x.shape[0])


@numba.njit(cache=True, nogil=True, fastmath=_MATH)
def correlate_plane(x, w, offsets, top, left, hp, wp, h_out, w_out):
    """:func:`correlate_planes_serial` of one image ``x (1, H, W)``, into a new
    ``(h_out, w_out)`` output: a whole small convolution in one call."""
    out = np.empty((1, h_out, w_out), dtype=x.dtype)
    _planes(x, w, offsets, top, left, hp, wp, out, 0, 1)
    return out[0]


@numba.njit(inline="always", fastmath=_MATH)
def _planes(x, w, offsets, top, left, hp, wp, out, first_image, stop_image):
    height, width = x.shape[1], x.shape[2]
    h_out, w_out = out.shape[1], out.shape[2]
    length = (h_out - 1) * wp + w_out
    # the part of the image inside the padded frame (valid mode may crop nothing)
    rows = min(height, hp - top)
    cols = min(width, wp - left)
    padded = np.empty(hp * wp, dtype=x.dtype)
    _zero_border(padded, top, left, rows, cols, hp, wp)   # once: images only overwrite the inside
    flat = np.empty(h_out * wp, dtype=x.dtype)
    for b in range(first_image, stop_image):
        for i in range(rows):
            base = (top + i) * wp + left
            _copy(padded[base:base + cols], x[b, i, :cols])
        wr = w[b % w.shape[0]]
        for start in range(0, length, OFFSET_CHUNK):
            n = min(OFFSET_CHUNK, length - start)
            _passes_at(flat[start:start + n], padded, wr, offsets, start, n)
        for i in range(h_out):
            _copy(out[b, i], flat[i * wp:i * wp + w_out])


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
