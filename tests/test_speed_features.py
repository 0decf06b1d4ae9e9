"""Calibration, remembered measurements, kernel-spectrum reuse, workers,
overlap-add block sizes and the compiled direct loop: behaviour, not speed."""

import json
import os
import threading

import numpy as np
import pytest
import scipy.signal

import convolab
from convolab import _calibration, planner
from convolab.algorithms import _compiled
from convolab.algorithms.overlap_add import block_plan


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLAB_CACHE_DIR", str(tmp_path))
    _calibration.reset()
    yield tmp_path
    _calibration.reset()


def test_stored_calibration_is_used_and_a_corrupt_file_means_defaults(cache):
    slow = {"fft_per_point_log": 1e-3, "os_per_point_log": 1e-3}
    (cache / "calibration.json").write_text(json.dumps({"constants": slow}))
    _calibration.reset()
    assert _calibration.constants()["fft_per_point_log"] == 1e-3
    x, k = np.zeros((256, 256)), np.zeros((31, 31))
    # absurdly slow transforms make the planner avoid them
    assert convolab.plan(x, k, mode="same").method not in ("fft", "os")
    (cache / "calibration.json").write_text("{not json")
    _calibration.reset()
    assert _calibration.constants() == _calibration.DEFAULTS
    assert convolab.plan(x, k, mode="same").method in ("fft", "os")


def test_calibrate_writes_constants_that_constants_reads(cache):
    result = _calibration.calibrate(repeats=1)
    stored = json.loads((cache / "calibration.json").read_text())["constants"]
    assert set(stored) == set(_calibration.DEFAULTS)
    for name in result["measured"]:
        assert stored[name] > 0 and stored[name] == pytest.approx(_calibration.constants()[name])


def test_measured_choice_is_remembered_across_processes(cache):
    x, k = np.random.default_rng(0).random((64, 64)), np.ones((5, 5))
    measured = convolab.plan(x, k, mode="same", measure=True)
    assert measured.measured
    data = json.loads((cache / "autotune.json").read_text())
    assert list(data.values()) == [measured.method]
    planner.clear_cache()                     # as a new process would start
    again = convolab.plan(x, k, mode="same")
    assert again.remembered and again.method == measured.method
    assert "measured earlier" in str(again)
    # the remembered plan still computes the right thing
    np.testing.assert_allclose(again(x, k), scipy.signal.convolve(x, k, "same"), atol=1e-10)


def test_a_corrupt_autotune_file_is_ignored_then_replaced(cache):
    (cache / "autotune.json").write_text("\x00garbage")
    planner.clear_cache()
    x, k = np.ones((40, 40)), np.ones((3, 3))
    assert not convolab.plan(x, k).remembered
    convolab.plan(x, k, measure=True)
    assert isinstance(json.loads((cache / "autotune.json").read_text()), dict)


def test_concurrent_writers_never_leave_a_broken_file(cache):
    problems = [(np.ones((20 + i, 20)), np.ones((3, 3))) for i in range(6)]
    errors = []

    def work(pair):
        try:
            convolab.plan(*pair, measure=True)
        except Exception as exc:            # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in problems]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = json.loads((cache / "autotune.json").read_text())     # always valid JSON
    assert 1 <= len(data) <= len(problems)
    assert not [f for f in os.listdir(cache) if f.endswith(".tmp")]


def test_bound_kernel_transforms_the_kernel_once(monkeypatch):
    import scipy.fft
    calls = []
    real = scipy.fft.rfftn

    def counting(a, *args, **kwargs):
        calls.append(a.shape)
        return real(a, *args, **kwargs)

    monkeypatch.setattr(scipy.fft, "rfftn", counting)
    rng = np.random.default_rng(1)
    k = rng.random((9, 9))
    bound = convolab.plan(np.zeros((128, 128)), k, mode="same", method="fft").bind_kernel(k)
    frames = [rng.random((128, 128)) for _ in range(4)]
    outs = [bound(f) for f in frames]
    kernel_transforms = [s for s in calls if s[-2:] == (9, 9)]
    assert len(kernel_transforms) == 1          # once, then reused
    assert len(calls) == 1 + len(frames)        # plus one per frame
    for f, out in zip(frames, outs):
        np.testing.assert_allclose(out, scipy.signal.convolve(f, k, "same"), atol=1e-10)
    # the bound kernel is a copy: changing the caller's array changes nothing
    k[:] = 0
    np.testing.assert_allclose(bound(frames[0]), outs[0])


@pytest.mark.parametrize("workers", [1, 2, -1])
def test_workers_give_the_same_result(workers):
    rng = np.random.default_rng(2)
    x, k = rng.random((100, 90)), rng.random((15, 15))
    out = convolab.fftconvolve(x, k, "same", workers=workers)
    np.testing.assert_allclose(out, scipy.signal.fftconvolve(x, k, "same"), atol=1e-10)


@pytest.mark.parametrize("bad", [0, 1.5, "two"])
def test_bad_workers_are_refused(bad):
    with pytest.raises((convolab.ConvolabError, TypeError), match="workers"):
        convolab.convolve(np.ones(10), np.ones(3), workers=bad)


@pytest.mark.parametrize("n, k", [(100_000, 11), (100_000, 301), (4096, 31), (50, 7), (1000, 999)])
def test_overlap_add_blocks_cover_the_input(n, k):
    block, length, blocks = block_plan(n, k, True)
    assert blocks * block >= n > (blocks - 1) * block
    assert length >= block + k - 1               # no wrap-around inside a block
    assert blocks == 1 or block >= k - 1         # tails spill into the next block only


