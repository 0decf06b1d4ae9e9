"""Gradients of the convolution layers (:mod:`convolab.nn.grad`).

Oracles:

* torch autograd on ``y = conv(x, w) + b`` (for a ``padding_mode`` other
  than zeros, torch's module semantics ``F.pad`` then ``conv(padding=0)``;
  for extensions wider than ``F.pad`` allows, the extension is a gather with
  indices from :func:`numpy.pad`, through which autograd differentiates);
* central finite differences of ``L = sum(gy * conv(x, w))`` where ``conv`` is
  a pure-numpy layer written here (numpy.pad + einsum per kernel tap);
* the adjoint identity ``<conv(x, w), y> == <x, conv_transpose(y, w)>``;
* ``torch.nn.grad.conv2d_input`` / ``conv2d_weight`` called with the same
  positional arguments.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import convolab.nn.functional as cf  # noqa: E402
import convolab.nn.grad as cg  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

from helpers import METHODS, TORCH_NUMPY_PAD as NUMPY_PAD, TORCH_PADDING_MODES as PADDING_MODES  # noqa: E402
from helpers import maybe_tuple as _maybe_tuple  # noqa: E402

N_GRAD = 150
N_METHOD = 20


# ---------------------------------------------------------------------------
# random layers


def _tup(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def make_config(seed: int, *, padding_mode: str | None = None, dtype: str | None = None,
                nd: int | None = None, max_size: int = 4) -> dict:
    rng = np.random.default_rng([4242, seed])
    nd = nd or int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    batch = None if rng.random() < 0.2 else int(rng.integers(1, 4))
    if rng.random() < 0.25:                                  # depthwise
        c_in = int(rng.integers(1, 4))
        groups, c_out = c_in, c_in * int(rng.integers(1, 3))
    else:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 3))
        c_out = groups * int(rng.integers(1, 3))
    kmax = {1: 4, 2: 3, 3: 2}[nd]
    kernel = tuple(int(rng.integers(1, kmax + 1)) for _ in range(nd))
    dilation = tuple(int(rng.integers(1, 3)) for _ in range(nd))
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
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        padding, pads = "same", tuple((t // 2, t - t // 2) for t in totals)
    else:
        padding, pads = "valid", ((0, 0),) * nd
    spatial = []
    for k, d, (lo, hi) in zip(kernel, dilation, pads):
        need = max(1, d * (k - 1) + 1 - lo - hi)
        if padding_mode != "zeros":
            need = max(need, max(lo, hi) + 1)
        spatial.append(int(rng.integers(need, need + max_size)))
    return dict(seed=seed, nd=nd, batch=batch, c_in=c_in, c_out=c_out, groups=groups,
                kernel=kernel, spatial=tuple(spatial), stride=_maybe_tuple(rng, stride),
                dilation=_maybe_tuple(rng, dilation), padding=padding, pads=pads,
                padding_mode=padding_mode, bias=bool(rng.random() < 0.6),
                dtype=dtype or str(rng.choice(["float64", "float64", "float32"])))


def out_spatial(cfg) -> tuple[int, ...]:
    nd = cfg["nd"]
    return tuple((n + lo + hi - d * (k - 1) - 1) // s + 1 for n, (lo, hi), d, k, s in
                 zip(cfg["spatial"], cfg["pads"], _tup(cfg["dilation"], nd), cfg["kernel"],
                     _tup(cfg["stride"], nd)))


def make_arrays(cfg):
    rng = np.random.default_rng([555, cfg["seed"]])
    dt = np.dtype(cfg["dtype"])
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    x = rng.standard_normal(lead + (cfg["c_in"],) + cfg["spatial"]).astype(dt)
    w = rng.standard_normal((cfg["c_out"], cfg["c_in"] // cfg["groups"]) + cfg["kernel"]).astype(dt)
    b = rng.standard_normal(cfg["c_out"]).astype(dt) if cfg["bias"] else None
    gy = rng.standard_normal(lead + (cfg["c_out"],) + out_spatial(cfg)).astype(dt)
    return x, w, b, gy


# ---------------------------------------------------------------------------
# torch autograd oracle


def _t(a, grad=False):
    if a is None:
        return None
    t = torch.from_numpy(np.array(a, order="C", copy=True))
    return t.requires_grad_(grad)


def _gather_extend(tx, pads, mode, nd):
    """Extend the last ``nd`` axes of ``tx`` as numpy.pad does, by indexing
    (autograd sends each copy's gradient back to its source)."""
    spatial = tuple(tx.shape[-nd:])
    idx = np.pad(np.arange(int(np.prod(spatial))).reshape(spatial), [tuple(p) for p in pads],
                 mode=NUMPY_PAD[mode])
    flat = tx.reshape(tx.shape[:-nd] + (-1,))
    return flat[..., torch.from_numpy(idx.ravel())].reshape(tx.shape[:-nd] + idx.shape)


def torch_forward(cfg, tx, tw, tb, *, gather=False):
    nd = cfg["nd"]
    conv = getattr(F, f"conv{nd}d")
    if cfg["padding_mode"] == "zeros" and not gather:
        return conv(tx, tw, tb, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    if gather:
        tx = _gather_extend(tx, cfg["pads"], cfg["padding_mode"], nd)
        return conv(tx, tw, tb, cfg["stride"], 0, cfg["dilation"], cfg["groups"])
    unbatched = tx.dim() == nd + 1
    if unbatched:
        tx = tx[None]
    flat = [v for lo_hi in reversed(cfg["pads"]) for v in lo_hi]
    y = conv(F.pad(tx, flat, mode=cfg["padding_mode"]), tw, tb, cfg["stride"], 0,
             cfg["dilation"], cfg["groups"])
    return y[0] if unbatched else y


def _autograd(cfg, x, w, b, gy, gather):
    tx, tw, tb = _t(x, True), _t(w, True), _t(b, True)
    y = torch_forward(cfg, tx, tw, tb, gather=gather)
    assert tuple(y.shape) == gy.shape
    y.backward(_t(gy))
    return tx.grad.numpy(), tw.grad.numpy(), None if tb is None else tb.grad.numpy()


def torch_grads(cfg, x, w, b, gy, *, gather=False):
    """(dx, dw, db) from torch autograd; and the same from |x|, |w|, |gy| in
    float64: a bound on the sum of |terms| of each entry (the rounding scale)."""
    def f64abs(a):
        return None if a is None else np.abs(a).astype(np.float64)
    return (_autograd(cfg, x, w, b, gy, gather),
            _autograd(cfg, f64abs(x), f64abs(w), f64abs(b), f64abs(gy), gather))


def assert_grad(actual, expected, bound, dtype, what):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch {expected.shape}"
    assert actual.dtype == np.dtype(dtype), f"{what}: dtype {actual.dtype} != {dtype}"
    scale = max(1.0, float(bound.max()) if bound.size else 0.0)
    if np.dtype(dtype) == np.float64:
        rtol, atol = 1e-10, 1e-12 * scale
    else:
        rtol, atol = 1e-4, 1e-5 * scale
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=atol, err_msg=what)


def convolab_grads(cfg, x, w, gy, **kw):
    nd = cfg["nd"]
    args = (cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    gx = getattr(cg, f"conv{nd}d_input")(x.shape, w, gy, *args, padding_mode=cfg["padding_mode"], **kw)
    gw = getattr(cg, f"conv{nd}d_weight")(x, w.shape, gy, *args, padding_mode=cfg["padding_mode"], **kw)
    return gx, gw


def check_against_torch(cfg, **kw):
    x, w, b, gy = make_arrays(cfg)
    (ex, ew, eb), (bx, bw, bb) = torch_grads(cfg, x, w, b, gy)
    gx, gw = convolab_grads(cfg, x, w, gy, **kw)
    assert_grad(gx, ex, bx, cfg["dtype"], "grad input")
    assert_grad(gw, ew, bw, cfg["dtype"], "grad weight")
    if b is not None:
        batched_gy = gy if cfg["batch"] is not None else gy[None]
        assert_grad(cg.bias_grad(batched_gy), eb, bb, cfg["dtype"], "grad bias")


# ---------------------------------------------------------------------------
# against torch autograd


def test_grad_generator_covers_the_space():
    cfgs = [make_config(s) for s in range(N_GRAD)]
    assert {c["nd"] for c in cfgs} == {1, 2, 3}
    assert {c["padding_mode"] for c in cfgs} == set(PADDING_MODES)
    assert {c["dtype"] for c in cfgs} == {"float32", "float64"}
    assert {"same", "valid"} <= {c["padding"] for c in cfgs if isinstance(c["padding"], str)}
    assert any(c["padding"] == "same" and c["padding_mode"] != "zeros" for c in cfgs)
    assert any(c["batch"] is None for c in cfgs)
    assert any(c["groups"] == c["c_in"] > 1 for c in cfgs)
    assert any(max(_tup(c["stride"], c["nd"])) > 1 for c in cfgs)
    assert any(max(_tup(c["dilation"], c["nd"])) > 1 for c in cfgs)
    # strides that skip trailing input samples (their gradient is zero)
    assert any(any((n + lo + hi - d * (k - 1) - 1) % s for n, (lo, hi), d, k, s in
                   zip(c["spatial"], c["pads"], _tup(c["dilation"], c["nd"]), c["kernel"],
                       _tup(c["stride"], c["nd"]))) for c in cfgs)


@pytest.mark.parametrize("seed", range(N_GRAD))
def test_grads_match_torch_autograd(seed):
    check_against_torch(make_config(seed))


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("seed", range(300, 306))
def test_grads_every_padding_mode_same_padding(seed, padding_mode):
    """padding='same' (asymmetric for even dilated extents) under each padding_mode."""
    cfg = make_config(seed, padding_mode=padding_mode, dtype="float64")
    nd = cfg["nd"]
    rng = np.random.default_rng(seed)
    kernel = tuple(int(rng.integers(1, 5 if nd < 3 else 3)) for _ in range(nd))
    dilation = _tup(cfg["dilation"], nd)
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    pads = tuple((t // 2, t - t // 2) for t in totals)
    spatial = tuple(max(n, hi + 1) for n, (_, hi) in zip(cfg["spatial"], pads))
    cfg.update(kernel=kernel, padding="same", pads=pads, stride=1, spatial=spatial)
    check_against_torch(cfg)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(1000, 1000 + N_METHOD))
def test_grads_forced_method_match_torch(seed, method):
    check_against_torch(make_config(seed), method=method)


@pytest.mark.parametrize("seed", range(1100, 1124))
def test_grads_extension_wider_than_input(seed):
    """Pads wider than the input (convolab allows any width): each extended
    sample's gradient returns to the sample it copies, however many times."""
    rng = np.random.default_rng([1100, seed])
    mode = ("reflect", "replicate", "circular")[seed % 3]
    nd = 1 + seed % 2 if seed % 4 else 3
    spatial = tuple(int(rng.integers(2 if mode == "reflect" else 1, 4)) for _ in range(nd))
    padding = (int(rng.integers(spatial[0], 2 * spatial[0] + 3)),) + \
        tuple(int(rng.integers(0, 2 * n + 3)) for n in spatial[1:])
    dilation = tuple(int(rng.integers(1, 3)) for _ in range(nd))
    kernel = tuple(int(rng.integers(1, min(3, (n + 2 * p - 1) // d + 1) + 1))
                   for n, p, d in zip(spatial, padding, dilation))
    stride = tuple(int(rng.integers(1, 3)) for _ in range(nd))
    groups = int(rng.choice([1, 2]))
    cfg = dict(seed=seed, nd=nd, batch=int(rng.integers(1, 3)), c_in=groups, c_out=2 * groups,
               groups=groups, kernel=kernel, spatial=spatial, stride=stride, dilation=dilation,
               padding=padding, pads=tuple((p, p) for p in padding), padding_mode=mode,
               bias=False, dtype="float64")
    x, w, _, gy = make_arrays(cfg)
    (ex, ew, _), (bx, bw, _) = torch_grads(cfg, x, w, None, gy, gather=True)
    gx, gw = convolab_grads(cfg, x, w, gy)
    assert_grad(gx, ex, bx, "float64", "grad input")
    assert_grad(gw, ew, bw, "float64", "grad weight")


@pytest.mark.parametrize("seed", range(1200, 1220))
def test_grads_with_flip_match_torch_of_flipped_kernel(seed):
    """flip=True: y = torch conv with the kernel reversed; dw comes back unreversed."""
    cfg = make_config(seed, dtype="float64")
    nd = cfg["nd"]
    x, w, _, gy = make_arrays(cfg)
    axes = tuple(range(2, 2 + nd))
    w_rev = np.flip(w, axis=axes)
    (ex, ew_rev, _), (bx, bw_rev, _) = torch_grads(cfg, x, w_rev, None, gy)
    gx, gw = convolab_grads(cfg, x, w, gy, flip=True)
    assert_grad(gx, ex, bx, "float64", "grad input")
    assert_grad(gw, np.flip(ew_rev, axis=axes), np.flip(bw_rev, axis=axes), "float64", "grad weight")


def test_bias_grad_matches_torch():
    rng = np.random.default_rng(0)
    for shape in [(2, 3, 5), (1, 4, 3, 2), (3, 2, 2, 3, 2)]:
        gy = rng.standard_normal(shape)
        tb = torch.zeros(shape[1], dtype=torch.float64, requires_grad=True)
        y = torch.zeros(shape, dtype=torch.float64) + tb.reshape((1, -1) + (1,) * (len(shape) - 2))
        y.backward(_t(gy))
        np.testing.assert_allclose(cg.bias_grad(gy), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# finite differences in pure numpy


def np_conv(x, w, stride, pads, dilation, groups, padding_mode, flip=False):
    """A convolution layer in plain numpy: numpy.pad, then one einsum per kernel tap."""
    nd = w.ndim - 2
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    if flip:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in pads], mode=NUMPY_PAD[padding_mode])
    n, c_in = x.shape[:2]
    c_out, c_in_g = w.shape[:2]
    kernel = w.shape[2:]
    out_sp = tuple((p - d * (k - 1) - 1) // s + 1
                   for p, d, k, s in zip(xp.shape[2:], dilation, kernel, stride))
    out = np.zeros((n, groups, c_out // groups) + out_sp)
    wg = w.reshape((groups, c_out // groups, c_in_g) + kernel)
    for tap in itertools.product(*(range(k) for k in kernel)):
        window = xp[(slice(None), slice(None)) + tuple(
            slice(j * d, j * d + (o - 1) * s + 1, s)
            for j, d, o, s in zip(tap, dilation, out_sp, stride))]
        window = window.reshape((n, groups, c_in_g) + out_sp)
        out += np.einsum("ngc...,goc->ngo...", window, wg[(Ellipsis,) + tap])
    out = out.reshape((n, c_out) + out_sp)
    return out[0] if unbatched else out


@pytest.mark.parametrize("seed", range(2000, 2030))
def test_numpy_layer_agrees_with_convolab_forward(seed):
    """The finite-difference model below is the same layer as convolab's conv
    (and, in float64, the same as torch's: tested in test_nn_functional)."""
    cfg = make_config(seed, dtype="float64", max_size=3)
    x, w, _, _ = make_arrays(cfg)
    nd = cfg["nd"]
    expected = np_conv(x, w, _tup(cfg["stride"], nd), cfg["pads"], _tup(cfg["dilation"], nd),
                       cfg["groups"], cfg["padding_mode"])
    with torch.no_grad():
        torch_y = torch_forward(cfg, _t(x), _t(w), None).numpy()
    np.testing.assert_allclose(expected, torch_y, rtol=1e-12, atol=1e-12)
    actual = getattr(cf, f"conv{nd}d")(x, w, None, cfg["stride"], cfg["padding"], cfg["dilation"],
                                         cfg["groups"], padding_mode=cfg["padding_mode"])
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("seed", range(2100, 2125))
def test_finite_differences(seed, flip):
    """Central differences of L(x, w) = sum(gy * conv(x, w)) along random
    single entries and a random dense direction, against <grad, direction>."""
    cfg = make_config(seed, dtype="float64", max_size=3)
    nd = cfg["nd"]
    x, w, _, gy = make_arrays(cfg)
    stride, dilation = _tup(cfg["stride"], nd), _tup(cfg["dilation"], nd)

    def loss(xv, wv):
        y = np_conv(xv, wv, stride, cfg["pads"], dilation, cfg["groups"], cfg["padding_mode"], flip)
        return float(np.sum(gy * y))

    gx, gw = convolab_grads(cfg, x, w, gy, flip=flip)
    rng = np.random.default_rng([2100, seed])
    h = 1e-3
    for target, grad in (("x", gx), ("w", gw)):
        base = x if target == "x" else w
        directions = []
        for flat in rng.choice(base.size, size=min(4, base.size), replace=False):
            v = np.zeros(base.size)
            v[flat] = 1.0
            directions.append(v.reshape(base.shape))
        directions.append(rng.standard_normal(base.shape))
        for v in directions:
            if target == "x":
                fd = (loss(x + h * v, w) - loss(x - h * v, w)) / (2 * h)
            else:
                fd = (loss(x, w + h * v) - loss(x, w - h * v)) / (2 * h)
            analytic = float(np.sum(grad * v))
            scale = float(np.sum(np.abs(gy))) * max(np.abs(x).max(), np.abs(w).max()) * \
                max(1.0, float(np.abs(v).sum()))
            assert abs(fd - analytic) <= 1e-9 * scale, (target, fd, analytic)


# ---------------------------------------------------------------------------
# adjoint identity


@pytest.mark.parametrize("seed", range(3000, 3030))
def test_adjoint_identity_conv_transpose(seed):
    """<conv(x, w), y> == <x, conv_transpose(y, w)>, zeros padding, with
    stride, dilation and groups (output_padding makes the shapes agree)."""
    rng = np.random.default_rng([3000, seed])
    nd = (2, 1, 3)[seed % 3]
    groups = int(rng.choice([1, 2, 3]))
    c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    kernel = tuple(int(rng.integers(1, 4 if nd < 3 else 3)) for _ in range(nd))
    stride = tuple(int(rng.integers(1, 4)) for _ in range(nd))
    dilation = tuple(int(rng.integers(1, 3)) for _ in range(nd))
    padding = tuple(int(rng.integers(0, 3)) for _ in range(nd))
    spatial = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 5))
                    for k, d, p in zip(kernel, dilation, padding))
    x = rng.standard_normal((2, c_in) + spatial)
    w = rng.standard_normal((c_out, c_in // groups) + kernel)
    y_fwd = getattr(cf, f"conv{nd}d")(x, w, None, stride, padding, dilation, groups)
    y = rng.standard_normal(y_fwd.shape)
    output_padding = tuple((n + 2 * p - d * (k - 1) - 1) % s
                           for n, p, d, k, s in zip(spatial, padding, dilation, kernel, stride))
    xt = getattr(cf, f"conv_transpose{nd}d")(y, w, None, stride, padding, output_padding, groups,
                                             dilation)
    assert xt.shape == x.shape
    lhs, rhs = float(np.sum(y_fwd * y)), float(np.sum(x * xt))
    scale = float(np.abs(y_fwd).sum() * np.abs(y).max() + np.abs(x).sum() * np.abs(xt).max())
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, scale), (lhs, rhs)
    # and the transposed conv is the input gradient of the layer
    gx = getattr(cg, f"conv{nd}d_input")(x.shape, w, y, stride, padding, dilation, groups)
    np.testing.assert_allclose(gx, xt, rtol=1e-10, atol=1e-12 * max(1.0, scale))


# ---------------------------------------------------------------------------
# torch.nn.grad, same names and argument order


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2), (3, (1, 0), (2, 1), 4), ((2, 1), 1, 1, 2),
    (2, 0, 3, 1)])
def test_same_as_torch_nn_grad(stride, padding, dilation, groups):
    rng = np.random.default_rng(groups * 100 + int(np.sum(stride)))
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((4, 4 // groups, 3, 2))
    y = F.conv2d(_t(x), _t(w), None, stride, padding, dilation, groups)
    gy = rng.standard_normal(tuple(y.shape))
    args = (stride, padding, dilation, groups)
    t_in = torch.nn.grad.conv2d_input(x.shape, _t(w), _t(gy), *args).numpy()
    t_w = torch.nn.grad.conv2d_weight(_t(x), w.shape, _t(gy), *args).numpy()
    np.testing.assert_allclose(cg.conv2d_input(x.shape, w, gy, *args), t_in, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(cg.conv2d_weight(x, w.shape, gy, *args), t_w, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("nd", [1, 3])
def test_same_as_torch_nn_grad_1d_3d(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 2) + (5,) * nd)
    w = rng.standard_normal((4, 1) + (2,) * nd)
    args = (2, 1, 1, 2)
    y = getattr(F, f"conv{nd}d")(_t(x), _t(w), None, *args)
    gy = rng.standard_normal(tuple(y.shape))
    t_in = getattr(torch.nn.grad, f"conv{nd}d_input")(x.shape, _t(w), _t(gy), *args).numpy()
    t_w = getattr(torch.nn.grad, f"conv{nd}d_weight")(_t(x), w.shape, _t(gy), *args).numpy()
    np.testing.assert_allclose(getattr(cg, f"conv{nd}d_input")(x.shape, w, gy, *args), t_in,
                               rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(getattr(cg, f"conv{nd}d_weight")(x, w.shape, gy, *args), t_w,
                               rtol=1e-10, atol=1e-11)
