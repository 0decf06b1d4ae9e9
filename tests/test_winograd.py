"""Winograd F(2x2,3x3) and F(4x4,3x3) against independent oracles.

Oracles: ``torch.nn.functional.conv2d`` in float64 (random CNN layers: batch,
groups including depthwise, channels, odd and even sizes, padding), and
``scipy.signal`` for one channel (so part of the file runs without torch).
The float64 reference is computed from the inputs as the algorithm sees them
(already rounded to float32 for float32 problems), so the measured error is
the algorithm's own.

The documented error bound (docs/winograd.md) is asserted here:

    max |winograd - reference| / (max|x| * max|w| * Cin * 9)  <  BOUND[dtype, m]

The bounds are the largest values seen over 1500 random small layers
(uniform, normal and non-negative data spanning 10^-3..10^3), times about 6.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.signal

import convolab
from convolab import engine
from convolab.algorithms import winograd as wmod
from convolab.algorithms.winograd import Winograd, choose_variant, run_variant
from convolab.problem import from_nn, from_signal

#: (dtype, m) -> bound on the normalized error (see the module docstring);
#: largest seen: F(2,3) 6.8e-8 / 1.7e-16, F(4,3) 3.1e-6 / 2.8e-15
BOUND = {
    ("float32", 2): 4e-7,
    ("float32", 4): 2e-5,
    ("float64", 2): 1e-15,
    ("float64", 4): 2e-14,
}

#: relative error max|err| / max|reference| on CNN-like float32 layers
#: (He-initialized weights, ReLU activations); docs/winograd.md gives the
#: measured medians and maxima (max seen: F(2,3) 6.1e-7, F(4,3) 1.2e-5)
REL_BOUND = {2: 3e-6, 4: 6e-5}


# ---------------------------------------------------------------------------
# helpers

@dataclasses.dataclass(frozen=True)
class Layer:
    n: int
    groups: int
    cin: int          # per group
    cout: int         # per group
    h: int
    w: int
    pad: int
    batched: bool = True

    @property
    def id(self) -> str:
        tag = "" if self.batched else "-unbatched"
        return (f"n{self.n}-g{self.groups}-{self.cin}to{self.cout}-{self.h}x{self.w}"
                f"-pad{self.pad}{tag}")


def random_layers(count: int, seed: int) -> list[Layer]:
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(count):
        groups = int(rng.choice([1, 1, 2, 3]))
        layers.append(Layer(n=int(rng.integers(1, 4)), groups=groups,
                            cin=int(rng.integers(1, 6)), cout=int(rng.integers(1, 6)),
                            h=int(rng.integers(3, 18)), w=int(rng.integers(3, 18)),
                            pad=int(rng.integers(0, 3))))
    return layers


LAYERS = [
    Layer(2, 1, 3, 4, 9, 8, 1),          # odd x even
    Layer(1, 1, 1, 1, 3, 3, 0),          # one output
    Layer(1, 1, 2, 3, 4, 4, 0),          # 2x2 output: one F(2,3) tile, part of one F(4,3) tile
    Layer(3, 1, 5, 2, 12, 12, 1),        # whole F(4,3) tiles
    Layer(2, 4, 1, 1, 10, 7, 1),         # depthwise
    Layer(1, 6, 1, 2, 11, 9, 2),         # depthwise with a channel multiplier
    Layer(2, 3, 2, 3, 6, 13, 2),         # groups, wide padding
    Layer(1, 1, 3, 3, 16, 15, 1, batched=False),
] + random_layers(16, seed=1)


def make_inputs(layer: Layer, dtype, rng: np.random.Generator, *, flip: bool = False):
    """torch-layout x, w (rounded to ``dtype``), the problem and its core operands."""
    c_in, c_out = layer.groups * layer.cin, layer.groups * layer.cout
    x = rng.standard_normal((layer.n, c_in, layer.h, layer.w)).astype(dtype)
    if not layer.batched:
        x = x[0]
    w = rng.standard_normal((c_out, layer.cin, 3, 3)).astype(dtype)
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=2, padding=layer.pad,
                      groups=layer.groups, flip=flip)
    xc, wc = problem.layout.to_core(x, w)
    return x, w, problem, xc, wc


def torch_reference(x: np.ndarray, w: np.ndarray, layer: Layer) -> np.ndarray:
    torch = pytest.importorskip("torch")
    xt = torch.from_numpy(np.asarray(x, dtype=np.float64))
    wt = torch.from_numpy(np.asarray(w, dtype=np.float64))
    return torch.nn.functional.conv2d(xt, wt, padding=layer.pad, groups=layer.groups).numpy()


def normalized_error(out: np.ndarray, ref: np.ndarray, x: np.ndarray, w: np.ndarray,
                     cin: int) -> float:
    scale = float(np.abs(x).max()) * float(np.abs(w).max()) * cin * 9
    err = float(np.abs(out.astype(np.float64) - ref).max())
    return err / scale if scale else err


def run(problem, xc, wc, m):
    """Through the engine (casts, non-finite repair), with variant ``m``."""
    return problem.layout.from_core(engine.execute(problem, xc, wc, Winograd(tile=m)))


# ---------------------------------------------------------------------------
# the transforms


@pytest.mark.parametrize("m", [2, 4])
def test_one_dimensional_transform_is_a_correlation(m):
    """A^T [(G g) * (B^T d)] == valid correlation of d with g, (m+2) products for m outputs."""
    bt, gm, at = wmod.MATRICES[m]
    rng = np.random.default_rng(m)
    for _ in range(20):
        d, g = rng.standard_normal(m + 2), rng.standard_normal(3)
        np.testing.assert_allclose(at @ ((gm @ g) * (bt @ d)), np.correlate(d, g, "valid"),
                                   rtol=1e-12, atol=1e-12)
    assert bt.shape == (m + 2, m + 2) and gm.shape == (m + 2, 3) and at.shape == (m, m + 2)


@pytest.mark.parametrize("m", [2, 4])
def test_two_dimensional_tile(m):
    """Y = A^T [(G g G^T) * (B^T d B)] A is the valid 2-D correlation of one tile."""
    bt, gm, at = wmod.MATRICES[m]
    rng = np.random.default_rng(10 + m)
    d, g = rng.standard_normal((m + 2, m + 2)), rng.standard_normal((3, 3))
    y = at @ ((gm @ g @ gm.T) * (bt @ d @ bt.T)) @ at.T
    np.testing.assert_allclose(y, scipy.signal.correlate2d(d, g, mode="valid"), rtol=1e-12, atol=1e-12)
    # multiplications per tile: (m+2)^2 instead of 9 m^2
    assert ((m + 2) ** 2, 9 * m * m) == {2: (16, 36), 4: (36, 144)}[m]


# ---------------------------------------------------------------------------
# random layers against torch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m", [2, 4, None], ids=["F2", "F4", "auto"])
@pytest.mark.parametrize("layer", LAYERS, ids=[layer.id for layer in LAYERS])
def test_layers_against_torch(layer, m, dtype, rng):
    x, w, problem, xc, wc = make_inputs(layer, dtype, rng)
    ref = torch_reference(x, w, layer)
    out = run(problem, xc, wc, m)
    assert out.dtype == np.dtype(dtype) and out.shape == ref.shape
    variant = m if m is not None else choose_variant(problem)
    err = normalized_error(out, ref, x, w, layer.cin)
    assert err < BOUND[dtype, variant], f"normalized error {err:.3g} for F({variant},3)"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("layer", LAYERS[:8], ids=[layer.id for layer in LAYERS[:8]])
def test_numpy_transforms_match_compiled(layer, m, dtype, rng):
    """The numpy fallback (no numba) computes the same within the bound."""
    x, w, problem, xc, wc = make_inputs(layer, dtype, rng)
    ref = torch_reference(x, w, layer)
    core, xe, we = engine.prepare(problem, xc, wc)
    plain = problem.layout.from_core(run_variant(core, xe, we, m, compiled=False))
    assert plain.dtype == np.dtype(dtype)
    assert normalized_error(plain, ref, x, w, layer.cin) < BOUND[dtype, m]
    if wmod.numba_available():
        fast = problem.layout.from_core(run_variant(core, xe, we, m, compiled=True))
        assert normalized_error(fast, ref, x, w, layer.cin) < BOUND[dtype, m]


@pytest.mark.parametrize("m", [2, 4])
def test_chunks_of_tile_rows(m, monkeypatch, rng):
    """Large problems run in chunks of tile rows (bounded temporaries); tiny
    chunks, some spanning two images of the batch, give the same result."""
    if not wmod.numba_available():
        pytest.skip("chunks are the compiled pipeline's")
    monkeypatch.setattr(wmod, "CHUNK_BYTES", 1)
    monkeypatch.setattr(wmod, "MIN_CHUNK_TILES", 5)
    layer = Layer(3, 2, 3, 2, 13, 9, 1)
    x, w, problem, xc, wc = make_inputs(layer, "float64", rng)
    assert wmod.chunk_rows(problem, m) < problem.batch * wmod.tiles(problem, m)[0]
    out = run(problem, xc, wc, m)
    assert normalized_error(out, torch_reference(x, w, layer), x, w, layer.cin) < BOUND["float64", m]


def test_kernel_transform_blocks(monkeypatch):
    """U = (G kron G) @ W in blocks of kernels equals G g G^T kernel by kernel."""
    monkeypatch.setattr(wmod, "_KERNEL_BLOCK", 7)
    rng = np.random.default_rng(4)
    w = rng.standard_normal((2, 5, 3, 3, 3))
    for m in (2, 4):
        gm = wmod.MATRICES[m][1]
        u = wmod.kernel_transform(w, m, np.dtype(np.float64))
        expected = np.einsum("ak,gockl,bl->abgoc", gm, w, gm)
        np.testing.assert_allclose(u, expected, rtol=1e-14, atol=1e-14)
        u32 = wmod.kernel_transform(w.astype(np.float32), m, np.dtype(np.float32))
        assert u32.dtype == np.float32
        np.testing.assert_allclose(u32, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("m", [2, 4])
def test_error_bound_on_cnn_layers(m):
    """float32 on CNN-like data: He-initialized weights, ReLU activations,
    more channels.  Both the normalized and the relative error stay below the
    documented bounds."""
    rng = np.random.default_rng(2024 + m)
    for _ in range(6):
        layer = Layer(n=int(rng.integers(1, 3)), groups=1, cin=int(rng.choice([8, 16, 32, 64])),
                      cout=int(rng.choice([8, 16, 32])), h=int(rng.integers(6, 30)),
                      w=int(rng.integers(6, 30)), pad=1)
        x = np.maximum(rng.standard_normal((layer.n, layer.cin, layer.h, layer.w)), 0).astype(np.float32)
        w = (rng.standard_normal((layer.cout, layer.cin, 3, 3)) * np.sqrt(2 / (9 * layer.cin))).astype(np.float32)
        problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=2, padding=1)
        xc, wc = problem.layout.to_core(x, w)
        ref = torch_reference(x, w, layer)
        out = run(problem, xc, wc, m)
        assert normalized_error(out, ref, x, w, layer.cin) < BOUND["float32", m]
        rel = float(np.abs(out - ref).max() / np.abs(ref).max())
        assert rel < REL_BOUND[m], f"relative error {rel:.3g} for F({m},3) on {layer.id}"


def test_float64_is_much_more_accurate_than_float32(rng):
    layer = Layer(2, 1, 16, 8, 20, 20, 1)
    errors = {}
    for dtype in ("float32", "float64"):
        x, w, problem, xc, wc = make_inputs(layer, dtype, np.random.default_rng(5))
        ref = torch_reference(x, w, layer)
        errors[dtype] = normalized_error(run(problem, xc, wc, 4), ref, x, w, layer.cin)
    assert errors["float64"] < errors["float32"] * 1e-6


# ---------------------------------------------------------------------------
# without torch: one channel against scipy.signal, through the signal constructor


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("shape", [(3, 3), (7, 10), (16, 13), (33, 8)])
def test_single_channel_against_scipy(shape, m):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    x = rng.uniform(-1, 1, shape)
    w = rng.uniform(-1, 1, (3, 3))
    for func, flip in (("correlate2d", False), ("convolve2d", True)):
        for mode in ("valid", "same", "full"):
            problem = from_signal(x, w, mode=mode, flip=flip, out_dtype=np.dtype(np.float64),
                                  same_rule="correlate2d" if func == "correlate2d" else "scipy")
            xc, wc = problem.layout.to_core(x, w)
            out = problem.layout.from_core(engine.execute(problem, xc, wc, Winograd(tile=m)))
            expected = getattr(scipy.signal, func)(x, w, mode=mode)
            np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13 * 9)


@pytest.mark.parametrize("boundary", ["symm", "wrap", "fill"])
def test_boundaries_are_the_engines(boundary):
    """Non-zero boundaries are extended by the engine; winograd sees zero padding only."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((12, 9))
    w = rng.standard_normal((3, 3))
    problem = from_signal(x, w, mode="same", flip=True, out_dtype=np.dtype(np.float64),
                          boundary=boundary, fillvalue=0.5 if boundary == "fill" else 0)
    xc, wc = problem.layout.to_core(x, w)
    out = problem.layout.from_core(engine.execute(problem, xc, wc, Winograd()))
    expected = scipy.signal.convolve2d(x, w, mode="same", boundary=boundary,
                                       fillvalue=0.5 if boundary == "fill" else 0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# what supports() refuses, and why


def _nn_problem(x_shape, w_shape, dtype="float32", **kw):
    nd = len(w_shape) - 2
    return from_nn(x_shape, w_shape, np.dtype(dtype), np.dtype(dtype), nd=nd, **kw)


@pytest.mark.parametrize("x_shape, w_shape, kw, words", [
    ((1, 2, 9, 9), (3, 2, 5, 5), {}, ["3x3", "got 5x5"]),
    ((1, 2, 9, 9), (3, 2, 3, 5), {}, ["3x3", "got 3x5"]),
    ((1, 2, 9, 9), (3, 2, 3, 3), {"stride": 2}, ["stride 1", "got stride 2"]),
    ((1, 2, 9, 9), (3, 2, 3, 3), {"stride": (1, 2)}, ["got stride 1x2"]),
    ((1, 2, 9, 9), (3, 2, 3, 3), {"dilation": 2}, ["dilation 1", "got dilation 2"]),
    ((1, 2, 9), (3, 2, 3), {}, ["2-D", "got 1-D"]),
    ((1, 2, 9, 9, 9), (3, 2, 3, 3, 3), {}, ["2-D", "got 3-D"]),
])
def test_supports_reasons(x_shape, w_shape, kw, words):
    reason = wmod.algorithm.supports(_nn_problem(x_shape, w_shape, **kw))
    assert reason is not None and reason.startswith("winograd: ")
    for word in words:
        assert word in reason, reason


@pytest.mark.parametrize("dtype, word", [("int32", "integer"), ("uint8", "integer"),
                                         ("bool", "integer"), ("complex128", "complex"),
                                         ("complex64", "complex")])
def test_supports_refuses_integer_and_complex(dtype, word):
    reason = wmod.algorithm.supports(_nn_problem((1, 2, 9, 9), (3, 2, 3, 3), dtype))
    assert reason is not None and word in reason, reason


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_supports_refuses_extended_precision():
    reason = wmod.algorithm.supports(_nn_problem((1, 2, 9, 9), (3, 2, 3, 3), "longdouble"))
    assert reason is not None and "float" in reason


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_supports_3x3_stride_1(dtype):
    assert wmod.algorithm.supports(_nn_problem((2, 4, 5, 6), (2, 2, 3, 3), dtype, groups=2,
                                               padding=1)) is None


def test_run_variant_refuses_what_supports_refuses():
    problem = _nn_problem((1, 1, 9, 9), (1, 1, 5, 5))
    x = np.zeros((1, 1, 1, 9, 9), np.float32)
    with pytest.raises(ValueError, match="got 5x5"):
        run_variant(problem, x, np.zeros((1, 1, 1, 5, 5), np.float32), 2)
    ok = _nn_problem((1, 1, 9, 9), (1, 1, 3, 3))
    with pytest.raises(ValueError, match="m=3"):
        run_variant(ok, x, np.zeros((1, 1, 1, 3, 3), np.float32), 3)
    with pytest.raises(ValueError, match="tile=6"):
        Winograd(tile=6)


# ---------------------------------------------------------------------------
# the engine around it: dtypes, non-finite values, views


def test_float16_computes_in_float32(rng):
    layer = Layer(2, 1, 3, 2, 9, 9, 1)
    x, w, problem, xc, wc = make_inputs(layer, "float16", rng)
    assert problem.compute_dtype == np.float32
    out = run(problem, xc, wc, 4)
    assert out.dtype == np.float16
    ref = torch_reference(x, w, layer)
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=2e-3, atol=2e-3 * 27 * 16)


