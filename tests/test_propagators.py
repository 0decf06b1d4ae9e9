"""Tests for convolab.propagators: kernels as diffusion propagators and their
stochastic (Monte-Carlo) reading.

Oracles: scipy.special.softmax and an extended-precision log-sum-exp for the
softmax; numpy.pad + scipy.signal.convolve('valid') for a 'same' convolution
with any boundary; scipy.ndimage.gaussian_filter for Gaussians; the analytic
solution of the heat equation; brute-force loops for the per-pixel variance.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
from scipy import ndimage, signal, special

import convolab
from convolab import propagators as pg
from convolab.errors import ConvolabError
from convolab.propagators import (diffuse, draw_variance, heat_kernel, iter_diffuse,
                                  monte_carlo_error, normalize, stochastic_convolve)

BOUNDARIES = {"fill": "constant", "wrap": "wrap", "symm": "symmetric", "reflect": "reflect",
              "nearest": "edge"}


def same_oracle(x, k, boundary):
    """convolve(x, k, 'same') with a boundary, independently: pad as scipy's
    'same' centring needs ((k-1)//2 after, the rest before) and take 'valid'."""
    pads = [(n - 1 - (n - 1) // 2, (n - 1) // 2) for n in k.shape]
    return signal.convolve(np.pad(x, pads, mode=BOUNDARIES[boundary]), k, mode="valid",
                           method="direct")


def brute_variance(x, p, boundary):
    """sum_j p_j (x_j - mean)^2 with explicit loops over pixels and taps."""
    pads = [(n - 1 - (n - 1) // 2, (n - 1) // 2) for n in p.shape]
    ext = np.pad(x, pads, mode=BOUNDARIES[boundary])
    out = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        vals, probs = [], []
        for j in np.ndindex(p.shape):
            # convolution: tap j reads the sample k-1-j further on
            src = tuple(ii + n - 1 - jj for ii, n, jj in zip(i, p.shape, j))
            vals.append(ext[src])
            probs.append(p[j])
        vals, probs = np.array(vals), np.array(probs)
        mean = (probs * vals).sum()
        out[i] = (probs * (vals - mean) ** 2).sum()
    return out


# ---------------------------------------------------------------------------
# normalize


def test_softmax_matches_scipy_and_sums_to_one():
    rng = np.random.default_rng(0)
    for shape, temp in [((3, 3), 1.0), ((4, 5), 0.3), ((7,), 5.0), ((2, 3, 4), 1.0)]:
        k = rng.normal(size=shape) * 3
        p = normalize(k, temperature=temp)
        np.testing.assert_allclose(p, special.softmax(k / temp), rtol=1e-13, atol=0)
        assert abs(p.sum() - 1) < 1e-14
        assert p.shape == k.shape and (p > 0).all()


def test_softmax_stable_for_huge_values():
    k = np.array([1e4, -1e4, 0.0, 9999.5, 1e4 - 30])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = normalize(k)
    # independent: extended precision log-sum-exp, exp(k - logsumexp(k))
    kl = k.astype(np.longdouble)
    lse = kl.max() + np.log(np.exp(kl - kl.max()).sum())
    expected = np.exp(kl - lse)
    np.testing.assert_allclose(p, expected.astype(np.float64), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(p, special.softmax(k), rtol=1e-14, atol=0)
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-15
    # the naive formula overflows: this is what the subtraction of the max avoids
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(np.exp(k) / np.exp(k).sum()).all()


def test_softmax_temperature_limits_and_minus_inf():
    k = np.array([[1.0, 2.0], [3.0, -np.inf]])
    p = normalize(k)
    assert p[1, 1] == 0 and abs(p.sum() - 1) < 1e-15
    np.testing.assert_allclose(p[:1].ravel().tolist() + [p[1, 0]],
                               special.softmax([1.0, 2.0, 3.0]), rtol=1e-14)
    cold = normalize([1.0, 2.0, 3.0], temperature=1e-3)     # mass on the maximum
    hot = normalize([1.0, 2.0, 3.0], temperature=1e6)       # uniform
    np.testing.assert_allclose(cold, [0, 0, 1], atol=1e-300)
    np.testing.assert_allclose(hot, [1 / 3] * 3, rtol=1e-5)


def test_l1_matches_numpy():
    rng = np.random.default_rng(1)
    k = rng.random((3, 4))
    np.testing.assert_allclose(normalize(k, "l1"), k / k.sum(), rtol=1e-15)
    assert abs(normalize(k, "l1").sum() - 1) < 1e-15
    s = rng.normal(size=(5,))
    np.testing.assert_allclose(normalize(s, "l1"), s / np.abs(s).sum(), rtol=1e-15)
    np.testing.assert_array_equal(normalize(np.array([1, 2, 1]), how="l1"), [0.25, 0.5, 0.25])


@pytest.mark.parametrize("kernel, kwargs, match", [
    (np.zeros((3, 3)), {"how": "l1"}, "all zeros"),
    ([1.0, np.nan], {}, "NaN"),
    ([1.0, np.nan], {"how": "l1"}, "NaN"),
    ([1.0, np.inf], {}, r"\+inf"),
    ([1.0, np.inf], {"how": "l1"}, "infinite"),
    ([-np.inf, -np.inf], {}, "-inf everywhere"),
    ([1.0, 2.0], {"how": "max"}, "how='max' is not one of"),
    ([1.0, 2.0], {"temperature": 0}, "temperature"),
    ([1.0, 2.0], {"temperature": -1.0}, "temperature"),
    ([1.0, 2.0], {"temperature": np.nan}, "temperature"),
    ([1 + 1j, 2], {}, "complex"),
    ([], {}, "empty"),
])
def test_normalize_bad_input(kernel, kwargs, match):
    with pytest.raises(ConvolabError, match=match):
        normalize(kernel, **kwargs)


# ---------------------------------------------------------------------------
# diffuse


@pytest.mark.parametrize("kshape", [(3, 3), (2, 4), (5,), (2, 3, 2)])
def test_diffuse_conserves_mass_with_wrap(kshape):
    rng = np.random.default_rng(2)
    x = rng.random(tuple(9 - i for i in range(len(kshape)))) * 10
    p = normalize(rng.random(kshape), "l1")
    for method in ("auto", "direct", "fft"):
        u = diffuse(x, p, 12, boundary="wrap", method=method)
        assert abs(u.sum() - x.sum()) <= 1e-12 * x.sum()
        assert u.shape == x.shape
    # free space ('full' with zeros outside) is exact diffusion: mass conserved too
    v = diffuse(x, p, 4, mode="full", boundary="fill")
    assert v.shape == tuple(n + 4 * (k - 1) for n, k in zip(x.shape, kshape))
    assert abs(v.sum() - x.sum()) <= 1e-12 * x.sum()
    # an absorbing wall ('fill' in 'same') loses mass: the check above can fail
    assert diffuse(x, p, 25, boundary="fill").sum() < 0.99 * x.sum()


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4), (4, 1)])
def test_diffuse_every_step_matches_repeated_oracle(boundary, kshape):
    rng = np.random.default_rng(3)
    x = rng.random((6, 7))
    p = normalize(rng.normal(size=kshape))
    frames = diffuse(x, p, 4, boundary=boundary, return_all=True)
    assert frames.shape == (5, 6, 7)
    expected = x
    np.testing.assert_array_equal(frames[0], x)
    for n in range(1, 5):
        expected = same_oracle(expected, p, boundary)
        np.testing.assert_allclose(frames[n], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(diffuse(x, p, 4, boundary=boundary), expected, rtol=1e-12)
    # the lazy form yields the same frames, without end when steps=None
    lazy = list(itertools.islice(iter_diffuse(x, p, boundary=boundary), 5))
    np.testing.assert_allclose(np.stack(lazy), frames, rtol=1e-15, atol=0)


def test_diffuse_zero_steps_and_aliases():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(diffuse(x, np.ones((3, 3)) / 9, 0), x)
    a = diffuse(x, np.ones((3, 3)) / 9, 2, boundary="circular")
    b = diffuse(x, np.ones((3, 3)) / 9, 2, boundary="wrap")
    np.testing.assert_array_equal(a, b)


def test_diffuse_bad_input(monkeypatch):
    x, p = np.ones((5, 5)), np.ones((3, 3)) / 9
    with pytest.raises(ConvolabError, match="steps"):
        diffuse(x, p, -1)
    with pytest.raises(ConvolabError, match="steps"):
        diffuse(x, p, 2.5)
    with pytest.raises(ConvolabError, match="mode='valid' is not one of"):
        diffuse(x, p, 2, mode="valid")
    with pytest.raises(ConvolabError, match="boundary='fill'"):
        diffuse(x, p, 2, mode="full")           # default boundary='wrap'
    with pytest.raises(ConvolabError, match="iter_diffuse"):
        diffuse(x, p, 2, mode="full", boundary="fill", return_all=True)
    with pytest.raises(ConvolabError, match="boundary='bogus'"):
        diffuse(x, p, 2, boundary="bogus")
    with pytest.raises(ConvolabError, match="same number of dimensions"):
        diffuse(x, np.ones(3) / 3, 2)
    monkeypatch.setattr(pg, "_MAX_STACK_BYTES", 1000)
    with pytest.raises(ConvolabError, match="iter_diffuse"):
        diffuse(x, p, 10, return_all=True)      # 11 * 25 * 8 bytes > 1000


# ---------------------------------------------------------------------------
# heat kernel


@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.5])
def test_heat_kernel_is_ndimage_gaussian(sigma):
    t = sigma ** 2 / 2                      # D = 1: sigma = sqrt(2 D t)
    g = heat_kernel(t)
    delta = np.zeros((41, 41))
    delta[20, 20] = 1
    ref = ndimage.gaussian_filter(delta, sigma, mode="constant")
    support = np.argwhere(ref > 0)
    assert g.shape == tuple(support.max(0) - support.min(0) + 1)     # same radius rule
    r = g.shape[0] // 2
    np.testing.assert_allclose(g, ref[20 - r:21 + r, 20 - r:21 + r], rtol=1e-13, atol=1e-17)
    # diffusivity and time enter only through D * t
    np.testing.assert_allclose(heat_kernel(t / 4, diffusivity=4.0), g, rtol=1e-15)


def test_heat_kernel_shapes():
    assert heat_kernel(1.0, ndim=3).shape == (13, 13, 13)          # r = int(4*sqrt(2)+.5)
    assert heat_kernel(1.0, shape=(5, 7, 3)).shape == (5, 7, 3)
    assert heat_kernel(1.0, shape=5, ndim=1).shape == (5,)
    g = heat_kernel(2.0, shape=(7, 11))
    assert abs(g.sum() - 1) < 1e-15
    np.testing.assert_allclose(g, g[::-1, ::-1], rtol=1e-15)
    one_d = heat_kernel(2.0, shape=11, ndim=1)
    np.testing.assert_allclose(g, np.outer(heat_kernel(2.0, shape=7, ndim=1), one_d), rtol=1e-14)
    delta = heat_kernel(0.0, shape=(3, 5))
    assert delta[1, 2] == 1 and delta.sum() == 1
    assert heat_kernel(5.0, diffusivity=0).shape == (1, 1)


@pytest.mark.parametrize("t, kwargs, match", [
    (-1.0, {}, "t=-1.0"),
    (np.nan, {}, "t=nan"),
    (1.0, {"diffusivity": -2}, "diffusivity"),
    (1.0, {"shape": 4}, "odd"),
    (1.0, {"shape": (5, 6)}, "odd"),
    (1.0, {"shape": (5, 5), "ndim": 3}, "ndim=3"),
    (1.0, {"shape": 0}, "shape"),
    (1.0, {"ndim": 0}, "ndim"),
    ("1", {}, "real number"),
])
def test_heat_kernel_bad_input(t, kwargs, match):
    with pytest.raises(ConvolabError, match=match):
        heat_kernel(t, **kwargs)


@pytest.mark.parametrize("t1, t2, tol", [(0.5, 0.5, 5e-4), (1.0, 2.0, 1e-4), (2.0, 4.5, 2e-4),
                                         (0.25, 1.0, 3e-3)])
def test_heat_kernel_semigroup(t1, t2, tol):
    # tolerance (relative to the peak): sampling aliasing ~exp(-pi^2 sigma^2 / 2)
    # plus tail truncation ~exp(-8); measured 2.2e-4, 4.1e-5, 9.2e-5, 1.3e-3
    a, b = heat_kernel(t1), heat_kernel(t2)
    both = convolab.convolve(a, b)             # full: nothing cut off
    one = heat_kernel(t1 + t2, shape=both.shape)
    assert np.abs(both - one).max() <= tol * one.max()
    assert abs(both.sum() - 1) < 1e-13
    # the semigroup is not trivially true: a wrong time is far off
    wrong = heat_kernel(t1 + t2 + 0.5, shape=both.shape)
    assert np.abs(both - wrong).max() > 20 * tol * one.max()


@pytest.mark.parametrize("sigma, steps", [(1.0, 4), (2.0, 4), (1.5, 9)])
def test_n_gaussian_steps_are_one_gaussian_of_sigma_sqrt_n(sigma, steps):
    rng = np.random.default_rng(4)
    x = rng.random((64, 64))
    u = diffuse(x, heat_kernel(sigma ** 2 / 2), steps, boundary="wrap")
    ref = ndimage.gaussian_filter(x, sigma * np.sqrt(steps), mode="wrap")
    # measured max |difference| 8e-6 on values in [0, 1]
    assert np.abs(u - ref).max() < 5e-5
    assert np.abs(x - ref).max() > 0.1          # (the filter does change x)


def test_point_source_matches_analytic_heat_equation():
    # u_t = D (u_xx + u_yy), u(0) = delta: u(t) = exp(-r^2 / 4Dt) / (4 pi D t)
    d, dt, steps, n = 0.5, 1.0, 8, 81
    x = np.zeros((n, n))
    x[n // 2, n // 2] = 1
    u = diffuse(x, heat_kernel(dt, d), steps, boundary="fill")
    t = steps * dt
    r = np.arange(n) - n // 2
    analytic = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (4 * d * t)) / (4 * np.pi * d * t)
    assert np.abs(u - analytic).max() < 2e-4 * analytic.max()     # measured 4.0e-5
    # the second moment grows like 2 D t per axis (Einstein's relation)
    var_x = (u.sum(axis=1) * r ** 2).sum()
    assert abs(var_x - 2 * d * t) < 1e-3 * 2 * d * t


# ---------------------------------------------------------------------------
# stochastic convolution


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4), (1, 3), (4, 5)])
def test_delta_kernels_pin_orientation_and_centring(boundary, kshape):
    """A kernel with one 1 makes every draw the same neighbour, so a single
    sample must already equal the convolution: this pins the flip and the
    'same' centring of odd and even kernels for every tap and boundary."""
    rng = np.random.default_rng(5)
    x = rng.random((5, 6))
    for j in np.ndindex(kshape):
        p = np.zeros(kshape)
        p[j] = 1
        got = stochastic_convolve(x, p, 1, rng=j[0] * 10 + j[1], boundary=boundary)
        np.testing.assert_allclose(got, same_oracle(x, p, boundary), rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(got, convolab.convolve(x, p, mode="same", boundary=boundary),
                                   rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("boundary", ["wrap", "symm", "reflect", "nearest"])
def test_kernel_larger_than_image(boundary):
    x = np.random.default_rng(16).random((3, 4))
    for j in [(0, 0), (2, 7), (5, 3), (4, 8)]:
        p = np.zeros((6, 9))
        p[j] = 1
        np.testing.assert_allclose(stochastic_convolve(x, p, 1, boundary=boundary),
                                   same_oracle(x, p, boundary), rtol=1e-15, atol=1e-15)
    p = normalize(np.random.default_rng(17).random((6, 9)), "l1")
    mean = stochastic_convolve(x, p, 20000, rng=1, boundary=boundary)
    sd = np.sqrt(brute_variance(x, p, boundary) / 20000)
    assert np.abs(mean - same_oracle(x, p, boundary)).max() < 5 * sd.max()


def test_diffuse_does_not_alias_the_input():
    x = np.ones((4, 4))
    u = diffuse(x, np.ones((3, 3)) / 9, 0)
    u[0, 0] = 5
    assert x[0, 0] == 1


def test_delta_kernels_1d_and_3d():
    x = np.arange(7.0)
    np.testing.assert_array_equal(stochastic_convolve(x, [0, 0, 1.0], 3), np.roll(x, 1))
    np.testing.assert_array_equal(stochastic_convolve(x, [1.0, 0, 0], 3), np.roll(x, -1))
    x3 = np.random.default_rng(6).random((3, 4, 5))
    p = np.zeros((2, 3, 2))
    p[1, 0, 1] = 1
    np.testing.assert_allclose(stochastic_convolve(x3, p, 2, boundary="reflect"),
                               same_oracle(x3, p, "reflect"), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4)])
