"""convolab.freq: spectra, frequency masks, frequency filtering, compression and
the convolution theorem, against numpy.fft, scikit-image and loops written here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from convolab.errors import ConvolabError
from convolab import freq

RNG = np.random.default_rng(20240611)


def rand(shape, complex_=False):
    x = RNG.standard_normal(shape)
    if complex_:
        x = x + 1j * RNG.standard_normal(shape)
    return x


def brute_circular(x, k):
    """out[n] = sum_m k[m] x[(n - m) mod N], one term at a time."""
    out = np.zeros(x.shape, dtype=np.result_type(x, k, np.float64))
    for n in np.ndindex(x.shape):
        total = 0
        for m in np.ndindex(k.shape):
            total += k[m] * x[tuple((a - b) % s for a, b, s in zip(n, m, x.shape))]
        out[n] = total
    return out


def brute_radius(shape, centered):
    """Radial frequency with numpy.fft's frequencies and a loop."""
    freqs = [np.fft.fftfreq(n) for n in shape]
    if centered:
        freqs = [np.fft.fftshift(f) for f in freqs]
    r = np.zeros(shape)
    for idx in np.ndindex(shape):
        r[idx] = np.sqrt(sum(f[i] ** 2 for f, i in zip(freqs, idx)))
    return r


# ---------------------------------------------------------------------------
# grids and spectra


@pytest.mark.parametrize("shape", [(8,), (7,), (6, 9), (4, 5, 3)])
@pytest.mark.parametrize("centered", [True, False])
def test_frequency_grid_matches_numpy(shape, centered):
    g = freq.frequency_grid(shape, centered=centered)
    assert g.shape == shape and g.centered == centered
    for f, n in zip(g.frequencies, shape):
        expected = np.fft.fftfreq(n)
        if centered:
            expected = np.fft.fftshift(expected)
        np.testing.assert_array_equal(f, expected)
    np.testing.assert_allclose(g.radius, brute_radius(shape, centered), rtol=1e-15, atol=0)


@pytest.mark.parametrize("log", [True, False])
@pytest.mark.parametrize("centered", [True, False])
def test_spectrum_matches_numpy(log, centered):
    x = rand((6, 7))
    s = freq.spectrum(x, log=log, centered=centered)
    X = np.fft.fft2(x)
    if centered:
        X = np.fft.fftshift(X)
    np.testing.assert_allclose(s.magnitude, np.log1p(np.abs(X)) if log else np.abs(X),
                               rtol=1e-12, atol=1e-12)
    # phase agrees as an angle (compare unit phasors: -pi and pi are the same angle)
    np.testing.assert_allclose(np.exp(1j * s.phase), np.exp(1j * np.angle(X)), atol=1e-12)
    mag = np.expm1(s.magnitude) if log else s.magnitude
    np.testing.assert_allclose(mag * np.exp(1j * s.phase), X, atol=1e-11)
    assert s.frequencies[0].shape == (6,) and s.frequencies[1].shape == (7,)


def test_spectrum_channel_axis_is_per_channel():
    x = rand((5, 6, 3))
    s = freq.spectrum(x, channel_axis=-1, log=False)
    for c in range(3):
        np.testing.assert_allclose(s.magnitude[..., c],
                                   np.abs(np.fft.fftshift(np.fft.fft2(x[..., c]))), atol=1e-12)
    assert len(s.frequencies) == 2


# ---------------------------------------------------------------------------
# masks against the formulas, written here


MASK_SHAPES = [(16,), (12, 15), (6, 7, 8)]


@pytest.mark.parametrize("shape", MASK_SHAPES)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("cutoff", [0.083, 0.21, 0.37])
def test_lowpass_masks_follow_their_formulas(shape, centered, cutoff):
    r = brute_radius(shape, centered)
    ideal = freq.lowpass_mask(shape, cutoff, centered=centered)
    np.testing.assert_array_equal(ideal, (r <= cutoff).astype(float))
    gauss = freq.lowpass_mask(shape, cutoff, kind="gaussian", centered=centered)
    np.testing.assert_allclose(gauss, np.exp(-r ** 2 / (2 * cutoff ** 2)), rtol=1e-13)
    for order in (1.0, 2.0, 3.5):
        bw = freq.lowpass_mask(shape, cutoff, kind="butterworth", order=order, centered=centered)
        np.testing.assert_allclose(bw, 1 / (1 + (r / cutoff) ** (2 * order)), rtol=1e-13)


