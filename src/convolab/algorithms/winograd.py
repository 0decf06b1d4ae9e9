"""Winograd's minimal filtering: 3x3 convolution layers with fewer multiplications.

Lavin & Gray (2015), "Fast Algorithms for Convolutional Neural Networks".
``F(m x m, 3 x 3)`` computes an ``m x m`` tile of outputs of a 3x3
cross-correlation from an ``(m+2) x (m+2)`` tile of input with ``(m+2)^2``
multiplications instead of ``9 m^2``::

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise)

``g`` is a 3x3 kernel, ``d`` an input tile, ``U = G g G^T`` the transformed
kernel and ``V = B^T d B`` the transformed tile.  Summed over input channels
the elementwise product becomes, for each of the ``(m+2)^2`` transform
coordinates, one matrix product per group::

    M[a, b] (Cout x tiles) = U[a, b] (Cout x Cin) @ V[a, b] (Cin x tiles)

which is where the speed comes from: a batch of GEMMs with ``(m+2)^2 / (9 m^2)``
of the direct method's multiply-adds (``16/36`` for ``F(2,3)``, ``36/144``
for ``F(4,3)``), plus the cheap linear transforms of the input (``B``) and of
the output (``A``).

Two variants: ``F(2x2, 3x3)`` (``m = 2``, exact-looking transforms with
entries 0 and +-1) and ``F(4x4, 3x3)`` (``m = 4``, four times fewer
multiplications than direct, but the transforms have entries up to 8 and
1/24, so float32 rounding errors grow by about an order of magnitude; see
docs/winograd.md for the measured numbers).  ``Winograd(tile=None)`` picks the
variant with the smaller estimated cost (``F(4,3)`` except for small images);
:func:`run_variant` forces one.

Only 2-D problems with 3x3 kernels, stride 1 and dilation 1, in float32 or
float64 (float16 computes in float32).  The input and output transforms run in
compiled loops (numba, compiled on first use and cached on disk) when numba is
available, in numpy otherwise; the kernel transform is computed in float64 and
rounded once to the compute dtype.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Callable

import numpy as np

from .. import _calibration
from ..problem import ConvProblem
from ._base import Cost, zero_extend

# ---------------------------------------------------------------------------
# transform matrices (Lavin & Gray 2015, section 4.1-4.2), for correlation:
# y[i] = sum_k d[i + k] g[k]  equals  A^T [(G g) * (B^T d)]

#: F(2, 3)
BT2 = np.array([[1, 0, -1, 0],
                [0, 1, 1, 0],
                [0, -1, 1, 0],
                [0, 1, 0, -1]], dtype=np.float64)
G2 = np.array([[1, 0, 0],
               [1 / 2, 1 / 2, 1 / 2],
               [1 / 2, -1 / 2, 1 / 2],
               [0, 0, 1]], dtype=np.float64)
AT2 = np.array([[1, 1, 1, 0],
                [0, 1, -1, -1]], dtype=np.float64)

#: F(4, 3)
BT4 = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], dtype=np.float64)
G4 = np.array([[1 / 4, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6],
               [0, 0, 1]], dtype=np.float64)
AT4 = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], dtype=np.float64)

#: output tile size m -> (B^T, G, A^T)
MATRICES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
    2: (BT2, G2, AT2),
    4: (BT4, G4, AT4),
}
VARIANTS = tuple(MATRICES)

#: Cost constants (seconds), measured on a 2-core x86-64 machine with
#: benchmarks like those in docs/winograd.md.  ``_calibration.DEFAULTS`` may
#: override each under the same name.
COST_DEFAULTS: dict[str, float] = {
    # input + output transforms: seconds per float64 element of the
    # transformed input V and of the transformed output M (compiled loops;
    # float32 takes half, the numpy fallback about 6 times as long)
    "winograd_per_element": 0.6e-9,
    # the batched GEMMs: seconds per float64 multiply-add (float32: a quarter)
    "winograd_gemm_per_mac": 0.05e-9,
    # fixed cost of one call (kernel transform, allocations, dispatch)
    "winograd_overhead": 60e-6,
}

_NUMPY_FALLBACK_FACTOR = 6.0


def _constant(c: dict, name: str) -> float:
    return c.get(name, COST_DEFAULTS[name])


# ---------------------------------------------------------------------------
# the three transforms

def kernel_transform(w: np.ndarray, m: int, dtype: np.dtype) -> np.ndarray:
    """``U[a, b, g, o, c] = (G w[g, o, c] G^T)[a, b]`` in float64, rounded once
    to ``dtype``.  ``w`` is ``(G, Cout, Cin, 3, 3)``."""
    gm = MATRICES[m][1]
    u = np.einsum("ak,gockl,bl->abgoc", gm, w.astype(np.float64, copy=False), gm, optimize=True)
    return np.ascontiguousarray(u, dtype=dtype)


def _input_transform_numpy(xq: np.ndarray, m: int, th: int, tw: int) -> np.ndarray:
    """``V[a, b, g, c, n, i, j] = (B^T d B)[a, b]`` for the tile ``d`` at
    ``(i m, j m)`` of plane ``xq[n, g, c]``, with numpy (two tensordots)."""
    from numpy.lib.stride_tricks import sliding_window_view

    bt = MATRICES[m][0].astype(xq.dtype)
    alpha = m + 2
    n, g, c, hq, wq = xq.shape
    # along H: windows (N, G, C, th, Wq, alpha) -> (alpha, N, G, C, th, Wq)
    win = sliding_window_view(xq, alpha, axis=3)[:, :, :, ::m]
    t1 = np.tensordot(bt, win, axes=([1], [5]))
    # along W: windows (alpha, N, G, C, th, tw, alpha) -> (alpha_b, alpha_a, N, G, C, th, tw)
    win = sliding_window_view(t1, alpha, axis=5)[..., ::m, :]
    t2 = np.tensordot(bt, win, axes=([1], [6]))
    return np.ascontiguousarray(t2.transpose(1, 0, 3, 4, 2, 5, 6))


def _output_transform_numpy(mm: np.ndarray, m: int, out_hw: tuple[int, int]) -> np.ndarray:
    """``out[n, g, o]`` assembled from the tiles ``A^T M A`` of
    ``mm (alpha, alpha, G, O, N, th, tw)``, cropped to ``out_hw``."""
    at = MATRICES[m][2].astype(mm.dtype)
    alpha, _, g, o, n, th, tw = mm.shape
    rest = g * o * n * th * tw
    z = at @ mm.reshape(alpha, alpha * rest)                           # (m, alpha_b * rest)
    y = np.matmul(at, z.reshape(m, alpha, rest))                       # (m_r, m_s, rest)
    y = y.reshape(m, m, g, o, n, th, tw).transpose(4, 2, 3, 5, 0, 6, 1)  # (N, G, O, th, r, tw, s)
    y = y.reshape(n, g, o, th * m, tw * m)
    return np.ascontiguousarray(y[..., :out_hw[0], :out_hw[1]])


# compiled loops ------------------------------------------------------------

_COMPILED: dict[str, Callable] = {}
_NUMBA: bool | None = None


def numba_available() -> bool:
    """True when numba can be imported and ``CONVOLAB_DISABLE_NUMBA`` is unset."""
    global _NUMBA
    if _NUMBA is None:
        if os.environ.get("CONVOLAB_DISABLE_NUMBA"):
            _NUMBA = False
        else:
            try:
                import numba  # noqa: F401
                _NUMBA = True
            except ImportError:  # pragma: no cover - numba is installed with convolab's extras
                _NUMBA = False
    return _NUMBA


def _compiled() -> dict[str, Callable]:
    if _COMPILED:
        return _COMPILED
    import numba

    jit = numba.njit(parallel=True, cache=True, nogil=True)

    def input_transform(xq, bt, m, th, tw, v):
        # xq (N, G, C, Hq, Wq) -> v (alpha, alpha, G, C, N, th, tw)
        n_, g_, c_, hq, wq = xq.shape
        alpha = bt.shape[0]
        rows = n_ * g_ * c_ * th
        chunks = min(rows, 256)
        for chunk in numba.prange(chunks):
            start = chunk * rows // chunks
            stop = (chunk + 1) * rows // chunks
            t = np.empty((alpha, wq), dtype=xq.dtype)
            acc = np.empty(tw, dtype=xq.dtype)
            for r in range(start, stop):
                i = r % th
                p = r // th
                c = p % c_
                p //= c_
                g = p % g_
                n = p // g_
                # along H: t[u] = sum_k bt[u, k] * row (i m + k)
                for u in range(alpha):
                    tu = t[u]
                    for x in range(wq):
                        tu[x] = 0
                    for k in range(alpha):
                        coef = bt[u, k]
                        if coef != 0:
                            row = xq[n, g, c, i * m + k]
                            for x in range(wq):
                                tu[x] += coef * row[x]
                # along W: v[u, s, ..., j] = sum_l bt[s, l] * t[u, j m + l]
                for u in range(alpha):
                    tu = t[u]
                    for s in range(alpha):
                        for j in range(tw):
                            acc[j] = 0
                        for l in range(alpha):
                            coef = bt[s, l]
                            if coef != 0:
                                for j in range(tw):
                                    acc[j] += coef * tu[j * m + l]
                        dst = v[u, s, g, c, n, i]
                        for j in range(tw):
                            dst[j] = acc[j]

    def output_transform(mm, at, m, out):
        # mm (alpha, alpha, G, O, N, th, tw) -> out (N, G, O, Ho, Wo)
        alpha, _, g_, o_, n_, th, tw = mm.shape
        ho, wo = out.shape[3], out.shape[4]
        rows = g_ * o_ * n_ * th
        chunks = min(rows, 256)
        for chunk in numba.prange(chunks):
            start = chunk * rows // chunks
            stop = (chunk + 1) * rows // chunks
            z = np.empty((alpha, m, tw), dtype=mm.dtype)
            y = np.empty(tw * m, dtype=mm.dtype)
            for r in range(start, stop):
                i = r % th
                p = r // th
                n = p % n_
                p //= n_
                o = p % o_
                g = p // o_
                # along W: z[u, s] = sum_v at[s, v] * mm[u, v]
                for u in range(alpha):
                    for s in range(m):
                        zs = z[u, s]
                        for j in range(tw):
                            zs[j] = 0
                        for b in range(alpha):
                            coef = at[s, b]
                            if coef != 0:
                                src = mm[u, b, g, o, n, i]
                                for j in range(tw):
                                    zs[j] += coef * src[j]
                # along H: row i m + q of the output = sum_u at[q, u] * z[u]
                for q in range(m):
                    row = i * m + q
                    if row >= ho:
                        break
                    for x in range(tw * m):
                        y[x] = 0
                    for u in range(alpha):
                        coef = at[q, u]
                        if coef != 0:
                            for s in range(m):
                                zs = z[u, s]
                                for j in range(tw):
                                    y[j * m + s] += coef * zs[j]
                    dst = out[n, g, o, row]
                    for x in range(wo):
                        dst[x] = y[x]

    _COMPILED["input"] = jit(input_transform)
    _COMPILED["output"] = jit(output_transform)
    return _COMPILED


def _input_transform_compiled(xq: np.ndarray, m: int, th: int, tw: int) -> np.ndarray:
    n, g, c = xq.shape[:3]
    alpha = m + 2
    v = np.empty((alpha, alpha, g, c, n, th, tw), dtype=xq.dtype)
    bt = MATRICES[m][0].astype(xq.dtype)
    _compiled()["input"](np.ascontiguousarray(xq), bt, m, th, tw, v)
    return v


def _output_transform_compiled(mm: np.ndarray, m: int, out_hw: tuple[int, int]) -> np.ndarray:
    _, _, g, o, n = mm.shape[:5]
    out = np.empty((n, g, o) + tuple(out_hw), dtype=mm.dtype)
    at = MATRICES[m][2].astype(mm.dtype)
    _compiled()["output"](mm, at, m, out)
    return out


# ---------------------------------------------------------------------------
# the whole computation

def tiles(problem: ConvProblem, m: int) -> tuple[int, int]:
    """Number of output tiles ``(th, tw)`` along H and W."""
    ho, wo = problem.spatial_out
    return -(-ho // m), -(-wo // m)


def run_variant(problem: ConvProblem, x: np.ndarray, w: np.ndarray, m: int, *,
                compiled: bool | None = None) -> np.ndarray:
    """``F(m x m, 3 x 3)`` on core-layout operands (``m`` = 2 or 4).

    ``x (N, G, Cin, H, W)`` is zero-extended by ``problem.pad`` (and further,
    at the end, to a whole number of tiles); ``w (G, Cout, Cin, 3, 3)``.
    Returns the cross-correlation ``(N, G, Cout, *problem.spatial_out)`` in
    ``problem.compute_dtype``.  ``compiled``: use the numba loops for the
    input and output transforms (default: when numba is available).
    """
    if m not in MATRICES:
        raise ValueError(f"winograd: variant m={m!r} is not one of {list(VARIANTS)}")
    reason = algorithm.supports(problem)
    if reason is not None:
        raise ValueError(reason)
    if compiled is None:
        compiled = numba_available()
    dtype = np.dtype(problem.compute_dtype)
    x = np.asarray(x, dtype=dtype)
    ho, wo = problem.spatial_out
    n, g, c = problem.x_shape[:3]
    o = problem.out_channels
    if ho == 0 or wo == 0 or n == 0:
        return np.zeros(problem.out_shape, dtype=dtype)
    th, tw = tiles(problem, m)
    alpha = m + 2
    # zero-extend by the problem's pad, and at the end up to whole tiles
    (lo0, hi0), (lo1, hi1) = problem.pad
    extra0 = th * m + 2 - problem.padded_in[0]
    extra1 = tw * m + 2 - problem.padded_in[1]
    tiled = dataclasses.replace(problem, pad=((lo0, hi0 + extra0), (lo1, hi1 + extra1)))
    xq = zero_extend(tiled, x)

    u = kernel_transform(w, m, dtype).reshape(alpha * alpha * g, o, c)
    if compiled:
        v = _input_transform_compiled(xq, m, th, tw)
    else:
        v = _input_transform_numpy(xq, m, th, tw)
    t = n * th * tw
    v = v.reshape(alpha * alpha * g, c, t)
    if c == 1 and o == 1:
        mm = u * v                        # one channel: an elementwise product
    else:
        mm = np.matmul(u, v)              # (alpha^2 G) GEMMs (Cout x Cin) @ (Cin x tiles)
    mm = mm.reshape(alpha, alpha, g, o, n, th, tw)
    if compiled:
        return _output_transform_compiled(mm, m, (ho, wo))
    return _output_transform_numpy(mm, m, (ho, wo))


def _elements(problem: ConvProblem, m: int) -> tuple[int, int, int]:
    """(elements of V, elements of M, multiply-adds of the GEMMs) for ``F(m, 3)``."""
    alpha = m + 2
    th, tw = tiles(problem, m)
    t = problem.batch * th * tw
    g, c, o = problem.groups, problem.in_channels, problem.out_channels
    return alpha * alpha * g * c * t, alpha * alpha * g * o * t, alpha * alpha * g * t * c * o


def variant_seconds(problem: ConvProblem, m: int) -> float:
    """Estimated seconds of ``F(m, 3)`` on ``problem``."""
    c = _calibration.constants()
    v, mm, macs = _elements(problem, m)
    scale = problem.itemsize / 8
    per_element = _constant(c, "winograd_per_element") * scale
    if not numba_available():
        per_element *= _NUMPY_FALLBACK_FACTOR
    gemm = macs * _constant(c, "winograd_gemm_per_mac") * (0.25 if problem.itemsize == 4 else 1.0)
    calls = problem.groups * (m + 2) ** 2   # one BLAS call per coordinate and group
    return ((v + mm) * per_element + gemm + _constant(c, "winograd_overhead")
            + calls * c.get("numpy_call_overhead", 4e-6) / 4)


def choose_variant(problem: ConvProblem) -> int:
    """The tile size with the smaller estimated cost (``F(4,3)`` unless the
    image is so small that whole 4x4 tiles waste more than they save)."""
    return min(VARIANTS, key=lambda m: (variant_seconds(problem, m), -m))


# ---------------------------------------------------------------------------
# the algorithm object

class Winograd:
    """Winograd ``F(m x m, 3 x 3)``; ``tile`` = 2 or 4 forces the variant,
    ``None`` (the default) chooses by estimated cost."""

    name = "winograd"
    exact_nonfinite = False   # a NaN spreads over a transformed tile; the engine repairs

    def __init__(self, tile: int | None = None):
        if tile is not None and tile not in MATRICES:
            raise ValueError(f"winograd: tile={tile!r} is not one of {list(VARIANTS)} or None")
        self.tile = tile

    def supports(self, problem: ConvProblem) -> str | None:
        if problem.ndim != 2:
            return f"winograd: only 2-D problems (got {problem.ndim}-D)"
        dtype = problem.compute_dtype
        if dtype.kind in "biu":
            return (f"winograd: integer inputs ({problem.out_dtype}) are not supported: the "
                    f"transforms round, so the result would not be exact")
        if dtype.kind == "c":
            return f"winograd: complex inputs ({problem.out_dtype}) are not supported"
        if dtype not in (np.float32, np.float64):
            return f"winograd: only float16, float32 and float64 inputs (got {problem.out_dtype})"
        k = problem.kernel_spatial
        s, d = problem.strides, problem.dilations
        if k != (3, 3) or s != (1, 1) or d != (1, 1):
            got = []
            if k != (3, 3):
                got.append("x".join(map(str, k)))
            if s != (1, 1):
                got.append(f"stride {_pair(s)}")
            if d != (1, 1):
                got.append(f"dilation {_pair(d)}")
            return ("winograd: only 3x3 kernels with stride 1 and dilation 1 "
                    f"(got {', '.join(got)})")
        return None

    def variant(self, problem: ConvProblem) -> int:
        """The tile size ``m`` this object runs ``problem`` with."""
        return self.tile if self.tile is not None else choose_variant(problem)

    def cost(self, problem: ConvProblem) -> Cost:
        m = self.variant(problem)
        v, mm, macs = _elements(problem, m)
        alpha = m + 2
        kernel = alpha * alpha * problem.groups * problem.out_channels * problem.in_channels
        th, tw = tiles(problem, m)
        padded = math.prod(problem.x_shape[:3]) * (th * m + 2) * (tw * m + 2)
        temporaries = (v + mm + kernel + padded) * problem.itemsize
        return Cost(variant_seconds(problem, m), bytes=temporaries,
                    detail=(f"F({m}x{m},3x3): {alpha * alpha} GEMMs per group, "
                            f"{macs:.3g} multiply-adds ({macs / max(problem.macs, 1):.2f} of direct)"))

    def run(self, problem: ConvProblem, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return run_variant(problem, x, w, self.variant(problem))


def _pair(values: tuple[int, ...]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


algorithm = Winograd()
