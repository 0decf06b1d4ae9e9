"""convolab's benchmark harness: convolab against the libraries people use instead.

Two parts, each run in one process with every contender of a cell timed in the
same run:

``--grid``  2-D images: n x n inputs (n in 64, 256, 1024, 4096) with k x k
            kernels (k in 3, 5, 11, 31, 63, 127; k > n skipped), float32 and
            float64, modes ``same`` and ``valid``.  Contenders:
            ``convolab.convolve(method='auto')``, ``scipy.signal.convolve``,
            ``scipy.signal.fftconvolve``, ``scipy.signal.oaconvolve``,
            ``scipy.ndimage.convolve``, ``cv2.filter2D`` and
            ``torch.nn.functional.conv2d``, each made to compute exactly the
            output of ``scipy.signal.convolve(x, k, mode)``.
``--cnn``   CNN layers, float32, batch 8 and 32: dense 3x3, depthwise 7/13/31,
            the 7x7 stride-2 stem and a 1x1; ``convolab.nn.functional.conv2d``
            against torch in NCHW and in channels-last layout.

Timing: one warm-up call per contender (its output is checked against a
float64 reference; a second one when the first took over 0.1 s, which may
include compiling or planning, so that the repeat count follows the steady
call), then repeats in round-robin order (each round runs every
contender once, in an order shuffled each round from a fixed seed; each timed
call of up to 0.5 s right after an untimed call of the same contender, so that
it never follows another library's still-spinning threads); the time reported
is the
median of the repeats.  Big cells get fewer repeats (at least 3), see
``--cell-seconds``.  A peer whose warm-up call takes longer than ``--budget``
seconds is reported from that single call and not run on the larger images with
the same kernel size ('timeout'); it is also skipped when the time predicted
from the previous image size exceeds twice the budget.  Before each cell the
harness waits (within limits) for other processes to leave the cores idle,
records how much CPU they used while the cell ran (column bg), and times the
disturbed cells again at the end.

Results go to ``--out`` (default benchmarks/results) as JSON, Markdown and PNG,
named after the profile (``bench_quick.*``, ``bench_full.*``).  See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

GRID_N = (64, 256, 1024, 4096)
GRID_K = (3, 5, 11, 31, 63, 127)
GRID_DTYPES = ("float32", "float64")
GRID_MODES = ("same", "valid")
QUICK_N = (256, 1024)
QUICK_K = (3, 11, 31)
QUICK_DTYPES = ("float32",)
QUICK_MODES = ("same",)

GRID_PEERS = ("scipy.convolve", "fftconvolve", "oaconvolve", "ndimage", "cv2", "torch")
GRID_CONTENDERS = ("convolab",) + GRID_PEERS
CNN_PEERS = ("torch NCHW", "torch CL")
CNN_CONTENDERS = ("convolab",) + CNN_PEERS

# (name, kind, C_in, C_out, H=W, k, stride, padding, groups)
CNN_LAYERS = (
    ("3x3 64->64 @56", "dense3x3", 64, 64, 56, 3, 1, 1, 1),
    ("3x3 128->128 @28", "dense3x3", 128, 128, 28, 3, 1, 1, 1),
    ("dw7 256 @56", "depthwise", 256, 256, 56, 7, 1, "same", 256),
    ("dw13 256 @56", "depthwise", 256, 256, 56, 13, 1, "same", 256),
    ("dw31 256 @56", "depthwise", 256, 256, 56, 31, 1, "same", 256),
    ("stem 7x7/2 3->64 @224", "stem", 3, 64, 224, 7, 2, 3, 1),
    ("1x1 256->64 @56", "1x1", 256, 64, 56, 1, 1, 0, 1),
)
QUICK_CNN_LAYERS = ("3x3 64->64 @56", "dw13 256 @56", "dw31 256 @56", "stem 7x7/2 3->64 @224",
                    "1x1 256->64 @56")
CNN_BATCHES = (8, 32)
QUICK_CNN_BATCHES = (8,)

# validity tolerance: max|out - ref| <= TOL * max|ref|
TOL = {"float32": 1e-5, "float64": 1e-10}
ACCURACY_TARGET = 1e-6          # float32 accuracy target of convolab
GFLOPS_TARGET = 100.0


# ---------------------------------------------------------------------------
# machine description


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=20).stdout.rstrip()
    except Exception:                                    # noqa: BLE001 - informational only
        return ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    import cv2
    import scipy
    import torch

    import convolab

    info: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "versions": {"convolab": convolab.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "torch": torch.__version__,
                     "cv2": cv2.__version__},
        "threads": {"torch": torch.get_num_threads(), "cv2": cv2.getNumThreads()},
        "commit": _git("rev-parse", "--short", "HEAD").strip(),
        "src_uncommitted": [ln[3:] for ln in _git("status", "--porcelain", "--", "src").splitlines()],
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import numba
        info["versions"]["numba"] = numba.__version__
    except ImportError:
        pass
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["numpy_blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except Exception:                                    # noqa: BLE001
        info["numpy_blas"] = None
    try:
        import threadpoolctl
        info["threadpools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                                      "num_threads", "architecture")}
                               for p in threadpoolctl.threadpool_info()]
    except ImportError:
        info["threadpools"] = None
    return info


# ---------------------------------------------------------------------------
# other work on the machine


class CpuMonitor:
    """CPU time used by other processes, in cores, from /proc/stat minus this process.

    The harness shares the machine with whatever else runs (tests, compiles); a cell
    timed while others keep the cores busy is flagged, waited for and retried.
    """

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.available = Path("/proc/stat").exists()

    def _sample(self) -> tuple[float, float, float]:
        vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(vals[:8]) - vals[3] - vals[4]) / self.hz     # all but idle and iowait; steal counts
        t = os.times()
        return time.perf_counter(), busy, t.user + t.system

    def start(self) -> tuple[float, float, float] | None:
        return self._sample() if self.available else None

    def others(self, since: tuple[float, float, float] | None) -> float | None:
        """Average number of cores used by other processes since ``start()``."""
        if since is None:
            return None
        now = self._sample()
        wall = now[0] - since[0]
        return max(0.0, ((now[1] - since[1]) - (now[2] - since[2])) / wall) if wall > 0 else None

    def wait_idle(self, max_wait: float) -> tuple[float | None, float]:
        """Wait (up to ``max_wait`` s) until others use less than the threshold."""
        t0 = time.perf_counter()
        bg = None
        while self.available:
            m = self.start()
            time.sleep(0.4)
            bg = self.others(m)
            if bg is None or bg < self.threshold or time.perf_counter() - t0 >= max_wait:
                break
        return bg, time.perf_counter() - t0


# ---------------------------------------------------------------------------
# timing

#: a warm-up call slower than this is followed by a second one, whose time sets
#: the repeat count (the first may include compiling, planning or first-touch memory)
SECOND_WARMUP_S = 0.1
#: calls up to this long get an untimed lead-in call of their own before each
#: timed one: the threads other libraries leave spinning after their calls (BLAS,
#: OpenMP) slowed the next library's call by up to 2.5x on the 2-core machine
LEAD_IN_MAX_S = 0.5


class Timer:
    """Warm-up, check, round-robin repeats, median; the budget rules."""

    def __init__(self, repeats: int, cell_seconds: float, budget: float, rotate: bool = False,
                 lead_in: bool = True):
        self.repeats = repeats
        self.cell_seconds = cell_seconds
        self.budget = budget
        self.rotate = rotate
        self.lead_in = lead_in

    def run(self, funcs: dict[str, Callable[[], Any]], check: Callable[[Any], float], tol: float,
            skip: dict[str, str], primary: str = "convolab") -> dict[str, dict[str, Any]]:
        res: dict[str, dict[str, Any]] = {}
        gc.collect()
        for name, f in funcs.items():
            if name in skip:
                res[name] = {"status": "timeout", "note": skip[name]}
                continue
            try:
                t0 = time.perf_counter()
                out = f()
                warm = time.perf_counter() - t0
                err = check(out)
                del out
                if SECOND_WARMUP_S < warm <= self.budget:
                    # the first call may include one-time work (compiling, planning,
                    # first-touch memory): the repeat count follows a second call
                    t0 = time.perf_counter()
                    f()
                    warm = min(warm, time.perf_counter() - t0)
            except Exception as exc:                     # noqa: BLE001 - a broken peer is data
                res[name] = {"status": "error", "note": f"{type(exc).__name__}: {exc}"[:300]}
                continue
            ok = math.isfinite(err) and err <= tol
            res[name] = {"status": "ok" if ok else "wrong", "err": err, "warm": warm, "times": []}
        # repeats per contender: fewer for slow calls, none beyond the warm-up for a peer over budget
        want: dict[str, int] = {}
        for name, r in res.items():
            if r["status"] not in ("ok", "wrong"):
                continue
            warm = r["warm"]
            if warm > self.budget:
                want[name] = 1 if name == primary else 0
                r["single"] = True
            else:
                want[name] = max(min(self.repeats, 3), min(self.repeats, int(self.cell_seconds / max(warm, 1e-9))))
        names = list(want)
        # a fixed cyclic order always ran fftconvolve straight after scipy.convolve,
        # which computes the same transforms, so it always found its code and data
        # in cache while the contender after torch or ndimage found them evicted
        shuffle = random.Random(len(names)).shuffle
        for i in range(max(want.values(), default=0)):
            if self.rotate:        # --rotate: the fixed cyclic order, for comparison
                order = names[i % len(names):] + names[:i % len(names)]
            else:
                order = names[:]
                shuffle(order)
            for name in order:
                if len(res[name]["times"]) >= want[name]:
                    continue
                f = funcs[name]
                if self.lead_in and res[name]["warm"] <= LEAD_IN_MAX_S:
                    # an untimed call first: the timed one then follows a call of
                    # its own library, not another library's still-spinning threads
                    f()
                t0 = time.perf_counter()
                out = f()
                res[name]["times"].append(time.perf_counter() - t0)
                del out
        for name in names:
            r = res[name]
            r["time"] = statistics.median(r["times"]) if r["times"] else r["warm"]
            r["repeats"] = len(r["times"])
        return res


def rel_err(out: Any, ref: np.ndarray) -> float:
    a = np.asarray(out)
    if a.shape != ref.shape:
        return float("inf")
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(a.astype(np.float64) - ref))) / scale


def fastest(res: dict[str, dict[str, Any]], peers: tuple[str, ...]) -> tuple[str | None, float | None]:
    best, best_t = None, None
    for p in peers:
        r = res.get(p, {})
        if r.get("status") == "ok" and (best_t is None or r["time"] < best_t):
            best, best_t = p, r["time"]
    return best, best_t


# ---------------------------------------------------------------------------
# part 1: the 2-D grid


def grid_contenders(x: np.ndarray, w: np.ndarray, mode: str) -> dict[str, Callable[[], Any]]:
    """Every contender computes ``scipy.signal.convolve(x, w, mode)`` (odd square w)."""
    import cv2
    import scipy.ndimage as ndi
    import scipy.signal as ss
    import torch
    import torch.nn.functional as F

    import convolab

    k = w.shape[0]
    if k % 2 == 0 or w.shape[0] != w.shape[1]:
        raise ValueError("the grid uses odd square kernels (ndimage and cv2 centre even ones differently)")
    h = k // 2
    wf = np.ascontiguousarray(w[::-1, ::-1])            # cv2 and torch correlate
    wt = torch.from_numpy(wf.copy())[None, None]
    pad = h if mode == "same" else 0

    def crop(a: np.ndarray) -> np.ndarray:              # 'same' -> 'valid'
        return a if mode == "same" else a[h:a.shape[0] - h, h:a.shape[1] - h]

    def torch_conv() -> np.ndarray:
        with torch.inference_mode():
            return F.conv2d(torch.from_numpy(x)[None, None], wt, padding=pad)[0, 0].numpy()

    return {
        "convolab": lambda: convolab.convolve(x, w, mode, method="auto"),
        "scipy.convolve": lambda: ss.convolve(x, w, mode),
        "fftconvolve": lambda: ss.fftconvolve(x, w, mode),
        "oaconvolve": lambda: ss.oaconvolve(x, w, mode),
        "ndimage": lambda: crop(ndi.convolve(x, w, mode="constant", cval=0.0)),
        # anchor k//2 puts filter2D's correlation with the flipped kernel on scipy's 'same' grid
        "cv2": lambda: crop(cv2.filter2D(x, -1, wf, anchor=(h, h), borderType=cv2.BORDER_CONSTANT)),
        "torch": torch_conv,
    }


def grid_reference(x64: np.ndarray, w64: np.ndarray) -> np.ndarray:
    """The full convolution in float64: direct for small problems, else FFT."""
    import scipy.signal as ss
    if x64.size * w64.size <= 5e7:
        return ss.convolve(x64, w64, "full", method="direct")
    return ss.fftconvolve(x64, w64, "full")


def crop_full(full: np.ndarray, n: int, k: int, mode: str) -> np.ndarray:
    if mode == "same":
        s = (k - 1) // 2
        return full[s:s + n, s:s + n]
    return full[k - 1:n, k - 1:n]


class Session:
    """The timer, the load monitor and the waiting rules shared by both parts."""

    def __init__(self, timer: Timer, monitor: CpuMonitor, wait_cell: float, wait_total: float, log):
        self.timer, self.monitor, self.log = timer, monitor, log
        self.wait_cell, self.wait_left = wait_cell, wait_total

    def quiet_now(self) -> bool:
        """Wait within the limits for idle cores; True when the cores are idle."""
        bg, waited = self.monitor.wait_idle(min(self.wait_cell, max(self.wait_left, 0.0)))
        self.wait_left -= waited
        return bg is None or bg < self.monitor.threshold

    def measure(self, funcs, check, tol, skip) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Wait for a quiet machine (within the limits), then time one cell."""
        waited = 0.0
        if self.wait_cell > 0 and self.wait_left > 0:
            _, waited = self.monitor.wait_idle(min(self.wait_cell, self.wait_left))
            self.wait_left -= waited
        mark = self.monitor.start()
        t0 = time.perf_counter()
        res = self.timer.run(funcs, check, tol, skip)
        load = {"background": self.monitor.others(mark), "waited": waited,
                "cell_seconds": time.perf_counter() - t0}
        return res, load

    def loaded(self, cell: dict[str, Any]) -> bool:
        bg = cell.get("background")
        return bg is not None and bg >= self.monitor.threshold


