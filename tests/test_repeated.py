"""Repeated calls (convolab.repeated): a call whose key was seen before reuses
the plan and, from the first repeat on, a shortcut prepared from the kernel.
Every repeat must give what the full path gives: checked against scipy (the
float64 direct method as oracle), with new input values on every call."""

import threading

import numpy as np
import pytest
import scipy.signal

import convolab
from convolab import planner, repeated
from convolab.algorithms import fft as fft_algorithm

DIRECT_SHAPES = [
    ((64, 64), (3, 3)), ((64, 64), (5, 5)), ((40, 57), (4, 6)), ((256, 256), (5, 5)),
    ((64, 64), (63, 63)), ((7, 200), (3, 9)), ((1000,), (21,)), ((300,), (4,)),
    ((30, 30), (1, 1)), ((5, 9), (8, 3)), ((600, 700), (1, 3))]
FFT_SHAPES = [((64, 64), (31, 31)), ((64, 64), (63, 63)), ((100, 90), (33, 20)),
              ((256, 256), (31, 31)), ((4000,), (301,)), ((40, 40), (41, 43))]


def _calls(entry, x, k, mode, **kwargs):
    """Three calls with the same key and new values of in1; their outputs."""
    rng = np.random.default_rng(x.size + k.size)
    outs, inputs = [], []
    for _ in range(3):
        xi = rng.standard_normal(x.shape).astype(x.dtype)
        inputs.append(xi)
        outs.append(entry(xi, k, mode, **kwargs))
    return inputs, outs


def _oracle(entry_name, x, k, mode):
    f = getattr(scipy.signal, "convolve" if entry_name == "fftconvolve" else entry_name)
    return f(x.astype(np.float64), k.astype(np.float64), mode, method="direct")


def _entry(entry_name, x, k, mode, method):
    """The call under test, by name: fftconvolve takes no method."""
    if entry_name == "fftconvolve":
        return convolab.fftconvolve(x, k, mode)
    return getattr(convolab, entry_name)(x, k, mode, method=method)


def _tolerance(dtype, x, k):
    scale = np.abs(x).max() * np.abs(k).sum()
    return (2e-6 if dtype == np.float32 else 1e-12) * scale


def _the_call():
    (call,) = repeated._calls.values()
    return call


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("shape, kshape", DIRECT_SHAPES + FFT_SHAPES)
@pytest.mark.parametrize("entry_name", ["convolve", "correlate", "fftconvolve"])
def test_repeats_match_scipy_and_take_the_shortcut(entry_name, shape, kshape, mode, dtype):
    planner.clear_cache()
    rng = np.random.default_rng(1)
    x, k = np.zeros(shape, dtype), rng.standard_normal(kshape).astype(dtype)
    if mode == "valid" and not (all(a >= b for a, b in zip(shape, kshape))
                                or all(a <= b for a, b in zip(shape, kshape))):
        pytest.skip("no valid output")
    inputs, outs = _calls(lambda a, b, m: _entry(entry_name, a, b, m, "auto"), x, k, mode)
    call = _the_call()
    for xi, out in zip(inputs, outs):
        expected = _oracle(entry_name, xi, k, mode)
        assert out.shape == expected.shape and out.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=0, atol=_tolerance(dtype, xi, k))
    problem = call.plan.problem
    one_image = problem.x_shape[:3] == (1, 1, 1) and problem.ndim >= 1   # fftconvolve broadcasts 1x1
    if one_image and call.plan.method in ("direct", "fft") and (
            call.plan.method == "fft" or problem.macs < 2**20):
        assert call.shortcut is not None, str(call.plan)


