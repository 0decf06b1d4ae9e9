"""Overlap-add: FFT convolution block by block.

A long input and a short kernel waste most of one big transform on padding.
Overlap-add cuts the input into blocks of length ``B`` on each axis, convolves
every block with the kernel by FFT (all blocks at once, as a batch of small
transforms of length ``L >= B + k - 1``), and adds each block's result into the
output where it overlaps the next block's.  The sum is exactly the full linear
convolution; the cost is ``O(P log L)`` instead of ``O(P log P)``, and the
temporaries are a few blocks rather than whole padded copies.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _calibration
from ..problem import ConvProblem
from ._base import Cost, fft_len, fft_seconds, fft_workers, kernel_spectrum
from .fft import TransformAlgorithm, crop_full, dilate_kernel, spectrum_product


def block_plan(n: int, kd: int, real: bool) -> tuple[int, int, int]:
    """(block length B, transform length L, number of blocks) for one axis.

    Chosen by cost: among fast transform lengths from ``2 kd`` up to one
    transform of the whole axis, the one with the least ``blocks * L log L``
    (plus a small per-block overhead, in units of transform points).
    """
    whole = fft_len(n + kd - 1, real)
    best = (whole * math.log2(max(whole, 2)), n, whole, 1)
    if n <= 2 * kd:
        return best[1:]
    length = fft_len(max(2 * kd, 16), real)
    while length < whole:
        block = length - kd + 1
        blocks = -(-n // block)
        cost = blocks * (length * math.log2(length) + 64)
        if cost < best[0]:
            best = (cost, block, length, blocks)
        length = fft_len(int(length * 1.25) + 1, real)
    return best[1:]


class OverlapAdd(TransformAlgorithm):
    name = "oa"

    def _plans(self, problem: ConvProblem) -> list[tuple[int, int, int]]:
        real = not problem.is_complex
        return [block_plan(n, kd, real) for n, kd in zip(problem.spatial_in, problem.dilated_kernel)]

    def cost(self, problem: ConvProblem) -> Cost:
        c = _calibration.constants()
        plans = self._plans(problem)
        shape = tuple(p[1] for p in plans)
        blocks = math.prod(p[2] for p in plans)
        n, g, ci = problem.x_shape[:3]
        co = problem.out_channels
        factor = 1.0 if not problem.is_complex else 2.0
        transforms = blocks * (n * g * ci + n * g * co) + g * co * ci
        points = math.prod(shape)
        single = problem.compute_dtype in (np.float32, np.complex64)
        seconds = factor * fft_seconds(shape, transforms, c, calls=3, single=single)
        seconds += blocks * n * g * co * ci * (points // 2 + 1) * c["spectrum_per_element"]
        # the overlap-add itself: one pass over the output per axis
        seconds += problem.ndim * blocks * n * g * co * points * c["numpy_per_element"]
        # small multi-dimensional blocks transform less efficiently than one
        # large transform (measured: about 1.5x per extra axis)
        seconds *= 1.0 + 0.5 * (problem.ndim - 1)
        temporaries = blocks * (n * g * (ci + co)) * (points // 2 + 1) * 2 * problem.itemsize
        detail = f"{blocks} block{'s' if blocks > 1 else ''}, transforms of {'x'.join(map(str, shape))}"
        return self._with_limbs(problem, seconds, temporaries, detail)

    def _run_float(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        from scipy import fft as sp_fft

        real = not (np.iscomplexobj(x) or np.iscomplexobj(w))
        nd = problem.ndim
        plans = self._plans(problem)
        kd = problem.dilated_kernel
        # 1. cut every spatial axis into (blocks, B): x -> (N, G, C, nb1, B1, nb2, B2, ...)
        width = [(0, 0)] * 3 + [(0, nb * b - n) for (b, _, nb), n in zip(plans, problem.spatial_in)]
        xb = np.pad(x, width) if any(p[1] for p in width) else x
        xb = xb.reshape(xb.shape[:3] + tuple(v for b, _, nb in plans for v in (nb, b)))
        block_axes = tuple(4 + 2 * i for i in range(nd))
        shape = tuple(p[1] for p in plans)
        forward, inverse = (sp_fft.rfftn, sp_fft.irfftn) if real else (sp_fft.fftn, sp_fft.ifftn)
        workers = fft_workers(xb.size)
        xf = forward(xb, shape, axes=block_axes, workers=workers)
        # 2. the reversed kernel's spectrum, with length-1 block axes to broadcast
        wr = np.flip(dilate_kernel(w, problem.dilations), axis=tuple(range(3, 3 + nd)))
        wf = kernel_spectrum(("oa", shape, real, wr.shape, wr.dtype.str),
                             lambda: forward(wr, shape, axes=tuple(range(3, 3 + nd)), workers=workers))
        wf = wf.reshape(wf.shape[:3] + tuple(v for m in wf.shape[3:] for v in (1, m)))
        yf = _product(xf, wf)
        y = inverse(yf, shape, axes=block_axes, workers=workers)
        # 3. add the overlapping tails, axis by axis
        for i, (b, length, nb) in enumerate(plans):
            y = _overlap_add_axis(y, 3 + i, b, nb, kd[i])
        return crop_full(problem, y)


def _product(xf: np.ndarray, wf: np.ndarray) -> np.ndarray:
    """Channel sum of spectra with interleaved block axes."""
    if wf.shape[1] == 1 and wf.shape[2] == 1:
        return xf * wf.reshape((1, wf.shape[0], 1) + wf.shape[3:])
    n, g, c = xf.shape[:3]
    rest = xf.shape[3:]
    wfull = np.broadcast_to(wf, wf.shape[:3] + rest)
    return spectrum_product(xf.reshape(n, g, c, *rest), wfull)


def _overlap_add_axis(y: np.ndarray, axis: int, block: int, nblocks: int, kd: int) -> np.ndarray:
    """Merge the (blocks, L) pair at ``axis``, ``axis + 1`` into one axis of
    length ``nblocks * block + kd - 1`` by adding each block's tail to the next."""
    y = np.moveaxis(y, (axis, axis + 1), (-2, -1))          # (..., nb, L)
    tail = kd - 1
    if nblocks == 1:
        merged = y[..., 0, :block + tail]
    else:
        head = y[..., :block]                               # (..., nb, B)
        acc = np.zeros(y.shape[:-2] + (nblocks + 1, block), dtype=y.dtype)
        acc[..., :nblocks, :] += head
        acc[..., 1:, :tail] += y[..., block:block + tail]
        merged = acc.reshape(y.shape[:-2] + ((nblocks + 1) * block,))[..., :nblocks * block + tail]
    return np.moveaxis(merged, -1, axis)


algorithm = OverlapAdd()