def grid_data(n: int, k: int, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 * n + k)
    x = rng.standard_normal((n, n)).astype(dtype)
    w = (rng.standard_normal((k, k)) / k).astype(dtype)
    return x, w, grid_reference(x.astype(np.float64), w.astype(np.float64))


def grid_cell(sess: Session, x, w, full, dtype: str, mode: str, skip: dict[str, str]) -> dict[str, Any]:
    import convolab

    n, k = x.shape[0], w.shape[0]
    ref = np.ascontiguousarray(crop_full(full, n, k, mode))
    res, load = sess.measure(grid_contenders(x, w, mode), lambda o: rel_err(o, ref), TOL[dtype], skip)
    plan = convolab.plan(x, w, mode=mode).method
    cell = finish_cell(res, GRID_PEERS, dict(part="grid", dtype=dtype, mode=mode, n=n, k=k,
                                             n_out=ref.size, plan=plan, **load))
    cell["gflops"] = (2.0 * ref.size * k * k / cell["convolab_time"] / 1e9
                      if cell.get("convolab_time") else None)
    return cell


def run_grid(ns, ks, dtypes, modes, sess: Session, retry: bool) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    timeouts: dict[tuple, str] = {}
    last: dict[tuple, tuple[int, float]] = {}            # (peer, dtype, mode, k) -> (size, time)
    for dtype in dtypes:
        for k in ks:
            for n in ns:
                if k > n:
                    continue
                x, w, full = grid_data(n, k, dtype)
                for mode in modes:
                    size = (n + k - 1) ** 2     # what the work grows with, 'valid' included
                    skip: dict[str, str] = {}
                    for p in GRID_PEERS:
                        key = (p, dtype, mode, k)
                        if key in timeouts:
                            skip[p] = timeouts[key]
                        elif key in last:
                            prev_size, prev_t = last[key]
                            pred = prev_t * size / prev_size
                            if pred > 2 * sess.timer.budget:
                                skip[p] = f"predicted {pred:.1f} s from the smaller image"
                                timeouts[key] = skip[p]
                    cell = grid_cell(sess, x, w, full, dtype, mode, skip)
                    for p in GRID_PEERS:
                        r = cell["results"][p]
                        key = (p, dtype, mode, k)
                        if "time" in r:
                            last[key] = (size, r["time"])
                            if r.get("single") and key not in timeouts:
                                timeouts[key] = f"a call took {r['warm']:.1f} s at n={n}"
                    cells.append(cell)
                    sess.log(format_grid_row(cell))
                del x, w, full
    if retry:
        retry_loaded(cells, sess, lambda c: grid_retry(sess, c), format_grid_row)
    return cells


