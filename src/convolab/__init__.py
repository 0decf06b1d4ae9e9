"""convolab: convolution and cross-correlation, computed every way the field uses them.

Signal API (a drop-in for ``scipy.signal``)
    :func:`convolve`, :func:`correlate`, :func:`fftconvolve`,
    :func:`oaconvolve`, :func:`convolve2d`, :func:`correlate2d`,
    :func:`choose_conv_method`, :func:`correlation_lags`

Planning
    :func:`plan` returns a :class:`Plan` that explains which algorithm runs a
    problem and why, and runs it when called.

Algorithms (``method=``)
    ``reference`` (plain loops, the oracle), ``direct`` (sliding window),
    ``im2col`` (one matrix product), ``fft`` (convolution theorem), ``oa``
    (overlap-add); see :mod:`convolab.algorithms`.

Tools (submodules, loaded on first use: ``convolab.kernels`` works after ``import convolab``)
    :mod:`convolab.kernels` (named kernels: gaussian, sobel, gabor, ...),
    :mod:`convolab.freq` (spectra, frequency masks, the convolution theorem),
    :mod:`convolab.match` (template matching by normalized cross-correlation),
    :mod:`convolab.propagators` (kernels as diffusion propagators, stochastic
    convolution), :mod:`convolab.ndimage` (``scipy.ndimage``'s linear
    filters), :mod:`convolab.masked` (``nan_policy='omit'``: normalized
    convolution).

Command line and tour
    :mod:`convolab.cli` (``convolab filter``, ``match``, ``spectrum``,
    ``diffuse``, ``plan``, ``bench``, ``tour``, ...), :mod:`convolab.io`
    (images in and out, never a half-written file), :mod:`convolab.tour`
    (the HTML report answering the seed questions), :mod:`convolab.plot`.

Larger than memory
    :mod:`convolab.chunked` (Dask arrays chunk by chunk, halos or
    overlap-add; ``.npy``/zarr files).  The signal functions accept Dask
    arrays and return lazy Dask arrays.

CNN layers
    :mod:`convolab.nn` (``torch.nn.functional`` drop-in and gradients),
    :mod:`convolab.torch` (autograd Function and modules; needs torch).

Errors
    :class:`ConvolabError` (a ``ValueError``) and :class:`ConvolabWarning`.

Importing convolab loads numpy and scipy only; everything optional is
imported where it is used.
"""

from .errors import ConvolabError, ConvolabWarning
from .planner import Plan
from .signal import (choose_conv_method, convolve, convolve2d, correlate, correlate2d,
                     correlation_lags, fftconvolve, oaconvolve, plan)

__version__ = "0.1.0"

__all__ = [
    "ConvolabError", "ConvolabWarning", "Plan",
    "choose_conv_method", "convolve", "convolve2d", "correlate", "correlate2d",
    "correlation_lags", "fftconvolve", "oaconvolve", "plan",
]

#: submodules imported on first attribute access, so ``import convolab`` stays light
_SUBMODULES = ("chunked", "cli", "freq", "io", "kernels", "masked", "match", "ndimage", "nn", "plot",
               "propagators", "torch", "tour")


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
