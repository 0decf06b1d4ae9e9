"""Chunked convolution of an image larger than memory: convolab.chunked against dask-image.

The image is an n x n float32 ``.npy`` file (default n = 16384: 1 GiB), written
slab by slab into a temporary folder (never whole in memory).  For each kernel
size k (default 5, 31, 127; standard normal, divided by k) each contender reads
the file in chunks of 2048 x 2048, convolves with mode 'same' and the
``symm`` boundary (ndimage's ``reflect``), and writes a zarr store:

``convolab``    ``convolab.chunked.convolve_file(src, dst, k, chunks=..., boundary='symm')``
``dask-image``  ``dask_image.ndfilters.convolve(open_npy(src, chunks), k, mode='reflect')``
                then ``dask.array.to_zarr`` (both on Dask's threaded scheduler)

Every case runs in its own subprocess, which reports the wall time, the peak
resident memory (``ru_maxrss``, which also counts pages of the memory-mapped
input while they are mapped) and the peak anonymous resident memory (sampled
every 5 ms from /proc: the memory the process itself holds).

dask-image is direct only, so large kernels take hours on a 1 GiB image.  When
its time, estimated from a timed 512 x 512 block, exceeds ``--time-limit``, it
runs on a square sub-region instead and its time is scaled up by the area
ratio; such rows say ``extrapolated from s x s``.  The two outputs are
compared on the region both computed.

    .venv/bin/python benchmarks/bench_chunked.py --size 4096
    .venv/bin/python benchmarks/bench_chunked.py            # 16384: 1 GiB

Results: a table on stdout and ``benchmarks/results/bench_chunked_<n>_<chunk>.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _anon() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def kernel(k: int) -> np.ndarray:
    return (np.random.default_rng(k).standard_normal((k, k)) / k).astype(np.float32)


def make_input(path: str, n: int) -> None:
    """n x n float32 standard normal, written 256 rows at a time."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, n))
    rng = np.random.default_rng(0)
    for start in range(0, n, 256):
        stop = min(n, start + 256)
        out[start:stop] = rng.standard_normal((stop - start, n), dtype=np.float32)
    out.flush()
    del out


# ---------------------------------------------------------------------------
# one case, in a subprocess


def worker(args: argparse.Namespace) -> None:
    import dask
    from convolab.chunked import convolve_file, open_npy

    k = kernel(args.k)
    chunks = (args.chunk, args.chunk)
    src = args.src
    if args.region:
        # a square sub-region, copied to its own file so that both the reading
        # and the convolution are those of an image of that size
        region = os.path.join(args.dst + ".region.npy")
        full = np.load(src, mmap_mode="r")
        out = np.lib.format.open_memmap(region, mode="w+", dtype=np.float32,
                                        shape=(args.region, args.region))
        for start in range(0, args.region, 256):
            out[start:start + 256] = full[start:start + 256, :args.region]
        out.flush()
        del out, full
        src = region
    # warm-up on a small file: imports, compiled kernels and FFT caches are
    # not part of the time (both contenders get the same)
    small = args.dst + ".warm.npy"
    np.save(small, np.ones((2 * args.k + 64, 2 * args.k + 64), np.float32))
    warm_chunks = (args.k + 32, args.k + 32)
    if args.contender == "convolab":
        convolve_file(small, args.dst + ".warm.zarr", k, chunks=warm_chunks, mode="same",
                      boundary="symm")
    else:
        from dask_image.ndfilters import convolve as di_convolve
        di_convolve(open_npy(small, warm_chunks), k, mode="reflect").compute(scheduler="threads")
    peak, stop = [_anon()], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _anon())
            time.sleep(0.005)

    base = _anon()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    if args.contender == "convolab":
        convolve_file(src, args.dst, k, chunks=chunks, mode="same", boundary="symm")
    else:
        from dask_image.ndfilters import convolve as di_convolve
        image = open_npy(src, chunks)
        out = di_convolve(image, k, mode="reflect")
        with dask.config.set(scheduler="threads"):
            out.to_zarr(args.dst, overwrite=True)
    seconds = time.perf_counter() - start
    stop.set()
    thread.join()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "maxrss": maxrss, "anon_increase": peak[0] - base,
                      "anon_base": base}))


