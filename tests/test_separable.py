"""The separable (low-rank) algorithm: rank detection and results against independent oracles.

Oracles: scipy.signal (the functions captured in :mod:`helpers` before any
patching), scipy.ndimage.correlate, :func:`helpers.oracle` (numpy.pad and an
explicit loop) and, for stride and dilation, an explicit loop written here.
Results are computed through :func:`convolab.engine.execute` on problems
built by :func:`convolab.problem.from_signal` / :func:`~convolab.problem.from_nn`,
so the engine's kernel reversal, conjugation, boundary extension and cast
back are part of what is tested.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from scipy import ndimage

from convolab import engine
from convolab.algorithms import ALGORITHMS
from convolab.algorithms import separable as sep
from convolab.algorithms.direct import algorithm as direct
from convolab.problem import ConvProblem, from_nn, from_signal
from helpers import assert_close_dtype, magnitude, oracle, scipy_signal, valid_ok

algorithm = sep.algorithm
HAS_FIELD = "kernel_rank" in {f.name for f in dataclasses.fields(ConvProblem)}


# ---------------------------------------------------------------------------
# helpers


def gaussian(sigma: float, truncate: float = 3.0) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    t = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    return np.outer(g, g) / g.sum() ** 2


SOBEL = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)


def outer(*vectors: np.ndarray) -> np.ndarray:
    out = vectors[0]
    for v in vectors[1:]:
        out = np.multiply.outer(out, v)
    return out


def with_rank(problem: ConvProblem, rank: int) -> ConvProblem:
    """``problem`` with ``kernel_rank`` set: the field when ConvProblem has it,
    else an attribute on a copy (supports() reads it with getattr)."""
    if HAS_FIELD:
        return dataclasses.replace(problem, kernel_rank=rank)
    copy = dataclasses.replace(problem)
    object.__setattr__(copy, "kernel_rank", rank)
    return copy


def signal_problem(in1: np.ndarray, in2: np.ndarray, mode: str, *, flip: bool = True,
                   **kw) -> ConvProblem:
    return from_signal(in1, in2, mode=mode, flip=flip, out_dtype=np.result_type(in1, in2), **kw)


def run_signal(in1: np.ndarray, in2: np.ndarray, mode: str, *, flip: bool = True,
               algo=algorithm, **kw) -> np.ndarray:
    """convolve (flip) / correlate in1 with in2 through the engine with ``algo``."""
    problem = signal_problem(in1, in2, mode, flip=flip, **kw)
    x, w = problem.layout.to_core(in1, in2)
    return problem.layout.from_core(engine.execute(problem, x, w, algo))


def loop_nn(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups: int) -> np.ndarray:
    """torch's conv2d/conv3d (a cross-correlation) as explicit loops over outputs."""
    nd = w.ndim - 2
    xp = np.pad(x.astype(np.result_type(x, np.float64)),
                [(0, 0), (0, 0)] + [(p, p) for p in padding])
    n, cin = x.shape[:2]
    cout, cin_g = w.shape[:2]
    k = w.shape[2:]
    extent = [(kk - 1) * d + 1 for kk, d in zip(k, dilation)]
    out_sp = [(p - e) // s + 1 for p, e, s in zip(xp.shape[2:], extent, stride)]
    out = np.zeros((n, cout) + tuple(out_sp), dtype=xp.dtype)
    per = cout // groups
    for o in range(cout):
        g = o // per
        for pos in itertools.product(*(range(m) for m in out_sp)):
            field = tuple(slice(i * s, i * s + e, d)
                          for i, s, e, d in zip(pos, stride, extent, dilation))
            window = xp[(slice(None), slice(g * cin_g, (g + 1) * cin_g)) + field]
            out[(slice(None), o) + pos] = (window * w[o]).reshape(n, -1).sum(axis=1)
    return out


def run_nn(x: np.ndarray, w: np.ndarray, *, stride=1, padding=0, dilation=1, groups=1,
           padding_mode: str = "zeros") -> np.ndarray:
    nd = w.ndim - 2
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=nd, stride=stride, padding=padding,
                      dilation=dilation, groups=groups, padding_mode=padding_mode)
    xc, wc = problem.layout.to_core(x, w)
    return problem.layout.from_core(engine.execute(problem, xc, wc, algorithm))


def rank_r(rng: np.random.Generator, shape: tuple[int, int], r: int) -> np.ndarray:
    """A random matrix of rank exactly ``r`` (almost surely)."""
    return rng.standard_normal((shape[0], r)) @ rng.standard_normal((r, shape[1]))


