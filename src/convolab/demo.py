"""The demo: the seed documents' worked examples, computed and checked.

Each function computes one section of ``convolab demo`` and returns plain
data; :func:`render` turns the whole :class:`DemoReport` into the text report
that ``python -m convolab demo`` prints.  Nothing here prints.

Sections, and the seed question each one answers:

:func:`seed001`
    seed 001: is a CNN convolution a dot product or a sum of element-wise
    products?  The 5x5 input and 3x3 kernel giving ``[[4,3,4],[2,4,3],[2,3,4]]``,
    computed by every algorithm and by four nested loops written out here.
:func:`smoothing`
    seed 000: the 5x5 Gaussian ``[1 4 7 4 1; ...]/273`` smoothing an image (a
    synthetic face, :func:`synthetic_face`): how much noise and high-frequency
    energy it removes, with every algorithm giving the same numbers.
:func:`flip_identity`
    seed 000 (and seed 002): convolution is correlation with the kernel
    rotated 180 degrees; convolution is commutative and associative,
    correlation is not.
:func:`timings`
    seed 000: direct ``O(n^2 k^2)`` against FFT ``O(n^2 log n)``: each
    algorithm timed on a few problem sizes, next to the planner's choice.

Examples
--------
>>> from convolab import demo
>>> r = demo.seed001()
>>> r.loops
array([[4, 3, 4],
       [2, 4, 3],
       [2, 3, 4]])
>>> r.agree
True
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

import convolab
from convolab.errors import format_bytes

__all__ = [
    "SEED001_A", "SEED001_B", "SEED001_EXPECTED", "GAUSSIAN_5X5", "SOBEL_X", "METHODS",
    "TIMED_METHODS", "TIMING_CASES",
    "Seed001Result", "SmoothingResult", "FlipResult", "TimingCase", "TimingRow", "DemoReport",
    "nested_loops", "seed001", "synthetic_face", "high_frequency_fraction", "smoothing",
    "flip_identity", "timings", "run", "render",
]

#: every algorithm convolab has (``method=``)
METHODS: tuple[str, ...] = ("reference", "direct", "im2col", "fft", "oa")

#: the algorithms the timing section measures (the reference is a slow oracle)
TIMED_METHODS: tuple[str, ...] = ("direct", "im2col", "fft", "oa")

#: seed 001's input image
SEED001_A = np.array([[1, 1, 1, 0, 0],
                      [0, 1, 1, 1, 0],
                      [0, 0, 1, 1, 1],
                      [0, 0, 1, 1, 0],
                      [0, 1, 1, 0, 0]])

#: seed 001's 3x3 filter
SEED001_B = np.array([[1, 0, 1],
                      [0, 1, 0],
                      [1, 0, 1]])

#: seed 001's answer, ``scipy.signal.convolve2d(A, B, 'valid')``
SEED001_EXPECTED = np.array([[4, 3, 4],
                             [2, 4, 3],
                             [2, 3, 4]])

#: seed 000's 5x5 Gaussian smoothing kernel (its integer weights sum to 273)
GAUSSIAN_5X5 = np.array([[1, 4, 7, 4, 1],
                         [4, 16, 26, 16, 4],
                         [7, 26, 41, 26, 7],
                         [4, 16, 26, 16, 4],
                         [1, 4, 7, 4, 1]]) / 273

#: a Sobel kernel for horizontal gradients: changes sign under a 180-degree
#: rotation, so convolution and correlation with it differ
SOBEL_X = np.array([[1, 0, -1],
                    [2, 0, -2],
                    [1, 0, -1]])


# ---------------------------------------------------------------------------
# seed 001: the worked example and the four nested loops


def nested_loops(a: np.ndarray, b: np.ndarray, *, flip: bool = True) -> np.ndarray:
    """The ``valid`` 2-D convolution of ``a`` with ``b`` as four nested loops.

    Plain Python, independent of every convolab algorithm: for each output
    position ``(i, j)``, the sum of the element-wise products of the window
    ``a[i:i+kh, j:j+kw]`` with the kernel.  ``flip=True`` (convolution) reads
    the kernel rotated 180 degrees, ``b[kh-1-k, kw-1-l]``; ``flip=False``
    (cross-correlation, what a CNN layer computes and what seed 001's pseudo
    code writes) reads ``b[k, l]``.

    Parameters
    ----------
    a : array_like, 2-D
        The input, at least as large as ``b`` on both axes.
    b : array_like, 2-D
        The kernel.
    flip : bool, optional, keyword-only
        Convolution (``True``, default) or cross-correlation.

    Returns
    -------
    ndarray
        Shape ``(ah - kh + 1, aw - kw + 1)``, dtype ``result_type(a, b)``.

    Examples
    --------
    >>> nested_loops(SEED001_A, SEED001_B)
    array([[4, 3, 4],
           [2, 4, 3],
           [2, 3, 4]])
    >>> nested_loops([[1, 2, 3]], [[1, 10]])              # convolution
    array([[12, 23]])
    >>> nested_loops([[1, 2, 3]], [[1, 10]], flip=False)  # correlation
    array([[21, 32]])
    """
    a, b = np.asarray(a), np.asarray(b)
    kh, kw = b.shape
    oh, ow = a.shape[0] - kh + 1, a.shape[1] - kw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"nested_loops needs a at least as large as b (a {a.shape}, b {b.shape})")
    out = np.zeros((oh, ow), dtype=np.result_type(a, b))
    for i in range(oh):
        for j in range(ow):
            s = 0
            for k in range(kh):
                for l in range(kw):
                    weight = b[kh - 1 - k, kw - 1 - l] if flip else b[k, l]
                    s += a[i + k, j + l] * weight
            out[i, j] = s
    return out


@dataclass(frozen=True)
class Seed001Result:
    """Seed 001's example computed every way."""

    a: np.ndarray
    b: np.ndarray
    expected: np.ndarray
    by_method: dict[str, np.ndarray]      # convolve2d(a, b, 'valid', method=m)
    loops: np.ndarray                     # nested_loops(a, b)
    dot_products: np.ndarray              # every window flattened, times the flattened kernel

    @property
    def agree(self) -> bool:
        """Whether every algorithm, the loops and the dot products give ``expected``."""
        results = [*self.by_method.values(), self.loops, self.dot_products]
        return all(np.array_equal(r, self.expected) for r in results)