@pytest.mark.parametrize("kind", ["ideal", "gaussian", "butterworth"])
@pytest.mark.parametrize("shape", MASK_SHAPES)
def test_highpass_is_one_minus_lowpass_and_centering_is_fftshift(kind, shape):
    lo = freq.lowpass_mask(shape, 0.19, kind=kind, order=2.5)
    hi = freq.highpass_mask(shape, 0.19, kind=kind, order=2.5)
    np.testing.assert_allclose(hi, 1 - lo, rtol=0, atol=1e-15)
    centred = freq.lowpass_mask(shape, 0.19, kind=kind, order=2.5, centered=True)
    np.testing.assert_array_equal(centred, np.fft.fftshift(lo))
    assert lo.shape == shape and lo.dtype == np.float64
    assert lo.min() >= 0 and lo.max() <= 1


def test_gain_at_cutoff_documented_values():
    # a grid point exactly at the cutoff radius: 0.25 cycles/sample on 8 samples
    assert freq.lowpass_mask(8, 0.25, kind="gaussian")[2] == pytest.approx(np.exp(-0.5))
    assert freq.lowpass_mask(8, 0.25, kind="butterworth", order=4)[2] == pytest.approx(0.5)
    assert freq.lowpass_mask(8, 0.25)[2] == 1.0


@pytest.mark.parametrize("shape", [(20,), (14, 17)])
def test_bandpass(shape):
    r = brute_radius(shape, False)
    ideal = freq.bandpass_mask(shape, 0.11, 0.32)
    np.testing.assert_array_equal(ideal, ((r > 0.11) & (r <= 0.32)).astype(float))
    for kind in ("gaussian", "butterworth"):
        bp = freq.bandpass_mask(shape, 0.11, 0.32, kind=kind, order=3)
        expected = (freq.highpass_mask(shape, 0.11, kind=kind, order=3)
                    * freq.lowpass_mask(shape, 0.32, kind=kind, order=3))
        np.testing.assert_allclose(bp, expected, rtol=1e-15)


@pytest.mark.parametrize("shape,radius,center", [((9, 11), 3.2, None), ((8, 8), 2.5, None),
                                                 ((5, 6, 7), 2.1, None), ((10, 10), 4, (2, 7.5))])
