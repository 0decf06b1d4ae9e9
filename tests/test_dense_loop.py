"""The compiled dense loop (direct method, 2-D layers with channels, any
stride, dilation and groups): against an oracle built from numpy.pad and
the sum over each window written out, and against torch; serial and
parallel; NaN and infinities as in the direct sum."""

import numpy as np
import pytest

from convolab.algorithms import _compiled, direct
from convolab.algorithms._base import execution
from convolab.nn import functional as F
from convolab.problem import from_nn

pytestmark = pytest.mark.skipif(not _compiled.available(), reason="numba is not installed")


def _oracle(x, w, stride, padding, dilation, groups):
    """Cross-correlation of ``x (N, G*C, H, W)`` with ``w (G*O, C, KH, KW)``
    from its definition, in float64: zero-extend with numpy.pad, then for
    each output position sum the window's products."""
    (s0, s1), (p0, p1), (d0, d1) = stride, padding, dilation
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p0, p0), (p1, p1)))
    n, gc, hp, wp = xp.shape
    go, c, kh, kw = w.shape
    o = go // groups
    h_out = (hp - d0 * (kh - 1) - 1) // s0 + 1
    w_out = (wp - d1 * (kw - 1) - 1) // s1 + 1
    out = np.zeros((n, go, h_out, w_out))
    wd = w.astype(np.float64)
    with np.errstate(invalid="ignore"):          # inf * 0 is NaN, as it should be
        _sum_windows(xp, wd, out, stride, dilation, groups)
    return out


def _sum_windows(xp, wd, out, stride, dilation, groups):
    (s0, s1), (d0, d1) = stride, dilation
    c, kh, kw = wd.shape[1:]
    o = wd.shape[0] // groups
    h_out, w_out = out.shape[2:]
    for g in range(groups):
        xs = xp[:, g * c:(g + 1) * c]
        for i in range(h_out):
            for j in range(w_out):
                window = xs[:, :, i * s0:i * s0 + d0 * (kh - 1) + 1:d0,
                            j * s1:j * s1 + d1 * (kw - 1) + 1:d1]          # (N, C, KH, KW)
                out[:, g * o:(g + 1) * o, i, j] = np.tensordot(window, wd[g * o:(g + 1) * o],
                                                               axes=([1, 2, 3], [1, 2, 3]))


LAYERS = [
    # (N, C_in, C_out, H, W, k, stride, padding, dilation, groups)
    (2, 3, 64, 30, 29, 7, 2, 3, 1, 1),          # the stem's shape, small
    (1, 3, 6, 17, 23, 7, 2, 3, 1, 1),           # output channels not a multiple of four
    (2, 5, 7, 16, 21, 3, 1, 1, 1, 1),           # stride 1, 45 taps
    (1, 2, 5, 19, 23, (3, 2), (3, 1), (0, 2), (2, 3), 1),
    (2, 8, 9, 20, 18, 5, 2, 4, 3, 2),           # groups, dilation, wide padding
    (1, 1, 4, 12, 12, 3, 2, 0, 1, 1),           # one input channel
    (1, 4, 1, 12, 13, 3, 2, 1, 1, 1),           # one output channel
    (3, 2, 8, 9, 40, (1, 5), (1, 3), (0, 2), 1, 1),
    (1, 3, 4, 5, 6, 7, 1, 3, 1, 1),             # kernel larger than the image
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _random_layer(layer, dtype, seed):
    """Random ``x (N, G*C, H, W)`` and ``w (G*O, C, KH, KW)`` for a row of LAYERS."""
    n, cin, cout, h, wd, k, *_, groups = layer
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin * groups, h, wd)).astype(dtype)
    w = rng.standard_normal((cout * groups, cin, *_pair(k))).astype(dtype)
    return x, w


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layer", LAYERS)
def test_dense_layers_match_the_definition(layer, dtype, workers):
    n, cin, cout, h, wd, k, stride, padding, dilation, groups = layer
    x, w = _random_layer(layer, dtype, h * wd + cout)
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=2, stride=stride, padding=padding,
                      dilation=dilation, groups=groups)
    assert direct._uses_dense(problem)
    expected = _oracle(x, w, _pair(stride), _pair(padding), _pair(dilation), groups)
    with execution(workers=workers):        # 1: the serial loop; 2: the parallel one
        got = F.conv2d(x, w, None, stride, padding, dilation, groups, method="direct")
    assert got.dtype == x.dtype and got.shape == expected.shape
    tol = 2e-6 if dtype == "float32" else 1e-13
    assert np.abs(got - expected).max() <= tol * np.abs(expected).max()