def test_compiled_loop_matches_scipy_with_dilation_and_batches():
    if not _compiled.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    for nd, size, k, d in [(1, 300, 13, 2), (2, 40, 5, 3), (3, 12, 3, 2)]:
        kd = (k - 1) * d + 1
        x = rng.standard_normal((4,) + (size + kd - 1,) * nd).astype(np.float32)
        w = rng.standard_normal((2,) + (k,) * nd).astype(np.float32)
        out = _compiled.correlate(x, w, (d,) * nd, (4,) + (size,) * nd)
        for b in range(4):
            dense = np.zeros((kd,) * nd)
            dense[(slice(None, None, d),) * nd] = w[b % 2]
            ref = scipy.signal.correlate(x[b].astype(np.float64), dense, "valid")
            np.testing.assert_allclose(out[b], ref, rtol=1e-5, atol=1e-4)


def test_compiled_loop_keeps_nan_times_zero():
    if not _compiled.available():
        pytest.skip("numba is not installed")
    x = np.ones((1, 5, 5))
    x[0, 2, 2] = np.nan
    w = np.array([[[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]])
    out = _compiled.correlate(x, w, (1, 1), (1, 3, 3))
    assert np.isnan(out).all()                   # every window holds the NaN: nan * 0 is NaN


# -- float32 transforms, kept only where their error bound allows ------------

def _float32_cases():
    rng = np.random.default_rng(3)
    lap = np.zeros((31, 31))
    lap[15, 15], lap[14, 15], lap[16, 15], lap[15, 14], lap[15, 16] = -4, 1, 1, 1, 1
    step = np.zeros((31, 31))
    step[:, :15], step[:, 16:] = -1, 1
    smooth = np.outer(np.hanning(31), np.hanning(31))
    for kernel in (lap, step, smooth / smooth.sum(), rng.standard_normal((31, 31))):
        for image in (rng.random((160, 160)), rng.standard_normal((160, 160)),
                      100 + 0.01 * rng.random((160, 160))):
            yield image.astype(np.float32), kernel.astype(np.float32)


@pytest.mark.parametrize("mode", ["same", "valid"])
@pytest.mark.parametrize("method", ["fft", "oa", "os"])
def test_float32_transforms_meet_the_accuracy_target(mode, method):
    # derivative kernels on an image with a large offset: float32 transforms
    # alone are off by ~1e-3 of the largest output in 'valid'; the bound
    # catches it and the engine recomputes in float64
    for image, kernel in _float32_cases():
        reference = scipy.signal.convolve(image.astype(np.float64), kernel.astype(np.float64),
                                          mode=mode, method="direct")
        got = convolab.convolve(image, kernel, mode=mode, method=method)
        assert got.dtype == np.float32
        assert np.abs(got - reference).max() <= 1e-6 * np.abs(reference).max()


def test_the_float32_error_bound_holds():
    from convolab import engine
    from convolab.algorithms import fft
    for image, kernel in _float32_cases():
        for mode in ("same", "valid", "full"):
            problem = convolab.plan(image, kernel, mode=mode, method="fft").problem
            x, w = problem.layout.to_core(image, kernel)
            core, xc, wc = engine.prepare(problem, x, w)
            single = fft.algorithm._run_float(core, xc, wc)          # float32 transforms only
            exact = fft.algorithm._run_float(core, xc.astype(np.float64), wc.astype(np.float64))
            error = np.abs(single - exact).max()
            assert error <= fft.single_precision_error(core, xc, wc)


def test_smoothing_keeps_float32_transforms():
    # a positive kernel on a positive image: the bound is far below 1e-6 of the output
    from convolab import engine
    from convolab.algorithms import fft
    rng = np.random.default_rng(4)
    image = rng.random((256, 256), dtype=np.float32)
    kernel = np.ones((31, 31), dtype=np.float32) / 961
    problem = convolab.plan(image, kernel, mode="same", method="fft").problem
    core, xc, wc = engine.prepare(problem, *problem.layout.to_core(image, kernel))
    out = fft.algorithm._run_float(core, xc, wc)
    assert out.dtype == np.float32
    assert fft.single_precision_suffices(core, xc, wc, out)


# -- transform lengths chosen by the cost model ------------------------------

@pytest.mark.parametrize("real", [True, False])
def test_transform_lengths_are_smooth_and_never_costlier_than_next_fast_len(real):
    from scipy import fft as sp_fft
    from convolab.algorithms._base import fft_len
    c = _calibration.constants()
    primes = (2, 3, 5) if real else (2, 3, 5, 7, 11)

    def model(length):
        total, rest = c["fft_radix_point"], length
        for p in (2, 3, 5, 7, 11):
            while rest % p == 0:
                rest //= p
                total += c[f"fft_radix_{p}"]
        return length * total

    changed = 0
    for n in range(1, 3000):
        length = fft_len(n, real)
        rest = length
        for p in primes:
            while rest % p == 0:
                rest //= p
        assert rest == 1, (n, length)
        first = sp_fft.next_fast_len(n, real)
        assert n <= length <= max(first, 5 * n // 4)
        assert model(length) <= model(first)
        changed += length != first
    assert changed > 0       # the model does pick other lengths than the smallest


def test_calibrate_fits_the_length_model(cache):
    fitted = _calibration._fit_radix(repeats=1)
    # a fit that came out non-positive (noise) is dropped, never stored
    assert fitted == {} or all(0 < v < 1e-6 for v in fitted.values())