# ---------------------------------------------------------------------------
# kernel_rank


@pytest.mark.parametrize("shape", [(5, 5), (7, 4), (3, 9), (12, 12), (1, 6)])
def test_kernel_rank_matches_numpy_matrix_rank(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for r in range(0, min(shape) + 1):
        m = rank_r(rng, shape, r) if r else np.zeros(shape)
        rank, factors = sep.kernel_rank(m)
        assert rank == np.linalg.matrix_rank(m) == r
        assert len(factors) == rank
        rebuilt = sum((np.outer(u, v) for u, v in factors), np.zeros(shape))
        assert np.linalg.norm(rebuilt - m) <= sep.default_rtol(np.float64) * np.linalg.norm(m) + 1e-300


def test_kernel_rank_of_classic_kernels() -> None:
    assert sep.kernel_rank(gaussian(2.0))[0] == 1
    assert sep.kernel_rank(np.ones((7, 7)) / 49)[0] == 1
    assert sep.kernel_rank(SOBEL)[0] == 1
    assert sep.kernel_rank(SOBEL.T)[0] == 1
    two = np.outer([1., 2, 3, 4, 5], [1., 0, -1, 2]) + np.outer([0., 1, 0, -1, 3], [2., 1, 1, 1])
    assert sep.kernel_rank(two)[0] == 2 == np.linalg.matrix_rank(two)
    # Laplacian: rank 2 (not separable, but a sum of two separable terms)
    lap = np.array([[0., 1, 0], [1, -4, 1], [0, 1, 0]])
    assert sep.kernel_rank(lap)[0] == np.linalg.matrix_rank(lap) == 2


def test_kernel_rank_tolerance_follows_the_dtype() -> None:
    """A Gaussian rounded to float32 is rank 1 at float32's tolerance but not
    at float64's (its rounding errors are ~1e-8 of its norm)."""
    g32 = gaussian(3.0).astype(np.float32)
    assert sep.kernel_rank(g32)[0] == 1                                   # rtol from float32
    assert sep.kernel_rank(g32.astype(np.float64))[0] > 1                 # rtol from float64
    assert sep.default_rtol(np.float32) == pytest.approx(16 * np.finfo(np.float32).eps)
    assert sep.default_rtol(np.float64) == pytest.approx(16 * np.finfo(np.float64).eps)
    assert sep.default_rtol(np.complex64) == sep.default_rtol(np.float32)
    # an explicit, looser tolerance drops a small second term
    m = np.outer([1., 2, 3], [1., 1, 1]) + 1e-9 * np.outer([1., -1, 1], [1., 0, -1])
    assert sep.kernel_rank(m)[0] == 2
    assert sep.kernel_rank(m, rtol=1e-6)[0] == 1


def test_kernel_rank_n_d_and_edge_cases() -> None:
    rng = np.random.default_rng(3)
    a, b, c = rng.standard_normal(4), rng.standard_normal(5), rng.standard_normal(3)
    rank, factors = sep.kernel_rank(outer(a, b, c))
    assert rank == 1
    np.testing.assert_allclose(outer(*factors[0]), outer(a, b, c), rtol=1e-12, atol=1e-14)
    d, e, f = rng.standard_normal(4), rng.standard_normal(5), rng.standard_normal(3)
    t = outer(a, b, c) + outer(d, e, f)
    rank, factors = sep.kernel_rank(t)
    assert 2 <= rank <= 4                              # successive SVDs: an upper bound
    np.testing.assert_allclose(sum(outer(*fs) for fs in factors), t, rtol=1e-12, atol=1e-13)
    dense = rng.standard_normal((3, 4, 5))
    rank, factors = sep.kernel_rank(dense)
    np.testing.assert_allclose(sum(outer(*fs) for fs in factors), dense, rtol=1e-12, atol=1e-13)
    four = outer(a, b, c, d)
    assert sep.kernel_rank(four)[0] == 1
    # 1-D, zero, complex, non-finite
    assert sep.kernel_rank(np.arange(1.0, 6.0))[0] == 1
    assert sep.kernel_rank(np.zeros((3, 3))) == (0, [])
    zc = np.outer(rng.standard_normal(4) + 1j * rng.standard_normal(4),
                  rng.standard_normal(5) + 1j * rng.standard_normal(5))
    rank, factors = sep.kernel_rank(zc)
    assert rank == 1 and factors[0][0].dtype == np.complex128
    np.testing.assert_allclose(np.outer(*factors[0]), zc, rtol=1e-12)
    with pytest.raises(ValueError, match="non-finite"):
        sep.kernel_rank(np.array([[1.0, np.nan], [0.0, 1.0]]))


# ---------------------------------------------------------------------------
# analyze_kernel


def core_kernel(k: np.ndarray) -> np.ndarray:
    return k.reshape((1, 1, 1) + k.shape)


def test_analyze_kernel_ranks() -> None:
    rng = np.random.default_rng(4)
    assert sep.analyze_kernel(core_kernel(gaussian(2.0)), np.float64).rank == 1
    assert sep.analyze_kernel(core_kernel(SOBEL), np.float64).rank == 1
    assert sep.analyze_kernel(core_kernel(np.ones((4, 6))), np.float32).rank == 1
    assert sep.analyze_kernel(core_kernel(rank_r(rng, (9, 8), 2)), np.float64).rank == 2
    full = sep.analyze_kernel(core_kernel(rng.standard_normal((5, 5))), np.float64)
    assert full.rank == 5 and full.reason == ""
    # the most terms over every (group, out, in) kernel
    w = np.stack([core_kernel(gaussian(1.0))[0], core_kernel(rank_r(rng, (7, 7), 3))[0]])
    s = sep.analyze_kernel(w, np.float64)
    assert (s.rank, s.kernels) == (3, 2)
    # float32 results: the kernel rounded to float32, tolerance of float32
    assert sep.analyze_kernel(core_kernel(gaussian(3.0)), np.float32).rank == 1
    # 3-D and 1-D
    assert sep.analyze_kernel(core_kernel(outer(*rng.standard_normal((3, 5)))), np.float64).rank == 1
    assert sep.analyze_kernel(core_kernel(np.arange(5.0)), np.float64).rank == 1
    # complex
    zc = np.outer(rng.standard_normal(5) + 1j, rng.standard_normal(5) - 2j)
    assert sep.analyze_kernel(core_kernel(zc), np.complex128).rank == 1
    # all-zero kernels stand for "any kernel" (plans for shapes alone): unknown
    zero = sep.analyze_kernel(core_kernel(np.zeros((5, 5))), np.float64)
    assert zero.rank == 0 and "all-zero" in zero.reason
    # ... but one zero kernel among others does not hide the others' rank
    w = np.stack([np.zeros((1, 1, 5, 5)), core_kernel(gaussian(1.0)[1:-1, 1:-1])[0]])
    assert sep.analyze_kernel(w, np.float64).rank == 1


def test_analyze_kernel_signal_layout() -> None:
    """With spatial_axes: scipy.signal's in2, the other axes index kernels."""
    rng = np.random.default_rng(5)
    stack = np.stack([np.outer(rng.standard_normal(6), rng.standard_normal(5)) for _ in range(4)])
    stack = np.moveaxis(stack, 0, 1)                      # (6, 4, 5): kernels along axis 1
    s = sep.analyze_kernel(stack, np.float64, spatial_axes=(0, 2))
    assert (s.rank, s.kernels) == (1, 4)
    stack[:, 2, :] = rng.standard_normal((6, 5))
    assert sep.analyze_kernel(stack, np.float64, spatial_axes=(0, -1)).rank == 5


@pytest.mark.parametrize("kernel, dtype, words", [
    (np.ones((5, 5), np.int64), np.int64, "not analysed for int64"),
    (np.ones((5, 5)), np.longdouble, "not analysed"),
    (np.ones((2, 2)), np.float64, "no low-rank form of a 2x2"),
    (np.ones((1, 9)), np.float64, "no low-rank form of a 1x9"),
    (np.array([[1.0, np.inf, 0], [0, 1, 0], [0, 0, 1]]), np.float64, "non-finite"),
    (np.ones((200, 200)), np.float64, "too large"),
])
def test_analyze_kernel_unknown(kernel: np.ndarray, dtype, words: str) -> None:
    if np.dtype(dtype) == np.longdouble and np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("longdouble is float64 here")
    s = sep.analyze_kernel(core_kernel(kernel), dtype)
    assert s.rank == 0
    assert words in s.reason


# ---------------------------------------------------------------------------
# supports and cost


def image_problem(kernel_shape, dtype=np.float64, image=(64, 64), mode="same") -> ConvProblem:
    return signal_problem(np.zeros(image, dtype), np.zeros(kernel_shape, dtype), mode)


def test_supports() -> None:
    p = image_problem((9, 9))
    assert "rank is unknown" in algorithm.supports(with_rank(p, 0))
    assert algorithm.supports(with_rank(p, 1)) is None
    assert algorithm.supports(with_rank(p, 4)) is None          # 4 * 18 < 81
    assert "rank 5" in algorithm.supports(with_rank(p, 5))      # 5 * 18 >= 81
    assert "rank 2" in algorithm.supports(with_rank(image_problem((3, 3)), 2))
    assert "even a rank-1 2x2" in algorithm.supports(with_rank(image_problem((2, 2)), 1))
    assert "1-D" in algorithm.supports(with_rank(signal_problem(np.zeros(50), np.zeros(5), "full"), 1))
    ints = signal_problem(np.zeros((20, 20), np.int32), np.ones((5, 5), np.int32), "same")
    assert "integer" in algorithm.supports(with_rank(ints, 1))
    if np.dtype(np.longdouble).itemsize > 8:
        ld = image_problem((5, 5), np.longdouble)
        assert "extended precision" in algorithm.supports(with_rank(ld, 1))
    # channels: fine when the rank pays
    layer = from_nn((2, 4, 16, 16), (6, 4, 7, 7), np.dtype(np.float32), np.dtype(np.float32), nd=2)
    assert algorithm.supports(with_rank(layer, 1)) is None


def test_cost_grows_with_rank_and_beats_dense_for_large_gaussians() -> None:
    p = image_problem((31, 31), np.float32, image=(1024, 1024))
    one = algorithm.cost(with_rank(p, 1))
    two = algorithm.cost(with_rank(p, 2))
    assert 0 < one.seconds < two.seconds < 2.2 * one.seconds
    assert one.bytes >= 1024 * 1024 * 4
    assert "rank 1" in one.detail
    assert one.seconds < direct.cost(p).seconds / 5


# ---------------------------------------------------------------------------
# results against independent oracles: the signal family


def scale(in1, in2) -> float:
    return magnitude(in1, in2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sigma", [1.0, 2.5])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_gaussian_matches_scipy(dtype: str, sigma: float, mode: str) -> None:
    rng = np.random.default_rng(6)
    img = rng.standard_normal((47, 70)).astype(dtype)
    g = gaussian(sigma).astype(dtype)
    expected = scipy_signal.convolve2d(img, g, mode)
    out = run_signal(img, g, mode)
    assert_close_dtype(out, expected, dtype, scale=scale(img, g))


@pytest.mark.parametrize("kernel_name", ["box", "sobel", "sobel_t", "rank2"])
@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_classic_kernels_match_scipy(kernel_name: str, op: str) -> None:
    rng = np.random.default_rng(7)
    kernels = {
        "box": np.ones((6, 7)) / 42,
        "sobel": SOBEL,
        "sobel_t": SOBEL.T,
        "rank2": np.outer(rng.standard_normal(9), rng.standard_normal(8))
        + np.outer(rng.standard_normal(9), rng.standard_normal(8)),
    }
    k = kernels[kernel_name]
    img = rng.standard_normal((33, 41))
    fn = scipy_signal.convolve if op == "convolve" else scipy_signal.correlate
    for mode in ("full", "same", "valid"):
        expected = fn(img, k, mode, method="direct")
        out = run_signal(img, k, mode, flip=op == "convolve")
        assert_close_dtype(out, expected, np.float64, scale=scale(img, k),
                           err_msg=f"{kernel_name} {op} {mode}")


@pytest.mark.parametrize("kshape", [(4, 6), (5, 5), (8, 3), (3, 8), (2, 9), (10, 10)])
@pytest.mark.parametrize("ishape", [(16, 17), (9, 30)])
def test_even_and_odd_sizes(kshape, ishape) -> None:
    rng = np.random.default_rng(sum(kshape) * 31 + sum(ishape))
    k = outer(rng.standard_normal(kshape[0]), rng.standard_normal(kshape[1]))
    img = rng.standard_normal(ishape)
    for mode in ("full", "same", "valid"):
        if mode == "valid" and not valid_ok(ishape, kshape):
            continue
        expected = oracle(img, k, mode, flip=True)
        assert_close_dtype(run_signal(img, k, mode), expected, np.float64, scale=scale(img, k),
                           err_msg=f"{kshape} {ishape} {mode}")


def test_full_rank_kernel_is_refused_but_still_right() -> None:
    """A random kernel has full rank: analyze_kernel says so, supports refuses,
    and a forced run (e.g. a plan reused with another kernel) is still right."""
    rng = np.random.default_rng(8)
    k = rng.standard_normal((6, 6))
    img = rng.standard_normal((30, 25))
    problem = signal_problem(img, k, "same")
    rank = sep.analyze_kernel(k, problem.compute_dtype, spatial_axes=(0, 1)).rank
    assert rank == 6
    assert "rank 6" in algorithm.supports(with_rank(problem, rank))
    expected = scipy_signal.convolve2d(img, k, "same")
    assert_close_dtype(run_signal(img, k, "same"), expected, np.float64, scale=scale(img, k))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_term_path_with_full_rank_factors(dtype: str) -> None:
    """correlate_terms with every SVD term of a full-rank kernel (the path run()
    takes for rank >= 2) equals the dense correlation."""
    rng = np.random.default_rng(9)
    k = rng.standard_normal((7, 5)).astype(dtype)
    img = rng.standard_normal((40, 38)).astype(dtype)
    problem = signal_problem(img, k, "full", flip=False)
    x, w = problem.layout.to_core(img, k)
    core, xc, wc = engine.prepare(problem, x, w)
    rank, factors = sep.kernel_rank(wc[0, 0, 0])
    assert rank == 5
    out = sep.correlate_terms(core, sep.zero_extend(core, xc), [[[factors]]])
    expected = scipy_signal.correlate(img.astype(float), k.astype(float), "full", method="direct")
    assert_close_dtype(out[0, 0, 0].astype(dtype), expected.astype(dtype), dtype, scale=scale(img, k))


def test_one_d_is_trivial_and_right() -> None:
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal(300), rng.standard_normal(11)
    for mode in ("full", "same", "valid"):
        assert_close_dtype(run_signal(a, b, mode), np.convolve(a, b, mode), np.float64,
                           scale=scale(a, b))
    # a batch of rows (axes=-1) with one kernel per row
    rows, kernels = rng.standard_normal((4, 100)), rng.standard_normal((4, 9))
    out = run_signal(rows, kernels, "same", axes=-1)
    expected = np.stack([np.convolve(r, k, "same") for r, k in zip(rows, kernels)])
    assert_close_dtype(out, expected, np.float64, scale=scale(rows, kernels))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_three_d_rank_one(dtype: str) -> None:
    rng = np.random.default_rng(11)
    k = outer(rng.standard_normal(3), rng.standard_normal(5), rng.standard_normal(4)).astype(dtype)
    vol = rng.standard_normal((12, 15, 11)).astype(dtype)
    # ndimage.correlate, 'constant' zeros, then the valid part: a 3-D valid correlation
    full = ndimage.correlate(vol.astype(float), k.astype(float), mode="constant", cval=0.0)
    valid = full[tuple(slice(m // 2, m // 2 + n - m + 1) for m, n in zip(k.shape, vol.shape))]
    out = run_signal(vol, k, "valid", flip=False)
    assert_close_dtype(out, valid.astype(dtype), dtype, scale=scale(vol, k))
    expected = scipy_signal.convolve(vol, k, "same", method="direct")
    assert_close_dtype(run_signal(vol, k, "same"), expected, dtype, scale=scale(vol, k))


def test_three_d_sum_of_terms() -> None:
    rng = np.random.default_rng(12)
    k = outer(*rng.standard_normal((3, 5))) + outer(*rng.standard_normal((3, 5)))
    vol = rng.standard_normal((9, 10, 11))
    expected = scipy_signal.correlate(vol, k, "full", method="direct")
    assert_close_dtype(run_signal(vol, k, "full", flip=False), expected, np.float64,
                       scale=scale(vol, k))


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_complex(dtype: str, op: str) -> None:
    """Complex kernels: the SVD is complex; a correlation conjugates the kernel."""
    rng = np.random.default_rng(13)
    u = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    v = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    k = np.outer(u, v).astype(dtype)
    img = (rng.standard_normal((20, 23)) + 1j * rng.standard_normal((20, 23))).astype(dtype)
    fn = scipy_signal.convolve if op == "convolve" else scipy_signal.correlate
    for mode in ("full", "same", "valid"):
        expected = fn(img, k, mode, method="direct")
        out = run_signal(img, k, mode, flip=op == "convolve")
        assert_close_dtype(out, expected, dtype, scale=scale(img, k), err_msg=f"{op} {mode}")


def test_boundaries_and_batches() -> None:
    """Boundary extension (the engine's) and a shared kernel over a batch axis."""
    rng = np.random.default_rng(14)
    k = outer(rng.standard_normal(5), rng.standard_normal(4))
    img = rng.standard_normal((15, 18))
    for boundary in ("symm", "wrap", "fill"):
        expected = scipy_signal.convolve2d(img, k, "same", boundary=boundary, fillvalue=0.5)
        out = run_signal(img, k, "same", boundary=boundary, fillvalue=0.5)
        assert_close_dtype(out, expected, np.float64, scale=scale(img, k), err_msg=boundary)
    stack = rng.standard_normal((3, 15, 18))
    out = run_signal(stack, k[None], "same", axes=(1, 2))
    expected = np.stack([scipy_signal.convolve2d(s, k, "same") for s in stack])
    assert_close_dtype(out, expected, np.float64, scale=scale(stack, k))


def test_per_slice_kernels_depthwise_signal() -> None:
    """One kernel per batch slice (core G > 1), different ranks per slice."""
    rng = np.random.default_rng(15)
    kernels = np.stack([gaussian(1.0), np.outer(rng.standard_normal(7), rng.standard_normal(7)),
                        rank_r(rng, (7, 7), 2)])
    stack = rng.standard_normal((3, 20, 22))
    out = run_signal(stack, kernels, "same", axes=(1, 2))
    expected = np.stack([scipy_signal.convolve2d(s, k, "same") for s, k in zip(stack, kernels)])
    assert_close_dtype(out, expected, np.float64, scale=scale(stack, kernels))


def test_nonfinite_inputs_match_direct() -> None:
    rng = np.random.default_rng(16)
    img = rng.standard_normal((30, 30))
    img[5, 7] = np.nan
    img[20, 3] = np.inf
    k = gaussian(1.5)
    out = run_signal(img, k, "same")
    expected = run_signal(img, k, "same", algo=direct)
    assert_close_dtype(out, expected, np.float64, scale=scale(np.nan_to_num(img, posinf=0), k))
    assert np.isnan(out).sum() == np.isnan(expected).sum() > 0


def test_zero_kernel_gives_zeros() -> None:
    img = np.random.default_rng(26).standard_normal((20, 20))
    out = run_signal(img, np.zeros((5, 5)), "same")
    np.testing.assert_array_equal(out, np.zeros((20, 20)))
    kernels = np.stack([np.zeros((5, 5)), gaussian(1.0)[1:-1, 1:-1]])
    stack = np.stack([img, img])
    out = run_signal(stack, kernels, "same", axes=(1, 2))
    np.testing.assert_array_equal(out[0], 0)
    assert_close_dtype(out[1], scipy_signal.convolve2d(img, kernels[1], "same"), np.float64,
                       scale=scale(img, kernels[1]))


@pytest.mark.parametrize("dtype, flip", [("float64", True), ("float32", False),
                                         ("complex128", True), ("complex128", False)])
def test_one_decomposition_per_kernel(monkeypatch, dtype: str, flip: bool) -> None:
    """analyze_kernel's decomposition is reused by run(), although the engine
    reverses (convolution) or conjugates (complex correlation) the kernel."""
    calls = []
    real = sep.kernel_rank
    monkeypatch.setattr(sep, "kernel_rank", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(sep, "_TERMS_CACHE", {})
    rng = np.random.default_rng(27)
    u, v = rng.standard_normal(7), rng.standard_normal(6)
    if dtype.startswith("complex"):
        u, v = u + 1j * rng.standard_normal(7), v - 1j * rng.standard_normal(6)
    k = np.outer(u, v).astype(dtype)
    img = rng.standard_normal((40, 30)).astype(dtype)
    problem = signal_problem(img, k, "same", flip=flip)
    assert sep.analyze_kernel(k, problem.compute_dtype, spatial_axes=(0, 1)).rank == 1
    x, w = problem.layout.to_core(img, k)
    out = problem.layout.from_core(engine.execute(problem, x, w, algorithm))
    out2 = problem.layout.from_core(engine.execute(problem, x, w, algorithm))
    assert len(calls) == 1
    fn = scipy_signal.convolve if flip else scipy_signal.correlate
    expected = fn(img, k, "same", method="direct")
    assert_close_dtype(out, expected, dtype, scale=scale(img, k))
    np.testing.assert_array_equal(out, out2)


# ---------------------------------------------------------------------------
# results against an explicit loop: the CNN family (stride, dilation, padding, groups)


@pytest.mark.parametrize("stride, padding, dilation", [
    (1, 0, 1), (2, 0, 1), (1, 3, 1), (1, 0, 2), (2, 2, 3), ((3, 1), (1, 4), (1, 2)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stride_dilation_padding(stride, padding, dilation, dtype: str) -> None:
    rng = np.random.default_rng(17)
    k = outer(rng.standard_normal(5), rng.standard_normal(4)).astype(dtype)
    x = rng.standard_normal((2, 1, 29, 26)).astype(dtype)
    w = k[None, None]
    out = run_nn(x, w, stride=stride, padding=padding, dilation=dilation)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)   # noqa: E731
    expected = loop_nn(x, w, pair(stride), pair(padding), pair(dilation), 1)
    assert_close_dtype(out, expected.astype(dtype), dtype, scale=scale(x, w))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_layer(dtype: str) -> None:
    """groups = channels (Cin = Cout = 1 per group), one separable kernel per channel."""
    rng = np.random.default_rng(18)
    c = 5
    w = np.stack([outer(rng.standard_normal(5), rng.standard_normal(5)) for _ in range(c)])[:, None]
    w = w.astype(dtype)
    x = rng.standard_normal((3, c, 21, 19)).astype(dtype)
    out = run_nn(x, w, stride=(1, 2), padding=2, dilation=1, groups=c)
    expected = loop_nn(x, w, (1, 2), (2, 2), (1, 1), c)
    assert_close_dtype(out, expected.astype(dtype), dtype, scale=scale(x, w))
    out = run_nn(x, w, padding="same", groups=c, padding_mode="reflect")
    xr = np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)], mode="reflect")
    expected = loop_nn(xr, w, (1, 1), (0, 0), (1, 1), c)
    assert_close_dtype(out, expected.astype(dtype), dtype, scale=scale(x, w))


def test_channels_are_summed() -> None:
    rng = np.random.default_rng(19)
    w = np.stack([np.stack([outer(rng.standard_normal(4), rng.standard_normal(6)) for _ in range(2)])
                  for _ in range(3)])                     # (Cout 3, Cin 2, 4, 6), all rank 1
    x = rng.standard_normal((2, 2, 14, 17))
    out = run_nn(x, w, stride=2, padding=1, dilation=(2, 1))
    expected = loop_nn(x, w, (2, 2), (1, 1), (2, 1), 1)
    assert_close_dtype(out, expected, np.float64, scale=scale(x, w) * 2)


def test_conv3d_rank_one_strided() -> None:
    rng = np.random.default_rng(20)
    w = outer(*[rng.standard_normal(3) for _ in range(3)])[None, None]
    x = rng.standard_normal((1, 1, 9, 10, 11))
    out = run_nn(x, w, stride=(1, 2, 3), padding=(1, 0, 2), dilation=(2, 1, 1))
    expected = loop_nn(x, w, (1, 2, 3), (1, 0, 2), (2, 1, 1), 1)
    assert_close_dtype(out, expected, np.float64, scale=scale(x, w))


# ---------------------------------------------------------------------------
# the 1-D pass itself


@pytest.mark.parametrize("shape, axis", [((70, 3), 0), ((3, 70), 1), ((100, 70), 1), ((2, 70, 5), 1),
                                         ((70,), 0), ((1, 40), 1), ((5, 33, 1), 1)])
@pytest.mark.parametrize("k, stride, dilation", [(1, 1, 1), (1, 3, 1), (4, 1, 1), (7, 2, 1),
                                                 (5, 1, 3), (3, 4, 2), (70, 1, 1)])
def test_correlate_axis_against_loop(shape, axis, k, stride, dilation) -> None:
    rng = np.random.default_rng(21)
    y = rng.standard_normal(shape)
    f = rng.standard_normal(k)
    n = shape[axis]
    extent = (k - 1) * dilation + 1
    n_out = (n - extent) // stride + 1 if n >= extent else 0
    moved = np.moveaxis(y, axis, -1)
    expected = np.zeros(moved.shape[:-1] + (n_out,))
    for i in range(n_out):
        expected[..., i] = moved[..., i * stride: i * stride + extent: dilation] @ f
    expected = np.moveaxis(expected, -1, axis)
    out = sep.correlate_axis(y, f, axis, stride, dilation)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_correlate_axis_block_boundaries() -> None:
    """Output counts around multiples of the block size, both product layouts."""
    rng = np.random.default_rng(22)
    f = rng.standard_normal(6)
    for n_out in (1, 31, 32, 33, 64, 65, 100):
        for shape_pre in ((), (3,), (80,)):
            y = rng.standard_normal(shape_pre + (n_out + 5,))
            expected = np.stack([y[..., i:i + 6] @ f for i in range(n_out)], axis=-1)
            np.testing.assert_allclose(sep.correlate_axis(y, f, -1), expected, rtol=1e-12, atol=1e-12)
            y2 = np.moveaxis(y, -1, 0).copy()
            np.testing.assert_allclose(sep.correlate_axis(y2, f, 0),
                                       np.moveaxis(expected, -1, 0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("workers", [1, 3])
def test_correlate_axis_any_thread_count(monkeypatch, workers: int) -> None:
    """The products are split over the threads; the result does not depend on how."""
    monkeypatch.setattr(sep, "threads", lambda: workers)
    rng = np.random.default_rng(25)
    f = rng.standard_normal(9).astype(np.float32)
    for shape, axis in (((200, 301), 0), ((301, 200), 1), ((4, 120, 50), 1)):
        y = rng.standard_normal(shape).astype(np.float32)
        moved = np.moveaxis(y.astype(float), axis, -1)
        expected = np.stack([moved[..., i:i + 9] @ f for i in range(moved.shape[-1] - 8)], axis=-1)
        out = sep.correlate_axis(y, f, axis)
        np.testing.assert_allclose(out, np.moveaxis(expected, -1, axis), rtol=1e-5, atol=1e-5)


def test_products_stay_small() -> None:
    """Every BLAS product stays below PRODUCT_MACS (so BLAS never splits it
    over threads that must meet), except when one block row is already larger."""
    for k, stride, dilation, n_out, pre, post in [(5, 1, 1, 1024, 1, 1024), (81, 1, 1, 1024, 1, 1104),
                                                  (41, 1, 1, 1024, 1064, 1), (7, 2, 3, 100, 4, 640),
                                                  (3, 1, 1, 50, 2000, 1)]:
        lay = sep.pass_layout(k, stride, dilation, n_out, pre, post)
        assert lay.width == (lay.rows - 1) * stride + (k - 1) * dilation + 1
        assert lay.blocks * lay.rows + lay.rest == n_out
        assert lay.rows * lay.width * lay.chunk <= sep.PRODUCT_MACS


def test_toeplitz_block() -> None:
    t = sep.toeplitz_block(np.array([1.0, 2.0, 3.0]), rows=3, stride=2, dilation=2)
    expected = np.array([[1, 0, 2, 0, 3, 0, 0, 0, 0],
                         [0, 0, 1, 0, 2, 0, 3, 0, 0],
                         [0, 0, 0, 0, 1, 0, 2, 0, 3]], dtype=float)
    np.testing.assert_array_equal(t, expected)


# ---------------------------------------------------------------------------
# once registered: the public API and the planner


registered = pytest.mark.skipif("separable" not in ALGORITHMS,
                                reason="the separable algorithm is not registered yet")


@registered
def test_public_api_method_separable() -> None:
    import convolab

    rng = np.random.default_rng(23)
    img = rng.standard_normal((64, 80)).astype(np.float32)
    g = gaussian(2.0).astype(np.float32)
    out = convolab.signal.convolve2d(img, g, "same", method="separable")
    assert_close_dtype(out, scipy_signal.convolve2d(img, g, "same"), np.float32, scale=scale(img, g))


@registered
@pytest.mark.skipif(not HAS_FIELD, reason="ConvProblem has no kernel_rank field yet")
def test_planner_uses_the_rank() -> None:
    import convolab

    img = np.zeros((1024, 1024), np.float32)
    p = convolab.plan(img, gaussian(5.0).astype(np.float32), "same")
    assert p.problem.kernel_rank == 1
    assert p.method == "separable", str(p)
    noise = np.random.default_rng(24).standard_normal((31, 31)).astype(np.float32)
    p = convolab.plan(img, noise, "same")
    assert p.problem.kernel_rank == 31
    assert p.method != "separable"
    assert any(name == "separable" and "rank 31" in why for name, why in p.rejected)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork()")
def test_thread_pool_survives_fork() -> None:
    """A child forked after the pool exists makes its own (an inherited pool has no threads)."""
    import multiprocessing

    rng = np.random.default_rng(28)
    y = rng.standard_normal((300, 400))
    f = rng.standard_normal(7)
    expected = sep.correlate_axis(y, f, 0)             # creates the pool here
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(sep.correlate_axis, (y, f, 0)).get(timeout=60)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
