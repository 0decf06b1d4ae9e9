"""Compiled sliding-window loops (numba), for the direct algorithm.

The loops are compiled the first time they are needed (``import convolab``
does not import numba) and cached on disk, so later processes load them in
milliseconds.  They run on all cores (``numba.prange`` over output rows).

Each loop computes a single-channel cross-correlation of zero-extended
inputs (extended beforehand, or, in 2-D, by the loop itself), batched:
``x (B, *P)``, ``w (G, *K)``, ``out (B, *O)``, where batch row ``b`` uses
kernel ``b % G`` (``G = 1``: one shared kernel; ``G = groups``: a depthwise
layer).  Stride 1; any dilation.  :func:`correlate_dense` takes the other
real float 2-D layers (channels in or out, any stride, dilation, groups).

The innermost loops run over contiguous output samples, vectorized
(AVX2/AVX-512 where available); for real floats, register tiles keep a
block of sums in SIMD registers through the whole kernel.  Sums accumulate
in the output dtype with IEEE arithmetic (only fused multiply-adds; no
other fast-math), so ``nan * 0`` is NaN as in every other direct method.
"""

from __future__ import annotations

import functools
import os

import numpy as np

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


#: the loop of :mod:`._numba_loops` for each number of spatial axes (1-D
#: rows run through the offset loop with taps ``t * d`` apart)
_LOOPS = {1: "correlate_offsets", 2: "correlate_2d", 3: "correlate_3d"}


def correlate_2d_flat(x: np.ndarray, w: np.ndarray, dilation: tuple[int, int],
                      out_shape: tuple[int, ...]) -> np.ndarray:
    """:func:`correlate` in 2-D for short rows: each zero-extended image
    ``x (B, Hp, Wp)`` is flattened into one row and tap ``(u, v)`` read at
    offset ``u*d0*Wp + v*d1``, so the passes run over whole images; the
    outputs that straddle a row end are computed and dropped."""
    from . import _numba_loops as loops

    batch, hp, wp = x.shape
    groups, kh, kw = w.shape
    h_out, w_out = out_shape[1:]
    offsets = _flat_offsets(kh, kw, dilation[0] * wp, dilation[1])
    length = (h_out - 1) * wp + w_out
    flat = np.empty((batch, h_out * wp), dtype=x.dtype)
    x = np.ascontiguousarray(x).reshape(batch, hp * wp)
    w = np.ascontiguousarray(w, dtype=x.dtype).reshape(groups, kh * kw)
    _threaded("correlate_offsets", batch * length * kh * kw, x, w, offsets, length, flat)
    return np.ascontiguousarray(flat.reshape(batch, h_out, wp)[:, :, :w_out])


@functools.lru_cache(maxsize=256)
def _flat_offsets(kh: int, kw: int, row_step: int, col_step: int) -> np.ndarray:
    """Offsets of the taps of a ``kh x kw`` kernel in a flattened image."""
    offsets = (np.arange(kh)[:, None] * row_step + np.arange(kw)[None, :] * col_step).ravel()
    offsets = offsets.astype(np.int64)
    offsets.flags.writeable = False
    return offsets


#: batches of at least this many short-row images go through
#: :func:`correlate_2d_planes`; fewer are zero-extended once (into a reused
#: buffer) and their flattened rows split among the threads
PLANES_BATCH = 4


