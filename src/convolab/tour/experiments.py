"""The tour's experiments: one function per seed question, run when called.

Each function computes its answer with convolab at that moment (on this
machine, with these versions) and returns a :class:`Section`: the question
as the seed asks it, a short answer with the measured numbers in it, a table
of those numbers (:class:`Row`, each with a stable ``key`` such as
``'flip.conv_minus_rotated_corr'``), and its figures as :class:`FigureSpec`
(drawn later by :mod:`convolab.plot`, so the numbers need no matplotlib).

``quick=True`` shrinks every experiment (smaller images, fewer repeats and
samples, a one-epoch CNN) so that the whole tour runs in a few seconds; the
answers hold in both modes.

=====================  ======  ===============================================
function               seed    question
=====================  ======  ===============================================
:func:`flip`           000     convolution versus correlation: the flip,
                               commutativity, associativity
:func:`dot_product`    001     a sum of element-wise products or a dot product?
:func:`why_fft`        000     why the FFT: direct against FFT, timed
:func:`frequency`      002/000 frequency filtering, the JPEG analogy, the /273
                               Gaussian
:func:`diffusion`      002     the kernel as a propagator, repeated: diffusion
:func:`stochastic`     002     the stochastic reading: Monte-Carlo convolution
:func:`matching`       002     correlation as rotated convolution; template
                               matching
:func:`learning`       000     a CNN learns the same with convolution or
                               correlation
=====================  ======  ===============================================
"""

from __future__ import annotations

import functools
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.fft

import convolab
from .. import demo
from ..kernels import gaussian_273
from . import data

__all__ = ["Row", "FigureSpec", "Section", "SEEDS", "EXPERIMENTS", "format_value", "flip",
           "dot_product", "why_fft", "frequency", "diffusion", "stochastic", "matching",
           "learning"]

#: the seed documents, as the report names them
SEEDS = {
    "000": "seed 000 (Portuguese Q&A: are there mathematical reasons for convolution in "
           "neural networks beyond convenience?)",
    "001": "seed 001 (Spanish Q&A: is a CNN convolution a dot product or a sum of "
           "element-wise products?)",
    "002": "seed 002 (Chinese blog: Understanding Convolution in Deep Learning, part 4)",
}


@dataclass(frozen=True)
class Row:
    """One measured number of a section."""

    key: str            #: stable identifier, ``'<section>.<name>'``
    label: str          #: what was measured, in words
    value: Any          #: the number (or small list) itself
    comment: str = ""   #: what to compare it with


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw: ``draw()`` returns a matplotlib Figure."""

    name: str                            #: file stem, e.g. ``'flip-images'``
    caption: str
    draw: Callable[[], Any] = field(repr=False)


@dataclass
class Section:
    """One seed question, answered by an experiment."""

    key: str                 #: anchor and key prefix, e.g. ``'flip'``
    title: str
    seed: str                #: ``'000'``, ``'001'`` or ``'002'`` (several: ``'002/000'``)
    quote: str               #: the seed's words (original language)
    quote_lang: str          #: BCP 47 tag of the quote: 'pt', 'es', 'zh'
    question: str            #: the question in English
    answer: str = ""         #: two or three sentences, with measured numbers
    rows: list[Row] = field(default_factory=list)
    figures: list[FigureSpec] = field(default_factory=list)
    note: str = ""           #: what could not be run, and why
    seconds: float = 0.0     #: how long the experiment took
    extra: dict[str, Any] = field(default_factory=dict)   #: numbers kept out of the table

    @property
    def numbers(self) -> dict[str, Any]:
        """The rows and the extra numbers as ``{key: value}``."""
        return {**{r.key: r.value for r in self.rows}, **self.extra}

    def keep(self, name: str, value: Any) -> Any:
        """Record ``<key>.<name>`` in :attr:`numbers` without a table row; return ``value``."""
        self.extra[f"{self.key}.{name}"] = _plain(value)
        return value

    def add(self, name: str, label: str, value: Any, comment: str = "") -> Any:
        """Append a row ``<key>.<name>`` and return ``value``."""
        self.rows.append(Row(f"{self.key}.{name}", label, _plain(value), comment))
        return value


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain Python numbers and lists (JSON-ready)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def format_value(value: Any) -> str:
    """A number as the report prints it: exact for integers and zero, 3-4 digits otherwise.

    Examples
    --------
    >>> from convolab.tour.experiments import format_value
    >>> [format_value(v) for v in (0.0, 3, 2.5e-17, 0.123456, 1234.5, [[4, 3], [2, 4]], True)]
    ['0', '3', '2.5e-17', '0.1235', '1234', '[[4, 3], [2, 4]]', 'yes']
    >>> format_value(0.000123288)
    '0.000123'

    """
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v == 0:
            return "0"
        if not math.isfinite(v):
            return str(v)
        if abs(v) < 1e-3 or abs(v) >= 1e5:
            return f"{v:.3g}"
        return f"{v:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def _maxdiff(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def _timed(fn: Callable[..., Section]) -> Callable[..., Section]:
    """Record the experiment's run time in ``Section.seconds``."""
    @functools.wraps(fn)
    def wrapper(*, quick: bool = False) -> Section:
        start = time.perf_counter()
        section = fn(quick=quick)
        section.seconds = time.perf_counter() - start
        return section
    return wrapper


# ---------------------------------------------------------------------------
# seed 000: convolution against correlation


