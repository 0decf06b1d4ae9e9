"""im2col's paths against independent oracles: the 1x1 product without a
copy, the matrix built in blocks of images or of bands of output rows, and
the flattened matrix read in place by numpy's BLAS.

Oracles: ``torch.nn.functional.conv{1,2,3}d`` in float64 (complex128 for
complex inputs), convolab's reference loops and :func:`numpy.matmul`.
Small block and band sizes force every blocking case (several images per
block, one image, bands of rows with a short last band).
"""

from __future__ import annotations

import numpy as np
import pytest

from numpy.lib.stride_tricks import as_strided

from convolab import engine
from convolab.algorithms import _blas, im2col
from convolab.algorithms._base import Cost
from convolab.algorithms.reference import algorithm as reference
from convolab.problem import from_nn

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_conv(x, w, nd, **kw):
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    wide = np.complex128 if np.iscomplexobj(x) or np.iscomplexobj(w) else np.float64
    return conv(torch.from_numpy(np.asarray(x, wide)),
                torch.from_numpy(np.asarray(w, wide)), **kw).numpy()


def force(monkeypatch, path):
    """Make ``method='im2col'`` take one path: ``"built"`` (the matrix from a
    sliding-window view) or ``"flat"`` (read in place, wherever it applies)."""
    if path == "built":
        monkeypatch.setattr(im2col, "_flat_layout", lambda problem: None)
    else:
        monkeypatch.setattr(im2col.Im2col, "_built_cost", lambda self, problem: Cost(float("inf"), 0))


def run_im2col(x, w, nd, **kw):
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=nd, **kw)
    xc, wc = problem.layout.to_core(x, w)
    return problem.layout.from_core(engine.execute(problem, xc, wc, "im2col"))


def core_of(x, w, nd=2, **kw):
    """The problem and its core-layout inputs, as the engine hands them to an algorithm."""
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=nd, **kw)
    xc, wc = problem.layout.to_core(x, w)
    return (problem,) + tuple(engine.prepare(problem, xc, wc))


def check(out, ref, dtype):
    assert out.dtype == np.dtype(dtype) and out.shape == ref.shape
    tol = 2e-6 if dtype in ("float32", "complex64") else 1e-13
    assert np.abs(out - ref).max() <= tol * max(1.0, np.abs(ref).max())