def seed001(methods: Sequence[str] = METHODS) -> Seed001Result:
    """Seed 001's worked example with every algorithm.

    ``convolve2d(A, B, 'valid')`` with each ``method``, the four nested loops
    of :func:`nested_loops`, and the dot-product (im2col) reading: each 3x3
    window flattened into a row of a matrix, the kernel flattened (and
    rotated, since this is a convolution) into a vector, one matrix-vector
    product.

    Examples
    --------
    >>> r = seed001()
    >>> sorted(r.by_method)
    ['direct', 'fft', 'im2col', 'oa', 'reference']
    >>> r.by_method['fft']
    array([[4, 3, 4],
           [2, 4, 3],
           [2, 3, 4]])
    >>> r.dot_products.tolist() == r.expected.tolist()
    True
    """
    a, b = SEED001_A, SEED001_B
    by_method = {m: convolab.convolve2d(a, b, "valid", method=m) for m in methods}
    loops = nested_loops(a, b)
    windows = np.lib.stride_tricks.sliding_window_view(a, b.shape)     # (3, 3, 3, 3)
    rows = windows.reshape(-1, b.size)                                 # one row per window
    dots = (rows @ np.rot90(b, 2).ravel()).reshape(windows.shape[:2])
    return Seed001Result(a=a, b=b, expected=SEED001_EXPECTED, by_method=by_method, loops=loops,
                         dot_products=dots)


# ---------------------------------------------------------------------------
# seed 000: Gaussian smoothing of an image