@_timed
def flip(*, quick: bool = False) -> Section:
    """Convolution is correlation with the kernel rotated 180°; only convolution commutes.

    On the face image, ``convolve2d(img, K)`` against ``correlate2d(img,
    rot180(K))`` (equal) and ``correlate2d(img, K)`` (different for the
    asymmetric Sobel kernel); on seeded random signals, commutativity and
    associativity of both (numbers from :func:`convolab.demo.flip_identity`).

    Examples
    --------
    >>> from convolab.tour.experiments import flip
    >>> s = flip(quick=True)
    >>> s.numbers['flip.conv_minus_rotated_corr']
    0.0
    >>> s.numbers['flip.commutative_conv'] < 1e-12 < s.numbers['flip.commutative_corr']
    True
    """
    s = Section("flip", "Convolution versus cross-correlation: the flip", "000",
                "Convolução e correlação cruzada na CNN são equivalentes? [...] a convolução é "
                "associativa, enquanto a correlação (cruzada) não é.", "pt",
                "Are convolution and cross-correlation in a CNN equivalent? Convolution is "
                "associative, correlation is not.")
    img = data.face(48 if quick else 128)
    k = demo.SOBEL_X
    r = demo.flip_identity(img.pixels, k, mode="full")
    conv = convolab.convolve2d(img.pixels, k, "same", boundary="symm")
    corr = convolab.correlate2d(img.pixels, k, "same", boundary="symm")
    s.add("conv_minus_rotated_corr", "max |convolve2d(img, K) − correlate2d(img, rot180(K))|",
          r.conv_minus_rotated_corr, "the same operation: 0")
    s.add("conv_minus_corr", "max |convolve2d(img, K) − correlate2d(img, K)|, K = Sobel",
          r.conv_minus_corr, f"= 2 × the largest edge response ({format_value(r.edge_scale)}): "
          "the sign flips")
    s.add("commutative_conv", "max |a ∗ b − b ∗ a|, convolution", r.commutative_conv,
          "commutative: rounding only")
    s.add("commutative_corr", "max |a ⋆ b − b ⋆ a|, correlation", r.commutative_corr,
          "not commutative: the result is reversed")
    s.add("associative_conv", "max |(a ∗ b) ∗ c − a ∗ (b ∗ c)|, convolution", r.associative_conv,
          "associative: rounding only")
    s.add("associative_corr", "max |(a ⋆ b) ⋆ c − a ⋆ (b ⋆ c)|, correlation", r.associative_corr,
          "not associative")
    s.answer = (
        "They are the same operation up to a 180° rotation of the kernel: convolve2d(img, K) and "
        f"correlate2d(img, rot180(K)) differ by {format_value(r.conv_minus_rotated_corr)} on the "
        "face. For an asymmetric kernel they differ: with the Sobel kernel every edge changes "
        "sign. Only the flip makes convolution commutative and associative (differences of "
        f"{format_value(max(r.commutative_conv, r.associative_conv))} on random signals, against "
        f"{format_value(min(r.commutative_corr, r.associative_corr))} and more for correlation), "
        "which is why mathematics and signal processing keep it, while a CNN can use either.")
    pixels = img.pixels
    s.figures.append(FigureSpec(
        "flip-images",
        f"{img.source}: convolution and correlation with the Sobel kernel K = "
        f"{k.tolist()} ('same', boundary 'symm'); red is positive, blue negative.",
        lambda: _plot().images(
            [pixels, conv, corr, conv - corr],
            ["image", "convolve2d(img, K)", "correlate2d(img, K)", "difference"],
            symmetric=[False, True, True, True], units="grey level",
            suptitle="convolution flips the kernel: an asymmetric edge kernel gives opposite "
                     "signs")))
    return s


def _plot() -> Any:
    from .. import plot
    return plot


# ---------------------------------------------------------------------------
# seed 001: element-wise sum or dot product