def grid_retry(sess: Session, old: dict[str, Any]) -> dict[str, Any]:
    x, w, full = grid_data(old["n"], old["k"], old["dtype"])
    skip = {p: r.get("note", "") for p, r in old["results"].items() if r.get("status") == "timeout"}
    return grid_cell(sess, x, w, full, old["dtype"], old["mode"], skip)


def retry_loaded(cells: list[dict[str, Any]], sess: Session, again, fmt) -> None:
    """Time again, once, the cells measured while other work used the cores, when the
    cores are idle now; keep the measurement taken with less background load."""
    todo = [i for i, c in enumerate(cells) if sess.loaded(c)]
    if not todo:
        return
    sess.log(f"-- {len(todo)} cells were timed while other processes used >= "
             f"{sess.monitor.threshold} cores; timing them again where the cores are idle now --")
    for i in todo:
        if not sess.quiet_now():
            continue
        new = again(cells[i])
        new["retried"] = True
        if (new.get("background") or 0.0) < (cells[i].get("background") or 0.0):
            cells[i] = new
        else:
            cells[i]["retried"] = True
        sess.log(fmt(cells[i]))


def finish_cell(res: dict[str, dict[str, Any]], peers: tuple[str, ...], cell: dict[str, Any]) -> dict[str, Any]:
    cell["results"] = res
    cl = res["convolab"]
    cell["convolab_time"] = cl.get("time") if cl.get("status") == "ok" else None
    cell["convolab_err"] = cl.get("err")
    best, best_t = fastest(res, peers)
    cell["fastest_peer"], cell["fastest_peer_time"] = best, best_t
    if cell["convolab_time"] is not None and best_t:
        cell["ratio"] = cell["convolab_time"] / best_t
    elif best_t:
        cell["ratio"] = float("inf")             # convolab failed: worst possible
    else:
        cell["ratio"] = None
    return cell