def test_circular_mask_is_a_disc(shape, radius, center):
    m = freq.circular_mask(shape, radius, center=center)
    ctr = [n // 2 for n in shape] if center is None else center
    for idx in np.ndindex(shape):
        inside = sum((i - c) ** 2 for i, c in zip(idx, ctr)) <= radius ** 2
        assert m[idx] == float(inside)
    np.testing.assert_array_equal(freq.circular_mask(shape, radius, center=center, invert=True),
                                  1 - m)


@pytest.mark.parametrize("n", [16, 15])
def test_circular_mask_is_the_centred_ideal_lowpass(n):
    # on an N x N grid a radius of R pixels is a cutoff of R/N cycles per sample
    np.testing.assert_array_equal(freq.circular_mask((n, n), 4.4),
                                  freq.lowpass_mask((n, n), 4.4 / n, centered=True))


# ---------------------------------------------------------------------------
# filtering


@pytest.mark.parametrize("shape", [(13,), (8, 9), (4, 5, 6)])
@pytest.mark.parametrize("complex_", [False, True])
def test_all_ones_mask_is_the_identity(shape, complex_):
    x = rand(shape, complex_)
    y = freq.filter_frequency(x, np.ones(shape))
    assert np.iscomplexobj(y) == complex_
    np.testing.assert_allclose(y, x, rtol=0, atol=1e-14)


@pytest.mark.parametrize("shape", [(12,), (9, 10), (4, 5, 6)])
def test_real_input_any_mask_is_the_real_part_of_numpy(shape):
    x = rand(shape)
    for mask in (RNG.random(shape), rand(shape, complex_=True)):     # not Hermitian-symmetric
        y = freq.filter_frequency(x, mask)
        assert y.dtype == np.float64 and y.shape == shape
        np.testing.assert_allclose(y, np.fft.ifftn(mask * np.fft.fftn(x)).real, atol=1e-13)


def test_complex_input_matches_numpy_and_centered_mask():
    x = rand((7, 8), complex_=True)
    mask = rand((7, 8), complex_=True)
    np.testing.assert_allclose(freq.filter_frequency(x, mask),
                               np.fft.ifftn(mask * np.fft.fftn(x)), atol=1e-13)
    np.testing.assert_allclose(freq.filter_frequency(x, np.fft.fftshift(mask), centered=True),
                               np.fft.ifftn(mask * np.fft.fftn(x)), atol=1e-13)


def test_filtering_is_circular_convolution_with_the_masks_kernel():
    x = rand((9, 8))
    mask = freq.lowpass_mask((9, 8), 0.2, kind="butterworth", order=2)
    kernel = np.fft.ifftn(mask).real              # radial mask: a real, even kernel
    np.testing.assert_allclose(freq.filter_frequency(x, mask), brute_circular(x, kernel),
                               atol=1e-12)


@pytest.mark.parametrize("channel_axis", [0, -1, 2])
def test_channel_axis_filters_each_channel(channel_axis):
    x = np.moveaxis(rand((3, 10, 11)), 0, channel_axis)
    spatial = tuple(s for a, s in enumerate(x.shape) if a != channel_axis % 3)
    mask = freq.lowpass_mask(spatial, 0.15, kind="gaussian")
    y = freq.filter_frequency(x, mask, channel_axis=channel_axis)
    for c in range(3):
        chan = np.take(x, c, axis=channel_axis)
        np.testing.assert_allclose(np.take(y, c, axis=channel_axis),
                                   np.fft.ifft2(mask * np.fft.fft2(chan)).real, atol=1e-13)


def test_dtypes():
    assert freq.filter_frequency(np.ones((4, 4), np.float32), np.ones((4, 4))).dtype == np.float32
    assert freq.filter_frequency(np.ones((4, 4), np.uint8), np.ones((4, 4))).dtype == np.float64
    y = freq.filter_frequency(np.ones((4, 4), np.complex64), np.ones((4, 4)))
    assert y.dtype == np.complex64


# ---------------------------------------------------------------------------
# butterworth against scikit-image


def _images():
    rng = np.random.default_rng(7)
    return [
        ("2d grey", rng.random((32, 41)), {}),
        ("2d odd", rng.random((31, 33)), {}),
        ("2d colour last", rng.random((30, 27, 3)), {"channel_axis": -1}),
        ("2d colour first", rng.random((3, 20, 21)), {"channel_axis": 0}),
        ("3d", rng.random((9, 10, 11)), {}),
        ("npad", rng.random((30, 31)), {"npad": 4}),
        ("npad colour", rng.random((20, 21, 3)), {"npad": 3, "channel_axis": 2}),
        ("complex", rng.random((20, 21)) + 1j * rng.random((20, 21)), {}),
        ("uint8", (rng.random((16, 16)) * 255).astype(np.uint8), {}),
    ]


@pytest.mark.parametrize("name,image,kw", _images(), ids=[c[0] for c in _images()])
@pytest.mark.parametrize("high_pass", [True, False])
@pytest.mark.parametrize("squared", [True, False])
def test_butterworth_matches_skimage(name, image, kw, high_pass, squared):
    filters = pytest.importorskip("skimage.filters")
    for cutoff, order in ((0.1, 3.0), (0.005, 2.0), (0.5, 1.5)):
        ours = freq.butterworth(image, cutoff, high_pass, order, squared_butterworth=squared, **kw)
        theirs = filters.butterworth(image, cutoff, high_pass, order,
                                     squared_butterworth=squared, **kw)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10 * np.abs(theirs).max())


