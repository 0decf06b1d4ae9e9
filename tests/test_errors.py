"""Bad input raises ConvolabError (a ValueError) or TypeError, and the message
names the argument and the value it got."""

from __future__ import annotations

import re
import tracemalloc
import warnings

import numpy as np
import pytest

import convolab
from convolab import ConvolabError
from helpers import scipy_signal

ND = [convolab.convolve, convolab.correlate]
ALL = ND + [convolab.fftconvolve, convolab.oaconvolve]
TWO_D = [convolab.convolve2d, convolab.correlate2d]


def test_convolab_error_is_a_value_error():
    assert issubclass(ConvolabError, ValueError)
    assert issubclass(convolab.ConvolabWarning, Warning)


# ---------------------------------------------------------------------------
# shapes


@pytest.mark.parametrize("f", ALL)
def test_mismatched_ndim(f):
    with pytest.raises(ConvolabError, match=r"same dimensionality.*\(3,\).*\(2, 2\)"):
        f(np.ones(3), np.ones((2, 2)))


@pytest.mark.parametrize("f", TWO_D)
def test_two_d_functions_need_two_d_inputs(f):
    with pytest.raises(ConvolabError, match=r"2-D.*\(3,\)"):
        f(np.ones(3), np.ones(2))
    with pytest.raises(ConvolabError, match=r"axes"):
        f(np.ones((3, 3, 3)), np.ones((2, 2, 2)), axes=(0, 1, 2))


@pytest.mark.parametrize("f", ND)
def test_valid_mode_needs_one_input_larger(f):
    # scipy's phrase, with the shapes
    with pytest.raises(ConvolabError, match=r"one must be at least as large as the other.*\(3, 2\)"):
        f(np.ones((3, 2)), np.ones((2, 3)), "valid")
    with pytest.raises(ValueError, match="one must be at least as large"):
        scipy_signal.convolve(np.ones((3, 2)), np.ones((2, 3)), "valid")


@pytest.mark.parametrize("f", ND)
def test_axes_errors(f):
    with pytest.raises(ConvolabError, match=r"axes=5"):
        f(np.ones(3), np.ones(2), axes=5)
    with pytest.raises(ConvolabError, match=r"unique.*axes=\[0, 0\]"):
        f(np.ones((3, 3)), np.ones((2, 2)), axes=[0, 0])
    with pytest.raises(ConvolabError, match=r"broadcast.*\(3, 4\).*\(2, 3\)"):
        f(np.ones((3, 4)), np.ones((2, 3)), axes=0)
    with pytest.raises(ConvolabError, match=r"axes"):
        f(np.ones((3, 4)), np.ones((2, 3)), axes=[])
    with pytest.raises(ConvolabError, match=r"axes"):
        f(np.ones((3, 4)), np.ones((2, 3)), axes=1.5)


# ---------------------------------------------------------------------------
# vocabularies


@pytest.mark.parametrize("f", ALL + TWO_D)
def test_unknown_mode(f):
    with pytest.raises(ConvolabError, match=r"acceptable mode flags.*mode='bogus'"):
        f(np.ones((3, 3)), np.ones((2, 2)), "bogus")


@pytest.mark.parametrize("f", ALL)
def test_unknown_boundary_lists_the_allowed_names(f):
    with pytest.raises(ConvolabError, match=r"boundary='bogus'") as info:
        f(np.ones(3), np.ones(2), boundary="bogus")
    for name in ("fill", "wrap", "symm", "reflect", "nearest"):
        assert repr(name) in str(info.value)


@pytest.mark.parametrize("f", TWO_D)
def test_unknown_boundary_two_d(f):
    with pytest.raises(ConvolabError, match=r"boundary='bogus'"):
        f(np.ones((3, 3)), np.ones((2, 2)), "same", "bogus")


@pytest.mark.parametrize("f", ND)
def test_unknown_method(f):
    with pytest.raises(ConvolabError, match=r"method='bogus'") as info:
        f(np.ones(3), np.ones(2), method="bogus")
    for name in ("auto", "direct", "fft"):
        assert repr(name) in str(info.value)


