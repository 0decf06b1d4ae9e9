"""Run scipy's own ndimage filter tests against convolab.ndimage.

Usage: ``python tests/ndimage_parity/run.py`` (``PARITY_WORKERS=1`` runs
without pytest-xdist).  It takes the ``test_filters.py`` installed with
scipy, replaces scipy.ndimage's ``correlate``, ``convolve``, ``correlate1d``,
``convolve1d``, ``gaussian_filter``, ``gaussian_filter1d``,
``uniform_filter``, ``uniform_filter1d``, ``sobel``, ``prewitt``,
``laplace`` and ``gaussian_laplace`` by convolab's (the plugin
``convolab_ndimage_patch.py``), runs the tests of those functions
(``selection.py`` says which, and why the others are left out), prints the
counts and exits non-zero on failures.  See docs/ndimage.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from selection import EXCLUDED, OUT_OF_SCOPE, REPLACED  # noqa: E402


def main() -> int:
    import scipy
    import scipy.ndimage.tests

    test_file = Path(scipy.ndimage.tests.__file__).parent / "test_filters.py"
    args = [sys.executable, "-m", "pytest", str(test_file), "-p", "convolab_ndimage_patch",
            "-p", "no:cacheprovider", "-q", "-rfE",
            "-W", "ignore::convolab.errors.ConvolabWarning"]
    workers = os.environ.get("PARITY_WORKERS", "2")
    if workers != "1":
        args += ["-n", workers]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    # the pytest workers already use the cores; numba's thread pool on top of them
    # only oversubscribes (thousands of tiny filters, each waiting for its threads)
    env.setdefault("NUMBA_NUM_THREADS", "1")
    print(f"scipy {scipy.__version__}: running ndimage/tests/{test_file.name} against "
          "convolab.ndimage", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=HERE, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    sys.stdout.write(proc.stdout[-6000:])
    sys.stderr.write(proc.stderr[-3000:])
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {k: int(v) for v, k in re.findall(
        r"(\d+) (passed|failed|errors?|deselected|skipped|xfailed|xpassed)", summary)}
    print("\nndimage-parity summary")
    print(f"  replaced: {', '.join(REPLACED)}")
    for key in ("passed", "failed", "error", "errors", "skipped", "xfailed", "xpassed",
                "deselected"):
        if key in counts:
            print(f"  {key:>10}: {counts[key]}")
    print(f"  {'excluded':>10}: {len(EXCLUDED)} test function(s), on purpose:")
    for test_id, reason in EXCLUDED.items():
        print(f"    - {test_id}: {reason}")
    print(f"  out of scope: the tests of {', '.join(OUT_OF_SCOPE)} "
          "(functions convolab.ndimage does not provide)")
    print(f"  time: {seconds:.0f} s")
    if proc.returncode == 0 and not counts.get("passed"):
        print("no test ran")
        return 1
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