def test_butterworth_float32_matches_skimage():
    filters = pytest.importorskip("skimage.filters")
    x = np.random.default_rng(3).random((16, 17)).astype(np.float32)
    ours = freq.butterworth(x, 0.1, False, 2.0)
    theirs = filters.butterworth(x, 0.1, False, 2.0)
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())


def test_butterworth_is_its_mask_applied():
    # no skimage needed: the squared Butterworth is lowpass_mask(kind='butterworth')
    x = rand((14, 15))
    mask = freq.lowpass_mask((14, 15), 0.12, kind="butterworth", order=2.0)
    np.testing.assert_allclose(freq.butterworth(x, 0.12, False, 2.0),
                               np.fft.ifft2(mask * np.fft.fft2(x)).real, atol=1e-13)
    np.testing.assert_allclose(freq.butterworth(x, 0.12, True, 2.0, squared_butterworth=False),
                               np.fft.ifft2(np.sqrt(1 - mask) * np.fft.fft2(x)).real, atol=1e-13)


# ---------------------------------------------------------------------------
# compression (the JPEG analogy)


def _test_image():
    skdata = pytest.importorskip("skimage.data")
    return skdata.camera()[::8, ::8].astype(float)          # 64 x 64, ships with skimage


KEEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 0.9, 1.0]


@pytest.mark.parametrize("mode", ["largest", "lowpass"])
def test_compress_error_falls_as_keep_grows_and_keep_one_is_exact(mode):
    x = _test_image()
    results = [freq.compress(x, k, mode=mode) for k in KEEPS]
    errors = [r.relative_rms for r in results]
    assert all(a >= b for a, b in zip(errors, errors[1:])), errors
    assert errors[0] > 0.05
    assert errors[-1] < 1e-13 and results[-1].kept_fraction == 1.0
    np.testing.assert_allclose(results[-1].reconstruction, x, atol=1e-10)
    for k, r in zip(KEEPS, results):
        assert r.reconstruction.dtype == np.float64 and r.reconstruction.shape == x.shape
        assert k - 0.5 / x.size <= r.kept_fraction
        assert r.kept_fraction == r.mask.mean()
        # the kept coefficients come in conjugate pairs: the reconstruction is real
        flipped = np.roll(np.flip(r.mask), 1, axis=(0, 1))
        np.testing.assert_array_equal(r.mask, flipped)


def test_compress_largest_is_parseval_and_keeps_the_largest():
    x = _test_image()
    X = np.fft.fft2(x)
    energy = np.sum(np.abs(X) ** 2)
    for k in (0.03, 0.2, 0.6):
        r = freq.compress(x, k)
        assert r.kept_fraction <= k + 2 / x.size
        dropped = np.sum(np.abs(X[~r.mask]) ** 2)
        assert r.relative_rms == pytest.approx(np.sqrt(dropped / energy), rel=1e-9)
        np.testing.assert_allclose(r.reconstruction, np.fft.ifft2(np.where(r.mask, X, 0)).real,
                                   atol=1e-10)
        assert np.abs(X[r.mask]).min() >= np.abs(X[~r.mask]).max() * (1 - 1e-12)


def test_compress_lowpass_keeps_a_disc():
    x = _test_image()
    r = freq.compress(x, 0.1, mode="lowpass")
    radius = brute_radius(x.shape, False)
    assert radius[r.mask].max() < radius[~r.mask].min()
    assert r.mask[0, 0]


