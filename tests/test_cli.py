"""The command line and its file handling, against independent oracles.

Every subcommand runs once in a subprocess (``python -m convolab ...``) and its
output files are compared with numpy, scipy.ndimage, scipy.signal and
scikit-image computed here; most error cases run in-process through
:func:`convolab.cli.main` (a subprocess costs about a second).  Each error
case checks the exit code, exactly one line on stderr and that the folder
holds no new file, temporary files included.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import ndimage, signal

import convolab
from convolab import io
from convolab.cli import main

iio = pytest.importorskip("imageio.v3")

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.pop("CONVOLAB_MAX_PIXELS", None)
    return subprocess.run([sys.executable, "-m", "convolab", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def call(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.endswith("\n"), repr(err)
    assert err.startswith("convolab: error: "), err
    return err


# ---------------------------------------------------------------------------
# inputs


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "gray.png", (rng.random((24, 30)) * 255).astype(np.uint8))
    iio.imwrite(tmp_path / "rgb.png", (rng.random((20, 26, 3)) * 255).astype(np.uint8))
    iio.imwrite(tmp_path / "f.tif", rng.random((18, 22)).astype(np.float32))
    np.save(tmp_path / "a.npy", rng.normal(size=(16, 21)))
    (tmp_path / "garbage.png").write_bytes(b"this is not a png" * 4)
    return tmp_path


def listing(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def expected_uint8(result: np.ndarray) -> np.ndarray:
    """The documented clip cast: round to nearest, saturate at 0 and 255."""
    return np.clip(np.rint(result), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# every subcommand once, in a subprocess


def test_filter_colour_png(folder):
    proc = run_cli("filter", "rgb.png", "out.png", "--kernel", "gaussian:sigma=1.5",
                   cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    x = iio.imread(folder / "rgb.png").astype(np.float64)
    k = convolab.kernels.gaussian(1.5)
    by_library = np.stack([convolab.correlate(x[..., c], k, mode="same", boundary="reflect")
                           for c in range(3)], axis=-1)
    # ndimage's 'mirror' is convolab's 'reflect' (d c b | a b c d)
    by_ndimage = np.stack([ndimage.correlate(x[..., c], k, mode="mirror") for c in range(3)],
                          axis=-1)
    assert_allclose(by_library, by_ndimage, rtol=0, atol=1e-10)
    out = iio.imread(folder / "out.png")
    assert out.dtype == np.uint8 and out.shape == x.shape
    assert_array_equal(out, expected_uint8(by_library))
    assert "method=" in proc.stdout and "out.png" in proc.stdout


def test_correlate_float32_tiff_keeps_float32(folder):
    proc = run_cli("correlate", "f.tif", "out.tif", "--kernel", "sobel:axis=0",
                   "--boundary", "wrap", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    x = iio.imread(folder / "f.tif")
    out = iio.imread(folder / "out.tif")
    assert out.dtype == np.float32
    k = convolab.kernels.sobel(axis=0)
    assert_allclose(out, ndimage.correlate(x.astype(np.float64), k, mode="wrap"),
                    rtol=1e-5, atol=1e-5)
    assert_allclose(out, convolab.correlate(x, k.astype(np.float32), mode="same",
                                            boundary="wrap"), rtol=1e-6, atol=1e-6)


def test_convolve_npy_with_a_csv_kernel_full_mode(folder):
    k = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])        # even and asymmetric
    (folder / "k.csv").write_text("\n".join(",".join(str(v) for v in row) for row in k))
    proc = run_cli("convolve", "a.npy", "out.npy", "--kernel-file", "k.csv", "--mode", "full",
                   "--boundary", "fill", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    x = np.load(folder / "a.npy")
    out = np.load(folder / "out.npy")
    assert out.dtype == np.float64
    assert_allclose(out, signal.convolve(x, k, mode="full"), rtol=0, atol=1e-12)


def test_match_boxes_the_planted_template(folder):
    rng = np.random.default_rng(4)
    scene = (rng.random((60, 70)) * 100).astype(np.uint8)
    template = (rng.random((9, 11)) * 255).astype(np.uint8)
    scene[21:30, 40:51] = template
    iio.imwrite(folder / "scene.png", scene)
    iio.imwrite(folder / "tpl.png", template)
    proc = run_cli("match", "scene.png", "--template", "tpl.png", "--scores", "s.tif",
                   "--boxes", "b.png", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()[2:]]
    assert rows and rows[0][:2] == ["21", "40"]
    assert float(rows[0][2]) == pytest.approx(1.0, abs=1e-6)
    scores = iio.imread(folder / "s.tif")
    assert scores.dtype == np.float32 and scores.shape == (52, 60)
    feature = pytest.importorskip("skimage.feature")
    assert_allclose(scores, feature.match_template(scene.astype(np.float64),
                                                   template.astype(np.float64)),
                    rtol=0, atol=1e-5)
    boxes = iio.imread(folder / "b.png")
    assert boxes.shape == scene.shape + (3,) and boxes.dtype == np.uint8
    red = (boxes[..., 0] == 255) & (boxes[..., 1] == 0) & (boxes[..., 2] == 0)
    border = np.zeros(scene.shape, bool)
    border[21:30, 40:51] = True
    border[22:29, 41:50] = False                    # a 1-pixel frame around the match
    assert_array_equal(red, border)
    assert_array_equal(boxes[~border], np.repeat(scene[~border][:, None], 3, axis=1))


def test_spectrum_png_is_the_rescaled_log_magnitude(folder):
    proc = run_cli("spectrum", "gray.png", "s.png", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "rescaled" in proc.stderr                 # the choice is said
    x = iio.imread(folder / "gray.png").astype(np.float64)
    magnitude = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(x))))
    assert_allclose(convolab.freq.spectrum(x).magnitude, magnitude, rtol=1e-12, atol=1e-9)
    lo, hi = magnitude.min(), magnitude.max()
    expected = np.rint((magnitude - lo) * (255 / (hi - lo)))
    out = iio.imread(folder / "s.png")
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert np.mean(out == expected) > 0.99


def _numpy_radial(shape, kind, cutoff, order=2.0):
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    r2 = fy ** 2 + fx ** 2
    if kind == "ideal":
        return (r2 <= cutoff ** 2).astype(float)
    if kind == "gaussian":
        return np.exp(-r2 / (2 * cutoff ** 2))
    return 1 / (1 + (r2 / cutoff ** 2) ** order)


def test_lowpass_gaussian_against_numpy_fft(folder):
    proc = run_cli("lowpass", "a.npy", "lp.npy", "--cutoff", "0.15", "--kind", "gaussian",
                   cwd=folder)
    assert proc.returncode == 0, proc.stderr
    x = np.load(folder / "a.npy")
    expected = np.fft.ifft2(np.fft.fft2(x) * _numpy_radial(x.shape, "gaussian", 0.15)).real
    assert_allclose(np.load(folder / "lp.npy"), expected, rtol=0, atol=1e-12)


def test_highpass_and_bandpass_against_numpy_fft(folder, capsys):
    x = np.load(folder / "a.npy")
    code, _, err = call(capsys, "highpass", str(folder / "a.npy"), str(folder / "hp.npy"),
                        "--cutoff", "0.2")
    assert code == 0, err
    keep = 1 - _numpy_radial(x.shape, "ideal", 0.2)
    assert_allclose(np.load(folder / "hp.npy"), np.fft.ifft2(np.fft.fft2(x) * keep).real,
                    rtol=0, atol=1e-12)
    code, _, err = call(capsys, "bandpass", str(folder / "a.npy"), str(folder / "bp.npy"),
                        "--cutoff", "0.1", "0.3", "--kind", "butterworth", "--order", "3")
    assert code == 0, err
    band = (1 - _numpy_radial(x.shape, "butterworth", 0.1, 3)) * \
        _numpy_radial(x.shape, "butterworth", 0.3, 3)
    assert_allclose(np.load(folder / "bp.npy"), np.fft.ifft2(np.fft.fft2(x) * band).real,
                    rtol=0, atol=1e-12)


def test_diffuse_is_repeated_wrapped_convolution(folder):
    proc = run_cli("diffuse", "a.npy", "d.npy", "--kernel", "box:size=3", "--steps", "4",
                   cwd=folder)
    assert proc.returncode == 0, proc.stderr
    x = np.load(folder / "a.npy")
    u = x.copy()
    for _ in range(4):
        u = ndimage.convolve(u, np.full((3, 3), 1 / 9), mode="wrap")
    out = np.load(folder / "d.npy")
    assert_allclose(out, u, rtol=0, atol=1e-12)
    assert out.sum() == pytest.approx(x.sum(), abs=1e-9)         # wrap conserves mass


def test_stochastic_converges_to_the_convolution(folder, capsys):
    proc = run_cli("stochastic", "a.npy", "mc.npy", "--kernel", "box:size=3", "--samples",
                   "400", "--seed", "3", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "seed 3" in proc.stdout
    x = np.load(folder / "a.npy")
    p = np.full((3, 3), 1 / 9)
    mean = ndimage.convolve(x, p, mode="wrap")
    variance = ndimage.convolve(x ** 2, p, mode="wrap") - mean ** 2
    out = np.load(folder / "mc.npy")
    z = np.abs(out - mean) / np.sqrt(variance / 400)
    assert z.max() < 5.5 and 0.5 < np.sqrt(np.mean(z ** 2)) < 1.5
    # the seed makes it reproducible
    code, _, err = call(capsys, "stochastic", str(folder / "a.npy"), str(folder / "mc2.npy"),
                        "--kernel", "box:size=3", "--samples", "400", "--seed", "3")
    assert code == 0, err
    assert_array_equal(np.load(folder / "mc2.npy"), out)


def test_plan_prints_the_planners_choice(tmp_path):
    proc = run_cli("plan", "1024x1024", "31x31", "--dtype", "float32", "--mode", "same",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = convolab.plan(np.zeros((1024, 1024), np.float32), np.zeros((31, 31), np.float32),
                             "same")
    assert f"choice: {expected.method} " in proc.stdout
    assert "(1024, 1024) float32" in proc.stdout
    assert listing(tmp_path) == []


def test_bench_quick(tmp_path):
    proc = run_cli("bench", "--quick", "--repeats", "1", "--peers", "scipy.signal,scipy.ndimage",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "scipy.signal" in lines[1] and "scipy.ndimage" in lines[1] and "cv2" not in lines[1]
    for shape, kshape, label in (((128, 128), (5, 5), "image 128x128"),
                                 ((20000,), (31,), "signal 20000")):
        row = next(line for line in lines if line.startswith(label))
        method = convolab.plan(np.zeros(shape, np.float32), np.zeros(kshape, np.float32),
                               "same", op="correlate").method
        assert f"({method})" in row
        assert row.count(" ms (x") == 2
    assert "agrees" in lines[-1]


def test_kernels_lists_every_kernel(tmp_path):
    proc = run_cli("kernels", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name, info in convolab.kernels.available_kernels().items():
        assert info.signature in proc.stdout


def test_calibrate_dry_run(tmp_path):
    proc = run_cli("calibrate", "--dry-run", "--repeats", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "not stored (--dry-run)" in proc.stdout


def test_tour_refuses_a_file_as_its_folder(tmp_path):
    pytest.importorskip("convolab.tour")
    (tmp_path / "report").write_text("not a folder")
    proc = run_cli("tour", "--out", "report", "--quick", cwd=tmp_path)
    assert proc.returncode == 1
    one_line(proc.stderr)
    assert listing(tmp_path) == ["report"]


def test_tour_wiring(tmp_path, monkeypatch, capsys):
    tour = pytest.importorskip("convolab.tour")
    seen = {}

    def fake_run(out_dir, *, progress=None, quick=False, force=False):
        seen.update(out_dir=out_dir, progress=progress, quick=quick, force=force)
        if progress is not None:
            progress("flip", 0, 3)
            progress("done", 3, 3)
        return Path(out_dir) / "index.html"

    monkeypatch.setattr(tour, "run", fake_run)
    code, out, _ = call(capsys, "tour", "--out", str(tmp_path / "t"), "--quick", "--force",
                        "--no-progress")
    assert code == 0 and out.strip().endswith("index.html")
    assert seen == dict(out_dir=str(tmp_path / "t"), progress=None, quick=True, force=True)
    pytest.importorskip("tqdm")
    code, _, _ = call(capsys, "--progress", "tour")
    assert code == 0 and callable(seen["progress"]) and seen["out_dir"] == "convolab-tour"
    assert seen["quick"] is False and seen["force"] is False


# ---------------------------------------------------------------------------
# errors: the exit code, one line on stderr, nothing left behind


@pytest.mark.parametrize("args, code", [
    (("filter", "missing.png", "o.png", "--kernel", "box:size=3"), 1),
    (("filter", "garbage.png", "o.png", "--kernel", "box:size=3"), 1),
    (("filter", "gray.png", "o.png", "--kernel", "no-such-kernel"), 2),
    (("filter", "gray.png", "o.png", "--kernel", "gaussian:sigma=-1"), 2),
    (("filter", "gray.png", "o.png", "--kernel", "box:size=3", "--mode", "bad"), 2),
    (("filter", "gray.png", "rgb.png", "--kernel", "box:size=3"), 1),        # exists
])
def test_errors_in_a_subprocess(folder, args, code):
    before = listing(folder)
    mtime = (folder / "rgb.png").stat().st_mtime_ns
    proc = run_cli(*args, cwd=folder)
    assert proc.returncode == code
    one_line(proc.stderr)
    assert proc.stdout == ""
    assert listing(folder) == before
    assert (folder / "rgb.png").stat().st_mtime_ns == mtime


def test_error_messages(folder, capsys, monkeypatch):
    cases = [
        (("filter", "missing.png", "o.png", "--kernel", "box:size=3"), 1, "does not exist"),
        (("filter", "garbage.png", "o.png", "--kernel", "box:size=3"), 1, "cannot read"),
        (("filter", "gray.png", "o.png", "--kernel", "nope"), 2, "'gaussian'"),
        (("filter", "gray.png", "o.png", "--kernel", "gaussian:sigma=-1"), 2, "sigma=-1"),
        (("filter", "gray.png", "o.png", "--kernel", "box:size=3", "--mode", "bad"), 2,
         "invalid choice"),
        (("filter", "gray.png", "o.png", "--kernel", "box:size=3", "--boundary", "nope"), 2,
         "'symm'"),
        (("filter", "gray.png", "o.png"), 2, "--kernel"),
        (("filter", "gray.png", "o.png", "--kernel", "box:size=3", "--kernel-file", "k.npy"), 2,
         "not allowed with"),
        (("filter", "gray.png", "rgb.png", "--kernel", "box:size=3"), 1, "already exists"),
        (("filter", "gray.png", "gray.png", "--kernel", "box:size=3", "--force"), 1,
         "is the input"),
        (("filter", "gray.png", "./sub/../gray.png", "--kernel", "box:size=3", "--force"), 1,
         "is the input"),
        (("filter", "gray.png", "o.webm", "--kernel", "box:size=3"), 1, "extension"),
        (("filter", "gray.png", "nowhere/o.png", "--kernel", "box:size=3"), 1,
         "does not exist"),
        (("filter", "gray.png", "o.png", "--kernel-file", "missing.npy"), 1, "kernel_file="),
        (("filter", "gray.png", "o.png", "--kernel", "box:size=3", "--max-pixels", "100"), 1,
         "max_pixels=100"),
        (("filter", "gray.png", "o.png", "--kernel", "box:size=3", "--max-pixels", "0"), 2,
         "at least 1"),
        (("filter", "f.tif", "o.png", "--kernel", "box:size=3"), 1, "--output-dtype"),
        (("filter", "gray.png", "o.png", "--kernel", "box:size=3,ndim=1"), 1, "dimension"),
        (("bandpass", "gray.png", "o.png", "--cutoff", "0.3", "0.1"), 1, "low < high"),
        (("lowpass", "gray.png", "o.png", "--cutoff", "-0.1"), 2, "> 0"),
        (("stochastic", "gray.png", "o.png", "--kernel", "sobel"), 1, "--normalize softmax"),
        (("diffuse", "gray.png", "o.png", "--kernel", "box:size=3", "--steps", "-1"), 2,
         "at least 0"),
        (("match", "gray.png", "--template", "rgb.png", "--boxes", "gray.png", "--force"), 1,
         "is the input"),
        (("match", "gray.png", "--template", "gray.png", "--scores", "s.npy", "--boxes",
          "s.npy"), 1, "same file"),
        (("match", "rgb.png", "--template", "gray.png"), 1, "larger than the image"),
        (("plan", "100x100", "0x3"), 2, "zero size"),
        (("plan", "100x100", "3x3", "--dtype", "object"), 2, "numeric dtype"),
        (("plan", "100", "3x3"), 1, ""),
        (("bench", "--peers", "numpy"), 2, "allowed peers"),
        (("kernels", "gauss:sigma=[1,2,3]"), 2, "sigma"),
        (("no-such-command",), 2, "invalid choice"),
        ((), 2, "a command is required"),
    ]
    monkeypatch.chdir(folder)
    (folder / "sub").mkdir()
    np.save(folder / "k.npy", np.ones((3, 3)))
    before = listing(folder)
    for args, code, text in cases:
        got, out, err = call(capsys, *args)
        assert got == code, (args, err)
        assert text in one_line(err), (args, err)
        assert listing(folder) == before, args


def test_debug_prints_the_traceback(folder, capsys):
    code, _, err = call(capsys, "--debug", "filter", str(folder / "missing.png"),
                        str(folder / "o.png"), "--kernel", "box:size=3")
    assert code == 1
    assert "Traceback" in err and err.splitlines()[-1].startswith("convolab: error: ")
    code, _, err = call(capsys, "filter", str(folder / "missing.png"), str(folder / "o.png"),
                        "--kernel", "box:size=3", "--debug")
    assert code == 1 and "Traceback" in err


def test_unexpected_errors_name_their_type(folder, capsys, monkeypatch):
    import convolab.freq
    monkeypatch.setattr(convolab.freq, "spectrum", lambda *a, **k: 1 / 0)
    code, _, err = call(capsys, "spectrum", str(folder / "gray.png"), str(folder / "s.png"))
    assert code == 1
    assert "ZeroDivisionError" in one_line(err)
    assert "s.png" not in listing(folder)


def test_every_subcommand_has_help_with_an_example(capsys):
    from convolab.cli import build_parser
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(commands) >= {"filter", "correlate", "convolve", "match", "spectrum", "lowpass",
                             "highpass", "bandpass", "diffuse", "stochastic", "plan", "bench",
                             "kernels", "tour", "demo", "calibrate"}
    for name in commands:
        code, out, err = call(capsys, name, "--help")
        assert code == 0 and err == ""
        assert "example" in out and f"convolab {name}" in out, name
    code, out, _ = call(capsys, "--help")
    assert code == 0 and "exit codes" in out


# ---------------------------------------------------------------------------
# safe files


def test_force_replaces_an_existing_output(folder, capsys):
    (folder / "out.npy").write_bytes(b"old")
    code, _, err = call(capsys, "filter", str(folder / "a.npy"), str(folder / "out.npy"),
                        "--kernel", "box:size=3", "--force")
    assert code == 0, err
    x = np.load(folder / "a.npy")
    assert_allclose(np.load(folder / "out.npy"),
                    ndimage.correlate(x, np.full((3, 3), 1 / 9), mode="mirror"), atol=1e-12)
    assert [n for n in listing(folder) if n.startswith(".")] == []


def test_symlink_to_the_input_is_the_input(folder, capsys):
    os.symlink(folder / "a.npy", folder / "link.npy")
    code, _, err = call(capsys, "filter", str(folder / "a.npy"), str(folder / "link.npy"),
                        "--kernel", "box:size=3", "--force")
    assert code == 1 and "is the input" in one_line(err)
    os.link(folder / "a.npy", folder / "hard.npy")
    with pytest.raises(convolab.ConvolabError, match="is the input"):
        io.check_output(folder / "hard.npy", inputs=[folder / "a.npy"], force=True)


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_no_file(folder, capsys, monkeypatch, failure):
    (folder / "out.png").write_bytes(b"previous")

    def broken(path, *args, **kwargs):
        Path(path).write_bytes(b"half an image")
        raise failure

    monkeypatch.setattr(iio, "imwrite", broken)
    before = listing(folder)
    code, _, err = call(capsys, "filter", str(folder / "gray.png"), str(folder / "out.png"),
                        "--kernel", "box:size=3", "--force")
    assert code == 1
    one_line(err)
    assert listing(folder) == before                      # no temporary file left
    assert (folder / "out.png").read_bytes() == b"previous"


def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        io.write_image(tmp_path / "x.npy", np.zeros(3))
    finally:
        os.umask(old)
    assert (tmp_path / "x.npy").stat().st_mode & 0o777 == 0o644


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and header chunk declaring a size, then no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_from_the_header(tmp_path, monkeypatch, capsys):
    (tmp_path / "bomb.png").write_bytes(_png_header(100_000, 100_000))
    assert io.image_info(tmp_path / "bomb.png").shape == (100_000, 100_000)
    with pytest.raises(convolab.ConvolabError, match="declares shape"):
        io.read_image(tmp_path / "bomb.png")
    # a .npy header declaring 10**10 values, with no data behind it
    with open(tmp_path / "bomb.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)})
    code, _, err = call(capsys, "filter", str(tmp_path / "bomb.npy"), str(tmp_path / "o.npy"),
                        "--kernel", "box:size=3")
    assert code == 1 and "10000000000 pixels" in one_line(err)
    # the environment variable sets the limit
    np.save(tmp_path / "small.npy", np.zeros((10, 10)))
    monkeypatch.setenv("CONVOLAB_MAX_PIXELS", "99")
    with pytest.raises(convolab.ConvolabError, match="max_pixels=99"):
        io.read_image(tmp_path / "small.npy")
    assert io.read_image(tmp_path / "small.npy", max_pixels=100).shape == (10, 10)
    monkeypatch.setenv("CONVOLAB_MAX_PIXELS", "lots")
    with pytest.raises(convolab.ConvolabError, match="CONVOLAB_MAX_PIXELS='lots'"):
        io.read_image(tmp_path / "small.npy")


def test_pixel_count_ignores_colour_channels(tmp_path):
    iio.imwrite(tmp_path / "rgb.png", np.zeros((10, 10, 3), np.uint8))
    assert io.read_image(tmp_path / "rgb.png", max_pixels=100).shape == (10, 10, 3)
    with pytest.raises(convolab.ConvolabError):
        io.read_image(tmp_path / "rgb.png", max_pixels=99)


# ---------------------------------------------------------------------------
# the output cast


def test_cast_rules():
    r = np.array([[-3.2, 10.4], [255.6, 400.0]])
    cast = io.cast_output(r, "o.png", input_dtype=np.uint8)
    assert_array_equal(cast.array, [[0, 10], [255, 255]])
    assert "3 of 4 values" in cast.note
    assert io.cast_output(r, "o.tif", input_dtype=np.uint8).array.dtype == np.float32
    fits = io.cast_output(np.array([0.4, 254.6]), "o.tif", input_dtype=np.uint8)
    assert fits.array.dtype == np.uint8 and fits.note is None
    assert_array_equal(fits.array, [0, 255])
    sixteen = io.cast_output(r * 100, "o.png", input_dtype=np.uint16)
    assert sixteen.array.dtype == np.uint16
    assert_array_equal(sixteen.array, np.clip(np.rint(r * 100), 0, 65535))
    rescaled = io.cast_output(r, "o.png", input_dtype=np.uint8, scale="rescale").array
    assert_array_equal(rescaled, np.rint((r - r.min()) * 255 / (r.max() - r.min())))
    unit = io.cast_output(r, "o.npy", input_dtype=np.float64, scale="rescale").array
    assert_allclose(unit, (r - r.min()) / (r.max() - r.min()))
    assert io.cast_output(r, "o.npy", input_dtype=np.float64).array.dtype == np.float64
    assert io.cast_output(r.astype(np.float32), "o.tif",
                          input_dtype=np.float16).array.dtype == np.float32
    derived = io.cast_output(r, "o.png")
    assert derived.array.dtype == np.uint8 and "rescaled" in derived.note
    assert io.cast_output(r, "o.npy").array.dtype == np.float32
    assert io.cast_output(r, "o.npy", output_dtype="float64").array.dtype == np.float64
    assert_array_equal(io.cast_output(r, "o.npy", input_dtype=np.int16,
                                      output_dtype="same").array, [[-3, 10], [256, 400]])
    nan = io.cast_output(np.array([np.nan, 3.0]), "o.png", input_dtype=np.uint8)
    assert_array_equal(nan.array, [0, 3]) and "NaN" in nan.note
    with pytest.raises(convolab.ConvolabError, match="output-dtype"):
        io.cast_output(r, "o.png", input_dtype=np.float32)
    with pytest.raises(convolab.ConvolabError, match="does not fit .jpg"):
        io.cast_output(r, "o.jpg", output_dtype="uint16")
    with pytest.raises(convolab.ConvolabError, match="scale"):
        io.cast_output(r, "o.npy", scale="stretch")


def test_output_dtype_option_end_to_end(folder, capsys):
    code, _, err = call(capsys, "filter", str(folder / "gray.png"), str(folder / "o.tif"),
                        "--kernel", "laplacian", "--output-dtype", "uint16", "--scale",
                        "rescale")
    assert code == 0, err
    x = iio.imread(folder / "gray.png").astype(np.float64)
    r = ndimage.correlate(x, convolab.kernels.laplacian(), mode="mirror")
    out = iio.imread(folder / "o.tif")
    assert out.dtype == np.uint16
    expected = np.rint((r - r.min()) * (65535 / (r.max() - r.min())))
    assert np.abs(out - expected).max() <= 1


def test_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    for name, a in (("a.png", (rng.random((5, 6, 4)) * 255).astype(np.uint8)),
                    ("b.png", (rng.random((5, 6)) * 65535).astype(np.uint16)),
                    ("c.tif", rng.random((5, 6, 3)).astype(np.float32)),
                    ("d.tiff", rng.normal(size=(5, 6))),
                    ("e.npy", rng.normal(size=(2, 3, 4)) + 1j)):
        io.write_image(tmp_path / name, a)
        info = io.image_info(tmp_path / name)
        assert info.shape == a.shape and info.dtype == a.dtype, name
        assert_array_equal(io.read_image(tmp_path / name), a)
    with pytest.raises(convolab.ConvolabError, match="allowed in .jpg"):
        io.write_image(tmp_path / "f.jpg", np.zeros((4, 4), np.uint16))


def test_load_kernel_formats(tmp_path):
    k = np.array([[0.0, 1.5, 0.0], [2.0, -4.0, 1.0]])
    (tmp_path / "k.txt").write_text("# a comment\n0 1.5 0\n2 -4 1\n")
    (tmp_path / "k.csv").write_text("0,1.5,0\n2,-4,1\n")
    np.save(tmp_path / "k.npy", k)
    for name in ("k.txt", "k.csv", "k.npy"):
        assert_array_equal(io.load_kernel(tmp_path / name), k)
    (tmp_path / "bad.txt").write_text("1 2\n3 x\n")
    (tmp_path / "nan.csv").write_text("1,nan\n")
    for name, text in (("bad.txt", "as numbers"), ("nan.csv", "NaN"), ("k.json", "does not")):
        with pytest.raises(convolab.ConvolabError, match=text):
            io.load_kernel(tmp_path / name)


# ---------------------------------------------------------------------------
# larger than memory: chunk by chunk into zarr


def test_chunked_filter_to_zarr(tmp_path, capsys):
    pytest.importorskip("dask")
    zarr = pytest.importorskip("zarr")
    try:
        from convolab.chunked import convolve_file  # noqa: F401
    except ImportError:
        pytest.skip("convolab.chunked.convolve_file is not available")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(70, 50))
    np.save(tmp_path / "x.npy", x)
    code, out, err = call(capsys, "filter", str(tmp_path / "x.npy"), str(tmp_path / "y.zarr"),
                          "--kernel", "box:size=5", "--chunks", "32x32", "--boundary", "symm")
    assert code == 0, err
    assert "zarr" in out
    y = zarr.open_array(str(tmp_path / "y.zarr"), mode="r")[...]
    # ndimage's 'reflect' is convolab's 'symm' (c b a | a b c)
    assert_allclose(y, ndimage.correlate(x, np.full((5, 5), 1 / 25), mode="reflect"),
                    rtol=0, atol=1e-12)
    # colour: channels are never mixed
    c = rng.normal(size=(40, 30, 3))
    np.save(tmp_path / "c.npy", c)
    code, _, err = call(capsys, "convolve", str(tmp_path / "c.npy"), str(tmp_path / "c.zarr"),
                        "--kernel", "sobel", "--chunks", "16x16", "--boundary", "wrap")
    assert code == 0, err
    got = zarr.open_array(str(tmp_path / "c.zarr"), mode="r")[...]
    k = convolab.kernels.sobel()
    for ch in range(3):
        assert_allclose(got[..., ch], ndimage.convolve(c[..., ch], k, mode="wrap"), atol=1e-12)
    # an existing store needs --force; another folder is never replaced
    code, _, err = call(capsys, "filter", str(tmp_path / "x.npy"), str(tmp_path / "y.zarr"),
                        "--kernel", "box:size=3", "--chunks", "32x32")
    assert code == 1 and "already exists" in one_line(err)
    code, _, err = call(capsys, "filter", str(tmp_path / "x.npy"), str(tmp_path / "y.zarr"),
                        "--kernel", "box:size=3", "--chunks", "32x32", "--force")
    assert code == 0, err
    y = zarr.open_array(str(tmp_path / "y.zarr"), mode="r")[...]
    assert_allclose(y, ndimage.correlate(x, np.full((3, 3), 1 / 9), mode="mirror"), atol=1e-12)
    (tmp_path / "plain.zarr").mkdir()
    (tmp_path / "plain.zarr" / "keep.txt").write_text("mine")
    code, _, err = call(capsys, "filter", str(tmp_path / "x.npy"), str(tmp_path / "plain.zarr"),
                        "--kernel", "box:size=3", "--chunks", "32x32", "--force")
    assert code == 1 and "not a zarr store" in one_line(err)
    assert (tmp_path / "plain.zarr" / "keep.txt").read_text() == "mine"
    # --memory-limit switches a large .npy to the chunked path by itself
    code, out, err = call(capsys, "filter", str(tmp_path / "x.npy"), str(tmp_path / "m.zarr"),
                          "--kernel", "box:size=3", "--memory-limit", "1KiB")
    assert code == 0 and "zarr" in out, err
    code, _, err = call(capsys, "filter", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                        "--kernel", "box:size=3", "--chunks", "32x32")
    assert code == 1 and ".zarr" in one_line(err)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_cli_imports_stay_light():
    probe = ("import sys, convolab.cli, convolab.io; "
             "print(sorted(m for m in ('imageio', 'tqdm', 'PIL', 'tifffile', 'torch', 'dask', "
             "'cv2', 'matplotlib') if m in sys.modules))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
