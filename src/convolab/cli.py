"""The ``convolab`` command line: every question of the project, from a shell.

``convolab COMMAND ...`` (the console script) and ``python -m convolab
COMMAND ...`` run the same :func:`main`.  Each subcommand is a thin layer over
the library, so that what the command writes is exactly what the library
computes:

===============================  =============================================
command                          what it does (library function)
===============================  =============================================
``filter``, ``correlate``,       an image filtered with a named kernel or a
``convolve``                     kernel file (:func:`convolab.plan`, then the
                                 plan run per colour channel); ``.npy``/zarr
                                 inputs larger than memory chunk by chunk
                                 (:func:`convolab.chunked.convolve_file`)
``match``                        template matching: the score map and the
                                 image with the matches boxed
                                 (:mod:`convolab.match`, seed 002)
``spectrum``                     the log-magnitude spectrum as an image
                                 (:func:`convolab.freq.spectrum`, seeds 000/002)
``lowpass``, ``highpass``,       frequency-domain filtering with ideal,
``bandpass``                     Gaussian or Butterworth masks
                                 (:func:`convolab.freq.filter_frequency`)
``diffuse``                      a kernel applied ``--steps`` times as a
                                 propagator (:func:`convolab.propagators.iter_diffuse`)
``stochastic``                   the Monte-Carlo convolution of seed 002
                                 (:func:`convolab.propagators.stochastic_convolve`)
``plan``                         the planner's explanation for given shapes
``bench``                        timings against scipy.signal, scipy.ndimage,
                                 OpenCV and torch, whichever are installed
``kernels``                      the named kernels and their parameters
``tour``                         the tour report (:mod:`convolab.tour`)
``demo``                         the seed documents' worked examples
``calibrate``                    the planner's cost constants, measured here
===============================  =============================================

Files are handled by :mod:`convolab.io`: inputs are never overwritten, an
existing output needs ``--force``, outputs are written to a temporary file
and renamed into place, and images declaring more than ``--max-pixels``
pixels are refused before they are decoded.

Exit codes: 0 success; 1 a failed operation (one line ``convolab: error:
...`` on stderr; ``--debug`` adds the traceback); 2 bad usage (one line from
the argument parser).  Notes about choices made (an output dtype, clipped
values) go to stderr as ``convolab: note: ...``; results and tables go to
stdout.  Progress bars (tqdm, when installed) appear on stderr for steps
that take over a second, by default only when stderr is a terminal.

Examples
--------
>>> from convolab.cli import build_parser
>>> args = build_parser().parse_args(['filter', 'in.png', 'out.png', '--kernel', 'box:size=3'])
>>> args.kernel.array.shape, args.op, args.boundary
((3, 3), 'correlate', 'reflect')
>>> main(['plan', '64x64', '3x3', '--method', 'direct'])    # doctest: +ELLIPSIS
convolab plan for convolve(in1 (64, 64) float64, in2 (3, 3) float64, mode='same')
...
  choice: direct (forced by method=)
0
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .errors import ConvolabError

__all__ = ["main", "build_parser"]

MODES = ("full", "same", "valid")
METHODS = ("auto", "direct", "im2col", "fft", "oa", "os", "separable", "winograd", "reference")
MATCH_METHODS = ("ccoeff_normed", "ccorr_normed", "sqdiff", "sqdiff_normed", "ccorr", "ccoeff")
OUTPUT_DTYPES = ("auto", "same", "uint8", "uint16", "int16", "int32", "float32", "float64")
NORMALIZATIONS = ("none", "l1", "softmax")
FREQ_KINDS = ("ideal", "gaussian", "butterworth")
BENCH_PEERS = ("scipy.signal", "scipy.ndimage", "cv2", "torch")


# ---------------------------------------------------------------------------
# the parser: one-line usage errors, argument types that explain themselves


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error printed as one line (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"convolab: error: {' '.join(message.split())} "
                     f"(see '{self.prog} --help')\n")


class _Kernel(NamedTuple):
    """A ``--kernel`` argument: the text given and the kernel it builds."""

    text: str
    array: np.ndarray


def _type(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    """Turn a converter's ConvolabError/ValueError into argparse's message."""
    def convert(text: str) -> Any:
        try:
            return fn(text)
        except argparse.ArgumentTypeError:
            raise
        except (ConvolabError, ValueError) as err:
            raise argparse.ArgumentTypeError(" ".join(str(err).split())) from None
    convert.__name__ = fn.__name__.lstrip("_")
    return convert


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value
    return convert


_positive_int = _int_at_least(1)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _pixels(text: str) -> int:
    """``268435456``, ``1e8`` or ``2**28``."""
    t = text.strip().replace("_", "")
    try:
        if "**" in t:
            base, _, exp = t.partition("**")
            value = int(base) ** int(exp)
        else:
            value = float(t)
            if not value.is_integer():
                raise ValueError
            value = int(value)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a pixel count such as 268435456, "
                                         "1e8 or 2**28") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


_SHAPE = re.compile(r"^\s*\d+(\s*[x×,]\s*\d+)*\s*$")


def _shape(text: str) -> tuple[int, ...]:
    """``'1024x1024'`` -> (1024, 1024); ``'1000'`` -> (1000,)."""
    if not _SHAPE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape; allowed: sizes joined by "
                                         "'x', such as 1024x1024 or 100000")
    shape = tuple(int(s) for s in re.split(r"[x×,]", text.replace(" ", "")))
    if min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} has a zero size; allowed: sizes >= 1")
    return shape


def _kernel_spec(text: str) -> _Kernel:
    from .kernels import parse_kernel_spec
    return _Kernel(text, np.asarray(parse_kernel_spec(text)))


def _shape_or_kernel(text: str) -> tuple[int, ...] | _Kernel:
    return _shape(text) if _SHAPE.match(text) else _kernel_spec(text)


def _boundary(text: str) -> str:
    from .boundary import normalize_boundary
    return normalize_boundary(text)


def _memory(text: str) -> int:
    from .planner import parse_bytes
    try:
        value = parse_bytes(text)
    except ConvolabError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; allowed: a number of bytes "
                                         "with an optional unit, such as 512MiB or 4GB") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1 byte")
    return value


def _output_dtype(text: str) -> str:
    if text in ("auto", "same"):
        return text
    from .io import _target_dtype
    return _target_dtype(text).name


def _dtype(text: str) -> np.dtype:
    try:
        dtype = np.dtype(text)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufc":
        raise argparse.ArgumentTypeError(f"{text!r} is not a numeric dtype; allowed: float32, "
                                         "float64, complex64, int16, uint8, ...")
    return dtype


def _peers(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in BENCH_PEERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed peers are "
                                         f"{', '.join(BENCH_PEERS)} (comma-separated)")
    return names


# ---------------------------------------------------------------------------
# option groups shared by several subcommands


def _common() -> argparse.ArgumentParser:
    """--debug and the progress switches, accepted before or after the command."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the traceback of an error")
    p.add_argument("--progress", dest="progress", action="store_const", const=True,
                   default=argparse.SUPPRESS,
                   help="show progress bars on stderr (default: when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                   default=argparse.SUPPRESS, help="never show progress bars")
    return p


def _output_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("output")
    g.add_argument("--force", action="store_true",
                   help="replace an existing output (never an input)")
    g.add_argument("--output-dtype", type=_type(_output_dtype), default="auto",
                   metavar="DTYPE",
                   help="auto (default: the input's dtype when it holds the result, else "
                        "float32 for .tif/.npy, else the input's dtype clipped), same, "
                        "uint8, uint16, float32, float64, ...")
    g.add_argument("--scale", choices=("clip", "rescale"), default="clip",
                   help="into an integer dtype: clip (round and saturate, default) or "
                        "rescale (map the result's [min, max] onto the dtype's range)")
    g.add_argument("--max-pixels", type=_pixels, default=None, metavar="N",
                   help="refuse images declaring more pixels (default 2**28, or "
                        "$CONVOLAB_MAX_PIXELS)")
    return p


def _conv_options(boundary: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("convolution")
    g.add_argument("--mode", choices=MODES, default="same",
                   help="output size: same (default), full or valid")
    g.add_argument("--boundary", type=_type(_boundary), default=boundary, metavar="NAME",
                   help=f"edge extension: fill, wrap, symm, reflect, nearest (or an alias; "
                        f"default {boundary})")
    g.add_argument("--fillvalue", type=_float, default=0.0, metavar="X",
                   help="the value beyond the edge for --boundary fill (default 0)")
    g.add_argument("--method", choices=METHODS, default="auto",
                   help="algorithm (default auto: the planner's choice)")
    return p


def _kernel_options(required: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("kernel")
    k = g.add_mutually_exclusive_group(required=required)
    k.add_argument("--kernel", type=_type(_kernel_spec), metavar="NAME[:k=v,...]",
                   help="a named kernel, e.g. gaussian:sigma=2 or sobel:axis=0 "
                        "(list: convolab kernels)")
    k.add_argument("--kernel-file", metavar="FILE",
                   help="a kernel in .npy, .txt or .csv (rows of numbers)")
    return p


def _image_io(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT", help="image (.png, .jpg, .tif, ...) or .npy")
    p.add_argument("output", metavar="OUTPUT", help="image or .npy to write")


def _normalize_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--normalize", choices=NORMALIZATIONS, default="none",
                   help="turn the kernel into a probability density first: l1 (divide by "
                        "the sum of |k|) or softmax; default none (use it as given)")
    p.add_argument("--temperature", type=_positive_float, default=1.0, metavar="T",
                   help="softmax temperature (default 1)")


_FORMATTER = argparse.RawDescriptionHelpFormatter

_EPILOG = """\
examples:
  convolab filter photo.png blurred.png --kernel gaussian:sigma=2
  convolab filter photo.png edges.tif --kernel sobel:axis=1       # float32 TIFF keeps signs
  convolab convolve scan.npy out.npy --kernel-file psf.npy --boundary wrap
  convolab filter big.npy out.zarr --kernel box:size=15 --chunks 2048x2048
  convolab match scene.png --template face.png --scores scores.tif --boxes found.png
  convolab spectrum photo.png spectrum.png
  convolab lowpass photo.png smooth.png --cutoff 0.05 --kind butterworth --order 2
  convolab diffuse dot.png heat.tif --kernel gaussian:sigma=1 --steps 20
  convolab stochastic photo.png mc.png --kernel box:size=5 --samples 200 --seed 0
  convolab plan 1024x1024 31x31 --dtype float32 --mode same
  convolab bench
  convolab kernels
  convolab tour --out convolab-tour

exit codes: 0 success, 1 a failed operation (one line on stderr), 2 bad usage.
Files: an input is never overwritten; an existing output needs --force; outputs are
written to a temporary file and renamed into place.
"""


def _add(commands: Any, name: str, *, help: str, description: str, epilog: str,
         parents: Sequence[argparse.ArgumentParser] = (), handler: Callable) -> argparse.ArgumentParser:
    import textwrap
    p = commands.add_parser(name, help=help, description=textwrap.fill(description, 79),
                            epilog="example:\n" + epilog if "\n" not in epilog.strip()
                            else "examples:\n" + epilog,
                            formatter_class=_FORMATTER, parents=[_common(), *parents])
    p.set_defaults(handler=handler)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``convolab`` command.

    Examples
    --------
    >>> args = build_parser().parse_args(['plan', '1024x1024', '31x31', '--dtype', 'float32'])
    >>> args.in_shape, args.kernel, args.dtype
    ((1024, 1024), (31, 31), dtype('float32'))
    """
    from . import __version__

    parser = _Parser(prog="convolab", formatter_class=_FORMATTER, epilog=_EPILOG,
                     description="Convolution and cross-correlation, computed every way the "
                                 "field uses them: exactly, fast and explained.")
    parser.add_argument("--version", action="version", version=f"convolab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("--progress", dest="progress", action="store_const", const=True,
                        default=None, help="show progress bars on stderr")
    parser.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                        help="never show progress bars")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    # -- filtering in space
    conv = _conv_options("reflect")
    for name, op, text in (
            ("filter", None, "Filter an image with a kernel: cross-correlation by default "
             "(--op), the orientation of cv2.filter2D and scipy.ndimage.correlate, in which "
             "convolab's named kernels are written."),
            ("correlate", "correlate", "Cross-correlate an image with a kernel "
             "(convolab.correlate: no kernel flip)."),
            ("convolve", "convolve", "Convolve an image with a kernel (convolab.convolve: "
             "the kernel is flipped).")):
        p = _add(commands, name, help=text.split(":")[0].split(" (")[0].lower(),
                 description=text + " Colour images are filtered per channel. Integer "
                 "images are filtered in float64, float32 images in float32.",
                 epilog=f"  convolab {name} photo.png out.png --kernel gaussian:sigma=2\n"
                        f"  convolab {name} scan.tif out.tif --kernel-file k.csv "
                        "--boundary wrap --method fft\n"
                        f"  convolab {name} big.npy out.zarr --kernel box:size=9 "
                        "--chunks 1024x1024\n",
                 parents=[_kernel_options(), conv, _output_options()], handler=_cmd_filter)
        _image_io(p)
        if op is None:
            p.add_argument("--op", choices=("correlate", "convolve"), default="correlate",
                           help="correlate (default) or convolve (flips the kernel)")
        else:
            p.set_defaults(op=op)
        g = p.add_argument_group("larger than memory (.npy or zarr in, zarr out)")
        g.add_argument("--chunks", type=_type(_shape), default=None, metavar="HxW",
                       help="filter chunk by chunk with convolab.chunked (output: .zarr)")
        g.add_argument("--memory-limit", type=_memory, default=None, metavar="SIZE",
                       help="chunk a .npy input larger than this (e.g. 2GiB)")

    # -- template matching
    p = _add(commands, "match", help="template matching: score map and boxed matches",
             description="Slide a template over an image and score every position "
                         "(normalized cross-correlation by default). Prints the best "
                         "matches (row, column of the top-left corner, score), writes the "
                         "score map (--scores) and the image with the matches boxed (--boxes).",
             epilog="  convolab match scene.png --template face.png --boxes found.png\n"
                    "  convolab match scene.tif --template t.tif --scores s.tif "
                    "--method sqdiff_normed --max-matches 3\n",
             parents=[_output_options()], handler=_cmd_match)
    p.add_argument("input", metavar="IMAGE", help="the image to search")
    p.add_argument("--template", required=True, metavar="FILE", help="the template image")
    p.add_argument("--method", choices=MATCH_METHODS, default="ccoeff_normed",
                   help="score (OpenCV's TM_* in lower case; default ccoeff_normed)")
    p.add_argument("--threshold", type=_float, default=None, metavar="X",
                   help="keep matches scoring above X (below for sqdiff*); default 0.5 for "
                        "ccoeff_normed/ccorr_normed, none otherwise")
    p.add_argument("--max-matches", type=_positive_int, default=10, metavar="N",
                   help="at most N matches, best first (default 10)")
    p.add_argument("--min-distance", type=_positive_int, default=None, metavar="D",
                   help="smallest distance between matches (default: half the template)")
    p.add_argument("--scores", metavar="FILE", help="write the score map (.tif/.npy: float32)")
    p.add_argument("--boxes", metavar="FILE", help="write the image with the matches boxed")

    # -- frequency domain
    p = _add(commands, "spectrum", help="log-magnitude spectrum as an image",
             description="Write log(1 + |FFT|) of the image, DC in the centre "
                         "(convolab.freq.spectrum). PNG/JPEG outputs are rescaled to uint8, "
                         ".tif/.npy keep float32.",
             epilog="  convolab spectrum photo.png spectrum.png\n"
                    "  convolab spectrum photo.png spectrum.tif --gray --linear\n",
             parents=[_output_options()], handler=_cmd_spectrum)
    _image_io(p)
    p.add_argument("--gray", action="store_true", help="average the colour channels first")
    p.add_argument("--linear", action="store_true", help="|FFT| instead of log(1 + |FFT|)")
    p.add_argument("--no-center", action="store_true", help="keep DC at index 0")

    for name, text in (("lowpass", "keep the frequencies below --cutoff"),
                       ("highpass", "keep the frequencies above --cutoff"),
                       ("bandpass", "keep the frequencies between the two --cutoff values")):
        p = _add(commands, name, help=f"frequency filter: {text}",
                 description=f"Frequency-domain filter: {text} (radial masks of "
                             "convolab.freq, cutoffs in cycles per pixel, 0.5 = Nyquist). "
                             "The filter is circular: it wraps around the edges.",
                 epilog=f"  convolab {name} photo.png out.png --cutoff "
                        f"{'0.05 0.2' if name == 'bandpass' else '0.1'} --kind gaussian\n",
                 parents=[_output_options()], handler=_cmd_frequency)
        _image_io(p)
        p.add_argument("--cutoff", type=_positive_float, required=True,
                       nargs=2 if name == "bandpass" else None,
                       metavar=("LOW", "HIGH") if name == "bandpass" else "F",
                       help="cycles per pixel" + (" (low < high)" if name == "bandpass" else ""))
        p.add_argument("--kind", choices=FREQ_KINDS, default="ideal",
                       help="mask shape (default ideal)")
        p.add_argument("--order", type=_positive_float, default=2.0, metavar="N",
                       help="Butterworth order (default 2)")
        p.set_defaults(band=name)

    # -- propagators
    p = _add(commands, "diffuse", help="apply a kernel --steps times (diffusion)",
             description="Apply the kernel again and again, as the propagator of a "
                         "diffusion (convolab.propagators, seed 002). With --boundary wrap "
                         "and a kernel summing to 1 the total is conserved.",
             epilog="  convolab diffuse dot.png heat.tif --kernel gaussian:sigma=1 --steps 20\n"
                    "  convolab diffuse img.png out.png --kernel-file k.txt --normalize "
                    "softmax --steps 5\n",
             parents=[_kernel_options(), _output_options()], handler=_cmd_diffuse)
    _image_io(p)
    p.add_argument("--steps", type=_int_at_least(0), default=10, metavar="N",
                   help="number of applications (default 10)")
    p.add_argument("--boundary", type=_type(_boundary), default="wrap", metavar="NAME",
                   help="edge extension (default wrap)")
    p.add_argument("--method", choices=METHODS, default="auto", help="algorithm per step")
    _normalize_options(p)

    p = _add(commands, "stochastic", help="Monte-Carlo convolution (random neighbours)",
             description="Every pixel takes the value of one neighbour, drawn with the "
                         "kernel's probabilities; the mean over --samples draws converges "
                         "to the convolution (convolab.propagators.stochastic_convolve, "
                         "seed 002).",
             epilog="  convolab stochastic photo.png mc.png --kernel box:size=5 "
                    "--samples 200 --seed 0\n",
             parents=[_kernel_options(), _output_options()], handler=_cmd_stochastic)
    _image_io(p)
    p.add_argument("--samples", type=_positive_int, default=100, metavar="N",
                   help="draws per pixel (default 100)")
    p.add_argument("--seed", type=_int_at_least(0), default=None, metavar="S",
                   help="random seed (default: fresh, printed for reproducibility)")
    p.add_argument("--boundary", type=_type(_boundary), default="wrap", metavar="NAME",
                   help="edge extension (default wrap)")
    _normalize_options(p)

    # -- planning and timing
    p = _add(commands, "plan", help="print the planner's choice for given shapes",
             description="Explain which algorithm convolab would run, with every "
                         "candidate's estimated time and memory (convolab.plan). Nothing "
                         "is allocated.",
             epilog="  convolab plan 1024x1024 31x31 --dtype float32 --mode same\n"
                    "  convolab plan 4096x4096 gaussian:sigma=3      # a real kernel: its "
                    "rank is known\n",
             handler=_cmd_plan)
    p.add_argument("in_shape", type=_type(_shape), metavar="SHAPE", help="e.g. 1024x1024")
    p.add_argument("kernel", type=_type(_shape_or_kernel), metavar="KERNEL",
                   help="a kernel shape (31x31) or a named kernel (gaussian:sigma=3)")
    p.add_argument("--dtype", type=_dtype, default=np.dtype(np.float64),
                   help="dtype of both operands (default float64)")
    p.add_argument("--op", choices=("convolve", "correlate"), default="convolve")
    p.add_argument("--mode", choices=MODES, default="same", help="default same")
    p.add_argument("--boundary", type=_type(_boundary), default="fill", metavar="NAME",
                   help="default fill")
    p.add_argument("--method", choices=METHODS, default="auto")

    p = _add(commands, "bench", help="time convolab against the installed peers",
             description="Cross-correlate ('same', zero fill) a few image and signal sizes "
                         "with convolab (method auto) and with whichever of scipy.signal, "
                         "scipy.ndimage, OpenCV and torch are installed; print median times "
                         "and ratios, and check that the results agree.",
             epilog="  convolab bench\n  convolab bench --quick --peers scipy.signal,cv2\n",
             handler=_cmd_bench)
    p.add_argument("--quick", action="store_true", help="small sizes only (a few seconds)")
    p.add_argument("--repeats", type=_positive_int, default=5, metavar="N",
                   help="timed runs per measurement, the median is shown (default 5)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--peers", type=_peers, default=BENCH_PEERS, metavar="LIST",
                   help=f"comma-separated subset of {','.join(BENCH_PEERS)}")

    p = _add(commands, "kernels", help="list the named kernels, or show one",
             description="List every named kernel with its parameters and defaults; with a "
                         "spec, print that kernel.",
             epilog="  convolab kernels\n  convolab kernels gaussian:sigma=1\n",
             handler=_cmd_kernels)
    p.add_argument("spec", nargs="?", type=_type(_kernel_spec), metavar="NAME[:k=v,...]")

    p = _add(commands, "tour", help="write the tour report (HTML)",
             description="Compute the answers to the seed documents' questions and write "
                         "them as an HTML report (convolab.tour).",
             epilog="  convolab tour --out convolab-tour --quick\n", handler=_cmd_tour)
    p.add_argument("--out", default="convolab-tour", metavar="DIR",
                   help="output folder (default convolab-tour)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing report in DIR (never another kind of folder)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, a quicker report")

    # -- the original two
    p = _add(commands, "demo", help="the seed documents' worked examples, computed, checked "
             "and timed",
             description="Compute the seed documents' worked examples with every algorithm, "
                         "check them against each other, and time the algorithms.",
             epilog="  convolab demo --no-timings\n", handler=_demo)
    p.add_argument("--repeats", type=_positive_int, default=5, metavar="N",
                   help="timed runs per algorithm; the median is shown (default 5)")
    p.add_argument("--no-timings", action="store_true", help="skip the timing section")
    p.add_argument("--no-plan", action="store_true",
                   help="leave out the planner's printed explanation")

    p = _add(commands, "calibrate", help="measure the planner's cost-model constants on this "
             "machine",
             description="Time each algorithm on a problem where one cost-model constant "
                         "dominates, fit the constants and store them in the user's cache "
                         "directory, where the planner reads them (shipped defaults otherwise).",
             epilog="  convolab calibrate --dry-run\n", handler=_calibrate)
    p.add_argument("--repeats", type=_positive_int, default=3, metavar="N",
                   help="timed runs per probe; the best counts (default 3)")
    p.add_argument("--dry-run", action="store_true", help="measure and print, but do not store")
    return parser


# ---------------------------------------------------------------------------
# progress bars and notes


def _note(message: str) -> None:
    print(f"convolab: note: {' '.join(message.split())}", file=sys.stderr)


class _Progress:
    """A tqdm bar on stderr when enabled and tqdm is installed, else nothing.

    The bar appears only after a second (``delay``) and is removed when done,
    so quick commands print nothing extra.
    """

    def __init__(self, enabled: bool, total: int | None, desc: str, unit: str = "it"):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            options = dict(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                           dynamic_ncols=True)
            try:
                self.bar = tqdm(delay=1.0, **options)
            except TypeError:            # tqdm < 4.61 has no delay: show the bar at once
                self.bar = tqdm(**options)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Callback form: ``progress(done, total)`` or ``progress(step, i, n)``:
        the first two integers are the position and the total, a string names
        the step."""
        if self.bar is None:
            return
        numbers = [a for a in args if isinstance(a, (int, np.integer))
                   and not isinstance(a, bool)]
        for a in args:
            if isinstance(a, str):
                self.bar.set_description_str(a, refresh=False)
        if len(numbers) > 1 and self.bar.total != numbers[1]:
            self.bar.total = int(numbers[1])
        if numbers:
            self.bar.n = int(numbers[0])
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _progress_on(args: argparse.Namespace) -> bool:
    chosen = getattr(args, "progress", None)
    if chosen is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(chosen)


# ---------------------------------------------------------------------------
# shared pieces of the image commands


def _kernel_from(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The kernel array and a short description of it."""
    if getattr(args, "kernel_file", None):
        from .io import load_kernel
        k = load_kernel(args.kernel_file)
        return k, f"{args.kernel_file} {_shape_text(k.shape)}"
    k = args.kernel.array
    if k.dtype.kind == "c":
        raise ConvolabError(f"kernel={args.kernel.text!r} is complex; allowed: a real kernel "
                            "(for gabor leave return_complex=false)")
    return k, f"{args.kernel.text} {_shape_text(k.shape)}"


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape)


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """Integers and bool compute in float64; float16/32 in float32; float64 as is."""
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    return np.result_type(dtype, np.float32)


def _read(path: str, args: argparse.Namespace) -> np.ndarray:
    from .io import read_image
    return read_image(path, max_pixels=getattr(args, "max_pixels", None))


def _channels(x: np.ndarray, kernel_ndim: int, what: str) -> bool:
    """True when ``x`` is channels-last for a ``kernel_ndim``-D kernel."""
    if x.ndim == kernel_ndim:
        return False
    if x.ndim == kernel_ndim + 1 and kernel_ndim >= 2:
        return True
    also = f", or {kernel_ndim}-D plus a last axis of colour channels" if kernel_ndim >= 2 else ""
    raise ConvolabError(f"the input has shape {x.shape} and the {what} has {kernel_ndim} "
                        f"dimension(s); allowed: a {kernel_ndim}-D input{also}")


def _per_channel(x: np.ndarray, kernel_ndim: int, fn: Callable[[np.ndarray], np.ndarray],
                 progress: _Progress | None = None, what: str = "kernel") -> np.ndarray:
    """``fn`` on the whole array, or on each channel of a channels-last array."""
    if not _channels(x, kernel_ndim, what):
        out = fn(x)
        if progress is not None:
            progress.update()
        return out
    outs = []
    for c in range(x.shape[-1]):
        outs.append(fn(np.ascontiguousarray(x[..., c])))
        if progress is not None:
            progress.update()
    return np.stack(outs, axis=-1)


def _write(out: str, result: np.ndarray, args: argparse.Namespace, *,
           input_dtype: Any, inputs: Sequence[Any]) -> np.ndarray:
    from .io import cast_output, write_image
    cast = cast_output(result, out, input_dtype=input_dtype, output_dtype=args.output_dtype,
                       scale=args.scale)
    write_image(out, cast.array, force=args.force, inputs=inputs)
    if cast.note:
        _note(f"{out}: {cast.note}")
    return cast.array


def _check_outputs(outputs: Sequence[str | None], inputs: Sequence[Any], force: bool) -> None:
    """Refuse bad outputs before any work is done (and two outputs with one name)."""
    from .io import check_output
    given = [o for o in outputs if o]
    for o in given:
        check_output(o, inputs=inputs, force=force)
    resolved = [Path(o).resolve() for o in given]
    if len(set(resolved)) != len(resolved):
        raise ConvolabError(f"outputs {given} name the same file twice; allowed: distinct "
                            "outputs")


def _n_channels(x: np.ndarray, kernel_ndim: int) -> int:
    return x.shape[-1] if x.ndim == kernel_ndim + 1 and kernel_ndim >= 2 else 1


# ---------------------------------------------------------------------------
# filter / correlate / convolve


def _cmd_filter(args: argparse.Namespace) -> int:
    kernel, described = _kernel_from(args)
    if _chunked_input(args):
        return _filter_chunked(args, kernel, described)
    from . import plan as make_plan

    inputs = [args.input, args.kernel_file]
    _check_outputs([args.output], inputs, args.force)
    x = _read(args.input, args)
    work = _work_dtype(x.dtype)
    k = kernel.astype(np.finfo(work).dtype, copy=False)     # float32 images stay float32
    xw = x.astype(work, copy=False)
    channels = _n_channels(xw, k.ndim)
    sample = xw[..., 0] if _channels(xw, k.ndim, "kernel") else xw
    plan = make_plan(np.ascontiguousarray(sample), k, args.mode, op=args.op, method=args.method,
                     boundary=args.boundary, fillvalue=args.fillvalue)
    with _Progress(_progress_on(args), channels, args.op, "channel") as bar:
        y = _per_channel(xw, k.ndim, lambda c: plan(c, k), bar)
    written = _write(args.output, y, args, input_dtype=x.dtype, inputs=inputs)
    print(f"{args.op}: {args.input} -> {args.output} ({_shape_text(written.shape)} "
          f"{written.dtype}), kernel {described}, mode={args.mode}, "
          f"boundary={args.boundary}, method={plan.method}")
    return 0


def _chunked_input(args: argparse.Namespace) -> bool:
    if args.chunks is not None:
        return True
    p = Path(args.input)
    if p.is_dir():
        return True
    return (args.memory_limit is not None and p.suffix.lower() == ".npy" and p.is_file()
            and p.stat().st_size > args.memory_limit)


def _filter_chunked(args: argparse.Namespace, kernel: np.ndarray, described: str) -> int:
    from .io import _npy_header, atomic_directory

    src, out = Path(args.input), Path(args.output)
    if out.suffix.lower() != ".zarr":
        raise ConvolabError(f"output={args.output!r}: chunked filtering writes a zarr store; "
                            "allowed: a name ending in .zarr")
    if not src.exists():
        raise ConvolabError(f"input={args.input!r} does not exist; allowed: a .npy file or a "
                            "zarr store")
    if out.resolve() == src.resolve():
        raise ConvolabError(f"output={args.output!r} is the input; allowed: another name "
                            "(convolab never overwrites its inputs)")
    if not out.resolve().parent.is_dir():
        raise ConvolabError(f"output={args.output!r}: the folder does not exist")
    try:
        from .chunked import convolve_file
        if src.is_dir():
            import zarr
            shape = zarr.open_array(str(src), mode="r").shape
        elif src.suffix.lower() == ".npy":
            shape, _ = _npy_header(src)
        else:
            raise ConvolabError(f"input={args.input!r}: chunked filtering reads .npy files and "
                                "zarr stores; allowed: one of those (convert images with "
                                "numpy first)")
    except ImportError as err:
        raise ConvolabError(f"chunked filtering needs dask and zarr ({err}); install "
                            "'convolab[dask]'") from None
    if args.output_dtype not in ("auto",):
        _note("--output-dtype is ignored for zarr outputs: they keep the result's dtype")
    chunks = tuple(args.chunks) if args.chunks is not None else (2048, 2048)
    k = kernel
    if len(chunks) == 1:                         # --chunks 512: 512 on every kernel axis
        chunks = chunks * k.ndim
    if len(shape) == k.ndim + 1:                 # channels last: never cut across channels
        k = k[..., None]
        chunks = tuple(chunks[-(k.ndim - 1):]) + (shape[-1],)
    elif len(shape) != k.ndim:
        raise ConvolabError(f"the input has shape {tuple(shape)} and the kernel {k.shape}; "
                            "allowed: the same number of dimensions, or one more (channels)")
    with _Progress(_progress_on(args), None, args.op, "chunk") as bar, \
            atomic_directory(out, force=args.force) as tmp:
        result = convolve_file(str(src), str(tmp), k, chunks=chunks, mode=args.mode,
                               op=args.op, boundary=args.boundary, fillvalue=args.fillvalue,
                               method=args.method, progress=bar)
        shape_out, dtype_out = result.shape, result.dtype
    print(f"{args.op}: {args.input} -> {args.output} (zarr, {_shape_text(shape_out)} "
          f"{dtype_out}, chunks {_shape_text(chunks)}), kernel {described}, mode={args.mode}, "
          f"boundary={args.boundary}")
    return 0


# ---------------------------------------------------------------------------
# match


_DEFAULT_THRESHOLD = {"ccoeff_normed": 0.5, "ccorr_normed": 0.5}


def _gray(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64).mean(axis=-1) if a.ndim == 3 else a


def _draw_boxes(image: np.ndarray, corners: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image as RGB(A) with a red rectangle around each match."""
    img = image
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    elif img.shape[-1] not in (3, 4):
        img = np.repeat(_gray(img)[..., None].astype(image.dtype), 3, axis=-1)
    else:
        img = img.copy()
    if img.dtype.kind in "iu":
        top = np.iinfo(img.dtype).max
    else:
        finite = img[np.isfinite(img)]
        top = max(1.0, float(finite.max())) if finite.size else 1.0
    color = np.zeros(img.shape[-1], dtype=np.float64)
    color[0] = top
    if img.shape[-1] == 4:
        color[3] = top
    h, w = size
    t = 1 if min(h, w) < 12 else 2
    for r, c in corners:
        r0, c0, r1, c1 = int(r), int(c), int(r) + h, int(c) + w
        for rows, cols in ((slice(r0, r0 + t), slice(c0, c1)), (slice(r1 - t, r1), slice(c0, c1)),
                           (slice(r0, r1), slice(c0, c0 + t)), (slice(r0, r1), slice(c1 - t, c1))):
            img[rows, cols] = color.astype(img.dtype)
    return img


def _cmd_match(args: argparse.Namespace) -> int:
    from .match import find_peaks, match_template

    inputs = [args.input, args.template]
    _check_outputs([args.scores, args.boxes], inputs, args.force)
    image = _read(args.input, args)
    template = _read(args.template, args)
    img, tpl = image, template
    if img.ndim not in (2, 3) or tpl.ndim not in (2, 3):
        raise ConvolabError(f"image {img.shape} and template {tpl.shape}: allowed: (H, W) or "
                            "(H, W, C) arrays")
    if img.ndim != tpl.ndim or (img.ndim == 3 and img.shape[-1] != tpl.shape[-1]):
        img, tpl = _gray(img), _gray(tpl)       # grey against colour: match in grey
    if tpl.shape[0] > img.shape[0] or tpl.shape[1] > img.shape[1]:
        raise ConvolabError(f"template={args.template!r} has shape {template.shape}, larger "
                            f"than the image {image.shape}; allowed: a template that fits")
    score = match_template(img, tpl, method=args.method)
    if score.ndim == 3:                         # colour matched as a volume: one channel offset
        score = score[..., 0]
    minimum = args.method.startswith("sqdiff")
    threshold = args.threshold if args.threshold is not None \
        else _DEFAULT_THRESHOLD.get(args.method)
    distance = args.min_distance or max(1, min(tpl.shape[:2]) // 2)
    peaks = find_peaks(score, threshold, min_distance=distance, max_peaks=args.max_matches,
                       minimum=minimum)
    size = tpl.shape[:2]
    print(f"match: {args.template} ({_shape_text(size)}) in {args.input} "
          f"({_shape_text(image.shape[:2])}), method={args.method}, "
          f"{len(peaks)} match(es){'' if threshold is None else f' beyond {threshold:g}'}")
    print(f"{'row':>6} {'col':>6} {'score':>12}")
    for r, c in peaks:
        print(f"{r:>6} {c:>6} {float(score[r, c]):>12.6g}")
    if args.scores:
        _write(args.scores, score, args, input_dtype=None, inputs=inputs)
    if args.boxes:
        _write(args.boxes, _draw_boxes(image, peaks, size), args, input_dtype=image.dtype,
               inputs=inputs)
    return 0


# ---------------------------------------------------------------------------
# spectrum and frequency filters


def _cmd_spectrum(args: argparse.Namespace) -> int:
    from .freq import spectrum

    _check_outputs([args.output], [args.input], args.force)
    x = _read(args.input, args)
    work = x.astype(_work_dtype(x.dtype), copy=False)
    if args.gray and work.ndim == 3:
        work = work.mean(axis=-1)
    s = spectrum(work, centered=not args.no_center, log=not args.linear,
                 channel_axis=-1 if work.ndim == 3 else None)
    written = _write(args.output, s.magnitude, args, input_dtype=None, inputs=[args.input])
    print(f"spectrum: {args.input} -> {args.output} ({_shape_text(written.shape)} "
          f"{written.dtype}), {'|X|' if args.linear else 'log(1 + |X|)'}, "
          f"{'DC at index 0' if args.no_center else 'DC in the centre'}")
    return 0


def _cmd_frequency(args: argparse.Namespace) -> int:
    from . import freq

    _check_outputs([args.output], [args.input], args.force)
    x = _read(args.input, args)
    work = x.astype(_work_dtype(x.dtype), copy=False)
    channel_axis = -1 if work.ndim == 3 else None
    shape = work.shape[:-1] if channel_axis is not None else work.shape
    if args.band == "lowpass":
        mask = freq.lowpass_mask(shape, args.cutoff, kind=args.kind, order=args.order)
    elif args.band == "highpass":
        mask = freq.highpass_mask(shape, args.cutoff, kind=args.kind, order=args.order)
    else:
        mask = freq.bandpass_mask(shape, *args.cutoff, kind=args.kind, order=args.order)
    y = freq.filter_frequency(work, mask, channel_axis=channel_axis)
    written = _write(args.output, y, args, input_dtype=x.dtype, inputs=[args.input])
    cut = " ".join(f"{c:g}" for c in np.atleast_1d(args.cutoff))
    print(f"{args.band}: {args.input} -> {args.output} ({_shape_text(written.shape)} "
          f"{written.dtype}), {args.kind} mask, cutoff {cut} cycles/pixel")
    return 0


# ---------------------------------------------------------------------------
# propagators


def _propagator(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    from .propagators import normalize
    k, described = _kernel_from(args)
    if args.normalize != "none":
        k = normalize(k, args.normalize, temperature=args.temperature)
        described += f", {args.normalize}-normalized"
    return k, described


def _cmd_diffuse(args: argparse.Namespace) -> int:
    from .propagators import iter_diffuse

    inputs = [args.input, args.kernel_file]
    _check_outputs([args.output], inputs, args.force)
    k, described = _propagator(args)
    x = _read(args.input, args)
    work = _work_dtype(x.dtype)
    xw, kw = x.astype(work, copy=False), k.astype(np.finfo(work).dtype, copy=False)
    channels = _n_channels(xw, kw.ndim)

    with _Progress(_progress_on(args), channels * args.steps, "diffuse", "step") as bar:
        def run(c: np.ndarray) -> np.ndarray:
            for n, u in enumerate(iter_diffuse(c, kw, args.steps, boundary=args.boundary,
                                               method=args.method)):
                if n:
                    bar.update()
            return u
        y = _per_channel(xw, kw.ndim, run)
    written = _write(args.output, y, args, input_dtype=x.dtype, inputs=inputs)
    print(f"diffuse: {args.input} -> {args.output} ({_shape_text(written.shape)} "
          f"{written.dtype}), kernel {described}, {args.steps} steps, "
          f"boundary={args.boundary}; total before {float(xw.sum()):.6g}, after "
          f"{float(y.sum()):.6g}")
    return 0


def _cmd_stochastic(args: argparse.Namespace) -> int:
    from .propagators import stochastic_convolve

    inputs = [args.input, args.kernel_file]
    _check_outputs([args.output], inputs, args.force)
    k, described = _propagator(args)
    x = _read(args.input, args)
    work = _work_dtype(x.dtype)
    xw = x.astype(work, copy=False)
    channels = _n_channels(xw, k.ndim)
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**63)
    rng = np.random.default_rng(seed)
    batches = min(args.samples, 20)             # progress in about 20 steps
    sizes = [args.samples // batches + (i < args.samples % batches) for i in range(batches)]

    with _Progress(_progress_on(args), channels * args.samples, "stochastic", "draw") as bar:
        def run(c: np.ndarray) -> np.ndarray:
            total = None
            for n in sizes:                     # the mean of batch means, weighted by size
                try:
                    m = stochastic_convolve(c, k, n, rng=rng, boundary=args.boundary) * n
                except ConvolabError as err:
                    raise ConvolabError(f"{err} (on the command line: --normalize softmax, or l1 for a non-negative kernel)") from None
                total = m if total is None else total + m
                bar.update(n)
            return (total / args.samples).astype(work)
        y = _per_channel(xw, k.ndim, run)
    written = _write(args.output, y, args, input_dtype=x.dtype, inputs=inputs)
    print(f"stochastic: {args.input} -> {args.output} ({_shape_text(written.shape)} "
          f"{written.dtype}), kernel {described}, {args.samples} samples, seed {seed}, "
          f"boundary={args.boundary}")
    return 0


# ---------------------------------------------------------------------------
# plan, kernels, tour


def _cmd_plan(args: argparse.Namespace) -> int:
    from . import plan

    # zero-stride views: a plan for any size, without allocating it
    x = np.broadcast_to(np.zeros((), args.dtype), args.in_shape)
    if isinstance(args.kernel, _Kernel):
        k = args.kernel.array.astype(args.dtype)
    else:
        k = np.broadcast_to(np.zeros((), args.dtype), args.kernel)
    print(plan(x, k, args.mode, op=args.op, method=args.method, boundary=args.boundary))
    return 0


def _cmd_kernels(args: argparse.Namespace) -> int:
    from .kernels import available_kernels

    if args.spec is not None:
        k = args.spec.array
        print(f"{args.spec.text}: shape {_shape_text(k.shape)}, {k.dtype}, sum {k.sum():.6g}")
        with np.printoptions(precision=4, suppress=True, linewidth=100, threshold=2000):
            print(k)
        return 0
    print("named kernels (use as --kernel NAME:key=value,...):")
    for info in available_kernels().values():
        print(f"  {info}")
    return 0


def _cmd_tour(args: argparse.Namespace) -> int:
    try:
        from . import tour
    except ImportError as err:
        raise ConvolabError(f"the tour is not available in this installation ({err})") from None
    # tour.run checks the folder itself (a file, a non-empty folder without
    # --force, a folder that is not an earlier report) and writes atomically
    with _Progress(_progress_on(args), None, "tour", "step") as bar:
        index = tour.run(args.out, progress=bar if bar.bar is not None else None,
                         quick=args.quick, force=args.force)
    print(f"tour: {index}")
    return 0


# ---------------------------------------------------------------------------
# bench


class _Case(NamedTuple):
    label: str
    in_shape: tuple
    kernel_shape: tuple


BENCH_CASES = (
    _Case("image 512x512, kernel 3x3", (512, 512), (3, 3)),
    _Case("image 512x512, kernel 15x15", (512, 512), (15, 15)),
    _Case("image 512x512, kernel 41x41", (512, 512), (41, 41)),
    _Case("signal 200000, kernel 101", (200_000,), (101,)),
)
BENCH_QUICK = (
    _Case("image 128x128, kernel 5x5", (128, 128), (5, 5)),
    _Case("signal 20000, kernel 31", (20_000,), (31,)),
)


def _peer_functions(names: Sequence[str]) -> tuple[dict[str, Callable], list[str]]:
    """Each installed peer as ``fn(x, k) -> correlate(x, k, 'same')`` with zero fill."""
    found: dict[str, Callable] = {}
    missing: list[str] = []
    for name in names:
        try:
            if name == "scipy.signal":
                from scipy import signal
                found[name] = lambda x, k: signal.correlate(x, k, mode="same")
            elif name == "scipy.ndimage":
                from scipy import ndimage
                found[name] = lambda x, k: ndimage.correlate(x, k, mode="constant", cval=0.0)
            elif name == "cv2":
                import cv2

                def by_cv2(x: np.ndarray, k: np.ndarray, cv2: Any = cv2) -> np.ndarray:
                    x2, k2 = (x, k) if x.ndim == 2 else (x[None, :], k[None, :])
                    out = cv2.filter2D(x2, -1, k2, borderType=cv2.BORDER_CONSTANT)
                    return out.reshape(x.shape)
                found[name] = by_cv2
            elif name == "torch":
                import torch
                import torch.nn.functional as F

                def by_torch(x: np.ndarray, k: np.ndarray, torch: Any = torch) -> np.ndarray:
                    conv = F.conv2d if x.ndim == 2 else F.conv1d
                    with torch.no_grad():
                        out = conv(torch.from_numpy(x)[None, None], torch.from_numpy(k)[None, None],
                                   padding="same")
                    return out[0, 0].numpy()
                found[name] = by_torch
        except ImportError:
            missing.append(name)
    return found, missing


def _warm_up(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` until its one-time costs are paid (compilation, thread pools,
    caches): once, and twice more when it is quick.  Returns the first result."""
    t0 = time.perf_counter()
    result = fn()
    if time.perf_counter() - t0 < 0.2:
        fn()
        fn()
    return result


def _median_time(fn: Callable[[], Any], repeats: int, budget: float = 1.0) -> float:
    times = []
    spent = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        times.append(t)
        spent += t
        if spent > budget:           # a slow peer: fewer repeats, the bench stays short
            break
    return float(np.median(times))


def _ms(t: float) -> str:
    return f"{t * 1e3:.3g} ms" if t < 10 else f"{t:.3g} s"


def _cmd_bench(args: argparse.Namespace) -> int:
    import convolab

    cases = BENCH_QUICK if args.quick else BENCH_CASES
    peers, missing = _peer_functions(args.peers)
    for name in missing:
        _note(f"{name} is not installed; skipped")
    dtype = np.dtype(args.dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    rng = np.random.default_rng(0)
    rows, disagreements = [], []
    with _Progress(_progress_on(args), len(cases) * (1 + len(peers)), "bench", "run") as bar:
        for case in cases:
            x = rng.random(case.in_shape).astype(dtype)
            k = rng.random(case.kernel_shape).astype(dtype)
            method = convolab.plan(x, k, "same", op="correlate").method
            ours = _warm_up(lambda: convolab.correlate(x, k, mode="same"))   # the reference
            t_ours = _median_time(lambda: convolab.correlate(x, k, mode="same"), args.repeats)
            bar.update()
            scale = float(np.abs(ours).max()) or 1.0
            cells = {}
            for name, fn in peers.items():
                result = _warm_up(lambda: fn(x, k))
                err = float(np.abs(np.asarray(result, dtype=np.float64) - ours).max()) / scale
                if not err <= tol:
                    disagreements.append(f"{name} on {case.label}: relative difference {err:.2g}")
                cells[name] = _median_time(lambda: fn(x, k), args.repeats)
                bar.update()
            rows.append((case.label, method, t_ours, cells))
    names = list(peers)
    print(f"convolab bench: correlate, mode='same', zero fill, {dtype.name}; median of up to "
          f"{args.repeats} runs; (xN) = peer time / convolab time, above 1 means convolab "
          "is faster")
    head = f"{'case':<30} {'convolab (method)':<24}" + "".join(f" {n:<20}" for n in names)
    print(head)
    print("-" * len(head))
    for label, method, t_ours, cells in rows:
        line = f"{label:<30} {_ms(t_ours) + f' ({method})':<24}"
        for n in names:
            line += f" {_ms(cells[n]) + f' (x{cells[n] / t_ours:.2g})':<20}"
        print(line)
    if disagreements:
        print("results differ from convolab's: " + "; ".join(disagreements))
        return 1
    if names:
        print(f"every peer's result agrees with convolab's (relative difference <= {tol:g})")
    return 0


# ---------------------------------------------------------------------------
# demo and calibrate


def _calibrate(args: argparse.Namespace) -> int:
    from . import _calibration

    result = _calibration.calibrate(repeats=args.repeats, write=not args.dry_run)
    print(f"{'constant':<22}{'estimated':>12}{'measured':>12}{'new value':>12}")
    for name, (estimated, measured) in result["measured"].items():
        print(f"{name:<22}{estimated * 1e3:>10.2f}ms{measured * 1e3:>10.2f}ms"
              f"{result['constants'][name]:>12.3g}")
    where = "not stored (--dry-run)" if args.dry_run else f"stored in {result['path']}"
    print(f"constants {where}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    report = demo.run(repeats=args.repeats,
                      timing_cases=None if args.no_timings else demo.TIMING_CASES)
    print(demo.render(report, plans=not args.no_plan))
    failures = report.failures()
    if failures:
        print(f"convolab: error: demo: {len(failures)} check(s) failed: {failures[0]}",
              file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------
# main


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    if isinstance(exc, (ConvolabError, OSError)):
        return message or type(exc).__name__
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``convolab`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit code: 0 success, 1 a failed operation (one line on
    stderr; ``--debug`` prints the traceback first), 2 bad usage (one line
    from the argument parser).

    Examples
    --------
    >>> main(['kernels', 'box:size=3'])
    box:size=3: shape 3x3, float64, sum 1
    [[0.1111 0.1111 0.1111]
     [0.1111 0.1111 0.1111]
     [0.1111 0.1111 0.1111]]
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:        # --help, --version (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        print("convolab: error: a command is required (try: convolab --help)", file=sys.stderr)
        return 2

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        print(f"convolab: warning: {' '.join(str(message).split())}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            return args.handler(args)
    except KeyboardInterrupt:
        print("convolab: error: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:         # one line, not a traceback (unless --debug)
        if args.debug:
            traceback.print_exc()
        print(f"convolab: error: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":           # pragma: no cover
    sys.exit(main())
