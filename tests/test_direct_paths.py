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
    ((13, 800), (15, 2), "same", "framed"),      # kernel taller than the image: no full rows
    ((600, 700), (11, 11), "valid", "padded"),
    ((64, 64), (5, 5), "same", "flat"),
    ((40, 300), (7, 3), "full", "flat"),
]


def _random(rng, shape, dtype):
    """Standard normal samples of ``dtype`` (complex: real and imaginary parts)."""
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128"])
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("shape, kernel, mode, path", CASES)
def test_every_path_matches_scipy(shape, kernel, mode, path, workers, dtype):
    rng = np.random.default_rng(sum(shape) + sum(kernel))
    x, k = _random(rng, shape, dtype), _random(rng, kernel, dtype)
    problem = convolab.plan(x, k, mode, method="direct").problem
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


def _zero_extended_oracle(x, w, dilation, top, left, out_shape):
    """out[b, i, j] = sum over taps of w[b % G, u, v] * x[b, i - top + u d0, j - left + v d1],
    with zeros outside x: numpy.pad, then one vectorized product per tap."""
    (d0, d1), (kh, kw) = dilation, w.shape[1:]
    batch, h_out, w_out = out_shape
    bottom = max(0, h_out + (kh - 1) * d0 - top - x.shape[1])
    right = max(0, w_out + (kw - 1) * d1 - left - x.shape[2])
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    out = np.zeros(out_shape, dtype=np.result_type(x, w))
    kernels = w[np.arange(batch) % w.shape[0]]
    for u in range(kh):
        for v in range(kw):
            window = xp[:, u * d0:u * d0 + h_out, v * d1:v * d1 + w_out]
            out += kernels[:, u, v, None, None] * window
    return out


LOOP_CASES = [
    # (x shape, w shape, dilation, top, left, output shape)
    ((1, 40, 300), (1, 5, 5), (1, 1), 2, 2, (1, 40, 300)),          # same
    ((2, 37, 260), (2, 11, 11), (1, 1), 10, 10, (2, 47, 270)),      # full, two kernels
    ((1, 41, 290), (1, 3, 3), (1, 1), 0, 0, (1, 39, 288)),          # valid, no pairs
    ((1, 33, 300), (1, 4, 7), (2, 3), 3, 9, (1, 33, 300)),          # dilation: rows 2 apart pair
    ((1, 8, 300), (1, 9, 2), (1, 1), 12, 1, (1, 30, 301)),          # rows outside every kernel row
    ((3, 50, 280), (1, 2, 8), (1, 1), 1, 7, (3, 51, 287)),          # two-row kernel
    ((1, 17, 5), (1, 5, 5), (1, 1), 2, 2, (1, 17, 5)),              # no column has a full window
]


@pytest.mark.parametrize("serial", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("x_shape, w_shape, dilation, top, left, out_shape", LOOP_CASES)
def test_the_2d_loop_supplies_the_zeros_as_numpy_pad_does(x_shape, w_shape, dilation, top, left,
                                                          out_shape, dtype, serial):
    from convolab.algorithms import _numba_loops as loops
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    x, w = _random(rng, x_shape, dtype), _random(rng, w_shape, dtype)
    out = np.full(out_shape, np.nan, dtype=dtype)        # every element must be written
    loop = loops.correlate_2d_serial if serial else loops.correlate_2d
    loop(x, w, *dilation, top, left, out)
    expected = _zero_extended_oracle(x.astype(np.complex128), w.astype(np.complex128), dilation,
                                     top, left, out_shape)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert np.abs(out - expected).max() <= tol * np.abs(expected).max()


@pytest.mark.parametrize("tap", [(0, 0), (4, 4), (2, 0), (0, 3)])
@pytest.mark.parametrize("pad", [2, 7])
def test_zeros_beyond_the_image_times_an_infinite_tap_are_nan(tap, pad):
    # rows with some (pad 2) or no (pad 7) kernel rows inside the image, and
    # the columns at the row ends: 0 * inf is NaN there as in the reference loops
    from convolab.algorithms import _numba_loops as loops
    rng = np.random.default_rng(18)
    x = rng.standard_normal((1, 30, 300))
    w = rng.standard_normal((1, 5, 5))
    w[0][tap] = np.inf
    out_shape = (1, 30 + 2 * pad - 4, 300 + 2 * pad - 4)
    got = np.empty(out_shape)
    loops.correlate_2d_serial(x, w, 1, 1, pad, pad, got)
    xp = np.pad(x[0], pad)
    reference = convolab.correlate(xp, w[0], "valid", method="reference")
    np.testing.assert_array_equal(np.isnan(got[0]), np.isnan(reference))
    finite = ~np.isnan(reference)
    np.testing.assert_array_equal(got[0][finite], reference[finite])


def test_the_loops_ask_for_512_bit_vectors():
    # the attribute the loop functions carry; without it LLVM uses 256-bit
    # vectors on AVX-512 machines (a silent loss of speed, not of correctness)
    import numba
    from convolab.algorithms import _numba_loops as loops

    @numba.njit
    def marked(row):
        loops._wide_vectors()
        for j in range(row.shape[0]):
            row[j] += 1.0

    @numba.njit
    def unmarked(row):
        for j in range(row.shape[0]):
            row[j] += 1.0

    row = np.zeros(64)
    marked(row)
    unmarked(row)
    np.testing.assert_array_equal(row, 2.0)
    assert any('"prefer-vector-width"="512"' in ir for ir in marked.inspect_llvm().values())
    assert not any('prefer-vector-width' in ir for ir in unmarked.inspect_llvm().values())
