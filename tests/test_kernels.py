"""convolab.kernels against the libraries each kernel comes from.

Oracles: scipy.ndimage (gaussian_filter, uniform_filter, sobel, prewitt,
laplace, gaussian_laplace, correlate1d), OpenCV (Sobel, Scharr, Laplacian,
getGaussianKernel, filter2D), scikit-image (difference_of_gaussians,
gabor_kernel, gabor, scharr) and brute-force numpy written here.  Every
filtering comparison runs the kernel through ``convolab.correlate`` (or
``convolve``) so the planner picks the algorithm.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

import convolab
from convolab import kernels as K
from convolab.errors import ConvolabError

# convolab boundary -> scipy.ndimage mode (the table in convolab.boundary)
NDIMAGE_MODE = {"fill": "constant", "symm": "reflect", "reflect": "mirror",
                "nearest": "nearest", "wrap": "wrap"}
BOUNDARIES = list(NDIMAGE_MODE)


def corr(x, k, boundary="fill"):
    return convolab.correlate(x, k, mode="same", boundary=boundary)


def image(rng, shape):
    return rng.standard_normal(shape)


# ---------------------------------------------------------------------------
# Gaussian family


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("sigma, order, truncate", [
    (1.0, 0, 4.0), (1.7, 0, 3.0), ((0.6, 2.2), 0, 4.0), (1.3, 1, 4.0),
    ((1.5, 0.9), (0, 2), 4.0), (1.2, (1, 3), 2.5), ((0.0, 1.5), (0, 1), 4.0),
])
def test_gaussian_2d_matches_gaussian_filter(rng, boundary, sigma, order, truncate):
    x = image(rng, (21, 26))
    got = corr(x, K.gaussian(sigma, order=order, truncate=truncate), boundary)
    want = ndimage.gaussian_filter(x, sigma, order=order, mode=NDIMAGE_MODE[boundary],
                                   truncate=truncate)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sigma, order", [(0.8, 0), (2.5, 0), (1.4, 1), (1.4, 2), (1.1, 3)])
def test_gaussian_1d_matches_gaussian_filter1d(rng, sigma, order):
    x = image(rng, 60)
    got = corr(x, K.gaussian(sigma, ndim=1, order=order))
    want = ndimage.gaussian_filter1d(x, sigma, order=order, mode="constant")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("boundary", ["fill", "symm"])
def test_gaussian_3d_matches_gaussian_filter(rng, boundary):
    x = image(rng, (9, 11, 10))
    sigma, order = (0.7, 1.0, 1.3), (0, 1, 0)
    got = corr(x, K.gaussian(sigma, ndim=3, order=order), boundary)
    want = ndimage.gaussian_filter(x, sigma, order=order, mode=NDIMAGE_MODE[boundary])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sigma, truncate", [(0.5, 4.0), (1.0, 4.0), (2.0, 4.0), (3.3, 4.0),
                                             (1.26, 2.0), (0.1, 4.0), (0.0, 4.0)])
def test_gaussian_radius_and_sum(sigma, truncate):
    g = K.gaussian(sigma, ndim=1, truncate=truncate)
    radius = int(truncate * sigma + 0.5)          # ndimage's rule, written out
    assert g.shape == (2 * radius + 1,)
    assert g.dtype == np.float64
    assert abs(g.sum() - 1.0) < 1e-14
    np.testing.assert_array_equal(g, g[::-1])


def test_gaussian_matches_opencv_kernel():
    cv2 = pytest.importorskip("cv2")
    for sigma in (1.0, 2.0, 3.3):                 # 9, 17, 27 taps in every library
        g = K.gaussian(sigma, ndim=1)
        ref = cv2.getGaussianKernel(g.size, sigma, ktype=cv2.CV_64F).ravel()
        np.testing.assert_allclose(g, ref, rtol=0, atol=1e-15)
    g2 = K.gaussian((1.0, 2.0))
    ref2 = np.outer(cv2.getGaussianKernel(9, 1.0, ktype=cv2.CV_64F),
                    cv2.getGaussianKernel(17, 2.0, ktype=cv2.CV_64F))
    np.testing.assert_allclose(g2, ref2, rtol=0, atol=1e-15)


def test_gaussian_derivative_is_positive_on_a_rising_ramp():
    ramp = np.arange(30.0)
    d = corr(ramp, K.gaussian(1.5, ndim=1, order=1), "nearest")
    # a Gaussian derivative of a unit-slope ramp is ~1 away from the ends (sampling and
    # truncation at 4 sigma leave 2e-4)
    np.testing.assert_allclose(d[8:-8], 1.0, atol=1e-3)


def test_gaussian_273_is_the_seed_kernel():
    row = [1, 4, 7, 4, 1]
    seed = np.array([row, [4, 16, 26, 16, 4], [7, 26, 41, 26, 7], [4, 16, 26, 16, 4], row])
    np.testing.assert_array_equal(K.gaussian_273() * 273, seed)
    assert seed.sum() == 273


def test_gaussian_273_is_close_to_a_gaussian_of_sigma_1():
    from scipy.special import erf
    seed = K.gaussian_273()
    # independent oracles, by hand: the Gaussian sampled at the pixel centres, cut to 5x5 ...
    x = np.arange(-2, 3)
    sampled = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / 2.0)
    sampled /= sampled.sum()
    np.testing.assert_allclose(K.gaussian(1.0, truncate=2.0), sampled, rtol=0, atol=1e-15)
    assert 0.011 < np.abs(seed - sampled).max() < 0.0125          # measured 0.01192
    # ... and integrated over each pixel, which the /273 weights follow more closely
    edges = erf(np.arange(-2.5, 3.0) / math.sqrt(2)) / 2
    integrated = np.outer(np.diff(edges), np.diff(edges))
    integrated /= integrated.sum()
    assert np.abs(seed - integrated).max() < 0.002                  # measured 0.00185
    # the sampled Gaussian closest to it has sigma ~1.048
    sigmas = np.linspace(0.9, 1.2, 301)
    errors = [np.abs(K.gaussian(s, truncate=2.0 / s) - seed).max() for s in sigmas]
    assert 1.03 < sigmas[int(np.argmin(errors))] < 1.06


# ---------------------------------------------------------------------------
# box, sharpen, emboss


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("size", [1, 3, 5, (3, 7), 2, 4, (2, 5)])
def test_box_matches_uniform_filter(rng, boundary, size):
    x = image(rng, (17, 19))
    got = corr(x, K.box(size), boundary)
    want = ndimage.uniform_filter(x, size, mode=NDIMAGE_MODE[boundary])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("ndim, size", [(1, 5), (3, 3), (3, (1, 3, 5))])
def test_box_nd(rng, ndim, size):
    k = K.box(size, ndim=ndim)
    assert k.ndim == ndim and abs(k.sum() - 1) < 1e-14 and np.ptp(k) == 0
    x = image(rng, (8,) * ndim)
    np.testing.assert_allclose(corr(x, k, "nearest"),
                               ndimage.uniform_filter(x, size, mode="nearest"), atol=1e-12)


def test_sharpen_is_identity_minus_laplacian(rng):
    x = image(rng, (12, 13))
    got = corr(x, K.sharpen(), "symm")
    want = x - ndimage.laplace(x, mode="reflect")
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_emboss_weights_and_filter2d():
    cv2 = pytest.importorskip("cv2")
    k = K.emboss()
    np.testing.assert_array_equal(k, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    np.testing.assert_array_equal(k, -k[::-1, ::-1] + 2 * (np.arange(9) == 4).reshape(3, 3))
    x = np.random.default_rng(5).random((10, 12))
    want = cv2.filter2D(x, cv2.CV_64F, k, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(corr(x, k, "reflect"), want, atol=1e-12)


# ---------------------------------------------------------------------------
# derivative kernels


@pytest.mark.parametrize("name", ["sobel", "prewitt"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("boundary", ["fill", "symm", "reflect", "nearest"])
def test_sobel_prewitt_match_ndimage(rng, name, ndim, boundary):
    shape = {1: (31,), 2: (13, 15), 3: (7, 8, 9)}[ndim]
    x = image(rng, shape)
    oracle = getattr(ndimage, name)
    for axis in range(-ndim, ndim):
        got = corr(x, K.get_kernel(name, axis=axis, ndim=ndim), boundary)
        want = oracle(x, axis, mode=NDIMAGE_MODE[boundary])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


CV2_BORDERS = {"reflect": "BORDER_REFLECT_101", "symm": "BORDER_REFLECT",
               "nearest": "BORDER_REPLICATE", "fill": "BORDER_CONSTANT"}


@pytest.mark.parametrize("boundary", list(CV2_BORDERS))
def test_sobel_scharr_match_opencv(rng, boundary):
    cv2 = pytest.importorskip("cv2")
    x = image(rng, (16, 19))
    border = getattr(cv2, CV2_BORDERS[boundary])
    for axis, (dx, dy) in ((1, (1, 0)), (0, (0, 1)), (-1, (1, 0))):
        want = cv2.Sobel(x, cv2.CV_64F, dx, dy, ksize=3, borderType=border)
        np.testing.assert_allclose(corr(x, K.sobel(axis), boundary), want, atol=1e-12)
        want = cv2.Scharr(x, cv2.CV_64F, dx, dy, borderType=border)
        np.testing.assert_allclose(corr(x, K.scharr(axis), boundary), want, atol=1e-12)


def test_sobel_scharr_kernels_equal_opencv_deriv_kernels():
    cv2 = pytest.importorskip("cv2")
    for fn, ksize in ((K.sobel, 3), (K.scharr, cv2.FILTER_SCHARR)):
        kx, ky = cv2.getDerivKernels(1, 0, ksize, ktype=cv2.CV_64F)   # d/dx
        # cv2.Sobel is sepFilter2D(kx along x, ky along y), a correlation
        np.testing.assert_array_equal(fn(axis=1), np.outer(ky.ravel(), kx.ravel()))
        kx, ky = cv2.getDerivKernels(0, 1, ksize, ktype=cv2.CV_64F)   # d/dy
        np.testing.assert_array_equal(fn(axis=0), np.outer(ky.ravel(), kx.ravel()))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_scharr_nd_matches_separable_passes_and_skimage(rng, ndim):
    shape = {1: (25,), 2: (11, 13), 3: (6, 7, 8)}[ndim]
    x = image(rng, shape)
    skf = pytest.importorskip("skimage.filters")
    for axis in range(ndim):
        want = x
        for ax in range(ndim):   # the kernel's definition as 1-D ndimage passes
            weights = [-1.0, 0.0, 1.0] if ax == axis else [3.0, 10.0, 3.0]
            want = ndimage.correlate1d(want, weights, axis=ax, mode="reflect")
        got = corr(x, K.scharr(axis, ndim=ndim), "symm")
        np.testing.assert_allclose(got, want, atol=1e-11)
        if ndim >= 2:   # skimage normalises by 16 per smoothing axis
            sk = skf.scharr(x, axis=axis, mode="reflect")
            np.testing.assert_allclose(got / 16 ** (ndim - 1), sk, atol=1e-12)


def test_derivative_sign_and_convolve_flip(rng):
    ramp = np.add.outer(np.zeros(9), np.arange(9.0))       # rises along axis 1
    for fn in (K.sobel, K.scharr, K.prewitt):
        k = fn(axis=1)
        c = corr(ramp, k, "nearest")
        assert (c[2:-2, 2:-2] > 0).all()
        assert (corr(ramp, fn(axis=0), "nearest") == 0).all()
        # convolve reverses the kernel: an antisymmetric kernel changes sign
        x = image(rng, (9, 10))
        np.testing.assert_allclose(convolab.convolve(x, k, mode="same"),
                                   -corr(x, k), atol=1e-12)


# ---------------------------------------------------------------------------
# Laplacians


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_laplacian_matches_ndimage_laplace(rng, ndim, boundary):
    x = image(rng, {1: (20,), 2: (10, 12), 3: (6, 7, 5)}[ndim])
    got = corr(x, K.laplacian(ndim=ndim), boundary)
    np.testing.assert_allclose(got, ndimage.laplace(x, mode=NDIMAGE_MODE[boundary]),
                               atol=1e-12)


def test_laplacian_matches_opencv_ksize1(rng):
    cv2 = pytest.importorskip("cv2")
    x = image(rng, (14, 11))
    want = cv2.Laplacian(x, cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(corr(x, K.laplacian(), "reflect"), want, atol=1e-12)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_laplacian_diagonal_is_sum_over_all_neighbours(rng, ndim):
    x = image(rng, (7,) * ndim)
    xp = np.pad(x, 1)
    want = np.zeros_like(x)
    for offset in np.ndindex(*(3,) * ndim):      # every neighbour, brute force
        if offset == (1,) * ndim:
            continue
        want += xp[tuple(slice(o, o + 7) for o in offset)] - x
    np.testing.assert_allclose(corr(x, K.laplacian(ndim=ndim, diagonal=True)), want,
                               atol=1e-12)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("sigma, ndim, truncate", [
    (1.0, 2, 4.0), ((0.8, 1.6), 2, 4.0), (1.3, 2, 2.5), (1.2, 1, 4.0), (0.9, 3, 3.0)])
def test_laplacian_of_gaussian_matches_gaussian_laplace(rng, boundary, sigma, ndim, truncate):
    x = image(rng, {1: (40,), 2: (19, 22), 3: (10, 11, 9)}[ndim])
    got = corr(x, K.get_kernel("log", sigma=sigma, ndim=ndim, truncate=truncate), boundary)
    want = ndimage.gaussian_laplace(x, sigma, mode=NDIMAGE_MODE[boundary], truncate=truncate)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_laplacian_of_gaussian_approaches_the_continuous_log():
    # the analytic LoG (x^2 + y^2 - 2 s^2)/s^4 * G, normalised like the sampled one
    s = 3.0
    k = K.laplacian_of_gaussian(s)
    r = (k.shape[0] - 1) // 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1].astype(float)
    g = np.exp(-(x ** 2 + y ** 2) / (2 * s * s))
    analytic = (x ** 2 + y ** 2 - 2 * s * s) / s ** 4 * g / g.sum()
    assert np.abs(k - analytic).max() < 1e-9 * np.abs(analytic).max() + 1e-12


@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant"])
@pytest.mark.parametrize("low, high", [(1.0, None), (0.8, 2.5), ((1.0, 0.6), (2.0, 1.5))])
def test_difference_of_gaussians_matches_skimage(rng, mode, low, high):
    skf = pytest.importorskip("skimage.filters")
    boundary = {"nearest": "nearest", "reflect": "symm", "constant": "fill"}[mode]
    x = rng.random((24, 21))
    got = corr(x, K.difference_of_gaussians(low, high), boundary)
    want = skf.difference_of_gaussians(x, low, high, mode=mode)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_difference_of_gaussians_default_high_is_1_6_low():
    k = K.difference_of_gaussians(1.5)
    g_low, g_high = K.gaussian(1.5), K.gaussian(1.6 * 1.5)
    p = (g_high.shape[0] - g_low.shape[0]) // 2
    np.testing.assert_allclose(k, np.pad(g_low, p) - g_high, atol=0)
    assert abs(k.sum()) < 1e-14


# ---------------------------------------------------------------------------
# motion blur


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 7.5, 9, 15])
@pytest.mark.parametrize("angle", [0, 10, 30, 45, 60, 90, 135, 200, -33])
def test_motion_blur_sum_symmetry_centre(length, angle):
    k = K.motion_blur(length, angle)
    assert k.dtype == np.float64 and k.ndim == 2
    assert k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1
    assert abs(k.sum() - 1) < 1e-14 and (k >= 0).all()
    np.testing.assert_array_equal(k, k[::-1, ::-1])
    # centroid on the central pixel: no shift under mode='same'
    rows, cols = np.indices(k.shape)
    assert abs((k * rows).sum() - (k.shape[0] - 1) / 2) < 1e-12
    assert abs((k * cols).sum() - (k.shape[1] - 1) / 2) < 1e-12
    # second moment along the direction is that of a uniform segment (L^2 / 12 + pixel blur)
    t = math.radians(angle)
    u = (cols - (k.shape[1] - 1) / 2) * math.cos(t) - (rows - (k.shape[0] - 1) / 2) * math.sin(t)
    spread = (k * u ** 2).sum()
    assert abs(spread - length ** 2 / 12) < 0.35


@pytest.mark.parametrize("length", [1, 3, 5, 9])
def test_motion_blur_axis_aligned_is_a_box(length):
    np.testing.assert_allclose(K.motion_blur(length, 0.0), K.box((1, length)), atol=1e-16)
    np.testing.assert_allclose(K.motion_blur(length, 180.0), K.box((1, length)), atol=1e-16)
    np.testing.assert_allclose(K.motion_blur(length, 90.0), K.box((length, 1)), atol=1e-16)


@pytest.mark.parametrize("length, angle", [(5, 45), (7, 30), (6, 120), (11, 77)])
def test_motion_blur_matches_sampled_line(length, angle):
    # oracle: a million points spread evenly along the segment, binned into pixels
    k = K.motion_blur(length, angle)
    h, w = k.shape
    t = (np.arange(1_000_000) + 0.5) / 1_000_000 - 0.5
    th = math.radians(angle)
    xs = t * length * math.cos(th) + (w - 1) / 2
    ys = -t * length * math.sin(th) + (h - 1) / 2
    hist = np.zeros_like(k)
    np.add.at(hist, (np.floor(ys + 0.5).astype(int), np.floor(xs + 0.5).astype(int)), 1.0)
    hist /= hist.sum()
    np.testing.assert_allclose(k, hist, atol=1e-5)


def test_motion_blur_angle_direction():
    k = K.motion_blur(5, 45)            # lower left to upper right, as displayed
    assert k[0, -1] > 0 and k[-1, 0] > 0 and k[0, 0] == 0 and k[-1, -1] == 0


# ---------------------------------------------------------------------------
# Gabor


GABOR_CASES = [
    dict(frequency=0.2), dict(frequency=0.1, theta=0.7), dict(frequency=0.3, theta=2.0,
                                                              bandwidth=0.6),
    dict(frequency=0.15, theta=1.1, sigma_x=2.0, sigma_y=4.5, offset=0.5),
    dict(frequency=0.25, n_stds=2, sigma_x=1.5), dict(frequency=0.4, theta=-0.3, n_stds=4.5),
]


@pytest.mark.parametrize("params", GABOR_CASES)
def test_gabor_matches_skimage_gabor_kernel(params):
    skf = pytest.importorskip("skimage.filters")
    want = skf.gabor_kernel(**params)
    got_c = K.gabor(**params, return_complex=True)
    assert got_c.dtype == np.complex128 and got_c.shape == want.shape
    np.testing.assert_allclose(got_c, want, rtol=0, atol=1e-12)
    got = K.gabor(**params)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want.real, rtol=0, atol=1e-12)


@pytest.mark.parametrize("params", GABOR_CASES[:4])
def test_gabor_filtering_matches_skimage_gabor(rng, params):
    skf = pytest.importorskip("skimage.filters")
    x = rng.random((30, 27))
    real, imag = skf.gabor(x, mode="reflect", **params)
    k = K.gabor(**params, return_complex=True)
    # skimage.filters.gabor convolves (ndimage.convolve) with the kernel
    np.testing.assert_allclose(convolab.convolve(x, k.real, mode="same", boundary="symm"),
                               real, atol=1e-12)
    np.testing.assert_allclose(convolab.convolve(x, k.imag, mode="same", boundary="symm"),
                               imag, atol=1e-12)


# ---------------------------------------------------------------------------
# names, specs, listing, errors


def test_every_kernel_is_float64_fresh_and_finite():
    for name, info in K.available_kernels().items():
        needed = {p: 3 if p != "frequency" else 0.2
                  for p, d in info.parameters.items() if d is K.REQUIRED}
        a = K.get_kernel(name, **needed)
        assert a.dtype == np.float64 and np.isfinite(a).all() and a.flags.c_contiguous, name
        a[...] = 99.0                                  # a caller may write into its kernel
        assert not (K.get_kernel(name, **needed) == 99.0).all(), name


@pytest.mark.parametrize("alias, canonical, params", [
    ("log", "laplacian_of_gaussian", dict(sigma=1.2)),
    ("laplacian-of-gaussian", "laplacian_of_gaussian", dict(sigma=1.2)),
    ("Laplacian_Of_Gaussian", "laplacian_of_gaussian", dict(sigma=1.2)),
    ("dog", "difference_of_gaussians", dict(sigma_low=1.0)),
    ("difference-of-gaussians", "difference_of_gaussians", dict(sigma_low=1.0)),
    ("motion-blur", "motion_blur", dict(length=5, angle=30)),
    ("gaussian-273", "gaussian_273", {}), ("mean", "box", dict(size=3)),
    ("laplace", "laplacian", dict(diagonal=True)), ("SOBEL", "sobel", dict(axis=0)),
])
def test_aliases(alias, canonical, params):
    np.testing.assert_array_equal(K.get_kernel(alias, **params),
                                  getattr(K, canonical)(**params))


def test_unknown_name_lists_the_known_names():
    with pytest.raises(ConvolabError) as err:
        K.get_kernel("gausian", sigma=1)
    message = str(err.value)
    assert "'gausian'" in message
    for name in K.available_kernels():
        assert repr(name) in message


def test_unknown_and_missing_parameters():
    with pytest.raises(ConvolabError, match=r"radius=3 is not a parameter of 'gaussian'; "
                                            r"allowed: sigma, ndim, truncate, order"):
        K.get_kernel("gaussian", sigma=1, radius=3)
    with pytest.raises(ConvolabError, match="'gaussian' needs sigma"):
        K.get_kernel("gaussian")


@pytest.mark.parametrize("call, argname", [
    (lambda: K.gaussian(-1.0), "sigma"), (lambda: K.gaussian(float("nan")), "sigma"),
    (lambda: K.gaussian("2"), "sigma"), (lambda: K.gaussian(True), "sigma"),
    (lambda: K.gaussian((1.0, 2.0, 3.0)), "sigma"), (lambda: K.gaussian(1, ndim=0), "ndim"),
    (lambda: K.gaussian(1, ndim=2.0), "ndim"), (lambda: K.gaussian(1, truncate=-1), "truncate"),
    (lambda: K.gaussian(1, order=-1), "order"), (lambda: K.gaussian(1, order=1.5), "order"),
    (lambda: K.gaussian((0.0, 1.0), order=(1, 0)), "order"),
    (lambda: K.box(0), "size"), (lambda: K.box(2.5), "size"),
    (lambda: K.sobel(axis=2), "axis"), (lambda: K.scharr(axis=-3), "axis"),
    (lambda: K.prewitt(axis="x"), "axis"), (lambda: K.laplacian(diagonal="yes"), "diagonal"),
    (lambda: K.laplacian_of_gaussian(0.0), "sigma"),
    (lambda: K.difference_of_gaussians(2.0, 1.0), "sigma_high"),
    (lambda: K.motion_blur(0.5), "length"), (lambda: K.motion_blur(5, float("inf")), "angle"),
    (lambda: K.gabor(0.0), "frequency"), (lambda: K.gabor(0.2, sigma_x=-1), "sigma_x"),
    (lambda: K.gabor(0.2, bandwidth=0), "bandwidth"),
    (lambda: K.gabor(0.2, return_complex=1), "return_complex"),
])
def test_bad_values_name_the_argument(call, argname):
    with pytest.raises(ConvolabError, match=rf"\b{argname}\b"):
        call()


@pytest.mark.parametrize("call", [
    lambda: K.gaussian(1e6, ndim=3), lambda: K.gaussian(1e308, ndim=1), lambda: K.box(10 ** 5),
    lambda: K.laplacian_of_gaussian(1e300), lambda: K.gabor(0.1, sigma_x=1e308), lambda: K.motion_blur(1e9, 30),
    lambda: K.gabor(1e-9), lambda: K.laplacian(ndim=20),
])
def test_huge_kernels_are_refused_before_allocating(call):
    with pytest.raises(ConvolabError, match="taps"):
        call()


@pytest.mark.parametrize("spec, expected", [
    ("gaussian:sigma=2,ndim=2", lambda: K.gaussian(2.0, ndim=2)),
    ("gaussian:sigma=[1,2.5]", lambda: K.gaussian((1.0, 2.5))),
    ("gaussian: sigma = 1.5 , order=(0,1)", lambda: K.gaussian(1.5, order=(0, 1))),
    ("sobel", lambda: K.sobel()), ("sobel:axis=0,ndim=3", lambda: K.sobel(0, ndim=3)),
    ("LoG:sigma=1", lambda: K.laplacian_of_gaussian(1.0)),
    ("laplacian:diagonal=True", lambda: K.laplacian(diagonal=True)),
    ("dog:sigma_low=1,sigma_high=none", lambda: K.difference_of_gaussians(1.0)),
    ("motion_blur:length=7,angle=-30", lambda: K.motion_blur(7, -30.0)),
    ("gabor:frequency=0.2,return_complex=false", lambda: K.gabor(0.2)),
])
def test_parse_kernel_spec(spec, expected):
    np.testing.assert_array_equal(K.parse_kernel_spec(spec), expected())


@pytest.mark.parametrize("spec, match", [
    ("", "spec"), ("gaussian:2", "key=value"), ("gaussian:sigma=1,sigma=2", "twice"),
    ("gaussian:sigma=abc", "sigma='abc'"), ("nope:x=1", "name='nope'"),
    ("sobel:axis=0,size=3", "size=3 is not a parameter"),
])
def test_parse_kernel_spec_errors(spec, match):
    with pytest.raises(ConvolabError, match=match):
        K.parse_kernel_spec(spec)


def test_available_kernels_describes_each_function():
    import inspect
    info = K.available_kernels()
    assert set(info) == {"gaussian", "gaussian_273", "box", "sharpen", "emboss", "sobel",
                         "scharr", "prewitt", "laplacian", "laplacian_of_gaussian",
                         "difference_of_gaussians", "motion_blur", "gabor"}
    for name, item in info.items():
        params = inspect.signature(getattr(K, name)).parameters
        assert list(item.parameters) == list(params)
        for p, default in item.parameters.items():
            want = params[p].default
            assert default is K.REQUIRED if want is inspect.Parameter.empty else default == want
        assert item.description and "\n" not in str(item)
        assert str(item).startswith(item.signature)
    assert info["gaussian"].parameters == {"sigma": K.REQUIRED, "ndim": 2, "truncate": 4.0,
                                           "order": 0}
    assert "log" in info["laplacian_of_gaussian"].aliases
