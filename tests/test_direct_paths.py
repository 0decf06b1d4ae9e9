"""The compiled direct method's three 2-D paths: short rows flattened, long
rows with zero padding computed as an interior plus a frame, and the plain
padded loop; each on one thread (serial loop) and on several (parallel
loop).  Oracles: scipy.signal (float64) and torch for batched layers."""

import numpy as np
import pytest
import scipy.signal

import convolab
from convolab.algorithms import _compiled, direct

pytestmark = pytest.mark.skipif(not _compiled.available(), reason="numba is not installed")


def _path(problem):
    if direct._framed(problem):
        return "framed"
    return "flat" if direct._flat_rows(problem) else "padded"


CASES = [
    # (image shape, kernel shape, mode, expected path)
    ((600, 700), (3, 3), "same", "framed"),
    ((520, 1030), (4, 6), "full", "framed"),
    ((13, 800), (15, 2), "same", "framed"),      # kernel taller than the image: no interior rows
    ((600, 700), (11, 11), "valid", "padded"),
    ((64, 64), (5, 5), "same", "flat"),
    ((40, 300), (7, 3), "full", "flat"),
]


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128"])
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("shape, kernel, mode, path", CASES)
def test_every_path_matches_scipy(shape, kernel, mode, path, workers, dtype):
    rng = np.random.default_rng(sum(shape) + sum(kernel))
    x = rng.standard_normal(shape).astype(dtype)
    k = rng.standard_normal(kernel).astype(dtype)
    if dtype == "complex128":
        x = x + 1j * rng.standard_normal(shape)
        k = k + 1j * rng.standard_normal(kernel)
    problem = convolab.plan(x, k, mode, method="direct").problem
    if path == "framed" and shape == (13, 800):
        assert _path(problem) != "framed"        # nothing inside: the padded loop
    else:
        assert _path(problem) == path
    wide = np.complex128 if dtype == "complex128" else np.float64
    expected = scipy.signal.convolve(x.astype(wide), k.astype(wide), mode, method="fft")
    got = convolab.convolve(x, k, mode, method="direct", workers=workers)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert got.dtype == x.dtype and got.shape == expected.shape
    assert np.abs(got - expected).max() <= tol * np.abs(expected).max()


def test_framed_layers_with_dilation_and_groups_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 40, 600))
    w = rng.standard_normal((3, 1, 3, 5))
    problem = convolab.nn.functional.plan(x, w, padding=(2, 4), groups=3, dilation=(2, 2),
                                          method="direct").problem
    assert direct._framed(problem)
    got = convolab.nn.functional.conv2d(x, w, padding=(2, 4), groups=3, dilation=(2, 2),
                                        method="direct")
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=(2, 4), groups=3,
                                     dilation=(2, 2)).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_framed_path_keeps_nan_where_the_window_reaches_it():
    x = np.ones((20, 600))
    x[0, 0] = np.nan                              # in the frame's strips
    x[10, 300] = np.nan                           # in the interior
    k = np.ones((3, 3))
    problem = convolab.plan(x, k, "same", method="direct").problem
    assert direct._framed(problem)
    got = convolab.convolve(x, k, "same", method="direct")
    expected = scipy.signal.convolve2d(x, k, "same")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-14)


def test_padded_blocks_equal_numpy_pad():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 9, 11))
    padded = np.pad(x, ((0, 0), (3, 2), (1, 4)))
    for rows, cols in [((0, 5), (0, 16)), ((4, 14), (2, 9)), ((10, 14), (12, 16)), ((0, 14), (0, 1))]:
        block = _compiled._padded_block(x, 3, 1, rows, cols)
        np.testing.assert_array_equal(block, padded[:, rows[0]:rows[1], cols[0]:cols[1]])


@pytest.mark.parametrize("padding, dilation", [(0, 1), (3, 1), ((2, 5), (1, 2)), ("same", 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_short_row_batches_go_image_by_image_and_match_torch(padding, dilation, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 5, 30, 41)).astype(dtype)
    w = rng.standard_normal((5, 1, 7, 6)).astype(dtype)
    kwargs = dict(padding=padding, groups=5, dilation=dilation)
    problem = convolab.nn.functional.plan(x, w, method="direct", **kwargs).problem
    assert direct._flat_rows(problem)
    got = convolab.nn.functional.conv2d(x, w, method="direct", **kwargs)
    ref = torch.nn.functional.conv2d(torch.tensor(x, dtype=torch.float64),
                                     torch.tensor(w, dtype=torch.float64), **kwargs).numpy()
    assert got.dtype == x.dtype and got.shape == ref.shape
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert np.abs(got - ref).max() <= tol * np.abs(ref).max()


def test_short_rows_with_nan_and_a_zero_tap():
    # nan * 0 stays NaN in the per-image buffers, as in every direct method
    x = np.ones((2, 1, 20, 30))
    x[1, 0, 5, 7] = np.nan
    w = np.zeros((1, 1, 3, 3))
    out = convolab.nn.functional.conv2d(x, w, padding=1, method="direct")
    assert np.isnan(out[1, 0, 4:7, 6:9]).all() and np.isnan(out).sum() == 9
    assert (out[0] == 0).all()


def test_a_process_forked_after_a_multithreaded_loop_still_convolves():
    # numba's OpenMP threads do not survive fork(); GNU OpenMP terminates a
    # child that starts them again, so the child runs the loops on one thread
    import multiprocessing
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    rng = np.random.default_rng(16)
    x = rng.standard_normal((1500, 1400)).astype(np.float32)
    k = rng.standard_normal((5, 5)).astype(np.float32)
    expected = scipy.signal.convolve(x.astype(np.float64), k.astype(np.float64), "same", method="fft")
    first = convolab.convolve(x, k, "same", method="direct", workers=2)   # threads in the parent
    assert _compiled._STATE["parallel_used"]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(convolab.convolve, (x, k, "same"),
                               {"method": "direct", "workers": 2}).get(timeout=60)
    for out in (first, got):
        assert np.abs(out - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("kernel", [(3, 3), (2, 5), (5, 5)])
def test_small_frames_summed_directly_match_strips(kernel, monkeypatch):
    # the frame of a small kernel is summed directly; with the limit at zero the
    # same frame comes from padded strips: both equal scipy, and 0 * inf is NaN
    rng = np.random.default_rng(17)
    x = rng.standard_normal((300, 700))
    k = rng.standard_normal(kernel)
    expected = scipy.signal.convolve(x, k, "same", method="fft")
    direct_frame = convolab.convolve(x, k, "same", method="direct")
    monkeypatch.setattr(_compiled, "FRAME_MACS", 0)
    strips = convolab.convolve(x, k, "same", method="direct")
    for got in (direct_frame, strips):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    k_inf = k.copy()
    k_inf[0, 0] = np.inf
    monkeypatch.setattr(_compiled, "FRAME_MACS", 1 << 17)
    nan_frame = convolab.convolve(x, k_inf, "same", method="direct")
    reference = convolab.convolve(x, k_inf, "same", method="reference")
    np.testing.assert_array_equal(np.isnan(nan_frame), np.isnan(reference))
