"""im2col + GEMM: every receptive field becomes a row, the kernel a column.

Seed 001's dot-product view made literal: flatten each receptive field of the
input (over channels and kernel taps) into one row of a matrix, flatten each
filter into a column, and one matrix product evaluates every dot product at
once (cs231n's ``np.dot(W_row, X_col)``).  The rows are built from a strided
view (:func:`numpy.lib.stride_tricks.sliding_window_view`) and copied once;
the product is a BLAS matrix multiplication.  Memory: the im2col matrix holds
``outputs x channels x taps`` elements.
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
        if problem.out_channels == 1:
            # one filter: a matrix-vector product, limited by reading the matrix
            gemm = elements * c["gemv_per_element"] * problem.itemsize / 8
        else:
            gemm = problem.macs * c["gemm_per_mac"]
        if problem.compute_dtype.kind in "iu" or problem.compute_dtype.itemsize > 16 \
                or problem.compute_dtype == np.longdouble:
            gemm *= 20   # no BLAS for integers or extended precision
        seconds = elements * c["copy_per_element"] + gemm + 3 * c["call_overhead"] * max(1, problem.groups)
        return Cost(seconds, bytes=elements * problem.itemsize,
                    detail=f"im2col matrix of {elements:.3g} elements, one matrix product")

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        xp = zero_extend(problem, x)
        nd = problem.ndim
        n, g, c = problem.x_shape[:3]
        o = problem.out_channels
        spatial_axes = tuple(range(3, 3 + nd))
        # windows: (N, G, C, *P, *Kd) where Kd is the dilated kernel extent
        windows = sliding_window_view(xp, problem.dilated_kernel, axis=spatial_axes)
        take = ((slice(None),) * 3
                + tuple(slice(0, (m - 1) * s + 1, s) for m, s in zip(problem.spatial_out, problem.strides))
                + tuple(slice(None, None, d) for d in problem.dilations))
        windows = windows[take]                        # (N, G, C, *O, *K)
        # columns: one row per (channel, tap), one column per output position,
        # so that filters (O, C*T) @ columns (C*T, P) lands in the output layout
        order = (0, 1, 2) + tuple(range(3 + nd, 3 + 2 * nd)) + tuple(range(3, 3 + nd))
        positions = math.prod(problem.spatial_out)
        cols = np.ascontiguousarray(windows.transpose(order)).reshape(n, g, c * problem.kernel_taps, positions)
        filters = w.reshape(g, o, c * problem.kernel_taps)                       # (G, O, C*T)
        result = np.matmul(filters[np.newaxis], cols)                            # (N, G, O, P)
        return result.reshape(problem.out_shape)


algorithm = Im2col()
