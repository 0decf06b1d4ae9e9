"""Algebraic properties of convolution and correlation, checked with hypothesis
on small shapes, for every algorithm.

Each property is a mathematical identity that a wrong implementation breaks:
linearity, commutativity and associativity of convolution (and not of
correlation), the relation between correlation and convolution, the adjoint
identity behind gradients, boundary extension equal to numpy.pad, and the
NaN footprint.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, find, given, settings
from hypothesis import strategies as st

import convolab
from convolab.boundary import extend, normalize_boundary
from helpers import (BOUNDARIES, METHODS, NUMPY_PAD_MODE, assert_close_dtype, footprint,
                     magnitude, valid_ok)

ALL_METHODS = ("reference",) + METHODS
OPS = {"convolve": convolab.convolve, "correlate": convolab.correlate}


# ---------------------------------------------------------------------------
# strategies


@st.composite
def shapes(draw, ndim=None, max_side=6):
    nd = draw(st.integers(1, 3)) if ndim is None else ndim
    return tuple(draw(st.integers(1, max_side)) for _ in range(nd))


@st.composite
def arrays(draw, shape, dtype="float64"):
    """Small integer-valued entries, so that direct sums are exact and FFT
    errors are relative to the size of the terms."""
    size = int(np.prod(shape))
    values = draw(st.lists(st.integers(-5, 5), min_size=size, max_size=size))
    a = np.array(values, dtype=np.float64).reshape(shape)
    if np.dtype(dtype).kind == "c":
        imag = draw(st.lists(st.integers(-5, 5), min_size=size, max_size=size))
        a = a + 1j * np.array(imag, dtype=np.float64).reshape(shape)
    return a.astype(dtype)


@st.composite
def pair(draw, dtype=st.sampled_from(["float64", "complex128"]), max_side=6, max_kernel=4):
    """(in1, in2) with the same ndim."""
    dt = draw(dtype)
    s1 = draw(shapes(max_side=max_side))
    s2 = tuple(draw(st.integers(1, max_kernel)) for _ in s1)
    return draw(arrays(s1, dt)), draw(arrays(s2, dt))


methods = st.sampled_from(ALL_METHODS)
modes = st.sampled_from(["full", "same", "valid"])
boundaries = st.sampled_from(BOUNDARIES)


def _close(a, b, scale, err_msg=""):
    assert_close_dtype(a, b, np.result_type(a, b), scale=scale, check_dtype=False,
                       err_msg=err_msg)


# ---------------------------------------------------------------------------
# linearity


@settings(max_examples=60)
@given(data=st.data(), method=methods, mode=modes, boundary=boundaries,
       op=st.sampled_from(sorted(OPS)))
def test_linear_in_the_input(data, method, mode, boundary, op):
    x, k = data.draw(pair())
    assume(mode != "valid" or valid_ok(x.shape, k.shape))
    y = data.draw(arrays(x.shape, x.dtype.name))
    a, b = data.draw(st.integers(-3, 3)), data.draw(st.integers(-3, 3))
    f = OPS[op]
    lhs = f(a * x + b * y, k, mode, method=method, boundary=boundary)
    rhs = a * f(x, k, mode, method=method, boundary=boundary) \
        + b * f(y, k, mode, method=method, boundary=boundary)
    _close(lhs, rhs, 7 * magnitude(x, k) + 1)


@settings(max_examples=40)
@given(data=st.data(), method=methods, mode=modes, boundary=boundaries,
       op=st.sampled_from(sorted(OPS)))
def test_linear_in_the_kernel(data, method, mode, boundary, op):
    x, k1 = data.draw(pair())
    assume(mode != "valid" or valid_ok(x.shape, k1.shape))
    k2 = data.draw(arrays(k1.shape, k1.dtype.name))
    a, b = data.draw(st.integers(-3, 3)), data.draw(st.integers(-3, 3))
    f = OPS[op]
    lhs = f(x, a * k1 + b * k2, mode, method=method, boundary=boundary)
    rhs = a * f(x, k1, mode, method=method, boundary=boundary) \
        + b * f(x, k2, mode, method=method, boundary=boundary)
    _close(lhs, rhs, 7 * magnitude(x, k1) + 1)


# ---------------------------------------------------------------------------
# commutativity and associativity of convolution


@settings(max_examples=50)
@given(data=st.data(), method=methods)
def test_convolution_is_commutative(data, method):
    dt = data.draw(st.sampled_from(["float64", "complex128"]))
    s1 = data.draw(shapes(max_side=5))
    s2 = tuple(data.draw(st.integers(1, 5)) for _ in s1)
    a, b = data.draw(arrays(s1, dt)), data.draw(arrays(s2, dt))
    _close(convolab.convolve(a, b, method=method), convolab.convolve(b, a, method=method),
           magnitude(a, b))


@settings(max_examples=40)
@given(data=st.data(), method=methods)
def test_convolution_is_associative(data, method):
    dt = data.draw(st.sampled_from(["float64", "complex128"]))
    s1 = data.draw(shapes(max_side=4))
    s2 = tuple(data.draw(st.integers(1, 3)) for _ in s1)
    s3 = tuple(data.draw(st.integers(1, 3)) for _ in s1)
    a, b, c = (data.draw(arrays(s, dt)) for s in (s1, s2, s3))
    conv = convolab.convolve
    left = conv(conv(a, b, method=method), c, method=method)
    right = conv(a, conv(b, c, method=method), method=method)
    _close(left, right, magnitude(a, b) * magnitude(b, c) * 30)


# ---------------------------------------------------------------------------
# correlation


def test_correlation_is_not_commutative():
    """Hypothesis finds a pair for which correlate(a, b) != correlate(b, a)."""
    def differs(ab):
        a, b = ab
        return not np.allclose(convolab.correlate(a, b), convolab.correlate(b, a))

    a, b = find(pair(dtype=st.just("float64")), differs, settings=settings(max_examples=200))
    assert not np.allclose(convolab.correlate(a, b), convolab.correlate(b, a))
    # and a hand-made one: [1, 2, 3] against [0, 1, 0.5]
    np.testing.assert_allclose(convolab.correlate([1, 2, 3], [0, 1, 0.5]), [0.5, 2, 3.5, 3, 0])
    np.testing.assert_allclose(convolab.correlate([0, 1, 0.5], [1, 2, 3]), [0, 3, 3.5, 2, 0.5])


def _reverse(a):
    return a[(slice(None, None, -1),) * a.ndim]


@settings(max_examples=50)
@given(data=st.data(), method=methods)
def test_correlation_swapped_is_reversed_conjugate(data, method):
    a, b = data.draw(pair(max_side=5, max_kernel=5))
    ab = convolab.correlate(a, b, method=method)
    ba = convolab.correlate(b, a, method=method)
    _close(ab, np.conj(_reverse(ba)), magnitude(a, b))


@settings(max_examples=60)
@given(data=st.data(), method=methods, mode=modes, boundary=boundaries)
def test_correlation_is_convolution_with_flipped_conjugated_kernel(data, method, mode, boundary):
    x, k = data.draw(pair(max_kernel=5))
    assume(mode != "valid" or valid_ok(x.shape, k.shape))
    corr = convolab.correlate(x, k, mode, method=method, boundary=boundary)
    conv = convolab.convolve(x, np.conj(_reverse(k)), mode, method=method, boundary=boundary)
    _close(corr, conv, magnitude(x, k))


@settings(max_examples=40)
@given(data=st.data(), method=methods, mode=modes, boundary=st.sampled_from(["fill", "wrap", "symm"]))
def test_correlate2d_is_convolve2d_with_flipped_kernel(data, method, mode, boundary):
    """Real inputs; an even kernel in 'same' mode is exempt (correlate2d centres
    it one sample earlier, scipy #1968)."""
    s1 = data.draw(shapes(ndim=2))
    s2 = tuple(data.draw(st.integers(1, 4)) for _ in s1)
    assume(mode != "valid" or valid_ok(s1, s2))
    assume(mode != "same" or all(k % 2 for k in s2))
    x, k = data.draw(arrays(s1)), data.draw(arrays(s2))
    _close(convolab.correlate2d(x, k, mode, boundary, method=method),
           convolab.convolve2d(x, _reverse(k), mode, boundary, method=method), magnitude(x, k))


# ---------------------------------------------------------------------------
# the adjoint identity


@settings(max_examples=60)
@given(data=st.data(), method=methods)
def test_adjoint_identity(data, method):
    """<convolve(x, k, 'full'), y> == <x, correlate(y, k, 'valid')> for y of the
    full output's shape, with <u, v> = sum(u * conj(v)).  This is what makes
    the gradient of a convolution a correlation."""
    x, k = data.draw(pair())
    full_shape = tuple(n + m - 1 for n, m in zip(x.shape, k.shape))
    y = data.draw(arrays(full_shape, x.dtype.name))
    forward = convolab.convolve(x, k, "full", method=method)
    backward = convolab.correlate(y, k, "valid", method=method)
    assert backward.shape == x.shape
    lhs = np.vdot(y, forward)          # sum(forward * conj(y))
    rhs = np.vdot(backward, x)         # sum(x * conj(backward))
    scale = magnitude(x, k) * float(np.abs(y).max() + 1) * y.size
    assert abs(lhs - rhs) <= 1e-9 * scale + 1e-9, (lhs, rhs)


@settings(max_examples=30)
@given(data=st.data(), method=methods)
def test_adjoint_identity_2d(data, method):
    s1 = data.draw(shapes(ndim=2))
    s2 = tuple(data.draw(st.integers(1, 4)) for _ in s1)
    x, k = data.draw(arrays(s1)), data.draw(arrays(s2))
    y = data.draw(arrays(tuple(n + m - 1 for n, m in zip(s1, s2))))
    lhs = np.vdot(y, convolab.convolve2d(x, k, "full", method=method))
    rhs = np.vdot(convolab.correlate2d(y, k, "valid", method=method), x)
    assert abs(lhs - rhs) <= 1e-9 * (magnitude(x, k) * (np.abs(y).max() + 1) * y.size) + 1e-9


# ---------------------------------------------------------------------------
# boundary extension


def _index(m: int, n: int, boundary: str) -> int:
    """Where sample ``m`` (any integer) of the extension reads in1, by the
    definitions in convolab.boundary's table."""
    if boundary == "wrap":
        return m % n
    if boundary == "nearest":
        return min(max(m, 0), n - 1)
    if boundary == "symm":                       # c b a | a b c
        r = m % (2 * n)
        return r if r < n else 2 * n - 1 - r
    if boundary == "reflect":                    # d c b | a b c d
        if n == 1:
            return 0
        r = m % (2 * n - 2)
        return r if r < n else 2 * n - 2 - r
    raise AssertionError(boundary)


def _extend_by_definition(x, pads, boundary, fillvalue):
    lead = x.ndim - len(pads)
    out = x
    for i, (lo, hi) in enumerate(pads):
        axis = lead + i
        n = out.shape[axis]
        if boundary == "fill":
            index = np.arange(-lo, n + hi)
            inside = (index >= 0) & (index < n)
            taken = np.take(out, np.clip(index, 0, n - 1), axis=axis)
            shape = [1] * out.ndim
            shape[axis] = -1
            out = np.where(inside.reshape(shape), taken, np.asarray(fillvalue, dtype=x.dtype))
        else:
            out = np.take(out, [_index(m, n, boundary) for m in range(-lo, n + hi)], axis=axis)
    return out


@settings(max_examples=150)
@given(data=st.data(), boundary=st.sampled_from(BOUNDARIES + ("circular", "mirror", "edge",
                                                               "symmetric", "constant")),
       dtype=st.sampled_from(["float64", "int32", "complex128"]))
def test_extend_equals_numpy_pad(data, boundary, dtype):
    shape = data.draw(shapes(max_side=5))
    x = data.draw(arrays(shape, dtype))
    npad = data.draw(st.integers(1, x.ndim))
    pads = [(data.draw(st.integers(0, 13)), data.draw(st.integers(0, 13))) for _ in range(npad)]
    fill = data.draw(st.integers(-3, 3)) if normalize_boundary(boundary) == "fill" else 0
    canon = normalize_boundary(boundary)
    got = extend(x, pads, canon, fill)
    width = [(0, 0)] * (x.ndim - npad) + pads
    kwargs = {"constant_values": fill} if canon == "fill" else {}
    expected = np.pad(x, width, mode=NUMPY_PAD_MODE[canon], **kwargs)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, _extend_by_definition(x, pads, canon, fill))