@pytest.mark.parametrize("m", [2, 4])
def test_nonfinite_inputs_match_direct(m, rng):
    """A NaN or an infinity spreads over a whole transformed tile; the engine
    recomputes the outputs that see one, so the result is the direct method's."""
    layer = Layer(1, 1, 2, 3, 14, 14, 1)
    x, w, problem, xc, wc = make_inputs(layer, "float64", rng)
    x[0, 1, 5, 6] = np.nan
    x[0, 0, 11, 2] = np.inf
    xc, wc = problem.layout.to_core(x, w)
    out = run(problem, xc, wc, m)
    ref = torch_reference(x, w, layer)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(out[finite], ref[finite], rtol=1e-12, atol=1e-12)


def test_convolution_and_noncontiguous_views(rng):
    """flip=True (the engine reverses the kernel into a view) and strided inputs."""
    big = rng.standard_normal((2, 6, 20, 22))
    x = big[:, ::2, ::2, 1::2]                      # (2, 3, 10, 11), not contiguous
    w = rng.standard_normal((3, 4, 3, 3)).transpose(1, 0, 2, 3)   # (4, 3, 3, 3) view
    layer = Layer(2, 1, 3, 4, 10, 11, 1)
    problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=2, padding=1, flip=True)
    xc, wc = problem.layout.to_core(x, w)
    out = run(problem, xc, wc, 4)
    ref = torch_reference(x, np.flip(w, (2, 3)).copy(), layer)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12 * 27)


