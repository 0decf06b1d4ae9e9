"""The direct algorithm: slide the kernel, sum the element-wise products.

This is the definition of (cross-)correlation read literally, as in seed 001's
four nested loops.  Several implementations of one rule:

* one channel in and out (the signal API, depthwise layers), stride 1, float
  or complex: a compiled, multithreaded loop (:mod:`._compiled`, numba);
* other real float 2-D layers (channels, stride, dilation, groups): a
  compiled loop over bands of output rows, register tiles of four output
  channels, that never builds an im2col matrix (:func:`._compiled.correlate_dense`);
* without numba, real float32/float64 problems with one channel, stride 1 and
  dilation 1 run through :func:`scipy.ndimage.correlate` or, for a few 1-D
  rows, :func:`numpy.correlate`;
* everything else (integers, complex, channels, stride, dilation) loops over
  the kernel taps in numpy: for each tap, the input shifted by that tap times
  the tap's weight is added to the output.  ``k`` passes over the output, each
  vectorized.
"""

from __future__ import annotations

import functools
import itertools
import math
import os

import numpy as np

from ..problem import ConvProblem
from . import _compiled
from ._base import Cost, channel_sum, window_slices, zero_extend, zero_extend_reused
from .. import _calibration


def _uses_ndimage(problem: ConvProblem) -> bool:
    return (problem.compute_dtype in (np.float32, np.float64)
            and problem.in_channels == 1 and problem.out_channels == 1
            and all(s == 1 for s in problem.strides) and all(d == 1 for d in problem.dilations)
            and problem.ndim > 0)


class Direct:
    name = "direct"
    exact_nonfinite = True

    def supports(self, problem: ConvProblem) -> str | None:
        return None

    def cost(self, problem: ConvProblem) -> Cost:
        c = _calibration.constants()
        out_points = math.prod(problem.out_shape)
        if _uses_compiled(problem):
            # vector width halves with each doubling of the item size
            scale = problem.itemsize / 4
            # short rows vectorize poorly: the unrolled inner loop runs over one output
            # row, or over a whole flattened image, whose dropped columns cost too
            if _flat_rows(problem):
                row = math.prod(problem.spatial_out[:-1]) * problem.padded_in[-1]
                short_rows = (1 + 64 / row) * problem.padded_in[-1] / problem.spatial_out[-1]
                if problem.batch * problem.groups >= _compiled.PLANES_BATCH:
                    # image by image in the cache (measured: depthwise 13x13 layers at 56^2)
                    short_rows *= 0.7
            else:
                short_rows = 1 + 64 / max(1, problem.spatial_out[-1])
            planes = problem.batch * problem.groups
            if _framed(problem):
                # per thread, a band's edge copied with zeros (bands of 16 output rows,
                # _numba_loops.BAND_ROWS, which is not imported here: it imports numba)
                # and its flattened result
                (sh, sw), threads = problem.dilated_kernel, os.cpu_count() or 1
                copied = threads * (2 * (16 + sh - 1)) * 2 * (sw - 1)
                how = "the input read in place, zeros supplied at its edges"
            elif any(lo or hi for lo, hi in problem.pad):
                copied = planes * math.prod(problem.padded_in)
                how = "one zero-extended copy"
            else:
                copied, how = 0, "the input read in place"
            return Cost(problem.macs * c["compiled_per_mac"] * scale * short_rows
                        + c["compiled_overhead"], bytes=copied * problem.itemsize,
                        detail=f"compiled multithreaded sliding window, {problem.macs:.3g} "
                               f"multiply-adds, {how}")
        if _uses_dense(problem):
            return _dense_cost(problem)
        if _uses_numpy_1d(problem):
            rows = problem.batch * problem.groups
            return Cost(problem.macs * c["numpy_correlate_per_mac"] + rows * c["numpy_call_overhead"],
                        bytes=math.prod(problem.padded_in) * rows * problem.itemsize,
                        detail=f"compiled 1-D sliding window, {problem.macs:.3g} multiply-adds")
        if _uses_ndimage(problem):
            calls = problem.groups if problem.groups > 1 else 1
            padded_points = problem.batch * problem.groups * math.prod(problem.padded_in)
            seconds = (padded_points * problem.kernel_taps * c["ndimage_per_mac"]
                       + calls * c["call_overhead"])
            return Cost(seconds, bytes=padded_points * problem.itemsize,
                        detail=f"compiled sliding window, {problem.macs:.3g} multiply-adds")
        taps = problem.kernel_taps
        if problem.in_channels > 1 or problem.out_channels > 1:
            # each tap contracts the channels (einsum): a small matrix product
            per_tap = out_points * problem.in_channels * c["einsum_per_mac"]
        else:
            per_tap = out_points * c["numpy_per_element"] * max(1.0, problem.itemsize / 8)
        seconds = taps * (per_tap + c["numpy_call_overhead"])
        return Cost(seconds, bytes=2 * out_points * problem.itemsize,
                    detail=f"{taps} numpy passes over the output")

    def shortcut(self, problem: ConvProblem, w: np.ndarray):
        """For repeated calls (:mod:`convolab.repeated`): one small 1-D or 2-D
        image runs in one compiled call (zero-extended in a buffer, correlated
        flattened, cropped into the output; :func:`._compiled.plane_runner`),
        on the calling thread.  None when the problem is not one, or when the
        flattened loop would reach :data:`._compiled.PARALLEL_MACS`."""
        if not (_uses_compiled(problem) and problem.ndim in (1, 2)
                and problem.batch * problem.groups == 1):
            return None
        two_d = (1,) * (2 - problem.ndim)
        in_shape, out_shape = two_d + problem.spatial_in, two_d + problem.spatial_out
        pad = ((0, 0),) * (2 - problem.ndim) + problem.pad
        dilation = two_d + problem.dilations
        wp = in_shape[1] + pad[1][0] + pad[1][1]
        if ((out_shape[0] - 1) * wp + out_shape[1]) * problem.kernel_taps >= _compiled.PARALLEL_MACS:
            return None
        return _compiled.plane_runner(w.reshape(two_d + problem.kernel_spatial), dilation, pad,
                                      in_shape, out_shape, problem.spatial_out)

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        if _uses_compiled(problem):
            if _flat_rows(problem) and problem.batch * problem.groups >= _compiled.PLANES_BATCH:
                return _run_planes(problem, x, w)
            if _framed(problem):
                return _run_framed(problem, x, w)
            return _run_compiled(problem, zero_extend_reused(problem, x), w)
        if _uses_dense(problem):
            return _compiled.correlate_dense(x, w, problem.strides, problem.dilations,
                                             problem.pad, problem.out_shape)
        xp = zero_extend(problem, x)
        if _uses_numpy_1d(problem):
            return _run_numpy_1d(problem, xp, w)
        if _uses_ndimage(problem) and _ndimage_exact(xp, w):
            return _run_ndimage(problem, xp, w)
        out = np.zeros(problem.out_shape, dtype=problem.compute_dtype)
        for tap in itertools.product(*(range(k) for k in problem.kernel_spatial)):
            xs = xp[(Ellipsis,) + window_slices(problem, tap)]
            wt = w[(Ellipsis,) + tap]
            out += channel_sum(xs, wt)
        return out