def test_compress_psnr_matches_skimage():
    metrics = pytest.importorskip("skimage.metrics")
    x = _test_image()
    for k in (0.05, 0.3):
        r = freq.compress(x, k)
        theirs = metrics.peak_signal_noise_ratio(x, r.reconstruction, data_range=np.ptp(x))
        assert r.psnr == pytest.approx(theirs, rel=1e-12)
        r = freq.compress(x, k, data_range=255)
        theirs = metrics.peak_signal_noise_ratio(x, r.reconstruction, data_range=255)
        assert r.psnr == pytest.approx(theirs, rel=1e-12)
        rmse = np.sqrt(np.mean((x - r.reconstruction) ** 2))
        assert r.relative_rms == pytest.approx(rmse / np.sqrt(np.mean(x ** 2)), rel=1e-12)


def test_compress_complex_and_3d():
    x = rand((6, 7, 5), complex_=True)
    X = np.fft.fftn(x)
    r = freq.compress(x, 0.25)
    assert np.iscomplexobj(r.reconstruction)
    assert r.mask.sum() == round(0.25 * x.size)
    np.testing.assert_allclose(r.reconstruction, np.fft.ifftn(np.where(r.mask, X, 0)), atol=1e-12)


# ---------------------------------------------------------------------------
# the convolution theorem


THEOREM_SHAPES = [((17,), (17,)), ((16,), (5,)), ((6, 7), (6, 7)), ((6, 7), (3, 2)),
                  ((4, 5, 3), (4, 5, 3)), ((3, 4, 5), (2, 2, 2)), ((5,), (12,))]
# complex inputs in 1-D only: each new dtype and rank loads another compiled loop (seconds)
THEOREM_CASES = ([(xs, ks, False) for xs, ks in THEOREM_SHAPES]
                 + [(xs, ks, True) for xs, ks in THEOREM_SHAPES if len(xs) == 1])


@pytest.mark.parametrize("xs,ks,complex_", THEOREM_CASES)
def test_circular_convolve_is_the_wraparound_sum(xs, ks, complex_):
    x, k = rand(xs, complex_), rand(ks, complex_)
    expected = brute_circular(x, k)
    for method in ("auto", "direct", "fft"):
        got = freq.circular_convolve(x, k, method=method)
        assert got.shape == x.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_circular_convolve_integers_exact():
    x = RNG.integers(-5, 6, (5, 6))
    k = RNG.integers(-3, 4, (5, 6))
    got = freq.circular_convolve(x, k)
    assert got.dtype == np.result_type(x, k)
    np.testing.assert_array_equal(got, brute_circular(x, k).astype(got.dtype))


@pytest.mark.parametrize("xs,ks,complex_", THEOREM_CASES)
def test_convolution_theorem_holds(xs, ks, complex_):
    x, k = rand(xs, complex_), rand(ks)
    t = freq.convolution_theorem(x, k)
    assert t.max_abs_difference < 1e-10
    assert t.max_abs_difference == np.max(np.abs(t.frequency_side - t.direct_side))
    brute = brute_circular(x, k)
    np.testing.assert_allclose(t.direct_side, brute, rtol=0, atol=1e-10)
    if ks == xs:   # numpy's own transform of the same identity
        np.testing.assert_allclose(t.frequency_side, np.fft.ifftn(np.fft.fftn(x) * np.fft.fftn(k)),
                                   rtol=0, atol=1e-10)
    np.testing.assert_allclose(t.frequency_side, brute, rtol=0, atol=1e-10)


@pytest.mark.parametrize("xs,ks", [((9,), (4,)), ((4,), (9,)), ((5, 6), (3, 4)),
                                   ((3, 4, 2), (2, 3, 3))])
def test_linear_from_circular(xs, ks):
    signal = pytest.importorskip("scipy.signal")
    x, k = rand(xs), rand(ks)
    r = freq.linear_from_circular(x, k)
    full = signal.convolve(x, k, mode="full", method="direct")
    assert r.padded_shape == full.shape
    np.testing.assert_allclose(r.linear, full, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.circular, full, rtol=0, atol=1e-10)
    assert r.max_abs_difference < 1e-10
    # without padding the tail wraps around: the full result folded onto x's period
    folded = np.zeros(xs)
    for idx in np.ndindex(full.shape):
        folded[tuple(i % n for i, n in zip(idx, xs))] += full[idx]
    np.testing.assert_allclose(r.wrapped, folded, rtol=0, atol=1e-10)
    if len(xs) == 1:
        np.testing.assert_allclose(r.circular, np.convolve(x, k), atol=1e-10)


