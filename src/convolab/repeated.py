"""Repeated calls: the work an earlier call with the same key lets a call skip.

A signal call (:func:`convolab.convolve` and its kin) is keyed by everything
that decides its plan: shapes, dtypes, arguments and, for kernels of at most
4096 taps, the kernel's values (see ``convolab.signal._call_key``).  The
first call with a key plans; every later one reuses the plan.  From the first
repeat on, a call also reuses what can be prepared from the kernel, since the
key proves the kernel is the same:

* a *shortcut* from the algorithm, for one image with the default boundary
  and NaN handling: for the direct method one compiled call (the padding,
  the loop and the output in one pass; :meth:`Direct.shortcut
  <convolab.algorithms.direct.Direct.shortcut>`), for the FFT method the
  kernel's spectrum and the output's slices (:meth:`FFT.shortcut
  <convolab.algorithms.fft.FFT.shortcut>`).  A shortcut may decline an input
  (NaN, or float32 transforms too coarse for it); the call then takes the
  full path;
* otherwise, for the transform methods, the kernel's spectra, kept between
  calls as :meth:`Plan.bind_kernel <convolab.planner.Plan.bind_kernel>` does,
  within :data:`SPECTRA_BUDGET` bytes for all keys together.

Small problems gain most: a 64 x 64 image with a 3 x 3 kernel takes about
2 microseconds in the loop and ten times that through the full path (layout,
engine, padded copy, dispatch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .algorithms import ALGORITHMS, FAMILY
from .problem import SignalLayout

#: keys remembered (all are forgotten when a new key would exceed it)
MAX_CALLS = 256
#: bytes of kernel spectra kept for repeated calls, all keys together
SPECTRA_BUDGET = 64 << 20


@dataclass
class RecentCall:
    """What a call's key has gathered: its plan and, after a repeat, the
    shortcut or the kernel-spectrum cache its later calls use."""

    plan: Any                                   # planner.Plan
    prepared: bool = False
    shortcut: Callable[[np.ndarray], np.ndarray | None] | None = None
    spectra: dict | None = None                 # kernel_cache for the engine
    reserved: int = 0                           # bytes of SPECTRA_BUDGET held


_calls: dict[tuple, RecentCall] = {}
_spectra_reserved = 0


def recent(key: tuple) -> RecentCall | None:
    """The earlier call with this key, if any."""
    return _calls.get(key)


def remember(key: tuple, plan: Any) -> None:
    """Keep ``plan`` for later calls with ``key`` (a bounded cache)."""
    if len(_calls) >= MAX_CALLS:
        clear()
    _calls[key] = RecentCall(plan)


def clear() -> None:
    """Forget every remembered call and the spectra kept for them."""
    global _spectra_reserved
    _calls.clear()
    _spectra_reserved = 0


def prepare(call: RecentCall, in2: np.ndarray) -> None:
    """Prepare ``call`` for its repeats from its kernel ``in2`` (once)."""
    global _spectra_reserved
    call.prepared = True
    call.shortcut = shortcut(call.plan, in2)
    if call.shortcut is not None or FAMILY[call.plan.method] != "fft":
        return
    need = call.plan.temporary_bytes
    if _spectra_reserved + need <= SPECTRA_BUDGET:
        _spectra_reserved += need
        call.spectra, call.reserved = {}, need


def shortcut(plan: Any, in2: np.ndarray) -> Callable[[np.ndarray], np.ndarray | None] | None:
    """The chosen algorithm's shortcut for ``plan`` with the kernel ``in2``,
    when the problem is one image (no batch axes, axes in order), float, with
    zero extension and NaN propagated; None otherwise.

    The shortcut takes in1 as the user gives it and returns the user's
    output, or None to send the call through the full path.
    """
    from . import engine

    problem = plan.problem
    layout = problem.layout
    if not (isinstance(layout, SignalLayout) and layout.batch_shape == ()
            and layout.permutation == tuple(range(layout.ndim))):
        return None
    if (problem.nan_policy != "propagate" or problem.boundary != "fill" or problem.fillvalue != 0
            or problem.compute_dtype.kind != "f" or problem.out_dtype != problem.compute_dtype
            or in2.dtype != problem.compute_dtype):
        return None
    make = getattr(ALGORITHMS[plan.method], "shortcut", None)
    if make is None:
        return None
    kernel = engine.prepare_kernel(problem, in2.reshape(problem.w_shape))
    return make(engine.core_problem(problem), np.ascontiguousarray(kernel))
