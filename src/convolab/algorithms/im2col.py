"""im2col + GEMM: every receptive field becomes a row, the kernel a column.

Seed 001's dot-product view made literal: flatten each receptive field of the
input (over channels and kernel taps) into one row of a matrix, flatten each
filter into a column, and one matrix product evaluates every dot product at
once (cs231n's ``np.dot(W_row, X_col)``).  The rows are built from a strided
view (:func:`numpy.lib.stride_tricks.sliding_window_view`) and copied in
cache-sized blocks (whole images, or bands of output rows), each multiplied
(BLAS) straight into its part of the output; a 1x1 kernel needs no copy at
all.  Memory: one block of the matrix, at most :data:`BLOCK_BYTES` (or one
output row), where the whole matrix holds ``outputs x channels x taps``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import _calibration
from ..problem import ConvProblem
from ._base import Cost, zero_extend


class Im2col:
    name = "im2col"
    exact_nonfinite = False   # BLAS may skip zero products; the engine repairs

    def supports(self, problem: ConvProblem) -> str | None:
        return None

    def _matrix_elements(self, problem: ConvProblem) -> int:
        positions = math.prod(problem.spatial_out)
        return problem.batch * problem.groups * positions * problem.in_channels * problem.kernel_taps

    def cost(self, problem: ConvProblem) -> Cost:
        c = _calibration.constants()
        elements = self._matrix_elements(problem)
        width = problem.itemsize / 4          # the block constants are per float32 element
        if problem.out_channels == 1:
            # one filter: a matrix-vector product, limited by reading the matrix
            gemm = elements * c["gemv_per_element"] * problem.itemsize / 8
            copy = elements * c["copy_per_element"]
        else:
            # a matrix product in cache-sized blocks; a 1x1 kernel copies nothing
            # (the input is the matrix) unless striding or padding makes it
            gemm = problem.macs * c["im2col_gemm_per_mac"] * width
            copy = elements * c["im2col_copy_per_element"] * width
        if problem.compute_dtype.kind in "iu" or problem.compute_dtype.itemsize > 16 \
                or problem.compute_dtype == np.longdouble:
            gemm *= 20   # no BLAS for integers or extended precision
        seconds = copy + gemm + 3 * c["call_overhead"] * max(1, problem.groups)
        block = elements * problem.itemsize
        if problem.kernel_taps > 1:
            per_row = block // max(1, problem.batch * problem.spatial_out[0])
            block = min(block, max(BLOCK_BYTES, per_row))
        return Cost(seconds, bytes=block,
                    detail=f"im2col matrix of {elements:.3g} elements, one matrix product")

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        n, g, c = problem.x_shape[:3]
        o = problem.out_channels
        k = c * problem.kernel_taps
        positions = math.prod(problem.spatial_out)
        filters = w.reshape(g, o, k)                                             # (G, O, C*T)
        columns = _columns(problem, zero_extend(problem, x))                     # (N, G, C, *K, *O)
        out = np.empty((n, g, o) + problem.spatial_out, dtype=np.result_type(x, w))
        if problem.kernel_taps == 1:
            # a 1x1 kernel: the (strided) input is already the matrix; reshape
            # copies only when striding or padding made it non-contiguous.
            # (An output passed as out= was measured faster than one numpy
            # allocates itself: 4.5 against 8 ms for 8 x 256 -> 64 at 56x56.)
            cols = columns.reshape(n, g, k, positions)
            np.matmul(filters[np.newaxis], cols, out=out.reshape(n, g, o, positions))
            return out.reshape(problem.out_shape)
        # the matrix in blocks of whole images, or of bands of output rows of
        # one image, each built into the same buffer and multiplied straight
        # into its part of the output: the matrix stays in the cache and no
        # memory is allocated per block
        per_row = g * k * positions // max(1, problem.spatial_out[0]) * x.itemsize
        rows = max(1, min(problem.spatial_out[0], BLOCK_BYTES // max(1, per_row)))
        images = max(1, BLOCK_BYTES // max(1, per_row * problem.spatial_out[0])) \
            if rows == problem.spatial_out[0] else 1
        images = min(images, n)
        buf = np.empty(images * g * k * rows * (positions // max(1, problem.spatial_out[0])),
                       dtype=columns.dtype)
        rest = positions // max(1, problem.spatial_out[0])
        lead = (slice(None),) * (3 + problem.ndim)          # (N, G, C, *K) of the matrix
        for n0 in range(0, n, images):
            n1 = min(n, n0 + images)
            for r0 in range(0, problem.spatial_out[0], rows):
                r1 = min(problem.spatial_out[0], r0 + rows)
                block = columns[(slice(n0, n1),) + lead[1:] + (slice(r0, r1),)]
                part = buf[:block.size].reshape(block.shape)
                np.copyto(part, block)
                target = out[n0:n1, :, :, r0:r1]
                target.shape = (n1 - n0, g, o, (r1 - r0) * rest)   # a view (raises if not)
                np.matmul(filters[np.newaxis], part.reshape(n1 - n0, g, k, (r1 - r0) * rest), out=target)
        return out.reshape(problem.out_shape)


#: bytes of the im2col matrix built at a time (one block of images or of
#: output rows); about the size of the last-level cache share of one call
BLOCK_BYTES = 8 * 2**20


def _columns(problem: ConvProblem, xp: np.ndarray) -> np.ndarray:
    """The im2col matrix as a strided view of the zero-extended input:
    ``(N, G, C, *K, *O)``, element ``[n, g, c, *t, *p]`` the input sample that
    kernel tap ``t`` meets at output position ``p`` (stride and dilation
    applied).  Read in this order, the rows are (channel, tap) and the columns
    output positions, so filters ``(O, C*T) @ matrix (C*T, P)`` lands in the
    output layout."""
    nd = problem.ndim
    spatial_axes = tuple(range(3, 3 + nd))
    # windows: (N, G, C, *P, *Kd) where Kd is the dilated kernel extent
    windows = sliding_window_view(xp, problem.dilated_kernel, axis=spatial_axes)
    take = ((slice(None),) * 3
            + tuple(slice(0, (m - 1) * s + 1, s) for m, s in zip(problem.spatial_out, problem.strides))
            + tuple(slice(None, None, d) for d in problem.dilations))
    windows = windows[take]                                                  # (N, G, C, *O, *K)
    order = (0, 1, 2) + tuple(range(3 + nd, 3 + 2 * nd)) + tuple(range(3, 3 + nd))
    return windows.transpose(order)


algorithm = Im2col()
