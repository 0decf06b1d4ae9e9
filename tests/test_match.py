"""Template matching (convolab.match) against scikit-image, OpenCV and brute-force loops.

Oracles: ``skimage.feature.match_template`` and ``peak_local_max``,
``cv2.matchTemplate`` (six methods, with and without mask), and per-window
loops written here from the definitions (masked, NaN-aware).  Images are real
photographs shipped inside scikit-image, cropped small, with Gaussian noise
from a fixed seed.
"""

import numpy as np
import pytest

import convolab
from convolab.errors import ConvolabError
from convolab.match import METHODS, find_peaks, match_template, rotate180

CV2_CODES = {"sqdiff": 0, "sqdiff_normed": 1, "ccorr": 2, "ccorr_normed": 3, "ccoeff": 4,
             "ccoeff_normed": 5}


def _photo(name, size=160, noise=4.0, seed=0):
    data = pytest.importorskip("skimage.data")
    img = getattr(data, name)()
    if img.ndim == 3:
        img = img[..., :3].astype(float) @ np.array([0.2125, 0.7154, 0.0721])
    img = img.astype(float)
    r0, c0 = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    crop = img[r0:r0 + size, c0:c0 + size]
    return crop + np.random.default_rng(seed).normal(0.0, noise, crop.shape)


# ---------------------------------------------------------------------------
# brute-force oracle: every window scored from the definitions


def _brute(image, template, method, mask=None):
    image = np.asarray(image, float)
    template = np.asarray(template, float)
    w = np.ones(template.shape) if mask is None else np.asarray(mask, float)
    w = np.where(np.isfinite(template), w, 0.0)
    t = np.where(np.isfinite(template), template, 0.0)
    rescale = not np.all(np.isfinite(image))
    out_shape = tuple(n - m + 1 for n, m in zip(image.shape, template.shape))
    out = np.empty(out_shape)
    for idx in np.ndindex(*out_shape):
        win = image[tuple(slice(i, i + m) for i, m in zip(idx, template.shape))]
        valid = np.isfinite(win)
        x = np.where(valid, win, 0.0)
        m1 = w * valid
        m2 = m1 * m1
        if m2.sum() == 0:
            out[idx] = np.nan          # filled in below
            continue
        factor = (w * w).sum() / m2.sum() if rescale else 1.0
        if method in ("ccoeff", "ccoeff_normed"):
            tc = t - (m1 * t).sum() / m1.sum()
            xc = x - (m1 * x).sum() / m1.sum()
            num = (m2 * tc * xc).sum()
            if method == "ccoeff":
                out[idx] = num * factor
            else:
                den = np.sqrt((m2 * tc * tc).sum() * (m2 * xc * xc).sum())
                out[idx] = num / den if den > 1e-9 else 0.0
        elif method == "ccorr":
            out[idx] = (m2 * t * x).sum() * factor
        elif method == "sqdiff":
            out[idx] = (m2 * (t - x) ** 2).sum() * factor
        else:
            den = np.sqrt((m2 * t * t).sum() * (m2 * x * x).sum())
            if method == "ccorr_normed":
                out[idx] = (m2 * t * x).sum() / den if den > 0 else 0.0
            else:
                out[idx] = min((m2 * (t - x) ** 2).sum() / den, 1.0) if den > 0 else 1.0
    empty = np.isnan(out)
    if empty.any():
        fill = {"sqdiff_normed": 1.0, "sqdiff": np.max(out[~empty])}.get(method, 0.0)
        out[empty] = fill
    return out


