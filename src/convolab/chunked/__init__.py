"""Convolution of arrays larger than memory, chunk by chunk on Dask.

Seed 000 asks when the FFT route beats the direct sum; this package asks the
next question, the one a user meets first with a real image: *what if the
image does not fit in memory at all?*  The answer is to cut it into chunks,
give each chunk the border it needs from its neighbours (a *halo*), convolve
each chunk with convolab's planner, and keep only the part that no longer
depends on the cut.  When the kernel is wider than a chunk the halo would
outgrow the chunk, so each chunk is convolved in full instead and the
overlapping results are added (*overlap-add*).  Either way the result is
convolab's in-memory result, for every ``mode`` and ``boundary``.

Functions (they live in :mod:`convolab.chunked.dask`, which imports Dask;
this package itself imports nothing optional):

:func:`convolve`, :func:`correlate`
    scipy.signal's semantics on a Dask array, returning a lazy Dask array.
:func:`fftconvolve`, :func:`oaconvolve`, :func:`convolve2d`, :func:`correlate2d`
    the other signal functions, same arguments as :mod:`convolab.signal`.
:func:`plan`
    which strategy (halo or overlap-add) and which per-chunk algorithm, printable.
:func:`match_template`
    normalized cross-correlation (scikit-image's ``match_template``) on a Dask image.
:func:`convolve_file`, :func:`open_npy`
    lazy I/O: a ``.npy`` file or a zarr store in, a zarr store out.
:func:`is_dask_array`, :func:`forward`
    what :mod:`convolab.signal` uses to hand Dask inputs over to this package.

>>> import numpy as np
>>> from convolab.chunked import is_dask_array
>>> is_dask_array(np.ones(3))
False
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_dask_array", "forward", "convolve", "correlate", "fftconvolve", "oaconvolve",
           "convolve2d", "correlate2d", "plan", "ChunkPlan", "match_template",
           "convolve_file", "open_npy"]

# names served by the Dask module, imported on first use so that
# ``import convolab.chunked`` stays free of Dask
_LAZY = {name for name in __all__ if name not in ("is_dask_array", "forward")}


def is_dask_array(obj: Any) -> bool:
    """True when ``obj`` is a ``dask.array.Array``.

    Never imports Dask: an object can only be a Dask array if Dask is already
    loaded, so the check costs nothing for numpy users.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_array(np.zeros(2))
    False
    >>> import dask.array as da
    >>> is_dask_array(da.zeros(2, chunks=1))
    True
    """
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(obj, module.Array)


def forward(name: str, *args: Any, **kwargs: Any) -> Any:
    """Run the chunked version of the signal function ``name`` with the
    arguments the in-memory one received.

    ``name`` is one of ``'convolve'``, ``'correlate'``, ``'fftconvolve'``,
    ``'oaconvolve'``, ``'convolve2d'``, ``'correlate2d'``.  The first input
    may be a Dask or numpy array; the second (the kernel) is brought into
    memory.  The result is a lazy Dask array.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> x = da.from_array(np.arange(8.0), chunks=3)
    >>> forward('convolve', x, [1.0, 1.0], 'same').compute()
    array([ 0.,  1.,  3.,  5.,  7.,  9., 11., 13.])
    """
    from . import dask as _dask
    functions = _dask.SIGNAL_FUNCTIONS
    if name not in functions:
        from ..errors import not_one_of
        raise not_one_of("name", name, list(functions))
    return functions[name](*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import dask as _dask
        return getattr(_dask, name)
    raise AttributeError(f"module 'convolab.chunked' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
