"""convolab.chunked: chunked results equal the in-memory ones, lazily and in bounded memory.

Oracles: convolab's in-memory functions (the chunked result must be the same
computation), the brute-force loops of ``helpers.oracle`` (numpy.pad and a sum
per output sample), numpy.pad for the index maps, scikit-image's
match_template, and the RSS of a subprocess for the memory bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.signal

da = pytest.importorskip("dask.array")

import convolab  # noqa: E402
from convolab import chunked  # noqa: E402
from convolab.chunked import dask as cdask  # noqa: E402
from convolab.errors import ConvolabError  # noqa: E402
from helpers import BOUNDARIES, MODES, NUMPY_PAD_MODE, oracle  # noqa: E402

RNG = np.random.default_rng(20260807)


def _close(actual, expected, dtype=np.float64):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    if np.dtype(dtype).kind in "biu":
        np.testing.assert_array_equal(actual, expected)
    elif np.dtype(dtype) in (np.float32, np.complex64):
        scale = max(1.0, float(np.nanmax(np.abs(expected)))) if expected.size else 1.0
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------
# the index map is numpy.pad


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_source_index_is_numpy_pad_for_any_width(boundary):
    for n in range(1, 7):
        for lo in (0, 1, n - 1, n, n + 1, 3 * n + 2):
            for hi in (0, 2, 4 * n + 1):
                src = cdask.source_index(np.arange(n + lo + hi), n, lo, boundary)
                values = np.where(src >= 0, np.arange(10, 10 + n)[np.maximum(src, 0)], -7)
                if boundary == "fill":
                    expected = np.pad(np.arange(10, 10 + n), (lo, hi), constant_values=-7)
                else:
                    expected = np.pad(np.arange(10, 10 + n), (lo, hi),
                                      mode=NUMPY_PAD_MODE[boundary])
                np.testing.assert_array_equal(values, expected)


# ---------------------------------------------------------------------------
# every mode and boundary, both strategies, odd and even kernels, uneven chunks

X2 = RNG.standard_normal((23, 17))
CHUNKS2 = ((5, 7, 4, 7), (6, 6, 5))          # uneven on purpose
KERNELS2 = {"odd": RNG.standard_normal((3, 5)), "even": RNG.standard_normal((4, 2)),
            "wider-than-chunks": RNG.standard_normal((9, 8))}


@pytest.mark.parametrize("strategy", ["halo", "overlap-add"])
@pytest.mark.parametrize("kernel", list(KERNELS2))
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_equals_in_memory_2d(op, mode, boundary, kernel, strategy):
    k = KERNELS2[kernel]
    x = da.from_array(X2, chunks=CHUNKS2)
    got = getattr(chunked, op)(x, k, mode, boundary=boundary, fillvalue=0.5, strategy=strategy)
    assert isinstance(got, da.Array)
    expected = getattr(convolab, op)(X2, k, mode, boundary=boundary, fillvalue=0.5)
    _close(got.compute(), expected)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
def test_equals_brute_force_oracle(mode, boundary):
    """Independent of convolab: numpy.pad plus one sum per output sample."""
    x = RNG.standard_normal((11, 9))
    k = RNG.standard_normal((4, 3))
    got = chunked.convolve(da.from_array(x, chunks=(3, 4)), k, mode, boundary=boundary,
                           fillvalue=-1.5).compute()
    _close(got, oracle(x, k, mode, flip=True, boundary=boundary, fillvalue=-1.5))


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_pads_wider_than_the_array_and_the_chunks(boundary):
    """A kernel longer than the input: 'full' and 'same' extend by more than n."""
    x = RNG.standard_normal(7)
    k = RNG.standard_normal(19)
    for mode in ("full", "same"):
        for strategy in ("halo", "overlap-add"):
            got = chunked.correlate(da.from_array(x, chunks=2), k, mode, boundary=boundary,
                                    strategy=strategy).compute()
            _close(got, convolab.correlate(x, k, mode, boundary=boundary))
            _close(got, oracle(x, k, mode, flip=False, boundary=boundary))


def test_auto_strategy_follows_the_chunk_size():
    x = da.zeros((64, 64), chunks=16)
    assert chunked.plan(x, np.ones((17, 3)), mode="same").strategy == "halo"
    assert chunked.plan(x, np.ones((18, 3)), mode="same").strategy == "overlap-add"


def test_valid_mode_with_the_larger_kernel_swaps_like_memory():
    x = RNG.standard_normal((4, 5))
    k = RNG.standard_normal((9, 7))
    for op in ("convolve", "correlate"):
        got = getattr(chunked, op)(da.from_array(x, chunks=2), k, "valid").compute()
        _close(got, getattr(convolab, op)(x, k, "valid"))


@pytest.mark.parametrize("mode", MODES)
def test_one_and_three_dimensions(mode):
    x1 = RNG.standard_normal(50)
    k1 = RNG.standard_normal(6)
    got = chunked.convolve(da.from_array(x1, chunks=(9, 13, 9, 19)), k1, mode, boundary="wrap")
    _close(got.compute(), convolab.convolve(x1, k1, mode, boundary="wrap"))
    x3 = RNG.standard_normal((9, 8, 10))
    k3 = RNG.standard_normal((3, 4, 2))
    got = chunked.correlate(da.from_array(x3, chunks=(4, 3, 5)), k3, mode, boundary="symm")
    _close(got.compute(), convolab.correlate(x3, k3, mode, boundary="symm"))


@pytest.mark.parametrize("strategy", ["halo", "overlap-add"])
def test_axes_shared_and_per_slice_kernels(strategy):
    x = RNG.standard_normal((9, 4, 12))
    shared = RNG.standard_normal((3, 1, 5))
    per_slice = RNG.standard_normal((3, 4, 5))
    dx = da.from_array(x, chunks=(4, 3, 5))
    for k in (shared, per_slice):
        got = chunked.convolve(dx, k, "same", axes=(0, 2), boundary="reflect", strategy=strategy)
        _close(got.compute(), convolab.convolve(x, k, "same", axes=(0, 2), boundary="reflect"))
    # in1 broadcast along a batch axis
    x1 = RNG.standard_normal((9, 1, 12))
    got = chunked.correlate(da.from_array(x1, chunks=4), per_slice, "full", axes=(0, 2),
                            strategy=strategy)
    _close(got.compute(), convolab.correlate(x1, per_slice, "full", axes=(0, 2)))


@pytest.mark.parametrize("strategy", ["halo", "overlap-add"])
def test_float32_int_bool_complex(strategy):
    x = RNG.standard_normal((20, 13)).astype(np.float32)
    k = RNG.standard_normal((5, 4)).astype(np.float32)
    got = chunked.convolve(da.from_array(x, chunks=(6, 4)), k, "same", boundary="nearest",
                           strategy=strategy).compute()
    assert got.dtype == np.float32
    _close(got, convolab.convolve(x, k, "same", boundary="nearest"), np.float32)
    xi = RNG.integers(-50, 50, (15, 12)).astype(np.int16)
    ki = RNG.integers(-5, 5, (3, 4)).astype(np.int16)
    got = chunked.correlate(da.from_array(xi, chunks=4), ki, "full", boundary="symm",
                            strategy=strategy).compute()
    _close(got, convolab.correlate(xi, ki, "full", boundary="symm"), np.int16)
    xb = RNG.random((10, 10)) > 0.7
    got = chunked.convolve(da.from_array(xb, chunks=3), xb[:3, :2], "same",
                           strategy=strategy).compute()
    _close(got, convolab.convolve(xb, xb[:3, :2], "same"), bool)
    xc = RNG.standard_normal((12, 9)) + 1j * RNG.standard_normal((12, 9))
    kc = RNG.standard_normal((3, 3)) - 2j
    got = chunked.correlate(da.from_array(xc, chunks=5), kc, "same", boundary="wrap",
                            strategy=strategy).compute()
    _close(got, convolab.correlate(xc, kc, "same", boundary="wrap"), np.complex128)


def test_integer_wraparound_matches_memory_in_overlap_add():
    """int8 sums wrap; pieces are added in int64 so only the final cast wraps, as in memory."""
    xi = np.full((12, 12), 100, np.int8)
    ki = np.full((6, 6), 3, np.int8)
    with pytest.warns(convolab.ConvolabWarning):
        expected = convolab.convolve(xi, ki, "same")
    got = chunked.convolve(da.from_array(xi, chunks=4), ki, "same",
                           strategy="overlap-add").compute()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("strategy", ["halo", "overlap-add"])
def test_nan_propagates_over_the_same_footprint(strategy):
    x = RNG.standard_normal((30, 30))
    x[4, 7] = x[17, 25] = np.nan
    k = RNG.standard_normal((21, 21))          # large: the chunks use the FFT
    got = chunked.convolve(da.from_array(x, chunks=10), k, "same", boundary="symm",
                           strategy=strategy).compute()
    expected = convolab.convolve(x, k, "same", boundary="symm")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    _close(got, expected)
    bad = chunked.convolve(da.from_array(x, chunks=10), k, "same", nan_policy="raise")
    with pytest.raises(ConvolabError, match="nan_policy='raise'"):
        bad.compute()


@pytest.mark.parametrize("boundary", ["fill", "symm", "wrap"])
@pytest.mark.parametrize("strategy", ["halo", "overlap-add"])
def test_nan_omit_is_normalized_convolution(boundary, strategy):
    x = RNG.standard_normal((25, 22))
    x[RNG.random(x.shape) < 0.2] = np.nan
    x[10:18, 3:12] = np.nan                   # a hole wider than the kernel
    k = np.abs(RNG.standard_normal((5, 6)))
    got = chunked.convolve(da.from_array(x, chunks=(7, 6)), k, "same", boundary=boundary,
                           nan_policy="omit", strategy=strategy).compute()
    # the oracle, in memory: numerator and denominator on zero-filled data
    valid = ~np.isnan(x)
    num = convolab.convolve(np.where(valid, x, 0), k, "same", boundary=boundary, method="direct")
    den = convolab.convolve(valid.astype(float), k, "same", boundary=boundary,
                            fillvalue=1, method="direct")
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(den > 1e-12, num / den, np.nan)
    assert np.isnan(expected).any()           # the hole leaves outputs with no data
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    _close(got, expected)


def test_nan_omit_with_nan_fill_treats_the_outside_as_missing():
    x = RNG.standard_normal((16, 16))
    k = np.ones((3, 3))
    got = chunked.convolve(da.from_array(x, chunks=5), k, "same", boundary="fill",
                           fillvalue=np.nan, nan_policy="omit").compute()
    # a corner output averages the 4 samples inside, not 9 with zeros
    assert got[0, 0] == pytest.approx(x[:2, :2].mean(), abs=1e-12)
    _close(got[5:10, 5:10], convolab.convolve(x, k / 9, "same")[5:10, 5:10])


# ---------------------------------------------------------------------------
# the signal functions, forwarded


def test_forward_matches_every_signal_function():
    x = RNG.standard_normal((14, 11))
    k = RNG.standard_normal((4, 3))
    dx = da.from_array(x, chunks=(5, 4))
    for name in ("convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d",
                 "correlate2d"):
        for mode in MODES:
            got = chunked.forward(name, dx, k, mode).compute()
            _close(got, getattr(convolab, name)(x, k, mode))
    xi = RNG.integers(0, 9, (10, 10))
    got = chunked.forward("fftconvolve", da.from_array(xi, chunks=4), xi[:3, :3], "same")
    _close(got.compute(), convolab.fftconvolve(xi, xi[:3, :3], "same"))
    with pytest.raises(ConvolabError, match="name='nope'"):
        chunked.forward("nope", dx, k)


def test_numpy_input_is_wrapped():
    x = RNG.standard_normal(40)
    got = chunked.correlate(x, [1.0, -1.0], "same")
    assert isinstance(got, da.Array)
    _close(got.compute(), convolab.correlate(x, [1.0, -1.0], "same"))


# ---------------------------------------------------------------------------
# laziness, plans, errors


def _exploding(shape, chunks):
    def boom(block_info=None):
        raise AssertionError("a chunk was computed")
    return da.map_blocks(boom, chunks=chunks, dtype=float, meta=np.empty((0,) * len(shape)))


def test_building_computes_nothing_and_slicing_reads_only_needed_chunks():
    x = RNG.standard_normal((40, 40))
    read = []

    def record(block, block_info=None):
        read.append(tuple(block_info[0]["chunk-location"]))
        return block

    dx = da.from_array(x, chunks=10).map_blocks(record, dtype=float)
    out = chunked.convolve(dx, np.ones((3, 3)), "same")
    assert out.chunks == dx.chunks and not read
    corner = out[:10, :10].compute(scheduler="sync")
    # the corner's window reaches one sample into the next chunks, no further
    assert sorted(set(read)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    _close(corner, convolab.convolve(x, np.ones((3, 3)), "same")[:10, :10])
    chunked.convolve(_exploding((40, 40), ((10,) * 4, (10,) * 4)), np.ones((3, 3)), "same")


def test_equal_chunks_share_one_plan():
    cdask._PLANS.clear()
    x = da.from_array(RNG.standard_normal((64, 48)), chunks=16)
    k = RNG.standard_normal((5, 5))
    p = chunked.plan(x, k, "same", boundary="wrap")
    assert p.tasks == 12
    assert [count for _, _, count in p.chunk_methods] == [12]     # one window shape
    chunked.convolve(x, k, "same", boundary="wrap").compute()
    assert len(cdask._PLANS) == 1
    assert "halo" in str(p) and "12 chunk tasks" in str(p)


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "middle"}, "acceptable mode flags"),
    ({"boundary": "mirrorr"}, "boundary='mirrorr'"),
    ({"strategy": "halos"}, "strategy='halos'"),
    ({"nan_policy": "skip"}, "nan_policy='skip'"),
    ({"method": "magic"}, "method='magic'"),
    ({"axes": 5}, "axes exceeds dimensionality"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    x = da.zeros((8, 8), chunks=4)
    with pytest.raises(ConvolabError, match=match):
        chunked.convolve(x, np.ones((3, 3)), **kwargs)


def test_shape_errors():
    x = da.zeros((8, 8), chunks=4)
    with pytest.raises(ConvolabError, match="same dimensionality"):
        chunked.convolve(x, np.ones(3))
    with pytest.raises(ConvolabError, match="at least as large"):
        chunked.convolve(x, np.ones((9, 3)), "valid")
    with pytest.raises(ConvolabError, match="incompatible shapes"):
        chunked.convolve(da.zeros((8, 3), chunks=4), np.ones((3, 2)), axes=0)
    with pytest.raises(ConvolabError, match="non-empty"):
        chunked.convolve(da.zeros((0, 3), chunks=4), np.ones((1, 1)))


def test_is_dask_array_does_not_import_dask():
    probe = ("import sys, numpy as np\nimport convolab.chunked as c\n"
             "print(c.is_dask_array(np.ones(2)), 'dask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert chunked.is_dask_array(da.ones(2, chunks=1))
    assert not chunked.is_dask_array([1, 2])


# ---------------------------------------------------------------------------
# template matching


@pytest.mark.parametrize("pad_input", [False, True])
@pytest.mark.parametrize("mode", ["constant", "edge", "symmetric", "reflect", "wrap"])
def test_match_template_is_scikit_image(pad_input, mode):
    feature = pytest.importorskip("skimage.feature")
    image = RNG.random((40, 33))
    template = image[10:17, 5:11].copy() + 0.05 * RNG.random((7, 6))
    expected = feature.match_template(image, template, pad_input=pad_input, mode=mode,
                                      constant_values=0.3)
    got = chunked.match_template(da.from_array(image, chunks=(9, 8)), template,
                                 pad_input=pad_input, mode=mode, constant_values=0.3).compute()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_match_template_3d_float32():
    feature = pytest.importorskip("skimage.feature")
    image = RNG.random((12, 14, 10)).astype(np.float32)
    template = image[3:7, 2:5, 4:9].copy()
    expected = feature.match_template(image, template)
    got = chunked.match_template(da.from_array(image, chunks=5), template).compute()
    assert got.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-4)
    assert np.unravel_index(np.argmax(got), got.shape) == (3, 2, 4)


# ---------------------------------------------------------------------------
# files, schedulers, memory


def test_convolve_file_npy_and_zarr(tmp_path):
    zarr = pytest.importorskip("zarr")
    x = RNG.standard_normal((130, 90)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    k = RNG.standard_normal((7, 7)).astype(np.float32)
    calls = []
    out = chunked.convolve_file(tmp_path / "x.npy", tmp_path / "y.zarr", k, chunks=(32, 32),
                                boundary="reflect", progress=lambda d, t: calls.append((d, t)))
    expected = convolab.convolve(x, k, "same", boundary="reflect")
    _close(out[...], expected, np.float32)
    assert out.chunks == (32, 32)
    assert calls[-1] == (15, 15) and len(calls) == 15
    # zarr in, 'full' correlation out
    z = zarr.open_array(tmp_path / "x.zarr", mode="w", shape=x.shape, chunks=(50, 40),
                        dtype=x.dtype)
    z[...] = x
    out = chunked.convolve_file(tmp_path / "x.zarr", tmp_path / "c.zarr", k, chunks=(50, 40),
                                op="correlate", mode="full", boundary="symm")
    _close(out[...], convolab.correlate(x, k, "full", boundary="symm"), np.float32)


def test_local_cluster_gives_the_threaded_result(tmp_path):
    distributed = pytest.importorskip("distributed")
    x = RNG.standard_normal((60, 50))
    np.save(tmp_path / "x.npy", x)
    k = RNG.standard_normal((9, 4))
    threaded = chunked.convolve(da.from_array(x, chunks=16), k, "same", boundary="symm")
    threaded = threaded.compute(scheduler="threads")
    # threads in this process, talking over loopback TCP (worker processes
    # would spend most of the test importing and compiling convolab)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  host="127.0.0.1", protocol="tcp://",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = client.compute(chunked.convolve(da.from_array(x, chunks=16), k, "same",
                                              boundary="symm")).result()
        calls = []
        out = chunked.convolve_file(tmp_path / "x.npy", tmp_path / "y.zarr", k, chunks=16,
                                    boundary="symm", client=client,
                                    progress=lambda d, t: calls.append(d))
        on_disk = out[...]
    np.testing.assert_array_equal(got, threaded)
    np.testing.assert_array_equal(on_disk, threaded)
    assert sorted(calls) == list(range(1, 17))


MEMORY_PROBE = textwrap.dedent("""
    import json, os, sys, threading, time
    import numpy as np
    from convolab.chunked import convolve_file

    src, folder, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    def rss():
        # anonymous memory only: pages of the memory-mapped file are page cache
        # the kernel may drop at any time, and reading a block maps the pages
        # around it too; an array held by the process is anonymous memory
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024

    k = np.ones((5, 5), np.float32) / 25
    small = os.path.join(folder, "small.npy")
    np.save(small, np.ones((600, 600), np.float32))
    if mode == "chunked":                   # imports, compilation, caches
        convolve_file(small, os.path.join(folder, "warm.zarr"), k, chunks=(512, 512),
                      boundary="symm")
    peak, stop = [rss()], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)

    base = rss()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    if mode == "chunked":
        convolve_file(src, os.path.join(folder, "out.zarr"), k, chunks=(512, 512),
                      boundary="symm")
    else:                                   # the control: the whole array in memory
        x = np.load(src)
        _ = float(x.sum())
    stop.set()
    thread.join()
    print(json.dumps({"increase": peak[0] - base}))
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc")
def test_memory_stays_bounded_for_a_file_larger_than_the_budget(tmp_path):
    """4096 x 4096 float32 (64 MiB) .npy -> zarr in 512^2 chunks: the peak
    increase of the subprocess's anonymous resident memory stays under a
    quarter of the array (2 x size / 8; 1 GiB would stay under 256 MiB), and
    the control that loads the array shows that the probe would see it."""
    pytest.importorskip("zarr")
    n = 4096
    src = str(tmp_path / "big.npy")
    big = np.lib.format.open_memmap(src, mode="w+", dtype=np.float32, shape=(n, n))
    for start in range(0, n, 512):
        big[start:start + 512] = np.float32(start)
    big.flush()
    del big
    size = n * n * 4
    results = {}
    for mode in ("chunked", "control"):
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, src, str(tmp_path), mode],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])["increase"]
    assert results["control"] > 0.9 * size, results
    assert results["chunked"] < 2 * size / 8, results
    print(f"peak anonymous memory increase: chunked {results['chunked'] / 2**20:.1f} MiB, "
          f"whole array {results['control'] / 2**20:.1f} MiB")
    import zarr
    z = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert z.shape == (n, n)
    # rows inside a constant band stay constant; a band edge is smoothed
    np.testing.assert_allclose(z[1000:1002, 100:103], 512.0, rtol=1e-6)
    np.testing.assert_allclose(z[1023, 7], (3 * 512 + 2 * 1024) / 5, rtol=1e-6)


# -- Dask arrays through the signal API's entry points -----------------------

@pytest.mark.parametrize("name", ["convolve", "correlate", "fftconvolve", "oaconvolve",
                                  "convolve2d", "correlate2d"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_the_signal_api_accepts_dask_arrays(name, mode):
    rng = np.random.default_rng(11)
    x, k = rng.random((70, 90)), rng.random((7, 4))
    lazy = getattr(convolab, name)(da.from_array(x, chunks=(20, 25)), k, mode)
    assert isinstance(lazy, da.Array)
    expected = getattr(scipy.signal, name)(x, k, mode)
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-10, atol=1e-12)


def test_dask_input_refuses_the_in_memory_only_extras():
    x = da.from_array(np.ones((20, 20)), chunks=10)
    with pytest.raises(convolab.ConvolabError, match="mask="):
        convolab.convolve(x, np.ones((3, 3)), nan_policy="omit", mask=np.zeros((20, 20), bool))
