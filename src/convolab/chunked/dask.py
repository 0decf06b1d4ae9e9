"""Chunked convolution on Dask: halos, overlap-add, and lazy files.

A convolution output sample depends on a window of ``k`` input samples per
axis, so a chunk of output needs its chunk of input plus ``k - 1`` samples
from the neighbours.  This module builds that computation as a Dask graph:

1. **Describe.** The arguments are checked as the in-memory API checks them,
   and each convolved axis gets scipy's extension ``(lo, hi)`` for the
   ``mode`` (:func:`convolab.problem.signal_pads`, the same function the
   in-memory API uses, even kernels included).  The result is the *valid*
   correlation of the input extended by ``(lo, hi)`` with the boundary rule.
2. **Extend without copying.** The extended input is never built.  Position
   ``p`` of the extended axis reads input sample ``source(p)``, numpy.pad's
   rule for any width (:func:`source_index`, periodic formulas equal to
   ``numpy.pad`` for pads wider than the array), or the fill value.
3. **Strategy.**

   ``halo``
       each output chunk gathers its window (the chunk plus ``k - 1``
       samples, from however many input chunks they lie in) and is
       convolved in ``valid`` mode.  Chosen when ``k - 1`` fits in the
       smallest input chunk on every convolved axis.
   ``overlap-add``
       each input chunk (and each piece of a non-zero extension) is
       convolved in ``full`` mode; an output chunk is the sum of the parts
       of those results that land in it.  Chosen when the kernel is wider
       than the chunks, where a halo would be wider than the chunk it
       surrounds.  Zero ``fill`` pads cost nothing: they add zero.

4. **Per chunk, convolab's planner.** Every chunk runs through
   :func:`convolab.plan` with ``method='auto'`` (direct, separable, FFT...).
   Chunks of equal shape make equal problems, so one plan serves them all;
   for float data the plan is bound to the kernel
   (:meth:`convolab.Plan.bind_kernel`) and its spectrum is computed once per
   chunk shape and process.

Dask's own ``map_overlap`` is not used because its halo must come from the
immediate neighbour, must be symmetric unless the boundary is ``'none'``,
and its boundaries (``reflect`` means ``symm`` there) cannot be wider than
the array; the gather above has none of these limits.

``nan_policy='omit'`` is normalized convolution, two chunked convolutions
divided: ``conv(x * m, k) / conv(m, k)`` with ``m`` the mask of non-NaN
samples, both extended by the boundary rule (astropy's ``interpolate``; a
``fill`` boundary with ``fillvalue=nan`` treats the outside as missing).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .. import signal as _signal
from ..boundary import normalize_boundary
from ..errors import ConvolabError, not_one_of
from ..problem import (_checked_fill, check_mode, compute_dtype_for, normalize_axes,
                       signal_pads)

__all__ = ["convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d", "correlate2d",
           "plan", "ChunkPlan", "match_template", "convolve_file", "open_npy", "source_index",
           "SIGNAL_FUNCTIONS"]

STRATEGIES = ("auto", "halo", "overlap-add")
NAN_POLICIES = ("propagate", "raise", "omit")


# ---------------------------------------------------------------------------
# boundary extension as an index map


def source_index(p: np.ndarray, n: int, lo: int, boundary: str) -> np.ndarray:
    """For positions ``p`` of an axis of length ``n`` extended by ``lo``
    samples on the left, the input index each position copies (``-1``: the
    fill value).  Equal to ``numpy.pad(np.arange(n), ...)`` for any width.

    Examples
    --------
    >>> import numpy as np
    >>> source_index(np.arange(8), 3, 5, 'reflect')
    array([1, 0, 1, 2, 1, 0, 1, 2])
    >>> np.pad(np.arange(3), (5, 0), mode='reflect')
    array([1, 0, 1, 2, 1, 0, 1, 2])
    >>> source_index(np.arange(5), 3, 1, 'fill')
    array([-1,  0,  1,  2, -1])
    """
    q = np.asarray(p, dtype=np.int64) - lo
    if boundary == "fill":
        return np.where((q >= 0) & (q < n), q, -1)
    if boundary == "wrap":
        return q % n
    if boundary == "nearest":
        return np.clip(q, 0, n - 1)
    if boundary == "symm":            # c b a | a b c: period 2n
        r = q % (2 * n)
        return np.where(r < n, r, 2 * n - 1 - r)
    if boundary == "reflect":         # d c b | a b c d: period 2n - 2
        if n == 1:
            return np.zeros_like(q)
        period = 2 * n - 2
        r = q % period
        return np.where(r < n, r, period - r)
    raise AssertionError(boundary)


@dataclass(frozen=True)
class _AxisGather:
    """How one axis of a window is read from the input chunks.

    ``pieces``: ``(chunk index, start, stop)`` in the chunk, in the order they
    are laid side by side; ``take``: positions in that row that make the
    window's valid part (``None``: all of it, in order); ``valid``: where the
    valid part sits in the window (the rest is the fill value); ``length``:
    the window's length.
    """

    pieces: tuple[tuple[int, int, int], ...]
    take: np.ndarray | None
    valid: slice
    length: int


def _axis_gather(start: int, stop: int, n: int, lo: int, boundary: str,
                 bounds: np.ndarray) -> _AxisGather:
    """The gather of extended positions ``[start, stop)`` on one axis whose
    input chunks start at ``bounds[:-1]``."""
    src = source_index(np.arange(start, stop), n, lo, boundary)
    valid = np.nonzero(src >= 0)[0]
    if valid.size == 0:
        return _AxisGather((), None, slice(0, 0), stop - start)
    v0, v1 = int(valid[0]), int(valid[-1]) + 1          # fill pads lie outside: one run
    sv = src[v0:v1]
    chunk = np.searchsorted(bounds, sv, side="right") - 1
    pieces, local, offset = [], np.empty(sv.size, np.int64), 0
    for c in np.unique(chunk):
        sel = chunk == c
        first, last = int(sv[sel].min() - bounds[c]), int(sv[sel].max() - bounds[c]) + 1
        pieces.append((int(c), first, last))
        local[sel] = offset + sv[sel] - bounds[c] - first
        offset += last - first
    take = None if offset == sv.size and np.array_equal(local, np.arange(offset)) else local
    return _AxisGather(tuple(pieces), take, slice(v0, v1), stop - start)


def _gather(arrays: list, specs: tuple[_AxisGather, ...], dtype: np.dtype, fill: Any
            ) -> np.ndarray:
    """Build one window from the input chunks it needs (a task)."""
    shape = tuple(s.length for s in specs)
    if not arrays:
        return np.full(shape, fill, dtype=dtype)
    whole = all(s.take is None and s.valid == slice(0, s.length) for s in specs)
    if len(arrays) == 1 and whole:
        index = tuple(slice(p[0][1], p[0][2]) for p in (s.pieces for s in specs))
        return np.asarray(arrays[0])[index].astype(dtype, copy=False)
    row = tuple(sum(b - a for _, a, b in s.pieces) for s in specs)
    buf = np.empty(row, dtype=dtype)
    placed = []
    for s in specs:
        at, spans = 0, []
        for _, a, b in s.pieces:
            spans.append((slice(at, at + b - a), slice(a, b)))
            at += b - a
        placed.append(spans)
    for arr, combo in zip(arrays, itertools.product(*placed)):
        buf[tuple(d for d, _ in combo)] = np.asarray(arr)[tuple(src for _, src in combo)]
    for axis, s in enumerate(specs):
        if s.take is not None:
            buf = np.take(buf, s.take, axis=axis)
    if all(s.valid == slice(0, s.length) for s in specs):
        return buf
    out = np.full(shape, fill, dtype=dtype)
    out[tuple(s.valid for s in specs)] = buf
    return out


# ---------------------------------------------------------------------------
# per-chunk computation: convolab's planner, one bound plan per chunk shape

@dataclass(frozen=True, eq=False)
class _Context:
    """What every chunk task needs; one node of the graph, shared by all tasks."""

    op: str                        # 'convolve' or 'correlate'
    kernel: np.ndarray
    method: str
    axes: tuple[int, ...]          # convolved axes
    nan_policy: str
    workers: int
    window_dtype: np.dtype         # dtype of the gathered windows
    token: str                     # identifies kernel and settings across processes


_PLANS: "OrderedDict[tuple, Any]" = OrderedDict()
_PLANS_LOCK = threading.Lock()
_PLANS_MAX = 64


def _kernel_for(ctx: _Context, kslice: tuple | None) -> np.ndarray:
    if kslice is None:
        return ctx.kernel
    return ctx.kernel[tuple(slice(*s) if s else slice(None) for s in kslice)]


def _bound_plan(ctx: _Context, shape: tuple[int, ...], kslice: tuple | None, mode: str):
    """The plan for windows of ``shape``, bound to the kernel: made once per
    process and reused by every chunk of that shape (its kernel spectrum too)."""
    key = (ctx.token, shape, kslice, mode)
    with _PLANS_LOCK:
        bound = _PLANS.get(key)
        if bound is not None:
            _PLANS.move_to_end(key)
            return bound
    kernel = _kernel_for(ctx, kslice)
    stand_in = np.broadcast_to(np.zeros((), ctx.window_dtype), shape)
    bound = _signal.plan(stand_in, kernel, mode, op=ctx.op, method=ctx.method, axes=ctx.axes,
                         nan_policy=ctx.nan_policy).bind_kernel(kernel)
    with _PLANS_LOCK:
        _PLANS[key] = bound
        while len(_PLANS) > _PLANS_MAX:
            _PLANS.popitem(last=False)
    return bound


def _convolve_chunk(window: np.ndarray, ctx: _Context, kslice: tuple | None, mode: str
                    ) -> np.ndarray:
    """convolab on one window: ``valid`` (halo) or ``full`` (overlap-add)."""
    if window.dtype.kind in "fc":
        return _bound_plan(ctx, window.shape, kslice, mode)(window, workers=ctx.workers)
    # integers: the planner's exactness bound depends on the values, so plan each chunk
    fn = _signal.convolve if ctx.op == "convolve" else _signal.correlate
    return fn(window, _kernel_for(ctx, kslice), mode, method=ctx.method, axes=ctx.axes,
              nan_policy=ctx.nan_policy, workers=ctx.workers)


def _halo_task(arrays: list, specs: tuple, ctx: _Context, fill: Any, kslice: tuple | None
               ) -> np.ndarray:
    return _convolve_chunk(_gather(arrays, specs, ctx.window_dtype, fill), ctx, kslice, "valid")


def _oa_piece_task(arrays: list, specs: tuple, ctx: _Context, fill: Any, kslice: tuple | None
                   ) -> np.ndarray:
    return _convolve_chunk(_gather(arrays, specs, ctx.window_dtype, fill), ctx, kslice, "full")


def _read_source(source: Any, specs: tuple[_AxisGather, ...]) -> tuple[list, tuple]:
    """Read a window's pieces straight from ``source`` (pieces in global
    coordinates); returns the arrays and the specs in their local coordinates."""
    arrays = [np.asarray(source[tuple(slice(a, b) for _, a, b in combo)])
              for combo in itertools.product(*(s.pieces for s in specs))]
    local = tuple(dataclasses.replace(s, pieces=tuple((c, 0, b - a) for c, a, b in s.pieces))
                  for s in specs)
    return arrays, local


def _halo_source_task(source: Any, specs: tuple, ctx: _Context, fill: Any,
                      kslice: tuple | None) -> np.ndarray:
    return _halo_task(*_read_source(source, specs), ctx, fill, kslice)


def _oa_piece_source_task(source: Any, specs: tuple, ctx: _Context, fill: Any,
                          kslice: tuple | None) -> np.ndarray:
    return _oa_piece_task(*_read_source(source, specs), ctx, fill, kslice)


def _global(specs: tuple[_AxisGather, ...], bounds: Sequence[np.ndarray]) -> tuple:
    """Specs whose pieces are ranges of the whole array instead of a chunk."""
    return tuple(dataclasses.replace(s, pieces=tuple((c, int(b[c]) + lo, int(b[c]) + hi)
                                                     for c, lo, hi in s.pieces))
                 for s, b in zip(specs, bounds))


def _oa_sum_task(parts: list, placements: tuple, shape: tuple, compute: np.dtype,
                 out: np.dtype) -> np.ndarray:
    """Add the slices of the pieces' full results that land in one output chunk."""
    acc = np.zeros(shape, dtype=compute)
    for part, (dst, src) in zip(parts, placements):
        acc[dst] += part[src]
    if out.kind == "b":
        return acc != 0
    return acc.astype(out, copy=False)