@pytest.mark.parametrize("method", METHODS)
def test_bruteforce_with_mask_and_nan(method):
    rng = np.random.default_rng(3)
    image = rng.random((36, 34)) + 0.2
    image[3, 4] = image[10:12, 6:9] = image[35, 0] = np.nan
    image[0:10, 24:34] = np.nan                           # whole windows missing
    template = rng.random((8, 7))
    template[1, 2] = np.nan
    weights = rng.random((8, 7))
    for mask in (None, weights, weights > 0.4):
        got = match_template(image, template, method=method, mask=mask)
        want = _brute(image, template, method,
                      None if mask is None else np.asarray(mask, float))
        assert not np.isnan(got).any()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_bruteforce_3d_and_1d(method):
    rng = np.random.default_rng(4)
    vol = rng.random((20, 22, 18))
    t = rng.random((5, 6, 4))
    np.testing.assert_allclose(match_template(vol, t, method=method),
                               _brute(vol, t, method), rtol=1e-9, atol=1e-10)
    sig = rng.random(1000)
    np.testing.assert_allclose(match_template(sig, sig[50:250], method=method),
                               _brute(sig, sig[50:250], method), rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------------------
# scikit-image parity


@pytest.mark.parametrize("pad_input", [False, True])
@pytest.mark.parametrize("mode, cval", [("constant", 0), ("constant", 40.0), ("reflect", 0),
                                        ("edge", 0), ("symmetric", 0), ("wrap", 0),
                                        ("linear_ramp", 0)])
def test_skimage_parity_2d(pad_input, mode, cval):
    feature = pytest.importorskip("skimage.feature")
    img = _photo("camera", 128)
    template = img[40:61, 70:87].copy()
    want = feature.match_template(img, template, pad_input=pad_input, mode=mode,
                                  constant_values=cval)
    got = match_template(img, template, pad_input=pad_input, mode=mode, constant_values=cval)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, atol=1e-10)   # measured 1e-12


def test_skimage_parity_even_template_and_dtypes():
    feature = pytest.importorskip("skimage.feature")
    img = _photo("coins", 96, seed=5)
    template = img[30:46, 20:34]                         # even sizes: centre m // 2
    for pad in (False, True):
        np.testing.assert_allclose(match_template(img, template, pad),
                                   feature.match_template(img, template, pad), atol=1e-10)
    # float32 stays float32, integers give float64 (scikit-image's rule)
    f32 = img.astype(np.float32)
    got, want = match_template(f32, template), feature.match_template(f32, template)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-4)     # scikit-image sums in float32
    u8 = np.clip(img, 0, 255).astype(np.uint8)
    got, want = match_template(u8, template), feature.match_template(u8, template)
    assert got.dtype == want.dtype == np.float64
    np.testing.assert_allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("pad_input", [False, True])
def test_skimage_parity_3d(pad_input):
    data = pytest.importorskip("skimage.data")
    feature = pytest.importorskip("skimage.feature")
    rgb = data.astronaut()[100:164, 180:244].astype(float)
    rgb += np.random.default_rng(6).normal(0, 3.0, rgb.shape)
    template = rgb[20:33, 30:41, :]                       # (13, 11, 3): a 3-D template
    want = feature.match_template(rgb, template, pad_input=pad_input)
    got = match_template(rgb, template, pad_input=pad_input)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-10)
    assert got[(20, 30, 0) if not pad_input else (26, 35, 1)] == pytest.approx(1.0)


# ---------------------------------------------------------------------------
# OpenCV parity (float32 images, OpenCV sums in float32)


def _cv2_case():
    img = _photo("coins", 128, seed=7).astype(np.float32)
    template = img[50:71, 60:79].copy()
    return img, template


@pytest.mark.parametrize("method", METHODS)
def test_cv2_parity(method):
    cv2 = pytest.importorskip("cv2")
    img, template = _cv2_case()
    want = cv2.matchTemplate(img, template, CV2_CODES[method])
    got = match_template(img, template, method=method)
    assert got.shape == want.shape and got.dtype == np.float32
    scale = max(1.0, float(np.abs(want).max()))
    # OpenCV sums in float32.  Measured on this image: normalized scores
    # differ by <= 5.4e-6, unnormalized ones by <= 9.4e-7 of their largest value
    atol = 5e-5 if method.endswith("normed") else 5e-6 * scale
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    # the codes and the TM_ names are accepted too
    np.testing.assert_array_equal(match_template(img, template, method=CV2_CODES[method]), got)
    np.testing.assert_array_equal(match_template(img, template, method="TM_" + method.upper()),
                                  got)