# ---------------------------------------------------------------------------
# errors name the argument, its value and what is allowed


@pytest.mark.parametrize("call,words", [
    (lambda: freq.lowpass_mask((8, 8), 0), ["cutoff=0", "0 < cutoff"]),
    (lambda: freq.lowpass_mask((8, 8), 0.8), ["cutoff=0.8", "0.7071"]),
    (lambda: freq.lowpass_mask((8, 8), float("nan")), ["cutoff=nan"]),
    (lambda: freq.lowpass_mask((8, 8), "a"), ["cutoff='a'"]),
    (lambda: freq.lowpass_mask((8, 8), 0.2, kind="box"),
     ["kind='box'", "'ideal'", "'butterworth'"]),
    (lambda: freq.lowpass_mask((8, 8), 0.2, kind="butterworth", order=0), ["order=0"]),
    (lambda: freq.lowpass_mask((8, -1), 0.2), ["shape=(8, -1)"]),
    (lambda: freq.lowpass_mask((), 0.2), ["shape=()"]),
    (lambda: freq.bandpass_mask(8, 0.3, 0.2), ["low=0.3", "high=0.2"]),
    (lambda: freq.circular_mask((8, 8), -1), ["radius=-1"]),
    (lambda: freq.circular_mask((8, 8), 2, center=(1,)), ["center=(1,)"]),
    (lambda: freq.filter_frequency(np.ones((4, 5)), np.ones((5, 4))), ["mask", "(5, 4)", "(4, 5)"]),
    (lambda: freq.filter_frequency(np.ones((4, 5)), np.ones((4, 5)), channel_axis=2),
     ["channel_axis=2"]),
    (lambda: freq.filter_frequency(np.array(["a"]), np.ones(1)), ["image", "dtype"]),
    (lambda: freq.filter_frequency(np.ones((0, 3)), np.ones((0, 3))), ["image", "(0, 3)"]),
    (lambda: freq.butterworth(np.ones((8, 8)), 0.6), ["cutoff_frequency_ratio=0.6"]),
    (lambda: freq.butterworth(np.ones((8, 8)), 0.0), ["cutoff_frequency_ratio=0.0"]),
    (lambda: freq.butterworth(np.ones((8, 8)), 0.1, npad=-1), ["npad=-1"]),
    (lambda: freq.compress(np.ones((8, 8)), 0), ["keep=0"]),
    (lambda: freq.compress(np.ones((8, 8)), 1.5), ["keep=1.5"]),
    (lambda: freq.compress(np.ones((8, 8)), 0.5, mode="dct"), ["mode='dct'", "'largest'"]),
    (lambda: freq.circular_convolve(np.ones((4, 4)), np.ones(3)), ["x", "k", "(4, 4)", "(3,)"]),
    (lambda: freq.frequency_grid("ab"), ["shape='ab'"]),
])
def test_errors_are_clear(call, words):
    with pytest.raises(ConvolabError) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_constant_image_compresses_exactly_with_one_coefficient():
    x = np.full((6, 6), 3.0)
    r = freq.compress(x, 1 / 36)
    assert r.mask.sum() == 1 and r.mask[0, 0]
    assert r.relative_rms < 1e-15
    mse = np.mean((x - r.reconstruction) ** 2)
    # data_range falls back to max |x| = 3 for a constant image
    assert r.psnr == (np.inf if mse == 0 else pytest.approx(10 * np.log10(9 / mse)))


def test_every_kind_and_layout_runs_in_1d_to_4d():
    for ndim, kind, centered in itertools.product((1, 2, 3, 4), freq.KINDS, (False, True)):
        shape = (4,) * ndim
        m = freq.bandpass_mask(shape, 0.1, 0.4, kind=kind, centered=centered)
        assert m.shape == shape and np.all((m >= 0) & (m <= 1))
