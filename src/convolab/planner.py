"""The planner: which algorithm runs a problem, and why.

``plan(problem)`` returns a :class:`Plan` listing every candidate with its
estimated time and memory, every rejected candidate with the reason, and the
choice.  ``print(plan)`` is the explanation.

How ``method='auto'`` decides, as a table of rules applied in order:

====  ======================================================  =====================
rule  when                                                     effect
====  ======================================================  =====================
1     an algorithm's ``supports`` gives a reason               rejected, reason shown
2     boolean inputs                                           FFT methods skipped
3     extended precision (longdouble) inputs                   FFT methods skipped
                                                                (direct keeps the
                                                                precision; scipy does
                                                                the same)
4     temporaries + output exceed the memory available         rejected, size shown
5     ``measure=True`` timed this problem here before           that measurement's
                                                                choice (remembered in
                                                                the cache directory)
6     otherwise                                                 least estimated time
====  ======================================================  =====================

The time estimates are operation counts multiplied by constants measured on
a 2-core x86-64 machine, or on this one after ``convolab calibrate``
(:mod:`convolab._calibration`).  ``measure=True`` replaces estimates by
timings of the real inputs, and the fastest method is remembered for the
problem in ``autotune.json`` in the cache directory; later plans of the same
problem use it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import repeated
from .algorithms import ALGORITHMS, FAMILY, get_algorithm
from .errors import ConvolabError, format_bytes
from .problem import ConvProblem

#: algorithms the planner considers for ``method='auto'`` (the reference is
#: an oracle for tests, never chosen automatically)
AUTO_CANDIDATES: tuple[str, ...] = ("direct", "im2col", "fft", "oa", "os", "separable", "winograd")


@dataclass(frozen=True)
class Candidate:
    """One algorithm's estimate for a problem."""

    name: str
    seconds: float
    bytes: int
    detail: str = ""
    measured: float | None = None     # seconds, when the plan was measured


@dataclass(frozen=True)
class Plan:
    """The planner's decision for one problem, printable as an explanation."""

    problem: ConvProblem
    method: str                                        # the chosen algorithm
    candidates: tuple[Candidate, ...]                  # viable, fastest first
    rejected: tuple[tuple[str, str], ...]              # (name, reason)
    forced: bool = False                               # chosen by the user
    measured: bool = False
    remembered: bool = False                           # from an earlier measurement
    runner: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    @property
    def family(self) -> str:
        """scipy.signal's name for the chosen method: 'direct' or 'fft'."""
        return FAMILY[self.method]

    @property
    def estimated_seconds(self) -> float:
        return next(c.seconds for c in self.candidates if c.name == self.method)

    @property
    def temporary_bytes(self) -> int:
        return next(c.bytes for c in self.candidates if c.name == self.method)

    def __call__(self, in1: Any, in2: Any, *, workers: int | None = None) -> np.ndarray:
        """Run this plan on new inputs of the same shapes and dtypes."""
        if self.runner is None:
            raise ConvolabError("this plan is not bound to an entry point; "
                                "use convolab.plan(in1, in2, ...) to get a runnable plan")
        return self.runner(in1, in2, self, workers=workers)

    def bind_kernel(self, in2: Any) -> "BoundPlan":
        """Fix the kernel: the returned callable takes ``in1`` only and the FFT
        methods transform the kernel once, on the first call, and reuse its
        spectrum on every later call.

        >>> import numpy as np, convolab
        >>> kernel = np.ones((15, 15)) / 225
        >>> smooth = convolab.plan(np.zeros((256, 256)), kernel, mode='same', method='fft').bind_kernel(kernel)
        >>> frames = [np.full((256, 256), v) for v in (1.0, 2.0)]
        >>> [round(float(smooth(f)[128, 128]), 12) for f in frames]
        [1.0, 2.0]
        """
        if self.runner is None:
            raise ConvolabError("this plan is not bound to an entry point; "
                                "use convolab.plan(in1, in2, ...) to get a runnable plan")
        return BoundPlan(self, np.array(in2, copy=True))

    def __str__(self) -> str:
        lines = []
        title = self.problem.label or "convolution"
        lines.append(f"convolab plan for {title}")
        lines.append(f"  problem: {self.problem.describe()}")
        lines.append(f"  multiply-adds if computed directly: {self.problem.macs:.4g}")
        head = "measured" if self.measured else "est. time"
        lines.append(f"    {'method':<10} {head:>10} {'memory':>10}  how")
        for c in self.candidates:
            mark = "*" if c.name == self.method else " "
            t = c.measured if self.measured and c.measured is not None else c.seconds
            lines.append(f"  {mark} {c.name:<10} {_seconds(t):>10} {format_bytes(c.bytes):>10}  {c.detail}")
        if self.rejected:
            lines.append("  rejected:")
            for name, reason in self.rejected:
                lines.append(f"    {name:<10} {reason}")
        how = ("forced by method=" if self.forced else "fastest measured" if self.measured
               else "fastest when measured earlier on this machine" if self.remembered
               else "least estimated time")
        lines.append(f"  choice: {self.method} ({how})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Plan(method={self.method!r}, problem={self.problem.describe()!r})"


@dataclass
class BoundPlan:
    """A plan with its kernel fixed; call it with ``in1`` (see :meth:`Plan.bind_kernel`)."""

    plan: Plan
    kernel: np.ndarray
    cache: dict = field(default_factory=dict, repr=False)   # the kernel's spectra

    def __call__(self, in1: Any, *, workers: int | None = None) -> np.ndarray:
        return self.plan.runner(in1, self.kernel, self.plan, workers=workers,
                                kernel_cache=self.cache)

    def __str__(self) -> str:
        return str(self.plan)


def _seconds(t: float) -> str:
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.0f} us"