def synthetic_face(size: int = 128) -> np.ndarray:
    """A synthetic grey-level face, values in [0, 1]: nothing is downloaded.

    A light background with a soft vertical gradient, an elliptical head,
    two eyes with pupils, a nose and a smiling mouth: smooth regions and
    sharp edges, which is what smoothing and edge kernels act on.

    Examples
    --------
    >>> img = synthetic_face(64)
    >>> img.shape, img.dtype
    ((64, 64), dtype('float64'))
    >>> bool(img.min() >= 0.0 and img.max() <= 1.0)
    True
    """
    y, x = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1       # coordinates in [-1, 1]
    img = 0.85 - 0.15 * (y + 1) / 2                              # background
    head = (x / 0.62) ** 2 + (y / 0.8) ** 2 <= 1
    img = np.where(head, 0.62, img)
    for cx in (-0.26, 0.26):                                     # eyes and pupils
        eye = ((x - cx) / 0.16) ** 2 + ((y + 0.22) / 0.09) ** 2 <= 1
        pupil = (x - cx) ** 2 + (y + 0.22) ** 2 <= 0.055 ** 2
        img = np.where(eye, 0.95, img)
        img = np.where(pupil, 0.05, img)
    nose = (np.abs(x) <= 0.12 * (y + 0.12) / 0.3) & (y >= -0.12) & (y <= 0.18)
    img = np.where(nose, 0.45, img)
    r = np.hypot(x, (y - 0.2) * 1.1)
    mouth = (r >= 0.33) & (r <= 0.4) & (y >= 0.38)
    img = np.where(mouth, 0.2, img)
    return img.astype(np.float64)


def high_frequency_fraction(image: np.ndarray, cutoff: float = 0.25) -> float:
    """Fraction of an image's spectral energy above ``cutoff`` cycles per pixel.

    The energy is ``|FFT(image - mean)|^2``; a frequency counts as high when
    its radius ``sqrt(fy^2 + fx^2)`` exceeds ``cutoff`` (the Nyquist
    frequency is 0.5).  A constant image has no energy; the result is 0.0.

    Examples
    --------
    >>> high_frequency_fraction(np.ones((8, 8)))
    0.0
    >>> checker = np.indices((8, 8)).sum(axis=0) % 2 * 1.0   # all at Nyquist
    >>> high_frequency_fraction(checker)
    1.0
    """
    image = np.asarray(image, dtype=np.float64)
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    total = float(power.sum())
    if total == 0.0:
        return 0.0
    return float(power[np.hypot(fy, fx) > cutoff].sum() / total)


@dataclass(frozen=True)
class SmoothingResult:
    """Seed 000's Gaussian smoothing of a noisy synthetic image."""

    clean: np.ndarray
    noisy: np.ndarray
    kernel: np.ndarray
    boundary: str
    noise_sigma: float                     # standard deviation of the added noise
    by_method: dict[str, np.ndarray]       # convolve2d(noisy, kernel, 'same', method=m)
    smoothed_clean: np.ndarray             # the same filter on the clean image

    @property
    def smoothed(self) -> np.ndarray:
        """The smoothed noisy image (the reference algorithm's, or the first computed)."""
        return self.by_method.get("reference", next(iter(self.by_method.values())))

    @property
    def max_abs_diff(self) -> dict[str, float]:
        """Each algorithm's largest difference from :attr:`smoothed`."""
        return {m: float(np.max(np.abs(r - self.smoothed))) for m, r in self.by_method.items()}

    @property
    def noise_before(self) -> float:
        """RMS of the noise in the noisy image."""
        return _rms(self.noisy - self.clean)

    @property
    def noise_after(self) -> float:
        """RMS of the noise left after smoothing: ``smooth(noisy) - smooth(clean)``,
        which is the smoothed noise, since convolution is linear."""
        return _rms(self.smoothed - self.smoothed_clean)

    @property
    def noise_predicted(self) -> float:
        """White noise of deviation sigma leaves ``sigma * sqrt(sum(kernel**2))``."""
        return self.noise_sigma * math.sqrt(float(np.sum(self.kernel ** 2)))

    @property
    def error_before(self) -> float:
        """RMS difference of the noisy image from the clean one."""
        return _rms(self.noisy - self.clean)

    @property
    def error_after(self) -> float:
        """RMS difference of the smoothed image from the clean one (noise left plus blur)."""
        return _rms(self.smoothed - self.clean)

    @property
    def high_frequency_before(self) -> float:
        return high_frequency_fraction(self.noisy)

    @property
    def high_frequency_after(self) -> float:
        return high_frequency_fraction(self.smoothed)


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def smoothing(size: int = 128, noise_sigma: float = 0.1, *, seed: int = 0,
              methods: Sequence[str] = METHODS, boundary: str = "symm") -> SmoothingResult:
    """Smooth a noisy :func:`synthetic_face` with seed 000's 5x5 Gaussian.

    Gaussian noise of deviation ``noise_sigma`` (seeded) is added to the
    image, which is then convolved with :data:`GAUSSIAN_5X5` in ``same`` mode
    with ``boundary`` extension, once per algorithm.

    Examples
    --------
    >>> r = smoothing(32, methods=("direct", "fft"))
    >>> r.smoothed.shape
    (32, 32)
    >>> r.max_abs_diff["fft"] < 1e-12
    True
    >>> r.noise_after < r.noise_before / 2
    True
    """
    clean = synthetic_face(size)
    rng = np.random.default_rng(seed)
    noisy = clean + rng.normal(0.0, noise_sigma, clean.shape)
    by_method = {m: convolab.convolve2d(noisy, GAUSSIAN_5X5, "same", boundary=boundary, method=m)
                 for m in methods}
    smoothed_clean = convolab.convolve2d(clean, GAUSSIAN_5X5, "same", boundary=boundary)
    return SmoothingResult(clean=clean, noisy=noisy, kernel=GAUSSIAN_5X5, boundary=boundary,
                           noise_sigma=noise_sigma, by_method=by_method,
                           smoothed_clean=smoothed_clean)