CASES_1X1 = [
    # (x shape, w shape, kwargs)
    ((2, 6, 9, 7), (4, 6, 1, 1), {}),
    ((1, 6, 9, 7), (4, 3, 1, 1), {"groups": 2}),
    ((3, 4, 10, 11), (5, 4, 1, 1), {"stride": 2}),
    ((2, 4, 5, 6), (3, 4, 1, 1), {"padding": 1}),
    ((2, 4, 8, 9), (3, 4, 1, 1), {"stride": (2, 3), "padding": (1, 0)}),
    ((2, 3, 12), (5, 3, 1), {}),
    ((1, 2, 4, 5, 6), (3, 2, 1, 1, 1), {"stride": 2}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs, ws, kw", CASES_1X1, ids=[f"{c[0]}-{c[2]}" for c in CASES_1X1])
def test_1x1_matches_torch(xs, ws, kw, dtype):
    rng = np.random.default_rng(len(xs) * 10 + len(kw))
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    nd = len(xs) - 2
    check(run_im2col(x, w, nd, **kw), torch_conv(x, w, nd, **kw), dtype)


def test_1x1_noncontiguous_input():
    rng = np.random.default_rng(7)
    big = rng.standard_normal((2, 8, 12, 14))
    x = big[:, ::2, 1::2, ::-1]                         # strided, reversed view
    w = rng.standard_normal((3, 4, 1, 1))
    check(run_im2col(x, w, 2), torch_conv(x.copy(), w, 2), "float64")


CASES_BLOCKED = [
    ((3, 3, 17, 15), (4, 3, 3, 3), {"padding": 1}),
    ((2, 3, 20, 19), (6, 3, 7, 7), {"stride": 2, "padding": 3}),    # a stem, small
    ((2, 4, 13, 12), (6, 2, 3, 2), {"groups": 2, "dilation": (2, 1)}),
    ((1, 2, 9, 11), (3, 2, 3, 3), {"stride": (1, 2)}),
    ((2, 3, 30), (4, 3, 5), {"padding": 2, "stride": 3}),
    ((1, 2, 6, 7, 5), (3, 2, 3, 2, 3), {"padding": 1}),
]


@pytest.mark.parametrize("block", [1, 200, 2000, 10 ** 9], ids=["rows", "band", "image", "batch"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs, ws, kw", CASES_BLOCKED, ids=[f"{c[0]}-{c[1]}" for c in CASES_BLOCKED])
def test_blocked_matches_torch(xs, ws, kw, dtype, block, monkeypatch):
    """Every block size gives torch's result: one output row at a time,
    bands of rows (the last one short), one image, several images."""
    monkeypatch.setattr(im2col, "BLOCK_BYTES", block)
    force(monkeypatch, "built")
    rng = np.random.default_rng(sum(xs) + block % 97)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    nd = len(xs) - 2
    check(run_im2col(x, w, nd, **kw), torch_conv(x, w, nd, **kw), dtype)


def test_blocked_against_reference_loops(monkeypatch):
    """Without torch as the oracle: the plain loops, a band of two rows."""
    monkeypatch.setattr(im2col, "BLOCK_BYTES", 2 * 2 * 9 * 8 * 8)
    force(monkeypatch, "built")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 9, 8))
    w = rng.standard_normal((3, 2, 3, 3))
    _, core, xe, we = core_of(x, w, padding=1)
    np.testing.assert_allclose(im2col.algorithm.run(core, xe, we), reference.run(core, xe, we),
                               rtol=1e-12, atol=1e-12)


def test_integer_inputs_stay_exact(monkeypatch):
    """No BLAS for integers; the blocks still give the exact sums."""
    monkeypatch.setattr(im2col, "BLOCK_BYTES", 64)
    rng = np.random.default_rng(4)
    x = rng.integers(-50, 50, (2, 3, 8, 9)).astype(np.int64)
    w = rng.integers(-5, 5, (4, 3, 3, 3)).astype(np.int64)
    out = run_im2col(x, w, 2, padding=1)
    ref = torch_conv(x, w, 2, padding=1)
    np.testing.assert_array_equal(out, np.rint(ref).astype(np.int64))


# ---------------------------------------------------------------------------
# the flattened matrix, read in place

needs_gemm = pytest.mark.skipif(_blas.routine(np.float64) is None,
                                reason="numpy's BLAS does not export cblas_dgemm64_")

CASES_FLAT = [
    ((3, 3, 17, 15), (4, 3, 3, 3), {"padding": 1}),
    ((2, 4, 13, 12), (6, 2, 3, 2), {"groups": 2, "dilation": (2, 1)}),
    ((1, 2, 9, 11), (3, 2, 4, 5), {}),                                # 'valid', even taps
    ((2, 5, 10, 9), (3, 5, 5, 5), {"padding": (2, 4)}),
    ((2, 3, 30), (4, 3, 5), {"padding": 2, "dilation": 3}),
    ((1, 2, 6, 7, 5), (3, 2, 3, 2, 3), {"padding": 1}),
    ((2, 6, 5, 6, 6), (6, 2, 2, 3, 2), {"groups": 3, "dilation": (1, 2, 2)}),
    ((1, 3, 8, 8), (5, 3, 8, 8), {}),                                 # one output position
]


@needs_gemm
@pytest.mark.parametrize("band", [1, 300, 4 << 20], ids=["rows", "band", "image"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("xs, ws, kw", CASES_FLAT, ids=[f"{c[0]}-{c[1]}" for c in CASES_FLAT])
def test_flat_matches_torch(xs, ws, kw, dtype, band, monkeypatch):
    """Each band size (one output row, a few, the whole image) gives torch's
    result, for every dtype BLAS multiplies."""
    monkeypatch.setattr(im2col, "BAND_BYTES", band)
    force(monkeypatch, "flat")
    rng = np.random.default_rng(sum(xs) + band % 89)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(xs).astype(dtype)
        w = w + 1j * rng.standard_normal(ws).astype(dtype)
    nd = len(xs) - 2
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=nd, **kw)
    assert im2col._flat_layout(problem) is not None
    assert "flattened" in im2col.algorithm.cost(problem).detail
    check(run_im2col(x, w, nd, **kw), torch_conv(x, w, nd, **kw), dtype)


@needs_gemm
def test_flat_against_reference_loops(monkeypatch):
    """Without torch as the oracle: the plain loops, bands of two rows."""
    monkeypatch.setattr(im2col, "BAND_BYTES", 3 * 2 * 10 * 8)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 9, 8))
    w = rng.standard_normal((3, 2, 3, 3))
    _, core, xe, we = core_of(x, w, padding=1)
    layout = im2col._flat_layout(core)
    assert layout.rows == 2 and layout.bands == 5
    np.testing.assert_allclose(im2col._run_flat(core, xe, we, layout), reference.run(core, xe, we),
                               rtol=1e-12, atol=1e-12)


@needs_gemm
def test_flat_noncontiguous_input(monkeypatch):
    force(monkeypatch, "flat")
    rng = np.random.default_rng(8)
    big = rng.standard_normal((3, 8, 14, 12)).astype(np.float32)
    x = big[::-1, ::2, 1::2, ::-1].transpose(0, 1, 3, 2)   # reversed, strided, transposed
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    check(run_im2col(x, w, 2, padding=1), torch_conv(x.copy(), w, 2, padding=1), "float32")


@needs_gemm
def test_flat_nonfinite_inputs_match_reference(monkeypatch):
    """NaN and infinity reach exactly the outputs whose windows hold them."""
    force(monkeypatch, "flat")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 12, 11))
    x[0, 1, 4, 5] = np.nan
    x[1, 2, 0, 0] = np.inf
    x[1, 0, 9, 3] = -np.inf
    w = rng.standard_normal((4, 3, 3, 3))
    out = run_im2col(x, w, 2, padding=1)
    problem, core, xe, we = core_of(x, w, padding=1)
    ref = problem.layout.from_core(reference.run(core, xe, we))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(out), np.isposinf(ref))
    finite = np.isfinite(ref)
    assert np.isnan(ref).any() and np.isinf(ref).any()
    np.testing.assert_allclose(out[finite], ref[finite], rtol=1e-12, atol=1e-12)


