"""Differential tests of :mod:`convolab.nn.functional` against ``torch.nn.functional``.

Every expected value comes from torch (``F.conv{n}d`` / ``F.conv_transpose{n}d``;
for a ``padding_mode`` other than zeros, torch's module semantics:
``F.pad(input, mode=...)`` then the convolution with ``padding=0``) or, for
extensions wider than torch's ``F.pad`` allows, from :func:`numpy.pad`
followed by torch's convolution.

The configurations are drawn from seeded generators, one test id per
configuration, so a failure names a reproducible case:
``make_config(seed)`` rebuilds it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import convolab.nn.functional as cf  # noqa: E402

# torch's own performance note for padding='same' with an even kernel
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

from helpers import METHODS, TORCH_NUMPY_PAD as NUMPY_PAD, TORCH_PADDING_MODES as PADDING_MODES  # noqa: E402
from helpers import maybe_tuple as _maybe_tuple  # noqa: E402

N_FORWARD = 300
N_METHOD = 40
N_TRANSPOSE = 120
N_INT = 40
N_FLIP = 40


# ---------------------------------------------------------------------------
# random configurations


def _torch_same_pads(kernel, dilation):
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple((t // 2, t - t // 2) for t in totals)


def make_config(seed: int, *, nd: int | None = None, padding_mode: str | None = None,
                dtype: str | None = None, batch: int | None | str = "random",
                wide_pads: bool = False) -> dict:
    """A random conv layer call: shapes, arguments and the per-axis (lo, hi) pads.

    ``wide_pads`` allows extensions wider than the input (torch's F.pad refuses
    those for reflect/circular; the oracle then uses numpy.pad).
    """
    rng = np.random.default_rng([20240, seed])
    nd = nd or int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    if batch == "random":
        batch = None if rng.random() < 0.2 else int(rng.integers(1, 4))
    if rng.random() < 0.25:                       # depthwise: groups = C_in, C_out = k C_in
        c_in = int(rng.integers(1, 5))
        groups = c_in
        c_out = c_in * int(rng.integers(1, 4))
    else:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 3))
        c_out = groups * int(rng.integers(1, 3))
    kmax = {1: 5, 2: 3, 3: 3}[nd]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(nd))
    dilation = tuple(int(rng.integers(1, 4 if nd < 3 else 3)) for _ in range(nd))
    padding_mode = padding_mode or str(rng.choice(PADDING_MODES))
    kind = str(rng.choice(["int", "tuple", "same", "valid"], p=[0.3, 0.3, 0.25, 0.15]))
    stride = (1,) * nd if kind == "same" else tuple(int(rng.integers(1, 4)) for _ in range(nd))
    if kind == "int":
        p = int(rng.integers(0, 3))
        padding, pads = p, ((p, p),) * nd
    elif kind == "tuple":
        ps = tuple(int(rng.integers(0, 3)) for _ in range(nd))
        padding, pads = ps, tuple((p, p) for p in ps)
    elif kind == "same":
        padding, pads = "same", _torch_same_pads(kernel, dilation)
    else:
        padding, pads = "valid", ((0, 0),) * nd
    spatial = []
    extra = 4 if nd < 3 else 2
    for k, d, (lo, hi) in zip(kernel, dilation, pads):
        need = max(1, d * (k - 1) + 1 - lo - hi)
        if padding_mode != "zeros" and not wide_pads:
            need = max(need, max(lo, hi) + 1)    # torch: reflect pad < size (circular <= size)
        lo_n = 1 if wide_pads else need
        spatial.append(int(rng.integers(max(lo_n, need), need + extra + 1)))
    dtype = dtype or str(rng.choice(["float32", "float64"]))
    return dict(seed=seed, nd=nd, batch=batch, c_in=c_in, c_out=c_out, groups=groups,
                kernel=kernel, spatial=tuple(spatial), stride=_maybe_tuple(rng, stride),
                dilation=_maybe_tuple(rng, dilation), padding=padding, pads=pads,
                padding_mode=padding_mode, bias=bool(rng.random() < 0.5), dtype=dtype)


def make_arrays(cfg: dict, *, integer: bool = False, high: int = 6):
    rng = np.random.default_rng([777, cfg["seed"]])
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x_shape = lead + (cfg["c_in"],) + cfg["spatial"]
    w_shape = (cfg["c_out"], cfg["c_in"] // cfg["groups"]) + cfg["kernel"]
    if integer:
        x = rng.integers(-high, high + 1, size=x_shape).astype(np.int64)
        w = rng.integers(-high, high + 1, size=w_shape).astype(np.int64)
        b = rng.integers(-high, high + 1, size=cfg["c_out"]).astype(np.int64) if cfg["bias"] else None
        return x, w, b
    dt = np.dtype(cfg["dtype"])
    x = rng.standard_normal(x_shape).astype(dt)
    w = rng.standard_normal(w_shape).astype(dt)
    b = rng.standard_normal(cfg["c_out"]).astype(dt) if cfg["bias"] else None
    return x, w, b


# ---------------------------------------------------------------------------
# the torch oracle


def _t(a):
    return None if a is None else torch.from_numpy(np.array(a, order="C", copy=True))


def _torch_pad_arg(pads):
    """numpy-style per-axis (lo, hi) -> F.pad's flat list, last axis first."""
    return [v for lo_hi in reversed(pads) for v in lo_hi]


