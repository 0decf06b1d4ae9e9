"""The compiled loops of :mod:`._compiled`, defined at module level.

This module imports numba, so only :mod:`._compiled` imports it, on first
use.  Every function is defined at module level (no closures), which lets
numba's disk cache (``cache=True``) find them again in a new process: a
later process loads the machine code in milliseconds instead of compiling
for seconds.
"""

import numba


@numba.njit(inline="always")
def taps(row, xr, wrow, d, start, stop):
    """``row[start:stop] += sum_v wrow[v] * xr[start + v*d : stop + v*d]``, with
    the taps unrolled by 8, 4 and the remainder: each pass over the output row
    then carries up to 8 multiply-adds per load and store of the row."""
    k = wrow.shape[0]
    v = 0
    while v + 8 <= k:
        c0, c1, c2, c3 = wrow[v], wrow[v + 1], wrow[v + 2], wrow[v + 3]
        c4, c5, c6, c7 = wrow[v + 4], wrow[v + 5], wrow[v + 6], wrow[v + 7]
        o = v * d
        for j in range(start, stop):
            row[j] += (c0 * xr[j + o] + c1 * xr[j + o + d] + c2 * xr[j + o + 2 * d]
                       + c3 * xr[j + o + 3 * d] + c4 * xr[j + o + 4 * d]
                       + c5 * xr[j + o + 5 * d] + c6 * xr[j + o + 6 * d]
                       + c7 * xr[j + o + 7 * d])
        v += 8
    r = k - v
    o = v * d
    if r >= 4:
        c0, c1, c2, c3 = wrow[v], wrow[v + 1], wrow[v + 2], wrow[v + 3]
        for j in range(start, stop):
            row[j] += (c0 * xr[j + o] + c1 * xr[j + o + d] + c2 * xr[j + o + 2 * d]
                       + c3 * xr[j + o + 3 * d])
        v += 4
        r -= 4
        o = v * d
    if r == 3:
        c0, c1, c2 = wrow[v], wrow[v + 1], wrow[v + 2]
        for j in range(start, stop):
            row[j] += c0 * xr[j + o] + c1 * xr[j + o + d] + c2 * xr[j + o + 2 * d]
    elif r == 2:
        c0, c1 = wrow[v], wrow[v + 1]
        for j in range(start, stop):
            row[j] += c0 * xr[j + o] + c1 * xr[j + o + d]
    elif r == 1:
        c0 = wrow[v]
        for j in range(start, stop):
            row[j] += c0 * xr[j + o]


@numba.njit(parallel=True, cache=True, nogil=True)
def correlate_1d(x, w, d, out):
    """Rows of ``x (B, P)`` with kernels ``w (G, K)`` (row ``b`` uses kernel
    ``b % G``), dilation ``d``; the rows are cut into chunks for the threads."""
    batch, n_out = out.shape
    groups = w.shape[0]
    chunk = 4096
    chunks = (n_out + chunk - 1) // chunk
    for task in numba.prange(batch * chunks):
        b = task // chunks
        start = (task % chunks) * chunk
        stop = min(start + chunk, n_out)
        row = out[b]
        for j in range(start, stop):
            row[j] = 0
        taps(row, x[b], w[b % groups], d, start, stop)


@numba.njit(parallel=True, cache=True, nogil=True)
def correlate_2d(x, w, d0, d1, out):
    """``x (B, H, W)`` with ``w (G, KH, KW)``: one task per output row."""
    batch, h_out, w_out = out.shape
    groups, kh = w.shape[0], w.shape[1]
    for task in numba.prange(batch * h_out):
        b = task // h_out
        i = task % h_out
        g = b % groups
        row = out[b, i]
        for j in range(w_out):
            row[j] = 0
        for u in range(kh):
            taps(row, x[b, i + u * d0], w[g, u], d1, 0, w_out)


@numba.njit(parallel=True, cache=True, nogil=True)
def correlate_3d(x, w, d0, d1, d2, out):
    """``x (B, A, H, W)`` with ``w (G, KA, KH, KW)``: one task per output row."""
    batch, a_out, h_out, w_out = out.shape
    groups, ka, kh = w.shape[0], w.shape[1], w.shape[2]
    for task in numba.prange(batch * a_out * h_out):
        b = task // (a_out * h_out)
        rest = task % (a_out * h_out)
        a = rest // h_out
        i = rest % h_out
        g = b % groups
        row = out[b, a, i]
        for j in range(w_out):
            row[j] = 0
        for t in range(ka):
            for u in range(kh):
                taps(row, x[b, a + t * d0, i + u * d1], w[g, t, u], d2, 0, w_out)
