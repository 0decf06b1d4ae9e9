"""Overlap-save: FFT convolution in cache-sized tiles, the tiles in parallel.

One transform of a whole large image runs at the speed of main memory: every
pass of the FFT streams the full array through the cache.  Overlap-save cuts
the *output* into tiles of ``B`` samples per axis and computes each from an
input tile of ``T = B + k - 1`` samples with one small transform of length
``T``: the circular convolution wraps around only onto the first ``k - 1``
samples of the tile, which are discarded.  With ``T`` of a few hundred points
the tile, its spectrum and its result stay in the core's cache, and tiles
write disjoint parts of the output, so they run on separate threads without
locks (scipy.fft releases the GIL), handed out one at a time
(:func:`._parallel.run_tasks`).  This is the scheme of OpenCV's DFT-based
``filter2D``.

Many small planes (a depthwise layer: batch x channels planes of 56x56) are
grouped into chunks of planes instead, so each chunk's transforms also stay in
the cache and the chunks run in parallel.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading

import numpy as np

from .. import _calibration
from ..problem import ConvProblem
from ._base import (PARALLEL_FFT_POINTS, Cost, current_workers, fft_len, kernel_spectrum,
                    thread_count)
from ._parallel import run_tasks
from .fft import (TransformAlgorithm, dilate_kernel, inverse_real, pocketfft_module,
                  spectrum_product)

#: bytes of one task's input planes that keep its transforms in a core's
#: cache while the other core works too: the tile, its spectrum and the result
#: take about three times this (measured on 2 MiB of L2 per core: 256x256
#: float64 and 384x384 float32 tiles ran faster than larger ones)
TILE_BYTES = 512 << 10

#: longest tile side over the shortest (long thin tiles transform slower
#: than the operation count says: their column passes are strided)
MAX_ASPECT = 1.5

#: smallest tile length per axis (shorter tiles spend too much on the k - 1 overlap)
MIN_TILE = 32


class OverlapSave(TransformAlgorithm):
    name = "os"

    def supports(self, problem: ConvProblem) -> str | None:
        if not problem.ndim:
            return "os: needs at least one spatial axis"
        return None

    def cost(self, problem: ConvProblem) -> Cost:
        seconds, layout = _plan_tiles(problem)
        c = _calibration.constants()
        g, ci = problem.x_shape[1:3]
        co = problem.out_channels
        points = math.prod(layout.tile)
        half = points // 2 + 1 if not problem.is_complex else points
        # the kernel's spectrum, once per call, and the fixed cost of the call
        seconds += g * co * ci * points * math.log2(max(points, 2)) * c["os_per_point_log"]
        seconds += 2 * c["fft_overhead"]
        temporaries = layout.workers * layout.planes * (ci + co) * half * 2 * problem.itemsize
        detail = (f"{layout.tasks} task{'s' if layout.tasks > 1 else ''} of {layout.planes} "
                  f"plane{'s' if layout.planes > 1 else ''} x {'x'.join(map(str, layout.tile))}"
                  f" on {layout.workers} thread{'s' if layout.workers > 1 else ''}")
        return self._with_limbs(problem, seconds, temporaries, detail)

    def _run_float(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        from scipy import fft as sp_fft

        real = not (np.iscomplexobj(x) or np.iscomplexobj(w))
        nd = problem.ndim
        axes = tuple(range(3, 3 + nd))
        layout = tile_layout(problem)
        tile = layout.tile
        forward = sp_fft.rfftn if real else sp_fft.fftn
        # correlation = convolution with the reversed kernel; its spectrum once
        wr = np.flip(dilate_kernel(w, problem.dilations), axis=axes)
        wf = kernel_spectrum(("os", tile, real, wr.shape, wr.dtype.str),
                             lambda: forward(wr, tile, axes=axes))
        out_dtype = np.result_type(x.dtype, w.dtype, np.float32 if real else np.complex64)
        if real:
            out_dtype = np.dtype(np.float32) if out_dtype == np.float32 else np.dtype(np.float64)
        out = np.empty(problem.out_shape, dtype=out_dtype)
        kd = problem.dilated_kernel
        strides = problem.strides
        lows = [lo for lo, _ in problem.pad]

        def run_task(task: tuple[slice, slice, tuple[int, ...]]) -> None:
            ns, gs, starts = task
            part = x[ns, gs]
            buf = _tile_buffer("input", part.shape[:3] + tile, x.dtype)
            # the tile's first sample, in zero-extended coordinates: the first
            # output's window, or the input's first sample for a whole axis
            origins = [lo if compact else p0
                       for p0, lo, compact in zip(starts, lows, layout.compact)]
            src, dst, full = [], [], True
            for a0, lo, t, size in zip(origins, lows, tile, problem.spatial_in):
                first, last = a0 - lo, a0 - lo + t          # input samples of the tile
                a, b = max(first, 0), min(last, size)
                src.append(slice(a, max(a, b)))
                dst.append(slice(a - first, a - first + max(0, b - a)))
                full &= a == first and b == last
            if not full:
                buf.fill(0)
            buf[(Ellipsis,) + tuple(dst)] = part[(Ellipsis,) + tuple(src)]
            result = tile_transform(buf, wf[gs], tile, axes, real)
            # tile outputs at every position (stride 1); keep every stride-th
            keep, from_tile = [], []
            for p0, a0, step, k, o, st in zip(starts, origins, layout.steps, kd,
                                              problem.spatial_out, strides):
                first, stop = p0 // st, min(o, -(-(p0 + step) // st))
                keep.append(slice(first, stop))
                m = first * st - a0 + k - 1        # where output `first` lands in the tile
                from_tile.append(slice(m, m + (stop - first - 1) * st + 1, st))
            keep, from_tile = tuple(keep), tuple(from_tile)
            out[(ns, gs, slice(None)) + keep] = result[(Ellipsis,) + from_tile]

        run_tasks(run_task, layout.iter_tasks(problem), layout.workers)
        return out


class TileLayout:
    """How a problem is cut into tasks: a tile length per spatial axis, the
    output samples each tile computes, how many planes one task takes, and
    the threads that run the tasks."""

    def __init__(self, tile: tuple[int, ...], steps: tuple[int, ...], counts: tuple[int, ...],
                 batch_chunk: int, group_chunk: int, batch: int, groups: int, workers: int,
                 compact: tuple[bool, ...]) -> None:
        self.tile, self.steps, self.counts = tile, steps, counts
        #: per axis: one tile starting at the input's first sample
        self.compact = compact
        self.batch_chunk, self.group_chunk = batch_chunk, group_chunk
        self.planes = batch_chunk * group_chunk
        self.tasks = -(-batch // batch_chunk) * -(-groups // group_chunk) * math.prod(counts)
        self.workers = max(1, min(workers, self.tasks))

    def iter_tasks(self, problem: ConvProblem):
        n, g = problem.x_shape[:2]
        tiles = itertools.product(*(range(0, s * c, s) for s, c in zip(self.steps, self.counts)))
        for starts in tiles:
            for n0 in range(0, n, self.batch_chunk):
                for g0 in range(0, g, self.group_chunk):
                    yield (slice(n0, min(n, n0 + self.batch_chunk)),
                           slice(g0, min(g, g0 + self.group_chunk)), starts)


def tile_layout(problem: ConvProblem) -> TileLayout:
    """The tiling :class:`OverlapSave` uses for ``problem``."""
    return _plan_tiles(problem)[1]


def _plan_tiles(problem: ConvProblem) -> tuple[float, TileLayout]:
    """The estimate and the tiling for ``problem``: on the threads of
    :func:`_workers`, or on every core where that gives one thread but the
    tiles are heavy enough to share (:data:`PARALLEL_OS_SECONDS`)."""
    n, g, ci = problem.x_shape[:3]
    single = problem.compute_dtype in (np.float32, np.complex64)

    def tiles(workers: int) -> tuple[float, TileLayout]:
        return _layout(problem.spatial_in, tuple(lo for lo, _ in problem.pad), problem.spatial_out,
                       problem.strides, problem.dilated_kernel, not problem.is_complex, single,
                       n, g, ci, problem.out_channels, problem.itemsize, workers)

    workers = _workers(problem)
    alone = tiles(workers)
    cores = os.cpu_count() or 1
    if workers == 1 and current_workers() is None and cores > 1 and alone[0] >= PARALLEL_OS_SECONDS:
        shared = tiles(cores)
        if shared[0] < alone[0] and shared[1].tasks >= MIN_TASKS_PER_THREAD * cores:
            return shared
    return alone


#: a problem under a million output points still runs its tiles on every core
#: when one thread is estimated to take this long ...
PARALLEL_OS_SECONDS = 4e-3
#: ... and the tiles make at least this many tasks per thread (a 400x400
#: float64 image with a 63x63 kernel in two tiles on two threads took 4.1 ms
#: against one tile's 2.4 ms on one; 898x898 'valid' outputs of a 127x127
#: kernel, 4 tiles of 640x640 on two threads: 17 ms, one thread 34 ms)
MIN_TASKS_PER_THREAD = 2


@functools.lru_cache(maxsize=512)
def _layout(size: tuple[int, ...], lows: tuple[int, ...], out: tuple[int, ...],
            strides: tuple[int, ...], kd: tuple[int, ...], real: bool, single: bool, n: int,
            g: int, ci: int, co: int, itemsize: int, workers: int) -> tuple[float, TileLayout]:
    """The tiling with the least estimated time, and that time.

    A task transforms ``planes * (ci + co)`` tiles of ``P`` points:
    ``os_per_point_log * P log2 P`` seconds each while a tile fits in the
    cache (measured flat from 128x128 to 768x768 tiles), more beyond
    (:func:`_out_of_cache`), plus the channel sum of the spectra and a
    fixed cost per task (larger on several threads, measured: 1024² images
    ran faster in 9 tiles of 384² than in 64 of 160²); the tasks share
    ``workers`` threads.

    Tiles are laid over every output position (``(o - 1) * stride + 1`` per
    axis); with a stride, a tile's step is a multiple of it, so each tile
    keeps every stride-th of its outputs.  One tile for a whole axis starts
    at the input's first sample, not at the zero-extension: the samples that
    wrap around then meet only the zeros past the input, so the tile needs
    ``max(n + lo, dense + k - 1 - lo)`` samples instead of ``dense + k - 1``
    (a 'same' output: ``n + k/2`` instead of ``n + k``, as one transform
    does), provided the zero-extension before the input is shorter than the
    kernel (else two outputs would land on one sample of the tile).
    """
    c = _calibration.constants()
    per_point = c["os_per_point_log"] * (0.56 if single else 1.0) * (1.0 if real else 2.0)
    task_overhead = c["os_task_overhead" if workers == 1 else "os_parallel_task_overhead"]
    dense = tuple((o - 1) * st + 1 for o, st in zip(out, strides))
    per_axis, wholes = [], []
    compact = tuple(lo <= k - 1 for k, lo in zip(kd, lows))
    for o, k, length_in, lo, short in zip(dense, kd, size, lows, compact):
        # (zero-extension wider than the kernel: outputs may wrap onto each other)
        whole = fft_len(max(length_in + lo, o - 1 - lo + k) if short else o + k - 1, real)
        options = {whole}
        length = fft_len(max(2 * k, MIN_TILE), real)
        while length < whole and length - k + 1 < o:
            options.add(length)
            length = fft_len(int(length * 1.2) + 1, real)
        per_axis.append(sorted(options))
        wholes.append(whole)
    best = None
    for tile in itertools.product(*per_axis):
        short = [t for t, choices in zip(tile, per_axis) if t < choices[-1]]
        if short and max(tile) > MAX_ASPECT * min(short):
            continue
        points = math.prod(tile)
        half = points // 2 + 1 if real else points
        steps = tuple(o if t == whole else (t - k + 1) // st * st
                      for t, k, o, st, whole in zip(tile, kd, dense, strides, wholes))
        if min(steps) < 1:
            continue
        counts = tuple(max(1, -(-o // step)) for o, step in zip(dense, steps))
        # planes per task: as many as fit in the cache, but enough tasks for every thread
        plane_bytes = max(ci, co) * points * itemsize
        budget = TILE_BYTES if workers > 1 else 2 * TILE_BYTES   # one core: its cache alone
        planes = max(1, min(budget // plane_bytes, -(-n * g * math.prod(counts) // workers)))
        n_chunk = min(n, planes)
        g_chunk = min(g, max(1, planes // n_chunk)) if n_chunk == n else 1
        layout = TileLayout(tile, steps, counts, n_chunk, g_chunk, n, g, workers,
                            tuple(c and t == whole for c, t, whole in zip(compact, tile, wholes)))
        task = (layout.planes * (ci + co) * per_point * points * math.log2(max(points, 2))
                * _out_of_cache(layout.planes * plane_bytes, budget)
                + layout.planes * ci * co * half * c["spectrum_per_element"] + task_overhead)
        seconds = -(-layout.tasks // layout.workers) * task
        if layout.workers > 1:
            seconds += c["os_task_overhead"] * layout.workers   # handing tasks to the threads
        if best is None or seconds < best[0]:
            best = (seconds, layout)
    return best


def _out_of_cache(task_bytes: int, budget: int) -> float:
    """Slow-down of transforms whose data exceed the cache ``budget``
    (measured, float32 and float64: about 1.3x at 4 times, 1.9x at 16 times)."""
    return 1.0 if task_bytes <= budget else 1.0 + 0.25 * math.log2(task_bytes / budget)


def _workers(problem: ConvProblem) -> int:
    workers = current_workers()
    if workers is not None:
        return thread_count(workers)
    # one thread below a million output points, unless the tiles are heavy
    # (see _plan_tiles): the hand-off to other threads costs more than it
    # saves, and far more when other processes (or other libraries' spinning
    # thread pools) hold the cores
    points = problem.batch * problem.groups * problem.out_channels * math.prod(problem.spatial_out)
    return (os.cpu_count() or 1) if points >= PARALLEL_FFT_POINTS else 1


_BUFFERS = threading.local()


def _tile_buffer(role: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A per-thread array for one ``role`` in a task (the input tile, its
    spectrum, the result), reused by the thread's next task of the same shape."""
    buffers = getattr(_BUFFERS, "buffers", None)
    if buffers is None:
        buffers = _BUFFERS.buffers = {}
    key = (role, shape, np.dtype(dtype).str)
    buf = buffers.get(key)
    if buf is None:
        if math.prod(shape) * np.dtype(dtype).itemsize > KEPT_BUFFER_BYTES:
            return np.empty(shape, dtype=dtype)         # not kept past the call
        if len(buffers) >= 8:
            buffers.clear()
        buf = buffers[key] = np.zeros(shape, dtype=dtype)
    return buf


