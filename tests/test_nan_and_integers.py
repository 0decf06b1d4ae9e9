"""Non-finite inputs and integer accumulation.

* nan_policy='propagate': NaN and +-inf reach exactly the outputs whose window
  holds them, with every algorithm (the FFT would otherwise smear them over
  the whole output); the result equals method='direct', and the direct result
  equals an explicit loop.
* nan_policy='raise' raises.
* Integers are summed exactly (modulo 2**64) by every algorithm and cast back
  like scipy, with a ConvolabWarning exactly when the cast wraps around.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest

import convolab
from convolab import ConvolabError, ConvolabWarning
from helpers import METHODS, assert_close_dtype, magnitude, oracle, scipy_signal

ALL_METHODS = ("reference",) + METHODS


def _seeded(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ---------------------------------------------------------------------------
# non-finite inputs

SHAPES = {1: ((61,), (5,)), 2: ((20, 24), (3, 4)), 3: ((6, 7, 8), (2, 3, 3))}


def _nonfinite_problem(nd, kind, density, seed_key):
    rng = _seeded(nd, kind, density, seed_key)
    s1, s2 = SHAPES[nd]
    x = rng.uniform(-1, 1, s1)
    # nonzero taps of both signs (a zero tap is a separate, known issue:
    # see test_properties.test_nan_times_a_zero_tap_is_nan)
    k = rng.uniform(0.5, 1.5, s2) * rng.choice([-1.0, 1.0], s2)
    count = 2 if density == "few" else x.size // 3
    flat = rng.choice(x.size, size=count, replace=False)
    values = {"nan": [np.nan], "+inf": [np.inf], "-inf": [-np.inf],
              "mixed": [np.nan, np.inf, -np.inf]}[kind]
    x.flat[flat] = rng.choice(values, size=count)
    return x, k


@pytest.mark.parametrize("density", ["few", "many"])
@pytest.mark.parametrize("kind", ["nan", "+inf", "-inf", "mixed"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_nonfinite_footprint_is_the_same_for_every_method(op, nd, kind, density):
    x, k = _nonfinite_problem(nd, kind, density, op)
    f = getattr(convolab, op)
    for mode, boundary in (("full", "fill"), ("same", "wrap"), ("same", "reflect"),
                           ("valid", "fill")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            direct = f(x, k, mode, method="direct", boundary=boundary)
            expected = oracle(x, k, mode, flip=op == "convolve", boundary=boundary)
        # the direct method against an explicit loop
        np.testing.assert_array_equal(np.isnan(direct), np.isnan(expected))
        np.testing.assert_array_equal(np.isposinf(direct), np.isposinf(expected))
        np.testing.assert_array_equal(np.isneginf(direct), np.isneginf(expected))
        assert np.isnan(direct).any() or np.isinf(direct).any()
        for method in ("reference", "im2col", "fft", "oa", "os"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                got = f(x, k, mode, method=method, boundary=boundary)
            msg = f"method={method!r} {mode} {boundary}"
            np.testing.assert_array_equal(np.isnan(got), np.isnan(direct), err_msg=msg)
            np.testing.assert_array_equal(np.isposinf(got), np.isposinf(direct), err_msg=msg)
            np.testing.assert_array_equal(np.isneginf(got), np.isneginf(direct), err_msg=msg)
            finite = np.isfinite(direct)
            np.testing.assert_allclose(got[finite], direct[finite], rtol=1e-9,
                                       atol=1e-9 * magnitude(np.nan_to_num(x, posinf=1, neginf=1), k),
                                       err_msg=msg)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_one_nan_spreads_over_the_kernel_footprint_only(method):
    """The measured scipy contrast: one NaN in 7x7 with a 3x3 kernel gives 9 NaN
    outputs with the direct method and 49 with scipy's FFT; convolab gives 9
    whatever the method."""
    x = np.ones((7, 7))
    x[3, 3] = np.nan
    k = np.ones((3, 3)) / 9
    out = convolab.convolve(x, k, "same", method=method)
    assert np.isnan(out).sum() == 9
    assert np.isnan(out[2:5, 2:5]).all()
    np.testing.assert_allclose(out[0, 0], 4 / 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(scipy_signal.convolve(x, k, "same", method="direct")).sum() == 9


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("op", ["convolve", "correlate", "convolve2d", "correlate2d"])
def test_nan_policy_raise(op, method):
    f = getattr(convolab, op)
    x, k = np.ones((5, 5)), np.ones((2, 2))
    bad = x.copy()
    bad[2, 2] = np.nan
    with pytest.raises(ConvolabError, match=r"nan_policy='raise'.*in1.*NaN"):
        f(bad, k, method=method, nan_policy="raise")
    badk = k.copy()
    badk[0, 0] = np.nan
    with pytest.raises(ConvolabError, match=r"nan_policy='raise'.*in2.*NaN"):
        f(x, badk, method=method, nan_policy="raise")
    # no NaN: runs and equals the default policy
    np.testing.assert_allclose(f(x, k, method=method, nan_policy="raise"), f(x, k, method=method))


def test_nan_policy_raise_complex():
    x = np.ones(5, dtype=complex)
    x[1] = complex(0, np.nan)
    with pytest.raises(ConvolabError, match=r"NaN"):
        convolab.convolve(x, np.ones(2), nan_policy="raise")


# ---------------------------------------------------------------------------
# integer accumulation and wrap-around


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("op", ["convolve", "convolve2d", "correlate", "correlate2d"])
def test_nine_uint8_255s_wrap_to_247_with_a_warning(op, method):
    """nine 255s in uint8 with a 3x3 box of ones: scipy (and torch) wrap to 247."""
    a = np.full((3, 3), 255, dtype=np.uint8)
    b = np.ones((3, 3), dtype=np.uint8)
    expected = getattr(scipy_signal, op)(a, b, "valid")
    assert expected.dtype == np.uint8 and expected[0, 0] == 247
    with pytest.warns(ConvolabWarning, match=r"uint8"):
        out = getattr(convolab, op)(a, b, "valid", method=method)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_the_warning_points_at_the_callers_line(method):
    a = np.full((3, 3), 255, dtype=np.uint8)
    with pytest.warns(ConvolabWarning) as record:
        convolab.convolve(a, np.ones((3, 3), np.uint8), "valid", method=method)
    assert record[0].filename == __file__


@pytest.mark.parametrize("method", ALL_METHODS)
def test_no_warning_when_the_result_fits(method, no_convolab_warnings):
    a = np.full((3, 3), 20, dtype=np.uint8)
    b = np.ones((3, 3), dtype=np.uint8)
    np.testing.assert_array_equal(convolab.convolve(a, b, "valid", method=method), [[180]])
    # the bound (255 * 1 * 9) exceeds uint8, the actual result does not
    c = np.zeros((5, 5), dtype=np.uint8)
    c[2, 2] = 255
    out = convolab.convolve(c, b, "same", method=method)
    np.testing.assert_array_equal(out, scipy_signal.convolve(c, b, "same"))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_warning_exactly_when_the_exact_result_does_not_fit(dtype, method):
    info = np.iinfo(dtype)
    for trial in range(6):
        rng = _seeded(dtype, method, trial)
        hi = int(min(info.max, 2**20)) // (1 + trial * 3)
        lo = max(int(info.min), -hi)
        a = rng.integers(lo, hi + 1, size=(6, 7)).astype(dtype)
        b = rng.integers(max(lo, -3), 4, size=(3, 2)).astype(dtype)
        exact = oracle(a.astype(np.int64), b.astype(np.int64), "full", flip=True)
        wraps = exact.min() < info.min or exact.max() > info.max
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            out = convolab.convolve(a, b, method=method)
        warned = any(issubclass(w.category, ConvolabWarning) for w in record)
        assert warned == wraps, (trial, exact.min(), exact.max())
        np.testing.assert_array_equal(out, exact.astype(dtype))
        np.testing.assert_array_equal(out, scipy_signal.convolve(a, b, method="direct"))


def test_a_large_fillvalue_that_wraps_warns():
    """The wrap-around check counts the fill value: 4 * 30000 does not fit int16."""
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    b = np.ones((2, 2), dtype=np.int16)
    exact = oracle(a.astype(np.int64), b.astype(np.int64), "full", flip=True,
                   fillvalue=30000)
    assert exact.max() > np.iinfo(np.int16).max            # the exact result does not fit
    with pytest.warns(ConvolabWarning):
        out = convolab.convolve2d(a, b, "full", "fill", 30000)
    np.testing.assert_array_equal(out, exact.astype(np.int16))


def test_a_fillvalue_outside_the_integer_range_is_refused_like_scipy():
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    b = np.ones((2, 2), dtype=np.int16)
    with pytest.raises(ValueError, match="could not cast `fillvalue`"):
        scipy_signal.convolve2d(a, b, "full", "fill", 2**20)
    with pytest.raises(ConvolabError, match="could not cast `fillvalue`"):
        convolab.convolve2d(a, b, "full", "fill", 2**20)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_int64_overflow_warns(method):
    """64-bit sums that overflow wrap (as scipy's do) and say so."""
    a = np.array([2**62, 2**62, 2**62], dtype=np.int64)
    b = np.array([1, 1], dtype=np.int64)
    with pytest.warns(ConvolabWarning):
        out = convolab.convolve(a, b, method=method)
    np.testing.assert_array_equal(out, scipy_signal.convolve(a, b, method="direct"))
    assert out[1] < 0                                      # 2**63 wrapped to -2**63
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvolabWarning)
        convolab.convolve(a // 4, b, method=method)        # 2**61 sums fit: no warning


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32"])
@pytest.mark.parametrize("method", ALL_METHODS + ("auto",))
def test_large_integers_are_exact_with_every_method(dtype, method):
    """Values up to the dtype's limits: every method gives the bits of the
    direct sum (modulo 2**64 for 64-bit types), which float64 transforms alone
    cannot (they keep 53 bits)."""
    info = np.iinfo(dtype)
    rng = _seeded(dtype, method)
    for s1, s2 in (((40,), (7,)), ((9, 11), (4, 3))):
        a = rng.integers(info.min, info.max, size=s1, dtype=dtype, endpoint=True)
        b = rng.integers(info.min, info.max, size=s2, dtype=dtype, endpoint=True)
        exact = oracle(a, b, "full", flip=True)             # int64 arithmetic wraps mod 2**64
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvolabWarning)
            out = convolab.convolve(a, b, method=method)
            corr = convolab.correlate(a, b, "same", method=method)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out, exact)
        np.testing.assert_array_equal(corr, oracle(a, b, "same", flip=False))


