"""Boundary extension: what a convolution sees beyond the edge of its input.

Five extensions, named as in scipy.signal where scipy has a name.  Each row
shows the three samples added on the left of ``1 2 3 4 5``::

    boundary   left pad | input       numpy.pad   ndimage   torch        OpenCV
    ---------  ---------+----------   ----------  --------  -----------  -------------------
    fill       0 0 0    | 1 2 3 4 5   constant    constant  zeros        BORDER_CONSTANT
    wrap       3 4 5    | 1 2 3 4 5   wrap        wrap      circular     BORDER_WRAP
    symm       3 2 1    | 1 2 3 4 5   symmetric   reflect   -            BORDER_REFLECT
    reflect    4 3 2    | 1 2 3 4 5   reflect     mirror    reflect      BORDER_REFLECT_101
    nearest    1 1 1    | 1 2 3 4 5   edge        nearest   replicate    BORDER_REPLICATE

``reflect`` always has the numpy/torch meaning (the edge sample is not
repeated); ndimage's ``reflect`` is convolab's ``symm``.  ``fill`` pads with
``fillvalue`` (0 by default).  Any pad width works, also one wider than the
input: the extension repeats, exactly as :func:`numpy.pad` does, which is the
oracle in the tests.

Accepted aliases: ``constant``/``pad``/``zeros`` → ``fill``; ``circular``/``periodic``
→ ``wrap``; ``symmetric`` → ``symm``; ``edge``/``replicate``/``extend`` →
``nearest``; ``mirror`` → ``reflect``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ConvolabError

BOUNDARIES: tuple[str, ...] = ("fill", "wrap", "symm", "reflect", "nearest")

ALIASES: dict[str, str] = {
    "fill": "fill", "constant": "fill", "pad": "fill", "zeros": "fill",
    "wrap": "wrap", "circular": "wrap", "periodic": "wrap",
    "symm": "symm", "symmetric": "symm",
    "reflect": "reflect", "mirror": "reflect",
    "nearest": "nearest", "edge": "nearest", "replicate": "nearest", "extend": "nearest",
}

_NUMPY_MODE = {"fill": "constant", "wrap": "wrap", "symm": "symmetric",
               "reflect": "reflect", "nearest": "edge"}


def normalize_boundary(boundary: object, name: str = "boundary") -> str:
    """Return the canonical boundary name for ``boundary`` or raise a helpful error.

    >>> normalize_boundary('circular')
    'wrap'
    >>> normalize_boundary('mirror')
    'reflect'
    """
    if isinstance(boundary, str) and boundary.lower() in ALIASES:
        return ALIASES[boundary.lower()]
    table = "; ".join(f"{alias!r}->{canon!r}" for alias, canon in ALIASES.items() if alias != canon)
    raise ConvolabError(
        f"{name}={boundary!r} is not one of {list(BOUNDARIES)} "
        f"(aliases: {table}). 'reflect' has numpy's meaning (d c b | a b c d); "
        f"ndimage's 'reflect' is 'symm' (c b a | a b c)")


def extend(x: np.ndarray, pads: Sequence[tuple[int, int]], boundary: str,
           fillvalue: complex | float = 0) -> np.ndarray:
    """Extend ``x`` by ``pads[i] = (lo, hi)`` samples on axis ``i`` (trailing axes).

    ``pads`` covers the last ``len(pads)`` axes of ``x``; leading axes are not
    extended.  Widths may exceed the axis length.

    >>> extend(np.array([1, 2, 3, 4, 5]), [(3, 0)], 'symm')
    array([3, 2, 1, 1, 2, 3, 4, 5])
    >>> extend(np.array([1, 2, 3]), [(5, 0)], 'reflect')
    array([2, 1, 2, 3, 2, 1, 2, 3])
    """
    lead = x.ndim - len(pads)
    width = [(0, 0)] * lead + [(int(lo), int(hi)) for lo, hi in pads]
    if not any(lo or hi for lo, hi in width):
        return x
    mode = _NUMPY_MODE[boundary]
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=fillvalue)
    if x.size == 0:
        raise ConvolabError(f"boundary={boundary!r} cannot extend an empty array; use 'fill'")
    return np.pad(x, width, mode=mode)


def extend_adjoint(g: np.ndarray, shape: Sequence[int], pads: Sequence[tuple[int, int]],
                   boundary: str) -> np.ndarray:
    """The adjoint of :func:`extend`: fold a gradient on the extended array
    back onto the original ``shape`` (trailing axes), adding every extended
    sample into the input sample it copies (``fill`` drops the pads).

    >>> extend_adjoint(np.ones(7), (4,), [(2, 1)], 'reflect')
    array([1., 2., 3., 1.])
    """
    lead = g.ndim - len(pads)
    for i, (lo, hi) in enumerate(pads):
        axis = lead + i
        n = shape[lead + i] if len(shape) == g.ndim else shape[i]
        if boundary == "fill":
            g = np.take(g, np.arange(lo, lo + n), axis=axis)
            continue
        # where each extended sample comes from: numpy.pad of the indices
        source = np.pad(np.arange(n), (lo, hi), mode=_NUMPY_MODE[boundary])
        moved = np.moveaxis(g, axis, 0)
        out = np.zeros((n,) + moved.shape[1:], dtype=g.dtype)
        np.add.at(out, source, moved)
        g = np.moveaxis(out, 0, axis)
    return g
