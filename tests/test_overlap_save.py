"""Overlap-save in tiles (method='os'): tiles cover every output exactly once,
the result does not depend on the tiling or the threads, and the planner's
estimate follows the layout.  Correctness on every case of the shared suite
comes from tests/test_algorithms.py (METHODS includes 'os'); this file checks
what is particular to tiling, against scipy and torch as oracles."""

import math
import os

import numpy as np
import pytest
import scipy.signal

import convolab
from convolab.algorithms import fft, overlap_save
from convolab.algorithms.overlap_save import tile_layout


def _problem(shape, kernel, mode="same", dtype=np.float64):
    return convolab.plan(np.zeros(shape, dtype), np.ones(kernel, dtype), mode, method="os").problem


@pytest.mark.parametrize("shape, kernel, mode", [
    ((1024, 1024), (31, 31), "same"), ((4096, 4096), (127, 127), "valid"),
    ((300, 2000), (9, 63), "full"), ((100_000,), (301,), "same"), ((64, 64, 64), (7, 7, 7), "same"),
    ((57, 1000), (57, 3), "valid")])
def test_tiles_cover_every_output_once_without_wrap_around(shape, kernel, mode):
    problem = _problem(shape, kernel, mode)
    layout = tile_layout(problem)
    for o, k, t, step, count, n, (lo, _) in zip(problem.spatial_out, problem.dilated_kernel,
                                                layout.tile, layout.steps, layout.counts,
                                                problem.spatial_in, problem.pad):
        if count == 1:
            # one tile from the input's first sample: the wrapped samples are zeros
            assert step >= o and t >= n + lo and t >= o - 1 - lo + k
        else:
            assert step == t - k + 1 >= 1              # the first k - 1 samples wrap around
        assert count * step >= o > (count - 1) * step  # every output, no empty tile
    covered = np.zeros(problem.spatial_out, dtype=np.int64)
    for _, _, starts in layout.iter_tasks(problem):
        covered[tuple(slice(s, s + step) for s, step in zip(starts, layout.steps))] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_threads_and_tiling_do_not_change_the_result(workers, mode):
    rng = np.random.default_rng(5)
    x, k = rng.standard_normal((700, 530)), rng.standard_normal((33, 20))
    expected = scipy.signal.fftconvolve(x, k, mode)
    got = convolab.convolve(x, k, mode, method="os", workers=workers)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max())


def test_edge_tiles_are_zero_filled_after_interior_ones(monkeypatch):
    # one thread reuses its tile buffer: an edge tile after an interior tile
    # must not see the interior tile's samples
    monkeypatch.setattr(overlap_save, "MIN_TILE", 16)
    monkeypatch.setattr(overlap_save, "TILE_BYTES", 2048)
    overlap_save._layout.cache_clear()
    rng = np.random.default_rng(6)
    x = rng.random((301, 257)) + 10           # no zeros in the data: leftovers would show
    k = rng.random((15, 15))
    assert min(tile_layout(_problem((301, 257), (15, 15), "full")).counts) > 1
    got = convolab.correlate(x, k, "full", method="os", workers=1)
    np.testing.assert_allclose(got, scipy.signal.correlate(x, k, "full", method="direct"), rtol=1e-11)


def test_many_small_planes_are_chunked_and_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 64, 40, 40)).astype(np.float32)
    w = rng.standard_normal((64, 1, 21, 21)).astype(np.float32) / 21
    problem = convolab.nn.functional.plan(x, w, padding=10, groups=64, method="os").problem
    got = convolab.nn.functional.conv2d(x, w, padding=10, groups=64, method="os")
    ref = torch.nn.functional.conv2d(torch.tensor(x, dtype=torch.float64),
                                     torch.tensor(w, dtype=torch.float64), padding=10, groups=64).numpy()
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() <= 1e-6 * np.abs(ref).max()
    assert tile_layout(problem).planes > 1


def test_dense_channels_sum_in_every_tile():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 90, 70))
    w = rng.standard_normal((4, 3, 9, 9))
    got = convolab.nn.functional.conv2d(x, w, padding=(4, 2), groups=2, dilation=(1, 2), method="os")
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=(4, 2), groups=2,
                                     dilation=(1, 2)).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-11 * np.abs(ref).max())