def correlate_2d_planes(x: np.ndarray, w: np.ndarray, dilation: tuple[int, int],
                        pad: tuple[tuple[int, int], ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """:func:`correlate` in 2-D of a batch of images with short rows,
    ``x (B, H, W)`` zero-extended by ``pad``: image by image through small
    per-thread buffers (:func:`._numba_loops.correlate_planes`), so the batch
    streams through memory once."""
    import numba

    batch, height, width = x.shape
    groups, kh, kw = w.shape
    (top, bottom), (left, right) = pad
    hp, wp = height + top + bottom, width + left + right
    h_out = out_shape[1]
    offsets = _flat_offsets(kh, kw, dilation[0] * wp, dilation[1])
    out = np.empty(out_shape, dtype=x.dtype)
    macs = batch * h_out * wp * kh * kw
    tasks = min(batch, _threads(macs) or numba.get_num_threads())
    _threaded("correlate_planes", macs, np.ascontiguousarray(x),
              np.ascontiguousarray(w, dtype=x.dtype).reshape(groups, kh * kw), offsets,
              top, left, hp, wp, out, tasks, kw, dilation[1],
              _tiled_planes(dilation, wp, out_shape[-1], x.dtype))
    return out


def _tiled_planes(dilation: tuple[int, int], wp: int, w_out: int, dtype: np.dtype) -> bool:
    """Whether :func:`._numba_loops.correlate_planes` runs register tiles of
    four output rows: real floats, kernel rows one input row apart, and
    output rows that fill whole tiles of four SIMD vectors without much more
    waste than the flattened passes' dropped columns."""
    if np.dtype(dtype).kind != "f":
        return False
    tile = tile_width(np.dtype(dtype).itemsize)
    return dilation[0] == 1 and -(-w_out // tile) * tile <= 1.5 * wp


def plane_runner(w: np.ndarray, dilation: tuple[int, int], pad: tuple[tuple[int, int], ...],
                 in_shape: tuple[int, int], out_shape: tuple[int, int],
                 result_shape: tuple[int, ...]):
    """A function ``run(x)`` that correlates one image ``x`` of ``in_shape``,
    zero-extended by ``pad``, with the fixed kernel ``w (KH, KW)`` in one
    compiled call on the calling thread (:func:`._numba_loops.correlate_plane`)
    and returns it with shape ``result_shape`` (a 1-D row is a one-row image);
    None from ``run`` when ``x`` has another dtype.  For repeated small
    problems, whose time is otherwise mostly spent around the loop."""
    from . import _numba_loops as loops

    (top, bottom), (left, right) = pad
    height, width = in_shape
    hp, wp = height + top + bottom, width + left + right
    kh, kw = w.shape
    offsets = _flat_offsets(kh, kw, dilation[0] * wp, dilation[1])
    taps = np.ascontiguousarray(w).reshape(1, kh * kw)
    dtype = taps.dtype
    h_out, w_out = out_shape
    # the flattened passes, as the full path takes for one image
    # (:func:`correlate_2d_flat`): a repeated call gives the same bits
    tiled = False
    run_plane = loops.correlate_plane

    def run(x: np.ndarray) -> np.ndarray | None:
        if x.dtype != dtype:
            return None
        out = run_plane(x.reshape(1, height, width), taps, offsets, top, left, hp, wp, h_out, w_out,
                        kw, dilation[1], tiled)
        return out.reshape(result_shape)
    return run


def correlate_2d_framed(x: np.ndarray, w: np.ndarray, dilation: tuple[int, int],
                        pad: tuple[tuple[int, int], ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """:func:`correlate` in 2-D of ``x (B, H, W)`` zero-extended by ``pad``,
    without a zero-extended copy of ``x``.

    The loop reads ``x`` itself and supplies the zeros: output rows whose
    windows leave the image take only the kernel rows inside it, and the few
    columns at each end of a row come from a small zero-extended copy of the
    row ends.  On a large image a padded copy cost as much as a 3x3
    convolution.
    """
    (top, _), (left, _) = pad
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    out = np.empty(out_shape, dtype=x.dtype)
    _threaded("correlate_2d", out.size * w[0].size, x, w, *dilation, top, left, out)
    return out


def framed_interior(shape: tuple[int, ...], span: tuple[int, ...],
                    pad: tuple[tuple[int, int], ...], out: tuple[int, ...]) -> bool:
    """True when some output columns of :func:`correlate_2d_framed` have their
    windows inside the rows of the image (the others come from copies of the
    row ends, so without any the whole image would be copied piece by piece)."""
    n, k, (lo, _), o = shape[-1], span[-1], pad[-1], out[-1]
    return min(o, lo + n - k + 1) > lo


#: below this many multiply-adds one thread is faster: waking the pool costs
#: more than the work, and far more when other processes keep the cores busy
PARALLEL_MACS = 1 << 21


def correlate(x: np.ndarray, w: np.ndarray, dilation: tuple[int, ...], out_shape: tuple[int, ...]
              ) -> np.ndarray:
    """Batched single-channel correlation ``x (B, *P)`` with ``w (G, *K)``.

    ``x`` must already hold every sample the windows reach (zero-extended).
    """
    ndim = x.ndim - 1
    if ndim not in _LOOPS:
        raise ValueError(f"compiled loops exist for 1-D, 2-D and 3-D, not {ndim}-D")
    out = np.empty(out_shape, dtype=x.dtype)
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    if ndim == 1:
        offsets = np.arange(w.shape[1], dtype=np.int64) * dilation[0]
        args = (x, w, offsets, out.shape[1], out)
    elif ndim == 2:
        args = (x, w, *dilation, 0, 0, out)
    else:
        args = (x, w, *dilation, out)
    _threaded(_LOOPS[ndim], out.size * w[0].size, *args)
    return out


#: set when a multithreaded loop has run in this process, and in a child forked
#: after that: the child runs every loop on one thread (numba's OpenMP threads do
#: not survive fork(), and GNU OpenMP terminates a child that starts them again)
_STATE = {"parallel_used": False, "serial_only": False}


def _after_fork_in_child() -> None:
    if _STATE["parallel_used"]:
        _STATE["serial_only"] = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _threads(macs: int) -> int | None:
    """Threads for a loop of ``macs`` multiply-adds: ``workers=`` when given
    (negative counts from the number of cores, as in scipy.fft), else one
    for small problems and None (every core) for large ones; always one in a
    process forked after a multithreaded loop ran."""
    from ._base import current_workers, thread_count

    if _STATE["serial_only"]:
        return 1
    threads = current_workers()
    if threads is None:
        return 1 if macs < PARALLEL_MACS else None
    import numba
    return min(numba.config.NUMBA_NUM_THREADS, thread_count(threads))


def _threaded(loop: str, macs: int, *args) -> None:
    """Run the loop named ``loop`` on :func:`_threads` threads.  One thread runs
    the loop's serial twin, which never touches numba's thread pool (setting
    its thread count costs microseconds)."""
    from . import _numba_loops as loops

    threads = _threads(macs)
    if threads == 1:
        getattr(loops, loop + "_serial")(*args)
        return
    _STATE["parallel_used"] = True
    if threads is None:
        getattr(loops, loop)(*args)
    else:
        import numba
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            getattr(loops, loop)(*args)
        finally:
            numba.set_num_threads(previous)


def correlate_dense(x: np.ndarray, w: np.ndarray, strides: tuple[int, int],
                    dilation: tuple[int, int], pad: tuple[tuple[int, int], ...],
                    out_shape: tuple[int, ...]) -> np.ndarray:
    """A dense 2-D layer: ``x (N, G, C, H, W)`` zero-extended by ``pad`` with
    ``w (G, O, C, KH, KW)``, any stride and dilation, into ``out_shape (N,
    G, O, Ho, Wo)``, without an im2col matrix or a padded copy of ``x``.

    Each band of output rows copies the input it reads into a small buffer
    split by stride phase, where every kernel tap is one contiguous stretch
    (:func:`._numba_loops.correlate_dense`); register tiles of four output
    channels sum every tap over it.
    """
    n, g, c, height, width = x.shape
    o, kh, kw = w.shape[1], w.shape[3], w.shape[4]
    h_out, w_out = out_shape[3:]
    if channel_tiles(o, x.dtype):
        return _correlate_dense_channels(x, w, strides, dilation, pad, out_shape)
    band_rows, band_width, offsets = _dense_layout(c, kh, kw, *strides, *dilation, w_out)
    out = np.empty((n, g * o, h_out, w_out), dtype=x.dtype)
    x = np.ascontiguousarray(x).reshape(n, g * c, height, width)
    # tap-major, the output channels zero-extended to whole tiles of four
    taps = np.zeros((g, c * kh * kw, -(-o // 4) * 4), dtype=x.dtype)
    taps[:, :, :o] = w.reshape(g, o, c * kh * kw).transpose(0, 2, 1)
    macs = out.size * c * kh * kw
    _threaded("correlate_dense", macs, x, taps, offsets, *strides, pad[0][0], pad[1][0],
              DENSE_BAND_ROWS, band_rows, band_width, out)
    return out.reshape(out_shape)


#: output rows per task of :func:`correlate_dense` (measured on the 7x7
#: stride-2 stem: 8 about the fastest of 4-16; longer bands leave the L1 cache,
#: shorter ones spend more of their time around the passes)
DENSE_BAND_ROWS = 8


def dense_band(kh: int, kw: int, strides: tuple[int, int], dilation: tuple[int, int],
               w_out: int) -> tuple[int, int]:
    """Rows and width of one phase plane of :func:`correlate_dense`'s band
    buffer: a band's output rows (or columns) plus the reach of the kernel's
    last row (or column) in its phase."""
    return (DENSE_BAND_ROWS + (kh - 1) * dilation[0] // strides[0],
            w_out + (kw - 1) * dilation[1] // strides[1])


def tile_width(itemsize: int) -> int:
    """Values in a register tile's four SIMD vectors of ``itemsize``-byte
    values (64-byte vectors with AVX-512, 32-byte ones elsewhere): positions
    along a row for the position tiles, output channels for the channel
    tiles."""
    from ._simd import VECTOR_BYTES

    return 4 * VECTOR_BYTES // itemsize


@functools.lru_cache(maxsize=256)
def _dense_layout(channels: int, kh: int, kw: int, s0: int, s1: int, d0: int, d1: int,
                  w_out: int) -> tuple[int, int, np.ndarray]:
    """The band buffer of :func:`correlate_dense`: rows and width of one
    phase plane, and where each tap ``(c, u, v)`` starts reading in it."""
    band_rows, band_width = dense_band(kh, kw, (s0, s1), (d0, d1), w_out)
    plane = band_rows * band_width
    offsets = np.array([c * s0 * s1 * plane + _tap_start(u, v, s0, s1, d0, d1, plane, band_width)
                        for c in range(channels) for u in range(kh) for v in range(kw)],
                       dtype=np.int64)
    offsets.flags.writeable = False
    return band_rows, band_width, offsets


def _tap_start(u: int, v: int, s0: int, s1: int, d0: int, d1: int, plane: int,
               band_width: int) -> int:
    """Where kernel tap ``(u, v)`` starts reading in one channel's phase
    planes of a band: plane ``(u d0 mod s0, v d1 mod s1)``, row
    ``u d0 // s0``, column ``v d1 // s1``."""
    return (((u * d0 % s0) * s1 + v * d1 % s1) * plane
            + u * d0 // s0 * band_width + v * d1 // s1)


#: positions a channel tile computes: its 6 x 4 vectors of sums, 4 of weights
#: and one broadcast input fill 29 of AVX-512's 32 vector registers
CHANNEL_TILE_POSITIONS = 6


def channel_tiles(out_channels: int, dtype: np.dtype) -> bool:
    """Whether :func:`correlate_dense` puts the output channels in the vector
    lanes (channel tiles): with AVX-512 (32 vector registers hold a tile's
    24 sums), and when zero-extending the ``out_channels`` of a group to
    whole tiles adds at most an eighth."""
    from ._simd import VECTOR_BYTES

    block = tile_width(np.dtype(dtype).itemsize)
    return VECTOR_BYTES == 64 and -(-out_channels // block) * block * 8 <= 9 * out_channels


def _correlate_dense_channels(x, w, strides, dilation, pad, out_shape):
    """:func:`correlate_dense` by channel tiles
    (:func:`._numba_loops.correlate_dense_channels`)."""
    n, g, c, height, width = x.shape
    o, kh, kw = w.shape[1], w.shape[3], w.shape[4]
    h_out, w_out = out_shape[3:]
    band_rows, band_width, offsets = _channels_layout(c, kh, kw, *strides, *dilation, w_out)
    out = np.empty((n, g * o, h_out, w_out), dtype=x.dtype)
    x = np.ascontiguousarray(x).reshape(n, g * c, height, width)
    block = tile_width(x.dtype.itemsize)
    # tap-major in (row, column, channel) order, the output channels
    # zero-extended to whole tiles; 64-byte aligned, so no weight load
    # straddles two cache lines
    taps = _aligned_zeros((g, kh * kw * c, -(-o // block) * block), x.dtype)
    taps[:, :, :o] = w.transpose(0, 3, 4, 2, 1).reshape(g, kh * kw * c, o)
    macs = out.size * c * kh * kw
    # one task per thread, each with its own buffers, taking every
    # workers-th band
    bands = n * g * -(-h_out // DENSE_BAND_ROWS)
    workers = min(bands, os.cpu_count() or 1)
    _threaded("correlate_dense_channels", macs, x, taps, offsets, *strides, pad[0][0],
              pad[1][0], DENSE_BAND_ROWS, band_rows, band_width, out, workers)
    return out.reshape(out_shape)


def _aligned_zeros(shape: tuple[int, ...], dtype: np.dtype, alignment: int = 64) -> np.ndarray:
    """``np.zeros(shape, dtype)`` whose data starts at a multiple of ``alignment`` bytes."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(size + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + size].view(dtype).reshape(shape)


@functools.lru_cache(maxsize=256)
def _channels_layout(channels: int, kh: int, kw: int, s0: int, s1: int, d0: int, d1: int,
                     w_out: int) -> tuple[int, int, np.ndarray]:
    """:func:`_dense_layout` for the channels-last buffer of the channel
    tiles: tap ``(u, v, c)`` starts reading at ``offsets[(u kw + v) C + c]``."""
    band_rows, band_width = dense_band(kh, kw, (s0, s1), (d0, d1), w_out)
    plane = band_rows * band_width
    offsets = np.array([_tap_start(u, v, s0, s1, d0, d1, plane, band_width) * channels + c
                        for u in range(kh) for v in range(kw) for c in range(channels)],
                       dtype=np.int64)
    offsets.flags.writeable = False
    return band_rows, band_width, offsets
