"""Time calls that follow an idle pause: what waking sleeping threads costs.

Multithreaded calls hand work to threads that went to sleep when the last
call ended; on some machines (virtual machines in particular) waking them
after a pause of tens of milliseconds costs more than the work.  This probe
times each call after a pause of 0, 5, 20 and 100 ms (median of the repeats)
for convolab's multithreaded and single-threaded paths and for cv2.  Usage::

    python benchmarks/probe_idle_wakeup.py [--repeats 11]

To see the effect of libgomp's wait policy on numba's threads, run it again
with ``OMP_WAIT_POLICY=passive`` or ``active`` in the environment.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

PAUSES = (0.0, 0.005, 0.02, 0.1)


def main() -> None:
    import convolab

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=11)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x32 = rng.standard_normal((1024, 1024)).astype(np.float32)
    k5 = rng.standard_normal((5, 5)).astype(np.float32)
    x64 = rng.standard_normal((1024, 1024))
    k31 = rng.standard_normal((31, 31))
    calls = {
        "direct 1024² 5x5 f32, 2 threads": lambda: convolab.convolve(x32, k5, "same"),
        "direct 1024² 5x5 f32, 1 thread": lambda: convolab.convolve(x32, k5, "same", workers=1),
        "os 1024² 31x31 f64, 2 threads": lambda: convolab.convolve(x64, k31, "same", method="os"),
        "os 1024² 31x31 f64, 1 thread": lambda: convolab.convolve(x64, k31, "same", method="os",
                                                                   workers=1),
    }
    try:
        import cv2
        flipped5, flipped31 = k5[::-1, ::-1].copy(), k31[::-1, ::-1].copy()
        calls["cv2 1024² 5x5 f32"] = lambda: cv2.filter2D(x32, -1, flipped5,
                                                           borderType=cv2.BORDER_CONSTANT)
        calls["cv2 1024² 31x31 f64"] = lambda: cv2.filter2D(x64, -1, flipped31,
                                                             borderType=cv2.BORDER_CONSTANT)
    except ImportError:
        pass
    for f in calls.values():
        for _ in range(3):
            f()
    print(f"{'call':<36}" + "".join(f"{f'after {p * 1e3:g} ms':>14}" for p in PAUSES))
    for name, f in calls.items():
        row = []
        for pause in PAUSES:
            times = []
            for _ in range(args.repeats):
                time.sleep(pause)
                t0 = time.perf_counter()
                f()
                times.append(time.perf_counter() - t0)
            row.append(statistics.median(times) * 1e3)
        print(f"{name:<36}" + "".join(f"{t:>11.2f} ms" for t in row), flush=True)


if __name__ == "__main__":
    main()