def run_case(contender: str, src: str, dst: str, k: int, chunk: int, region: int,
             timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--contender", contender, "--src", src,
           "--dst", dst, "--k", str(k), "--chunk", str(chunk), "--region", str(region)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def ndimage_seconds_per_tap(k: int) -> float:
    """Seconds per output pixel and kernel tap of scipy.ndimage.convolve (one
    thread), timed on a 512 x 512 float32 block."""
    from scipy import ndimage
    x = np.random.default_rng(1).standard_normal((512, 512)).astype(np.float32)
    w = kernel(k)
    ndimage.convolve(x[:64, :64], w, mode="reflect")
    start = time.perf_counter()
    ndimage.convolve(x, w, mode="reflect")
    return (time.perf_counter() - start) / (512 * 512 * k * k)


def compare(dst_a: str, dst_b: str, size: int) -> float:
    """Largest difference between two outputs on a few 256 x 256 windows, relative
    to the largest value."""
    import zarr
    a, b = zarr.open_array(dst_a, mode="r"), zarr.open_array(dst_b, mode="r")
    worst, scale = 0.0, 0.0
    for r, c in ((0, 0), (size // 2 - 128, size // 2 - 128), (size - 256, size - 256)):
        wa = np.asarray(a[r:r + 256, c:c + 256], dtype=np.float64)
        wb = np.asarray(b[r:r + 256, c:c + 256], dtype=np.float64)
        worst = max(worst, float(np.abs(wa - wb).max()))
        scale = max(scale, float(np.abs(wb).max()))
    return worst / scale


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384, help="image side (default 16384)")
    parser.add_argument("--chunk", type=int, default=2048, help="chunk side (default 2048)")
    parser.add_argument("--kernels", default="5,31,127", help="kernel sides (default 5,31,127)")
    parser.add_argument("--time-limit", type=float, default=600.0,
                        help="seconds per case; dask-image beyond it runs on a sub-region")
    parser.add_argument("--tmp", default=None, help="folder for the data (default: a temp dir)")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--dst", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--region", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return

    n, chunk = args.size, min(args.chunk, args.size)
    folder = tempfile.mkdtemp(prefix="convolab-bench-chunked-", dir=args.tmp)
    rows = []
    try:
        src = os.path.join(folder, "image.npy")
        start = time.perf_counter()
        make_input(src, n)
        print(f"input: {n} x {n} float32 ({n * n * 4 / 2**30:.2f} GiB) written in "
              f"{time.perf_counter() - start:.1f} s; chunks {chunk} x {chunk}; "
              f"{os.cpu_count()} cores", flush=True)
        for k in (int(v) for v in args.kernels.split(",")):
            row = {"k": k}
            dst_c = os.path.join(folder, f"convolab_{k}.zarr")
            row["convolab"] = run_case("convolab", src, dst_c, k, chunk, 0, args.time_limit * 3)
            estimate = ndimage_seconds_per_tap(k) * n * n * k * k / (os.cpu_count() or 1)
            region = 0
            if estimate > args.time_limit:
                side = int(n * (args.time_limit / 2 / estimate) ** 0.5)
                region = max(256, min(n, side // 256 * 256))
            row["dask_image_estimate_s"] = estimate
            dst_d = os.path.join(folder, f"daskimage_{k}.zarr")
            result = run_case("dask-image", src, dst_d, k, min(chunk, region or chunk), region,
                              args.time_limit * 3)
            if region and "seconds" in result:
                result["region"] = region
                result["measured_seconds"] = result["seconds"]
                result["seconds"] = result["seconds"] * (n / region) ** 2
            row["dask_image"] = result
            if "seconds" in row["convolab"] and "seconds" in result:
                if region:
                    import zarr
                    sub = zarr.open_array(dst_c, mode="r")[:region, :region]
                    other = zarr.open_array(dst_d, mode="r")[...]
                    # the sub-region has its own edges: compare its interior
                    m = k
                    row["max_rel_diff"] = float(
                        np.abs(sub[m:-m, m:-m] - other[m:-m, m:-m]).max() / np.abs(other).max())
                else:
                    row["max_rel_diff"] = compare(dst_c, dst_d, n)
            rows.append(row)
            _print_row(row, n)
            for d in (dst_c, dst_d):
                shutil.rmtree(d, ignore_errors=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    import dask
    import dask_image
    from importlib.metadata import version
    result = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "size": n, "chunk": chunk,
              "dtype": "float32", "mode": "same", "boundary": "symm",
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "note": "dask-image rows with 'region' ran on that square sub-region; their "
                  "'seconds' is scaled up by the area ratio (measured_seconds is the run)",
          "versions": {"numpy": np.__version__, "dask": dask.__version__,
                           "dask-image": version("dask-image")},
              "rows": rows}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"bench_chunked_{n}_{chunk}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"written {path}")
    del dask_image


def _fmt(case: dict) -> str:
    if "error" in case:
        return f"{case['error']:<40}"
    t = case["seconds"]
    text = (f"{t:9.1f} s  rss {case['maxrss'] / 2**20:7.0f} MiB  "
            f"anon +{case['anon_increase'] / 2**20:6.0f} MiB")
    if "region" in case:
        side = case["region"]
        text += f"  (extrapolated from {side}x{side}: {case['measured_seconds']:.1f} s)"
    return text


def _print_row(row: dict, n: int) -> None:
    c, d = row["convolab"], row["dask_image"]
    print(f"k={row['k']:<4} convolab   {_fmt(c)}", flush=True)
    print(f"       dask-image {_fmt(d)}", flush=True)
    if "seconds" in c and "seconds" in d:
        print(f"       speed-up x{d['seconds'] / c['seconds']:.1f}, "
              f"max relative difference {row.get('max_rel_diff', float('nan')):.1e}", flush=True)


if __name__ == "__main__":
    main()