# ---------------------------------------------------------------------------
# describing a chunked problem


@dataclass(frozen=True)
class _Axis:
    n: int                 # input length (after broadcasting)
    k: int                 # kernel length (1 on axes that are not convolved)
    lo: int                # extension on the left
    hi: int                # extension on the right
    conv: bool
    in_chunks: tuple[int, ...]

    @property
    def bounds(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.in_chunks)]).astype(np.int64)

    @property
    def out_len(self) -> int:
        return self.n + self.lo + self.hi - self.k + 1


@dataclass(frozen=True)
class ChunkPlan:
    """How a chunked convolution will run; ``print`` it for the explanation.

    Attributes: ``strategy`` (``'halo'`` or ``'overlap-add'``) and why,
    input and output shapes and chunks, the number of chunk tasks, and for
    each distinct chunk shape the per-chunk algorithm convolab's planner chose.
    """

    label: str
    strategy: str
    reason: str
    in_shape: tuple[int, ...]
    in_chunks: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    out_chunks: tuple[tuple[int, ...], ...]
    extension: tuple[tuple[int, int], ...]      # (lo, hi) per convolved axis
    boundary: str
    tasks: int
    chunk_methods: tuple[tuple[tuple[int, ...], str, int], ...]   # (shape, method, count)

    def __str__(self) -> str:
        def chunks(c):
            sizes = (str(max(x)) if len(set(x)) == 1 else f"{max(x)}.." for x in c)
            return "(" + ", ".join(sizes) + ")"
        lines = [f"convolab chunked plan for {self.label}",
                 f"  input {self.in_shape} in chunks of {chunks(self.in_chunks)}, "
                 f"output {self.out_shape} in chunks of {chunks(self.out_chunks)}",
                 f"  extension {list(self.extension)} boundary={self.boundary!r}",
                 f"  strategy: {self.strategy} ({self.reason}), {self.tasks} chunk tasks"]
        for shape, method, count in self.chunk_methods:
            lines.append(f"    {count:>6} x window {shape}: {method}")
        return "\n".join(lines)