def torch_conv(cfg: dict, x, w, b, *, numpy_extension: bool = False) -> np.ndarray:
    nd = cfg["nd"]
    conv = getattr(F, f"conv{nd}d")
    tx, tw, tb = _t(x), _t(w), _t(b)
    if cfg["padding_mode"] == "zeros" and not numpy_extension:
        out = conv(tx, tw, tb, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
        return out.numpy()
    if numpy_extension:
        width = [(0, 0)] * (x.ndim - nd) + [tuple(p) for p in cfg["pads"]]
        xp = np.pad(x, width, mode=NUMPY_PAD[cfg["padding_mode"]])
        out = conv(_t(xp), tw, tb, cfg["stride"], 0, cfg["dilation"], cfg["groups"])
        return out.numpy()
    unbatched = x.ndim == nd + 1
    if unbatched:
        tx = tx[None]
    tx = F.pad(tx, _torch_pad_arg(cfg["pads"]), mode=cfg["padding_mode"])
    out = conv(tx, tw, tb, cfg["stride"], 0, cfg["dilation"], cfg["groups"])
    return (out[0] if unbatched else out).numpy()


def conv_scale(cfg: dict, x, w, b, **kw) -> float:
    """Largest sum of |terms| of any output: the scale of its rounding error."""
    absb = None if b is None else np.abs(b).astype(np.float64)
    bound = torch_conv(cfg, np.abs(x).astype(np.float64), np.abs(w).astype(np.float64), absb, **kw)
    return float(bound.max()) if bound.size else 0.0


def assert_matches(actual, expected, dtype, scale):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != torch's {expected.shape}"
    assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype} != {dtype}"
    if np.dtype(dtype) == np.float64:
        rtol, atol = 1e-10, 1e-12 * max(1.0, scale)
    else:
        rtol, atol = 1e-4, 1e-5 * max(1.0, scale)
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=atol)


def _call(cfg: dict, x, w, b, **kw):
    fn = getattr(cf, f"conv{cfg['nd']}d")
    return fn(x, w, b, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"],
              padding_mode=cfg["padding_mode"], **kw)


# ---------------------------------------------------------------------------
# forward