# ---------------------------------------------------------------------------
# seed 000 / 002: the kernel flip


@dataclass(frozen=True)
class FlipResult:
    """Convolution against correlation, as maximum absolute differences."""

    kernel: np.ndarray
    mode: str                          # output size of the 2-D comparisons
    conv_minus_rotated_corr: float     # |convolve2d(img, K) - correlate2d(img, rot180(K))|
    conv_minus_corr: float             # |convolve2d(img, K) - correlate2d(img, K)|
    edge_scale: float                  # max |convolve2d(img, K)|, for scale
    commutative_conv: float            # |convolve(a, b) - convolve(b, a)|
    commutative_corr: float            # |correlate(a, b) - correlate(b, a)|
    associative_conv: float            # |(a * b) * c - a * (b * c)| with convolution
    associative_corr: float            # the same with correlation


def flip_identity(image: np.ndarray | None = None, kernel: np.ndarray = SOBEL_X, *,
                  mode: str = "full", seed: int = 0) -> FlipResult:
    """Convolution is correlation with the kernel rotated 180 degrees.

    On ``image`` (default :func:`synthetic_face`), ``convolve2d(image, kernel,
    mode)`` is compared with ``correlate2d(image, rot90(kernel, 2), mode)``
    (identical) and with ``correlate2d(image, kernel, mode)`` (different,
    unless the kernel is symmetric under the rotation; :data:`SOBEL_X` changes
    sign).  On seeded random 1-D signals, convolution is commutative and
    associative; correlation is neither.

    The identity holds for every kernel in ``full`` and ``valid`` mode.  In
    ``same`` mode it holds for odd kernels only: for an even kernel,
    ``correlate2d`` centres the window one sample earlier than ``convolve2d``
    does (scipy.signal's behaviour, kept for compatibility), so the two
    ``same`` outputs are shifted by one sample.

    Examples
    --------
    >>> r = flip_identity(synthetic_face(32))
    >>> r.conv_minus_rotated_corr
    0.0
    >>> r.conv_minus_corr == 2 * r.edge_scale       # Sobel only changes sign
    True
    >>> r.commutative_conv < 1e-12 < r.commutative_corr
    True
    """
    image = synthetic_face() if image is None else np.asarray(image)
    kernel = np.asarray(kernel)
    conv = convolab.convolve2d(image, kernel, mode)
    corr_rot = convolab.correlate2d(image, np.rot90(kernel, 2), mode)
    corr = convolab.correlate2d(image, kernel, mode)
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=16), rng.normal(size=5), rng.normal(size=3)
    cv, cr = convolab.convolve, convolab.correlate
    return FlipResult(
        kernel=kernel,
        mode=mode,
        conv_minus_rotated_corr=_maxdiff(conv, corr_rot),
        conv_minus_corr=_maxdiff(conv, corr),
        edge_scale=float(np.max(np.abs(conv))),
        commutative_conv=_maxdiff(cv(a, b), cv(b, a)),
        commutative_corr=_maxdiff(cr(a, b), cr(b, a)),
        associative_conv=_maxdiff(cv(cv(a, b), c), cv(a, cv(b, c))),
        associative_corr=_maxdiff(cr(cr(a, b), c), cr(a, cr(b, c))),
    )