@_timed
def dot_product(*, quick: bool = False) -> Section:
    """Seed 001's example every way, the multi-channel walk-through, im2col, 1×1 = matmul.

    Examples
    --------
    >>> from convolab.tour.experiments import dot_product
    >>> s = dot_product(quick=True)
    >>> s.numbers['dot.result']
    [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    >>> s.numbers['dot.all_agree'], s.numbers['dot.multichannel_max_difference']
    (True, 0)
    """
    from ..nn.experiments import multichannel_walkthrough, one_by_one_is_matmul

    s = Section("dot", "A sum of element-wise products, or a dot product?", "001",
                "¿Qué operación se usa realmente (multiplicación elemento por elemento o el "
                "producto punto) y cuál es la diferencia principal?", "es",
                "Is a CNN convolution the sum of an element-wise product, or a dot product? "
                "Which one is really used?")
    r = demo.seed001()
    s.add("result", "convolve2d(A, B, 'valid')", r.expected, "seed 001's answer")
    for m, out in r.by_method.items():
        s.add(f"method_{m}", f"method='{m}'", out)
    s.add("loops", "four nested loops (plain Python)", r.loops)
    s.add("dot_products", "9 dot products of flattened 3×3 windows", r.dot_products)
    s.add("all_agree", "every way gives the same integers", bool(r.agree))
    mc = multichannel_walkthrough()
    ways = ("dot_products", "im2col", "fft")
    mc_diff = max(int(np.abs(mc[w] - mc["loops"]).max()) for w in ways)
    s.add("multichannel_output", "5×5×3 input, two 3×3×3 filters, stride 2, pad 1, bias: output",
          mc["loops"], "shape (2, 3, 3)")
    s.add("multichannel_max_difference", "max |difference| of dot products, im2col, FFT from "
          "the loops", mc_diff, "integers: exactly 0")
    oo = one_by_one_is_matmul()
    s.add("one_by_one", "max |conv2d(x, W 1×1) − W @ x over channels| (16 → 4 channels)",
          oo["max_difference"], "rounding only")
    s.answer = (
        "Both, because they are the same number: each output is the sum of the element-wise "
        "products of a window with the kernel, which is the dot product of the two flattened "
        "vectors. Seed 001's A and B give [[4, 3, 4], [2, 4, 3], [2, 3, 4]] by every algorithm, "
        "by four nested loops and by nine dot products. Across channels the sum runs over depth "
        "too, im2col turns the whole layer into one matrix product np.dot(W_row, X_col), and a "
        f"1×1 convolution is a plain matrix product over channels (difference "
        f"{format_value(oo['max_difference'])}).")
    a, b = r.a, r.b
    windows = np.lib.stride_tricks.sliding_window_view(a, b.shape).reshape(-1, b.size).T
    w_row = np.rot90(b, 2).reshape(1, -1)
    s.figures.append(FigureSpec(
        "dot-im2col-seed001",
        "im2col for seed 001: each column of X_col is one 3×3 window of A, flattened; the kernel "
        "(rotated 180°, since this is a convolution) is one row; their product is the nine "
        "outputs [4 3 4 2 4 3 2 3 4].",
        lambda: _plot().matrix_product(
            w_row, windows, w_row @ windows,
            titles=("kernel row (1×9)", "X_col: one window per column (9×9)", "outputs (1×9)"),
            suptitle="seed 001 as one matrix product")))
    cols, w = mc["columns"], mc["filters"].reshape(2, -1)
    bias = mc["bias"]
    s.figures.append(FigureSpec(
        "dot-im2col-multichannel",
        "The multi-channel walk-through as im2col: two filters of 3×3×3 = 27 weights are the "
        "rows of W_row, the nine receptive fields of the padded 7×7×3 input (stride 2) are the "
        "columns of X_col (drawn transposed, one per row, under the weights they multiply), and "
        f"W_row @ X_col + bias {bias.tolist()} is the 2×3×3 output (drawn as 9×2).",
        lambda: _plot().matrix_product(
            w, cols, w @ cols + bias[:, None],
            titles=("W_row: one filter per row (2×27)",
                    "X_colᵀ: one receptive field per row (9×27)", "out + b (9×2)"),
            layout="stacked",
            suptitle="depth is part of the dot product: 27 = 3×3×3 weights per filter")))
    return s


# ---------------------------------------------------------------------------
# seed 000: why the FFT


