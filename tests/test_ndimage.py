"""convolab.ndimage against scipy.ndimage, on seeded random inputs.

The oracle is scipy.ndimage itself (its functions are bound when this module
is imported, before anything could replace them): every mode, origins, even
kernels, ``axes``, per-axis sequences, output dtypes (integers compared
exactly) and arrays written in place, in 1-D, 2-D and 3-D, and with the
algorithms forced one by one.  A brute-force loop checks that a NaN stays
inside its window.  The planner test checks that a large kernel is planned
as an FFT.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest
import scipy.ndimage as _scipy_ndimage

import convolab
from convolab import ndimage
from convolab.errors import ConvolabError, ConvolabWarning

#: scipy's functions, taken now
sn = type("scipy_ndimage", (), {name: staticmethod(getattr(_scipy_ndimage, name)) for name in (
    "correlate", "convolve", "correlate1d", "convolve1d", "gaussian_filter", "gaussian_filter1d",
    "uniform_filter", "uniform_filter1d", "sobel", "prewitt", "laplace", "gaussian_laplace")})

MODES = ["reflect", "mirror", "nearest", "wrap", "constant",
         "grid-mirror", "grid-wrap", "grid-constant"]

#: (input shape, kernel shape): 1-D, 2-D, 3-D, even kernels, kernels longer than the input
SHAPES = [((11,), (4,)), ((5,), (8,)), ((9, 8), (3, 4)), ((4, 6), (7, 2)), ((5, 6, 7), (2, 3, 4))]


def _rng(*key) -> np.random.Generator:
    """A generator seeded by the test's key (the same in every process)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _origins(rng, kshape):
    """A random valid origin per axis (ndimage: -(k//2) .. (k-1)//2)."""
    return [int(rng.integers(-(k // 2), (k - 1) // 2 + 1)) for k in kshape]


def _close(a, b, rtol=1e-10, atol=1e-10):
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# N-D correlate / convolve


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_correlate_convolve_every_mode_and_origin(mode, shapes):
    shape, kshape = shapes
    rng = _rng("nd", mode, shape)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kshape)
    origin = _origins(rng, kshape)
    for name in ("correlate", "convolve"):
        expected = getattr(sn, name)(x, w, mode=mode, cval=1.25, origin=origin)
        got = getattr(ndimage, name)(x, w, mode=mode, cval=1.25, origin=origin)
        _close(got, expected)


@pytest.mark.parametrize("method", ["direct", "im2col", "fft", "oa", "os", "reference"])
def test_every_algorithm_gives_ndimage_result(method):
    rng = _rng("method", method)
    x = rng.standard_normal((12, 13))
    w = rng.standard_normal((4, 5))
    for mode in ("reflect", "mirror", "wrap", "constant"):
        for name in ("correlate", "convolve"):
            expected = getattr(sn, name)(x, w, mode=mode, cval=-0.5, origin=(1, -2))
            got = getattr(ndimage, name)(x, w, mode=mode, cval=-0.5, origin=(1, -2), method=method)
            _close(got, expected)


def test_axes_subset_origins_in_given_order():
    rng = _rng("axes")
    x = rng.standard_normal((5, 6, 7))
    w = rng.standard_normal((3, 4))
    for axes, origin in [((2, 0), (-1, 1)), ((0, 1), (1, -2)), ((-1, -2), (0, 1))]:
        for name in ("correlate", "convolve"):
            expected = getattr(sn, name)(x, w, axes=axes, origin=origin, mode="nearest")
            got = getattr(ndimage, name)(x, w, axes=axes, origin=origin, mode="nearest")
            _close(got, expected)


def test_complex_input_weights_and_cval():
    rng = _rng("complex")
    x = rng.standard_normal((7, 6)) + 1j * rng.standard_normal((7, 6))
    w = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    for name in ("correlate", "convolve"):
        for mode in ("constant", "mirror"):
            expected = getattr(sn, name)(x, w, mode=mode, cval=2 - 1j, origin=(0, -1))
            got = getattr(ndimage, name)(x, w, mode=mode, cval=2 - 1j, origin=(0, -1))
            _close(got, expected)
    # real input, complex weights: complex128 output
    xr = rng.standard_normal(9)
    _close(ndimage.correlate1d(xr, [1, 2j, 3]), sn.correlate1d(xr, [1, 2j, 3]))
    _close(ndimage.convolve1d(xr, [1, 2j, 3, 1j]), sn.convolve1d(xr, [1, 2j, 3, 1j]))


# ---------------------------------------------------------------------------
# 1-D functions


@pytest.mark.parametrize("mode", MODES)
def test_correlate1d_convolve1d_axes_even_kernels(mode):
    rng = _rng("1d", mode)
    x = rng.standard_normal((6, 7, 5))
    for k in (1, 2, 5, 6, 12):
        w = rng.standard_normal(k)
        origin = int(rng.integers(-(k // 2), (k - 1) // 2 + 1))
        axis = int(rng.integers(-3, 3))
        for name in ("correlate1d", "convolve1d"):
            expected = getattr(sn, name)(x, w, axis=axis, mode=mode, cval=0.5, origin=origin)
            got = getattr(ndimage, name)(x, w, axis=axis, mode=mode, cval=0.5, origin=origin)
            _close(got, expected)


# ---------------------------------------------------------------------------
# output dtypes, integer rules, arrays written in place


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.int64,
                                   np.float32, np.float64, np.bool_])
def test_output_dtype_follows_input_and_integers_match_exactly(dtype):
    rng = _rng("dtype", np.dtype(dtype).name)
    x = rng.integers(0, 2 if dtype is np.bool_ else 60, (9, 10)).astype(dtype)
    w = rng.random((3, 4))
    cases = [
        ("correlate", (w,), {"origin": (1, -1)}),
        ("convolve", (w,), {"mode": "wrap"}),
        ("gaussian_filter", (1.2,), {}),
        ("uniform_filter", ([3, 2],), {}),
        ("sobel", (0,), {}),
        ("prewitt", (1,), {"mode": "nearest"}),
        ("laplace", (), {}),
        ("gaussian_laplace", (0.8,), {}),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvolabWarning)    # unsigned gradients wrap, as in scipy
        for name, args, kw in cases:
            if dtype is np.bool_ and name in ("sobel", "prewitt"):
                continue    # ndimage stores the byte 255 in a bool array and reads it back as 255
            expected = getattr(sn, name)(x, *args, **kw)
            got = getattr(ndimage, name)(x, *args, **kw)
            assert got.dtype == expected.dtype == x.dtype, name
            if np.dtype(dtype).kind in "biu":
                np.testing.assert_array_equal(got, expected, err_msg=name)
            else:
                np.testing.assert_allclose(got, expected, rtol=2e-6 if dtype is np.float32 else 1e-10,
                                           atol=1e-5 if dtype is np.float32 else 1e-10, err_msg=name)


@pytest.mark.parametrize("output", [np.uint8, np.int16, np.int32, np.float32, np.complex64, "f8"])
def test_output_argument_dtype(output):
    rng = _rng("outdtype", str(output))
    x = rng.integers(0, 50, (8, 9)).astype(np.int16)
    w = rng.random((3, 3)) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvolabWarning)
        for name, args in (("correlate", (w,)), ("uniform_filter1d", (4,)), ("gaussian_filter", (1.0,))):
            got = getattr(ndimage, name)(x, *args, output=output)
            assert got.dtype == np.dtype(output)
            if np.dtype(output).kind == "c":
                # scipy refuses a complex output for real data; convolab stores the real result
                expected = getattr(sn, name)(x, *args, output=np.float64)
            else:
                expected = getattr(sn, name)(x, *args, output=output)
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, err_msg=name)


def test_output_arrays_written_in_place_and_aliasing():
    rng = _rng("inplace")
    x = rng.random((20, 21)).astype(np.float32)
    expected = sn.gaussian_filter(x, 1.5)
    out = np.zeros_like(x)
    returned = ndimage.gaussian_filter(x, 1.5, output=out)
    assert returned is out
    _close(out, expected, rtol=1e-6, atol=1e-6)
    y = x.copy()
    ndimage.gaussian_filter(y, 1.5, output=y)             # output is the input
    _close(y, expected, rtol=1e-6, atol=1e-6)
    # a strided view as output
    big = np.zeros((20, 42), dtype=np.float64)
    ndimage.correlate1d(x, [1, 2, 1], axis=0, output=big[:, ::2])
    _close(big[:, ::2], sn.correlate1d(x, [1, 2, 1], axis=0, output=np.float64))


def test_integer_fft_results_match_ndimage_exactly():
    """An FFT gives 4.999999999999 where the sum is 5; ndimage truncates, so an
    integer output must not depend on the algorithm."""
    rng = _rng("intfft")
    x = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    w = rng.integers(-3, 4, (15, 15)).astype(np.float64)
    expected = sn.correlate(x, w, output=np.int32, mode="mirror")
    for method in ("fft", "oa", "os", "direct"):
        got = ndimage.correlate(x, w, output=np.int32, mode="mirror", method=method)
        np.testing.assert_array_equal(got, expected, err_msg=method)
    np.testing.assert_array_equal(ndimage.uniform_filter(x, 7), sn.uniform_filter(x, 7))


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_integer_average_is_the_exact_truncated_mean(method):
    """A 7 x 7 mean of uint8 data with weights 1/49: the exact mean, truncated.
    (ndimage's own sum of x/49 rounds below the integer in about 1 % of the
    pixels and then truncates one less; convolab takes the integer.)"""
    rng = _rng("box")
    x = rng.integers(0, 256, (40, 40)).astype(np.uint8)
    got = ndimage.correlate(x, np.ones((7, 7)) / 49, method=method)
    padded = np.pad(x.astype(np.int64), 3, mode="symmetric")
    sums = np.lib.stride_tricks.sliding_window_view(padded, (7, 7)).sum(axis=(2, 3))
    np.testing.assert_array_equal(got, (sums // 49).astype(np.uint8))


def test_unsigned_wrap_warns_with_scipy_values():
    x = np.array([[0, 0, 9, 9], [0, 0, 9, 9], [9, 9, 0, 0]], dtype=np.uint8)
    with pytest.warns(ConvolabWarning, match="wraps around"):
        got = ndimage.sobel(x, axis=0)
    np.testing.assert_array_equal(got, sn.sobel(x, axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # no warning when the values fit
        np.testing.assert_array_equal(ndimage.sobel(x, axis=0, output=np.int16),
                                      sn.sobel(x, axis=0, output=np.int16))


# ---------------------------------------------------------------------------
# separable filters


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap", "constant"])
def test_gaussian_filters(mode):
    rng = _rng("gauss", mode)
    x = rng.standard_normal((12, 10, 9))
    for kw in ({"sigma": 1.3}, {"sigma": [0.7, 2.0, 0.0], "order": [0, 1, 2]},
               {"sigma": 1.0, "truncate": 2.5}, {"sigma": [1.5, 1.0, 2.0], "radius": [2, 5, 1]},
               {"sigma": 2.0, "order": 3, "axes": (0, 2)}):
        _close(ndimage.gaussian_filter(x, mode=mode, cval=0.3, **kw),
               sn.gaussian_filter(x, mode=mode, cval=0.3, **kw))
    for order in range(4):
        _close(ndimage.gaussian_filter1d(x, 1.7, axis=1, order=order, mode=mode),
               sn.gaussian_filter1d(x, 1.7, axis=1, order=order, mode=mode))
    _close(ndimage.gaussian_laplace(x, [1.0, 1.5, 0.8], mode=mode),
           sn.gaussian_laplace(x, [1.0, 1.5, 0.8], mode=mode))
    _close(ndimage.gaussian_laplace(x, 1.2, mode=mode, axes=(0, 2), truncate=3.0),
           sn.gaussian_laplace(x, 1.2, mode=mode, axes=(0, 2), truncate=3.0))


def test_gaussian_kernel_matches_closed_forms():
    """The kernel and its derivatives against the formulas (not scipy's code)."""
    from convolab.ndimage import _gaussian_kernel1d

    sigma, radius = 1.7, 9
    x = np.arange(-radius, radius + 1, dtype=float)
    phi = np.exp(-0.5 * x * x / sigma**2)
    phi /= phi.sum()
    s2 = sigma**2
    np.testing.assert_allclose(_gaussian_kernel1d(sigma, 0, radius), phi, rtol=1e-13)
    np.testing.assert_allclose(_gaussian_kernel1d(sigma, 1, radius), -x / s2 * phi, atol=1e-15)
    np.testing.assert_allclose(_gaussian_kernel1d(sigma, 2, radius), (x * x / s2 - 1) / s2 * phi,
                               atol=1e-15)
    np.testing.assert_allclose(_gaussian_kernel1d(sigma, 3, radius),
                               (3 - x * x / s2) * x / s2**2 * phi, atol=1e-15)


@pytest.mark.parametrize("mode", ["reflect", ["mirror", "wrap"], ["constant", "nearest"]],
                         ids=str)
def test_uniform_sobel_prewitt_laplace_mode_sequences(mode):
    rng = _rng("seq", str(mode))
    x = rng.standard_normal((11, 9))
    checks = [
        ("uniform_filter", (), {"size": [4, 3], "origin": [1, -1]}),
        ("uniform_filter", (), {"size": 5, "origin": 0}),
        ("sobel", (0,), {}), ("sobel", (1,), {}),
        ("prewitt", (0,), {}), ("prewitt", (-1,), {}),
        ("laplace", (), {}),
    ]
    for name, args, kw in checks:
        _close(getattr(ndimage, name)(x, *args, mode=mode, cval=0.4, **kw),
               getattr(sn, name)(x, *args, mode=mode, cval=0.4, **kw))
    m = mode if isinstance(mode, str) else mode[0]
    for size, origin in ((1, 0), (2, -1), (5, 2), (6, -3)):
        _close(ndimage.uniform_filter1d(x, size, axis=0, mode=m, origin=origin),
               sn.uniform_filter1d(x, size, axis=0, mode=m, origin=origin))


def test_complex_separable_filters():
    rng = _rng("cplx-sep")
    x = (rng.standard_normal((8, 9)) + 1j * rng.standard_normal((8, 9))).astype(np.complex64)
    for name, args in (("gaussian_filter", (1.1,)), ("uniform_filter", (3,)), ("sobel", (0,)),
                       ("prewitt", (1,)), ("laplace", ()), ("gaussian_laplace", (1.0,)),
                       ("uniform_filter1d", (4,))):
        expected = getattr(sn, name)(x, *args)
        got = getattr(ndimage, name)(x, *args)
        assert got.dtype == expected.dtype == np.complex64
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=name)


# ---------------------------------------------------------------------------
# edges, NaN, special inputs


def test_empty_and_zero_dimensional_inputs():
    assert ndimage.correlate(np.zeros((0, 3)), np.ones((2, 2))).shape == (0, 3)
    assert ndimage.correlate1d(np.zeros((4, 0)), [1, 2]).shape == (4, 0)
    assert ndimage.gaussian_filter(np.zeros((0,)), 1.0).shape == (0,)
    assert ndimage.correlate(np.array(5.0), np.array(2.0)) == sn.correlate(np.array(5.0), np.array(2.0))
    assert ndimage.gaussian_filter(np.array(5.0), 1.0) == sn.gaussian_filter(np.array(5.0), 1.0)


def test_nan_stays_inside_its_windows():
    """Brute force: the outputs whose window holds the NaN are NaN, the others finite."""
    x = np.arange(20.0)
    x[7] = np.nan
    for method in ("direct", "fft"):
        got = ndimage.uniform_filter1d(x, 5, mode="nearest", method=method)
        for i in range(20):
            window = np.clip(np.arange(i - 2, i + 3), 0, 19)
            assert np.isnan(got[i]) == np.isnan(x[window]).any(), (method, i)
            if not np.isnan(got[i]):
                assert got[i] == pytest.approx(x[window].mean())


def test_float16_input_is_filtered():
    x = _rng("f16").random((10, 10)).astype(np.float16)
    got = ndimage.gaussian_filter(x, 1.0)
    assert got.dtype == np.float16
    expected = sn.gaussian_filter(x.astype(np.float64), 1.0).astype(np.float16)
    np.testing.assert_allclose(got.astype(float), expected.astype(float), rtol=1e-3, atol=1e-3)


def test_wide_extension_repeats_like_ndimage():
    """Kernels much longer than the input: the extension repeats (numpy.pad's rule)."""
    x = np.array([1.0, 2.0, 3.0])
    w = np.zeros(9)
    w[-1] = 1
    for mode in ("nearest", "wrap", "reflect", "mirror", "constant"):
        _close(ndimage.correlate1d(x, w, mode=mode), sn.correlate1d(x, w, mode=mode))
        _close(ndimage.correlate(x, w, mode=mode), sn.correlate(x, w, mode=mode))
    _close(ndimage.convolve1d(np.ones(1), np.ones(5), mode="mirror"), np.array([5.0]))


# ---------------------------------------------------------------------------
# errors: scipy's exception types, convolab's messages


def test_errors_name_the_argument():
    x = np.ones((4, 5))
    with pytest.raises(RuntimeError, match="boundary mode not supported") as info:
        ndimage.correlate(x, np.ones((3, 3)), mode="symmetric")
    assert isinstance(info.value, ConvolabError) and "mode='symmetric'" in str(info.value)
    with pytest.raises(ValueError, match="Invalid origin"):
        ndimage.correlate(x, np.ones((2, 2)), origin=[0, 1])
    with pytest.raises(ValueError, match="Invalid origin"):
        ndimage.convolve1d(np.arange(10), np.ones(3), origin=-2)
    with pytest.raises(RuntimeError, match="sequence argument must have length"):
        ndimage.gaussian_filter(x, [1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="A sequence of modes is not supported"):
        ndimage.correlate(x, np.ones((2, 2)), mode=["reflect", "wrap"])
    with pytest.raises(RuntimeError, match="output shape not correct"):
        ndimage.sobel(x, output=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="complex-valued cval"):
        ndimage.correlate(x, np.ones((2, 2), complex), mode="constant", cval=1j)
    with pytest.raises(ValueError, match="axes must be unique"):
        ndimage.uniform_filter(x, 3, axes=(1, -1))
    with pytest.raises(ValueError, match="out of range"):
        ndimage.gaussian_filter(x, 1.0, axes=(2,))
    with pytest.raises(RuntimeError, match=r"weights.ndim \(3\) must match len\(axes\) \(2\)"):
        ndimage.correlate(np.ones((3, 4, 5)), np.ones((2, 2, 2)), axes=(0, 1))
    with pytest.raises(ValueError, match="Radius must be a nonnegative integer"):
        ndimage.gaussian_filter1d(x, 1.0, radius=1.5)
    with pytest.raises(ValueError, match="order must be non-negative"):
        ndimage.gaussian_filter(x, 1.0, order=-1)
    with pytest.raises(ConvolabError, match="sigma"):
        ndimage.gaussian_filter(x, -1.0)
    with pytest.raises(ConvolabError, match="method"):
        ndimage.correlate(x, np.ones((2, 2)), method="magic")
    with pytest.raises(RuntimeError, match="incorrect filter size"):
        ndimage.uniform_filter1d(x, 0)


# ---------------------------------------------------------------------------
# planning


def test_large_kernel_is_planned_as_fft():
    kernel = _rng("plan").random((63, 64))      # full rank: no separable shortcut
    p = ndimage.plan(np.zeros((512, 512)), kernel[:, :63])
    assert p.method in ("fft", "oa", "os")
    assert "fft" in {c.name for c in p.candidates}
    assert p.problem.pad == ((31, 31), (31, 31))
    assert p.problem.boundary == "symm"          # ndimage's default 'reflect'
    small = ndimage.plan(np.zeros((512, 512)), kernel[:3, :3])
    assert small.method not in ("fft", "oa", "os")
    # the plan's problem is the one correlate runs: origins become extension widths
    shifted = ndimage.plan(np.zeros((512, 512)), kernel, origin=(-3, 5), op="convolve",
                           mode="wrap")
    assert shifted.problem.pad == ((34, 28), (26, 37))
    assert shifted.problem.boundary == "wrap" and shifted.problem.flip


def test_plan_runs_and_matches_scipy():
    rng = _rng("plan-run")
    x = rng.standard_normal((40, 30))
    w = rng.standard_normal((9, 8))
    p = ndimage.plan(x, w, mode="mirror", origin=(1, -2), op="convolve")
    _close(p(x, w), sn.convolve(x, w, mode="mirror", origin=(1, -2)))
    assert convolab.ConvolabError is ConvolabError
