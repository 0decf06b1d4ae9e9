"""Cost-model constants: seconds per unit of work on this machine.

The planner multiplies these by operation counts.  The shipped defaults come
from a 2-core x86-64 machine (AMD EPYC, AVX-512, numpy 2.4 with OpenBLAS,
scipy 1.17): ``benchmarks/calibrate_defaults.py`` measures each one in
isolation, and the defaults were then adjusted against end-to-end timings of
whole calls (which include convolab's own per-call work), so the fixed
overheads and the im2col constants are larger than the isolated
measurements.  The planner only needs them right within a small factor: it
compares algorithms whose costs usually differ by much more.
"""

from __future__ import annotations

DEFAULTS: dict[str, float] = {
    # scipy.ndimage.correlate: seconds per multiply-add (compiled direct loop)
    "ndimage_per_mac": 0.55e-9,
    # compiled direct loop (numba, 2 threads), float32: seconds per multiply-add
    "compiled_per_mac": 0.05e-9,
    # fixed cost of one call into the compiled loop (dispatch, thread start)
    "compiled_overhead": 20e-6,
    # numpy.correlate (1-D): seconds per multiply-add
    "numpy_correlate_per_mac": 0.14e-9,
    # one numpy elementwise multiply-add pass: seconds per element
    "numpy_per_element": 1.6e-9,
    # channel contraction per kernel tap (numpy.einsum): seconds per multiply-add
    "einsum_per_mac": 0.25e-9,
    # fixed cost of one numpy call on a small array
    "numpy_call_overhead": 4e-6,
    # fixed cost of one call into a compiled routine (ndimage, fft)
    "call_overhead": 10e-6,
    # matrix product: seconds per multiply-add (BLAS gemm, 2 threads)
    "gemm_per_mac": 0.05e-9,
    # building the im2col matrix: seconds per element copied
    "copy_per_element": 2.5e-9,
    # matrix-vector product (one output channel): seconds per matrix element
    "gemv_per_element": 1.0e-9,
    # real FFT: seconds per (point * log2(points))
    "fft_per_point_log": 0.45e-9,
    # fixed cost of one transform call
    "fft_overhead": 15e-6,
    # pointwise spectrum product: seconds per complex element
    "spectrum_per_element": 1.5e-9,
}


def constants() -> dict[str, float]:
    """The cost-model constants in force."""
    return DEFAULTS