def test_mean_converges_to_convolve(boundary, kshape):
    rng = np.random.default_rng(7)
    x = rng.random((10, 9))
    p = normalize(rng.normal(size=kshape))
    n = 4000
    mean = stochastic_convolve(x, p, n, rng=11, boundary=boundary)
    exact = same_oracle(x, p, boundary)
    sd = np.sqrt(brute_variance(x, p, boundary) / n)
    z = (mean - exact) / sd
    # each pixel within 5 standard errors, and the z-scores have unit spread
    assert np.abs(z).max() < 5
    assert 0.8 < np.sqrt(np.mean(z ** 2)) < 1.2
    # and the mean is biased towards nothing: the average z is near 0
    assert abs(z.mean()) < 4 / np.sqrt(z.size)


def test_complex_image_converges():
    rng = np.random.default_rng(8)
    x = rng.random((8, 8)) + 1j * rng.random((8, 8))
    p = normalize(rng.random((3, 2)), "l1")
    mean, err = stochastic_convolve(x, p, 3000, rng=3, return_error=True)
    assert mean.dtype == np.complex128 and err.dtype == np.float64
    exact = same_oracle(x, p, "wrap")
    assert np.abs(mean - exact).max() < 5 * err.max()


def test_error_falls_like_one_over_sqrt_n():
    rng = np.random.default_rng(9)
    x = rng.random((32, 32))
    p = normalize(rng.random((3, 4)), "l1")
    ns = 2 ** np.arange(4, 13)                  # 16 .. 4096
    rms = monte_carlo_error(x, p, ns, rng=2024)
    slope = np.polyfit(np.log(ns), np.log(rms), 1)[0]
    assert abs(slope + 0.5) < 0.1               # measured -0.494
    var = brute_variance(x, p, "wrap")
    predicted = np.sqrt(var.mean() / ns)
    ratio = rms / predicted
    assert np.all(np.abs(ratio - 1) < 0.2)      # measured 0.985 .. 1.039
    np.testing.assert_allclose(draw_variance(x, p), var, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
def test_draw_variance_matches_brute_force(boundary):
    rng = np.random.default_rng(10)
    x = rng.random((6, 7)) + 100                 # an offset tests the cancellation guard
    p = normalize(rng.normal(size=(2, 3)))
    np.testing.assert_allclose(draw_variance(x, p, boundary=boundary),
                               brute_variance(x, p, boundary), rtol=1e-10, atol=1e-14)


def test_return_error_estimates_the_spread():
    rng = np.random.default_rng(12)
    x = rng.random((24, 24))
    p = normalize(rng.random((3, 3)), "l1")
    n = 400
    mean, err = stochastic_convolve(x, p, n, rng=5, return_error=True, boundary="symm")
    true_sd = np.sqrt(brute_variance(x, p, "symm") / n)
    assert abs(np.median(err / true_sd) - 1) < 0.05
    exact = same_oracle(x, p, "symm")
    covered = np.mean(np.abs(mean - exact) < 1.96 * err)
    assert 0.92 < covered < 0.98                 # a 95 % interval covers ~95 %
    _, err1 = stochastic_convolve(x, p, 1, rng=5, return_error=True)
    assert np.isnan(err1).all()


def test_reproducible_with_a_seed():
    rng = np.random.default_rng(13)
    x = rng.random((7, 7))
    p = normalize(rng.random((3, 3)), "l1")
    a = stochastic_convolve(x, p, 50, rng=42)
    b = stochastic_convolve(x, p, 50, rng=42)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, stochastic_convolve(x, p, 50, rng=43))
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    first = stochastic_convolve(x, p, 50, rng=g1)
    np.testing.assert_array_equal(first, stochastic_convolve(x, p, 50, rng=g2))
    assert not np.array_equal(first, stochastic_convolve(x, p, 50, rng=g1))   # g1 advanced
    e1 = monte_carlo_error(x, p, [10, 100], rng=1)
    np.testing.assert_array_equal(e1, monte_carlo_error(x, p, [10, 100], rng=1))
    stochastic_convolve(x, p, 5)                 # rng=None: fresh entropy, still runs