# layers wide enough for channel tiles (output channels in the vector lanes)
CHANNEL_LAYERS = [
    # (N, C_in, C_out, H, W, k, stride, padding, dilation, groups)
    (2, 16, 64, 19, 37, 3, 1, 1, 1, 1),         # whole blocks of channels and columns
    (1, 20, 64, 9, 13, 3, 1, 1, 1, 1),          # a partial block of channels, narrow rows
    (2, 3, 60, 15, 22, 5, 2, 2, 1, 1),          # output channels zero-extended, stride 2
    (1, 8, 64, 17, 21, (3, 2), (1, 2), (2, 0), (2, 3), 2),
    (1, 32, 64, 40, 40, 3, 1, 0, 1, 1),         # 'valid': a shorter last band
    (3, 16, 64, 10, 18, 1, 1, 0, 1, 1),         # 1x1
]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layer", CHANNEL_LAYERS)
def test_channel_tiles_match_the_definition(layer, dtype, workers):
    from convolab.algorithms._simd import VECTOR_BYTES

    n, cin, cout, h, wd, k, stride, padding, dilation, groups = layer
    kh, kw = _pair(k)
    # only machines with AVX-512 take channel tiles; elsewhere this checks the other tiles
    assert _compiled.channel_tiles(cout, np.dtype(dtype)) == (VECTOR_BYTES == 64)
    x, w = _random_layer(layer, dtype, h * wd + cin)
    expected = _oracle(x, w, _pair(stride), _pair(padding), _pair(dilation), groups)
    x_nchw, w_ = x.reshape(n, groups, cin, h, wd), w.reshape(groups, cout, cin, kh, kw)
    (s0, s1), (p0, p1), (d0, d1) = _pair(stride), _pair(padding), _pair(dilation)
    shape = (n, groups, cout) + expected.shape[2:]
    with execution(workers=workers):        # 1: the serial loop; 2: the parallel one
        got = _compiled.correlate_dense(x_nchw, w_, (s0, s1), (d0, d1), ((p0, p0), (p1, p1)),
                                        shape).reshape(expected.shape)
    tol = 2e-6 if dtype == "float32" else 1e-13
    assert np.abs(got - expected).max() <= tol * np.abs(expected).max()


def test_channel_tiles_only_for_wide_layers():
    # zero-extending the output channels to whole tiles may add at most an eighth
    f32 = np.dtype("float32")
    block = _compiled.tile_width(4)
    assert _compiled.tile_width(8) == block // 2
    assert not _compiled.channel_tiles(block // 2, f32)
    assert not _compiled.channel_tiles(block * 7 // 8 - 1, f32)


def test_nan_reaches_exactly_the_windows_that_hold_it_in_channel_tiles():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 16, 21, 22)).astype(np.float32)
    x[0, 3, 10, 7] = np.nan
    x[0, 9, 0, 21] = np.inf
    w = rng.standard_normal((64, 16, 3, 3)).astype(np.float32)
    expected = _oracle(x, w, (1, 1), (1, 1), (1, 1), 1)
    got = F.conv2d(x, w, None, 1, 1, method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(got).any() and np.isfinite(got).any()
    finite = np.isfinite(expected)
    assert np.abs(got[finite] - expected[finite]).max() <= 2e-6 * np.abs(expected[finite]).max()


def test_the_stem_at_full_size_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 224, 224), dtype=np.float32)
    w = rng.standard_normal((64, 3, 7, 7), dtype=np.float32)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                          None, 2, 3).numpy()
    got = F.conv2d(x, w, None, 2, 3, method="direct")
    assert np.abs(got - expected).max() <= 1e-6 * np.abs(expected).max()



def test_long_tap_sums_stay_within_float32_accuracy():
    # 1152 taps a channel: one float32 register summing them all drifted to
    # 1.6e-6 of the output's magnitude; the loop sums in chunks of taps
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 128, 28, 28), dtype=np.float32)
    w = (rng.standard_normal((128, 128, 3, 3)) / 34).astype(np.float32)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                          None, 1, 1).numpy()
    got = F.conv2d(x, w, None, 1, 1, method="direct")
    assert np.abs(got - expected).max() <= 1e-6 * np.abs(expected).max()

def test_nan_reaches_exactly_the_windows_that_hold_it():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 3, 21, 22))
    x[0, 1, 10, 7] = np.nan
    x[0, 2, 0, 21] = np.inf
    w = rng.standard_normal((5, 3, 5, 5))
    expected = _oracle(x, w, (2, 2), (2, 2), (1, 1), 1)
    got = F.conv2d(x, w, None, 2, 2, method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(got).any() and np.isfinite(got).any()
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12, atol=1e-12)


def test_an_infinite_weight_makes_the_padding_zeros_nan():
    # 0 * inf is NaN in the direct sum: the zeros at the edges count as samples
    x = np.ones((1, 2, 8, 8))
    w = np.ones((4, 2, 3, 3))
    w[1, 0, 0, 0] = np.inf
    expected = _oracle(x, w, (1, 1), (1, 1), (1, 1), 1)
    got = F.conv2d(x, w, None, 1, 1, method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(got[0, 1, 0]).all() and np.isinf(got[0, 1, 1:, 1:]).all()
    np.testing.assert_array_equal(got[0, [0, 2, 3]], expected[0, [0, 2, 3]])


def test_integer_and_complex_layers_keep_the_numpy_taps():
    for dtype in (np.int32, np.complex128):
        problem = from_nn((1, 3, 8, 8), (4, 3, 3, 3), np.dtype(dtype), np.dtype(dtype), nd=2,
                          stride=2, padding=1)
        assert not direct._uses_dense(problem)


def test_the_planner_takes_the_dense_loop_for_the_stem_and_not_for_1x1_layers():
    from convolab import _calibration

    _calibration.reset()
    stem = from_nn((8, 3, 224, 224), (64, 3, 7, 7), np.dtype("float32"), np.dtype("float32"), nd=2,
                   stride=2, padding=3)
    # a 1x1 layer's input is already im2col's matrix; the dense loop would copy it
    wide = from_nn((8, 256, 56, 56), (64, 256, 1, 1), np.dtype("float32"), np.dtype("float32"),
                   nd=2, stride=1, padding=0)
    from convolab import planner

    assert planner.ALGORITHMS["direct"].cost(stem).seconds < planner.ALGORITHMS["im2col"].cost(stem).seconds
    assert planner.ALGORITHMS["direct"].cost(wide).seconds > planner.ALGORITHMS["im2col"].cost(wide).seconds