@pytest.mark.parametrize("method", METHODS)
def test_cv2_parity_mask(method):
    cv2 = pytest.importorskip("cv2")
    img, template = _cv2_case()
    rng = np.random.default_rng(8)
    weights = rng.random(template.shape).astype(np.float32)
    binary = (rng.random(template.shape) > 0.3).astype(np.uint8) * 255   # uint8: nonzero = 1
    for mask in (weights, binary):
        want = cv2.matchTemplate(img, template, CV2_CODES[method], mask=mask)
        if method == "sqdiff_normed":
            want = np.minimum(want, 1.0)   # OpenCV's masked path does not saturate at 1
        got = match_template(img, template, method=method, mask=mask)
        scale = max(1.0, float(np.abs(want).max()))
        atol = 5e-5 if method.endswith("normed") else 5e-6 * scale   # measured 3e-6, 3e-7
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def test_cv2_flat_windows_differ_only_where_documented():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(9)
    img = rng.random((64, 64)).astype(np.float32)
    img[5:30, 5:30] = 0.5                                 # flat block
    img[36:60, 36:60] = 0.0                               # zero block
    template = rng.random((9, 9)).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(img, template.shape)
    flat = windows.max(axis=(2, 3)) == windows.min(axis=(2, 3))
    zero = np.abs(windows).max(axis=(2, 3)) == 0
    for method, value, undefined in (("ccoeff_normed", 0.0, flat), ("ccorr_normed", 0.0, zero),
                                     ("sqdiff_normed", 1.0, zero)):
        got = match_template(img, template, method=method)
        want = cv2.matchTemplate(img, template, CV2_CODES[method])
        assert np.all(got[undefined] == value)
        np.testing.assert_allclose(got[~undefined], want[~undefined], atol=2e-4)
    # OpenCV's float32 running sums leave noise in some flat windows
    want = cv2.matchTemplate(img, template, cv2.TM_CCOEFF_NORMED)
    assert np.mean(want[flat] == 0) > 0.9
    # a flat template: 0 here (as scikit-image), 1 everywhere in OpenCV
    flat = np.full((5, 5), 0.3, np.float32)
    assert np.all(match_template(img, flat) == 0)
    assert np.all(cv2.matchTemplate(img, flat, cv2.TM_CCOEFF_NORMED) == 1)


def test_flat_windows_with_large_offset():
    rng = np.random.default_rng(10)
    img = 1e6 + rng.random((48, 50))
    img[4:28, 6:30] = 1e6 + 1 / 3                         # flat, on a large offset
    template = rng.random((10, 9))
    got = match_template(img, template)
    assert np.all(got[4:19, 6:22] == 0)
    np.testing.assert_allclose(got, _brute(img, template, "ccoeff_normed"), atol=1e-7)
    img[0, 0] = np.nan                                    # the masked (FFT) path as well
    got = match_template(img, template)
    assert np.all(got[4:19, 6:22] == 0) and not np.isnan(got).any()


# ---------------------------------------------------------------------------
# NaN and planted templates on photographs


def test_nan_never_moves_the_best_match():
    img = _photo("astronaut", 160, noise=3.0, seed=11)
    top = (52, 97)
    template = img[top[0]:top[0] + 22, top[1]:top[1] + 18].copy()
    dirty = img.copy()
    dirty[60, 101] = dirty[55:58, 105:109] = np.nan        # inside the matching window
    dirty[10:30, 5:40] = dirty[120, 3] = np.nan            # elsewhere
    dirty[::17, ::13] = np.nan                             # scattered everywhere
    template_nan = template.copy()
    template_nan[3, 4] = np.nan                            # in the template too
    for method in ("ccoeff_normed", "ccorr_normed", "sqdiff", "sqdiff_normed", "ccoeff"):
        for t in (template, template_nan):
            score = match_template(dirty, t, method=method)
            assert not np.isnan(score).any(), method
            best = find_peaks(score, max_peaks=1, minimum=method.startswith("sqdiff"))
            assert best.tolist() == [list(top)], method
    feature = pytest.importorskip("skimage.feature")
    with np.errstate(invalid="ignore"):                   # scikit-image loses the match
        assert not feature.match_template(dirty, template)[top] > 0.5


