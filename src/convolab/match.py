"""Template matching: normalized cross-correlation by FFT plus running sums.

Seed 002 ends with cross-correlation computed as a convolution with the kernel
rotated by 180 degrees (:func:`rotate180`), and with template matching: slide a
template over an image and the score map shows a bright spot where the
template fits.  A raw correlation ``sum(T * I)`` is not enough for that (any
bright region scores high), so the score is normalized per window.  This
module computes the six scores of OpenCV's ``cv2.matchTemplate`` and the one of
``skimage.feature.match_template`` (the same as OpenCV's ``TM_CCOEFF_NORMED``):

==================  ==========================================================
``method``          score of the window ``I`` under the template ``T``
==================  ==========================================================
``'ccorr'``         ``sum(T I)``
``'ccorr_normed'``  ``sum(T I) / sqrt(sum(T**2) sum(I**2))``
``'ccoeff'``        ``sum(T' I')`` with ``T' = T - mean(T)``, ``I' = I - mean(I)``
``'ccoeff_normed'`` ``sum(T' I') / sqrt(sum(T'**2) sum(I'**2))`` (Pearson's r)
``'sqdiff'``        ``sum((T - I)**2)`` (small is good)
``'sqdiff_normed'`` ``sum((T - I)**2) / sqrt(sum(T**2) sum(I**2))``
==================  ==========================================================

How it is computed, never with a loop over windows:

* the only term that mixes template and image, ``sum(T I)``, is one
  cross-correlation, done by :func:`convolab.correlate` (``mode='valid'``,
  ``method='auto'``: the planner picks FFT for all but small templates);
* the window sums of ``I`` and ``I**2`` are running sums in float64.  They are
  taken block-wise (prefix and suffix sums inside blocks as long as the
  window, the van Herk/Gil-Werman scheme), so each window sum adds only the
  samples of that window: rounding stays local and an all-zero window sums to
  exactly 0, unlike a cumulative sum over the whole image;
* the image is shifted by its mean first where the score allows it
  (``ccoeff``, ``sqdiff``), which keeps ``sum(I**2) - sum(I)**2 / n`` from
  cancelling on images with a large offset.

Masks and NaN.  ``mask=`` weighs the template pixels exactly as OpenCV's
``mask`` does (weights ``M`` for the means, ``M**2`` for the sums of
products).  A NaN (or infinity) in the template joins the mask; a NaN in the
image is excluded from the sums of every window that holds it, so each window
is scored on its valid pixels (Padfield's masked normalized cross-correlation,
IEEE TIP 2012).  Then the window sums are correlations with the mask, again
by :func:`convolab.correlate`.  NaN never spreads over the score map and never
moves the best match, where scikit-image returns a map full of NaN and OpenCV
a silently wrong one (both measured in the project's ecosystem notes).

:func:`find_peaks` reads the best matches off a score map
(``skimage.feature.peak_local_max``'s rules).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .errors import ConvolabError, not_one_of

__all__ = ["METHODS", "match_template", "find_peaks", "rotate180"]

#: The accepted ``method=`` names, OpenCV's ``TM_*`` methods in lower case.
METHODS = ("ccoeff_normed", "ccorr_normed", "sqdiff", "sqdiff_normed", "ccorr", "ccoeff")

# cv2.TM_SQDIFF == 0, ..., cv2.TM_CCOEFF_NORMED == 5
_CV2_CODES = {0: "sqdiff", 1: "sqdiff_normed", 2: "ccorr", 3: "ccorr_normed", 4: "ccoeff",
              5: "ccoeff_normed"}

_EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------------------
# running window reductions


def _running(a: np.ndarray, m: int, axis: int, op: np.ufunc, identity: float) -> np.ndarray:
    """``op``-reduce every window of ``m`` consecutive samples along ``axis``.

    The axis is cut into blocks of length ``m``.  A window starting at a block
    boundary is a whole block (a suffix scan gives it); any other window is
    the tail of one block (suffix scan) plus the head of the next (prefix
    scan).  O(n) work whatever ``m``, and each result combines only samples of
    its own window.  Output length ``len - m + 1``.
    """
    if m == 1:
        return a.copy()
    length = a.shape[axis]
    n_out = length - m + 1
    blocks = -(-length // m)
    if blocks * m != length:
        pad = [(0, 0)] * a.ndim
        pad[axis] = (0, blocks * m - length)
        a = np.pad(a, pad, constant_values=identity)
    tiles = a.reshape(a.shape[:axis] + (blocks, m) + a.shape[axis + 1:])
    prefix = op.accumulate(tiles, axis=axis + 1).reshape(a.shape)
    tiles = np.flip(tiles, axis=axis + 1)
    suffix = np.flip(op.accumulate(tiles, axis=axis + 1), axis=axis + 1).reshape(a.shape)

    def cut(start: int, stop: int, step: int = 1) -> tuple:
        return (slice(None),) * axis + (slice(start, stop, step),)

    out = op(suffix[cut(0, n_out)], prefix[cut(m - 1, m - 1 + n_out)])
    # a window starting on a block boundary is that block alone
    out[cut(0, n_out, m)] = suffix[cut(0, n_out, m)]
    return out


def _box_sum(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum of every ``shape``-sized window of ``a`` (the 'valid' box filter)."""
    for axis, m in enumerate(shape):
        a = _running(a, m, axis, np.add, 0.0)
    return a