def _maxdiff(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(x) - np.asarray(y))))


# ---------------------------------------------------------------------------
# seed 000: direct against FFT, timed


@dataclass(frozen=True)
class TimingCase:
    """One problem to time: an input shape and a kernel shape, ``same`` mode."""

    label: str
    in_shape: tuple[int, ...]
    kernel_shape: tuple[int, ...]


#: the problems the timing section measures
TIMING_CASES: tuple[TimingCase, ...] = (
    TimingCase("image 256x256, kernel 3x3", (256, 256), (3, 3)),
    TimingCase("image 256x256, kernel 11x11", (256, 256), (11, 11)),
    TimingCase("image 256x256, kernel 31x31", (256, 256), (31, 31)),
    TimingCase("signal 100000, kernel 101", (100_000,), (101,)),
)

#: im2col is not timed when its matrix would exceed this many bytes
IM2COL_BYTES_LIMIT = 128 * 2**20


@dataclass(frozen=True)
class TimingRow:
    """One problem's timings (median seconds) and the planner's choice."""

    case: TimingCase
    seconds: dict[str, float]              # algorithm -> median seconds
    skipped: dict[str, str]                # algorithm -> why it was not timed
    planned: str                           # convolab.plan(...).method
    plan_text: str                         # str(convolab.plan(...))

    @property
    def fastest(self) -> str:
        """The algorithm with the least median time."""
        return min(self.seconds, key=self.seconds.__getitem__)

    @property
    def planner_ratio(self) -> float:
        """The planned algorithm's time over the fastest one's (1.0 when it is the fastest)."""
        if self.planned not in self.seconds:
            return math.nan
        return self.seconds[self.planned] / self.seconds[self.fastest]


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()                                          # warm-up: imports, caches, plans
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timings(cases: Sequence[TimingCase] = TIMING_CASES, *, repeats: int = 5, seed: int = 0,
            methods: Sequence[str] = TIMED_METHODS) -> list[TimingRow]:
    """Time each algorithm on each case (median of ``repeats`` runs, after a warm-up).

    The inputs are seeded random float64 arrays, convolved in ``same`` mode.
    im2col is skipped when its matrix would exceed :data:`IM2COL_BYTES_LIMIT`
    (the planner's own memory estimate is used); the reference algorithm is
    never timed.

    Examples
    --------
    >>> rows = timings([TimingCase("tiny", (64,), (5,))], repeats=1)
    >>> rows[0].planned in rows[0].seconds
    True
    >>> sorted(rows[0].seconds)
    ['direct', 'fft', 'im2col', 'oa']
    """
    rng = np.random.default_rng(seed)
    rows = []
    for case in cases:
        x = rng.normal(size=case.in_shape)
        w = rng.normal(size=case.kernel_shape)
        chosen = convolab.plan(x, w, "same")
        estimate = {c.name: c for c in chosen.candidates}
        seconds: dict[str, float] = {}
        skipped: dict[str, str] = {}
        for m in methods:
            if m == "reference":
                skipped[m] = "the reference is a slow oracle"
                continue
            if m == "im2col" and m in estimate and estimate[m].bytes > IM2COL_BYTES_LIMIT:
                skipped[m] = f"its matrix would take {format_bytes(estimate[m].bytes)}"
                continue
            seconds[m] = _median_time(lambda m=m: convolab.convolve(x, w, "same", method=m),
                                      repeats)
        rows.append(TimingRow(case=case, seconds=seconds, skipped=skipped,
                              planned=chosen.method, plan_text=str(chosen)))
    return rows


# ---------------------------------------------------------------------------
# the whole demo