def test_flat_without_blas_routine_builds_the_matrix(monkeypatch):
    """Where numpy's BLAS exports no gemm, the built matrix runs instead."""
    monkeypatch.setattr(_blas, "routine", lambda dtype: None)
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 16, 20, 20)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=2, padding=1)
    assert im2col._flat_layout(problem) is None
    assert "flattened" not in im2col.algorithm.cost(problem).detail
    check(run_im2col(x, w, 2, padding=1), torch_conv(x, w, 2, padding=1), "float32")


def test_flat_does_not_apply():
    """Strides, 1x1 kernels and integers keep the built matrix."""
    for xs, ws, kw, dtype in [((1, 4, 9, 9), (4, 4, 3, 3), {"stride": 2}, np.float32),
                              ((1, 4, 9, 9), (4, 4, 1, 1), {}, np.float32),
                              ((1, 4, 9, 9), (4, 4, 3, 3), {}, np.int64)]:
        problem = from_nn(xs, ws, np.dtype(dtype), np.dtype(dtype), nd=2, **kw)
        assert im2col._flat_layout(problem) is None


@needs_gemm
def test_flat_chosen_by_cost():
    """Many channels on a large image: flattened; few channels or a small
    image: built (the per-tap products are short sums, or short rows)."""
    def detail(xs, ws):
        problem = from_nn(xs, ws, np.dtype(np.float32), np.dtype(np.float32), nd=2, padding=1)
        return im2col.algorithm.cost(problem).detail
    assert "flattened" in detail((8, 64, 56, 56), (64, 64, 3, 3))
    assert "flattened" in detail((8, 32, 112, 112), (32, 32, 3, 3))
    assert "flattened" not in detail((8, 3, 112, 112), (16, 3, 3, 3))
    assert "flattened" not in detail((8, 512, 7, 7), (512, 512, 3, 3))


