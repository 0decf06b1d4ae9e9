"""Compiled sliding-window loops (numba), for the direct algorithm.

The loops are compiled the first time they are needed (``import convolab``
does not import numba) and cached on disk, so later processes load them in
milliseconds.  They run on all cores (``numba.prange`` over output rows).

Each loop computes a single-channel cross-correlation of already
zero-extended inputs, batched: ``x (B, *P)``, ``w (G, *K)``, ``out (B, *O)``,
where batch row ``b`` uses kernel ``b % G`` (``G = 1``: one shared kernel;
``G = groups``: a depthwise layer).  Stride 1; any dilation.

The innermost loop runs over contiguous output samples with one kernel tap
fixed, so the compiler vectorizes it (AVX2/AVX-512 where available).  Sums
accumulate in the output dtype, tap by tap, with IEEE arithmetic (no
fast-math), so ``nan * 0`` is NaN as in every other direct method.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

_CACHE: dict[int, Callable] = {}
_AVAILABLE: bool | None = None


def available() -> bool:
    """True when numba can be imported (it is a dependency, but stay robust)."""
    global _AVAILABLE
    if _AVAILABLE is None:
        if os.environ.get("CONVOLAB_DISABLE_NUMBA"):
            _AVAILABLE = False
        else:
            try:
                import numba  # noqa: F401
                _AVAILABLE = True
            except ImportError:  # pragma: no cover - numba is a dependency
                _AVAILABLE = False
    return _AVAILABLE


def _row_kernel():
    """``row[start:stop] += sum_v wrow[v] * xr[start + v*d : stop + v*d]``, with
    the taps unrolled by 8, 4 and the remainder: each pass over the output row
    then carries up to 8 multiply-adds per load and store of the row."""
    import numba

    @numba.njit(inline="always")
    def taps(row, xr, wrow, d, start, stop):
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

    return taps


def _compile(ndim: int) -> Callable:
    import numba

    taps = _row_kernel()
    jit = numba.njit(parallel=True, cache=True, nogil=True)
    if ndim == 1:
        def corr(x, w, d, out):
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
    elif ndim == 2:
        def corr(x, w, d0, d1, out):
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
    elif ndim == 3:
        def corr(x, w, d0, d1, d2, out):
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
    else:
        raise ValueError(f"compiled loops exist for 1-D, 2-D and 3-D, not {ndim}-D")
    return jit(corr)


def correlate(x: np.ndarray, w: np.ndarray, dilation: tuple[int, ...], out_shape: tuple[int, ...]
              ) -> np.ndarray:
    """Batched single-channel correlation ``x (B, *P)`` with ``w (G, *K)``.

    ``x`` must already hold every sample the windows reach (zero-extended).
    """
    ndim = x.ndim - 1
    if ndim not in _CACHE:
        _CACHE[ndim] = _compile(ndim)
    out = np.empty(out_shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    _CACHE[ndim](x, w, *dilation, out)
    return out
