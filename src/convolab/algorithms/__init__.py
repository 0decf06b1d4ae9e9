"""The algorithm registry: one module per algorithm, one small interface.

See :mod:`convolab.algorithms._base` for the interface.  ``ALGORITHMS`` maps
each ``method=`` name to its algorithm object.
"""

from __future__ import annotations

from ..errors import not_one_of
from ._base import Algorithm, Cost
from .direct import algorithm as _direct
from .fft import algorithm as _fft
from .im2col import algorithm as _im2col
from .overlap_add import algorithm as _oa
from .overlap_save import algorithm as _os
from .reference import algorithm as _reference
from .separable import algorithm as _separable
from .winograd import algorithm as _winograd

ALGORITHMS: dict[str, Algorithm] = {
    a.name: a for a in (_direct, _im2col, _fft, _oa, _os, _separable, _winograd, _reference)
}

#: scipy.signal's two method families: which convolab algorithms belong to each.
FAMILY: dict[str, str] = {"direct": "direct", "im2col": "direct", "reference": "direct",
                          "separable": "direct", "winograd": "direct", "fft": "fft", "oa": "fft",
                          "os": "fft"}


def get_algorithm(name: str) -> Algorithm:
    """Return the algorithm registered as ``name``."""
    try:
        return ALGORITHMS[name]
    except (KeyError, TypeError):
        raise not_one_of("method", name, ["auto", *ALGORITHMS]) from None


__all__ = ["ALGORITHMS", "FAMILY", "Algorithm", "Cost", "get_algorithm"]