@dataclass
class _Problem:
    """Everything the graph builders need, checked."""

    a: Any                          # dask array, broadcast to the batch shape
    kernel: np.ndarray
    op: str
    axes_info: tuple[_Axis, ...]
    conv_axes: tuple[int, ...]
    per_slice_axes: tuple[int, ...]  # batch axes where each slice has its own kernel
    boundary: str
    fill: Any
    method: str
    nan_policy: str
    workers: int
    window_dtype: np.dtype
    out_dtype: np.dtype
    label: str
    swapped: bool
    source: Any = None              # array-like the chunks can be read from directly


def _as_dask(a: Any):
    if isinstance(a, da.Array):
        return a
    arr = np.asarray(a)
    return da.from_array(arr, chunks="auto")


def _describe(name: str, in1: Any, in2: Any, mode: str, method: str, *, flip: bool, axes: Any,
              boundary: Any, fillvalue: Any, nan_policy: Any, workers: Any,
              same_rule: str = "scipy", fft_family: bool = False, source: Any = None
              ) -> _Problem:
    a = _as_dask(in1)
    kernel = np.asarray(in2)
    for arg, dtype in (("in1", a.dtype), ("in2", kernel.dtype)):
        if dtype.kind not in "biufc":
            raise TypeError(f"{arg} has dtype {dtype!r}, which convolab cannot convolve; "
                            "allowed: bool, integer, float and complex arrays")
    if a.ndim != kernel.ndim:
        raise ConvolabError("in1 and in2 should have the same dimensionality "
                            f"(in1 has {a.ndim} dimensions {a.shape}, "
                            f"in2 has {kernel.ndim} {kernel.shape})")
    check_mode(mode)
    method = _signal._check_method(method)
    boundary = normalize_boundary(boundary)
    if nan_policy not in NAN_POLICIES:
        raise not_one_of("nan_policy", nan_policy, NAN_POLICIES)
    n_workers = 1 if workers is None else _signal._check_workers(workers)
    label = f"{name}(in1 {a.shape} {a.dtype}, in2 {kernel.shape} {kernel.dtype}, mode={mode!r})"
    if a.ndim == 0 or a.size == 0 or kernel.size == 0:
        raise ConvolabError(f"{label}: the chunked functions need non-empty arrays with at least "
                            "one dimension; compute small cases in memory with convolab.convolve")
    conv_axes = normalize_axes(axes, a.ndim)
    s1, s2 = a.shape, kernel.shape
    if fft_family:      # fftconvolve's rule: length-1 axes broadcast (see convolab.signal)
        conv_axes = tuple(x for x in conv_axes
                          if not (s2[x] == 1 or (s1[x] == 1 and mode != "same")))
        if not conv_axes:
            raise ConvolabError(f"{label}: every axis has length 1 in one input; nothing to "
                                "convolve in chunks (use convolab.fftconvolve in memory)")
    batch = [x for x in range(a.ndim) if x not in conv_axes]
    for x in batch:
        if not (s1[x] == s2[x] or s1[x] == 1 or s2[x] == 1):
            raise ConvolabError(f"incompatible shapes for in1 and in2: {s1} and {s2}"
                                f" (axis {x} is not convolved, so it must broadcast) [in {label}]")
    if mode == "valid":
        ok1 = all(s1[x] >= s2[x] for x in conv_axes)
        ok2 = all(s2[x] >= s1[x] for x in conv_axes)
        if not (ok1 or ok2):
            raise ConvolabError("For 'valid' mode, one must be at least as large as the other "
                                f"in every dimension (in1 {s1}, in2 {s2}, axes {conv_axes}) "
                                f"[in {label}]")
    swapped = mode == "valid" and any(s1[x] < s2[x] for x in conv_axes)
    if swapped:
        boundary, fillvalue = "fill", 0      # as in memory: 'valid' swap is zero padding
    target = tuple(max(s1[x], s2[x]) if x in batch else s1[x] for x in range(a.ndim))
    if target != a.shape:
        a = da.broadcast_to(a, target)
        source = None
    per_slice = tuple(x for x in batch if s2[x] != 1 and target[x] != 1)
    out_dtype = np.result_type(a.dtype, kernel.dtype)
    if fft_family:
        out_dtype = _signal._fft_dtype(np.empty(0, a.dtype), kernel)
        kernel = kernel.astype(out_dtype, copy=False)
    window_dtype = out_dtype
    compute = compute_dtype_for(out_dtype)
    try:
        fill = _checked_fill(fillvalue, compute, out_dtype)
    except ConvolabError as err:
        raise ConvolabError(f"{err} [in {label}]") from None
    info = []
    for x in range(a.ndim):
        if x in conv_axes:
            lo, hi = signal_pads(mode, s1[x], s2[x], same_rule)
            info.append(_Axis(a.shape[x], s2[x], lo, hi, True, a.chunks[x]))
        else:
            info.append(_Axis(a.shape[x], 1, 0, 0, False, a.chunks[x]))
    return _Problem(a=a, kernel=kernel, op="convolve" if flip else "correlate",
                    axes_info=tuple(info), conv_axes=conv_axes, per_slice_axes=per_slice,
                    boundary=boundary, fill=fill, method=method, nan_policy=nan_policy,
                    workers=n_workers, window_dtype=np.dtype(window_dtype),
                    out_dtype=np.dtype(out_dtype), label=label, swapped=swapped,
                    source=source)