def _ndimage_exact(xp: np.ndarray, w: np.ndarray) -> bool:
    """ndimage skips weights with ``|w| <= 2.2e-16``: exact only when no
    weight is that small but nonzero, no weight is non-finite, and (if some
    weight is zero) no input is non-finite, since ``nan * 0`` must stay NaN."""
    if not np.isfinite(w).all():
        return False
    magnitude = np.abs(w)
    if ((magnitude <= np.finfo(np.float64).eps) & (magnitude > 0)).any():
        return False
    return not (magnitude == 0).any() or bool(np.isfinite(xp).all())


@functools.lru_cache(maxsize=512)
def _uses_compiled(problem: ConvProblem) -> bool:
    """One channel in and out (signal API, depthwise layers), stride 1, 1-3 axes,
    float or complex: the compiled loop of :mod:`._compiled`."""
    return (problem.in_channels == 1 and problem.out_channels == 1 and 1 <= problem.ndim <= 3
            and all(s == 1 for s in problem.strides)
            and problem.compute_dtype in (np.float32, np.float64, np.complex64, np.complex128)
            and _compiled.available())


@functools.lru_cache(maxsize=512)
def _uses_dense(problem: ConvProblem) -> bool:
    """2-D layers the single-channel loop does not take (channels in or out,
    stride), real float: the compiled dense loop of :mod:`._compiled`."""
    return (problem.ndim == 2 and not _uses_compiled(problem)
            and problem.compute_dtype in (np.float32, np.float64) and _compiled.available())