# ---------------------------------------------------------------------------
# part 2: CNN layers


def cnn_reference(x: np.ndarray, w: np.ndarray, stride: int, padding: Any, groups: int) -> np.ndarray:
    """float64 reference: torch float64 for dense layers; per-channel scipy FFT for depthwise
    (torch's float64 depthwise path takes about 20 s per call for k=31 at batch 32)."""
    import scipy.signal as ss
    import torch
    import torch.nn.functional as F

    if groups == x.shape[1] and groups == w.shape[0] and w.shape[1] == 1 and stride == 1:
        wf = w[:, 0, ::-1, ::-1].astype(np.float64)[None]          # correlation = flipped convolution
        out = ss.fftconvolve(x.astype(np.float64), wf, mode="same", axes=(-2, -1))
        if padding != "same" and padding != w.shape[-1] // 2:
            raise ValueError("the depthwise reference handles 'same' padding only")
        return out
    with torch.inference_mode():
        return F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(), None, stride,
                        padding, 1, groups).numpy()


def cnn_cell(sess: Session, layer: tuple, batch: int) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from convolab.nn import functional as cf

    name, kind, cin, cout, hw, k, stride, padding, groups = layer
    rng = np.random.default_rng(zlib.crc32(name.encode()) + batch)
    x = rng.standard_normal((batch, cin, hw, hw), dtype=np.float32)
    w = (rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
         / np.float32(math.sqrt(cin // groups * k * k)))
    ref = cnn_reference(x, w, stride, padding, groups)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    xcl = xt.to(memory_format=torch.channels_last)
    wcl = wt.to(memory_format=torch.channels_last)

    def tconv(a, b):
        def f():
            with torch.inference_mode():
                return F.conv2d(a, b, None, stride, padding, 1, groups)
        return f

    funcs = {
        "convolab": lambda: cf.conv2d(x, w, None, stride, padding, 1, groups, method="auto"),
        "torch NCHW": tconv(xt, wt),
        "torch CL": tconv(xcl, wcl),
    }
    res, load = sess.measure(funcs, lambda o: rel_err(o.numpy() if hasattr(o, "numpy") else o, ref),
                             TOL["float32"], {})
    plan = cf.plan(x, w, stride, padding, 1, groups).method
    macs = ref.size * (cin // groups) * k * k
    cell = finish_cell(res, CNN_PEERS, dict(part="cnn", layer=name, kind=kind, batch=batch, k=k,
                                            plan=plan, macs=macs, **load))
    cell["gflops"] = 2.0 * macs / cell["convolab_time"] / 1e9 if cell.get("convolab_time") else None
    for p in CNN_PEERS:
        t = res[p].get("time") if res[p].get("status") == "ok" else None
        cell[f"ratio_{p}"] = cell["convolab_time"] / t if (t and cell["convolab_time"]) else None
    return cell


def run_cnn(layer_names, batches, sess: Session, retry: bool) -> list[dict[str, Any]]:
    layers = {layer[0]: layer for layer in CNN_LAYERS}
    cells: list[dict[str, Any]] = []
    for name in layer_names:
        for batch in batches:
            cells.append(cnn_cell(sess, layers[name], batch))
            sess.log(format_cnn_row(cells[-1]))
    if retry:
        retry_loaded(cells, sess, lambda c: cnn_cell(sess, layers[c["layer"]], c["batch"]), format_cnn_row)
    return cells


# ---------------------------------------------------------------------------
# formatting


def fmt_ms(r: dict[str, Any]) -> str:
    st = r.get("status")
    if st == "timeout":
        return "T/O"
    if st == "error":
        return "ERR"
    s = f"{r['time'] * 1e3:.3g}"
    if st == "wrong":
        s += "!"
    if r.get("single"):
        s += "*"
    return s


def fmt_ratio(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "FAIL"
    return f"{v:.2f}"


GRID_HEAD = ["dtype", "mode", "n", "k", "plan"] + list(GRID_CONTENDERS) + ["fastest peer", "ratio", "bg"]
CNN_HEAD = ["layer", "batch", "plan", "convolab", "torch NCHW", "torch CL", "fastest peer", "ratio",
            "vs NCHW", "vs CL", "GFLOP/s", "bg"]


def fmt_bg(c: dict[str, Any]) -> str:
    bg = c.get("background")
    return "-" if bg is None else f"{bg:.2f}" + ("r" if c.get("retried") else "")


def grid_row(c: dict[str, Any]) -> list[str]:
    return ([c["dtype"], c["mode"], str(c["n"]), str(c["k"]), c["plan"]]
            + [fmt_ms(c["results"][p]) for p in GRID_CONTENDERS]
            + [c["fastest_peer"] or "-", fmt_ratio(c["ratio"]), fmt_bg(c)])


def cnn_row(c: dict[str, Any]) -> list[str]:
    return ([c["layer"], str(c["batch"]), c["plan"]] + [fmt_ms(c["results"][p]) for p in CNN_CONTENDERS]
            + [c["fastest_peer"] or "-", fmt_ratio(c["ratio"]), fmt_ratio(c["ratio_torch NCHW"]),
               fmt_ratio(c["ratio_torch CL"]), f"{c['gflops']:.1f}" if c["gflops"] else "-", fmt_bg(c)])


def _widths(head: list[str]) -> list[int]:
    return [max(len(h), 8) for h in head]


def format_grid_row(c: dict[str, Any]) -> str:
    return ("  ".join(v.rjust(wd) for v, wd in zip(grid_row(c), _widths(GRID_HEAD)))
            + f"  [{c['cell_seconds']:.1f} s]")


def format_cnn_row(c: dict[str, Any]) -> str:
    wd = _widths(CNN_HEAD)
    wd[0] = 22
    return "  ".join(v.rjust(x) for v, x in zip(cnn_row(c), wd)) + f"  [{c['cell_seconds']:.1f} s]"


def text_table(head: list[str], rows: list[list[str]], first: int | None = None) -> str:
    wd = _widths(head)
    if first:
        wd[0] = first
    lines = ["  ".join(h.rjust(x) for h, x in zip(head, wd))]
    lines += ["  ".join(v.rjust(x) for v, x in zip(r, wd)) for r in rows]
    return "\n".join(lines)


def md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# targets


def targets(grid: list[dict[str, Any]], cnn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, met: bool | None, detail: str) -> None:
        out.append({"target": name, "met": met, "detail": detail})

    rated = [c for c in grid if c["ratio"] is not None]
    if rated:
        ratios = [c["ratio"] for c in rated]
        within = sum(r <= 1.25 for r in ratios)
        add("2-D grid: within 1.25x of the fastest peer in >= 90% of cells",
            within >= 0.9 * len(ratios), f"{within}/{len(ratios)} cells = {100 * within / len(ratios):.1f}%")
        worst = max(rated, key=lambda c: c["ratio"])
        add("2-D grid: never worse than 2x the fastest peer", worst["ratio"] <= 2.0,
            f"worst ratio {fmt_ratio(worst['ratio'])} ({cell_label(worst)}); "
            f"{sum(r > 2 for r in ratios)} cells over 2x")
        fastest_n = sum(r < 1.0 for r in ratios)
        add("2-D grid: faster than every peer in >= 1/3 of cells", fastest_n * 3 >= len(ratios),
            f"{fastest_n}/{len(ratios)} cells = {100 * fastest_n / len(ratios):.1f}%")
        fft_cells = [c for c in grid if c["k"] >= 31 and c["n"] >= 1024]
        if fft_cells:
            vs = []
            for c in fft_cells:
                r = c["results"]["cv2"]
                t = r.get("time") if r.get("status") == "ok" else None
                vs.append((c, c["convolab_time"] / t if (t and c["convolab_time"]) else None))
            known = [(c, v) for c, v in vs if v is not None]
            bad = [(c, v) for c, v in known if v > 1.0]
            detail = (f"{len(known) - len(bad)}/{len(known)} cells at least as fast as cv2.filter2D; "
                      f"convolab/cv2 from {min(v for _, v in known):.2f} to {max(v for _, v in known):.2f}"
                      if known else "no cv2 times")
            if bad:
                detail += "; slower in: " + ", ".join(f"{cell_label(c)} {v:.2f}" for c, v in bad)
            add("FFT cells (k >= 31, n >= 1024): at least as fast as cv2.filter2D",
                bool(known) and not bad, detail)
        gf = [c for c in grid if c["dtype"] == "float32" and 5 <= c["k"] <= 15 and c["n"] >= 1024]
        if gf:
            vals = [(c, c["gflops"] or 0.0) for c in gf]
            add(f"direct path >= {GFLOPS_TARGET:.0f} GFLOP/s for 5 <= k <= 15, n >= 1024, float32",
                all(v >= GFLOPS_TARGET for _, v in vals),
                "; ".join(f"{cell_label(c)} [{c['plan']}] {v:.1f}" for c, v in vals))
    if cnn:
        dw = [c for c in cnn if c["kind"] == "depthwise" and c["k"] >= 13]
        if dw:
            ok = [c for c in dw if c["ratio"] is not None and c["ratio"] <= 1.0]
            add("CNN: depthwise k >= 13 at least as fast as torch's faster layout", len(ok) == len(dw),
                "; ".join(f"k={c['k']} b={c['batch']}: {fmt_ratio(c['ratio'])} vs {c['fastest_peer']}"
                          for c in dw))
        dw31 = [c for c in cnn if c["kind"] == "depthwise" and c["k"] == 31]
        if dw31:
            sp = [(c, 1.0 / c["ratio_torch NCHW"] if c["ratio_torch NCHW"] else None) for c in dw31]
            add("CNN: depthwise k = 31 >= 10x faster than torch NCHW",
                all(v is not None and v >= 10 for _, v in sp),
                "; ".join(f"b={c['batch']}: {v:.1f}x" if v else f"b={c['batch']}: -" for c, v in sp))
        dense = [c for c in cnn if c["kind"] in ("dense3x3", "1x1", "stem")]
        if dense:
            bad = [c for c in dense if c["ratio_torch CL"] is None or c["ratio_torch CL"] > 1.5]
            add("CNN: dense 3x3, 1x1 and the stem within 1.5x of torch channels-last", not bad,
                "; ".join(f"{c['layer']} b={c['batch']}: {fmt_ratio(c['ratio_torch CL'])}" for c in dense))
    errs = [(c, c["convolab_err"]) for c in grid if c["dtype"] == "float32"] + [(c, c["convolab_err"]) for c in cnn]
    errs = [(c, e) for c, e in errs if e is not None]
    if errs:
        worst_c, worst_e = max(errs, key=lambda t: t[1])
        over = sum(e > ACCURACY_TARGET for _, e in errs)
        add(f"accuracy: float32 within {ACCURACY_TARGET:g} x max|output| of the float64 reference",
            over == 0, f"worst {worst_e:.2e} ({cell_label(worst_c)}); {over}/{len(errs)} results over")
    return out


def cell_label(c: dict[str, Any]) -> str:
    if c["part"] == "grid":
        return f"{c['dtype']} {c['mode']} n={c['n']} k={c['k']}"
    return f"{c['layer']} b={c['batch']}"


def worst_cells(cells: list[dict[str, Any]], count: int = 5) -> list[dict[str, Any]]:
    rated = [c for c in cells if c["ratio"] is not None]
    return sorted(rated, key=lambda c: -c["ratio"])[:count]


# ---------------------------------------------------------------------------
# plots


def plot_grid(cells: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    panels = sorted({(c["dtype"], c["mode"]) for c in cells})
    ns = sorted({c["n"] for c in cells})
    ks = sorted({c["k"] for c in cells})
    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * len(ks) * cols + 2.5, 0.95 * len(ns) * rows + 1.8),
                             squeeze=False, layout="constrained")
    norm = TwoSlopeNorm(vmin=-2.0, vcenter=0.0, vmax=2.0)
    im = None
    for ax, (dtype, mode) in zip(axes.flat, panels):
        data = np.full((len(ns), len(ks)), np.nan)
        for c in cells:
            if (c["dtype"], c["mode"]) == (dtype, mode) and c["ratio"] is not None:
                v = min(c["ratio"], 1e3)
                data[ns.index(c["n"]), ks.index(c["k"])] = math.log2(v)
        im = ax.imshow(data, cmap="RdYlGn_r", norm=norm, origin="lower", aspect="auto")
        for c in cells:
            if (c["dtype"], c["mode"]) != (dtype, mode):
                continue
            i, j = ns.index(c["n"]), ks.index(c["k"])
            txt = f"{fmt_ratio(c['ratio'])}\n{c['plan']}\n{c['fastest_peer'] or '-'}"
            dark = c["ratio"] is not None and abs(math.log2(min(max(c["ratio"], 1e-3), 1e3))) > 1.3
            ax.text(j, i, txt, ha="center", va="center", fontsize=7, color="white" if dark else "black")
        ax.set_xticks(range(len(ks)), [str(k) for k in ks])
        ax.set_yticks(range(len(ns)), [f"{n}²" for n in ns])
        ax.set_xlabel("kernel size k (k×k)")
        ax.set_ylabel("image size n×n")
        ax.set_title(f"{dtype}, mode='{mode}'")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if im is not None:
        cb = fig.colorbar(im, ax=axes, shrink=0.8)
        cb.set_ticks([-2, -1, 0, 1, 2], labels=["0.25", "0.5", "1", "2", "4"])
        cb.set_label("convolab time / fastest peer (log scale)")
    fig.suptitle(title + "\nconvolab time / fastest peer's time, medians (< 1: convolab fastest)\n"
                 "cell text: ratio, planner's choice, fastest peer", fontsize=10)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_cnn(cells: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    labels = [f"{c['layer']}  b={c['batch']}  [{c['plan']}]" for c in cells]
    y = np.arange(len(cells))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(cells) + 1.8), layout="constrained")
    for off, key, lab in ((-0.2, "ratio_torch NCHW", "vs torch NCHW"), (0.2, "ratio_torch CL", "vs torch channels-last")):
        vals = [c[key] if c[key] else np.nan for c in cells]
        ax.barh(y + off, vals, height=0.38, label=lab)
    ax.axvline(1.0, color="k", lw=1)
    ax.axvline(1.5, color="grey", lw=1, ls="--", label="1.5x")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("convolab time / torch time (log scale; < 1: convolab faster)")
    ax.set_title(title + "\nCNN layers, float32 (text: layer, batch, planner's choice)", fontsize=10)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


# ---------------------------------------------------------------------------
# reports


def machine_lines(meta: dict[str, Any]) -> list[str]:
    v = meta["versions"]
    dirty = meta.get("src_uncommitted") or []
    lines = [
        f"date: {meta['date']}",
        f"convolab: {v['convolab']} at commit {meta['commit']}"
        + (f" plus uncommitted changes in {', '.join(dirty)}" if dirty else ""),
        f"machine: {meta['cpu']}, {meta['cores']} cores ({meta['cores_usable']} usable); {meta['platform']}",
        f"SIMD: {' '.join(meta['cpu_flags'])}",
        "versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + f", python {meta['python']}",
        f"threads: torch {meta['threads']['torch']}, cv2 {meta['threads']['cv2']}",
    ]
    if meta.get("numpy_blas"):
        b = meta["numpy_blas"]
        lines.append(f"numpy BLAS: {b.get('name')} {b.get('version')} ({b.get('openblas configuration')})")
    if meta.get("threadpools"):
        lines.append("thread pools: " + "; ".join(
            " ".join(str(v) for v in (p["internal_api"], p.get("version"), p.get("architecture"),
                                      f"{p['num_threads']} threads") if v)
            for p in meta["threadpools"]))
    la0, la1 = meta.get("loadavg_start"), meta.get("loadavg_end")
    if la0:
        lines.append(f"load average (1/5/15 min): start {la0[0]:.2f}/{la0[1]:.2f}/{la0[2]:.2f}"
                     + (f", end {la1[0]:.2f}/{la1[1]:.2f}/{la1[2]:.2f}" if la1 else ""))
    return lines


def _err(c: dict[str, Any]) -> str:
    return f"{c['convolab_err']:.1e}" if c.get("convolab_err") is not None else "-"


def markdown_report(data: dict[str, Any], level: int = 1) -> str:
    """The run as Markdown: machine, how it was timed, targets, worst cells, tables."""
    meta, cfg = data["meta"], data["config"]
    h = "#" * level
    parts = [f"{h} convolab benchmark ({cfg['profile']}), {meta['date'][:10]}, commit {meta['commit']}", ""]
    parts += ["- " + ln for ln in machine_lines(meta)]
    parts += [f"- timing: median of up to {cfg['repeats']} round-robin repeats ({cfg.get('order', 'rotated')} "
              f"order) after one checked warm-up call "
              + (f"(and a second for calls over {cfg['second_warmup_over_s']} s, whose time sets the repeat "
                 f"count) " if "second_warmup_over_s" in cfg else "")
              + f"(fewer, at least 3, for calls over {cfg['cell_seconds'] / cfg['repeats']:.2f} s); "
              + (f"each timed call of up to {cfg['lead_in_up_to_s']} s right after an untimed call of the "
                 f"same contender; " if cfg.get("lead_in_up_to_s") else "")
              + f"peers slower than {cfg['budget']} s per call: one call, then 'T/O' on larger images",
              f"- run time: {data['elapsed_s']:.0f} s, of which {meta.get('waited_s', 0):.0f} s waiting for idle "
              f"cores; {meta.get('disturbed_cells', 0)} of {len(data['grid']) + len(data['cnn'])} cells timed "
              f"while other processes used >= {cfg['idle_threshold']} cores (column bg)", ""]
    parts += ["Times in ms, medians. `!`: result wrong (outside the tolerance, not counted); `*`: one call "
              "over the budget; `T/O`: not run (over the budget); `ERR`: raised. ratio: convolab / "
              "fastest correct peer (< 1: convolab fastest). GFLOP/s: convolab's, whatever algorithm ran. "
              "max err: convolab's max|out - ref| / max|ref|. bg: cores used by other processes while the "
              "cell was timed (`r`: timed a second time, the quieter run kept).", ""]
    if data["targets"]:
        parts += [f"{h}# Targets", ""]
        parts += [f"- **{'MET' if t['met'] else 'NOT MET'}** {t['target']}: {t['detail']}" for t in data["targets"]]
        parts.append("")
    worst = worst_cells(data["grid"] + data["cnn"])
    if worst:
        parts += [f"{h}# Furthest from the fastest peer", ""]
        parts += [md_table(["cell", "plan", "convolab ms", "fastest peer", "peer ms", "ratio", "bg"],
                           [[cell_label(c), c["plan"],
                             f"{c['convolab_time'] * 1e3:.3g}" if c["convolab_time"] else "-",
                             c["fastest_peer"] or "-", f"{c['fastest_peer_time'] * 1e3:.3g}",
                             fmt_ratio(c["ratio"]), fmt_bg(c)] for c in worst]), ""]
    if data["grid"]:
        parts += [f"{h}# 2-D grid: convolve(x, k, mode)", ""]
        head = ["n", "k", "plan"] + list(GRID_CONTENDERS) + ["fastest peer", "ratio", "GFLOP/s", "max err", "bg"]
        for dtype, mode in sorted({(c["dtype"], c["mode"]) for c in data["grid"]}):
            cells = sorted((c for c in data["grid"] if (c["dtype"], c["mode"]) == (dtype, mode)),
                           key=lambda c: (c["n"], c["k"]))
            rows = [[str(c["n"]), str(c["k"]), c["plan"]] + [fmt_ms(c["results"][p]) for p in GRID_CONTENDERS]
                    + [c["fastest_peer"] or "-", fmt_ratio(c["ratio"]),
                       f"{c['gflops']:.1f}" if c["gflops"] else "-", _err(c), fmt_bg(c)] for c in cells]
            parts += [f"{h}## {dtype}, mode='{mode}'", "", md_table(head, rows), ""]
    if data["cnn"]:
        parts += [f"{h}# CNN layers (float32)", "",
                  md_table(CNN_HEAD[:-1] + ["max err", "bg"], [cnn_row(c)[:-1] + [_err(c), fmt_bg(c)]
                                                              for c in data["cnn"]]), ""]
    return "\n".join(parts)


def load_results(path: Path) -> dict[str, Any]:
    """A saved run, with the non-finite numbers written as strings turned back into floats."""
    def hook(d: dict[str, Any]) -> dict[str, Any]:
        return {k: (float(v) if v in ("inf", "-inf", "nan") else v) for k, v in d.items()}
    return json.loads(Path(path).read_text(), object_hook=hook)


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return o


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    prof = ap.add_mutually_exclusive_group()
    prof.add_argument("--quick", action="store_true", help="a subset that runs in about 2 minutes")
    prof.add_argument("--full", action="store_true", help="the whole grid and every CNN layer (default)")
    ap.add_argument("--grid", action="store_true", help="run the 2-D grid (default: both parts)")
    ap.add_argument("--cnn", action="store_true", help="run the CNN layers (default: both parts)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="output directory")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per contender and cell (default 7, quick 5)")
    ap.add_argument("--cell-seconds", type=float, default=None,
                    help="timed work per contender and cell before repeats are cut, down to 3 "
                         "(default 2.0, quick 0.6)")
    ap.add_argument("--budget", type=float, default=3.0,
                    help="seconds per call above which a peer is timed once and then skipped on "
                         "larger images with the same kernel (default 3)")
    ap.add_argument("--wait-idle", type=float, default=None,
                    help="before each cell, wait up to this many seconds for other processes to "
                         "leave the cores idle (default 20, quick 5; 0: never wait)")
    ap.add_argument("--wait-total", type=float, default=None,
                    help="the most seconds spent waiting in the whole run (default 300, quick 60)")
    ap.add_argument("--idle-threshold", type=float, default=0.25,
                    help="cores used by other processes above which a cell counts as disturbed "
                         "(default 0.25)")
    ap.add_argument("--no-lead-in", action="store_true",
                    help="time each call without an untimed call of the same contender just "
                         "before it (then a call may follow another library's spinning threads)")
    ap.add_argument("--rotate", action="store_true",
                    help="run each round in the earlier fixed cyclic order (rotated by one each "
                         "round) instead of a shuffled one, to compare the two")
    ap.add_argument("--no-retry", action="store_true",
                    help="do not time disturbed cells a second time at the end")
    ap.add_argument("--report", metavar="JSON",
                    help="run nothing: print a saved run (bench_*.json) as Markdown, headings from "
                         "level 2, and redraw its plots next to it")
    args = ap.parse_args(argv)
    if args.report:
        data = load_results(Path(args.report))
        print(markdown_report(data, level=2))
        stem = Path(args.report).with_suffix("")
        title = f"convolab {data['meta']['commit']} ({data['config']['profile']}), {data['meta']['date'][:10]}, {data['meta']['cpu']}"
        if data["grid"]:
            plot_grid(data["grid"], stem.parent / (stem.name + "_grid.png"), title)
        if data["cnn"]:
            plot_cnn(data["cnn"], stem.parent / (stem.name + "_cnn.png"), title)
        return 0
    profile = "quick" if args.quick else "full"
    do_grid, do_cnn = (args.grid or not args.cnn), (args.cnn or not args.grid)
    repeats = args.repeats or (5 if args.quick else 7)
    cell_seconds = args.cell_seconds or (0.6 if args.quick else 2.0)
    wait_idle = args.wait_idle if args.wait_idle is not None else (5.0 if args.quick else 20.0)
    wait_total = args.wait_total if args.wait_total is not None else (60.0 if args.quick else 300.0)
    if repeats < 1:
        ap.error("--repeats must be at least 1")

    import torch
    torch.set_num_threads(2)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if (do_grid and do_cnn) else ("_grid" if do_grid else "_cnn")
    stem = out_dir / f"bench_{profile}{suffix}"

    meta = machine_info()
    for ln in machine_lines(meta):
        print(ln)
    print(f"profile {profile}: repeats {repeats}, cell seconds {cell_seconds}, budget {args.budget} s, "
          f"wait for idle cores up to {wait_idle} s per cell ({wait_total} s in all); times are medians "
          f"in ms; bg: cores used by other processes while the cell ran\n", flush=True)

    def log(s: str) -> None:
        print(s, flush=True)

    monitor = CpuMonitor(args.idle_threshold)
    timer = Timer(repeats, cell_seconds, args.budget, args.rotate, lead_in=not args.no_lead_in)
    sess = Session(timer, monitor, wait_idle, wait_total,
                   log)
    t0 = time.perf_counter()

    grid: list[dict[str, Any]] = []
    cnn: list[dict[str, Any]] = []
    if do_grid:
        print("== 2-D grid: convolve(x, k, mode) ==")
        print(text_table(GRID_HEAD, []), flush=True)
        if args.quick:
            grid = run_grid(QUICK_N, QUICK_K, QUICK_DTYPES, QUICK_MODES, sess, not args.no_retry)
        else:
            grid = run_grid(GRID_N, GRID_K, GRID_DTYPES, GRID_MODES, sess, not args.no_retry)
        print()
    if do_cnn:
        print("== CNN layers, float32 ==")
        print(text_table(CNN_HEAD, [], first=22), flush=True)
        layers = QUICK_CNN_LAYERS if args.quick else tuple(l[0] for l in CNN_LAYERS)
        cnn = run_cnn(layers, QUICK_CNN_BATCHES if args.quick else CNN_BATCHES, sess, not args.no_retry)
        print()
    elapsed = time.perf_counter() - t0
    meta["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    tg = targets(grid, cnn)
    print("== targets ==")
    for t in tg:
        print(f"[{'MET' if t['met'] else 'NOT MET'}] {t['target']}: {t['detail']}")
    print("\n== furthest from the fastest peer ==")
    for c in worst_cells(grid + cnn):
        print(f"{cell_label(c)}: ratio {fmt_ratio(c['ratio'])}, plan {c['plan']}, "
              f"convolab {c['convolab_time'] * 1e3 if c['convolab_time'] else float('nan'):.3g} ms, "
              f"fastest peer {c['fastest_peer']} {c['fastest_peer_time'] * 1e3:.3g} ms")

    loaded = [c for c in grid + cnn if sess.loaded(c)]
    print(f"\n{len(loaded)}/{len(grid) + len(cnn)} cells timed while other processes used >= "
          f"{args.idle_threshold} cores; {wait_total - sess.wait_left:.0f} s spent waiting for idle cores")
    meta["disturbed_cells"] = len(loaded)
    meta["waited_s"] = wait_total - sess.wait_left

    data = {"meta": meta, "config": {"profile": profile, "repeats": repeats, "cell_seconds": cell_seconds,
                                      "budget": args.budget, "tolerance": TOL, "wait_idle": wait_idle,
                                      "wait_total": wait_total, "idle_threshold": args.idle_threshold,
                                      "grid_peers": GRID_PEERS, "cnn_peers": CNN_PEERS,
                                      "order": "rotated" if args.rotate else "shuffled",
                                      "second_warmup_over_s": SECOND_WARMUP_S,
                                      "lead_in_up_to_s": None if args.no_lead_in else LEAD_IN_MAX_S},
            "elapsed_s": elapsed, "grid": grid, "cnn": cnn, "targets": tg}
    stem.with_suffix(".json").write_text(json.dumps(_jsonable(data), indent=1))
    stem.with_suffix(".md").write_text(markdown_report(data))
    title = f"convolab {meta['commit']} ({profile}), {meta['date'][:10]}, {meta['cpu']}"
    written = [stem.with_suffix(".json"), stem.with_suffix(".md")]
    if grid:
        p = stem.parent / (stem.name + ("_grid.png" if suffix != "_grid" else ".png"))
        plot_grid(grid, p, title)
        written.append(p)
    if cnn:
        p = stem.parent / (stem.name + ("_cnn.png" if suffix != "_cnn" else ".png"))
        plot_cnn(cnn, p, title)
        written.append(p)
    print(f"\ntotal {elapsed:.0f} s; wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