def _choose(p: _Problem, strategy: str) -> tuple[str, str]:
    if strategy not in STRATEGIES:
        raise not_one_of("strategy", strategy, STRATEGIES)
    too_wide = [(x, ax.k, min(ax.in_chunks)) for x, ax in enumerate(p.axes_info)
                if ax.conv and ax.k - 1 > min(ax.in_chunks)]
    if strategy != "auto":
        return strategy, "forced by strategy="
    if too_wide:
        x, k, c = too_wide[0]
        return "overlap-add", f"kernel {k} on axis {x} is wider than the chunk of {c}"
    return "halo", "each halo fits in the neighbouring chunks"


def _out_chunks(p: _Problem, mode: str) -> tuple[tuple[int, ...], ...]:
    """Output chunks: the input's where the output has the input's length
    ('same'), else regular chunks of the input's largest chunk."""
    chunks = []
    for ax in p.axes_info:
        if not ax.conv or (mode == "same" and ax.out_len == ax.n):
            chunks.append(ax.in_chunks)
            continue
        size = max(ax.in_chunks)
        full, rest = divmod(ax.out_len, size)
        chunks.append((size,) * full + ((rest,) if rest else ()))
    return tuple(chunks)


def _ranges(chunks: Sequence[int]) -> list[tuple[int, int]]:
    edges = np.concatenate([[0], np.cumsum(chunks)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _kslice(p: _Problem, ranges: Sequence[tuple[int, int]]) -> tuple | None:
    """The kernel slice for a chunk whose batch axes span ``ranges`` (per-slice kernels)."""
    if not p.per_slice_axes:
        return None
    return tuple(ranges[x] if x in p.per_slice_axes else None for x in range(p.kernel.ndim))


def _context(p: _Problem, window_dtype: np.dtype) -> _Context:
    token = tokenize(p.kernel, p.op, p.method, p.conv_axes, p.nan_policy, p.workers,
                     str(window_dtype))
    return _Context(op=p.op, kernel=p.kernel, method=p.method, axes=p.conv_axes,
                    nan_policy=p.nan_policy, workers=p.workers, window_dtype=window_dtype,
                    token=token)


def _build(p: _Problem, mode: str, strategy: str):
    """The lazy result and its :class:`ChunkPlan`."""
    strategy, reason = _choose(p, strategy)
    out_chunks = _out_chunks(p, mode)
    # overlap-add sums pieces: compute them in the accumulation dtype (int64
    # for integers), so that only the final cast can wrap, as in memory
    compute = compute_dtype_for(p.out_dtype)
    ctx = _context(p, p.window_dtype if strategy == "halo" else compute)
    token = tokenize(p.a.name, ctx.token, mode, strategy, p.boundary, p.fill, out_chunks)
    name = f"convolab-chunked-{p.op}-{token}"
    ctx_key = f"convolab-context-{token}"
    layer: dict = {ctx_key: ctx}
    source_key = f"convolab-source-{token}"
    if p.source is not None:
        # read every window from the source itself: no task holds a neighbour's
        # chunk, so memory stays at the windows in flight
        layer[source_key] = p.source
    all_bounds = [ax.bounds for ax in p.axes_info]

    def task(fn, fn_source, keys, specs, ks):
        if p.source is None:
            return (fn, keys, specs, ctx_key, p.fill, ks)
        return (fn_source, source_key, _global(specs, all_bounds), ctx_key, p.fill, ks)

    shapes: Counter = Counter()
    kslices: dict = {}
    if strategy == "halo":
        axis_specs = []
        for ax, chunks in zip(p.axes_info, out_chunks):
            specs, bounds = [], ax.bounds
            for s, e in _ranges(chunks):
                stop = e + ax.k - 1
                specs.append(_axis_gather(s, stop, ax.n, ax.lo, p.boundary if ax.conv else "fill",
                                          bounds))
            axis_specs.append(specs)
        for index in itertools.product(*(range(len(c)) for c in out_chunks)):
            specs = tuple(axis_specs[x][i] for x, i in enumerate(index))
            keys = [(p.a.name,) + tuple(piece[0] for piece in combo)
                    for combo in itertools.product(*(s.pieces for s in specs))]
            ranges = [_ranges(out_chunks[x])[i] for x, i in enumerate(index)]
            ks = _kslice(p, ranges)
            layer[(name,) + index] = task(_halo_task, _halo_source_task, keys, specs, ks)
            shape = tuple(s.length for s in specs)
            shapes[shape] += 1
            kslices.setdefault(shape, ks)
        tasks = sum(shapes.values())
    else:
        name_piece = f"convolab-piece-{token}"
        skip_fill = p.boundary == "fill" and p.fill == 0
        axis_pieces = []       # per axis: [(offset, size, gather spec)]
        for ax in p.axes_info:
            bounds = ax.bounds
            segments = [(ax.lo + a, b - a) for a, b in _ranges(ax.in_chunks)]
            if ax.conv and not skip_fill:
                size = max(ax.in_chunks)
                for start, stop in ((0, ax.lo), (ax.lo + ax.n, ax.lo + ax.n + ax.hi)):
                    segments += [(s, min(size, stop - s)) for s in range(start, stop, size)]
                segments.sort()
            axis_pieces.append([(o, sz, _axis_gather(o, o + sz, ax.n, ax.lo,
                                                      p.boundary if ax.conv else "fill", bounds))
                                for o, sz in segments])
        for index in itertools.product(*(range(len(a)) for a in axis_pieces)):
            chosen = [axis_pieces[x][i] for x, i in enumerate(index)]
            specs = tuple(c[2] for c in chosen)
            keys = [(p.a.name,) + tuple(piece[0] for piece in combo)
                    for combo in itertools.product(*(s.pieces for s in specs))]
            ks = _kslice(p, [(c[0], c[0] + c[1]) for c in chosen])
            layer[(name_piece,) + index] = task(_oa_piece_task, _oa_piece_source_task, keys,
                                                specs, ks)
            shape = tuple(s.length for s in specs)
            shapes[shape] += 1
            kslices.setdefault(shape, ks)
        tasks = sum(shapes.values())
        # which pieces reach each output chunk, and where, per axis
        axis_parts = []
        for ax, chunks, pieces in zip(p.axes_info, out_chunks, axis_pieces):
            per_chunk = []
            for s, e in _ranges(chunks):
                hits = []
                for i, (o, sz, _) in enumerate(pieces):
                    first, last = max(s, o - ax.k + 1), min(e, o + sz)
                    if first < last:
                        hits.append((i, slice(first - s, last - s),
                                     slice(first - o + ax.k - 1, last - o + ax.k - 1)))
                per_chunk.append(hits)
            axis_parts.append(per_chunk)
        for index in itertools.product(*(range(len(c)) for c in out_chunks)):
            parts = [axis_parts[x][i] for x, i in enumerate(index)]
            keys, placements = [], []
            for combo in itertools.product(*parts):
                keys.append((name_piece,) + tuple(h[0] for h in combo))
                placements.append((tuple(h[1] for h in combo), tuple(h[2] for h in combo)))
            shape = tuple(out_chunks[x][i] for x, i in enumerate(index))
            layer[(name,) + index] = (_oa_sum_task, keys, tuple(placements), shape, compute,
                                      p.out_dtype)
    graph = HighLevelGraph.from_collections(name, layer,
                                            dependencies=[p.a] if p.source is None else [])
    out = da.Array(graph, name, chunks=out_chunks, dtype=p.out_dtype)
    methods = tuple((shape, _method_for(ctx, shape, kslices[shape],
                                        "valid" if strategy == "halo" else "full"), count)
                    for shape, count in shapes.most_common())
    chunk_plan = ChunkPlan(label=p.label, strategy=strategy, reason=reason, in_shape=p.a.shape,
                           in_chunks=p.a.chunks, out_shape=out.shape, out_chunks=out_chunks,
                           extension=tuple((ax.lo, ax.hi) for ax in p.axes_info if ax.conv),
                           boundary=p.boundary, tasks=tasks, chunk_methods=methods)
    return out, chunk_plan


def _method_for(ctx: _Context, shape: tuple, kslice: tuple | None, mode: str) -> str:
    """The algorithm the planner picks for chunks of ``shape`` (for the explanation)."""
    stand_in = np.broadcast_to(np.zeros((), ctx.window_dtype), shape)
    if ctx.window_dtype.kind not in "fc":
        stand_in = np.broadcast_to(np.ones((), ctx.window_dtype), shape)
    try:
        return _signal.plan(stand_in, _kernel_for(ctx, kslice), mode, op=ctx.op,
                            method=ctx.method, axes=ctx.axes).method
    except ConvolabError as err:       # shown in the plan; the chunk raises it when run
        return f"cannot run: {err}"


# ---------------------------------------------------------------------------
# the public functions


def _chunked(name: str, in1: Any, in2: Any, mode: str, method: str, *, flip: bool, axes: Any,
             boundary: Any, fillvalue: Any, nan_policy: Any, workers: Any, strategy: str,
             same_rule: str = "scipy", fft_family: bool = False, explain: bool = False,
             source: Any = None):
    p = _describe(name, in1, in2, mode, method, flip=flip, axes=axes, boundary=boundary,
                  fillvalue=fillvalue, nan_policy=nan_policy, workers=workers,
                  same_rule=same_rule, fft_family=fft_family, source=source)
    if p.nan_policy == "omit":
        if explain:
            p = dataclasses.replace(p, nan_policy="propagate")
            return _build(p, mode, strategy)[1]
        return _normalized(p, mode, strategy)
    out, chunk_plan = _build(p, mode, strategy)
    return chunk_plan if explain else out


def _normalized(p: _Problem, mode: str, strategy: str):
    """``nan_policy='omit'``: conv(x*m, k) / conv(m, k), both chunked."""
    a = p.a
    missing = da.isnan(a) if a.dtype.kind in "fc" else da.zeros(a.shape, bool, chunks=a.chunks)
    fill = p.fill
    fill_missing = isinstance(fill, float) and math.isnan(fill)
    dtype = p.out_dtype if p.out_dtype.kind in "fc" else np.dtype(np.float64)
    result = np.result_type(dtype, p.kernel.dtype)
    num_p = dataclasses.replace(p, a=da.where(missing, 0, a).astype(dtype), source=None,
                                nan_policy="propagate", fill=0 if fill_missing else fill,
                                window_dtype=result, out_dtype=result)
    den_p = dataclasses.replace(num_p, a=(~missing).astype(dtype), fill=0 if fill_missing else 1)
    num, _ = _build(num_p, mode, strategy)
    den, _ = _build(den_p, mode, strategy)
    # FFT rounding leaves ~eps * sum|k| where no sample is under the kernel
    eps = np.finfo(num.dtype).eps if num.dtype.kind in "fc" else 0.0
    tiny = 16 * eps * float(np.abs(p.kernel).sum())
    return da.map_blocks(_divide, num, den, tiny, dtype=num.dtype)


def _divide(num: np.ndarray, den: np.ndarray, tiny: float) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=num.dtype)
    ok = np.abs(den) > tiny
    np.divide(num, den, out=out, where=ok)
    return out


_STRATEGY_DOC = """strategy : {'auto', 'halo', 'overlap-add'}, optional, keyword-only
        ``'auto'``: halos when ``k - 1`` fits in the smallest chunk on every
        convolved axis, else overlap-add (see the module docstring)."""


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto", *, axes: Any = None,
             boundary: str = "fill", fillvalue: Any = 0, nan_policy: str = "propagate",
             workers: Any = None, strategy: str = "auto"):
    """Convolve a Dask array with a kernel, chunk by chunk (lazy).

    The same result as :func:`convolab.convolve` with the same arguments, for
    every ``mode``, ``boundary`` (any width, also wider than a chunk or the
    array), even kernels and ``axes``; computed chunk by chunk, so the input
    never needs to fit in memory.

    Parameters
    ----------
    in1 : dask.array.Array or array_like
        The data; a numpy array is wrapped with ``dask.array.from_array``.
    in2 : array_like
        The kernel, held in memory (a Dask kernel is computed).
    mode : {'full', 'valid', 'same'}, optional
        Output size, as in :func:`convolab.convolve` (scipy's centring).
    method : str, optional
        The algorithm of every chunk: ``'auto'`` asks convolab's planner per
        chunk shape; ``'direct'``, ``'fft'``... force one.
    axes, boundary, fillvalue : optional, keyword-only
        As in :func:`convolab.convolve`.
    nan_policy : {'propagate', 'raise', 'omit'}, optional, keyword-only
        ``'propagate'``: NaN over the kernel footprint, as in memory.
        ``'raise'``: raise when a chunk holding NaN is computed.  ``'omit'``:
        normalized convolution ``conv(x*m, k) / conv(m, k)`` (``m``: 1 where
        ``x`` is not NaN), NaN where no valid sample is under the kernel.
    workers : int, optional, keyword-only
        FFT threads per chunk (default 1: Dask runs chunks in parallel).
    strategy : {'auto', 'halo', 'overlap-add'}, optional, keyword-only
        ``'auto'``: halos when ``k - 1`` fits in the smallest chunk on every
        convolved axis, else overlap-add (see :mod:`convolab.chunked.dask`).

    Returns
    -------
    dask.array.Array
        Lazy; dtype ``numpy.result_type(in1, in2)`` (float for ``'omit'``).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import convolab
    >>> from convolab import chunked
    >>> x = da.from_array(np.arange(10.0), chunks=4)
    >>> y = chunked.convolve(x, [1.0, 2.0, 1.0], mode='same', boundary='reflect')
    >>> type(y).__name__, y.chunks
    ('Array', ((4, 4, 2),))
    >>> y.compute()
    array([ 2.,  4.,  8., 12., 16., 20., 24., 28., 32., 34.])
    >>> convolab.convolve(np.arange(10.0), [1.0, 2.0, 1.0], mode='same', boundary='reflect')
    array([ 2.,  4.,  8., 12., 16., 20., 24., 28., 32., 34.])
    """
    return _chunked("convolve", in1, in2, mode, method, flip=True, axes=axes, boundary=boundary,
                    fillvalue=fillvalue, nan_policy=nan_policy, workers=workers, strategy=strategy)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto", *, axes: Any = None,
              boundary: str = "fill", fillvalue: Any = 0, nan_policy: str = "propagate",
              workers: Any = None, strategy: str = "auto"):
    """Cross-correlate a Dask array with a kernel, chunk by chunk (lazy).

    :func:`convolab.correlate`'s result; parameters as in :func:`convolve`.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from convolab import chunked
    >>> x = da.from_array(np.arange(6.0), chunks=2)
    >>> chunked.correlate(x, [1.0, 0.0, 0.0], mode='valid').compute()
    array([0., 1., 2., 3.])
    """
    return _chunked("correlate", in1, in2, mode, method, flip=False, axes=axes, boundary=boundary,
                    fillvalue=fillvalue, nan_policy=nan_policy, workers=workers, strategy=strategy)


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None, *,
                boundary: str = "fill", fillvalue: Any = 0, nan_policy: str = "propagate",
                workers: Any = None, strategy: str = "auto"):
    """:func:`convolab.fftconvolve` chunk by chunk: every chunk by FFT, integer
    inputs give float64, length-1 axes broadcast (scipy's rules).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from convolab import chunked
    >>> x = da.from_array(np.array([1, 2, 3, 4]), chunks=2)
    >>> np.round(chunked.fftconvolve(x, [1, 1]).compute(), 12)
    array([1., 3., 5., 7., 4.])
    """
    return _chunked("fftconvolve", in1, in2, mode, "fft", flip=True, axes=axes, boundary=boundary,
                    fillvalue=fillvalue, nan_policy=nan_policy, workers=workers,
                    strategy=strategy, fft_family=True)


def oaconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None, *,
               boundary: str = "fill", fillvalue: Any = 0, nan_policy: str = "propagate",
               workers: Any = None, strategy: str = "auto"):
    """:func:`convolab.oaconvolve` chunk by chunk (each chunk by overlap-add).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from convolab import chunked
    >>> x = da.from_array(np.arange(6.0), chunks=3)
    >>> np.round(chunked.oaconvolve(x, [1.0, 1.0], mode='valid').compute(), 12)
    array([1., 3., 5., 7., 9.])
    """
    return _chunked("oaconvolve", in1, in2, mode, "oa", flip=True, axes=axes, boundary=boundary,
                    fillvalue=fillvalue, nan_policy=nan_policy, workers=workers,
                    strategy=strategy, fft_family=True)


def _two_d(name: str, in1: Any, in2: Any, mode: str, boundary: Any, fillvalue: Any, *,
           flip: bool, method: str, axes: Any, nan_policy: str, workers: Any, strategy: str):
    a, k = _as_dask(in1), np.asarray(in2)
    if axes is None and not a.ndim == k.ndim == 2:
        raise ConvolabError(f"{name} inputs must both be 2-D arrays (got in1 {a.shape}, "
                            f"in2 {k.shape}); pass axes=(i, j) to convolve two axes of N-D arrays")
    if axes is not None and len(np.atleast_1d(axes)) != 2:
        raise ConvolabError(f"{name}: axes={axes!r} must name exactly two axes")
    out = _chunked(name, a, k, mode, method, flip=flip, axes=axes, boundary=boundary,
                   fillvalue=fillvalue, nan_policy=nan_policy, workers=workers, strategy=strategy,
                   same_rule="scipy" if flip else "correlate2d")
    conv = normalize_axes(axes, a.ndim)
    if not flip and mode == "valid" and out.dtype.kind == "c" \
            and any(a.shape[x] < k.shape[x] for x in conv):
        out = da.conj(out)          # scipy's correlate2d quirk, as in convolab.correlate2d
    return out


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0,
               *, method: str = "auto", axes: Any = None, nan_policy: str = "propagate",
               workers: Any = None, strategy: str = "auto"):
    """:func:`convolab.convolve2d` chunk by chunk (lazy).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from convolab import chunked
    >>> A = da.from_array(np.eye(4), chunks=2)
    >>> chunked.convolve2d(A, np.ones((2, 2)), 'valid').compute()
    array([[2., 1., 0.],
           [1., 2., 1.],
           [0., 1., 2.]])
    """
    return _two_d("convolve2d", in1, in2, mode, boundary, fillvalue, flip=True, method=method,
                  axes=axes, nan_policy=nan_policy, workers=workers, strategy=strategy)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0,
                *, method: str = "auto", axes: Any = None, nan_policy: str = "propagate",
                workers: Any = None, strategy: str = "auto"):
    """:func:`convolab.correlate2d` chunk by chunk, with its even-kernel
    ``same`` centring (scipy #1968).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from convolab import chunked
    >>> A = da.from_array(np.diag([0.0, 1.0, 0.0]), chunks=2)
    >>> chunked.correlate2d(A, [[1, 2], [3, 4]], 'same').compute()
    array([[4., 3., 0.],
           [2., 1., 0.],
           [0., 0., 0.]])
    """
    return _two_d("correlate2d", in1, in2, mode, boundary, fillvalue, flip=False, method=method,
                  axes=axes, nan_policy=nan_policy, workers=workers, strategy=strategy)


