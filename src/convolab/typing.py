"""Names for the small vocabularies that convolab's arguments use."""

from __future__ import annotations

from typing import Literal

#: Output size in the signal family (scipy.signal's meaning of ``mode``).
Mode = Literal["full", "same", "valid"]
#: Edge extension; see :mod:`convolab.boundary` for the table.
Boundary = Literal["fill", "wrap", "symm", "reflect", "nearest"]
#: Algorithms; ``'auto'`` asks the planner.
Method = Literal["auto", "reference", "direct", "im2col", "fft", "oa", "os", "separable", "winograd"]
#: What to do with NaN in the inputs.
NanPolicy = Literal["propagate", "raise", "omit"]

MODES: tuple[str, ...] = ("full", "same", "valid")
NAN_POLICIES: tuple[str, ...] = ("propagate", "raise")
