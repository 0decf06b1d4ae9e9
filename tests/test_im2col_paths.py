"""im2col's paths against independent oracles: the 1x1 product without a
copy, and the matrix built in blocks of images or of bands of output rows.

Oracles: ``torch.nn.functional.conv{1,2,3}d`` in float64 and convolab's
reference loops.  Small block sizes force every blocking case (several
images per block, one image, bands of rows with a short last band).
"""

from __future__ import annotations

import numpy as np
import pytest

from convolab import engine
from convolab.algorithms import im2col
from convolab.algorithms.reference import algorithm as reference
from convolab.problem import from_nn

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_conv(x, w, nd, **kw):
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    return conv(torch.from_numpy(np.asarray(x, np.float64)),
                torch.from_numpy(np.asarray(w, np.float64)), **kw).numpy()


def run_im2col(x, w, nd, **kw):
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=nd, **kw)
    xc, wc = problem.layout.to_core(x, w)
    return problem.layout.from_core(engine.execute(problem, xc, wc, "im2col"))


def check(out, ref, dtype):
    assert out.dtype == np.dtype(dtype) and out.shape == ref.shape
    tol = 2e-6 if dtype == "float32" else 1e-13
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
    rng = np.random.default_rng(sum(xs) + block % 97)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    nd = len(xs) - 2
    check(run_im2col(x, w, nd, **kw), torch_conv(x, w, nd, **kw), dtype)


def test_blocked_against_reference_loops(monkeypatch):
    """Without torch as the oracle: the plain loops, a band of two rows."""
    monkeypatch.setattr(im2col, "BLOCK_BYTES", 2 * 2 * 9 * 8 * 8)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 9, 8))
    w = rng.standard_normal((3, 2, 3, 3))
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=2, padding=1)
    xc, wc = problem.layout.to_core(x, w)
    core, xe, we = engine.prepare(problem, xc, wc)
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