# ---------------------------------------------------------------------------
# argument checking


def _check_method(method: Any) -> str:
    if isinstance(method, numbers.Integral) and not isinstance(method, bool) \
            and int(method) in _CV2_CODES:
        return _CV2_CODES[int(method)]
    if isinstance(method, str):
        name = method.lower()
        name = name[3:] if name.startswith("tm_") else name
        if name in METHODS:
            return name
    raise not_one_of("method", method, METHODS,
                     "OpenCV's names ('TM_CCOEFF_NORMED') and codes (cv2.TM_*) are accepted too")


def _real_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ConvolabError(f"{name} has dtype {arr.dtype}; template matching needs real numbers "
                            "(allowed: bool, integer or float arrays)")
    return arr


def _output_dtype(image: np.ndarray) -> np.dtype:
    """scikit-image's rule: float32 (and float16) images give float32, others float64."""
    if image.dtype.kind == "f" and image.dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _template_weights(template: np.ndarray, mask: Any) -> np.ndarray:
    """Per-pixel template weights: the mask (binary for bool/integer masks, as
    OpenCV reads a uint8 mask; weights for float masks), zero on non-finite
    template pixels."""
    if mask is None:
        weights = np.ones(template.shape)
    else:
        m = _real_array("mask", mask)
        if m.shape != template.shape:
            raise ConvolabError(f"mask has shape {m.shape}; it must have the template's shape "
                                f"{template.shape}")
        if m.dtype.kind in "biu":
            weights = (m != 0).astype(np.float64)
        else:
            weights = m.astype(np.float64)
            if not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ConvolabError("mask holds negative or non-finite weights; allowed: finite "
                                    "weights >= 0 (or a boolean mask)")
    weights = np.where(np.isfinite(template), weights, 0.0)
    if not np.any(weights > 0):
        raise ConvolabError("the template has no pixel to match: every pixel is masked out or "
                            "NaN; allowed: a mask (and template) with at least one valid pixel")
    return weights


