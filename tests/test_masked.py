"""nan_policy='omit': normalized convolution (convolab.masked).

Oracles:

* astropy.convolution.convolve(..., nan_treatment='interpolate') (and
  convolve_fft) on 1-, 2- and 3-D inputs with NaN and mask=, boundaries
  'fill' (with fill_value, also NaN), 'wrap', 'extend', normalize_kernel and
  preserve_nan, odd kernels, 'same' output;
* an explicit windowed computation written here from the definition (each
  output is the kernel-weighted average of the valid samples of its window,
  numpy.pad for the boundary), for what astropy cannot do: 'full'/'valid',
  even kernels, 'symm'/'reflect', correlation, complex data, integer input,
  axes=, the 2-D functions;
* every method gives the same result, and the NaN (zero-weight) outputs are
  exactly those of the definition whatever the algorithm.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest

import convolab
from convolab import ConvolabError
from convolab.masked import normalized_convolve, replace_nans

ALL_METHODS = ("reference", "direct", "im2col", "fft", "oa", "os", "auto")
NUMPY_PAD = {"fill": "constant", "wrap": "wrap", "symm": "symmetric", "reflect": "reflect",
             "nearest": "edge"}


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _with_gaps(rng, shape, fraction=0.2, dtype=float):
    x = rng.normal(size=shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.normal(size=shape)
    x = x.astype(dtype)
    x[rng.random(shape) < fraction] = np.nan
    return x


# ---------------------------------------------------------------------------
# the oracle written from the definition


def definition(x, k, mode="same", *, flip=True, boundary="fill", fillvalue=0.0, mask=None,
               normalize_kernel=True, preserve_nan=False, same_start=None):
    """Normalized convolution of N-D ``x`` (all axes) by brute force over windows.

    Missing samples are NaN in a float copy of ``x`` (plus ``mask``); the
    extension is numpy.pad of that copy (so the extension of a missing sample
    is missing; 'fill' pads with ``fillvalue``, NaN meaning missing).
    """
    x = np.asarray(x)
    xf = x.astype(np.result_type(x.dtype, np.float64))
    missing = np.isnan(xf)
    if mask is not None:
        missing |= np.broadcast_to(np.asarray(mask) != 0, x.shape)
    xf = np.where(missing, np.nan, xf)
    k = np.asarray(k)
    kf = np.flip(k) if flip else np.conj(k)
    pads = []
    for n, m in zip(x.shape, k.shape):
        if mode == "full":
            pads.append((m - 1, m - 1))
        elif mode == "same":
            start = (m - 1) // 2 if same_start is None else same_start(m)
            pads.append((m - 1 - start, start))
        else:
            pads.append((0, 0))
    if boundary == "fill":
        xp = np.pad(xf, pads, mode="constant", constant_values=fillvalue)
    else:
        xp = np.pad(xf, pads, mode=NUMPY_PAD[boundary])
    windows = np.lib.stride_tricks.sliding_window_view(xp, k.shape)
    axes = tuple(range(x.ndim, 2 * x.ndim))
    valid = ~np.isnan(windows)
    num = np.where(valid, windows, 0) * kf
    num = num.sum(axis=axes)
    den = (valid * kf).sum(axis=axes)
    support = (valid & (kf != 0)).any(axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    if not normalize_kernel:
        out = out * kf.sum()
    out = np.where(support, out, np.nan)
    if preserve_nan:
        out = np.where(missing, np.nan, out)
    return out


def assert_same(got, expected, rtol=1e-9, err_msg="", scale=0.0):
    """Same NaN positions; values within ``rtol`` of the largest output (or of
    ``scale``, the size of the summed terms, when outputs cancel to ~0)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape, err_msg)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=err_msg)
    ok = ~np.isnan(expected)
    scale = max(float(np.abs(expected[ok]).max()) if ok.any() else 1.0, scale, 1e-300)
    np.testing.assert_allclose(got[ok], expected[ok], rtol=rtol, atol=rtol * scale,
                               err_msg=err_msg)


# ---------------------------------------------------------------------------
# astropy parity