def test_config_generator_covers_the_space():
    """The random configurations reach every feature the tests claim to cover."""
    cfgs = [make_config(s) for s in range(N_FORWARD)]
    assert {c["nd"] for c in cfgs} == {1, 2, 3}
    assert {c["padding_mode"] for c in cfgs} == set(PADDING_MODES)
    assert {c["dtype"] for c in cfgs} == {"float32", "float64"}
    kinds = {type(c["padding"]).__name__ if not isinstance(c["padding"], str) else c["padding"]
             for c in cfgs}
    assert kinds == {"int", "tuple", "same", "valid"}
    assert any(c["batch"] is None for c in cfgs) and {1, 2, 3} <= {c["batch"] for c in cfgs}
    assert any(c["groups"] == c["c_in"] > 1 and c["c_out"] > c["c_in"] for c in cfgs)  # depthwise
    assert any(c["groups"] > 1 and c["c_in"] > c["groups"] for c in cfgs)
    assert any(c["bias"] for c in cfgs) and not all(c["bias"] for c in cfgs)
    as_tuple = lambda v, nd: v if isinstance(v, tuple) else (v,) * nd  # noqa: E731
    assert any(max(as_tuple(c["stride"], c["nd"])) > 1 for c in cfgs)
    assert any(max(as_tuple(c["dilation"], c["nd"])) > 1 for c in cfgs)
    # same padding with an odd total (the extra sample at the end, as torch)
    assert any(c["padding"] == "same" and any(lo != hi for lo, hi in c["pads"]) for c in cfgs)


@pytest.mark.parametrize("seed", range(N_FORWARD))
def test_conv_matches_torch(seed):
    cfg = make_config(seed)
    x, w, b = make_arrays(cfg)
    expected = torch_conv(cfg, x, w, b)
    actual = _call(cfg, x, w, b)
    assert_matches(actual, expected, cfg["dtype"], conv_scale(cfg, x, w, b))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(1000, 1000 + N_METHOD))
def test_forced_method_matches_torch(seed, method):
    cfg = make_config(seed)
    x, w, b = make_arrays(cfg)
    expected = torch_conv(cfg, x, w, b)
    actual = _call(cfg, x, w, b, method=method)
    assert_matches(actual, expected, cfg["dtype"], conv_scale(cfg, x, w, b))


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("seed", range(2000, 2010))
def test_every_padding_mode_on_the_same_layer(seed, padding_mode):
    """The same layer under each padding_mode (torch's F.pad semantics)."""
    cfg = make_config(seed, padding_mode=padding_mode, dtype="float64")
    x, w, b = make_arrays(cfg)
    assert_matches(_call(cfg, x, w, b), torch_conv(cfg, x, w, b), "float64",
                   conv_scale(cfg, x, w, b))