# ---------------------------------------------------------------------------
# memory


def available_memory() -> int:
    """Bytes the planner lets one computation use.

    ``CONVOLAB_MEMORY_LIMIT`` (bytes, or with a suffix: ``512MiB``, ``4GB``)
    overrides the memory the operating system reports as available.
    """
    limit = os.environ.get("CONVOLAB_MEMORY_LIMIT")
    if limit:
        return parse_bytes(limit)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def parse_bytes(text: str) -> int:
    """``'512MiB'`` -> 536870912."""
    units = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
             "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}
    t = text.strip().lower().replace(" ", "")
    number = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(number):]
    if unit not in units or not number:
        raise ConvolabError(f"CONVOLAB_MEMORY_LIMIT={text!r} is not a size such as '512MiB' or '4GB'")
    return int(float(number) * units[unit])


def _footprint(problem: ConvProblem, temporaries: int) -> int:
    """Bytes a run needs beyond its inputs: temporaries, extended input, output."""
    out = math.prod(problem.out_shape) * max(problem.itemsize, problem.out_dtype.itemsize)
    extended = math.prod(problem.x_shape[:3]) * math.prod(problem.padded_in) * problem.itemsize
    return temporaries + out + extended


# ---------------------------------------------------------------------------
# planning


def plan(problem: ConvProblem, method: str = "auto") -> Plan:
    """Plan ``problem``: choose an algorithm (or check the forced one).

    Raises :class:`~convolab.errors.ConvolabError` when the forced method
    cannot run the problem (with its reason) or when no algorithm fits in
    memory (with the size needed).
    """
    if method != "auto":
        get_algorithm(method)      # unknown names raise with the list of methods
    # the memory limit is part of the key, so setting it takes effect at once
    return _plan_cached(problem, method, os.environ.get("CONVOLAB_MEMORY_LIMIT"))