@needs_gemm
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_gemm_overlapping_rows_and_accumulation(dtype):
    """numpy's BLAS called directly: ``c = a1 @ b1`` then ``c += a2 @ b2``,
    where b1 and b2 are read from one buffer at offsets 0 and 1 with a
    leading dimension longer than their rows, against numpy.matmul on copies."""
    gemm = _blas.routine(dtype)
    rng = np.random.default_rng(11)
    m, k, n, step = 5, 4, 7, 8         # b's rows: 7 of every 8 elements, read from two offsets
    a1, a2, big = (rng.standard_normal(shape).astype(dtype) for shape in [(m, k), (m, k), step * k + 4])
    if np.dtype(dtype).kind == "c":
        a1, a2, big = (a + 1j * rng.standard_normal(a.shape).astype(dtype) for a in (a1, a2, big))
    item = big.itemsize
    b1 = as_strided(big, (k, n), (step * item, item))
    b2 = as_strided(big[1:], (k, n), (step * item, item))
    c = np.full((m, n), 99, dtype)
    gemm(m, n, k, a1.ctypes.data, k, big.ctypes.data, step, c.ctypes.data, n, False)
    np.testing.assert_allclose(c, a1 @ b1.copy(), rtol=1e-5)
    gemm(m, n, k, a2.ctypes.data, k, big.ctypes.data + item, step, c.ctypes.data, n, True)
    np.testing.assert_allclose(c, a1 @ b1.copy() + a2 @ b2.copy(), rtol=1e-5)


@pytest.mark.parametrize("zero_weight", [False, True], ids=["nonzero-weights", "a-zero-weight"])
@pytest.mark.parametrize("path, ws, kw", [("built", (4, 3, 3, 3), {"stride": 2, "padding": 1}),
                                          ("flat", (4, 3, 3, 3), {"padding": 1}),
                                          ("built", (4, 3, 1, 1), {})],
                         ids=["built", "flat", "1x1"])
def test_nonfinite_inputs_with_and_without_the_scan(path, ws, kw, zero_weight, monkeypatch):
    """With finite nonzero weights the engine skips its scan of the input
    (every product is computed); with a zero weight it scans and repairs.
    Either way NaN and infinity land where the reference loops put them."""
    force(monkeypatch, path)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 10, 9))
    x[0, 1, 4, 5] = np.nan
    x[1, 2, 2, 2] = np.inf
    x[1, 0, 7, 3] = -np.inf
    w = rng.standard_normal(ws) + 0.1
    if zero_weight:
        w[1, 2, 0, 0] = 0.0                           # meets the infinity at (1, 2, 2, 2)
    assert im2col.algorithm.exact_nonfinite_for(w) is (not zero_weight)
    scans = []
    real_scan = engine._all_finite
    monkeypatch.setattr(engine, "_all_finite", lambda a: scans.append(a.size) or real_scan(a))
    out = run_im2col(x, w, 2, **kw)
    assert (x.size in scans) is zero_weight
    problem, core, xe, we = core_of(x, w, **kw)
    ref = problem.layout.from_core(reference.run(core, xe, we))
    assert np.isnan(ref).any() and np.isinf(ref).any()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(out), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(out), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(out[finite], ref[finite], rtol=1e-12, atol=1e-12)


def test_exact_nonfinite_for_needs_finite_nonzero_weights():
    a = im2col.algorithm
    assert a.exact_nonfinite_for(np.array([[0.5, -2.0]]))
    assert not a.exact_nonfinite_for(np.array([[0.5, 0.0]]))
    assert not a.exact_nonfinite_for(np.array([[0.5, np.inf]]))
    assert not a.exact_nonfinite_for(np.array([[np.nan, 1.0]]))
    assert not a.exact_nonfinite_for(np.array([[0.5 + 1j, -2.0]]))   # complex: repaired


def test_scan_of_opposite_infinities_warns_nothing():
    """The engine's scan sums the input; +inf and -inf in it make that sum NaN
    (the signal to repair), not a RuntimeWarning for the caller."""
    import warnings
    x = np.ones((1, 2, 6, 6))
    x[0, 0, 1, 1], x[0, 1, 4, 4] = np.inf, -np.inf
    w = np.ones((2, 2, 3, 3))
    w[0, 0, 0, 0] = 0.0                              # a zero weight: the scan runs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = run_im2col(x, w, 2, padding=1)
    assert np.isnan(out).any() and np.isfinite(out).any()