def test_int64_large_values_auto_is_exact_and_explained():
    """int64 values near 2**45 with a 31x31 kernel: sums reach 2**55, beyond
    float64.  'auto' must give the exact result; a small problem stays on a
    direct method (scipy's rule), and a plan that uses a transform says how it
    stays exact."""
    rng = _seeded("auto-int64")
    small_a = rng.integers(-2**45, 2**45, size=(12, 12), dtype=np.int64)
    small_b = rng.integers(0, 2, size=(3, 3), dtype=np.int64)
    p = convolab.plan(small_a, small_b, "same")
    assert p.family == "direct"
    assert convolab.choose_conv_method(small_a, small_b, "same") == "direct"

    a = rng.integers(-2**45, 2**45, size=(96, 96), dtype=np.int64)
    b = rng.integers(0, 2, size=(31, 31), dtype=np.int64)
    p = convolab.plan(a, b, "same")
    assert p.problem.value_bound >= 2.0 ** 52
    if p.family == "fft":
        detail = next(c.detail for c in p.candidates if c.name == p.method)
        assert "exact" in detail
    assert convolab.choose_conv_method(a, b, "same") == p.family
    np.testing.assert_array_equal(convolab.convolve(a, b, "same"),
                                  scipy_signal.convolve(a, b, "same", method="direct"))
    np.testing.assert_array_equal(p(a, b), scipy_signal.convolve(a, b, "same", method="direct"))