@functools.lru_cache(maxsize=512)
def _plan_cached(problem: ConvProblem, method: str, memory_limit: str | None) -> Plan:
    available = available_memory()
    names = AUTO_CANDIDATES if method == "auto" else (method,)
    viable, rejected = [], []
    for name in names:
        algorithm = ALGORITHMS[name]
        reason = algorithm.supports(problem)
        if reason is None and method == "auto":
            reason = _auto_rule(problem, name)
        if reason is None:
            cost = algorithm.cost(problem)
            need = _footprint(problem, cost.bytes)
            if need > available:
                reason = (f"{name}: needs about {format_bytes(need)} of memory "
                          f"but {format_bytes(available)} is available")
            else:
                viable.append(Candidate(name, cost.seconds, cost.bytes, cost.detail))
                continue
        rejected.append((name, reason))
    if not viable:
        what = problem.label or "this convolution"
        reasons = "; ".join(r for _, r in rejected)
        if method != "auto":
            raise ConvolabError(f"method={method!r} cannot run {what}: {reasons}")
        raise ConvolabError(f"no algorithm can run {what} ({problem.describe()}): {reasons}. "
                            "Split the input into chunks, or use a smaller dtype")
    viable.sort(key=lambda c: c.seconds)
    choice, remembered = viable[0].name, False
    if method == "auto":
        earlier = autotuned(problem)
        if earlier is not None and any(c.name == earlier for c in viable):
            choice, remembered = earlier, True
    return Plan(problem=problem, method=choice, candidates=tuple(viable),
                rejected=tuple(rejected), forced=method != "auto", remembered=remembered)


def clear_cache() -> None:
    """Forget cached plans and remembered measurements (they are read again)."""
    global _autotune
    _plan_cached.cache_clear()
    repeated.clear()
    _autotune = None


# ---------------------------------------------------------------------------
# measure=True, remembered across processes

_AUTOTUNE_FILE = "autotune.json"
_autotune: dict[str, str] | None = None


def _autotune_key(problem: ConvProblem) -> str:
    """The problem, plus what makes a timing valid only on this setup."""
    import scipy

    described = repr(dataclasses.replace(problem, label=""))
    return f"numpy {np.__version__}|scipy {scipy.__version__}|cpus {os.cpu_count()}|{described}"


def autotuned(problem: ConvProblem) -> str | None:
    """The method an earlier ``measure=True`` found fastest for ``problem``."""
    global _autotune
    if _autotune is None:
        from ._calibration import cache_dir, read_json
        data = read_json(cache_dir() / _AUTOTUNE_FILE)
        _autotune = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
    method = _autotune.get(_autotune_key(problem))
    return method if method in ALGORITHMS else None


def remember(problem: ConvProblem, method: str) -> None:
    """Store a measured choice: read, update and atomically replace the file,
    so a corrupt file is replaced and concurrent writers never leave half a file."""
    from ._calibration import cache_dir, read_json, write_json
    path = cache_dir() / _AUTOTUNE_FILE
    data = {k: v for k, v in read_json(path).items() if isinstance(v, str)}
    key = _autotune_key(problem)
    data[key] = method
    try:
        write_json(path, data)
    except OSError:
        pass                       # a read-only cache only costs the next measurement
    if _autotune is not None:
        _autotune[key] = method
    _plan_cached.cache_clear()
    repeated.clear()


def _auto_rule(problem: ConvProblem, name: str) -> str | None:
    """Rules 2 and 3 of the table: candidates ``auto`` skips although they could run."""
    if name not in ("fft", "oa", "os"):
        return None
    if problem.out_dtype.kind == "b":
        return f"{name}: boolean inputs stay on direct methods (a sum of products of bools)"
    dtype = problem.compute_dtype
    if dtype.kind in "fc" and dtype.itemsize > (16 if dtype.kind == "c" else 8):
        return f"{name}: extended precision ({dtype}) stays on direct methods, which keep it"
    return None


def measure(plan_: Plan, run: Callable[[str], Any], repeats: int = 3) -> Plan:
    """Time every viable candidate with ``run(name)`` and choose the fastest.

    Each candidate is timed ``repeats`` times after one warm-up call; the
    best time counts, as in :mod:`timeit`.
    """
    timed = []
    for c in plan_.candidates:
        run(c.name)               # warm-up: first calls pay for imports and caches
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            run(c.name)
            best = min(best, time.perf_counter() - start)
        timed.append(Candidate(c.name, c.seconds, c.bytes, c.detail, measured=best))
    timed.sort(key=lambda c: c.measured)
    if not plan_.forced:
        remember(plan_.problem, timed[0].name)
    return Plan(problem=plan_.problem, method=timed[0].name, candidates=tuple(timed),
                rejected=plan_.rejected, forced=plan_.forced, measured=True, runner=plan_.runner)