def test_unknown_method_two_d_and_plan():
    with pytest.raises(ConvolabError, match=r"method='winograd'"):
        convolab.convolve2d(np.ones((3, 3)), np.ones((2, 2)), method="winograd")
    with pytest.raises(ConvolabError, match=r"method='bogus'"):
        convolab.plan(np.ones(3), np.ones(2), method="bogus")
    with pytest.raises(ConvolabError, match=r"op='bogus'"):
        convolab.plan(np.ones(3), np.ones(2), op="bogus")


@pytest.mark.parametrize("f", ND)
def test_unknown_nan_policy(f):
    with pytest.raises(ConvolabError, match=r"nan_policy='sometimes'"):
        f(np.ones(3), np.ones(2), nan_policy="sometimes")


# ---------------------------------------------------------------------------
# a method that cannot run the problem


@pytest.mark.parametrize("f", ND + TWO_D)
def test_forced_method_that_cannot_run_names_the_reason(f):
    """The reference refuses problems above 5e7 multiply-adds; forcing it
    raises with that reason instead of running for minutes."""
    in1, in2 = np.ones((2000, 2000)), np.ones((5, 5))
    with pytest.raises(ConvolabError, match=r"method='reference' cannot run.*only for small problems"):
        f(in1, in2, method="reference")


def test_forced_method_that_cannot_run_via_plan():
    with pytest.raises(ConvolabError, match=r"reference.*only for small problems"):
        convolab.plan(np.ones((2000, 2000)), np.ones((5, 5)), method="reference")


def test_fft_with_huge_integers_is_exact_or_refused():
    """int64 values of magnitude 2**40: float64 transforms cannot hold the sums
    (2**80).  method='fft' must either refuse with the reason or give the
    exact (wrapping int64) result of the direct method."""
    rng = np.random.default_rng(0)
    in1 = rng.integers(-2**40, 2**40, size=50, dtype=np.int64)
    in2 = rng.integers(-2**40, 2**40, size=7, dtype=np.int64)
    expected = scipy_signal.convolve(in1, in2, method="direct")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", convolab.ConvolabWarning)
            got = convolab.convolve(in1, in2, method="fft")
    except ConvolabError as err:
        assert "fft" in str(err) and "2**52" in str(err)
    else:
        np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("f", ALL + TWO_D)
@pytest.mark.parametrize("bad", [np.array([[1, 2], [3, 4]], dtype=object),
                                 np.array([["a", "b"], ["c", "d"]]),
                                 np.array([[b"a", b"b"], [b"c", b"d"]]),
                                 np.array([["2020-01-01"] * 2] * 2, dtype="datetime64[D]")],
                         ids=["object", "str", "bytes", "datetime"])
def test_non_numeric_inputs_raise_type_error(f, bad):
    with pytest.raises(TypeError, match=r"in1 has dtype"):
        f(bad, np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"in2 has dtype"):
        f(np.ones((3, 3)), bad)


def test_non_numeric_inputs_plan_and_choose():
    bad = np.array(["a", "b", "c"])
    with pytest.raises(TypeError, match=r"in1 has dtype"):
        convolab.plan(bad, np.ones(2))
    with pytest.raises(TypeError, match=r"in2 has dtype"):
        convolab.choose_conv_method(np.ones(3), np.array([None, None], dtype=object))


# ---------------------------------------------------------------------------
# fillvalue


@pytest.mark.parametrize("f", TWO_D)
def test_fillvalue_must_be_scalar(f):
    with pytest.raises(ConvolabError, match=r"fillvalue.*scalar.*\[1, 2\]"):
        f(np.ones((3, 3)), np.ones((2, 2)), "same", "fill", [1, 2])
    with pytest.raises(ValueError, match="scalar"):   # scipy's phrase
        scipy_signal.convolve2d(np.ones((3, 3)), np.ones((2, 2)), "same", "fill", [1, 2])