@pytest.mark.parametrize("seed", range(2100, 2136))
def test_extension_wider_than_input(seed):
    """convolab accepts any pad width (torch's F.pad does not for reflect/circular):
    the oracle is numpy.pad (it repeats the extension) followed by torch's conv."""
    rng = np.random.default_rng([2100, seed])
    mode = ("reflect", "replicate", "circular")[seed % 3]
    nd = 1 + seed % 2 if seed % 5 else 3
    spatial = tuple(int(rng.integers(2 if mode == "reflect" else 1, 4)) for _ in range(nd))
    padding = tuple(int(rng.integers(n, 2 * n + 3)) for n in spatial)   # wider than the input
    padding = padding[:1] + tuple(int(rng.integers(0, 2 * n + 3)) for n in spatial[1:])
    dilation = tuple(int(rng.integers(1, 3)) for _ in range(nd))
    kernel = tuple(int(rng.integers(1, min(4, (n + 2 * p - 1) // d + 1) + 1))
                   for n, p, d in zip(spatial, padding, dilation))
    stride = tuple(int(rng.integers(1, 3)) for _ in range(nd))
    groups = int(rng.choice([1, 2]))
    cfg = dict(seed=seed, nd=nd, batch=int(rng.integers(1, 3)), c_in=2 * groups,
               c_out=2 * groups, groups=groups, kernel=kernel, spatial=spatial, stride=stride,
               dilation=dilation, padding=padding, pads=tuple((p, p) for p in padding),
               padding_mode=mode, bias=bool(seed % 2), dtype="float64")
    assert padding[0] >= spatial[0]     # torch.nn.functional.pad refuses this for reflect
    x, w, b = make_arrays(cfg)
    expected = torch_conv(cfg, x, w, b, numpy_extension=True)
    assert_matches(_call(cfg, x, w, b), expected, "float64",
                   conv_scale(cfg, x, w, b, numpy_extension=True))


@pytest.mark.parametrize("seed", range(3000, 3000 + N_FLIP))
def test_flip_is_torch_conv_with_flipped_kernel(seed):
    cfg = make_config(seed)
    x, w, b = make_arrays(cfg)
    w_flipped = np.ascontiguousarray(np.flip(w, axis=tuple(range(2, 2 + cfg["nd"]))))
    expected = torch_conv(cfg, x, w_flipped, b)
    actual = _call(cfg, x, w, b, flip=True)
    assert_matches(actual, expected, cfg["dtype"], conv_scale(cfg, x, w, b))


def test_cross_correlation_not_convolution():
    """torch's conv is a cross-correlation: out[i] = x[i] w[0] + x[i+1] w[1] + ..."""
    x = np.arange(6.0).reshape(1, 1, 6)
    w = np.array([[[1.0, 0.0, -1.0]]])
    expected = F.conv1d(_t(x), _t(w)).numpy()
    np.testing.assert_array_equal(cf.conv1d(x, w), expected)
    np.testing.assert_array_equal(expected, [[[-2.0, -2.0, -2.0, -2.0]]])


# ---------------------------------------------------------------------------
# integers


@pytest.mark.parametrize("seed", range(4000, 4000 + N_INT))
def test_int64_conv2d_equals_torch_exactly(seed):
    cfg = make_config(seed, nd=2)
    x, w, b = make_arrays(cfg, integer=True)
    expected = torch_conv(cfg, x, w, b)
    assert expected.dtype == np.int64
    actual = cf.conv2d(x, w, b, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"],
                       padding_mode=cfg["padding_mode"])
    assert actual.dtype == np.int64
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(4100, 4110))
def test_int64_large_values_every_method_exact(seed, method):
    """Values near 2**20: the products need ~40 bits, more than float64's FFT
    resolves exactly, yet the integer result must be exact."""
    cfg = make_config(seed, nd=2)
    x, w, b = make_arrays(cfg, integer=True, high=2 ** 20)
    expected = torch_conv(cfg, x, w, b)
    actual = cf.conv2d(x, w, b, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"],
                       padding_mode=cfg["padding_mode"], method=method)
    assert actual.dtype == np.int64
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("nd", [1, 3])
@pytest.mark.parametrize("seed", range(4200, 4206))
def test_int64_conv1d_conv3d_equal_torch(seed, nd):
    cfg = make_config(seed, nd=nd)
    x, w, b = make_arrays(cfg, integer=True)
    np.testing.assert_array_equal(_call(cfg, x, w, b), torch_conv(cfg, x, w, b))


# ---------------------------------------------------------------------------
# transposed convolution


def make_transpose_config(seed: int) -> dict:
    rng = np.random.default_rng([31337, seed])
    nd = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 4))
    if rng.random() < 0.2:
        c_in = int(rng.integers(1, 4))
        groups, c_out_g = c_in, int(rng.integers(1, 3))
    else:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 3))
        c_out_g = int(rng.integers(1, 3))
    kmax = 4 if nd < 3 else 3
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(nd))
    stride = tuple(int(rng.integers(1, 4)) for _ in range(nd))
    dilation = tuple(int(rng.integers(1, 4)) for _ in range(nd))
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    spatial = tuple(int(rng.integers(1, 5 if nd < 3 else 4)) for _ in range(nd))
    padding = []
    for m, s, d, k, op in zip(spatial, stride, dilation, kernel, output_padding):
        base = (m - 1) * s + d * (k - 1) + op + 1     # output size with padding 0
        padding.append(int(rng.integers(0, min(3, (base - 1) // 2) + 1)))
    return dict(seed=seed, nd=nd, batch=batch, c_in=c_in, groups=groups, c_out_g=c_out_g,
                kernel=kernel, spatial=spatial, stride=_maybe_tuple(rng, stride),
                dilation=_maybe_tuple(rng, dilation), padding=_maybe_tuple(rng, tuple(padding)),
                output_padding=_maybe_tuple(rng, output_padding), bias=bool(rng.random() < 0.5),
                dtype=str(rng.choice(["float32", "float64"])))


def test_transpose_generator_covers_the_space():
    cfgs = [make_transpose_config(s) for s in range(N_TRANSPOSE)]
    assert {c["nd"] for c in cfgs} == {1, 2, 3}
    assert any(c["batch"] is None for c in cfgs)
    assert any(c["groups"] > 1 for c in cfgs)
    tup = lambda v, nd: v if isinstance(v, tuple) else (v,) * nd  # noqa: E731
    # output_padding that is only legal thanks to the dilation (>= stride, < dilation)
    assert any(any(op >= s for op, s in zip(tup(c["output_padding"], c["nd"]), tup(c["stride"], c["nd"])))
               for c in cfgs)
    assert any(any(v > 0 for v in tup(c["padding"], c["nd"])) for c in cfgs)


@pytest.mark.parametrize("seed", range(N_TRANSPOSE))
def test_conv_transpose_matches_torch(seed):
    cfg = make_transpose_config(seed)
    rng = np.random.default_rng([99, seed])
    dt = np.dtype(cfg["dtype"])
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = rng.standard_normal(lead + (cfg["c_in"],) + cfg["spatial"]).astype(dt)
    w = rng.standard_normal((cfg["c_in"], cfg["c_out_g"]) + cfg["kernel"]).astype(dt)
    c_out = cfg["c_out_g"] * cfg["groups"]
    b = rng.standard_normal(c_out).astype(dt) if cfg["bias"] else None
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    tfn = getattr(F, f"conv_transpose{cfg['nd']}d")
    expected = tfn(_t(x), _t(w), _t(b), *args).numpy()
    scale_b = None if b is None else _t(np.abs(b).astype(np.float64))
    scale = float(tfn(_t(np.abs(x).astype(np.float64)), _t(np.abs(w).astype(np.float64)),
                      scale_b, *args).max())
    actual = getattr(cf, f"conv_transpose{cfg['nd']}d")(x, w, b, *args)
    assert_matches(actual, expected, cfg["dtype"], scale)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(500, 510))
def test_conv_transpose_forced_method_matches_torch(seed, method):
    cfg = make_transpose_config(seed)
    rng = np.random.default_rng([98, seed])
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = rng.standard_normal(lead + (cfg["c_in"],) + cfg["spatial"])
    w = rng.standard_normal((cfg["c_in"], cfg["c_out_g"]) + cfg["kernel"])
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    tfn = getattr(F, f"conv_transpose{cfg['nd']}d")
    expected = tfn(_t(x), _t(w), None, *args).numpy()
    scale = float(tfn(_t(np.abs(x)), _t(np.abs(w)), None, *args).max())
    actual = getattr(cf, f"conv_transpose{cfg['nd']}d")(x, w, None, *args, method=method)
    assert_matches(actual, expected, "float64", scale)


def test_conv_transpose_int64_equals_torch():
    rng = np.random.default_rng(5)
    for stride, padding, op, groups, dilation in itertools.product([1, 2], [0, 1], [0, 1], [1, 2], [1, 2]):
        if op >= max(stride, dilation):
            continue
        x = rng.integers(-5, 6, size=(2, 4, 3, 4)).astype(np.int64)
        w = rng.integers(-5, 6, size=(4, 2, 2, 3)).astype(np.int64)
        expected = F.conv_transpose2d(_t(x), _t(w), None, stride, padding, op, groups, dilation).numpy()
        actual = cf.conv_transpose2d(x, w, None, stride, padding, op, groups, dilation)
        assert actual.dtype == np.int64
        np.testing.assert_array_equal(actual, expected)
