"""Cost-model constants: seconds per unit of work on this machine.

The planner multiplies these by operation counts.  The shipped defaults come
from a 2-core x86-64 machine (AMD EPYC, AVX-512, numpy 2.4 with OpenBLAS,
scipy 1.17, numba 0.68), fitted to end-to-end timings of whole calls (which
include convolab's own per-call work).  The planner only needs them right
within a small factor: it compares algorithms whose costs usually differ by
much more.

``convolab calibrate`` (:func:`calibrate`) measures them on the machine at
hand: it times each algorithm on a problem where one constant dominates,
scales that constant by measured / estimated time, and stores the result in
the user's cache directory (:func:`cache_dir`).  :func:`constants` then uses
the stored values; a missing, unreadable or corrupt file means the shipped
defaults.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

DEFAULTS: dict[str, float] = {
    # compiled direct loop (numba, 2 threads), float32: seconds per multiply-add
    "compiled_per_mac": 0.028e-9,
    # fixed cost of one call into the compiled loop (dispatch, thread start)
    "compiled_overhead": 20e-6,
    # compiled dense loop (channels, any stride; numba, 2 threads), float32:
    # seconds per multiply-add, measured on the 7x7 stride-2 stem 3 -> 64
    "dense_per_mac": 0.0078e-9,
    # the same loop with channel tiles (AVX-512, output channels in the vector
    # lanes), measured on a 3x3 64 -> 64 layer
    "dense_channels_per_mac": 0.0062e-9,
    # scipy.ndimage.correlate: seconds per multiply-add (compiled direct loop)
    "ndimage_per_mac": 0.55e-9,
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
    # building the im2col matrix: seconds per element copied
    "copy_per_element": 2.5e-9,
    # matrix-vector product (one output channel): seconds per matrix element
    "gemv_per_element": 1.0e-9,
    # real FFT: seconds per (point * log2(points))
    "fft_per_point_log": 0.45e-9,
    # fixed cost of one transform call
    "fft_overhead": 15e-6,
    # overlap-save tiles (in the cache, one thread each): seconds per
    # (point * log2(points)), and the fixed cost of one tile's task on one
    # thread and on several (whose Python steps wait for each other's GIL)
    "os_per_point_log": 0.52e-9,
    "os_task_overhead": 30e-6,
    "os_parallel_task_overhead": 120e-6,
    # transform length model: seconds per point, plus per point and per prime
    # factor of the length (pocketfft's radix passes); fitted on rfft of
    # 5-smooth lengths 128..4096, the radix-7 and -11 passes extrapolated
    "fft_radix_point": 0.20e-9,
    "fft_radix_2": 0.16e-9,
    "fft_radix_3": 0.31e-9,
    "fft_radix_5": 0.44e-9,
    "fft_radix_7": 0.66e-9,
    "fft_radix_11": 0.95e-9,
    # pointwise spectrum product: seconds per complex element
    "spectrum_per_element": 1.5e-9,
    # winograd: input/output transforms, seconds per element of V and M
    "winograd_per_element": 4.5e-9,
    # winograd: kernel transform, seconds per element of U
    "winograd_kernel_per_element": 9e-9,
    # winograd: fixed cost of one call
    "winograd_overhead": 100e-6,
    # winograd, measured whole calls on a 2-core Intel Xeon (AVX-512): the
    # F(2,3) and the general (F(4,3)) transform loops, seconds per float32
    # element of V and M, and the batched GEMMs, seconds per float32 multiply-add
    "winograd_f2_per_element": 0.75e-9,
    "winograd_f4_per_element": 1.1e-9,
    "winograd_gemm_per_mac": 0.014e-9,
    # im2col in cache-sized blocks (same machine): building the matrix,
    # seconds per float32 element, and the matrix products (filters in more
    # than one output channel), seconds per float32 multiply-add
    "im2col_copy_per_element": 0.62e-9,
    "im2col_gemm_per_mac": 0.0155e-9,
    # flattened im2col (stride 1): one float32 multiply-add of its per-tap
    # products with many channels (BLAS gemm, 2 threads), and the fixed cost
    # of one product (numpy's BLAS called from Python, its threads woken)
    "flat_gemm_per_mac": 0.0072e-9,
    "blas_call_overhead": 7e-6,
    # separable: banded Toeplitz block products (BLAS) along a middle axis,
    # seconds per multiply-add (the band's zeros included) ...
    "toeplitz_per_mac": 0.022e-9,
    # ... and along the last axis
    "toeplitz_last_per_mac": 0.032e-9,
    # separable: memory traffic of a 1-D pass, seconds per float64 element
    "toeplitz_per_element": 0.15e-9,
    # separable: one BLAS product of a pass
    "toeplitz_per_product": 0.5e-6,
    # separable: SVD of a small kernel, fixed cost and per (taps x shortest axis)
    "svd_overhead": 20e-6,
    "svd_per_element": 1.5e-9,
}

_FILE = "calibration.json"
_loaded: dict[str, float] | None = None


def cache_dir() -> Path:
    """Where convolab keeps per-user state: ``$CONVOLAB_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/convolab``, else ``~/.cache/convolab``."""
    explicit = os.environ.get("CONVOLAB_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "convolab"


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; ``{}`` when missing, unreadable or corrupt."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict) -> None:
    """Write atomically: a temporary file in the same folder, then a rename,
    so a reader never sees half a file and concurrent writers never mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def constants() -> dict[str, float]:
    """The constants in force: stored calibration over the shipped defaults."""
    global _loaded
    if _loaded is None:
        stored = read_json(cache_dir() / _FILE).get("constants", {})
        merged = dict(DEFAULTS)
        for key, value in stored.items() if isinstance(stored, dict) else ():
            if key in DEFAULTS and isinstance(value, (int, float)) and 0 < value < 1:
                merged[key] = float(value)
        _loaded = merged
    return _loaded