@pytest.mark.parametrize("f", TWO_D)
def test_complex_fillvalue_for_real_inputs(f):
    with pytest.raises(ConvolabError, match=r"could not cast `fillvalue`.*1j"):
        f(np.ones((3, 3)), np.ones((2, 2)), "same", "fill", 1j)
    # a complex fill with zero imaginary part is a real number
    np.testing.assert_allclose(f(np.ones((3, 3)), np.ones((2, 2)), "full", "fill", 2 + 0j),
                               f(np.ones((3, 3)), np.ones((2, 2)), "full", "fill", 2))


@pytest.mark.parametrize("bad", ["a", None, object()], ids=["str", "None", "object"])
def test_non_numeric_fillvalue(bad):
    with pytest.raises(TypeError, match=r"fillvalue="):
        convolab.convolve2d(np.ones((3, 3)), np.ones((2, 2)), "same", "fill", bad)
    with pytest.raises(TypeError, match=r"fillvalue="):
        convolab.convolve(np.ones(3), np.ones(2), boundary="fill", fillvalue=bad)


@pytest.mark.filterwarnings("ignore:Casting complex values", "ignore:invalid value")
def test_fillvalue_too_large_for_integers_is_a_convolab_error():
    a, b = np.arange(12, dtype=np.uint64).reshape(3, 4), np.ones((2, 2), np.uint64)
    with pytest.raises(ValueError):   # scipy: ValueError "could not cast `fillvalue`..."
        scipy_signal.convolve2d(a, b, "same", fillvalue=2**70)
    with pytest.raises(ConvolabError, match=r"fillvalue"):
        convolab.convolve2d(a, b, "same", fillvalue=2**70)


@pytest.mark.filterwarnings("ignore:Casting complex values", "ignore:invalid value")
@pytest.mark.parametrize("dtype", ["int64", "uint64"])
def test_nan_fillvalue_for_integers_is_refused(dtype):
    a, b = np.arange(12, dtype=dtype).reshape(3, 4), np.ones((2, 2), dtype=dtype)
    with pytest.raises(ValueError):
        scipy_signal.convolve2d(a, b, "same", fillvalue=np.nan)
    with pytest.raises(ConvolabError, match=r"fillvalue=nan"):
        convolab.convolve2d(a, b, "same", fillvalue=np.nan)


# ---------------------------------------------------------------------------
# memory


