"""Measure the cost-model constants of ``convolab._calibration`` on this machine.

Run ``.venv/bin/python benchmarks/calibrate_defaults.py``; it prints each
constant next to the shipped default.  The defaults in
``src/convolab/_calibration.py`` were set from this script's output on a
2-core x86-64 machine (AMD EPYC, AVX-512; numpy 2.4, scipy 1.17, OpenBLAS).
"""

from __future__ import annotations

import platform
import time

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage

from convolab._calibration import DEFAULTS


def best_of(f, repeats: int = 5) -> float:
    f()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    image = rng.standard_normal((1024, 1024))
    kernel = rng.standard_normal((9, 9))
    signal = rng.standard_normal(200_000)
    taps = rng.standard_normal(101)
    small = np.ones(16)
    a, b = rng.standard_normal((2, 1024 * 1024))
    cols = rng.standard_normal((4096, 576))
    filters = rng.standard_normal((576, 64))
    measured = {
        "ndimage_per_mac": best_of(lambda: ndimage.correlate(image, kernel, mode="constant"))
        / (image.size * kernel.size),
        "numpy_correlate_per_mac": best_of(lambda: np.correlate(signal, taps, "valid"))
        / (signal.size * taps.size),
        "numpy_per_element": best_of(lambda: np.add(a, a * b, out=a)) / a.size,
        "numpy_call_overhead": best_of(lambda: small * small, 50),
        "call_overhead": best_of(lambda: ndimage.correlate(small, small[:3]), 50),
        "gemm_per_mac": best_of(lambda: cols @ filters) / (cols.shape[0] * cols.shape[1] * filters.shape[1]),
        "copy_per_element": best_of(lambda: np.ascontiguousarray(
            np.lib.stride_tricks.sliding_window_view(image[:256, :256], (9, 9)))) / (248 * 248 * 81),
        "gemv_per_element": best_of(lambda: cols @ filters[:, :1]) / cols.size,
        "fft_per_point_log": best_of(lambda: sp_fft.irfftn(sp_fft.rfftn(image) * 1.0, image.shape))
        / (2 * image.size * np.log2(image.size)),
        "fft_overhead": best_of(lambda: sp_fft.rfftn(small), 50),
        "spectrum_per_element": best_of(lambda: a.astype(complex) * b) / a.size,
    }
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()} "
          f"numpy {np.__version__}")
    print(f"{'constant':<26}{'measured':>12}{'shipped':>12}")
    for name, value in measured.items():
        print(f"{name:<26}{value:>12.3g}{DEFAULTS.get(name, float('nan')):>12.3g}")


if __name__ == "__main__":
    main()