@pytest.mark.parametrize("method", ALL_METHODS)
def test_bool_inputs_give_bool(method):
    rng = _seeded("bool", method)
    a = rng.random((6, 7)) < 0.3
    b = rng.random((3, 3)) < 0.5
    out = convolab.convolve(a, b, "same", method=method)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, scipy_signal.convolve(a.astype(int), b.astype(int),
                                                             "same", method="direct") != 0)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_mixed_integer_dtypes_follow_result_type(method):
    a = np.array([100, -100, 50], dtype=np.int8)
    b = np.array([200, 100], dtype=np.uint8)
    out = convolab.convolve(a, b, method=method)
    assert out.dtype == np.result_type(a, b) == np.int16
    np.testing.assert_array_equal(out, np.convolve(a.astype(np.int64), b.astype(np.int64)))


def test_integer_results_match_float_results_when_small():
    """Integer and float inputs with the same small values give the same sums."""
    rng = _seeded("int-vs-float")
    a = rng.integers(-9, 10, (8, 9))
    b = rng.integers(-3, 4, (3, 4))
    for method in ALL_METHODS:
        assert_close_dtype(convolab.convolve(a, b, method=method).astype(np.float64),
                           convolab.convolve(a.astype(float), b.astype(float), method=method),
                           np.float64)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_nan_fillvalue_marks_the_edge_outputs(method):
    """boundary='fill' with fillvalue=nan: NaN exactly where the window reaches
    beyond the input."""
    rng = _seeded("nan-fill", method)
    x, k = rng.uniform(-1, 1, (12, 13)), rng.uniform(0.5, 1, (3, 4))
    out = convolab.convolve(x, k, "same", method=method, fillvalue=np.nan)
    expected = oracle(x, k, "same", flip=True, fillvalue=np.nan)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    inner = ~np.isnan(expected)
    assert inner.any() and (~inner).any()
    np.testing.assert_allclose(out[inner], expected[inner], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_complex_nonfinite_inputs(method):
    rng = _seeded("complex-nonfinite", method)
    x = rng.uniform(-1, 1, (12, 13)) + 1j * rng.uniform(-1, 1, (12, 13))
    x[5, 5] = complex(np.nan, 0)
    x[2, 8] = complex(0, np.inf)
    k = rng.uniform(0.5, 1, (3, 4)) + 1j
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = convolab.correlate(x, k, "full", method=method)
        expected = oracle(x, k, "full", flip=False)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-10, atol=1e-12)