@pytest.mark.parametrize("stride", [(2, 2), (3, 1), (5, 4)])
def test_strided_layers_keep_every_stride_th_output(stride, monkeypatch):
    torch = pytest.importorskip("torch")
    # a tiny cache budget: several tiles per axis
    monkeypatch.setattr(overlap_save, "MIN_TILE", 16)
    monkeypatch.setattr(overlap_save, "TILE_BYTES", 2048)
    overlap_save._layout.cache_clear()
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 101, 87))
    w = rng.standard_normal((4, 3, 7, 5))
    problem = convolab.nn.functional.plan(x, w, stride=stride, padding=(3, 1), method="os").problem
    assert min(tile_layout(problem).counts) > 1
    got = convolab.nn.functional.conv2d(x, w, stride=stride, padding=(3, 1), method="os")
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=stride,
                                     padding=(3, 1)).numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-11 * np.abs(ref).max())


def test_bound_kernel_is_transformed_once(monkeypatch):
    import scipy.fft
    rng = np.random.default_rng(9)
    k = rng.random((31, 31))
    frames = [rng.random((512, 512)) for _ in range(3)]
    expected = [scipy.signal.fftconvolve(f, k, "same") for f in frames]
    shapes = []
    real = scipy.fft.rfftn

    def counting(a, *args, **kwargs):
        shapes.append(a.shape[-2:])
        return real(a, *args, **kwargs)

    tiles = []
    tile_transform = overlap_save.tile_transform

    def counting_tiles(tile, *args, **kwargs):
        tiles.append(tile.shape[-2:])
        return tile_transform(tile, *args, **kwargs)

    monkeypatch.setattr(scipy.fft, "rfftn", counting)
    monkeypatch.setattr(overlap_save, "tile_transform", counting_tiles)
    bound = convolab.plan(np.zeros((512, 512)), k, "same", method="os").bind_kernel(k)
    for f, e in zip(frames, expected):
        np.testing.assert_allclose(bound(f), e, atol=1e-9)
    assert shapes == [(31, 31)]                  # the kernel, once
    assert len(tiles) > len(frames)              # several tiles per frame


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("channels", [(1, 1), (3, 2)])
def test_tile_transform_matches_scipy_fft_and_reuses_its_arrays(dtype, channels):
    import scipy.fft
    rng = np.random.default_rng(4)
    ci, co = channels
    real = np.dtype(dtype).kind == "f"
    shape = (12, 10)
    tile = rng.standard_normal((2, 1, ci) + shape).astype(dtype)
    kernel = rng.standard_normal((1, co, ci) + shape).astype(dtype)
    if not real:
        tile = tile + 1j * rng.standard_normal(tile.shape).astype(dtype)
    forward, inverse = (scipy.fft.rfftn, scipy.fft.irfftn) if real else (scipy.fft.fftn, scipy.fft.ifftn)
    axes = (3, 4)
    wf = forward(kernel, axes=axes)
    # the oracle: scipy.fft, the channels summed by einsum
    expected = inverse(np.einsum("ngcyx,gocyx->ngoyx", forward(tile, axes=axes), wf), shape, axes=axes)
    got = overlap_save.tile_transform(tile, wf, shape, axes, real)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    tol = 1e-5 if np.dtype(dtype).itemsize * (1 if real else 0.5) == 4 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol * np.abs(expected).max())
    first = got.copy()
    again = overlap_save.tile_transform(tile, wf, shape, axes, real)
    if fft.pocketfft_module() is not None:
        assert again is got                      # the thread's result array, reused
    np.testing.assert_array_equal(again, first)


def test_layout_fits_the_cache_and_feeds_every_thread():
    problem = _problem((4096, 4096), (31, 31), "same", np.float32)
    layout = tile_layout(problem)
    assert math.prod(layout.tile) * 4 <= overlap_save.TILE_BYTES
    assert layout.tasks >= layout.workers
    # a whole-image transform of this size would be out of the cache
    assert layout.counts != (1, 1)