def test_extend_table_examples():
    """The rows of the table in convolab.boundary's docstring."""
    x = np.array([1, 2, 3, 4, 5])
    rows = {"fill": [0, 0, 0], "wrap": [3, 4, 5], "symm": [3, 2, 1], "reflect": [4, 3, 2],
            "nearest": [1, 1, 1]}
    for boundary, left in rows.items():
        np.testing.assert_array_equal(extend(x, [(3, 0)], boundary)[:3], left)


# ---------------------------------------------------------------------------
# NaN footprint


@st.composite
def nonzero_arrays(draw, shape):
    size = int(np.prod(shape))
    values = draw(st.lists(st.integers(-5, 5).filter(bool), min_size=size, max_size=size))
    return np.array(values, dtype=np.float64).reshape(shape)


@settings(max_examples=60)
@given(data=st.data(), mode=st.sampled_from(["full", "same", "valid"]), boundary=boundaries,
       op=st.sampled_from(sorted(OPS)))
def test_nan_footprint_is_the_same_for_every_algorithm(data, mode, boundary, op):
    """NaN appears exactly at the outputs whose window holds a NaN input, with
    every method (kernel taps nonzero here; zero taps: the test below)."""
    s1 = data.draw(shapes(max_side=7))
    s2 = tuple(data.draw(st.integers(1, 4)) for _ in s1)
    assume(mode != "valid" or valid_ok(s1, s2))
    x = data.draw(arrays(s1))
    k = data.draw(nonzero_arrays(s2))
    nan_mask = np.array(data.draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size)),
                        dtype=bool).reshape(s1)
    x[nan_mask] = np.nan
    expected = footprint(nan_mask, s2, mode, boundary=boundary)
    f = OPS[op]
    results = {}
    for method in ALL_METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            results[method] = f(x, k, mode, method=method, boundary=boundary)
        np.testing.assert_array_equal(np.isnan(results[method]), expected,
                                      err_msg=f"NaN footprint of method={method!r}")
    for method in METHODS:
        _close(results[method], results["reference"], magnitude(np.nan_to_num(x), k))