#: a thread keeps its task arrays up to this size for its next task (and
#: call); larger ones, whose transforms outweigh allocating them, are freed
KEPT_BUFFER_BYTES = 4 << 20


def tile_transform(tile: np.ndarray, wf: np.ndarray, shape: tuple[int, ...],
                   axes: tuple[int, ...], real: bool) -> np.ndarray:
    """The circular correlation of one task's ``tile`` ``(N, G, C, *shape)``
    with the kernel spectrum ``wf`` ``(G, O, C, *spectrum)``: forward
    transform, product (summed over channels), inverse transform.

    The spectrum and the result go into the thread's own arrays, which its
    next task reuses (scipy's pocketfft called directly, as in
    :func:`.fft.inverse_real`: scipy.fft allocates its results and, for the
    inverse, a complex temporary).  Arrays allocated afresh for every tile
    cost as much as the transforms: a 256x256 float64 tile's arrays of
    about 0.5 MiB each are above the size glibc's ``malloc`` takes straight
    from the kernel and gives back at ``free``, so every tile paid for
    zeroing new pages (a forward and inverse transform and the product:
    0.90 ms allocating, 0.50 ms reusing)."""
    pocketfft = pocketfft_module()
    if pocketfft is None:                                  # pragma: no cover - other scipy
        from scipy import fft as sp_fft
        forward, inverse = (sp_fft.rfftn, sp_fft.irfftn) if real else (sp_fft.fftn, sp_fft.ifftn)
        return inverse(spectrum_product(forward(tile, axes=axes, workers=1), wf), shape,
                       axes=axes, workers=1)
    spectrum_shape = shape[:-1] + (shape[-1] // 2 + 1,) if real else shape
    complex_dtype = np.result_type(tile.dtype, np.complex64)
    spectrum = _tile_buffer("spectrum", tile.shape[:3] + spectrum_shape, complex_dtype)
    # unnormalized forward, inverse scaled by 1 / points: scipy.fft's convention
    if real:
        pocketfft.r2c(tile, axes, True, 0, spectrum, 1)
    else:
        pocketfft.c2c(tile, axes, True, 0, spectrum, 1)
    product = spectrum_product(spectrum, wf, overwrite=True)
    result = _tile_buffer("result", product.shape[:3] + shape, tile.dtype if real else complex_dtype)
    if real:
        inverse_real(product, shape, axes, 1, out=result)
    else:
        pocketfft.c2c(product, axes, False, 2, result, 1)
    return result


algorithm = OverlapSave()
