"""Time the dense CNN layers of ``benchmarks/bench.py --cnn`` against torch.

Each repeat calls convolab, torch NCHW and torch channels-last in turn (so
background load hits all three alike); the medians are printed with the
ratio to torch channels-last and convolab's relative error against torch's
float64 result.  Usage::

    python benchmarks/probe_cnn_layers.py [--repeats 9] [--layers 3x3-64,stem] [--batches 8,32]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

# (name, C_in, C_out, H=W, k, stride, padding), as in bench.py's CNN_LAYERS
LAYERS = {
    "3x3-64": (64, 64, 56, 3, 1, 1),
    "3x3-128": (128, 128, 28, 3, 1, 1),
    "stem": (3, 64, 224, 7, 2, 3),
    "1x1": (256, 64, 56, 1, 1, 0),
}


def main() -> None:
    import torch
    import torch.nn.functional as F

    from convolab.nn import functional as cf

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--layers", default=",".join(LAYERS))
    ap.add_argument("--batches", default="8,32")
    ap.add_argument("--method", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    print(f"{'layer':<10}{'batch':>6}{'plan':>9}{'convolab':>10}{'NCHW':>8}{'CL':>8}{'ratio CL':>9}{'rel err':>10}")
    for name in args.layers.split(","):
        cin, cout, hw, k, stride, pad = LAYERS[name]
        for batch in map(int, args.batches.split(",")):
            x = rng.standard_normal((batch, cin, hw, hw), dtype=np.float32)
            w = (rng.standard_normal((cout, cin, k, k), dtype=np.float32) / np.float32(math.sqrt(cin * k * k)))
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            xcl = xt.to(memory_format=torch.channels_last)
            wcl = wt.to(memory_format=torch.channels_last)
            with torch.inference_mode():
                ref = F.conv2d(xt.double(), wt.double(), None, stride, pad).numpy()
            funcs = {
                "convolab": lambda: cf.conv2d(x, w, None, stride, pad, method=args.method),
                "NCHW": lambda: F.conv2d(xt, wt, None, stride, pad),
                "CL": lambda: F.conv2d(xcl, wcl, None, stride, pad),
            }
            times = {key: [] for key in funcs}
            with torch.inference_mode():
                out = funcs["convolab"]()
                err = float(np.abs(out - ref).max() / np.abs(ref).max())
                for f in funcs.values():
                    f()
                for _ in range(args.repeats):
                    for key, f in funcs.items():
                        t0 = time.perf_counter()
                        f()
                        times[key].append(time.perf_counter() - t0)
            med = {key: statistics.median(v) * 1e3 for key, v in times.items()}
            plan = cf.plan(x, w, stride, pad, method=args.method).method
            print(f"{name:<10}{batch:>6}{plan:>9}{med['convolab']:>10.2f}{med['NCHW']:>8.2f}"
                  f"{med['CL']:>8.2f}{med['convolab'] / med['CL']:>9.2f}{err:>10.2e}", flush=True)


if __name__ == "__main__":
    main()