@dataclass(frozen=True)
class DemoReport:
    """Every section of the demo, and how long it took."""

    seed001: Seed001Result
    smoothing: SmoothingResult
    flip: FlipResult
    timings: list[TimingRow] = field(default_factory=list)
    elapsed: float = 0.0

    def failures(self) -> list[str]:
        """The checks that did not hold (empty when the demo confirms every claim)."""
        out = []
        if not self.seed001.agree:
            out.append("seed 001: the algorithms do not all give [[4,3,4],[2,4,3],[2,3,4]]")
        worst = max(self.smoothing.max_abs_diff.values())
        if worst > 1e-10:
            out.append(f"seed 000: the smoothing algorithms differ by {worst:.3g}")
        if not self.smoothing.noise_after < self.smoothing.noise_before:
            out.append("seed 000: smoothing did not reduce the noise")
        if self.flip.conv_minus_rotated_corr > 1e-10:
            out.append("flip: convolution differs from correlation with the rotated kernel "
                       f"by {self.flip.conv_minus_rotated_corr:.3g}")
        return out


def run(*, repeats: int = 5, timing_cases: Sequence[TimingCase] | None = TIMING_CASES
        ) -> DemoReport:
    """Compute every section of the demo.

    ``timing_cases=None`` (or an empty sequence) skips the timing section.

    Examples
    --------
    >>> report = run(timing_cases=None)
    >>> report.failures()
    []
    >>> report.timings
    []
    """
    start = time.perf_counter()
    s1 = seed001()
    sm = smoothing()
    fl = flip_identity()
    rows = timings(timing_cases, repeats=repeats) if timing_cases else []
    return DemoReport(seed001=s1, smoothing=sm, flip=fl, timings=rows,
                      elapsed=time.perf_counter() - start)


# ---------------------------------------------------------------------------
# the text report


def _matrix(a: np.ndarray, indent: str = "    ") -> list[str]:
    return [indent + line for line in np.array2string(np.asarray(a)).splitlines()]


def _ms(t: float) -> str:
    return f"{t * 1e3:.2f} ms"


def _heading(text: str) -> list[str]:
    return ["", text, "-" * len(text)]


def render(report: DemoReport, *, plans: bool = True) -> str:
    """The demo as a plain-text report, one section per seed question.

    ``plans=False`` leaves out the planner's explanation of the largest
    image problem.

    Examples
    --------
    >>> text = render(run(timing_cases=None))
    >>> print(text.splitlines()[0])
    convolab demo: the seed documents' examples, computed and checked
    >>> "[[4 3 4]" in text
    True
    """
    lines = ["convolab demo: the seed documents' examples, computed and checked",
             "=" * 65]
    lines += _render_seed001(report.seed001)
    lines += _render_smoothing(report.smoothing)
    lines += _render_flip(report.flip)
    if report.timings:
        lines += _render_timings(report.timings, plans=plans)
    failures = report.failures()
    lines.append("")
    if failures:
        lines.append("CHECKS FAILED:")
        lines += [f"  - {f}" for f in failures]
    else:
        lines.append("All checks hold.")
    if report.elapsed:
        lines.append(f"Demo computed in {report.elapsed:.1f} s.")
    return "\n".join(lines)


def _render_seed001(r: Seed001Result) -> list[str]:
    lines = _heading("Seed 001: is a convolution a dot product or a sum of element-wise products?")
    lines.append("  A =")
    lines += _matrix(r.a)
    lines.append("  B =")
    lines += _matrix(r.b)
    lines.append("  convolve2d(A, B, 'valid') =")
    lines += _matrix(r.expected)
    lines.append("  computed by each algorithm:")
    rows = [(f"method={m!r}", out) for m, out in r.by_method.items()]
    rows += [("four nested loops", r.loops), ("9 dot products", r.dot_products)]
    for label, out in rows:
        same = "same" if np.array_equal(out, r.expected) else "DIFFERENT"
        lines.append(f"    {label:<20} {out.tolist()}  ({same})")
    lines.append("  Both: each output is the sum of the element-wise products of a 3x3 window")
    lines.append("  with the kernel, which is the dot product of the two flattened 9-vectors;")
    lines.append("  im2col stacks the flattened windows into one matrix and does them all at once.")
    return lines


