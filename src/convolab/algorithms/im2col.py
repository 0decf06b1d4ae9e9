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

With stride 1 the matrix need not be built at all (:func:`_run_flat`): on
the flattened zero-extended image, each tap's rows are the image itself read
from an offset, which BLAS reads in place; one product per tap adds into the
output.  The cost model picks whichever of the two is cheaper: the flattened
form for layers with many channels on images of 28x28 and more (a 3x3 layer
of 64 channels at 56x56: 0.65x the built matrix's time), the built matrix
for few channels or small images.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .. import _calibration
from ..problem import ConvProblem
from . import _blas
from ._base import Cost, zero_extend


class Im2col:
    name = "im2col"
    exact_nonfinite = False   # BLAS may skip zero products; the engine repairs

    def exact_nonfinite_for(self, w: np.ndarray) -> bool:
        """True when the weights are real, finite and nonzero.  A BLAS that
        skips products (the reference BLAS skips those of an operand's zero
        entries) then skips only zero inputs times finite weights, which add
        nothing, so NaN and infinity reach exactly the outputs the direct sum
        gives them and the engine need not scan the input for them (that pass
        is as long as a 1x1 layer's product: 1.3 of 6 ms at 8 x 256 x 56 x
        56).  Complex products with an infinite part are left to the repair:
        BLAS's complex kernels may form ``0 * inf`` where the direct sum does
        not."""
        return w.dtype.kind == "f" and bool(np.all(np.isfinite(w) & (w != 0)))

    def supports(self, problem: ConvProblem) -> str | None:
        return None

    def _matrix_elements(self, problem: ConvProblem) -> int:
        positions = math.prod(problem.spatial_out)
        return problem.batch * problem.groups * positions * problem.in_channels * problem.kernel_taps

    def cost(self, problem: ConvProblem) -> Cost:
        return self._choice(problem)[0]

    def _choice(self, problem: ConvProblem) -> tuple[Cost, _Flat | None]:
        """The cheaper way to run ``problem``: the matrix built from a
        sliding-window view (layout None), or flattened and read in place."""
        built = self._built_cost(problem)
        layout = _flat_layout(problem)
        if layout is not None:
            flat = _flat_cost(problem, layout)
            if flat.seconds < built.seconds:
                return flat, layout
        return built, None

    def _built_cost(self, problem: ConvProblem) -> Cost:
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
            copy = 0.0 if _input_is_matrix(problem) else elements * c["im2col_copy_per_element"] * width
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
        layout = self._choice(problem)[1]
        if layout is not None:
            return _run_flat(problem, x, w, layout)
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


def _input_is_matrix(problem: ConvProblem) -> bool:
    """A 1x1 kernel, stride 1, no padding: each image is already its matrix."""
    return (problem.kernel_taps == 1 and all(s == 1 for s in problem.strides)
            and not any(lo or hi for lo, hi in problem.pad))


#: bytes of the im2col matrix built at a time (one block of images or of
#: output rows); about the size of the last-level cache share of one call
BLOCK_BYTES = 8 * 2**20


class _Flat(NamedTuple):
    """How :func:`_run_flat` splits one problem."""
    steps: tuple[int, ...]     # element strides of the extended grid
    offsets: tuple[int, ...]   # per kernel tap: where its rows start in one channel
    rows: int                  # output rows per band
    bands: int                 # bands per image
    positions: int             # grid positions computed per image
    gemm: _blas.Gemm           # numpy's BLAS gemm


def _flat_layout(problem: ConvProblem) -> _Flat | None:
    """The flattened im2col's split of ``problem``, or None where it does not
    apply: a stride above 1, a 1x1 kernel (no matrix at all), or a dtype
    numpy's BLAS does not multiply (or whose routine it does not export)."""
    if problem.kernel_taps == 1 or problem.ndim == 0 or any(s != 1 for s in problem.strides):
        return None
    gemm = _blas.routine(problem.compute_dtype)       # None for integers and extended precision
    if gemm is None:
        return None
    grid = problem.padded_in
    steps = tuple(math.prod(grid[i + 1:]) for i in range(problem.ndim))
    # a tap's offset is the sum of its per-axis offsets, in row-major tap order
    offsets = [0]
    for k, d, s in zip(problem.kernel_spatial, problem.dilations, steps):
        offsets = [base + t * d * s for base in offsets for t in range(k)]
    out_dims = problem.spatial_out
    per_row = problem.groups * problem.out_channels * steps[0] * problem.itemsize
    rows = max(1, min(out_dims[0], BAND_BYTES // max(1, per_row)))
    bands = -(-out_dims[0] // rows)
    positions = sum((m - 1) * s for m, s in zip(out_dims, steps)) + 1
    return _Flat(steps, tuple(offsets), rows, bands, positions, gemm)


def _flat_cost(problem: ConvProblem, layout: _Flat) -> Cost:
    """The flattened im2col's estimate.

    Its products have ``C`` terms per tap (the built matrix's have ``C x
    taps``), and BLAS runs short sums below its best speed: measured on 3x3
    and 5x5 layers (8 images, 3 to 512 channels, 7x7 to 112x112), seconds
    per multiply-add scale about as ``1 + 32 / C``, and as ``1 + 64 /
    positions`` for short bands (small images); each product also costs a
    fixed ``blas_call_overhead``.  Each image is copied into the extended
    grid and each output band cropped out of it.
    """
    c = _calibration.constants()
    width = problem.itemsize / 4
    n, g, cin, o, taps = (problem.batch, problem.groups, problem.in_channels,
                          problem.out_channels, problem.kernel_taps)
    per_band = layout.positions / layout.bands
    macs = n * g * o * cin * taps * layout.positions      # the grid's extra columns included
    moved = math.prod(problem.x_shape) + math.prod(problem.out_shape)
    seconds = (moved * c["im2col_copy_per_element"] * width
               + macs * c["flat_gemm_per_mac"] * width * (1 + 32 / cin) * (1 + 64 / per_band)
               + n * g * taps * layout.bands * c["blas_call_overhead"])
    band = g * o * layout.rows * layout.steps[0]
    temporaries = (band + g * cin * math.prod(problem.padded_in)) * problem.itemsize
    return Cost(seconds, bytes=temporaries,
                detail=f"flattened im2col: {taps} products per band, read in place, "
                       f"{macs:.3g} multiply-adds")


def _run_flat(problem: ConvProblem, x: np.ndarray, w: np.ndarray, layout: _Flat) -> np.ndarray:
    """im2col on the flattened extended grid, read in place (stride 1).

    Flatten one zero-extended image to ``(C, plane)``.  Output position ``p``
    (its index in the flattened grid) meets kernel tap ``t`` at sample
    ``p + offset(t)`` of every channel, so tap ``t``'s rows of the im2col
    matrix are the flattened image read from ``offset(t)``: contiguous runs
    as long as a band of output rows, rows one plane apart, a matrix BLAS
    reads where it lies.  One product per tap adds into one ``(O,
    positions)`` band (``gemm`` with beta = 1, :mod:`._blas`), and nothing
    is copied but the image into the grid and the band out of it.  Positions
    past an output row's end (where the grid is wider than the output) are
    computed and dropped: ``(k - 1) / n`` more work along the last axis,
    e.g. 4% for 3x3 at 56x56.
    """
    n, g, c = problem.x_shape[:3]
    o = problem.out_channels
    taps = problem.kernel_taps
    steps, offsets, rows, gemm = layout.steps, layout.offsets, layout.rows, layout.gemm
    out_dims = problem.spatial_out
    dtype = problem.compute_dtype
    item = dtype.itemsize
    plane = math.prod(problem.padded_in)
    row = steps[0]
    # the extended image, its border zeroed once; each image fills the interior
    padded = np.zeros((g, c) + problem.padded_in, dtype=dtype)
    interior = (Ellipsis,) + tuple(slice(lo, lo + m) for (lo, _), m in zip(problem.pad, problem.spatial_in))
    band = np.empty(g * o * rows * row, dtype=dtype)
    out = np.empty((n, g, o) + out_dims, dtype=dtype)
    tail = sum((m - 1) * s for m, s in zip(out_dims[1:], steps[1:])) + 1   # positions in the last row
    # one contiguous (O, C) filter matrix per group and tap
    filters = np.ascontiguousarray(np.moveaxis(w.reshape(g, o, c, taps), 3, 1), dtype=dtype)
    addresses = [[filters[j, t].ctypes.data for t in range(taps)] for j in range(g)]
    for i in range(n):
        padded[interior] = x[i]
        for r0 in range(0, out_dims[0], rows):
            r1 = min(out_dims[0], r0 + rows)
            positions = (r1 - r0 - 1) * row + tail
            dense = band[:g * o * positions].reshape(g, o, positions)
            for j in range(g):
                source = padded.ctypes.data + (j * c * plane + r0 * row) * item
                target = dense.ctypes.data + j * o * positions * item
                for t, offset in enumerate(offsets):
                    gemm(o, positions, c, addresses[j][t], c,
                         source + offset * item, plane, target, positions, t > 0)
            # the band as (G, O, rows, *grid[1:]): its valid part into the output
            out[i, :, :, r0:r1] = as_strided(dense, shape=(g, o, r1 - r0) + out_dims[1:],
                                             strides=dense.strides[:2] + tuple(s * item for s in steps))
    return out


#: bytes of one output band of the flattened im2col (all groups and
#: channels); 4 MiB measured fastest of 0.5-8 MiB on 3x3 and 5x5 layers
BAND_BYTES = 4 * 2**20


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