def _median_seconds(fn: Callable[[], object], repeats: int, budget: float = 0.4) -> float:
    """Median of up to ``repeats`` timed runs after a warm-up; slow problems stop
    after ``budget`` seconds once three runs are in."""
    fn()                                     # warm-up: compiled loops, caches, plans
    times: list[float] = []
    while len(times) < repeats and (len(times) < 3 or sum(times) < budget):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _operation_counts(image: int, kernels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multiply-adds: direct ``N² n²``; FFT ``3 M log2 M + M`` with ``M = L²`` points,
    ``L = next_fast_len(N + n - 1)`` (two forward transforms, one inverse, one product)."""
    kernels = np.asarray(kernels, dtype=float)
    direct = image ** 2 * kernels ** 2
    sides = np.array([scipy.fft.next_fast_len(int(image + round(k) - 1), real=True)
                      for k in kernels], dtype=float)
    m = sides ** 2
    return direct, 3 * m * np.log2(m) + m


def _crossover(ks: np.ndarray, direct: np.ndarray, fft: np.ndarray) -> float | None:
    """The kernel size from which the FFT stays faster: the geometric mean of the
    last size where direct wins and the next one; None if the FFT never wins
    for good (the first size if it always does)."""
    faster = fft < direct
    if not faster[-1]:
        return None
    i = len(ks) - 1
    while i > 0 and faster[i - 1]:
        i -= 1
    return float(ks[0]) if i == 0 else float(math.sqrt(ks[i - 1] * ks[i]))


@_timed
def why_fft(*, quick: bool = False) -> Section:
    """Direct against FFT against the planner, timed over kernel sizes on this machine.

    An ``N x N`` image (256, quick 64) convolved in ``'same'`` mode with
    random ``n x n`` kernels; the median of a few runs after a warm-up.

    Examples
    --------
    >>> from convolab.tour.experiments import why_fft
    >>> s = why_fft(quick=True)
    >>> sorted(s.numbers['fft.seconds'])
    ['auto', 'direct', 'fft']
    >>> s.numbers['fft.kernel_sizes']
    [3, 7, 15]
    """
    s = Section("fft", "Why the FFT: direct against FFT, timed", "000",
                "O uso de convoluções na CNN está vinculado à FFT? [...] A aplicação a cada pixel "
                "em uma imagem requer, portanto, O(n²N²) operações [...] em vez de O(N² log N).",
                "pt",
                "Is the use of convolution in CNNs tied to the FFT? Direct convolution costs "
                "O(n²N²) operations, the FFT route O(N² log N).")
    size = 64 if quick else 256
    ks = np.array((3, 7, 15) if quick else (3, 5, 7, 9, 11, 15, 21, 31, 45, 63))
    repeats = 1 if quick else 5
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size, size))
    seconds: dict[str, list[float]] = {"direct": [], "fft": [], "auto": []}
    planned = []
    for k in ks:
        w = rng.standard_normal((k, k))
        for m in ("direct", "fft", "auto"):
            seconds[m].append(_median_seconds(
                lambda m=m: convolab.convolve(x, w, "same", method=m), repeats))
        planned.append(convolab.plan(x, w, "same").method)
    direct, fft = np.array(seconds["direct"]), np.array(seconds["fft"])
    best = np.minimum(direct, fft)
    ratio = np.array(seconds["auto"]) / best
    measured_cross = _crossover(ks, direct, fft)
    fine = np.arange(1, int(ks[-1]) + 1)
    ops_direct_fine, ops_fft_fine = _operation_counts(size, fine)
    op_cross = _crossover(fine, ops_direct_fine, ops_fft_fine)
    ops_direct, ops_fft = _operation_counts(size, ks)
    s.add("image_size", "image side N (an N×N image, 'same' mode)", size)
    s.add("kernel_sizes", "kernel sides n", ks)
    s.add("repeats", "timed runs per point (median, after one warm-up)",
          repeats if quick else f"3 to {repeats}")
    s.keep("seconds", {m: [float(t) for t in v] for m, v in seconds.items()})
    for i, k in enumerate(ks):
        s.add(f"k{k}", f"{k}×{k} kernel: direct / FFT / auto (ms)",
              f"{direct[i] * 1e3:.3g} / {fft[i] * 1e3:.3g} / {seconds['auto'][i] * 1e3:.3g}",
              f"planner chose {planned[i]}; auto is {ratio[i]:.2f}× the faster of the two")
    s.add("planned", "the planner's choice per kernel size", planned)
    s.add("crossover", "measured crossover: FFT faster from kernel side",
          measured_cross if measured_cross is not None else "not reached",
          "geometric mean of the two sizes around the switch")
    s.add("op_crossover", "operation counts cross at kernel side",
          op_cross if op_cross is not None else "not reached",
          "N²n² against 3 M log₂M + M, M = padded size²")
    s.add("auto_worst_ratio", "auto's time over the faster of direct and FFT, worst size",
          float(ratio.max()), "1 = the planner always picked the faster one")
    if measured_cross is None:
        cross_text = f"at no size measured (up to n = {ks[-1]})"
    elif measured_cross == ks[0]:
        cross_text = f"at every size measured, n = {ks[0]} included"
    else:
        cross_text = f"from about n = {measured_cross:.3g} on"
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    s.add("load", "load average (1 min) over CPU cores during the run",
          f"{load:.2f} / {cores}", "above 1 per core, multithreaded code waits for its threads")
    busy = (" The machine was busy while measuring (load above its core count), which slows "
            "multithreaded code such as the compiled direct loops most." if load > cores else "")
    s.answer = (
        "Not in what a CNN computes, but in how fast it can be computed: the direct sum grows "
        f"with the kernel area n²N² while the FFT route costs the same for any kernel. On this "
        f"machine, for a {size}×{size} image, the FFT wins {cross_text} (the operation "
        f"counts cross at n = {format_value(op_cross)}); the planner's automatic choice stays "
        f"within {ratio.max():.2f}× of the faster algorithm at every size. CNN layers use "
        "mostly 3×3 kernels, where direct, im2col and Winograd win: that is why frameworks rarely "
        "use the FFT (Mathieu, Henaff and LeCun 2013 did, for large kernels)." + busy)
    ks_list = [int(k) for k in ks]
    sec = {m: list(v) for m, v in seconds.items()}
    ops = {"direct: N²n²": ops_direct.tolist(), "fft: 3 M log₂M + M": ops_fft.tolist()}
    s.figures.append(FigureSpec(
        "fft-timings",
        f"Left: time of convolab.convolve(x, w, 'same') on a {size}×{size} float64 image, "
        f"the median of {'one run' if quick else f'3 to {repeats} runs'} per point after a "
        "warm-up, with method='direct', 'fft' and 'auto' "
        "(the planner). Right: the operation counts the seed quotes, with constant factors set "
        "to 1, so only the growth is meaningful.",
        lambda: _plot().timings(ks_list, sec, ops, image_size=size, crossover=measured_cross,
                                op_crossover=op_cross)))
    return s


# ---------------------------------------------------------------------------
# seed 002 (and 000): frequency filtering


@_timed
def frequency(*, quick: bool = False) -> Section:
    """The spectrum, a circular low-pass mask, kept fraction against error, the /273 Gaussian.

    Examples
    --------
    >>> from convolab.tour.experiments import frequency
    >>> s = frequency(quick=True)
    >>> s.numbers['freq.theorem'] < 1e-12
    True
    >>> s.numbers['freq.noise_after'] < s.numbers['freq.noise_before']
    True
    """
    from .. import freq
    from ..demo import high_frequency_fraction

    s = Section("freq", "Frequency filtering: a circle of ones in the spectrum", "002/000",
                "如果我们使用傅里叶变换来变换原始图像，然后将其乘以在傅立叶域中由零填充的圆，则滤除了所有"
                "高频值 [...] 这就是jpeg压缩工作原理", "zh",
                "Transform an image, multiply it by a circle with zeros outside and transform "
                "back: the high frequencies are gone (seed 002; that is how JPEG works). Seed 000 "
                "smooths a face with the 5×5 Gaussian [1 4 7 4 1; …]/273.")
    size = 48 if quick else 128
    img = data.face(size)
    x = img.pixels
    radius = size / 8                            # a cutoff of 1/8 cycle per pixel
    spec = freq.spectrum(x)
    mask = freq.circular_mask(x.shape, radius)
    low = freq.filter_frequency(x, mask, centered=True)
    kept = float(mask.mean())
    err = _rms(x - low) / _rms(x)
    s.add("mask_radius", "radius of the circular mask (pixels of the spectrum)", radius,
          f"cutoff {radius / size:.3g} cycles/pixel")
    s.add("mask_kept", "fraction of coefficients inside the circle", kept)
    s.add("mask_error", "relative RMS error of the low-passed image", err)
    keeps = (0.01, 0.05, 0.2) if quick else (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for mode in ("lowpass", "largest"):
        fr, er = [], []
        for keep in keeps:
            c = freq.compress(x, keep, mode=mode)
            fr.append(c.kept_fraction)
            er.append(c.relative_rms)
        curves[mode] = (fr, er)
    s.add("compress_lowpass", "relative RMS error keeping the lowest frequencies, per kept "
          "fraction", [round(e, 4) for e in curves["lowpass"][1]],
          f"kept fractions {format_value([round(f, 4) for f in curves['lowpass'][0]])}")
    s.add("compress_largest", "relative RMS error keeping the largest coefficients",
          [round(e, 4) for e in curves["largest"][1]], "always lower: JPEG-style selection")
    g = gaussian_273()
    theorem = freq.convolution_theorem(x, g)
    s.add("theorem", "convolution theorem: max |ifft(fft(x)·fft(g)) − circular x ∗ g|",
          theorem.max_abs_difference, "rounding only")
    rng = np.random.default_rng(0)
    sigma = 0.1
    noisy = x + rng.normal(0.0, sigma, x.shape)
    smoothed = convolab.convolve2d(noisy, g, "same", boundary="symm")
    smoothed_clean = convolab.convolve2d(x, g, "same", boundary="symm")
    noise_before = _rms(noisy - x)
    noise_after = _rms(smoothed - smoothed_clean)
    predicted = sigma * math.sqrt(float(np.sum(g ** 2)))
    s.add("noise_before", "noise RMS before smoothing", noise_before, f"σ = {sigma}")
    s.add("noise_after", "noise RMS after the /273 Gaussian", noise_after,
          f"predicted σ·√Σg² = {predicted:.4f}")
    hf_before, hf_after = high_frequency_fraction(noisy), high_frequency_fraction(smoothed)
    s.add("high_frequency_before", "spectral energy above 0.25 cycles/pixel, noisy face",
          hf_before)
    s.add("high_frequency_after", "the same after smoothing", hf_after,
          "the Gaussian is a low-pass filter")
    lp, lg = curves["lowpass"][1], curves["largest"][1]
    s.answer = (
        f"A circle of radius {radius:g} pixels keeps {kept:.1%} of the Fourier coefficients and "
        f"rebuilds the face with a relative RMS error of {err:.3f}: the shapes stay, the fine "
        "detail goes, and rings appear at the edges of the sharp mask. Keeping more coefficients "
        f"lowers the error ({lp[0]:.3f} → {lp[-1]:.3f} for the lowest frequencies), and keeping "
        f"the largest ones instead does better still ({lg[0]:.3f} → {lg[-1]:.3f}), the idea "
        f"behind JPEG. The /273 Gaussian is the same kind of low-pass in space: it cuts the noise "
        f"from {noise_before:.3f} to {noise_after:.3f} (predicted {predicted:.3f}) and the "
        f"high-frequency energy from {hf_before:.1%} to {hf_after:.1%}.")
    mag = spec.magnitude
    masked = np.where(mask > 0, mag, 0.0)
    # pixel edges in cycles per pixel: the centred frequencies run from -1/2 up
    f0 = spec.frequencies[0]
    half = 0.5 / size
    extent = (f0[0] - half, f0[-1] + half, f0[-1] + half, f0[0] - half)
    fl = ("fx (cycles/pixel)", "fy (cycles/pixel)")
    s.figures.append(FigureSpec(
        "freq-lowpass",
        f"{img.source}, {size}×{size}: the centred log-magnitude spectrum log(1 + |F|), the "
        f"circular mask of radius {radius:g}, the spectrum that is kept, and the image "
        "transformed back.",
        lambda: _plot().images(
            [x, mag, mask, masked, low],
            ["image", "log(1 + |F|), centred", "mask (1 inside)", "kept spectrum",
             "low-passed image"], cmaps=["gray", "magma", "gray", "magma", "gray"],
            axis_labels=[None, fl, fl, fl, None], extents=[None, extent, extent, extent, None],
            panel_size=2.3, suptitle="frequency filtering with a circular mask")))
    s.figures.append(FigureSpec(
        "freq-compression",
        "The JPEG analogy: the fraction of Fourier coefficients kept against the relative RMS "
        "error of the image rebuilt from them, keeping the lowest frequencies (a disc, as the "
        "seed does) or the largest coefficients; the dot is the mask above.",
        lambda: _plot().curves(
            [], {"lowest frequencies (disc)": curves["lowpass"],
                 "largest coefficients": curves["largest"],
                 "the circular mask above": ([kept], [err])},
            styles={"the circular mask above": "ko"},
            xlabel="fraction of coefficients kept", ylabel="relative RMS error",
            title="keep some frequencies, drop the rest", logx=True, logy=True)))
    s.figures.append(FigureSpec(
        "freq-gaussian273",
        f"Seed 000's smoothing: the face with Gaussian noise σ = {sigma}, convolved with the "
        "5×5 kernel [1 4 7 4 1; …]/273 ('same', boundary 'symm').",
        lambda: _plot().images(
            [x, noisy, smoothed, g * 273],
            ["face", f"noisy (σ = {sigma})", "noisy ∗ G/273", "G (×273)"],
            cmaps=["gray", "gray", "gray", "Blues"], annotate=[False, False, False, True],
            axis_labels=[None, None, None, ("offset x", "offset y")],
            fmt="{:.0f}", suptitle="smoothing with the /273 Gaussian")))
    return s


# ---------------------------------------------------------------------------
# seed 002: diffusion


@_timed
def diffusion(*, quick: bool = False) -> Section:
    """A kernel applied repeatedly, the softmax edge propagator, the heat-kernel semigroup.

    Examples
    --------
    >>> from convolab.tour.experiments import diffusion
    >>> s = diffusion(quick=True)
    >>> s.numbers['diff.mass_change'] < 1e-12
    True
    >>> s.numbers['diff.semigroup'] < 1e-3
    True
    """
    from ..propagators import diffuse, heat_kernel, iter_diffuse, normalize

    s = Section("diff", "Convolution as diffusion: the kernel is a propagator", "002",
                "我们可以应用将卷积核转换为概率密度函数的归一化。这就像在分类任务中计算输出值的softmax。"
                "[...] 卷积被视为信息的扩散。", "zh",
                "Normalize the kernel into a probability density (a softmax, as for a "
                "classifier's outputs): it is the propagator of a diffusion, and convolution is "
                "the diffusion of information.")
    img = data.face(32 if quick else 96)
    x = img.pixels
    g = gaussian_273()
    shown = (0, 1, 4, 16) if quick else (0, 1, 4, 16, 64)
    frames = {}
    for n, u in enumerate(iter_diffuse(x, g, shown[-1], boundary="wrap")):
        if n in shown:
            frames[n] = u
    mass_change = abs(float(frames[shown[-1]].sum()) - float(x.sum())) / float(x.sum())
    s.add("steps", "steps shown", list(shown))
    s.add("mass_change", f"relative change of the total after {shown[-1]} steps ('wrap')",
          mass_change, "mass is conserved")
    s.add("contrast", f"standard deviation of the image: step 0 → step {shown[-1]}",
          [round(float(frames[0].std()), 4), round(float(frames[shown[-1]].std()), 4)],
          "differences even out")
    edge = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float)
    p = normalize(edge)
    p_centre, p_side = float(p[1, 1]), float(p[0, 0])
    step = convolab.convolve(x, p, "same", boundary="wrap")
    change = step - x
    lap = convolab.correlate(x, edge, "same", boundary="wrap")
    s.add("softmax_centre", "softmax of the edge detector: centre weight", p_centre,
          "e⁸ / (e⁸ + 8e⁻¹)")
    s.add("softmax_neighbour", "softmax of the edge detector: each neighbour", p_side)
    s.add("softmax_mass", "one step with the softmax kernel: relative change of the total",
          abs(float(step.sum() - x.sum())) / float(x.sum()), "conserved")
    s.add("softmax_is_edge", "max |(step − image) + p_neighbour · (image ⋆ edge)|",
          _maxdiff(change, -p_side * lap),
          "what moves is exactly the edge detector's response")
    t1, t2 = (0.5, 0.5) if quick else (1.0, 1.0)
    h1, h2 = heat_kernel(t1), heat_kernel(t2)
    both = convolab.convolve(h1, h2, "full")
    h12 = heat_kernel(t1 + t2, shape=both.shape)
    semigroup = _maxdiff(both, h12) / float(h12.max())
    s.add("semigroup", f"max |H(t={t1}) ∗ H(t={t2}) − H(t={t1 + t2})| / peak", semigroup,
          "sampling and truncation only")
    n = 8 if quick else 16
    delta = np.zeros((1, 1))
    delta[0, 0] = 1.0
    binomial = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    walked = diffuse(delta, binomial, n, mode="full", boundary="fill")
    heat = heat_kernel(n / 4, shape=walked.shape)        # variance n/2 = 2 t per axis
    clt = _maxdiff(walked, heat) / float(heat.max())
    s.add("binomial_vs_heat", f"{n} steps of the 3×3 binomial kernel against H(t = {n / 4:g}), "
          "max |difference| / peak", clt, "repeated small steps become the heat kernel")
    s.answer = (
        f"Yes: a kernel that sums to 1 redistributes every pixel's value over its neighbours, "
        f"and applying it again and again spreads it like heat (after {shown[-1]} steps of the "
        f"/273 Gaussian the total changed by {format_value(mass_change)}). The softmax of the "
        f"edge detector keeps {p_centre:.4f} in the centre, and what it moves is exactly the "
        f"edge detector's response (difference {format_value(_maxdiff(change, -p_side * lap))}), "
        "so the change concentrates at edges. Heat kernels compose: H(t₁) ∗ H(t₂) = H(t₁ + t₂) "
        f"to {format_value(semigroup)} of the peak, and {n} binomial steps are the heat kernel "
        f"to {format_value(clt)}.")
    panels = [frames[k] for k in shown]
    s.figures.append(FigureSpec(
        "diff-steps",
        f"{img.source}: 0 to {shown[-1]} applications of the /273 Gaussian with wrap-around "
        "edges (a torus): each step spreads every pixel over its 5×5 neighbourhood.",
        lambda: _plot().images(panels, [f"step {k}" for k in shown], units="grey level",
                               panel_size=2.2, vlim=(0.0, 1.0),
                               suptitle="repeated convolution diffuses")))
    s.figures.append(FigureSpec(
        "diff-softmax-edge",
        "The edge detector, its softmax (a propagator: non-negative, sum 1) and the change one "
        "step of it makes to the face: mass moves across edges.",
        lambda: _plot().images(
            [edge, p, change], ["edge detector", "softmax(edge)", "one step − image"],
            cmaps=["RdBu_r", "Blues", "gray"], symmetric=[True, False, True],
            axis_labels=[("offset x", "offset y"), ("offset x", "offset y"), None],
            annotate=[True, True, False], fmt="{:.3g}",
            suptitle="the softmax-normalized edge detector as a propagator")))
    mid = walked.shape[0] // 2
    offsets = np.arange(walked.shape[1]) - mid
    s.figures.append(FigureSpec(
        "diff-heat",
        f"The middle row of a point source after {n} steps of the 3×3 binomial kernel, and of "
        f"the heat kernel H(t = {n / 4:g}) (σ² = {n / 2:g}): the same curve.",
        lambda: _plot().curves(
            offsets, {f"{n} binomial steps": walked[mid], f"heat kernel t = {n / 4:g}": heat[mid]},
            styles={f"heat kernel t = {n / 4:g}": "k--"}, xlabel="offset (pixels)",
            ylabel="value (fraction of the mass)", title="repeated steps become the heat kernel")))
    return s


# ---------------------------------------------------------------------------
# seed 002: the stochastic reading


@_timed
def stochastic(*, quick: bool = False) -> Section:
    """Monte-Carlo convolution: averages over draws converge like 1/√n.

    Examples
    --------
    >>> from convolab.tour.experiments import stochastic
    >>> s = stochastic(quick=True)
    >>> -0.7 < s.numbers['mc.slope'] < -0.3
    True
    """
    from ..propagators import draw_variance, monte_carlo_error, stochastic_convolve

    s = Section("mc", "The stochastic reading: a random neighbour per pixel", "002",
                "对于每个像素，我们随机选择9个像素中的一个像素（具有核的概率），并且所得到的像素是所有这些像素的"
                "平均值", "zh",
                "For every pixel, pick one of its neighbours at random with the kernel's "
                "probabilities; the average over the draws is the convolution.")
    img = data.face(24 if quick else 48)
    x = img.pixels
    p = gaussian_273()
    exact = convolab.convolve(x, p, "same", boundary="wrap")
    shown = (1, 10, 100) if quick else (1, 10, 100, 1000)
    means = {n: stochastic_convolve(x, p, n, rng=n) for n in shown}
    counts = np.array((1, 4, 16, 64) if quick else (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
    errors = monte_carlo_error(x, p, counts, rng=1)
    var = float(draw_variance(x, p).mean())
    predicted = np.sqrt(var / counts)
    slope = float(np.polyfit(np.log(counts), np.log(errors), 1)[0])
    s.add("counts", "samples per pixel n", counts)
    s.add("errors", "RMS error of the average against the exact convolution",
          [float(f"{e:.3g}") for e in errors])
    s.add("predicted", "predicted √(mean draw variance / n)",
          [float(f"{e:.3g}") for e in predicted])
    s.add("slope", "fitted slope of log error against log n", slope, "−0.5 for 1/√n")
    s.add("ratio_last", f"measured / predicted error at n = {counts[-1]}",
          float(errors[-1] / predicted[-1]), "≈ 1")
    s.add("max_error_shown", f"max |average of {shown[-1]} draws − exact|",
          _maxdiff(means[shown[-1]], exact))
    s.answer = (
        "Yes, in expectation: if every pixel takes the value of one neighbour drawn with the "
        "kernel's probabilities, the average of many such draws is the convolution. The error "
        f"of the average falls like 1/√n (fitted slope {slope:.2f} on log axes) and matches the "
        f"predicted √(variance/n) (ratio {errors[-1] / predicted[-1]:.2f} at n = {counts[-1]}), "
        "so a single draw is noisy but the mean converges to the deterministic result.")
    panels = [means[n] for n in shown] + [exact]
    titles = [f"{n} draw{'s' if n > 1 else ''}" for n in shown] + ["exact convolution"]
    s.figures.append(FigureSpec(
        "mc-averages",
        f"{img.source}: the average of n random-neighbour draws per pixel with the /273 "
        "Gaussian's probabilities, next to the exact convolution ('same', wrap).",
        lambda: _plot().images(panels, titles, units="grey level", panel_size=2.2,
                               vlim=(0.0, 1.0),
                               suptitle="Monte-Carlo averages converge to the convolution")))
    s.figures.append(FigureSpec(
        "mc-error",
        "RMS error of the Monte-Carlo average against the exact convolution, with the predicted "
        "√(mean draw variance / n): a line of slope −1/2 on log-log axes.",
        lambda: _plot().curves(
            counts, {"measured RMS error": errors, "predicted √(σ²/n), slope −1/2": predicted},
            styles={"predicted √(σ²/n), slope −1/2": "k--"},
            xlabel="samples per pixel n", ylabel="RMS error (grey levels)",
            title="the error falls like 1/√n", logx=True, logy=True)))
    return s


# ---------------------------------------------------------------------------
# seed 002: cross-correlation through convolution, template matching


@_timed
def matching(*, quick: bool = False) -> Section:
    """Correlation is convolution with the rotated kernel; template matching finds a planted face.

    Examples
    --------
    >>> from convolab.tour.experiments import matching
    >>> s = matching(quick=True)
    >>> s.numbers['match.found'] == s.numbers['match.planted']
    True
    """
    from ..match import find_peaks, match_template, rotate180

    s = Section("match", "Cross-correlation by rotated convolution, and template matching", "002",
                "对于图像，我们可以简单地将搜索图像倒置，以通过卷积执行互相关。[...] 结果将是在面部与人匹配的"
                "位置处具有一个或多个明亮像素的图像。", "zh",
                "Cross-correlation is a convolution with the kernel rotated by 180°; correlating "
                "a picture with a face gives bright pixels where the face matches.")
    size, m = (64, 12) if quick else (128, 16)
    scene, template, planted = data.planted_template(size, m)
    corr = convolab.correlate(scene, template, "valid", method="direct")
    conv_rot = convolab.convolve(scene, rotate180(template), "valid", method="direct")
    by_fft = convolab.fftconvolve(scene, rotate180(template), "valid")
    s.add("rot180", "max |correlate(x, t) − convolve(x, rot180(t))| (direct)",
          _maxdiff(corr, conv_rot), "the same sums")
    s.add("rot180_fft", "max |correlate(x, t) − fftconvolve(x, rot180(t))|",
          _maxdiff(corr, by_fft), f"values up to {np.abs(corr).max():.3g}: FFT rounding")
    score = match_template(scene, template)
    peaks = find_peaks(score, min_distance=max(1, m // 2), max_peaks=2)
    found = tuple(int(v) for v in peaks[0])
    raw_best = tuple(int(v) for v in np.unravel_index(np.argmax(corr), corr.shape))
    s.add("planted", "planted at (row, column) of the top-left corner", planted)
    s.add("found", "best normalized-correlation match", found)
    s.add("peak_score", "its score (Pearson's r)", float(score[found]), "1 = perfect match")
    if len(peaks) > 1:
        s.add("second_score", "the next-best match's score", float(score[tuple(peaks[1])]))
    s.add("raw_best", "best raw correlation Σ t·x (not normalized)", raw_best,
          "bright regions win without normalization")
    hit = found == planted
    raw_text = ("the same place" if raw_best == planted
                else "elsewhere: bright areas win without normalization")
    s.answer = (
        "Correlation is convolution with the kernel rotated by 180°: the two differ by "
        f"{format_value(_maxdiff(corr, conv_rot))} computed directly, and by "
        f"{format_value(_maxdiff(corr, by_fft))} when the convolution runs through a zero-padded "
        f"FFT. Normalized per window, the correlation finds the face planted at {planted} "
        f"{'exactly' if hit else f'at {found}'} (score {float(score[found]):.3f}); the raw "
        f"correlation's brightest pixel is at {raw_best}, "
        f"{raw_text}.")
    s.figures.append(FigureSpec(
        "match-template",
        f"A {m}×{m} generated face planted in a generated scene ({size}×{size}, "
        "Gaussian noise σ = 0.05); the score is the normalized cross-correlation "
        "(convolab.match.match_template, 'ccoeff_normed'), the box is its best peak.",
        lambda: _plot().match_result(scene, score, template, found, planted,
                                     score_label="Pearson's r")))
    return s


# ---------------------------------------------------------------------------
# seed 000: a CNN learns the same with convolution or correlation


@_timed
def learning(*, quick: bool = False) -> Section:
    """The same CNN trained with correlation and with convolution layers learns rotated filters.

    Needs scikit-learn (its bundled 8×8 digits); without it the section says so.

    Examples
    --------
    >>> from convolab.tour.experiments import learning
    >>> s = learning(quick=True)
    >>> s.note or s.numbers['learn.max_kernel_difference'] < 1e-9
    True
    """
    s = Section("learn", "A CNN learns the same with convolution or correlation", "000",
                "se uma CNN pode aprender a executar uma tarefa específica usando a operação de "
                "convolução, também pode aprender a executar a mesma tarefa usando a operação de "
                "correlação (aprenderia a versão rotacionada de cada filtro).", "pt",
                "If a CNN can learn a task with convolution, it can learn it with correlation: "
                "it learns the rotated version of each filter.")
    try:
        import sklearn  # noqa: F401  (the digits ship inside scikit-learn)
    except ImportError:
        s.note = ("This experiment needs scikit-learn (for its bundled 8×8 digits), which is not "
                  "installed here; install it to see the two trainings compared.")
        s.answer = "Not measured on this machine: scikit-learn is missing."
        return s
    from ..nn.experiments import learn_digits, rotate180

    epochs, channels = (1, (4, 4)) if quick else (8, (8, 8))
    r = learn_digits(epochs=epochs, channels=channels)
    corr, conv = r["correlation"], r["convolution"]
    k_corr, k_conv = corr.kernels[0][:, 0], conv.kernels[0][:, 0]
    s.add("epochs", "epochs of plain SGD (8×8 digits, conv 1→c 3×3, conv c→c 3×3, linear)",
          epochs)
    s.add("losses_correlation", "mean loss per epoch, correlation layers",
          [round(v, 5) for v in corr.losses])
    s.add("losses_convolution", "mean loss per epoch, convolution layers (rotated start)",
          [round(v, 5) for v in conv.losses])
    s.add("test_accuracy", "test accuracy: correlation / convolution",
          [round(corr.test_accuracy, 4), round(conv.test_accuracy, 4)])
    s.add("max_loss_difference", "max |loss difference| over the epochs",
          r["max_loss_difference"], "the same training")
    s.add("max_kernel_difference", "max |rot180(K_corr) − K_conv| over every learned kernel",
          r["max_kernel_difference"], "rotations of each other")
    s.add("unrotated_difference", "max |K_corr − K_conv| (not rotated), first layer",
          _maxdiff(k_corr, k_conv), "the filters themselves differ")
    s.answer = (
        f"Yes. The same small CNN trained for {epochs} epoch{'s' if epochs > 1 else ''} on the "
        "8×8 digits with correlation layers, and again with true convolution layers started "
        "from the rotated kernels, follows the same losses (largest difference "
        f"{format_value(r['max_loss_difference'])}) to the same test accuracy "
        f"({corr.test_accuracy:.1%}); the learned convolution kernels are the correlation "
        f"kernels rotated by 180° (difference {format_value(r['max_kernel_difference'])}).")
    rows = {"correlation K": k_corr, "convolution K": k_conv,
            "rot180(convolution K)": rotate180(k_conv)}
    s.figures.append(FigureSpec(
        "learn-filters",
        f"The {k_corr.shape[0]} first-layer 3×3 filters learned with correlation layers, with "
        "convolution layers, and the latter rotated by 180°: the first and last rows are the "
        "same.",
        lambda: _plot().filter_rows(rows, suptitle="learned filters: convolution learns the "
                                                   "rotated filter")))
    return s


#: every experiment, in the order of the report
EXPERIMENTS: tuple[Callable[..., Section], ...] = (
    flip, dot_product, why_fft, frequency, diffusion, stochastic, matching, learning)