def test_batching_does_not_change_the_draws(monkeypatch):
    x = np.random.default_rng(14).random((6, 5))
    p = normalize(np.arange(6.0).reshape(2, 3), "l1")
    big = stochastic_convolve(x, p, 37, rng=3)
    monkeypatch.setattr(pg, "_BATCH_ELEMENTS", 7)       # one sample per batch
    np.testing.assert_array_equal(stochastic_convolve(x, p, 37, rng=3), big)


def test_memory_stays_bounded():
    x = np.random.default_rng(15).random((64, 64))
    p = normalize(np.ones((3, 3)), "l1")
    samples = 3000                               # samples x image = 98 MB of float64
    tracemalloc.start()
    try:
        stochastic_convolve(x, p, samples, rng=0, return_error=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 * 2 ** 20, peak             # a few batches of 2**18 values


def test_non_finite_pixels_reach_only_the_draws_that_pick_them():
    x = np.zeros(7)
    x[3] = np.inf
    x[5] = np.nan
    out = stochastic_convolve(x, [0.0, 0.0, 1.0], 2)      # a shift right by one
    # (the exact convolution gives NaN over the footprint, 0 * inf included)
    np.testing.assert_array_equal(out, np.roll(x, 1))
    assert np.isinf(out[4]) and np.isnan(out[6]) and (out[[0, 1, 2, 3, 5]] == 0).all()


def test_empty_image():
    out = stochastic_convolve(np.zeros((0, 4)), np.ones((1, 1)), 3)
    assert out.shape == (0, 4)


@pytest.mark.parametrize("kernel, kwargs, match", [
    (np.array([[0.5, -0.1], [0.3, 0.3]]), {}, r"negative.*how='softmax'"),
    (np.array([[1.0, 1.0], [1.0, 1.0]]), {}, r"sums to 4.0.*how='l1'"),
    (np.array([[0.5, 0.5 + 1e-8], [0, 0]]), {}, r"how='l1'"),
    (np.array([[0.5, np.nan], [0.5, 0]]), {}, "NaN"),
    (np.array([[0.5, np.inf], [0.5, 0]]), {}, "infinite"),
    (np.array([[0.5, 0.5j], [0, 0]]), {}, "complex"),
    (np.ones(4) / 4, {}, "same number of dimensions"),
    (np.ones((2, 2)) / 4, {"samples": 0}, "samples=0"),
    (np.ones((2, 2)) / 4, {"samples": 2.0}, "samples=2.0"),
    (np.ones((2, 2)) / 4, {"rng": "seed"}, "rng='seed'"),
    (np.ones((2, 2)) / 4, {"boundary": "torus"}, "boundary='torus'"),
    (np.ones((2, 2)) / 4, {"return_error": "yes"}, "return_error"),
])
def test_bad_kernels_and_arguments_raise(kernel, kwargs, match):
    args = {"samples": 4, **kwargs}
    with pytest.raises(ConvolabError, match=match):
        stochastic_convolve(np.ones((5, 5)), kernel, args.pop("samples"), **args)


def test_kernel_within_tolerance_is_accepted():
    p = np.array([0.25, 0.5, 0.25 + 5e-10])       # sums to 1 within 1e-9
    out = stochastic_convolve(np.ones(5), p, 3, rng=0)
    np.testing.assert_allclose(out, 1.0, rtol=1e-15)
    p32 = normalize(np.arange(9.0).reshape(3, 3)).astype(np.float32)
    stochastic_convolve(np.ones((4, 4)), p32, 2, rng=0)    # float32 rounding is fine


def test_monte_carlo_error_bad_samples_list():
    x, p = np.ones((4, 4)), np.ones((2, 2)) / 4
    for bad in ([], [0, 10], [1.5], 10):
        with pytest.raises(ConvolabError, match="samples_list"):
            monte_carlo_error(x, p, bad)


def test_seed_softmax_edge_detector_reading():
    """The seed's example: softmax an edge detector, then the average over
    draws of a random neighbour is the convolution with that propagator."""
    edge = np.array([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    p = normalize(edge)
    img = np.zeros((12, 12))
    img[:, 6:] = 1.0                               # a vertical edge
    mean = stochastic_convolve(img, p, 2000, rng=0, boundary="nearest")
    exact = convolab.convolve(img, p, mode="same", boundary="nearest")
    sd = np.sqrt(draw_variance(img, p, boundary="nearest") / 2000)
    assert np.all(np.abs(mean - exact) <= 5 * sd + 1e-15)
    # away from the edge every draw returns the same value: no randomness
    np.testing.assert_array_equal(mean[:, :4], 0)
    np.testing.assert_allclose(mean[:, 8:], 1.0, rtol=0, atol=1e-15)