SHAPES = {1: ((40,), (5,)), 2: ((13, 15), (3, 5)), 3: ((6, 7, 8), (3, 3, 5))}
ASTROPY_BOUNDARIES = [("fill", "fill", 0.0), ("fill", "fill", 2.5), ("fill", "fill", np.nan),
                      ("wrap", "wrap", 0.0), ("extend", "nearest", 0.0)]


@pytest.mark.parametrize("preserve_nan", [False, True])
@pytest.mark.parametrize("normalize_kernel", [True, False])
@pytest.mark.parametrize("astropy_boundary,boundary,fill", ASTROPY_BOUNDARIES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_matches_astropy_convolve(nd, astropy_boundary, boundary, fill, normalize_kernel,
                                  preserve_nan):
    aconv = pytest.importorskip("astropy.convolution").convolve
    rng = _rng("astropy", nd, astropy_boundary, fill, normalize_kernel, preserve_nan)
    s1, s2 = SHAPES[nd]
    x = _with_gaps(rng, s1)
    mask = rng.random(s1) < 0.1
    k = rng.random(s2) + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # astropy warns when NaN remain
        expected = aconv(x, k, boundary=astropy_boundary, fill_value=fill,
                         nan_treatment="interpolate", normalize_kernel=normalize_kernel,
                         mask=mask, preserve_nan=preserve_nan)
    for method in ("direct", "fft", "auto"):
        got = convolab.convolve(x, k, "same", method=method, boundary=boundary, fillvalue=fill,
                                nan_policy="omit", mask=mask,
                                normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
        assert_same(got, expected, err_msg=f"method={method}")
    got = normalized_convolve(x, k, boundary=boundary, fillvalue=fill, mask=mask,
                              normalize_kernel=normalize_kernel, preserve_nan=preserve_nan)
    assert_same(got, expected)


def test_astropy_documented_example():
    # the values astropy's documentation gives for [1, nan, 3, 4, 5] and a 3-box
    out = convolab.convolve([1, np.nan, 3, 4, 5], [1, 1, 1], "same", nan_policy="omit")
    np.testing.assert_allclose(out, [0.5, 2, 3.5, 4, 3])


@pytest.mark.parametrize("normalize_kernel", [True, False])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_matches_astropy_convolve_fft(nd, normalize_kernel):
    ac = pytest.importorskip("astropy.convolution")
    rng = _rng("astropy_fft", nd, normalize_kernel)
    s1, s2 = SHAPES[nd]
    x = _with_gaps(rng, s1, fraction=0.15)
    k = rng.random(s2) + 0.1
    expected = ac.convolve_fft(x, k, boundary="fill", fill_value=0.0,
                               nan_treatment="interpolate", normalize_kernel=normalize_kernel)
    got = convolab.fftconvolve(x, k, "same", nan_policy="omit", normalize_kernel=normalize_kernel)
    # convolve_fft returns 0 where the weight is zero; convolab returns NaN there
    supported = ~np.isnan(got)
    np.testing.assert_allclose(got[supported], expected[supported], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(expected[~supported], 0)


def test_masked_array_counts_as_missing():
    aconv = pytest.importorskip("astropy.convolution").convolve
    rng = _rng("ma")
    data = rng.normal(size=(9, 11))
    hidden = rng.random(data.shape) < 0.2
    x = np.ma.masked_array(data, mask=hidden)
    k = rng.random((3, 3)) + 0.1
    expected = aconv(x, k)
    got = convolab.convolve(x, k, "same", nan_policy="omit")
    assert_same(got, expected)
    # the same as mask=
    assert_same(convolab.convolve(data, k, "same", nan_policy="omit", mask=hidden), expected)


# ---------------------------------------------------------------------------
# every method, every mode and boundary: the definition


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm", "reflect", "nearest"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_every_method_matches_the_definition(op, mode, boundary):
    rng = _rng("def", op, mode, boundary)
    x = _with_gaps(rng, (11, 14), fraction=0.3)
    k = rng.random((4, 3)) + 0.2          # even on one axis
    k[1, 1] = 0.0                         # a zero tap: support comes from nonzero taps only
    mask = np.zeros(x.shape, bool)
    mask[:, 5] = True                     # a column flagged missing
    fill = 1.5 if boundary == "fill" else 0
    expected = definition(x, k, mode, flip=op == "convolve", boundary=boundary,
                          fillvalue=fill, mask=mask)
    f = getattr(convolab, op)
    for method in ALL_METHODS:
        got = f(x, k, mode, method=method, boundary=boundary, fillvalue=fill,
                nan_policy="omit", mask=mask)
        assert_same(got, expected, err_msg=f"{op} {mode} {boundary} method={method}")


@pytest.mark.parametrize("normalize_kernel", [True, False])
@pytest.mark.parametrize("fill", [0.0, -2.0, np.nan])
def test_fill_value_and_normalization_full_mode(fill, normalize_kernel):
    rng = _rng("fill", fill, normalize_kernel)
    x = _with_gaps(rng, (30,))
    k = rng.random(6) + 0.5
    expected = definition(x, k, "full", fillvalue=fill, normalize_kernel=normalize_kernel)
    for method in ALL_METHODS:
        got = convolab.convolve(x, k, "full", method=method, fillvalue=fill, nan_policy="omit",
                                normalize_kernel=normalize_kernel)
        assert_same(got, expected, err_msg=method)


def test_nothing_missing_is_the_plain_convolution():
    rng = _rng("clean")
    x, k = rng.normal(size=(12, 13)), rng.random((3, 4)) + 0.1
    for mode in ("full", "same", "valid"):
        plain = convolab.convolve(x, k, mode)
        got = convolab.convolve(x, k, mode, nan_policy="omit", normalize_kernel=False)
        np.testing.assert_allclose(got, plain, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(convolab.convolve(x, k, mode, nan_policy="omit"),
                                   plain / k.sum(), rtol=1e-12, atol=1e-12)


def test_valid_mode_with_the_larger_kernel():
    # scipy swaps the inputs; nothing beyond in1 is read, so it counts as missing
    rng = _rng("swap")
    x = _with_gaps(rng, (5,), fraction=0.3)
    k = rng.random(9) + 0.1
    expected = definition(x, k, "full", fillvalue=np.nan)[4:9]     # scipy: full[n-1:k]
    for method in ALL_METHODS:
        got = convolab.convolve(x, k, "valid", method=method, nan_policy="omit")
        assert_same(got, expected, err_msg=method)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_dtypes_real_and_complex(dtype):
    rng = _rng("dtype", dtype)
    x = _with_gaps(rng, (9, 10), dtype=dtype)
    k = (rng.random((3, 3)) + 0.2).astype(np.dtype(dtype).char.lower())
    expected = definition(x, k, "same")
    rtol = 1e-4 if dtype in ("float32", "complex64") else 1e-9
    # the compiled direct loops are exercised in float64 elsewhere; compiling
    # them for every dtype would dominate this file's run time
    methods = ALL_METHODS if dtype == "float64" else ("reference", "im2col", "fft", "oa", "os")
    for method in methods:
        got = convolab.correlate(x, k, "same", method=method, nan_policy="omit")
        assert got.dtype == np.dtype(dtype)
        assert_same(got, definition(x, k, "same", flip=False), rtol=rtol, err_msg=method)
        got = convolab.convolve(x, k, "same", method=method, nan_policy="omit")
        assert_same(got, expected, rtol=rtol, err_msg=method)


def test_complex_kernel_correlation_conjugates():
    rng = _rng("ck")
    x = _with_gaps(rng, (20,), dtype=complex)
    k = rng.random(3) + 0.2 + 1j * rng.random(3)
    for normalize_kernel in (True, False):
        expected = definition(x, k, "same", flip=False, normalize_kernel=normalize_kernel)
        for method in ("reference", "fft"):
            got = convolab.correlate(x, k, "same", method=method, nan_policy="omit",
                                     normalize_kernel=normalize_kernel)
            assert_same(got, expected, err_msg=method)


@pytest.mark.parametrize("dtype", ["int16", "uint8", "bool"])
def test_integer_input_promotes_to_float64(dtype):
    rng = _rng("int", dtype)
    x = rng.integers(0, 2 if dtype == "bool" else 50, size=(25,)).astype(dtype)
    mask = rng.random(x.shape) < 0.3
    k = np.array([1, 2, 3, 2, 1], dtype="int64")
    expected = definition(x, k, "same", mask=mask)
    for method in ALL_METHODS:
        got = convolab.convolve(x, k, "same", method=method, nan_policy="omit", mask=mask)
        assert got.dtype == np.float64
        assert_same(got, expected, err_msg=method)


def test_float32_stays_float32_and_float16_gives_float32():
    x = np.array([1, np.nan, 3, 4], dtype=np.float32)
    for method in ("reference", "fft"):
        got = convolab.convolve(x, np.ones(3, np.float32), "same", method=method,
                                nan_policy="omit")
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, [0.5, 2, 3.5, 7 / 3], rtol=1e-6)
        got = convolab.convolve(x.astype(np.float16), np.ones(3, np.float16), "same",
                                method=method, nan_policy="omit")
        assert got.dtype == np.float32


def test_axes_and_broadcast_batches():
    rng = _rng("axes")
    x = _with_gaps(rng, (4, 17, 3))
    k = rng.random((1, 5, 1)) + 0.1
    got = convolab.convolve(x, k, "same", axes=1, nan_policy="omit", boundary="reflect")
    for i in range(4):
        for j in range(3):
            assert_same(got[i, :, j], definition(x[i, :, j], k[0, :, 0], "same",
                                                 boundary="reflect"))
    # one kernel per batch slice, normalize_kernel=False scales each by its own sum
    kb = rng.random((4, 5, 1)) + 0.1
    got = convolab.fftconvolve(x, kb, "same", axes=1, nan_policy="omit", normalize_kernel=False)
    for i in range(4):
        for j in range(3):
            assert_same(got[i, :, j], definition(x[i, :, j], kb[i, :, 0], "same",
                                                 normalize_kernel=False))


def test_mask_broadcasts_to_in1():
    rng = _rng("mbc")
    x = rng.normal(size=(6, 8))
    column = np.zeros((1, 8), bool)
    column[0, 3] = True
    got = convolab.convolve(x, np.ones((3, 3)), "same", nan_policy="omit", mask=column)
    assert_same(got, definition(x, np.ones((3, 3)), "same", mask=np.broadcast_to(column, x.shape)))


@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
def test_2d_functions(method):
    rng = _rng("2d", method)
    x = _with_gaps(rng, (10, 12))
    k = rng.random((4, 4)) + 0.1
    for boundary in ("fill", "wrap", "symm"):
        got = convolab.convolve2d(x, k, "same", boundary, 0, method=method, nan_policy="omit")
        assert_same(got, definition(x, k, "same", boundary=boundary))
        # correlate2d centres an even kernel at k // 2 in 'same' mode (scipy's rule)
        got = convolab.correlate2d(x, k, "same", boundary, 0, method=method, nan_policy="omit")
        assert_same(got, definition(x, k, "same", flip=False, boundary=boundary,
                                    same_start=lambda m: m // 2))


def test_oaconvolve_long_signal():
    rng = _rng("oa")
    x = _with_gaps(rng, (3000,), fraction=0.05)
    k = np.hanning(41)[1:-1]
    got = convolab.oaconvolve(x, k, "same", nan_policy="omit")
    assert_same(got, definition(x, k, "same"))


def test_separable_and_winograd_when_they_apply():
    rng = _rng("sep")
    x = _with_gaps(rng, (80, 80))         # large enough for the kernel's rank to be analysed
    k3 = rng.random((3, 3)) + 0.1
    got = convolab.convolve(x, k3, "same", method="winograd", nan_policy="omit")
    assert_same(got, definition(x, k3, "same"), rtol=1e-7)
    kr1 = np.outer(np.hanning(9)[1:-1], np.hanning(11)[1:-1])     # rank 1
    got = convolab.convolve(x, kr1, "same", method="separable", nan_policy="omit")
    assert_same(got, definition(x, kr1, "same"), rtol=1e-7)


def test_fftconvolve_length_one_axis_agrees_with_convolve():
    # fftconvolve broadcasts a length-1 axis of in1; with 'omit' the edge samples
    # still count, so the result is convolve's
    x = np.array([[1.0, np.nan, 3.0]])
    k = np.arange(1.0, 7.0).reshape(3, 2)
    for mode in ("full", "same"):
        expected = definition(x, k, mode)
        for f in (convolab.fftconvolve, convolab.oaconvolve, convolab.convolve):
            assert_same(f(x, k, mode, nan_policy="omit"), expected, err_msg=f"{f.__name__} {mode}")
    # 'valid' keeps fftconvolve's broadcast: each output sees one row of in1
    got = convolab.fftconvolve(x, k, "valid", nan_policy="omit")
    np.testing.assert_allclose(got, np.broadcast_to([1.0, 3.0], (3, 2)))


def test_scalars():
    assert np.isnan(convolab.convolve(np.float64(np.nan), 2.0, nan_policy="omit"))
    assert convolab.convolve(3.0, 2.0, nan_policy="omit") == 3.0
    assert convolab.convolve(3.0, 2.0, nan_policy="omit", normalize_kernel=False) == 6.0


hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")


@hypothesis.given(data=st.data())
def test_property_every_shape_matches_the_definition(data):
    nd = data.draw(st.integers(1, 2))
    s1 = tuple(data.draw(st.lists(st.integers(1, 7), min_size=nd, max_size=nd)))
    s2 = tuple(data.draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd)))
    mode = data.draw(st.sampled_from(["full", "same", "valid"]))
    if mode == "valid" and not (all(a >= b for a, b in zip(s1, s2))
                                or all(a <= b for a, b in zip(s1, s2))):
        mode = "same"
    boundary = data.draw(st.sampled_from(["fill", "wrap", "symm", "reflect", "nearest"]))
    fill = data.draw(st.sampled_from([0.0, 1.0, np.nan]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = _with_gaps(rng, s1, fraction=data.draw(st.sampled_from([0.0, 0.3, 0.8])))
    k = rng.random(s2) * (rng.random(s2) < 0.8)             # some zero taps
    k.flat[0] = 1.0                                         # a nonzero sum
    normalize_kernel = data.draw(st.booleans())
    if mode == "valid" and any(a < b for a, b in zip(s1, s2)):
        expected = None                                    # the swap: checked elsewhere
    else:
        expected = definition(x, k, mode, boundary=boundary, fillvalue=fill,
                              normalize_kernel=normalize_kernel)
    results = []
    for method in ("direct", "fft"):
        results.append(convolab.convolve(x, k, mode, method=method, boundary=boundary,
                                         fillvalue=fill, nan_policy="omit",
                                         normalize_kernel=normalize_kernel))
    terms = float(np.nanmax(np.abs(x), initial=1.0) * np.abs(k).sum())
    assert_same(results[1], results[0], rtol=1e-8, scale=terms)
    if expected is not None:
        assert_same(results[0], expected, rtol=1e-9, scale=terms)


# ---------------------------------------------------------------------------
# zero weight: NaN whatever the FFT round-off


@pytest.mark.parametrize("method", ALL_METHODS)
def test_zero_weight_is_nan_for_every_method(method):
    """A gap wider than the kernel: FFT leaves ~1e-17 in the denominator there;
    the result must be NaN exactly where no valid sample meets a nonzero tap."""
    x = np.linspace(1.0, 2.0, 200)
    x[60:140] = np.nan
    k = np.exp(-0.5 * (np.arange(-10, 11) / 3.0) ** 2)       # Gaussian, tails ~4e-3
    k[::4] = 0.0                                             # and some zero taps
    got = convolab.convolve(x, k, "same", method=method, nan_policy="omit")
    expected = definition(x, k, "same")
    assert np.isnan(expected).sum() > 40
    assert_same(got, expected, rtol=1e-8)


def test_tiny_but_nonzero_weights_are_not_taken_for_zero():
    """Taps of 1e-12 next to 1: inside the gap's rim only tiny taps meet valid
    samples.  Those outputs have a weight (not NaN) with every method; the FFT
    computes that weight with an absolute error of ~1e-16 of the kernel's sum,
    so ~1e-4 relative here, while the direct method is exact."""
    x = np.ones((30, 30))
    x[5:25, 5:25] = np.nan
    k = np.full((5, 5), 1e-12)
    k[2, 2] = 1.0
    expected = definition(x, k, "same")
    assert np.isnan(expected).sum() == 16 * 16
    for method, rtol in (("fft", 1e-3), ("oa", 1e-3), ("direct", 1e-12)):
        got = convolab.convolve(x, k, "same", method=method, nan_policy="omit")
        assert_same(got, expected, rtol=rtol, err_msg=method)


def test_all_missing_gives_all_nan():
    x = np.full((6, 7), np.nan)
    for method in ALL_METHODS:
        got = convolab.convolve(x, np.ones((3, 3)), "same", method=method, nan_policy="omit",
                                fillvalue=np.nan)
        assert np.isnan(got).all()


def test_planner_still_chooses():
    rng = _rng("plan")
    x = _with_gaps(rng, (160, 160), fraction=0.01)
    k = rng.random((25, 25)) + 0.1
    # a large kernel: the planner picks the FFT family for each convolution,
    # and the result is the direct method's
    assert convolab.plan(x, k, "same").method in ("fft", "oa", "os")
    auto = convolab.convolve(x, k, "same", nan_policy="omit")
    direct = convolab.convolve(x, k, "same", method="direct", nan_policy="omit")
    assert np.isfinite(auto).all()
    assert_same(auto, direct, rtol=1e-9)


# ---------------------------------------------------------------------------
# replace_nans


def test_replace_nans_matches_astropy():
    ac = pytest.importorskip("astropy.convolution")
    rng = _rng("replace")
    x = _with_gaps(rng, (12, 14), fraction=0.25)
    k = rng.random((3, 3)) + 0.1
    expected = ac.interpolate_replace_nans(x, k)
    got = replace_nans(x, k)
    assert_same(got, expected)
    keep = ~np.isnan(x)
    np.testing.assert_array_equal(got[keep], x[keep])


# ---------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("name,value", [("mask", np.zeros(3, bool)), ("normalize_kernel", False),
                                        ("preserve_nan", True)])
@pytest.mark.parametrize("policy", ["propagate", "raise"])
@pytest.mark.parametrize("op", ["convolve", "correlate", "fftconvolve", "oaconvolve"])
def test_extras_need_omit(op, policy, name, value):
    f = getattr(convolab, op)
    with pytest.raises(ConvolabError, match=rf"{name}=.*nan_policy='omit'.*{policy}"):
        f(np.ones(3), np.ones(2), nan_policy=policy, **{name: value})


def test_extras_need_omit_2d():
    with pytest.raises(ConvolabError, match=r"mask=.*nan_policy='omit'"):
        convolab.convolve2d(np.ones((3, 3)), np.ones((2, 2)), mask=np.zeros((3, 3), bool))


def test_errors():
    x = np.array([1.0, np.nan, 3.0])
    with pytest.raises(ConvolabError, match=r"in2 sums to 0.*cannot be normalized"):
        convolab.convolve(x, [1, -2, 1], "same", nan_policy="omit")
    with pytest.raises(ConvolabError, match=r"in2 .*must be finite"):
        convolab.convolve(x, [1, np.nan, 1], "same", nan_policy="omit")
    with pytest.raises(ConvolabError, match=r"mask of shape \(2,\) does not broadcast .*\(3,\)"):
        convolab.convolve(x, [1, 1], nan_policy="omit", mask=[True, False])
    with pytest.raises(ConvolabError, match=r"mask has dtype"):
        convolab.convolve(x, [1, 1], nan_policy="omit", mask=np.array(["a", "b", "c"]))
    with pytest.raises(ConvolabError, match=r"preserve_nan=True needs mode='same'.*'full'"):
        convolab.convolve(x, [1, 1], "full", nan_policy="omit", preserve_nan=True)
    with pytest.raises(ConvolabError, match=r"normalize_kernel='yes' must be True or False"):
        convolab.convolve(x, [1, 1], nan_policy="omit", normalize_kernel="yes")
    with pytest.raises(ConvolabError, match=r"nan_policy='sometimes' is not one of.*'omit'"):
        convolab.convolve(x, [1, 1], nan_policy="sometimes")
    with pytest.raises(ConvolabError, match=r"plan\(nan_policy='omit'\)"):
        convolab.plan(x, np.ones(2), nan_policy="omit")
    # the usual checks still name the argument
    with pytest.raises(ConvolabError, match=r"acceptable mode flags"):
        convolab.convolve(x, [1, 1], "middle", nan_policy="omit")
    with pytest.raises(ConvolabError, match=r"boundary='mirrorr'"):
        convolab.convolve(x, [1, 1], boundary="mirrorr", nan_policy="omit")