def test_planner_estimate_grows_with_the_work():
    small = convolab.plan(np.zeros((1024, 1024)), np.ones((31, 31)), "same", method="os")
    large = convolab.plan(np.zeros((4096, 4096)), np.ones((31, 31)), "same", method="os")
    ratio = large.candidates[0].seconds / small.candidates[0].seconds
    assert 8 < ratio < 32           # about 16x the points, a little more for log P


@pytest.mark.parametrize("padding, stride, dilation", [(5, 1, 1), ((4, 0), (2, 1), (3, 2)), (7, 3, 1)])
def test_zero_extension_wider_than_the_kernel(padding, stride, dilation):
    # one tile per axis cannot start at the input then: outputs would wrap onto each other
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 9, 4))
    w = rng.standard_normal((2, 3, 3, 2))
    kwargs = dict(padding=padding, stride=stride, dilation=dilation)
    got = convolab.nn.functional.conv2d(x, w, method="os", **kwargs)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-11 * np.abs(ref).max())


def test_a_forked_child_runs_tiles_on_its_own_threads():
    # the parent's thread pool does not survive fork(); the child must not wait on it
    import multiprocessing
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    rng = np.random.default_rng(15)
    x, k = rng.standard_normal((600, 500)), rng.standard_normal((21, 21))
    expected = scipy.signal.fftconvolve(x, k, "same")
    np.testing.assert_allclose(convolab.convolve(x, k, "same", method="os", workers=2), expected,
                               atol=1e-9)                   # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        result = pool.apply_async(convolab.convolve, (x, k, "same"), {"method": "os", "workers": 2})
        got = result.get(timeout=60)
    np.testing.assert_allclose(got, expected, atol=1e-9)


@pytest.mark.parametrize("workers, threads", [(1, 1), (2, 2), (-1, os.cpu_count() or 1)])
def test_workers_set_the_threads_negative_counting_from_the_cores(workers, threads):
    from convolab.algorithms._base import execution
    problem = _problem((2048, 2048), (31, 31), "same")
    with execution(workers=workers):
        assert tile_layout(problem).workers == min(threads, tile_layout(problem).tasks)


@pytest.mark.parametrize("shape, kernel, mode, threads", [
    ((1024, 1024), (31, 31), "valid", 2),   # 994x994 outputs, heavy tiles: every core
    ((256, 256), (31, 31), "same", 1),      # estimated well under PARALLEL_OS_SECONDS
    ((400, 400), (63, 63), "same", 1),      # too few tiles to share
])
def test_under_a_million_outputs_the_estimate_decides_the_threads(shape, kernel, mode, threads,
                                                                  monkeypatch):
    monkeypatch.setattr(overlap_save.os, "cpu_count", lambda: 2)
    problem = _problem(shape, kernel, mode)
    assert math.prod(problem.spatial_out) < 1 << 20
    alone = overlap_save._layout.__wrapped__   # the uncached estimate, one thread
    layout = tile_layout(problem)
    assert layout.workers == threads
    if threads > 1:
        assert layout.tasks >= overlap_save.MIN_TASKS_PER_THREAD * 2
        one = alone(problem.spatial_in, tuple(lo for lo, _ in problem.pad), problem.spatial_out,
                    problem.strides, problem.dilated_kernel, True, False, 1, 1, 1, 1, 8, 1)
        assert one[0] >= overlap_save.PARALLEL_OS_SECONDS


def test_a_thread_keeps_small_task_arrays_and_frees_large_ones(monkeypatch):
    monkeypatch.setattr(overlap_save, "_BUFFERS", __import__("threading").local())
    small = overlap_save._tile_buffer("result", (1, 1, 1, 64, 64), np.float64)
    assert overlap_save._tile_buffer("result", (1, 1, 1, 64, 64), np.float64) is small
    assert overlap_save._tile_buffer("spectrum", (1, 1, 1, 64, 64), np.float64) is not small
    side = int((overlap_save.KEPT_BUFFER_BYTES // 8) ** 0.5) + 1
    large = overlap_save._tile_buffer("result", (1, 1, 1, side, side), np.float64)
    assert large.shape == (1, 1, 1, side, side)
    assert overlap_save._tile_buffer("result", (1, 1, 1, side, side), np.float64) is not large