def _dense_cost(problem: ConvProblem) -> Cost:
    """The compiled dense loop's estimate: the multiply-adds its register
    tiles do (the dropped columns at the row ends, the output channels and
    the band's positions up to whole tiles included), at ``dense_per_mac``,
    or ``dense_channels_per_mac`` for channel tiles, which also move their
    sums into the output; plus each band's input copied into its buffer."""
    c = _calibration.constants()
    (s0, s1), (h_out, w_out) = problem.strides, problem.spatial_out
    o, cin = problem.out_channels, problem.in_channels
    rows = min(h_out, _compiled.DENSE_BAND_ROWS)
    band_rows, width = _compiled.dense_band(*problem.kernel_spatial, problem.strides,
                                            problem.dilations, w_out)
    length = (rows - 1) * width + w_out
    channel_tiles = _compiled.channel_tiles(o, problem.compute_dtype)
    if channel_tiles:
        tile, per_mac = _compiled.CHANNEL_TILE_POSITIONS, "dense_channels_per_mac"
        block = _compiled.tile_width(problem.itemsize)
    else:
        tile, block, per_mac = _compiled.tile_width(problem.itemsize), 4, "dense_per_mac"
    span = -(-length // tile) * tile
    o_tiles = -(-o // block) * block
    bands = problem.batch * problem.groups * -(-h_out // _compiled.DENSE_BAND_ROWS)
    macs = problem.macs * width / max(1, w_out) * o_tiles / o * span / length
    copied = bands * cin * s0 * s1 * band_rows * width
    if channel_tiles:
        copied += math.prod(problem.out_shape)
    seconds = (macs * c[per_mac] * (problem.itemsize / 4)
               + copied * c["im2col_copy_per_element"] + c["compiled_overhead"])
    threads = os.cpu_count() or 1
    buffer = threads * (cin * s0 * s1 * band_rows * width + tile * cin + o_tiles * span)
    shape = (f"{o_tiles} output channels in the vector lanes" if channel_tiles
             else "four output channels")
    return Cost(seconds, bytes=buffer * problem.itemsize,
                detail=f"compiled multithreaded sliding window over channels, "
                       f"{problem.macs:.3g} multiply-adds, register tiles of {shape}, "
                       f"no im2col matrix")


def _flat_rows(problem: ConvProblem) -> bool:
    """2-D images with rows too short to fill the SIMD lanes run flattened
    (:func:`._compiled.correlate_2d_flat`, :func:`._compiled.correlate_2d_planes`) when
    the columns computed and dropped at the row ends are at most half of the kept ones."""
    if problem.ndim != 2:
        return False
    w_out, wp = problem.spatial_out[1], problem.padded_in[1]
    return 0 < w_out < 512 and wp - w_out <= w_out // 2


@functools.lru_cache(maxsize=512)
def _framed(problem: ConvProblem) -> bool:
    """2-D images with long rows and zero padding: the loop reads the input
    itself and supplies the zeros at its edges (no padded copy)."""
    return (problem.ndim == 2 and not _flat_rows(problem) and any(lo or hi for lo, hi in problem.pad)
            and _compiled.framed_interior(problem.spatial_in, problem.dilated_kernel, problem.pad,
                                          problem.spatial_out))


def _run_planes(problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    n, g = problem.batch, problem.groups
    out = _compiled.correlate_2d_planes(x.reshape((n * g,) + x.shape[3:]),
                                        w.reshape((g,) + problem.kernel_spatial),
                                        problem.dilations, problem.pad,
                                        (n * g,) + problem.spatial_out)
    return out.reshape(problem.out_shape)


def _run_framed(problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    n, g = problem.batch, problem.groups
    out = _compiled.correlate_2d_framed(x.reshape((n * g,) + x.shape[3:]),
                                        w.reshape((g,) + problem.kernel_spatial), problem.dilations,
                                        problem.pad, (n * g,) + problem.spatial_out)
    return out.reshape(problem.out_shape)


def _run_compiled(problem: ConvProblem, xp: np.ndarray, w: np.ndarray) -> np.ndarray:
    n, g = problem.batch, problem.groups
    x_rows = xp.reshape((n * g,) + xp.shape[3:])
    kernels = w.reshape((g,) + problem.kernel_spatial)
    run = _compiled.correlate_2d_flat if _flat_rows(problem) else _compiled.correlate
    out = run(x_rows, kernels, problem.dilations, (n * g,) + problem.spatial_out)
    return out.reshape(problem.out_shape)


def _uses_numpy_1d(problem: ConvProblem) -> bool:
    """Few 1-D single-channel rows: numpy.correlate's compiled loop, per row."""
    return (problem.ndim == 1 and problem.in_channels == 1 and problem.out_channels == 1
            and problem.strides == (1,) and problem.dilations == (1,)
            and problem.batch * problem.groups <= 16)


def _run_numpy_1d(problem: ConvProblem, xp: np.ndarray, w: np.ndarray) -> np.ndarray:
    out = np.empty(problem.out_shape, dtype=problem.compute_dtype)
    # numpy.correlate conjugates its second argument; the engine already did
    # whatever conjugation the problem needs, so undo numpy's
    kernel = np.conj(w) if np.iscomplexobj(w) else w
    for n in range(problem.batch):
        for g in range(problem.groups):
            out[n, g, 0] = np.correlate(xp[n, g, 0], kernel[g, 0, 0], mode="valid")
    return out


def _run_ndimage(problem: ConvProblem, xp: np.ndarray, w: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    # ndimage centres the kernel at k//2; the valid part of its output starts there.
    start = tuple(k // 2 for k in problem.kernel_spatial)
    crop = tuple(slice(s, s + o) for s, o in zip(start, problem.spatial_out))
    if problem.groups == 1:
        kernel = w.reshape((1, 1, 1) + problem.kernel_spatial)
        full = ndimage.correlate(xp, kernel, mode="constant", cval=0.0)
        return full[(Ellipsis,) + crop]
    out = np.empty(problem.out_shape, dtype=problem.compute_dtype)
    for g in range(problem.groups):
        kernel = w[g, 0, 0].reshape((1,) + problem.kernel_spatial)
        full = ndimage.correlate(xp[:, g, 0], kernel, mode="constant", cval=0.0)
        out[:, g, 0] = full[(Ellipsis,) + crop]
    return out


algorithm = Direct()