# ---------------------------------------------------------------------------
# variant choice and cost


def test_variant_choice():
    large = _nn_problem((8, 64, 56, 56), (64, 64, 3, 3), "float64", padding=1)
    assert choose_variant(large) == 4
    assert Winograd().variant(large) == 4
    assert Winograd(tile=2).variant(large) == 2
    # float32: F(4,3)'s ~1e-5 relative error misses the 1e-6 target, so F(2,3)
    single = _nn_problem((8, 64, 56, 56), (64, 64, 3, 3), "float32", padding=1)
    assert choose_variant(single) == 2
    assert Winograd(tile=4).variant(single) == 4
    tiny = _nn_problem((1, 8, 4, 4), (8, 8, 3, 3))      # 2x2 output: one F(2,3) tile
    assert choose_variant(tiny) == 2


def test_cost():
    problem = _nn_problem((8, 64, 56, 56), (64, 64, 3, 3), padding=1)
    cost = Winograd(tile=4).cost(problem)
    assert cost.seconds > 0
    alpha, tiles = 6, 8 * 14 * 14
    # V and M in float32, whole or (compiled, in chunks of tile rows) one chunk
    whole = 2 * alpha * alpha * 64 * tiles * 4
    assert cost.bytes >= (min(whole, wmod.CHUNK_BYTES // 2) if wmod.numba_available() else whole)
    assert "F(4x4,3x3)" in cost.detail and "0.25 of direct" in cost.detail
    f2 = Winograd(tile=2).cost(problem)
    assert "0.44 of direct" in f2.detail
    assert f2.seconds > cost.seconds
    # a first layer (3 input channels) or a deep layer on a small image does not
    # pay: the transforms of the 64-channel output, or of the 512 x 512
    # kernels, cost more than the multiplications saved
    im2col = convolab.algorithms.im2col.algorithm
    if wmod.numba_available():     # the numpy transforms (fallback) are slower
        # cheaper than the built im2col matrix; the flattened im2col, which
        # copies nothing, is estimated close to it on this layer
        assert cost.seconds < im2col._built_cost(problem).seconds
        assert abs(cost.seconds / im2col.cost(problem).seconds - 1) < 0.25
    for first_or_deep in (_nn_problem((1, 3, 224, 224), (64, 3, 3, 3), padding=1),
                          _nn_problem((8, 512, 7, 7), (512, 512, 3, 3), padding=1)):
        assert wmod.algorithm.cost(first_or_deep).seconds > im2col.cost(first_or_deep).seconds


def test_interface():
    a = wmod.algorithm
    assert isinstance(a, Winograd) and a.name == "winograd" and a.exact_nonfinite is False
    assert a.tile is None


@pytest.mark.skipif("winograd" not in convolab.algorithms.ALGORITHMS,
                    reason="winograd is not registered in convolab.algorithms")
def test_method_winograd_in_conv2d(rng):
    torch = pytest.importorskip("torch")
    from convolab.nn import functional as F
    x = rng.standard_normal((2, 6, 13, 10)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out = F.conv2d(x, w, b, padding=1, groups=2, method="winograd")
    ref = torch.nn.functional.conv2d(*(torch.from_numpy(a.astype(np.float64)) for a in (x, w, b)),
                                     padding=1, groups=2).numpy()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5 * 27 * 16)
    with pytest.raises(convolab.ConvolabError, match="winograd: only 3x3"):
        F.conv2d(x, rng.standard_normal((4, 3, 5, 5)).astype(np.float32), groups=2,
                 method="winograd")