def reset() -> None:
    """Forget the loaded constants (the next :func:`constants` reads again)."""
    global _loaded
    _loaded = None
    from . import planner
    planner.clear_cache()


# ---------------------------------------------------------------------------
# measuring


def _probes() -> list[tuple[str, str, Callable[[], Any]]]:
    """(constant, method, problem builder): one problem per constant, chosen
    so that the constant dominates the method's estimate."""
    import numpy as np

    from .problem import from_nn, from_signal

    rng = np.random.default_rng(0)

    def signal(n: int, k: int, dtype: Any) -> Any:
        x = rng.standard_normal((n, n)).astype(dtype)
        w = rng.standard_normal((k, k)).astype(dtype)
        problem = from_signal(x, w, mode="same", flip=True, out_dtype=np.dtype(dtype))
        return problem, *problem.layout.to_core(x, w)

    def layer(n: int, c: int, k: int, stride: int = 1, out: int | None = None) -> Any:
        x = rng.standard_normal((8, c, n, n)).astype(np.float32)
        w = rng.standard_normal((out or c, c, k, k)).astype(np.float32)
        problem = from_nn(x.shape, w.shape, x.dtype, w.dtype, nd=2, stride=stride, padding=k // 2)
        return problem, *problem.layout.to_core(x, w)

    from .algorithms import _compiled

    # only machines whose dense loop takes channel tiles (AVX-512) can measure them
    channel_tiles = _compiled.available() and _compiled.channel_tiles(64, np.dtype("float32"))
    return [
        ("compiled_per_mac", "direct", lambda: signal(1024, 7, np.float32)),
        ("fft_per_point_log", "fft", lambda: signal(1024, 31, np.float64)),
        ("os_per_point_log", "os", lambda: signal(2048, 63, np.float64)),
        ("flat_gemm_per_mac", "im2col", lambda: layer(56, 64, 3)),      # the flattened matrix
        ("im2col_gemm_per_mac", "im2col", lambda: layer(56, 64, 3, 2)),  # strided: built
        ("dense_per_mac", "direct", lambda: layer(112, 3, 7, 2, out=16)),  # a narrow stem
        ("gemv_per_element", "im2col", lambda: signal(256, 5, np.float64)),
    ] + ([("dense_channels_per_mac", "direct", lambda: layer(56, 64, 3))] if channel_tiles else [])


#: transform lengths timed by :func:`calibrate` to fit the length model
_RADIX_LENGTHS = (256, 243, 250, 384, 405, 500, 512, 625, 729, 768, 800, 972, 1000, 1024,
                  1125, 1215, 1280, 1458, 1536, 2048, 2187, 2500)


def _factor_counts(length: int, primes: tuple[int, ...] = (2, 3, 5, 7, 11)) -> list[int]:
    counts = []
    for p in primes:
        e = 0
        while length % p == 0:
            length //= p
            e += 1
        counts.append(e)
    return counts


def _fit_radix(repeats: int) -> dict[str, float]:
    """Time real transforms of 2-3-5-smooth lengths and fit
    ``seconds / length = point + sum_p radix_p * (power of p)`` by least squares."""
    import numpy as np
    from scipy import fft as sp_fft

    rows, times = [], []
    for length in _RADIX_LENGTHS:
        x = np.random.default_rng(0).standard_normal((max(1, 262144 // length), length))
        best = float("inf")
        for _ in range(repeats + 1):
            start = time.perf_counter()
            sp_fft.rfft(x, axis=-1, workers=1)
            best = min(best, time.perf_counter() - start)
        rows.append([1.0] + _factor_counts(length, (2, 3, 5)))
        times.append(best / x.size)
    coef = np.linalg.lstsq(np.array(rows), np.array(times), rcond=None)[0]
    fitted = {"fft_radix_point": coef[0], "fft_radix_2": coef[1], "fft_radix_3": coef[2],
              "fft_radix_5": coef[3]}
    if min(fitted.values()) <= 0:          # noise: keep the current model
        return {}
    # the 7 and 11 passes are not timed (real transforms avoid them); keep their ratios to 5
    scale = fitted["fft_radix_5"] / DEFAULTS["fft_radix_5"]
    fitted["fft_radix_7"] = DEFAULTS["fft_radix_7"] * scale
    fitted["fft_radix_11"] = DEFAULTS["fft_radix_11"] * scale
    return {k: float(v) for k, v in fitted.items()}


def calibrate(repeats: int = 3, write: bool = True) -> dict[str, Any]:
    """Measure the cost-model constants here and (``write``) store them.

    Returns ``{"constants": {...}, "measured": {constant: (estimated s,
    measured s)}, "machine": ..., "path": ...}``.
    """
    from . import engine, planner

    reset()
    current = dict(constants())
    report: dict[str, Any] = {}
    for name, method, build in _probes():
        problem, x, w = build()
        algorithm = planner.ALGORITHMS[method]
        estimated = algorithm.cost(problem).seconds
        engine.execute(problem, x, w, method)           # warm-up (compiles, plans)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            engine.execute(problem, x, w, method)
            best = min(best, time.perf_counter() - start)
        current[name] = current[name] * best / estimated
        report[name] = (estimated, best)
    for name, value in _fit_radix(repeats).items():
        report[name] = (current[name], value)
        current[name] = value
    result = {"constants": current, "measured": report,
              "machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "cpus": os.cpu_count(), "calibrated": time.strftime("%Y-%m-%d %H:%M:%S")}}
    path = cache_dir() / _FILE
    if write:
        write_json(path, {"constants": current, "machine": result["machine"]})
    result["path"] = str(path)
    reset()
    return result