#: the chunked twin of each signal function, for :func:`convolab.chunked.forward`
SIGNAL_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "convolve": convolve, "correlate": correlate, "fftconvolve": fftconvolve,
    "oaconvolve": oaconvolve, "convolve2d": convolve2d, "correlate2d": correlate2d}


def plan(in1: Any, in2: Any, mode: str = "full", *, op: str = "convolve", method: str = "auto",
         axes: Any = None, boundary: str = "fill", fillvalue: Any = 0,
         nan_policy: str = "propagate", strategy: str = "auto") -> ChunkPlan:
    """Explain a chunked convolution without running it.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from convolab import chunked
    >>> x = da.zeros((4096, 4096), chunks=1024, dtype=np.float32)
    >>> p = chunked.plan(x, np.ones((31, 31), np.float32), mode='same', boundary='symm')
    >>> p.strategy, p.tasks
    ('halo', 16)
    >>> print(p)                                  # doctest: +ELLIPSIS
    convolab chunked plan for convolve(in1 (4096, 4096) float32, in2 (31, 31) float32, mode='same')
      input (4096, 4096) in chunks of (1024, 1024), output (4096, 4096) in chunks of (1024, 1024)
      extension [(15, 15), (15, 15)] boundary='symm'
      strategy: halo (each halo fits in the neighbouring chunks), 16 chunk tasks
            16 x window (1054, 1054): separable
    >>> chunked.plan(x, np.ones((2049, 3), np.float32), mode='same').strategy
    'overlap-add'
    """
    if op not in ("convolve", "correlate"):
        raise not_one_of("op", op, ["convolve", "correlate"])
    return _chunked(op, in1, in2, mode, method, flip=op == "convolve", axes=axes,
                    boundary=boundary, fillvalue=fillvalue, nan_policy=nan_policy, workers=None,
                    strategy=strategy, explain=True)