def _nan_case(which):
    if which == "few":        # one NaN in a 30x30 image: engines repair a few outputs
        x = np.ones((30, 30))
        x[10, 10] = np.nan
    else:                     # one NaN in 3x3: a third of the outputs are affected
        x = np.ones((3, 3))
        x[1, 1] = np.nan
    return x, np.array([[1.0, 0.0, 1.0]])


@pytest.mark.parametrize("which", ["few", "many"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_nan_times_a_zero_tap_is_nan(method, which, request):
    """A zero kernel tap still multiplies its input sample: NaN * 0 is NaN
    (scipy.signal.convolve(method='direct') and the reference agree), so the
    footprint does not depend on the kernel's values."""
    x, k = _nan_case(which)
    expected = footprint(np.isnan(x), k.shape, "same")
    out = convolab.convolve(x, k, "same", method=method)
    np.testing.assert_array_equal(np.isnan(out), expected)


@pytest.mark.parametrize("method", ["reference", *METHODS])
def test_nan_in_the_kernel_reaches_every_output(method):
    """A NaN tap takes part in every sum (NaN * 0 is NaN): every output is NaN."""
    x = np.arange(12.0).reshape(3, 4)
    k = np.ones((2, 2))
    k[0, 1] = np.nan
    for mode in ("full", "same", "valid"):
        out = convolab.convolve(x, k, mode, method=method)
        assert out.size and np.isnan(out).all(), (mode, out)