def test_result_that_does_not_fit_is_refused_before_allocating(monkeypatch):
    """With 1 MiB allowed, a 2.4 MB output is refused with the sizes in the
    message, and nothing close to that is allocated first."""
    monkeypatch.setenv("CONVOLAB_MEMORY_LIMIT", "1MiB")
    in1, in2 = np.ones(300_011), np.ones(5)      # a shape no other test plans
    tracemalloc.start()
    try:
        with pytest.raises(ConvolabError) as info:
            convolab.convolve(in1, in2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert re.search(r"needs about [\d.]+ MiB", message), message
    assert "1.0 MiB" in message
    assert peak < 2**20, f"allocated {peak} bytes before refusing"


def test_memory_limit_parse_error(monkeypatch):
    monkeypatch.setenv("CONVOLAB_MEMORY_LIMIT", "lots")
    with pytest.raises(ConvolabError, match=r"CONVOLAB_MEMORY_LIMIT='lots'"):
        convolab.convolve(np.ones(300_013), np.ones(3))


def test_memory_limit_applies_to_a_problem_planned_before(monkeypatch):
    """Plans are cached; the cache must not outlive a change of the limit."""
    in1, in2 = np.ones(300_017), np.ones(5)
    assert convolab.convolve(in1, in2).shape == (300_021,)
    monkeypatch.setenv("CONVOLAB_MEMORY_LIMIT", "1MiB")
    with pytest.raises(ConvolabError, match=r"MiB"):
        convolab.convolve(in1, in2)


# ---------------------------------------------------------------------------
# correlation_lags


def test_correlation_lags_bad_sizes():
    with pytest.raises(ConvolabError, match=r"in1_len=-1"):
        convolab.correlation_lags(-1, 3)
    with pytest.raises(ConvolabError, match=r"in2_len=-5"):
        convolab.correlation_lags(3, -5)
    with pytest.raises(TypeError, match=r"in1_len=2.5"):
        convolab.correlation_lags(2.5, 3)
    with pytest.raises(TypeError, match=r"in2_len='3'"):
        convolab.correlation_lags(3, "3")
    with pytest.raises(TypeError, match=r"in1_len=True"):
        convolab.correlation_lags(True, 3)
    with pytest.raises(ConvolabError, match=r"bogus"):
        convolab.correlation_lags(3, 3, "bogus")


def test_correlation_lags_huge_sizes_refused_with_size():
    with pytest.raises(ConvolabError, match=r"would need [\d.]+ PiB"):
        convolab.correlation_lags(10**15, 3)


@pytest.mark.parametrize("mode", ["full", "valid"])
@pytest.mark.parametrize("n1,n2", [(4, 3), (3, 4), (1, 1), (7, 7), (0, 3), (5, 0)])
def test_correlation_lags_matches_scipy(n1, n2, mode):
    np.testing.assert_array_equal(convolab.correlation_lags(n1, n2, mode),
                                  scipy_signal.correlation_lags(n1, n2, mode))
    np.testing.assert_array_equal(convolab.correlation_lags(np.int64(n1), n2, mode),
                                  scipy_signal.correlation_lags(n1, n2, mode))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n1", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("n2", [1, 2, 3, 4, 6])
def test_correlation_lags_label_the_correlation(n1, n2, mode):
    """``correlate(x, y, mode)[i]`` compares ``x[n + lags[i]]`` with ``y[n]``:
    a 1 at x[p] and a 1 at y[q] peak where lags == p - q.  (scipy's own
    correlation_lags gets 'same' wrong for some sizes, e.g. (3, 4): it is not
    the oracle for that mode.)"""
    lags = convolab.correlation_lags(n1, n2, mode)
    size = convolab.correlate(np.ones(n1), np.ones(n2), mode).size
    assert lags.shape == (size,)
    assert np.all(np.diff(lags) == 1)
    for p in range(n1):
        for q in range(n2):
            x, y = np.zeros(n1), np.zeros(n2)
            x[p], y[q] = 1, 1
            out = scipy_signal.correlate(x, y, mode)      # the independent computation
            hit = np.flatnonzero(out)
            assert (lags[hit] == p - q).all()
            assert ((p - q) in lags) == bool(hit.size)


# ---------------------------------------------------------------------------
# empty inputs


@pytest.mark.parametrize("f", ALL)
@pytest.mark.parametrize("shapes", [((0,), (3,)), ((3,), (0,)), ((0, 3), (2, 2)), ((2, 2), (2, 0))])
def test_empty_inputs_give_empty_array(f, shapes):
    """scipy.signal's functions return ``np.array([])`` for an empty input."""
    out = f(np.ones(shapes[0]), np.ones(shapes[1]))
    expected = np.array([])
    assert out.shape == expected.shape and out.dtype == expected.dtype
    if f in (convolab.fftconvolve, convolab.oaconvolve):
        ref = getattr(scipy_signal, f.__name__)(np.ones(shapes[0]), np.ones(shapes[1]))
        assert ref.shape == out.shape and ref.dtype == out.dtype


@pytest.mark.parametrize("f", TWO_D)
@pytest.mark.parametrize("shapes", [((0, 3), (2, 2)), ((3, 3), (0, 2))])
def test_empty_inputs_two_d_refused(f, shapes):
    with pytest.raises(ConvolabError, match=r"empty.*\(0, "):
        f(np.ones(shapes[0]), np.ones(shapes[1]))


def test_empty_inputs_plan_refused():
    with pytest.raises(ConvolabError, match=r"\(0,\).*non-empty"):
        convolab.plan(np.ones(0), np.ones(2))
    with pytest.raises(ConvolabError, match=r"non-empty"):
        convolab.plan(np.ones((3, 3)), np.ones((0, 2)))


def test_error_messages_carry_the_call_context():
    with pytest.raises(ConvolabError) as info:
        convolab.correlate(np.ones((4, 5)), np.ones((2, 3)), nan_policy="bogus")
    assert "correlate" in str(info.value) and "(4, 5)" in str(info.value)