def _pad(image: np.ndarray, shape: tuple[int, ...], mode: Any,
         constant_values: Any) -> np.ndarray:
    """scikit-image's padding for ``pad_input=True``: the output has the
    image's size and each score belongs to the template centre
    (``m // 2`` samples before, ``(m - 1) // 2`` after)."""
    # Pad as wide as scikit-image does (the template size on both sides) and
    # crop, so that width-dependent numpy modes ('linear_ramp') agree too.
    width = tuple((m, m) for m in shape)
    try:
        if mode == "constant":
            padded = np.pad(image, width, mode=mode, constant_values=constant_values)
        else:
            padded = np.pad(image, width, mode=mode)
    except (ValueError, TypeError) as err:
        raise ConvolabError(f"mode={mode!r} (constant_values={constant_values!r}) could not pad "
                            f"the image: {err}; allowed: a numpy.pad mode such as 'constant', "
                            "'edge', 'reflect', 'symmetric' or 'wrap'") from None
    keep = tuple(slice(m - m // 2, m - m // 2 + n + m - 1) for m, n in zip(shape, image.shape))
    return padded[keep]


# ---------------------------------------------------------------------------
# window sums: sum over the window of f(image) * g(template)


class _WindowSums:
    """The sums ``S(f, g) = sum_p f(I)[x + p] * g(T)[p]`` for every window ``x``.

    ``f`` is one of the image-side arrays (validity ``v``, ``v x``, ``v x**2``)
    and ``g`` one of the template-side ones (``w``, ``w**2``, ``w**2 t``...).
    When the image has no invalid pixel a sum with ``v`` is a constant; when
    ``g`` is constant the sum is a running box sum; every other sum is one
    cross-correlation, all of them done in one batched :func:`convolab.correlate`
    call.  Each sum comes with a bound on its rounding error, used to decide
    when a variance is zero.
    """

    def __init__(self, image_side: dict[str, np.ndarray], template_side: dict[str, np.ndarray],
                 all_valid: bool):
        self.f = image_side
        self.g = template_side
        self.all_valid = all_valid
        self.tshape = next(iter(template_side.values())).shape
        self.values: dict[tuple[str, str], Any] = {}
        self.errors: dict[tuple[str, str], Any] = {}
        # with a binary mask (no weights) M**2 == M: the same sums serve both
        w = template_side["w"]
        self.alias = {"w2": "w", "w2t": "wt"} if np.all((w == 0) | (w == 1)) else {}

    def compute(self, pairs: list[tuple[str, str]]) -> None:
        from .signal import correlate

        fft_pairs = []
        for f, g in dict.fromkeys((f, self.alias.get(g, g)) for f, g in pairs):
            kernel = self.g[g]
            if f == "v" and self.all_valid:
                self.values[f, g] = float(np.sum(kernel))
                self.errors[f, g] = kernel.size * _EPS * float(np.sum(np.abs(kernel)))
            elif np.all(kernel == kernel.flat[0]):
                box = _box_sum(self.f[f], self.tshape)
                if kernel.flat[0] != 1:
                    box *= kernel.flat[0]
                self.values[f, g] = box
                # each box sum adds only the window's samples, sum(m) at a time
                self.errors[f, g] = (sum(self.tshape) * _EPS, box)
            else:
                fft_pairs.append((f, g))
        if fft_pairs:
            ndim = len(self.tshape)
            stack_f = np.stack([self.f[f] for f, _ in fft_pairs])
            stack_g = np.stack([self.g[g] for _, g in fft_pairs])
            sums = correlate(stack_f, stack_g, mode="valid", method="auto",
                             axes=tuple(range(1, ndim + 1)))
            # error of an FFT correlation: ~ eps log2(n) |f|_2 |g|_2 per output
            log_n = math.log2(max(2, stack_f[0].size))
            for (f, g), s in zip(fft_pairs, sums):
                self.values[f, g] = s
                factor = 4 * _EPS * (log_n + sum(self.tshape))
                self.errors[f, g] = (factor, s,
                                     factor * np.linalg.norm(self.f[f]) * np.linalg.norm(self.g[g]))

    def __call__(self, f: str, g: str) -> Any:
        return self.values[f, self.alias.get(g, g)]

    def err(self, f: str, g: str) -> Any:
        """Bound on the rounding error of ``S(f, g)`` (computed when asked)."""
        error = self.errors[f, self.alias.get(g, g)]
        if not isinstance(error, tuple):
            return error
        factor, value, offset = error + (0.0,) * (3 - len(error))
        return factor * np.abs(value) + offset


def _variance(s2: Any, s1: Any, mean: Any, n2: Any, err: Any) -> tuple[Any, Any]:
    """Weighted window variance ``sum M**2 (y - mean)**2`` from its sums, and
    whether it is zero within rounding (``err`` bounds the error of the sums)."""
    var = s2 - mean * (2 * s1 - mean * n2)
    flat = var <= 8 * err
    return np.maximum(var, 0.0, out=var if isinstance(var, np.ndarray) else None), flat


# ---------------------------------------------------------------------------
# public functions


def match_template(image: Any, template: Any, pad_input: bool = False, mode: Any = "constant",
                   constant_values: Any = 0, *, method: Any = "ccoeff_normed",
                   mask: Any = None) -> np.ndarray:
    """Score every placement of a template on an image (template matching).

    A drop-in for ``skimage.feature.match_template`` (same positional
    arguments, output size, padding and dtype), with OpenCV's six scores
    (``cv2.matchTemplate``), OpenCV's ``mask`` and NaN handled as missing
    data.

    Parameters
    ----------
    image : array_like, (M, N[, P, ...])
        Real image, any number of dimensions (scikit-image takes 2-D and 3-D,
        OpenCV 2-D).  NaN and infinities are missing pixels.
    template : array_like, (m, n[, p, ...])
        Template with the image's dimensionality and ``m <= M``, ``n <= N``...
        NaN and infinities are masked template pixels.
    pad_input : bool, optional
        False (default): the output has shape ``(M - m + 1, N - n + 1, ...)``
        and ``out[i, j]`` scores the template with its top-left corner at
        ``(i, j)``.  True: the image is padded (``numpy.pad`` with ``mode`` and
        ``constant_values``) so that the output has the image's shape and
        ``out[i, j]`` scores the template centred at ``(i, j)`` (centre
        ``m // 2``).
    mode : str, optional
        ``numpy.pad`` mode for ``pad_input=True`` (default ``'constant'``).
        Padding with ``constant_values=np.nan`` scores border windows on
        their inside part only.
    constant_values : scalar, optional
        Value for ``mode='constant'`` (default 0).
    method : str or int, optional, keyword-only
        ``'ccoeff_normed'`` (default, scikit-image's score, Pearson's r in
        [-1, 1]), ``'ccorr_normed'``, ``'sqdiff'``, ``'sqdiff_normed'``,
        ``'ccorr'`` or ``'ccoeff'``, with OpenCV's ``TM_*`` definitions (see
        the module docstring).  OpenCV's names (``'TM_SQDIFF'``) and integer
        codes (``cv2.TM_SQDIFF``) are accepted.  For the ``sqdiff`` methods
        the best match is the *smallest* score.
    mask : array_like, optional, keyword-only
        Template-shaped weights, as OpenCV's ``mask``: a bool or integer mask
        selects pixels (nonzero = used); a float mask weighs them (``>= 0``),
        ``M`` in the means and ``M**2`` in the sums of products.

    Returns
    -------
    ndarray
        The score map; float32 for float32 (and float16) images, else float64
        (scikit-image's rule).  Normalized correlation scores are clipped to
        [-1, 1] against rounding.  Where a score is undefined it is set as
        follows (OpenCV and scikit-image differ, see Notes):

        * ``ccoeff_normed``: 0 on windows of zero variance (flat) and
          everywhere for a flat template;
        * ``ccorr_normed``: 0 on all-zero windows or an all-zero template;
        * ``sqdiff_normed``: 1 there (OpenCV's value);
        * windows with no valid pixel (all NaN): 0 for the correlation
          methods, 1 for ``sqdiff_normed`` and the largest score of the map
          for ``sqdiff``, so that they never win.

    Raises
    ------
    ConvolabError
        For an unknown ``method``, a template larger than the image or of
        another dimensionality, complex input, a mask of the wrong shape or
        with negative weights, a template with no valid pixel, or a padding
        mode numpy rejects.

    Notes
    -----
    *NaN.*  An invalid image pixel is left out of every window that holds it:
    the window is scored on its valid pixels with the template pixels over
    them (the template mean and norm are recomputed per window, Padfield's
    masked NCC).  For the unnormalized ``ccorr``, ``ccoeff`` and ``sqdiff``
    the sum over the valid pixels is scaled up by
    ``sum(M**2) / sum(M**2 over valid pixels)`` (normalized convolution), so
    windows with missing pixels stay comparable with complete ones.  With no
    NaN in the image nothing is rescaled.

    *Flat windows.*  A window is flat when its variance is zero within the
    rounding error of the sums (a float64 bound, about ``1e-13`` of the
    window's energy).  scikit-image returns 0 where the denominator is below
    the dtype's eps (an absolute threshold); OpenCV returns 0 where the
    window variance is below ``1.2e-6`` of the window's energy (float32) and
    **1 everywhere** for a flat template in ``TM_CCOEFF_NORMED``.  OpenCV
    saturates ``TM_SQDIFF_NORMED`` at 1 (the ratio itself exceeds 1 where a
    window and the template differ widely in energy, e.g. a dark window under
    a bright template) but not when given a ``mask``; here it is always
    saturated, so ``sqdiff_normed`` lies in [0, 1] with or without a mask.

    Examples
    --------
    A template cut from an image is found where it was cut:

    >>> import numpy as np
    >>> from convolab.match import match_template, find_peaks
    >>> rng = np.random.default_rng(0)
    >>> image = rng.random((40, 50))
    >>> template = image[12:20, 30:37]
    >>> score = match_template(image, template)
    >>> score.shape
    (33, 44)
    >>> find_peaks(score, max_peaks=1)
    array([[12, 30]])
    >>> print(round(float(score[12, 30]), 6))
    1.0

    NaN in the image, even inside the matching window, neither spreads nor
    moves the match:

    >>> image[14, 33] = image[2, 5] = np.nan
    >>> score = match_template(image, template)
    >>> bool(np.isnan(score).any()), find_peaks(score, max_peaks=1).tolist()
    (False, [[12, 30]])

    OpenCV's other scores; for ``sqdiff`` the best match is the minimum:

    >>> sq = match_template(image, template, method='sqdiff')
    >>> np.unravel_index(np.argmin(sq), sq.shape)
    (np.int64(12), np.int64(30))
    """
    method = _check_method(method)
    image = _real_array("image", image)
    template = _real_array("template", template)
    if image.ndim == 0 or image.ndim != template.ndim:
        raise ConvolabError(f"template has shape {template.shape} and image {image.shape}; "
                            "allowed: arrays with the same number (>= 1) of dimensions")
    if image.size == 0 or template.size == 0:
        raise ConvolabError(f"empty input (image {image.shape}, template {template.shape}); "
                            "both need at least one element")
    if any(m > n for m, n in zip(template.shape, image.shape)):
        raise ConvolabError(f"template of shape {template.shape} is larger than the image "
                            f"{image.shape}; allowed: a template no larger than the image on "
                            "every axis")
    out_dtype = _output_dtype(image)
    weights = _template_weights(template, mask)
    tshape = template.shape

    x = image.astype(np.float64)
    if pad_input:
        x = _pad(x, tshape, mode, constant_values)
    valid = np.isfinite(x)
    all_valid = bool(valid.all())
    if not all_valid:
        x = np.where(valid, x, 0.0)
    t = np.where(weights > 0, template, 0.0).astype(np.float64)
    out_shape = tuple(n - m + 1 for n, m in zip(x.shape, tshape))

    # Shift image and template where the score does not change (see module docs).
    shifted = method in ("ccoeff", "ccoeff_normed", "sqdiff") and valid.any()
    image_shift = float(x[valid].mean()) if shifted else 0.0
    if method in ("ccoeff", "ccoeff_normed"):
        template_shift = float(np.sum(weights * t) / np.sum(weights))
    else:
        template_shift = image_shift if method == "sqdiff" else 0.0
    xs = x - image_shift if all_valid else np.where(valid, x - image_shift, 0.0)
    ts = np.where(weights > 0, t - template_shift, 0.0)

    v = valid.astype(np.float64)
    w2 = weights * weights
    image_side = {"v": v, "x": xs, "x2": xs * xs}
    template_side = {"w": weights, "w2": w2, "wt": weights * ts, "w2t": w2 * ts,
                     "w2t2": w2 * ts * ts}
    sums = _WindowSums(image_side, template_side, all_valid)

    pairs = [("v", "w2"), ("x", "w2t")]           # sum M**2 and sum M**2 t x
    if method in ("ccoeff", "ccoeff_normed"):
        pairs += [("v", "w"), ("x", "w"), ("v", "wt"), ("x", "w2"), ("v", "w2t")]
    if method not in ("ccorr", "ccoeff"):
        pairs += [("x2", "w2"), ("v", "w2t2")]    # window and template energies
    sums.compute(pairs)

    n2 = sums("v", "w2")
    empty = n2 <= 8 * sums.err("v", "w2") if not all_valid else np.zeros(out_shape, bool)
    n2_safe = np.where(empty, 1.0, n2)

    if method in ("ccoeff", "ccoeff_normed"):
        n1 = sums("v", "w")
        n1_safe = np.where(empty, 1.0, n1)
        mean_x = sums("x", "w") / n1_safe     # weighted window means (weights M)
        mean_t = sums("v", "wt") / n1_safe
        num = (sums("x", "w2t") - mean_x * sums("v", "w2t") - mean_t * sums("x", "w2")
               + mean_x * mean_t * n2)
        if method == "ccoeff":
            score = num
        else:
            var_x, flat_x = _variance(sums("x2", "w2"), sums("x", "w2"), mean_x, n2,
                                      sums.err("x2", "w2") + np.abs(mean_x) * sums.err("x", "w2"))
            var_t, flat_t = _variance(sums("v", "w2t2"), sums("v", "w2t"), mean_t, n2,
                                      sums.err("v", "w2t2")
                                      + np.abs(mean_t) * sums.err("v", "w2t"))
            flat = flat_x | flat_t | _flat_template(template, weights)
            score = np.clip(num / np.sqrt(np.where(flat, 1.0, var_x * var_t)), -1.0, 1.0)
            score = np.where(flat, 0.0, score)
    elif method == "ccorr":
        score = sums("x", "w2t")
    else:
        cross = sums("x", "w2t")              # sum M**2 t x
        energy_x = np.maximum(sums("x2", "w2"), 0.0)
        energy_t = np.maximum(sums("v", "w2t2"), 0.0)
        sqdiff = np.maximum(energy_t - 2 * cross + energy_x, 0.0)
        if method == "sqdiff":
            score = sqdiff
        else:
            zero = (energy_x <= 8 * sums.err("x2", "w2")) | (energy_t <= 8 * sums.err("v", "w2t2"))
            denom = np.sqrt(np.where(zero, 1.0, energy_x * energy_t))
            if method == "ccorr_normed":
                score = np.where(zero, 0.0, np.clip(cross / denom, -1.0, 1.0))
            else:
                # saturated at 1 as OpenCV does (the ratio itself is unbounded)
                score = np.where(zero, 1.0, np.clip(sqdiff / denom, 0.0, 1.0))

    if not all_valid:
        if method in ("ccorr", "ccoeff", "sqdiff"):
            # normalized-convolution estimate of the sum over the whole template
            score = score * (np.sum(w2) / n2_safe)
        fallback = {"sqdiff_normed": 1.0}.get(method, 0.0)
        if method == "sqdiff" and not empty.all():
            fallback = float(np.max(score[~empty]))
        score = np.where(empty, fallback, score)
    return np.asarray(score, dtype=out_dtype).reshape(out_shape)


def _flat_template(template: np.ndarray, weights: np.ndarray) -> bool:
    """Exactly flat: every used template pixel has the same value."""
    used = template[weights > 0]
    return bool(used.size == 0 or np.all(used == used[0]))


def find_peaks(score: Any, threshold: Any = None, min_distance: int = 1, max_peaks: Any = None,
               *, exclude_border: Any = False, minimum: bool = False) -> np.ndarray:
    """Coordinates of the local maxima of a score map, best first.

    The rules of ``skimage.feature.peak_local_max``: a peak is a sample equal
    to the maximum of the ``(2 min_distance + 1)``-wide window around it
    (edge samples repeated beyond the border) and strictly above
    ``threshold``; a map with no variation has no peak; peaks are taken in
    decreasing score and any peak closer than ``min_distance`` (Chebyshev
    distance) to a better one is dropped, so tied plateaus give one peak.

    Parameters
    ----------
    score : array_like
        Real score map, any number of dimensions.  NaN is never a peak.
    threshold : float, optional
        Peaks must score strictly above it (below it with ``minimum=True``).
        Default: the map's minimum (maximum), as peak_local_max's
        ``threshold_abs``.
    min_distance : int, optional
        Smallest distance between two peaks, >= 1 (default 1).
    max_peaks : int, optional
        Return at most this many (the best ones); default all.
    exclude_border : bool, int or tuple of int, optional, keyword-only
        Drop peaks within this many samples of the border (per axis with a
        tuple); True means ``min_distance``.  Default False (peak_local_max
        defaults to True).
    minimum : bool, optional, keyword-only
        Find minima instead: the best matches of the ``sqdiff`` methods.
        The same as ``find_peaks(-score, -threshold, ...)``.

    Returns
    -------
    ndarray of int, shape (k, score.ndim)
        One row of coordinates per peak, the best score first (ties in
        C order).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.match import find_peaks
    >>> score = np.zeros((7, 7))
    >>> score[3, 2], score[3, 4], score[0, 6] = 1.5, 1.0, 0.5
    >>> find_peaks(score).tolist()
    [[3, 2], [3, 4], [0, 6]]
    >>> find_peaks(score, min_distance=2).tolist()
    [[3, 2], [0, 6]]
    >>> find_peaks(score, threshold=0.7, exclude_border=True).tolist()
    [[3, 2], [3, 4]]
    >>> find_peaks(-score, minimum=True, max_peaks=1).tolist()
    [[3, 2]]
    """
    s = _real_array("score", score).astype(np.float64)
    if s.ndim == 0 or s.size == 0:
        raise ConvolabError(f"score has shape {s.shape}; allowed: a non-empty array")
    if isinstance(min_distance, bool) or not isinstance(min_distance, numbers.Integral) \
            or min_distance < 1:
        raise ConvolabError(f"min_distance={min_distance!r} is not allowed; allowed: an integer "
                            ">= 1")
    if max_peaks is not None and (isinstance(max_peaks, bool)
                                  or not isinstance(max_peaks, numbers.Integral) or max_peaks < 0):
        raise ConvolabError(f"max_peaks={max_peaks!r} is not allowed; allowed: None or an "
                            "integer >= 0")
    border = _border_widths(exclude_border, int(min_distance), s.ndim)
    if minimum:
        s = -s
        threshold = None if threshold is None else -float(threshold)
    s = np.where(np.isnan(s), -np.inf, s)
    d = int(min_distance)

    if s.size == 1:
        peak = s > (s.min() if threshold is None else threshold)
    else:
        local_max = np.pad(s, d, mode="edge")
        for axis in range(s.ndim):
            local_max = _running(local_max, 2 * d + 1, axis, np.maximum, -np.inf)
        peak = s == local_max
        if peak.all():
            return np.zeros((0, s.ndim), dtype=np.intp)   # no variation, no peak
        peak &= s > (s.min() if threshold is None else threshold)
    for axis, width in enumerate(border):
        if width:
            index = [slice(None)] * s.ndim
            index[axis] = slice(None, width)
            peak[tuple(index)] = False
            index[axis] = slice(-width, None)
            peak[tuple(index)] = False

    coords = np.argwhere(peak)
    coords = coords[np.argsort(-s[tuple(coords.T)], kind="stable")]
    limit = len(coords) if max_peaks is None else int(max_peaks)
    if d > 1:
        # greedy: keep a peak unless a better kept one is closer than d
        blocked = np.zeros(s.shape, dtype=bool)
        kept = []
        for c in coords:
            if len(kept) >= limit:
                break
            if blocked[tuple(c)]:
                continue
            kept.append(c)
            blocked[tuple(slice(max(i - d + 1, 0), i + d) for i in c)] = True
        coords = np.array(kept, dtype=np.intp).reshape(-1, s.ndim)
    return coords[:limit].astype(np.intp)


def _border_widths(exclude_border: Any, min_distance: int, ndim: int) -> tuple[int, ...]:
    if isinstance(exclude_border, (bool, np.bool_)):
        return (min_distance if exclude_border else 0,) * ndim
    if isinstance(exclude_border, numbers.Integral) and exclude_border >= 0:
        return (int(exclude_border),) * ndim
    if isinstance(exclude_border, tuple) and len(exclude_border) == ndim and all(
            isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 0
            for b in exclude_border):
        return tuple(int(b) for b in exclude_border)
    raise ConvolabError(f"exclude_border={exclude_border!r} is not allowed; allowed: a bool, "
                        f"an integer >= 0, or a tuple of {ndim} integers >= 0")


def rotate180(kernel: Any, *, axes: Any = None) -> np.ndarray:
    """The kernel rotated by 180 degrees: reversed along every axis (or ``axes``).

    Cross-correlation is convolution with the rotated, conjugated kernel,
    ``correlate(x, t) == convolve(x, rotate180(conj(t)))``, in every mode
    (seed 002).  Returns a view.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab import convolve, correlate
    >>> from convolab.match import rotate180
    >>> t = np.array([[1, 2], [3, 4]])
    >>> rotate180(t)
    array([[4, 3],
           [2, 1]])
    >>> x = np.arange(12).reshape(3, 4)
    >>> bool(np.array_equal(correlate(x, t), convolve(x, rotate180(t))))
    True
    """
    k = np.asarray(kernel)
    if axes is None:
        return np.flip(k)
    try:
        return np.flip(k, axis=axes)
    except (np.exceptions.AxisError, TypeError) as err:
        raise ConvolabError(f"axes={axes!r} is not allowed for a kernel of shape {k.shape}: "
                            f"{err}") from None