def test_padfield_masked_ncc_equals_ncc_on_the_valid_pixels():
    # a window with NaN scores as the plain NCC of its valid pixels
    rng = np.random.default_rng(12)
    img = rng.random((48, 48))
    t = rng.random((10, 9))
    img[7, 9] = img[8, 11] = img[40, 3] = np.nan
    got = match_template(img, t)[5, 7]
    win = img[5:15, 7:16]
    keep = np.isfinite(win)
    want = np.corrcoef(win[keep], t[keep])[0, 1]
    assert got == pytest.approx(want, abs=1e-12)


def test_planted_copies_found_by_find_peaks():
    img = _photo("camera", 192, noise=0.0, seed=13)
    rng = np.random.default_rng(13)
    template = _photo("coins", 96, noise=0.0)[30:46, 40:58]   # foreign to the camera image
    planted = [(10, 12), (40, 150), (100, 60), (150, 140), (170, 20)]
    for r, c in planted:
        img[r:r + 16, c:c + 18] = template
    img = img + rng.normal(0, 6.0, img.shape)
    score = match_template(img, template)
    # the planted copies score 0.996; the best other structure of the photograph 0.81
    peaks = find_peaks(score, threshold=0.9, min_distance=5)
    assert sorted(map(tuple, peaks.tolist())) == sorted(planted)
    # centred coordinates with pad_input=True
    score = match_template(img, template, pad_input=True)
    peaks = find_peaks(score, threshold=0.9, min_distance=5)
    assert sorted(map(tuple, peaks.tolist())) == sorted((r + 8, c + 9) for r, c in planted)
    # sqdiff: minima
    sq = match_template(img, template, method="sqdiff_normed")
    peaks = find_peaks(sq, max_peaks=len(planted), min_distance=5, minimum=True)
    assert sorted(map(tuple, peaks.tolist())) == sorted(planted)


def test_several_templates_in_one_image():
    img = _photo("astronaut", 200, noise=2.0, seed=14)
    for top in [(20, 30), (90, 140), (150, 60)]:
        t = img[top[0]:top[0] + 15, top[1]:top[1] + 20]
        score = match_template(img, t)
        assert find_peaks(score, max_peaks=1).tolist() == [list(top)]


# ---------------------------------------------------------------------------
# find_peaks against peak_local_max


@pytest.mark.parametrize("min_distance", [1, 2, 4])
def test_find_peaks_matches_peak_local_max(min_distance):
    feature = pytest.importorskip("skimage.feature")
    img = _photo("coins", 96, seed=15)
    score = match_template(img, img[20:32, 40:50])
    for threshold, border, num in ((None, False, None), (0.2, True, None), (0.0, 3, 7),
                                   (None, (2, 5), 3)):
        want = feature.peak_local_max(score, min_distance=min_distance, threshold_abs=threshold,
                                      exclude_border=border,
                                      num_peaks=np.inf if num is None else num)
        got = find_peaks(score, threshold, min_distance, num, exclude_border=border)
        np.testing.assert_array_equal(got, want)


def test_find_peaks_ties_plateaus_and_minimum():
    feature = pytest.importorskip("skimage.feature")
    rng = np.random.default_rng(16)
    score = rng.integers(0, 5, (25, 30)).astype(float)    # many ties and plateaus
    score[3:6, 3:6] = 9.0
    for d in (1, 2, 3):
        want = feature.peak_local_max(score, min_distance=d, exclude_border=False)
        np.testing.assert_array_equal(find_peaks(score, min_distance=d), want)
        np.testing.assert_array_equal(find_peaks(-score, min_distance=d, minimum=True), want)
    assert find_peaks(np.ones((5, 5))).shape == (0, 2)    # no variation, no peak
    nan_map = score.copy()
    nan_map[10, 10] = np.nan
    assert [10, 10] not in find_peaks(nan_map).tolist()


# ---------------------------------------------------------------------------
# rotate180: correlation is convolution with the rotated, conjugated kernel