# ---------------------------------------------------------------------------
# template matching


def match_template(image: Any, template: Any, pad_input: bool = False, mode: str = "constant",
                   constant_values: float = 0):
    """Normalized cross-correlation of a Dask image with a template (lazy),
    scikit-image's ``skimage.feature.match_template`` chunk by chunk.

    ``out = sum((I - mean_I) * (T - mean_T)) / sqrt(sum((I - mean_I)^2) * sum((T - mean_T)^2))``
    over each window; three chunked correlations (image with the centred
    template, window sums of the image and of its square), combined per
    chunk.  Windows with no variance give 0, as in scikit-image.

    Parameters
    ----------
    image : dask.array.Array or array_like
        2-D or 3-D image, at least as large as ``template``.
    template : array_like
        The pattern, in memory; same number of dimensions as ``image``.
    pad_input : bool, optional
        ``False``: one value per position where the template fits (shape
        ``image - template + 1``).  ``True``: the image's shape, centred on
        the template's middle.
    mode : {'constant', 'edge', 'symmetric', 'reflect', 'wrap'}, optional
        numpy.pad's extension of the image, as in scikit-image.
    constant_values : float, optional
        The value for ``mode='constant'``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from convolab import chunked
    >>> image = np.zeros((6, 6)); image[1:4, 2:5] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    >>> template = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0.]])
    >>> r = chunked.match_template(da.from_array(image, chunks=3), template).compute()
    >>> np.unravel_index(np.argmax(r), r.shape), round(float(r.max()), 6)
    ((np.int64(1), np.int64(2)), 1.0)
    """
    modes = {"constant": "fill", "edge": "nearest", "symmetric": "symm", "reflect": "reflect",
             "wrap": "wrap"}
    if mode not in modes:
        raise not_one_of("mode", mode, list(modes))
    img = _as_dask(image)
    tpl = np.asarray(template)
    if img.ndim not in (2, 3) or tpl.ndim != img.ndim:
        raise ConvolabError(f"match_template: image {img.shape} must be 2-D or 3-D and template "
                            f"{tpl.shape} must have as many dimensions")
    if any(i < t for i, t in zip(img.shape, tpl.shape)):
        raise ConvolabError(f"match_template: image {img.shape} must be larger than "
                            f"template {tpl.shape}")
    dtype = np.float32 if img.dtype in (np.float16, np.float32) else np.float64
    img = img.astype(dtype)
    tpl = tpl.astype(dtype)
    # scikit-image pads by the template's size on every side, correlates in
    # 'valid' mode and keeps [1:-1]: in convolab terms a 'valid' correlation of
    # the image extended by (t - 1) on each side, i.e. mode='full' with the
    # boundary rule.
    common = dict(boundary=modes[mode], fillvalue=constant_values, method="auto")
    ones = np.ones(tpl.shape, dtype)
    centred = tpl - tpl.mean()
    xcorr = correlate(img, centred, "full", **common)
    wsum = correlate(img, ones, "full", **common)
    wsum2 = correlate(img * img, ones, "full", boundary=modes[mode],
                      fillvalue=constant_values ** 2, method="auto")
    ssd = float(np.sum(centred * centred))
    volume = tpl.size
    response = da.map_blocks(_ncc, xcorr, wsum, wsum2, ssd, volume, dtype=dtype)
    if pad_input:
        index = tuple(slice((t - 1) // 2, (t - 1) // 2 + n) for t, n in zip(tpl.shape, img.shape))
    else:
        index = tuple(slice(t - 1, n) for t, n in zip(tpl.shape, img.shape))
    return response[index]


def _ncc(xcorr: np.ndarray, wsum: np.ndarray, wsum2: np.ndarray, ssd: float, volume: int
         ) -> np.ndarray:
    """Combine the three correlations into the normalized cross-correlation
    (scikit-image's formula: zero where the window has no variance)."""
    den = np.sqrt(np.maximum((wsum2 - wsum * wsum / volume) * ssd, 0))
    out = np.zeros_like(xcorr)
    ok = den > np.finfo(xcorr.dtype).eps
    np.divide(xcorr, den, out=out, where=ok)
    return out


# ---------------------------------------------------------------------------
# lazy files


class _NpyBlocks:
    """A ``.npy`` file as an array-like that Dask reads block by block.

    Each read maps the file (``numpy.load(mmap_mode='r')``), copies the block
    and unmaps it, so pages of the file do not accumulate in the process's
    resident memory as they would under one long-lived map.  Pickles as a
    path, so distributed workers open the file themselves.
    """

    def __init__(self, path: str):
        self.path = os.fspath(path)
        header = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = header.shape, header.dtype, header.ndim
        del header

    def __getitem__(self, index: Any) -> np.ndarray:
        mapped = np.load(self.path, mmap_mode="r")
        try:
            return np.array(mapped[index])
        finally:
            del mapped


def open_npy(path: Any, chunks: Any = (2048, 2048)):
    """A ``.npy`` file as a lazy Dask array, read chunk by chunk from a memory map.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from convolab.chunked import open_npy
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.npy')
    >>> np.save(path, np.arange(12.0).reshape(3, 4))
    >>> x = open_npy(path, chunks=(2, 2))
    >>> x.chunks
    ((2, 1), (2, 2))
    >>> float(x.sum().compute())
    66.0
    """
    source = _NpyBlocks(path)
    chunks = _fit_chunks(chunks, source.ndim)
    return da.from_array(source, chunks=chunks, asarray=False, lock=False, fancy=False,
                         name=f"npy-{tokenize(source.path, os.path.getmtime(source.path), chunks)}",
                         meta=np.empty((0,) * source.ndim, dtype=source.dtype))


def _fit_chunks(chunks: Any, ndim: int) -> tuple:
    """``chunks`` for ``ndim`` axes: an int for every axis, or a tuple whose
    missing leading entries are whole axes (``(2048, 2048)`` on a 3-D stack)."""
    if isinstance(chunks, (int, np.integer)):
        return (int(chunks),) * ndim
    chunks = tuple(chunks)
    if len(chunks) > ndim:
        chunks = chunks[len(chunks) - ndim:]
    return (-1,) * (ndim - len(chunks)) + chunks


def _open_source(src: Any, chunks: Any) -> tuple[Any, Any]:
    """The input as a Dask array, and the array-like its chunks can be read
    from directly (``None`` for a Dask array)."""
    if isinstance(src, da.Array):
        return src, None
    if isinstance(src, np.ndarray):
        return da.from_array(src, chunks=_fit_chunks(chunks, src.ndim)), src
    path = os.fspath(src) if isinstance(src, (str, os.PathLike)) else None
    if path is not None and path.endswith(".npy"):
        a = open_npy(path, chunks)
        return a, _NpyBlocks(path)
    import zarr
    array = src if isinstance(src, zarr.Array) else zarr.open_array(src, mode="r")
    return da.from_zarr(array, chunks=_fit_chunks(chunks, array.ndim)), array


def _regular(chunks: tuple[tuple[int, ...], ...]) -> bool:
    return all(len(set(c[:-1])) <= 1 and c[-1] <= c[0] for c in chunks)


def _store_block(block: np.ndarray, target: Any, block_info: Any = None) -> np.ndarray:
    location = block_info[0]["array-location"]
    target[tuple(slice(a, b) for a, b in location)] = block
    return np.zeros((1,) * block.ndim, dtype=np.int8)


def convolve_file(src: Any, dst: Any, kernel: Any, *, chunks: Any = (2048, 2048),
                  mode: str = "same", op: str = "convolve", boundary: str = "fill",
                  fillvalue: Any = 0, method: str = "auto", nan_policy: str = "propagate",
                  strategy: str = "auto", client: Any = None,
                  progress: Callable[[int, int], Any] | None = None):
    """Convolve a ``.npy`` file or a zarr store into a new zarr store, chunk
    by chunk, never holding the whole array in memory.

    Parameters
    ----------
    src : str, path, zarr array or dask array
        A ``.npy`` file (read through a memory map, chunk by chunk; see
        :func:`open_npy`) or a zarr store.
    dst : str, path or zarr store
        Where the result is written (a zarr array, replaced if present);
        its chunks are the output chunks.
    kernel : array_like
        In memory.
    chunks : int or tuple, optional
        Chunk shape for reading (default 2048 x 2048 on the last two axes).
    mode, op, boundary, fillvalue, method, nan_policy, strategy : optional
        As in :func:`convolve`; ``op='correlate'`` correlates.
    client : distributed.Client, optional
        Run on this cluster; default: Dask's threaded scheduler on this machine.
    progress : callable, optional
        Called as ``progress(done, total)`` after each output chunk is written.

    Returns
    -------
    zarr.Array
        The written result, opened for reading.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> import convolab
    >>> from convolab.chunked import convolve_file
    >>> folder = tempfile.mkdtemp()
    >>> x = np.random.default_rng(0).random((300, 200))
    >>> np.save(os.path.join(folder, 'in.npy'), x)
    >>> k = np.ones((5, 5)) / 25
    >>> out = convolve_file(os.path.join(folder, 'in.npy'), os.path.join(folder, 'out.zarr'),
    ...                     k, chunks=(128, 128), boundary='symm')
    >>> out.shape, out.chunks
    ((300, 200), (128, 128))
    >>> expected = convolab.convolve(x, k, mode='same', boundary='symm')
    >>> bool(np.allclose(out[...], expected, rtol=0, atol=1e-12))
    True
    """
    import zarr
    if op not in ("convolve", "correlate"):
        raise not_one_of("op", op, ["convolve", "correlate"])
    a, source = _open_source(src, chunks)
    # windows are read from the file itself, halos included (re-reading a
    # halo costs less than holding the neighbouring chunks until they are used)
    out = _chunked(op, a, kernel, mode, method, flip=op == "convolve", axes=None,
                   boundary=boundary, fillvalue=fillvalue, nan_policy=nan_policy, workers=None,
                   strategy=strategy, source=source)
    if not _regular(out.chunks):     # zarr chunks are regular; keep writers on separate chunks
        out = out.rechunk(tuple(max(c) for c in out.chunks))
    zchunks = tuple(max(c) for c in out.chunks)
    target = zarr.open_array(dst, mode="w", shape=out.shape, chunks=zchunks, dtype=out.dtype)
    written = out.map_blocks(_store_block, target, dtype=np.int8,
                             chunks=tuple((1,) * len(c) for c in out.chunks))
    total = math.prod(len(c) for c in written.chunks)
    if client is not None:
        from distributed import as_completed
        futures = client.compute(list(written.to_delayed().ravel()))
        for done, future in enumerate(as_completed(futures), 1):
            future.result()          # raise a chunk's error here
            if progress is not None:
                progress(done, total)
    elif progress is None:
        written.compute(scheduler="threads")
    else:
        from dask.callbacks import Callback
        counter = {"done": 0}
        lock = threading.Lock()

        def posttask(key, result, dsk, state, worker_id):
            if isinstance(key, tuple) and key[0] == written.name:
                with lock:
                    counter["done"] += 1
                    done = counter["done"]
                progress(done, total)

        with Callback(posttask=posttask):
            written.compute(scheduler="threads")
    return zarr.open_array(dst, mode="r")
