"""The tour report: every section present, every figure a real PNG, the numbers on the page
equal to independent computations, the page valid and self-contained, and (where Chromium
is installed) rendered by a browser with every image loaded and no error."""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import numpy as np
import pytest

import convolab
import convolab.tour
from convolab.errors import ConvolabError
from convolab.tour import data
from convolab.tour.experiments import format_value

SECTION_KEYS = ["flip", "dot", "fft", "freq", "diff", "mc", "match", "learn"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class _Page(HTMLParser):
    """Collects what the tests look at, and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.sections: list[str] = []
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.values: dict[str, str] = {}
        self._key: str | None = None
        self._text: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "img":
            self.images.append(a)
        for attr in ("href", "src"):
            if attr in a:
                self.links.append(a[attr])
        if tag == "td" and "data-key" in a:
            self._key, self._text = a["data-key"], []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag == "td" and self._key is not None:
            self.values[self._key] = "".join(self._text).strip()
            self._key = None

    def handle_data(self, d: str) -> None:
        if self._key is not None:
            self._text.append(d)


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour") / "report"
    calls = []
    page = convolab.tour.run(out, quick=True, progress=lambda *a: calls.append(a))
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    record = json.loads((out / "tour.json").read_text(encoding="utf-8"))
    return {"page": page, "html": page.read_text(encoding="utf-8"), "parsed": parser,
            "calls": calls, "json": record}


def _value(tour, key: str) -> str:
    return tour["parsed"].values[key]


def _number(tour, key: str) -> float:
    return float(_value(tour, key))


def _pair(tour, key: str) -> tuple[int, int]:
    return tuple(int(v) for v in re.findall(r"-?\d+", _value(tour, key)))


# ---------------------------------------------------------------------------
# structure


def test_returns_index_and_progress(tour):
    assert tour["page"].name == "index.html" and tour["page"].is_absolute()
    calls = tour["calls"]
    n = calls[0][2]
    assert [c[1] for c in calls] == list(range(n + 1))         # 0 .. n-1, then done
    assert all(c[2] == n for c in calls)
    assert calls[-1][0] == "done"
    assert [c[0] for c in calls[:8]] == [e.__name__ for e in convolab.tour.EXPERIMENTS]


def test_every_section_present_in_order(tour):
    p = tour["parsed"]
    assert p.sections == SECTION_KEYS
    html = tour["html"]
    for key in SECTION_KEYS:
        assert f'href="#{key}"' in html                           # in the table of contents
    assert html.count("<blockquote") == len(SECTION_KEYS)          # the seed's words
    assert html.count("The answer, measured.") == len(SECTION_KEYS)
    for seed in ("seed 000", "seed 001", "seed 002"):
        assert seed in html
    assert [s["key"] for s in tour["json"]["sections"]] == SECTION_KEYS


def test_header_has_machine_and_run_time(tour):
    v = tour["parsed"].values
    assert float(v["tour.total_seconds"].split()[0]) > 0
    html = tour["html"]
    import scipy
    for text in (f"<td>{np.__version__}</td>", f"<td>{scipy.__version__}</td>",
                 f"<td>{os.cpu_count()}</td>", "CPU cores", "date"):
        assert text in html


def test_html_is_well_formed_and_self_contained(tour):
    p, html = tour["parsed"], tour["html"]
    assert p.doctype.lower() == "doctype html"
    assert p.problems == [] and p.stack == []
    assert '<html lang="en">' in html and '<meta charset="utf-8">' in html
    assert "<title>" in html and "<style>" in html
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    for url in p.links:                                  # no network: local files and anchors
        assert not re.match(r"^[a-z]+:|^//", url), url
    assert "http://" not in html and "https://" not in html
    assert len(set(p.sections)) == len(p.sections)       # unique ids


def test_every_image_is_a_png_of_plausible_size(tour):
    pytest.importorskip("matplotlib")
    imageio = pytest.importorskip("imageio.v3")
    root = tour["page"].parent
    images = tour["parsed"].images
    assert len(images) >= 12
    files = sorted(p.name for p in (root / "figures").iterdir())
    assert sorted(pathlib.Path(i["src"]).name for i in images) == files
    for img in images:
        path = root / img["src"]
        head = path.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n", path
        assert 5_000 < path.stat().st_size < 2_000_000, path
        pixels = imageio.imread(path)
        h, w = pixels.shape[:2]
        assert (int(img["width"]), int(img["height"])) == (w, h)
        assert 300 <= w <= 2500 and 200 <= h <= 1600, (path, w, h)
        assert pixels[..., :3].std() > 5                  # not blank
        assert img["alt"]


# ---------------------------------------------------------------------------
# the numbers on the page against independent computations


def test_seed001_result(tour):
    sig = pytest.importorskip("scipy.signal")
    expected = sig.convolve2d(convolab.demo.SEED001_A, convolab.demo.SEED001_B, "valid")
    assert expected.tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    text = str(expected.tolist())
    values = tour["parsed"].values
    assert values["dot.result"] == text
    for key in ("method_reference", "method_direct", "method_im2col", "method_fft", "method_oa",
                "loops", "dot_products"):
        assert values[f"dot.{key}"] == text
    assert values["dot.all_agree"] == "yes"


def test_multichannel_and_one_by_one(tour):
    # the walk-through's output, recomputed with plain loops over the padded input
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(3, 5, 5))
    w = rng.integers(-1, 2, size=(2, 3, 3, 3))
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.array([[[np.sum(xp[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * w[o]) + (1, 0)[o]
                      for j in range(3)] for i in range(3)] for o in range(2)])
    assert _value(tour, "dot.multichannel_output") == str(out.tolist())
    assert _number(tour, "dot.multichannel_max_difference") == 0
    assert _number(tour, "dot.one_by_one") < 1e-12


def test_flip_numbers_match_scipy(tour):
    sig = pytest.importorskip("scipy.signal")
    img = data.face(48).pixels                                       # the quick tour's image
    k = convolab.demo.SOBEL_X
    conv = sig.convolve2d(img, k, "full")
    assert _number(tour, "flip.conv_minus_rotated_corr") < 1e-12
    assert np.max(np.abs(conv - sig.correlate2d(img, np.rot90(k, 2), "full"))) < 1e-12
    oracle = np.max(np.abs(conv - sig.correlate2d(img, k, "full")))
    assert _number(tour, "flip.conv_minus_corr") == pytest.approx(oracle, rel=1e-3)
    assert _number(tour, "flip.commutative_conv") < 1e-12
    assert _number(tour, "flip.associative_conv") < 1e-12
    assert _number(tour, "flip.commutative_corr") > 0.1
    assert _number(tour, "flip.associative_corr") > 0.1


def test_cross_correlation_is_rotated_convolution(tour):
    sig = pytest.importorskip("scipy.signal")
    assert _number(tour, "match.rot180") < 1e-12
    scene, template, _ = data.planted_template(64, 12)
    corr = sig.correlate(scene, template, "valid", method="direct")
    rot = sig.convolve(scene, template[::-1, ::-1], "valid", method="fft")
    assert _number(tour, "match.rot180_fft") < 1e-9
    assert np.max(np.abs(corr - rot)) < 1e-9


def test_template_found_at_planted_position(tour):
    feature = pytest.importorskip("skimage.feature")
    scene, template, planted = data.planted_template(64, 12)
    assert _pair(tour, "match.planted") == planted
    assert _pair(tour, "match.found") == planted
    score = feature.match_template(scene, template)
    best = np.unravel_index(np.argmax(score), score.shape)
    assert tuple(int(v) for v in best) == planted
    assert _number(tour, "match.peak_score") == pytest.approx(score.max(), abs=1e-3)


def test_frequency_numbers(tour):
    n = 48                                            # the quick tour's image side
    r = n / 8
    yy, xx = np.mgrid[0:n, 0:n]
    disc = (yy - n // 2) ** 2 + (xx - n // 2) ** 2 <= r * r
    assert _number(tour, "freq.mask_kept") == pytest.approx(disc.mean(), rel=1e-3)
    # the low-passed image, recomputed with numpy's FFT
    img = data.face(n).pixels
    spec = np.fft.fftshift(np.fft.fft2(img))
    low = np.fft.ifft2(np.fft.ifftshift(spec * disc)).real
    err = np.sqrt(np.mean((img - low) ** 2) / np.mean(img ** 2))
    assert _number(tour, "freq.mask_error") == pytest.approx(err, rel=1e-3)
    assert _number(tour, "freq.theorem") < 1e-12
    low_curve = json.loads(_value(tour, "freq.compress_lowpass"))
    big_curve = json.loads(_value(tour, "freq.compress_largest"))
    assert all(a >= b for a, b in zip(low_curve, low_curve[1:]))      # more kept, less error
    assert all(b <= a + 1e-9 for a, b in zip(low_curve, big_curve))   # largest is best
    assert _number(tour, "freq.noise_after") < _number(tour, "freq.noise_before") / 2
    assert _number(tour, "freq.high_frequency_after") < _number(tour, "freq.high_frequency_before")


def test_gaussian_273_smoothing_against_ndimage(tour):
    ndimage = pytest.importorskip("scipy.ndimage")
    img = data.face(48).pixels
    noisy = img + np.random.default_rng(0).normal(0.0, 0.1, img.shape)
    g = convolab.kernels.gaussian_273()
    # ndimage's 'reflect' is convolab's 'symm'
    noise = ndimage.convolve(noisy, g, mode="reflect") - ndimage.convolve(img, g, mode="reflect")
    assert _number(tour, "freq.noise_after") == pytest.approx(np.sqrt(np.mean(noise ** 2)),
                                                              rel=1e-3)


def test_diffusion_numbers(tour):
    e = math.exp
    assert _number(tour, "diff.softmax_centre") == pytest.approx(e(8) / (e(8) + 8 * e(-1)),
                                                                 rel=1e-3)
    assert _number(tour, "diff.softmax_neighbour") == pytest.approx(e(-1) / (e(8) + 8 * e(-1)),
                                                                    rel=1e-2)
    assert _number(tour, "diff.mass_change") < 1e-12
    assert _number(tour, "diff.softmax_mass") < 1e-12
    assert _number(tour, "diff.softmax_is_edge") < 1e-12
    assert _number(tour, "diff.semigroup") < 1e-3
    # 8 binomial steps (the quick tour) against a Gaussian of variance 4, computed here
    from scipy.stats import binom
    walk = binom.pmf(np.arange(17), 16, 0.5)                    # 8 steps of [1 2 1]/4 in 1-D
    g = np.exp(-0.5 * (np.arange(-8, 9) / 2.0) ** 2)
    g /= g.sum()
    oracle = np.max(np.abs(np.outer(walk, walk) - np.outer(g, g))) / np.outer(g, g).max()
    assert _number(tour, "diff.binomial_vs_heat") == pytest.approx(oracle, rel=1e-2)


def test_monte_carlo_converges_like_one_over_sqrt_n(tour):
    assert -0.7 < _number(tour, "mc.slope") < -0.3
    assert 0.6 < _number(tour, "mc.ratio_last") < 1.5
    errors = json.loads(_value(tour, "mc.errors"))
    assert errors[-1] < errors[0] / 4                       # 64 x the samples
    predicted = json.loads(_value(tour, "mc.predicted"))
    counts = json.loads(_value(tour, "mc.counts"))
    assert np.allclose(np.array(predicted) * np.sqrt(counts), predicted[0], rtol=0.01)


def test_timing_section(tour):
    rec = next(s for s in tour["json"]["sections"] if s["key"] == "fft")
    seconds = rec["numbers"]["fft.seconds"]
    ks = rec["numbers"]["fft.kernel_sizes"]
    assert sorted(seconds) == ["auto", "direct", "fft"]
    assert all(len(v) == len(ks) and min(v) > 0 for v in seconds.values())
    for k in ks:
        assert f"fft.k{k}" in tour["parsed"].values
    # the operation counts' crossover, recomputed: N^2 n^2 against 3 M log2 M + M
    from scipy.fft import next_fast_len
    n = np.arange(1, ks[-1] + 1)
    size = rec["numbers"]["fft.image_size"]
    m = np.array([next_fast_len(int(size + k - 1), real=True) for k in n], float) ** 2
    first = int(np.argmax(size ** 2 * n ** 2 > 3 * m * np.log2(m) + m))
    assert _number(tour, "fft.op_crossover") == pytest.approx(math.sqrt(n[first - 1] * n[first]),
                                                              rel=1e-3)


def test_learning_section(tour):
    try:
        import sklearn  # noqa: F401
    except ImportError:
        assert "scikit-learn" in tour["html"]
        return
    assert _number(tour, "learn.max_kernel_difference") < 1e-9
    assert _number(tour, "learn.max_loss_difference") < 1e-9
    assert _value(tour, "learn.losses_correlation") == _value(tour, "learn.losses_convolution")
    assert _number(tour, "learn.unrotated_difference") > 1e-3


def test_json_matches_the_page(tour):
    values = tour["parsed"].values
    keys = [k for k in values if not k.startswith("tour.")]
    numbers = {k: v for s in tour["json"]["sections"] for k, v in s["numbers"].items()}
    assert keys and set(keys) <= set(numbers)
    for k in keys:
        assert values[k] == format_value(numbers[k]), k


# ---------------------------------------------------------------------------
# the output folder


@pytest.fixture
def one_experiment(monkeypatch):
    """A one-section tour (the cheapest experiment), for the folder tests."""
    from convolab.tour import experiments
    monkeypatch.setattr(convolab.tour, "EXPERIMENTS", (experiments.dot_product,))


def test_refuses_non_empty_folder(tmp_path, one_experiment):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConvolabError, match="is not empty"):
        convolab.tour.run(tmp_path)
    with pytest.raises(ConvolabError, match="not an earlier tour report"):
        convolab.tour.run(tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(ConvolabError, match="is a file"):
        convolab.tour.run(tmp_path / "notes.txt", force=True)


def test_bad_arguments(tmp_path):
    with pytest.raises(ConvolabError, match="quick=1"):
        convolab.tour.run(tmp_path / "a", quick=1)
    with pytest.raises(ConvolabError, match="force='yes'"):
        convolab.tour.run(tmp_path / "a", force="yes")
    with pytest.raises(ConvolabError, match="progress=3"):
        convolab.tour.run(tmp_path / "a", progress=3)
    with pytest.raises(ConvolabError, match="out_dir=None"):
        convolab.tour.run(None)
    assert not (tmp_path / "a").exists()


def test_force_replaces_a_report_and_empty_folder_is_used(tmp_path, one_experiment):
    out = tmp_path / "report"
    out.mkdir()                                         # empty: allowed without force
    page = convolab.tour.run(out, quick=True)
    assert page == out / "index.html"
    (out / "stale.txt").write_text("old")
    convolab.tour.run(out, quick=True, force=True)
    assert not (out / "stale.txt").exists() and (out / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]     # no temporaries left


def test_without_matplotlib_the_page_says_so(tmp_path, one_experiment, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)       # import matplotlib fails
    page = convolab.tour.run(tmp_path / "report", quick=True)
    text = page.read_text(encoding="utf-8")
    assert "<img" not in text and "matplotlib is not installed" in text
    assert not (page.parent / "figures").exists()


def test_failure_leaves_no_trace(tmp_path, monkeypatch):
    def broken(*, quick=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(convolab.tour, "EXPERIMENTS", (broken,))
    with pytest.raises(RuntimeError, match="boom"):
        convolab.tour.run(tmp_path / "report", quick=True)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# in a browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

_CHECK = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  var target = e.target && (e.target.src || e.target.href);
  window.__errors.push(String(e.message || target || 'error'));
}, true);
console.error = function () { window.__errors.push(Array.prototype.join.call(arguments, ' ')); };
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); })
                .map(function (im) { return im.getAttribute('src'); });
  var out = document.createElement('pre');
  out.id = 'tour-check';
  out.textContent = JSON.stringify({images: imgs.length, bad: bad, errors: window.__errors,
                                    sections: document.querySelectorAll('section').length});
  document.body.appendChild(out);
});
</script>"""


def _browser_check(folder: pathlib.Path) -> dict:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
               "--dump-dom", (folder / "index.html").as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    found = re.search(r'<pre id="tour-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no result from Chromium (exit {done.returncode}): {done.stderr[-2000:]}"
    import html as html_module
    return json.loads(html_module.unescape(found.group(1)))


def test_renders_in_headless_chromium(tour, tmp_path):
    pytest.importorskip("matplotlib")
    if not os.path.exists(CHROMIUM):
        pytest.skip("headless Chromium (/usr/bin/chromium, Debian's 'chromium' package) is not "
                    "installed, so the page is not rendered in a browser")
    copy = tmp_path / "page"
    shutil.copytree(tour["page"].parent, copy)
    page = copy / "index.html"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace('<meta charset="utf-8">', '<meta charset="utf-8">' + _CHECK, 1),
                    encoding="utf-8")
    result = _browser_check(copy)
    assert result["errors"] == []
    assert result["bad"] == []
    assert result["images"] == len(tour["parsed"].images) >= 12
    assert result["sections"] == len(SECTION_KEYS)
    # and the check does see a broken image
    (copy / "figures" / "mc-error.png").unlink()
    broken = _browser_check(copy)
    assert broken["bad"] == ["figures/mc-error.png"] and broken["errors"]