def _render_smoothing(r: SmoothingResult) -> list[str]:
    n = r.clean.shape
    lines = _heading("Seed 000: smoothing an image with the 5x5 Gaussian [1 4 7 4 1; ...]/273")
    lines.append(f"  image: a synthetic {n[0]}x{n[1]} face plus Gaussian noise (sigma {r.noise_sigma:g}),")
    lines.append(f"  convolve2d(noisy, G, 'same', boundary={r.boundary!r})")
    lines.append(f"  noise RMS                       {r.noise_before:.4f} -> {r.noise_after:.4f}"
                 f"  (x{r.noise_after / r.noise_before:.3f}; predicted"
                 f" sigma*sqrt(sum G^2) = {r.noise_predicted:.4f})")
    lines.append(f"  RMS error against clean image   {r.error_before:.4f} -> {r.error_after:.4f}"
                 "  (noise left plus blur of the edges)")
    lines.append(f"  spectral energy above 0.25 cycles/pixel  {r.high_frequency_before:.1%}"
                 f" -> {r.high_frequency_after:.1%}")
    lines.append("  every algorithm, max |difference| from the reference:")
    for m, d in r.max_abs_diff.items():
        lines.append(f"    {m:<10} {d:.2e}")
    return lines


def _render_flip(r: FlipResult) -> list[str]:
    k = r.kernel.tolist()
    lines = _heading("Seeds 000/002: convolution = correlation with the kernel rotated 180 degrees")
    lines.append(f"  kernel K = {k} (Sobel), image: the synthetic face, mode {r.mode!r}")
    lines.append(f"  max |convolve2d(img, K) - correlate2d(img, rot90(K, 2))| = {r.conv_minus_rotated_corr:.2e}")
    lines.append(f"  max |convolve2d(img, K) - correlate2d(img, K)|           = {r.conv_minus_corr:.4g}"
                 f"  (edges up to {r.edge_scale:.4g}: the sign flips)")
    lines.append("  on random 1-D signals a, b, c (max |difference|):")
    lines.append(f"    {'property':<18}{'convolution':>12}{'correlation':>13}")
    lines.append(f"    {'a*b = b*a':<18}{r.commutative_conv:>12.2e}{r.commutative_corr:>13.3g}")
    lines.append(f"    {'(a*b)*c = a*(b*c)':<18}{r.associative_conv:>12.2e}{r.associative_corr:>13.3g}")
    lines.append("  A CNN layer computes correlation; trained with convolution it would simply")
    lines.append("  learn the rotated filter.")
    return lines


def _render_timings(rows: Sequence[TimingRow], *, plans: bool) -> list[str]:
    lines = _heading("Seed 000: direct O(n^2 k^2) against FFT O(n^2 log n): which is faster?")
    methods = list(dict.fromkeys(m for row in rows for m in (*row.seconds, *row.skipped)))
    width = max(len(row.case.label) for row in rows)
    lines.append("  median time in 'same' mode; * the fastest; planner: convolab.plan(...).method")
    lines.append("  " + f"{'problem':<{width}}" + "".join(f"{m:>12}" for m in methods)
                 + "   planner")
    for row in rows:
        cells = []
        for m in methods:
            if m in row.seconds:
                mark = "*" if m == row.fastest else " "
                cells.append(f"{_ms(row.seconds[m]) + mark:>12}")
            else:
                cells.append(f"{'skipped':>12}")
        if row.planned == row.fastest:
            verdict = "(the fastest)"
        else:
            verdict = f"({row.planner_ratio:.1f}x the fastest)"
        lines.append("  " + f"{row.case.label:<{width}}" + "".join(cells)
                     + f"   {row.planned} {verdict}")
    for row in rows:
        for m, why in row.skipped.items():
            lines.append(f"  {m} skipped on {row.case.label}: {why}")
    if plans:
        biggest = max(rows, key=lambda r: math.prod(r.case.kernel_shape))
        lines.append(f"  print(convolab.plan(...)) for {biggest.case.label}:")
        lines += ["    " + line for line in biggest.plan_text.splitlines()]
    return lines
