"""The reference algorithm: plain loops over output positions.

Slow and obviously correct; every other algorithm is tested against it.  For
each output position it takes the receptive field of the zero-extended input
and sums the element-wise products with the kernel (over input channels too)
in a wide accumulator: float64, complex128, extended precision when the
inputs have it, or 64-bit integers.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..problem import ConvProblem
from ._base import Cost, zero_extend


def _wide(dtype: np.dtype) -> np.dtype:
    if dtype.kind in "iub":
        return dtype
    if dtype.kind == "c":
        return np.result_type(dtype, np.complex128)
    return np.result_type(dtype, np.float64)


class Reference:
    name = "reference"
    exact_nonfinite = True

    def supports(self, problem: ConvProblem) -> str | None:
        if problem.macs > 50_000_000:
            return "reference: only for small problems (at most 5e7 multiply-adds); it is the test oracle"
        return None

    def cost(self, problem: ConvProblem) -> Cost:
        positions = max(1, int(np.prod(problem.spatial_out)))
        return Cost(seconds=positions * 20e-6 + problem.macs * 5e-9, bytes=0,
                    detail=f"{positions} Python-level window sums")

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        wide = _wide(problem.compute_dtype)
        xp = zero_extend(problem, x).astype(wide, copy=False)
        w = w.astype(wide, copy=False)
        n, g, c = problem.x_shape[:3]
        o = problem.out_channels
        kernel = w.reshape(g, o, c, -1)
        out = np.zeros(problem.out_shape, dtype=wide)
        for pos in itertools.product(*(range(m) for m in problem.spatial_out)):
            field = tuple(slice(i * s, i * s + (k - 1) * d + 1, d)
                          for i, s, k, d in zip(pos, problem.strides,
                                                problem.kernel_spatial, problem.dilations))
            window = xp[(Ellipsis,) + field].reshape(n, g, c, -1)
            # sum over input channels c and kernel taps t of window * kernel
            out[(Ellipsis,) + pos] = np.einsum("ngct,goct->ngo", window, kernel)
        return out


algorithm = Reference()
