"""Run a planned problem: everything around the algorithm's core.

The algorithms compute only a zero-padded cross-correlation in the core
layout.  This module does the rest, once, for all of them:

1. ``nan_policy='raise'`` checks;
2. the cast to the compute dtype;
3. the kernel's reversal (convolution) and conjugation (complex correlation);
4. boundary extension (:func:`convolab.boundary.extend`), so the algorithm
   sees only zero padding;
5. non-finite repair: an FFT smears one NaN over the whole output, so the
   engine computes the FFT on finite data and then recomputes, exactly, the
   outputs whose receptive field holds a NaN or an infinity.  The result is
   the direct method's, whatever the algorithm;
6. the cast back, with a :class:`~convolab.errors.ConvolabWarning` when an
   integer result wraps around.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import warnings

import numpy as np

from .algorithms import ALGORITHMS, Algorithm
from .algorithms._base import execution
from .boundary import extend
from .errors import ConvolabError, ConvolabWarning, user_stacklevel
from .problem import ConvProblem


def prepare(problem: ConvProblem, x: np.ndarray, w: np.ndarray
            ) -> tuple[ConvProblem, np.ndarray, np.ndarray]:
    """Cast, reverse/conjugate the kernel and extend the input.

    Returns the *core problem* (zero padding only, plain correlation) and the
    operands an algorithm runs on.
    """
    x = np.asarray(x).astype(problem.compute_dtype, copy=False)
    if problem.boundary != "fill" or problem.fillvalue != 0:
        x = extend(x, problem.pad, problem.boundary, problem.fillvalue)
    return core_problem(problem), x, prepare_kernel(problem, w)


def prepare_kernel(problem: ConvProblem, w: np.ndarray) -> np.ndarray:
    """The kernel as the core problem correlates with it: cast, conjugated
    (complex correlation) and reversed (convolution)."""
    w = np.asarray(w).astype(problem.compute_dtype, copy=False)
    if problem.conj:
        w = np.conj(w)
    if problem.flip and problem.ndim:
        w = w[_REVERSED[problem.ndim]]
    return w


#: index that reverses the spatial axes of a core-layout kernel, per ndim
_REVERSED = {nd: (slice(None),) * 3 + (slice(None, None, -1),) * nd for nd in range(1, 33)}


@functools.lru_cache(maxsize=512)
def core_problem(problem: ConvProblem) -> ConvProblem:
    """What the algorithm sees: a plain correlation with zero padding only
    (after :func:`prepare` reversed the kernel and extended the input)."""
    core = dataclasses.replace(problem, flip=False, conj=False)
    if problem.boundary != "fill" or problem.fillvalue != 0:
        padded = problem.x_shape[:3] + problem.padded_in
        core = dataclasses.replace(core, x_shape=padded, pad=((0, 0),) * problem.ndim,
                                   boundary="fill", fillvalue=0)
    return core


def execute(problem: ConvProblem, x: np.ndarray, w: np.ndarray, algorithm: Algorithm | str,
            *, workers: int | None = None, kernel_cache: dict | None = None) -> np.ndarray:
    """Compute ``problem`` on core-layout operands with ``algorithm``.

    ``workers`` sets the threads of the FFT methods (default: every core);
    ``kernel_cache`` (a dict kept with a bound kernel) lets them reuse the
    kernel's spectrum across calls.  Returns the core-layout output in
    ``problem.out_dtype``.
    """
    with execution(workers=workers, kernel_cache=kernel_cache):
        return _execute(problem, x, w, algorithm)


def _execute(problem: ConvProblem, x: np.ndarray, w: np.ndarray, algorithm: Algorithm | str
             ) -> np.ndarray:
    if isinstance(algorithm, str):
        algorithm = ALGORITHMS[algorithm]
    if problem.nan_policy == "raise":
        for name, a in (("in1", x), ("in2", w)):
            if a.dtype.kind in "fc" and np.isnan(a).any():
                raise ConvolabError(f"nan_policy='raise' and {name} contains NaN")
    core, xc, wc = prepare(problem, x, w)
    if math.prod(core.out_shape) == 0:
        out = np.zeros(core.out_shape, dtype=core.compute_dtype)
    elif core.ndim == 0:
        out = np.einsum("ngc,goc->ngo", xc, wc)
    elif core.compute_dtype.kind not in "fc" or _exact_nonfinite(algorithm, wc):
        out = algorithm.run(core, xc, wc)
    else:
        out = _run_with_nonfinite_repair(core, xc, wc, algorithm)
    return cast_back(problem, out)


def cast_back(problem: ConvProblem, out: np.ndarray) -> np.ndarray:
    """Cast the accumulated result to the output dtype, warning on wrap-around."""
    dtype = problem.out_dtype
    if dtype.kind in "iu" and out.size:
        info = np.iinfo(dtype)
        wide = np.iinfo(out.dtype) if out.dtype.kind in "iu" else info
        if problem.value_bound > wide.max:
            # the 64-bit accumulator itself may have wrapped: values cannot tell
            warnings.warn(
                f"{problem.label or 'convolution'}: sums may reach {problem.value_bound:.3g}, "
                f"beyond the 64-bit integer range, so the result may have wrapped around "
                f"(as in scipy and torch). Convert the inputs to float64 (approximate) or "
                f"use smaller values to keep exact results",
                ConvolabWarning, stacklevel=user_stacklevel())
        elif out.dtype != dtype and (problem.value_bound > info.max or -problem.value_bound < info.min):
            lo, hi = out.min(), out.max()
            if lo < info.min or hi > info.max:
                warnings.warn(
                    f"{problem.label or 'convolution'}: the exact result spans "
                    f"[{lo}, {hi}], outside the range of {dtype} [{info.min}, {info.max}]; "
                    f"it wraps around when cast back to {dtype} (as in scipy and torch). "
                    f"Convert the inputs to a wider type (e.g. in1.astype(np.int64)) "
                    f"to keep the exact values",
                    ConvolabWarning, stacklevel=user_stacklevel())
    if dtype.kind == "b":
        return out != 0
    if dtype.kind in "iu" and out.dtype.kind == "f":
        out = np.rint(out)
    if dtype.kind != "c" and out.dtype.kind == "c":
        out = out.real
    return out.astype(dtype, copy=False)


# ---------------------------------------------------------------------------
# non-finite inputs


def _run_with_nonfinite_repair(core: ConvProblem, x: np.ndarray, w: np.ndarray,
                               algorithm: Algorithm) -> np.ndarray:
    if not _all_finite(w):
        # a non-finite kernel tap reaches every output: the direct method is exact
        return ALGORITHMS["direct"].run(core, x, w)
    if _all_finite(x):
        return algorithm.run(core, x, w)
    bad = ~np.isfinite(x)
    affected = _affected_outputs(core, bad)          # (N, G, *O) bool
    if affected.mean() > 0.25:
        return ALGORITHMS["direct"].run(core, x, w)
    out = algorithm.run(core, np.where(bad, 0, x), w)
    _recompute(core, x, w, affected, out)
    return out


def _exact_nonfinite(algorithm: Algorithm, w: np.ndarray) -> bool:
    """True when ``algorithm`` gives the direct method's result with NaN or
    infinity in the input: always (``exact_nonfinite``), or for this kernel
    (an ``exact_nonfinite_for(w)`` method), which spares the scan of the input."""
    if algorithm.exact_nonfinite:
        return True
    exact_for = getattr(algorithm, "exact_nonfinite_for", None)
    return exact_for is not None and bool(exact_for(w))


def _all_finite(a: np.ndarray) -> bool:
    """True when ``a`` holds no NaN or infinity.  A finite sum proves it (one
    NaN or infinity makes the sum non-finite) in one pass without a temporary;
    only a sum that overflows or meets a non-finite value needs the full test
    (on a 100 MB batch the boolean mask cost a quarter of a convolution)."""
    with np.errstate(invalid="ignore", over="ignore"):   # inf + -inf, or overflow: no warning
        total = a.sum() if a.size else 0
    if bool(np.isfinite(total)):
        return True
    return bool(np.isfinite(a).all())


def _affected_outputs(core: ConvProblem, bad: np.ndarray) -> np.ndarray:
    """Which outputs have a non-finite value anywhere in their receptive field
    (any channel): separable, one axis at a time, with running sums."""
    counts = bad.any(axis=2).astype(np.int64)            # (N, G, *S)
    width = [(0, 0)] * 2 + list(core.pad)
    counts = np.pad(counts, width)
    for axis in range(core.ndim):
        ax = 2 + axis
        k, d, s, o = (core.kernel_spatial[axis], core.dilations[axis],
                      core.strides[axis], core.spatial_out[axis])
        moved = np.moveaxis(counts, ax, -1)
        if d == 1:
            cs = np.concatenate([np.zeros(moved.shape[:-1] + (1,), np.int64),
                                 np.cumsum(moved, axis=-1)], axis=-1)
            starts = np.arange(o) * s
            summed = cs[..., starts + k] - cs[..., starts]
        else:
            summed = np.zeros(moved.shape[:-1] + (o,), np.int64)
            for j in range(k):
                summed += moved[..., j * d: j * d + (o - 1) * s + 1: s]
        counts = np.moveaxis(summed, -1, ax)
    return counts > 0


def _recompute(core: ConvProblem, x: np.ndarray, w: np.ndarray, affected: np.ndarray,
               out: np.ndarray) -> None:
    """Overwrite ``out`` at ``affected`` positions with the direct sum (in place)."""
    index = np.nonzero(affected)                         # (n, g, *i) index arrays
    n_idx, g_idx, pos = index[0], index[1], index[2:]
    xp = np.pad(x, [(0, 0)] * 3 + list(core.pad)) if any(lo or hi for lo, hi in core.pad) else x
    acc = np.zeros((len(n_idx), core.out_channels), dtype=out.dtype)
    for tap in itertools.product(*(range(k) for k in core.kernel_spatial)):
        coords = tuple(p * s + j * d for p, s, j, d in zip(pos, core.strides, tap, core.dilations))
        vals = _gather(xp, n_idx, g_idx, coords)                          # (A, C)
        wt = w[(g_idx, slice(None), slice(None)) + tap]                   # (A, O, C)
        acc += np.einsum("ac,aoc->ao", vals, wt)
    out[(n_idx, g_idx, slice(None)) + pos] = acc


def _gather(xp: np.ndarray, n_idx: np.ndarray, g_idx: np.ndarray, coords: tuple) -> np.ndarray:
    """``xp[n, g, :, *coords]`` for each affected output: shape (A, C)."""
    moved = np.moveaxis(xp, 2, -1)                      # (N, G, *P, C)
    return moved[(n_idx, g_idx) + coords]