@pytest.mark.parametrize("method", ["direct", "fft", "oa", "os"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_every_forced_method_repeats_correctly(method, dtype, mode):
    planner.clear_cache()
    rng = np.random.default_rng(2)
    x, k = np.zeros((70, 90), dtype), rng.standard_normal((9, 12)).astype(dtype)
    inputs, outs = _calls(lambda a, b, m: convolab.convolve(a, b, m, method=method), x, k, mode)
    for xi, out in zip(inputs, outs):
        np.testing.assert_allclose(out, _oracle("convolve", xi, k, mode), rtol=0,
                                   atol=_tolerance(dtype, xi, k))
    call = _the_call()
    if method in ("direct", "fft"):
        assert call.shortcut is not None
    else:
        # the other transform methods keep the kernel's spectra between calls
        assert call.shortcut is None and call.spectra


def test_the_direct_shortcut_gives_the_full_paths_bits():
    # the shortcut runs the same flattened passes as the full path for short rows
    rng = np.random.default_rng(3)
    k = rng.standard_normal((5, 5)).astype(np.float32)
    for mode in ("full", "same", "valid"):
        x = rng.standard_normal((64, 64)).astype(np.float32)
        planner.clear_cache()
        full_path = convolab.convolve(x, k, mode)
        convolab.convolve(x, k, mode)
        assert _the_call().shortcut is not None
        assert np.array_equal(convolab.convolve(x, k, mode), full_path)


@pytest.mark.parametrize("kshape", [(3, 3), (31, 31)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_in_a_repeat_reach_only_their_windows(kshape, bad):
    planner.clear_cache()
    rng = np.random.default_rng(4)
    k = rng.standard_normal(kshape)
    x = rng.standard_normal((64, 64))
    convolab.convolve(x, k, "same")
    convolab.convolve(x, k, "same")
    assert _the_call().shortcut is not None
    x[10, 20] = bad
    out = convolab.convolve(x, k, "same")
    expected = scipy.signal.convolve(x, k, "same", method="direct")
    assert np.array_equal(np.isnan(out), np.isnan(expected))
    assert np.array_equal(np.isinf(out), np.isinf(expected))
    finite = np.isfinite(expected)
    assert finite.sum() > 0.5 * finite.size
    np.testing.assert_allclose(out[finite], expected[finite], rtol=0, atol=1e-10)


def test_float32_transforms_too_coarse_for_a_repeat_fall_back_to_float64():
    # a large mean and a derivative kernel: the output is tiny next to the
    # transform's rounding in float32, so the shortcut must decline
    planner.clear_cache()
    rng = np.random.default_rng(5)
    k = np.zeros((41, 41), np.float32)
    k[20, 19], k[20, 21] = -1, 1
    k += rng.standard_normal(k.shape).astype(np.float32) * 1e-3
    call_inputs = [(1e4 + rng.standard_normal((64, 64))).astype(np.float32) for _ in range(3)]
    outs = [convolab.convolve(xi, k, "same", method="fft") for xi in call_inputs]
    call = _the_call()
    assert call.shortcut is not None
    assert call.shortcut(call_inputs[-1]) is None
    for xi, out in zip(call_inputs, outs):
        expected = scipy.signal.convolve(xi.astype(np.float64), k.astype(np.float64), "same",
                                         method="direct")
        assert np.abs(out - expected).max() <= 1e-6 * np.abs(expected).max()


def test_non_contiguous_inputs_repeat_correctly():
    planner.clear_cache()
    rng = np.random.default_rng(6)
    k = rng.standard_normal((3, 5))
    for k_, make in [(k, lambda a: a), (k, np.asfortranarray), (k, lambda a: np.repeat(a, 2, 1)[:, ::2]),
                     (rng.standard_normal((21, 21)), lambda a: a.T)]:
        for _ in range(3):
            x = make(rng.standard_normal((60, 60)))
            np.testing.assert_allclose(convolab.convolve(x, k_, "same"),
                                       scipy.signal.convolve(x, k_, "same", method="direct"),
                                       rtol=0, atol=1e-12)


def test_a_shortcut_declines_another_dtype():
    planner.clear_cache()
    k = np.ones((3, 3), np.float32)
    for _ in range(2):
        convolab.convolve(np.ones((20, 20), np.float32), k, "same")
    assert _the_call().shortcut(np.ones((20, 20), np.float64)) is None


def test_workers_take_the_full_path_with_the_same_result():
    planner.clear_cache()
    rng = np.random.default_rng(7)
    x, k = rng.standard_normal((64, 64)), rng.standard_normal((31, 31))
    for _ in range(2):
        convolab.convolve(x, k, "same")
    fast = convolab.convolve(x, k, "same")
    np.testing.assert_allclose(convolab.convolve(x, k, "same", workers=2), fast, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast, scipy.signal.convolve(x, k, "same", method="direct"),
                               rtol=0, atol=1e-11)


def test_transforms_without_pocketfft_dispatch_give_the_same_bits(monkeypatch):
    rng = np.random.default_rng(8)
    x, k = rng.standard_normal((64, 64)), rng.standard_normal((31, 31))
    results = []
    for limit in (fft_algorithm.DIRECT_POCKETFFT_POINTS, 0):
        monkeypatch.setattr(fft_algorithm, "DIRECT_POCKETFFT_POINTS", limit)
        planner.clear_cache()
        for _ in range(3):
            out = convolab.convolve(x, k, "same")
        assert _the_call().shortcut is not None
        results.append(out)
    assert np.array_equal(results[0], results[1])


def test_spectra_kept_for_repeats_stay_within_the_budget(monkeypatch):
    planner.clear_cache()
    rng = np.random.default_rng(9)
    k = rng.standard_normal((15, 15))
    x = rng.standard_normal((200, 200))
    for _ in range(2):
        convolab.convolve(x, k, "same", method="oa")
    need = _the_call().reserved
    assert need > 0 and repeated._spectra_reserved == need
    monkeypatch.setattr(repeated, "SPECTRA_BUDGET", need + need // 2)
    for _ in range(2):
        out = convolab.convolve(x, k, "valid", method="oa")       # a second key: over budget
    assert repeated._spectra_reserved == need
    assert [c.spectra is not None for c in repeated._calls.values()] == [True, False]
    np.testing.assert_allclose(out, scipy.signal.convolve(x, k, "valid", method="direct"),
                               rtol=0, atol=1e-11)
    planner.clear_cache()
    assert repeated._spectra_reserved == 0 and not repeated._calls


@pytest.mark.parametrize("kshape", [(3, 3), (31, 31)])
def test_threads_share_a_shortcut(kshape):
    planner.clear_cache()
    rng = np.random.default_rng(10)
    k = rng.standard_normal(kshape)
    for _ in range(2):
        convolab.convolve(rng.standard_normal((64, 64)), k, "same")
    assert _the_call().shortcut is not None
    inputs = [rng.standard_normal((64, 64)) for _ in range(8)]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(20):
            results[i] = convolab.convolve(inputs[i], k, "same")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, xi in enumerate(inputs):
        np.testing.assert_allclose(results[i], scipy.signal.convolve(xi, k, "same", method="direct"),
                                   rtol=0, atol=1e-11)


def test_boundaries_and_batches_take_the_full_path():
    rng = np.random.default_rng(11)
    k = rng.standard_normal((3, 3))
    for kwargs in [dict(boundary="wrap"), dict(fillvalue=1.5), dict(axes=(1, 2))]:
        planner.clear_cache()
        x = rng.standard_normal((2, 30, 30) if "axes" in kwargs else (30, 30))
        kk = k[None] if "axes" in kwargs else k
        outs = [convolab.convolve(x, kk, "same", **kwargs) for _ in range(3)]
        assert all(call.shortcut is None for call in repeated._calls.values())
        assert np.array_equal(outs[0], outs[2])


def test_nan_omitted_repeats_match_the_first_call():
    # nan_policy='omit' runs plain convolutions of the data and of the mask,
    # which are repeated calls themselves
    planner.clear_cache()
    rng = np.random.default_rng(12)
    x, k = rng.standard_normal((40, 40)), rng.standard_normal((5, 5))
    x[3, 4] = x[20, 30] = np.nan
    outs = [convolab.convolve(x, k, "same", nan_policy="omit") for _ in range(3)]
    assert any(call.shortcut is not None for call in repeated._calls.values())
    np.testing.assert_allclose(outs[2], outs[0], rtol=1e-13, atol=1e-13)
    assert np.isfinite(outs[2]).all()


def test_a_shortcut_leaves_masks_workers_and_dask_arrays_to_their_own_paths():
    planner.clear_cache()
    rng = np.random.default_rng(13)
    x, k = rng.standard_normal((48, 48)), rng.standard_normal((3, 3))
    plain = [convolab.convolve(x, k, "same") for _ in range(3)][-1]
    assert _the_call().shortcut is not None
    mask = np.zeros(x.shape, bool)
    mask[5, 7] = True
    masked = convolab.convolve(x, k, "same", nan_policy="omit", mask=mask)
    x_nan = x.copy()
    x_nan[5, 7] = np.nan
    planner.clear_cache()
    np.testing.assert_allclose(masked, convolab.convolve(x_nan, k, "same", nan_policy="omit"),
                               rtol=1e-13, atol=1e-13)
    assert not np.allclose(masked, plain)
    da = pytest.importorskip("dask.array")
    lazy = convolab.convolve(da.from_array(x, chunks=24), k, "same")
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), plain, rtol=1e-12, atol=1e-12)


def test_a_declined_shortcut_is_not_tried_twice():
    # a NaN makes the FFT shortcut decline: the call then takes the full path once
    planner.clear_cache()
    rng = np.random.default_rng(14)
    x, k = rng.standard_normal((64, 64)), rng.standard_normal((31, 31))
    for _ in range(3):
        convolab.convolve(x, k, "same")
    call, tries = _the_call(), []
    shortcut = call.shortcut
    call.shortcut = lambda a: (tries.append(1), shortcut(a))[1]
    x[3, 3] = np.nan
    out = convolab.convolve(x, k, "same")
    assert len(tries) == 1
    expected = scipy.signal.convolve(x, k, "same", method="direct")
    assert np.array_equal(np.isnan(out), np.isnan(expected))