def _brute_correlate_full(x, t):
    """out[k] = sum_l x[l + k - (len(t) - 1)] conj(t[l]), zero outside x."""
    xp = np.pad(x, [(m - 1, m - 1) for m in t.shape])
    out_shape = tuple(n + m - 1 for n, m in zip(x.shape, t.shape))
    out = np.zeros(out_shape, dtype=np.result_type(x, t))
    for k in np.ndindex(*out_shape):
        out[k] = np.sum(xp[tuple(slice(i, i + m) for i, m in zip(k, t.shape))] * np.conj(t))
    return out


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("kind", ["real", "complex"])
@pytest.mark.parametrize("shape, kshape", [((11,), (4,)), ((7, 9), (3, 4)), ((6, 5), (2, 5))])
def test_rotate180_identity(mode, kind, shape, kshape):
    rng = np.random.default_rng(17)
    x = rng.standard_normal(shape)
    t = rng.standard_normal(kshape)
    if kind == "complex":
        x = x + 1j * rng.standard_normal(shape)
        t = t + 1j * rng.standard_normal(kshape)
    for method in ("reference", "fft"):
        corr = convolab.correlate(x, t, mode=mode, method=method)
        conv = convolab.convolve(x, rotate180(np.conj(t)), mode=mode, method=method)
        np.testing.assert_allclose(corr, conv, rtol=1e-12, atol=1e-12)
    full = _brute_correlate_full(x, t)
    if mode == "full":
        np.testing.assert_allclose(corr, full, atol=1e-12)
    elif mode == "valid":
        crop = tuple(slice(m - 1, n) for n, m in zip(x.shape, t.shape))
        np.testing.assert_allclose(corr, full[crop], atol=1e-12)
    signal = pytest.importorskip("scipy.signal")
    np.testing.assert_allclose(corr, signal.correlate(x, t, mode=mode), atol=1e-12)


def test_rotate180_is_a_flip_of_every_axis():
    k = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(rotate180(k), k[::-1, ::-1, ::-1])
    np.testing.assert_array_equal(rotate180(k, axes=(1, 2)), k[:, ::-1, ::-1])
    np.testing.assert_array_equal(rotate180(rotate180(k)), k)


# ---------------------------------------------------------------------------
# errors


def test_errors_name_the_argument():
    img, t = np.zeros((10, 10)), np.ones((3, 3))
    with pytest.raises(ConvolabError, match=r"method='tm_nope'.*'ccoeff_normed'.*'sqdiff'"):
        match_template(img, t, method="tm_nope")
    with pytest.raises(ConvolabError, match="method=7"):
        match_template(img, t, method=7)
    with pytest.raises(ConvolabError, match="larger than the image"):
        match_template(t, img)
    with pytest.raises(ConvolabError, match="same number"):
        match_template(img, np.ones(3))
    with pytest.raises(ConvolabError, match="complex"):
        match_template(img + 0j, t)
    with pytest.raises(ConvolabError, match="mask has shape"):
        match_template(img, t, mask=np.ones((2, 2)))
    with pytest.raises(ConvolabError, match="negative"):
        match_template(img, t, mask=-np.ones((3, 3)))
    with pytest.raises(ConvolabError, match="no pixel"):
        match_template(img, np.full((3, 3), np.nan))
    with pytest.raises(ConvolabError, match="no pixel"):
        match_template(img, t, mask=np.zeros((3, 3), bool))
    with pytest.raises(ConvolabError, match="mode='nope'"):
        match_template(img, t, pad_input=True, mode="nope")
    with pytest.raises(ConvolabError, match="empty"):
        match_template(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ConvolabError, match="min_distance=0"):
        find_peaks(img, min_distance=0)
    with pytest.raises(ConvolabError, match="max_peaks=-1"):
        find_peaks(img, max_peaks=-1)
    with pytest.raises(ConvolabError, match="exclude_border"):
        find_peaks(img, exclude_border=(1,))
    with pytest.raises(ConvolabError, match="axes"):
        rotate180(t, axes=5)
    assert issubclass(ConvolabError, ValueError)
