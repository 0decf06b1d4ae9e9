"""The demo's numbers against independent oracles, and the command line around it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import ndimage, signal

import convolab
from convolab import demo
from convolab.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------
# seed 001


def test_seed001_expected_is_scipys_answer():
    assert_array_equal(signal.convolve2d(demo.SEED001_A, demo.SEED001_B, "valid"),
                       demo.SEED001_EXPECTED)


def test_seed001_every_algorithm_loops_and_dot_products():
    r = demo.seed001()
    assert set(r.by_method) == set(demo.METHODS) == {"reference", "direct", "im2col", "fft", "oa"}
    oracle = signal.convolve2d(r.a, r.b, "valid")
    for method, out in r.by_method.items():
        assert_array_equal(out, oracle, err_msg=method)
        assert out.dtype == oracle.dtype, method
    assert_array_equal(r.loops, oracle)
    assert_array_equal(r.dot_products, oracle)
    assert r.agree


@pytest.mark.parametrize("shape, kshape", [((5, 5), (3, 3)), ((7, 4), (2, 3)), ((3, 6), (3, 1)),
                                           ((4, 4), (4, 4))])
@pytest.mark.parametrize("flip", [True, False])
def test_nested_loops_match_scipy(shape, kshape, flip):
    rng = np.random.default_rng(1)
    a = rng.integers(-5, 6, shape)
    b = rng.integers(-5, 6, kshape)
    oracle = (signal.convolve2d if flip else signal.correlate2d)(a, b, "valid")
    assert_array_equal(demo.nested_loops(a, b, flip=flip), oracle)


def test_nested_loops_refuse_a_kernel_larger_than_the_input():
    with pytest.raises(ValueError, match="at least as large"):
        demo.nested_loops(np.ones((2, 2)), np.ones((3, 3)))


def test_agree_notices_a_wrong_result():
    r = demo.seed001(methods=("direct",))
    wrong = demo.Seed001Result(a=r.a, b=r.b, expected=r.expected,
                               by_method={"direct": r.expected + 1}, loops=r.loops,
                               dot_products=r.dot_products)
    assert not wrong.agree


# ---------------------------------------------------------------------------
# seed 000: Gaussian smoothing


def test_gaussian_kernel_is_seed000s():
    weights = np.array([1, 4, 7, 4, 1])
    assert round(demo.GAUSSIAN_5X5.sum(), 12) == 1.0
    assert_allclose(demo.GAUSSIAN_5X5 * 273, np.round(demo.GAUSSIAN_5X5 * 273))
    assert_allclose(demo.GAUSSIAN_5X5[0] * 273, weights)
    assert_allclose(demo.GAUSSIAN_5X5[:, 2] * 273, [7, 26, 41, 26, 7])


def test_smoothing_every_algorithm_matches_ndimage_and_scipy_signal():
    r = demo.smoothing(64)
    # ndimage's 'reflect' is convolab's 'symm' (c b a | a b c); odd kernel: same centring
    by_ndimage = ndimage.convolve(r.noisy, demo.GAUSSIAN_5X5, mode="reflect")
    by_signal = signal.convolve2d(r.noisy, demo.GAUSSIAN_5X5, "same", boundary="symm")
    assert_allclose(by_ndimage, by_signal, rtol=0, atol=1e-13)
    assert set(r.by_method) == set(demo.METHODS)
    for method, out in r.by_method.items():
        assert_allclose(out, by_ndimage, rtol=0, atol=1e-12, err_msg=method)
    assert max(r.max_abs_diff.values()) < 1e-12


def test_smoothing_noise_and_high_frequency_numbers():
    r = demo.smoothing(128, noise_sigma=0.1, seed=3)
    smooth = lambda img: ndimage.convolve(img, demo.GAUSSIAN_5X5, mode="reflect")
    rms = lambda a: float(np.sqrt(np.mean(a ** 2)))
    assert r.noise_before == pytest.approx(rms(r.noisy - r.clean), rel=1e-12)
    assert r.noise_after == pytest.approx(rms(smooth(r.noisy) - smooth(r.clean)), rel=1e-9)
    assert r.error_after == pytest.approx(rms(smooth(r.noisy) - r.clean), rel=1e-9)
    # white noise through a linear filter: sigma * ||g||_2 (within sampling error)
    assert r.noise_predicted == pytest.approx(0.1 * np.sqrt((demo.GAUSSIAN_5X5 ** 2).sum()))
    assert r.noise_after == pytest.approx(r.noise_predicted, rel=0.15)
    assert r.noise_before == pytest.approx(0.1, rel=0.05)
    assert r.high_frequency_after < r.high_frequency_before / 10


def test_high_frequency_fraction_on_sinusoids():
    y, x = np.mgrid[0:64, 0:64]
    low = np.cos(2 * np.pi * 4 / 64 * x)            # 0.0625 cycles/pixel
    high = np.cos(2 * np.pi * 24 / 64 * y)          # 0.375 cycles/pixel
    assert demo.high_frequency_fraction(low) == pytest.approx(0.0, abs=1e-12)
    assert demo.high_frequency_fraction(high) == pytest.approx(1.0)
    assert demo.high_frequency_fraction(low + high) == pytest.approx(0.5)
    assert demo.high_frequency_fraction(low + 3 * high) == pytest.approx(0.9)


def test_synthetic_face_is_deterministic_and_in_range():
    a, b = demo.synthetic_face(96), demo.synthetic_face(96)
    assert_array_equal(a, b)
    assert a.shape == (96, 96) and 0 <= a.min() and a.max() <= 1
    assert len(np.unique(a)) > 10            # background gradient, head, eyes, nose, mouth


# ---------------------------------------------------------------------------
# the kernel flip


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_flip_identity_against_scipy_and_rot90(mode):
    img = demo.synthetic_face(48)
    k = demo.SOBEL_X
    r = demo.flip_identity(img, mode=mode)
    assert r.mode == mode
    conv = signal.convolve2d(img, k, mode)
    assert_allclose(conv, signal.correlate2d(img, np.rot90(k, 2), mode), atol=1e-12)
    assert r.conv_minus_rotated_corr < 1e-12
    assert r.conv_minus_corr == pytest.approx(
        np.abs(conv - signal.correlate2d(img, k, mode)).max(), rel=1e-12)
    assert r.edge_scale == pytest.approx(np.abs(conv).max(), rel=1e-12)
    # the Sobel kernel changes sign under the rotation: correlation is -convolution
    assert_array_equal(np.rot90(k, 2), -k)
    assert r.conv_minus_corr == pytest.approx(2 * r.edge_scale)


@pytest.mark.parametrize("mode", ["full", "valid"])
def test_flip_identity_with_an_even_random_kernel(mode):
    rng = np.random.default_rng(5)
    img = rng.normal(size=(20, 17))
    k = rng.normal(size=(4, 3))
    r = demo.flip_identity(img, k, mode=mode)
    assert r.conv_minus_rotated_corr < 1e-12
    assert r.conv_minus_corr > 0.1


def test_flip_identity_same_mode_even_kernel_shifts_like_scipy():
    # correlate2d centres an even kernel one sample earlier in 'same' mode
    rng = np.random.default_rng(5)
    img = rng.normal(size=(20, 17))
    k = rng.normal(size=(4, 3))
    r = demo.flip_identity(img, k, mode="same")
    oracle = np.abs(signal.convolve2d(img, k, "same")
                    - signal.correlate2d(img, np.rot90(k, 2), "same")).max()
    assert oracle > 0.1
    assert r.conv_minus_rotated_corr == pytest.approx(oracle, rel=1e-9)


def test_commutativity_and_associativity_numbers():
    r = demo.flip_identity(demo.synthetic_face(16), seed=7)
    rng = np.random.default_rng(7)
    a, b, c = rng.normal(size=16), rng.normal(size=5), rng.normal(size=3)
    assert r.commutative_conv < 1e-12 and r.associative_conv < 1e-12
    assert r.commutative_corr == pytest.approx(
        np.abs(signal.correlate(a, b) - signal.correlate(b, a)).max(), rel=1e-9)
    assoc = np.abs(signal.correlate(signal.correlate(a, b), c)
                   - signal.correlate(a, signal.correlate(b, c))).max()
    assert r.associative_corr == pytest.approx(assoc, rel=1e-9)
    assert r.commutative_corr > 0.1 and r.associative_corr > 0.1


# ---------------------------------------------------------------------------
# timings


def test_timings_rows():
    cases = [demo.TimingCase("image", (40, 40), (5, 5)), demo.TimingCase("signal", (500,), (9,))]
    rows = demo.timings(cases, repeats=2)
    assert [r.case for r in rows] == cases
    for row in rows:
        assert set(row.seconds) == set(demo.TIMED_METHODS)
        assert "reference" not in row.seconds
        assert all(t > 0 for t in row.seconds.values())
        assert row.fastest == min(row.seconds, key=row.seconds.get)
        x, w = np.empty(row.case.in_shape), np.empty(row.case.kernel_shape)
        assert row.planned == convolab.plan(x, w, "same").method
        assert row.planner_ratio >= 1.0
        assert "choice:" in row.plan_text


def test_timings_skip_im2col_when_its_matrix_is_large(monkeypatch):
    monkeypatch.setattr(demo, "IM2COL_BYTES_LIMIT", 0)
    (row,) = demo.timings([demo.TimingCase("tiny", (30,), (3,))], repeats=1)
    assert "im2col" not in row.seconds
    assert "matrix would take" in row.skipped["im2col"]


def test_default_timing_cases():
    shapes = [(c.in_shape, c.kernel_shape) for c in demo.TIMING_CASES]
    assert ((256, 256), (3, 3)) in shapes and ((256, 256), (31, 31)) in shapes
    assert ((100_000,), (101,)) in shapes


# ---------------------------------------------------------------------------
# the report


def test_render_has_every_section():
    cases = [demo.TimingCase("image 32x32, kernel 3x3", (32, 32), (3, 3))]
    report = demo.run(repeats=1, timing_cases=cases)
    assert report.failures() == []
    text = demo.render(report)
    for heading in ("Seed 001:", "Seed 000: smoothing", "Seeds 000/002:", "Seed 000: direct"):
        assert heading in text
    assert "[[4 3 4]\n     [2 4 3]\n     [2 3 4]]" in text
    assert "All checks hold." in text
    assert "convolab plan for" in text
    assert "convolab plan for" not in demo.render(report, plans=False)


# ---------------------------------------------------------------------------
# the command line


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "convolab", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_demo_runs_and_prints_the_seed001_matrix():
    proc = _run_cli("demo")
    assert proc.returncode == 0, proc.stderr
    assert "[[4 3 4]\n     [2 4 3]\n     [2 3 4]]" in proc.stdout
    assert "All checks hold." in proc.stdout
    assert proc.stderr == ""


def test_cli_bad_subcommand_exits_2():
    proc = _run_cli("no-such-command")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
    assert proc.stdout == ""


def test_main_usage_errors_return_2(capsys):
    assert main([]) == 2
    assert "a command is required" in capsys.readouterr().err
    assert main(["demo", "--repeats", "0"]) == 2
    assert main(["demo", "--no-such-option"]) == 2


def test_main_help_returns_0(capsys):
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_main_demo_without_timings(capsys):
    assert main(["demo", "--no-timings"]) == 0
    out = capsys.readouterr().out
    assert "[[4 3 4]" in out and "Seed 000: direct" not in out


def test_main_failure_is_one_line_on_stderr(monkeypatch, capsys):
    def broken(**kwargs):
        raise RuntimeError("something\nwent wrong")
    monkeypatch.setattr(demo, "run", broken)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "something went wrong" in err


def test_main_failed_check_returns_1(monkeypatch, capsys):
    report = demo.run(timing_cases=None)
    monkeypatch.setattr(demo, "run", lambda **kwargs: report)
    monkeypatch.setattr(demo.DemoReport, "failures", lambda self: ["seed 001: made up"])
    assert main(["demo"]) == 1
    captured = capsys.readouterr()
    assert "CHECKS FAILED" in captured.out
    assert captured.err.count("\n") == 1 and "seed 001: made up" in captured.err


def test_console_script_points_to_main():
    from importlib.metadata import entry_points
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    if "convolab" not in scripts:
        pytest.skip("convolab is not installed as a distribution")
    assert scripts["convolab"] == "convolab.__main__:main"
