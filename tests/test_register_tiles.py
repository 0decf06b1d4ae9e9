"""The compiled loops' register tiles (sums held in SIMD registers through
the kernel) against scipy.signal.correlate2d on zero-extended images: every
edge of a tile (rows not a multiple of four, columns not a multiple of the
tile, column dilation), float32 and float64, serial and parallel."""

import numpy as np
import pytest
from scipy import signal

from convolab.algorithms import _compiled
from convolab.algorithms._base import execution

pytestmark = pytest.mark.skipif(not _compiled.available(), reason="numba is not installed")


def _oracle(x, w, dilation, pad, out_shape):
    """Each image zero-extended with numpy.pad, correlated with the dilated
    kernel (zeros between its taps) by scipy, cropped to ``out_shape``."""
    d0, d1 = dilation
    kh, kw = w.shape[1:]
    dilated = np.zeros((w.shape[0], (kh - 1) * d0 + 1, (kw - 1) * d1 + 1))
    dilated[:, ::d0, ::d1] = w
    out = np.empty(out_shape)
    for b in range(x.shape[0]):
        xp = np.pad(x[b].astype(np.float64), pad)
        full = signal.correlate2d(xp, dilated[b % w.shape[0]], mode="valid")
        out[b] = full[:out_shape[1], :out_shape[2]]
    return out


# (image, kernel, dilation, padding): one tile per row, two tiles a row, a
# ragged last block of rows, column dilation, row dilation (flattened
# passes), an output narrower than the tile
PLANES = [
    ((56, 56), (13, 13), (1, 1), ((6, 6), (6, 6))),
    ((23, 100), (7, 5), (1, 1), ((3, 3), (2, 2))),
    ((30, 61), (3, 4), (1, 2), ((1, 0), (0, 3))),
    ((40, 70), (5, 5), (2, 1), ((4, 4), (2, 2))),
    ((9, 40), (9, 9), (1, 1), ((4, 4), (4, 4))),
]


@pytest.mark.parametrize("case", PLANES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("workers", [1, 2])
def test_batched_planes_match_scipy(case, dtype, workers):
    (h, wd), (kh, kw) = case[:2]
    _check(_compiled.correlate_2d_planes, case, (6, 3), dtype, workers, seed=h * wd + kh)


def _check(loop, case, batch_and_kernels, dtype, workers, seed):
    """``loop`` on random images against :func:`_oracle`."""
    (h, wd), (kh, kw), dilation, pad = case
    batch, kernels = batch_and_kernels
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, h, wd)).astype(dtype)
    w = rng.standard_normal((kernels, kh, kw)).astype(dtype)
    hp, wp = h + sum(pad[0]), wd + sum(pad[1])
    out_shape = (batch, hp - (kh - 1) * dilation[0], wp - (kw - 1) * dilation[1])
    with execution(workers=workers):
        got = loop(x, w, dilation, pad, out_shape)
    expected = _oracle(x, w, dilation, pad, out_shape)
    tol = 1e-6 if dtype == "float32" else 1e-14
    assert np.abs(got - expected).max() <= tol * np.abs(expected).max()


def test_the_tiles_take_the_cases_they_are_meant_for():
    # which cases above run tiled: the test would otherwise pass on the flattened passes alone
    tiled = [_compiled._tiled_planes(d, w + sum(p[1]), w + sum(p[1]) - (k[1] - 1) * d[1], np.float32)
             for (h, w), k, d, p in PLANES]
    assert tiled[:3] == [True, True, True] and tiled[3] is False
    assert not _compiled._tiled_planes((1, 1), 68, 56, np.complex64)


def test_nan_reaches_exactly_the_windows_that_hold_it():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 56, 56)).astype(np.float32)
    x[1, 20, 30] = np.nan
    w = rng.standard_normal((1, 7, 7)).astype(np.float32)
    got = _compiled.correlate_2d_planes(x, w, (1, 1), ((3, 3), (3, 3)), (4, 56, 56))
    expected = np.zeros((56, 56), bool)
    expected[17:24, 27:34] = True
    np.testing.assert_array_equal(np.isnan(got[1]), expected)
    assert not np.isnan(got[[0, 2, 3]]).any()


# large images, read in place (the loop supplies the zeros): tiles over the
# columns whose windows lie inside the image, passes for the rest
FRAMED = [
    ((70, 150), (5, 5), (1, 1), ((2, 2), (2, 2))),      # 'same'
    ((45, 203), (11, 7), (1, 2), ((0, 0), (0, 0))),     # 'valid', column dilation
    ((38, 131), (4, 6), (1, 1), ((3, 1), (5, 0))),      # uneven padding
    ((50, 140), (3, 3), (2, 1), ((2, 2), (1, 1))),      # row dilation: passes only
]


@pytest.mark.parametrize("case", FRAMED)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("workers", [1, 2])
def test_framed_images_match_scipy(case, dtype, workers):
    (h, wd), (kh, kw) = case[:2]
    _check(_compiled.correlate_2d_framed, case, (2, 2), dtype, workers, seed=h + wd + kw)
